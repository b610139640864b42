//! Valid traces edited to contain classic bugs: the checker must accept the originals and
//! reject each edit with a message naming the step and the rule it breaks.

mod support;

use support::{BROKER, qos2_resent_after_cut, three_messages, valid_traces};
use verimqtt_spec::trace::{Event, PacketInfo, PacketKind, TraceEvent};
use verimqtt_traces::{CheckFailure, check_trace};

#[test]
fn unmutated_traces_are_accepted() {
    for (name, events) in valid_traces() {
        if let Err(failure) = check_trace(&events) {
            panic!("{name} rejected:\n{failure}");
        }
    }
}

/// The index of the first event of `node` for which `pick` holds.
fn position(events: &[TraceEvent], node: &str, pick: impl Fn(&Event) -> bool) -> usize {
    events.iter().position(|e| e.node.0 == node && pick(&e.event)).unwrap_or_else(|| panic!("no such event of {node}"))
}

/// Whether an event sends or receives a packet for which `pick` holds.
fn packet(pick: impl Fn(&PacketInfo) -> bool) -> impl Fn(&Event) -> bool {
    move |event| match event {
        Event::PacketSent { packet, .. } | Event::PacketReceived { packet, .. } => pick(packet),
        _ => false,
    }
}

fn payload_is(payload: &'static str) -> impl Fn(&PacketInfo) -> bool {
    move |p| p.payload.as_deref() == Some(payload)
}

/// Edits the packet of every event from `from` on that `pick` selects by connection and packet.
fn edit_packets(
    events: &mut [TraceEvent],
    from: usize,
    pick: impl Fn(u64, &PacketInfo) -> bool,
    edit: impl Fn(&mut PacketInfo),
) {
    for event in &mut events[from..] {
        if let Event::PacketSent { conn, packet } | Event::PacketReceived { conn, packet } = &mut event.event {
            if pick(*conn, packet) {
                edit(packet);
            }
        }
    }
}

/// Checks that `events` is rejected at `step` (1-based) and returns the report.
fn rejected_at(events: &[TraceEvent], step: usize) -> Box<CheckFailure> {
    let failure = match check_trace(events) {
        Ok(report) => panic!("the mutated trace was accepted: {report}"),
        Err(failure) => failure,
    };
    assert_eq!(failure.step, step, "rejected at another step:\n{failure}");
    let report = failure.to_string();
    assert!(report.starts_with(&format!("trace rejected at step {step}: ")), "{report}");
    failure
}

#[test]
fn resend_without_dup_breaks_dup_marks_resends() {
    let mut events = qos2_resent_after_cut(3000).events;
    let resend = position(&events, "pub", packet(|p| p.dup == Some(true)));
    edit_packets(&mut events, resend, |_, p| p.dup == Some(true), |p| p.dup = Some(false));
    let failure = rejected_at(&events, resend + 1);
    insta::assert_snapshot!(failure.rule.to_string());
}

#[test]
fn qos2_message_delivered_twice_breaks_qos2_not_duplicated() {
    let mut events = three_messages().events;
    let delivery = position(&events, "sub", |e| matches!(e, Event::MessageDelivered { qos: 2, .. }));
    events.insert(delivery + 1, events[delivery].clone());
    let failure = rejected_at(&events, delivery + 2);
    insta::assert_snapshot!(failure.rule.to_string());
}

/// `three_messages` with the broker acknowledging the first PUBLISH with packet id 7, and the
/// step at which that happens.
fn puback_for_unknown_id() -> (Vec<TraceEvent>, usize) {
    let mut events = three_messages().events;
    let puback = position(&events, BROKER, packet(|p| p.kind == PacketKind::Puback));
    edit_packets(&mut events[..puback + 2], puback, |_, p| p.kind == PacketKind::Puback, |p| p.packet_id = Some(7));
    (events, puback + 1)
}

#[test]
fn puback_for_an_unknown_packet_id_is_rejected() {
    let (events, step) = puback_for_unknown_id();
    insta::assert_snapshot!(rejected_at(&events, step).rule.to_string());
}

