//! A broker that says only what the MQTT specification says, as an acceptor of the broker's
//! observable events: the packets it reads and sends, the connections it closes, and time.
//!
//! The design broker ([`crate::broker`]) is verimqtt's: it makes every choice the way
//! verimqtt does. This one makes none. Each choice MQTT leaves open is either kept open in
//! the state until the wire decides it (a copy the broker *may* send: QoS 0, an extra copy for
//! an overlapping subscription, a copy not yet started when its subscription was deleted) or
//! branched on (QoS 2 method A or B), so [`SpecBroker::accept`] maps one spec state and one
//! event to every spec state the event can lead to. Broker-internal steps (routing, dropping
//! an optional copy, storing a QoS 2 message) are not events: they happen inside the
//! observable step that reveals them. An empty result means no broker that follows the
//! specification could have produced the event there.
//!
//! What the abstract packets leave out comes from the [`Config`]: the filters a SUBSCRIBE
//! carries, the Session Expiry Interval and Receive Maximum of a CONNECT, the keep alive, the
//! will's QoS. Covered: connections and takeover, CONNACK's Session Present, sessions (clean
//! and persistent, no expiry), QoS 0/1/2 in both directions with resends on resumption, DUP,
//! packet ids, Receive Maximum (5.0), routing over topics and filters with downgrade and
//! overlapping subscriptions, SUBSCRIBE / UNSUBSCRIBE, PINGREQ, DISCONNECT (5.0: 0x04), wills
//! without delay, keep alive closes. Not covered ([`SpecBroker::covers`] says so for a
//! configuration): retained messages, session expiry, will delay, broker restarts and the
//! store, the CONNECT timeout.

mod connection;
pub mod refinement;
mod session;

pub use connection::{Conn, Open, Owed};
pub use session::{Copy, Flight, Inbound, OrderKey, Session};

use crate::config::{Config, Expiry, Qos, Version};
use crate::packet::{Message, Packet, PacketId, reason as code};

/// What the broker reads from a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    Packet(Packet),
    /// The client's end closed.
    Fin,
}

/// One observable event of the broker, on a client's `link`-th connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    Received {
        client: usize,
        link: usize,
        input: Input,
    },
    Sent {
        client: usize,
        link: usize,
        packet: Packet,
        reason: Option<u8>,
    },
    /// The broker closes its end.
    Closed {
        client: usize,
        link: usize,
    },
    /// One tick of time passes.
    Tick,
}

/// The specification broker's state: its sessions and its connections, indexed by client and
/// by the client's connections in the order they were opened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SpecState {
    pub sessions: Vec<Option<Session>>,
    pub conns: Vec<Vec<Conn>>,
}

impl SpecState {
    pub fn new(clients: usize) -> SpecState {
        SpecState { sessions: vec![None; clients], conns: vec![Vec::new(); clients] }
    }

    /// The connection of `client` its session is served on, if any.
    pub fn session_link(&self, client: usize) -> Option<usize> {
        self.conns[client].iter().position(|c| matches!(c, Conn::Open(open) if !open.taken_over))
    }

    fn open(&mut self, client: usize, link: usize) -> Option<&mut Open> {
        match self.conns[client].get_mut(link) {
            Some(Conn::Open(open)) => Some(open),
            _ => None,
        }
    }
}

/// The specification broker for one configuration.
#[derive(Clone, Copy, Debug)]
pub struct SpecBroker<'a> {
    pub config: &'a Config,
    /// Ticks past 1.5 x keep alive the broker may take to close a silent connection: MQTT
    /// requires the close [MQTT-3.1.2-24] / [MQTT-3.1.2-22] but no broker acts in zero time.
    pub tolerance: u8,
}

