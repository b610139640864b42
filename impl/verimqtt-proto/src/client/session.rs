//! The client's session state (section 4.1): QoS 1 and 2 publishes in flight, QoS 2 messages
//! received and not released, and how long all of it outlives a connection.

use std::time::{Duration, Instant};

use super::event::DroppedRequest;
use super::outbound::Outgoing;
use crate::session::packet_ids::PacketIds;
use crate::session::receiver::AwaitingRelease;
use crate::session::sender::Sender;

/// A Session Expiry Interval that never ends (MQTT 5 section 3.1.2.11.2).
const NEVER_EXPIRES: u32 = u32::MAX;

#[derive(Debug)]
pub(crate) struct Session {
    pub in_flight: Sender<Outgoing>,
    pub awaiting_release: AwaitingRelease,
    /// Seconds the session outlives its connection: the CONNECT's, unless the CONNACK or the
    /// client's DISCONNECT changed it. 0 ends it with the connection.
    pub expiry_interval: u32,
    /// The client holds state the next CONNECT may ask to resume (Clean Start 0).
    resumable: bool,
    /// While disconnected, when the session expires.
    expires_at: Option<Instant>,
    /// The current connection got a CONNACK, so the session lives on it.
    attached: bool,
}

impl Session {
    pub(super) fn new(expiry_interval: u32, resumable: bool) -> Self {
        Session {
            in_flight: Sender::new(),
            awaiting_release: AwaitingRelease::default(),
            expiry_interval,
            resumable,
            expires_at: None,
            attached: false,
        }
    }

    pub(super) fn is_resumable(&self) -> bool {
        self.resumable
    }

    pub(super) fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// A connection was accepted: the session lives on it from now on.
    pub(super) fn connected(&mut self) {
        self.resumable = true;
        self.attached = true;
        self.expires_at = None;
    }

    /// The connection closed at `now`. A session that ends with it is discarded, its publishes
    /// given back; one that outlives it waits to be resumed.
    ///
    /// The expiry clock starts only when a connection that got a CONNACK closes. A connection
    /// whose CONNACK never came leaves it running from the last one that did: the server may
    /// have closed that one, and started its own clock, long before, and a client that keeps
    /// its state past the server's expiry can resume a new session as if it were the old one
    /// (a QoS 2 message delivered twice; see model/README, the finding on a lost CONNACK).
    pub(super) fn connection_closed(&mut self, now: Instant, packet_ids: &mut PacketIds) -> Vec<DroppedRequest> {
        self.in_flight.connection_closed();
        let carried_session = std::mem::take(&mut self.attached);
        if !self.resumable {
            // No session was ever established on that connection: nothing changes.
            return Vec::new();
        }
        match self.expiry_interval {
            0 => self.discard(packet_ids),
            NEVER_EXPIRES => Vec::new(),
            _ if !carried_session => Vec::new(),
            seconds => {
                // An interval too long for the clock is as good as never.
                self.expires_at = now.checked_add(Duration::from_secs(u64::from(seconds)));
                Vec::new()
            }
        }
    }

    /// Discards the session if it expired by `now`, giving back its publishes.
    pub(super) fn expire_if_due(&mut self, now: Instant, packet_ids: &mut PacketIds) -> Vec<DroppedRequest> {
        if self.expires_at.is_some_and(|expires_at| expires_at <= now) { self.discard(packet_ids) } else { Vec::new() }
    }

    /// Forgets the session: its publishes in flight are given back, their packet identifiers
    /// freed, and QoS 2 messages received are forgotten.
    pub(super) fn discard(&mut self, packet_ids: &mut PacketIds) -> Vec<DroppedRequest> {
        self.resumable = false;
        self.expires_at = None;
        self.awaiting_release.clear();
        self.in_flight
            .drain()
            .into_iter()
            .map(|outgoing| {
                if let Some(packet_id) = outgoing.publish.packet_id {
                    packet_ids.release(packet_id);
                }
                outgoing.into()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_SECONDS: Duration = Duration::from_secs(10);

    /// A session with a 10 s expiry whose accepted connection closed at the instant returned.
    fn closed_after_connack() -> (Session, PacketIds, Instant) {
        let mut packet_ids = PacketIds::default();
        let mut session = Session::new(10, true);
        let start = Instant::now();
        session.connected();
        session.connection_closed(start, &mut packet_ids);
        assert_eq!(session.expires_at(), Some(start + TEN_SECONDS));
        (session, packet_ids, start)
    }

    #[test]
    fn a_connection_without_connack_does_not_restart_the_expiry_clock() {
        let (mut session, mut packet_ids, start) = closed_after_connack();
        let later = start + Duration::from_secs(8);
        session.connection_closed(later, &mut packet_ids);
        assert_eq!(session.expires_at(), Some(start + TEN_SECONDS));
        session.expire_if_due(start + TEN_SECONDS, &mut packet_ids);
        assert!(!session.is_resumable(), "the session expired on the first clock");
    }

    #[test]
    fn a_connection_with_connack_restarts_the_expiry_clock() {
        let (mut session, mut packet_ids, start) = closed_after_connack();
        let later = start + Duration::from_secs(8);
        session.connected();
        session.connection_closed(later, &mut packet_ids);
        assert_eq!(session.expires_at(), Some(later + TEN_SECONDS));
    }
}
