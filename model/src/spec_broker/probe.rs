//! Judging a broker seen only from the wire: a probe trace (`verimqtt-traces probe`, whose
//! proxy logs every packet it passes on) replayed against the spec broker.
//!
//! What is mapped: the proxy's `forwarded` packets to the broker are what the broker read; its
//! `forwarded` and `dropped` packets to a client are what the broker sent; `broker_closed` is a
//! broker close. A client's close on a connection no fault severed, and a reset, are the FIN the
//! broker reads; the broker's close that follows is not always logged (the proxy stops
//! watching a connection whose client end is gone), so the mapping closes it right after the
//! FIN, and a later `broker_closed` or packet to that client is ignored. Time becomes ticks of
//! [`TICK_MS`], so a keep alive close is judged within one tick. A broker's DISCONNECT closes
//! its end at once (it must close after it, and its will may reach a subscriber before the
//! proxy sees the close); a later `broker_closed` on it is ignored. Clients are the trace's client
//! nodes, subscribers numbered last; messages are told apart by payload, a will by its client's
//! CONNECT, and a payload no client published becomes a message nobody publishes (so a copy of
//! it is rejected); packet ids are renamed one to one, per client, into the model's 8 bits; a
//! 5.0 client's connections may differ in session kind (each CONNECT's Session Expiry Interval
//! is 0 or not); topics and filters become the model's two topics and `t/+`. What the configuration
//! of the spec broker cannot express (a third topic, a refused SUBSCRIBE, a grant below the
//! request, keep alives or non-zero expiry intervals that differ, Server Keep Alive, AUTH, negative
//! acknowledgements) makes the trace *outside* the spec broker, an error, not a verdict.

use super::{Conn, Event, Input, SpecBroker, SpecState};
use crate::bits::Bits;
use crate::config::{Config, Expiry, Qos, SessionKind, Version};
use crate::packet::{Message, Packet, PacketId};
use crate::routing::{Filter, FilterQos, Subscribed};
use std::collections::BTreeMap;
use verimqtt_spec::trace::{self, End, Fault, PacketInfo, PacketKind, TraceEvent};

/// The length of a tick of the spec broker's clock when it judges a trace.
pub const TICK_MS: u64 = 100;

/// The spec broker's verdict on a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeVerdict {
    /// Every broker event of the trace is one a broker following MQTT could show.
    Refines { events: usize },
    /// No spec broker state explains the trace's event at `index` (0-based, in the trace).
    Rejected { index: usize, event: Event },
}

/// Replays `trace` against the spec broker, which allows `tolerance_ms` past a timer's due time.
pub fn check_probe_trace(trace: &[TraceEvent], tolerance_ms: u64) -> Result<ProbeVerdict, String> {
    let mapping = Mapping::of(trace)?;
    let tolerance = u8::try_from(tolerance_ms.div_ceil(TICK_MS)).map_err(|_| "tolerance too long".to_string())?;
    let replay = mapping.steps(trace)?;
    let spec = SpecBroker::new(&mapping.config, tolerance).with_connect_sessions(&replay.connect_sessions);
    let mut states = vec![SpecState::new(mapping.config.clients)];
    let mut events = 0;
    for (index, step) in replay.steps {
        match step {
            Step::Open(client) => {
                states.iter_mut().for_each(|s| s.conns[client].push(Conn::Accepted { fin_read: false }))
            }
            Step::Event(event) => {
                events += 1;
                let mut next = Vec::new();
                for state in &states {
                    for successor in spec.accept(state, event) {
                        if !next.contains(&successor) {
                            next.push(successor);
                        }
                    }
                }
                if next.is_empty() {
                    return Ok(ProbeVerdict::Rejected { index, event });
                }
                states = next;
            }
        }
    }
    Ok(ProbeVerdict::Refines { events })
}

/// The trace as the spec broker's steps.
struct Replay {
    /// Each step, with the index of the trace event it comes from.
    steps: Vec<(usize, Step)>,
    /// 5.0: per (client, link), the kind of session its CONNECT asked for.
    connect_sessions: BTreeMap<(usize, usize), SessionKind>,
}

