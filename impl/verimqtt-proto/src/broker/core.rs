//! The broker: the connections and sessions it holds, the inputs it takes and the outputs it
//! gives. Packets are dispatched here; what each packet does lives in `connect`, `publish`
//! and `subscribe`, and moving messages between sessions in `router`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use crate::codec::{
    DecodeError, Disconnect, MqttString, Packet, PacketType, Properties, ProtocolVersion, QoS, ReasonCode,
};

use super::connection::{Connection, Outbox, Phase, SendError};
use super::counters::{Counters, count_qos};
use super::error::{AcceptError, CloseReason, ProtocolError};
use super::event::{Event, EventQueue};
use super::flow::ReadingChanges;
use super::listener::{ListenerId, MountPoint};
use super::message::Message;
use super::options::BrokerOptions;
use super::policy::{AllowAll, ClientInfo, Policy, Verification};
use super::retained::RetainedStore;
use super::session::{Session, SessionId};
use super::timers::{Timer, Timers};
use super::topic_tree::SubscriptionTree;
use super::will::StoredWill;
use super::{ConnId, Stats};
use crate::session::ProtocolViolation;
use crate::trace::{self, Tracer};

/// A sans-IO MQTT 3.1.1 and 5.0 broker.
///
/// It is fed bytes and connection events, with the time; it answers with bytes to send per
/// connection, connections to close, events, and the next time it must be woken. It never
/// reads a clock, never does I/O and never blocks; a runtime around it does those (see
/// `verimqtt::runtime`).
///
/// ```
/// use std::time::Instant;
/// use bytes::BytesMut;
/// use verimqtt_proto::broker::{AllowAll, Broker, BrokerOptions, ConnId};
/// use verimqtt_proto::codec::{self, Connect, DecodeOptions, MqttString, Packet, ProtocolVersion};
///
/// let mut broker = Broker::new(BrokerOptions::default(), AllowAll);
/// let (conn, now) = (ConnId(1), Instant::now());
/// broker.handle_connected(now, conn)?;
///
/// let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-1")?);
/// let mut wire = BytesMut::new();
/// codec::encode(&Packet::Connect(Box::new(connect)), ProtocolVersion::V5, &mut wire)?;
/// broker.handle_bytes(now, conn, &wire);
///
/// let mut reply = BytesMut::from(&broker.poll_transmit(conn).unwrap()[..]);
/// let connack = codec::decode(&mut reply, &DecodeOptions::new(ProtocolVersion::V5))?;
/// assert!(matches!(connack, Some(Packet::ConnAck(ack)) if !ack.reason_code.is_failure()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Broker<P = AllowAll> {
    pub(super) options: BrokerOptions,
    pub(super) policy: P,
    // Boxed: a table has room for more entries than it holds (up to twice as many), and a
    // connection or a session inline is over a kilobyte; boxed, the spare room costs a
    // pointer each (issue 21: memory per idle connection).
    pub(super) connections: HashMap<ConnId, Box<Connection>>,
    pub(super) sessions: HashMap<SessionId, Box<Session>>,
    pub(super) session_by_client: HashMap<MqttString, SessionId>,
    pub(super) subscriptions: SubscriptionTree,
    pub(super) retained: RetainedStore,
    /// The mount point of each listener that has one.
    mount_points: HashMap<ListenerId, MountPoint>,
    pub(super) timers: Timers,
    pub(super) outbox: Outbox,
    pub(super) closes: VecDeque<(ConnId, CloseReason)>,
    /// Verifications of CONNECT credentials for the owner to run, and the connections
    /// waiting for theirs.
    pub(super) verifications: VecDeque<(ConnId, Verification)>,
    pub(super) awaiting_verification: HashSet<ConnId>,
    /// Connections paused or resumed for the owner to hear of, and those resumed whose
    /// received packets are still to be read.
    pub(super) reading_changes: ReadingChanges,
    pub(super) resumed: Vec<ConnId>,
    pub(super) events: EventQueue,
    pub(super) stats: Counters,
    next_session: u64,
    pub(super) next_assigned_id: u64,
    /// The time of the latest input: what moving queued messages on uses to expire them.
    pub(super) now: Option<Instant>,
    shutting_down: bool,
    pub(super) tracer: Tracer,
}

