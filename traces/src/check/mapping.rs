//! From a trace's concrete values to the model's abstractions, and the model configuration a
//! trace is checked against.
//!
//! - **Clients**: the node that publishes is model client 0 (the model's only publisher); the
//!   other client nodes follow in the order they first appear. With one client node, it is
//!   client 0 and both subscribes and publishes, as in the model.
//! - **Messages**: payloads, numbered `m0, m1, …` in the order of their first
//!   `publish_requested`; their QoS is the one requested. A payload equal to a client's will
//!   (from its CONNECT) is that client's will. A message requested with RETAIN=1 is retained
//!   in the model (with an empty payload, it deletes the retained message); a PUBLISH with
//!   RETAIN=1 from the broker carrying its payload is the model's retained copy of it. The
//!   model has one topic, one filter and one client id per client: the trace's are read once
//!   ([`Values`]) and every packet must carry them. The subscription's QoS is the trace's (the
//!   model downgrades copies), and so are its 5.0 Retain Handling and Retain As Published (the
//!   model decides which retained copies a SUBACK calls for and each copy's RETAIN flag). A
//!   message's 5.0 Payload Format Indicator is the one of its publisher's first PUBLISH, and
//!   every PUBLISH of it must carry the same; one that claims UTF-8 for a payload that is not
//!   is refused by the model's broker (`Config::invalid_payloads`).
//! - **Connections**: a trace's `conn` number is bound to the model link opened by the same
//!   `connection_opened` (see `links.rs`).
//! - **Time**: `tick = time_ms / tick_ms` (100 ms: a timer a tenth of a second off its
//!   deadline is caught); Keep Alive (seconds) becomes ticks the same way and
//!   the client gives up after `abort_percent` % of it, rounded up (verimqtt: 150 %). Keep
//!   Alive 0 (off) becomes a keep alive longer than the trace. The client gives up waiting for
//!   CONNACK after the abort period, or 30 s with Keep Alive off, as the simulator sets it
//!   (`connack_timeout_s` to say otherwise); the broker waits `connect_timeout_s` for CONNECT
//!   (verimqtt: 10 s).
//! - **Hostile clients**: a packet the trace logs as injected (`packet_injected`, by the
//!   simulator playing a hostile client) is the model's: a PUBREC its hostile PUBREC
//!   (`Config::hostile_pubrecs`, as many as the trace logs), for the id one past the broker's
//!   pool (6 ids, then, instead of 7): the trace's id, whatever it is, is bound to it; a
//!   PUBLISH its PUBLISH beyond the broker's Receive Maximum (`Config::beyond_quota`, no
//!   more of them than the trace has).
//! - **Configuration**: protocol version, session kinds (Clean Start), session expiry, Keep
//!   Alive, wills (per client) and their QoS (one for all) come from the CONNECT packets; the 5.0 limits on
//!   each side's flights from the Receive Maximum of the CONNECTs and CONNACKs and the
//!   nodes' own limits in `connection_opened` (see `flight_limits.rs`); the
//!   publisher disconnects gracefully if it
//!   closes with `disconnected`. The model cuts a connection only where the trace logs a
//!   fault on it (`fault_injected`), told to both ends (reset), the client only (half-open)
//!   or neither (cut);
//!   packets stay in transit while time passes only during a stall the trace logs
//!   (`network_stalled`, see [`Mapping::stalled`]);
//!   applications are paced (the scenario decides when they act) and each side resends in
//!   verimqtt's order (both by last step: one sender for both roles).

use std::fmt;

use verimqtt_model::bits::Bits;
use verimqtt_model::config::PUBLISHER;
use verimqtt_model::observe::Actor;
use verimqtt_model::packet::{Message, reason};
use verimqtt_model::routing::{self, Filter, FilterQos, RetainOptions};
use verimqtt_model::{Config, Expiry, Qos, ResendOrder, SessionKind, Version};
use verimqtt_spec::trace::{CloseReason, Event, Node, PacketInfo, PacketKind, TraceEvent};

use super::flight_limits::flight_limits;
use super::payload_format::{invalid_payloads, payload_formats};
use super::scope::within_the_model;
pub use super::values::{Requested, Values};

