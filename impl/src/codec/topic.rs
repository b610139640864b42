//! The syntax of topic names and topic filters (section 4.7; shared subscriptions, 4.8.2).

use super::error::{Rule, Violation};
use super::version::ProtocolVersion;

/// The prefix that makes a filter a shared subscription in MQTT 5.
pub const SHARED_PREFIX: &str = "$share/";

/// Why a string is not a valid topic filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("the filter is empty")]
    Empty,
    #[error("'#' is not alone in the last level")]
    MultiLevelWildcardMisplaced,
    #[error("'+' does not fill a whole level")]
    SingleLevelWildcardMisplaced,
    #[error("the share name of a shared subscription is empty")]
    EmptyShareName,
    #[error("the share name contains a wildcard")]
    WildcardInShareName,
    #[error("the shared subscription has no topic filter after its share name")]
    SharedWithoutFilter,
}

impl FilterError {
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
    if name.is_empty() {
        return Err(Violation::EmptyTopicName);
    }
    if has_wildcard(name) {
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
pub fn has_wildcard(topic: &str) -> bool {
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
    pub group: &'a str,
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
