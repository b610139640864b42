//! QoS 0, 1 and 2 in both directions (section 4.3), downgrade to the subscription's QoS,
//! exactly-once receipt, redelivery on session resumption (section 4.4) and order (4.6).

use verimqtt_proto::codec::{Packet, PacketId, Publish, PublishAck, QoS, ReasonCode};

use crate::harness::*;

#[test]
fn qos0_is_delivered_with_dup_0_and_no_acknowledgement() {
    // [MQTT-4.3.1-1], [MQTT-3.3.4-1]
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let sub = subscriber(&mut harness, "sub", version, "t", QoS::ExactlyOnce);
        let publisher = harness.connect("pub", version);
        harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "zero"));
        harness.recv_nothing(publisher);
        let received = harness.recv_publishes(sub);
        assert_eq!(payloads(&received), [b"zero"]);
        assert_eq!((received[0].qos, received[0].dup, received[0].packet_id), (QoS::AtMostOnce, false, None));
    }
}

#[test]
fn qos1_from_a_client_is_acknowledged_with_puback_of_its_identifier() {
    // [MQTT-4.3.2-2] (3.1.1), [MQTT-4.3.2-4] (5.0), [MQTT-2.3.1-6]
    for version in [V311, V5] {
        let mut harness = Harness::new();
        subscriber(&mut harness, "sub", version, "t", QoS::AtLeastOnce);
        let publisher = harness.connect("pub", version);
        harness.send(publisher, publish("t", QoS::AtLeastOnce, 7, "one"));
        assert_eq!(harness.recv_one(publisher), Packet::PubAck(PublishAck::new(id(7))));
    }
}

#[test]
fn qos1_to_a_client_waits_for_puback_with_a_fresh_identifier_and_dup_0() {
    // [MQTT-4.3.2-1] (3.1.1), [MQTT-4.3.2-1] to [MQTT-4.3.2-3] (5.0)
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V311, "t", QoS::AtLeastOnce);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "a"));
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 2, "b"));
    let received = harness.recv_publishes(sub);
    let ids: Vec<PacketId> = received.iter().map(|publish| publish.packet_id.unwrap()).collect();
    assert_ne!(ids[0], ids[1], "each new message gets an identifier not in use");
    assert!(received.iter().all(|publish| publish.qos == QoS::AtLeastOnce && !publish.dup));
    harness.send(sub, Packet::PubAck(PublishAck::new(ids[0])));
    harness.send(sub, Packet::PubAck(PublishAck::new(ids[1])));
    harness.recv_nothing(sub);
}

#[test]
fn qos2_from_a_client_is_routed_once_and_completed_with_pubrec_pubrel_pubcomp() {
    // [MQTT-4.3.3-2] (3.1.1); [MQTT-4.3.3-8], [MQTT-4.3.3-11] (5.0)
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let sub = subscriber(&mut harness, "sub", version, "t", QoS::ExactlyOnce);
        let publisher = harness.connect("pub", version);
        harness.send(publisher, publish("t", QoS::ExactlyOnce, 9, "two"));
        assert_eq!(harness.recv_one(publisher), Packet::PubRec(PublishAck::new(id(9))));
        assert_eq!(payloads(&harness.recv_publishes(sub)), [b"two"]);
        harness.send(publisher, pubrel(9));
        assert_eq!(harness.recv_one(publisher), Packet::PubComp(PublishAck::new(id(9))));
    }
}

#[test]
fn a_repeated_qos2_publish_before_pubrel_is_acknowledged_but_not_delivered_again() {
    // [MQTT-4.3.3-2] (3.1.1), [MQTT-4.3.3-10] (5.0): exactly once, also with DUP set.
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let sub = subscriber(&mut harness, "sub", version, "t", QoS::ExactlyOnce);
        let publisher = harness.connect("pub", version);
        harness.send(publisher, publish("t", QoS::ExactlyOnce, 3, "once"));
        let mut repeat = publish_packet("t", QoS::ExactlyOnce, 3, "once");
        repeat.dup = true;
        harness.send(publisher, Packet::Publish(repeat));
        harness.send(publisher, publish("t", QoS::ExactlyOnce, 3, "once"));
        assert_eq!(harness.recv(publisher), vec![Packet::PubRec(PublishAck::new(id(3))); 3]);
        assert_eq!(payloads(&harness.recv_publishes(sub)), [b"once"]);
    }
}

