//! The send path of QoS 0, 1 and 2: queued when accepted, in flight when written, released by
//! PUBACK or PUBCOMP (section 4.3).

use bytes::{Bytes, BytesMut};
use verimqtt_proto::client::{CommandError, Event, PublishState};
use verimqtt_proto::codec::{
    self, DecodeOptions, EncodeError, MqttString, Packet, Properties, PropertyValues, ProtocolVersion, PublishAck, QoS,
    ReasonCode,
};

use crate::harness::{Harness, SECOND, options, puback, pubcomp, publish_ids, pubrec, topic};

fn connected(version: ProtocolVersion) -> Harness {
    let mut h = Harness::new(options(version));
    h.connect(false);
    h
}

fn with_limits(max_in_flight: usize, max_queued: usize) -> Harness {
    let mut options = options(ProtocolVersion::V5);
    options.max_in_flight = max_in_flight;
    options.max_queued = max_queued;
    Harness::new(options)
}

fn topics(packets: &[Packet]) -> Vec<String> {
    packets
        .iter()
        .filter_map(|packet| match packet {
            Packet::Publish(publish) => Some(publish.topic.to_string()),
            _ => None,
        })
        .collect()
}

/// [MQTT-4.3.1-1], [MQTT-3.3.1-2]
#[test]
fn qos0_publish_is_written_once_with_dup_0_and_no_identifier() {
    let mut h = connected(ProtocolVersion::V5);
    let ticket = h.publish("a", QoS::AtMostOnce);
    assert_eq!(ticket.packet_id(), None);
    match h.sent().as_slice() {
        [Packet::Publish(publish)] => {
            assert_eq!((publish.qos, publish.dup, publish.packet_id), (QoS::AtMostOnce, false, None));
        }
        other => panic!("expected one PUBLISH, got {other:?}"),
    }
    assert_eq!((h.client.queued(), h.client.in_flight()), (0, 0));
    assert_eq!(h.client.publish_state(&ticket), None);
}

/// [MQTT-4.3.2-1] in 3.1.1; [MQTT-4.3.2-2], [MQTT-4.3.2-3] in 5.0.
#[test]
fn qos1_publish_is_queued_then_in_flight_when_written_then_released_by_puback() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut h = connected(version);
        h.socket_full = true;
        let ticket = h.publish("a", QoS::AtLeastOnce);
        let packet_id = ticket.packet_id().unwrap();
        assert_eq!(h.client.publish_state(&ticket), Some(PublishState::Queued));
        assert_eq!((h.client.queued(), h.client.in_flight()), (1, 0));
        h.socket_full = false;
        assert_eq!(publish_ids(&h.sent()), [(packet_id.get(), false)]);
        assert_eq!(h.client.publish_state(&ticket), Some(PublishState::AwaitingPubAck));
        assert_eq!((h.client.queued(), h.client.in_flight()), (0, 1));
        h.deliver(puback(packet_id));
        assert_eq!(h.events(), [Event::PubAck { ticket, ack: PublishAck::new(packet_id) }]);
        assert_eq!(h.client.publish_state(&ticket), None);
        assert_eq!(h.client.in_flight(), 0);
        assert_eq!(h.client.packet_ids_in_use().count(), 0);
    }
}

/// [MQTT-4.3.3-1] in 3.1.1; [MQTT-4.3.3-3], [MQTT-4.3.3-4], [MQTT-4.3.3-5] in 5.0.
#[test]
fn qos2_pubrec_sends_pubrel_and_pubcomp_releases_the_publish() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut h = connected(version);
        let ticket = h.publish("a", QoS::ExactlyOnce);
        let packet_id = ticket.packet_id().unwrap();
        assert_eq!(publish_ids(&h.sent()), [(packet_id.get(), false)]);
        assert_eq!(h.client.publish_state(&ticket), Some(PublishState::AwaitingPubRec));
        h.deliver(pubrec(packet_id));
        assert_eq!(h.sent(), [Packet::PubRel(PublishAck::new(packet_id))]);
        assert_eq!(h.events(), [Event::PubRec { ticket, ack: PublishAck::new(packet_id) }]);
        assert_eq!(h.client.publish_state(&ticket), Some(PublishState::AwaitingPubComp));
        assert_eq!(h.client.in_flight(), 1);
        h.deliver(pubcomp(packet_id));
        assert_eq!(h.events(), [Event::PubComp { ticket, ack: PublishAck::new(packet_id) }]);
        assert_eq!((h.client.in_flight(), h.client.packet_ids_in_use().count()), (0, 0));
    }
}

