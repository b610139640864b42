//! Random interleavings of commands, server replies, blocked writes, connection losses and
//! time steps, with the invariants checked after every step:
//!
//! - packet identifiers in use are unique and non-zero, and exactly those of queued QoS 1 and
//!   2 publishes, publishes in flight and pending requests (none leaks);
//! - in flight, queued and pending requests never exceed their limits, and the server never
//!   sees more unacknowledged publishes than its Receive Maximum;
//! - every accepted publish is acknowledged, in flight, queued, written (QoS 0) or reported
//!   dropped: never silently lost, never finished twice;
//! - on the wire, seen by a fake server that tracks its side of every exchange: CONNECT first,
//!   nothing after DISCONNECT, no new packet reusing an identifier still in use, no message
//!   written twice on one connection, at most one PINGREQ outstanding, nothing larger than the
//!   server's Maximum Packet Size, no PUBLISH after its PUBREL, and no QoS 2 message delivered
//!   twice;
//! - QoS 0 messages do not outlive their connection, and the client never accuses the
//!   well-behaved server of a protocol violation.
//!
//! At the end the server answers everything, reconnecting as needed: every accepted publish
//! must then have come to an end and every identifier be free, and every message of the
//! server's must be finished. A publish stuck for good is lost as surely as a dropped one.
//!
//! In a fifth of the runs a step may feed the client garbage. It must close, never panic;
//! from then on the fake server stops judging the wire (the garbage may have acknowledged
//! anything), while the client's own invariants still hold.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::num::{NonZeroU16, NonZeroU32};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use verimqtt_proto::client::{
    Client, DisconnectReason, DroppedRequest, Event, IdlePeriod, PublishState, PublishTicket, State,
};
use verimqtt_proto::codec::{
    self, ConnAck, DecodeOptions, Disconnect, MqttString, Packet, PacketId, Properties, PropertyValues,
    ProtocolVersion, Publish, PublishAck, QoS, ReasonCode, SubAck, Subscription, SubscriptionOptions, UnsubAck,
};

use crate::harness::{encode, options};

#[derive(Debug, Clone)]
struct Config {
    version: ProtocolVersion,
    persistent: bool,
    keep_alive: u16,
    max_in_flight: usize,
    max_queued: usize,
    max_pending_requests: usize,
    max_pending_events: usize,
    /// MQTT 5: the client's Receive Maximum, which the server respects.
    client_receive_maximum: u16,
    /// MQTT 5: what the CONNACK says.
    server_receive_maximum: u16,
    server_maximum_packet_size: Option<u32>,
    topic_aliases: bool,
    /// Whether the Garbage steps of the run send anything: most runs keep the server honest,
    /// so that the wire is judged throughout.
    garbage: bool,
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)],
        any::<bool>(),
        prop_oneof![Just(0u16), Just(10)],
        1..6usize,
        1..10usize,
        1..4usize,
        1..6usize,
        1..5u16,
        1..5u16,
        prop_oneof![Just(None), Just(Some(120u32))],
        any::<bool>(),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(
                version,
                persistent,
                keep_alive,
                max_in_flight,
                max_queued,
                max_pending_requests,
                max_pending_events,
                client_receive_maximum,
                server_receive_maximum,
                server_maximum_packet_size,
                topic_aliases,
                garbage,
            )| {
                let v5 = version.is_v5();
                Config {
                    version,
                    persistent,
                    keep_alive,
                    max_in_flight,
                    max_queued,
                    max_pending_requests,
                    max_pending_events,
                    client_receive_maximum: if v5 { client_receive_maximum } else { u16::MAX },
                    server_receive_maximum: if v5 { server_receive_maximum } else { u16::MAX },
                    server_maximum_packet_size: server_maximum_packet_size.filter(|_| v5),
                    topic_aliases: topic_aliases && v5,
                    garbage,
                }
            },
        )
}

