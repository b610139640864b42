//! One packet identifier allocator for PUBLISH, SUBSCRIBE and UNSUBSCRIBE: never 0, never one
//! in use ([MQTT-2.3.1-1], [MQTT-2.3.1-2] in 3.1.1; [MQTT-2.2.1-3] in 5.0), and exhaustion is
//! an error the caller sees.

use bytes::Bytes;
use verimqtt_proto::client::CommandError;
use verimqtt_proto::codec::{Packet, Properties, ProtocolVersion, QoS, ReasonCode};

use crate::harness::{Harness, options, puback, publish_ids, suback, topic, unsuback};

#[test]
fn publish_subscribe_and_unsubscribe_share_one_allocator() {
    let mut h = Harness::v311();
    h.connect(false);
    let publish = h.publish("a", QoS::AtLeastOnce).packet_id().unwrap();
    let subscribe = h.subscribe("a/#");
    let unsubscribe = h.unsubscribe("b/#");
    let ids = [publish.get(), subscribe.get(), unsubscribe.get()];
    assert_eq!(ids, [1, 2, 3]);
    let in_use: Vec<_> = h.client.packet_ids_in_use().map(|id| id.get()).collect();
    assert_eq!(in_use, ids);
    let sent = h.sent();
    assert!(matches!(&sent[..], [Packet::Publish(_), Packet::Subscribe(s), Packet::Unsubscribe(u)]
        if s.packet_id == subscribe && u.packet_id == unsubscribe));
}

#[test]
fn an_identifier_is_free_again_only_once_its_exchange_is_done() {
    let mut h = Harness::v311();
    h.connect(false);
    let subscribe = h.subscribe("a");
    let unsubscribe = h.unsubscribe("a");
    let publish = h.publish("a", QoS::AtLeastOnce).packet_id().unwrap();
    h.deliver(suback(subscribe, vec![ReasonCode::GrantedQos1]));
    h.deliver(unsuback(unsubscribe, vec![]));
    assert_eq!(h.client.packet_ids_in_use().collect::<Vec<_>>(), [publish]);
    h.deliver(puback(publish));
    assert_eq!(h.client.packet_ids_in_use().count(), 0);
}

/// Identifiers go round the whole space; those still in use when it comes back are skipped.
#[test]
fn identifiers_in_use_are_skipped_when_the_allocator_comes_round() {
    let mut h = Harness::v5();
    h.connect(false);
    let long_lived: Vec<_> = (0..10).map(|_| h.publish("a", QoS::ExactlyOnce).packet_id().unwrap()).collect();
    for round in 0..70_000 {
        let packet_id = h.publish("a", QoS::AtLeastOnce).packet_id().unwrap();
        assert!(!long_lived.contains(&packet_id), "round {round}: {packet_id} is still in use");
        h.deliver(puback(packet_id));
        h.events();
        h.sent();
    }
    assert_eq!(h.client.packet_ids_in_use().collect::<Vec<_>>(), long_lived);
}

#[test]
fn exhaustion_is_an_error_the_caller_sees_and_nothing_is_reused() {
    let mut options = options(ProtocolVersion::V311);
    options.max_queued = 70_000;
    options.max_in_flight = 1;
    let mut h = Harness::new(options);
    h.connect(false);
    h.socket_full = true;
    let publish =
        |h: &mut Harness, qos| h.client.publish(h.now, topic("a"), Bytes::new(), qos, false, Properties::default());
    for _ in 0..u16::MAX {
        publish(&mut h, QoS::AtLeastOnce).unwrap();
    }
    assert_eq!(publish(&mut h, QoS::ExactlyOnce), Err(CommandError::PacketIdsExhausted));
    let filter = vec![verimqtt_proto::codec::Subscription {
        filter: topic("a"),
        options: verimqtt_proto::codec::SubscriptionOptions::default(),
    }];
    assert_eq!(h.client.subscribe(h.now, filter, Properties::default()), Err(CommandError::PacketIdsExhausted));
    // QoS 0 needs no identifier.
    assert!(publish(&mut h, QoS::AtMostOnce).is_ok());
    // The one written and acknowledged gives its identifier back, and only that one is free.
    h.socket_full = false;
    let first = publish_ids(&h.sent())[0].0;
    h.deliver(puback(crate::harness::id(first)));
    assert_eq!(publish(&mut h, QoS::AtLeastOnce).unwrap().packet_id().map(|id| id.get()), Some(first));
    assert_eq!(publish(&mut h, QoS::AtLeastOnce), Err(CommandError::PacketIdsExhausted));
}
