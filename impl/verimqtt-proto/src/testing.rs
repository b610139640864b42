//! Drivers that keep the sans-IO contract over a simulated network and clock, for tests,
//! fuzz targets, simulations and benchmarks: one for the [`Broker`], one for the [`Client`],
//! and a [`Pair`] that connects clients to a broker. Time moves only when the caller says;
//! every timer fires at its own deadline.
//!
//! A driver does what a runtime does after every input: it writes out the connections the
//! broker closes (their last bytes, then [`Broker::handle_closed`]), runs the checks of
//! credentials at once, keeps the bytes a machine did not take and offers them again when
//! it reads again, and collects events. What a machine *sends* waits until the caller takes
//! it, so that a test can leave a peer unread.
//!
//! [`MemoryStore`] keeps what a broker with persistence stores, to restart it on.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::broker::{
    AcceptError, Broker, CloseReason, Closing, ConnId, DeliveryRecord, Event, FlightRecord, ListenerId, MessageRecord,
    Policy, Recovered, RecoveredSession, SessionRecord, StoreOp,
};
use crate::client::{self, Client};
use crate::codec::MqttString;

/// What the driver knows of one of the broker's connections.
#[derive(Debug, Default)]
struct Link {
    /// Bytes offered that the broker did not take: it holds the connection back.
    unsent: Bytes,
    /// The connection is held back; `unsent` is offered again once it is not.
    held: bool,
}

/// A [`Broker`] driven as a runtime drives it.
#[derive(Debug)]
pub struct BrokerDriver<P: Policy> {
    /// The broker, for calls the driver does not make (commands, stats, options).
    pub broker: Broker<P>,
    /// The simulated clock: the time every call to the broker is made at.
    pub now: Instant,
    links: BTreeMap<ConnId, Link>,
    /// The last bytes of each connection the broker closed, until taken.
    last_bytes: BTreeMap<ConnId, BytesMut>,
    closed: BTreeMap<ConnId, CloseReason>,
    /// The connections closed since [`BrokerDriver::take_closed`] was last called.
    newly_closed: Vec<(ConnId, CloseReason)>,
    events: Vec<Event>,
    reading: Vec<(ConnId, bool)>,
}

impl<P: Policy> BrokerDriver<P> {
    /// A driver of `broker` with no connection yet, its clock at `now`.
    pub fn new(broker: Broker<P>, now: Instant) -> Self {
        BrokerDriver {
            broker,
            now,
            links: BTreeMap::new(),
            last_bytes: BTreeMap::new(),
            closed: BTreeMap::new(),
            newly_closed: Vec::new(),
            events: Vec::new(),
            reading: Vec::new(),
        }
    }

    /// A network connection opens.
    pub fn open(&mut self, conn: ConnId) -> Result<(), AcceptError> {
        self.open_on(conn, ListenerId::DEFAULT)
    }

    /// A network connection opens on `listener`.
    pub fn open_on(&mut self, conn: ConnId, listener: ListenerId) -> Result<(), AcceptError> {
        self.broker.handle_connected_on(self.now, conn, listener)?;
        self.links.insert(conn, Link::default());
        self.settle();
        Ok(())
    }

    /// Bytes arrive on `conn`, after any it did not take yet.
    pub fn send(&mut self, conn: ConnId, bytes: &[u8]) {
        let Some(link) = self.links.get_mut(&conn) else { return };
        let mut pending = BytesMut::from(&link.unsent[..]);
        pending.extend_from_slice(bytes);
        link.unsent = pending.freeze();
        self.offer(conn);
        self.settle();
    }

    fn offer(&mut self, conn: ConnId) {
        let Some(link) = self.links.get_mut(&conn) else { return };
        if link.unsent.is_empty() || link.held {
            return;
        }
        let unsent = std::mem::take(&mut link.unsent);
        let taken = self.broker.handle_bytes(self.now, conn, &unsent);
        if let Some(link) = self.links.get_mut(&conn) {
            link.unsent = unsent.slice(taken..);
        }
    }

    /// The peer closes `conn`: what it sent is read first, held back or not.
    pub fn close(&mut self, conn: ConnId) {
        if let Some(link) = self.links.remove(&conn) {
            self.broker.handle_closing(self.now, conn);
            self.broker.handle_bytes(self.now, conn, &link.unsent);
            self.broker.handle_closed(self.now, conn);
            self.record_close(conn, CloseReason::ConnectionLost);
        }
        self.settle();
    }