/// How concrete time maps to the model's ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeScale {
    /// Milliseconds per model tick (the simulator's tick).
    pub tick_ms: u64,
    /// The client gives up on a connection after this percentage of Keep Alive without
    /// receiving anything.
    pub abort_percent: u64,
    /// The client gives up waiting for CONNACK after this many seconds; `None`: after the
    /// abort period, or 30 s with Keep Alive off (how verimqtt's simulator sets its clients).
    pub connack_timeout_s: Option<u64>,
    /// The broker closes a connection on which no CONNECT came after this many seconds.
    pub connect_timeout_s: u64,
}

impl Default for TimeScale {
    fn default() -> Self {
        TimeScale { tick_ms: 100, abort_percent: 150, connack_timeout_s: None, connect_timeout_s: 10 }
    }
}

impl TimeScale {
    pub fn tick(&self, time_ms: u64) -> u64 {
        time_ms / self.tick_ms
    }
}

/// A trace the model cannot express.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(pub String);

fn unsupported<T>(why: impl Into<String>) -> Result<T, MappingError> {
    Err(MappingError(why.into()))
}

/// How the values of one trace map to the model's, and the model configuration they give.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// Client nodes, indexed by model client id.
    pub clients: Vec<Node>,
    /// Application payloads, indexed by model message id.
    pub payloads: Vec<String>,
    /// 5.0: the Payload Format Indicator of each application message, indexed by model
    /// message id (see [`payload_formats`]).
    pub payload_formats: Vec<Option<u8>>,
    /// Per client, the payload of its will, if it has one.
    pub wills: Vec<Option<String>>,
    /// The topic, filter and client ids the trace has for the model's single ones.
    pub values: Values,
    /// Per client, the Keep Alive (seconds) of its CONNECTs.
    pub keep_alive_s: u16,
    /// The Session Expiry Interval of persistent sessions' CONNECTs (5.0).
    pub session_expiry_s: Option<u32>,
    /// Per client, whether it lets the broker explain a refusal with a Reason String (5.0
    /// Request Problem Information, 1 where absent; section 3.1.2.11.7).
    pub problem_information: Vec<bool>,
    /// The logged stalls, as ticks `(from, to)`: time may pass from tick `t` to `t + 1`
    /// with packets in flight only if `from <= t < to`.
    pub stalls: Vec<(u64, u64)>,
    pub time: TimeScale,
    pub config: Config,
}

