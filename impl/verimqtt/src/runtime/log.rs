//! What the runtime logs: each client's connection and disconnection, and every protocol
//! violation, refusal, drop and limit with its cause (the statement broken, the limit
//! reached).
//!
//! What one peer can repeat thousands of times a second (a dropped message, a refused
//! CONNECT, a malformed packet) is logged once per cause and episode: the first occurrence
//! in full, then one line with the count of the others every [`SUMMARY_INTERVAL`] while
//! they go on (see [`Throttle`]). A slow subscriber makes one warning, not one per message.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::broker::{AcceptError, CloseReason, ConnId, DropReason, Event, RetainedDropReason, SlowConsumerPolicy};
use crate::codec::ReasonCode;

/// How often the count of a repeated cause is logged while it goes on; a cause quiet for
/// that long ends its episode.
pub(crate) const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

/// Episodes of repeated causes: which occurrences to log in full and how many were not.
#[derive(Debug)]
pub(crate) struct Throttle<K> {
    episodes: HashMap<K, Episode>,
}

#[derive(Debug)]
struct Episode {
    /// When the current summary interval started.
    since: Instant,
    /// Occurrences since then not logged.
    untold: u64,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    pub(crate) fn new() -> Self {
        Throttle { episodes: HashMap::new() }
    }

    /// Whether this occurrence of `cause` is to be logged in full: the first of an episode.
    /// The others are counted for [`Throttle::flush`].
    pub(crate) fn first(&mut self, cause: &K, now: Instant) -> bool {
        match self.episodes.get_mut(cause) {
            Some(episode) => {
                episode.untold += 1;
                false
            }
            None => {
                self.episodes.insert(cause.clone(), Episode { since: now, untold: 0 });
                true
            }
        }
    }

    /// Calls `report` with each cause that has occurred without being logged during a whole
    /// interval, with the count and the interval; forgets causes quiet for an interval.
    pub(crate) fn flush(&mut self, now: Instant, mut report: impl FnMut(&K, u64, Duration)) {
        self.episodes.retain(|cause, episode| {
            let elapsed = now.saturating_duration_since(episode.since);
            if elapsed < SUMMARY_INTERVAL {
                return true;
            }
            if episode.untold == 0 {
                return false;
            }
            report(cause, episode.untold, elapsed);
            *episode = Episode { since: now, untold: 0 };
            true
        });
    }
}

/// A cause the driver's logs count rather than repeat.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Cause {
    Dropped(DropReason),
    NotRetained(RetainedDropReason),
    /// A CONNECT refused with this code, for this reason.
    Refused(ReasonCode, &'static str),
    /// Filters of SUBSCRIBEs refused for this reason.
    SubscribeRefused(&'static str),
    /// A connection refused before MQTT: the broker's own connection limit, or shutdown.
    NotAccepted(&'static str),
    /// A protocol violation: the statement broken, or the reason code when none is named.
    Violation(String),
    ConnectTimeout,
    NotReading,
    SlowConsumer(SlowConsumerPolicy),
    EventsLost,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Dropped(reason) => write!(f, "messages dropped ({reason:?})"),
            Cause::NotRetained(reason) => write!(f, "retained messages not stored ({reason:?})"),
            Cause::Refused(code, why) => write!(f, "CONNECTs refused ({code}: {why})"),
            Cause::SubscribeRefused(why) => write!(f, "SUBSCRIBEs with refused filters ({why})"),
            Cause::NotAccepted(why) => write!(f, "connections refused at accept ({why})"),
            Cause::Violation(rule) => write!(f, "connections closed for a protocol violation ({rule})"),
            Cause::ConnectTimeout => f.write_str("connections closed without CONNECT in time"),
            Cause::NotReading => f.write_str("connections closed for not reading"),
            Cause::SlowConsumer(policy) => write!(f, "slow consumers ({policy:?})"),
            Cause::EventsLost => f.write_str("broker events lost"),
        }
    }
}

/// Who is on a connection, for its log lines: the peer's address, and the User Name once
/// its CONNECT is accepted.
#[derive(Debug)]
struct Peer {
    addr: SocketAddr,
    username: Option<String>,
}

/// A connection's peer address as a log line shows it; `-` if it is not known.
struct PeerAddr(Option<SocketAddr>);

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// The driver's logs.
#[derive(Debug)]
pub(crate) struct Log {
    throttle: Throttle<Cause>,
    /// The connections open, by the broker's numbering.
    peers: HashMap<ConnId, Peer>,
    /// Connections whose socket closed: forgotten once the events of their close are logged.
    gone: Vec<ConnId>,
}

