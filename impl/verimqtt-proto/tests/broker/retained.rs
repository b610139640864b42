//! Retained messages (section 3.3.1.3): stored, replaced, deleted by an empty payload, sent
//! to new subscriptions with RETAIN set; MQTT 5 Retain Handling, Retain As Published and
//! Retain Available.

use verimqtt_proto::broker::{BrokerOptions, CloseReason, Event, ProtocolError, ProtocolViolation, RetainedDropReason};
use verimqtt_proto::codec::{Packet, QoS, ReasonCode, RetainHandling, SubscriptionOptions};

use crate::harness::*;

fn late_subscriber(harness: &mut Harness, name: &str, filter: &str, qos: QoS) -> Vec<verimqtt_proto::codec::Publish> {
    let client = harness.connect(name, V311);
    harness.send(client, subscribe(1, &[(filter, qos)]));
    let packets = harness.recv(client);
    assert!(matches!(packets.first(), Some(Packet::SubAck(_))), "SUBACK comes first: {packets:?}");
    packets
        .into_iter()
        .skip(1)
        .map(|packet| match packet {
            Packet::Publish(publish) => publish,
            other => panic!("expected PUBLISH, got {other:?}"),
        })
        .collect()
}

#[test]
fn a_retained_message_is_sent_to_a_new_subscription_with_retain_set() {
    // [MQTT-3.3.1-5], [MQTT-3.3.1-6], [MQTT-3.3.1-8] (3.1.1)
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, retained("status/door", QoS::AtLeastOnce, 1, "open"));
    let received = late_subscriber(&mut harness, "late", "status/+", QoS::AtLeastOnce);
    assert_eq!(payloads(&received), [b"open"]);
    assert!(received[0].retain);
    assert_eq!(received[0].qos, QoS::AtLeastOnce);
}

#[test]
fn a_retained_message_goes_to_established_subscribers_with_retain_0() {
    // [MQTT-3.3.1-9] (3.1.1), [MQTT-3.3.1-12] (5.0)
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let sub = subscriber(&mut harness, "sub", version, "t", QoS::AtMostOnce);
        let publisher = harness.connect("pub", version);
        harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "x"));
        assert!(!harness.recv_publishes(sub)[0].retain);
    }
}

#[test]
fn a_new_retained_message_replaces_the_old_one() {
    // [MQTT-3.3.1-5]; [MQTT-3.3.1-7] (3.1.1): also at QoS 0.
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, retained("t", QoS::AtLeastOnce, 1, "old"));
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "new"));
    let received = late_subscriber(&mut harness, "late", "t", QoS::ExactlyOnce);
    assert_eq!(payloads(&received), [b"new"]);
    assert_eq!(received[0].qos, QoS::AtMostOnce, "the stored QoS is the publisher's");
}

#[test]
fn an_empty_retained_message_is_delivered_and_deletes_the_stored_one() {
    // [MQTT-3.3.1-10], [MQTT-3.3.1-11] (3.1.1); [MQTT-3.3.1-6], [MQTT-3.3.1-7] (5.0)
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "x"));
    let sub = harness.connect("sub", V311);
    harness.send(sub, subscribe(1, &[("t", QoS::AtMostOnce)]));
    assert_eq!(harness.recv(sub).len(), 2, "SUBACK and the retained message");
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, ""));
    assert_eq!(payloads(&harness.recv_publishes(sub)), [b""]);
    assert!(late_subscriber(&mut harness, "late", "t", QoS::AtMostOnce).is_empty());
    assert_eq!(harness.broker.stats().retained_messages, 0);
}

#[test]
fn a_non_retained_publish_leaves_the_retained_message_alone() {
    // [MQTT-3.3.1-12] (3.1.1), [MQTT-3.3.1-8] (5.0)
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "kept"));
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "passing"));
    assert_eq!(payloads(&late_subscriber(&mut harness, "late", "t", QoS::AtMostOnce)), [b"kept"]);
}

#[test]
fn retained_messages_outlive_the_session_that_published_them() {
    // [MQTT-3.1.2-7] (3.1.1)
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "x"));
    harness.send(publisher, Packet::Disconnect(Default::default()));
    assert_eq!(late_subscriber(&mut harness, "late", "t", QoS::AtMostOnce).len(), 1);
}

