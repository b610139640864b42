//! The `$SYS` topics over loopback TCP: published at the configured interval, read by a
//! `$SYS/#` subscriber, never matched by `#` ([MQTT-4.7.2-1]).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::codec::{Disconnect, Packet, ProtocolVersion, QoS, ReasonCode};
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};

use crate::client::{RawClient, connect, publish};
use crate::config::serve;
use crate::files::TempDir;

/// The topics with a number, as mosquitto 2.0 names them.
const NUMBERS: [&str; 21] = [
    "$SYS/broker/clients/total",
    "$SYS/broker/clients/maximum",
    "$SYS/broker/clients/connected",
    "$SYS/broker/clients/active",
    "$SYS/broker/clients/disconnected",
    "$SYS/broker/clients/inactive",
    "$SYS/broker/clients/expired",
    "$SYS/broker/messages/received",
    "$SYS/broker/messages/sent",
    "$SYS/broker/messages/stored",
    "$SYS/broker/store/messages/count",
    "$SYS/broker/store/messages/bytes",
    "$SYS/broker/publish/messages/received",
    "$SYS/broker/publish/messages/sent",
    "$SYS/broker/publish/messages/dropped",
    "$SYS/broker/publish/bytes/received",
    "$SYS/broker/publish/bytes/sent",
    "$SYS/broker/bytes/received",
    "$SYS/broker/bytes/sent",
    "$SYS/broker/retained messages/count",
    "$SYS/broker/subscriptions/count",
];

/// The counters with load averages, by the middle of their topics.
const LOADS: [&str; 9] = [
    "messages/received",
    "messages/sent",
    "publish/received",
    "publish/sent",
    "publish/dropped",
    "bytes/received",
    "bytes/sent",
    "connections",
    "sockets",
];

fn load_topics() -> Vec<String> {
    LOADS
        .iter()
        .flat_map(|load| ["1min", "5min", "15min"].map(|window| format!("$SYS/broker/load/{load}/{window}")))
        .collect()
}

/// A broker on an ephemeral loopback port publishing `$SYS` every `interval`.
pub fn sys_broker(interval: Duration) -> EmbeddedBroker {
    sys_broker_with(BrokerOptions::default(), interval)
}

/// The same with these options.
pub fn sys_broker_with(options: BrokerOptions, interval: Duration) -> EmbeddedBroker {
    let listener = Listener::bind((Ipv4Addr::LOCALHOST, 0).into(), Transport::Tcp).unwrap();
    EmbeddedBroker::serve(Server::new(options, AllowAll).listener(listener).sys_interval(interval)).unwrap()
}

/// Reads `$SYS` messages until `done` holds for the latest value of each topic; fails
/// after the client's patience without it.
pub fn read_until(
    client: &mut RawClient,
    done: impl Fn(&BTreeMap<String, String>) -> bool,
) -> BTreeMap<String, String> {
    let mut latest = BTreeMap::new();
    while !done(&latest) {
        match client.recv() {
            Some(Packet::Publish(message)) => {
                let value = String::from_utf8(message.payload.to_vec()).unwrap();
                latest.insert(message.topic.to_string(), value);
            }
            other => panic!("expected a $SYS message, got {other:?} after {latest:?}"),
        }
    }
    latest
}

fn number(values: &BTreeMap<String, String>, topic: &str) -> u64 {
    values[topic].parse().unwrap_or_else(|_| panic!("{topic}: {:?} is not a number", values[topic]))
}

