//! Hostile clients over real loopback sockets: topics 65,535 levels deep, first packets
//! that announce more than the broker reads before CONNECT, thousands of silent sockets
//! and a CONNECT sent a byte at a time, a SUBSCRIBE of thousands of filters, a PUBLISH of
//! tens of thousands of user properties, every topic alias there is, a subscriber that
//! stops reading under a flood, and a flood of CONNECTs against a password file. Each test
//! ends with a fresh client completing a QoS 1 round trip: the broker still serves.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use verimqtt::auth::{FilePolicy, PasswordFile, PasswordHash, with_entry};
use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::codec::{
    Connect, Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS, ReasonCode, Subscribe, Subscription,
    SubscriptionOptions, Unsubscribe,
};
use verimqtt::runtime::EmbeddedBroker;

use crate::client::connect;
use crate::client::{RawClient, mqtt_string, publish, read_until_closed, tcp};
use crate::sys::{read_until, sys_broker_with};

use ProtocolVersion::{V5, V311};

/// A topic of 65,535 levels, all empty: the deepest a topic name can be.
fn deepest() -> String {
    "/".repeat(65_534)
}

/// Client ids unique within the test process.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A fresh client subscribes, publishes at QoS 1 to itself and gets both the PUBACK and
/// the message: the broker still serves.
pub fn assert_still_serves(addr: SocketAddr) {
    for version in [V311, V5] {
        let id = unique("fresh");
        let mut client = RawClient::connect(addr, version, &id);
        let topic = format!("alive/{id}");
        client.subscribe(&topic, QoS::AtLeastOnce);
        client.send(&publish(&topic, QoS::AtLeastOnce, "alive"));
        let (mut acknowledged, mut delivered) = (false, false);
        while !(acknowledged && delivered) {
            match client.recv() {
                Some(Packet::PubAck(ack)) => acknowledged = ack.packet_id.get() == 1,
                Some(Packet::Publish(message)) if message.payload == "alive" => {
                    client.send(&Packet::PubAck(PublishAck::new(message.packet_id.unwrap())));
                    delivered = true;
                }
                other => panic!("{version}: the broker no longer serves a fresh client: {other:?}"),
            }
        }
    }
}

/// A PUBLISH with its flags and packet identifier 1.
fn message(topic: &str, qos: QoS, retain: bool, payload: &'static str) -> Packet {
    let packet_id = (qos != QoS::AtMostOnce).then(|| PacketId::new(1).unwrap());
    let mut publish = Publish::new(mqtt_string(topic), qos, packet_id, Bytes::from_static(payload.as_bytes()));
    publish.retain = retain;
    Packet::Publish(publish)
}

fn unsubscribe(filter: &str) -> Packet {
    Packet::Unsubscribe(Unsubscribe {
        packet_id: PacketId::new(2).unwrap(),
        properties: Default::default(),
        filters: vec![mqtt_string(filter)],
    })
}

