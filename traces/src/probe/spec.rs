//! The specification broker's verdict on a probe run: the run's trace replayed, from the wire
//! alone, against the model's broker that makes none of the choices MQTT leaves open
//! (`verimqtt_model::spec_broker`, whose `probe` module maps the trace; model/README.md says
//! what it maps and where it is stricter than MQTT).
//!
//! A rejection is an event no state of a broker following MQTT explains, as far as the spec
//! broker models MQTT. Where the spec broker is knowingly stricter than MQTT (model/README.md,
//! "Stricter than MQTT"), a rejection at an event of that kind is reported as such, not as a
//! violation: a CONNACK with Session Present 0 where the spec broker still holds the session
//! (a server may discard a session by its own policy), a close or a server DISCONNECT other
//! than 0x8D (keep alive) or 0x8E (takeover) (a server may close for reasons the spec broker
//! does not model, and a 3.1.1 broker closes without saying why), a 3.1.1 resend on the
//! connection that already carried the packet, and a packet the broker read (the spec
//! broker's inputs are those of the model's clients).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use verimqtt_model::packet::Packet;
use verimqtt_model::packet::reason::{KEEP_ALIVE_TIMEOUT, SESSION_TAKEN_OVER};
use verimqtt_model::spec_broker::probe::{ProbeVerdict, check_probe_trace};
use verimqtt_model::spec_broker::{Event as SpecEvent, Input};
use verimqtt_spec::trace::{End, Event, Fault, PacketKind, TraceEvent};

use super::monitors::TOLERANCE_MS;
use super::monitors::view::View;
use crate::check::{conn_of, describe};

/// The spec broker's verdict on one trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecVerdict {
    /// Every broker event (packets, closes, 100 ms ticks) is one a broker following MQTT shows.
    Refines { events: usize },
    /// No spec broker state explains trace event `index`: a violation of MQTT as the spec
    /// broker models it.
    /// `shows`: the trace events a diagram of it shows.
    Rejected { index: usize, what: String, shows: Vec<usize> },
    /// No spec broker state explains trace event `index`, but the event is of a kind where the
    /// spec broker is stricter than MQTT (`limit`): not a violation of MQTT.
    Stricter { index: usize, what: String, limit: &'static str, shows: Vec<usize> },
    /// The trace's configuration is outside what the spec broker covers (`why`).
    NotJudged { why: String },
}

impl SpecVerdict {
    /// How the verdict reads in `verdicts.json` and the table.
    pub fn name(&self) -> &'static str {
        match self {
            SpecVerdict::Refines { .. } => "refines",
            SpecVerdict::Rejected { .. } => "rejected",
            SpecVerdict::Stricter { .. } => "stricter than MQTT",
            SpecVerdict::NotJudged { .. } => "not judged",
        }
    }
}

/// A run's verdict and how long it took to reach.
#[derive(Debug, Clone)]
pub struct SpecJudgement {
    pub verdict: SpecVerdict,
    pub elapsed: Duration,
}

/// Judges `trace` with the spec broker, allowing the keep alive monitor's tolerance past a
/// timer's due time.
pub fn judge(trace: &[TraceEvent]) -> SpecJudgement {
    let started = Instant::now();
    let verdict = match check_probe_trace(trace, TOLERANCE_MS) {
        Err(why) => SpecVerdict::NotJudged { why },
        Ok(ProbeVerdict::Refines { events }) => SpecVerdict::Refines { events },
        Ok(ProbeVerdict::Rejected { index, event }) => {
            let what = what_was_rejected(trace, index, &event);
            let shows = rejection_events(trace, index, event == SpecEvent::Tick);
            match stricter_than_mqtt(trace, index, &event) {
                Some(limit) => SpecVerdict::Stricter { index, what, limit, shows },
                None => SpecVerdict::Rejected { index, what, shows },
            }
        }
    };
    SpecJudgement { verdict, elapsed: started.elapsed() }
}