impl Mapping {
    pub fn derive(events: &[TraceEvent], time: TimeScale) -> Result<Mapping, MappingError> {
        if time.tick_ms == 0 {
            return unsupported("a tick must last at least one millisecond");
        }
        let clients = client_order(events)?;
        within_the_model(events)?;
        let values = Values::derive(events, &clients)?;
        let unsubscribes = sent_by_clients(events, &clients, PacketKind::Unsubscribe);
        if values.added.is_some() && unsubscribes > 0 {
            return unsupported(
                "an UNSUBSCRIBE with a SUBSCRIBE that adds a filter: the model's UNSUBSCRIBE drops every filter",
            );
        }
        let (payloads, messages) = application_messages(events)?;
        let (retained, empty) = retained_messages(events);
        let payload_formats = payload_formats(events, &clients[PUBLISHER], &payloads);
        let connects: Vec<Vec<&PacketInfo>> =
            clients.iter().map(|node| sent_by(events, node, PacketKind::Connect)).collect();
        let all_connects: Vec<&PacketInfo> = connects.iter().flatten().copied().collect();
        let Some(first) = all_connects.first() else {
            return unsupported("no client sends CONNECT: nothing to check");
        };
        let version = match first.protocol_level {
            Some(4) => Version::V3_1_1,
            Some(5) => Version::V5_0,
            other => return unsupported(format!("CONNECT with protocol level {other:?}: the model has 4 and 5")),
        };
        let last_tick = events.last().map_or(0, |e| time.tick(e.time_ms));
        let keep_alive = keep_alive_ticks(&all_connects, time, last_tick)?;
        let with_will = connects
            .iter()
            .map(|own| same(own, "will of one client", |c| c.will.unwrap_or(false)))
            .collect::<Result<Vec<_>, _>>()?;
        let sessions = connects.iter().map(|own| session_kind(version, own)).collect::<Result<Vec<_>, _>>()?;
        let session_expiry = session_expiry(version, &all_connects, &sessions, time)?;
        let wills = connects
            .iter()
            .map(|own| own.iter().find(|c| c.will == Some(true)).map(|c| c.payload.clone().unwrap_or_default()))
            .collect();
        let flight_limits = flight_limits(version, events, &clients)?;
        let config = Config {
            version,
            clients: clients.len(),
            sessions,
            session_expiry,
            receive_maximum: flight_limits.to_clients,
            broker_receive_maximum: flight_limits.from_clients,
            // A hostile PUBREC's id is one past the broker's (`Config::unknown_id`).
            packet_ids: if injected(events, PacketKind::Pubrec) > 0 { Bits::MAX - 1 } else { Bits::MAX },
            keep_alive,
            abort_after: abort_ticks(keep_alive, time)?,
            connack_timeout: connack_ticks(&all_connects, time)?,
            broker_connect_timeout: Some(ticks_of(time.connect_timeout_s, time, "CONNECT timeout")?),
            cuts: faults(events).min(u64::from(u8::MAX)) as u8,
            reported_cuts: true,
            slow_network: true,
            // Every DISCONNECT of a client is one the model's clients may send at any time.
            graceful_disconnect: false,
            will: with_will.contains(&true),
            without_will: (0..clients.len() as u8).filter(|&c| !with_will[usize::from(c)]).collect(),
            paced_application: true,
            client_resend_order: ResendOrder::LastStep,
            broker_resend_order: ResendOrder::LastStep,
            messages,
            bug: None,
            // The simulator restarts its broker only from its store (a `MemoryStore`).
            restarts: restarts(events).min(u64::from(u8::MAX)) as u8,
            durable: restarts(events) > 0,
            will_delay: 0,
            will_qos: will_qos(&all_connects)?,
            // What `within_the_model` and `Values` admit: one publisher, one topic, one filter.
            publishers: 1,
            topics: vec![0],
            subscriptions: model_subscriptions(&values)?,
            added_subscriptions: model_added_subscriptions(&values)?,
            disconnects: client_disconnects(events, &clients).min(u64::from(u8::MAX)) as u8,
            disconnect_with_will: disconnects_with_will(events, &clients),
            unsubscribes: unsubscribes.min(u64::from(u8::MAX)) as u8,
            retained,
            empty,
            invalid_payloads: invalid_payloads(&payload_formats, &payloads),
            beyond_quota: injected(events, PacketKind::Publish).min(u64::from(u8::MAX)) as u8,
            // Applications are paced and the network is slow: no bound on the response holds.
            bounded_response: None,
            hostile_pubrecs: injected(events, PacketKind::Pubrec).min(u64::from(u8::MAX)) as u8,
        };
        config.validate().map_err(|error| MappingError(format!("no model configuration fits: {error}")))?;
        let keep_alive_s = same(&all_connects, "keep alive", |c| c.keep_alive.unwrap_or(0))?;
        let persistent = persistent_connects(version, &all_connects);
        let session_expiry_s = match version {
            Version::V5_0 if !persistent.is_empty() => {
                same(&persistent, "Session Expiry Interval", |c| c.session_expiry)?
            }
            _ => None,
        };
        let problem_information = connects
            .iter()
            .map(|own| same(own, "Request Problem Information", |c| c.request_problem_information.unwrap_or(true)))
            .collect::<Result<Vec<_>, _>>()?;
        let stalls = events
            .iter()
            .filter_map(|e| match e.event {
                Event::NetworkStalled { duration_ms } => {
                    Some((time.tick(e.time_ms), time.tick(e.time_ms + duration_ms)))
                }
                _ => None,
            })
            .collect();
        let mapping = Mapping {
            clients,
            payloads,
            payload_formats,
            wills,
            values,
            keep_alive_s,
            session_expiry_s,
            problem_information,
            stalls,
            time,
            config,
        };
        mapping.check_payloads_distinct()?;
        Ok(mapping)
    }

