//! What the spec broker does with what it reads: CONNECT (takeover, Session Present, the
//! session resumed or new), PUBLISH in QoS 0/1/2 (method A or B), the acknowledgements of its
//! own sends, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT; and routing.

use super::{Conn, Inbound, Open, Owed, Session, SpecBroker, SpecState};
use crate::config::{Qos, SessionKind, Version};
use crate::packet::{Message, Packet, PacketId};

impl SpecBroker<'_> {
    /// Whether `client`'s session outlives its `link`-th connection, opened with `clean_start`
    /// (3.1.1: CleanSession=0; 5.0: the CONNECT's Session Expiry Interval, which the
    /// configuration holds, or the connection's entry of `connect_sessions`).
    fn persistent(&self, client: usize, link: usize, clean_start: bool) -> bool {
        let outlives = match self.connect_sessions.and_then(|kinds| kinds.get(&(client, link))) {
            Some(kind) => *kind == SessionKind::Persistent,
            None => self.config.session_outlives_connection(client),
        };
        outlives && (self.config.version == Version::V5_0 || !clean_start)
    }

    /// Every state the broker's reading `packet` from `c`'s `link`-th connection leads to.
    pub(super) fn receive(&self, mut next: SpecState, c: usize, link: usize, packet: Packet) -> Vec<SpecState> {
        if let Packet::Connect { clean_start, will, .. } = packet {
            if !matches!(next.conns[c].get(link), Some(Conn::Accepted { fin_read: false })) {
                return Vec::new();
            }
            return self.connect(next, c, link, clean_start, will);
        }
        let Some(open) = next.open(c, link) else {
            return Vec::new();
        };
        open.silence = 0;
        let owe = |next: &mut SpecState, packet, id_known| {
            if let Some(open) = next.open(c, link) {
                open.owed.push(Owed { packet, id_known });
            }
        };
        let Some(session) = next.sessions[c].as_mut() else {
            return Vec::new();
        };
        match packet {
            Packet::Publish { id, message: Message::App(n), qos, .. } => {
                return self.receive_publish(next, c, link, id, n, qos);
            }
            Packet::PubRel(id) => {
                let entry = session.inbound.iter().position(|&(i, _)| i == id);
                let stored = entry.map(|e| session.inbound.remove(e).1);
                if let Some(Inbound::Stored { message }) = stored {
                    self.route(&mut next, Message::App(message), c);
                }
                owe(&mut next, Packet::PubComp(id), stored.is_some());
            }
            Packet::PubAck(id) => {
                if let Some(i) = session.flight_index(id)
                    && session.copies[i].qos == Qos::AtLeastOnce
                {
                    session.copies.remove(i);
                }
            }
            Packet::PubRec(id) => {
                if let Some(i) = session.flight_index(id)
                    && session.copies[i].qos == Qos::ExactlyOnce
                    && let Some(flight) = &mut session.copies[i].flight
                {
                    flight.released = true;
                    flight.sent_on_connection = false;
                }
            }
            Packet::PubComp(id) => {
                if let Some(i) = session.flight_index(id)
                    && session.copies[i].flight.is_some_and(|f| f.released)
                {
                    session.copies.remove(i);
                }
            }
            Packet::Subscribe(id, request) => {
                let before = session.subscribed;
                session.subscribed = self.config.after_subscribe(c, before, request);
                session.add_retained(self.config, c, before, request, &next.retained, false);
                owe(&mut next, Packet::SubAck(id, request), true);
            }
            Packet::Unsubscribe(id) => {
                let existed = session.subscribed.any();
                session.unsubscribed();
                owe(&mut next, Packet::UnsubAck { id, existed }, true);
            }
            Packet::PingReq => owe(&mut next, Packet::PingResp, true),
            Packet::Disconnect | Packet::DisconnectWithWill => {
                if let Some(open) = next.open(c, link) {
                    open.disconnect_read = true;
                    // [MQTT-3.14.4-3]: 0x00 deletes the will; 5.0's 0x04 asks for it.
                    open.will &= packet == Packet::DisconnectWithWill;
                }
            }
            _ => return Vec::new(),
        }
        vec![next]
    }

    /// A CONNECT: an existing connection of the client is taken over, the session is
    /// discarded on Clean Start, resumed or created, and a CONNACK is owed. An offline 5.0
    /// session is kept while its expiry interval runs [MQTT-3.1.2-23], may have been
    /// discarded once it passed and must have been once the tolerance passed too
    /// [MQTT-4.1.0-2].
    fn connect(&self, next: SpecState, c: usize, link: usize, clean_start: bool, will: bool) -> Vec<SpecState> {
        let age = next.sessions[c].as_ref().and_then(|s| s.offline_ticks);
        // A session whose will waits is discarded with its will, at a tick (see `will.rs`).
        let waiting_will = next.sessions[c].as_ref().is_some_and(|s| s.waiting_will.is_some());
        let (may_keep, may_discard) = match (age, self.config.expiry_ticks()) {
            (Some(age), Some(expiry)) => (age < expiry.saturating_add(self.tolerance), age >= expiry && !waiting_will),
            _ => (true, false),
        };
        let mut results = Vec::new();
        if may_discard {
            let mut discarded = next.clone();
            discarded.sessions[c] = None;
            results.push(self.attach(discarded, c, link, clean_start, will));
        }
        if may_keep {
            results.push(self.attach(next, c, link, clean_start, will));
        }
        results
    }

    /// The new connection gets the client's session, resumed or new.
    fn attach(&self, mut next: SpecState, c: usize, link: usize, clean_start: bool, will: bool) -> SpecState {
        // A session that ends with its connection ends with the one taken over.
        let old = next.sessions[c].take();
        let waiting_will = old.as_ref().and_then(|s| s.waiting_will);
        let kept = old.filter(|s| !clean_start && s.persistent);
        let session_present = kept.is_some();
        if !session_present {
            self.will_on_session_end(&mut next, c, waiting_will);
        }
        for conn in &mut next.conns[c] {
            if let Conn::Open(open) = conn {
                open.taken_over = Some(session_present);
            }
        }
        let mut session = kept.unwrap_or_else(|| Session::new(false));
        session.persistent = self.persistent(c, link, clean_start);
        session.offline_ticks = None;
        // A resumed session cancels its waiting will [MQTT-3.1.3-9].
        session.waiting_will = None;
        session.resumed();
        next.sessions[c] = Some(session);
        next.conns[c][link] = Conn::Open(Open::new(session_present, will));
        next
    }

    fn receive_publish(
        &self,
        mut next: SpecState,
        c: usize,
        link: usize,
        id: PacketId,
        n: u8,
        qos: Qos,
    ) -> Vec<SpecState> {
        let owe = |next: &mut SpecState, packet| {
            if let Some(open) = next.open(c, link) {
                open.owed.push(Owed { packet, id_known: true });
            }
        };
        match qos {
            Qos::AtMostOnce => {
                self.route(&mut next, Message::App(n), c);
                vec![next]
            }
            // Every QoS 1 PUBLISH the broker reads is a new publication, a resend included
            // ([MQTT-4.3.2-2] / [MQTT-4.3.2-5]).
            Qos::AtLeastOnce => {
                self.route(&mut next, Message::App(n), c);
                owe(&mut next, Packet::PubAck(id));
                vec![next]
            }
            Qos::ExactlyOnce => {
                owe(&mut next, Packet::PubRec(id));
                let Some(session) = next.sessions[c].as_ref() else {
                    return Vec::new();
                };
                if session.inbound.iter().any(|&(i, _)| i == id) {
                    return vec![next];
                }
                // Method A or B: MQTT allows either (figure 4.3 in both versions).
                let mut method_a = next.clone();
                let store = |state: &mut SpecState, how| {
                    if let Some(session) = state.sessions[c].as_mut() {
                        session.inbound.push((id, how));
                    }
                };
                store(&mut method_a, Inbound::Stored { message: n });
                store(&mut next, Inbound::Routed);
                self.route(&mut next, Message::App(n), c);
                vec![method_a, next]
            }
        }
    }

    /// The broker takes ownership of `message` from `publisher` and adds its copies to every
    /// session subscribed to a matching filter [MQTT-4.5.0-1] (those of offline persistent
    /// sessions included [MQTT-3.1.2-5] / 5.0 §4.1).
    pub(super) fn route(&self, next: &mut SpecState, message: Message, publisher: usize) {
        // A retained publication replaces its topic's retained message, or deletes it if its
        // payload is empty ([MQTT-3.3.1-5]; [MQTT-3.3.1-10], [MQTT-3.3.1-11] in 3.1.1;
        // [MQTT-3.3.1-6], [MQTT-3.3.1-7] in 5.0), and is forwarded like any message.
        if let Message::App(n) = message
            && self.config.retained.contains(n)
        {
            next.retained.publish(self.config.topic(n), n, self.config.empty.contains(n));
        }
        for s in 0..next.sessions.len() {
            let offline = next.session_link(s).is_none();
            if let Some(session) = next.sessions[s].as_mut() {
                session.route(self.config, s, message, publisher, offline);
            }
        }
    }
}
