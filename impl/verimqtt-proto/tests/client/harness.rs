//! A simulated runtime around the client: a clock that only moves when a test says so, timers
//! fired at their deadlines, a transport that writes what the client hands out at once
//! (unless the test blocks it), and a fake server that speaks through the codec: it encodes
//! the packets a test sends and decodes what the client wrote.

use std::collections::VecDeque;
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use verimqtt_proto::client::{Client, ClientOptions, Event, PublishTicket, State};
use verimqtt_proto::codec::{
    self, ConnAck, DecodeOptions, MqttString, Packet, PacketId, Properties, ProtocolVersion, Publish, PublishAck, QoS,
    ReasonCode, SubAck, Subscription, SubscriptionOptions, UnsubAck,
};

pub const SECOND: Duration = Duration::from_secs(1);

pub fn options(version: ProtocolVersion) -> ClientOptions {
    let mut options = ClientOptions::new(version, MqttString::from_static("client-1").unwrap());
    options.keep_alive = 0;
    options
}

pub fn topic(name: &str) -> MqttString {
    MqttString::try_from(name).unwrap()
}

pub fn id(value: u16) -> PacketId {
    PacketId::new(value).unwrap()
}

pub struct Harness {
    pub client: Client,
    pub version: ProtocolVersion,
    pub now: Instant,
    base: Instant,
    /// While set, the transport takes nothing: `poll_transmit` is not called.
    pub socket_full: bool,
    /// Bytes the client wrote that do not make a whole packet yet (never, if it behaves).
    outbox: BytesMut,
    /// Packets the client wrote, with the time they were written, not yet looked at.
    wire: VecDeque<(Duration, Packet)>,
}

impl Harness {
    pub fn new(options: ClientOptions) -> Self {
        let version = options.protocol_version;
        let base = Instant::now();
        Harness {
            client: Client::new(options).unwrap(),
            version,
            now: base,
            base,
            socket_full: false,
            outbox: BytesMut::new(),
            wire: VecDeque::new(),
        }
    }

    pub fn v5() -> Self {
        Self::new(options(ProtocolVersion::V5))
    }

    pub fn v311() -> Self {
        Self::new(options(ProtocolVersion::V311))
    }

    /// Time since the start of the test.
    pub fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    /// Writes what the client hands out, one whole packet per `poll_transmit`.
    pub fn pump(&mut self) {
        if self.socket_full {
            return;
        }
        while let Some(bytes) = self.client.poll_transmit() {
            assert!(self.outbox.is_empty(), "a packet was handed out in pieces");
            self.outbox.extend_from_slice(&bytes);
            let packet = codec::decode(&mut self.outbox, &DecodeOptions::new(self.version))
                .expect("the client writes valid packets");
            assert!(self.outbox.is_empty(), "poll_transmit gives exactly one packet");
            let packet = packet.expect("poll_transmit gives a whole packet");
            self.wire.push_back((self.elapsed(), packet));
        }
    }

    /// Whole packets the client handed out at once, put on the wire.
    fn record_written(&mut self, bytes: &[u8]) {
        let mut written = BytesMut::from(bytes);
        while let Some(packet) =
            codec::decode(&mut written, &DecodeOptions::new(self.version)).expect("the client writes valid packets")
        {
            self.wire.push_back((self.elapsed(), packet));
        }
        assert!(written.is_empty(), "the client's last bytes end with a whole packet");
    }