/// The rejected event in the trace's words.
fn what_was_rejected(trace: &[TraceEvent], index: usize, event: &SpecEvent) -> String {
    let Some(at) = trace.get(index) else { return format!("{event:?}") };
    match event {
        SpecEvent::Tick => format!(
            "by {} ms a close (keep alive), a will or a session's end was overdue by more than {TOLERANCE_MS} ms",
            at.time_ms
        ),
        SpecEvent::Received { input: Input::Fin, .. } => {
            format!("the broker read the client's close ({})", describe(at))
        }
        SpecEvent::Closed { .. } if !matches!(at.event, Event::BrokerClosed { .. }) => {
            format!("the broker's close after the client's ({})", describe(at))
        }
        _ => match &at.event {
            Event::Forwarded { packet, .. } | Event::Dropped { packet, .. }
                if packet.kind == PacketKind::Publish && !published_in_the_run(trace, packet.payload.as_deref()) =>
            {
                format!("{}: a payload no client of the run published", describe(at))
            }
            _ => describe(at),
        },
    }
}

/// Whether a client of the run published `payload`, or sent it as its will.
fn published_in_the_run(trace: &[TraceEvent], payload: Option<&str>) -> bool {
    trace.iter().any(|e| match &e.event {
        Event::PublishRequested { payload: published, .. } => Some(published.as_str()) == payload,
        Event::PacketSent { packet, .. } => packet.kind == PacketKind::Connect && packet.payload.as_deref() == payload,
        _ => false,
    })
}

/// The limit of the spec broker that a rejection of `event` (trace event `index`) falls under,
/// if any.
fn stricter_than_mqtt(trace: &[TraceEvent], index: usize, event: &SpecEvent) -> Option<&'static str> {
    match event {
        SpecEvent::Received { .. } => {
            Some("a packet or close the broker read: the spec broker's inputs are those of the model's clients")
        }
        SpecEvent::Sent { packet: Packet::ConnAck { session_present: false, .. }, .. } => Some(
            "Session Present 0 where the spec broker holds the session: a server may discard a session by its own \
             policy (the session_present monitor calls it a deviation)",
        ),
        // A DISCONNECT that names keep alive (0x8D) or a takeover (0x8E) as its reason is
        // judged by the rules of that reason.
        SpecEvent::Sent {
            packet: Packet::Disconnect, reason: Some(KEEP_ALIVE_TIMEOUT | SESSION_TAKEN_OVER), ..
        } => None,
        SpecEvent::Closed { .. } | SpecEvent::Sent { packet: Packet::Disconnect, .. } => Some(
            "a close or server DISCONNECT the spec broker does not explain: it models closes after the client's \
             close or DISCONNECT, a takeover, keep alive and a missing CONNECT only",
        ),
        SpecEvent::Sent { packet: Packet::Publish { dup: true, .. } | Packet::PubRel(_), .. }
            if is_v311(trace) && resent_on_its_connection(trace, index) =>
        {
            Some("a resend on the connection that already carried the packet, which 3.1.1 allows")
        }
        SpecEvent::Sent { packet: Packet::Publish { dup: true, .. }, .. }
            if previous_connection_unwatched(trace, index) =>
        {
            Some(
                "a resend whose first transmission the proxy cannot have seen: the client's previous connection \
                 ended by its own close or a reset, after which the proxy no longer reads what the broker writes on it",
            )
        }
        SpecEvent::Sent { packet: Packet::Publish { .. }, .. } if unsubscribe_unanswered(trace, index) => Some(
            "a copy sent before the broker answered the client's UNSUBSCRIBE: the broker reads each connection \
             in its own order, so it may have routed a PUBLISH the proxy passed on another connection after the \
             UNSUBSCRIBE before it read the UNSUBSCRIBE",
        ),
        _ => None,
    }
}

/// Whether the connection the client of trace event `index` used before that event's had
/// ended, before it, by a reset or the client's own close (no fault between): from then on the
/// proxy no longer reads what the broker writes on it, so a first transmission there is never
/// seen.
fn previous_connection_unwatched(trace: &[TraceEvent], index: usize) -> bool {
    let view = View::of(trace);
    let Some(conn) = trace.get(index).and_then(|at| conn_of(&at.event)).and_then(|conn| view.conns.get(&conn)) else {
        return false;
    };
    let previous = view.conns.values().rev().find(|other| other.client == conn.client && other.id < conn.id);
    previous.and_then(|previous| view.broker_told_of_end(previous)).is_some_and(|told| told < index)
}

