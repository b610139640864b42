//! One network connection: the bytes in and out, what the client negotiated in CONNECT, its
//! keep alive and its topic aliases. Packets arrive in one place ([`Connection::next_packet`])
//! and leave in one place ([`Connection::send`]), which also enforces what the client said it
//! can receive.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::codec::{
    self, Connect, DecodeError, DecodeOptions, EncodeError, MAX_PACKET_SIZE, MqttString, Packet, PacketType,
    ProtocolVersion, Publish,
};

use super::ConnId;
use super::listener::{ListenerId, MountPoint};
use super::options::BrokerOptions;
use super::session::SessionId;
use super::store::StoreLog;
use super::will::StoredWill;
use crate::session::framer::Framer;
use crate::session::receiver::Unanswered;
use crate::session::topic_alias::{InboundAliases, OutboundAliases};
use crate::trace::Tracer;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Accepted; the first packet must be CONNECT.
    AwaitingConnect,
    /// CONNECT received; the broker's owner is checking its credentials. What arrives
    /// meanwhile waits unread.
    Authenticating,
    /// CONNACK 0x00 sent; the connection serves this session.
    Active(SessionId),
    /// The broker decided to close it (or saw it close): nothing more is read or routed, and
    /// what is left in the transmit buffer is the last the client gets.
    Closing,
}

/// What an MQTT 5 client said in CONNECT about what it can receive. A 3.1.1 client says
/// nothing, so it gets the protocol's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientLimits {
    pub(crate) max_packet_size: u32,
    pub(crate) receive_maximum: u16,
    /// Aliases the broker may give topics it sends: the client's Topic Alias Maximum, capped
    /// by the broker's own, if outbound aliases are on, else 0 ([MQTT-3.1.2-26],
    /// [MQTT-3.1.2-27]).
    pub(crate) outbound_alias_maximum: u16,
    /// Whether Reason Strings and User Properties may go on packets other than PUBLISH,
    /// CONNACK and DISCONNECT ([MQTT-3.1.2-29]).
    pub(crate) problem_information: bool,
}

impl ClientLimits {
    const UNNEGOTIATED: ClientLimits = ClientLimits {
        max_packet_size: MAX_PACKET_SIZE,
        receive_maximum: u16::MAX,
        outbound_alias_maximum: 0,
        problem_information: true,
    };

    pub(crate) fn of(connect: &Connect, options: &BrokerOptions) -> Self {
        let properties = &connect.properties;
        ClientLimits {
            max_packet_size: properties.maximum_packet_size.map_or(MAX_PACKET_SIZE, |size| size.get()),
            receive_maximum: properties.receive_maximum.map_or(u16::MAX, |maximum| maximum.get()),
            // No more than the broker lets a client set toward it: each alias keeps a topic
            // for the life of the connection.
            outbound_alias_maximum: if options.outbound_topic_aliases {
                properties.topic_alias_maximum.unwrap_or(0).min(options.topic_alias_maximum)
            } else {
                0
            },
            problem_information: properties.request_problem_information.unwrap_or(true),
        }
    }
}

/// Who a CONNECT says the client is (its password is never kept): what a refusal is
/// reported with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claimed {
    pub(crate) client_id: MqttString,
    pub(crate) username: Option<MqttString>,
}

/// Why a packet was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendError {
    /// Larger than the client's Maximum Packet Size even without optional properties.
    TooLarge { size: usize },
    /// The broker built a packet the encoder refuses: a bug, reported rather than sent.
    Encode(EncodeError),
}

/// Where the bytes every connection sends go through: the connections with bytes the owner
/// has not been told about yet, and, with persistence, the changes to the store those bytes
/// wait for and the connections holding bytes back for them.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    ready: VecDeque<ConnId>,
    pub(crate) store: StoreLog,
    pub(crate) holding: HashSet<ConnId>,
    /// Packets encoded by every connection: counted here, where each one goes through.
    pub(crate) packets_sent: u64,
}

impl Outbox {
    pub(crate) fn pop(&mut self) -> Option<ConnId> {
        self.ready.pop_front()
    }

    fn list_ready(&mut self, conn: ConnId) {
        self.ready.push_back(conn);
    }
}