#[test]
fn after_pubcomp_the_same_identifier_is_a_new_message() {
    // [MQTT-4.3.3-12] (5.0); [MQTT-4.3.3-2] (3.1.1)
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V5, "t", QoS::ExactlyOnce);
    let publisher = harness.connect("pub", V5);
    for payload in ["first", "second"] {
        harness.send(publisher, publish("t", QoS::ExactlyOnce, 5, payload));
        harness.send(publisher, pubrel(5));
        harness.recv(publisher);
    }
    assert_eq!(payloads(&harness.recv_publishes(sub)), [&b"first"[..], b"second"]);
}

#[test]
fn after_puback_the_same_identifier_is_a_new_message() {
    // [MQTT-4.3.2-5] (5.0): whatever its DUP flag.
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V5, "t", QoS::AtLeastOnce);
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 5, "first"));
    let mut again = publish_packet("t", QoS::AtLeastOnce, 5, "second");
    again.dup = true;
    harness.send(publisher, Packet::Publish(again));
    assert_eq!(payloads(&harness.recv_publishes(sub)), [&b"first"[..], b"second"]);
}

#[test]
fn qos2_to_a_client_goes_publish_pubrec_pubrel_pubcomp() {
    // [MQTT-4.3.3-1] (3.1.1); [MQTT-4.3.3-3] to [MQTT-4.3.3-5] (5.0)
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V311, "t", QoS::ExactlyOnce);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::ExactlyOnce, 1, "x"));
    let delivered = harness.recv_publishes(sub);
    let packet_id = delivered[0].packet_id.unwrap().get();
    assert_eq!(delivered[0].qos, QoS::ExactlyOnce);
    harness.send(sub, pubrec(packet_id));
    assert_eq!(harness.recv_one(sub), pubrel(packet_id));
    // A repeated PUBREC gets PUBREL again, never the PUBLISH.
    harness.send(sub, pubrec(packet_id));
    assert_eq!(harness.recv_one(sub), pubrel(packet_id));
    harness.send(sub, pubcomp(packet_id));
    harness.recv_nothing(sub);
}

#[test]
fn delivery_qos_is_the_lower_of_the_published_and_the_granted_qos() {
    // [MQTT-3.8.4-6] (3.1.1), [MQTT-3.8.4-8] (5.0)
    let mut harness = Harness::new();
    let at_most_once = subscriber(&mut harness, "s0", V311, "t", QoS::AtMostOnce);
    let at_least_once = subscriber(&mut harness, "s1", V5, "t", QoS::AtLeastOnce);
    let exactly_once = subscriber(&mut harness, "s2", V311, "t", QoS::ExactlyOnce);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::ExactlyOnce, 1, "two"));
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "zero"));
    let qos = |publishes: Vec<Publish>| publishes.iter().map(|publish| publish.qos).collect::<Vec<_>>();
    assert_eq!(qos(harness.recv_publishes(at_most_once)), [QoS::AtMostOnce, QoS::AtMostOnce]);
    assert_eq!(qos(harness.recv_publishes(at_least_once)), [QoS::AtLeastOnce, QoS::AtMostOnce]);
    assert_eq!(qos(harness.recv_publishes(exactly_once)), [QoS::ExactlyOnce, QoS::AtMostOnce]);
}

