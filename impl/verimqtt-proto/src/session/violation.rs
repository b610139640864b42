//! The rules a peer can break that the codec cannot see in one packet: the sequence of
//! packets and the limits negotiated at CONNECT. One enum for both roles, each violation
//! with the reason code of the DISCONNECT (or CONNACK) that reports it in MQTT 5 and the
//! rule it breaks in each version, by the role that broke it.

use std::fmt;
use std::num::NonZeroU16;

use crate::codec::{DecodeError, PacketId, PacketType, ProtocolVersion, QoS, ReasonCode, Rule};

/// The two ends of an MQTT connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sends CONNECT.
    Client,
    /// The end that answers with CONNACK: the broker.
    Server,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Client => "client",
            Role::Server => "server",
        })
    }
}

/// A rule of the protocol the peer broke. Its connection is closed; in MQTT 5 a DISCONNECT
/// (or, during CONNECT, a CONNACK) with [`ProtocolViolation::reason_code`] goes first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    /// The bytes are not a packet the version allows.
    #[error(transparent)]
    Decode(DecodeError),
    /// A packet the peer's role never sends, or one out of place: anything but CONNECT
    /// first, a second CONNECT, a CONNACK once connected, anything before the CONNACK.
    #[error("{packet} is not expected {}", if *connected { "on an established connection" } else { "before the connection is established" })]
    UnexpectedPacket {
        /// The packet received.
        packet: PacketType,
        /// Whether the connection was established (CONNACK sent or received) when it came.
        connected: bool,
    },
    /// The peer has more QoS 1 and 2 PUBLISHes unacknowledged than the Receive Maximum it
    /// was given (MQTT 5: 0x93 Receive Maximum exceeded).
    #[error("more than the Receive Maximum of {maximum} QoS 1 and 2 messages are unacknowledged")]
    ReceiveMaximumExceeded {
        /// The Receive Maximum in force.
        maximum: u16,
    },
    /// A PUBLISH's Topic Alias is above the Topic Alias Maximum the receiver announced
    /// (MQTT 5: 0x94 Topic Alias invalid).
    #[error("topic alias {alias} is above the Topic Alias Maximum of {maximum}")]
    TopicAliasOutOfRange {
        /// The alias received.
        alias: NonZeroU16,
        /// The Topic Alias Maximum announced (0: no aliases at all).
        maximum: u16,
    },
    /// A PUBLISH with an empty topic uses a Topic Alias no earlier PUBLISH on this
    /// connection set.
    #[error("topic alias {alias} stands for no topic on this connection")]
    UnknownTopicAlias {
        /// The alias received.
        alias: NonZeroU16,
    },
    // Only a server can break these.
    #[error("{packet} acknowledges packet identifier {packet_id}, which is not waiting for it")]
    /// An acknowledgement (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) for a packet
    /// identifier the client has no exchange in progress for.
    UnknownPacketId {
        /// The acknowledgement received.
        packet: PacketType,
        /// Its packet identifier.
        packet_id: PacketId,
    },
    #[error("{packet} has {received} reason codes for {expected} topic filters")]
    /// A SUBACK (or MQTT 5 UNSUBACK) with a number of reason codes other than the filters
    /// of the request it answers.
    ReasonCodeCountMismatch {
        /// SUBACK or UNSUBACK.
        packet: PacketType,
        /// The number of topic filters in the request.
        expected: usize,
        /// The number of reason codes received.
        received: usize,
    },
    #[error("CONNACK has Session Present 1 although the client asked for a clean start")]
    /// CONNACK has Session Present 1 although the client asked for a clean start.
    SessionPresentWithoutSession,
    #[error("{packet} carries an Authentication Method other than the CONNECT's")]
    /// A CONNACK or AUTH names an Authentication Method other than the CONNECT's.
    AuthenticationMethodMismatch {
        /// The packet that carries the other method.
        packet: PacketType,
    },
    #[error("AUTH with reason code {reason_code} does not fit the authentication exchange")]
    /// An AUTH whose reason code does not fit the exchange at this point (e.g.
    /// 0x19 Re-authenticate from the server).
    UnexpectedAuth {
        /// The AUTH's reason code.
        reason_code: ReasonCode,
    },
    // Only a client can break these.
    #[error("AUTH without an Authentication Method in CONNECT")]
    /// AUTH from a client whose CONNECT had no Authentication Method [MQTT-4.12.0-7].
    AuthWithoutMethod,
    #[error("a PUBLISH from a client carries a Subscription Identifier")]
    /// A PUBLISH from the client carries a Subscription Identifier [MQTT-3.3.4-6].
    SubscriptionIdentifierFromClient,
    #[error("PUBLISH at QoS {qos} above the Maximum QoS {max}")]
    /// A PUBLISH above the Maximum QoS the server announced (MQTT 5: 0x9B QoS not supported).
    QosNotSupported {
        /// The PUBLISH's QoS.
        qos: QoS,
        /// The server's Maximum QoS.
        max: QoS,
    },
    #[error("retained PUBLISH while Retain Available is 0")]
    /// A retained PUBLISH although the server announced Retain Available 0 (MQTT 5: 0x9A
    /// Retain not supported).
    RetainNotSupported,
    #[error("DISCONNECT sets a Session Expiry Interval after CONNECT set 0")]
    /// A DISCONNECT sets a non-zero Session Expiry Interval after the CONNECT set 0 (or
    /// none).
    SessionExpiryAfterZero,
}