/// A PUBREC with a failure code completes the exchange: no PUBREL ([MQTT-4.3.3-4],
/// [MQTT-4.4.0-2]).
#[test]
fn failed_pubrec_completes_a_qos2_publish_without_pubrel() {
    let mut h = connected(ProtocolVersion::V5);
    let ticket = h.publish("a", QoS::ExactlyOnce);
    h.sent();
    let packet_id = ticket.packet_id().unwrap();
    let failure = PublishAck { reason_code: ReasonCode::QuotaExceeded, ..PublishAck::new(packet_id) };
    h.deliver(Packet::PubRec(failure.clone()));
    assert_eq!(h.sent(), []);
    assert_eq!(h.events(), [Event::PubRec { ticket, ack: failure }]);
    assert_eq!((h.client.in_flight(), h.client.packet_ids_in_use().count()), (0, 0));
}

#[test]
fn puback_failure_code_and_reason_string_are_surfaced() {
    let mut h = connected(ProtocolVersion::V5);
    let ticket = h.publish("a", QoS::AtLeastOnce);
    h.sent();
    let reason_string = MqttString::from_static("not on this topic").unwrap();
    let ack = PublishAck {
        packet_id: ticket.packet_id().unwrap(),
        reason_code: ReasonCode::NotAuthorized,
        properties: PropertyValues { reason_string: Some(reason_string), ..PropertyValues::default() }.into(),
    };
    h.deliver(Packet::PubAck(ack.clone()));
    assert_eq!(h.events(), [Event::PubAck { ticket, ack }]);
    assert_eq!(h.client.in_flight(), 0);
}

#[test]
fn a_publish_before_the_connack_waits_for_it() {
    let mut h = Harness::v5();
    h.open();
    h.publish("a", QoS::AtLeastOnce);
    h.publish("b", QoS::AtMostOnce);
    assert_eq!(h.sent(), []);
    h.deliver(Packet::ConnAck(codec::ConnAck::new(false, ReasonCode::Success)));
    assert_eq!(topics(&h.sent()), ["a", "b"]);
}

#[test]
fn a_qos1_publish_without_a_connection_waits_for_the_next_one() {
    let mut h = Harness::v311();
    let ticket = h.publish("a", QoS::AtLeastOnce);
    assert_eq!(h.client.publish_state(&ticket), Some(PublishState::Queued));
    h.connect(false);
    assert_eq!(publish_ids(&h.sent()), [(ticket.packet_id().unwrap().get(), false)]);
}

#[test]
fn a_qos0_publish_without_a_connection_is_refused() {
    let mut h = Harness::v311();
    let refused = h.client.publish(h.now, topic("a"), Bytes::new(), QoS::AtMostOnce, false, Properties::default());
    assert_eq!(refused, Err(CommandError::NoConnection));
    assert_eq!(h.client.queued(), 0);
}

/// haka-mqtt: a full socket buffer must not duplicate an in-flight publish. The transport took
/// one packet it could not write yet, then stopped polling while time passed and more was
/// published; once it drains, every packet appears exactly once.
#[test]
fn full_socket_buffer_never_duplicates_an_in_flight_publish() {
    let mut options = options(ProtocolVersion::V311);
    options.keep_alive = 10;
    let mut h = Harness::new(options);
    h.connect(false);
    h.socket_full = true;
    h.publish("a", QoS::AtLeastOnce);
    let held = h.client.poll_transmit().expect("the first PUBLISH");
    h.publish("b", QoS::AtLeastOnce);
    h.advance(10 * SECOND);
    h.publish("c", QoS::ExactlyOnce);
    h.advance(2 * SECOND);
    h.socket_full = false;
    let mut written = vec![decode(&held, ProtocolVersion::V311)];
    written.extend(h.sent());
    assert_eq!(publish_ids(&written), [(1, false), (2, false), (3, false)]);
    assert_eq!(written.iter().filter(|packet| **packet == Packet::PingReq).count(), 1);
    assert_eq!(h.client.in_flight(), 3);
    h.advance(2 * SECOND);
    assert_eq!(h.sent(), []);
}

