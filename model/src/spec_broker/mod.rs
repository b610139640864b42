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
//! a configuration): broker restarts and the store, and hostile clients' PUBRECs.

mod connection;
mod inputs;
mod outputs;
pub mod probe;
pub mod refinement;
mod session;
mod will;

pub use connection::{Conn, Open, Owed};
pub use session::{Copy, Flight, Inbound, OrderKey, Session};

use crate::config::{Config, SessionKind};
use crate::packet::Packet;
use crate::retained::RetainedStore;
use std::collections::BTreeMap;

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
    /// 5.0: per (client, link), whether the session outlives the connection as that
    /// connection's CONNECT says (its Session Expiry Interval), where it differs between a
    /// client's connections; without an entry, the configuration's kind for the client.
    pub connect_sessions: Option<&'a BTreeMap<(usize, usize), SessionKind>>,
}

impl<'a> SpecBroker<'a> {
    pub fn new(config: &'a Config, tolerance: u8) -> SpecBroker<'a> {
        SpecBroker { config, tolerance, connect_sessions: None }
    }

    /// The same broker, told each connection's session kind by `kinds`.
    pub fn with_connect_sessions(self, kinds: &'a BTreeMap<(usize, usize), SessionKind>) -> SpecBroker<'a> {
        SpecBroker { connect_sessions: Some(kinds), ..self }
    }

    /// Whether the spec broker covers what `config` lets the design broker do: all but broker
    /// restarts (and the durable store they need) and hostile clients' PUBRECs.
    pub fn covers(config: &Config) -> Result<(), String> {
        if config.restarts > 0 {
            return Err("the spec broker does not cover broker restarts".to_string());
        }
        if config.hostile_pubrecs > 0 {
            return Err("the spec broker does not cover hostile clients' PUBRECs".to_string());
        }
        Ok(())
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
    use crate::config::{Expiry, Qos, SessionKind, Version};
    use crate::packet::Message;

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
        let connect = Packet::Connect { clean_start: false, will: false, receive_maximum: None };
        let connack = Packet::ConnAck { session_present: false, receive_maximum: None };
        run(spec, vec![SpecState::new(2)], &[received(client, 0, connect), sent(client, 0, connack)])
    }

    fn session_presents_after(spec: &SpecBroker, ticks: usize) -> Vec<bool> {
        let mut events =
            vec![Event::Received { client: 0, link: 0, input: Input::Fin }, Event::Closed { client: 0, link: 0 }];
        events.extend(std::iter::repeat_n(Event::Tick, ticks));
        events.push(received(0, 1, Packet::Connect { clean_start: false, will: false, receive_maximum: None }));
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
            received(1, 0, Packet::Connect { clean_start: false, will: false, receive_maximum: None }),
            sent(1, 0, Packet::ConnAck { session_present: false, receive_maximum: None }),
            received(1, 0, Packet::Subscribe(1, crate::routing::Subscribed::First)),
            sent(1, 0, Packet::SubAck(1, crate::routing::Subscribed::First)),
        ];
        let states = run(&spec, states, &subscribe);
        let publish =
            Packet::Publish { id: 1, message: Message::App(0), qos: Qos::ExactlyOnce, dup: false, retain: false };
        let taken = run(&spec, states, &[received(0, 0, publish)]);
        assert_eq!(taken.len(), 2, "method A and method B");
        // Forwarding before the PUBREL leaves method B only; with DUP 1 nothing.
        let forward =
            |dup| Packet::Publish { id: 1, message: Message::App(0), qos: Qos::ExactlyOnce, dup, retain: false };
        assert_eq!(run(&spec, taken.clone(), &[sent(1, 0, forward(false))]).len(), 1);
        assert!(run(&spec, taken.clone(), &[sent(1, 0, forward(true))]).is_empty(), "DUP 1 on a first send");
        // A resent PUBLISH is not routed again: no second copy to forward.
        let resent =
            Packet::Publish { id: 1, message: Message::App(0), qos: Qos::ExactlyOnce, dup: true, retain: false };
        let again =
            Packet::Publish { id: 2, message: Message::App(0), qos: Qos::ExactlyOnce, dup: false, retain: false };
        let twice = [sent(1, 0, forward(false)), received(0, 0, resent), sent(1, 0, again)];
        assert!(run(&spec, taken.clone(), &twice).is_empty());
        // After the PUBREL both methods have routed it: they are one state, which forwards it.
        let released = run(&spec, taken, &[received(0, 0, Packet::PubRel(1))]);
        assert_eq!(released.len(), 1);
        assert_eq!(run(&spec, released, &[sent(1, 0, forward(false))]).len(), 1);
    }
}