impl ProtocolViolation {
    /// The MQTT 5 reason code that reports it.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            ProtocolViolation::Decode(error) => error.reason_code(),
            ProtocolViolation::ReceiveMaximumExceeded { .. } => ReasonCode::ReceiveMaximumExceeded,
            ProtocolViolation::TopicAliasOutOfRange { .. } => ReasonCode::TopicAliasInvalid,
            ProtocolViolation::QosNotSupported { .. } => ReasonCode::QosNotSupported,
            ProtocolViolation::RetainNotSupported => ReasonCode::RetainNotSupported,
            ProtocolViolation::UnexpectedPacket { .. }
            | ProtocolViolation::UnknownTopicAlias { .. }
            | ProtocolViolation::UnknownPacketId { .. }
            | ProtocolViolation::ReasonCodeCountMismatch { .. }
            | ProtocolViolation::SessionPresentWithoutSession
            | ProtocolViolation::AuthenticationMethodMismatch { .. }
            | ProtocolViolation::UnexpectedAuth { .. }
            | ProtocolViolation::AuthWithoutMethod
            | ProtocolViolation::SubscriptionIdentifierFromClient
            | ProtocolViolation::SessionExpiryAfterZero => ReasonCode::ProtocolError,
        }
    }

    /// The statement (or section) of `version` that `by` broke. The limits MQTT 5 lets a
    /// server announce have no 3.1.1 statement: there they are the broker's own, with no rule.
    pub fn rule(&self, version: ProtocolVersion, by: Role) -> Option<Rule> {
        use ProtocolVersion::{V5, V311};
        use Rule::{Section, Statement};
        Some(match (self, version, by) {
            (ProtocolViolation::Decode(error), ..) => error.rule(),
            (ProtocolViolation::UnexpectedPacket { packet, connected }, _, by) => {
                unexpected_packet_rule(*packet, *connected, version, by)
            }
            (ProtocolViolation::ReceiveMaximumExceeded { .. }, V311, _) => return None,
            (ProtocolViolation::ReceiveMaximumExceeded { .. }, V5, Role::Client) => Statement("MQTT-3.3.4-7"),
            (ProtocolViolation::ReceiveMaximumExceeded { .. }, V5, Role::Server) => Statement("MQTT-3.3.4-9"),
            (ProtocolViolation::TopicAliasOutOfRange { .. }, _, Role::Client) => Statement("MQTT-3.3.2-9"),
            (ProtocolViolation::TopicAliasOutOfRange { .. }, _, Role::Server) => Statement("MQTT-3.3.2-11"),
            (ProtocolViolation::UnknownTopicAlias { .. }, ..) => Section("3.3.2.3.4"),
            (ProtocolViolation::UnknownPacketId { packet: PacketType::SubAck | PacketType::UnsubAck, .. }, V311, _) => {
                Statement("MQTT-2.3.1-7")
            }
            (ProtocolViolation::UnknownPacketId { packet: PacketType::SubAck | PacketType::UnsubAck, .. }, V5, _) => {
                Statement("MQTT-2.2.1-6")
            }
            (ProtocolViolation::UnknownPacketId { .. }, V311, _) => Statement("MQTT-2.3.1-6"),
            (ProtocolViolation::UnknownPacketId { .. }, V5, _) => Statement("MQTT-2.2.1-5"),
            (ProtocolViolation::ReasonCodeCountMismatch { packet: PacketType::UnsubAck, .. }, V5, _) => {
                Statement("MQTT-3.11.3-1")
            }
            // A 3.1.1 UNSUBACK has no reason codes to count.
            (ProtocolViolation::ReasonCodeCountMismatch { packet: PacketType::UnsubAck, .. }, V311, _) => {
                Section("3.11.3")
            }
            (ProtocolViolation::ReasonCodeCountMismatch { .. }, V311, _) => Statement("MQTT-3.8.4-5"),
            (ProtocolViolation::ReasonCodeCountMismatch { .. }, V5, _) => Statement("MQTT-3.8.4-6"),
            // 3.1.1 states the client's duty only in prose; the server broke [MQTT-3.2.2-1].
            (ProtocolViolation::SessionPresentWithoutSession, V311, _) => Statement("MQTT-3.2.2-1"),
            (ProtocolViolation::SessionPresentWithoutSession, V5, _) => Statement("MQTT-3.2.2-4"),
            (ProtocolViolation::AuthenticationMethodMismatch { .. }, ..) => Statement("MQTT-4.12.0-5"),
            (ProtocolViolation::UnexpectedAuth { .. }, ..) => Section("4.12"),
            (ProtocolViolation::AuthWithoutMethod, ..) => Statement("MQTT-4.12.0-7"),
            (ProtocolViolation::SubscriptionIdentifierFromClient, ..) => Statement("MQTT-3.3.4-6"),
            (ProtocolViolation::QosNotSupported { .. }, V5, _) => Statement("MQTT-3.2.2-11"),
            (ProtocolViolation::RetainNotSupported, V5, _) => Statement("MQTT-3.2.2-14"),
            (ProtocolViolation::QosNotSupported { .. } | ProtocolViolation::RetainNotSupported, V311, _) => {
                return None;
            }
            (ProtocolViolation::SessionExpiryAfterZero, ..) => Section("3.14.2.2.2"),
        })
    }
}

