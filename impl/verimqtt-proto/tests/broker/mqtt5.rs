//! What MQTT 5 adds: flow control both ways, Maximum Packet Size both ways, topic aliases,
//! Message Expiry Interval, properties passed through, reason strings.

use std::num::NonZeroU16;

use std::num::NonZeroU32;

use verimqtt_proto::broker::{
    Authentication, BrokerOptions, CloseReason, DropReason, Event, ProtocolError, ProtocolViolation,
};
use verimqtt_proto::codec::{Binary, Packet, PayloadFormat, PublishAck, QoS, ReasonCode, SubscriptionId};

use crate::harness::*;

fn disconnect_code(harness: &mut Harness, client: Client) -> ReasonCode {
    match harness.recv(client).last() {
        Some(Packet::Disconnect(disconnect)) => disconnect.reason_code,
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
}

fn violation(harness: &mut Harness, client: Client) -> ProtocolViolation {
    match harness.close_reason(client) {
        Some(CloseReason::ProtocolError(ProtocolError { violation, .. })) => violation,
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn the_broker_sends_no_more_than_the_clients_receive_maximum() {
    // [MQTT-3.3.4-9], [MQTT-4.9.0-1], [MQTT-4.9.0-2]
    let mut harness = Harness::new();
    let mut request = connect(V5, "slow");
    request.properties.receive_maximum = Some(non_zero(2));
    let (client, _) = harness.connect_with(request);
    harness.send(client, subscribe(1, &[("t", QoS::ExactlyOnce)]));
    harness.recv(client);
    let publisher = harness.connect("pub", V5);
    for n in 1..=5 {
        harness.send(publisher, publish("t", QoS::AtLeastOnce, n, "x"));
    }
    let first = harness.recv_publishes(client);
    assert_eq!(first.len(), 2);
    harness.send(client, Packet::PubAck(PublishAck::new(first[0].packet_id.unwrap())));
    assert_eq!(harness.recv_publishes(client).len(), 1);
}

#[test]
fn other_packets_flow_while_the_receive_maximum_is_reached() {
    // [MQTT-3.3.4-10], [MQTT-4.9.0-3]
    let mut harness = Harness::new();
    let mut request = connect(V5, "slow");
    request.properties.receive_maximum = Some(non_zero(1));
    let (client, _) = harness.connect_with(request);
    harness.send(client, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    harness.recv(client);
    harness.send(client, publish("t", QoS::AtLeastOnce, 1, "a"));
    harness.send(client, publish("t", QoS::AtLeastOnce, 2, "b"));
    harness.send(client, Packet::PingReq);
    let packets = harness.recv(client);
    assert_eq!(packets.iter().filter(|packet| matches!(packet, Packet::Publish(_))).count(), 1);
    assert!(packets.contains(&Packet::PingResp));
    assert_eq!(packets.iter().filter(|packet| matches!(packet, Packet::PubAck(_))).count(), 2);
}

#[test]
fn a_client_over_the_brokers_receive_maximum_is_disconnected_with_0x93() {
    // [MQTT-3.3.4-7] binds the client; MQTT 5 section 3.3.4 has the server send 0x93.
    let options = BrokerOptions { receive_maximum: non_zero(2), ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let client = harness.connect("eager", V5);
    for n in 1..=2 {
        harness.send(client, publish("t", QoS::ExactlyOnce, n, "x"));
    }
    assert!(harness.is_open(client));
    harness.send(client, publish("t", QoS::ExactlyOnce, 3, "x"));
    assert_eq!(disconnect_code(&mut harness, client), ReasonCode::ReceiveMaximumExceeded);
    assert_eq!(violation(&mut harness, client), ProtocolViolation::ReceiveMaximumExceeded { maximum: 2 });
}

#[test]
fn completed_qos2_flows_free_the_brokers_receive_maximum() {
    let options = BrokerOptions { receive_maximum: non_zero(1), ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let client = harness.connect("steady", V5);
    for n in 1..=5 {
        harness.send(client, publish("t", QoS::ExactlyOnce, n, "x"));
        harness.send(client, pubrel(n));
    }
    assert!(harness.is_open(client));
}

#[test]
fn a_message_too_large_for_the_client_is_dropped_and_accounted() {
    // [MQTT-3.1.2-24], [MQTT-3.1.2-25] (5.0)
    let mut harness = Harness::new();
    let mut request = connect(V5, "small");
    request.properties.maximum_packet_size = NonZeroU32::new(32);
    let (client, _) = harness.connect_with(request);
    harness.send(client, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    harness.recv(client);
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "this payload does not fit in 32 bytes at all"));
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 2, "fits"));
    let received = harness.recv_publishes(client);
    assert_eq!(payloads(&received), [b"fits"]);
    // The dropped message took no place in the window: the broker goes on as if it was sent.
    assert_eq!(harness.broker.stats().messages_dropped, 1);
    assert!(
        harness
            .events()
            .iter()
            .any(|event| matches!(event, Event::MessageDropped { reason: DropReason::PacketTooLarge, .. }))
    );
}

#[test]
fn a_packet_over_the_brokers_maximum_packet_size_is_disconnected_with_0x95() {
    let options = BrokerOptions { max_packet_size: 64, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let client = harness.connect("big", V5);
    harness.send(
        client,
        publish("t", QoS::AtMostOnce, 0, "a payload long enough to take this publish over sixty-four bytes"),
    );
    assert_eq!(disconnect_code(&mut harness, client), ReasonCode::PacketTooLarge);
}

#[test]
fn an_inbound_topic_alias_is_set_by_a_publish_with_a_topic_and_used_by_one_without() {
    // MQTT 5 section 3.3.2.3.4; [MQTT-3.3.2-12]
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V5, "sensors/#", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V5);
    let mut first = publish_packet("sensors/kitchen/temperature", QoS::AtMostOnce, 0, "21");
    first.properties.topic_alias = Some(non_zero(3));
    harness.send(publisher, Packet::Publish(first));
    let mut second = publish_packet("x", QoS::AtMostOnce, 0, "22");
    second.topic = Default::default();
    second.properties.topic_alias = Some(non_zero(3));
    harness.send(publisher, Packet::Publish(second));
    let received = harness.recv_publishes(sub);
    assert_eq!(received.len(), 2);
    for publish in &received {
        assert_eq!(publish.topic, "sensors/kitchen/temperature");
        assert_eq!(publish.properties.topic_alias, None, "an alias belongs to one connection [MQTT-3.3.2-7]");
    }
}

#[test]
fn an_alias_above_the_topic_alias_maximum_is_disconnected_with_0x94() {
    let options = BrokerOptions { topic_alias_maximum: 2, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let client = harness.connect("c", V5);
    let mut message = publish_packet("t", QoS::AtMostOnce, 0, "x");
    message.properties.topic_alias = Some(non_zero(3));
    harness.send(client, Packet::Publish(message));
    assert_eq!(disconnect_code(&mut harness, client), ReasonCode::TopicAliasInvalid);
}

#[test]
fn an_alias_that_stands_for_nothing_yet_is_a_protocol_error() {
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    let mut message = publish_packet("t", QoS::AtMostOnce, 0, "x");
    message.topic = Default::default();
    message.properties.topic_alias = Some(non_zero(1));
    harness.send(client, Packet::Publish(message));
    assert_eq!(disconnect_code(&mut harness, client), ReasonCode::ProtocolError);
    assert_eq!(
        violation(&mut harness, client),
        ProtocolViolation::UnknownTopicAlias { alias: NonZeroU16::new(1).unwrap() }
    );
}

#[test]
fn topic_aliases_do_not_carry_over_to_a_new_connection() {
    // [MQTT-3.3.2-7]
    let mut harness = Harness::new();
    let (client, _) = harness.connect_with(persistent(V5, "c"));
    let mut first = publish_packet("t", QoS::AtMostOnce, 0, "x");
    first.properties.topic_alias = Some(non_zero(1));
    harness.send(client, Packet::Publish(first));
    harness.cut(client);
    let (client, _) = harness.connect_with(persistent(V5, "c"));
    let mut second = publish_packet("t", QoS::AtMostOnce, 0, "x");
    second.topic = Default::default();
    second.properties.topic_alias = Some(non_zero(1));
    harness.send(client, Packet::Publish(second));
    assert!(!harness.is_open(client));
}

#[test]
fn outbound_topic_aliases_stay_within_the_clients_maximum() {
    // [MQTT-3.1.2-26], [MQTT-3.3.2-11]
    let options = BrokerOptions { outbound_topic_aliases: true, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let mut request = connect(V5, "aliased");
    request.properties.topic_alias_maximum = Some(1);
    let (client, _) = harness.connect_with(request);
    harness.send(client, subscribe(1, &[("#", QoS::AtMostOnce)]));
    harness.recv(client);
    let publisher = harness.connect("pub", V5);
    for topic in ["a/long/topic", "a/long/topic", "another"] {
        harness.send(publisher, publish(topic, QoS::AtMostOnce, 0, "x"));
    }
    let received = harness.recv_publishes(client);
    let seen: Vec<(String, Option<u16>)> = received
        .iter()
        .map(|publish| (publish.topic.to_string(), publish.properties.topic_alias.map(|alias| alias.get())))
        .collect();
    assert_eq!(seen, [("a/long/topic".to_string(), Some(1)), (String::new(), Some(1)), ("another".to_string(), None)]);
}

#[test]
fn no_topic_alias_goes_to_a_client_that_accepts_none() {
    // [MQTT-3.1.2-27]
    let options = BrokerOptions { outbound_topic_aliases: true, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let sub = subscriber(&mut harness, "sub", V5, "t", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "x"));
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "x"));
    assert!(harness.recv_publishes(sub).iter().all(|publish| publish.properties.topic_alias.is_none()));
}

#[test]
fn a_queued_message_whose_expiry_passes_is_not_delivered() {
    // [MQTT-3.3.2-5]
    let mut harness = Harness::new();
    let (sub, _) = harness.connect_with(persistent(V5, "sub"));
    harness.send(sub, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    harness.recv(sub);
    harness.cut(sub);
    let publisher = harness.connect("pub", V5);
    let mut short = publish_packet("t", QoS::AtLeastOnce, 1, "short");
    short.properties.message_expiry_interval = Some(5);
    let mut long = publish_packet("t", QoS::AtLeastOnce, 2, "long");
    long.properties.message_expiry_interval = Some(50);
    harness.send(publisher, Packet::Publish(short));
    harness.send(publisher, Packet::Publish(long));
    harness.advance(secs(8));
    let (sub, _) = harness.connect_with(persistent(V5, "sub"));
    let received = harness.recv_publishes(sub);
    assert_eq!(payloads(&received), [b"long"]);
    // [MQTT-3.3.2-6]: sent with what is left.
    assert_eq!(received[0].properties.message_expiry_interval, Some(42));
}

#[test]
fn request_response_and_user_properties_pass_through_unchanged() {
    // [MQTT-3.3.2-4], [MQTT-3.3.2-15] to [MQTT-3.3.2-18], [MQTT-3.3.2-20]
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V5, "requests", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V5);
    let mut request = publish_packet("requests", QoS::AtMostOnce, 0, "ping?");
    let properties = &mut request.properties;
    properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    properties.content_type = Some(string("text/plain"));
    properties.response_topic = Some(string("replies/pub"));
    properties.correlation_data = Some(Binary::from_static(b"\x00\x01corr").unwrap());
    properties.user_properties =
        vec![(string("z"), string("last")), (string("a"), string("first")), (string("z"), string("again"))];
    let sent = request.properties.clone();
    harness.send(publisher, Packet::Publish(request));
    let received = harness.recv_publishes(sub);
    assert_eq!(received[0].properties, sent);
}

#[test]
fn a_3_1_1_subscriber_gets_a_5_0_message_without_properties() {
    let mut harness = Harness::new();
    let old = subscriber(&mut harness, "old", V311, "t", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V5);
    let mut message = publish_packet("t", QoS::AtMostOnce, 0, "x");
    message.properties.user_properties = vec![(string("k"), string("v"))];
    message.properties.message_expiry_interval = Some(60);
    harness.send(publisher, Packet::Publish(message));
    let received = harness.recv_publishes(old);
    assert_eq!(payloads(&received), [b"x"]);
    assert!(received[0].properties.is_empty());
}

#[test]
fn a_subscription_identifier_on_a_publish_from_a_client_is_a_protocol_error() {
    // [MQTT-3.3.4-6]
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    let mut message = publish_packet("t", QoS::AtMostOnce, 0, "x");
    message.properties.subscription_identifiers = vec![SubscriptionId::new(1).unwrap()];
    harness.send(client, Packet::Publish(message));
    assert_eq!(violation(&mut harness, client), ProtocolViolation::SubscriptionIdentifierFromClient);
}

#[test]
fn a_publish_above_the_maximum_qos_is_disconnected_with_0x9b() {
    // [MQTT-3.2.2-11] binds the client; the server answers 0x9B (section 3.2.2.3.4).
    let options = BrokerOptions { maximum_qos: QoS::AtLeastOnce, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let client = harness.connect("c", V5);
    harness.send(client, publish("t", QoS::ExactlyOnce, 1, "x"));
    assert_eq!(disconnect_code(&mut harness, client), ReasonCode::QosNotSupported);
}

#[test]
fn puback_says_when_no_one_was_subscribed() {
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    harness.send(client, publish("nobody/listens", QoS::AtLeastOnce, 1, "x"));
    let mut expected = PublishAck::new(id(1));
    expected.reason_code = ReasonCode::NoMatchingSubscribers;
    assert_eq!(harness.recv_one(client), Packet::PubAck(expected));
}

#[test]
fn a_payload_that_is_not_the_utf8_it_claims_is_refused_with_0x99() {
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V5, "t", QoS::AtLeastOnce);
    let publisher = harness.connect("pub", V5);
    let mut message = publish_packet("t", QoS::AtLeastOnce, 1, "x");
    message.payload = bytes::Bytes::from_static(b"\xff\xfe");
    message.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    harness.send(publisher, Packet::Publish(message));
    match harness.recv_one(publisher) {
        Packet::PubAck(ack) => assert_eq!(ack.reason_code, ReasonCode::PayloadFormatInvalid),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    harness.recv_nothing(sub);
}

#[test]
fn a_disconnect_for_a_protocol_error_carries_a_reason_string_naming_the_rule() {
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    harness.send(client, Packet::PingResp);
    match harness.recv_one(client) {
        Packet::Disconnect(disconnect) => {
            let reason = disconnect.properties.reason_string.clone().unwrap();
            assert!(reason.contains("PINGRESP") && reason.contains("[section 2.1.2]"), "{reason}");
        }
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
}

#[test]
fn with_request_problem_information_0_no_reason_string_goes_on_an_acknowledgement() {
    // [MQTT-3.1.2-29]: PUBACK loses its Reason String; DISCONNECT keeps it.
    struct Refuse;
    impl verimqtt_proto::broker::Policy for Refuse {
        fn authenticate(
            &mut self,
            _: &verimqtt_proto::codec::Connect,
            _listener: verimqtt_proto::broker::ListenerId,
        ) -> Authentication {
            Authentication::ACCEPTED
        }
        fn may_publish(&mut self, _: verimqtt_proto::broker::ClientInfo<'_>, _: &str) -> bool {
            false
        }
        fn may_subscribe(&mut self, _: verimqtt_proto::broker::ClientInfo<'_>, _: &str) -> bool {
            false
        }
    }
    for (asked, explained) in [(None, true), (Some(false), false)] {
        let mut harness = Harness::with_policy(BrokerOptions::default(), Refuse);
        let mut request = connect(V5, "c");
        request.properties.request_problem_information = asked;
        let (client, _) = harness.connect_with(request);
        harness.send(client, publish("t", QoS::AtLeastOnce, 1, "x"));
        match harness.recv_one(client) {
            Packet::PubAck(ack) => {
                assert_eq!(ack.reason_code, ReasonCode::NotAuthorized);
                assert_eq!(ack.properties.reason_string.is_some(), explained, "{asked:?}");
            }
            other => panic!("expected PUBACK, got {other:?}"),
        }
        harness.send(client, Packet::PingResp);
        match harness.recv_one(client) {
            Packet::Disconnect(disconnect) => assert!(disconnect.properties.reason_string.is_some()),
            other => panic!("expected DISCONNECT, got {other:?}"),
        }
    }
}
