//! What the codec rejects, why, and which rule of the specification says so.
//!
//! A [`Violation`] says what is wrong with a packet, independent of the protocol version. The
//! same violation breaks a differently numbered statement in MQTT 3.1.1 and MQTT 5.0 (the
//! statement ids were renumbered between the two), so the rule is looked up per version:
//! [`Violation::rule`]. Decoding and encoding share the violations: whatever a receiver would
//! reject, the encoder refuses to write.

use std::fmt;

use super::packet::PacketType;
use super::properties::{PropertyContext, PropertyId};
use super::reason::ReasonCode;
use super::string::FieldError;
use super::topic::FilterError;
use super::version::ProtocolVersion;
use super::version::ProtocolVersion::{V5, V311};

/// How a receiver must treat a violation; in MQTT 5 this picks the reason code of the
/// DISCONNECT (or CONNACK) that closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bytes cannot be parsed as the packet they claim to be (MQTT 5: 0x81).
    MalformedPacket,
    /// The packet parses but breaks a rule of the protocol (MQTT 5: 0x82).
    ProtocolError,
    /// The packet is larger than the receiver accepts (MQTT 5: 0x95).
    PacketTooLarge,
    /// A CONNECT asks for a protocol version the codec does not speak (3.1.1: CONNACK 0x01,
    /// 5.0: CONNACK 0x84).
    UnsupportedProtocolVersion,
}

impl ErrorKind {
    /// The MQTT 5 reason code a receiver sends before closing.
    pub fn reason_code(self) -> ReasonCode {
        match self {
            ErrorKind::MalformedPacket => ReasonCode::MalformedPacket,
            ErrorKind::ProtocolError => ReasonCode::ProtocolError,
            ErrorKind::PacketTooLarge => ReasonCode::PacketTooLarge,
            ErrorKind::UnsupportedProtocolVersion => ReasonCode::UnsupportedProtocolVersion,
        }
    }
}

/// The part of the specification a violation breaks: a numbered normative statement where
/// the specification gives one, otherwise the section that states the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A normative statement id, e.g. `MQTT-3.3.1-4`.
    Statement(&'static str),
    /// A section number, for rules the specification states without a statement id.
    Section(&'static str),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Statement(id) => write!(f, "[{id}]"),
            Rule::Section(section) => write!(f, "[section {section}]"),
        }
    }
}

/// Which QoS field carries the reserved value 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QosField {
    /// The QoS bits of a PUBLISH's fixed header.
    Publish,
    /// The Will QoS bits of CONNECT's Connect Flags.
    Will,
    /// The Maximum QoS bits of a SUBSCRIBE's subscription options.
    Subscription,
}

