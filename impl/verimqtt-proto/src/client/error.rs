//! What goes wrong: commands the client refuses, and protocol violations by the server.

use crate::codec::{EncodeError, QoS};
pub use crate::session::ProtocolViolation;

/// Why a command was refused. A refused command changes nothing in the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("no network connection: call handle_connected first")]
    NoConnection,
    #[error("CONNECT was already sent on this connection")]
    AlreadyConnected,
    #[error("events are waiting to be polled; poll them before connecting")]
    EventQueueFull,
    #[error("the publish queue is full ({max} messages)")]
    QueueFull { max: usize },
    #[error("{max} SUBSCRIBE or UNSUBSCRIBE requests are already waiting for their acknowledgement")]
    TooManyPendingRequests { max: usize },
    #[error("all 65535 packet identifiers are in use [MQTT-2.3.1-2] [MQTT-2.2.1-3]")]
    PacketIdsExhausted,
    #[error("the packet is {size} bytes, over the server's Maximum Packet Size of {max} [MQTT-3.2.2-15]")]
    PacketTooLarge { size: usize, max: u32 },
    #[error("QoS {requested} is above the server's Maximum QoS {maximum} [MQTT-3.2.2-11]")]
    QosNotSupported { requested: QoS, maximum: QoS },
    #[error("the server does not support retained messages [MQTT-3.2.2-14]")]
    RetainNotSupported,
    #[error("the server does not support wildcard subscriptions")]
    WildcardSubscriptionsNotSupported,
    #[error("the server does not support subscription identifiers")]
    SubscriptionIdentifiersNotSupported,
    #[error("the server does not support shared subscriptions")]
    SharedSubscriptionsNotSupported,
    #[error("a PUBLISH from a client carries no Subscription Identifier [MQTT-3.3.4-6]")]
    SubscriptionIdentifierInPublish,
    #[error("topic aliases are the client's to assign (ClientOptions::outbound_topic_aliases)")]
    TopicAliasReserved,
    #[error("the CONNECT set Session Expiry Interval 0, so DISCONNECT cannot set another [section 3.14.2.2.2]")]
    SessionExpiryAfterZero,
    #[error("no Authentication Method was set in the CONNECT [MQTT-4.12.0-7]")]
    NoAuthenticationMethod,
    #[error("the AUTH must carry the CONNECT's Authentication Method [MQTT-4.12.0-5] [MQTT-4.12.1-1]")]
    AuthenticationMethodMismatch,
    #[error("no authentication exchange is waiting for this step")]
    AuthenticationNotExpected,
    /// The packet would break a rule of the protocol version, or it cannot carry a field.
    #[error(transparent)]
    Invalid(EncodeError),
}