/// Which rule a packet breaks by arriving from `by` when it did.
fn unexpected_packet_rule(packet: PacketType, connected: bool, version: ProtocolVersion, by: Role) -> Rule {
    use ProtocolVersion::{V5, V311};
    use Rule::{Section, Statement};
    let sent_only_by_the_other = match by {
        Role::Client => {
            matches!(packet, PacketType::ConnAck | PacketType::SubAck | PacketType::UnsubAck | PacketType::PingResp)
        }
        Role::Server => {
            matches!(
                packet,
                PacketType::Connect | PacketType::Subscribe | PacketType::Unsubscribe | PacketType::PingReq
            )
        }
    };
    match (by, packet, connected, version) {
        (Role::Client, PacketType::Connect, true, _) => Statement("MQTT-3.1.0-2"),
        (Role::Client, _, false, _) => Statement("MQTT-3.1.0-1"),
        // The direction of flow in the packet type table.
        _ if sent_only_by_the_other && version == V311 => Section("2.2.1"),
        _ if sent_only_by_the_other => Section("2.1.2"),
        // Nothing else a connected client sends is out of place: the general error handling.
        (Role::Client, .., V311) => Section("4.8"),
        (Role::Client, .., V5) => Section("4.13"),
        (Role::Server, PacketType::Disconnect, true, V311) => Section("3.14"),
        (Role::Server, PacketType::Disconnect, _, V5) => Statement("MQTT-3.14.0-1"),
        (Role::Server, PacketType::ConnAck, true, V5) => Statement("MQTT-3.2.0-2"),
        (Role::Server, PacketType::ConnAck, true, V311) => Section("3.2"),
        (Role::Server, PacketType::PingResp, true, _) => Section("3.13"),
        (Role::Server, PacketType::Auth, _, _) => Section("4.12"),
        // Anything else came before the CONNACK.
        (Role::Server, ..) => Statement("MQTT-3.2.0-1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_violation_names_the_rule_of_the_role_that_broke_it() {
        let alias = ProtocolViolation::TopicAliasOutOfRange { alias: NonZeroU16::MIN, maximum: 0 };
        assert_eq!(alias.rule(ProtocolVersion::V5, Role::Client), Some(Rule::Statement("MQTT-3.3.2-9")));
        assert_eq!(alias.rule(ProtocolVersion::V5, Role::Server), Some(Rule::Statement("MQTT-3.3.2-11")));
        let quota = ProtocolViolation::ReceiveMaximumExceeded { maximum: 1 };
        assert_eq!(quota.rule(ProtocolVersion::V5, Role::Client), Some(Rule::Statement("MQTT-3.3.4-7")));
        assert_eq!(quota.rule(ProtocolVersion::V311, Role::Client), None, "a limit 3.1.1 does not have");
    }

    #[test]
    fn an_unexpected_packet_is_judged_by_who_sent_it_and_when() {
        let rule = |packet, connected, by| {
            ProtocolViolation::UnexpectedPacket { packet, connected }.rule(ProtocolVersion::V5, by)
        };
        assert_eq!(rule(PacketType::PingReq, false, Role::Client), Some(Rule::Statement("MQTT-3.1.0-1")));
        assert_eq!(rule(PacketType::Connect, true, Role::Client), Some(Rule::Statement("MQTT-3.1.0-2")));
        assert_eq!(rule(PacketType::ConnAck, true, Role::Client), Some(Rule::Section("2.1.2")));
        assert_eq!(rule(PacketType::ConnAck, true, Role::Server), Some(Rule::Statement("MQTT-3.2.0-2")));
        assert_eq!(rule(PacketType::Publish, false, Role::Server), Some(Rule::Statement("MQTT-3.2.0-1")));
    }
}
