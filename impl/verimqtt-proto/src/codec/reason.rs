//! Reason codes (MQTT 5.0 section 2.4) and which packet may carry which.
//!
//! MQTT 3.1.1 has return codes only in CONNACK and SUBACK. SUBACK's are numerically the same
//! as 5.0's; CONNACK's 1..=5 are mapped to the 5.0 codes of the same meaning, so that a broker
//! or client can speak one vocabulary and let the encoder write what the version needs.

use std::fmt;

use super::error::Violation;
use super::packet::PacketType;
use super::version::ProtocolVersion;

macro_rules! reason_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $text:literal;)*) => {
        /// An MQTT 5 reason code. Several codes share a value (0x00 is Success, Normal
        /// disconnection and Granted QoS 0); the associated constants name the aliases.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ReasonCode {
            $($(#[$doc])* $name = $value,)*
        }

        impl ReasonCode {
            /// Every reason code, in numeric order.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$name,)*];

            /// The reason code with this value, if there is one.
            pub const fn from_u8(value: u8) -> Option<Self> {
                match value {
                    $($value => Some(ReasonCode::$name),)*
                    _ => None,
                }
            }

            /// The specification's name for the code (for 0x00, 0x01, 0x02 and 0x04 the name
            /// depends on the packet; this is the first one the specification lists).
            pub const fn name(self) -> &'static str {
                match self {
                    $(ReasonCode::$name => $text,)*
                }
            }
        }
    };
}

