//! A sans-IO MQTT client for 3.1.1 and 5.0: a state machine that never reads a clock, never
//! does I/O and never blocks, in the shape of quinn-proto, with the reliability discipline of
//! haka-mqtt.
//!
//! The user owns the transport and the timer, and drives the [`Client`] with:
//!
//! - inputs: [`handle_connected`](Client::handle_connected) when the transport is up,
//!   [`handle_bytes`](Client::handle_bytes) for what it received,
//!   [`handle_closed`](Client::handle_closed) when it went down, and
//!   [`handle_timeout`](Client::handle_timeout) when [`poll_timeout`](Client::poll_timeout)'s
//!   instant has come;
//! - commands: [`connect`](Client::connect), [`publish`](Client::publish),
//!   [`subscribe`](Client::subscribe), [`unsubscribe`](Client::unsubscribe),
//!   [`disconnect`](Client::disconnect), and the MQTT 5 enhanced authentication steps;
//! - outputs, drained after every input or command: [`poll_transmit`](Client::poll_transmit)
//!   (bytes to write, one packet each), [`poll_event`](Client::poll_event), and
//!   [`poll_timeout`](Client::poll_timeout).
//!
//! Every input and command takes the current time; a packet written by `poll_transmit` counts
//! as sent at the latest of those times.
//!
//! Every queue is bounded. A command that would overflow one fails with a [`CommandError`];
//! when events or outgoing packets pile up unpolled, `handle_bytes` stops taking bytes and
//! says how many it took, pushing back on the server through the transport.
//!
//! What of it the model checks, and what it leaves out: see the [crate's documentation](crate#what-is-model-checked-and-what-is-not).
//!
//! A publish is queued when accepted, in flight once written, and done when acknowledged; a
//! publish the client gives up is reported in [`Event::Dropped`]. Nothing accepted is lost
//! silently.
//!
//! ```
//! use std::time::Instant;
//! use bytes::{Bytes, BytesMut};
//! use verimqtt_proto::client::{Client, ClientOptions, Event, State};
//! use verimqtt_proto::codec::{self, ConnAck, MqttString, Packet, Properties, ProtocolVersion, PublishAck, QoS, ReasonCode};
//!
//! let options = ClientOptions::new(ProtocolVersion::V5, MqttString::try_from("sensor-1")?);
//! let mut client = Client::new(options)?;
//! let now = Instant::now();
//! client.handle_connected(now);
//! client.connect(now)?;
//! let connect = client.poll_transmit().expect("CONNECT");
//! # let _ = connect;
//!
//! // The server accepts.
//! let mut wire = BytesMut::new();
//! codec::encode(&Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)), ProtocolVersion::V5, &mut wire)?;
//! assert_eq!(client.handle_bytes(now, &wire), wire.len());
//! assert_eq!(client.state(), State::Connected);
//! assert!(matches!(client.poll_event(), Some(Event::Connected { session_present: false, .. })));
//!
//! // A QoS 1 publish goes out and comes back acknowledged.
//! let topic = MqttString::try_from("sensors/1/temperature")?;
//! let ticket = client.publish(now, topic, Bytes::from_static(b"21.5"), QoS::AtLeastOnce, false, Properties::default())?;
//! let publish = client.poll_transmit().expect("PUBLISH");
//! # let _ = publish;
//! assert_eq!(client.in_flight(), 1);
//! let mut wire = BytesMut::new();
//! let puback = PublishAck::new(ticket.packet_id().expect("QoS 1 has an identifier"));
//! codec::encode(&Packet::PubAck(puback), ProtocolVersion::V5, &mut wire)?;
//! client.handle_bytes(now, &wire);
//! assert!(matches!(client.poll_event(), Some(Event::PubAck { ticket: acked, .. }) if acked == ticket));
//! assert_eq!(client.in_flight(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod connect;
mod connection;
mod error;
mod event;
mod keep_alive;
mod limits;
mod observe;
mod options;
mod outbound;
mod publish;
mod receive;
mod requests;
mod session;
mod subscribe;
mod transmit;

use std::time::Instant;

use bytes::{Bytes, BytesMut};

pub use error::{CommandError, ProtocolViolation};
pub use event::{DisconnectReason, DropReason, DroppedRequest, Event, PublishState, PublishTicket};
pub use options::{ClientOptions, IdlePeriod, OptionsError};

use crate::codec::{Disconnect, MqttString, Packet, PacketId, ProtocolVersion};
use crate::session::packet_ids::PacketIds;
use crate::trace::{self, Tracer};
use connection::Connection;
use event::EventQueue;
use keep_alive::Due;
use outbound::PublishQueue;
use requests::Requests;
use session::Session;

/// Where the client stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No transport.
    Disconnected,
    /// The transport is up and nothing was sent: `connect` comes next.
    TransportReady,
    /// CONNECT is sent (or queued); waiting for the CONNACK, maybe exchanging AUTH.
    AwaitingConnAck,
    /// The server accepted the connection.
    Connected,
}