    /// The model actor of a node, if the node is in the mapping.
    pub fn actor(&self, node: &Node) -> Option<Actor> {
        if node.is_broker() {
            return Some(Actor::Broker);
        }
        if node.is_network() {
            return Some(Actor::Network);
        }
        self.clients.iter().position(|c| c == node).map(Actor::Client)
    }

    /// Whether the trace logs a stall from tick `tick` to the next.
    pub fn stalled(&self, tick: u64) -> bool {
        self.stalls.iter().any(|&(from, to)| from <= tick && tick < to)
    }

    /// The model message a payload stands for.
    pub fn message(&self, payload: &str) -> Option<Message> {
        if let Some(n) = self.payloads.iter().position(|p| p == payload) {
            return Some(Message::App(n as u8));
        }
        self.wills.iter().position(|w| w.as_deref() == Some(payload)).map(|c| Message::Will(c as u8))
    }

    /// The Payload Format Indicator every PUBLISH of `message` carries: its publisher's (a
    /// retained copy's is its message's); none on a will (the model's wills carry none).
    pub fn payload_format(&self, message: Message) -> Option<u8> {
        match message {
            Message::App(n) | Message::Retained { message: n, .. } => self.payload_formats[usize::from(n)],
            Message::Will(_) => None,
        }
    }

    fn check_payloads_distinct(&self) -> Result<(), MappingError> {
        for will in self.wills.iter().flatten() {
            if self.payloads.contains(will) {
                return unsupported(format!("payload {will:?} is both a will and an application message"));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "model: {}", self.config)?;
        let clients: Vec<String> = (self.clients.iter().zip(&self.values.client_ids).enumerate())
            .map(|(c, (node, id))| format!("c{c} = node \"{node}\" (client id {id:?})"))
            .collect();
        writeln!(f, "clients: {}", clients.join(", "))?;
        if let Some(topic) = &self.values.topic {
            writeln!(f, "topic: {topic:?}")?;
        }
        if let Some(first) = &self.values.subscription {
            writeln!(f, "subscription: {}", requested_text(first))?;
        }
        if let Some(added) = &self.values.added {
            writeln!(f, "added by a second SUBSCRIBE: {}", requested_text(added))?;
        }
        let messages: Vec<String> = self
            .payloads
            .iter()
            .enumerate()
            .map(|(n, payload)| format!("m{n} = payload {payload:?} (qos {})", self.config.messages[n].level()))
            .collect();
        writeln!(f, "messages: {}", if messages.is_empty() { "none".to_string() } else { messages.join(", ") })?;
        for (c, will) in self.wills.iter().enumerate() {
            if let Some(will) = will {
                writeln!(f, "will of c{c} = payload {will:?}")?;
            }
        }
        write!(
            f,
            "time: tick = time_ms / {}; keep alive {} ticks, client gives up after {} ticks",
            self.time.tick_ms, self.config.keep_alive, self.config.abort_after
        )
    }
}

/// The publisher first, then the other client nodes in order of appearance.
fn client_order(events: &[TraceEvent]) -> Result<Vec<Node>, MappingError> {
    let mut clients: Vec<Node> = Vec::new();
    for event in events.iter().filter(|e| !e.node.is_broker() && !e.node.is_network()) {
        if !clients.contains(&event.node) {
            clients.push(event.node.clone());
        }
    }
    let mut publishers: Vec<&Node> = Vec::new();
    for event in events {
        if matches!(event.event, Event::PublishRequested { .. }) && !publishers.contains(&&event.node) {
            publishers.push(&event.node);
        }
    }
    if publishers.len() > 1 {
        return unsupported(format!("{} clients publish; the model has one publisher", publishers.len()));
    }
    if let Some(publisher) = publishers.first() {
        if let Some(index) = clients.iter().position(|c| c == *publisher) {
            let publisher = clients.remove(index);
            clients.insert(PUBLISHER, publisher);
        }
    }
    if clients.is_empty() || clients.len() > 3 {
        return unsupported(format!("{} client nodes; the model has 1 to 3", clients.len()));
    }
    Ok(clients)
}

/// Payloads in order of their first publish request, and their QoS.
fn application_messages(events: &[TraceEvent]) -> Result<(Vec<String>, Vec<Qos>), MappingError> {
    let mut payloads = Vec::new();
    let mut messages = Vec::new();
    for event in events {
        let Event::PublishRequested { qos, payload, .. } = &event.event else {
            continue;
        };
        if payloads.contains(payload) {
            return unsupported(format!(
                "payload {payload:?} is published twice; the checker names messages by payload"
            ));
        }
        let Some(qos) = Qos::from_level(*qos) else {
            return unsupported(format!("publish of {payload:?} at QoS {qos}"));
        };
        payloads.push(payload.clone());
        messages.push(qos);
    }
    if payloads.len() > usize::from(Bits::MAX) + 1 {
        return unsupported(format!("{} messages; the model has at most {}", payloads.len(), Bits::MAX + 1));
    }
    Ok((payloads, messages))
}

/// The messages published with RETAIN=1, in the numbering of [`application_messages`], and
/// those of them with an empty payload (which delete their topic's retained message).
fn retained_messages(events: &[TraceEvent]) -> (Bits, Bits) {
    let requests = events.iter().filter_map(|event| match &event.event {
        Event::PublishRequested { retain, payload, .. } => Some((*retain, payload.is_empty())),
        _ => None,
    });
    let mut retained = Bits::EMPTY;
    let mut empty = Bits::EMPTY;
    for (n, (retain, no_payload)) in (0..=Bits::MAX).zip(requests) {
        if retain {
            retained.insert(n);
            if no_payload {
                empty.insert(n);
            }
        }
    }
    (retained, empty)
}

/// The packets of `kind` that `node` sends.
pub(super) fn sent_by<'a>(events: &'a [TraceEvent], node: &Node, kind: PacketKind) -> Vec<&'a PacketInfo> {
    events
        .iter()
        .filter(|e| &e.node == node)
        .filter_map(|e| match &e.event {
            Event::PacketSent { packet, .. } if packet.kind == kind => Some(packet),
            _ => None,
        })
        .collect()
}

