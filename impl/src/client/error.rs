//! What goes wrong: commands the client refuses, and protocol violations by the server.

use std::num::NonZeroU16;

use super::State;
use crate::codec::{DecodeError, EncodeError, PacketId, PacketType, ProtocolVersion, QoS, ReasonCode, Rule};

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

/// A way the server broke the protocol. The client closes the connection; in MQTT 5 it
/// first sends a DISCONNECT with [`ProtocolViolation::reason_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    /// The bytes are not a packet the version allows.
    #[error(transparent)]
    Decode(DecodeError),
    #[error("{packet} is not expected from the server when the client is {state:?}")]
    UnexpectedPacket { packet: PacketType, state: State },
    #[error("{packet} acknowledges packet identifier {packet_id}, which is not waiting for it")]
    UnknownPacketId { packet: PacketType, packet_id: PacketId },
    #[error("{packet} has {received} reason codes for {expected} topic filters")]
    ReasonCodeCountMismatch { packet: PacketType, expected: usize, received: usize },
    #[error("CONNACK has Session Present 1 although the client asked for a clean start")]
    SessionPresentWithoutSession,
    #[error("more than the Receive Maximum of {maximum} QoS 1 and 2 messages are unacknowledged")]
    ReceiveMaximumExceeded { maximum: u16 },
    #[error("topic alias {alias} is above the Topic Alias Maximum of {maximum}")]
    TopicAliasOutOfRange { alias: NonZeroU16, maximum: u16 },
    #[error("topic alias {alias} stands for no topic on this connection")]
    UnknownTopicAlias { alias: NonZeroU16 },
    #[error("{packet} carries an Authentication Method other than the CONNECT's")]
    AuthenticationMethodMismatch { packet: PacketType },
    #[error("AUTH with reason code {reason_code} does not fit the authentication exchange")]
    UnexpectedAuth { reason_code: ReasonCode },
}

impl ProtocolViolation {
    /// The MQTT 5 reason code of the DISCONNECT the client sends before closing.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            ProtocolViolation::Decode(error) => error.reason_code(),
            ProtocolViolation::ReceiveMaximumExceeded { .. } => ReasonCode::ReceiveMaximumExceeded,
            ProtocolViolation::TopicAliasOutOfRange { .. } => ReasonCode::TopicAliasInvalid,
            ProtocolViolation::UnexpectedPacket { .. }
            | ProtocolViolation::UnknownPacketId { .. }
            | ProtocolViolation::ReasonCodeCountMismatch { .. }
            | ProtocolViolation::SessionPresentWithoutSession
            | ProtocolViolation::UnknownTopicAlias { .. }
            | ProtocolViolation::AuthenticationMethodMismatch { .. }
            | ProtocolViolation::UnexpectedAuth { .. } => ReasonCode::ProtocolError,
        }
    }

    /// The statement (or section) of `version` the server broke.
    pub fn rule(&self, version: ProtocolVersion) -> Rule {
        use ProtocolVersion::{V5, V311};
        use Rule::{Section, Statement};
        match (self, version) {
            (ProtocolViolation::Decode(error), _) => error.rule(),
            (ProtocolViolation::UnexpectedPacket { packet, state }, _) => {
                unexpected_packet_rule(*packet, *state, version)
            }
            (ProtocolViolation::UnknownPacketId { packet: PacketType::SubAck | PacketType::UnsubAck, .. }, V311) => {
                Statement("MQTT-2.3.1-7")
            }
            (ProtocolViolation::UnknownPacketId { packet: PacketType::SubAck | PacketType::UnsubAck, .. }, V5) => {
                Statement("MQTT-2.2.1-6")
            }
            (ProtocolViolation::UnknownPacketId { .. }, V311) => Statement("MQTT-2.3.1-6"),
            (ProtocolViolation::UnknownPacketId { .. }, V5) => Statement("MQTT-2.2.1-5"),
            (ProtocolViolation::ReasonCodeCountMismatch { packet: PacketType::UnsubAck, .. }, V5) => {
                Statement("MQTT-3.11.3-1")
            }
            // A 3.1.1 UNSUBACK has no reason codes to count.
            (ProtocolViolation::ReasonCodeCountMismatch { packet: PacketType::UnsubAck, .. }, V311) => {
                Section("3.11.3")
            }
            (ProtocolViolation::ReasonCodeCountMismatch { .. }, V311) => Statement("MQTT-3.8.4-5"),
            (ProtocolViolation::ReasonCodeCountMismatch { .. }, V5) => Statement("MQTT-3.8.4-6"),
            // 3.1.1 states the client's duty only in prose; the server broke [MQTT-3.2.2-1].
            (ProtocolViolation::SessionPresentWithoutSession, V311) => Statement("MQTT-3.2.2-1"),
            (ProtocolViolation::SessionPresentWithoutSession, V5) => Statement("MQTT-3.2.2-4"),
            (ProtocolViolation::ReceiveMaximumExceeded { .. }, _) => Statement("MQTT-3.3.4-9"),
            (ProtocolViolation::TopicAliasOutOfRange { .. }, _) => Statement("MQTT-3.3.2-11"),
            (ProtocolViolation::UnknownTopicAlias { .. }, _) => Section("3.3.4"),
            (ProtocolViolation::AuthenticationMethodMismatch { .. }, _) => Statement("MQTT-4.12.0-5"),
            (ProtocolViolation::UnexpectedAuth { .. }, _) => Section("4.12"),
        }
    }
}

/// Which rule a packet breaks by arriving when it did.
fn unexpected_packet_rule(packet: PacketType, state: State, version: ProtocolVersion) -> Rule {
    use ProtocolVersion::{V5, V311};
    use Rule::{Section, Statement};
    match (packet, state, version) {
        // Packets only a client sends: the direction of flow in the packet type table.
        (PacketType::Connect | PacketType::Subscribe | PacketType::Unsubscribe | PacketType::PingReq, _, V311) => {
            Section("2.2.1")
        }
        (PacketType::Connect | PacketType::Subscribe | PacketType::Unsubscribe | PacketType::PingReq, _, V5) => {
            Section("2.1.2")
        }
        (PacketType::Disconnect, State::Connected, V311) => Section("3.14"),
        (PacketType::Disconnect, _, V5) => Statement("MQTT-3.14.0-1"),
        (PacketType::ConnAck, State::Connected, V5) => Statement("MQTT-3.2.0-2"),
        (PacketType::ConnAck, State::Connected, V311) => Section("3.2"),
        (PacketType::PingResp, State::Connected, _) => Section("3.13"),
        (PacketType::Auth, _, _) => Section("4.12"),
        // Anything else came before the CONNACK.
        _ => Statement("MQTT-3.2.0-1"),
    }
}