#[test]
fn retained_messages_go_at_most_at_the_granted_qos() {
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, retained("t", QoS::ExactlyOnce, 1, "x"));
    let received = late_subscriber(&mut harness, "late", "t", QoS::AtMostOnce);
    assert_eq!(received[0].qos, QoS::AtMostOnce);
}

#[test]
fn resubscribing_sends_the_retained_messages_again_in_3_1_1() {
    // [MQTT-3.8.4-3] (3.1.1)
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "x"));
    let sub = harness.connect("sub", V311);
    for _ in 0..2 {
        harness.send(sub, subscribe(1, &[("t", QoS::AtMostOnce)]));
        assert_eq!(harness.recv(sub).len(), 2, "SUBACK and the retained message");
    }
}

fn subscribe_with_handling(harness: &mut Harness, client: Client, handling: RetainHandling) -> usize {
    let options = SubscriptionOptions { retain_handling: handling, ..SubscriptionOptions::new(QoS::AtMostOnce) };
    harness.send(client, Packet::Subscribe(subscribe_with(1, "t", options)));
    harness.recv(client).len() - 1
}

#[test]
fn retain_handling_0_sends_retained_messages_at_every_subscribe() {
    // [MQTT-3.3.1-9], [MQTT-3.8.4-4] (5.0)
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "x"));
    let client = harness.connect("c", V5);
    assert_eq!(subscribe_with_handling(&mut harness, client, RetainHandling::SendAtSubscribe), 1);
    assert_eq!(subscribe_with_handling(&mut harness, client, RetainHandling::SendAtSubscribe), 1);
}

#[test]
fn retain_handling_1_sends_retained_messages_only_for_a_new_subscription() {
    // [MQTT-3.3.1-10] (5.0)
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "x"));
    let client = harness.connect("c", V5);
    assert_eq!(subscribe_with_handling(&mut harness, client, RetainHandling::SendIfNewSubscription), 1);
    assert_eq!(subscribe_with_handling(&mut harness, client, RetainHandling::SendIfNewSubscription), 0);
}

#[test]
fn retain_handling_2_sends_no_retained_messages() {
    // [MQTT-3.3.1-11] (5.0)
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "x"));
    let client = harness.connect("c", V5);
    assert_eq!(subscribe_with_handling(&mut harness, client, RetainHandling::DoNotSend), 0);
}

#[test]
fn retain_as_published_keeps_the_retain_flag_on_forwarded_messages() {
    // [MQTT-3.3.1-13] (5.0)
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    let options = SubscriptionOptions { retain_as_published: true, ..SubscriptionOptions::new(QoS::AtMostOnce) };
    harness.send(client, Packet::Subscribe(subscribe_with(1, "t", options)));
    harness.recv(client);
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "r"));
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "p"));
    let flags: Vec<bool> = harness.recv_publishes(client).iter().map(|publish| publish.retain).collect();
    assert_eq!(flags, [true, false]);
}

