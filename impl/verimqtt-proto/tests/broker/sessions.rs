//! Sessions: clean and persistent, messages queued while the client is offline, MQTT 5
//! Session Expiry Interval.

use verimqtt_proto::broker::{BrokerOptions, CloseReason, DropReason, Event, ProtocolError, ProtocolViolation};
use verimqtt_proto::codec::{Disconnect, Packet, QoS, ReasonCode};

use crate::harness::*;

fn offline_subscriber(harness: &mut Harness, version: verimqtt_proto::codec::ProtocolVersion) {
    let (client, _) = harness.connect_with(persistent(version, "sub"));
    harness.send(client, subscribe(1, &[("t", QoS::ExactlyOnce)]));
    harness.recv(client);
    harness.cut(client);
}

#[test]
fn a_persistent_session_queues_qos1_and_qos2_messages_while_offline() {
    // [MQTT-3.1.2-5] (3.1.1), [MQTT-3.1.2-23] (5.0)
    for version in [V311, V5] {
        let mut harness = Harness::new();
        offline_subscriber(&mut harness, version);
        let publisher = harness.connect("pub", version);
        harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "zero"));
        harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "one"));
        harness.send(publisher, publish("t", QoS::ExactlyOnce, 2, "two"));
        let (client, connack) = harness.connect_with(persistent(version, "sub"));
        assert!(connack.session_present);
        let received = harness.recv_publishes(client);
        assert_eq!(payloads(&received), [&b"one"[..], b"two"], "QoS 0 is not queued by default");
        assert!(received.iter().all(|publish| !publish.dup), "first transmissions");
    }
}

#[test]
fn qos0_messages_are_queued_offline_when_the_options_say_so() {
    let options = BrokerOptions { queue_qos0_offline: true, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    offline_subscriber(&mut harness, V311);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "zero"));
    let (client, _) = harness.connect_with(persistent(V311, "sub"));
    assert_eq!(payloads(&harness.recv_publishes(client)), [b"zero"]);
}

#[test]
fn subscriptions_survive_in_a_persistent_session() {
    // [MQTT-3.1.2-4] (3.1.1), [MQTT-3.1.2-5] (5.0)
    let mut harness = Harness::new();
    offline_subscriber(&mut harness, V5);
    let (client, _) = harness.connect_with(persistent(V5, "sub"));
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "x"));
    assert_eq!(harness.recv_publishes(client).len(), 1);
}

#[test]
fn a_clean_session_ends_with_its_connection() {
    // [MQTT-3.1.2-6] (3.1.1); MQTT 5 with Session Expiry Interval 0.
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let client = harness.connect("c", version);
        assert_eq!(harness.broker.stats().sessions, 1);
        harness.cut(client);
        assert_eq!(harness.broker.stats().sessions, 0);
        assert_eq!(harness.broker.stats().subscriptions, 0);
    }
}

#[test]
fn clean_start_0_without_expiry_in_5_0_ends_the_session_at_disconnect() {
    // MQTT 5: an absent Session Expiry Interval is 0.
    let mut harness = Harness::new();
    let mut request = connect(V5, "c");
    request.clean_start = false;
    let (client, _) = harness.connect_with(request.clone());
    harness.cut(client);
    let (_, connack) = harness.connect_with(request);
    assert!(!connack.session_present);
}

#[test]
fn a_session_expires_once_its_interval_passes_offline() {
    // [MQTT-4.1.0-2] (5.0)
    let mut harness = Harness::new();
    let mut request = persistent(V5, "c");
    request.properties.session_expiry_interval = Some(30);
    let (client, _) = harness.connect_with(request.clone());
    harness.cut(client);
    harness.advance(secs(29));
    assert_eq!(harness.broker.stats().sessions, 1);
    harness.advance(secs(1));
    assert_eq!(harness.broker.stats().sessions, 0);
    assert!(
        harness.events().iter().any(|event| matches!(event, Event::SessionExpired { client_id } if client_id == "c"))
    );
    let (_, connack) = harness.connect_with(request);
    assert!(!connack.session_present);
}

#[test]
fn a_session_never_expires_while_connected() {
    // [MQTT-4.1.0-1]
    let mut harness = Harness::new();
    let mut request = persistent(V5, "c");
    request.properties.session_expiry_interval = Some(1);
    let (client, _) = harness.connect_with(request);
    harness.advance(secs(3600));
    assert!(harness.is_open(client));
    assert_eq!(harness.broker.stats().sessions, 1);
}

