//! The sans-IO client driven by arbitrary server bytes, server answers, commands, connection
//! losses and time, with its invariants checked after every step.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use arbitrary::{Result, Unstructured};
use bytes::{Bytes, BytesMut};
use verimqtt_proto::client::{Client, ClientOptions, Event};
use verimqtt_proto::codec::{
    self, ConnAck, DecodeOptions, Disconnect, MqttString, Packet, PacketId, Properties, ProtocolVersion, PublishAck,
    QoS, ReasonCode, SubAck, Subscription, SubscriptionOptions, UnsubAck,
};

use crate::packets::arbitrary_packet;

/// The client's limits, as configured.
struct Limits {
    in_flight: usize,
    queued: usize,
    requests: usize,
}

/// Server bytes the client has not taken yet are kept up to this much; a client that never
/// takes them is a bug the limit of its own queues would show first.
const MAX_PENDING_INPUT: usize = 64 * 1024;

pub struct ClientHarness {
    client: Client,
    limits: Limits,
    version: ProtocolVersion,
    now: Instant,
    connected: bool,
    /// Whether the client has written its first packet on this connection yet.
    wrote_on_connection: bool,
    pending_input: BytesMut,
}

impl ClientHarness {
    pub fn new(u: &mut Unstructured) -> Result<Self> {
        let version = if u.arbitrary()? { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
        let mut options = ClientOptions::new(
            version,
            MqttString::from_static("fuzz").map_err(|_| arbitrary::Error::IncorrectFormat)?,
        );
        options.clean_start = u.arbitrary()?;
        options.keep_alive = u.int_in_range(0..=5)?;
        options.max_in_flight = u.int_in_range(1..=4)?;
        options.max_queued = u.int_in_range(1..=8)?;
        options.max_pending_requests = u.int_in_range(1..=4)?;
        options.max_pending_events = 32;
        options.max_pending_transmits = 32;
        if version.is_v5() {
            options.session_expiry_interval = u.int_in_range(0..=10)?;
        }
        let limits = Limits {
            in_flight: options.max_in_flight,
            queued: options.max_queued,
            requests: options.max_pending_requests,
        };
        let client = Client::new(options).map_err(|_| arbitrary::Error::IncorrectFormat)?;
        Ok(ClientHarness {
            client,
            limits,
            version,
            now: Instant::now(),
            connected: false,
            wrote_on_connection: false,
            pending_input: BytesMut::new(),
        })
    }

    /// Applies one arbitrary input, then checks the invariants.
    pub fn step(&mut self, u: &mut Unstructured) -> Result<()> {
        match u.int_in_range(0..=8u8)? {
            0 => {
                if !self.connected {
                    self.client.handle_connected(self.now);
                    self.connected = true;
                    self.wrote_on_connection = false;
                }
                let _ = self.client.connect(self.now);
            }
            1 => {
                let bytes: Vec<u8> = u.arbitrary()?;
                self.server_sends(&bytes);
            }
            2 => {
                let packet = arbitrary_packet(u, self.version)?;
                self.server_sends_packet(&packet);
            }
            3 => {
                let answer = self.plausible_answer(u)?;
                self.server_sends_packet(&answer);
            }
            4 => {
                let topic = topic(u)?;
                let payload = Bytes::from(u.arbitrary::<Vec<u8>>()?);
                let qos = *u.choose(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])?;
                let _ = self.client.publish(self.now, topic, payload, qos, u.arbitrary()?, Properties::default());
            }
            5 => {
                let filter = topic(u)?;
                let options =
                    SubscriptionOptions::new(*u.choose(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])?);
                if u.arbitrary()? {
                    let _ =
                        self.client.subscribe(self.now, vec![Subscription { filter, options }], Properties::default());
                } else {
                    let _ = self.client.unsubscribe(self.now, vec![filter], Properties::default());
                }
            }
            6 => {
                let _ = self.client.disconnect(self.now, Disconnect::default());
            }
            7 => {
                if self.connected {
                    self.client.handle_closed(self.now);
                    self.connected = false;
                    self.pending_input.clear();
                }
            }
            _ => {
                self.now += Duration::from_millis(u64::from(u.arbitrary::<u16>()?));
                if self.client.poll_timeout().is_some_and(|deadline| deadline <= self.now) {
                    self.client.handle_timeout(self.now);
                }
            }
        }
        self.drain();
        self.check_invariants();
        Ok(())
    }

    fn server_sends_packet(&mut self, packet: &Packet) {
        let mut bytes = BytesMut::new();
        if codec::encode(packet, self.version, &mut bytes).is_ok() {
            self.server_sends(&bytes);
        }
    }

    fn server_sends(&mut self, bytes: &[u8]) {
        if !self.connected || self.pending_input.len() + bytes.len() > MAX_PENDING_INPUT {
            return;
        }
        self.pending_input.extend_from_slice(bytes);
        self.offer_input();
    }

    /// Offers what the server sent; the client takes what it has room for.
    fn offer_input(&mut self) {
        if self.connected && !self.pending_input.is_empty() {
            let taken = self.client.handle_bytes(self.now, &self.pending_input);
            assert!(taken <= self.pending_input.len(), "took {taken} of {} bytes", self.pending_input.len());
            let _ = self.pending_input.split_to(taken);
        }
    }

    /// An answer a server could give now: a CONNACK, or an acknowledgement of an identifier
    /// the client has in use, so that the fuzzer reaches the client's deeper states.
    fn plausible_answer(&self, u: &mut Unstructured) -> Result<Packet> {
        let ids: Vec<PacketId> = self.client.packet_ids_in_use().collect();
        let id = if ids.is_empty() { PacketId::new(1) } else { Some(*u.choose(&ids)?) };
        let id = id.ok_or(arbitrary::Error::IncorrectFormat)?;
        Ok(match u.int_in_range(0..=7u8)? {
            0 => Packet::ConnAck(ConnAck::new(u.arbitrary()?, ReasonCode::Success)),
            1 => Packet::PubAck(PublishAck::new(id)),
            2 => Packet::PubRec(PublishAck::new(id)),
            3 => Packet::PubComp(PublishAck::new(id)),
            4 => Packet::PubRel(PublishAck::new(id)),
            5 => Packet::SubAck(SubAck {
                packet_id: id,
                properties: Properties::default(),
                reason_codes: vec![ReasonCode::GrantedQos1],
            }),
            6 => Packet::UnsubAck(UnsubAck {
                packet_id: id,
                properties: Properties::default(),
                reason_codes: if self.version.is_v5() { vec![ReasonCode::Success] } else { vec![] },
            }),
            _ => Packet::PingResp,
        })
    }

    /// Takes everything the client has to say: every packet it writes must be valid in its
    /// version, and the first on a connection a CONNECT; the last bytes of a connection it
    /// closes are whole packets, a DISCONNECT last if any.
    fn drain(&mut self) {
        while let Some(bytes) = self.client.poll_transmit() {
            let packets = self.written(&bytes);
            assert_eq!(packets.len(), 1, "poll_transmit yields exactly one packet");
        }
        while let Some(event) = self.client.poll_event() {
            if let Event::Disconnected { last_bytes: Some(bytes), .. } = event {
                let packets = self.written(&bytes);
                assert!(matches!(packets.last(), Some(Packet::Disconnect(_))), "last bytes: {packets:?}");
            }
        }
        self.offer_input();
    }

    /// The packets in `bytes`, which must be whole and valid.
    fn written(&mut self, bytes: &[u8]) -> Vec<Packet> {
        let options = DecodeOptions::new(self.version);
        let mut wire = BytesMut::from(bytes);
        let mut packets = Vec::new();
        while !wire.is_empty() {
            let packet = match codec::decode(&mut wire, &options) {
                Ok(Some(packet)) => packet,
                other => panic!("the client wrote an invalid MQTT {} packet: {other:?}", self.version),
            };
            if !self.wrote_on_connection {
                assert!(matches!(packet, Packet::Connect(_)), "first packet on a connection: {packet:?}");
                self.wrote_on_connection = true;
            }
            packets.push(packet);
        }
        packets
    }

    fn check_invariants(&self) {
        let ids: Vec<PacketId> = self.client.packet_ids_in_use().collect();
        let unique: BTreeSet<PacketId> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "packet identifiers in use twice: {ids:?}");
        assert!(self.client.in_flight() <= self.limits.in_flight, "{} in flight", self.client.in_flight());
        assert!(self.client.queued() <= self.limits.queued, "{} queued", self.client.queued());
        assert!(self.client.pending_requests() <= self.limits.requests, "{} requests", self.client.pending_requests());
    }
}

/// Topics and filters from a small set, so that subscriptions and publishes meet.
fn topic(u: &mut Unstructured) -> Result<MqttString> {
    MqttString::from_static(u.choose(&["a", "a/b", "a/+", "#", "$SYS/x"])?)
        .map_err(|_| arbitrary::Error::IncorrectFormat)
}
