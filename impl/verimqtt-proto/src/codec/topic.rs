//! The syntax of topic names and topic filters (section 4.7; shared subscriptions, 4.8.2).

use super::error::{Rule, Violation};
use super::string::MqttString;
use super::version::ProtocolVersion;

/// The prefix that makes a filter a shared subscription in MQTT 5.
pub(super) const SHARED_PREFIX: &str = "$share/";

/// Why a string is not a valid topic filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The filter is empty; a filter has at least one character [MQTT-4.7.3-1].
    #[error("the filter is empty")]
    Empty,
    /// `#` is not the whole last level (as in `a/b#` or `a/#/b`).
    #[error("'#' is not alone in the last level")]
    MultiLevelWildcardMisplaced,
    /// `+` shares a level with other characters (as in `a/b+`).
    #[error("'+' does not fill a whole level")]
    SingleLevelWildcardMisplaced,
    /// `$share//filter`: the share name is empty.
    #[error("the share name of a shared subscription is empty")]
    EmptyShareName,
    /// The share name contains `+` or `#`.
    #[error("the share name contains a wildcard")]
    WildcardInShareName,
    /// `$share/{group}` has no filter after the group.
    #[error("the shared subscription has no topic filter after its share name")]
    SharedWithoutFilter,
}

impl FilterError {
    /// The statement (or section) of `version` the filter breaks.
    pub fn rule(self, version: ProtocolVersion) -> Rule {
        use FilterError::*;
        use ProtocolVersion::{V5, V311};
        Rule::Statement(match (self, version) {
            (Empty, _) => "MQTT-4.7.3-1",
            (MultiLevelWildcardMisplaced, V311) => "MQTT-4.7.1-2",
            (MultiLevelWildcardMisplaced, V5) => "MQTT-4.7.1-1",
            (SingleLevelWildcardMisplaced, V311) => "MQTT-4.7.1-3",
            (SingleLevelWildcardMisplaced, V5) => "MQTT-4.7.1-2",
            (EmptyShareName, _) => "MQTT-4.8.2-1",
            (WildcardInShareName | SharedWithoutFilter, _) => "MQTT-4.8.2-2",
        })
    }
}

/// A topic name, as PUBLISH, a will or a response topic carries it: at least one character
/// and no wildcard ([MQTT-4.7.3-1], [MQTT-3.3.2-2]).
pub fn check_topic_name(name: &str) -> Result<(), Violation> {
    topic_name_verdict(name.is_empty(), has_wildcard(name))
}

/// [`check_topic_name`] for a validated string, which found its wildcards when it was
/// validated: no pass over the bytes.
pub(crate) fn check_topic_name_string(name: &MqttString) -> Result<(), Violation> {
    topic_name_verdict(name.is_empty(), name.has_wildcard())
}

fn topic_name_verdict(empty: bool, wildcard: bool) -> Result<(), Violation> {
    if empty {
        return Err(Violation::EmptyTopicName);
    }
    if wildcard {
        return Err(Violation::WildcardInTopicName);
    }
    Ok(())
}

/// How many levels a topic name or filter has: one more than its separators ("a/b" has
/// two, "/" has two empty ones). Counted without splitting, so it costs nothing to ask of a
/// topic of any depth.
pub fn topic_levels(topic: &str) -> usize {
    topic.bytes().filter(|&byte| byte == b'/').count() + 1
}

/// Whether a topic or filter contains `+` or `#`.
pub(super) fn has_wildcard(topic: &str) -> bool {
    // Every PUBLISH pays for this scan. Both characters are ASCII, so they never occur inside
    // a multi-byte character, and a fold without an early exit compiles to a vector loop.
    topic.bytes().fold(false, |found, byte| found | (byte == b'+') | (byte == b'#'))
}

/// A topic filter of SUBSCRIBE or UNSUBSCRIBE. In MQTT 5 a filter starting with `$share/` is a
/// shared subscription and must name a group and a filter; in 3.1.1 it is an ordinary filter.
pub fn check_topic_filter(filter: &str, version: ProtocolVersion) -> Result<(), FilterError> {
    match shared_subscription(filter, version) {
        Some(shared) => shared.map(|_| ()),
        None => check_plain_filter(filter),
    }
}