#[derive(Debug, Clone)]
enum Step {
    Publish {
        qos: QoS,
        topic: u8,
        large: bool,
    },
    Subscribe {
        filters: u8,
    },
    Unsubscribe,
    /// The server sends one of the answers it owes, a failure if `fail` (MQTT 5).
    ServerAnswer {
        choice: u8,
        fail: bool,
    },
    ServerPublish {
        qos: QoS,
    },
    /// The server sends a QoS 2 PUBLISH again, DUP 1, before its PUBREC came.
    ServerRepeat {
        choice: u8,
    },
    ServerPubRel {
        choice: u8,
    },
    /// Several packets from the server in one read: messages and answers.
    ServerBurst {
        packets: u8,
    },
    ToggleSocket,
    Advance {
        millis: u32,
    },
    LoseConnection,
    Reconnect {
        server_keeps_session: bool,
    },
    Disconnect,
    Garbage(Vec<u8>),
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce), Just(QoS::ExactlyOnce)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (qos(), 0..3u8, prop::bool::weighted(0.1)).prop_map(|(qos, topic, large)| Step::Publish { qos, topic, large }),
        2 => (1..3u8).prop_map(|filters| Step::Subscribe { filters }),
        1 => Just(Step::Unsubscribe),
        8 => (any::<u8>(), prop::bool::weighted(0.1)).prop_map(|(choice, fail)| Step::ServerAnswer { choice, fail }),
        3 => qos().prop_map(|qos| Step::ServerPublish { qos }),
        1 => any::<u8>().prop_map(|choice| Step::ServerRepeat { choice }),
        2 => any::<u8>().prop_map(|choice| Step::ServerPubRel { choice }),
        2 => (2..8u8).prop_map(|packets| Step::ServerBurst { packets }),
        2 => Just(Step::ToggleSocket),
        4 => (0..16_000u32).prop_map(|millis| Step::Advance { millis }),
        1 => Just(Step::LoseConnection),
        3 => any::<bool>().prop_map(|server_keeps_session| Step::Reconnect { server_keeps_session }),
        1 => Just(Step::Disconnect),
        1 => prop::collection::vec(any::<u8>(), 1..12).prop_map(Step::Garbage),
    ]
}

/// What the test knows of an accepted publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Pending,
    /// A QoS 0 publish the server received.
    Written,
    Finished,
    Dropped,
}

/// An answer the server owes the client.
#[derive(Debug, Clone, Copy)]
enum Owed {
    PubAck(PacketId),
    PubRec(PacketId),
    PubComp(PacketId),
    SubAck(PacketId, usize),
    UnsubAck(PacketId, usize),
    PingResp,
}

/// Where one of the server's own QoS 1 or 2 messages stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outbound {
    AwaitingPubAck(Bytes),
    AwaitingPubRec(Bytes),
    ReadyToRelease,
    AwaitingPubComp,
}

/// The server's view of one connection.
#[derive(Debug, Default)]
struct ServerConnection {
    connect_seen: bool,
    disconnect_seen: bool,
    owed: Vec<Owed>,
    /// The client's QoS 1 and 2 publishes received here and not yet finished by the server.
    unfinished: BTreeSet<PacketId>,
    pings_outstanding: usize,
    /// The server's own QoS 1 and 2 messages sent here and not yet finished.
    sent_unfinished: BTreeSet<PacketId>,
    /// Payloads of the client's publishes seen here (each is a unique key).
    payloads_seen: HashSet<Bytes>,
}

impl ServerConnection {
    /// Between CONNECT and DISCONNECT: the server may answer and send on it.
    fn is_live(&self) -> bool {
        self.connect_seen && !self.disconnect_seen
    }
}

#[derive(Debug, Default)]
struct Server {
    connection: Option<ServerConnection>,
    /// Identifiers of the client's exchanges the server has not finished: session state for
    /// publishes, connection state for requests.
    client_ids: BTreeMap<PacketId, bool>,
    outbound: BTreeMap<PacketId, Outbound>,
    /// The client's QoS 2 publishes whose PUBREL came: never to be sent again
    /// ([MQTT-4.3.3-1] in 3.1.1, [MQTT-4.3.3-6] in 5.0).
    released: BTreeSet<PacketId>,
    has_session: bool,
    keeps_session: bool,
    /// Bytes for the client it has not taken yet.
    downstream: Vec<u8>,
    next_message: u64,
    /// Garbage was sent: the wire is no longer the server's to judge.
    lenient: bool,
}

