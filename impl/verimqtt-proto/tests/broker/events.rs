//! The events an embedding application hears about subscriptions and messages: each
//! subscription granted and deleted, and with `message_events` each message as it is
//! published and as it reaches each subscriber, when its flow is over for its QoS.

use verimqtt_proto::broker::{BrokerOptions, Event};
use verimqtt_proto::codec::{Packet, PublishAck, QoS};

use crate::harness::{Client, Harness, V5, V311, id, pubcomp, publish, pubrec, string, subscribe, unsubscribe};

/// The events about subscriptions and messages, leaving out connections opening and closing.
fn about_subscriptions_and_messages(harness: &mut Harness) -> Vec<Event> {
    let events = harness.events().into_iter();
    events.filter(|event| !matches!(event, Event::Connected { .. } | Event::Closed { .. })).collect()
}

fn subscribed(client_id: &str, filter: &str, qos: QoS) -> Event {
    Event::Subscribed { client_id: string(client_id), filter: string(filter), qos }
}

fn published(client_id: &str, topic: &str, qos: QoS, sessions: usize) -> Event {
    Event::MessagePublished { client_id: string(client_id), topic: string(topic), qos, retain: false, sessions }
}

fn delivered(client_id: &str, topic: &str, qos: QoS) -> Event {
    Event::MessageDelivered { client_id: string(client_id), topic: string(topic), qos }
}

/// A subscriber to `t/#` at QoS 2 and to `u` at QoS 0, and a publisher, connected; their
/// SUBACK and the events so far read.
fn subscriber_and_publisher(harness: &mut Harness) -> (Client, Client) {
    let subscriber = harness.connect("sub", V5);
    harness.send(subscriber, subscribe(1, &[("t/#", QoS::ExactlyOnce), ("u", QoS::AtMostOnce)]));
    assert!(matches!(harness.recv_one(subscriber), Packet::SubAck(_)));
    let publisher = harness.connect("pub", V311);
    (subscriber, publisher)
}

#[test]
fn every_message_is_reported_published_then_delivered_once_its_flow_ends() {
    let mut harness = Harness::with_options(BrokerOptions { message_events: true, ..BrokerOptions::default() });
    let (subscriber, publisher) = subscriber_and_publisher(&mut harness);
    assert_eq!(
        about_subscriptions_and_messages(&mut harness),
        [subscribed("sub", "t/#", QoS::ExactlyOnce), subscribed("sub", "u", QoS::AtMostOnce)]
    );

    // QoS 1: delivered when the subscriber acknowledges, not when it is sent.
    harness.send(publisher, publish("t/1", QoS::AtLeastOnce, 1, "one"));
    assert_eq!(harness.recv_publishes(subscriber).len(), 1);
    assert_eq!(about_subscriptions_and_messages(&mut harness), [published("pub", "t/1", QoS::AtLeastOnce, 1)]);
    harness.send(subscriber, Packet::PubAck(PublishAck::new(id(1))));
    assert_eq!(about_subscriptions_and_messages(&mut harness), [delivered("sub", "t/1", QoS::AtLeastOnce)]);

    // QoS 2: not at PUBREC, only at PUBCOMP.
    harness.send(publisher, publish("t/2", QoS::ExactlyOnce, 2, "two"));
    let sent = harness.recv_publishes(subscriber);
    let packet_id = sent[0].packet_id.expect("QoS 2 has an identifier").get();
    harness.send(subscriber, pubrec(packet_id));
    assert_eq!(about_subscriptions_and_messages(&mut harness), [published("pub", "t/2", QoS::ExactlyOnce, 1)]);
    harness.send(subscriber, pubcomp(packet_id));
    assert_eq!(about_subscriptions_and_messages(&mut harness), [delivered("sub", "t/2", QoS::ExactlyOnce)]);

    // Downgraded to the QoS 0 of the subscription: delivered as it is written.
    harness.send(publisher, publish("u", QoS::AtLeastOnce, 3, "three"));
    assert_eq!(
        about_subscriptions_and_messages(&mut harness),
        [delivered("sub", "u", QoS::AtMostOnce), published("pub", "u", QoS::AtLeastOnce, 1)],
        "the copy to a connected QoS 0 subscriber is written while the PUBLISH is routed"
    );

    // Routed nowhere, and a repeat of a QoS 1 acknowledgement that ends nothing.
    harness.send(publisher, publish("v", QoS::AtMostOnce, 0, "four"));
    harness.send(subscriber, Packet::PubAck(PublishAck::new(id(1))));
    assert_eq!(about_subscriptions_and_messages(&mut harness), [published("pub", "v", QoS::AtMostOnce, 0)]);
}

#[test]
fn subscriptions_are_reported_as_granted_and_deleted_and_messages_only_when_asked() {
    let options = BrokerOptions { maximum_qos: QoS::AtLeastOnce, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let (subscriber, publisher) = subscriber_and_publisher(&mut harness);
    harness.send(publisher, publish("t/1", QoS::AtLeastOnce, 1, "one"));
    harness.send(subscriber, unsubscribe(2, &["u", "never-subscribed"]));
    assert_eq!(
        about_subscriptions_and_messages(&mut harness),
        [
            subscribed("sub", "t/#", QoS::AtLeastOnce),
            subscribed("sub", "u", QoS::AtMostOnce),
            Event::Unsubscribed { client_id: string("sub"), filter: string("u") },
        ],
        "the QoS granted, not the one asked for; only a filter that was subscribed is deleted; no message events"
    );
}