/// What is wrong with a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The packet type nibble is 0 or (3.1.1) 15, values the protocol reserves; it carries
    /// the value.
    #[error("packet type {0} is reserved")]
    ReservedPacketType(u8),
    /// The low four bits of the fixed header are not the value the packet type reserves.
    #[error("fixed header flags {flags:#06b} of {packet} are not the reserved value")]
    InvalidFixedHeaderFlags {
        /// The packet whose flags are wrong.
        packet: PacketType,
        /// The four flag bits as received.
        flags: u8,
    },
    /// A Variable Byte Integer (the remaining length, or a property's) runs past four bytes.
    #[error("variable byte integer longer than four bytes")]
    VarintTooLong,
    /// A Variable Byte Integer uses more bytes than its value needs [MQTT-1.5.5-1].
    #[error("variable byte integer not in its shortest encoding")]
    VarintNotMinimal,
    /// The packet is larger than the receiver's maximum packet size.
    #[error("packet of {size} bytes exceeds the maximum packet size {max}")]
    PacketTooLarge {
        /// The packet's size in bytes, fixed header included.
        size: u64,
        /// The largest size accepted, in bytes, fixed header included.
        max: u32,
    },
    /// A field runs past the end the remaining length gives the packet.
    #[error("packet ends before its fields do (remaining length too short)")]
    UnexpectedEndOfPacket,
    /// Bytes remain after the packet's last field.
    #[error("{count} bytes left over after the last field (remaining length too long)")]
    TrailingBytes {
        /// How many bytes are left over.
        count: usize,
    },
    /// A UTF-8 string or binary field is not well formed.
    #[error("string field {0}")]
    Field(FieldError),
    /// CONNECT's protocol name is neither "MQTT" nor 3.1's "MQIsdp" [MQTT-3.1.2-1].
    #[error("protocol name is neither \"MQTT\" nor \"MQIsdp\"")]
    InvalidProtocolName,
    /// CONNECT asks for a protocol level other than 4 (3.1.1) or 5 (5.0) [MQTT-3.1.2-2].
    #[error("protocol level {level} is not supported")]
    UnsupportedProtocolVersion {
        /// The Protocol Level byte as received.
        level: u8,
    },
    /// The reserved bit 0 of CONNECT's Connect Flags is set [MQTT-3.1.2-3].
    #[error("CONNECT reserved flag is set")]
    ConnectReservedFlag,
    /// CONNECT has a non-zero Will QoS with the Will Flag clear.
    #[error("CONNECT sets will QoS without the will flag")]
    WillQosWithoutWill,
    /// CONNECT has Will Retain set with the Will Flag clear.
    #[error("CONNECT sets will retain without the will flag")]
    WillRetainWithoutWill,
    /// A QoS field holds the reserved value 3; it carries which field.
    #[error("{0:?} QoS is 3")]
    QosThree(QosField),
    /// A 3.1.1 CONNECT has the Password Flag without the User Name Flag [MQTT-3.1.2-22].
    #[error("CONNECT has a password without a user name")]
    PasswordWithoutUsername,
    /// A QoS 0 PUBLISH has the DUP flag set [MQTT-3.3.1-2].
    #[error("PUBLISH at QoS 0 has the DUP flag set")]
    DupOnQos0,
    /// A topic name (PUBLISH, will) contains `+` or `#` [MQTT-3.3.2-2].
    #[error("topic name contains a wildcard")]
    WildcardInTopicName,
    /// A topic name is empty (in MQTT 5, with no Topic Alias to stand for it).
    #[error("topic name is empty")]
    EmptyTopicName,
    /// The Response Topic property is empty or holds a wildcard [MQTT-3.3.2-14].
    #[error("response topic is not a valid topic name")]
    InvalidResponseTopic,
    /// A packet that carries a Packet Identifier has 0 there; it carries the packet type.
    #[error("packet identifier of {0} is 0")]
    ZeroPacketId(PacketType),
    /// A SUBSCRIBE or UNSUBSCRIBE carries no topic filter; it carries the packet type.
    #[error("{0} has no topic filter")]
    NoTopicFilters(PacketType),
    /// The reserved bits of a subscription options byte are set.
    #[error("reserved bits of the subscription options are set")]
    SubscriptionOptionsReservedBits,
    /// A subscription's Retain Handling holds the reserved value 3.
    #[error("retain handling is 3")]
    RetainHandlingThree,
    /// A topic filter is not well formed; it carries what is wrong.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(FilterError),
    /// A shared subscription (`$share/...`) sets No Local [MQTT-3.8.3-4].
    #[error("no local is set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// CONNACK's Connect Acknowledge Flags have a bit other than Session Present set.
    #[error("reserved bits of the CONNACK acknowledge flags are set")]
    ConnAckReservedFlags,
    /// A CONNACK with a failure code has Session Present set.
    #[error("CONNACK has session present set with a failure code")]
    SessionPresentWithFailure,
    /// A SUBACK (or MQTT 5 UNSUBACK) carries no reason code; it carries the packet type.
    #[error("{0} has no reason code")]
    NoReasonCodes(PacketType),
    /// A reason code that the packet may not carry.
    #[error("reason code {code:#04x} is not allowed in {packet}")]
    ReasonCodeNotAllowed {
        /// The packet that carries the code.
        packet: PacketType,
        /// The reason code as received.
        code: u8,
    },
    /// A property identifier MQTT 5 does not define; it carries the identifier.
    #[error("property identifier {0:#04x} is unknown")]
    UnknownProperty(u32),
    /// A property that MQTT 5 does not allow where it appears.
    #[error("property {property} is not allowed in {context}")]
    PropertyNotAllowed {
        /// The property found.
        property: PropertyId,
        /// The packet (or will) whose properties it was found in.
        context: PropertyContext,
    },
    /// A property allowed at most once appears twice; it carries the property.
    #[error("property {0} appears more than once")]
    DuplicateProperty(PropertyId),
    /// A property's value is outside the range MQTT 5 allows (e.g. a Topic Alias of 0).
    #[error("property {property} has the value {value}, outside its range")]
    InvalidPropertyValue {
        /// The property.
        property: PropertyId,
        /// Its value as received.
        value: u32,
    },
    /// Authentication Data is present without an Authentication Method.
    #[error("authentication data without an authentication method")]
    AuthenticationDataWithoutMethod,
}

