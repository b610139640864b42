//! Listeners as the broker sees them: which one a connection came in on, so the policy can
//! apply that listener's rules, and the mount point that gives its clients a topic tree of
//! their own (mosquitto's `mount_point`).
//!
//! A mount point is a prefix: the topics and filters of a client on its listener are
//! stored with the prefix put in front — PUBLISH topics, SUBSCRIBE and UNSUBSCRIBE filters,
//! the will's topic — and the prefix is taken off the topics of the messages sent to it, so
//! that the client sees only the tree under the prefix. mosquitto.conf(5): "the string
//! argument is attached to the start of all topics for this client. This prefix is removed
//! when any messages are sent to the client". As in mosquitto (`handle__subscribe`,
//! `handle__publish` in `src/`), the policy is asked about the topic as stored, with the
//! prefix, and nothing is special about `$SYS`: a client under a mount point that subscribes
//! to `$SYS/#` subscribes to `{mount point}$SYS/#`, where the broker publishes nothing.

use std::fmt;
use std::sync::Arc;

use crate::codec::{MqttString, ProtocolVersion, shared_subscription};

/// A listener, named by the owner of the broker: the listener a connection came in on is
/// given to [`Broker::handle_connected_on`](super::Broker::handle_connected_on) and shown to
/// the policy in [`ClientInfo`](super::ClientInfo). A broker with one listener never needs
/// to name it: [`ListenerId::DEFAULT`] is the one [`Broker::handle_connected`](super::Broker::handle_connected) uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId(pub u16);

impl ListenerId {
    /// The listener of a broker that does not tell listeners apart.
    pub const DEFAULT: ListenerId = ListenerId(0);
}

impl fmt::Display for ListenerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "listener {}", self.0)
    }
}

/// A listener's topic prefix: levels without wildcards, each ending with `/`, such as
/// `tenant1/` or `site/a/`.
#[derive(Clone, PartialEq, Eq)]
pub struct MountPoint(Arc<str>);

/// Why a text cannot be a mount point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MountPointError {
    /// An empty mount point mounts nothing: leave the key out.
    #[error("a mount point cannot be empty (leave it out for no mount point)")]
    Empty,
    /// `+` or `#`: a prefix is a fixed place in the tree, as mosquitto requires (its
    /// configuration refuses a mount point that is not a valid topic).
    #[error("a mount point cannot contain the wildcards + or #")]
    Wildcard,
    /// A level with nothing in it (`a//b/`, `/a/`): an easy mistake that would put the
    /// clients in a tree no one else expects.
    #[error("a mount point cannot have an empty level (\"//\" or a leading \"/\")")]
    EmptyLevel,
    /// Without a `/` at the end the prefix would run into the client's first level
    /// (`tenant` + `a` = `tenanta`), and a client's `#` would become `tenant#`, which is no
    /// filter.
    #[error("a mount point must end with \"/\", e.g. \"tenant1/\"")]
    NoTrailingSlash,
    /// `$` first would put the clients among the broker's own topics, which `#` does not
    /// match.
    #[error("a mount point cannot start with \"$\" (the broker's own topics, such as $SYS)")]
    Dollar,
    /// Not an MQTT string: too long, or a character MQTT forbids (U+0000).
    #[error("a mount point must be a valid MQTT string (at most 65535 bytes, no U+0000)")]
    NotAString,
}

impl MountPoint {
    /// A mount point of `prefix`, if it is one (see [`MountPointError`]).
    pub fn new(prefix: &str) -> Result<Self, MountPointError> {
        let Some(levels) = prefix.strip_suffix('/') else {
            return Err(if prefix.is_empty() { MountPointError::Empty } else { MountPointError::NoTrailingSlash });
        };
        let valid = MqttString::try_from(prefix).map_err(|_| MountPointError::NotAString)?;
        if valid.has_wildcard() {
            return Err(MountPointError::Wildcard);
        }
        if levels.split('/').any(str::is_empty) {
            return Err(MountPointError::EmptyLevel);
        }
        if prefix.starts_with('$') {
            return Err(MountPointError::Dollar);
        }
        Ok(MountPoint(prefix.into()))
    }

    /// The prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A client's topic as stored; `None` if it is too long for an MQTT string with the
    /// prefix.
    pub(crate) fn mount_topic(&self, topic: &str) -> Option<MqttString> {
        MqttString::try_from(format!("{}{topic}", self.0)).ok()
    }

