//! What goes wrong: commands the client refuses, and protocol violations by the server.

use crate::codec::{EncodeError, QoS};
pub use crate::session::ProtocolViolation;

/// Why a command was refused. A refused command changes nothing in the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No transport is up: the command needs a connection.
    #[error("no network connection: call handle_connected first")]
    NoConnection,
    /// CONNECT was already sent on this connection.
    #[error("CONNECT was already sent on this connection")]
    AlreadyConnected,
    /// Events wait to be polled; connecting would add more than the queue holds.
    #[error("events are waiting to be polled; poll them before connecting")]
    EventQueueFull,
    /// The queue of accepted publishes is full.
    #[error("the publish queue is full ({max} messages)")]
    QueueFull {
        /// The queue's capacity, in messages.
        max: usize,
    },
    /// The SUBSCRIBE and UNSUBSCRIBE requests waiting for their acknowledgement are at the limit.
    #[error("{max} SUBSCRIBE or UNSUBSCRIBE requests are already waiting for their acknowledgement")]
    TooManyPendingRequests {
        /// The limit, in requests.
        max: usize,
    },
    /// All 65,535 packet identifiers are taken by exchanges in progress.
    #[error("all 65535 packet identifiers are in use [MQTT-2.3.1-2] [MQTT-2.2.1-3]")]
    PacketIdsExhausted,
    /// The packet is larger than the server's Maximum Packet Size.
    #[error("the packet is {size} bytes, over the server's Maximum Packet Size of {max} [MQTT-3.2.2-15]")]
    PacketTooLarge {
        /// The packet's size in bytes, fixed header included.
        size: usize,
        /// The server's Maximum Packet Size, in bytes.
        max: u32,
    },
    /// The QoS is above the server's Maximum QoS.
    #[error("QoS {requested} is above the server's Maximum QoS {maximum} [MQTT-3.2.2-11]")]
    QosNotSupported {
        /// The QoS asked for.
        requested: QoS,
        /// The server's Maximum QoS.
        maximum: QoS,
    },
    /// The server announced Retain Available 0: a retained publish is refused.
    #[error("the server does not support retained messages [MQTT-3.2.2-14]")]
    RetainNotSupported,
    /// The server announced Wildcard Subscription Available 0: a filter with `+` or `#` is refused.
    #[error("the server does not support wildcard subscriptions")]
    WildcardSubscriptionsNotSupported,
    /// The server announced Subscription Identifier Available 0.
    #[error("the server does not support subscription identifiers")]
    SubscriptionIdentifiersNotSupported,
    /// The server announced Shared Subscription Available 0: a `$share/` filter is refused.
    #[error("the server does not support shared subscriptions")]
    SharedSubscriptionsNotSupported,
    /// The publish carries a Subscription Identifier, which only a server may send [MQTT-3.3.4-6].
    #[error("a PUBLISH from a client carries no Subscription Identifier [MQTT-3.3.4-6]")]
    SubscriptionIdentifierInPublish,
    /// The publish sets a Topic Alias itself: the client assigns aliases (see `ClientOptions::outbound_topic_aliases`).
    #[error("topic aliases are the client's to assign (ClientOptions::outbound_topic_aliases)")]
    TopicAliasReserved,
    /// The DISCONNECT sets a Session Expiry Interval after the CONNECT set 0.
    #[error("the CONNECT set Session Expiry Interval 0, so DISCONNECT cannot set another [section 3.14.2.2.2]")]
    SessionExpiryAfterZero,
    /// An AUTH step, but the CONNECT named no Authentication Method [MQTT-4.12.0-7].
    #[error("no Authentication Method was set in the CONNECT [MQTT-4.12.0-7]")]
    NoAuthenticationMethod,
    /// The AUTH names another Authentication Method than the CONNECT's.
    #[error("the AUTH must carry the CONNECT's Authentication Method [MQTT-4.12.0-5] [MQTT-4.12.1-1]")]
    AuthenticationMethodMismatch,
    /// An AUTH step when no authentication exchange waits for one.
    #[error("no authentication exchange is waiting for this step")]
    AuthenticationNotExpected,
    /// The packet would break a rule of the protocol version, or it cannot carry a field.
    #[error(transparent)]
    Invalid(EncodeError),
}
