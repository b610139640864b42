//! Probe traces (`traces/probe-corpus/`, recorded against verimqtt's broker through the
//! probe's proxy) replayed against the specification broker, from the wire alone.

use std::path::PathBuf;
use verimqtt_model::spec_broker::probe::{ProbeVerdict, check_probe_trace};
use verimqtt_spec::trace::{self, TraceEvent};

/// The probe's keep alive monitor allows 1,500 ms past 1.5 x keep alive; so does this.
const TOLERANCE_MS: u64 = 1500;

fn load(name: &str) -> Vec<TraceEvent> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../traces/probe-corpus").join(format!("{name}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    trace::read_trace(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const CORPUS: [&str; 2] = ["resend_to_a_persistent_subscriber", "will_after_a_reset"];

#[test]
fn verimqtts_recorded_probe_traces_refine_the_spec_broker() {
    for name in CORPUS {
        let verdict = check_probe_trace(&load(name), TOLERANCE_MS).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!("{name}: {verdict:?}");
        assert!(matches!(verdict, ProbeVerdict::Refines { events } if events > 20), "{name}: {verdict:?}");
    }
}

/// The index of the first event that is a packet the proxy passed `to` a client or the
/// broker, of `kind`, carrying `payload` if given.
fn find(trace: &[TraceEvent], to: trace::End, kind: trace::PacketKind, payload: Option<&str>) -> usize {
    trace
        .iter()
        .position(|e| match &e.event {
            trace::Event::Forwarded { to: t, packet, .. } => {
                *t == to && packet.kind == kind && (payload.is_none() || packet.payload.as_deref() == payload)
            }
            _ => false,
        })
        .unwrap_or_else(|| panic!("no {kind:?} to {to:?} with {payload:?}"))
}

fn packet_mut(event: &mut TraceEvent) -> &mut trace::PacketInfo {
    match &mut event.event {
        trace::Event::Forwarded { packet, .. } | trace::Event::PacketSent { packet, .. } => packet,
        other => panic!("not a packet: {other:?}"),
    }
}

fn rejected(name: &str, trace: &[TraceEvent]) -> usize {
    match check_probe_trace(trace, TOLERANCE_MS).unwrap_or_else(|e| panic!("{name}: {e}")) {
        ProbeVerdict::Rejected { index, event } => {
            eprintln!("{name}: rejected at {index}: {event:?}");
            index
        }
        verdict => panic!("{name}: {verdict:?}"),
    }
}

const RESEND: &str = "resend_to_a_persistent_subscriber";

/// The resend of m0 after the subscriber's session is resumed.
fn resend_of_m0(trace: &[TraceEvent]) -> usize {
    trace
        .iter()
        .position(|e| matches!(&e.event, trace::Event::Forwarded { packet, .. } if packet.payload.as_deref() == Some("m0") && packet.dup == Some(true)))
        .unwrap_or_else(|| panic!("m0 is never resent"))
}

/// The CONNACK that resumes the subscriber's session.
fn resuming_connack(trace: &[TraceEvent]) -> usize {
    trace
        .iter()
        .position(
            |e| matches!(&e.event, trace::Event::Forwarded { packet, .. } if packet.session_present == Some(true)),
        )
        .unwrap_or_else(|| panic!("no session is resumed"))
}

#[test]
fn a_resend_with_dup_0_is_rejected() {
    let mut trace = load(RESEND);
    let resend = resend_of_m0(&trace);
    assert_eq!(packet_mut(&mut trace[resend]).dup, Some(true));
    packet_mut(&mut trace[resend]).dup = Some(false);
    assert_eq!(rejected("dup 0", &trace), resend);
}

#[test]
fn session_present_0_on_a_resumed_session_is_rejected() {
    let mut trace = load(RESEND);
    let resumed = resuming_connack(&trace);
    let connack = packet_mut(&mut trace[resumed]);
    assert_eq!((connack.kind, connack.session_present), (trace::PacketKind::Connack, Some(true)));
    connack.session_present = Some(false);
    assert_eq!(rejected("session present 0", &trace), resumed);
}

#[test]
fn a_new_message_before_the_resend_of_an_earlier_one_of_its_topic_and_qos_is_rejected() {
    let mut trace = load(RESEND);
    let resend = resend_of_m0(&trace);
    let m2 = resend + find(&trace[resend..], trace::End::Client, trace::PacketKind::Publish, Some("m2"));
    let (m0_packet, m2_packet) = (packet_mut(&mut trace[resend]).clone(), packet_mut(&mut trace[m2]).clone());
    *packet_mut(&mut trace[resend]) = m2_packet;
    *packet_mut(&mut trace[m2]) = m0_packet;
    assert_eq!(rejected("m2 before m0", &trace), resend);
}

#[test]
fn a_keep_alive_close_before_one_and_a_half_keep_alives_is_rejected() {
    let mut trace = load(RESEND);
    for event in &mut trace {
        if let trace::Event::Forwarded { packet, .. } | trace::Event::PacketSent { packet, .. } = &mut event.event
            && packet.kind == trace::PacketKind::Connect
        {
            packet.keep_alive = Some(2);
        }
    }
    let index = rejected("keep alive 2 s, close at 1.5 s", &trace);
    assert!(
        matches!(&trace[index].event, trace::Event::Dropped { packet, .. } if packet.kind == trace::PacketKind::Disconnect)
    );
}

#[test]
fn a_silent_connection_never_closed_is_rejected_once_the_tolerance_passed() {
    let mut trace = load(RESEND);
    trace.retain(|e| {
        !matches!(&e.event, trace::Event::BrokerClosed { .. })
            && !matches!(&e.event, trace::Event::Dropped { packet, .. } if packet.kind == trace::PacketKind::Disconnect)
    });
    let index = rejected("never closed", &trace);
    // 1.5 x 1 s of silence and 1.5 s of tolerance after the subscriber's last packet.
    assert!(trace[index].time_ms >= 3000, "{}", trace[index].time_ms);
}

#[test]
fn a_qos0_message_forwarded_twice_is_rejected() {
    let mut trace = load("will_after_a_reset");
    let m0 = find(&trace, trace::End::Client, trace::PacketKind::Publish, Some("m0"));
    let copy = trace[m0].clone();
    trace.insert(m0 + 1, copy);
    assert_eq!(rejected("m0 twice", &trace), m0 + 1);
}

/// What the spec broker's configuration cannot express is an error, never a verdict.
#[test]
fn a_refused_subscription_is_outside_the_spec_broker() {
    let mut trace = load("will_after_a_reset");
    let suback = find(&trace, trace::End::Client, trace::PacketKind::Suback, None);
    packet_mut(&mut trace[suback]).reason_codes = Some(vec![0x80]);
    let error = check_probe_trace(&trace, TOLERANCE_MS).expect_err("outside");
    assert!(error.contains("outside the spec broker: a refused subscription"), "{error}");
}

/// A filter without wildcards names a topic even if nothing is published on it: a second one
/// in the subscriber's SUBSCRIBE becomes the model's second topic, and the trace still refines.
#[test]
fn a_filter_on_a_topic_nobody_publishes_to_is_a_topic() {
    let mut trace = load("will_after_a_reset");
    for event in &mut trace {
        if let trace::Event::Forwarded { packet, .. } | trace::Event::PacketSent { packet, .. } = &mut event.event
            && let Some(filters) = &mut packet.filters
        {
            let mut unused = filters[0].clone();
            unused.filter = format!("{}-unused", unused.filter);
            filters.push(unused);
        }
    }
    let verdict = check_probe_trace(&trace, TOLERANCE_MS).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(verdict, ProbeVerdict::Refines { .. }), "{verdict:?}");
}