#[test]
fn a_sys_subscriber_receives_every_statistic_and_they_follow_the_traffic() {
    let broker = sys_broker(Duration::from_millis(50));
    let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V5, "watcher");
    watcher.subscribe("$SYS/#", QoS::AtMostOnce);
    let loads = load_topics();
    let first = read_until(&mut watcher, |latest| {
        NUMBERS
            .iter()
            .chain(["$SYS/broker/version", "$SYS/broker/uptime"].iter())
            .all(|topic| latest.contains_key(*topic))
            && loads.iter().all(|topic| latest.contains_key(topic))
    });
    assert_eq!(first["$SYS/broker/version"], format!("verimqtt {}", env!("CARGO_PKG_VERSION")));
    assert!(first["$SYS/broker/uptime"].ends_with(" seconds"), "{first:?}");
    for topic in NUMBERS {
        number(&first, topic);
    }
    for topic in &loads {
        let average: f64 = first[topic].parse().unwrap_or_else(|_| panic!("{topic}: {:?}", first[topic]));
        assert!(average >= 0.0 && first[topic].split_once('.').is_some_and(|(_, decimals)| decimals.len() == 2));
    }
    // Another client connects, subscribes, retains a message: the counters follow.
    let mut other = RawClient::connect(broker.addr(), ProtocolVersion::V311, "other");
    other.subscribe("a/#", QoS::AtMostOnce);
    let Packet::Publish(mut retained) = publish("a/b", QoS::AtLeastOnce, "kept") else { unreachable!() };
    retained.retain = true;
    other.send(&Packet::Publish(retained));
    assert!(matches!(other.recv(), Some(Packet::PubAck(_) | Packet::Publish(_))));
    assert!(matches!(other.recv(), Some(Packet::PubAck(_) | Packet::Publish(_))));
    let grew = |latest: &BTreeMap<String, String>, topic: &str, by: u64| {
        latest.get(topic).and_then(|v| v.parse::<u64>().ok()) >= Some(number(&first, topic) + by)
    };
    let moving = |latest: &BTreeMap<String, String>, load: &str| {
        latest.get(&format!("$SYS/broker/load/{load}/1min")).and_then(|v| v.parse::<f64>().ok()) > Some(0.0)
    };
    let later = read_until(&mut watcher, |latest| {
        let at_least = |topic: &str, value: u64| latest.get(topic).and_then(|v| v.parse::<u64>().ok()) >= Some(value);
        at_least("$SYS/broker/clients/connected", 2)
            && at_least("$SYS/broker/clients/active", 2)
            && at_least("$SYS/broker/clients/total", 2)
            && at_least("$SYS/broker/clients/maximum", 2)
            && at_least("$SYS/broker/subscriptions/count", 2)
            && at_least("$SYS/broker/retained messages/count", 1)
            // CONNECT, SUBSCRIBE, PUBLISH at least, and PINGREQs maybe.
            && grew(latest, "$SYS/broker/messages/received", 3)
            && grew(latest, "$SYS/broker/messages/sent", 3)
            && grew(latest, "$SYS/broker/publish/messages/received", 1)
            && grew(latest, "$SYS/broker/publish/messages/sent", 1)
            && grew(latest, "$SYS/broker/publish/bytes/received", 4)
            && grew(latest, "$SYS/broker/publish/bytes/sent", 4)
            && grew(latest, "$SYS/broker/bytes/received", 1)
            && grew(latest, "$SYS/broker/bytes/sent", 1)
            && ["messages/received", "publish/received", "publish/sent", "bytes/received", "connections", "sockets"]
                .iter()
                .all(|load| moving(latest, load))
    });
    assert_eq!(number(&later, "$SYS/broker/clients/connected"), 2, "{later:?}");
    assert_eq!(number(&first, "$SYS/broker/clients/disconnected"), 0, "{first:?}");
}

#[test]
fn offline_sessions_and_expired_ones_are_counted() {
    let broker = sys_broker(Duration::from_millis(50));
    let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V5, "watcher");
    watcher.subscribe("$SYS/broker/clients/#", QoS::AtMostOnce);
    // A persistent 3.1.1 session whose client goes: disconnected, not expired.
    let mut persistent = connect(ProtocolVersion::V311, "kept", None, None);
    persistent.clean_start = false;
    let (mut kept, _) = RawClient::connect_with(broker.addr(), persistent);
    kept.send(&Packet::Disconnect(Disconnect::new(ReasonCode::Success)));
    assert!(kept.until_closed().is_empty());
    // An MQTT 5 session expiring a second after its client goes.
    let mut expiring = connect(ProtocolVersion::V5, "brief", None, None);
    expiring.properties.session_expiry_interval = Some(1);
    let (mut brief, _) = RawClient::connect_with(broker.addr(), expiring);
    brief.send(&Packet::Disconnect(Disconnect::new(ReasonCode::Success)));
    assert!(brief.until_closed().is_empty());
    let values = read_until(&mut watcher, |latest| {
        latest.get("$SYS/broker/clients/expired").map(String::as_str) == Some("1")
            && latest.get("$SYS/broker/clients/inactive").map(String::as_str) == Some("1")
    });
    assert_eq!(values["$SYS/broker/clients/disconnected"], "1", "{values:?}");
    assert_eq!(values["$SYS/broker/clients/total"], "2", "the watcher and the kept session: {values:?}");
    assert_eq!(values["$SYS/broker/clients/maximum"], "3", "{values:?}");
}

#[test]
fn a_subscription_to_everything_gets_no_sys_topic() {
    let broker = sys_broker(Duration::from_millis(50));
    let mut everything = RawClient::connect(broker.addr(), ProtocolVersion::V311, "everything");
    everything.subscribe("#", QoS::AtMostOnce);
    let mut wildcard = RawClient::connect(broker.addr(), ProtocolVersion::V5, "wildcard");
    wildcard.subscribe("+/broker/#", QoS::AtMostOnce);
    // Wait until the broker has published $SYS since both subscribed: a live message (not
    // the retained copy a new subscription gets) telling the publisher's connection.
    let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "watcher");
    watcher.subscribe("$SYS/broker/clients/connected", QoS::AtMostOnce);
    let mut publisher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "publisher");
    loop {
        match watcher.recv() {
            Some(Packet::Publish(message)) if !message.retain && message.payload == "4" => break,
            Some(Packet::Publish(_)) => {}
            other => panic!("expected $SYS/broker/clients/connected, got {other:?}"),
        }
    }
    // Every message routed before the marker was offered to both subscriptions first.
    publisher.send(&publish("marker/broker/end", QoS::AtMostOnce, "end"));
    for client in [&mut everything, &mut wildcard] {
        match client.recv() {
            Some(Packet::Publish(message)) => assert_eq!(message.topic.as_str(), "marker/broker/end"),
            other => panic!("expected only the marker, got {other:?}"),
        }
    }
}

