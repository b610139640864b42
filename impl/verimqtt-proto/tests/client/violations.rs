//! A server that breaks the protocol gets its connection closed with a typed reason; in MQTT 5
//! a DISCONNECT with the reason code goes first (0x81 malformed, 0x82 protocol error). The
//! client never panics and writes nothing after that DISCONNECT.

use verimqtt_proto::client::{DisconnectReason, ProtocolViolation, State};
use verimqtt_proto::codec::{
    ConnAck, Disconnect, ErrorKind, Packet, PacketType, Properties, ProtocolVersion, QoS, ReasonCode, Subscribe,
    Subscription, SubscriptionOptions,
};

use crate::harness::{Harness, disconnect_reason, id, options, puback, pubcomp, pubrec, suback, topic, unsuback};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn connected(version: ProtocolVersion) -> Harness {
    let mut h = Harness::new(options(version));
    h.connect(false);
    h
}

/// Checks the client closed for `expected` and wrote only what its version says: nothing in
/// 3.1.1, a DISCONNECT with the violation's reason code in 5.0.
fn assert_closed_for(h: &mut Harness, expected: impl Fn(&ProtocolViolation) -> bool) {
    assert_eq!(h.client.state(), State::Disconnected);
    let Some(DisconnectReason::ProtocolViolation(violation)) = disconnect_reason(&h.events()) else {
        panic!("expected a protocol violation")
    };
    assert!(expected(&violation), "unexpected violation {violation:?}");
    let farewell = match h.version {
        ProtocolVersion::V311 => vec![],
        ProtocolVersion::V5 => vec![Packet::Disconnect(Disconnect::new(violation.reason_code()))],
    };
    assert_eq!(h.sent(), farewell);
}

#[test]
fn a_malformed_packet_closes_the_connection() {
    for version in VERSIONS {
        let mut h = connected(version);
        // PUBACK with fixed header flags 0010, which are reserved 0000 [MQTT-2.2.2-2] [MQTT-2.1.3-1].
        assert_eq!(h.deliver_bytes(&[0x42, 0x02, 0x00, 0x01]), 4);
        assert_closed_for(
            &mut h,
            |violation| matches!(violation, ProtocolViolation::Decode(error) if error.kind() == ErrorKind::MalformedPacket),
        );
        if version.is_v5() {
            assert_eq!(ProtocolViolation::Decode(decode_error()).reason_code(), ReasonCode::MalformedPacket);
        }
    }
}

fn decode_error() -> verimqtt_proto::codec::DecodeError {
    let mut bytes = bytes::BytesMut::from(&[0x42, 0x02, 0x00, 0x01][..]);
    verimqtt_proto::codec::decode(&mut bytes, &verimqtt_proto::codec::DecodeOptions::new(ProtocolVersion::V5))
        .unwrap_err()
}

#[test]
fn a_packet_only_clients_send_closes_the_connection() {
    for version in VERSIONS {
        for packet in [Packet::PingReq, subscribe()] {
            let mut h = connected(version);
            let packet_type = packet.packet_type();
            h.deliver(packet);
            assert_closed_for(&mut h, |violation| {
                *violation == ProtocolViolation::UnexpectedPacket { packet: packet_type, connected: true }
            });
        }
    }
}

fn subscribe() -> Packet {
    let subscription = Subscription { filter: topic("a"), options: SubscriptionOptions::default() };
    Packet::Subscribe(Subscribe {
        packet_id: id(1),
        properties: Properties::default(),
        subscriptions: vec![subscription],
    })
}

/// [MQTT-3.2.0-2] in 5.0.
#[test]
fn a_second_connack_closes_the_connection() {
    for version in VERSIONS {
        let mut h = connected(version);
        h.deliver(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)));
        assert_closed_for(&mut h, |violation| {
            *violation == ProtocolViolation::UnexpectedPacket { packet: PacketType::ConnAck, connected: true }
        });
    }
}

/// [MQTT-3.2.0-1]
#[test]
fn a_packet_before_the_connack_closes_the_connection() {
    for version in VERSIONS {
        let mut h = Harness::new(options(version));
        h.open();
        h.deliver(crate::harness::publish("a", QoS::AtMostOnce, None));
        assert_closed_for(&mut h, |violation| {
            matches!(violation, ProtocolViolation::UnexpectedPacket { connected: false, .. })
        });
    }
}

