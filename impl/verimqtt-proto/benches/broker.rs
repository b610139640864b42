//! The sans-IO broker routing QoS 1 messages: one publisher, two subscribers, every packet
//! acknowledged. One iteration is one message: PUBLISH in, PUBACK out, a PUBLISH to each
//! subscriber out, and their PUBACKs in.
//!
//! The same routing runs with no observer (the default, and one installed then removed) and
//! with an observer recording every event, to show what tracing costs and that its absence
//! costs nothing.
//!
//! Run: `cargo bench -p verimqtt-proto --bench broker`.

// A benchmark whose fixed input is invalid should stop at once.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use verimqtt_proto::broker::{AllowAll, Broker, BrokerOptions, ConnId};
use verimqtt_proto::codec::{
    self, Connect, MqttString, Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS, Subscribe, Subscription,
    SubscriptionOptions,
};
use verimqtt_proto::testing::BrokerDriver;
use verimqtt_proto::trace::{Event, Observer};

const VERSION: ProtocolVersion = ProtocolVersion::V5;
const TOPIC: &str = "building/3/floor/2/room/12/sensor/temperature";
const PUBLISHER: ConnId = ConnId(1);
const SUBSCRIBERS: [ConnId; 2] = [ConnId(2), ConnId(3)];

fn encode(packet: Packet) -> Bytes {
    let mut bytes = BytesMut::new();
    codec::encode(&packet, VERSION, &mut bytes).expect("a valid packet");
    bytes.freeze()
}

fn id(value: u16) -> PacketId {
    PacketId::new(value).expect("not zero")
}

/// Keeps the events of the latest messages, as a trace recorder would, without growing
/// for the length of the benchmark.
#[derive(Default)]
struct Recorder {
    events: Vec<(Instant, Event)>,
}

impl Observer for Recorder {
    fn observe(&mut self, now: Instant, event: Event) {
        if self.events.len() == 4096 {
            self.events.clear();
        }
        self.events.push((now, event));
    }
}

/// How the broker is observed.
#[derive(Clone, Copy)]
enum Tracing {
    /// No observer was ever installed.
    Default,
    /// An observer was installed, then removed.
    Removed,
    Recording,
}

/// A broker, under the one driver of `verimqtt_proto::testing`, with the publisher and both
/// subscribers connected and subscribed at QoS 1.
struct Routing {
    driver: BrokerDriver<AllowAll>,
    publish: Bytes,
    /// The broker numbers each subscriber's messages 1, 2, 3, ...: the PUBACK for each.
    pubacks: Vec<Bytes>,
    next: usize,
}

impl Routing {
    fn new(tracing: Tracing) -> Self {
        let now = Instant::now();
        let mut broker = Broker::new(BrokerOptions::default(), AllowAll);
        match tracing {
            Tracing::Default => {}
            Tracing::Removed => {
                broker.set_observer(Some(Box::new(Recorder::default())));
                broker.set_observer(None);
            }
            Tracing::Recording => broker.set_observer(Some(Box::new(Recorder::default()))),
        }
        let mut driver = BrokerDriver::new(broker, now);
        for (n, conn) in [PUBLISHER].into_iter().chain(SUBSCRIBERS).enumerate() {
            driver.open(conn).expect("room for three connections");
            let client_id = MqttString::try_from(format!("client-{n}")).expect("a valid client id");
            driver.send(conn, &encode(Packet::Connect(Box::new(Connect::new(VERSION, client_id)))));
        }
        let filter = MqttString::from_static(TOPIC).expect("a valid filter");
        let options = SubscriptionOptions { qos: QoS::AtLeastOnce, ..SubscriptionOptions::default() };
        for conn in SUBSCRIBERS {
            let subscription = Subscription { filter: filter.clone(), options };
            let subscribe =
                Subscribe { packet_id: id(1), properties: Default::default(), subscriptions: vec![subscription] };
            driver.send(conn, &encode(Packet::Subscribe(subscribe)));
        }
        let topic = MqttString::from_static(TOPIC).expect("a valid topic");
        let publish =
            encode(Packet::Publish(Publish::new(topic, QoS::AtLeastOnce, Some(id(1)), Bytes::from(vec![b'x'; 64]))));
        let pubacks = (1..=u16::MAX).map(|n| encode(Packet::PubAck(PublishAck::new(id(n))))).collect();
        let mut routing = Routing { driver, publish, pubacks, next: 0 };
        routing.drain();
        routing
    }

    fn drain(&mut self) -> usize {
        let bytes = [PUBLISHER].into_iter().chain(SUBSCRIBERS).map(|conn| self.driver.output(conn).len()).sum();
        self.driver.take_events();
        bytes
    }

    /// One message through the broker.
    fn route_one(&mut self) -> usize {
        self.driver.send(PUBLISHER, &self.publish);
        let written = self.drain();
        let puback = self.pubacks[self.next].clone();
        self.next = (self.next + 1) % self.pubacks.len();
        for conn in SUBSCRIBERS {
            self.driver.send(conn, &puback);
        }
        written
    }
}

fn routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("broker");
    group.throughput(Throughput::Elements(1));
    let cases = [
        ("route qos1 to two subscribers, default", Tracing::Default),
        ("route qos1 to two subscribers, observer removed", Tracing::Removed),
        ("route qos1 to two subscribers, recording observer", Tracing::Recording),
    ];
    for (name, tracing) in cases {
        let mut routing = Routing::new(tracing);
        group.bench_function(name, |b| b.iter(|| black_box(routing.route_one())));
    }
    group.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