#[test]
fn the_dup_flag_of_an_incoming_publish_is_not_propagated() {
    // [MQTT-3.3.1-3]
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V311, "t", QoS::AtLeastOnce);
    let publisher = harness.connect("pub", V311);
    let mut resent = publish_packet("t", QoS::AtLeastOnce, 1, "x");
    resent.dup = true;
    harness.send(publisher, Packet::Publish(resent));
    assert!(!harness.recv_publishes(sub)[0].dup);
}

#[test]
fn a_pubrel_for_an_unknown_identifier_gets_pubcomp_0x92_in_5_0() {
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    harness.send(client, pubrel(42));
    let mut expected = PublishAck::new(id(42));
    expected.reason_code = ReasonCode::PacketIdentifierNotFound;
    assert_eq!(harness.recv_one(client), Packet::PubComp(expected));
    let old = harness.connect("old", V311);
    harness.send(old, pubrel(42));
    assert_eq!(harness.recv_one(old), pubcomp(42));
}

#[test]
fn a_pubrec_for_an_unknown_identifier_gets_pubrel_0x92_in_5_0() {
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    harness.send(client, pubrec(42));
    let mut expected = PublishAck::new(id(42));
    expected.reason_code = ReasonCode::PacketIdentifierNotFound;
    assert_eq!(harness.recv_one(client), Packet::PubRel(expected));
}

#[test]
fn a_refusing_pubrec_ends_the_flow_without_pubrel() {
    // [MQTT-4.4.0-2]
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V5, "t", QoS::ExactlyOnce);
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, publish("t", QoS::ExactlyOnce, 1, "x"));
    let packet_id = harness.recv_publishes(sub)[0].packet_id.unwrap();
    let mut refusal = PublishAck::new(packet_id);
    refusal.reason_code = ReasonCode::QuotaExceeded;
    harness.send(sub, Packet::PubRec(refusal));
    harness.recv_nothing(sub);
    harness.send(sub, Packet::Disconnect(Default::default()));
}

fn resume<P: verimqtt_proto::broker::Policy>(harness: &mut Harness<P>, name: &str) -> (Client, Vec<Packet>) {
    let (client, connack) = harness.connect_with(persistent(V311, name));
    assert!(connack.session_present);
    let packets = harness.recv(client);
    (client, packets)
}

#[test]
fn unacknowledged_qos1_and_qos2_publishes_are_resent_with_dup_on_resumption() {
    // [MQTT-4.4.0-1], [MQTT-3.3.1-1], [MQTT-2.3.1-4] (same identifiers)
    let mut harness = Harness::new();
    let (sub, _) = harness.connect_with(persistent(V311, "sub"));
    harness.send(sub, subscribe(1, &[("t", QoS::ExactlyOnce)]));
    harness.recv(sub);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "one"));
    harness.send(publisher, publish("t", QoS::ExactlyOnce, 2, "two"));
    let first = harness.recv_publishes(sub);
    harness.cut(sub);
    let (_, resent) = resume(&mut harness, "sub");
    let resent: Vec<Publish> = resent
        .into_iter()
        .map(|packet| match packet {
            Packet::Publish(publish) => publish,
            other => panic!("expected PUBLISH, got {other:?}"),
        })
        .collect();
    assert_eq!(payloads(&resent), [&b"one"[..], b"two"]);
    for (before, after) in first.iter().zip(&resent) {
        assert_eq!(before.packet_id, after.packet_id);
        assert!(after.dup && !before.dup);
    }
}

#[test]
fn a_pubrel_not_yet_completed_is_resent_on_resumption_and_not_the_publish() {
    // [MQTT-4.4.0-1]; [MQTT-4.3.3-1] (3.1.1): no PUBLISH resend after PUBREL.
    let mut harness = Harness::new();
    let (sub, _) = harness.connect_with(persistent(V311, "sub"));
    harness.send(sub, subscribe(1, &[("t", QoS::ExactlyOnce)]));
    harness.recv(sub);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::ExactlyOnce, 1, "x"));
    let packet_id = harness.recv_publishes(sub)[0].packet_id.unwrap().get();
    harness.send(sub, pubrec(packet_id));
    assert_eq!(harness.recv_one(sub), pubrel(packet_id));
    harness.cut(sub);
    let (sub, packets) = resume(&mut harness, "sub");
    assert_eq!(packets, [pubrel(packet_id)]);
    harness.send(sub, pubcomp(packet_id));
    harness.recv_nothing(sub);
}