/// Whether an UNSUBSCRIBE reached the broker on the connection of trace event `index` before it,
/// and the broker's UNSUBACK did not come before it.
fn unsubscribe_unanswered(trace: &[TraceEvent], index: usize) -> bool {
    let Some(conn) = trace.get(index).and_then(|at| conn_of(&at.event)) else { return false };
    let mut unanswered = false;
    for e in &trace[..index] {
        match &e.event {
            Event::Forwarded { conn: c, to: End::Broker, packet }
                if *c == conn && packet.kind == PacketKind::Unsubscribe =>
            {
                unanswered = true;
            }
            Event::Forwarded { conn: c, to: End::Client, packet }
            | Event::Dropped { conn: c, to: End::Client, packet }
                if *c == conn && packet.kind == PacketKind::Unsuback =>
            {
                unanswered = false;
            }
            _ => {}
        }
    }
    unanswered
}

fn is_v311(trace: &[TraceEvent]) -> bool {
    trace.iter().any(|e| match &e.event {
        Event::PacketSent { packet, .. } => packet.kind == PacketKind::Connect && packet.protocol_level == Some(4),
        _ => false,
    })
}

/// Whether trace event `index` is a packet to a client that its connection already carried
/// (same kind and packet id).
fn resent_on_its_connection(trace: &[TraceEvent], index: usize) -> bool {
    let to_client = |e: &TraceEvent| match &e.event {
        Event::Forwarded { conn, to: End::Client, packet } | Event::Dropped { conn, to: End::Client, packet } => {
            Some((*conn, packet.kind, packet.packet_id))
        }
        _ => None,
    };
    let Some(resent) = trace.get(index).and_then(to_client) else { return false };
    trace[..index].iter().filter_map(to_client).any(|earlier| earlier == resent)
}

/// The trace events a diagram of a rejection at `index` shows: the opening of its connection,
/// the last event on it and `index`. A rejection at a tick (a timer overdue) is shown on the
/// connection the broker still holds open that has been silent longest.
fn rejection_events(trace: &[TraceEvent], index: usize, at_tick: bool) -> Vec<usize> {
    if index >= trace.len() {
        return Vec::new();
    }
    let before = &trace[..index];
    let conn = if at_tick { silent_longest(before) } else { trace.get(index).and_then(|at| conn_of(&at.event)) };
    let Some(conn) = conn else { return vec![index] };
    let opened = before.iter().position(|e| matches!(e.event, Event::ConnectionOpened { conn: c, .. } if c == conn));
    let last_on_it = before.iter().rposition(|e| conn_of(&e.event) == Some(conn));
    [opened, last_on_it, Some(index)].into_iter().flatten().collect()
}

