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
//! will's QoS and delay. Covered: connections and takeover, CONNACK's Session Present,
//! sessions (clean and persistent; 5.0 expiry as an interval with a tolerance), QoS 0/1/2 in
//! both directions with resends on resumption, DUP, packet ids, Receive Maximum (5.0),
//! routing over topics and filters with downgrade and overlapping subscriptions, retained
//! messages, SUBSCRIBE / UNSUBSCRIBE, PINGREQ, DISCONNECT (5.0: 0x04), wills (5.0: with a
//! delay, as an interval), keep alive closes. Not covered ([`SpecBroker::covers`] says so for
//! a configuration): broker restarts and the store.

mod connection;
pub mod probe;
pub mod refinement;
mod session;
mod will;

pub use connection::{Conn, Open, Owed};
pub use session::{Copy, Flight, Inbound, OrderKey, Session};

use crate::config::{Config, Qos, Version};
use crate::packet::{Message, Packet, PacketId, reason as code};
use crate::retained::RetainedStore;

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
    /// The last retained message of each topic [MQTT-3.3.1-5].
    pub retained: RetainedStore,
}

impl SpecState {
    pub fn new(clients: usize) -> SpecState {
        SpecState {
            sessions: vec![None; clients],
            conns: vec![Vec::new(); clients],
            retained: RetainedStore::default(),
        }
    }