impl From<FieldError> for Violation {
    fn from(error: FieldError) -> Self {
        Violation::Field(error)
    }
}

impl Violation {
    /// How a receiver of `version` treats this violation.
    pub fn kind(&self, version: ProtocolVersion) -> ErrorKind {
        use ErrorKind::{MalformedPacket, ProtocolError};
        use Violation::*;
        match self {
            Violation::PacketTooLarge { .. } => ErrorKind::PacketTooLarge,
            Violation::UnsupportedProtocolVersion { .. } => ErrorKind::UnsupportedProtocolVersion,
            // 5.0 made a subscription QoS of 3 a protocol error; 3.1.1 calls it malformed.
            QosThree(QosField::Subscription) if version == V5 => ProtocolError,
            ReservedPacketType(_)
            | InvalidFixedHeaderFlags { .. }
            | VarintTooLong
            | VarintNotMinimal
            | UnexpectedEndOfPacket
            | TrailingBytes { .. }
            | Field(_)
            | ConnectReservedFlag
            | WillQosWithoutWill
            | WillRetainWithoutWill
            | QosThree(_)
            | DupOnQos0
            | SubscriptionOptionsReservedBits
            | ConnAckReservedFlags
            | UnknownProperty(_)
            | PropertyNotAllowed { .. } => MalformedPacket,
            InvalidProtocolName
            | PasswordWithoutUsername
            | WildcardInTopicName
            | EmptyTopicName
            | InvalidResponseTopic
            | ZeroPacketId(_)
            | NoTopicFilters(_)
            | RetainHandlingThree
            | InvalidTopicFilter(_)
            | NoLocalOnSharedSubscription
            | SessionPresentWithFailure
            | NoReasonCodes(_)
            | ReasonCodeNotAllowed { .. }
            | DuplicateProperty(_)
            | InvalidPropertyValue { .. }
            | AuthenticationDataWithoutMethod => ProtocolError,
        }
    }

