//! Topic ACLs in the format of mosquitto's `acl_file`:
//!
//! ```text
//! # Rules before the first `user` line are for anonymous clients.
//! topic read public/#
//!
//! user alice
//! topic readwrite alice/#
//! topic deny alice/secret
//!
//! # For every client, with %u its username and %c its client id.
//! pattern write devices/%c/status
//! pattern read users/%u/#
//! ```
//!
//! `topic [read|write|readwrite|deny] FILTER` gives the current user (or anonymous clients,
//! before any `user` line) access to the topics the filter matches; without an access word it
//! is `readwrite`. `user NAME` starts the rules of a user. `pattern` lines hold for every
//! client wherever they are written. The rest of a line after the access word is the filter,
//! so it may contain spaces. `#` starts a comment line.
//!
//! How access is decided, for a client that an ACL applies to:
//!
//! - publishing on a topic needs a `write` or `readwrite` rule matching the topic; receiving
//!   a message needs a `read` or `readwrite` rule matching its topic;
//! - subscribing to a filter needs a `read` or `readwrite` rule matching some topic the filter
//!   matches: a filter wider than what the client may read (`#`) is granted, and each message
//!   is then checked as it is delivered, so nothing the client may not read reaches it;
//! - a `deny` rule wins wherever it is written: it refuses publishing on and receiving the
//!   topics it matches, and subscribing to a filter all of whose topics it matches;
//! - a rule never matches `$` topics through a leading wildcard ([MQTT-4.7.2-1]): `$SYS/#`
//!   must be granted by name.
//!
//! A `pattern` is not applied with a value that could reach into other clients' topics: a
//! username or client id containing `+`, `#` or `/`. For such a client, a pattern that grants
//! access grants nothing and one that denies access denies everything. A pattern with `%u`
//! does not apply to anonymous clients.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::broker::ClientInfo;
use crate::codec::{FilterError, ProtocolVersion, check_topic_filter};

use super::LineError;
use crate::codec::matching::{covers, intersects, matches};

/// What a rule lets a client do with the topics it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `read`: receive messages on the topics, and subscribe to them.
    Read,
    /// `write`: publish on the topics.
    Write,
    /// `readwrite`: both.
    ReadWrite,
    /// `deny`: neither, whatever other rules grant.
    Deny,
}

impl Access {
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "read" => Access::Read,
            "write" => Access::Write,
            "readwrite" => Access::ReadWrite,
            "deny" => Access::Deny,
            _ => return None,
        })
    }

    fn grants(self, wanted: Wanted) -> bool {
        matches!((self, wanted), (Access::ReadWrite, _) | (Access::Read, Wanted::Read) | (Access::Write, Wanted::Write))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Read,
    Write,
}

/// Why a line of an ACL file is not a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The line starts with a word other than `topic`, `pattern` or `user`.
    #[error("unknown keyword {0:?} (expected `topic`, `pattern` or `user`)")]
    UnknownKeyword(String),
    /// A `topic` or `pattern` line (which one is carried) without a filter.
    #[error("`{0}` needs a topic filter")]
    MissingFilter(&'static str),
    /// The access word is not `read`, `write`, `readwrite` or `deny`.
    #[error("unknown access {0:?} (expected read, write, readwrite or deny)")]
    UnknownAccess(String),
    /// A `user` line without a username.
    #[error("`user` needs a username")]
    MissingUsername,
    /// The filter of a `topic` or `pattern` line is not a valid topic filter.
    #[error("{filter:?} is not a topic filter: {error}")]
    BadFilter {
        /// The filter as written.
        filter: String,
        /// Why it is not a valid filter.
        error: FilterError,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    access: Access,
    filter: String,
}

/// The rules of an ACL file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    /// Rules from `topic` lines before the first `user` line.
    anonymous: Vec<Rule>,
    users: HashMap<String, Vec<Rule>>,
    patterns: Vec<Rule>,
}

