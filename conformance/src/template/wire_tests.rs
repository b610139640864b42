//! Templates against bytes written by hand from the specification (sections 2 and 3 of MQTT
//! 3.1.1 and 5.0), not produced by verimqtt's codec: a bug that the codec's encoder and decoder
//! share, and so could never be seen against verimqtt's own broker, shows here.
//!
//! Sent: the template, built and encoded, is exactly these bytes. Expected: these bytes,
//! decoded, match the template as a scenario writes it.

use bytes::BytesMut;
use verimqtt::codec::{self, DecodeOptions, ProtocolVersion};

use super::{Context, Matcher, PacketTemplate, hex, parse_hex};

const V3: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// What a client sends, as templates, and the bytes the specification gives for each.
const SENT: &[(ProtocolVersion, &str, &str)] = &[
    // CONNECT: "MQTT", level 4, Clean Session, keep alive 60, client id "a" [3.1].
    (V3, r#"{"connect": {"client_id": "a"}}"#, "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61"),
    // flags: user name 80, password 40, will retain 20, will QoS 1 08, will 04, clean 02.
    (
        V3,
        r#"{"connect": {"client_id": "a", "username": "u", "password": "p",
            "will": {"topic": "w", "payload": "x", "qos": 1, "retain": true}}}"#,
        "10 19 00 04 4d 51 54 54 04 ee 00 3c 00 01 61 00 01 77 00 01 78 00 01 75 00 01 70",
    ),
    (
        V3,
        r#"{"connect": {"client_id": "a", "clean_start": false, "keep_alive": 1}}"#,
        "10 0d 00 04 4d 51 54 54 04 00 00 01 00 01 61",
    ),
    (V3, r#"{"publish": {"topic": "a/b", "payload": "x"}}"#, "30 06 00 03 61 2f 62 78"),
    (
        V3,
        r#"{"publish": {"topic": "a", "qos": 1, "retain": true, "packet_id": 7, "payload": "hi"}}"#,
        "33 07 00 01 61 00 07 68 69",
    ),
    (V3, r#"{"publish": {"topic": "a", "qos": 2, "dup": true, "packet_id": 258}}"#, "3c 05 00 01 61 01 02"),
    (V3, r#"{"puback": {"packet_id": 7}}"#, "40 02 00 07"),
    (V3, r#"{"pubrec": {"packet_id": 7}}"#, "50 02 00 07"),
    // PUBREL, SUBSCRIBE and UNSUBSCRIBE carry fixed-header flags 0010 [MQTT-3.6.1-1] ...
    (V3, r#"{"pubrel": {"packet_id": 7}}"#, "62 02 00 07"),
    (V3, r#"{"pubcomp": {"packet_id": 7}}"#, "70 02 00 07"),
    (
        V3,
        r#"{"subscribe": {"packet_id": 1, "subscriptions": [{"filter": "a/#", "qos": 1}]}}"#,
        "82 08 00 01 00 03 61 2f 23 01",
    ),
    (
        V3,
        r#"{"subscribe": {"packet_id": 2, "subscriptions": [{"filter": "a", "qos": 0}, {"filter": "+", "qos": 2}]}}"#,
        "82 0a 00 02 00 01 61 00 00 01 2b 02",
    ),
    (V3, r#"{"unsubscribe": {"packet_id": 2, "filters": ["a"]}}"#, "a2 05 00 02 00 01 61"),
    (V3, r#""pingreq""#, "c0 00"),
    (V3, r#"{"disconnect": {}}"#, "e0 00"),
    // 5.0: level 5 and a Property Length, 0 when there are no properties [MQTT-2.2.2-1].
    (V5, r#"{"connect": {"client_id": "a"}}"#, "10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 61"),
    // Session Expiry Interval (0x11, four bytes).
    (
        V5,
        r#"{"connect": {"client_id": "a", "properties": {"session_expiry_interval": 10}}}"#,
        "10 13 00 04 4d 51 54 54 05 02 00 3c 05 11 00 00 00 0a 00 01 61",
    ),
    // Will Properties come before the Will Topic: Will Delay Interval (0x18).
    (
        V5,
        r#"{"connect": {"client_id": "a", "will": {"topic": "w", "payload": "x", "qos": 0, "properties": {"will_delay_interval": 2}}}}"#,
        "10 1a 00 04 4d 51 54 54 05 06 00 3c 00 00 01 61 05 18 00 00 00 02 00 01 77 00 01 78",
    ),
    // Authentication Method (0x15) and Data (0x16).
    (
        V5,
        r#"{"connect": {"client_id": "a", "properties": {"authentication_method": "m", "authentication_data": {"hex": "01"}}}}"#,
        "10 16 00 04 4d 51 54 54 05 02 00 3c 08 15 00 01 6d 16 00 01 01 00 01 61",
    ),
    (V5, r#"{"publish": {"topic": "a", "qos": 1, "packet_id": 7, "payload": "hi"}}"#, "32 08 00 01 61 00 07 00 68 69"),
    // Topic Alias (0x23, two bytes).
    (V5, r#"{"publish": {"topic": "a", "properties": {"topic_alias": 1}}}"#, "30 07 00 01 61 03 23 00 01"),
    // Response Topic (0x08), Correlation Data (0x09), User Property (0x26).
    (
        V5,
        r#"{"publish": {"topic": "a", "properties": {"response_topic": "r", "correlation_data": {"hex": "ab"}, "user_properties": [["k", "v"]]}}}"#,
        "30 13 00 01 61 0f 08 00 01 72 09 00 01 ab 26 00 01 6b 00 01 76",
    ),
    // The reason code and Property Length may be left out when the reason is 0 and there
    // are no properties (3.4.2.1); with another reason the Property Length may be too.
    (V5, r#"{"puback": {"packet_id": 7}}"#, "40 02 00 07"),
    (V5, r#"{"pubrec": {"packet_id": 7, "reason_code": "unspecified_error"}}"#, "50 03 00 07 80"),
    (V5, r#"{"pubrel": {"packet_id": 7}}"#, "62 02 00 07"),
    (V5, r#"{"pubrel": {"packet_id": 7, "reason_code": "packet_identifier_not_found"}}"#, "62 03 00 07 92"),
    (V5, r#"{"pubcomp": {"packet_id": 7}}"#, "70 02 00 07"),
    // Subscription Options: QoS 1, No Local 04.
    (
        V5,
        r#"{"subscribe": {"packet_id": 1, "subscriptions": [{"filter": "a/#", "qos": 1, "no_local": true}]}}"#,
        "82 09 00 01 00 00 03 61 2f 23 05",
    ),
    // Retain As Published 08, Retain Handling 2 (20), QoS 1; Subscription Identifier (0x0b).
    (
        V5,
        r#"{"subscribe": {"packet_id": 1, "subscriptions": [{"filter": "a", "qos": 1, "retain_as_published": true, "retain_handling": 2}], "properties": {"subscription_identifiers": [5]}}}"#,
        "82 09 00 01 02 0b 05 00 01 61 29",
    ),
    (V5, r#"{"unsubscribe": {"packet_id": 2, "filters": ["a"]}}"#, "a2 06 00 02 00 00 01 61"),
    (V5, r#"{"disconnect": {}}"#, "e0 00"),
    // Disconnect with Will Message (0x04), Property Length left out (3.14.2.2.1).
    (V5, r#"{"disconnect": {"reason_code": "disconnect_with_will_message"}}"#, "e0 01 04"),
    (V5, r#"{"disconnect": {"properties": {"session_expiry_interval": 0}}}"#, "e0 07 00 05 11 00 00 00 00"),
    // AUTH: Continue authentication (0x18), Authentication Method "m".
    (
        V5,
        r#"{"auth": {"reason_code": "continue_authentication", "properties": {"authentication_method": "m"}}}"#,
        "f0 06 18 04 15 00 01 6d",
    ),
];

/// What a broker sends, the bytes the specification gives, and a template that must match them.
const EXPECTED: &[(ProtocolVersion, &str, &str)] = &[
    (V3, "20 02 00 00", r#"{"connack": {"session_present": false, "reason_code": "success"}}"#),
    (V3, "20 02 01 00", r#"{"connack": {"session_present": true, "reason_code": "success"}}"#),
    (V3, "20 02 00 01", r#"{"connack": {"reason_code": "unsupported_protocol_version"}}"#),
    (V3, "20 02 00 02", r#"{"connack": {"reason_code": "client_identifier_not_valid"}}"#),
    (V3, "20 02 00 05", r#"{"connack": {"reason_code": "not_authorized"}}"#),
    (
        V3,
        "90 04 00 01 01 80",
        r#"{"suback": {"packet_id": 1, "reason_codes": ["granted_qos_1", "unspecified_error"]}}"#,
    ),
    (V3, "90 03 00 07 02", r#"{"suback": {"packet_id": 7, "reason_codes": [["granted_qos_1", "granted_qos_2"]]}}"#),
    (V3, "b0 02 00 02", r#"{"unsuback": {"packet_id": 2}}"#),
    (V3, "40 02 00 07", r#"{"puback": {"packet_id": 7}}"#),
    (V3, "50 02 00 07", r#"{"pubrec": {"packet_id": 7}}"#),
    (V3, "62 02 00 07", r#"{"pubrel": {"packet_id": 7}}"#),
    (V3, "70 02 00 07", r#"{"pubcomp": {"packet_id": 7}}"#),
    (V3, "d0 00", r#""pingresp""#),
    (
        V3,
        "31 08 00 01 61 68 65 6c 6c 6f",
        r#"{"publish": {"topic": "a", "qos": 0, "retain": true, "dup": false, "payload": "hello"}}"#,
    ),
    (
        V3,
        "3a 06 00 01 61 00 09 78",
        r#"{"publish": {"topic": "a", "qos": 1, "dup": true, "packet_id": "$pid", "payload": "x"}}"#,
    ),
    (V5, "20 03 00 00 00", r#"{"connack": {"session_present": false, "reason_code": "success"}}"#),
    // Assigned Client Identifier (0x12), Topic Alias Maximum (0x22).
    (
        V5,
        "20 0a 00 00 07 12 00 01 78 22 00 0a",
        r#"{"connack": {"reason_code": "success", "properties": {"assigned_client_identifier": {"capture": "id"}, "topic_alias_maximum": 10, "server_keep_alive": "absent"}}}"#,
    ),
    (V5, "20 03 00 84 00", r#"{"connack": {"reason_code": "unsupported_protocol_version"}}"#),
    (V5, "20 03 00 8c 00", r#"{"connack": {"reason_code": ["bad_authentication_method", "not_authorized"]}}"#),
    (
        V5,
        "90 05 00 01 00 01 80",
        r#"{"suback": {"packet_id": 1, "reason_codes": ["granted_qos_1", "unspecified_error"]}}"#,
    ),
    (
        V5,
        "90 04 00 01 00 a2",
        r#"{"suback": {"packet_id": 1, "reason_codes": ["wildcard_subscriptions_not_supported"]}}"#,
    ),
    (V5, "b0 04 00 02 00 11", r#"{"unsuback": {"packet_id": 2, "reason_codes": ["no_subscription_existed"]}}"#),
    (V5, "40 02 00 07", r#"{"puback": {"packet_id": 7, "reason_code": "success"}}"#),
    (V5, "40 03 00 07 10", r#"{"puback": {"packet_id": 7, "reason_code": "no_matching_subscribers"}}"#),
    (V5, "40 04 00 07 00 00", r#"{"puback": {"packet_id": 7, "reason_code": "success"}}"#),
    (V5, "50 02 00 07", r#"{"pubrec": {"packet_id": 7, "reason_code": "success"}}"#),
    (V5, "70 03 00 07 92", r#"{"pubcomp": {"packet_id": 7, "reason_code": "packet_identifier_not_found"}}"#),
    (V5, "e0 02 8e 00", r#"{"disconnect": {"reason_code": "session_taken_over"}}"#),
    (V5, "e0 01 81", r#"{"disconnect": {"reason_code": "malformed_packet"}}"#),
    // Subscription Identifier (0x0b) 5 and Topic Alias (0x23) 1 on a delivered PUBLISH.
    (
        V5,
        "30 09 00 01 61 05 0b 05 23 00 01",
        r#"{"publish": {"topic": "a", "qos": 0, "properties": {"subscription_identifiers": [5], "topic_alias": 1}}}"#,
    ),
    (
        V5,
        "f0 06 18 04 15 00 01 6d",
        r#"{"auth": {"reason_code": "continue_authentication", "properties": {"authentication_method": "m"}}}"#,
    ),
];

fn template(json: &str) -> PacketTemplate {
    serde_json::from_str(json).unwrap_or_else(|error| panic!("{json}: {error}"))
}

#[test]
fn sent_templates_encode_to_the_bytes_of_the_specification() {
    let context = Context::new("r".into(), "c".into());
    let mut wrong = Vec::new();
    for (version, json, spec) in SENT {
        let packet = template(json).build(*version, "c-a", &context).unwrap_or_else(|error| panic!("{json}: {error}"));
        let mut bytes = BytesMut::new();
        codec::encode(&packet, *version, &mut bytes).unwrap_or_else(|error| panic!("{json}: {error}"));
        let expected = hex(&parse_hex(spec).unwrap());
        if hex(&bytes) != expected {
            wrong.push(format!("{version:?} {json}\n  spec:    {expected}\n  encoded: {}", hex(&bytes)));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_bytes_of_the_specification_match_the_expected_templates() {
    let mut wrong = Vec::new();
    for (version, spec, json) in EXPECTED {
        let mut bytes = BytesMut::from(&parse_hex(spec).unwrap()[..]);
        let packet = match codec::decode(&mut bytes, &DecodeOptions::new(*version)) {
            Ok(Some(packet)) if bytes.is_empty() => packet,
            other => {
                wrong.push(format!("{version:?} {spec}: does not decode to one packet: {other:?}"));
                continue;
            }
        };
        let mut context = Context::new("r".into(), "c".into());
        let mut matcher = Matcher::new(&mut context);
        template(json).check(&packet, &mut matcher);
        if let Err(differences) = matcher.finish() {
            wrong.push(format!("{version:?} {spec} against {json}: {}", differences.join("; ")));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The checks can fail: a byte changed, a field the template names differs.
#[test]
fn a_changed_byte_fails_the_match() {
    let mut bytes = BytesMut::from(&parse_hex("40 02 00 08").unwrap()[..]);
    let packet = codec::decode(&mut bytes, &DecodeOptions::new(V3)).unwrap().unwrap();
    let mut context = Context::new("r".into(), "c".into());
    let mut matcher = Matcher::new(&mut context);
    template(r#"{"puback": {"packet_id": 7}}"#).check(&packet, &mut matcher);
    assert!(matcher.finish().is_err());
}
