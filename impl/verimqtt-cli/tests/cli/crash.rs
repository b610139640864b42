//! Crash tests of `verimqtt broker --persistence`, with real processes: persistent QoS 1 and
//! QoS 2 subscribers, a publisher sending as fast as the broker acknowledges, and the broker
//! killed with SIGKILL at a point chosen by a seed (or stopped with SIGTERM), then started
//! again on its store. Whatever the broker acknowledged before it died is delivered to every
//! subscriber, none twice at QoS 2, each topic in order.

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use verimqtt::codec::{self, Connect, DecodeOptions, Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS};

use crate::binary::BrokerProcess;
use crate::client::mqtt_string;
use crate::files::TempDir;

/// The two topics, at the QoS they are published with.
const TOPICS: [(&str, QoS); 2] = [("crash/one", QoS::AtLeastOnce), ("crash/two", QoS::ExactlyOnce)];

/// The subscribers: each subscribes to both topics at this QoS.
const SUBSCRIBERS: [(&str, ProtocolVersion, QoS); 2] =
    [("crash-q1", ProtocolVersion::V5, QoS::AtLeastOnce), ("crash-q2", ProtocolVersion::V311, QoS::ExactlyOnce)];

/// Publishes wait for their acknowledgement at most this many at once.
const WINDOW: u16 = 32;

/// The payload marking the end of a topic's messages, sent after the restart.
const END: &str = "end";

/// A message as the test names it: its topic's index and its number.
type Message = (usize, u32);

/// An MQTT connection whose I/O errors end it instead of failing the test: the broker may
/// die under it at any moment.
struct Peer {
    stream: TcpStream,
    version: ProtocolVersion,
    received: BytesMut,
}