impl Acl {
    /// Reads an ACL file's text, or says which line is wrong and why.
    pub fn parse(text: &str) -> Result<Self, LineError<RuleError>> {
        let mut acl = Acl::default();
        let mut user: Option<String> = None;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason| LineError { line: index + 1, reason };
            let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            match keyword {
                "user" if rest.is_empty() => return Err(fail(RuleError::MissingUsername)),
                "user" => user = Some(rest.to_owned()),
                "topic" => {
                    let rule = rule(rest, "topic").map_err(fail)?;
                    match &user {
                        Some(user) => acl.users.entry(user.clone()).or_default().push(rule),
                        None => acl.anonymous.push(rule),
                    }
                }
                "pattern" => acl.patterns.push(rule(rest, "pattern").map_err(fail)?),
                other => return Err(fail(RuleError::UnknownKeyword(other.to_owned()))),
            }
        }
        Ok(acl)
    }

    /// Whether `client` may publish on `topic`.
    pub fn may_write(&self, client: ClientInfo<'_>, topic: &str) -> bool {
        self.decide(client, Wanted::Write, |deny| matches(deny, topic), |grant| matches(grant, topic))
    }

    /// Whether `client` may receive a message on `topic`.
    pub fn may_read(&self, client: ClientInfo<'_>, topic: &str) -> bool {
        self.decide(client, Wanted::Read, |deny| matches(deny, topic), |grant| matches(grant, topic))
    }

    /// Whether `client` may subscribe to `filter` (a shared subscription's filter without
    /// its `$share/{group}/` prefix).
    pub fn may_subscribe(&self, client: ClientInfo<'_>, filter: &str) -> bool {
        self.decide(client, Wanted::Read, |deny| covers(deny, filter), |grant| intersects(grant, filter))
    }

    /// No rule that applies denies (`denies` says whether a deny rule's filter does), and
    /// one that grants the access wanted does (`grants` for its filter).
    fn decide(
        &self,
        client: ClientInfo<'_>,
        wanted: Wanted,
        denies: impl Fn(&str) -> bool,
        grants: impl Fn(&str) -> bool,
    ) -> bool {
        let own = match client.username {
            Some(user) => self.users.get(user).map_or(&[][..], Vec::as_slice),
            None => &self.anonymous,
        };
        let own = own.iter().map(|rule| (rule.access, Some(Cow::Borrowed(rule.filter.as_str()))));
        let patterns = self.patterns.iter().filter_map(|rule| match expand(&rule.filter, client) {
            Expansion::NotApplicable => None,
            Expansion::Unsafe => Some((rule.access, None)),
            Expansion::Filter(filter) => Some((rule.access, Some(filter))),
        });
        // A rule whose filter is `None` could not be applied safely.
        let mut granted = false;
        for (access, filter) in own.chain(patterns) {
            match (access, filter) {
                (Access::Deny, None) => return false,
                (Access::Deny, Some(filter)) if denies(&filter) => return false,
                (Access::Deny, Some(_)) | (_, None) => {}
                (access, Some(filter)) => granted = granted || (access.grants(wanted) && grants(&filter)),
            }
        }
        granted
    }
}

/// The rule of a `topic` or `pattern` line, from what follows the keyword.
fn rule(rest: &str, keyword: &'static str) -> Result<Rule, RuleError> {
    let (access, filter) = match rest.split_once(char::is_whitespace) {
        Some((word, filter)) => {
            (Access::parse(word).ok_or_else(|| RuleError::UnknownAccess(word.to_owned()))?, filter.trim())
        }
        // A lone word is the filter, as in mosquitto: `topic read` gives access to "read".
        None => (Access::ReadWrite, rest),
    };
    if filter.is_empty() {
        return Err(RuleError::MissingFilter(keyword));
    }
    check_topic_filter(filter, ProtocolVersion::V311)
        .map_err(|error| RuleError::BadFilter { filter: filter.to_owned(), error })?;
    Ok(Rule { access, filter: filter.to_owned() })
}