    fn record_close(&mut self, conn: ConnId, reason: CloseReason) {
        self.newly_closed.push((conn, reason.clone()));
        self.closed.entry(conn).or_insert(reason);
    }

    /// What the broker has sent on `conn` since it was last asked: one poll, as one write of
    /// a socket; writing it makes room for more ([`Broker::handle_written`]). Once the broker
    /// closed `conn`, its last bytes.
    pub fn output(&mut self, conn: ConnId) -> Bytes {
        if let Some(last) = self.last_bytes.remove(&conn) {
            return last.freeze();
        }
        let bytes = self.broker.poll_transmit(conn).unwrap_or_default();
        self.broker.handle_written(self.now, conn);
        self.settle();
        bytes
    }

    /// Moves the clock to `when`, running every timer that falls due on the way, in order.
    pub fn advance_to(&mut self, when: Instant) {
        while let Some(deadline) = self.broker.poll_timeout().filter(|&deadline| deadline <= when) {
            self.now = self.now.max(deadline);
            self.broker.handle_timeout(self.now);
            self.settle();
        }
        self.now = self.now.max(when);
    }

    /// Moves the clock on by `by`, running every timer that falls due on the way, in order.
    pub fn advance(&mut self, by: Duration) {
        self.advance_to(self.now + by);
    }

    /// Runs the timers due at the driver's time, at that time: a runtime woken late. A
    /// simulation that decides itself when timers fire uses it instead of
    /// [`BrokerDriver::advance_to`].
    pub fn wake(&mut self) {
        self.broker.handle_timeout(self.now);
        self.settle();
    }

    /// Why the broker closed `conn`, or saw it close, if it did.
    pub fn close_reason(&self, conn: ConnId) -> Option<&CloseReason> {
        self.closed.get(&conn)
    }

    /// The connections closed since the last call, by the broker or by their peer, and why.
    pub fn take_closed(&mut self) -> Vec<(ConnId, CloseReason)> {
        std::mem::take(&mut self.newly_closed)
    }

    /// The events since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The connections the broker stopped (`false`) or started (`true`) reading since the
    /// last call.
    pub fn take_reading_changes(&mut self) -> Vec<(ConnId, bool)> {
        std::mem::take(&mut self.reading)
    }

    /// Carries out what the broker decided, until it decides nothing more.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(Closing { conn, reason, last_bytes }) = self.broker.poll_close() {
                moved = true;
                self.last_bytes.entry(conn).or_default().extend_from_slice(&last_bytes.unwrap_or_default());
                self.links.remove(&conn);
                self.broker.handle_closed(self.now, conn);
                self.record_close(conn, reason);
            }
            while let Some((conn, verification)) = self.broker.poll_verification() {
                moved = true;
                self.broker.handle_verified(self.now, conn, verification.run());
            }
            while let Some((conn, reading)) = self.broker.poll_reading() {
                self.reading.push((conn, reading));
                if let Some(link) = self.links.get_mut(&conn) {
                    link.held = !reading;
                }
                if reading {
                    moved = true;
                    self.offer(conn);
                }
            }
            self.events.extend(std::iter::from_fn(|| self.broker.poll_event()));
            if !moved {
                return;
            }
        }
    }
}

/// A [`Client`] driven as a runtime drives it.
#[derive(Debug)]
pub struct ClientDriver {
    /// The client, for the commands (`connect`, `publish`, ...) the test makes.
    pub client: Client,
    /// The simulated clock: the time every call to the client is made at.
    pub now: Instant,
    /// Bytes from the server the client did not take yet.
    unsent: Bytes,
    /// The last bytes of a connection the client closed, until taken.
    last_bytes: BytesMut,
    events: VecDeque<client::Event>,
}

impl ClientDriver {
    /// A driver of `client` with nothing received yet, its clock at `now`.
    pub fn new(client: Client, now: Instant) -> Self {
        ClientDriver { client, now, unsent: Bytes::new(), last_bytes: BytesMut::new(), events: VecDeque::new() }
    }

    /// Bytes from the server, after any the client did not take yet. The client takes what
    /// it can; the rest waits until its events are polled.
    pub fn receive(&mut self, bytes: &[u8]) {
        let mut pending = BytesMut::from(&self.unsent[..]);
        pending.extend_from_slice(bytes);
        self.unsent = pending.freeze();
        self.settle();
    }

