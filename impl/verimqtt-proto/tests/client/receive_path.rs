//! The receive path: QoS 0 delivered, QoS 1 delivered and acknowledged in order of receipt,
//! QoS 2 delivered exactly once and released by PUBREL (sections 4.3 and 4.6).

use verimqtt_proto::client::Event;
use verimqtt_proto::codec::{Packet, ProtocolVersion, Publish, PublishAck, QoS, ReasonCode};

use crate::harness::{Harness, encode, id, options, publish, pubrec, pubrel};

fn connected(version: ProtocolVersion) -> Harness {
    let mut h = Harness::new(options(version));
    h.connect(false);
    h
}

fn messages(events: &[Event]) -> Vec<&Publish> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Message(publish) => Some(publish),
            _ => None,
        })
        .collect()
}

fn with_dup(packet: Packet) -> Packet {
    match packet {
        Packet::Publish(publish) => Packet::Publish(Publish { dup: true, ..publish }),
        other => other,
    }
}

/// [MQTT-3.3.4-1]: nothing answers a QoS 0 message.
#[test]
fn qos0_message_is_delivered_without_answer() {
    let mut h = connected(ProtocolVersion::V5);
    h.deliver(publish("a/b", QoS::AtMostOnce, None));
    let events = h.events();
    assert_eq!(messages(&events).iter().map(|message| message.topic.as_str()).collect::<Vec<_>>(), ["a/b"]);
    assert_eq!(h.sent(), []);
}

/// [MQTT-4.6.0-2], [MQTT-4.5.0-2]
#[test]
fn qos1_messages_are_acknowledged_in_the_order_they_arrived() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut h = connected(version);
        h.socket_full = true;
        for packet_id in [9, 3, 5] {
            h.deliver(publish("a", QoS::AtLeastOnce, Some(packet_id)));
        }
        h.socket_full = false;
        let acks: Vec<_> = [9, 3, 5].map(|packet_id| Packet::PubAck(PublishAck::new(id(packet_id)))).into();
        assert_eq!(h.sent(), acks, "{version}");
        assert_eq!(messages(&h.events()).len(), 3);
    }
}

/// [MQTT-4.6.0-3]
#[test]
fn qos2_messages_are_answered_with_pubrec_in_the_order_they_arrived() {
    let mut h = connected(ProtocolVersion::V311);
    h.socket_full = true;
    for packet_id in [4, 2, 8] {
        h.deliver(publish("a", QoS::ExactlyOnce, Some(packet_id)));
    }
    h.socket_full = false;
    assert_eq!(h.sent(), [pubrec(id(4)), pubrec(id(2)), pubrec(id(8))]);
}

/// [MQTT-4.3.3-2] in 3.1.1; [MQTT-4.3.3-8], [MQTT-4.3.3-10] in 5.0.
#[test]
fn a_qos2_message_sent_again_before_its_pubrel_is_not_delivered_twice() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut h = connected(version);
        h.deliver(publish("a", QoS::ExactlyOnce, Some(7)));
        assert_eq!(messages(&h.events()).len(), 1);
        assert_eq!(h.sent(), [pubrec(id(7))]);
        h.deliver(with_dup(publish("a", QoS::ExactlyOnce, Some(7))));
        // Even without DUP, the identifier still stands for the same message.
        h.deliver(publish("a", QoS::ExactlyOnce, Some(7)));
        assert_eq!(h.events(), [], "{version}");
        assert_eq!(h.sent(), [pubrec(id(7)), pubrec(id(7))], "{version}");
    }
}

/// [MQTT-4.3.3-2] in 3.1.1; [MQTT-4.3.3-11], [MQTT-4.3.3-12] in 5.0.
#[test]
fn pubrel_is_answered_by_pubcomp_and_frees_the_identifier_for_a_new_message() {
    let mut h = connected(ProtocolVersion::V5);
    h.deliver(publish("a", QoS::ExactlyOnce, Some(7)));
    h.deliver(pubrel(id(7)));
    assert_eq!(h.sent(), [pubrec(id(7)), Packet::PubComp(PublishAck::new(id(7)))]);
    h.deliver(publish("b", QoS::ExactlyOnce, Some(7)));
    let events = h.events();
    assert_eq!(messages(&events).iter().map(|message| message.topic.as_str()).collect::<Vec<_>>(), ["a", "b"]);
}

/// MQTT 5 answers a PUBREL it does not know with PUBCOMP 0x92 (section 3.7.2.1); 3.1.1 has
/// no reason code, and answers all the same.
#[test]
fn an_unknown_pubrel_is_still_answered() {
    for (version, reason_code) in
        [(ProtocolVersion::V311, ReasonCode::Success), (ProtocolVersion::V5, ReasonCode::PacketIdentifierNotFound)]
    {
        let mut h = connected(version);
        h.deliver(pubrel(id(3)));
        let expected = PublishAck { reason_code, ..PublishAck::new(id(3)) };
        assert_eq!(h.sent(), [Packet::PubComp(expected)], "{version}");
        assert_eq!(h.client.state(), verimqtt_proto::client::State::Connected);
    }
}

/// A QoS 1 message repeated is a new delivery ([MQTT-4.3.2-2] in 3.1.1, [MQTT-4.3.2-5] in 5.0).
#[test]
fn a_repeated_qos1_message_is_delivered_and_acknowledged_again() {
    let mut h = connected(ProtocolVersion::V311);
    h.deliver(publish("a", QoS::AtLeastOnce, Some(1)));
    h.deliver(with_dup(publish("a", QoS::AtLeastOnce, Some(1))));
    assert_eq!(messages(&h.events()).len(), 2);
    assert_eq!(h.sent().len(), 2);
}

#[test]
fn bytes_split_anywhere_deliver_the_same_messages() {
    let packets = [publish("a", QoS::AtLeastOnce, Some(1)), publish("b", QoS::AtMostOnce, None), pubrel(id(4))];
    let mut wire = Vec::new();
    for packet in &packets {
        wire.extend_from_slice(&encode(packet, ProtocolVersion::V5));
    }
    for split in 0..=wire.len() {
        let mut h = connected(ProtocolVersion::V5);
        assert_eq!(h.deliver_bytes(&wire[..split]), split);
        assert_eq!(h.deliver_bytes(&wire[split..]), wire.len() - split);
        let events = h.events();
        let topics: Vec<_> = messages(&events).iter().map(|message| message.topic.to_string()).collect();
        assert_eq!(topics, ["a", "b"], "split at {split}");
        assert_eq!(h.sent().len(), 2, "split at {split}");
    }
}