/// The value every packet of `packets` (all CONNECTs, or all CONNACKs) agrees on.
fn same<T: PartialEq + fmt::Debug>(
    packets: &[&PacketInfo],
    field: &str,
    value: impl Fn(&PacketInfo) -> T,
) -> Result<T, MappingError> {
    let kind = packets.first().map_or(PacketKind::Connect, |p| p.kind);
    let mut values = packets.iter().map(|c| value(c));
    let Some(first) = values.next() else {
        return unsupported(format!("no {} gives the {field}", kind.name()));
    };
    match values.find(|v| *v != first) {
        Some(other) => {
            unsupported(format!("{}s disagree on the {field} ({first:?}, {other:?}); the model has one", kind.name()))
        }
        None => Ok(first),
    }
}

fn ticks_of(seconds: u64, time: TimeScale, what: &str) -> Result<u8, MappingError> {
    let millis = seconds * 1000;
    if millis % time.tick_ms != 0 {
        return unsupported(format!("{what} of {seconds} s is not a whole number of {} ms ticks", time.tick_ms));
    }
    match u8::try_from(millis / time.tick_ms) {
        Ok(ticks) if ticks > 0 => Ok(ticks),
        _ => unsupported(format!("{what} of {seconds} s is not 1 to 255 ticks")),
    }
}

/// The longest keep alive the model's counters take (1.5 x keep alive must fit in a byte).
const MAX_KEEPALIVE_TICKS: u64 = 84;

/// Keep Alive in ticks. Keep Alive 0 (off) becomes a keep alive longer than the trace, so no
/// keep alive timer can fire within it.
fn keep_alive_ticks(connects: &[&PacketInfo], time: TimeScale, last_tick: u64) -> Result<u8, MappingError> {
    let seconds = same(connects, "keep alive", |c| c.keep_alive.unwrap_or(0))?;
    let ticks = match seconds {
        0 => last_tick + 1,
        seconds => u64::from(ticks_of(u64::from(seconds), time, "Keep Alive")?),
    };
    if ticks > MAX_KEEPALIVE_TICKS {
        return unsupported(format!("a keep alive of {ticks} ticks; the model takes at most {MAX_KEEPALIVE_TICKS}"));
    }
    Ok(ticks as u8)
}

