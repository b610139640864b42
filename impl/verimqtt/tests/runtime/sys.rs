//! The `$SYS` topics over loopback TCP: published at the configured interval, read by a
//! `$SYS/#` subscriber, never matched by `#` ([MQTT-4.7.2-1]).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::codec::{Packet, ProtocolVersion, QoS};
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};

use crate::client::{RawClient, publish};
use crate::config::serve;
use crate::files::TempDir;

const TOPICS: [&str; 13] = [
    "$SYS/broker/version",
    "$SYS/broker/uptime",
    "$SYS/broker/clients/connected",
    "$SYS/broker/clients/total",
    "$SYS/broker/messages/received",
    "$SYS/broker/messages/sent",
    "$SYS/broker/publish/messages/dropped",
    "$SYS/broker/store/messages/count",
    "$SYS/broker/store/messages/bytes",
    "$SYS/broker/bytes/received",
    "$SYS/broker/bytes/sent",
    "$SYS/broker/retained messages/count",
    "$SYS/broker/subscriptions/count",
];

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
    let first = read_until(&mut watcher, |latest| TOPICS.iter().all(|topic| latest.contains_key(*topic)));
    assert_eq!(first["$SYS/broker/version"], format!("verimqtt {}", env!("CARGO_PKG_VERSION")));
    assert!(first["$SYS/broker/uptime"].ends_with(" seconds"), "{first:?}");
    for topic in &TOPICS[2..] {
        number(&first, topic);
    }
    // Another client connects, subscribes, retains a message: the counters follow.
    let mut other = RawClient::connect(broker.addr(), ProtocolVersion::V311, "other");
    other.subscribe("a/#", QoS::AtMostOnce);
    let Packet::Publish(mut retained) = publish("a/b", QoS::AtMostOnce, "kept") else { unreachable!() };
    retained.retain = true;
    other.send(&Packet::Publish(retained));
    assert!(matches!(other.recv(), Some(Packet::Publish(_))), "its own message comes back");
    let later = read_until(&mut watcher, |latest| {
        let at_least = |topic: &str, value: u64| latest.get(topic).and_then(|v| v.parse::<u64>().ok()) >= Some(value);
        at_least("$SYS/broker/clients/connected", 2)
            && at_least("$SYS/broker/clients/total", 2)
            && at_least("$SYS/broker/subscriptions/count", 2)
            && at_least("$SYS/broker/retained messages/count", 1)
            && at_least("$SYS/broker/messages/received", number(&first, "$SYS/broker/messages/received") + 1)
            && at_least("$SYS/broker/messages/sent", number(&first, "$SYS/broker/messages/sent") + 1)
            && at_least("$SYS/broker/bytes/received", number(&first, "$SYS/broker/bytes/received") + 1)
            && at_least("$SYS/broker/bytes/sent", number(&first, "$SYS/broker/bytes/sent") + 1)
    });
    assert_eq!(number(&later, "$SYS/broker/clients/connected"), 2, "{later:?}");
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