/// The model's packet ids for the wire's: per client, each wire id gets the next small id the
/// first time it appears. The spec broker only compares ids, so renaming them one to one keeps
/// every verdict, and a broker that draws its ids from all of 1 to 65,535 (aedes) fits the
/// model's 8 bits.
#[derive(Default)]
struct PacketIdNames {
    names: BTreeMap<(usize, u16), PacketId>,
    used: BTreeMap<usize, PacketId>,
}

impl PacketIdNames {
    fn name(&mut self, client: usize, wire: u16) -> Result<PacketId, String> {
        if let Some(&id) = self.names.get(&(client, wire)) {
            return Ok(id);
        }
        let used = self.used.entry(client).or_default();
        *used = used.checked_add(1).ok_or_else(|| outside("more than 255 packet ids on one client's connections"))?;
        self.names.insert((client, wire), *used);
        Ok(*used)
    }
}

enum Step {
    /// A client opened a connection (its next link).
    Open(usize),
    Event(Event),
}

/// How the trace's names become the model's indices, and the configuration they imply.
struct Mapping {
    config: Config,
    clients: BTreeMap<String, usize>,
    /// Per message index, its payload.
    payloads: Vec<String>,
    /// Per client, the payload of its will.
    wills: BTreeMap<usize, String>,
    /// The message that stands for every payload the broker sent and no client published.
    unpublished: Option<u8>,
}

fn outside(why: impl Into<String>) -> String {
    format!("outside the spec broker: {}", why.into())
}