impl Log {
    pub(crate) fn new() -> Self {
        Log { throttle: Throttle::new(), peers: HashMap::new(), gone: Vec::new() }
    }

    /// A connection was accepted from `addr`: its lines name it from now on.
    pub(crate) fn opened(&mut self, conn: ConnId, addr: SocketAddr) {
        self.peers.insert(conn, Peer { addr, username: None });
    }

    /// The socket of `conn` closed; its peer is forgotten at the next [`Log::forget_gone`],
    /// once the events its close made are logged.
    pub(crate) fn socket_closed(&mut self, conn: ConnId) {
        self.gone.push(conn);
    }

    /// Forgets the peers of the sockets closed (even if an event about them was lost).
    pub(crate) fn forget_gone(&mut self) {
        for conn in self.gone.drain(..) {
            self.peers.remove(&conn);
        }
    }

    /// The peer address and User Name (`-` for none) of `conn`, as its lines show them.
    fn who(&self, conn: ConnId) -> (PeerAddr, &str) {
        let peer = self.peers.get(&conn);
        let username = peer.and_then(|peer| peer.username.as_deref()).unwrap_or("-");
        (PeerAddr(peer.map(|peer| peer.addr)), username)
    }

    /// Logs the counts of the causes that went on repeating.
    pub(crate) fn flush(&mut self, now: Instant) {
        self.throttle.flush(now, |cause, count, during| {
            tracing::warn!(
                count,
                seconds = during.as_secs(),
                "{cause}: {count} more in the last {}s",
                during.as_secs()
            );
        });
    }

    /// Whether to log this occurrence in full.
    fn first(&mut self, cause: Cause) -> bool {
        self.throttle.first(&cause, Instant::now())
    }

    pub(crate) fn not_accepted(&mut self, peer: SocketAddr, transport: &str, error: &AcceptError) {
        let why = match error {
            AcceptError::TooManyConnections { .. } => "max_connections",
            AcceptError::ShuttingDown => "shutting down",
            AcceptError::DuplicateConnection(_) => "duplicate connection id",
        };
        if self.first(Cause::NotAccepted(why)) {
            tracing::warn!(%peer, transport, %error, "connection refused (further ones are counted)");
        }
    }

    /// The broker is closing a connection it decided to close.
    pub(crate) fn closing(&mut self, conn: ConnId, reason: &CloseReason) {
        match reason {
            CloseReason::ProtocolError(error) => {
                let rule = error.rule().map_or_else(|| error.reason_code().to_string(), |rule| rule.to_string());
                if self.first(Cause::Violation(rule.clone())) {
                    let (peer, username) = self.who(conn);
                    let reason_code = error.reason_code();
                    tracing::warn!(%conn, %peer, username, %rule, %reason_code, "protocol violation: {error}");
                }
            }
            CloseReason::ConnectTimeout => {
                if self.first(Cause::ConnectTimeout) {
                    let (peer, _) = self.who(conn);
                    tracing::info!(%conn, %peer, "closing: {reason}");
                }
            }
            CloseReason::NotReading => {
                if self.first(Cause::NotReading) {
                    let (peer, username) = self.who(conn);
                    tracing::warn!(%conn, %peer, username, "closing: {reason}");
                }
            }
            // A refused CONNECT is logged, counted, from the event that says who was refused.
            _ => {
                let (peer, username) = self.who(conn);
                tracing::debug!(%conn, %peer, username, "closing: {reason}");
            }
        }
    }