    /// The connection of `client` its session is served on, if any.
    pub fn session_link(&self, client: usize) -> Option<usize> {
        self.conns[client].iter().position(|c| matches!(c, Conn::Open(open) if open.taken_over.is_none()))
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
    /// Ticks past a timer's due time the broker may take to act on it: a keep alive close
    /// after 1.5 x keep alive [MQTT-3.1.2-24] / [MQTT-3.1.2-22], the discard of a session
    /// whose expiry interval passed (5.0, [MQTT-4.1.0-2]). MQTT requires both; no broker acts
    /// in zero time.
    pub tolerance: u8,
}

impl<'a> SpecBroker<'a> {
    pub fn new(config: &'a Config, tolerance: u8) -> SpecBroker<'a> {
        SpecBroker { config, tolerance }
    }

    /// Whether the spec broker covers what `config` lets the design broker do: all but broker
    /// restarts (and the durable store they need).
    pub fn covers(config: &Config) -> Result<(), String> {
        match config.restarts {
            0 => Ok(()),
            _ => Err("the spec broker does not cover broker restarts".to_string()),
        }
    }

    /// Every spec state `event` can lead to from `state`; none if the event is not one a
    /// broker following the specification could produce (or, for an input, one the spec
    /// broker does not cover).
    pub fn accept(&self, state: &SpecState, event: Event) -> Vec<SpecState> {
        let mut results = Vec::new();
        for next in self.publish_due_wills(state.clone()) {
            for result in self.accept_now(next, event) {
                if !results.contains(&result) {
                    results.push(result);
                }
            }
        }
        results
    }

    /// [`SpecBroker::accept`] with no hidden step before the event.
    fn accept_now(&self, mut next: SpecState, event: Event) -> Vec<SpecState> {
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
            Event::Tick => self.tick(next).and_then(|state| self.age_wills(state)).into_iter().collect(),
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
            Packet::Subscribe(id) => {
                session.subscribed = true;
                session.add_retained(self.config, c, &next.retained, false);
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
        session.persistent = self.persistent(c, clean_start);
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
    fn route(&self, next: &mut SpecState, message: Message, publisher: usize) {
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

    /// The broker closes its end, which it may do before a CONNECT, or once the client closed
    /// or disconnected, a new connection took the session over, or 1.5 x keep alive passed in
    /// silence. The
    /// session loses its connection: a will not deleted is published [MQTT-3.1.2-8], and a
    /// session that does not outlive its connection ends.
    fn close(&self, mut next: SpecState, c: usize, link: usize) -> Option<SpecState> {
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
        if let Some(expiry) = self.config.expiry_ticks() {
            let latest = expiry.saturating_add(self.tolerance);
            for age in next.sessions.iter_mut().flatten().filter_map(|s| s.offline_ticks.as_mut()) {
                *age = (*age + 1).min(latest);
            }
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Expiry, SessionKind};

    fn config() -> Config {
        let mut config = Config::new(Version::V5_0, 2, 1);
        config.messages = vec![Qos::ExactlyOnce];
        config.sessions = vec![SessionKind::Persistent; 2];
        config.session_expiry = Expiry::AfterTicks(2);
        config
    }

    fn received(client: usize, link: usize, packet: Packet) -> Event {
        Event::Received { client, link, input: Input::Packet(packet) }
    }

    fn sent(client: usize, link: usize, packet: Packet) -> Event {
        Event::Sent { client, link, packet, reason: packet.success_code(Version::V5_0) }
    }

    /// Feeds `events` to every state, opening a connection for each CONNECT.
    fn run(spec: &SpecBroker, states: Vec<SpecState>, events: &[Event]) -> Vec<SpecState> {
        events.iter().fold(states, |states, &event| {
            let mut next = Vec::new();
            for mut state in states {
                if let Event::Received { client, link, input: Input::Packet(Packet::Connect { .. }) } = event {
                    state.conns[client].resize(link + 1, Conn::Accepted { fin_read: false });
                }
                for successor in spec.accept(&state, event) {
                    if !next.contains(&successor) {
                        next.push(successor);
                    }
                }
            }
            next
        })
    }

    fn connected(spec: &SpecBroker, client: usize) -> Vec<SpecState> {
        let connect = Packet::Connect { clean_start: false, will: false };
        let connack = Packet::ConnAck { session_present: false };
        run(spec, vec![SpecState::new(2)], &[received(client, 0, connect), sent(client, 0, connack)])
    }

    fn session_presents_after(spec: &SpecBroker, ticks: usize) -> Vec<bool> {
        let mut events =
            vec![Event::Received { client: 0, link: 0, input: Input::Fin }, Event::Closed { client: 0, link: 0 }];
        events.extend(std::iter::repeat_n(Event::Tick, ticks));
        events.push(received(0, 1, Packet::Connect { clean_start: false, will: false }));
        let states = run(spec, connected(spec, 0), &events);
        let mut presents: Vec<bool> = states
            .iter()
            .filter_map(|s| match &s.conns[0][1] {
                Conn::Open(open) => open.connack_owed,
                _ => None,
            })
            .collect();
        presents.sort();
        presents
    }

    #[test]
    fn an_offline_session_is_kept_until_its_expiry_and_gone_after_the_tolerance() {
        let config = config();
        let spec = SpecBroker::new(&config, 1);
        assert_eq!(session_presents_after(&spec, 1), vec![true]);
        assert_eq!(session_presents_after(&spec, 2), vec![false, true], "expired or not yet discarded");
        assert_eq!(session_presents_after(&spec, 3), vec![false]);
    }

    #[test]
    fn a_silent_connection_may_close_after_one_and_a_half_keep_alives_and_must_within_the_tolerance() {
        let config = config();
        let spec = SpecBroker::new(&config, 1);
        let due = usize::from(config.longest_allowed_silence());
        let mut early = vec![Event::Tick; due - 1];
        early.push(Event::Closed { client: 0, link: 0 });
        assert!(run(&spec, connected(&spec, 0), &early).is_empty());
        let mut in_time = vec![Event::Tick; due];
        in_time.push(Event::Closed { client: 0, link: 0 });
        assert_eq!(run(&spec, connected(&spec, 0), &in_time).len(), 1);
        assert_eq!(run(&spec, connected(&spec, 0), &vec![Event::Tick; due + 1]).len(), 1, "within the tolerance");
        assert!(run(&spec, connected(&spec, 0), &vec![Event::Tick; due + 2]).is_empty(), "past it");
    }

    #[test]
    fn a_qos2_message_is_taken_by_method_a_or_b_and_forwarded_once_with_dup_0() {
        let config = config();
        let spec = SpecBroker::new(&config, 0);
        let states = connected(&spec, 0);
        let subscribe = [
            received(1, 0, Packet::Connect { clean_start: false, will: false }),
            sent(1, 0, Packet::ConnAck { session_present: false }),
            received(1, 0, Packet::Subscribe(1)),
            sent(1, 0, Packet::SubAck(1)),
        ];
        let states = run(&spec, states, &subscribe);
        let publish = Packet::Publish { id: 1, message: Message::App(0), qos: Qos::ExactlyOnce, dup: false };
        let taken = run(&spec, states, &[received(0, 0, publish)]);
        assert_eq!(taken.len(), 2, "method A and method B");
        // Forwarding before the PUBREL leaves method B only; with DUP 1 nothing.
        let forward = |dup| Packet::Publish { id: 1, message: Message::App(0), qos: Qos::ExactlyOnce, dup };
        assert_eq!(run(&spec, taken.clone(), &[sent(1, 0, forward(false))]).len(), 1);
        assert!(run(&spec, taken.clone(), &[sent(1, 0, forward(true))]).is_empty(), "DUP 1 on a first send");
        // A resent PUBLISH is not routed again: no second copy to forward.
        let resent = Packet::Publish { id: 1, message: Message::App(0), qos: Qos::ExactlyOnce, dup: true };
        let again = Packet::Publish { id: 2, message: Message::App(0), qos: Qos::ExactlyOnce, dup: false };
        let twice = [sent(1, 0, forward(false)), received(0, 0, resent), sent(1, 0, again)];
        assert!(run(&spec, taken.clone(), &twice).is_empty());
        // After the PUBREL both methods have routed it: they are one state, which forwards it.
        let released = run(&spec, taken, &[received(0, 0, Packet::PubRel(1))]);
        assert_eq!(released.len(), 1);
        assert_eq!(run(&spec, released, &[sent(1, 0, forward(false))]).len(), 1);
    }
}