/// Of the connections `trace` opened that the broker still holds (not closed by it, reset, nor
/// closed by a client with no fault between them), the one whose last packet to the broker (or opening)
/// is earliest.
fn silent_longest(trace: &[TraceEvent]) -> Option<u64> {
    let mut heard: BTreeMap<u64, u64> = BTreeMap::new();
    let mut severed = BTreeSet::new();
    for e in trace {
        match e.event {
            Event::ConnectionOpened { conn, .. } | Event::Forwarded { conn, to: End::Broker, .. } => {
                heard.insert(conn, e.time_ms);
            }
            // A reset reaches the broker as a close; the other faults leave its end open.
            Event::FaultInjected { conn, fault: Fault::Reset } => {
                heard.remove(&conn);
            }
            Event::FaultInjected { conn, .. } => {
                severed.insert(conn);
            }
            Event::ConnectionClosed { conn, .. } if !e.node.is_network() && !severed.contains(&conn) => {
                heard.remove(&conn);
            }
            Event::BrokerClosed { conn } => {
                heard.remove(&conn);
            }
            _ => {}
        }
    }
    heard.into_iter().min_by_key(|&(_, time)| time).map(|(conn, _)| conn)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use verimqtt_spec::trace::{PacketInfo, read_trace};

    use super::*;

    const RESEND: &str = "resend_to_a_persistent_subscriber";
    const WILL: &str = "will_after_a_reset";

    fn load(name: &str) -> Vec<TraceEvent> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probe-corpus").join(format!("{name}.jsonl"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        read_trace(&text).unwrap_or_else(|error| panic!("{name}: {error}"))
    }

    /// The first packet the proxy passed or dropped for a client (the broker sent both) that
    /// `is` picks.
    fn to_client(trace: &[TraceEvent], is: impl Fn(&PacketInfo) -> bool) -> usize {
        trace
            .iter()
            .position(|e| {
                matches!(&e.event, Event::Forwarded { to: End::Client, packet, .. }
                    | Event::Dropped { to: End::Client, packet, .. } if is(packet))
            })
            .unwrap_or_else(|| panic!("no such packet to a client"))
    }

    fn packet_mut(event: &mut TraceEvent) -> &mut PacketInfo {
        match &mut event.event {
            Event::Forwarded { packet, .. } | Event::Dropped { packet, .. } | Event::PacketSent { packet, .. } => {
                packet
            }
            other => panic!("not a packet: {other:?}"),
        }
    }

    #[test]
    fn verimqtts_recorded_probe_traces_refine_the_spec_broker() {
        for name in [RESEND, WILL] {
            let verdict = judge(&load(name)).verdict;
            assert!(matches!(verdict, SpecVerdict::Refines { events } if events > 20), "{name}: {verdict:?}");
        }
    }

    #[test]
    fn a_resend_with_dup_0_is_a_rejection() {
        let mut trace = load(RESEND);
        let resend = to_client(&trace, |p| p.payload.as_deref() == Some("m0") && p.dup == Some(true));
        packet_mut(&mut trace[resend]).dup = Some(false);
        let verdict = judge(&trace).verdict;
        assert!(
            matches!(&verdict, SpecVerdict::Rejected { index, what, .. } if *index == resend && what.contains("PUBLISH")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_copy_of_a_payload_no_client_published_is_a_rejection_that_says_so() {
        let mut trace = load(WILL);
        let m0 = to_client(&trace, |p| p.kind == PacketKind::Publish && p.payload.as_deref() == Some("m0"));
        packet_mut(&mut trace[m0]).payload = Some("another run's".to_string());
        let verdict = judge(&trace).verdict;
        assert!(
            matches!(&verdict, SpecVerdict::Rejected { index, what, .. }
                if *index == m0 && what.ends_with("a payload no client of the run published")),
            "{verdict:?}"
        );
    }

    /// Generated scenario 521 against verimqtt's broker (3.1.1): c1's connection is reset while
    /// the broker sends it m0, and the resumed session resends m0 with DUP 1, a first
    /// transmission the proxy never saw. Without the reset (a cut instead, whose broker end the
    /// proxy still reads) the same resend is a rejection.
    #[test]
    fn a_resend_after_a_reset_is_where_the_spec_broker_is_stricter() {
        let mut trace = load("seed_521_resend_after_a_reset");
        let verdict = judge(&trace).verdict;
        assert!(
            matches!(&verdict, SpecVerdict::Stricter { limit, .. } if limit.contains("a resend whose first transmission")),
            "{verdict:?}"
        );
        for event in &mut trace {
            if let Event::FaultInjected { fault, .. } = &mut event.event
                && *fault == Fault::Reset
            {
                *fault = Fault::Cut;
            }
        }
        trace.retain(|e| !matches!(e.event, Event::ConnectionClosed { conn: 2, .. }));
        let verdict = judge(&trace).verdict;
        assert!(
            matches!(&verdict, SpecVerdict::Rejected { what, .. } if what.contains("payload \"m0\", qos 1, id 1, dup")),
            "{verdict:?}"
        );
    }

    /// Generated scenario 525 against verimqtt's broker: c1's UNSUBSCRIBE reaches the broker just
    /// before c0's PUBLISH, on another connection; the broker routes m0 to c1 first and answers
    /// the UNSUBSCRIBE after. Once the UNSUBACK came, such a copy is a rejection.
    #[test]
    fn a_copy_before_the_unsuback_is_where_the_spec_broker_is_stricter() {
        let mut trace = load("seed_525_copy_before_the_unsuback");
        let copy = to_client(&trace, |p| p.payload.as_deref() == Some("m0"));
        let verdict = judge(&trace).verdict;
        assert!(
            matches!(&verdict, SpecVerdict::Stricter { index, limit, .. }
                if *index == copy && limit.contains("before the broker answered the client's UNSUBSCRIBE")),
            "{verdict:?}"
        );
        let unsuback = to_client(&trace, |p| p.kind == PacketKind::Unsuback);
        let answer = trace.remove(unsuback);
        trace.insert(copy, answer);
        let verdict = judge(&trace).verdict;
        assert!(matches!(&verdict, SpecVerdict::Rejected { index, .. } if *index == copy + 1), "{verdict:?}");
    }

    #[test]
    fn an_early_keep_alive_disconnect_is_a_rejection() {
        let mut trace = load(RESEND);
        for event in &mut trace {
            if let Event::PacketSent { packet, .. } | Event::Forwarded { packet, .. } = &mut event.event
                && packet.kind == PacketKind::Connect
            {
                packet.keep_alive = Some(2);
            }
        }
        let verdict = judge(&trace).verdict;
        assert!(matches!(&verdict, SpecVerdict::Rejected { what, .. } if what.contains("DISCONNECT")), "{verdict:?}");
    }

    /// A server may discard a session by its own policy: the spec broker, which keeps it,
    /// says so rather than calling the CONNACK a violation.
    #[test]
    fn session_present_0_on_a_resumed_session_is_where_the_spec_broker_is_stricter() {
        let mut trace = load(RESEND);
        let resumed = to_client(&trace, |p| p.session_present == Some(true));
        packet_mut(&mut trace[resumed]).session_present = Some(false);
        let verdict = judge(&trace).verdict;
        assert!(
            matches!(&verdict, SpecVerdict::Stricter { index, limit, .. }
                if *index == resumed && limit.contains("discard a session")),
            "{verdict:?}"
        );
    }

    /// A close the spec broker does not explain (here the subscriber's connection closed at
    /// once, with no cause it models) is a limit of the spec broker, not a violation.
    #[test]
    fn an_unexplained_close_is_where_the_spec_broker_is_stricter() {
        let mut trace = load(WILL);
        let suback = to_client(&trace, |p| p.kind == PacketKind::Suback);
        let Event::Forwarded { conn, .. } = trace[suback].event else { unreachable!() };
        let close = TraceEvent { event: Event::BrokerClosed { conn }, ..trace[suback].clone() };
        trace.insert(suback + 1, close);
        let verdict = judge(&trace).verdict;
        assert!(
            matches!(&verdict, SpecVerdict::Stricter { index, limit, .. }
                if *index == suback + 1 && limit.contains("close")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_configuration_the_spec_broker_cannot_express_is_not_judged() {
        let mut trace = load(WILL);
        let suback = to_client(&trace, |p| p.kind == PacketKind::Suback);
        packet_mut(&mut trace[suback]).reason_codes = Some(vec![0x80]);
        let verdict = judge(&trace).verdict;
        assert!(
            matches!(&verdict, SpecVerdict::NotJudged { why } if why.contains("a refused subscription")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_diagram_of_a_rejection_starts_at_the_opening_of_its_connection() {
        let trace = load(WILL);
        let suback = to_client(&trace, |p| p.kind == PacketKind::Suback);
        let events = rejection_events(&trace, suback, false);
        assert!(matches!(trace[events[0]].event, Event::ConnectionOpened { .. }), "{events:?}");
        assert!(events.contains(&suback));
        assert!(rejection_events(&trace, trace.len(), false).is_empty());
    }

    /// A connection never closed is rejected at a tick; the diagram shows that connection, not
    /// the one of the event the tick came with.
    #[test]
    fn a_diagram_of_an_overdue_close_shows_the_silent_connection() {
        let mut trace = load(RESEND);
        trace.retain(|e| {
            !matches!(&e.event, Event::BrokerClosed { .. })
                && !matches!(&e.event, Event::Dropped { packet, .. } if packet.kind == PacketKind::Disconnect)
        });
        let SpecVerdict::Rejected { index, shows, .. } = judge(&trace).verdict else { panic!("not rejected") };
        let silent = shows.first().and_then(|&first| conn_of(&trace[first].event));
        let cut = trace[..index].iter().find_map(|e| match e.event {
            Event::FaultInjected { conn, .. } => Some(conn),
            _ => None,
        });
        assert!(silent.is_some() && silent == cut, "{silent:?} {cut:?}");
    }
}
