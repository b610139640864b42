//! What the client tells its user, and the bounded queue the events wait in.

use std::collections::VecDeque;

use bytes::Bytes;

use super::error::{CommandError, ProtocolViolation};
use crate::codec::{
    Auth, PacketId, Properties, Publish, PublishAck, QoS, ReasonCode, SubAck, Subscribe, UnsubAck, Unsubscribe,
};

/// The client's handle on a publish it accepted: unique for the life of the client, unlike
/// the packet identifier, which is reused once the message is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublishTicket {
    sequence: u64,
    packet_id: Option<PacketId>,
    qos: QoS,
}

impl PublishTicket {
    pub(crate) fn new(sequence: u64, packet_id: Option<PacketId>, qos: QoS) -> Self {
        PublishTicket { sequence, packet_id, qos }
    }

    /// The order in which the client accepted the publish.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The packet identifier of a QoS 1 or 2 publish.
    pub fn packet_id(&self) -> Option<PacketId> {
        self.packet_id
    }

    /// The QoS the message was published with.
    pub fn qos(&self) -> QoS {
        self.qos
    }
}

/// Where an accepted publish is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishState {
    /// Accepted, not yet written.
    Queued,
    /// QoS 1, written (or waiting to be written again after a reconnection): waits for PUBACK.
    AwaitingPubAck,
    /// QoS 2, written (or waiting to be written again): waits for PUBREC.
    AwaitingPubRec,
    /// QoS 2, PUBREL sent (or waiting to be sent again): waits for PUBCOMP.
    AwaitingPubComp,
}

/// Something for the user to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server accepted the connection. In MQTT 5 the properties say what it supports
    /// (Receive Maximum, Maximum QoS, Assigned Client Identifier, Server Keep Alive...).
    Connected {
        /// Whether the server resumed the session it held (CONNACK's Session Present).
        session_present: bool,
        /// The CONNACK's properties; empty in 3.1.1.
        properties: Properties,
    },
    /// A message from the server, its topic alias (MQTT 5) resolved and removed.
    Message(Publish),
    /// A QoS 1 publish is done; in MQTT 5 the reason code may report a failure.
    PubAck {
        /// Identifies the publish, as [`Client::publish`](super::Client::publish) returned it.
        ticket: PublishTicket,
        /// The PUBACK, with its reason code and properties.
        ack: PublishAck,
    },
    /// A QoS 2 publish reached its first step. With a failure reason code (MQTT 5) it is done:
    /// no PUBREL follows [MQTT-4.3.3-4].
    PubRec {
        /// Identifies the publish, as [`Client::publish`](super::Client::publish) returned it.
        ticket: PublishTicket,
        /// The PUBREC, with its reason code and properties.
        ack: PublishAck,
    },
    /// A QoS 2 publish is done.
    PubComp {
        /// Identifies the publish, as [`Client::publish`](super::Client::publish) returned it.
        ticket: PublishTicket,
        /// The PUBCOMP, with its reason code and properties.
        ack: PublishAck,
    },
    /// The server's answer to a SUBSCRIBE: one code per filter, the QoS granted or a failure.
    SubAck(SubAck),
    /// The server's answer to an UNSUBSCRIBE (MQTT 5: one code per filter).
    UnsubAck(UnsubAck),
    /// MQTT 5 enhanced authentication: the server continues the exchange (reason code 0x18,
    /// answer with [`Client::continue_authentication`]) or accepts a re-authentication (0x00).
    ///
    /// [`Client::continue_authentication`]: super::Client::continue_authentication
    Auth(Auth),
    /// Requests the client gave up, and why. Nothing accepted is ever lost silently.
    Dropped {
        /// Why they were given up.
        reason: DropReason,
        /// The requests, in the order they were made.
        requests: Vec<DroppedRequest>,
    },
    /// The connection is over: write `last_bytes` (the acknowledgements still owed and the
    /// DISCONNECT, on a close that sends one), then close the transport.
    Disconnected {
        /// Why the connection ended.
        reason: DisconnectReason,
        /// The bytes to write before closing, whole packets: after `disconnect`, the
        /// acknowledgements owed and the DISCONNECT; after a server's violation in 5.0, a
        /// DISCONNECT with its reason code. `None` when the client closes without a word.
        last_bytes: Option<Bytes>,
    },
}

/// Why the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The user called `disconnect`.
    Requested,
    /// The transport went down.
    ConnectionLost,
    /// Nothing was received for the abort period, whether or not a ping was outstanding.
    KeepAliveTimeout,
    /// No CONNACK came within the CONNACK timeout.
    ConnAckTimeout,
    /// The server refused the connection in its CONNACK.
    Refused {
        /// The CONNACK's failure code, in MQTT 5 terms (a 3.1.1 return code is mapped).
        reason_code: ReasonCode,
        /// The CONNACK's properties (Reason String, Server Reference...); empty in 3.1.1.
        properties: Properties,
    },
    /// The server sent DISCONNECT (MQTT 5): reason code, reason string, server reference.
    ByServer {
        /// The DISCONNECT's reason code.
        reason_code: ReasonCode,
        /// The DISCONNECT's properties (Reason String, Server Reference...).
        properties: Properties,
    },
    /// The server broke the protocol.
    ProtocolViolation(ProtocolViolation),
    /// A packet the protocol requires could not be sent, for example an acknowledgement larger
    /// than the server's Maximum Packet Size.
    CannotSend(CommandError),
}

/// Why requests were given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// QoS 0 messages and SUBSCRIBE and UNSUBSCRIBE requests live as long as their connection.
    ConnectionClosed,
    /// The session ended with the connection (3.1.1 Clean Session, or MQTT 5 Session Expiry
    /// Interval 0) ([MQTT-3.1.2-6] in 3.1.1, [MQTT-3.1.2-4] in 5.0).
    SessionEnded,
    /// The server resumed no session, so the client discards its own ([MQTT-3.2.2-5] in 5.0;
    /// section 3.2.2.2 in 3.1.1).
    SessionNotPresent,
    /// The Session Expiry Interval passed while the client was disconnected.
    SessionExpired,
    /// The server's limits, learnt after the request was accepted, forbid sending it.
    Unsendable(CommandError),
}

/// A request the client gave up, as the user made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DroppedRequest {
    /// The publish as it was accepted: DUP 0, no topic alias; its packet identifier is free.
    Publish {
        /// Identifies the publish, as it was accepted.
        ticket: PublishTicket,
        /// The PUBLISH as the user made it.
        publish: Publish,
    },
    /// A SUBSCRIBE as the user made it.
    Subscribe(Subscribe),
    /// An UNSUBSCRIBE as the user made it.
    Unsubscribe(Unsubscribe),
}

/// Events waiting to be polled. Its capacity bounds what the server can make the client hold:
/// the client stops taking bytes in while it is full. Lifecycle events of a connection can
/// still arrive on top, a handful at most, since a full queue also refuses `connect`.
#[derive(Debug)]
pub(crate) struct EventQueue {
    events: VecDeque<Event>,
    capacity: usize,
}

impl EventQueue {
    pub(super) fn new(capacity: usize) -> Self {
        EventQueue { events: VecDeque::new(), capacity }
    }

    pub(super) fn is_full(&self) -> bool {
        self.events.len() >= self.capacity
    }

    pub(super) fn push(&mut self, event: Event) {
        self.events.push_back(event);
    }

    pub(super) fn pop(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Reports dropped requests, if there are any.
    pub(super) fn dropped(&mut self, reason: DropReason, requests: Vec<DroppedRequest>) {
        if !requests.is_empty() {
            self.push(Event::Dropped { reason, requests });
        }
    }
}
