//! Backpressure from subscribers to publishers.
//!
//! A connected session whose queue passes its high-water mark (half of
//! [`BrokerOptions::max_queued_messages`] or of [`BrokerOptions::max_queued_bytes`]) is
//! congested: the broker stops reading the PUBLISHes of every connection that sends it
//! messages, until the queue drains below its low-water mark (a quarter of each). The owner
//! of the broker is told which connections to stop and start reading
//! ([`Broker::poll_reading`]); TCP then slows the publishers down, so a subscriber that
//! reads as fast as it can loses nothing, at any QoS.
//!
//! A paused connection's other packets (acknowledgements, PINGREQ) are still handled until
//! a PUBLISH comes next in its stream, and a connection is never paused for its own
//! session, so a client that publishes to itself cannot stall itself. A session that stays
//! congested for [`BrokerOptions::slow_consumer_timeout`] is a slow consumer: by
//! [`SlowConsumerPolicy`] it stops holding publishers back and messages past its queue's
//! limits are dropped, or it is disconnected; either way that also breaks any cycle of
//! clients waiting on each other. Offline sessions never hold anyone back: their queue
//! keeps its limits and drops past them.
//!
//! [`BrokerOptions::max_queued_messages`]: super::BrokerOptions::max_queued_messages
//! [`BrokerOptions::max_queued_bytes`]: super::BrokerOptions::max_queued_bytes
//! [`BrokerOptions::slow_consumer_timeout`]: super::BrokerOptions::slow_consumer_timeout

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

use super::ConnId;
use super::core::Broker;
use super::error::CloseReason;
use super::event::Event;
use super::options::SlowConsumerPolicy;
use super::policy::Policy;
use super::session::SessionId;
use super::timers::Timer;

/// A connected session whose queue is past its high-water mark.
#[derive(Debug)]
pub(crate) struct Congestion {
    /// The connections whose reading is paused until the session drains.
    holding: HashSet<ConnId>,
    /// The slow-consumer policy dropped the session's excess: it holds no one back now.
    dropping: bool,
}

/// Connections whose reading the broker paused or resumed, for its owner to be told: each
/// once, however often it changed since it was last polled.
#[derive(Debug, Default)]
pub(crate) struct ReadingChanges {
    changed: VecDeque<ConnId>,
    listed: HashSet<ConnId>,
}

impl ReadingChanges {
    fn push(&mut self, conn: ConnId) {
        if self.listed.insert(conn) {
            self.changed.push_back(conn);
        }
    }

    fn pop(&mut self) -> Option<ConnId> {
        let conn = self.changed.pop_front()?;
        self.listed.remove(&conn);
        Some(conn)
    }
}

impl<P: Policy> Broker<P> {
    /// A delivery from a PUBLISH read on `source` (`None` for a will or the broker's own
    /// message) went into `session`'s queue: past the high-water mark, the session is
    /// congested and `source` is paused until it drains.
    pub(super) fn hold_back(&mut self, session: SessionId, source: Option<ConnId>, now: Instant) {
        let (high_messages, high_bytes) = self.options.high_water();
        let Some(state) = self.sessions.get_mut(&session) else { return };
        if state.connection.is_none() {
            return;
        }
        if state.congestion.is_none() {
            if state.outbound.queued() < high_messages && state.outbound.held_bytes() < high_bytes {
                return;
            }
            state.congestion = Some(Congestion { holding: HashSet::new(), dropping: false });
            if let Some(deadline) = now.checked_add(self.options.slow_consumer_timeout) {
                self.timers.set(Timer::SlowConsumer(session), deadline);
            }
        }
        let Some(source) = source.filter(|&source| state.connection != Some(source)) else { return };
        let Some(congestion) = state.congestion.as_mut().filter(|congestion| !congestion.dropping) else { return };
        if self.connections.get(&source).is_none_or(|connection| connection.peer_closed) {
            return;
        }
        if !congestion.holding.insert(source) {
            return;
        }
        if let Some(connection) = self.connections.get_mut(&source) {
            connection.held_by.insert(session);
            if connection.held_by.len() == 1 {
                self.reading_changes.push(source);
            }
        }
    }

    /// Messages left `session`'s queue: below the low-water mark, its congestion is over.
    pub(super) fn release_if_drained(&mut self, session: SessionId) {
        let (low_messages, low_bytes) = self.options.low_water();
        let Some(state) = self.sessions.get(&session) else { return };
        if state.congestion.is_some()
            && state.outbound.queued() <= low_messages
            && state.outbound.held_bytes() <= low_bytes
        {
            self.end_congestion(session);
        }
    }

    /// The session drained, went offline or ended: the connections it held are let go.
    pub(super) fn end_congestion(&mut self, session: SessionId) {
        let Some(congestion) = self.sessions.get_mut(&session).and_then(|state| state.congestion.take()) else {
            return;
        };
        self.timers.cancel(Timer::SlowConsumer(session));
        for conn in congestion.holding {
            self.let_go(conn, session);
        }
    }

    fn let_go(&mut self, conn: ConnId, session: SessionId) {
        let Some(connection) = self.connections.get_mut(&conn) else { return };
        if connection.held_by.remove(&session) && connection.held_by.is_empty() {
            self.reading_changes.push(conn);
            self.resumed.push(conn);
        }
    }

    /// A paused connection closed: the sessions it waited for forget it.
    pub(super) fn forget_held(&mut self, conn: ConnId) {
        let Some(connection) = self.connections.get_mut(&conn) else { return };
        for session in std::mem::take(&mut connection.held_by) {
            if let Some(congestion) = self.sessions.get_mut(&session).and_then(|state| state.congestion.as_mut()) {
                congestion.holding.remove(&conn);
            }
        }
    }

    /// The session stayed congested for the slow-consumer timeout.
    pub(super) fn slow_consumer(&mut self, session: SessionId, now: Instant) {
        let Some(state) = self.sessions.get_mut(&session) else { return };
        let client_id = state.client_id.clone();
        let policy = self.options.slow_consumer_policy;
        match (policy, state.connection) {
            (SlowConsumerPolicy::Drop, _) => {
                let Some(congestion) = state.congestion.as_mut() else { return };
                congestion.dropping = true;
                for conn in std::mem::take(&mut congestion.holding) {
                    self.let_go(conn, session);
                }
            }
            (SlowConsumerPolicy::Disconnect, Some(conn)) => {
                self.close_connection(conn, CloseReason::SlowConsumer, now, true);
            }
            (SlowConsumerPolicy::Disconnect, None) => return,
        }
        self.events.push(Event::SlowConsumer { client_id, policy });
    }

    /// Handles what paused connections received while they waited, now that they are
    /// read again.
    pub(super) fn read_resumed(&mut self, now: Instant) {
        while let Some(conn) = self.resumed.pop() {
            self.read_packets(conn, now);
        }
    }

    /// A connection whose reading the broker paused (`false`) or resumed (`true`) since it
    /// was last named, with the state it is in now. The owner stops reading a paused
    /// connection's socket, so that TCP slows its client down, and starts again when it is
    /// resumed.
    pub fn poll_reading(&mut self) -> Option<(ConnId, bool)> {
        loop {
            let conn = self.reading_changes.pop()?;
            if let Some(connection) = self.connections.get(&conn).filter(|connection| !connection.is_closing()) {
                return Some((conn, connection.held_by.is_empty()));
            }
        }
    }
}