struct World {
    config: Config,
    client: Client,
    now: Instant,
    socket_full: bool,
    server: Server,
    tickets: BTreeMap<Bytes, (PublishTicket, Fate)>,
    attempts: u64,
    delivered_qos2: HashSet<Bytes>,
}

impl World {
    fn new(config: Config) -> Self {
        let mut options = options(config.version);
        options.keep_alive = config.keep_alive;
        options.recv_idle_ping = IdlePeriod::Off;
        options.max_in_flight = config.max_in_flight;
        options.max_queued = config.max_queued;
        options.max_pending_requests = config.max_pending_requests;
        options.max_pending_events = config.max_pending_events;
        if config.version.is_v5() {
            options.receive_maximum = NonZeroU16::new(config.client_receive_maximum).unwrap();
            options.outbound_topic_aliases = config.topic_aliases;
            options.session_expiry_interval = if config.persistent { u32::MAX } else { 0 };
        } else {
            options.clean_start = !config.persistent;
        }
        World {
            client: Client::new(options).unwrap(),
            config,
            now: Instant::now(),
            socket_full: false,
            server: Server::default(),
            tickets: BTreeMap::new(),
            attempts: 0,
            delivered_qos2: HashSet::new(),
        }
    }

    fn apply(&mut self, step: &Step) {
        match step {
            Step::Publish { qos, topic, large } => self.publish(*qos, *topic, *large),
            Step::Subscribe { filters } => {
                let subscriptions = (0..*filters)
                    .map(|n| Subscription {
                        filter: MqttString::try_from(format!("f/{n}")).unwrap(),
                        options: SubscriptionOptions::new(QoS::ExactlyOnce),
                    })
                    .collect();
                let _ = self.client.subscribe(self.now, subscriptions, Properties::default());
            }
            Step::Unsubscribe => {
                let _ = self.client.unsubscribe(
                    self.now,
                    vec![MqttString::from_static("f/0").unwrap()],
                    Properties::default(),
                );
            }
            Step::ServerAnswer { choice, fail } => self.server_answer(*choice, *fail),
            Step::ServerPublish { qos } => self.server_publish(*qos),
            Step::ServerRepeat { choice } => self.server_repeat(*choice),
            Step::ServerPubRel { choice } => self.server_pubrel(*choice),
            Step::ServerBurst { packets } => {
                for n in 0..*packets {
                    let qos = if n % 2 == 0 { QoS::AtLeastOnce } else { QoS::AtMostOnce };
                    self.server_publish(qos);
                    self.server_answer(n, false);
                }
            }
            Step::ToggleSocket => self.socket_full = !self.socket_full,
            Step::Advance { millis } => self.advance(Duration::from_millis(u64::from(*millis))),
            Step::LoseConnection => {
                if self.server.connection.is_some() {
                    self.client.handle_closed(self.now);
                    self.server_connection_closed();
                }
            }
            Step::Reconnect { server_keeps_session } => {
                if self.client.state() == State::Disconnected {
                    self.server.keeps_session = *server_keeps_session;
                    self.client.handle_connected(self.now);
                    self.server.connection = Some(ServerConnection::default());
                    self.server.downstream.clear();
                    self.client.connect(self.now).unwrap();
                }
            }
            Step::Disconnect => {
                let _ = self.client.disconnect(self.now, Disconnect::default());
            }
            Step::Garbage(bytes) => {
                if self.config.garbage && self.server.connection.is_some() {
                    self.server.lenient = true;
                    self.server.downstream.extend_from_slice(bytes);
                }
            }
        }
        self.settle();
    }

    fn publish(&mut self, qos: QoS, topic: u8, large: bool) {
        self.attempts += 1;
        let mut payload = self.attempts.to_be_bytes().to_vec();
        if large {
            payload.resize(300, 0);
        }
        let payload = Bytes::from(payload);
        let topic = MqttString::try_from(format!("t/{topic}")).unwrap();
        if let Ok(ticket) = self.client.publish(self.now, topic, payload.clone(), qos, false, Properties::default()) {
            self.tickets.insert(payload, (ticket, Fate::Pending));
        }
    }