#[test]
fn keep_alive_close_too_early_breaks_keep_alive_not_early() {
    let events = qos2_resent_after_cut(2000).events;
    let close = position(&events, BROKER, |e| matches!(e, Event::TimerFired { .. }));
    let failure = rejected_at(&events, close + 1);
    insta::assert_snapshot!(failure.rule.to_string());
}

#[test]
fn message_that_was_never_published_is_rejected() {
    let mut events = three_messages().events;
    let delivery = position(&events, "sub", |e| matches!(e, Event::MessageDelivered { .. }));
    if let Event::MessageDelivered { payload, .. } = &mut events[delivery].event {
        *payload = "never published".into();
    }
    let failure = rejected_at(&events, delivery + 1);
    insta::assert_snapshot!(failure.rule.to_string());
}

#[test]
fn packet_id_reused_while_in_flight_breaks_packet_ids_unique() {
    let mut events = three_messages().events;
    let reuse = position(&events, "pub", packet(payload_is("m2")));
    // On the publisher's connection only: the broker's own ids towards the subscriber differ.
    edit_packets(&mut events, reuse, |conn, p| conn == 2 && p.packet_id == Some(2), |p| p.packet_id = Some(1));
    let failure = rejected_at(&events, reuse + 1);
    insta::assert_snapshot!(failure.rule.to_string());
}

#[test]
fn session_present_without_a_session_breaks_session_present_iff_session() {
    let mut events = three_messages().events;
    let connack = position(&events, BROKER, packet(|p| p.kind == PacketKind::Connack));
    edit_packets(
        &mut events[..connack + 2],
        connack,
        |_, p| p.kind == PacketKind::Connack,
        |p| {
            p.session_present = Some(true);
        },
    );
    let failure = rejected_at(&events, connack + 1);
    insta::assert_snapshot!(failure.rule.to_string());
}

#[test]
fn a_failure_report_shows_the_event_the_prefix_the_states_and_the_mapping() {
    let (events, step) = puback_for_unknown_id();
    insta::assert_snapshot!(rejected_at(&events, step).to_string());
}

/// A corpus trace recorded by the simulator.
fn corpus(name: &str) -> Vec<TraceEvent> {
    let path = verimqtt_traces::corpus::corpus_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    verimqtt_spec::trace::read_trace(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn corpus_resend_without_dup_breaks_dup_marks_resends() {
    let mut events = corpus("qos1_resend_with_dup_after_cut");
    let resend = position(&events, "c0", packet(|p| p.dup == Some(true)));
    edit_packets(&mut events, resend, |_, p| p.dup == Some(true), |p| p.dup = Some(false));
    let failure = rejected_at(&events, resend + 1);
    assert!(failure.rule.to_string().starts_with("breaks property dup_marks_resends"), "{failure}");
}

#[test]
fn corpus_qos2_message_delivered_twice_breaks_qos2_not_duplicated() {
    let mut events = corpus("qos2_redelivery_to_subscriber_after_cut");
    let delivery = position(&events, "c1", |e| matches!(e, Event::MessageDelivered { qos: 2, .. }));
    events.insert(delivery + 1, events[delivery].clone());
    let failure = rejected_at(&events, delivery + 2);
    assert!(failure.rule.to_string().starts_with("breaks property qos2_not_duplicated"), "{failure}");
}

#[test]
fn corpus_keep_alive_close_a_tick_early_breaks_keep_alive_not_early() {
    let mut events = corpus("broker_keep_alive_close_v5");
    let close = position(&events, BROKER, |e| matches!(e, Event::TimerFired { .. }));
    let ping = position(&events, "c0", packet(|p| p.kind == PacketKind::Pingreq));
    let mut moved: Vec<TraceEvent> = events.drain(close..).collect();
    for event in &mut moved {
        event.time_ms = events[ping].time_ms;
    }
    events.splice(ping + 1..ping + 1, moved);
    let failure = rejected_at(&events, ping + 2);
    assert!(failure.rule.to_string().starts_with("breaks property keep_alive_not_early"), "{failure}");
}