/// A shared subscription `$share/{group}/{filter}`, split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedSubscription<'a> {
    /// The share name: the subscribers of one group share its messages.
    pub group: &'a str,
    /// The topic filter after the share name.
    pub filter: &'a str,
}

/// For an MQTT 5 filter that starts with `$share/`, the group and filter it names, or why it
/// does not; `None` for any other filter (and for every filter in 3.1.1).
pub fn shared_subscription(
    filter: &str,
    version: ProtocolVersion,
) -> Option<Result<SharedSubscription<'_>, FilterError>> {
    if !version.is_v5() {
        return None;
    }
    let rest = filter.strip_prefix(SHARED_PREFIX)?;
    Some(split_shared(rest))
}

fn split_shared(rest: &str) -> Result<SharedSubscription<'_>, FilterError> {
    let (group, filter) = rest.split_once('/').ok_or(FilterError::SharedWithoutFilter)?;
    if group.is_empty() {
        return Err(FilterError::EmptyShareName);
    }
    if has_wildcard(group) {
        return Err(FilterError::WildcardInShareName);
    }
    if filter.is_empty() {
        return Err(FilterError::SharedWithoutFilter);
    }
    check_plain_filter(filter)?;
    Ok(SharedSubscription { group, filter })
}

fn check_plain_filter(filter: &str) -> Result<(), FilterError> {
    if filter.is_empty() {
        return Err(FilterError::Empty);
    }
    if wildcards_in_place(filter.as_bytes()) {
        return Ok(());
    }
    // '/', '+' and '#' are ASCII, so they never occur inside a multi-byte character and the
    // bytes can be read instead of the characters. A level fails when it holds a wildcard
    // out of place, so the first failing level is the one of the first such wildcard.
    let bytes = filter.as_bytes();
    let mut misplaced = None;
    for (index, &byte) in bytes.iter().enumerate() {
        let in_place = match byte {
            b'+' => fills_level(bytes, index),
            b'#' => fills_level(bytes, index) && index + 1 == bytes.len(),
            _ => continue,
        };
        if !in_place {
            misplaced = Some(index);
            break;
        }
    }
    let Some(index) = misplaced else { return Ok(()) };
    let start = bytes[..index].iter().rposition(|&byte| byte == b'/').map_or(0, |slash| slash + 1);
    let end = bytes[index..].iter().position(|&byte| byte == b'/').map_or(bytes.len(), |offset| index + offset);
    // A failing level with a '#' fails by its '#', whatever its '+' do.
    if bytes[start..end].contains(&b'#') {
        Err(FilterError::MultiLevelWildcardMisplaced)
    } else {
        Err(FilterError::SingleLevelWildcardMisplaced)
    }
}

/// Whether every wildcard is a whole level and no '#' is followed by anything: the filter is
/// valid. Judged on each pair of neighbouring bytes, without an early exit, in blocks of 16
/// pairs or-ed lane by lane (a last partial block is read as the last 16 pairs), so that the
/// loop compiles to vector instructions; which rule a filter breaks is left to the caller.
fn wildcards_in_place(bytes: &[u8]) -> bool {
    const BLOCK: usize = 16;
    let pairs = bytes.len().saturating_sub(1);
    let (before, after) = (&bytes[..pairs], &bytes[bytes.len() - pairs..]);
    let misplaced = if pairs < BLOCK {
        before.iter().zip(after).fold(false, |misplaced, (&before, &after)| misplaced | misplaced_pair(before, after))
    } else {
        let mut lanes = [false; BLOCK];
        let mut merge = |before: &[u8], after: &[u8]| {
            for ((lane, &before), &after) in lanes.iter_mut().zip(before).zip(after) {
                *lane |= misplaced_pair(before, after);
            }
        };
        for (before, after) in before.chunks_exact(BLOCK).zip(after.chunks_exact(BLOCK)) {
            merge(before, after);
        }
        if pairs % BLOCK != 0 {
            merge(&before[pairs - BLOCK..], &after[pairs - BLOCK..]);
        }
        lanes.iter().any(|&lane| lane)
    };
    !misplaced
}

/// Whether two neighbouring bytes put a wildcard out of place.
fn misplaced_pair(before: u8, after: u8) -> bool {
    let wildcard = |byte: u8| (byte == b'+') | (byte == b'#');
    (wildcard(after) & (before != b'/')) | (wildcard(before) & (after != b'/')) | (before == b'#')
}