fn decode(bytes: &Bytes, version: ProtocolVersion) -> Packet {
    codec::decode(&mut BytesMut::from(&bytes[..]), &DecodeOptions::new(version)).unwrap().unwrap()
}

#[test]
fn qos0_publishes_never_overtake_a_qos1_waiting_for_room() {
    let mut h = with_limits(1, 10);
    h.connect(false);
    let first = h.publish("a", QoS::AtLeastOnce);
    h.publish("b", QoS::AtLeastOnce);
    h.publish("c", QoS::AtMostOnce);
    assert_eq!(topics(&h.sent()), ["a"]);
    h.deliver(puback(first.packet_id().unwrap()));
    assert_eq!(topics(&h.sent()), ["b", "c"]);
}

#[test]
fn max_in_flight_holds_further_publishes_in_the_queue() {
    let mut h = with_limits(2, 10);
    h.connect(false);
    let tickets: Vec<_> = (0..5).map(|_| h.publish("a", QoS::AtLeastOnce)).collect();
    assert_eq!(publish_ids(&h.sent()), [(1, false), (2, false)]);
    assert_eq!((h.client.in_flight(), h.client.queued()), (2, 3));
    h.deliver(puback(tickets[0].packet_id().unwrap()));
    assert_eq!(publish_ids(&h.sent()), [(3, false)]);
    assert_eq!((h.client.in_flight(), h.client.queued()), (2, 2));
}

#[test]
fn a_full_queue_refuses_publish_and_takes_no_identifier() {
    let mut h = with_limits(10, 2);
    h.publish("a", QoS::AtLeastOnce);
    h.publish("b", QoS::AtLeastOnce);
    let refused = h.client.publish(h.now, topic("c"), Bytes::new(), QoS::AtLeastOnce, false, Properties::default());
    assert_eq!(refused, Err(CommandError::QueueFull { max: 2 }));
    assert_eq!(h.client.queued(), 2);
    assert_eq!(h.client.packet_ids_in_use().count(), 2);
}

#[test]
fn publishes_go_out_in_the_order_they_were_accepted() {
    let mut h = connected(ProtocolVersion::V5);
    h.socket_full = true;
    for (name, qos) in
        [("a", QoS::AtMostOnce), ("b", QoS::ExactlyOnce), ("c", QoS::AtLeastOnce), ("d", QoS::AtMostOnce)]
    {
        h.publish(name, qos);
    }
    h.socket_full = false;
    assert_eq!(topics(&h.sent()), ["a", "b", "c", "d"]);
}

#[test]
fn retain_flag_payload_and_properties_go_as_given() {
    let mut h = connected(ProtocolVersion::V5);
    let properties: Properties = PropertyValues {
        content_type: Some(MqttString::from_static("text/plain").unwrap()),
        user_properties: vec![(MqttString::from_static("k").unwrap(), MqttString::from_static("v").unwrap())],
        ..PropertyValues::default()
    }
    .into();
    let payload = Bytes::from_static(b"21.5");
    h.client.publish(h.now, topic("a"), payload.clone(), QoS::AtMostOnce, true, properties.clone()).unwrap();
    match h.sent().as_slice() {
        [Packet::Publish(publish)] => {
            assert!(publish.retain);
            assert_eq!((&publish.payload, &publish.properties), (&payload, &properties));
        }
        other => panic!("expected one PUBLISH, got {other:?}"),
    }
}

/// [MQTT-3.3.2-2]
#[test]
fn publish_to_a_topic_with_a_wildcard_is_refused() {
    let mut h = connected(ProtocolVersion::V311);
    let refused = h.client.publish(h.now, topic("a/+"), Bytes::new(), QoS::AtLeastOnce, false, Properties::default());
    assert!(matches!(refused, Err(CommandError::Invalid(EncodeError::Invalid(_)))), "{refused:?}");
    assert_eq!((h.client.queued(), h.client.packet_ids_in_use().count()), (0, 0));
}

#[test]
fn publish_with_properties_is_refused_in_3_1_1() {
    let mut h = connected(ProtocolVersion::V311);
    let properties = PropertyValues { message_expiry_interval: Some(5), ..PropertyValues::default() }.into();
    let refused = h.client.publish(h.now, topic("a"), Bytes::new(), QoS::AtMostOnce, false, properties);
    assert!(matches!(refused, Err(CommandError::Invalid(EncodeError::NotInVersion { .. }))), "{refused:?}");
}