#[test]
fn an_acknowledgement_of_an_unknown_identifier_closes_the_connection() {
    for version in VERSIONS {
        for ack in [puback(id(5)), pubrec(id(5)), pubcomp(id(5)), suback(id(5), vec![ReasonCode::Success])] {
            let mut h = connected(version);
            let packet_type = ack.packet_type();
            h.deliver(ack);
            assert_closed_for(&mut h, |violation| {
                *violation == ProtocolViolation::UnknownPacketId { packet: packet_type, packet_id: id(5) }
            });
        }
    }
}

/// The identifier is known, but not for this kind of acknowledgement.
#[test]
fn an_acknowledgement_of_the_wrong_kind_closes_the_connection() {
    let cases = [
        (QoS::AtLeastOnce, pubrec(id(1))),
        (QoS::ExactlyOnce, puback(id(1))),
        (QoS::ExactlyOnce, pubcomp(id(1))),
        (QoS::AtLeastOnce, unsuback(id(1), vec![ReasonCode::Success])),
    ];
    for (qos, ack) in cases {
        let mut h = connected(ProtocolVersion::V5);
        h.publish("a", qos);
        h.sent();
        h.deliver(ack);
        assert_closed_for(&mut h, |violation| matches!(violation, ProtocolViolation::UnknownPacketId { .. }));
    }
}

/// One reason code per topic filter ([MQTT-3.8.4-5] in 3.1.1, [MQTT-3.8.4-6] in 5.0).
#[test]
fn a_suback_with_the_wrong_number_of_codes_closes_the_connection() {
    for version in VERSIONS {
        let mut h = connected(version);
        let packet_id = h.subscribe("a");
        h.sent();
        h.deliver(suback(packet_id, vec![ReasonCode::GrantedQos1, ReasonCode::GrantedQos1]));
        assert_closed_for(&mut h, |violation| {
            *violation
                == ProtocolViolation::ReasonCodeCountMismatch { packet: PacketType::SubAck, expected: 1, received: 2 }
        });
        assert_eq!(h.client.packet_ids_in_use().count(), 0);
    }
}

/// A 3.1.1 server never sends DISCONNECT.
#[test]
fn a_disconnect_from_a_3_1_1_server_closes_the_connection() {
    let mut h = connected(ProtocolVersion::V311);
    h.deliver(Packet::Disconnect(Disconnect::default()));
    assert_closed_for(&mut h, |violation| matches!(violation, ProtocolViolation::UnexpectedPacket { .. }));
}

#[test]
fn a_pingresp_without_a_pingreq_closes_the_connection() {
    for version in VERSIONS {
        let mut h = connected(version);
        h.deliver(Packet::PingResp);
        assert_closed_for(&mut h, |violation| {
            *violation == ProtocolViolation::UnexpectedPacket { packet: PacketType::PingResp, connected: true }
        });
    }
}

/// [MQTT-3.14.4-2] in 3.1.1, [MQTT-3.14.4-1] in 5.0: nothing follows the DISCONNECT, however
/// much was waiting, and nothing more is read.
#[test]
fn nothing_is_written_or_read_after_the_disconnect() {
    let mut h = connected(ProtocolVersion::V5);
    h.socket_full = true;
    h.publish("a", QoS::AtLeastOnce);
    h.subscribe("s");
    h.deliver(puback(id(40)));
    h.deliver(crate::harness::publish("a", QoS::AtLeastOnce, Some(3)));
    h.socket_full = false;
    assert_eq!(h.events().len(), 2, "disconnected, and the SUBSCRIBE of the connection dropped");
    assert_eq!(h.sent(), [Packet::Disconnect(Disconnect::new(ReasonCode::ProtocolError))]);
    assert!(h.client.poll_transmit().is_none());
    // The queued QoS 1 publish waits for the next connection.
    assert_eq!(h.client.queued(), 1);
}

#[test]
fn garbage_after_a_violation_is_ignored() {
    let mut h = connected(ProtocolVersion::V5);
    let taken = h.deliver_bytes(&[0x00, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x12]);
    assert_eq!(taken, 7);
    assert_eq!(h.client.state(), State::Disconnected);
    assert_eq!(h.deliver_bytes(&[0x30, 0x00]), 2);
}
