//! The will message: published when a connection ends any way but DISCONNECT 0x00, after
//! its Will Delay Interval unless the session resumes first.

use verimqtt_proto::broker::{Authentication, Event};
use verimqtt_proto::codec::{Binary, Connect, Disconnect, Packet, ProtocolVersion, QoS, ReasonCode, Will};

use crate::harness::*;

pub fn will(topic: &str, qos: QoS, retain: bool) -> Will {
    Will {
        topic: string(topic),
        payload: Binary::from_static(b"gone").unwrap(),
        qos,
        retain,
        properties: Default::default(),
    }
}

fn with_will(version: ProtocolVersion, client_id: &str, keep_alive: u16) -> Connect {
    let mut request = connect(version, client_id);
    request.keep_alive = keep_alive;
    request.will = Some(will("last/words", QoS::AtLeastOnce, false));
    request
}

fn delayed_will(client_id: &str, delay: u32, session_expiry: u32) -> Connect {
    let mut request = with_will(V5, client_id, 0);
    request.clean_start = false;
    request.properties.session_expiry_interval = Some(session_expiry);
    if let Some(will) = &mut request.will {
        will.properties.will_delay_interval = Some(delay);
    }
    request
}

fn watcher(harness: &mut Harness, version: ProtocolVersion) -> Client {
    subscriber(harness, "watcher", version, "last/#", QoS::AtLeastOnce)
}

#[test]
fn the_will_is_published_when_the_connection_is_lost() {
    // [MQTT-3.1.2-8] (3.1.1 and 5.0)
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let watcher = watcher(&mut harness, version);
        let (client, _) = harness.connect_with(with_will(version, "mortal", 0));
        harness.cut(client);
        let received = harness.recv_publishes(watcher);
        assert_eq!(payloads(&received), [b"gone"]);
        assert_eq!(received[0].topic, "last/words");
        assert_eq!(received[0].qos, QoS::AtLeastOnce);
    }
}

#[test]
fn the_will_is_published_when_keep_alive_expires() {
    let mut harness = Harness::new();
    let watcher = watcher(&mut harness, V311);
    harness.connect_with(with_will(V311, "mortal", 2));
    harness.advance(secs(3));
    assert_eq!(harness.recv_publishes(watcher).len(), 1);
}

#[test]
fn the_will_is_published_when_the_broker_closes_for_a_protocol_error() {
    let mut harness = Harness::new();
    let watcher = watcher(&mut harness, V5);
    let (client, _) = harness.connect_with(with_will(V5, "mortal", 0));
    harness.send(client, Packet::Connect(Box::new(connect(V5, "mortal"))));
    assert!(!harness.is_open(client));
    assert_eq!(harness.recv_publishes(watcher).len(), 1);
}

#[test]
fn the_will_is_not_published_after_disconnect_0x00() {
    // [MQTT-3.1.2-10], [MQTT-3.14.4-3] (3.1.1); [MQTT-3.1.2-10], [MQTT-3.14.4-3] (5.0)
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let watcher = watcher(&mut harness, version);
        let (client, _) = harness.connect_with(with_will(version, "polite", 0));
        harness.send(client, Packet::Disconnect(Disconnect::default()));
        harness.cut(client);
        harness.recv_nothing(watcher);
    }
}

#[test]
fn disconnect_0x04_asks_for_the_will_to_be_published() {
    let mut harness = Harness::new();
    let watcher = watcher(&mut harness, V5);
    let (client, _) = harness.connect_with(with_will(V5, "dramatic", 0));
    harness.send(client, Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage)));
    assert_eq!(harness.recv_publishes(watcher).len(), 1);
}

#[test]
fn no_will_is_published_for_a_connect_without_one() {
    // [MQTT-3.1.2-12] (3.1.1)
    let mut harness = Harness::new();
    let watcher = subscriber(&mut harness, "watcher", V311, "#", QoS::AtLeastOnce);
    let client = harness.connect("quiet", V311);
    harness.cut(client);
    harness.recv_nothing(watcher);
}

#[test]
fn a_retained_will_is_published_retained() {
    // [MQTT-3.1.2-17] (3.1.1), [MQTT-3.1.2-15] (5.0); [MQTT-3.1.2-16] and [MQTT-3.1.2-14]
    // for the non-retained case above.
    let mut harness = Harness::new();
    let mut request = with_will(V311, "mortal", 0);
    request.will = Some(will("last/words", QoS::AtMostOnce, true));
    let (client, _) = harness.connect_with(request);
    harness.cut(client);
    let late = harness.connect("late", V311);
    harness.send(late, subscribe(1, &[("last/words", QoS::AtMostOnce)]));
    match &harness.recv(late)[..] {
        [Packet::SubAck(_), Packet::Publish(publish)] => assert!(publish.retain && publish.payload == "gone"),
        other => panic!("expected the retained will, got {other:?}"),
    }
}