/// A sans-IO MQTT client. See the [module documentation](self).
#[derive(Debug)]
pub struct Client {
    options: ClientOptions,
    /// The client identifier of the next CONNECT: the options', or the one the server assigned.
    client_id: MqttString,
    /// `None` while there is no transport.
    connection: Option<Connection>,
    /// Transports the client has had: the number of the current one, for the observer.
    transports: trace::ConnId,
    tracer: Tracer,
    session: Session,
    queue: PublishQueue,
    requests: Requests,
    packet_ids: PacketIds,
    events: EventQueue,
    next_ticket: u64,
}

/// How the client leaves a connection it closes.
#[derive(Debug)]
enum Farewell {
    /// Nothing more is written: the transport is gone, or the server is not answering.
    Silent,
    /// This DISCONNECT is the last packet [MQTT-3.14.4-1] [MQTT-3.14.4-2]; on a graceful
    /// close, the acknowledgements still pending go before it.
    Disconnect { packet: Disconnect, graceful: bool },
}

impl Client {
    /// A disconnected client with an empty session, or why `options` cannot work.
    pub fn new(options: ClientOptions) -> Result<Self, OptionsError> {
        options.validate()?;
        Ok(Client {
            client_id: options.client_id.clone(),
            connection: None,
            transports: 0,
            tracer: Tracer::default(),
            session: Session::new(options.requested_session_expiry(), !options.clean_start),
            queue: PublishQueue::new(options.max_queued),
            requests: Requests::new(options.max_pending_requests),
            packet_ids: PacketIds::default(),
            events: EventQueue::new(options.max_pending_events),
            next_ticket: 0,
            options,
        })
    }

    /// The transport is up. A transport the client still thought open is taken as lost.
    pub fn handle_connected(&mut self, now: Instant) {
        self.close(now, DisconnectReason::ConnectionLost, Farewell::Silent);
        self.connection = Some(Connection::new(now, &self.options));
        self.transports += 1;
        let conn = self.transports;
        let max_in_flight = u16::try_from(self.options.max_in_flight).unwrap_or(u16::MAX);
        self.tracer.emit(now, || trace::Event::ConnectionOpened { conn, max_in_flight });
    }

    /// The transport went down.
    pub fn handle_closed(&mut self, now: Instant) {
        self.close(now, DisconnectReason::ConnectionLost, Farewell::Silent);
    }