/// A connection the broker closes: see [`Broker::poll_close`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// The connection to close.
    pub conn: ConnId,
    /// Why it closes.
    pub reason: CloseReason,
    /// What is still to be written before the socket closes.
    pub last_bytes: Option<Bytes>,
}

impl<P: Policy> Broker<P> {
    /// A broker with no connection and no session yet, run by `options` and asking `policy` who may connect, publish and subscribe.
    pub fn new(options: BrokerOptions, policy: P) -> Self {
        Broker {
            retained: RetainedStore::new(options.max_retained_messages),
            mount_points: HashMap::new(),
            events: EventQueue::new(options.max_pending_events),
            options,
            policy,
            connections: HashMap::new(),
            sessions: HashMap::new(),
            session_by_client: HashMap::new(),
            subscriptions: SubscriptionTree::default(),
            timers: Timers::default(),
            outbox: Outbox::default(),
            closes: VecDeque::new(),
            verifications: VecDeque::new(),
            awaiting_verification: HashSet::new(),
            reading_changes: ReadingChanges::default(),
            resumed: Vec::new(),
            stats: Counters::default(),
            next_session: 0,
            next_assigned_id: 0,
            now: None,
            shutting_down: false,
            tracer: Tracer::default(),
        }
    }

    /// The options the broker was built with.
    pub fn options(&self) -> &BrokerOptions {
        &self.options
    }

    /// The policy, to change it while the broker runs (e.g. reload a password file).
    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    /// Installs (or removes, with `None`) the observer told of every observable step; see
    /// [`crate::trace`]. Connections are numbered by their [`ConnId`].
    pub fn set_observer(&mut self, observer: Option<Box<dyn trace::Observer>>) {
        self.tracer.set(observer);
    }

    /// Gives `listener`'s clients a topic tree of their own under `mount_point` (`None`:
    /// the whole tree, the default); see [`MountPoint`]. For connections opened from now on:
    /// set it before accepting any on that listener.
    pub fn set_mount_point(&mut self, listener: ListenerId, mount_point: Option<MountPoint>) {
        match mount_point {
            Some(mount_point) => self.mount_points.insert(listener, mount_point),
            None => self.mount_points.remove(&listener),
        };
    }

    /// A network connection was opened. `conn` names it in every later call; the caller
    /// picks it and must not reuse it until [`Broker::handle_closed`] for it. The client has
    /// [`BrokerOptions::connect_timeout`] to send CONNECT. A refused connection is closed
    /// by the owner at once, without a word (no CONNACK can be written before the client has
    /// said which version it speaks).
    ///
    /// The connection is on [`ListenerId::DEFAULT`]; a broker that tells its listeners
    /// apart (a policy per listener, mount points) calls [`Broker::handle_connected_on`].
    pub fn handle_connected(&mut self, now: Instant, conn: ConnId) -> Result<(), AcceptError> {
        self.handle_connected_on(now, conn, ListenerId::DEFAULT)
    }

    /// A network connection was opened on `listener`: as [`Broker::handle_connected`],
    /// and the policy is told the listener, and its mount point applies.
    pub fn handle_connected_on(&mut self, now: Instant, conn: ConnId, listener: ListenerId) -> Result<(), AcceptError> {
        self.now = Some(now);
        if self.shutting_down {
            self.stats.connections_not_accepted += 1;
            return Err(AcceptError::ShuttingDown);
        }
        if self.connections.contains_key(&conn) {
            return Err(AcceptError::DuplicateConnection(conn));
        }
        if self.connections.len() >= self.options.max_connections {
            self.stats.connections_not_accepted += 1;
            return Err(AcceptError::TooManyConnections { max: self.options.max_connections });
        }
        self.stats.connections_accepted += 1;
        let mount_point = self.mount_points.get(&listener).cloned();
        self.connections.insert(conn, Box::new(Connection::new(conn, listener, mount_point, now, &self.options)));
        // A timeout too long for the clock to reach never fires.
        if let Some(deadline) = now.checked_add(self.options.connect_timeout) {
            self.timers.set(Timer::Connect(conn), deadline);
        }
        let max_in_flight = self.options.max_inflight.get();
        self.tracer.emit(now, || trace::Event::ConnectionOpened { conn: conn.0, max_in_flight });
        Ok(())
    }