reason_codes! {
    /// 0x00 Success (also Normal disconnection, Granted QoS 0): the operation succeeded.
    Success = 0x00, "Success";
    /// 0x01 Granted QoS 1: the subscription is accepted with a maximum QoS of 1 (SUBACK).
    GrantedQos1 = 0x01, "Granted QoS 1";
    /// 0x02 Granted QoS 2: the subscription is accepted with a maximum QoS of 2 (SUBACK).
    GrantedQos2 = 0x02, "Granted QoS 2";
    /// 0x04 Disconnect with Will Message: the client disconnects and wants its will published (DISCONNECT).
    DisconnectWithWillMessage = 0x04, "Disconnect with Will Message";
    /// 0x10 No matching subscribers: accepted, but no subscriber matched the topic (PUBACK, PUBREC).
    NoMatchingSubscribers = 0x10, "No matching subscribers";
    /// 0x11 No subscription existed: there was nothing to unsubscribe from (UNSUBACK).
    NoSubscriptionExisted = 0x11, "No subscription existed";
    /// 0x18 Continue authentication: another step of enhanced authentication follows (AUTH).
    ContinueAuthentication = 0x18, "Continue authentication";
    /// 0x19 Re-authenticate: the client starts authenticating again on a live connection (AUTH).
    ReAuthenticate = 0x19, "Re-authenticate";
    /// 0x80 Unspecified error: a failure the sender does not describe.
    UnspecifiedError = 0x80, "Unspecified error";
    /// 0x81 Malformed Packet: the packet could not be parsed.
    MalformedPacket = 0x81, "Malformed Packet";
    /// 0x82 Protocol Error: the packet parsed but broke a rule of the protocol.
    ProtocolError = 0x82, "Protocol Error";
    /// 0x83 Implementation specific error: valid, but the receiver will not process it.
    ImplementationSpecificError = 0x83, "Implementation specific error";
    /// 0x84 Unsupported Protocol Version: the server does not speak the version the CONNECT asks for (CONNACK; 3.1.1 return code 1).
    UnsupportedProtocolVersion = 0x84, "Unsupported Protocol Version";
    /// 0x85 Client Identifier not valid: the server refuses the client identifier (CONNACK; 3.1.1 return code 2).
    ClientIdentifierNotValid = 0x85, "Client Identifier not valid";
    /// 0x86 Bad User Name or Password: the credentials were not accepted (CONNACK; 3.1.1 return code 4).
    BadUserNameOrPassword = 0x86, "Bad User Name or Password";
    /// 0x87 Not authorized: the client may not do this (3.1.1 return code 5 in CONNACK).
    NotAuthorized = 0x87, "Not authorized";
    /// 0x88 Server unavailable: the server cannot serve the client now (CONNACK; 3.1.1 return code 3).
    ServerUnavailable = 0x88, "Server unavailable";
    /// 0x89 Server busy: the server is busy; try again later.
    ServerBusy = 0x89, "Server busy";
    /// 0x8A Banned: the client is barred by an administrator (CONNACK).
    Banned = 0x8a, "Banned";
    /// 0x8B Server shutting down: the server is going away (DISCONNECT).
    ServerShuttingDown = 0x8b, "Server shutting down";
    /// 0x8C Bad authentication method: the Authentication Method is not supported or does not match the one in use.
    BadAuthenticationMethod = 0x8c, "Bad authentication method";
    /// 0x8D Keep Alive timeout: nothing arrived within 1.5 times the keep alive (DISCONNECT).
    KeepAliveTimeout = 0x8d, "Keep Alive timeout";
    /// 0x8E Session taken over: another connection using the same client identifier took the session (DISCONNECT).
    SessionTakenOver = 0x8e, "Session taken over";
    /// 0x8F Topic Filter invalid: the filter is well formed but the server does not accept it.
    TopicFilterInvalid = 0x8f, "Topic Filter invalid";
    /// 0x90 Topic Name invalid: the topic name is well formed but not accepted by the receiver.
    TopicNameInvalid = 0x90, "Topic Name invalid";
    /// 0x91 Packet Identifier in use: the packet identifier is already taken by an exchange in progress.
    PacketIdentifierInUse = 0x91, "Packet Identifier in use";
    /// 0x92 Packet Identifier not found: no exchange in progress has this packet identifier (PUBREL, PUBCOMP).
    PacketIdentifierNotFound = 0x92, "Packet Identifier not found";
    /// 0x93 Receive Maximum exceeded: the peer had more unacknowledged QoS 1 and 2 PUBLISHes in flight than the Receive Maximum (DISCONNECT).
    ReceiveMaximumExceeded = 0x93, "Receive Maximum exceeded";
    /// 0x94 Topic Alias invalid: a Topic Alias is 0, above the Topic Alias Maximum, or not set up (DISCONNECT).
    TopicAliasInvalid = 0x94, "Topic Alias invalid";
    /// 0x95 Packet too large: the packet exceeds the receiver's Maximum Packet Size.
    PacketTooLarge = 0x95, "Packet too large";
    /// 0x96 Message rate too high: the peer publishes faster than the receiver allows (DISCONNECT).
    MessageRateTooHigh = 0x96, "Message rate too high";
    /// 0x97 Quota exceeded: an implementation or administrative limit is reached.
    QuotaExceeded = 0x97, "Quota exceeded";
    /// 0x98 Administrative action: the connection is closed by an administrator (DISCONNECT).
    AdministrativeAction = 0x98, "Administrative action";
    /// 0x99 Payload format invalid: the payload does not match its Payload Format Indicator.
    PayloadFormatInvalid = 0x99, "Payload format invalid";
    /// 0x9A Retain not supported: the server does not keep retained messages.
    RetainNotSupported = 0x9a, "Retain not supported";
    /// 0x9B QoS not supported: the QoS is above the server's Maximum QoS.
    QosNotSupported = 0x9b, "QoS not supported";
    /// 0x9C Use another server: the client should temporarily use another server (see Server Reference).
    UseAnotherServer = 0x9c, "Use another server";
    /// 0x9D Server moved: the client should permanently use another server (see Server Reference).
    ServerMoved = 0x9d, "Server moved";
    /// 0x9E Shared Subscriptions not supported: the server does not accept shared subscriptions.
    SharedSubscriptionsNotSupported = 0x9e, "Shared Subscriptions not supported";
    /// 0x9F Connection rate exceeded: the client connects too often (CONNACK).
    ConnectionRateExceeded = 0x9f, "Connection rate exceeded";
    /// 0xA0 Maximum connect time: the connection has lasted as long as it may (DISCONNECT).
    MaximumConnectTime = 0xa0, "Maximum connect time";
    /// 0xA1 Subscription Identifiers not supported: the server does not accept Subscription Identifiers.
    SubscriptionIdentifiersNotSupported = 0xa1, "Subscription Identifiers not supported";
    /// 0xA2 Wildcard Subscriptions not supported: the server does not accept filters with wildcards.
    WildcardSubscriptionsNotSupported = 0xa2, "Wildcard Subscriptions not supported";
}