    /// Bytes from the server. Returns how many were taken: fewer than offered when events or
    /// outgoing packets wait to be polled. Offer the rest again once they are drained. Bytes
    /// arriving with no connection, or after the client closed it, are taken and ignored.
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) -> usize {
        let Some(connection) = self.connection.as_mut() else { return bytes.len() };
        connection.advance(now);
        let now = connection.now;
        if !bytes.is_empty() {
            connection.keep_alive.on_received(now);
        }
        if self.must_pause_receiving() {
            return 0;
        }
        let Some(connection) = self.connection.as_mut() else { return bytes.len() };
        connection.framer.receive(bytes);
        loop {
            let pause = self.must_pause_receiving();
            let Some(connection) = self.connection.as_mut() else { return bytes.len() };
            if pause {
                // A packet was decoded since the bytes were appended, so what is left is
                // all from `bytes`: give it back.
                let left = connection.framer.unread_len();
                connection.framer.clear();
                return bytes.len().saturating_sub(left);
            }
            match connection.framer.next_packet() {
                Ok(Some(packet)) => self.receive(now, packet),
                Ok(None) => return bytes.len(),
                Err(error) => {
                    self.close_for_violation(now, ProtocolViolation::Decode(error));
                    return bytes.len();
                }
            }
        }
    }

    /// Whether unpolled output has reached its bounds, so no more input is taken.
    fn must_pause_receiving(&self) -> bool {
        let pending_transmits = self.connection.as_ref().map_or(0, |connection| connection.control.len());
        self.events.is_full() || pending_transmits >= self.options.max_pending_transmits
    }

    /// The instant from [`Client::poll_timeout`] has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire_session(now);
        let Some(connection) = self.connection.as_mut() else { return };
        connection.advance(now);
        let now = connection.now;
        match connection.state {
            State::AwaitingConnAck if connection.connack_deadline.is_some_and(|deadline| deadline <= now) => {
                self.tracer.timer(now, trace::Timer::ConnackTimeout);
                self.close(now, DisconnectReason::ConnAckTimeout, Farewell::Silent);
            }
            State::Connected => self.run_keep_alive(now),
            _ => {}
        }
    }

    /// Pings or aborts as the keep alive asks.
    fn run_keep_alive(&mut self, now: Instant) {
        let Some(connection) = self.connection.as_mut() else { return };
        match connection.keep_alive.due(now) {
            Due::Abort => {
                self.tracer.timer(now, trace::Timer::KeepAliveAbort);
                self.close(now, DisconnectReason::KeepAliveTimeout, Farewell::Silent);
            }
            Due::Ping => {
                self.tracer.timer(now, trace::Timer::KeepAlivePing);
                connection.control.push_back(Packet::PingReq);
            }
            Due::Nothing => {}
        }
    }

    /// Forgets a session whose expiry interval has passed while no connection carried it.
    fn expire_session(&mut self, now: Instant) {
        if self.connection.as_ref().is_some_and(|connection| connection.state != State::TransportReady) {
            return;
        }
        if self.tracer.is_on() && self.session.expires_at().is_some_and(|expires_at| expires_at <= now) {
            self.tracer.timer(now, trace::Timer::SessionExpiry);
        }
        let expired = self.session.expire_if_due(now, &mut self.packet_ids);
        self.give_back(now, DropReason::SessionExpired, expired);
    }

    /// The next packet to write, whole. Once the client closed the connection
    /// ([`Event::Disconnected`]) there is none: what is left to write is in the event.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let (packet, bytes) = self.next_transmit()?;
        self.on_sent(&packet);
        Some(bytes)
    }

    /// The next thing for the user to know; `None` when there is none.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// When to call [`Client::handle_timeout`], if anything is timed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let Some(connection) = &self.connection else { return self.session.expires_at() };
        match connection.state {
            State::Disconnected => None,
            State::TransportReady => self.session.expires_at(),
            State::AwaitingConnAck => connection.connack_deadline,
            State::Connected => connection.keep_alive.deadline(),
        }
    }

    /// Where the connection is: disconnected, transport up, CONNECT sent, or connected.
    pub fn state(&self) -> State {
        self.connection.as_ref().map_or(State::Disconnected, |connection| connection.state)
    }

    /// QoS 1 and 2 publishes written and not yet done, including those waiting to be written
    /// again on a resumed session.
    pub fn in_flight(&self) -> usize {
        self.session.in_flight.len()
    }

    /// Publishes accepted and not yet written.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// SUBSCRIBE and UNSUBSCRIBE requests not yet acknowledged.
    pub fn pending_requests(&self) -> usize {
        self.requests.len()
    }

    /// The packet identifiers held by queued and in-flight publishes and pending requests.
    pub fn packet_ids_in_use(&self) -> impl Iterator<Item = PacketId> + '_ {
        self.packet_ids.iter()
    }

    /// Where an accepted publish is; `None` once it is done or dropped.
    pub fn publish_state(&self, ticket: &PublishTicket) -> Option<PublishState> {
        if self.queue.contains(ticket) {
            Some(PublishState::Queued)
        } else {
            outbound::publish_state(&self.session.in_flight, ticket)
        }
    }

    /// The client identifier the next CONNECT carries.
    pub fn client_id(&self) -> &MqttString {
        &self.client_id
    }

    /// The protocol version the client speaks, from its options.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.options.protocol_version
    }

    /// Installs (or removes, with `None`) the observer told of every observable step; see
    /// [`crate::trace`]. The client's connections are numbered from 1 in the order of
    /// [`Client::handle_connected`].
    pub fn set_observer(&mut self, observer: Option<Box<dyn trace::Observer>>) {
        self.tracer.set(observer);
    }

    /// Closes the connection for a violation by the server; in MQTT 5 a DISCONNECT with the
    /// violation's reason code goes first.
    fn close_for_violation(&mut self, now: Instant, violation: ProtocolViolation) {
        let farewell = if self.options.protocol_version.is_v5() {
            Farewell::Disconnect { packet: Disconnect::new(violation.reason_code()), graceful: false }
        } else {
            Farewell::Silent
        };
        self.close(now, DisconnectReason::ProtocolViolation(violation), farewell);
    }

    /// Ends the connection, if there is one: reports the end with the farewell to write last,
    /// drops what lived only on the connection, and keeps or ends the session.
    fn close(&mut self, now: Instant, reason: DisconnectReason, farewell: Farewell) {
        let Some(mut connection) = self.connection.take() else { return };
        connection.advance(now);
        let now = connection.now;
        let mut last_bytes = BytesMut::new();
        if let (Farewell::Disconnect { packet, graceful }, true) = (farewell, connection.connect_written) {
            let pending = if graceful { connection.control.drain(..).collect() } else { Vec::new() };
            for packet in pending.into_iter().chain([Packet::Disconnect(packet)]) {
                // A packet the server would refuse is not worth sending now.
                if let Ok(bytes) = transmit::encode(&packet, self.options.protocol_version, &connection.limits) {
                    self.tracer.sent(now, self.transports, &packet, self.options.protocol_version);
                    last_bytes.extend_from_slice(&bytes);
                }
            }
        }
        self.trace_close(now, &reason);
        let last_bytes = (!last_bytes.is_empty()).then(|| last_bytes.freeze());
        self.events.push(Event::Disconnected { reason, last_bytes });
        let mut dropped: Vec<DroppedRequest> = self.queue.take_qos0().into_iter().map(Into::into).collect();
        for request in self.requests.drain() {
            self.packet_ids.release(request.packet_id());
            dropped.push(request.into());
        }
        self.give_back(now, DropReason::ConnectionClosed, dropped);
        let ended = self.session.connection_closed(now, &mut self.packet_ids);
        self.give_back(now, DropReason::SessionEnded, ended);
    }
}