impl Peer {
    fn connect(addr: SocketAddr, connect: Connect) -> (Peer, bool) {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut peer = Peer { stream, version: connect.protocol_version, received: BytesMut::new() };
        assert!(peer.send(&Packet::Connect(Box::new(connect))));
        match peer.recv() {
            Some(Packet::ConnAck(connack)) if !connack.reason_code.is_failure() => (peer, connack.session_present),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Whether the packet was written.
    fn send(&mut self, packet: &Packet) -> bool {
        let mut wire = BytesMut::new();
        codec::encode(packet, self.version, &mut wire).unwrap();
        self.stream.write_all(&wire).is_ok()
    }

    /// The next packet; `None` once the connection is gone. A broker silent for 10 s fails
    /// the test.
    fn recv(&mut self) -> Option<Packet> {
        let options = DecodeOptions::new(self.version);
        loop {
            if let Some(packet) = codec::decode(&mut self.received, &options).unwrap() {
                return Some(packet);
            }
            let mut chunk = [0; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.received.extend_from_slice(&chunk[..n]),
                Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("the broker said nothing for 10 s")
                }
                Err(_) => return None,
            }
        }
    }
}

fn persistent(version: ProtocolVersion, client_id: &str) -> Connect {
    let mut connect = Connect::new(version, mqtt_string(client_id));
    connect.clean_start = false;
    if version.is_v5() {
        connect.properties.session_expiry_interval = Some(u32::MAX);
    }
    connect
}

fn id(value: u16) -> PacketId {
    PacketId::new(value).unwrap()
}

fn start(store: &Path) -> (BrokerProcess, SocketAddr) {
    // Queues as long as the test needs: a message a full queue drops is not lost by a crash.
    let store = store.to_str().unwrap();
    BrokerProcess::start(&["--listen", "127.0.0.1:0", "--persistence", store, "--max-queued-messages", "1000000"])
}

/// Publishes numbered messages on the topics by turns, `WINDOW` at a time, until the broker
/// goes away or `limit` are acknowledged; returns those it acknowledged (PUBACK, or PUBCOMP).
fn publish_until_gone(addr: SocketAddr, limit: u32) -> Vec<Message> {
    let (mut publisher, _) = Peer::connect(addr, Connect::new(ProtocolVersion::V311, mqtt_string("crash-pub")));
    let mut in_flight: HashMap<u16, Message> = HashMap::new();
    let mut acknowledged = Vec::new();
    let mut next: u32 = 0;
    let mut free: Vec<u16> = (1..=WINDOW).rev().collect();
    loop {
        while let (Some(packet_id), true) = (free.pop(), next < limit) {
            let topic = (next % 2) as usize;
            let (name, qos) = TOPICS[topic];
            let publish = Publish::new(mqtt_string(name), qos, Some(id(packet_id)), Bytes::from(next.to_string()));
            if !publisher.send(&Packet::Publish(publish)) {
                return acknowledged;
            }
            in_flight.insert(packet_id, (topic, next));
            next += 1;
        }
        if in_flight.is_empty() {
            return acknowledged;
        }
        match publisher.recv() {
            Some(Packet::PubAck(ack) | Packet::PubComp(ack)) => {
                acknowledged.extend(in_flight.remove(&ack.packet_id.get()));
                free.push(ack.packet_id.get());
            }
            Some(Packet::PubRec(rec)) => {
                if !publisher.send(&Packet::PubRel(PublishAck::new(rec.packet_id))) {
                    return acknowledged;
                }
            }
            Some(other) => panic!("the publisher got {other:?}"),
            None => return acknowledged,
        }
    }
}

/// What a subscriber received, each message with the QoS it came at, and its side of the
/// session: the QoS 2 identifiers it answered with PUBREC and whose PUBREL has not come. A
/// PUBLISH with one of those is a resend of a message it has, not a new one ([MQTT-4.3.3-2]
/// in 3.1.1, [MQTT-4.3.3-10] in 5.0 bind the broker; the receiver keeps the identifiers).
#[derive(Default)]
struct Received {
    messages: Vec<(Message, QoS)>,
    awaiting_release: HashSet<u16>,
}

impl Received {
    /// Reads and acknowledges messages until the connection is gone, or until the end marker
    /// of both topics when `until_end`. Returns whether both markers came.
    fn read(&mut self, peer: &mut Peer, until_end: bool) -> bool {
        let mut ended = HashSet::new();
        while !(until_end && ended.len() == TOPICS.len()) {
            let answer = match peer.recv() {
                Some(Packet::Publish(publish)) => {
                    let topic =
                        TOPICS.iter().position(|(name, _)| publish.topic == *name).expect("a topic of the test");
                    let payload = std::str::from_utf8(&publish.payload).unwrap();
                    let repeat = publish.qos == QoS::ExactlyOnce
                        && publish.packet_id.is_some_and(|packet_id| !self.awaiting_release.insert(packet_id.get()));
                    if payload == END {
                        ended.insert(topic);
                    } else if !repeat {
                        self.messages.push(((topic, payload.parse().unwrap()), publish.qos));
                    }
                    match (publish.qos, publish.packet_id) {
                        (QoS::AtLeastOnce, Some(packet_id)) => Some(Packet::PubAck(PublishAck::new(packet_id))),
                        (QoS::ExactlyOnce, Some(packet_id)) => Some(Packet::PubRec(PublishAck::new(packet_id))),
                        _ => None,
                    }
                }
                Some(Packet::PubRel(rel)) => {
                    self.awaiting_release.remove(&rel.packet_id.get());
                    Some(Packet::PubComp(PublishAck::new(rel.packet_id)))
                }
                // The broker stopping tells an MQTT 5 client so (0x8B) before it closes.
                Some(Packet::Disconnect(_)) | None => return false,
                Some(other) => panic!("a subscriber got {other:?}"),
            };
            if let Some(answer) = answer {
                if !peer.send(&answer) {
                    return false;
                }
            }
        }
        true
    }