    /// The statement (or section) of `version` this violation breaks.
    pub fn rule(&self, version: ProtocolVersion) -> Rule {
        use Rule::{Section, Statement};
        use Violation::*;
        match (self, version) {
            (ReservedPacketType(_), V311) => Section("2.2.1"),
            (ReservedPacketType(_), V5) => Section("2.1.2"),
            (InvalidFixedHeaderFlags { packet, .. }, _) => fixed_header_flags_rule(*packet, version),
            (VarintTooLong, V311) => Section("2.2.3"),
            (VarintTooLong, V5) => Section("1.5.5"),
            (VarintNotMinimal, _) => Statement("MQTT-1.5.5-1"),
            (PacketTooLarge { .. }, V311) => Section("2.2.3"),
            (PacketTooLarge { .. }, V5) => Section("3.1.2.11.4"),
            (UnexpectedEndOfPacket | TrailingBytes { .. }, V311) => Section("2.2.3"),
            (UnexpectedEndOfPacket | TrailingBytes { .. }, V5) => Section("2.1.4"),
            (Field(FieldError::InvalidUtf8), V311) => Statement("MQTT-1.5.3-1"),
            (Field(FieldError::InvalidUtf8), V5) => Statement("MQTT-1.5.4-1"),
            (Field(FieldError::NullCharacter), V311) => Statement("MQTT-1.5.3-2"),
            (Field(FieldError::NullCharacter), V5) => Statement("MQTT-1.5.4-2"),
            (Field(FieldError::TooLong { .. }), V311) => Section("1.5.3"),
            (Field(FieldError::TooLong { .. }), V5) => Section("1.5.4"),
            (InvalidProtocolName, _) => Statement("MQTT-3.1.2-1"),
            (UnsupportedProtocolVersion { .. }, _) => Statement("MQTT-3.1.2-2"),
            (ConnectReservedFlag, _) => Statement("MQTT-3.1.2-3"),
            (WillQosWithoutWill, V311) => Statement("MQTT-3.1.2-13"),
            (WillQosWithoutWill, V5) => Statement("MQTT-3.1.2-11"),
            (WillRetainWithoutWill, V311) => Statement("MQTT-3.1.2-15"),
            (WillRetainWithoutWill, V5) => Statement("MQTT-3.1.2-13"),
            (QosThree(QosField::Publish), _) => Statement("MQTT-3.3.1-4"),
            (QosThree(QosField::Will), V311) => Statement("MQTT-3.1.2-14"),
            (QosThree(QosField::Will), V5) => Statement("MQTT-3.1.2-12"),
            (QosThree(QosField::Subscription), V311) => Statement("MQTT-3.8.3-4"),
            (QosThree(QosField::Subscription), V5) => Section("3.8.3.1"),
            (PasswordWithoutUsername, V311) => Statement("MQTT-3.1.2-22"),
            // 5.0 allows a password alone; the decoder never raises this for 5.0.
            (PasswordWithoutUsername, V5) => Section("3.1.2.9"),
            (DupOnQos0, _) => Statement("MQTT-3.3.1-2"),
            (WildcardInTopicName, _) => Statement("MQTT-3.3.2-2"),
            (EmptyTopicName, V311) => Statement("MQTT-4.7.3-1"),
            (EmptyTopicName, V5) => Section("3.3.2.1"),
            (InvalidResponseTopic, _) => Statement("MQTT-3.3.2-14"),
            (ZeroPacketId(_), V311) => Statement("MQTT-2.3.1-1"),
            (ZeroPacketId(_), V5) => Statement("MQTT-2.2.1-3"),
            (NoTopicFilters(PacketType::Subscribe), V311) => Statement("MQTT-3.8.3-3"),
            (NoTopicFilters(PacketType::Subscribe), V5) => Statement("MQTT-3.8.3-2"),
            (NoTopicFilters(_), _) => Statement("MQTT-3.10.3-2"),
            (SubscriptionOptionsReservedBits, V311) => Statement("MQTT-3.8.3-4"),
            (SubscriptionOptionsReservedBits, V5) => Statement("MQTT-3.8.3-5"),
            (RetainHandlingThree, _) => Section("3.8.3.1"),
            (InvalidTopicFilter(error), _) => error.rule(version),
            (NoLocalOnSharedSubscription, _) => Statement("MQTT-3.8.3-4"),
            (ConnAckReservedFlags, _) => Section("3.2.2.1"),
            (SessionPresentWithFailure, V311) => Statement("MQTT-3.2.2-4"),
            (SessionPresentWithFailure, V5) => Statement("MQTT-3.2.2-6"),
            // One code per filter, in order; in 3.1.1 only SUBACK carries codes.
            (NoReasonCodes(PacketType::UnsubAck), V5) => Statement("MQTT-3.11.3-1"),
            (NoReasonCodes(_), _) => Statement("MQTT-3.9.3-1"),
            (ReasonCodeNotAllowed { packet: PacketType::ConnAck, .. }, V311) => Section("3.2.2.3"),
            (ReasonCodeNotAllowed { .. }, V311) => Statement("MQTT-3.9.3-2"),
            (ReasonCodeNotAllowed { packet, .. }, V5) => reason_code_rule(*packet),
            (InvalidPropertyValue { property: PropertyId::TopicAlias, .. }, _) => Statement("MQTT-3.3.2-8"),
            (
                UnknownProperty(_) | PropertyNotAllowed { .. } | DuplicateProperty(_) | InvalidPropertyValue { .. },
                _,
            ) => Section("2.2.2.2"),
            (AuthenticationDataWithoutMethod, _) => Section("3.1.2.11.10"),
        }
    }
}