    /// Lets time pass, firing each timer at its deadline.
    fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        for _ in 0..1000 {
            match self.client.poll_timeout() {
                Some(deadline) if deadline <= target => {
                    self.now = self.now.max(deadline);
                    self.client.handle_timeout(self.now);
                    self.settle();
                }
                _ => {
                    self.now = target;
                    return;
                }
            }
        }
        panic!("timers keep coming due");
    }

    /// Runs the exchange until nothing moves: bytes to the client, packets to the server,
    /// events to the test.
    fn settle(&mut self) {
        for _ in 0..100 {
            let mut moved = self.offer();
            if !self.socket_full || self.client.state() == State::Disconnected {
                while let Some(bytes) = self.client.poll_transmit() {
                    moved = true;
                    self.server_receive(&bytes);
                }
            }
            // The client closed the connection itself: the runtime closes the transport.
            if self.client.state() == State::Disconnected && self.server.connection.is_some() {
                self.server_connection_closed();
            }
            while let Some(event) = self.client.poll_event() {
                moved = true;
                self.account(event);
            }
            if !moved {
                return;
            }
        }
        panic!("the exchange does not settle");
    }

    fn offer(&mut self) -> bool {
        if self.server.connection.is_none() || self.server.downstream.is_empty() {
            return false;
        }
        let taken = self.client.handle_bytes(self.now, &self.server.downstream);
        self.server.downstream.drain(..taken);
        taken > 0
    }

    fn account(&mut self, event: Event) {
        match event {
            Event::PubAck { ticket, .. } | Event::PubComp { ticket, .. } => self.finish(ticket),
            Event::PubRec { ticket, ack } if ack.reason_code.is_failure() => self.finish(ticket),
            Event::Dropped { requests, reason } => {
                for request in requests {
                    if let DroppedRequest::Publish { ticket, publish } = request {
                        let fate = self.fate(&publish.payload, ticket);
                        assert_eq!(*fate, Fate::Pending, "{ticket:?} dropped ({reason:?}) after it was done");
                        *fate = Fate::Dropped;
                    }
                }
            }
            Event::Disconnected { reason: DisconnectReason::ProtocolViolation(violation), .. } => {
                assert!(self.server.lenient, "the client accused a well-behaved server: {violation:?}");
            }
            Event::Message(publish) if publish.qos == QoS::ExactlyOnce && !self.server.lenient => {
                assert!(self.delivered_qos2.insert(publish.payload.clone()), "QoS 2 message delivered twice");
            }
            _ => {}
        }
    }

    fn finish(&mut self, ticket: PublishTicket) {
        let key = self.tickets.iter().find(|(_, (known, _))| *known == ticket).map(|(key, _)| key.clone());
        let key = key.expect("an event names a ticket the client gave");
        let fate = self.fate(&key, ticket);
        assert_eq!(*fate, Fate::Pending, "{ticket:?} finished twice, or after it was dropped");
        *fate = Fate::Finished;
    }

    fn fate(&mut self, payload: &Bytes, ticket: PublishTicket) -> &mut Fate {
        let (known, fate) = self.tickets.get_mut(payload).expect("a publish the client accepted");
        assert_eq!(*known, ticket);
        fate
    }

    // The fake server.

    fn send(&mut self, packet: Packet) {
        self.server.downstream.extend_from_slice(&encode(&packet, self.config.version));
    }

    fn server_receive(&mut self, bytes: &[u8]) {
        let mut buffer = BytesMut::from(bytes);
        let packet = codec::decode(&mut buffer, &DecodeOptions::new(self.config.version))
            .expect("the client writes valid packets")
            .expect("poll_transmit gives whole packets");
        assert!(buffer.is_empty(), "poll_transmit gives one packet at a time");
        if let Packet::Publish(publish) = &packet {
            if publish.qos == QoS::AtMostOnce {
                let ticket = self.tickets.get(&publish.payload).map(|(ticket, _)| *ticket);
                if let Some(ticket) = ticket {
                    let fate = self.fate(&publish.payload, ticket);
                    assert_eq!(*fate, Fate::Pending, "a QoS 0 message written twice");
                    *fate = Fate::Written;
                }
            }
        }
        let lenient = self.server.lenient;
        let Some(connection) = self.server.connection.as_mut() else {
            panic!("the client wrote {packet:?} with no transport")
        };
        assert!(!connection.disconnect_seen, "{packet:?} written after DISCONNECT");
        assert!(connection.connect_seen || matches!(packet, Packet::Connect(_)), "{packet:?} before CONNECT");
        if let Some(max) = self.config.server_maximum_packet_size {
            assert!(bytes.len() <= max as usize, "{} bytes over the Maximum Packet Size", bytes.len());
        }
        match packet {
            Packet::Connect(connect) => self.server_connect(connect.clean_start),
            Packet::Publish(publish) => self.server_on_publish(publish, lenient),
            Packet::PubRel(pubrel) => {
                self.server.released.insert(pubrel.packet_id);
                let connection = self.server.connection.as_mut().unwrap();
                connection.owed.push(Owed::PubComp(pubrel.packet_id));
            }
            Packet::Subscribe(subscribe) => {
                self.claim(subscribe.packet_id, false, lenient);
                let connection = self.server.connection.as_mut().unwrap();
                connection.owed.push(Owed::SubAck(subscribe.packet_id, subscribe.subscriptions.len()));
            }
            Packet::Unsubscribe(unsubscribe) => {
                self.claim(unsubscribe.packet_id, false, lenient);
                let connection = self.server.connection.as_mut().unwrap();
                connection.owed.push(Owed::UnsubAck(unsubscribe.packet_id, unsubscribe.filters.len()));
            }
            Packet::PubAck(ack) => {
                self.server_on_answer(ack.packet_id, |stage| matches!(stage, Outbound::AwaitingPubAck(_)), None)
            }
            Packet::PubRec(ack) => {
                // A repeated QoS 2 message is answered again.
                let awaiting =
                    |stage: &Outbound| matches!(stage, Outbound::AwaitingPubRec(_) | Outbound::ReadyToRelease);
                self.server_on_answer(ack.packet_id, awaiting, Some(Outbound::ReadyToRelease))
            }
            Packet::PubComp(ack) => {
                self.server_on_answer(ack.packet_id, |stage| *stage == Outbound::AwaitingPubComp, None)
            }
            Packet::PingReq => {
                let connection = self.server.connection.as_mut().unwrap();
                connection.pings_outstanding += 1;
                assert!(connection.pings_outstanding <= 1, "a second PINGREQ while one is outstanding");
                connection.owed.push(Owed::PingResp);
            }
            Packet::Disconnect(_) => self.server.connection.as_mut().unwrap().disconnect_seen = true,
            other => panic!("a client does not send {other:?}"),
        }
    }

    /// A new PUBLISH, SUBSCRIBE or UNSUBSCRIBE takes an identifier not in use
    /// ([MQTT-2.3.1-2], [MQTT-2.2.1-3]).
    fn claim(&mut self, packet_id: PacketId, is_publish: bool, lenient: bool) {
        let previous = self.server.client_ids.insert(packet_id, is_publish);
        assert!(lenient || previous.is_none(), "identifier {packet_id} reused while in use");
    }

    fn server_connect(&mut self, clean_start: bool) {
        let server = &mut self.server;
        server.connection.as_mut().unwrap().connect_seen = true;
        let session_present = !clean_start && server.has_session && server.keeps_session;
        if !session_present {
            server.client_ids.clear();
            server.outbound.clear();
            server.released.clear();
        }
        server.has_session = self.config.persistent;
        let mut properties = PropertyValues::default();
        if self.config.version.is_v5() {
            properties.receive_maximum = NonZeroU16::new(self.config.server_receive_maximum);
            properties.maximum_packet_size = self.config.server_maximum_packet_size.and_then(NonZeroU32::new);
            properties.topic_alias_maximum = self.config.topic_aliases.then_some(2);
        }
        let connack = ConnAck { session_present, reason_code: ReasonCode::Success, properties: properties.into() };
        self.send(Packet::ConnAck(connack));
        // A resumed session sends its unfinished messages again.
        let resend: Vec<_> = self.server.outbound.iter().map(|(id, stage)| (*id, stage.clone())).collect();
        for (packet_id, stage) in resend {
            match stage {
                Outbound::AwaitingPubAck(payload) => self.send_message(packet_id, QoS::AtLeastOnce, payload, true),
                Outbound::AwaitingPubRec(payload) => self.send_message(packet_id, QoS::ExactlyOnce, payload, true),
                Outbound::AwaitingPubComp => self.send(Packet::PubRel(PublishAck::new(packet_id))),
                // Its PUBREL waits for a step of its own.
                Outbound::ReadyToRelease => {}
            }
        }
    }

    fn server_on_publish(&mut self, publish: Publish, lenient: bool) {
        let connection = self.server.connection.as_mut().unwrap();
        assert!(
            lenient || connection.payloads_seen.insert(publish.payload.clone()),
            "a message written twice on one connection"
        );
        let Some(packet_id) = publish.packet_id else { return };
        assert!(
            lenient || !self.server.released.contains(&packet_id),
            "PUBLISH {packet_id} sent again after its PUBREL"
        );
        if !publish.dup {
            self.claim(packet_id, true, lenient);
        }
        let connection = self.server.connection.as_mut().unwrap();
        connection.unfinished.insert(packet_id);
        assert!(
            lenient || connection.unfinished.len() <= usize::from(self.config.server_receive_maximum),
            "more than the server's Receive Maximum unacknowledged"
        );
        connection.owed.push(match publish.qos {
            QoS::ExactlyOnce => Owed::PubRec(packet_id),
            _ => Owed::PubAck(packet_id),
        });
    }

    /// The client answered one of the server's messages.
    fn server_on_answer(&mut self, packet_id: PacketId, expected: fn(&Outbound) -> bool, next: Option<Outbound>) {
        let stage = self.server.outbound.get(&packet_id);
        if !stage.is_some_and(expected) {
            assert!(self.server.lenient, "unexpected answer for {packet_id} in {stage:?}");
            return;
        }
        match next {
            Some(next) => {
                self.server.outbound.insert(packet_id, next);
            }
            None => {
                self.server.outbound.remove(&packet_id);
                if let Some(connection) = self.server.connection.as_mut() {
                    connection.sent_unfinished.remove(&packet_id);
                }
            }
        }
    }

    fn server_answer(&mut self, choice: u8, fail: bool) {
        let v5 = self.config.version.is_v5();
        let Some(connection) = self.server.connection.as_mut().filter(|c| c.is_live()) else {
            return;
        };
        if connection.owed.is_empty() {
            return;
        }
        let owed = connection.owed.remove(usize::from(choice) % connection.owed.len());
        let failure =
            |packet_id| PublishAck { reason_code: ReasonCode::UnspecifiedError, ..PublishAck::new(packet_id) };
        let packet = match owed {
            Owed::PubAck(packet_id) => {
                self.finish_client_exchange(packet_id);
                Packet::PubAck(if fail && v5 { failure(packet_id) } else { PublishAck::new(packet_id) })
            }
            Owed::PubRec(packet_id) if fail && v5 => {
                self.finish_client_exchange(packet_id);
                Packet::PubRec(failure(packet_id))
            }
            Owed::PubRec(packet_id) => Packet::PubRec(PublishAck::new(packet_id)),
            Owed::PubComp(packet_id) => {
                self.finish_client_exchange(packet_id);
                Packet::PubComp(PublishAck::new(packet_id))
            }
            Owed::SubAck(packet_id, count) => {
                self.server.client_ids.remove(&packet_id);
                let reason_codes = vec![ReasonCode::GrantedQos1; count];
                Packet::SubAck(SubAck { packet_id, properties: Properties::default(), reason_codes })
            }
            Owed::UnsubAck(packet_id, count) => {
                self.server.client_ids.remove(&packet_id);
                let reason_codes = if v5 { vec![ReasonCode::Success; count] } else { Vec::new() };
                Packet::UnsubAck(UnsubAck { packet_id, properties: Properties::default(), reason_codes })
            }
            Owed::PingResp => {
                if let Some(connection) = self.server.connection.as_mut() {
                    connection.pings_outstanding -= 1;
                }
                Packet::PingResp
            }
        };
        self.send(packet);
    }

    fn finish_client_exchange(&mut self, packet_id: PacketId) {
        self.server.client_ids.remove(&packet_id);
        self.server.released.remove(&packet_id);
        if let Some(connection) = self.server.connection.as_mut() {
            connection.unfinished.remove(&packet_id);
        }
    }

    fn server_publish(&mut self, qos: QoS) {
        let Some(connection) = self.server.connection.as_ref().filter(|c| c.is_live()) else {
            return;
        };
        // The server keeps to the client's Receive Maximum ([MQTT-3.3.4-9]).
        let room = connection.sent_unfinished.len() < usize::from(self.config.client_receive_maximum);
        self.server.next_message += 1;
        let payload = Bytes::from(format!("m{}", self.server.next_message));
        if qos == QoS::AtMostOnce {
            self.send(Packet::Publish(Publish::new(MqttString::from_static("in").unwrap(), qos, None, payload)));
            return;
        }
        let free = (1..=u16::MAX).filter_map(PacketId::new).find(|id| !self.server.outbound.contains_key(id));
        let Some(packet_id) = free.filter(|_| room) else { return };
        let stage = match qos {
            QoS::ExactlyOnce => Outbound::AwaitingPubRec(payload.clone()),
            _ => Outbound::AwaitingPubAck(payload.clone()),
        };
        self.server.outbound.insert(packet_id, stage);
        let publish = Publish::new(MqttString::from_static("in").unwrap(), qos, Some(packet_id), payload);
        self.send(Packet::Publish(publish));
        if let Some(connection) = self.server.connection.as_mut() {
            connection.sent_unfinished.insert(packet_id);
        }
    }

    /// Sends one of the server's messages again, DUP 1; on a new connection it counts as sent
    /// there.
    fn send_message(&mut self, packet_id: PacketId, qos: QoS, payload: Bytes, new_connection: bool) {
        let mut publish = Publish::new(MqttString::from_static("in").unwrap(), qos, Some(packet_id), payload);
        publish.dup = true;
        self.send(Packet::Publish(publish));
        if let Some(connection) = self.server.connection.as_mut().filter(|_| new_connection) {
            connection.sent_unfinished.insert(packet_id);
        }
    }

    fn server_repeat(&mut self, choice: u8) {
        if !self.server.connection.as_ref().is_some_and(ServerConnection::is_live) {
            return;
        }
        let waiting: Vec<_> = self
            .server
            .outbound
            .iter()
            .filter_map(|(id, stage)| match stage {
                Outbound::AwaitingPubRec(payload) => Some((*id, payload.clone())),
                _ => None,
            })
            .collect();
        if let Some((packet_id, payload)) = waiting.get(usize::from(choice) % waiting.len().max(1)).cloned() {
            self.send_message(packet_id, QoS::ExactlyOnce, payload, false);
        }
    }

    fn server_pubrel(&mut self, choice: u8) {
        if !self.server.connection.as_ref().is_some_and(ServerConnection::is_live) {
            return;
        }
        let ready: Vec<_> = self
            .server
            .outbound
            .iter()
            .filter(|(_, stage)| **stage == Outbound::ReadyToRelease)
            .map(|(id, _)| *id)
            .collect();
        if let Some(&packet_id) = ready.get(usize::from(choice) % ready.len().max(1)) {
            self.server.outbound.insert(packet_id, Outbound::AwaitingPubComp);
            self.send(Packet::PubRel(PublishAck::new(packet_id)));
        }
    }

    fn server_connection_closed(&mut self) {
        let server = &mut self.server;
        server.connection = None;
        server.downstream.clear();
        // Requests live as long as their connection; publishes as long as the session.
        server.client_ids.retain(|_, is_publish| *is_publish);
        if !server.has_session {
            server.client_ids.clear();
            server.outbound.clear();
            server.released.clear();
        }
    }

    /// Lets a well-behaved server answer everything, reconnecting as needed, until nothing is
    /// left: every accepted publish then must have come to an end, and every identifier be
    /// free. A publish stuck for good would be lost as surely as one dropped silently.
    fn quiesce(&mut self) {
        self.socket_full = false;
        if self.server.lenient {
            // Garbage may have left the client waiting for the rest of a packet that will never
            // come: a new connection starts the byte stream afresh.
            self.apply(&Step::LoseConnection);
        }
        self.settle();
        for _ in 0..100 {
            if self.client.state() == State::Disconnected {
                self.apply(&Step::Reconnect { server_keeps_session: true });
            }
            let owed = self.server.connection.as_ref().map_or(0, |connection| connection.owed.len());
            let ready = self.server.outbound.values().filter(|stage| **stage == Outbound::ReadyToRelease).count();
            let client_busy = self.client.queued() + self.client.in_flight() + self.client.pending_requests() > 0;
            if owed == 0 && ready == 0 && !client_busy {
                break;
            }
            for _ in 0..owed {
                self.apply(&Step::ServerAnswer { choice: 0, fail: false });
            }
            for _ in 0..ready {
                self.apply(&Step::ServerPubRel { choice: 0 });
            }
            self.check_invariants();
        }
        let pending: Vec<_> = self.tickets.values().filter(|(_, fate)| *fate == Fate::Pending).collect();
        assert!(pending.is_empty(), "publishes never finished: {pending:?}");
        // And the client answered every message of the server's, on this session.
        assert!(self.server.outbound.is_empty(), "the server's messages never finished: {:?}", self.server.outbound);
        assert_eq!(self.client.packet_ids_in_use().count(), 0);
        assert_eq!((self.client.queued(), self.client.in_flight(), self.client.pending_requests()), (0, 0, 0));
    }

    fn check_invariants(&self) {
        let client = &self.client;
        let ids: Vec<u16> = client.packet_ids_in_use().map(|id| id.get()).collect();
        assert!(ids.iter().all(|&id| id != 0), "identifier 0 in use");
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "identifiers listed twice: {ids:?}");
        assert!(client.in_flight() <= self.config.max_in_flight);
        assert!(client.queued() <= self.config.max_queued);
        assert!(client.pending_requests() <= self.config.max_pending_requests);
        let mut queued_with_id = 0;
        let disconnected = client.state() == State::Disconnected;
        for (ticket, fate) in self.tickets.values() {
            let state = client.publish_state(ticket);
            match fate {
                // QoS 0 messages do not outlive their connection.
                Fate::Pending if ticket.qos() == QoS::AtMostOnce && disconnected => {
                    panic!("QoS 0 {ticket:?} outlived its connection")
                }
                Fate::Pending if ticket.qos() == QoS::AtMostOnce => {
                    assert_eq!(state, Some(PublishState::Queued), "QoS 0 {ticket:?} lost silently");
                }
                Fate::Pending => assert!(state.is_some(), "{ticket:?} lost silently"),
                Fate::Written | Fate::Finished | Fate::Dropped => {
                    assert_eq!(state, None, "{ticket:?} is {fate:?} yet the client still holds it");
                }
            }
            if state == Some(PublishState::Queued) && ticket.qos() != QoS::AtMostOnce {
                queued_with_id += 1;
            }
        }
        assert_eq!(
            ids.len(),
            queued_with_id + client.in_flight() + client.pending_requests(),
            "identifiers in use are exactly those of queued and in-flight publishes and pending requests"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_after_every_step(config in config(), steps in prop::collection::vec(step(), 1..80)) {
        let mut world = World::new(config);
        world.apply(&Step::Reconnect { server_keeps_session: true });
        world.check_invariants();
        for step in &steps {
            world.apply(step);
            world.check_invariants();
        }
        world.quiesce();
    }
}

/// The checks are not vacuous: a publish the test believes pending, which the client has in
/// fact finished, is reported as lost.
#[test]
#[should_panic(expected = "lost silently")]
fn the_invariant_check_catches_a_publish_lost_silently() {
    let config = Config {
        version: ProtocolVersion::V5,
        persistent: false,
        keep_alive: 0,
        max_in_flight: 2,
        max_queued: 4,
        max_pending_requests: 2,
        max_pending_events: 4,
        client_receive_maximum: 2,
        server_receive_maximum: 2,
        server_maximum_packet_size: None,
        topic_aliases: false,
        garbage: false,
    };
    let mut world = World::new(config);
    world.apply(&Step::Reconnect { server_keeps_session: true });
    world.apply(&Step::Publish { qos: QoS::AtLeastOnce, topic: 0, large: false });
    world.apply(&Step::ServerAnswer { choice: 0, fail: false });
    for (_, fate) in world.tickets.values_mut() {
        assert_eq!(*fate, Fate::Finished);
        *fate = Fate::Pending;
    }
    world.check_invariants();
}