/// Whether the byte at `index` is a whole level: the first byte or after a '/', and the last
/// byte or before one.
fn fills_level(bytes: &[u8], index: usize) -> bool {
    (index == 0 || bytes[index - 1] == b'/') && bytes.get(index + 1).is_none_or(|&next| next == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::{V5, V311};

    #[test]
    fn valid_filters_of_section_4_7() {
        for filter in
            ["#", "+", "/", "sport/#", "sport/tennis/#", "+/tennis/#", "sport/+/player1", "+/+", "/+", "$SYS/#", "a//b"]
        {
            assert_eq!(check_topic_filter(filter, V311), Ok(()), "{filter}");
            assert_eq!(check_topic_filter(filter, V5), Ok(()), "{filter}");
        }
    }

    #[test]
    fn misplaced_wildcards_are_rejected() {
        let cases = [
            ("", FilterError::Empty),
            ("sport/tennis#", FilterError::MultiLevelWildcardMisplaced),
            ("sport/tennis/#/ranking", FilterError::MultiLevelWildcardMisplaced),
            ("#/", FilterError::MultiLevelWildcardMisplaced),
            ("sport+", FilterError::SingleLevelWildcardMisplaced),
            ("sport/+tennis", FilterError::SingleLevelWildcardMisplaced),
            ("++", FilterError::SingleLevelWildcardMisplaced),
        ];
        for (filter, error) in cases {
            assert_eq!(check_topic_filter(filter, V5), Err(error), "{filter:?}");
        }
    }

    /// The rules of section 4.7.1 as they read: split into levels, then judge each.
    fn judged_level_by_level(filter: &str) -> Result<(), FilterError> {
        if filter.is_empty() {
            return Err(FilterError::Empty);
        }
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            if level.contains('#') && (level != "#" || levels.peek().is_some()) {
                return Err(FilterError::MultiLevelWildcardMisplaced);
            }
            if level.contains('+') && level != "+" {
                return Err(FilterError::SingleLevelWildcardMisplaced);
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn the_check_by_wildcards_agrees_with_the_rules_level_by_level(filter in "[a+#/]{0,12}") {
            proptest::prop_assert_eq!(check_plain_filter(&filter), judged_level_by_level(&filter), "{:?}", filter);
        }
    }

    #[test]
    fn shared_subscriptions_are_split_in_v5_only() {
        assert_eq!(
            shared_subscription("$share/group/sensors/+", V5),
            Some(Ok(SharedSubscription { group: "group", filter: "sensors/+" }))
        );
        assert_eq!(shared_subscription("$share/group/sensors/+", V311), None);
        assert_eq!(shared_subscription("sensors/+", V5), None);
    }

    #[test]
    fn malformed_shared_subscriptions_are_rejected_in_v5() {
        let cases = [
            ("$share//a", FilterError::EmptyShareName),
            ("$share/g+/a", FilterError::WildcardInShareName),
            ("$share/g#/a", FilterError::WildcardInShareName),
            ("$share/g", FilterError::SharedWithoutFilter),
            ("$share/g/", FilterError::SharedWithoutFilter),
            ("$share/g/a#", FilterError::MultiLevelWildcardMisplaced),
        ];
        for (filter, error) in cases {
            assert_eq!(check_topic_filter(filter, V5), Err(error), "{filter:?}");
        }
        // In 3.1.1 these are ordinary filters, judged by the ordinary rules.
        assert_eq!(check_topic_filter("$share/g", V311), Ok(()));
        assert_eq!(check_topic_filter("$share/g+/a", V311), Err(FilterError::SingleLevelWildcardMisplaced));
    }

    #[test]
    fn topic_names_have_no_wildcards_and_are_not_empty() {
        assert_eq!(check_topic_name("a/b"), Ok(()));
        assert_eq!(check_topic_name("/"), Ok(()));
        assert_eq!(check_topic_name(""), Err(Violation::EmptyTopicName));
        assert_eq!(check_topic_name("a/+"), Err(Violation::WildcardInTopicName));
        assert_eq!(check_topic_name("a#"), Err(Violation::WildcardInTopicName));
    }
}