    /// Everything the client has to send now, or the last bytes of a connection it closed.
    pub fn output(&mut self) -> BytesMut {
        let mut out = std::mem::take(&mut self.last_bytes);
        while let Some(bytes) = self.client.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// The events since the last call. A `Disconnected` event comes without its last bytes:
    /// [`ClientDriver::output`] gives them.
    pub fn take_events(&mut self) -> Vec<client::Event> {
        self.settle();
        self.events.drain(..).collect()
    }

    /// Moves the clock to `when`, running every timer that falls due on the way, in order.
    pub fn advance_to(&mut self, when: Instant) {
        while let Some(deadline) = self.client.poll_timeout().filter(|&deadline| deadline <= when) {
            self.now = self.now.max(deadline);
            self.client.handle_timeout(self.now);
            self.settle();
        }
        self.now = self.now.max(when);
    }

    /// Takes the events so that the client reads on, and offers it what it did not take.
    fn settle(&mut self) {
        loop {
            while let Some(mut event) = self.client.poll_event() {
                if let client::Event::Disconnected { last_bytes, .. } = &mut event {
                    self.last_bytes.extend_from_slice(&last_bytes.take().unwrap_or_default());
                }
                self.events.push_back(event);
            }
            if self.unsent.is_empty() {
                return;
            }
            let taken = self.client.handle_bytes(self.now, &self.unsent);
            self.unsent = self.unsent.slice(taken..);
            if taken == 0 {
                return;
            }
        }
    }
}

/// Clients connected to a broker through a network that delivers at once, on one clock.
#[derive(Debug)]
pub struct Pair<P: Policy> {
    /// The broker's driver; its clock is the one every client's follows.
    pub broker: BrokerDriver<P>,
    /// Each client with the broker's id for its connection, in the order they were added; [`Pair::add`] returns the index.
    pub clients: Vec<(ConnId, ClientDriver)>,
    next_conn: u64,
}

impl<P: Policy> Pair<P> {
    /// A broker with no client yet, the clock at `now`.
    pub fn new(broker: Broker<P>, now: Instant) -> Self {
        Pair { broker: BrokerDriver::new(broker, now), clients: Vec::new(), next_conn: 1 }
    }

    /// Opens a connection for `client` (which then connects as it is told): returns its
    /// index.
    pub fn add(&mut self, client: Client) -> Result<usize, AcceptError> {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.broker.open(conn)?;
        let mut driver = ClientDriver::new(client, self.broker.now);
        driver.client.handle_connected(driver.now);
        self.clients.push((conn, driver));
        Ok(self.clients.len() - 1)
    }