fn abort_ticks(keep_alive: u8, time: TimeScale) -> Result<u8, MappingError> {
    let ticks = (u64::from(keep_alive) * time.abort_percent).div_ceil(100);
    u8::try_from(ticks).ok().filter(|&t| t > 0).map_or_else(|| unsupported("abort period out of range"), Ok)
}

/// verimqtt's CONNACK timeout when nothing else sets it.
const DEFAULT_CONNACK_TIMEOUT_S: u64 = 30;

/// The CONNACK timeout in ticks, or `None` for the abort period.
fn connack_ticks(connects: &[&PacketInfo], time: TimeScale) -> Result<Option<u8>, MappingError> {
    let keep_alive_off = connects.iter().all(|c| c.keep_alive.unwrap_or(0) == 0);
    let seconds = match time.connack_timeout_s {
        Some(seconds) => seconds,
        None if keep_alive_off => DEFAULT_CONNACK_TIMEOUT_S,
        None => return Ok(None),
    };
    ticks_of(seconds, time, "CONNACK timeout").map(Some)
}

/// Whether a client's session outlives its connections: in 3.1.1 CleanSession=0 on every
/// CONNECT; in 5.0 a non-zero Session Expiry Interval on every CONNECT, whose Clean Start is
/// decided per connection (1 once the client discarded its session, as the model's client
/// decides it) and compared packet by packet.
fn session_kind(version: Version, connects: &[&PacketInfo]) -> Result<SessionKind, MappingError> {
    let persistent = match version {
        Version::V3_1_1 => !same(connects, "CleanSession of one client", |c| c.clean_start.unwrap_or(true))?,
        Version::V5_0 => {
            same(connects, "Session Expiry Interval of one client", |c| c.session_expiry.unwrap_or(0))? > 0
        }
    };
    Ok(if persistent { SessionKind::Persistent } else { SessionKind::Clean })
}

/// The CONNECTs of persistent sessions (see [`session_kind`]).
fn persistent_connects<'a>(version: Version, connects: &[&'a PacketInfo]) -> Vec<&'a PacketInfo> {
    let persistent = |c: &PacketInfo| match version {
        Version::V3_1_1 => c.clean_start == Some(false),
        Version::V5_0 => c.session_expiry.unwrap_or(0) > 0,
    };
    connects.iter().filter(|c| persistent(c)).copied().collect()
}

/// 5.0: persistent sessions expire after their Session Expiry Interval (never for 0xFFFFFFFF).
fn session_expiry(
    version: Version,
    connects: &[&PacketInfo],
    sessions: &[SessionKind],
    time: TimeScale,
) -> Result<Expiry, MappingError> {
    if version == Version::V3_1_1 || !sessions.contains(&SessionKind::Persistent) {
        return Ok(Expiry::Never);
    }
    match same(&persistent_connects(version, connects), "Session Expiry Interval", |c| c.session_expiry.unwrap_or(0))? {
        u32::MAX => Ok(Expiry::Never),
        seconds => Ok(Expiry::AfterTicks(ticks_of(u64::from(seconds), time, "Session Expiry Interval")?)),
    }
}

/// The QoS every will of the trace has (the model has one for all): 0 or 1, the model's
/// wills; 0 if there is none.
fn will_qos(connects: &[&PacketInfo]) -> Result<Qos, MappingError> {
    let with_will: Vec<&PacketInfo> = connects.iter().filter(|c| c.will == Some(true)).copied().collect();
    if with_will.is_empty() {
        return Ok(Qos::AtMostOnce);
    }
    match same(&with_will, "will QoS", |c| c.qos)? {
        Some(0) => Ok(Qos::AtMostOnce),
        Some(1) => Ok(Qos::AtLeastOnce),
        other => unsupported(format!("a will at QoS {other:?}: the model's wills are QoS 0 or 1")),
    }
}