/// Some packets restate the reserved-flags rule with a statement of their own.
fn fixed_header_flags_rule(packet: PacketType, version: ProtocolVersion) -> Rule {
    use PacketType::*;
    Rule::Statement(match (packet, version) {
        (PubRel, _) => "MQTT-3.6.1-1",
        (Subscribe, _) => "MQTT-3.8.1-1",
        (Unsubscribe, _) => "MQTT-3.10.1-1",
        (Disconnect, _) => "MQTT-3.14.1-1",
        (Auth, V5) => "MQTT-3.15.1-1",
        (_, V311) => "MQTT-2.2.2-2",
        (_, V5) => "MQTT-2.1.3-1",
    })
}

/// The MQTT 5 statement that binds a packet's sender to the reason codes listed for it.
fn reason_code_rule(packet: PacketType) -> Rule {
    use PacketType::*;
    match packet {
        ConnAck => Rule::Statement("MQTT-3.2.2-8"),
        PubAck => Rule::Statement("MQTT-3.4.2-1"),
        PubRec => Rule::Statement("MQTT-3.5.2-1"),
        PubRel => Rule::Statement("MQTT-3.6.2-1"),
        PubComp => Rule::Statement("MQTT-3.7.2-1"),
        SubAck => Rule::Statement("MQTT-3.9.3-2"),
        UnsubAck => Rule::Statement("MQTT-3.11.3-2"),
        Disconnect => Rule::Statement("MQTT-3.14.2-1"),
        Auth => Rule::Statement("MQTT-3.15.2-1"),
        Connect | Publish | Subscribe | Unsubscribe | PingReq | PingResp => Rule::Section("2.4"),
    }
}

/// A packet that cannot be decoded: what is wrong, under which protocol version it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    violation: Violation,
    version: ProtocolVersion,
}

impl DecodeError {
    pub(crate) fn new(violation: Violation, version: ProtocolVersion) -> Self {
        DecodeError { violation, version }
    }

    /// What is wrong with the packet.
    pub fn violation(&self) -> &Violation {
        &self.violation
    }

    /// The version whose rules the packet was read under: the one in the decode options, or
    /// for a CONNECT the one it asks for.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// How a receiver treats the violation under [`version`](Self::version).
    pub fn kind(&self) -> ErrorKind {
        self.violation.kind(self.version)
    }

    /// The statement (or section) of [`version`](Self::version) the packet breaks.
    pub fn rule(&self) -> Rule {
        self.violation.rule(self.version)
    }

    /// The MQTT 5 reason code to close the connection with.
    pub fn reason_code(&self) -> ReasonCode {
        match self.violation {
            // 5.0 has a code of its own for a bad Topic Alias (0x94); 0 is never a valid one.
            Violation::InvalidPropertyValue { property: PropertyId::TopicAlias, .. } => ReasonCode::TopicAliasInvalid,
            _ => self.kind().reason_code(),
        }
    }