    /// Moves bytes both ways until nothing moves.
    pub fn exchange(&mut self) {
        loop {
            let mut moved = false;
            for (conn, client) in &mut self.clients {
                let up = client.output();
                if !up.is_empty() {
                    moved = true;
                    self.broker.send(*conn, &up);
                }
                let down = self.broker.output(*conn);
                if !down.is_empty() {
                    moved = true;
                    client.receive(&down);
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Lets time pass for everyone, exchanging bytes at every deadline on the way.
    pub fn advance(&mut self, by: Duration) {
        let target = self.broker.now + by;
        loop {
            self.exchange();
            let deadlines = self.clients.iter().filter_map(|(_, client)| client.client.poll_timeout());
            let next = deadlines.chain(self.broker.broker.poll_timeout()).filter(|&when| when <= target).min();
            let Some(when) = next else { break };
            self.broker.advance_to(when);
            for (_, client) in &mut self.clients {
                client.advance_to(when);
            }
        }
        self.broker.advance_to(target);
        for (_, client) in &mut self.clients {
            client.advance_to(target);
        }
        self.exchange();
    }
}

/// A broker's store in memory: applies the changes a broker with persistence asks for, as a
/// file-backed store does, and gives them back for [`Broker::restore`], as after a restart
/// (with no time gone by). For tests of persistence and recovery: a change that makes no
/// sense (a delivery of a message not stored, a message deleted while a delivery refers to
/// it or stored twice, a change to a session not stored) panics, and so does a message left
/// behind with no delivery referring to it once a broker's changes are all applied.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    sessions: BTreeMap<MqttString, StoredSession>,
    messages: BTreeMap<u64, MessageRecord>,
    retained: BTreeMap<MqttString, MessageRecord>,
    /// The number of the last change applied, counted since the broker started.
    pub applied: u64,
}

#[derive(Debug, Clone)]
struct StoredSession {
    record: SessionRecord,
    deliveries: BTreeMap<u64, (DeliveryRecord, Option<FlightRecord>)>,
}

impl MemoryStore {
    /// Applies one change.
    pub fn apply(&mut self, number: u64, op: StoreOp) {
        assert_eq!(number, self.applied + 1, "changes are applied in order, none missing");
        self.applied = number;
        match op {
            StoreOp::PutSession(record) => {
                let deliveries =
                    self.sessions.remove(&record.client_id).map(|stored| stored.deliveries).unwrap_or_default();
                self.sessions.insert(record.client_id.clone(), StoredSession { record, deliveries });
            }
            StoreOp::DeleteSession { client_id } => {
                self.sessions.remove(&client_id);
            }
            StoreOp::PutMessage { message, record } => {
                let previous = self.messages.insert(message, record);
                assert!(previous.is_none(), "message {message} stored twice");
            }
            StoreOp::DeleteMessage { message } => {
                assert!(self.messages.remove(&message).is_some(), "message {message} deleted, not stored");
                let referring = self.referring_to(message);
                assert!(referring.is_empty(), "message {message} deleted while {referring:?} refer to it");
            }
            StoreOp::PutDelivery { client_id, entry, delivery } => {
                let message = delivery.message;
                assert!(self.messages.contains_key(&message), "a delivery of message {message}, not stored");
                self.session(&client_id).deliveries.insert(entry, (delivery, None));
            }
            StoreOp::PutFlight { client_id, entry, flight } => {
                let stored = self.session(&client_id).deliveries.get_mut(&entry);
                stored.unwrap_or_else(|| panic!("a flight of delivery {entry}, not stored")).1 = Some(flight);
            }
            StoreOp::DeleteDelivery { client_id, entry } => {
                self.session(&client_id).deliveries.remove(&entry);
            }
            StoreOp::PutRetained(message) => {
                self.retained.insert(message.topic.clone(), message);
            }
            StoreOp::DeleteRetained { topic } => {
                self.retained.remove(&topic);
            }
        }
    }

    fn session(&mut self, client_id: &MqttString) -> &mut StoredSession {
        self.sessions.get_mut(client_id).unwrap_or_else(|| panic!("a change to session {client_id:?}, not stored"))
    }

    /// The sessions and entries of the deliveries that refer to `message`.
    fn referring_to(&self, message: u64) -> Vec<(&str, u64)> {
        let deliveries = self.sessions.iter().flat_map(|(client_id, stored)| {
            stored.deliveries.iter().map(move |(entry, (delivery, _))| (&client_id[..], *entry, delivery.message))
        });
        deliveries
            .filter(|(.., referred)| *referred == message)
            .map(|(client_id, entry, _)| (client_id, entry))
            .collect()
    }

    /// Applies every change `broker` has for its store, and tells it they are durable.
    pub fn sync<P: Policy>(&mut self, broker: &mut Broker<P>, now: Instant) {
        while let Some((number, op)) = broker.poll_store() {
            self.apply(number, op);
        }
        let unreferenced: Vec<&u64> =
            self.messages.keys().filter(|message| self.referring_to(**message).is_empty()).collect();
        assert!(unreferenced.is_empty(), "messages {unreferenced:?} stored, no delivery refers to them");
        broker.handle_durable(now, self.applied);
    }

    /// What a broker restarted on this store takes back. The new broker numbers its changes
    /// from 1 again.
    pub fn restart(&mut self) -> Recovered {
        self.applied = 0;
        let sessions = self.sessions.values().map(|stored| RecoveredSession {
            record: stored.record.clone(),
            offline_for: Duration::ZERO,
            deliveries: stored
                .deliveries
                .iter()
                .map(|(entry, (delivery, flight))| (*entry, delivery.clone(), *flight))
                .collect(),
        });
        let messages = self.messages.iter().map(|(number, message)| (*number, message.clone(), Duration::ZERO));
        let retained = self.retained.values().map(|message| (message.clone(), Duration::ZERO));
        Recovered { sessions: sessions.collect(), messages: messages.collect(), retained: retained.collect() }
    }

    /// How many messages are stored: each once, however many deliveries refer to it.
    pub fn messages(&self) -> usize {
        self.messages.len()
    }

    /// The client identifiers of the sessions stored, and how many deliveries each holds.
    pub fn sessions(&self) -> Vec<(&str, usize)> {
        self.sessions.iter().map(|(client_id, stored)| (&client_id[..], stored.deliveries.len())).collect()
    }
}