#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) id: ConnId,
    /// The listener it came in on, and that listener's mount point.
    pub(crate) listener: ListenerId,
    pub(crate) mount_point: Option<MountPoint>,
    pub(crate) phase: Phase,
    /// The version of the CONNECT; 3.1.1 until one arrives.
    pub(crate) version: ProtocolVersion,
    pub(crate) client_id: Option<MqttString>,
    pub(crate) username: Option<MqttString>,
    pub(crate) limits: ClientLimits,
    /// One and a half times the keep alive in force; `None` when keep alive is off.
    pub(crate) keep_alive_window: Option<Duration>,
    pub(crate) last_received: Instant,
    /// The will of the CONNECT, until the connection ends.
    pub(crate) will: Option<StoredWill>,
    /// The CONNECT whose credentials are being checked.
    pub(crate) pending_connect: Option<Box<Connect>>,
    /// Who the CONNECT said the client is, from the moment it is read, accepted or not.
    pub(crate) claimed: Option<Claimed>,
    /// The congested sessions this connection's PUBLISHes wait for: while there is one, the
    /// broker does not read its PUBLISHes.
    pub(crate) held_by: HashSet<SessionId>,
    /// The client closed the connection: what it sent before is read, never held back.
    pub(crate) peer_closed: bool,
    /// Whether CONNECT asked for a Session Expiry Interval of 0, after which DISCONNECT may
    /// not set another (MQTT 5 section 3.14.2.2.2).
    pub(crate) connect_expiry_was_zero: bool,
    framer: Framer,
    transmit: BytesMut,
    /// Bytes that wait for changes to the store to be durable, each with the number of the
    /// last change issued before them (see `store`).
    held: VecDeque<(u64, BytesMut)>,
    held_len: usize,
    /// The largest packet read once CONNECT has been: before, it is the smaller
    /// [`BrokerOptions::max_connect_size`].
    max_packet_size: u32,
    /// Whether the connection is on the ready list already.
    listed_ready: bool,
    /// Topics the client named by alias on this connection, and those the broker did
    /// ([MQTT-3.3.2-7]: never carried over to another connection).
    pub(crate) inbound_aliases: InboundAliases,
    pub(crate) outbound_aliases: OutboundAliases,
    /// The client's QoS 1 and 2 messages not yet answered for good: the broker's Receive
    /// Maximum bounds them.
    pub(crate) unanswered: Unanswered,
}

impl Connection {
    pub(crate) fn new(
        id: ConnId,
        listener: ListenerId,
        mount_point: Option<MountPoint>,
        now: Instant,
        options: &BrokerOptions,
    ) -> Self {
        let max_connect_size = options.max_connect_size.min(options.max_packet_size);
        Connection {
            id,
            listener,
            mount_point,
            phase: Phase::AwaitingConnect,
            version: ProtocolVersion::V311,
            client_id: None,
            username: None,
            limits: ClientLimits::UNNEGOTIATED,
            keep_alive_window: None,
            last_received: now,
            will: None,
            pending_connect: None,
            claimed: None,
            held_by: HashSet::new(),
            peer_closed: false,
            connect_expiry_was_zero: true,
            // A CONNECT is read in the version it names, whatever this says.
            framer: Framer::new(DecodeOptions::new(ProtocolVersion::V311).with_max_packet_size(max_connect_size)),
            transmit: BytesMut::new(),
            held: VecDeque::new(),
            held_len: 0,
            max_packet_size: options.max_packet_size,
            listed_ready: false,
            inbound_aliases: InboundAliases::new(options.topic_alias_maximum),
            outbound_aliases: OutboundAliases::new(0),
            unanswered: Unanswered::new(Some(options.receive_maximum.get())),
        }
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.phase == Phase::Closing
    }

    pub(crate) fn session(&self) -> Option<SessionId> {
        match self.phase {
            Phase::Active(session) => Some(session),
            Phase::AwaitingConnect | Phase::Authenticating | Phase::Closing => None,
        }
    }

    /// Whether the broker holds back this connection's PUBLISHes, and one is next.
    pub(crate) fn publish_held_back(&self) -> bool {
        !self.peer_closed && !self.held_by.is_empty() && self.framer.next_is(PacketType::Publish)
    }

    /// Bytes received and not yet read as packets.
    pub(crate) fn unread_len(&self) -> usize {
        self.framer.unread_len()
    }