#[test]
fn the_broker_caps_the_session_expiry_and_says_so() {
    let options = BrokerOptions { max_session_expiry_interval: 10, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let (client, connack) = harness.connect_with(persistent(V5, "c"));
    assert_eq!(connack.properties.session_expiry_interval, Some(10));
    harness.cut(client);
    harness.advance(secs(10));
    assert_eq!(harness.broker.stats().sessions, 0);
}

#[test]
fn the_expiry_cap_also_ends_3_1_1_persistent_sessions() {
    let options = BrokerOptions { max_session_expiry_interval: 10, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let (client, _) = harness.connect_with(persistent(V311, "c"));
    harness.cut(client);
    harness.advance(secs(10));
    assert_eq!(harness.broker.stats().sessions, 0);
}

#[test]
fn disconnect_can_change_the_session_expiry_interval() {
    let mut harness = Harness::new();
    let (client, _) = harness.connect_with(persistent(V5, "c"));
    let mut disconnect = Disconnect::default();
    disconnect.properties.session_expiry_interval = Some(0);
    harness.send(client, Packet::Disconnect(disconnect));
    assert_eq!(harness.broker.stats().sessions, 0);
}

#[test]
fn disconnect_setting_an_expiry_after_connect_set_0_is_a_protocol_error() {
    // MQTT 5 section 3.14.2.2.2
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    let mut disconnect = Disconnect::default();
    disconnect.properties.session_expiry_interval = Some(60);
    harness.send(client, Packet::Disconnect(disconnect));
    assert!(matches!(
        harness.close_reason(client),
        Some(CloseReason::ProtocolError(ProtocolError { violation: ProtocolViolation::SessionExpiryAfterZero, .. }))
    ));
    match harness.recv_one(client) {
        Packet::Disconnect(disconnect) => assert_eq!(disconnect.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
}

#[test]
fn disconnect_may_set_an_expiry_when_connect_asked_for_one_the_broker_capped_to_0() {
    let options = BrokerOptions { max_session_expiry_interval: 0, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let (client, _) = harness.connect_with(persistent(V5, "c"));
    let mut disconnect = Disconnect::default();
    disconnect.properties.session_expiry_interval = Some(60);
    harness.send(client, Packet::Disconnect(disconnect));
    assert_eq!(
        harness.close_reason(client),
        Some(CloseReason::ClientDisconnected { reason_code: ReasonCode::Success })
    );
    assert_eq!(harness.broker.stats().sessions, 0, "still capped to 0");
}

#[test]
fn a_full_queue_drops_new_messages_for_that_session_and_reports_them() {
    let options = BrokerOptions { max_queued_messages: 2, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    offline_subscriber(&mut harness, V311);
    let other = subscriber(&mut harness, "other", V311, "t", QoS::AtLeastOnce);
    let publisher = harness.connect("pub", V311);
    for n in 1..=3 {
        harness.send(publisher, publish("t", QoS::AtLeastOnce, n, ["a", "b", "c"][usize::from(n - 1)]));
    }
    assert_eq!(harness.recv_publishes(other).len(), 3, "another session is not affected");
    let dropped: Vec<_> = harness
        .events()
        .into_iter()
        .filter(|event| matches!(event, Event::MessageDropped { reason: DropReason::QueueFull, .. }))
        .collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(harness.broker.stats().messages_dropped, 1);
    assert_eq!(harness.broker.stats().messages_dropped_by.queue_full, 1);
    let (client, _) = harness.connect_with(persistent(V311, "sub"));
    assert_eq!(payloads(&harness.recv_publishes(client)), [&b"a"[..], b"b"]);
}

#[test]
fn a_message_queued_for_an_offline_session_counts_its_wait_in_the_latency_histogram() {
    let mut harness = Harness::new();
    offline_subscriber(&mut harness, V5);
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "waited"));
    harness.advance(secs(5));
    let (client, _) = harness.connect_with(persistent(V5, "sub"));
    assert_eq!(payloads(&harness.recv_publishes(client)), [b"waited"]);
    let latency = harness.broker.stats().delivery_latency;
    // Five seconds: above the 1 s bound, within the 10 s one.
    assert_eq!(latency.counts, [0, 0, 0, 0, 1, 0, 0, 0], "{latency:?}");
    assert_eq!(latency.sum_micros, 5_000_000);
}