#[test]
fn the_configuration_file_sets_the_interval_and_0_turns_sys_off() {
    let dir = TempDir::new();
    for (interval, published) in [(1, true), (0, false)] {
        let broker =
            serve(dir.path(), &format!("[[listener]]\nbind = \"127.0.0.1:0\"\n[sys]\ninterval = {interval}\n"));
        let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V5, "watcher");
        // The first values are published as the broker starts, retained: a subscription
        // gets them at once, or nothing when $SYS is off.
        watcher.subscribe("$SYS/broker/version", QoS::AtMostOnce);
        watcher.send(&Packet::PingReq);
        let first = watcher.recv();
        assert_eq!(matches!(first, Some(Packet::Publish(_))), published, "interval {interval}: {first:?}");
    }
}

#[test]
fn an_interval_of_zero_or_of_ages_still_serves() {
    for interval in [Duration::ZERO, Duration::MAX] {
        let broker = sys_broker(interval);
        let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V5, "watcher");
        watcher.subscribe("$SYS/broker/version", QoS::AtMostOnce);
        assert!(matches!(watcher.recv(), Some(Packet::Publish(_))), "{interval:?}: published at start");
    }
}

#[test]
fn sys_topics_do_not_count_against_max_retained_messages() {
    let options = BrokerOptions { max_retained_messages: 1, ..BrokerOptions::default() };
    let broker = sys_broker_with(options, Duration::from_millis(50));
    let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V5, "watcher");
    watcher.subscribe("$SYS/broker/retained messages/count", QoS::AtMostOnce);
    // $SYS is retained: the count is dozens once its first values are stored.
    read_until(&mut watcher, |latest| {
        latest.get("$SYS/broker/retained messages/count").and_then(|v| v.parse::<u64>().ok()) > Some(40)
    });
    // With dozens of $SYS messages retained, a client's one still fits the limit of 1.
    let mut publisher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "publisher");
    let Packet::Publish(mut retained) = publish("a/b", QoS::AtLeastOnce, "kept") else { unreachable!() };
    retained.retain = true;
    publisher.send(&Packet::Publish(retained));
    assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));
    let mut late = RawClient::connect(broker.addr(), ProtocolVersion::V311, "late");
    late.subscribe("a/b", QoS::AtMostOnce);
    match late.recv() {
        Some(Packet::Publish(message)) => assert!(message.retain && message.payload == "kept", "{message:?}"),
        other => panic!("expected the retained message, got {other:?}"),
    }
}

#[test]
fn the_heap_is_published_only_with_a_reader_and_its_maximum_is_the_largest_read() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let heap = Arc::new(AtomicU64::new(300));
    let reader = Arc::clone(&heap);
    let listener = Listener::bind((Ipv4Addr::LOCALHOST, 0).into(), Transport::Tcp).unwrap();
    let server = Server::new(BrokerOptions::default(), AllowAll)
        .listener(listener)
        .sys_interval(Duration::from_millis(20))
        .heap(move || Some(reader.load(Ordering::Relaxed)));
    let broker = EmbeddedBroker::serve(server).unwrap();
    let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V5, "watcher");
    watcher.subscribe("$SYS/broker/heap/+", QoS::AtMostOnce);
    read_until(&mut watcher, |latest| {
        latest.get("$SYS/broker/heap/current").map(String::as_str) == Some("300")
            && latest.get("$SYS/broker/heap/maximum").map(String::as_str) == Some("300")
    });
    heap.store(100, Ordering::Relaxed);
    let later =
        read_until(&mut watcher, |latest| latest.get("$SYS/broker/heap/current").map(String::as_str) == Some("100"));
    // Published when it changes: not again, or as it was.
    let maximum = later.get("$SYS/broker/heap/maximum").map(String::as_str);
    assert!(maximum.is_none_or(|maximum| maximum == "300"), "the maximum never goes down: {later:?}");

    // Without a reader: every other topic, and no heap.
    let broker = sys_broker(Duration::from_secs(60));
    let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V5, "watcher");
    watcher.subscribe("$SYS/#", QoS::AtMostOnce);
    // The retained messages all come before the answer to a PINGREQ sent after the SUBACK.
    watcher.send(&Packet::PingReq);
    let mut topics = Vec::new();
    while let Some(Packet::Publish(message)) = watcher.recv() {
        topics.push(message.topic.to_string());
    }
    assert!(topics.iter().any(|topic| topic == "$SYS/broker/uptime"), "{topics:?}");
    assert!(topics.iter().all(|topic| !topic.starts_with("$SYS/broker/heap/")), "{topics:?}");
}
