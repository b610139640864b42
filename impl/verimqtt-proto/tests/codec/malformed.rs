//! A table of malformed packets and protocol violations, each with the exact error it must
//! produce: the violation, the rule of the version it was read in, and how a receiver treats
//! it.

use bytes::BytesMut;
use verimqtt_proto::codec::ErrorKind::{
    MalformedPacket as M, PacketTooLarge as T, ProtocolError as P, UnsupportedProtocolVersion as U,
};
use verimqtt_proto::codec::ProtocolVersion::{V5, V311};
use verimqtt_proto::codec::{self, *};

/// Every case is decoded with this maximum packet size; only the oversized case exceeds it.
const MAX_PACKET_SIZE_UNDER_TEST: u32 = 64;

pub struct Case {
    pub name: &'static str,
    pub version: ProtocolVersion,
    pub hex: &'static str,
    pub violation: Violation,
    /// The statement id, or "section x.y" where the rule has no id.
    pub rule: &'static str,
    pub kind: ErrorKind,
}

pub fn bytes(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

macro_rules! cases {
    ($($name:literal, $version:ident, $hex:literal, $violation:expr, $rule:literal, $kind:ident;)*) => {
        vec![$(Case { name: $name, version: $version, hex: $hex, violation: $violation, rule: $rule, kind: $kind },)*]
    };
}

pub fn cases() -> Vec<Case> {
    use PacketType as Type;
    use PropertyContext as Ctx;
    use PropertyId as Prop;
    use Violation::*;
    cases! {
        // The fixed header.
        "packet type 0", V311, "00 00", ReservedPacketType(0), "section 2.2.1", M;
        "packet type 0 (5.0)", V5, "00 00", ReservedPacketType(0), "section 2.1.2", M;
        "packet type 15 is reserved in 3.1.1", V311, "f0 00", ReservedPacketType(15), "section 2.2.1", M;
        "CONNACK with flags", V311, "21 02 00 00", InvalidFixedHeaderFlags { packet: Type::ConnAck, flags: 1 }, "MQTT-2.2.2-2", M;
        "PUBREL with flags 0000", V311, "60 02 00 01", InvalidFixedHeaderFlags { packet: Type::PubRel, flags: 0 }, "MQTT-3.6.1-1", M;
        "SUBSCRIBE with flags 0000", V5, "80 00", InvalidFixedHeaderFlags { packet: Type::Subscribe, flags: 0 }, "MQTT-3.8.1-1", M;
        "UNSUBSCRIBE with flags 0011", V311, "a3 00", InvalidFixedHeaderFlags { packet: Type::Unsubscribe, flags: 3 }, "MQTT-3.10.1-1", M;
        "PINGREQ with flags", V5, "c1 00", InvalidFixedHeaderFlags { packet: Type::PingReq, flags: 1 }, "MQTT-2.1.3-1", M;
        "DISCONNECT with flags", V311, "e2 00", InvalidFixedHeaderFlags { packet: Type::Disconnect, flags: 2 }, "MQTT-3.14.1-1", M;
        "AUTH with flags", V5, "f1 00", InvalidFixedHeaderFlags { packet: Type::Auth, flags: 1 }, "MQTT-3.15.1-1", M;
        "PUBLISH at QoS 3", V311, "36 00", QosThree(QosField::Publish), "MQTT-3.3.1-4", M;
        "remaining length of five bytes", V311, "30 ff ff ff ff 7f", VarintTooLong, "section 2.2.3", M;
        "remaining length of five bytes (5.0)", V5, "30 80 80 80 80", VarintTooLong, "section 1.5.5", M;
        "padded remaining length (5.0)", V5, "c0 80 00", VarintNotMinimal, "MQTT-1.5.5-1", M;
        "packet over the maximum size", V5, "30 7f", PacketTooLarge { size: 129, max: MAX_PACKET_SIZE_UNDER_TEST }, "section 3.1.2.11.4", T;
        // The frame: a body shorter or longer than its remaining length.
        "PUBACK shorter than its fields", V311, "40 01 00", UnexpectedEndOfPacket, "section 2.2.3", M;
        "PUBACK longer than its fields", V311, "40 03 00 01 00", TrailingBytes { count: 1 }, "section 2.2.3", M;
        "PINGRESP with a body", V5, "d0 01 00", TrailingBytes { count: 1 }, "section 2.1.4", M;
        "topic length past the frame, bytes after it", V311, "30 03 00 05 61 62 63 64 65", UnexpectedEndOfPacket, "section 2.2.3", M;
        "CONNECT without client identifier", V311, "10 0a 00 04 4d 51 54 54 04 02 00 3c", UnexpectedEndOfPacket, "section 2.2.3", M;
        // Strings.
        "topic of invalid UTF-8", V311, "30 03 00 01 ff", Field(FieldError::InvalidUtf8), "MQTT-1.5.3-1", M;
        "topic with a surrogate", V5, "30 06 00 03 ed a0 80 00", Field(FieldError::InvalidUtf8), "MQTT-1.5.4-1", M;
        "topic with U+0000", V311, "30 05 00 03 61 00 62", Field(FieldError::NullCharacter), "MQTT-1.5.3-2", M;
        "client identifier with U+0000", V5, "10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 00", Field(FieldError::NullCharacter), "MQTT-1.5.4-2", M;
        "filter with an overlong encoding", V311, "82 07 00 01 00 02 c0 af 00", Field(FieldError::InvalidUtf8), "MQTT-1.5.3-1", M;
        "user property value of invalid UTF-8", V5, "40 0b 00 01 00 07 26 00 01 61 00 01 ff", Field(FieldError::InvalidUtf8), "MQTT-1.5.4-1", M;
        // CONNECT.
        "protocol name MQTX", V311, "10 0d 00 04 4d 51 54 58 04 02 00 3c 00 01 63", InvalidProtocolName, "MQTT-3.1.2-1", P;
        "MQTT 3.1 (MQIsdp, level 3)", V311, "10 0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 63", UnsupportedProtocolVersion { level: 3 }, "MQTT-3.1.2-2", U;
        "protocol level 6", V311, "10 0d 00 04 4d 51 54 54 06 02 00 3c 00 01 63", UnsupportedProtocolVersion { level: 6 }, "MQTT-3.1.2-2", U;
        "CONNECT reserved flag", V311, "10 0d 00 04 4d 51 54 54 04 03 00 3c 00 01 63", ConnectReservedFlag, "MQTT-3.1.2-3", M;
        "will QoS without will flag", V311, "10 0d 00 04 4d 51 54 54 04 0a 00 3c 00 01 63", WillQosWithoutWill, "MQTT-3.1.2-13", M;
        "will retain without will flag (5.0)", V5, "10 0e 00 04 4d 51 54 54 05 22 00 3c 00 00 01 63", WillRetainWithoutWill, "MQTT-3.1.2-13", M;
        "will QoS 3", V311, "10 0d 00 04 4d 51 54 54 04 1e 00 3c 00 01 63", QosThree(QosField::Will), "MQTT-3.1.2-14", M;
        "will QoS 3 (5.0)", V5, "10 0e 00 04 4d 51 54 54 05 1e 00 3c 00 00 01 63", QosThree(QosField::Will), "MQTT-3.1.2-12", M;
        "password without user name", V311, "10 10 00 04 4d 51 54 54 04 42 00 3c 00 01 63 00 01 70", PasswordWithoutUsername, "MQTT-3.1.2-22", P;
        "will topic with a wildcard", V311, "10 14 00 04 4d 51 54 54 04 06 00 3c 00 01 63 00 03 61 2f 23 00 00", WildcardInTopicName, "MQTT-3.3.2-2", P;
        "user name flag without user name", V311, "10 0d 00 04 4d 51 54 54 04 82 00 3c 00 01 63", UnexpectedEndOfPacket, "section 2.2.3", M;
        "topic alias in CONNECT", V5, "10 11 00 04 4d 51 54 54 05 02 00 3c 03 23 00 01 00 01 63", PropertyNotAllowed { property: Prop::TopicAlias, context: Ctx::Connect }, "section 2.2.2.2", M;
        "receive maximum 0", V5, "10 11 00 04 4d 51 54 54 05 02 00 3c 03 21 00 00 00 01 63", InvalidPropertyValue { property: Prop::ReceiveMaximum, value: 0 }, "section 2.2.2.2", P;
        "session expiry in will properties", V5, "10 19 00 04 4d 51 54 54 05 06 00 3c 00 00 01 63 05 11 00 00 00 0a 00 01 74 00 00", PropertyNotAllowed { property: Prop::SessionExpiryInterval, context: Ctx::Will }, "section 2.2.2.2", M;
        "session expiry twice", V5, "10 18 00 04 4d 51 54 54 05 02 00 3c 0a 11 00 00 00 01 11 00 00 00 02 00 01 63", DuplicateProperty(Prop::SessionExpiryInterval), "section 2.2.2.2", P;
        "5.0 CONNECT with padded length on a fresh connection", V311, "10 8e 00 00 04 4d 51 54 54 05 02 00 3c 00 00 01 63", VarintNotMinimal, "MQTT-1.5.5-1", M;
        "authentication data without method", V5, "10 12 00 04 4d 51 54 54 05 02 00 3c 04 16 00 01 78 00 01 63", AuthenticationDataWithoutMethod, "section 3.1.2.11.10", P;
        // CONNACK.
        "CONNACK reserved acknowledge flags", V311, "20 02 02 00", ConnAckReservedFlags, "section 3.2.2.1", M;
        "CONNACK return code 6", V311, "20 02 00 06", ReasonCodeNotAllowed { packet: Type::ConnAck, code: 6 }, "section 3.2.2.3", P;
        "CONNACK reason 0x10", V5, "20 03 00 10 00", ReasonCodeNotAllowed { packet: Type::ConnAck, code: 0x10 }, "MQTT-3.2.2-8", P;
        "session present with a refusal", V311, "20 02 01 05", SessionPresentWithFailure, "MQTT-3.2.2-4", P;
        "session present with a refusal (5.0)", V5, "20 03 01 87 00", SessionPresentWithFailure, "MQTT-3.2.2-6", P;
        "maximum QoS 2", V5, "20 05 00 00 02 24 02", InvalidPropertyValue { property: Prop::MaximumQos, value: 2 }, "section 2.2.2.2", P;
        // PUBLISH.
        "DUP on QoS 0", V311, "38 05 00 03 61 2f 62", DupOnQos0, "MQTT-3.3.1-2", M;
        "topic name with +", V311, "30 05 00 03 61 2f 2b", WildcardInTopicName, "MQTT-3.3.2-2", P;
        "topic name with # (5.0)", V5, "30 06 00 03 61 2f 23 00", WildcardInTopicName, "MQTT-3.3.2-2", P;
        "empty topic name", V311, "30 02 00 00", EmptyTopicName, "MQTT-4.7.3-1", P;
        "empty topic name without alias", V5, "30 03 00 00 00", EmptyTopicName, "section 3.3.2.1", P;
        "PUBLISH packet identifier 0", V311, "32 05 00 01 61 00 00", ZeroPacketId(Type::Publish), "MQTT-2.3.1-1", P;
        "PUBLISH packet identifier 0 (5.0)", V5, "34 06 00 01 61 00 00 00", ZeroPacketId(Type::Publish), "MQTT-2.2.1-3", P;
        "topic alias 0", V5, "30 07 00 01 61 03 23 00 00", InvalidPropertyValue { property: Prop::TopicAlias, value: 0 }, "MQTT-3.3.2-8", P;
        "topic alias twice", V5, "30 0a 00 01 61 06 23 00 01 23 00 02", DuplicateProperty(Prop::TopicAlias), "section 2.2.2.2", P;
        "session expiry in PUBLISH", V5, "30 09 00 01 61 05 11 00 00 00 01", PropertyNotAllowed { property: Prop::SessionExpiryInterval, context: Ctx::Publish }, "section 2.2.2.2", M;
        "unknown property 0x04", V5, "30 06 00 01 61 02 04 00", UnknownProperty(4), "section 2.2.2.2", M;
        "property length past the frame", V5, "30 05 00 01 61 05 01", UnexpectedEndOfPacket, "section 2.1.4", M;
        "padded property length", V5, "30 05 00 01 61 80 00", VarintNotMinimal, "MQTT-1.5.5-1", M;
        "payload format indicator 2", V5, "30 06 00 01 61 02 01 02", InvalidPropertyValue { property: Prop::PayloadFormatIndicator, value: 2 }, "section 2.2.2.2", P;
        "response topic with a wildcard", V5, "30 09 00 01 61 05 08 00 02 61 23", InvalidResponseTopic, "MQTT-3.3.2-14", P;
        // PUBACK, PUBREC, PUBREL, PUBCOMP.
        "PUBACK packet identifier 0", V311, "40 02 00 00", ZeroPacketId(Type::PubAck), "MQTT-2.3.1-1", P;
        "PUBACK reason 0x92", V5, "40 03 00 01 92", ReasonCodeNotAllowed { packet: Type::PubAck, code: 0x92 }, "MQTT-3.4.2-1", P;
        "PUBREC reason 0x04", V5, "50 03 00 01 04", ReasonCodeNotAllowed { packet: Type::PubRec, code: 0x04 }, "MQTT-3.5.2-1", P;
        "PUBREL reason 0x10", V5, "62 03 00 01 10", ReasonCodeNotAllowed { packet: Type::PubRel, code: 0x10 }, "MQTT-3.6.2-1", P;
        "PUBCOMP reason 0x80", V5, "70 03 00 01 80", ReasonCodeNotAllowed { packet: Type::PubComp, code: 0x80 }, "MQTT-3.7.2-1", P;
        "server reference in PUBACK", V5, "40 08 00 01 00 04 1c 00 01 61", PropertyNotAllowed { property: Prop::ServerReference, context: Ctx::PubAck }, "section 2.2.2.2", M;
        // SUBSCRIBE.
        "SUBSCRIBE without filters", V311, "82 02 00 01", NoTopicFilters(Type::Subscribe), "MQTT-3.8.3-3", P;
        "SUBSCRIBE without filters (5.0)", V5, "82 03 00 01 00", NoTopicFilters(Type::Subscribe), "MQTT-3.8.3-2", P;
        "subscription options beyond QoS in 3.1.1", V311, "82 06 00 01 00 01 61 04", SubscriptionOptionsReservedBits, "MQTT-3.8.3-4", M;
        "subscription options reserved bits", V5, "82 07 00 01 00 00 01 61 40", SubscriptionOptionsReservedBits, "MQTT-3.8.3-5", M;
        "subscription QoS 3", V311, "82 06 00 01 00 01 61 03", QosThree(QosField::Subscription), "MQTT-3.8.3-4", M;
        "subscription QoS 3 (5.0)", V5, "82 07 00 01 00 00 01 61 03", QosThree(QosField::Subscription), "section 3.8.3.1", P;
        "retain handling 3", V5, "82 07 00 01 00 00 01 61 30", RetainHandlingThree, "section 3.8.3.1", P;
        "filter with # in the middle", V311, "82 0a 00 01 00 05 61 2f 23 2f 62 00", InvalidTopicFilter(FilterError::MultiLevelWildcardMisplaced), "MQTT-4.7.1-2", P;
        "filter with + inside a level", V5, "82 08 00 01 00 00 02 61 2b 00", InvalidTopicFilter(FilterError::SingleLevelWildcardMisplaced), "MQTT-4.7.1-2", P;
        "empty filter", V311, "82 05 00 01 00 00 00", InvalidTopicFilter(FilterError::Empty), "MQTT-4.7.3-1", P;
        "no local on a shared subscription", V5, "82 10 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 61 04", NoLocalOnSharedSubscription, "MQTT-3.8.3-4", P;
        "shared subscription without share name", V5, "82 0f 00 01 00 00 09 24 73 68 61 72 65 2f 2f 61 00", InvalidTopicFilter(FilterError::EmptyShareName), "MQTT-4.8.2-1", P;
        "SUBSCRIBE packet identifier 0", V5, "82 07 00 00 00 00 01 61 00", ZeroPacketId(Type::Subscribe), "MQTT-2.2.1-3", P;
        "two subscription identifiers in SUBSCRIBE", V5, "82 0b 00 01 04 0b 01 0b 02 00 01 61 00", DuplicateProperty(Prop::SubscriptionIdentifier), "section 2.2.2.2", P;
        "subscription identifier 0", V5, "82 09 00 01 02 0b 00 00 01 61 00", InvalidPropertyValue { property: Prop::SubscriptionIdentifier, value: 0 }, "section 2.2.2.2", P;
        "filter without its options byte", V311, "82 05 00 01 00 01 61", UnexpectedEndOfPacket, "section 2.2.3", M;
        // SUBACK.
        "SUBACK return code 0x87 in 3.1.1", V311, "90 03 00 01 87", ReasonCodeNotAllowed { packet: Type::SubAck, code: 0x87 }, "MQTT-3.9.3-2", P;
        "SUBACK without return codes", V311, "90 02 00 01", NoReasonCodes(Type::SubAck), "MQTT-3.9.3-1", P;
        "SUBACK reason 0x11", V5, "90 04 00 01 00 11", ReasonCodeNotAllowed { packet: Type::SubAck, code: 0x11 }, "MQTT-3.9.3-2", P;
        // UNSUBSCRIBE and UNSUBACK.
        "UNSUBSCRIBE without filters", V311, "a2 02 00 01", NoTopicFilters(Type::Unsubscribe), "MQTT-3.10.3-2", P;
        "UNSUBSCRIBE without filters (5.0)", V5, "a2 03 00 01 00", NoTopicFilters(Type::Unsubscribe), "MQTT-3.10.3-2", P;
        "UNSUBSCRIBE filter #a", V311, "a2 06 00 01 00 02 23 61", InvalidTopicFilter(FilterError::MultiLevelWildcardMisplaced), "MQTT-4.7.1-2", P;
        "UNSUBACK with a code in 3.1.1", V311, "b0 03 00 01 00", TrailingBytes { count: 1 }, "section 2.2.3", M;
        "UNSUBACK without codes", V5, "b0 03 00 01 00", NoReasonCodes(Type::UnsubAck), "MQTT-3.11.3-1", P;
        "UNSUBACK reason 0x10", V5, "b0 04 00 01 00 10", ReasonCodeNotAllowed { packet: Type::UnsubAck, code: 0x10 }, "MQTT-3.11.3-2", P;
        // DISCONNECT and AUTH.
        "DISCONNECT with a body in 3.1.1", V311, "e0 01 00", TrailingBytes { count: 1 }, "section 2.2.3", M;
        "DISCONNECT reason 0x01", V5, "e0 01 01", ReasonCodeNotAllowed { packet: Type::Disconnect, code: 1 }, "MQTT-3.14.2-1", P;
        "DISCONNECT session expiry twice", V5, "e0 0c 00 0a 11 00 00 00 01 11 00 00 00 02", DuplicateProperty(Prop::SessionExpiryInterval), "section 2.2.2.2", P;
        "will delay in DISCONNECT", V5, "e0 07 00 05 18 00 00 00 01", PropertyNotAllowed { property: Prop::WillDelayInterval, context: Ctx::Disconnect }, "section 2.2.2.2", M;
        "AUTH reason 0x80", V5, "f0 02 80 00", ReasonCodeNotAllowed { packet: Type::Auth, code: 0x80 }, "MQTT-3.15.2-1", P;
        "AUTH reason without property length", V5, "f0 01 18", UnexpectedEndOfPacket, "section 2.1.4", M;
        "AUTH data without method", V5, "f0 06 18 04 16 00 01 78", AuthenticationDataWithoutMethod, "section 3.1.2.11.10", P;
    }
}

fn decode(version: ProtocolVersion, hex: &str) -> Result<Option<Packet>, DecodeError> {
    let options = DecodeOptions::new(version).with_max_packet_size(MAX_PACKET_SIZE_UNDER_TEST);
    codec::decode(&mut BytesMut::from(&bytes(hex)[..]), &options)
}

#[test]
fn every_malformed_input_fails_with_its_exact_error() {
    let cases = cases();
    assert!(cases.len() >= 60, "the issue asks for at least 60 cases, there are {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        match decode(case.version, case.hex) {
            Err(error)
                if error.violation() == &case.violation
                    && error.rule().to_string() == format!("[{}]", case.rule)
                    && error.kind() == case.kind => {}
            other => failures.push(format!(
                "{}: expected {:?} [{}] {:?}, got {:?}",
                case.name, case.violation, case.rule, case.kind, other
            )),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn every_case_is_caught_however_the_bytes_arrive() {
    // Fed a byte at a time, a malformed packet is either still incomplete or fails with the
    // same error; it never decodes.
    for case in cases() {
        let input = bytes(case.hex);
        let options = DecodeOptions::new(case.version).with_max_packet_size(MAX_PACKET_SIZE_UNDER_TEST);
        let mut buf = BytesMut::new();
        let mut outcome = Ok(None);
        for &byte in &input {
            buf.extend_from_slice(&[byte]);
            outcome = codec::decode(&mut buf, &options);
            if outcome != Ok(None) {
                break;
            }
        }
        let error = outcome.expect_err(case.name);
        assert_eq!(error.violation(), &case.violation, "{}", case.name);
    }
}

#[test]
fn edge_cases_the_spec_allows_are_accepted() {
    let accepted = [
        ("password without user name in 5.0", V5, "10 11 00 04 4d 51 54 54 05 42 00 3c 00 00 01 63 00 01 70"),
        ("empty topic with a topic alias", V5, "30 06 00 00 03 23 00 01"),
        ("PUBACK without reason code (5.0)", V5, "40 02 00 01"),
        ("PUBACK with reason, without properties", V5, "40 03 00 01 10"),
        ("DISCONNECT without reason code (5.0)", V5, "e0 00"),
        ("AUTH without anything", V5, "f0 00"),
        ("byte order mark in a topic", V311, "30 06 00 04 ef bb bf 61"),
        ("shared-looking filter in 3.1.1", V311, "82 0c 00 01 00 07 24 73 68 61 72 65 2f 00"),
        ("$ topic", V311, "30 07 00 05 24 53 59 53 2f"),
        ("QoS 2 subscription", V311, "82 06 00 01 00 01 61 02"),
    ];
    for (name, version, hex) in accepted {
        assert!(matches!(decode(version, hex), Ok(Some(_))), "{name}: {:?}", decode(version, hex));
    }
}

#[test]
fn the_encoder_refuses_what_the_decoder_rejects() {
    use bytes::Bytes;
    let topic = |text: &str| MqttString::try_from(text).unwrap();
    let id = PacketId::new(1).unwrap();
    let refused = [
        (V311, Packet::Publish(Publish { dup: true, ..Publish::new(topic("a"), QoS::AtMostOnce, None, Bytes::new()) })),
        (V5, Packet::Publish(Publish::new(topic("a/+"), QoS::AtMostOnce, None, Bytes::new()))),
        (V5, Packet::Publish(Publish::new(topic(""), QoS::AtMostOnce, None, Bytes::new()))),
        (
            V311,
            Packet::Subscribe(Subscribe { packet_id: id, properties: Properties::default(), subscriptions: vec![] }),
        ),
        (V5, Packet::ConnAck(ConnAck::new(true, ReasonCode::NotAuthorized))),
        (V5, Packet::Disconnect(Disconnect::new(ReasonCode::GrantedQos1))),
    ];
    for (version, packet) in refused {
        let mut out = BytesMut::new();
        let error = codec::encode(&packet, version, &mut out).unwrap_err();
        assert!(matches!(error, EncodeError::Invalid(_)), "{packet:?}: {error}");
        assert!(out.is_empty());
    }
}

#[test]
fn the_encoder_never_drops_what_3_1_1_cannot_carry() {
    use bytes::Bytes;
    let id = PacketId::new(1).unwrap();
    let with_reason =
        Packet::PubAck(PublishAck { reason_code: ReasonCode::NoMatchingSubscribers, ..PublishAck::new(id) });
    let mut with_properties = Publish::new(MqttString::try_from("a").unwrap(), QoS::AtMostOnce, None, Bytes::new());
    with_properties.properties.content_type = Some(MqttString::try_from("text/plain").unwrap());
    let cases = [
        (with_reason, "a reason code"),
        (Packet::Publish(with_properties), "properties"),
        (Packet::Auth(Auth::default()), "AUTH"),
        (Packet::ConnAck(ConnAck::new(false, ReasonCode::ServerBusy)), ""),
    ];
    for (packet, what) in cases {
        let error = codec::encode(&packet, V311, &mut BytesMut::new()).unwrap_err();
        match error {
            EncodeError::NotInVersion { what: found, .. } => assert_eq!(found, what),
            // Server busy has no 3.1.1 return code: a 3.1.1 client would reject it.
            EncodeError::Invalid(error) => {
                assert_eq!(what, "");
                assert_eq!(
                    error.violation(),
                    &Violation::ReasonCodeNotAllowed { packet: PacketType::ConnAck, code: 0x89 }
                );
            }
            other => panic!("{other}"),
        }
    }
}

#[test]
fn the_encoder_requires_a_packet_identifier_exactly_for_qos_1_and_2() {
    use bytes::Bytes;
    let topic = MqttString::try_from("a").unwrap();
    let missing = Packet::Publish(Publish::new(topic.clone(), QoS::ExactlyOnce, None, Bytes::new()));
    assert_eq!(codec::encode(&missing, V5, &mut BytesMut::new()), Err(EncodeError::MissingPacketId { qos: 2 }));
    let unexpected = Packet::Publish(Publish::new(topic, QoS::AtMostOnce, PacketId::new(3), Bytes::new()));
    assert_eq!(codec::encode(&unexpected, V5, &mut BytesMut::new()), Err(EncodeError::UnexpectedPacketId));
}
