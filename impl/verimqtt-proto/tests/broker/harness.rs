//! Drives a sans-IO broker with encoded packets and a simulated clock, as a runtime would:
//! bytes in, bytes out per connection, and every connection the broker closes flushed and
//! reported closed back to it.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU16;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use verimqtt_proto::broker::{AllowAll, Broker, BrokerOptions, CloseReason, ConnId, Event, ListenerId, Policy};
use verimqtt_proto::codec::{
    self, ConnAck, Connect, DecodeOptions, MqttString, Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS,
    ReasonCode, Subscribe, Subscription, SubscriptionOptions, Unsubscribe,
};
use verimqtt_proto::testing::BrokerDriver;

pub use ProtocolVersion::{V5, V311};

/// One client's end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub conn: ConnId,
    pub version: ProtocolVersion,
}

/// The broker under the one driver of `verimqtt_proto::testing`, with packets encoded and decoded
/// for the test. Derefs to the driver: `harness.broker`, `harness.now`.
pub struct Harness<P: Policy = AllowAll> {
    driver: BrokerDriver<P>,
    next_conn: u64,
    /// Bytes the broker sent each connection that the test has not read yet.
    inbox: HashMap<ConnId, BytesMut>,
    /// Packets decoded from the inbox and not read yet.
    unread: HashMap<ConnId, VecDeque<Packet>>,
}

impl<P: Policy> Deref for Harness<P> {
    type Target = BrokerDriver<P>;
    fn deref(&self) -> &BrokerDriver<P> {
        &self.driver
    }
}

impl<P: Policy> DerefMut for Harness<P> {
    fn deref_mut(&mut self) -> &mut BrokerDriver<P> {
        &mut self.driver
    }
}

impl Harness<AllowAll> {
    pub fn new() -> Self {
        Self::with_options(BrokerOptions::default())
    }

    pub fn with_options(options: BrokerOptions) -> Self {
        Harness::with_policy(options, AllowAll)
    }
}

impl<P: Policy> Harness<P> {
    pub fn with_policy(options: BrokerOptions, policy: P) -> Self {
        Harness {
            driver: BrokerDriver::new(Broker::new(options, policy), Instant::now()),
            next_conn: 0,
            inbox: HashMap::new(),
            unread: HashMap::new(),
        }
    }

    /// Opens a network connection without sending anything.
    pub fn open(&mut self, version: ProtocolVersion) -> Client {
        self.open_on(version, ListenerId::DEFAULT)
    }

    /// Opens a network connection on `listener` without sending anything.
    pub fn open_on(&mut self, version: ProtocolVersion, listener: ListenerId) -> Client {
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        self.driver.open_on(conn, listener).unwrap();
        Client { conn, version }
    }

    /// Opens a connection and sends `connect`; returns the client and the CONNACK.
    pub fn connect_with(&mut self, connect: Connect) -> (Client, ConnAck) {
        self.connect_on(connect, ListenerId::DEFAULT)
    }