#[test]
fn the_will_keeps_its_properties_and_user_properties_in_order() {
    // [MQTT-3.1.3-10]
    let mut harness = Harness::new();
    let watcher = watcher(&mut harness, V5);
    let mut request = with_will(V5, "mortal", 0);
    if let Some(will) = &mut request.will {
        will.properties.content_type = Some(string("text/plain"));
        will.properties.user_properties = vec![(string("b"), string("2")), (string("a"), string("1"))];
        will.properties.will_delay_interval = Some(0);
    }
    let (client, _) = harness.connect_with(request);
    harness.cut(client);
    let received = harness.recv_publishes(watcher);
    let properties = &received[0].properties;
    assert_eq!(properties.content_type, Some(string("text/plain")));
    assert_eq!(properties.user_properties, vec![(string("b"), string("2")), (string("a"), string("1"))]);
}

#[test]
fn a_delayed_will_is_published_when_the_delay_passes() {
    // [MQTT-3.1.2-8] (5.0)
    let mut harness = Harness::new();
    let watcher = watcher(&mut harness, V5);
    let (client, _) = harness.connect_with(delayed_will("late", 10, 3600));
    harness.cut(client);
    harness.advance(secs(9));
    harness.recv_nothing(watcher);
    harness.advance(secs(1));
    assert_eq!(harness.recv_publishes(watcher).len(), 1);
    assert!(
        harness
            .events()
            .iter()
            .any(|event| matches!(event, Event::WillPublished { client_id, .. } if client_id == "late"))
    );
}

#[test]
fn a_delayed_will_is_not_published_if_the_session_resumes_in_time() {
    // [MQTT-3.1.3-9]
    let mut harness = Harness::new();
    let watcher = watcher(&mut harness, V5);
    let (client, _) = harness.connect_with(delayed_will("back", 10, 3600));
    harness.cut(client);
    harness.advance(secs(5));
    let (_, connack) = harness.connect_with(delayed_will("back", 10, 3600));
    assert!(connack.session_present);
    harness.advance(secs(60));
    harness.recv_nothing(watcher);
}

#[test]
fn a_delayed_will_is_published_when_the_session_ends_first() {
    // MQTT 5 section 3.1.3.2.2: the delay ends early with the session.
    let mut harness = Harness::new();
    let watcher = watcher(&mut harness, V5);
    let (client, _) = harness.connect_with(delayed_will("short", 60, 5));
    harness.cut(client);
    harness.advance(secs(5));
    assert_eq!(harness.recv_publishes(watcher).len(), 1);
}

#[test]
fn a_delayed_will_is_published_when_a_clean_start_discards_its_session() {
    let mut harness = Harness::new();
    let watcher = watcher(&mut harness, V5);
    let (client, _) = harness.connect_with(delayed_will("fresh", 60, 3600));
    harness.cut(client);
    harness.connect("fresh", V5);
    assert_eq!(harness.recv_publishes(watcher).len(), 1);
}

#[test]
fn a_session_takeover_publishes_the_old_connections_will() {
    // [MQTT-3.1.4-2] (3.1.1): the old connection is closed without DISCONNECT.
    let mut harness = Harness::new();
    let watcher = watcher(&mut harness, V311);
    harness.connect_with(with_will(V311, "twin", 0));
    harness.connect("twin", V311);
    assert_eq!(harness.recv_publishes(watcher).len(), 1);
}

#[test]
fn a_will_the_policy_refuses_is_not_published() {
    struct NoWills;
    impl verimqtt_proto::broker::Policy for NoWills {
        fn authenticate(&mut self, _: &Connect, _listener: verimqtt_proto::broker::ListenerId) -> Authentication {
            Authentication::ACCEPTED
        }
        fn may_publish(&mut self, _: verimqtt_proto::broker::ClientInfo<'_>, topic: &str) -> bool {
            !topic.starts_with("last/")
        }
        fn may_subscribe(&mut self, _: verimqtt_proto::broker::ClientInfo<'_>, _: &str) -> bool {
            true
        }
    }
    let mut harness = Harness::with_policy(Default::default(), NoWills);
    let watcher = subscriber(&mut harness, "watcher", V311, "#", QoS::AtLeastOnce);
    let (client, _) = harness.connect_with(with_will(V311, "mortal", 0));
    harness.cut(client);
    harness.recv_nothing(watcher);
    assert!(harness.events().iter().any(|event| matches!(event, Event::PublishDenied { .. })));
}

#[test]
fn shutdown_publishes_every_will_before_it_disconnects_the_clients() {
    // The sessions end with the broker: wills with a delay go out too (MQTT 5 section
    // 3.1.3.2.2), those of connected clients and of offline sessions alike.
    let mut harness = Harness::new();
    let watcher = watcher(&mut harness, V5);
    harness.connect_with(with_will(V311, "connected", 0));
    harness.connect_with(delayed_will("delayed", 600, 600));
    let (gone, _) = harness.connect_with(delayed_will("offline", 600, 600));
    harness.cut(gone);
    harness.recv_nothing(watcher);
    let now = harness.now;
    harness.broker.shutdown(now);
    let packets = harness.recv(watcher);
    let (wills, last) = packets.split_at(packets.len() - 1);
    assert_eq!(wills.len(), 3, "{packets:?}");
    assert!(wills.iter().all(|packet| matches!(packet, Packet::Publish(publish) if publish.topic == "last/words")));
    assert_eq!(last, [Packet::Disconnect(Disconnect::new(ReasonCode::ServerShuttingDown))]);
}