/// Generated scenario 116 against verimqtt's broker (5.0): it closes a half-open connection
/// for keep alive with DISCONNECT 0x8D and publishes the connection's will, which reaches the
/// subscriber before the proxy sees the close. The broker's DISCONNECT closes its end.
#[test]
fn a_will_published_between_the_brokers_disconnect_and_its_close_refines() {
    let trace = load("seed_116_will_before_the_close");
    let disconnect = trace
        .iter()
        .position(|e| matches!(&e.event, trace::Event::Dropped { packet, .. } if packet.kind == trace::PacketKind::Disconnect))
        .unwrap_or_else(|| panic!("no DISCONNECT of the broker"));
    let will = find(&trace, trace::End::Client, trace::PacketKind::Publish, Some("will-c1"));
    let closed = trace.iter().rposition(|e| matches!(e.event, trace::Event::BrokerClosed { .. })).unwrap_or(0);
    assert!(disconnect < will && will < closed, "{disconnect} {will} {closed}");
    let verdict = check_probe_trace(&trace, TOLERANCE_MS).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(verdict, ProbeVerdict::Refines { .. }), "{verdict:?}");
}

/// A trace whose client sends a CONNECT on a connection it never opened (a damaged trace)
/// is an error, never a panic.
#[test]
fn a_connect_on_no_opened_connection_is_outside_the_spec_broker() {
    let mut trace = load("will_after_a_reset");
    trace.retain(|e| !(e.node.0 == "c0" && matches!(e.event, trace::Event::ConnectionOpened { .. })));
    let error = check_probe_trace(&trace, TOLERANCE_MS).expect_err("outside");
    assert!(error.contains("c0 connects on no connection it opened"), "{error}");
}