    pub(crate) fn event(&mut self, event: &Event) {
        match event {
            Event::Connected { conn, client_id, username, version, session_present } => {
                if let Some(peer) = self.peers.get_mut(conn) {
                    peer.username = username.as_ref().map(ToString::to_string);
                }
                let (peer, username) = self.who(*conn);
                tracing::info!(%conn, %peer, username, %client_id, %version, session_present, "client connected");
            }
            Event::ConnectDenied { conn, client_id, username, reason_code, why } => {
                if self.first(Cause::Refused(*reason_code, why)) {
                    let (peer, _) = self.who(*conn);
                    let username = username.as_deref().unwrap_or("-");
                    tracing::warn!(%conn, %peer, username, %client_id, %reason_code, "CONNECT refused: {why} (further ones are counted)");
                }
            }
            Event::Closed { conn, client_id: Some(client_id), reason } => {
                let (peer, username) = self.who(*conn);
                if let CloseReason::SessionTakenOver { by } = reason {
                    // The new connection's User Name is on its "client connected" line,
                    // which follows: the broker closes this one before it admits that one.
                    let (by_peer, _) = self.who(*by);
                    tracing::info!(%conn, %peer, username, %client_id, %by_peer, "client disconnected: {reason}");
                } else {
                    tracing::info!(%conn, %peer, username, %client_id, "client disconnected: {reason}");
                }
            }
            // A connection that never said who it was: its close was logged as it closed.
            Event::Closed { conn, client_id: None, reason } => {
                let (peer, _) = self.who(*conn);
                tracing::debug!(%conn, %peer, "connection closed: {reason}");
            }
            Event::SubscribeRefused { client_id, count, filter, why } => {
                if self.first(Cause::SubscribeRefused(why)) {
                    let filter = shortened(filter);
                    tracing::warn!(%client_id, count, "SUBSCRIBE: {count} filters refused, the first {filter:?}: {why} (further ones are counted)");
                }
            }
            // As mosquitto's verbose log: who subscribed to what, at debug level.
            Event::Subscribed { client_id, filter, qos } => {
                let filter = shortened(filter);
                tracing::debug!(%client_id, filter, ?qos, "subscribed");
            }
            Event::Unsubscribed { client_id, filter } => {
                let filter = shortened(filter);
                tracing::debug!(%client_id, filter, "unsubscribed");
            }
            Event::MessagePublished { client_id, topic, qos, retain, sessions } => {
                let topic = shortened(topic);
                tracing::trace!(%client_id, topic, ?qos, retain, sessions, "message published");
            }
            Event::MessageDelivered { client_id, topic, qos } => {
                let topic = shortened(topic);
                tracing::trace!(%client_id, topic, ?qos, "message delivered");
            }
            Event::MessageDropped { client_id, topic, reason } => {
                if self.first(Cause::Dropped(*reason)) {
                    let topic = shortened(topic);
                    tracing::warn!(%client_id, topic, ?reason, "message dropped (further drops are counted)");
                }
            }
            Event::RetainedDropped { topic, reason } => {
                if self.first(Cause::NotRetained(*reason)) {
                    let topic = shortened(topic);
                    tracing::warn!(topic, ?reason, "message not retained (further ones are counted)");
                }
            }
            Event::SlowConsumer { client_id, policy } => {
                if self.first(Cause::SlowConsumer(*policy)) {
                    tracing::warn!(%client_id, ?policy, "slow consumer: its queue stayed past half full for the slow-consumer timeout (further ones are counted)");
                }
            }
            Event::PublishDenied { client_id, topic } => tracing::info!(%client_id, %topic, "publish denied by policy"),
            Event::WillPublished { client_id, topic } => tracing::info!(%client_id, %topic, "will published"),
            Event::SessionExpired { client_id } => tracing::info!(%client_id, "session expired"),
            Event::EventsLost { count } => {
                if self.first(Cause::EventsLost) {
                    tracing::warn!(count, "broker events lost");
                }
            }
        }
    }
}

/// A topic or filter as a log line shows it: its first 100 characters. A peer chooses its
/// length, up to 64 KiB.
fn shortened(topic: &str) -> &str {
    topic.char_indices().nth(100).map_or(topic, |(end, _)| &topic[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_told_once_then_counted_each_interval_until_it_stops() {
        let start = Instant::now();
        let mut throttle = Throttle::<&'static str>::new();
        let mut reports = Vec::new();
        let mut flush = |throttle: &mut Throttle<&'static str>, at: Duration| {
            throttle.flush(start + at, |cause, count, _| reports.push((*cause, count)));
        };
        assert!(throttle.first(&"drop", start));
        for _ in 0..3690 {
            assert!(!throttle.first(&"drop", start));
        }
        assert!(throttle.first(&"refused", start), "another cause has an episode of its own");
        flush(&mut throttle, Duration::from_secs(1));
        flush(&mut throttle, SUMMARY_INTERVAL);
        assert!(!throttle.first(&"drop", start + SUMMARY_INTERVAL), "the episode goes on");
        flush(&mut throttle, 2 * SUMMARY_INTERVAL);
        flush(&mut throttle, 3 * SUMMARY_INTERVAL);
        assert!(throttle.first(&"drop", start + 3 * SUMMARY_INTERVAL), "a quiet interval ended the episode");
        assert_eq!(reports, [("drop", 3690), ("drop", 1)]);
    }
}