impl<'a> SpecBroker<'a> {
    pub fn new(config: &'a Config, tolerance: u8) -> SpecBroker<'a> {
        SpecBroker { config, tolerance }
    }

    /// Whether the spec broker covers what `config` lets the design broker do.
    pub fn covers(config: &Config) -> Result<(), String> {
        let uncovered = [
            (!config.retained.is_empty(), "retained messages"),
            (config.version == Version::V5_0 && config.session_expiry != Expiry::Never, "session expiry"),
            (config.will_delay_ticks().is_some(), "will delay"),
            (config.restarts > 0, "broker restarts"),
            (config.broker_connect_timeout.is_some(), "the CONNECT timeout"),
        ];
        match uncovered.iter().find(|(on, _)| *on) {
            Some((_, what)) => Err(format!("the spec broker does not cover {what}")),
            None => Ok(()),
        }
    }

    /// Every spec state `event` can lead to from `state`; none if the event is not one a
    /// broker following the specification could produce (or, for an input, one the spec
    /// broker does not cover).
    pub fn accept(&self, state: &SpecState, event: Event) -> Vec<SpecState> {
        let mut next = state.clone();
        match event {
            Event::Received { client, link, input: Input::Fin } => {
                match next.conns[client].get_mut(link) {
                    Some(Conn::Accepted { fin_read }) => *fin_read = true,
                    Some(Conn::Open(open)) => open.fin_read = true,
                    _ => return Vec::new(),
                }
                vec![next]
            }
            Event::Received { client, link, input: Input::Packet(packet) } => self.receive(next, client, link, packet),
            Event::Sent { client, link, packet, reason } => self.send(next, client, link, packet, reason),
            Event::Closed { client, link } => self.close(next, client, link).into_iter().collect(),
            Event::Tick => self.tick(next).into_iter().collect(),
        }
    }

    /// Whether `client`'s session outlives a connection opened with `clean_start` (3.1.1:
    /// CleanSession=0; 5.0: the CONNECT's Session Expiry Interval, which the configuration
    /// holds).
    fn persistent(&self, client: usize, clean_start: bool) -> bool {
        self.config.session_outlives_connection(client) && (self.config.version == Version::V5_0 || !clean_start)
    }

    fn receive(&self, mut next: SpecState, c: usize, link: usize, packet: Packet) -> Vec<SpecState> {
        if let Packet::Connect { clean_start, will } = packet {
            if !matches!(next.conns[c].get(link), Some(Conn::Accepted { fin_read: false })) {
                return Vec::new();
            }
            return vec![self.connect(next, c, link, clean_start, will)];
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
            Packet::Subscribe(id) => {
                session.subscribed = true;
                owe(&mut next, Packet::SubAck(id), true);
            }
            Packet::Unsubscribe(id) => {
                let existed = session.subscribed;
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
    /// discarded on Clean Start, resumed or created, and a CONNACK is owed.
    fn connect(&self, mut next: SpecState, c: usize, link: usize, clean_start: bool, will: bool) -> SpecState {
        for conn in &mut next.conns[c] {
            if let Conn::Open(open) = conn {
                open.taken_over = true;
            }
        }
        // A session that ends with its connection ends with the one taken over.
        let kept = next.sessions[c].take().filter(|s| !clean_start && s.persistent);
        let session_present = kept.is_some();
        let mut session = kept.unwrap_or_else(|| Session::new(false));
        session.persistent = self.persistent(c, clean_start);
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
    fn route(&self, next: &mut SpecState, message: Message, publisher: usize) {
        for s in 0..next.sessions.len() {
            let offline = next.session_link(s).is_none();
            if let Some(session) = next.sessions[s].as_mut() {
                session.route(self.config, s, message, publisher, offline);
            }
        }
    }

    fn send(&self, mut next: SpecState, c: usize, link: usize, packet: Packet, reason: Option<u8>) -> Vec<SpecState> {
        let version = self.config.version;
        let Some(open) = next.open(c, link) else {
            return Vec::new();
        };
        if open.announced {
            return Vec::new();
        }
        if let Packet::ConnAck { session_present } = packet {
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
                        Some(code::SESSION_TAKEN_OVER) => open.taken_over,
                        Some(code::KEEP_ALIVE_TIMEOUT) => self.config.grace_over(open.silence),
                        _ => false,
                    };
                open.announced = true;
                if allowed { vec![next] } else { Vec::new() }
            }
            Packet::PubAck(_)
            | Packet::PubRec(_)
            | Packet::PubComp(_)
            | Packet::SubAck(_)
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
            Packet::Publish { id, message, qos, dup } => {
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
            // [MQTT-3.3.4-9]).
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

    /// The broker closes its end, which it may do once the client closed or disconnected, a
    /// new connection took the session over, or 1.5 x keep alive passed in silence. The
    /// session loses its connection: a will not deleted is published [MQTT-3.1.2-8], and a
    /// session that does not outlive its connection ends.
    fn close(&self, mut next: SpecState, c: usize, link: usize) -> Option<SpecState> {
        let conn = std::mem::replace(next.conns[c].get_mut(link)?, Conn::Closed);
        let open = match conn {
            Conn::Accepted { fin_read: true } => return Some(next),
            Conn::Open(open) => open,
            Conn::Accepted { fin_read: false } | Conn::Closed => return None,
        };
        let may_close =
            open.fin_read || open.disconnect_read || open.taken_over || self.config.grace_over(open.silence);
        if !may_close {
            return None;
        }
        if open.will {
            self.route(&mut next, Message::Will(c as u8), c);
        }
        if !open.taken_over && next.sessions[c].as_ref().is_some_and(|s| !s.persistent) {
            next.sessions[c] = None;
        }
        Some(next)
    }

    /// Time passes: each open connection's silence grows; none may have stayed open past
    /// 1.5 x keep alive plus the tolerance ([MQTT-3.1.2-24] / [MQTT-3.1.2-22]).
    fn tick(&self, mut next: SpecState) -> Option<SpecState> {
        let latest = self.config.longest_allowed_silence().saturating_add(self.tolerance);
        for open in next.conns.iter_mut().flatten().filter_map(|conn| match conn {
            Conn::Open(open) => Some(open),
            _ => None,
        }) {
            if open.silence >= latest {
                return None;
            }
            open.silence = (open.silence + 1).min(self.config.silence_cap().max(latest));
        }
        Some(next)
    }
}