/// Faults the trace logs: the model cuts no more connections than that.
fn faults(events: &[TraceEvent]) -> u64 {
    events.iter().filter(|e| matches!(e.event, Event::FaultInjected { .. })).count() as u64
}

/// Packets of `kind` the trace logs as injected (`packet_injected`, PUBLISHes and PUBRECs,
/// `within_the_model` made sure): the model's hostile clients write no more than that, a
/// PUBLISH beyond the broker's Receive Maximum (see `verimqtt_model::quota`) or a PUBREC for
/// an id no flight uses (`verimqtt_model::hostile`).
fn injected(events: &[TraceEvent], kind: PacketKind) -> u64 {
    let injected = |e: &&TraceEvent| matches!(&e.event, Event::PacketInjected { packet, .. } if packet.kind == kind);
    events.iter().filter(injected).count() as u64
}

/// Broker restarts the trace logs: the model restarts its broker no more often than that.
fn restarts(events: &[TraceEvent]) -> u64 {
    events.iter().filter(|e| matches!(e.event, Event::BrokerRestarted)).count() as u64
}

/// The model's subscriptions: the trace's first filter (which matches its one topic) at the QoS
/// it asks for, so copies are downgraded as the broker must; topic 0 at QoS 2 if nobody
/// subscribes.
fn model_subscriptions(values: &Values) -> Result<Vec<Vec<FilterQos>>, MappingError> {
    match &values.subscription {
        Some(first) => Ok(vec![vec![model_filter(first, Filter::Topic(0))?]]),
        None => Ok(routing::one_topic_at_qos2()),
    }
}

/// The filter a second SUBSCRIBE adds, if any: the first's again (its QoS replaced), or
/// another that matches the one topic, which the model's wildcard stands for (every message
/// goes on topic 0, so both filters match each).
fn model_added_subscriptions(values: &Values) -> Result<Vec<Vec<FilterQos>>, MappingError> {
    let Some(added) = &values.added else {
        return Ok(Vec::new());
    };
    let replaces = values.subscription.as_ref().is_some_and(|first| first.filter == added.filter);
    let filter = if replaces { Filter::Topic(0) } else { Filter::Wildcard };
    Ok(vec![vec![model_filter(added, filter)?]])
}

fn model_filter(requested: &Requested, model: Filter) -> Result<FilterQos, MappingError> {
    let Requested { filter, qos: level, retain } = requested;
    let qos = Qos::from_level(*level).ok_or_else(|| MappingError(format!("{filter:?} asks for QoS {level}")))?;
    Ok(FilterQos { retain: *retain, ..FilterQos::new(model, qos) })
}

/// A SUBSCRIBE's filter as the mapping shows it: with its retain options when not the defaults.
fn requested_text(requested: &Requested) -> String {
    let Requested { filter, qos, retain } = requested;
    let options = if *retain == RetainOptions::DEFAULT { String::new() } else { format!(", {retain:?}") };
    format!("{filter:?} at qos {qos}{options}")
}

/// How many times a client closes its connection after sending DISCONNECT.
fn client_disconnects(events: &[TraceEvent], clients: &[Node]) -> u64 {
    let disconnects = |e: &&TraceEvent| {
        clients.contains(&e.node)
            && matches!(e.event, Event::ConnectionClosed { reason: CloseReason::Disconnected, .. })
    };
    events.iter().filter(disconnects).count() as u64
}

/// How many packets of `kind` the clients send.
fn sent_by_clients(events: &[TraceEvent], clients: &[Node], kind: PacketKind) -> u64 {
    let sent = |e: &&TraceEvent| {
        clients.contains(&e.node) && matches!(&e.event, Event::PacketSent { packet, .. } if packet.kind == kind)
    };
    events.iter().filter(sent).count() as u64
}

/// Whether a client sends a DISCONNECT with reason 0x04, Disconnect with Will Message (5.0).
fn disconnects_with_will(events: &[TraceEvent], clients: &[Node]) -> bool {
    events.iter().any(|e| {
        clients.contains(&e.node)
            && matches!(&e.event, Event::PacketSent { packet, .. }
                if packet.kind == PacketKind::Disconnect && packet.reason_code == Some(reason::DISCONNECT_WITH_WILL))
    })
}