/// Whether MQTT topic filter `filter` matches `topic`.
fn filter_matches(filter: &str, topic: &str) -> bool {
    let mut levels = topic.split('/');
    for part in filter.split('/') {
        match (part, levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (part, Some(level)) if part == level => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

/// Whether the session a CONNECT opens outlives its connection: 3.1.1 keeps the session of a
/// CleanSession 0 CONNECT (the spec broker reads Clean Start from the packet); 5.0 one whose
/// Session Expiry Interval is not 0 [MQTT-3.1.2-23].
fn session_kind(version: Version, connect: &PacketInfo) -> SessionKind {
    match version {
        Version::V5_0 if connect.session_expiry.unwrap_or(0) == 0 => SessionKind::Clean,
        _ => SessionKind::Persistent,
    }
}

fn qos(level: Option<u8>) -> Result<Qos, String> {
    Qos::from_level(level.unwrap_or(0)).ok_or_else(|| outside("a QoS above 2"))
}

/// `value` seconds as ticks of the spec broker's clock.
fn ticks(seconds: u64) -> Result<u8, String> {
    u8::try_from(seconds * 1000 / TICK_MS).map_err(|_| outside(format!("{seconds} s is too long for the clock")))
}

impl Mapping {
    fn of(trace: &[TraceEvent]) -> Result<Mapping, String> {
        let sent_by_clients = || {
            trace.iter().filter_map(|e| match &e.event {
                trace::Event::PacketSent { packet, .. } if !e.node.is_network() && !e.node.is_broker() => {
                    Some((e.node.0.clone(), packet))
                }
                _ => None,
            })
        };
        let mut names: Vec<String> = Vec::new();
        for e in trace {
            if let trace::Event::ConnectionOpened { .. } = e.event
                && !names.contains(&e.node.0)
            {
                names.push(e.node.0.clone());
            }
        }
        let subscribes = |name: &String| sent_by_clients().any(|(n, p)| &n == name && p.kind == PacketKind::Subscribe);
        let (subscribers, publishers): (Vec<String>, Vec<String>) = names.into_iter().partition(subscribes);
        let clients: BTreeMap<String, usize> =
            publishers.iter().chain(&subscribers).enumerate().map(|(i, n)| (n.clone(), i)).collect();

        let connects: Vec<(usize, &PacketInfo)> = sent_by_clients()
            .filter(|(_, p)| p.kind == PacketKind::Connect)
            .map(|(n, p)| {
                let client = clients.get(&n).ok_or_else(|| outside(format!("{n} connects on no connection it opened")));
                client.map(|&client| (client, p))
            })
            .collect::<Result<_, _>>()?;
        let levels: Vec<u8> = connects.iter().filter_map(|(_, p)| p.protocol_level).collect();
        let version = match levels.first() {
            _ if levels.windows(2).any(|w| w[0] != w[1]) => return Err(outside("both versions in one trace")),
            Some(5) => Version::V5_0,
            Some(4) => Version::V3_1_1,
            _ => return Err(outside("no CONNECT of a known version")),
        };

        // Topics: the wills' first (the model's wills are on topic 0), then the messages', then
        // those the subscriptions name.
        let mut topics: Vec<String> = Vec::new();
        let mut wills = BTreeMap::new();
        let mut will_qos = Vec::new();
        for &(client, p) in &connects {
            if p.will == Some(true) {
                let topic = p.topic.clone().unwrap_or_default();
                if !topics.contains(&topic) {
                    topics.push(topic);
                }
                wills.insert(client, p.payload.clone().unwrap_or_default());
                will_qos.push(qos(p.qos)?);
            }
        }
        let mut messages: Vec<(String, Qos, String, bool)> = Vec::new();
        for e in trace {
            if let trace::Event::PublishRequested { topic, qos: level, retain, payload } = &e.event {
                let level = qos(Some(*level))?;
                match messages.iter().find(|m| &m.0 == payload) {
                    Some(m) if (m.1, &m.2, m.3) != (level, topic, *retain) => {
                        return Err(outside(format!("payload {payload} published twice differently")));
                    }
                    Some(_) => {}
                    None => messages.push((payload.clone(), level, topic.clone(), *retain)),
                }
                if !topics.contains(topic) {
                    topics.push(topic.clone());
                }
            }
        }
        // A filter without wildcards names a topic even if nothing was published on it.
        for (_, p) in sent_by_clients().filter(|(_, p)| p.kind == PacketKind::Subscribe) {
            for f in p.filters.iter().flatten() {
                if !f.filter.contains(['+', '#']) && !topics.contains(&f.filter) {
                    topics.push(f.filter.clone());
                }
            }
        }
        // A payload the broker sent that no client of the run published and that is no will's:
        // a message the broker made up, or another run's (runs' topics are their own). It
        // becomes one more message, which no client publishes, so a copy of it is a rejection:
        // the broker forwards only what it was sent [MQTT-4.5.0-1].
        let published = |payload: &str| messages.iter().any(|m| m.0 == payload) || wills.values().any(|w| w == payload);
        let unpublished = trace.iter().any(|e| match &e.event {
            trace::Event::Forwarded { to: End::Client, packet, .. }
            | trace::Event::Dropped { to: End::Client, packet, .. } => {
                packet.kind == PacketKind::Publish && !published(packet.payload.as_deref().unwrap_or_default())
            }
            _ => false,
        });
        let payloads: Vec<String> = messages.iter().map(|m| m.0.clone()).collect();
        let unpublished = unpublished.then(|| {
            messages.push((String::new(), Qos::AtMostOnce, topics.first().cloned().unwrap_or_default(), false));
            messages.len() as u8 - 1
        });
        if topics.len() > usize::from(crate::routing::TOPICS) {
            return Err(outside("more than two topics"));
        }
        if will_qos.windows(2).any(|w| w[0] != w[1]) {
            return Err(outside("wills at different QoS"));
        }
        if messages.len() > usize::from(Bits::MAX) + 1 {
            return Err(outside("too many messages"));
        }
        let topic_index = |t: &str| topics.iter().position(|x| x == t).unwrap_or(0) as u8;

        let mut config = Config::new(version, clients.len(), messages.len());
        config.publishers = publishers.len();
        config.messages = messages.iter().map(|m| m.1).collect();
        config.topics =
            if messages.is_empty() { vec![0] } else { messages.iter().map(|m| topic_index(&m.2)).collect() };
        config.retained = (0..messages.len() as u8).filter(|&n| messages[usize::from(n)].3).collect();
        config.empty = (0..messages.len() as u8)
            .filter(|&n| messages[usize::from(n)].0.is_empty() && Some(n) != unpublished)
            .collect();
        config.will_qos = will_qos.first().copied().unwrap_or(Qos::AtMostOnce);
        config.subscriptions = Vec::new();
        for name in &subscribers {
            let mut asked: Option<Vec<FilterQos>> = None;
            for (_, p) in sent_by_clients().filter(|(n, p)| n == name && p.kind == PacketKind::Subscribe) {
                let filters = p.filters.clone().unwrap_or_default();
                let mapped = filters
                    .iter()
                    .map(|f| {
                        let matched: Vec<u8> =
                            topics.iter().filter(|t| filter_matches(&f.filter, t)).map(|t| topic_index(t)).collect();
                        let filter = match matched.as_slice() {
                            [t] if topics.len() == 1 || topics[usize::from(*t)] == f.filter => Filter::Topic(*t),
                            _ if matched.len() == topics.len() && topics.len() > 1 => Filter::Wildcard,
                            _ => {
                                return Err(outside(format!(
                                    "filter {} is neither a topic of the trace nor one matching them all",
                                    f.filter
                                )));
                            }
                        };
                        if f.retain_handling.unwrap_or(0) != 0
                            || f.retain_as_published == Some(true)
                            || f.no_local == Some(true)
                        {
                            return Err(outside("subscription options other than the defaults"));
                        }
                        Ok(FilterQos::new(filter, qos(f.qos)?))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                if asked.as_ref().is_some_and(|a| *a != mapped) {
                    return Err(outside(format!("{name} subscribes to different filters")));
                }
                asked = Some(mapped);
            }
            config.subscriptions.push(asked.unwrap_or_default());
        }
        if config.subscriptions.is_empty() {
            config.subscriptions = vec![Vec::new()];
        }

        // Sessions, keep alive, expiry and Receive Maximum: one value each, as the
        // configuration holds one.
        let keep_alives: Vec<u16> = connects.iter().filter_map(|(_, p)| p.keep_alive).collect();
        if keep_alives.windows(2).any(|w| w[0] != w[1]) || keep_alives.first().is_none_or(|&k| k == 0) {
            return Err(outside("keep alives that differ, or none"));
        }
        config.keep_alive = ticks(u64::from(keep_alives[0]))?;
        // A client's CONNECTs may differ in kind (5.0: with and without a Session Expiry
        // Interval): the spec broker is told each connection's (`connect_sessions`); the
        // configuration holds the first's.
        let mut expiries = Vec::new();
        for &(client, p) in connects.iter().rev() {
            config.sessions[client] = session_kind(version, p);
            expiries.extend(p.session_expiry.filter(|&e| e > 0));
        }
        if expiries.windows(2).any(|w| w[0] != w[1]) {
            return Err(outside("session expiry intervals that differ"));
        }
        config.session_expiry = match expiries.first() {
            Some(&u32::MAX) | None => Expiry::Never,
            Some(&seconds) => Expiry::AfterTicks(ticks(u64::from(seconds))?),
        };
        let maxima: Vec<u16> = connects.iter().filter_map(|(_, p)| p.receive_maximum).collect();
        if maxima.windows(2).any(|w| w[0] != w[1]) {
            return Err(outside("Receive Maximums that differ"));
        }
        config.receive_maximum = maxima.first().map_or(u8::MAX, |&r| u8::try_from(r).unwrap_or(u8::MAX));
        let server_keep_alive = trace.iter().any(|e| match &e.event {
            trace::Event::Forwarded { packet, .. } => packet.server_keep_alive.is_some(),
            _ => false,
        });
        if server_keep_alive {
            return Err(outside("a Server Keep Alive"));
        }
        Ok(Mapping { config, clients, payloads, wills, unpublished })
    }

    fn message(&self, p: &PacketInfo, from_broker: bool) -> Result<(Message, Qos), String> {
        let payload = p.payload.clone().unwrap_or_default();
        let level = qos(p.qos)?;
        if let Some(client) = self.will_of(&payload) {
            return Ok((Message::Will(client as u8), level));
        }
        let n = match self.payloads.iter().position(|x| *x == payload) {
            Some(n) => n as u8,
            None => self.unpublished.ok_or_else(|| outside(format!("payload {payload} never published")))?,
        };
        if from_broker && p.retain == Some(true) {
            return Ok((Message::Retained { message: n, qos: level }, level));
        }
        Ok((Message::App(n), level))
    }

    /// The model's packet for `p`, with the reason code a broker put in it.
    fn packet(&self, p: &PacketInfo, from_broker: bool, id: PacketId) -> Result<(Packet, Option<u8>), String> {
        let v5 = self.config.version == Version::V5_0;
        let code = p.reason_code.unwrap_or(0);
        let reason = v5.then_some(code);
        // 5.0: absent is 65,535 (3.1.2.11.3, 3.2.2.3.3), above what a model's u8 holds.
        let receive_maximum = v5.then(|| u8::try_from(p.receive_maximum.unwrap_or(u16::MAX)).unwrap_or(u8::MAX));
        let packet = match p.kind {
            PacketKind::Connect => Packet::Connect {
                clean_start: p.clean_start.unwrap_or(false),
                will: p.will == Some(true),
                receive_maximum,
            },
            PacketKind::Connack if code == 0 => {
                let session_present = p.session_present == Some(true);
                return Ok((Packet::ConnAck { session_present, receive_maximum }, Some(0)));
            }
            PacketKind::Publish => {
                let (message, qos) = self.message(p, from_broker)?;
                Packet::Publish { id, message, qos, dup: p.dup == Some(true), retain: p.retain == Some(true) }
            }
            PacketKind::Puback if code < 0x80 => Packet::PubAck(id),
            PacketKind::Pubrec if code < 0x80 => Packet::PubRec(id),
            PacketKind::Pubrel if code < 0x80 => Packet::PubRel(id),
            PacketKind::Pubcomp => Packet::PubComp(id),
            // Every SUBSCRIBE of a subscriber names the same filters (see above): its first.
            PacketKind::Subscribe => Packet::Subscribe(id, Subscribed::First),
            PacketKind::Suback => {
                let codes = p.reason_codes.clone().unwrap_or_default();
                if codes.iter().any(|&c| c >= 0x80) {
                    return Err(outside("a refused subscription"));
                }
                Packet::SubAck(id, Subscribed::First)
            }
            PacketKind::Unsubscribe => Packet::Unsubscribe(id),
            PacketKind::Unsuback => {
                let existed = !p.reason_codes.clone().unwrap_or_default().contains(&0x11);
                Packet::UnsubAck { id, existed }
            }
            PacketKind::Pingreq => Packet::PingReq,
            PacketKind::Pingresp => Packet::PingResp,
            PacketKind::Disconnect if !from_broker && code == 0x04 => Packet::DisconnectWithWill,
            PacketKind::Disconnect if from_broker || code == 0 => Packet::Disconnect,
            kind => return Err(outside(format!("{kind:?} with reason {code:#04x}"))),
        };
        let reason = match packet {
            Packet::Publish { .. } | Packet::Subscribe(..) | Packet::SubAck(..) | Packet::Unsubscribe(_) => None,
            Packet::UnsubAck { .. } | Packet::PingReq | Packet::PingResp | Packet::Connect { .. } => None,
            _ => reason,
        };
        Ok((packet, reason))
    }

    /// The client whose will `payload` is, if it is one.
    fn will_of(&self, payload: &str) -> Option<usize> {
        self.wills.iter().find(|(_, will)| will.as_str() == payload).map(|(&client, _)| client)
    }

    /// The trace as the spec broker's steps, each with its index in the trace.
    fn steps(&self, trace: &[TraceEvent]) -> Result<Replay, String> {
        // Per connection: its client and link, whether a fault severed it from the broker, and
        // whether the broker's end is closed (logged, or after the FIN it read).
        struct ConnState {
            client: usize,
            link: usize,
            severed: bool,
            closed: bool,
        }
        let mut conns: BTreeMap<trace::ConnId, ConnState> = BTreeMap::new();
        let mut opened = vec![0usize; self.config.clients];
        let mut steps = Vec::new();
        let mut connect_sessions = BTreeMap::new();
        let mut ids = PacketIdNames::default();
        let mut tick_of = 0u64;
        for (index, e) in trace.iter().enumerate() {
            let now = e.time_ms / TICK_MS;
            for _ in tick_of..now {
                steps.push((index, Step::Event(Event::Tick)));
            }
            tick_of = tick_of.max(now);
            let fin = |steps: &mut Vec<(usize, Step)>, conn: &mut ConnState| {
                steps.push((
                    index,
                    Step::Event(Event::Received { client: conn.client, link: conn.link, input: Input::Fin }),
                ));
                steps.push((index, Step::Event(Event::Closed { client: conn.client, link: conn.link })));
                conn.closed = true;
            };
            match &e.event {
                trace::Event::ConnectionOpened { conn, .. } if !e.node.is_network() => {
                    let client = *self.clients.get(&e.node.0).ok_or_else(|| outside("a connection of no client"))?;
                    conns.insert(*conn, ConnState { client, link: opened[client], severed: false, closed: false });
                    opened[client] += 1;
                    steps.push((index, Step::Open(client)));
                }
                trace::Event::Forwarded { conn, to, packet } | trace::Event::Dropped { conn, to, packet } => {
                    let forwarded = matches!(e.event, trace::Event::Forwarded { .. });
                    let Some(c) = conns.get(conn) else { continue };
                    if c.closed || (*to == End::Broker && !forwarded) {
                        continue;
                    }
                    let (client, link) = (c.client, c.link);
                    // The broker closes a connection and publishes its will in one step; the
                    // proxy watches each connection on its own, so it may see the will first.
                    // The will's connections the proxy sees closed within a tick close here.
                    let will_of = (*to == End::Client && packet.kind == PacketKind::Publish)
                        .then(|| self.will_of(packet.payload.as_deref().unwrap_or_default()))
                        .flatten();
                    if let Some(will_of) = will_of {
                        let within_a_tick = trace[index..].iter().take_while(|l| l.time_ms <= e.time_ms + TICK_MS);
                        for later in within_a_tick {
                            if let trace::Event::BrokerClosed { conn: closing } = later.event
                                && let Some(c) = conns.get_mut(&closing)
                                && c.client == will_of
                                && !c.closed
                            {
                                steps.push((index, Step::Event(Event::Closed { client: c.client, link: c.link })));
                                c.closed = true;
                            }
                        }
                    }
                    let id = match packet.packet_id {
                        Some(wire) => ids.name(client, wire)?,
                        None => 0,
                    };
                    if packet.kind == PacketKind::Connect && self.config.version == Version::V5_0 {
                        connect_sessions.insert((client, link), session_kind(Version::V5_0, packet));
                    }
                    let (packet, reason) = self.packet(packet, *to == End::Client, id)?;
                    let event = match to {
                        End::Broker => Event::Received { client, link, input: Input::Packet(packet) },
                        End::Client => Event::Sent { client, link, packet, reason },
                    };
                    steps.push((index, Step::Event(event)));
                    // The broker closes right after its DISCONNECT ([MQTT-3.14.4-2] in 5.0), and
                    // may publish the will before the proxy sees the close: it closes here.
                    if *to == End::Client && packet == Packet::Disconnect {
                        steps.push((index, Step::Event(Event::Closed { client, link })));
                        if let Some(c) = conns.get_mut(conn) {
                            c.closed = true;
                        }
                    }
                }
                trace::Event::FaultInjected { conn, fault } => {
                    let Some(c) = conns.get_mut(conn) else { continue };
                    match fault {
                        Fault::Reset if !c.closed && !c.severed => fin(&mut steps, c),
                        _ => c.severed = true,
                    }
                }
                trace::Event::ConnectionClosed { conn, .. } if !e.node.is_network() => {
                    if let Some(c) = conns.get_mut(conn)
                        && !c.closed
                        && !c.severed
                    {
                        fin(&mut steps, c);
                    }
                }
                trace::Event::BrokerClosed { conn } => {
                    if let Some(c) = conns.get_mut(conn)
                        && !c.closed
                    {
                        steps.push((index, Step::Event(Event::Closed { client: c.client, link: c.link })));
                        c.closed = true;
                    }
                }
                trace::Event::ProbeEnded => break,
                _ => {}
            }
        }
        Ok(Replay { steps, connect_sessions })
    }
}