    /// For a CONNECT that asks for a protocol level the codec does not speak, that level: the
    /// broker answers with CONNACK 0x01 (3.1.1) or 0x84 (5.0) [MQTT-3.1.2-2].
    pub fn unsupported_protocol_level(&self) -> Option<u8> {
        match self.violation {
            Violation::UnsupportedProtocolVersion { level } => Some(level),
            _ => None,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MQTT {}: {} {}", self.version, self.violation, self.rule())
    }
}

impl std::error::Error for DecodeError {}

/// A packet the encoder refuses to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A receiver would reject the packet; the error says why and names the rule.
    #[error("{0}")]
    Invalid(DecodeError),
    /// The packet carries something the protocol version has no place for, such as
    /// properties or a failure reason code in 3.1.1. The encoder never drops a field.
    #[error("MQTT {version} cannot carry {what}")]
    NotInVersion {
        /// What the packet carries, in words (e.g. "properties").
        what: &'static str,
        /// The version the packet was to be written in.
        version: ProtocolVersion,
    },
    /// A CONNECT written for one version but asking for another.
    #[error("CONNECT for MQTT {connect} encoded as MQTT {version}")]
    VersionMismatch {
        /// The version the CONNECT asks for.
        connect: ProtocolVersion,
        /// The version the encoder was asked to write.
        version: ProtocolVersion,
    },
    /// A PUBLISH at QoS 1 or 2 without a packet identifier.
    #[error("PUBLISH at QoS {qos} needs a packet identifier")]
    MissingPacketId {
        /// The PUBLISH's QoS, 1 or 2.
        qos: u8,
    },
    /// A PUBLISH at QoS 0 with a packet identifier ([MQTT-2.3.1-5] in 3.1.1, [MQTT-2.2.1-2]
    /// in 5.0).
    #[error("PUBLISH at QoS 0 must not have a packet identifier")]
    UnexpectedPacketId,
    /// The remaining length would exceed the 268,435,455 bytes four length bytes can express.
    #[error("remaining length {remaining} exceeds 268435455")]
    PacketTooLarge {
        /// The remaining length the packet would need, in bytes.
        remaining: u64,
    },
}

impl EncodeError {
    pub(crate) fn invalid(violation: Violation, version: ProtocolVersion) -> Self {
        EncodeError::Invalid(DecodeError::new(violation, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_version_the_violation_and_the_rule() {
        let error = DecodeError::new(Violation::QosThree(QosField::Publish), V5);
        assert_eq!(error.to_string(), "MQTT 5.0: Publish QoS is 3 [MQTT-3.3.1-4]");
        let error = DecodeError::new(Violation::EmptyTopicName, V5);
        assert_eq!(error.to_string(), "MQTT 5.0: topic name is empty [section 3.3.2.1]");
    }

    #[test]
    fn the_same_violation_cites_each_versions_own_statement() {
        let violation = Violation::WillRetainWithoutWill;
        assert_eq!(violation.rule(V311), Rule::Statement("MQTT-3.1.2-15"));
        assert_eq!(violation.rule(V5), Rule::Statement("MQTT-3.1.2-13"));
    }

    #[test]
    fn kinds_map_to_the_mqtt5_reason_codes() {
        let malformed = DecodeError::new(Violation::VarintTooLong, V5);
        assert_eq!(malformed.reason_code(), ReasonCode::MalformedPacket);
        let protocol = DecodeError::new(Violation::DuplicateProperty(PropertyId::TopicAlias), V5);
        assert_eq!(protocol.reason_code(), ReasonCode::ProtocolError);
        let too_large = DecodeError::new(Violation::PacketTooLarge { size: 9, max: 8 }, V5);
        assert_eq!(too_large.reason_code(), ReasonCode::PacketTooLarge);
    }

    #[test]
    fn topic_alias_zero_is_answered_with_topic_alias_invalid() {
        let violation = Violation::InvalidPropertyValue { property: PropertyId::TopicAlias, value: 0 };
        let error = DecodeError::new(violation, V5);
        assert_eq!(error.kind(), ErrorKind::ProtocolError);
        assert_eq!(error.reason_code(), ReasonCode::TopicAliasInvalid);
    }

    #[test]
    fn subscription_qos_three_changed_kind_between_versions() {
        let violation = Violation::QosThree(QosField::Subscription);
        assert_eq!(violation.kind(V311), ErrorKind::MalformedPacket);
        assert_eq!(violation.kind(V5), ErrorKind::ProtocolError);
    }
}