    /// The CONNECT has been read: from now on packets are read as `version` packets, up to
    /// the broker's maximum packet size.
    pub(crate) fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
        self.framer.set_options(DecodeOptions::new(version).with_max_packet_size(self.max_packet_size));
    }

    pub(crate) fn receive(&mut self, bytes: &[u8]) {
        self.framer.receive(bytes);
    }

    /// The next whole packet received, if there is one. Every packet from the client comes
    /// through here.
    pub(crate) fn next_packet(&mut self, now: Instant) -> Result<Option<Packet>, DecodeError> {
        let packet = self.framer.next_packet()?;
        if packet.is_some() {
            self.last_received = now;
        }
        Ok(packet)
    }

    pub(crate) fn transmit_len(&self) -> usize {
        self.transmit.len() + self.held_len
    }

    /// Everything encoded since the last call.
    pub(crate) fn take_transmit(&mut self) -> Option<Bytes> {
        self.listed_ready = false;
        (!self.transmit.is_empty()).then(|| self.transmit.split().freeze())
    }

    /// Encodes a packet for the client. Every packet to the client goes through here: what
    /// the client asked not to receive is left out, and what it cannot receive is not sent.
    /// The observer hears of the packet as sent at `now`, once it is encoded.
    pub(crate) fn send(
        &mut self,
        mut packet: Packet,
        outbox: &mut Outbox,
        tracer: &mut Tracer,
        now: Instant,
    ) -> Result<(), SendError> {
        if self.version.is_v5() && !self.limits.problem_information && !carries_problem_information(&packet) {
            strip_problem_information(&mut packet);
        }
        let mut size = codec::encoded_len(&packet, self.version).map_err(SendError::Encode)?;
        if size > self.limits.max_packet_size as usize && packet.packet_type() != PacketType::Publish {
            // The Reason String and User Properties are the parts a sender leaves out to fit
            // (e.g. [MQTT-3.2.2-19], [MQTT-3.2.2-20], [MQTT-3.4.2-2], [MQTT-3.4.2-3]).
            strip_problem_information(&mut packet);
            size = codec::encoded_len(&packet, self.version).map_err(SendError::Encode)?;
        }
        if size > self.limits.max_packet_size as usize {
            return Err(SendError::TooLarge { size });
        }
        let Some(barrier) = outbox.store.barrier() else {
            codec::encode(&packet, self.version, &mut self.transmit).map_err(SendError::Encode)?;
            outbox.packets_sent += 1;
            tracer.sent(now, self.id.0, &packet, self.version);
            self.list_ready(outbox);
            return Ok(());
        };
        // After a change not yet durable: held back until it is, behind what waits already.
        if self.held.back().is_none_or(|(waits_for, _)| *waits_for != barrier) {
            self.held.push_back((barrier, BytesMut::new()));
        }
        if let Some((_, bytes)) = self.held.back_mut() {
            let before = bytes.len();
            codec::encode(&packet, self.version, bytes).map_err(SendError::Encode)?;
            self.held_len += bytes.len() - before;
        }
        outbox.holding.insert(self.id);
        outbox.packets_sent += 1;
        tracer.sent(now, self.id.0, &packet, self.version);
        Ok(())
    }

    /// Moves what waited for changes up to `durable` to the transmit buffer. Returns whether
    /// nothing waits any more.
    pub(crate) fn release_durable(&mut self, durable: u64, outbox: &mut Outbox) -> bool {
        while let Some((waits_for, _)) = self.held.front() {
            if *waits_for > durable {
                return false;
            }
            if let Some((_, bytes)) = self.held.pop_front() {
                self.held_len -= bytes.len();
                self.transmit.extend_from_slice(&bytes);
                self.list_ready(outbox);
            }
        }
        true
    }

    fn list_ready(&mut self, outbox: &mut Outbox) {
        if !self.listed_ready {
            self.listed_ready = true;
            outbox.list_ready(self.id);
        }
    }

    /// Sends a PUBLISH, giving its topic an alias when the client accepts them: a topic
    /// seen before goes as its alias alone, a new one takes the next free alias.
    pub(crate) fn send_publish(
        &mut self,
        mut publish: Publish,
        outbox: &mut Outbox,
        tracer: &mut Tracer,
        now: Instant,
    ) -> Result<(), SendError> {
        let new_alias = self.outbound_aliases.apply(&mut publish);
        self.send(Packet::Publish(publish), outbox, tracer, now)?;
        // Only once the client has it: an alias never sent would stand for nothing.
        if let Some(new_alias) = new_alias {
            self.outbound_aliases.record(new_alias);
        }
        Ok(())
    }
}

/// The packets that keep their Reason String and User Properties whatever the client asked
/// ([MQTT-3.1.2-29]).
fn carries_problem_information(packet: &Packet) -> bool {
    matches!(packet, Packet::Publish(_) | Packet::ConnAck(_) | Packet::Disconnect(_))
}

fn strip_problem_information(packet: &mut Packet) {
    let properties = match packet {
        Packet::ConnAck(connack) => &mut connack.properties,
        Packet::PubAck(ack) | Packet::PubRec(ack) | Packet::PubRel(ack) | Packet::PubComp(ack) => &mut ack.properties,
        Packet::SubAck(suback) => &mut suback.properties,
        Packet::UnsubAck(unsuback) => &mut unsuback.properties,
        Packet::Disconnect(disconnect) => &mut disconnect.properties,
        _ => return,
    };
    properties.remove(crate::codec::PropertyId::ReasonString);
    properties.remove(crate::codec::PropertyId::UserProperty);
}