/// Every packet of the trace, as the clients and the proxy logged it.
fn packets_mut(trace: &mut [TraceEvent]) -> impl Iterator<Item = &mut trace::PacketInfo> {
    trace.iter_mut().filter_map(|e| match &mut e.event {
        trace::Event::Forwarded { packet, .. }
        | trace::Event::Dropped { packet, .. }
        | trace::Event::PacketSent { packet, .. }
        | trace::Event::PacketReceived { packet, .. } => Some(packet),
        _ => None,
    })
}

/// Packet ids are renamed one to one per client, so a broker that draws its ids from all of
/// 1 to 65,535 (aedes) is judged as one that counts from 1: the trace with every id moved
/// past 255 still refines, and with a resend's DUP cleared is still rejected there.
#[test]
fn packet_ids_above_255_are_judged_like_small_ones() {
    let mut trace = load(RESEND);
    packets_mut(&mut trace).filter_map(|p| p.packet_id.as_mut()).for_each(|id| *id += 40_000);
    let verdict = check_probe_trace(&trace, TOLERANCE_MS).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(verdict, ProbeVerdict::Refines { .. }), "{verdict:?}");
    let resend = resend_of_m0(&trace);
    packet_mut(&mut trace[resend]).dup = Some(false);
    assert_eq!(rejected("dup 0, large ids", &trace), resend);
}

/// A message no client of the run published (amqtt sent other runs' retained messages) is
/// judged, and rejected where the broker sends it.
#[test]
fn a_payload_no_client_published_is_rejected() {
    let mut trace = load("will_after_a_reset");
    let m0 = find(&trace, trace::End::Client, trace::PacketKind::Publish, Some("m0"));
    packet_mut(&mut trace[m0]).payload = Some("another run's".to_string());
    assert_eq!(rejected("unpublished payload", &trace), m0);
}

/// 5.0: a client's CONNECTs may differ in session kind. Without a Session Expiry Interval in
/// the subscriber's first CONNECT its session ends with that connection, so the Session
/// Present 1 that later resumes it is rejected; the recorded trace, where both CONNECTs ask
/// for a session that never expires, refines (above).
#[test]
fn a_session_that_ended_with_its_connection_cannot_be_resumed() {
    let mut trace = load(RESEND);
    let first = trace
        .iter()
        .find_map(|e| match &e.event {
            trace::Event::Forwarded { conn, packet, .. } if packet.session_expiry.is_some() => Some(*conn),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no CONNECT with a Session Expiry Interval"));
    for event in &mut trace {
        if let trace::Event::Forwarded { conn, packet, .. } | trace::Event::PacketSent { conn, packet } =
            &mut event.event
            && *conn == first
            && packet.kind == trace::PacketKind::Connect
        {
            packet.session_expiry = None;
        }
    }
    let resumed = resuming_connack(&trace);
    assert_eq!(rejected("session ended with its connection", &trace), resumed);
}

/// Generated scenario 520 against verimqtt's broker (3.1.1): it closes c2's half-open
/// connection for keep alive and publishes its will in one step; the proxy sees the will reach
/// c1 before it sees the close. A close seen within a tick after its client's will is taken
/// to come first.
#[test]
fn a_will_seen_before_the_close_of_its_connection_refines() {
    let trace = load("seed_520_will_seen_before_the_close");
    let will = find(&trace, trace::End::Client, trace::PacketKind::Publish, Some("will-c2"));
    let closed = trace.iter().rposition(|e| matches!(e.event, trace::Event::BrokerClosed { .. })).unwrap_or(0);
    assert!(will < closed, "{will} {closed}");
    let verdict = check_probe_trace(&trace, TOLERANCE_MS).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(verdict, ProbeVerdict::Refines { .. }), "{verdict:?}");
    // Without its close the will is published while the connection lives: rejected.
    let mut unclosed = trace.clone();
    unclosed.remove(closed);
    assert_eq!(rejected("a will of a live connection", &unclosed), will);
}