    /// Opens a connection on `listener` and sends `connect`; returns the client and the
    /// CONNACK.
    pub fn connect_on(&mut self, connect: Connect, listener: ListenerId) -> (Client, ConnAck) {
        let client = self.open_on(connect.protocol_version, listener);
        self.send(client, Packet::Connect(Box::new(connect)));
        self.receive(client);
        match self.unread.entry(client.conn).or_default().pop_front() {
            Some(Packet::ConnAck(connack)) => (client, connack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// A clean session with keep alive off, accepted.
    pub fn connect(&mut self, client_id: &str, version: ProtocolVersion) -> Client {
        let (client, connack) = self.connect_with(connect(version, client_id));
        assert_eq!(connack.reason_code, ReasonCode::Success, "{connack:?}");
        client
    }

    pub fn send(&mut self, client: Client, packet: Packet) {
        let mut wire = BytesMut::new();
        codec::encode(&packet, client.version, &mut wire).unwrap();
        self.send_bytes(client, &wire);
    }

    pub fn send_bytes(&mut self, client: Client, bytes: &[u8]) {
        self.driver.send(client.conn, bytes);
    }

    /// Every packet the broker has sent `client` that the test has not read: one read of
    /// its socket.
    pub fn recv(&mut self, client: Client) -> Vec<Packet> {
        self.receive(client);
        self.unread.remove(&client.conn).unwrap_or_default().into()
    }

    /// Takes what the broker has for `client` and decodes it, strictly.
    fn receive(&mut self, client: Client) {
        let bytes = self.driver.output(client.conn);
        let inbox = self.inbox.entry(client.conn).or_default();
        inbox.extend_from_slice(&bytes);
        let options = DecodeOptions::new(client.version);
        let unread = self.unread.entry(client.conn).or_default();
        while let Some(packet) = codec::decode(inbox, &options).expect("the broker sent a packet the codec rejects") {
            unread.push_back(packet);
        }
        assert!(inbox.is_empty(), "the broker sent a partial packet");
    }

    /// The one packet the broker sent `client`.
    pub fn recv_one(&mut self, client: Client) -> Packet {
        match <[Packet; 1]>::try_from(self.recv(client)) {
            Ok([packet]) => packet,
            Err(packets) => panic!("expected one packet, got {packets:?}"),
        }
    }

    /// The PUBLISHes the broker sent `client`, failing on anything else.
    pub fn recv_publishes(&mut self, client: Client) -> Vec<Publish> {
        self.recv(client)
            .into_iter()
            .map(|packet| match packet {
                Packet::Publish(publish) => publish,
                other => panic!("expected only PUBLISH, got {other:?}"),
            })
            .collect()
    }

    pub fn recv_nothing(&mut self, client: Client) {
        let packets = self.recv(client);
        assert!(packets.is_empty(), "expected nothing, got {packets:?}");
    }

    /// Why the broker closed `client`'s connection, if it did.
    pub fn close_reason(&mut self, client: Client) -> Option<CloseReason> {
        self.driver.close_reason(client.conn).cloned()
    }

    pub fn is_open(&mut self, client: Client) -> bool {
        self.close_reason(client).is_none()
    }

    /// The network connection drops, as if the cable were cut.
    pub fn cut(&mut self, client: Client) {
        self.driver.close(client.conn);
    }

    /// Every event since the last call.
    pub fn events(&mut self) -> Vec<Event> {
        self.driver.take_events()
    }
}

pub fn string(text: &str) -> MqttString {
    MqttString::try_from(text).unwrap()
}

pub fn id(value: u16) -> PacketId {
    PacketId::new(value).unwrap()
}

pub fn non_zero(value: u16) -> NonZeroU16 {
    NonZeroU16::new(value).unwrap()
}

/// A clean-session CONNECT with keep alive off.
pub fn connect(version: ProtocolVersion, client_id: &str) -> Connect {
    Connect::new(version, string(client_id))
}

/// A CONNECT that resumes or creates a persistent session (in MQTT 5, one that never
/// expires).
pub fn persistent(version: ProtocolVersion, client_id: &str) -> Connect {
    let mut connect = connect(version, client_id);
    connect.clean_start = false;
    if version == V5 {
        connect.properties.session_expiry_interval = Some(u32::MAX);
    }
    connect
}

pub fn publish(topic: &str, qos: QoS, packet_id: u16, payload: &'static str) -> Packet {
    Packet::Publish(publish_packet(topic, qos, packet_id, payload))
}

pub fn publish_packet(topic: &str, qos: QoS, packet_id: u16, payload: &'static str) -> Publish {
    let packet_id = (qos != QoS::AtMostOnce).then(|| id(packet_id));
    Publish::new(string(topic), qos, packet_id, Bytes::from_static(payload.as_bytes()))
}

pub fn retained(topic: &str, qos: QoS, packet_id: u16, payload: &'static str) -> Packet {
    let mut publish = publish_packet(topic, qos, packet_id, payload);
    publish.retain = true;
    Packet::Publish(publish)
}

pub fn subscribe(packet_id: u16, filters: &[(&str, QoS)]) -> Packet {
    let subscriptions = filters
        .iter()
        .map(|&(filter, qos)| Subscription { filter: string(filter), options: SubscriptionOptions::new(qos) })
        .collect();
    Packet::Subscribe(Subscribe { packet_id: id(packet_id), properties: Default::default(), subscriptions })
}

pub fn subscribe_with(packet_id: u16, filter: &str, options: SubscriptionOptions) -> Subscribe {
    Subscribe {
        packet_id: id(packet_id),
        properties: Default::default(),
        subscriptions: vec![Subscription { filter: string(filter), options }],
    }
}

pub fn unsubscribe(packet_id: u16, filters: &[&str]) -> Packet {
    let filters = filters.iter().map(|filter| string(filter)).collect();
    Packet::Unsubscribe(Unsubscribe { packet_id: id(packet_id), properties: Default::default(), filters })
}

pub fn pubrec(packet_id: u16) -> Packet {
    Packet::PubRec(PublishAck::new(id(packet_id)))
}

pub fn pubrel(packet_id: u16) -> Packet {
    Packet::PubRel(PublishAck::new(id(packet_id)))
}

pub fn pubcomp(packet_id: u16) -> Packet {
    Packet::PubComp(PublishAck::new(id(packet_id)))
}

/// Connects `name`, subscribes it to `filter` at `qos` and reads the SUBACK.
pub fn subscriber<P: Policy>(
    harness: &mut Harness<P>,
    name: &str,
    version: ProtocolVersion,
    filter: &str,
    qos: QoS,
) -> Client {
    let client = harness.connect(name, version);
    harness.send(client, subscribe(1, &[(filter, qos)]));
    assert!(matches!(harness.recv_one(client), Packet::SubAck(_)));
    client
}

pub fn payloads(publishes: &[Publish]) -> Vec<&[u8]> {
    publishes.iter().map(|publish| &publish.payload[..]).collect()
}

pub fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}
