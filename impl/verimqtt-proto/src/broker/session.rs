//! The state a session keeps across network connections ([MQTT-3.1.3-2]): its
//! subscriptions, its messages toward the client, the QoS 2 messages from the client not yet
//! released, and a will waiting out its delay.

use std::collections::HashMap;

use crate::codec::{MqttString, ProtocolVersion, SubscriptionId, SubscriptionOptions, shared_subscription};

use super::ConnId;
use super::flow::Congestion;
use super::listener::{ListenerId, MountPoint};
use super::outbound::Outbound;
use super::policy::ClientInfo;
use super::will::StoredWill;
use crate::session::receiver::AwaitingRelease;

/// A session, by the order sessions were created: a client id that starts a clean session
/// gets a new one, so a timer set for an ended session can never touch its successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SessionId(pub(crate) u64);

/// What a subscription asks for, as stored in the session and in the subscription tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Subscriber {
    /// The options as granted: the QoS is at most the broker's maximum.
    pub(crate) options: SubscriptionOptions,
    pub(crate) id: Option<SubscriptionId>,
}

/// Where a subscription lives in the subscription tree: a topic filter, or a share group
/// and its filter (MQTT 5 `$share/{group}/{filter}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    Plain(Box<str>),
    Shared { group: Box<str>, filter: Box<str> },
}

impl Route {
    /// The route of a filter the codec has validated, read as `version` reads it: in 3.1.1 a
    /// filter starting with `$share/` is an ordinary filter.
    pub(crate) fn of(filter: &str, version: ProtocolVersion) -> Self {
        match shared_subscription(filter, version) {
            Some(Ok(shared)) => Route::Shared { group: shared.group.into(), filter: shared.filter.into() },
            _ => Route::Plain(filter.into()),
        }
    }

    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Route::Shared { .. })
    }
}

/// A subscription as the session holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionSubscription {
    pub(crate) route: Route,
    pub(crate) subscriber: Subscriber,
}

#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) client_id: MqttString,
    /// Who the last connection said it was, so the policy can be asked about messages for
    /// the session while its client is offline.
    pub(crate) username: Option<MqttString>,
    pub(crate) version: ProtocolVersion,
    /// The listener of the last connection, whose rules judge the session, and its mount
    /// point, under which the session's subscriptions were made: the session sees only the
    /// topics under it.
    pub(crate) listener: ListenerId,
    pub(crate) mount_point: Option<MountPoint>,
    /// Keyed by the filter as the client sent it (with the mount point in front, as it is
    /// stored), which is how UNSUBSCRIBE names it ([MQTT-3.10.4-1]).
    pub(crate) subscriptions: HashMap<MqttString, SessionSubscription>,
    pub(crate) outbound: Outbound,
    /// QoS 2 messages from the client that were routed and answered with PUBREC, until their
    /// PUBREL: a PUBLISH repeating one of these identifiers is not delivered again
    /// ([MQTT-4.3.3-2] in 3.1.1, [MQTT-4.3.3-10] in 5.0).
    pub(crate) awaiting_release: AwaitingRelease,
    /// Seconds the session outlives its connection; `u32::MAX` is forever.
    pub(crate) expiry_interval: u32,
    pub(crate) connection: Option<ConnId>,
    /// The will of the last connection, waiting out its delay.
    pub(crate) pending_will: Option<StoredWill>,
    /// Set while the session's queue is past its high-water mark and its client connected.
    pub(crate) congestion: Option<Congestion>,
}

impl Session {
    pub(crate) fn new(client_id: MqttString, expiry_interval: u32) -> Self {
        Session {
            client_id,
            username: None,
            version: ProtocolVersion::V311,
            listener: ListenerId::DEFAULT,
            mount_point: None,
            subscriptions: HashMap::new(),
            outbound: Outbound::default(),
            awaiting_release: AwaitingRelease::default(),
            expiry_interval,
            connection: None,
            pending_will: None,
            congestion: None,
        }
    }

    pub(crate) fn is_online(&self) -> bool {
        self.connection.is_some()
    }

    /// Whether the session outlives its connection (3.1.1 Clean Session 0, 5.0 Session
    /// Expiry Interval above 0).
    pub(crate) fn is_persistent(&self) -> bool {
        self.expiry_interval > 0
    }

    /// Who the session's client is, for the policy.
    pub(crate) fn client(&self) -> ClientInfo<'_> {
        ClientInfo {
            client_id: &self.client_id,
            username: self.username.as_deref(),
            version: self.version,
            listener: self.listener,
        }
    }
}
