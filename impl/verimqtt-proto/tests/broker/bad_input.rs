//! Bad input closes only the connection it came on: a malformed packet (MQTT 5: DISCONNECT
//! 0x81 first), a protocol error (0x82); every other session carries on.

use verimqtt_proto::broker::{CloseReason, ProtocolError, ProtocolViolation};
use verimqtt_proto::codec::{Auth, ErrorKind, Packet, PacketType, QoS, ReasonCode, Rule};
use verimqtt_proto::session::Role;

use crate::harness::*;

fn decode_error(harness: &mut Harness, client: Client) -> verimqtt_proto::codec::DecodeError {
    match harness.close_reason(client) {
        Some(CloseReason::ProtocolError(ProtocolError { violation: ProtocolViolation::Decode(error), .. })) => error,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn a_malformed_packet_closes_a_3_1_1_connection_without_a_word() {
    // [MQTT-3.3.1-4]: a PUBLISH with QoS 3.
    let mut harness = Harness::new();
    let client = harness.connect("c", V311);
    harness.send_bytes(client, b"\x36\x05\x00\x01t\x00\x01");
    harness.recv_nothing(client);
    let error = decode_error(&mut harness, client);
    assert_eq!(error.rule(), Rule::Statement("MQTT-3.3.1-4"));
}

#[test]
fn a_malformed_packet_gets_disconnect_0x81_in_5_0() {
    // [MQTT-4.13.1-1]; invalid UTF-8 in the topic [MQTT-1.5.4-1].
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    harness.send_bytes(client, b"\x30\x05\x00\x02\xc3\x28\x00");
    match harness.recv_one(client) {
        Packet::Disconnect(disconnect) => {
            assert_eq!(disconnect.reason_code, ReasonCode::MalformedPacket);
            let reason = disconnect.properties.reason_string.clone().unwrap();
            assert!(reason.contains("[MQTT-1.5.4-1]"), "{reason}");
        }
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert_eq!(decode_error(&mut harness, client).kind(), ErrorKind::MalformedPacket);
}

#[test]
fn a_protocol_error_gets_disconnect_0x82_in_5_0() {
    // [MQTT-3.3.2-2]: a wildcard in a topic name.
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    harness.send_bytes(client, b"\x30\x06\x00\x03a/#\x00");
    match harness.recv_one(client) {
        Packet::Disconnect(disconnect) => assert_eq!(disconnect.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
}

#[test]
fn a_packet_only_a_server_sends_is_a_protocol_error() {
    for packet in [Packet::PingResp, Packet::ConnAck(verimqtt_proto::codec::ConnAck::new(false, ReasonCode::Success))] {
        let mut harness = Harness::new();
        let client = harness.connect("c", V311);
        let packet_type = packet.packet_type();
        harness.send(client, packet);
        assert!(matches!(
            harness.close_reason(client),
            Some(CloseReason::ProtocolError(ProtocolError { violation: ProtocolViolation::UnexpectedPacket { packet: t, connected: true }, .. })) if t == packet_type
        ));
    }
}

#[test]
fn auth_without_an_authentication_method_is_a_protocol_error() {
    // [MQTT-4.12.0-7]
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    harness.send(client, Packet::Auth(Auth { reason_code: ReasonCode::ContinueAuthentication, ..Default::default() }));
    match harness.recv_one(client) {
        Packet::Disconnect(disconnect) => assert_eq!(disconnect.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
}

#[test]
fn a_reserved_packet_type_closes_the_connection() {
    // Packet type 0 is reserved; type 15 is reserved in 3.1.1 (it is AUTH in 5.0).
    for bytes in [&b"\x00\x00"[..], b"\xf0\x00"] {
        let mut harness = Harness::new();
        let client = harness.connect("c", V311);
        harness.send_bytes(client, bytes);
        assert!(!harness.is_open(client));
    }
}

#[test]
fn bad_input_on_one_connection_never_touches_another_session() {
    let mut harness = Harness::new();
    let (steady, _) = harness.connect_with(persistent(V5, "steady"));
    harness.send(steady, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    harness.recv(steady);
    let bad = harness.connect("bad", V5);
    harness.send(bad, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    harness.recv(bad);
    harness.send_bytes(bad, b"\x30\x05\x00\x02\xc3\x28\x00");
    assert!(!harness.is_open(bad));
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "still here"));
    assert_eq!(payloads(&harness.recv_publishes(steady)), [b"still here"]);
    assert!(harness.is_open(steady));
    assert_eq!(harness.broker.stats().sessions, 2, "the bad client's clean session is gone, the others stay");
}

#[test]
fn bytes_after_a_fatal_packet_are_ignored() {
    let mut harness = Harness::new();
    let watcher = subscriber(&mut harness, "watcher", V311, "t", QoS::AtMostOnce);
    let client = harness.connect("c", V311);
    let mut wire = bytes::BytesMut::new();
    wire.extend_from_slice(b"\x36\x05\x00\x01t\x00\x01");
    verimqtt_proto::codec::encode(&publish("t", QoS::AtMostOnce, 0, "after"), V311, &mut wire).unwrap();
    harness.send_bytes(client, &wire);
    harness.recv_nothing(watcher);
}

#[test]
fn bytes_after_disconnect_are_ignored() {
    // [MQTT-3.14.4-1]: DISCONNECT is the last packet; the connection is closing.
    let mut harness = Harness::new();
    let watcher = subscriber(&mut harness, "watcher", V311, "t", QoS::AtMostOnce);
    let client = harness.connect("c", V311);
    let mut wire = bytes::BytesMut::new();
    verimqtt_proto::codec::encode(&Packet::Disconnect(Default::default()), V311, &mut wire).unwrap();
    verimqtt_proto::codec::encode(&publish("t", QoS::AtMostOnce, 0, "after"), V311, &mut wire).unwrap();
    harness.send_bytes(client, &wire);
    harness.recv_nothing(watcher);
    assert_eq!(
        harness.close_reason(client),
        Some(CloseReason::ClientDisconnected { reason_code: ReasonCode::Success })
    );
}

#[test]
fn a_packet_split_across_reads_is_handled_once_whole() {
    let mut harness = Harness::new();
    let watcher = subscriber(&mut harness, "watcher", V5, "t", QoS::AtMostOnce);
    let client = harness.connect("c", V5);
    let mut wire = bytes::BytesMut::new();
    verimqtt_proto::codec::encode(&publish("t", QoS::AtMostOnce, 0, "in pieces"), V5, &mut wire).unwrap();
    for byte in wire.iter() {
        harness.send_bytes(client, &[*byte]);
    }
    assert_eq!(payloads(&harness.recv_publishes(watcher)), [b"in pieces"]);
}

#[test]
fn the_rule_of_a_broker_violation_is_cited_per_version() {
    let violation = ProtocolViolation::UnexpectedPacket { packet: PacketType::PingResp, connected: true };
    assert_eq!(violation.rule(V311, Role::Client), Some(Rule::Section("2.2.1")));
    assert_eq!(violation.rule(V5, Role::Client), Some(Rule::Section("2.1.2")));
    assert_eq!(ProtocolViolation::ReceiveMaximumExceeded { maximum: 1 }.rule(V311, Role::Client), None);
}