#[test]
fn inbound_qos2_state_survives_a_reconnection() {
    // The identifiers of unreleased QoS 2 messages are session state: a resent PUBLISH after
    // reconnecting is not delivered twice, and the PUBREL is completed.
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V311, "t", QoS::ExactlyOnce);
    let (publisher, _) = harness.connect_with(persistent(V311, "pub"));
    harness.send(publisher, publish("t", QoS::ExactlyOnce, 4, "x"));
    harness.recv(publisher);
    harness.cut(publisher);
    let (publisher, _) = resume(&mut harness, "pub");
    let mut resent = publish_packet("t", QoS::ExactlyOnce, 4, "x");
    resent.dup = true;
    harness.send(publisher, Packet::Publish(resent));
    assert_eq!(harness.recv_one(publisher), pubrec(4));
    harness.send(publisher, pubrel(4));
    assert_eq!(harness.recv_one(publisher), pubcomp(4));
    assert_eq!(harness.recv_publishes(sub).len(), 1);
}

#[test]
fn messages_from_one_client_on_one_topic_arrive_in_order_per_qos() {
    // [MQTT-4.6.0-5], [MQTT-4.6.0-6] (3.1.1); [MQTT-4.6.0-5], [MQTT-4.6.0-6] (5.0)
    let options = verimqtt_proto::broker::BrokerOptions { max_inflight: non_zero(2), ..Default::default() };
    let mut harness = Harness::with_options(options);
    let sub = subscriber(&mut harness, "sub", V311, "t", QoS::ExactlyOnce);
    let publisher = harness.connect("pub", V311);
    let sent: Vec<String> = (1..=20).map(|n| format!("m{n}")).collect();
    for (n, payload) in sent.iter().enumerate() {
        let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][n % 3];
        let packet_id = (qos != QoS::AtMostOnce).then(|| id(n as u16 + 1));
        let publish = Publish::new(string("t"), qos, packet_id, bytes::Bytes::from(payload.clone()));
        harness.send(publisher, Packet::Publish(publish));
    }
    let mut received = Vec::new();
    while received.len() < sent.len() {
        let packets = harness.recv(sub);
        assert!(!packets.is_empty(), "delivery stalled after {received:?}");
        for packet in packets {
            match packet {
                Packet::Publish(publish) => {
                    received.push(String::from_utf8(publish.payload.to_vec()).unwrap());
                    match (publish.qos, publish.packet_id) {
                        (QoS::AtLeastOnce, Some(packet_id)) => {
                            harness.send(sub, Packet::PubAck(PublishAck::new(packet_id)))
                        }
                        (QoS::ExactlyOnce, Some(packet_id)) => harness.send(sub, pubrec(packet_id.get())),
                        _ => {}
                    }
                }
                Packet::PubRel(release) => harness.send(sub, Packet::PubComp(release)),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(received, sent);
}

#[test]
fn no_more_than_max_inflight_messages_are_unacknowledged_at_once() {
    let options = verimqtt_proto::broker::BrokerOptions { max_inflight: non_zero(2), ..Default::default() };
    let mut harness = Harness::with_options(options);
    let sub = subscriber(&mut harness, "sub", V311, "t", QoS::AtLeastOnce);
    let publisher = harness.connect("pub", V311);
    for n in 1..=5 {
        harness.send(publisher, publish("t", QoS::AtLeastOnce, n, "x"));
    }
    let first = harness.recv_publishes(sub);
    assert_eq!(first.len(), 2);
    harness.send(sub, Packet::PubAck(PublishAck::new(first[0].packet_id.unwrap())));
    assert_eq!(harness.recv_publishes(sub).len(), 1);
}