impl ReasonCode {
    /// 0x00 Normal disconnection: DISCONNECT's name for Success; the will is not published.
    pub const NORMAL_DISCONNECTION: ReasonCode = ReasonCode::Success;
    /// 0x00 Granted QoS 0: SUBACK's name for Success, a subscription granted at QoS 0.
    pub const GRANTED_QOS_0: ReasonCode = ReasonCode::Success;

    /// The code's value on the wire.
    pub const fn value(self) -> u8 {
        self as u8
    }

    /// Codes from 0x80 up report a failure.
    pub const fn is_failure(self) -> bool {
        self.value() >= 0x80
    }

    /// The 3.1.1 CONNACK return code (0 to 5) this code stands for, if a 3.1.1 CONNACK can
    /// carry it: how a 3.1.1 refusal is shown to people who know 3.1.1's numbers.
    pub fn v311_connack_return_code(self) -> Option<u8> {
        connack_v311_return_code(self)
    }

    /// Checks that a packet of `packet` type may carry this code under `version`.
    pub fn check_allowed(self, packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        if allowed_codes(packet, version).contains(&self) {
            Ok(())
        } else {
            Err(Violation::ReasonCodeNotAllowed { packet, code: self.value() })
        }
    }

    /// Reads a code byte of a `packet` and checks it is one that packet may carry.
    pub fn decode(value: u8, packet: PacketType, version: ProtocolVersion) -> Result<Self, Violation> {
        let code = Self::from_u8(value).ok_or(Violation::ReasonCodeNotAllowed { packet, code: value })?;
        code.check_allowed(packet, version)?;
        Ok(code)
    }
}

impl Default for ReasonCode {
    /// Success, which is also Normal disconnection and Granted QoS 0.
    fn default() -> Self {
        ReasonCode::Success
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x} {}", self.value(), self.name())
    }
}

/// The codes each packet may carry (5.0 tables of sections 3.2.2.2 to 3.15.2.1; 3.1.1 section
/// 3.2.2.3 for CONNACK in 5.0 terms, section 3.9.3 for SUBACK). Packets of 3.1.1 without a
/// code field decode as Success, and only Success encodes for them.
pub fn allowed_codes(packet: PacketType, version: ProtocolVersion) -> &'static [ReasonCode] {
    use ReasonCode::*;
    match (packet, version) {
        (PacketType::ConnAck, ProtocolVersion::V311) => &CONNACK_V311,
        (PacketType::SubAck, ProtocolVersion::V311) => &[Success, GrantedQos1, GrantedQos2, UnspecifiedError],
        (_, ProtocolVersion::V311) => &[Success],
        (PacketType::ConnAck, ProtocolVersion::V5) => &[
            Success,
            UnspecifiedError,
            MalformedPacket,
            ProtocolError,
            ImplementationSpecificError,
            UnsupportedProtocolVersion,
            ClientIdentifierNotValid,
            BadUserNameOrPassword,
            NotAuthorized,
            ServerUnavailable,
            ServerBusy,
            Banned,
            BadAuthenticationMethod,
            TopicNameInvalid,
            PacketTooLarge,
            QuotaExceeded,
            PayloadFormatInvalid,
            RetainNotSupported,
            QosNotSupported,
            UseAnotherServer,
            ServerMoved,
            ConnectionRateExceeded,
        ],
        (PacketType::PubAck | PacketType::PubRec, ProtocolVersion::V5) => &[
            Success,
            NoMatchingSubscribers,
            UnspecifiedError,
            ImplementationSpecificError,
            NotAuthorized,
            TopicNameInvalid,
            PacketIdentifierInUse,
            QuotaExceeded,
            PayloadFormatInvalid,
        ],
        (PacketType::PubRel | PacketType::PubComp, ProtocolVersion::V5) => &[Success, PacketIdentifierNotFound],
        (PacketType::SubAck, ProtocolVersion::V5) => &[
            Success,
            GrantedQos1,
            GrantedQos2,
            UnspecifiedError,
            ImplementationSpecificError,
            NotAuthorized,
            TopicFilterInvalid,
            PacketIdentifierInUse,
            QuotaExceeded,
            SharedSubscriptionsNotSupported,
            SubscriptionIdentifiersNotSupported,
            WildcardSubscriptionsNotSupported,
        ],
        (PacketType::UnsubAck, ProtocolVersion::V5) => &[
            Success,
            NoSubscriptionExisted,
            UnspecifiedError,
            ImplementationSpecificError,
            NotAuthorized,
            TopicFilterInvalid,
            PacketIdentifierInUse,
        ],
        (PacketType::Disconnect, ProtocolVersion::V5) => &[
            Success,
            DisconnectWithWillMessage,
            UnspecifiedError,
            MalformedPacket,
            ProtocolError,
            ImplementationSpecificError,
            NotAuthorized,
            ServerBusy,
            ServerShuttingDown,
            KeepAliveTimeout,
            SessionTakenOver,
            TopicFilterInvalid,
            TopicNameInvalid,
            ReceiveMaximumExceeded,
            TopicAliasInvalid,
            PacketTooLarge,
            MessageRateTooHigh,
            QuotaExceeded,
            AdministrativeAction,
            PayloadFormatInvalid,
            RetainNotSupported,
            QosNotSupported,
            UseAnotherServer,
            ServerMoved,
            SharedSubscriptionsNotSupported,
            ConnectionRateExceeded,
            MaximumConnectTime,
            SubscriptionIdentifiersNotSupported,
            WildcardSubscriptionsNotSupported,
        ],
        (PacketType::Auth, ProtocolVersion::V5) => &[Success, ContinueAuthentication, ReAuthenticate],
        (
            PacketType::Connect
            | PacketType::Publish
            | PacketType::Subscribe
            | PacketType::Unsubscribe
            | PacketType::PingReq
            | PacketType::PingResp,
            ProtocolVersion::V5,
        ) => &[],
    }
}