    /// Bytes arrived on `conn`. Whole packets among them are handled at once; a partial one
    /// waits for the rest. Returns how many were taken: none while the broker holds the
    /// connection back (see [`Broker::poll_reading`]); the owner keeps them and offers them
    /// again once it is resumed. Bytes for a connection being closed, or unknown, are taken
    /// and ignored ([MQTT-3.1.4-5] in 3.1.1, [MQTT-3.1.4-6] in 5.0, once a CONNECT was
    /// refused).
    pub fn handle_bytes(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) -> usize {
        self.now = Some(now);
        let Some(connection) = self.connections.get_mut(&conn) else { return bytes.len() };
        if connection.is_closing() {
            return bytes.len();
        }
        if connection.publish_held_back() {
            return 0;
        }
        self.stats.bytes_received += bytes.len() as u64;
        connection.receive(bytes);
        self.read_packets(conn, now);
        self.read_resumed(now);
        bytes.len()
    }

    /// The bytes [`Broker::poll_transmit`] last gave for `conn` are written: the broker moves
    /// the messages waiting in the session's queue into the room they leave, as far as the
    /// client's window and [`BrokerOptions::max_transmit_buffer`] allow, which may let
    /// publishers it held back go (see [`Broker::poll_reading`]).
    pub fn handle_written(&mut self, now: Instant, conn: ConnId) {
        self.now = Some(now);
        if let Some(session) = self.connections.get(&conn).and_then(|connection| connection.session()) {
            self.pump(session);
        }
        self.read_resumed(now);
    }

    /// Handles the whole packets received on `conn`. While its CONNECT's credentials are
    /// being checked, what arrives waits, up to the broker's maximum packet size: a client
    /// that sends more before its CONNACK is refused.
    pub(super) fn read_packets(&mut self, conn: ConnId, now: Instant) {
        loop {
            let Some(connection) = self.connections.get_mut(&conn) else { return };
            match connection.phase {
                Phase::Closing => return,
                Phase::Authenticating => {
                    if connection.unread_len() > self.options.max_packet_size as usize {
                        let why = "it sent more than max_packet_size bytes before its CONNECT was answered";
                        self.refuse(conn, ReasonCode::QuotaExceeded, why, now);
                    }
                    return;
                }
                Phase::AwaitingConnect | Phase::Active(_) => {}
            }
            // Held back by a congested subscriber (see `flow`): what comes before the next
            // PUBLISH is read, the PUBLISH waits.
            if connection.publish_held_back() {
                return;
            }
            match connection.next_packet(now) {
                Ok(Some(packet)) => {
                    self.tracer.received(now, conn.0, &packet, connection.version);
                    self.count_received(&packet);
                    self.handle_packet(conn, packet, now);
                }
                Ok(None) => return,
                Err(error) => return self.handle_decode_error(conn, error, now),
            }
            self.close_if_not_reading(conn, now);
        }
    }