/// The next PUBLISH, acknowledged if it needs it.
fn next_message(client: &mut RawClient) -> Publish {
    match client.recv() {
        Some(Packet::Publish(publish)) => {
            if let Some(packet_id) = publish.packet_id.filter(|_| publish.qos == QoS::AtLeastOnce) {
                client.send(&Packet::PubAck(PublishAck::new(packet_id)));
            }
            publish
        }
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// Publishes a marker to `client`'s own `topic` (which it subscribes to) and reads up to it:
/// whatever came before the marker is returned, so "nothing else arrived" is checked
/// without waiting for a timeout.
fn until_marker(client: &mut RawClient, topic: &str) -> Vec<Publish> {
    client.send(&message(topic, QoS::AtMostOnce, false, "marker"));
    let mut before = Vec::new();
    loop {
        let publish = next_message(client);
        if publish.topic == topic && publish.payload == "marker" {
            return before;
        }
        before.push(publish);
    }
}

fn assert_puback(client: &mut RawClient) {
    assert!(matches!(client.recv(), Some(Packet::PubAck(_))), "expected PUBACK");
}

#[test]
fn by_default_filters_of_65535_levels_are_refused_and_topics_of_65535_levels_are_routed_but_not_retained() {
    let broker = EmbeddedBroker::start().unwrap();
    let deep = deepest();
    for version in [V311, V5] {
        let mut everything = RawClient::connect(broker.addr(), version, &unique("everything"));
        everything.subscribe("#", QoS::AtLeastOnce);
        let mut client = RawClient::connect(broker.addr(), version, &unique("deep"));
        // [MQTT-3.9.3-2] in 3.1.1: 0x80 is its one failure code; 0x97 in 5.0.
        let refused = if version.is_v5() { ReasonCode::QuotaExceeded } else { ReasonCode::UnspecifiedError };
        assert_eq!(client.subscribe(&deep, QoS::AtLeastOnce).reason_codes, [refused], "{version}");
        client.send(&message(&deep, QoS::AtLeastOnce, true, "deep"));
        assert_puback(&mut client);
        let routed = next_message(&mut everything);
        assert_eq!((routed.topic.len(), &routed.payload[..]), (65_534, &b"deep"[..]), "{version}");
        client.send(&unsubscribe(&deep));
        match client.recv() {
            Some(Packet::UnsubAck(unsuback)) if version.is_v5() => {
                assert_eq!(unsuback.reason_codes, [ReasonCode::NoSubscriptionExisted]);
            }
            Some(Packet::UnsubAck(_)) => {}
            other => panic!("expected UNSUBACK, got {other:?}"),
        }
        // Not retained: a new subscription to everything gets nothing before a marker.
        let mut later = RawClient::connect(broker.addr(), version, &unique("later"));
        later.subscribe("#", QoS::AtLeastOnce);
        let retained: Vec<usize> = until_marker(&mut later, "marker").iter().map(|p| p.topic.len()).collect();
        assert!(retained.is_empty(), "{version}: retained topics of lengths {retained:?}");
    }
    assert_still_serves(broker.addr());
}

#[test]
fn without_a_level_limit_a_topic_of_65535_levels_is_subscribed_published_retained_and_unsubscribed() {
    let options = BrokerOptions { max_topic_levels: usize::MAX, ..BrokerOptions::default() };
    let broker = EmbeddedBroker::start_with(options, AllowAll).unwrap();
    let deep = deepest();
    for version in [V311, V5] {
        let mut subscriber = RawClient::connect(broker.addr(), version, &unique("sub"));
        subscriber.subscribe("marker", QoS::AtMostOnce);
        let granted = subscriber.subscribe(&deep, QoS::AtLeastOnce).reason_codes;
        assert_eq!(granted, [ReasonCode::GrantedQos1], "{version}");
        let mut publisher = RawClient::connect(broker.addr(), version, &unique("pub"));
        publisher.send(&message(&deep, QoS::AtLeastOnce, true, "kept"));
        assert_puback(&mut publisher);
        let routed = next_message(&mut subscriber);
        assert_eq!((routed.topic.len(), &routed.payload[..]), (65_534, &b"kept"[..]), "{version}");
        // Retained: a new subscription to the deep filter gets it, RETAIN set.
        let mut later = RawClient::connect(broker.addr(), version, &unique("later"));
        later.subscribe(&deep, QoS::AtLeastOnce);
        let retained = next_message(&mut later);
        assert!(retained.retain && retained.payload == "kept" && retained.topic.len() == 65_534, "{version}");
        // Unsubscribed: the next message does not come.
        subscriber.send(&unsubscribe(&deep));
        match subscriber.recv() {
            Some(Packet::UnsubAck(unsuback)) if version.is_v5() => {
                assert_eq!(unsuback.reason_codes, [ReasonCode::Success])
            }
            Some(Packet::UnsubAck(_)) => {}
            other => panic!("expected UNSUBACK, got {other:?}"),
        }
        publisher.send(&message(&deep, QoS::AtLeastOnce, false, "gone"));
        assert_puback(&mut publisher);
        assert!(until_marker(&mut subscriber, "marker").is_empty(), "{version}: delivered after UNSUBSCRIBE");
        // The retained message is deleted by an empty one, walking the same levels.
        publisher.send(&message(&deep, QoS::AtLeastOnce, true, ""));
        assert_puback(&mut publisher);
    }
    assert_still_serves(broker.addr());
}

#[test]
fn a_first_packet_announcing_more_than_max_connect_size_is_refused_from_its_fixed_header() {
    let options = BrokerOptions { connect_timeout: Duration::from_millis(500), ..BrokerOptions::default() };
    let broker = EmbeddedBroker::start_with(options, AllowAll).unwrap();
    // The largest remaining length there is, as a CONNECT and as a PUBLISH: closed at once,
    // without a word (the broker cannot know the version yet).
    for header in [[0x10, 0xff, 0xff, 0xff, 0x7f], [0x30, 0xff, 0xff, 0xff, 0x7f]] {
        let mut stream = tcp(broker.addr());
        stream.write_all(&header).unwrap();
        assert_eq!(read_until_closed(&mut stream), Vec::<u8>::new());
    }
    // Just under the limit, the broker waits for the rest, until the connect timeout.
    let mut stream = tcp(broker.addr());
    let started = Instant::now();
    stream.write_all(&[0x10, 0xe0, 0xd4, 0x03, 0x00, 0x04]).unwrap();
    assert_eq!(read_until_closed(&mut stream), Vec::<u8>::new());
    assert!(started.elapsed() >= Duration::from_millis(400), "closed before the connect timeout");
    assert_still_serves(broker.addr());
}

#[test]
fn thousands_of_silent_sockets_and_a_connect_sent_a_byte_at_a_time_hold_up_no_one() {
    let options = BrokerOptions { connect_timeout: Duration::from_secs(2), ..BrokerOptions::default() };
    let broker = EmbeddedBroker::start_with(options, AllowAll).unwrap();
    let addr = broker.addr();
    let silent: Vec<TcpStream> = (0..2000).map(|_| tcp(addr)).collect();
    // A CONNECT of 60 bytes at one byte every 100 ms would take 6 s: the connect timeout
    // counts from the connection, not from the last byte.
    let trickle = std::thread::spawn(move || {
        let mut stream = tcp(addr);
        let mut wire = bytes::BytesMut::new();
        let connect = Connect::new(V311, mqtt_string(&"slow".repeat(12)));
        verimqtt::codec::encode(&Packet::Connect(Box::new(connect)), V311, &mut wire).unwrap();
        let started = Instant::now();
        for byte in wire.iter() {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let answer = read_until_closed(&mut stream);
        (answer, started.elapsed())
    });
    assert_still_serves(addr);
    let (answer, elapsed) = trickle.join().unwrap();
    assert_eq!(answer, Vec::<u8>::new(), "no CONNACK for a CONNECT that came too late");
    assert!(elapsed < Duration::from_secs(5), "the slow CONNECT held its socket for {elapsed:?}");
    for mut stream in silent {
        assert_eq!(read_until_closed(&mut stream), Vec::<u8>::new());
    }
    assert_still_serves(addr);
}

#[test]
fn a_subscribe_with_thousands_of_filters_is_answered_within_the_limits() {
    let broker = EmbeddedBroker::start().unwrap();
    let mut publisher = RawClient::connect(broker.addr(), V311, &unique("retainer"));
    for n in 0..2000 {
        publisher.send(&message(&format!("r/{n}"), QoS::AtMostOnce, true, "x"));
    }
    publisher.send(&message("r/last", QoS::AtLeastOnce, true, "x"));
    assert_puback(&mut publisher);
    for version in [V311, V5] {
        let mut client = RawClient::connect(broker.addr(), version, &unique("greedy"));
        // 5,000 filters: "#" a thousand times (each one re-sends every retained message)
        // and 4,000 distinct ones, past the 1,000 subscriptions a session may hold.
        let subscriptions: Vec<Subscription> = (0..5000)
            .map(|n| {
                let filter = if n % 5 == 0 { "#".to_string() } else { format!("f/{n}") };
                Subscription { filter: mqtt_string(&filter), options: SubscriptionOptions::new(QoS::AtMostOnce) }
            })
            .collect();
        let packet_id = PacketId::new(1).unwrap();
        client.send(&Packet::Subscribe(Subscribe { packet_id, properties: Default::default(), subscriptions }));
        let suback = match client.recv() {
            Some(Packet::SubAck(suback)) => suback,
            other => panic!("expected SUBACK, got {other:?}"),
        };
        assert_eq!(suback.reason_codes.len(), 5000);
        let granted = suback.reason_codes.iter().filter(|code| !code.is_failure()).count();
        assert!(granted <= 1000 + 999, "{granted} granted");
        if version.is_v5() {
            let explanation = suback.properties.reason_string.clone().unwrap();
            assert!(explanation.len() < 1500 && explanation.contains("max_subscriptions_per_session"), "{explanation}");
        }
        // The retained messages that fit in the transmit buffer and the session's queue
        // come (not the two million the thousand "#" match), then the marker.
        let before = until_marker(&mut client, "f/1");
        assert!(before.len() < 100_000, "{} messages before the marker", before.len());
    }
    assert_still_serves(broker.addr());
}

#[test]
fn a_publish_with_fifty_thousand_user_properties_is_delivered_intact() {
    let broker = EmbeddedBroker::start().unwrap();
    let mut subscriber = RawClient::connect(broker.addr(), V5, &unique("sub"));
    subscriber.subscribe("props", QoS::AtLeastOnce);
    let mut publisher = RawClient::connect(broker.addr(), V5, &unique("pub"));
    let Packet::Publish(mut publish) = message("props", QoS::AtLeastOnce, false, "many") else { unreachable!() };
    publish.properties.user_properties = (0..50_000).map(|n| (mqtt_string("k"), mqtt_string(&n.to_string()))).collect();
    publisher.send(&Packet::Publish(publish.clone()));
    assert_puback(&mut publisher);
    let delivered = next_message(&mut subscriber);
    assert_eq!(delivered.properties.user_properties.len(), 50_000);
    assert!(delivered.properties.user_properties == publish.properties.user_properties, "in order, unchanged");
    assert_still_serves(broker.addr());
}

#[test]
fn every_topic_alias_there_is_in_both_directions() {
    // A reader this slow (65,540 messages through the test's own decoder) would be a slow
    // consumer after the default 5 s on a loaded machine, and lose messages.
    let options = BrokerOptions {
        topic_alias_maximum: u16::MAX,
        outbound_topic_aliases: true,
        slow_consumer_timeout: Duration::from_secs(60),
        ..BrokerOptions::default()
    };
    let broker = EmbeddedBroker::start_with(options, AllowAll).unwrap();
    let mut request = Connect::new(V5, mqtt_string(&unique("sub")));
    request.properties.topic_alias_maximum = Some(u16::MAX);
    let (mut subscriber, _) = RawClient::connect_with(broker.addr(), request);
    subscriber.subscribe("a/#", QoS::AtMostOnce);
    let mut publisher = RawClient::connect(broker.addr(), V5, &unique("pub"));
    // 65,540 topics: the publisher names the first 65,535 with aliases 1 to 65,535 and the
    // rest by aliases it sets again; the broker gives out its 65,535 and then sends topics
    // in full.
    const TOPICS: usize = 65_540;
    let writer = std::thread::spawn(move || {
        for n in 0..TOPICS {
            let Packet::Publish(mut publish) = message(&format!("a/{n}"), QoS::AtMostOnce, false, "x") else {
                unreachable!()
            };
            publish.properties.topic_alias = NonZeroU16::new((n % 65_535) as u16 + 1);
            publisher.send(&Packet::Publish(publish));
        }
        publisher
    });
    let mut aliases = Vec::with_capacity(TOPICS);
    for n in 0..TOPICS {
        let publish = next_message(&mut subscriber);
        let alias = publish.properties.topic_alias.map(NonZeroU16::get);
        assert_eq!(publish.topic.as_str(), format!("a/{n}"), "a new topic comes in full");
        aliases.push(alias);
    }
    assert_eq!(aliases[0], Some(1));
    assert_eq!(aliases[65_534], Some(u16::MAX));
    assert!(aliases[65_535..].iter().all(Option::is_none), "no alias is left");
    drop(writer.join().unwrap());
    assert_still_serves(broker.addr());
}

#[test]
fn a_subscriber_that_stops_reading_under_a_flood_costs_bounded_memory_and_slows_no_one() {
    const MAX_QUEUED_BYTES: usize = 256 * 1024;
    let options = BrokerOptions {
        max_queued_messages: 100,
        max_queued_bytes: MAX_QUEUED_BYTES,
        max_transmit_buffer: 64 * 1024,
        ..BrokerOptions::default()
    };
    let broker = sys_broker_with(options, Duration::from_millis(50));
    let mut stuck = RawClient::connect(broker.addr(), V311, &unique("stuck"));
    stuck.subscribe("flood", QoS::AtLeastOnce);
    let mut publisher = RawClient::connect(broker.addr(), V311, &unique("flood"));
    let payload = Bytes::from(vec![b'x'; 1024]);
    for _ in 0..20_000 {
        let flood = Publish::new(mqtt_string("flood"), QoS::AtMostOnce, None, payload.clone());
        publisher.send(&Packet::Publish(flood));
    }
    publisher.send(&message("other", QoS::AtLeastOnce, false, "still here"));
    assert_puback(&mut publisher);
    // What the broker holds for the stuck subscriber stays within its limit (plus the one
    // message an empty queue always takes), however much more was published.
    let mut watcher = RawClient::connect(broker.addr(), V5, &unique("watcher"));
    watcher.subscribe("$SYS/broker/#", QoS::AtMostOnce);
    let stats = read_until(&mut watcher, |latest| {
        latest.get("$SYS/broker/publish/messages/dropped").and_then(|v| v.parse::<u64>().ok()) > Some(0)
            && latest.contains_key("$SYS/broker/store/messages/bytes")
    });
    let held: usize = stats["$SYS/broker/store/messages/bytes"].parse().unwrap();
    assert!(held <= MAX_QUEUED_BYTES + 2048, "{held} bytes held for a subscriber that does not read");
    assert_still_serves(broker.addr());
    drop(stuck);
}

#[test]
fn a_flood_of_connects_against_a_password_file_does_not_slow_other_clients() {
    let hash = PasswordHash::new(b"the right one").unwrap();
    let passwords = PasswordFile::parse(&with_entry("", "alice", &hash)).unwrap();
    let policy = FilePolicy::new(true).with_passwords(passwords);
    let broker = EmbeddedBroker::start_with(BrokerOptions::default(), policy).unwrap();
    let addr = broker.addr();
    let mut steady = RawClient::connect(addr, V5, "steady");
    steady.subscribe("ping", QoS::AtLeastOnce);
    // 200 CONNECTs with a wrong password, all sent before any answer is read: each costs
    // a hash, and they queue for the verification threads.
    const FLOOD: usize = 200;
    let started = Instant::now();
    let flood = std::thread::spawn(move || {
        let mut attempts: Vec<RawClient> = (0..FLOOD)
            .map(|n| {
                let mut client = RawClient::open(addr, V5);
                let attempt = connect(V5, &format!("intruder{n}"), Some("alice"), Some("guess"));
                client.send(&Packet::Connect(Box::new(attempt)));
                client
            })
            .collect();
        let answers: Vec<ReasonCode> = attempts
            .iter_mut()
            .map(|client| match client.recv() {
                Some(Packet::ConnAck(connack)) => connack.reason_code,
                other => panic!("expected CONNACK, got {other:?}"),
            })
            .collect();
        (answers, started.elapsed())
    });
    // Round trips of the connected client while the flood is checked.
    let mut slowest = Duration::ZERO;
    while !flood.is_finished() {
        let sent = Instant::now();
        steady.send(&message("ping", QoS::AtLeastOnce, false, "ping"));
        let (mut acknowledged, mut delivered) = (false, false);
        while !(acknowledged && delivered) {
            match steady.recv() {
                Some(Packet::PubAck(_)) => acknowledged = true,
                Some(Packet::Publish(publish)) => {
                    steady.send(&Packet::PubAck(PublishAck::new(publish.packet_id.unwrap())));
                    delivered = true;
                }
                other => panic!("expected PUBACK and PUBLISH, got {other:?}"),
            }
        }
        slowest = slowest.max(sent.elapsed());
    }
    let (answers, flood_took) = flood.join().unwrap();
    let refused = answers.iter().filter(|code| **code == ReasonCode::BadUserNameOrPassword).count();
    let busy = answers.iter().filter(|code| **code == ReasonCode::ServerBusy).count();
    assert_eq!(refused + busy, FLOOD, "{answers:?}");
    assert!(refused >= 100, "only {refused} passwords were checked");
    // Had the hashes run on the driver, a round trip would wait for the CONNECTs queued
    // ahead of it: a good part of the whole flood.
    assert!(slowest * 4 < flood_took, "slowest round trip {slowest:?} during a flood of {flood_took:?}");
    // The right password still lets alice in.
    let (_, connack) = RawClient::connect_with(addr, connect(V311, "alice", Some("alice"), Some("the right one")));
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_still_serves(addr);
}
