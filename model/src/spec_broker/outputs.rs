//! What the spec broker may send, and when it may close a connection: CONNACK first, the
//! responses it owes, its copies in the order MQTT keeps, resends on resumption, DISCONNECT
//! (5.0) and the close.

use super::{Conn, Flight, Owed, Session, SpecBroker, SpecState};
use crate::config::{Qos, Version};
use crate::packet::{Packet, PacketId, reason as code};

impl SpecBroker<'_> {
    pub(super) fn send(
        &self,
        mut next: SpecState,
        c: usize,
        link: usize,
        packet: Packet,
        reason: Option<u8>,
    ) -> Vec<SpecState> {
        let version = self.config.version;
        let Some(open) = next.open(c, link) else {
            return Vec::new();
        };
        if open.announced {
            return Vec::new();
        }
        // Any Receive Maximum is the broker's to announce.
        if let Packet::ConnAck { session_present, .. } = packet {
            if open.connack_owed != Some(session_present) {
                return Vec::new();
            }
            open.connack_owed = None;
            return vec![next];
        }
        if open.connack_owed.is_some() {
            return Vec::new();
        }
        match packet {
            // 5.0: the broker says why it closes: 0x8E to a connection taken over
            // [MQTT-3.1.4-3], 0x8D after 1.5 x keep alive of silence [MQTT-3.1.2-22].
            Packet::Disconnect => {
                let allowed = version == Version::V5_0
                    && match reason {
                        Some(code::SESSION_TAKEN_OVER) => open.taken_over.is_some(),
                        Some(code::KEEP_ALIVE_TIMEOUT) => self.config.grace_over(open.silence),
                        _ => false,
                    };
                open.announced = true;
                if allowed { vec![next] } else { Vec::new() }
            }
            Packet::PubAck(_)
            | Packet::PubRec(_)
            | Packet::PubComp(_)
            | Packet::SubAck(..)
            | Packet::UnsubAck { .. }
            | Packet::PingResp => {
                let owed = open.owed.iter().position(|owed| self.answers(owed, packet, reason));
                let Some(owed) = owed else {
                    return Vec::new();
                };
                open.owed.remove(owed);
                vec![next]
            }
            Packet::Publish { .. } | Packet::PubRel(_) => {
                if !open.carries_session() {
                    return Vec::new();
                }
                let Some(session) = next.sessions[c].as_mut() else {
                    return Vec::new();
                };
                self.session_sends(session, packet)
                    .into_iter()
                    .map(|session| {
                        let mut state = next.clone();
                        state.sessions[c] = Some(session);
                        state
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether `packet`, sent with `reason`, is the response `owed` (5.0's reason codes: a
    /// PUBACK / PUBREC may say 0x10 No matching subscribers, a PUBCOMP says 0x92 for an
    /// unknown id; 3.1.1's UNSUBACK carries no reason, so whether a subscription existed is
    /// not on its wire).
    fn answers(&self, owed: &Owed, packet: Packet, reason: Option<u8>) -> bool {
        let v5 = self.config.version == Version::V5_0;
        match (owed.packet, packet) {
            (Packet::PubAck(a), Packet::PubAck(b)) | (Packet::PubRec(a), Packet::PubRec(b)) => {
                a == b && (!v5 || matches!(reason, Some(0 | code::NO_MATCHING_SUBSCRIBERS)))
            }
            (Packet::PubComp(a), Packet::PubComp(b)) => {
                let expected = if owed.id_known { 0 } else { code::PACKET_ID_NOT_FOUND };
                a == b && (!v5 || reason == Some(expected))
            }
            (Packet::UnsubAck { id: a, existed: x }, Packet::UnsubAck { id: b, existed: y }) => {
                a == b && (!v5 || x == y)
            }
            (owed, sent) => owed == sent,
        }
    }

    /// Every session state a PUBLISH or PUBREL the broker sends can leave it in.
    fn session_sends(&self, session: &Session, packet: Packet) -> Vec<Session> {
        let mut results = Vec::new();
        match packet {
            Packet::PubRel(id) => {
                let mut next = session.clone();
                if let Some(i) = next.flight_index(id)
                    && let Some(flight) = &mut next.copies[i].flight
                    && flight.released
                    && !flight.sent_on_connection
                {
                    flight.sent_on_connection = true;
                    results.push(next);
                }
            }
            Packet::Publish { id, message, qos, dup, .. } => {
                for i in 0..session.copies.len() {
                    let copy = session.copies[i];
                    if copy.message != message || copy.qos != qos || !session.in_order(i) {
                        continue;
                    }
                    if let Some(next) = self.transmit(session, i, id, dup) {
                        results.push(next);
                    }
                }
            }
            _ => {}
        }
        results.dedup();
        results
    }

    /// The session after copy `i` goes out with packet id `id` and DUP `dup`, if it may.
    fn transmit(&self, session: &Session, i: usize, id: PacketId, dup: bool) -> Option<Session> {
        let copy = session.copies[i];
        let mut next = session.clone();
        match copy.flight {
            // QoS 0: no packet id, DUP 0 [MQTT-3.3.1-2], [MQTT-4.3.1-1]; sent at most once.
            None if copy.qos == Qos::AtMostOnce => {
                if id != 0 || dup {
                    return None;
                }
                let index = next.drop_overtaken(i);
                next.copies.remove(index);
            }
            // A first transmission: DUP 0 [MQTT-3.3.1-1], a packet id not in use
            // ([MQTT-2.3.1-2] / [MQTT-2.2.1-3]), within the client's Receive Maximum (5.0,
            // [MQTT-3.3.4-9]; the configuration's, which every CONNECT of the model carries).
            None => {
                let quota = self.config.receive_maximum().is_none_or(|r| session.flights() < usize::from(r));
                if dup || id == 0 || session.id_in_use(id) || !quota {
                    return None;
                }
                let index = next.drop_overtaken(i);
                next.copies[index].flight = Some(Flight { id, released: false, sent_on_connection: true });
            }
            // A resend on a resumed session, once, DUP 1, with its id [MQTT-3.3.1-1],
            // [MQTT-4.4.0-1]; never after the PUBREL ([MQTT-4.3.3-1] / [MQTT-4.3.3-6]).
            Some(flight) => {
                if !dup || flight.id != id || flight.released || flight.sent_on_connection {
                    return None;
                }
                next.copies[i].flight = Some(Flight { sent_on_connection: true, ..flight });
            }
        }
        Some(next)
    }

    /// The broker closes its end, which it may do before a CONNECT, or once the client closed
    /// or disconnected, a new connection took the session over, or 1.5 x keep alive passed in
    /// silence. The session loses its connection: a will not deleted is published
    /// [MQTT-3.1.2-8], and a session that does not outlive its connection ends.
    pub(super) fn close(&self, mut next: SpecState, c: usize, link: usize) -> Option<SpecState> {
        let conn = std::mem::replace(next.conns[c].get_mut(link)?, Conn::Closed);
        let open = match conn {
            // MQTT only says a server should close a connection that sends no CONNECT within
            // a reasonable time (3.1.1 §3.1.4, 5.0 §3.1.4), and names no time: any time will do.
            Conn::Accepted { .. } => return Some(next),
            Conn::Open(open) => open,
            Conn::Closed => return None,
        };
        let may_close =
            open.fin_read || open.disconnect_read || open.taken_over.is_some() || self.config.grace_over(open.silence);
        if !may_close {
            return None;
        }
        if open.will {
            self.will_on_close(&mut next, c, open.taken_over);
        }
        if open.taken_over.is_none() {
            match next.sessions[c].as_mut() {
                Some(session) if session.persistent => session.offline_ticks = self.config.expiry_ticks().map(|_| 0),
                _ => next.sessions[c] = None,
            }
        }
        Some(next)
    }
}