    /// A client's filter as stored; `None` if it is too long with the prefix. A shared
    /// subscription's filter gets the prefix after its group (`$share/g/a` is
    /// `$share/g/{prefix}a`), so that the group still shares what the client's clients see;
    /// mosquitto puts it before `$share`, which makes the filter an ordinary one that
    /// matches nothing ordinary clients publish.
    pub(crate) fn mount_filter(&self, filter: &str, version: ProtocolVersion) -> Option<MqttString> {
        let mounted = match shared_subscription(filter, version) {
            Some(Ok(shared)) => format!("$share/{}/{}{}", shared.group, self.0, shared.filter),
            _ => format!("{}{filter}", self.0),
        };
        MqttString::try_from(mounted).ok()
    }

    /// A stored topic as the client sees it: without the prefix; `None` if the topic is not
    /// under it, a message the client cannot see.
    pub(crate) fn unmount(&self, topic: &MqttString) -> Option<MqttString> {
        if !topic.starts_with(&*self.0) {
            return None;
        }
        // A suffix of a valid string, cut at an ASCII `/`: valid too.
        MqttString::from_bytes(topic.as_bytes().slice(self.0.len()..)).ok()
    }
}

impl fmt::Debug for MountPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for MountPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a client under `mount_point` (none: the whole tree) can see `topic`.
pub(crate) fn visible(mount_point: Option<&MountPoint>, topic: &str) -> bool {
    mount_point.is_none_or(|mount| topic.starts_with(mount.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_point_is_fixed_levels_ending_with_a_slash() {
        assert_eq!(MountPoint::new("tenant1/").unwrap().as_str(), "tenant1/");
        assert!(MountPoint::new("site/a/").is_ok());
        assert_eq!(MountPoint::new(""), Err(MountPointError::Empty));
        assert_eq!(MountPoint::new("tenant"), Err(MountPointError::NoTrailingSlash));
        assert_eq!(MountPoint::new("a/+/"), Err(MountPointError::Wildcard));
        assert_eq!(MountPoint::new("#/"), Err(MountPointError::Wildcard));
        assert_eq!(MountPoint::new("a//b/"), Err(MountPointError::EmptyLevel));
        assert_eq!(MountPoint::new("/a/"), Err(MountPointError::EmptyLevel));
        assert_eq!(MountPoint::new("/"), Err(MountPointError::EmptyLevel));
        assert_eq!(MountPoint::new("$SYS/"), Err(MountPointError::Dollar));
        assert_eq!(MountPoint::new("a\0/"), Err(MountPointError::NotAString));
        assert_eq!(MountPoint::new(&format!("{}/", "a".repeat(65535))), Err(MountPointError::NotAString));
    }

    #[test]
    fn topics_and_filters_get_the_prefix_and_lose_it_on_the_way_out() {
        let mount = MountPoint::new("t1/").unwrap();
        assert_eq!(mount.mount_topic("a/b").unwrap(), "t1/a/b");
        assert_eq!(mount.mount_filter("#", ProtocolVersion::V5).unwrap(), "t1/#");
        assert_eq!(mount.mount_filter("$share/g/a/+", ProtocolVersion::V5).unwrap(), "$share/g/t1/a/+");
        assert_eq!(mount.mount_filter("$share/g/a", ProtocolVersion::V311).unwrap(), "t1/$share/g/a");
        assert_eq!(mount.mount_filter("$SYS/#", ProtocolVersion::V5).unwrap(), "t1/$SYS/#");
        let stored = MqttString::try_from("t1/a/b").unwrap();
        assert_eq!(mount.unmount(&stored).unwrap(), "a/b");
        assert_eq!(mount.unmount(&MqttString::try_from("t2/a").unwrap()), None);
        assert!(visible(Some(&mount), "t1/x") && !visible(Some(&mount), "t2/x") && visible(None, "t2/x"));
    }

    #[test]
    fn a_topic_too_long_with_the_prefix_is_refused_not_cut() {
        let mount = MountPoint::new("t1/").unwrap();
        let longest = "a".repeat(65535 - 3);
        assert_eq!(mount.mount_topic(&longest).map(|topic| topic.len()), Some(65535));
        assert_eq!(mount.mount_topic(&format!("{longest}b")), None);
        assert_eq!(mount.mount_filter(&format!("{longest}b"), ProtocolVersion::V5), None);
    }
}