    /// Lets time pass, firing each timer at its deadline as a runtime would.
    pub fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        let mut fired = 0;
        while let Some(deadline) = self.client.poll_timeout().filter(|deadline| *deadline <= target) {
            fired += 1;
            assert!(fired < 10_000, "handle_timeout leaves the deadline it was called for due");
            self.now = self.now.max(deadline);
            self.client.handle_timeout(self.now);
            self.pump();
        }
        self.now = target;
    }

    /// The server sends `packet`; the client must take all of it.
    pub fn deliver(&mut self, packet: Packet) {
        let bytes = encode(&packet, self.version);
        let taken = self.client.handle_bytes(self.now, &bytes);
        assert_eq!(taken, bytes.len(), "the client left bytes of {packet:?}");
        self.pump();
    }

    /// The server sends raw bytes.
    pub fn deliver_bytes(&mut self, bytes: &[u8]) -> usize {
        let taken = self.client.handle_bytes(self.now, bytes);
        self.pump();
        taken
    }

    /// What the client wrote since the last look.
    pub fn sent(&mut self) -> Vec<Packet> {
        self.sent_at().into_iter().map(|(_, packet)| packet).collect()
    }

    /// What the client wrote since the last look, with when.
    pub fn sent_at(&mut self) -> Vec<(Duration, Packet)> {
        self.pump();
        self.wire.drain(..).collect()
    }

    /// The events since the last call. The last bytes of a connection the client closed
    /// are written, as a runtime writes them when it sees the event.
    pub fn events(&mut self) -> Vec<Event> {
        let events: Vec<Event> = std::iter::from_fn(|| self.client.poll_event()).collect();
        for event in &events {
            if let Event::Disconnected { last_bytes: Some(bytes), .. } = event {
                self.record_written(bytes);
            }
        }
        events
    }

    /// Opens the transport and sends the CONNECT, returning it. What was written on an
    /// earlier connection and not looked at is forgotten.
    pub fn open(&mut self) -> codec::Connect {
        self.sent();
        self.client.handle_connected(self.now);
        self.client.connect(self.now).unwrap();
        match self.sent().as_slice() {
            [Packet::Connect(connect)] => (**connect).clone(),
            other => panic!("expected a CONNECT, got {other:?}"),
        }
    }

    /// Opens the transport and completes the handshake, discarding the CONNECT and events.
    pub fn connect(&mut self, session_present: bool) {
        self.connect_with(ConnAck::new(session_present, ReasonCode::Success));
    }

    pub fn connect_with(&mut self, connack: ConnAck) {
        self.open();
        self.deliver(Packet::ConnAck(connack));
        assert_eq!(self.client.state(), State::Connected);
        self.events();
    }

    pub fn publish(&mut self, name: &str, qos: QoS) -> PublishTicket {
        let ticket = self
            .client
            .publish(self.now, topic(name), Bytes::from_static(b"payload"), qos, false, Properties::default())
            .unwrap();
        self.pump();
        ticket
    }

    pub fn subscribe(&mut self, filter: &str) -> PacketId {
        let subscription = Subscription { filter: topic(filter), options: SubscriptionOptions::new(QoS::AtLeastOnce) };
        let packet_id = self.client.subscribe(self.now, vec![subscription], Properties::default()).unwrap();
        self.pump();
        packet_id
    }

    pub fn unsubscribe(&mut self, filter: &str) -> PacketId {
        let packet_id = self.client.unsubscribe(self.now, vec![topic(filter)], Properties::default()).unwrap();
        self.pump();
        packet_id
    }

    pub fn lose_connection(&mut self) {
        self.client.handle_closed(self.now);
        self.outbox.clear();
    }
}

pub fn encode(packet: &Packet, version: ProtocolVersion) -> BytesMut {
    let mut bytes = BytesMut::new();
    codec::encode(packet, version, &mut bytes).unwrap();
    bytes
}

pub fn connack_with(session_present: bool, properties: Properties) -> ConnAck {
    ConnAck { session_present, reason_code: ReasonCode::Success, properties }
}

pub fn publish(name: &str, qos: QoS, packet_id: Option<u16>) -> Packet {
    Packet::Publish(Publish::new(topic(name), qos, packet_id.map(id), Bytes::from_static(b"message")))
}

pub fn puback(packet_id: PacketId) -> Packet {
    Packet::PubAck(PublishAck::new(packet_id))
}

pub fn pubrec(packet_id: PacketId) -> Packet {
    Packet::PubRec(PublishAck::new(packet_id))
}

pub fn pubrel(packet_id: PacketId) -> Packet {
    Packet::PubRel(PublishAck::new(packet_id))
}

pub fn pubcomp(packet_id: PacketId) -> Packet {
    Packet::PubComp(PublishAck::new(packet_id))
}

pub fn suback(packet_id: PacketId, reason_codes: Vec<ReasonCode>) -> Packet {
    Packet::SubAck(SubAck { packet_id, properties: Properties::default(), reason_codes })
}

pub fn unsuback(packet_id: PacketId, reason_codes: Vec<ReasonCode>) -> Packet {
    Packet::UnsubAck(UnsubAck { packet_id, properties: Properties::default(), reason_codes })
}

pub fn receive_maximum(value: u16) -> Option<NonZeroU16> {
    NonZeroU16::new(value)
}

/// The packet identifiers of the PUBLISHes among `packets`, with their DUP flags.
pub fn publish_ids(packets: &[Packet]) -> Vec<(u16, bool)> {
    packets
        .iter()
        .filter_map(|packet| match packet {
            Packet::Publish(publish) => publish.packet_id.map(|id| (id.get(), publish.dup)),
            _ => None,
        })
        .collect()
}

/// The reason of the first Disconnected event, if any.
pub fn disconnect_reason(events: &[Event]) -> Option<verimqtt_proto::client::DisconnectReason> {
    events.iter().find_map(|event| match event {
        Event::Disconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    })
}
