//! Every packet in and out of each connection of the broker, one debug line each under the
//! target `verimqtt::packets` (as `AsyncClientOptions::log_packets` does for a client), with
//! the connection and the client identifier of its CONNECT. It is installed only when that
//! target logs at debug level: describing packets costs a copy of each.

use std::collections::HashMap;
use std::time::Instant;

use crate::broker::ConnId;
use crate::trace::{Event, Observer, PacketKind, describe};

/// The target of the packet lines, the broker's and the clients': `RUST_LOG=verimqtt::packets=debug`
/// shows them alone.
pub(crate) const TARGET: &str = "verimqtt::packets";

/// The broker's observer that logs its packets.
#[derive(Debug, Default)]
pub(crate) struct PacketLog {
    /// The client identifier each open connection's CONNECT gave (empty when the broker
    /// assigns one).
    client_ids: HashMap<u64, String>,
}

impl PacketLog {
    /// Whether the packet lines would be logged.
    pub(crate) fn wanted() -> bool {
        tracing::enabled!(target: TARGET, tracing::Level::DEBUG)
    }
}

impl Observer for PacketLog {
    fn observe(&mut self, _now: Instant, event: Event) {
        let conn = match &event {
            Event::PacketReceived { conn, packet } if packet.kind == PacketKind::Connect => {
                self.client_ids.insert(*conn, packet.client_id.clone().unwrap_or_default());
                *conn
            }
            Event::PacketReceived { conn, .. } | Event::PacketSent { conn, .. } => *conn,
            Event::ConnectionClosed { conn, .. } => {
                self.client_ids.remove(conn);
                return;
            }
            // Openings, timers: the broker's other logs tell them.
            _ => return,
        };
        let client_id = self.client_ids.get(&conn).map_or("-", String::as_str);
        // Numbered as the broker's other lines number it, so that one grep finds them all.
        let conn = ConnId(conn);
        tracing::debug!(target: TARGET, %conn, client_id, "{}", describe(&event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::PacketInfo;

    fn received(conn: u64, packet: PacketInfo) -> Event {
        Event::PacketReceived { conn, packet }
    }

    #[test]
    fn a_connection_is_known_by_its_connects_client_id_until_it_closes() {
        let mut log = PacketLog::default();
        let mut connect = PacketInfo::new(PacketKind::Connect);
        connect.client_id = Some("sensor".into());
        log.observe(Instant::now(), received(7, connect));
        assert_eq!(log.client_ids.get(&7).map(String::as_str), Some("sensor"));
        log.observe(Instant::now(), received(7, PacketInfo::new(PacketKind::Pingreq)));
        log.observe(
            Instant::now(),
            Event::ConnectionClosed { conn: 7, reason: crate::trace::CloseReason::PeerDisconnected },
        );
        assert!(log.client_ids.is_empty(), "a closed connection is forgotten");
    }
}