/// A pattern as it applies to one client.
enum Expansion<'a> {
    /// It uses `%u` and the client has no username.
    NotApplicable,
    /// A value it uses contains `+`, `#` or `/`.
    Unsafe,
    Filter(Cow<'a, str>),
}

/// A pattern with `%u` and `%c` replaced, in one pass so that a value containing `%c` is
/// not replaced again.
fn expand<'a>(pattern: &'a str, client: ClientInfo<'_>) -> Expansion<'a> {
    let uses_user = pattern.contains("%u");
    let uses_client_id = pattern.contains("%c");
    if uses_user && client.username.is_none() {
        return Expansion::NotApplicable;
    }
    if !uses_user && !uses_client_id {
        return Expansion::Filter(Cow::Borrowed(pattern));
    }
    let unsafe_value = |value: &str| value.contains(['+', '#', '/']);
    if (uses_user && client.username.is_some_and(unsafe_value)) || (uses_client_id && unsafe_value(client.client_id)) {
        return Expansion::Unsafe;
    }
    let mut expanded = String::with_capacity(pattern.len() + 32);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            expanded.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('u') => {
                expanded.push_str(client.username.unwrap_or_default());
                chars.next();
            }
            Some('c') => {
                expanded.push_str(client.client_id);
                chars.next();
            }
            _ => expanded.push('%'),
        }
    }
    Expansion::Filter(Cow::Owned(expanded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::ListenerId;

    const V5: ProtocolVersion = ProtocolVersion::V5;

    fn user<'a>(username: &'a str, client_id: &'a str) -> ClientInfo<'a> {
        ClientInfo { client_id, username: Some(username), version: V5, listener: ListenerId::DEFAULT }
    }

    fn anonymous(client_id: &str) -> ClientInfo<'_> {
        ClientInfo { client_id, username: None, version: V5, listener: ListenerId::DEFAULT }
    }

    const EXAMPLE: &str = "\
# anonymous clients
topic read public/#

user alice
topic readwrite alice/#
topic deny alice/secret
topic write shared/in
topic $SYS/#

user bob
topic read alice/news

pattern write devices/%c/status
pattern read users/%u/#
";

    #[test]
    fn users_have_their_own_rules_and_anonymous_clients_the_first_ones() {
        let acl = Acl::parse(EXAMPLE).unwrap();
        let alice = user("alice", "a1");
        assert!(acl.may_write(alice, "alice/x") && acl.may_read(alice, "alice/x"));
        assert!(acl.may_write(alice, "shared/in") && !acl.may_read(alice, "shared/in"));
        assert!(!acl.may_read(alice, "public/x"), "anonymous rules are not alice's");
        assert!(acl.may_read(anonymous("x"), "public/x") && !acl.may_write(anonymous("x"), "public/x"));
        let bob = user("bob", "b1");
        assert!(acl.may_read(bob, "alice/news") && !acl.may_read(bob, "alice/other"));
        assert!(!acl.may_read(user("carol", "c"), "alice/news"), "a user without rules gets only patterns");
    }

    #[test]
    fn deny_wins_over_a_wider_grant() {
        let acl = Acl::parse(EXAMPLE).unwrap();
        let alice = user("alice", "a1");
        assert!(!acl.may_read(alice, "alice/secret") && !acl.may_write(alice, "alice/secret"));
        assert!(acl.may_subscribe(alice, "alice/#"), "the filter reaches topics alice may read");
        assert!(!acl.may_subscribe(alice, "alice/secret"), "every topic of the filter is denied");
    }

    #[test]
    fn a_subscription_needs_a_topic_the_client_may_read() {
        let acl = Acl::parse(EXAMPLE).unwrap();
        let bob = user("bob", "b1");
        assert!(acl.may_subscribe(bob, "alice/news"));
        assert!(acl.may_subscribe(bob, "#"), "wider than what bob may read: granted, filtered on delivery");
        assert!(acl.may_subscribe(bob, "alice/+"));
        assert!(!acl.may_subscribe(bob, "alice/other"));
        assert!(!acl.may_subscribe(bob, "$SYS/#"));
        assert!(acl.may_subscribe(user("alice", "a"), "$SYS/broker/+"));
    }

    #[test]
    fn leading_wildcards_of_rules_do_not_reach_dollar_topics() {
        let acl = Acl::parse("topic read #").unwrap();
        assert!(acl.may_read(anonymous("x"), "anything/at/all"));
        assert!(!acl.may_read(anonymous("x"), "$SYS/broker/uptime"));
        assert!(!acl.may_subscribe(anonymous("x"), "$SYS/#"));
    }

    #[test]
    fn patterns_substitute_the_username_and_client_id() {
        let acl = Acl::parse(EXAMPLE).unwrap();
        let carol = user("carol", "sensor-7");
        assert!(acl.may_write(carol, "devices/sensor-7/status"));
        assert!(!acl.may_write(carol, "devices/sensor-8/status"));
        assert!(acl.may_read(carol, "users/carol/inbox"));
        assert!(!acl.may_read(carol, "users/dave/inbox"));
        assert!(acl.may_write(anonymous("sensor-9"), "devices/sensor-9/status"), "%c applies to anonymous clients");
        assert!(!acl.may_read(anonymous("sensor-9"), "users//inbox"), "%u does not");
    }

    #[test]
    fn patterns_are_not_applied_with_values_that_reach_other_clients_topics() {
        let acl = Acl::parse("pattern readwrite users/%u/#\npattern deny devices/%c/#\ntopic read devices/#").unwrap();
        // "a/b" would read inside user a's tree; "+" would read everyone's.
        assert!(!acl.may_read(user("a/b", "c"), "users/a/b/x"));
        assert!(!acl.may_read(user("+", "c"), "users/a/x"));
        assert!(acl.may_read(user("a", "c"), "users/a/x"));
        // A deny pattern that cannot be applied safely denies everything.
        let anonymous_acl = Acl::parse("topic read devices/#\npattern deny devices/%c/#").unwrap();
        assert!(anonymous_acl.may_read(anonymous("c"), "devices/d/x"));
        assert!(!anonymous_acl.may_read(anonymous("c"), "devices/c/x"));
        assert!(!anonymous_acl.may_read(anonymous("c/d"), "devices/d/x"));
    }

    #[test]
    fn a_substituted_value_is_not_substituted_again() {
        let acl = Acl::parse("pattern read u/%u/%c").unwrap();
        assert!(acl.may_read(user("%c", "id"), "u/%c/id"));
        assert!(!acl.may_read(user("%c", "id"), "u/id/id"));
    }

    #[test]
    fn a_lone_word_after_topic_is_the_filter_and_filters_may_hold_spaces() {
        let acl = Acl::parse("topic read\ntopic write a b/c d").unwrap();
        assert!(acl.may_write(anonymous("x"), "read") && acl.may_read(anonymous("x"), "read"));
        assert!(acl.may_write(anonymous("x"), "a b/c d"));
    }

    #[test]
    fn a_bad_line_names_its_number_and_the_reason() {
        let error = |text: &str| Acl::parse(text).unwrap_err();
        assert_eq!(
            error("# c\n\ntopics read a"),
            LineError { line: 3, reason: RuleError::UnknownKeyword("topics".into()) }
        );
        assert_eq!(error("topic"), LineError { line: 1, reason: RuleError::MissingFilter("topic") });
        assert_eq!(error("topic rw a"), LineError { line: 1, reason: RuleError::UnknownAccess("rw".into()) });
        assert_eq!(error("user"), LineError { line: 1, reason: RuleError::MissingUsername });
        assert_eq!(
            error("pattern read a/#/b"),
            LineError {
                line: 1,
                reason: RuleError::BadFilter {
                    filter: "a/#/b".into(),
                    error: FilterError::MultiLevelWildcardMisplaced
                }
            }
        );
    }
}