/// The codes a 3.1.1 CONNACK can carry, in the order of their 3.1.1 return code values 0..=5.
const CONNACK_V311: [ReasonCode; 6] = [
    ReasonCode::Success,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::ServerUnavailable,
    ReasonCode::BadUserNameOrPassword,
    ReasonCode::NotAuthorized,
];

/// The 3.1.1 CONNACK return code of a reason code the 3.1.1 CONNACK can carry.
pub(super) fn connack_v311_return_code(code: ReasonCode) -> Option<u8> {
    CONNACK_V311.iter().position(|&known| known == code).map(|index| index as u8)
}

/// The reason code a 3.1.1 CONNACK return code means.
pub(super) fn connack_v311_reason_code(return_code: u8) -> Result<ReasonCode, Violation> {
    CONNACK_V311
        .get(usize::from(return_code))
        .copied()
        .ok_or(Violation::ReasonCodeNotAllowed { packet: PacketType::ConnAck, code: return_code })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_and_gaps_are_unknown() {
        for &code in ReasonCode::ALL {
            assert_eq!(ReasonCode::from_u8(code.value()), Some(code));
        }
        assert_eq!(ReasonCode::ALL.len(), 43);
        for gap in [0x03, 0x05, 0x12, 0x7f, 0xa3, 0xff] {
            assert_eq!(ReasonCode::from_u8(gap), None);
        }
    }

    #[test]
    fn connack_return_codes_of_311_map_both_ways() {
        for return_code in 0..=5u8 {
            let code = connack_v311_reason_code(return_code).unwrap();
            assert_eq!(connack_v311_return_code(code), Some(return_code));
        }
        assert!(connack_v311_reason_code(6).is_err());
        assert_eq!(connack_v311_return_code(ReasonCode::ServerBusy), None);
    }

    #[test]
    fn a_code_is_allowed_only_where_its_table_lists_it() {
        use ProtocolVersion::*;
        assert!(ReasonCode::decode(0x10, PacketType::PubAck, V5).is_ok());
        assert_eq!(
            ReasonCode::decode(0x10, PacketType::PubRel, V5),
            Err(Violation::ReasonCodeNotAllowed { packet: PacketType::PubRel, code: 0x10 })
        );
        assert_eq!(
            ReasonCode::decode(0x05, PacketType::Disconnect, V5),
            Err(Violation::ReasonCodeNotAllowed { packet: PacketType::Disconnect, code: 0x05 })
        );
        assert!(ReasonCode::decode(0x80, PacketType::SubAck, V311).is_ok());
        assert!(ReasonCode::decode(0x87, PacketType::SubAck, V311).is_err());
    }
}