    /// The network connection `conn` ended (or failed). If the broker had not closed it, the
    /// client is gone without DISCONNECT and its will is published. The broker forgets
    /// `conn`; the id may be used again.
    ///
    /// What the client sent before it closed was received: packets still unread because a
    /// congested subscriber held them back are read first, held back or not (a DISCONNECT
    /// among them keeps its will from being published). An owner that still holds bytes
    /// the broker did not take calls [`Broker::handle_closing`] and offers them first.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.handle_closing(now, conn);
        self.close_connection(conn, CloseReason::ConnectionLost, now, false);
        self.connections.remove(&conn);
        self.read_resumed(now);
    }

    /// The network connection `conn` is ending: from now on the broker takes and reads what
    /// it received, held back or not. For an owner that kept bytes the broker did not take:
    /// it calls this, offers them with [`Broker::handle_bytes`], then calls
    /// [`Broker::handle_closed`].
    pub fn handle_closing(&mut self, now: Instant, conn: ConnId) {
        self.now = Some(now);
        if let Some(connection) = self.connections.get_mut(&conn) {
            connection.peer_closed = true;
        }
        self.forget_held(conn);
        self.read_packets(conn, now);
    }

    /// Runs what is due at `now`: connect timeouts, keep alive expiry, delayed wills and
    /// session expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Connect(conn) => {
                    self.tracer.timer(now, trace::Timer::ConnectTimeout);
                    if self.awaiting_verification.contains(&conn) {
                        self.verification_timed_out(conn, now);
                    } else {
                        self.close_connection(conn, CloseReason::ConnectTimeout, now, true);
                    }
                }
                Timer::KeepAlive(conn) => self.check_keep_alive(conn, now),
                Timer::Will(session) => {
                    self.tracer.timer(now, trace::Timer::WillDelay);
                    self.publish_pending_will(session, now);
                    self.store_session(session);
                }
                Timer::SessionExpiry(session) => {
                    self.tracer.timer(now, trace::Timer::SessionExpiry);
                    self.end_session(session, now, true);
                }
                Timer::SlowConsumer(session) => self.slow_consumer(session, now),
            }
        }
        self.read_resumed(now);
    }

    /// Closes every connection (MQTT 5 clients are sent DISCONNECT 0x8B first) and refuses
    /// new ones. The owner then drains `poll_close` as usual.
    ///
    /// The sessions end with the broker, so every will is published first, delayed ones
    /// included (a will goes out when its delay passes or its session ends, MQTT 5 section
    /// 3.1.3.2.2), while every client is still connected to receive it.
    pub fn shutdown(&mut self, now: Instant) {
        self.now = Some(now);
        self.shutting_down = true;
        let mut open: Vec<ConnId> = self.connections.keys().copied().collect();
        open.sort_unstable();
        let wills: Vec<StoredWill> =
            open.iter().filter_map(|conn| self.connections.get_mut(conn)?.will.take()).collect();
        for will in wills {
            self.publish_will(will, now);
        }
        let mut waiting: Vec<SessionId> =
            self.sessions.iter().filter(|(_, state)| state.pending_will.is_some()).map(|(&id, _)| id).collect();
        waiting.sort_unstable();
        for session in waiting {
            self.timers.cancel(Timer::Will(session));
            self.publish_pending_will(session, now);
        }
        for conn in open {
            self.close_connection(conn, CloseReason::ServerShuttingDown, now, true);
        }
    }

    /// The bytes to send on `conn` now, if any: everything encoded for it since it was
    /// last polled. Polling changes nothing else; once they are written, the owner says so
    /// with [`Broker::handle_written`], which makes room for more.
    pub fn poll_transmit(&mut self, conn: ConnId) -> Option<Bytes> {
        let bytes = self.connections.get_mut(&conn)?.take_transmit()?;
        self.stats.bytes_sent += bytes.len() as u64;
        Some(bytes)
    }

    /// A connection that has bytes to transmit since it was last named or polled. An owner
    /// that does not want to call `poll_transmit` on every connection after every input
    /// calls this until `None` and polls those.
    pub fn poll_transmit_ready(&mut self) -> Option<ConnId> {
        self.outbox.pop()
    }

    /// A connection the broker has decided to close, why, and the last bytes it has for it
    /// (an MQTT 5 DISCONNECT among them). The owner writes them, closes the socket, then
    /// calls [`Broker::handle_closed`].
    pub fn poll_close(&mut self) -> Option<Closing> {
        let (conn, reason) = self.closes.pop_front()?;
        let last_bytes = self.poll_transmit(conn);
        Some(Closing { conn, reason, last_bytes })
    }

    /// A check of CONNECT credentials for the owner to run, off the task that drives the
    /// broker if it is slow (see [`Authentication::Deferred`](super::Authentication)), then
    /// to hand back to [`Broker::handle_verified`]. At most
    /// [`BrokerOptions::max_pending_verifications`] are outstanding.
    pub fn poll_verification(&mut self) -> Option<(ConnId, Verification)> {
        self.verifications.pop_front()
    }

    /// The next thing that happened inside the broker, for logs and metrics; `None` when there is none.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// When [`Broker::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Publishes a message of the broker's own, such as the `$SYS` topics a runtime keeps:
    /// QoS 0, retained, from no client. Nobody is asked whether it may be published (no
    /// client publishes it), only whether each subscriber may receive it, and it is not
    /// counted among the messages received. The topic should start with `$` so that
    /// wildcard subscriptions of ordinary clients do not match it ([MQTT-4.7.2-1]).
    pub fn publish_own(&mut self, now: Instant, topic: MqttString, payload: Bytes) {
        self.now = Some(now);
        let message = Message::new(topic, payload, QoS::AtMostOnce, true, Properties::default(), None, now);
        self.publish_message(message, None);
    }

    /// Sessions that outlive their connection, connected or not: what `max_sessions` bounds.
    /// A walk over the sessions, done for `stats` and when a CONNECT would create one (which a
    /// CONNECT's other work outweighs until they are many thousands).
    pub(super) fn persistent_sessions(&self) -> usize {
        self.sessions.values().filter(|session| session.is_persistent()).count()
    }

    /// What the broker holds and has done. Counting the connected clients and the messages
    /// held visits every session.
    pub fn stats(&self) -> Stats {
        let sessions = self.sessions.values();
        let counters = &self.stats;
        Stats {
            connections: self.connections.len(),
            clients_connected: sessions.clone().filter(|session| session.is_online()).count(),
            sessions: self.sessions.len(),
            sessions_persistent: self.persistent_sessions(),
            sessions_maximum: counters.sessions_maximum,
            sessions_expired: counters.sessions_expired,
            messages_held: sessions.clone().map(|session| session.outbound.held_messages()).sum(),
            bytes_held: sessions.map(|session| session.outbound.held_bytes()).sum(),
            subscriptions: self.subscriptions.len(),
            shared_subscriptions: self.subscriptions.shared_len(),
            retained_messages: self.retained.len(),
            messages_received: counters.messages_received,
            messages_sent: counters.messages_sent,
            messages_dropped: counters.dropped.total(),
            messages_dropped_by: counters.dropped,
            retained_dropped: counters.retained_dropped,
            publishes_denied: counters.publishes_denied,
            bytes_received: counters.bytes_received,
            bytes_sent: counters.bytes_sent,
            packets_received: counters.packets_received,
            packets_sent: self.outbox.packets_sent,
            publish_received: counters.publish_received,
            publish_sent: counters.publish_sent,
            publish_bytes_received: counters.publish_bytes_received,
            publish_bytes_sent: counters.publish_bytes_sent,
            connections_accepted: counters.connections_accepted,
            connections_not_accepted: counters.connections_not_accepted,
            connects_received: counters.connects_received,
            connects_refused: counters.connects_refused.clone(),
            delivery_latency: counters.latency,
            events_lost: self.events.total_lost(),
        }
    }

    /// Counts a packet read from a client: every one, and the PUBLISHes and CONNECTs apart.
    fn count_received(&mut self, packet: &Packet) {
        self.stats.packets_received += 1;
        match packet {
            Packet::Publish(publish) => {
                count_qos(&mut self.stats.publish_received, publish.qos);
                self.stats.publish_bytes_received += publish.payload.len() as u64;
            }
            Packet::Connect(_) => self.stats.connects_received += 1,
            _ => {}
        }
    }

    /// Every packet from a client is handled here.
    fn handle_packet(&mut self, conn: ConnId, packet: Packet, now: Instant) {
        let Some(connection) = self.connections.get(&conn) else { return };
        let version = connection.version;
        let (session, packet) = match (connection.phase, packet) {
            (Phase::Closing | Phase::Authenticating, _) => return,
            (Phase::AwaitingConnect, Packet::Connect(connect)) => return self.handle_connect(conn, *connect, now),
            (Phase::AwaitingConnect, other) => {
                let violation = ProtocolViolation::UnexpectedPacket { packet: other.packet_type(), connected: false };
                return self.protocol_error(conn, ProtocolError::new(violation, version), now);
            }
            (Phase::Active(session), packet) => (session, packet),
        };
        match packet {
            Packet::Publish(publish) => self.handle_publish(conn, session, publish, now),
            Packet::PubAck(ack) => self.handle_puback(session, ack.packet_id),
            Packet::PubRec(ack) => self.handle_pubrec(conn, session, ack.packet_id, ack.reason_code, now),
            Packet::PubRel(ack) => self.handle_pubrel(conn, session, ack.packet_id, now),
            Packet::PubComp(ack) => self.handle_pubcomp(session, ack.packet_id),
            Packet::Subscribe(subscribe) => self.handle_subscribe(conn, session, subscribe, now),
            Packet::Unsubscribe(unsubscribe) => self.handle_unsubscribe(conn, session, unsubscribe, now),
            // [MQTT-3.12.4-1]
            Packet::PingReq => self.send(conn, Packet::PingResp, now),
            Packet::Disconnect(disconnect) => self.handle_disconnect(conn, session, disconnect, now),
            Packet::Connect(_) => {
                let violation = ProtocolViolation::UnexpectedPacket { packet: PacketType::Connect, connected: true };
                self.protocol_error(conn, ProtocolError::new(violation, version), now)
            }
            Packet::Auth(_) => {
                self.protocol_error(conn, ProtocolError::new(ProtocolViolation::AuthWithoutMethod, version), now)
            }
            other @ (Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp) => {
                let violation = ProtocolViolation::UnexpectedPacket { packet: other.packet_type(), connected: true };
                self.protocol_error(conn, ProtocolError::new(violation, version), now)
            }
        }
    }

    fn handle_decode_error(&mut self, conn: ConnId, error: DecodeError, now: Instant) {
        let awaiting_connect = self.connections.get(&conn).is_some_and(|c| c.phase == Phase::AwaitingConnect);
        if awaiting_connect {
            self.refuse_unreadable_connect(conn, &error, now);
        }
        self.protocol_error(conn, ProtocolError::from(error), now);
    }

    /// Closes `conn` for breaking a rule (MQTT 5: DISCONNECT with the reason code first, once
    /// CONNACK was sent) [MQTT-4.8.0-1].
    pub(super) fn protocol_error(&mut self, conn: ConnId, error: ProtocolError, now: Instant) {
        self.close_connection(conn, CloseReason::ProtocolError(error), now, true);
    }

    fn handle_disconnect(&mut self, conn: ConnId, session: SessionId, disconnect: Disconnect, now: Instant) {
        if let Some(interval) = disconnect.properties.session_expiry_interval {
            let expiry_was_zero = self.connections.get(&conn).is_some_and(|c| c.connect_expiry_was_zero);
            if expiry_was_zero && interval != 0 {
                let error = ProtocolError::new(ProtocolViolation::SessionExpiryAfterZero, ProtocolVersion::V5);
                return self.protocol_error(conn, error, now);
            }
            if let Some(state) = self.sessions.get_mut(&session) {
                state.expiry_interval = interval.min(self.options.max_session_expiry_interval);
            }
        }
        let reason = CloseReason::ClientDisconnected { reason_code: disconnect.reason_code };
        self.close_connection(conn, reason, now, true);
    }

    fn check_keep_alive(&mut self, conn: ConnId, now: Instant) {
        let Some(connection) = self.connections.get(&conn) else { return };
        let Some(window) = connection.keep_alive_window else { return };
        // A client whose packets the broker holds back is not silent: it is waited for.
        let heard = if connection.publish_held_back() { now } else { connection.last_received };
        let deadline = heard + window;
        if deadline <= now {
            self.tracer.timer(now, trace::Timer::KeepAliveClose);
            self.close_connection(conn, CloseReason::KeepAliveTimeout, now, true);
        } else {
            self.timers.set(Timer::KeepAlive(conn), deadline);
        }
    }

    fn close_if_not_reading(&mut self, conn: ConnId, now: Instant) {
        let limit = self.options.not_reading_threshold();
        if self.connections.get(&conn).is_some_and(|c| !c.is_closing() && c.transmit_len() > limit) {
            self.close_connection(conn, CloseReason::NotReading, now, true);
        }
    }

    /// Sends a packet that answers the client (anything but a routed PUBLISH).
    pub(super) fn send(&mut self, conn: ConnId, packet: Packet, now: Instant) {
        let Some(connection) = self.connections.get_mut(&conn) else { return };
        match connection.send(packet, &mut self.outbox, &mut self.tracer, now) {
            Ok(()) => {}
            // The client's Maximum Packet Size is at least large enough for every answer
            // without its optional properties, except a client that set it absurdly low.
            Err(SendError::TooLarge { .. }) => {}
            Err(SendError::Encode(error)) => {
                debug_assert!(false, "the broker built a packet the encoder refuses: {error}");
                self.close_connection(conn, CloseReason::ConnectionLost, now, true);
            }
        }
    }

    /// Ends a connection. `notify` says whether the owner must be told to close the socket
    /// (not when it told us the socket is gone). The session goes offline: its will is
    /// published or scheduled if the reason calls for it, and it ends or starts to expire.
    pub(super) fn close_connection(&mut self, conn: ConnId, reason: CloseReason, now: Instant, notify: bool) {
        if self.connections.get(&conn).is_none_or(|connection| connection.is_closing()) {
            return;
        }
        self.forget_held(conn);
        if self.awaiting_verification.remove(&conn) {
            // Not run, if the owner has not taken it yet.
            self.verifications.retain(|(waiting, _)| *waiting != conn);
        }
        let Some(connection) = self.connections.get_mut(&conn) else { return };
        let phase = std::mem::replace(&mut connection.phase, Phase::Closing);
        if let (Phase::Active(_), true, Some(code)) = (phase, connection.version.is_v5(), reason.disconnect_code()) {
            // [MQTT-3.14.0-1]: only after a successful CONNACK, which `Active` means.
            let mut disconnect = Disconnect::new(code);
            if let CloseReason::ProtocolError(error) = &reason {
                disconnect.properties.reason_string = MqttString::try_from(error.to_string()).ok();
            }
            // Too large for the client even without its reason string: the close says it all.
            let _ = connection.send(Packet::Disconnect(disconnect), &mut self.outbox, &mut self.tracer, now);
        }
        self.tracer.emit(now, || trace::Event::ConnectionClosed { conn: conn.0, reason: reason.trace_reason() });
        let will = connection.will.take();
        let client_id = connection.client_id.clone();
        self.timers.cancel(Timer::Connect(conn));
        self.timers.cancel(Timer::KeepAlive(conn));
        if notify {
            self.closes.push_back((conn, reason.clone()));
        }
        self.events.push(Event::Closed { conn, client_id, reason: reason.clone() });
        if let Phase::Active(session) = phase {
            self.session_offline(session, will, &reason, now);
        }
    }

    /// The session's connection ended. On a takeover the new connection decides what becomes
    /// of the session; otherwise it ends now (expiry interval 0) or starts to expire.
    fn session_offline(&mut self, session: SessionId, will: Option<StoredWill>, reason: &CloseReason, now: Instant) {
        // Offline, the session holds no one back.
        self.end_congestion(session);
        let Some(state) = self.sessions.get_mut(&session) else { return };
        state.connection = None;
        state.outbound.connection_closed();
        let expiry = state.expiry_interval;
        if let Some(will) = will.filter(|_| reason.publishes_will()) {
            let delay = will.delay();
            if delay == 0 {
                self.publish_will(will, now);
            } else if let Some(state) = self.sessions.get_mut(&session) {
                state.pending_will = Some(will);
                self.timers.set(Timer::Will(session), now + seconds(delay));
            }
        }
        if matches!(reason, CloseReason::SessionTakenOver { .. }) {
            return;
        }
        // A DISCONNECT may have changed the expiry.
        self.store_session(session);
        match expiry {
            0 => self.end_session(session, now, false),
            u32::MAX => {}
            seconds_left => self.timers.set(Timer::SessionExpiry(session), now + seconds(seconds_left)),
        }
    }

    pub(super) fn create_session(&mut self, client_id: MqttString, expiry_interval: u32) -> SessionId {
        let id = SessionId(self.next_session);
        self.next_session += 1;
        self.session_by_client.insert(client_id.clone(), id);
        self.sessions.insert(id, Box::new(Session::new(client_id, expiry_interval)));
        self.stats.sessions_maximum = self.stats.sessions_maximum.max(self.sessions.len());
        id
    }

    /// Ends a session: its subscriptions go, its queue is dropped, and a will still waiting
    /// is published now, since the session ending cuts the delay short (MQTT 5 section
    /// 3.1.3.2.2).
    pub(super) fn end_session(&mut self, session: SessionId, now: Instant, expired: bool) {
        self.end_congestion(session);
        let Some(state) = self.sessions.remove(&session) else { return };
        self.store_session_ended(session, &state.client_id);
        self.timers.cancel(Timer::Will(session));
        self.timers.cancel(Timer::SessionExpiry(session));
        for subscription in state.subscriptions.values() {
            self.subscriptions.remove(&subscription.route, session);
        }
        if self.session_by_client.get(&state.client_id) == Some(&session) {
            self.session_by_client.remove(&state.client_id);
        }
        if let Some(will) = state.pending_will {
            self.publish_will(will, now);
        }
        if expired {
            self.stats.sessions_expired += 1;
            self.events.push(Event::SessionExpired { client_id: state.client_id });
        }
    }

    fn publish_pending_will(&mut self, session: SessionId, now: Instant) {
        if let Some(will) = self.sessions.get_mut(&session).and_then(|state| state.pending_will.take()) {
            self.publish_will(will, now);
        }
    }

    /// Publishes a will as if its client had sent it ([MQTT-3.1.2-8]), retained or not as it
    /// says ([MQTT-3.1.2-16], [MQTT-3.1.2-17] in 3.1.1; [MQTT-3.1.2-14], [MQTT-3.1.2-15] in
    /// 5.0), if the policy lets the client publish there.
    pub(super) fn publish_will(&mut self, will: StoredWill, now: Instant) {
        let client_id = will.client_id.clone();
        let topic = will.will.topic.clone();
        if !self.policy.may_publish(will.client(), &topic) {
            self.stats.publishes_denied += 1;
            self.events.push(Event::PublishDenied { client_id, topic });
            return;
        }
        self.stats.messages_received += 1;
        self.publish_message(will.message(now), None);
        self.events.push(Event::WillPublished { client_id, topic });
    }

    /// Who the client of an active connection is, for the policy.
    pub(super) fn client_info(connection: &Connection) -> ClientInfo<'_> {
        ClientInfo {
            client_id: connection.client_id.as_deref().unwrap_or_default(),
            username: connection.username.as_deref(),
            version: connection.version,
            listener: connection.listener,
        }
    }
}

pub(super) fn seconds(seconds: u32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(seconds))
}