    /// Every acknowledged message came; none twice at QoS 2; each topic's messages came in
    /// the order they were published (their first copies, QoS 1 may repeat one).
    fn check(&self, subscriber: &str, acknowledged: &[Message]) {
        let came: HashSet<Message> = self.messages.iter().map(|(message, _)| *message).collect();
        let lost: Vec<&Message> = acknowledged.iter().filter(|message| !came.contains(message)).collect();
        assert!(
            lost.is_empty(),
            "{subscriber}: {} acknowledged messages lost, the first {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
        let mut exactly_once = HashSet::new();
        for (message, qos) in &self.messages {
            if *qos == QoS::ExactlyOnce {
                assert!(exactly_once.insert(*message), "{subscriber}: QoS 2 message {message:?} came twice");
            }
        }
        let mut first_seen = HashSet::new();
        let mut last = [None; TOPICS.len()];
        for ((topic, number), _) in &self.messages {
            if first_seen.insert((*topic, *number)) {
                assert!(last[*topic] < Some(*number), "{subscriber}: topic {topic}: {number} after {:?}", last[*topic]);
                last[*topic] = Some(*number);
            }
        }
    }
}

/// Subscribes each subscriber to both topics, persistently; leaves them connected if
/// `online`, else disconnects them.
fn subscribe_all(addr: SocketAddr, online: bool) -> Vec<Peer> {
    SUBSCRIBERS
        .iter()
        .filter_map(|&(client_id, version, qos)| {
            let (mut peer, _) = Peer::connect(addr, persistent(version, client_id));
            let subscriptions = TOPICS
                .iter()
                .map(|(name, _)| codec::Subscription {
                    filter: mqtt_string(name),
                    options: codec::SubscriptionOptions::new(qos),
                })
                .collect();
            let subscribe = codec::Subscribe { packet_id: id(1), properties: Default::default(), subscriptions };
            assert!(peer.send(&Packet::Subscribe(subscribe)));
            assert!(matches!(peer.recv(), Some(Packet::SubAck(_))));
            if online {
                return Some(peer);
            }
            assert!(peer.send(&Packet::Disconnect(codec::Disconnect::new(codec::ReasonCode::Success))));
            None
        })
        .collect()
}

/// One run: subscribers (connected and acknowledging, or offline), a publisher, the broker
/// stopped by `signal` after `delay`, started again; then the subscribers resume and read
/// to the end.
fn crash_and_recover(signal: &'static str, delay: Duration, online: bool) {
    let dir = TempDir::new();
    let store = dir.path().join("store.db");
    let (broker, addr) = start(&store);
    let subscribers = subscribe_all(addr, online);
    let readers: Vec<_> = subscribers
        .into_iter()
        .map(|mut peer| {
            std::thread::spawn(move || {
                let mut received = Received::default();
                received.read(&mut peer, false);
                received
            })
        })
        .collect();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(delay);
        broker.signal(signal);
        broker
    });
    let acknowledged = publish_until_gone(addr, u32::MAX);
    let mut broker = killer.join().unwrap();
    broker.child.wait().unwrap();
    let mut received: Vec<Received> = readers.into_iter().map(|reader| reader.join().unwrap()).collect();
    if received.is_empty() {
        received = SUBSCRIBERS.iter().map(|_| Received::default()).collect();
    }

    let (_broker, addr) = start(&store);
    for (&(client_id, version, _), received) in SUBSCRIBERS.iter().zip(&mut received) {
        let (mut peer, session_present) = Peer::connect(addr, persistent(version, client_id));
        assert!(session_present, "{client_id}: the session survived {signal}");
        let (mut marker, _) = Peer::connect(addr, Connect::new(ProtocolVersion::V311, mqtt_string("crash-end")));
        for (name, qos) in TOPICS {
            let packet_id = (qos != QoS::AtMostOnce).then(|| id(1));
            assert!(marker.send(&Packet::Publish(Publish::new(mqtt_string(name), qos, packet_id, Bytes::from(END)))));
            loop {
                match marker.recv() {
                    Some(Packet::PubRec(rec)) => assert!(marker.send(&Packet::PubRel(PublishAck::new(rec.packet_id)))),
                    Some(Packet::PubAck(_) | Packet::PubComp(_)) => break,
                    other => panic!("{other:?}"),
                }
            }
        }
        assert!(received.read(&mut peer, true), "{client_id}: the end markers came");
        received.check(client_id, &acknowledged);
    }
    assert!(
        acknowledged.len() > 100,
        "the broker acknowledged {} messages before {signal}: too few to test",
        acknowledged.len()
    );
}

/// A delay from a seed, between 100 and 400 ms: where the kill lands.
fn delay(seed: u64) -> Duration {
    let mixed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 33;
    Duration::from_millis(100 + mixed % 300)
}

#[test]
fn sigkill_loses_no_acknowledged_message_of_offline_subscribers() {
    for seed in 1..=3 {
        crash_and_recover("KILL", delay(seed), false);
    }
}

#[test]
fn sigkill_loses_no_acknowledged_message_of_subscribers_acknowledging_as_it_lands() {
    for seed in 4..=6 {
        crash_and_recover("KILL", delay(seed), true);
    }
}

#[test]
fn a_sigterm_restart_keeps_everything() {
    crash_and_recover("TERM", delay(7), true);
}