#[test]
fn without_retain_available_a_retained_publish_is_disconnected_with_0x9a() {
    // MQTT 5 section 3.2.2.3.5; [MQTT-3.2.2-14] binds the client.
    let options = BrokerOptions { retain_available: false, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let client = harness.connect("c", V5);
    harness.send(client, retained("t", QoS::AtMostOnce, 0, "x"));
    match harness.recv_one(client) {
        Packet::Disconnect(disconnect) => assert_eq!(disconnect.reason_code, ReasonCode::RetainNotSupported),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert!(matches!(
        harness.close_reason(client),
        Some(CloseReason::ProtocolError(ProtocolError { violation: ProtocolViolation::RetainNotSupported, .. }))
    ));
}

#[test]
fn without_retain_available_a_retained_will_is_refused_with_0x9a() {
    // [MQTT-3.2.2-13]
    let options = BrokerOptions { retain_available: false, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let mut request = connect(V5, "c");
    request.will = Some(crate::will::will("w", QoS::AtMostOnce, true));
    let (_, connack) = harness.connect_with(request);
    assert_eq!(connack.reason_code, ReasonCode::RetainNotSupported);
}

#[test]
fn a_full_retained_store_refuses_new_topics_and_says_so() {
    let options = BrokerOptions { max_retained_messages: 1, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, retained("a", QoS::AtMostOnce, 0, "1"));
    harness.send(publisher, retained("b", QoS::AtMostOnce, 0, "2"));
    harness.send(publisher, retained("a", QoS::AtMostOnce, 0, "3"));
    assert!(harness.events().iter().any(
        |event| matches!(event, Event::RetainedDropped { topic, reason: RetainedDropReason::StoreFull } if topic == "b")
    ));
    let received = late_subscriber(&mut harness, "late", "#", QoS::AtMostOnce);
    assert_eq!(payloads(&received), [b"3"]);
}

#[test]
fn an_mqtt_5_publisher_is_told_its_retained_message_was_routed_but_not_stored() {
    let options = BrokerOptions { max_retained_messages: 1, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, retained("a", QoS::AtLeastOnce, 1, "kept"));
    harness.send(publisher, retained("b", QoS::AtLeastOnce, 2, "not kept"));
    let acks: Vec<_> = harness
        .recv(publisher)
        .into_iter()
        .map(|packet| match packet {
            Packet::PubAck(ack) => {
                (ack.reason_code, ack.properties.reason_string.as_ref().map(|text| text.to_string()))
            }
            other => panic!("expected PUBACK, got {other:?}"),
        })
        .collect();
    assert_eq!(acks[0], (ReasonCode::NoMatchingSubscribers, None));
    let (code, reason) = &acks[1];
    assert_eq!(*code, ReasonCode::NoMatchingSubscribers, "the message itself was taken: not a failure");
    assert!(
        reason.as_deref().is_some_and(|text| text.contains("not retained") && text.contains("max_retained_messages"))
    );
}

#[test]
fn the_brokers_own_messages_are_not_counted_against_the_retained_limit() {
    let options = BrokerOptions { max_retained_messages: 1, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let now = harness.now;
    for (topic, value) in [("$SYS/uptime", "1"), ("$SYS/clients", "2"), ("$SYS/uptime", "3")] {
        harness.broker.publish_own(now, string(topic), bytes::Bytes::from_static(value.as_bytes()));
    }
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, retained("a", QoS::AtMostOnce, 0, "client's"));
    harness.send(publisher, retained("b", QoS::AtMostOnce, 0, "one too many"));
    assert_eq!(harness.broker.stats().retained_messages, 3, "two of the broker's, one of a client's");
    let sys = late_subscriber(&mut harness, "sys", "$SYS/#", QoS::AtMostOnce);
    let mut values = payloads(&sys);
    values.sort();
    assert_eq!(values, [b"2", b"3"], "in no particular order");
    assert_eq!(payloads(&late_subscriber(&mut harness, "late", "#", QoS::AtMostOnce)), [b"client's"]);
}

#[test]
fn an_expired_retained_message_is_not_sent() {
    // [MQTT-3.3.2-5]
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V5);
    let mut message = publish_packet("t", QoS::AtMostOnce, 0, "x");
    message.retain = true;
    message.properties.message_expiry_interval = Some(10);
    harness.send(publisher, Packet::Publish(message));
    harness.advance(secs(4));
    let client = harness.connect("early", V5);
    harness.send(client, subscribe(1, &[("t", QoS::AtMostOnce)]));
    let packets = harness.recv(client);
    match &packets[..] {
        [Packet::SubAck(_), Packet::Publish(publish)] => {
            // [MQTT-3.3.2-6]: the interval counts down while the message waits.
            assert_eq!(publish.properties.message_expiry_interval, Some(6));
        }
        other => panic!("expected SUBACK and the retained message, got {other:?}"),
    }
    harness.advance(secs(6));
    let client = harness.connect("late", V5);
    harness.send(client, subscribe(1, &[("t", QoS::AtMostOnce)]));
    assert_eq!(harness.recv(client).len(), 1, "only SUBACK");
}
