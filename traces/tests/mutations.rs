//! Valid traces edited to contain classic bugs: the checker must accept the originals and
//! reject each edit with a message naming the step and the rule it breaks.

mod support;

use std::num::NonZeroU16;

use support::{BROKER, qos2_resent_after_cut, three_messages, valid_traces};
use verimqtt_proto::codec::{ProtocolVersion, QoS, RetainHandling};
use verimqtt_spec::trace::{Event, Node, PacketInfo, PacketKind, Timer, TraceEvent};
use verimqtt_traces::check::Rule;
use verimqtt_traces::sim::{ClientSpec, PayloadClaim, SessionKind, Step, TOPIC, connected, named_scenarios, simulate};
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

/// Whether an event sends a packet for which `pick` holds.
fn sent(pick: impl Fn(&PacketInfo) -> bool) -> impl Fn(&Event) -> bool {
    move |event| matches!(event, Event::PacketSent { packet, .. } if pick(packet))
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

// Strict validation (issue 17): each edit of a recorded trace is rejected with the field or
// the rule named.

/// `events` with every event `pick` selects moved to `time_ms`.
fn retimed(mut events: Vec<TraceEvent>, time_ms: u64, pick: impl Fn(&TraceEvent) -> bool) -> Vec<TraceEvent> {
    for event in events.iter_mut().filter(|e| pick(e)) {
        event.time_ms = time_ms;
    }
    events
}

fn rule_of(events: &[TraceEvent], step: usize) -> String {
    rejected_at(events, step).rule.to_string()
}

#[test]
fn a_dropped_fault_event_is_a_loss_without_a_fault() {
    let mut events = corpus("qos1_resend_with_dup_after_cut");
    let fault = position(&events, "network", |e| matches!(e, Event::FaultInjected { .. }));
    events.remove(fault);
    let failure = check_trace(&events).expect_err("a cut without its fault event is accepted");
    assert!(matches!(failure.rule, Rule::LossWithoutFault { conn: 1 }), "{failure}");
}

#[test]
fn a_changed_topic_is_rejected_naming_the_topic() {
    let mut events = corpus("qos1_v5");
    let publish = position(&events, "c0", packet(|p| p.kind == PacketKind::Publish));
    edit_packets(
        &mut events,
        publish,
        |conn, p| conn == 1 && p.kind == PacketKind::Publish,
        |p| {
            p.topic = Some("u".into());
        },
    );
    let rule = rule_of(&events, publish + 1);
    assert!(rule.starts_with("no model step allows this event: field topic differs"), "{rule}");
}

#[test]
fn a_flipped_retain_is_rejected_naming_retain() {
    let mut events = corpus("qos1_v311");
    let forward = position(&events, BROKER, sent(|p| p.kind == PacketKind::Publish));
    edit_packets(&mut events, forward, |_, p| p.kind == PacketKind::Publish, |p| p.retain = Some(true));
    let rule = rule_of(&events, forward + 1);
    assert!(rule.starts_with("no model step allows this event: field retain differs"), "{rule}");
}

#[test]
fn a_changed_reason_code_is_rejected_naming_the_reason_code() {
    // PUBACK 0x00 becomes 0x80 (unspecified error).
    let mut events = corpus("qos1_v5");
    let puback = position(&events, BROKER, packet(|p| p.kind == PacketKind::Puback));
    edit_packets(&mut events, puback, |_, p| p.kind == PacketKind::Puback, |p| p.reason_code = Some(0x80));
    let rule = rule_of(&events, puback + 1);
    assert!(rule.starts_with("no model step allows this event: field reason code differs"), "{rule}");
    // DISCONNECT 0x8D (keep alive timeout) becomes 0x8E (session taken over).
    let mut events = corpus("broker_keep_alive_close_v5");
    let disconnect = position(&events, BROKER, packet(|p| p.kind == PacketKind::Disconnect));
    edit_packets(&mut events, disconnect, |_, p| p.kind == PacketKind::Disconnect, |p| p.reason_code = Some(0x8e));
    let rule = rule_of(&events, disconnect + 1);
    assert!(rule.starts_with("no model step allows this event: field reason code differs"), "{rule}");
    // SUBACK grants QoS 1 instead of the QoS 2 asked for.
    let mut events = corpus("qos2_v311");
    let suback = position(&events, BROKER, packet(|p| p.kind == PacketKind::Suback));
    edit_packets(&mut events, suback, |_, p| p.kind == PacketKind::Suback, |p| p.reason_codes = Some(vec![1]));
    let rule = rule_of(&events, suback + 1);
    assert!(rule.starts_with("no model step allows this event: field reason codes differs"), "{rule}");
}

#[test]
fn a_missing_field_is_an_error_not_a_default() {
    let mut events = corpus("qos1_v311");
    let forward = position(&events, BROKER, sent(|p| p.kind == PacketKind::Publish));
    edit_packets(&mut events, forward, |_, p| p.kind == PacketKind::Publish, |p| p.dup = None);
    let rule = rule_of(&events, forward + 1);
    assert!(rule.contains("field dup differs"), "{rule}");
    assert!(rejected_at(&events, forward + 1).to_string().contains("dup: trace missing, model false"));
}

/// The broker's keep alive close (its timer, DISCONNECT and close, at 3000 ms = 1.5 x 2 s)
/// moved to `time_ms`.
fn broker_closes_at(time_ms: u64) -> (Vec<TraceEvent>, usize) {
    let events = corpus("broker_keep_alive_close_v5");
    let timer = position(&events, BROKER, |e| matches!(e, Event::TimerFired { .. }));
    (retimed(events, time_ms, |e| e.node.0 == BROKER && e.time_ms == 3000), timer)
}

#[test]
fn a_keep_alive_close_before_one_and_a_half_keep_alives_is_rejected() {
    // 1.2 x and 1.45 x keep alive: a close the 1-second ticks of old could not tell apart.
    for time_ms in [2400, 2900] {
        let (events, timer) = broker_closes_at(time_ms);
        let mut events: Vec<TraceEvent> = events;
        events.sort_by_key(|e| e.time_ms);
        let step = events.iter().position(|e| e.node.0 == BROKER && e.time_ms == time_ms).unwrap_or(timer) + 1;
        let rule = rule_of(&events, step);
        assert!(rule.contains("too early: the model allows it from tick 30 on"), "{time_ms} ms: {rule}");
    }
}

#[test]
fn a_keep_alive_close_after_one_and_a_half_keep_alives_is_rejected() {
    let (events, timer) = broker_closes_at(3100);
    let rule = rule_of(&events, timer + 1);
    assert!(rule.contains("too late: the model allows it at tick 30 at the latest"), "{rule}");
}

#[test]
fn a_late_ping_is_rejected() {
    // The client pings 300 ms after a whole Keep Alive of silence.
    let events = corpus("keep_alive_ping_pingresp");
    let ping = position(&events, "c0", |e| matches!(e, Event::TimerFired { .. }));
    let events = retimed(events, 2300, |e| e.time_ms == 2000);
    let rule = rule_of(&events, ping + 1);
    assert!(rule.contains("too late: the model allows it at tick 20 at the latest"), "{rule}");
}

#[test]
fn an_early_abort_is_rejected() {
    // The client gives up 300 ms before 1.5 x Keep Alive without an answer.
    let events = corpus("keep_alive_abort_when_the_network_stalls");
    let abort = position(&events, "c0", |e| matches!(e, Event::TimerFired { timer: Timer::KeepAliveAbort }));
    let events = retimed(events, 2700, |e| e.node.0 == "c0" && e.time_ms == 3000);
    let rule = rule_of(&events, abort + 1);
    assert!(rule.starts_with("no model step allows this event"), "{rule}");
    assert!(rule.contains("too early"), "{rule}");
}

#[test]
fn a_trace_that_ends_owing_a_delivery_is_rejected_at_its_end() {
    // The subscriber never gets m0: its receipt, delivery and acknowledgement are cut off.
    let events = corpus("qos1_v311");
    let receipt = position(&events, "c1", packet(|p| p.kind == PacketKind::Publish));
    let events = &events[..receipt];
    let failure = check_trace(events).expect_err("a trace owing m0 is accepted");
    assert_eq!(failure.step, events.len() + 1, "{failure}");
    let rule = failure.rule.to_string();
    assert!(rule.contains("m0 is not delivered to c1") && rule.contains("packets still travel"), "{rule}");
}

#[test]
fn a_retained_copy_sent_without_retain_is_rejected_naming_retain() {
    let mut events = corpus("retained_message_to_late_subscriber");
    let copy = position(&events, BROKER, sent(|p| p.kind == PacketKind::Publish));
    edit_packets(&mut events, copy, |_, p| p.kind == PacketKind::Publish, |p| p.retain = Some(false));
    let rule = rule_of(&events, copy + 1);
    assert!(rule.starts_with("no model step allows this event: field retain differs"), "{rule}");
}

#[test]
fn a_retained_message_withheld_from_a_new_subscription_is_rejected() {
    // The broker sends the late subscriber its SUBACK but not the retained m0.
    let copy_or_answer = |e: &TraceEvent| {
        matches!(&e.event, Event::MessageDelivered { .. })
            || packet(|p| matches!(p.kind, PacketKind::Publish | PacketKind::Puback))(&e.event)
    };
    let mut events = corpus("retained_message_to_late_subscriber");
    let copy = position(&events, BROKER, sent(|p| p.kind == PacketKind::Publish));
    let kept: Vec<TraceEvent> = events.drain(copy..).filter(|e| !copy_or_answer(e)).collect();
    events.extend(kept);
    // The subscriber has its SUBACK and nothing is on the way: only a broker that withholds
    // the retained message (the seeded bug retained-not-sent-on-subscribe) gets there.
    let suback = position(&events, "c1", packet(|p| p.kind == PacketKind::Suback));
    let failure = rejected_at(&events, suback + 1);
    assert!(failure.rule.to_string().starts_with("breaks property delivered_when_quiet"), "{failure}");
    assert!(failure.to_string().contains("retained-not-sent-on-subscribe"), "{failure}");
}

#[test]
fn a_trace_that_ends_owing_a_retained_copy_is_rejected_at_its_end() {
    let events = corpus("retained_message_to_late_subscriber");
    let receipt = position(&events, "c1", packet(|p| p.kind == PacketKind::Publish));
    let events = &events[..receipt];
    let failure = check_trace(events).expect_err("a trace owing the retained m0 is accepted");
    assert_eq!(failure.step, events.len() + 1, "{failure}");
    assert!(failure.rule.to_string().contains("the retained m0 is not delivered to c1"), "{failure}");
}

/// A 5.0 run: c0 publishes m0 retained, then c1 subscribes with Retain Handling `handling`
/// and Retain As Published `as_published`, then c0 publishes m1 retained, which is forwarded
/// to c1.
fn retained_with_options(handling: RetainHandling, as_published: bool) -> Vec<TraceEvent> {
    use verimqtt_proto::codec::ProtocolVersion;
    use verimqtt_traces::sim::{ClientSpec, Scenario, SessionKind, simulate};
    let clean = ClientSpec::new(SessionKind::Clean).keep_alive(2);
    let publish = Step::publish_with(0, QoS::AtLeastOnce, true);
    let subscribe = Step::Subscribe {
        client: 1,
        filter: "t".into(),
        qos: QoS::AtLeastOnce,
        retain_handling: handling,
        retain_as_published: as_published,
    };
    let scenario = Scenario::new(ProtocolVersion::V5).client(clean.clone()).client(clean).steps([
        Step::Connect { client: 0 },
        Step::Settle,
        publish.clone(),
        Step::Settle,
        Step::Connect { client: 1 },
        Step::Settle,
        subscribe,
        Step::Settle,
        publish,
        Step::Settle,
    ]);
    simulate(&scenario, 1).unwrap_or_else(|error| panic!("{error}")).trace
}

/// The RETAIN flags of the messages c1's application receives, by payload, in order.
fn delivered_retain(events: &[TraceEvent]) -> Vec<(&str, bool)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::MessageDelivered { payload, retain, .. } if e.node.0 == "c1" => Some((payload.as_str(), *retain)),
            _ => None,
        })
        .collect()
}

const RETAIN_HANDLINGS: [RetainHandling; 3] =
    [RetainHandling::SendAtSubscribe, RetainHandling::SendIfNewSubscription, RetainHandling::DoNotSend];

#[test]
fn traces_with_every_retain_handling_and_retain_as_published_are_accepted() {
    for handling in RETAIN_HANDLINGS {
        for as_published in [false, true] {
            let events = retained_with_options(handling, as_published);
            if let Err(failure) = check_trace(&events) {
                panic!("Retain Handling {handling:?}, Retain As Published {as_published} rejected:\n{failure}");
            }
            // What verimqtt did, and the model accepted: the retained m0 on a new subscription
            // unless Retain Handling is 2, m1 forwarded with RETAIN as published if asked.
            let retained_copy = (handling != RetainHandling::DoNotSend).then_some(("m0", true));
            let expected: Vec<(&str, bool)> = retained_copy.into_iter().chain([("m1", as_published)]).collect();
            assert_eq!(delivered_retain(&events), expected, "{handling:?}, {as_published}");
        }
    }
}

/// The index of the broker's PUBLISH of `payload` to c1 (on c1's connection, 2).
fn broker_sends_to_c1(events: &[TraceEvent], payload: &'static str) -> usize {
    let to_c1 = |e: &TraceEvent| {
        e.node.0 == BROKER && matches!(&e.event, Event::PacketSent { conn: 2, packet } if payload_is(payload)(packet))
    };
    events.iter().position(to_c1).unwrap_or_else(|| panic!("the broker never sends {payload} to c1"))
}

#[test]
fn a_forwarded_copy_with_its_retain_flipped_is_rejected_naming_the_rule() {
    for as_published in [false, true] {
        let mut events = retained_with_options(RetainHandling::SendAtSubscribe, as_published);
        let forward = broker_sends_to_c1(&events, "m1");
        let on_c1 = |conn, p: &PacketInfo| conn == 2 && p.kind == PacketKind::Publish && payload_is("m1")(p);
        edit_packets(&mut events, forward, on_c1, |p| p.retain = Some(!as_published));
        let failure = rejected_at(&events, forward + 1);
        let rule = failure.rule.to_string();
        if as_published {
            // A broker that ignores Retain As Published (the seeded bug) sends this.
            assert!(rule.starts_with("breaks property retain_flag_correct"), "{failure}");
            assert!(failure.to_string().contains("retain-as-published-ignored"), "{failure}");
        } else {
            assert!(rule.starts_with("no model step allows this event: field retain differs"), "{failure}");
        }
    }
}

#[test]
fn a_retained_copy_for_a_subscription_with_retain_handling_2_is_rejected_naming_the_rule() {
    let mut events = retained_with_options(RetainHandling::SendAtSubscribe, false);
    let subscribe = position(&events, "c1", sent(|p| p.kind == PacketKind::Subscribe));
    edit_packets(
        &mut events,
        subscribe,
        |_, p| p.kind == PacketKind::Subscribe,
        |p| p.filters.iter_mut().flatten().for_each(|f| f.retain_handling = Some(2)),
    );
    let copy = broker_sends_to_c1(&events, "m0");
    let failure = rejected_at(&events, copy + 1);
    assert!(failure.rule.to_string().starts_with("breaks property retained_as_handled"), "{failure}");
    assert!(failure.to_string().contains("retain-handling-2-ignored"), "{failure}");
}

/// A 5.0 client publishing two QoS 1 messages to itself, with `receive_maximum` announced by
/// the client and the broker, or their defaults.
fn two_messages_in_flight(receive_maximum: Option<u16>) -> Vec<TraceEvent> {
    use verimqtt_proto::codec::ProtocolVersion;
    use verimqtt_traces::sim::{ClientSpec, Scenario, SessionKind, simulate};
    let mut scenario = Scenario::new(ProtocolVersion::V5).client(ClientSpec::new(SessionKind::Clean).keep_alive(2));
    scenario.receive_maximum = receive_maximum.and_then(std::num::NonZeroU16::new);
    let scenario = scenario.steps([
        Step::Connect { client: 0 },
        Step::Settle,
        Step::subscribe(0, QoS::AtLeastOnce),
        Step::Settle,
        Step::publish(0, QoS::AtLeastOnce),
        Step::publish(0, QoS::AtLeastOnce),
        Step::Settle,
        Step::Advance(2),
    ]);
    simulate(&scenario, 1).unwrap_or_else(|error| panic!("{error}")).trace
}

fn first_puback_received(events: &[TraceEvent]) -> usize {
    position(events, "c0", |e| matches!(e, Event::PacketReceived { packet, .. } if packet.kind == PacketKind::Puback))
}

#[test]
fn flow_control_under_receive_maximum_1_is_accepted() {
    let events = two_messages_in_flight(Some(1));
    // m1 waits for m0's PUBACK: the quota of one binds.
    let puback = first_puback_received(&events);
    let m1 = position(&events, "c0", sent(payload_is("m1")));
    assert!(puback < m1, "m1 was sent before m0's PUBACK");
    if let Err(failure) = check_trace(&events) {
        panic!("{failure}");
    }
}

#[test]
fn a_client_exceeding_receive_maximum_is_rejected() {
    // Without a Receive Maximum the client sends m1 before m0's PUBACK; the edit makes both
    // ends announce 1, which that second PUBLISH exceeds.
    let mut events = two_messages_in_flight(None);
    let m1 = position(&events, "c0", sent(payload_is("m1")));
    let puback = first_puback_received(&events);
    assert!(m1 < puback, "the unedited client waits for m0's PUBACK");
    let announces = |_: u64, p: &PacketInfo| matches!(p.kind, PacketKind::Connect | PacketKind::Connack);
    edit_packets(&mut events, 0, announces, |p| p.receive_maximum = Some(1));
    let rule = rule_of(&events, m1 + 1);
    assert!(rule.starts_with("no model step allows this event"), "{rule}");
}

#[test]
fn the_client_is_bound_by_the_receive_maximum_of_the_connack() {
    // Without a Receive Maximum the client sends m1 before m0's PUBACK; the edit makes only
    // the broker announce 1 (its CONNACK), which that second PUBLISH exceeds [MQTT-3.3.4-7].
    let mut events = two_messages_in_flight(None);
    let m1 = position(&events, "c0", sent(payload_is("m1")));
    edit_packets(&mut events, 0, |_, p| p.kind == PacketKind::Connack, |p| p.receive_maximum = Some(1));
    let rule = rule_of(&events, m1 + 1);
    assert!(rule.starts_with("breaks property receive_maximum_respected"), "{rule}");
    assert!(rule.contains("only quota-from-own-receive-maximum's model accepts the trace"), "{rule}");
}

#[test]
fn a_receive_maximum_announced_differently_by_client_and_broker_is_mapped() {
    // Both announce 1 and the run keeps to it; the client announcing 2 instead allows the
    // broker more toward it, which this run never has to send. The mapping refused such a
    // trace while the model had one Receive Maximum for both sides.
    let mut events = two_messages_in_flight(Some(1));
    edit_packets(&mut events, 0, |_, p| p.kind == PacketKind::Connect, |p| p.receive_maximum = Some(2));
    if let Err(failure) = check_trace(&events) {
        panic!("{failure}");
    }
}

/// A restart the trace does not log is a loss without a fault: the checker restarts the
/// model's broker only where the trace shows a `broker_restarted`.
#[test]
fn a_dropped_restart_event_is_a_loss_without_a_fault() {
    let mut events = corpus("qos1_resumed_after_broker_restart");
    let restart = position(&events, BROKER, |e| matches!(e, Event::BrokerRestarted));
    events.remove(restart);
    let failure = check_trace(&events).expect_err("a restart without its event is accepted");
    assert!(matches!(failure.rule, Rule::LossWithoutFault { .. }), "{failure}");
}

/// A broker that lost a persistent session in its restart answers the resuming subscriber
/// with Session Present 0: rejected, as the model's broker restarts from its store.
#[test]
fn a_session_lost_in_a_restart_is_rejected_naming_session_present() {
    let mut events = corpus("qos1_resumed_after_broker_restart");
    let restart = position(&events, BROKER, |e| matches!(e, Event::BrokerRestarted));
    let resumed = restart
        + position(
            &events[restart..],
            BROKER,
            sent(|p| p.kind == PacketKind::Connack && p.session_present == Some(true)),
        );
    let conn = match events[resumed].event {
        Event::PacketSent { conn, .. } => conn,
        _ => unreachable!("a CONNACK sent"),
    };
    edit_packets(
        &mut events,
        resumed,
        |on, p| on == conn && p.kind == PacketKind::Connack,
        |p| {
            p.session_present = Some(false);
        },
    );
    let rule = rule_of(&events, resumed + 1);
    assert!(rule.starts_with("no model step allows this event: field session present differs"), "{rule}");
}

/// 3.1.1: publisher `c0` with a persistent session and a QoS 1 will, subscriber `c1` with a
/// persistent session at QoS 1; the broker restarts while both are connected, then `c1`
/// reconnects first, and `c0` after it.
fn will_across_a_restart() -> Vec<TraceEvent> {
    use verimqtt_proto::codec::{ProtocolVersion, QoS};
    use verimqtt_traces::sim::{ClientSpec, SessionKind, Step, connected, simulate};
    let persistent = ClientSpec::new(SessionKind::Persistent).keep_alive(2);
    let publisher = persistent.clone().with_will_at(QoS::AtLeastOnce);
    let scenario = connected(ProtocolVersion::V311, publisher, persistent, QoS::AtLeastOnce).steps([
        Step::Restart,
        Step::Settle,
        Step::Connect { client: 1 },
        Step::Settle,
        Step::Connect { client: 0 },
        Step::Settle,
        Step::Advance(2),
    ]);
    simulate(&scenario, 1).unwrap_or_else(|error| panic!("{error}")).trace
}

/// The broker sending `c1` the will of `c0`.
fn will_sent(event: &Event) -> bool {
    sent(|p| p.kind == PacketKind::Publish && p.payload.as_deref() == Some("will-c0"))(event)
}

#[test]
fn a_persistent_sessions_qos1_will_is_published_after_a_restart_and_validates() {
    let events = will_across_a_restart();
    // The restart ended c0's connection without DISCONNECT: its stored will goes to c1's
    // restored session, which gets it when it reconnects.
    let restart = position(&events, BROKER, |e| matches!(e, Event::BrokerRestarted));
    assert!(position(&events, BROKER, will_sent) > restart, "the will is sent after the restart");
    if let Err(failure) = check_trace(&events) {
        panic!("{failure}");
    }
}

/// A broker that stores a clean session (as `Session::is_persistent` answering `true` would)
/// publishes its will after a restart; the model's restart loses a clean session's will with
/// the session, so the will sent is rejected.
#[test]
fn a_clean_sessions_will_published_after_a_restart_is_rejected() {
    let mut events = will_across_a_restart();
    let c0 = |_: u64, p: &PacketInfo| p.kind == PacketKind::Connect && p.client_id.as_deref() == Some("c0");
    edit_packets(&mut events, 0, c0, |p| p.clean_start = Some(true));
    let will = position(&events, BROKER, will_sent);
    let rule = rule_of(&events, will + 1);
    assert!(rule.starts_with("no model step allows this event"), "{rule}");
}

/// 3.1.1: publisher `c0` with a clean session publishes a QoS 1 message to subscriber `c1`;
/// the network fails right after the broker receives it, so `c0` never gets the PUBACK, gives
/// up on its connection and, its session ending with it, gives the message back.
fn flight_of_a_clean_session_cut() -> Vec<TraceEvent> {
    use verimqtt_proto::codec::{ProtocolVersion, QoS};
    use verimqtt_traces::sim::{ClientSpec, SessionKind, Side, Step, connected, simulate};
    let clean = ClientSpec::new(SessionKind::Clean).keep_alive(1);
    let scenario = connected(ProtocolVersion::V311, clean.clone(), clean, QoS::AtLeastOnce).steps([
        Step::CutAfter { client: 0, receiver: Side::Broker, packet: PacketKind::Publish },
        Step::publish(0, QoS::AtLeastOnce),
        Step::Settle,
        Step::Advance(3),
        Step::Connect { client: 0 },
        Step::Settle,
        Step::Advance(2),
    ]);
    simulate(&scenario, 1).unwrap_or_else(|error| panic!("{error}")).trace
}

fn abandoned(event: &Event) -> bool {
    matches!(event, Event::PublishAbandoned { payload, qos: 1, .. } if payload == "m0")
}

#[test]
fn a_flight_given_back_by_a_discarded_session_validates() {
    let events = flight_of_a_clean_session_cut();
    let close = position(&events, "c0", |e| matches!(e, Event::ConnectionClosed { .. }));
    assert!(position(&events, "c0", abandoned) > close, "m0 is given back once the session ends");
    if let Err(failure) = check_trace(&events) {
        panic!("{failure}");
    }
}

/// A client that keeps its discarded session's flights to itself (as `Sender::drain` giving
/// back nothing would): the model's client gives them back when it discards its session, so
/// the trace is rejected at the first event after the one it lacks.
#[test]
fn a_flight_a_discarded_session_does_not_give_back_is_rejected() {
    let mut events = flight_of_a_clean_session_cut();
    let given_back = position(&events, "c0", abandoned);
    events.remove(given_back);
    let failure = rejected_at(&events, given_back + 1);
    assert!(matches!(failure.rule, Rule::NoModelStep { .. }), "{failure}");
}

/// The trace of a 5.0 run where c0 publishes with `publishes` to c1, subscribed at QoS 1, its
/// clients sending Topic Aliases or not.
fn published_to_a_subscriber(publishes: impl IntoIterator<Item = Step>, topic_aliases: bool) -> Vec<TraceEvent> {
    let clean = ClientSpec::new(SessionKind::Clean).keep_alive(2);
    let mut scenario = connected(ProtocolVersion::V5, clean.clone(), clean, QoS::AtLeastOnce);
    scenario.topic_aliases = topic_aliases;
    let scenario = scenario.steps(publishes).steps([Step::Settle]);
    simulate(&scenario, 1).unwrap_or_else(|error| panic!("the scenario does not run: {error}")).trace
}

/// c0 publishes at QoS 1 a payload that claims to be UTF-8 and is not (`m0` and 0xff), then
/// one that is (`m1`): the broker refuses the first with PUBACK 0x99 and routes nothing of it,
/// and forwards the second with its Payload Format Indicator.
fn falsely_utf8_then_utf8() -> Vec<TraceEvent> {
    let publish =
        |claim| Step::Publish { client: 0, topic: TOPIC.to_string(), qos: QoS::AtLeastOnce, retain: false, claim };
    published_to_a_subscriber([publish(PayloadClaim::FalselyUtf8), Step::Settle, publish(PayloadClaim::Utf8)], false)
}

const FALSELY_UTF8: &str = "hex:6d30ff";

#[test]
fn a_payload_that_is_not_the_utf8_it_claims_is_refused_and_never_delivered() {
    let events = falsely_utf8_then_utf8();
    check_trace(&events).unwrap_or_else(|failure| panic!("rejected:\n{failure}"));
    let refusal = position(&events, BROKER, sent(|p| p.kind == PacketKind::Puback));
    assert!(matches!(&events[refusal].event, Event::PacketSent { packet, .. } if packet.reason_code == Some(0x99)));
    let delivered =
        |e: &TraceEvent| matches!(&e.event, Event::MessageDelivered { payload, .. } if payload == FALSELY_UTF8);
    assert!(!events.iter().any(delivered), "the refused message reached a subscriber");
    assert!(events.iter().any(|e| matches!(&e.event, Event::MessageDelivered { payload, .. } if payload == "m1")));
}

#[test]
fn a_payload_that_is_not_the_utf8_it_claims_acknowledged_as_routed_is_rejected() {
    let mut events = falsely_utf8_then_utf8();
    let refusal = position(&events, BROKER, sent(|p| p.kind == PacketKind::Puback));
    edit_packets(
        &mut events,
        refusal,
        |_, p| p.kind == PacketKind::Puback && p.reason_code == Some(0x99),
        |p| p.reason_code = Some(0x00),
    );
    let rule = rule_of(&events, refusal + 1);
    assert!(rule.starts_with("no model step allows this event: field reason code differs"), "{rule}");
}

/// Takes the Reason String off the broker's refusal of `m0` and returns where it is sent.
fn refusal_unexplained(events: &mut [TraceEvent]) -> usize {
    let refusal = position(events, BROKER, sent(|p| p.kind == PacketKind::Puback));
    let refusing = |_: u64, p: &PacketInfo| p.kind == PacketKind::Puback && p.reason_code == Some(0x99);
    edit_packets(events, refusal, refusing, |p| {
        assert!(p.reason_string.is_some(), "verimqtt's refusal is explained");
        p.reason_string = None;
    });
    refusal
}

#[test]
fn a_refusal_without_its_reason_string_is_rejected() {
    let mut events = falsely_utf8_then_utf8();
    let refusal = refusal_unexplained(&mut events);
    let rule = rule_of(&events, refusal + 1);
    assert!(rule.starts_with("no model step allows this event: field reason string differs"), "{rule}");
}

#[test]
fn a_refusal_without_a_reason_string_the_client_asked_not_to_get_is_accepted() {
    let mut events = falsely_utf8_then_utf8();
    refusal_unexplained(&mut events);
    let publisher_connects =
        |_: u64, p: &PacketInfo| p.kind == PacketKind::Connect && p.client_id.as_deref() == Some("c0");
    edit_packets(&mut events, 0, publisher_connects, |p| p.request_problem_information = Some(false));
    check_trace(&events).unwrap_or_else(|failure| panic!("rejected:\n{failure}"));
}

#[test]
fn a_copy_without_its_payload_format_indicator_is_rejected() {
    let mut events = falsely_utf8_then_utf8();
    let forward = position(&events, BROKER, sent(payload_is("m1")));
    edit_packets(&mut events, forward, |_, p| p.payload.as_deref() == Some("m1"), |p| p.payload_format = None);
    let rule = rule_of(&events, forward + 1);
    assert!(rule.starts_with("no model step allows this event: field payload format differs"), "{rule}");
}

/// A 5.0 run with a Receive Maximum of 2 (the broker's own limit too) where the broker has
/// both of c0's QoS 1 messages unacknowledged at c1 at once (the first seed that shows it),
/// and the position of its PUBLISH of the second.
fn two_copies_in_flight() -> (Vec<TraceEvent>, usize) {
    let clean = ClientSpec::new(SessionKind::Clean).keep_alive(2);
    let mut scenario = connected(ProtocolVersion::V5, clean.clone(), clean, QoS::AtLeastOnce);
    scenario.receive_maximum = NonZeroU16::new(2);
    let scenario =
        scenario.steps([Step::publish(0, QoS::AtLeastOnce), Step::publish(0, QoS::AtLeastOnce), Step::Settle]);
    for seed in 0..64 {
        let events =
            simulate(&scenario, seed).unwrap_or_else(|error| panic!("the scenario does not run: {error}")).trace;
        let second = position(&events, BROKER, sent(payload_is("m1")));
        let acknowledged = |e: &TraceEvent| {
            e.node.0 == BROKER
                && matches!(&e.event, Event::PacketReceived { packet, .. } if packet.kind == PacketKind::Puback)
        };
        if !events[..second].iter().any(acknowledged) {
            return (events, second);
        }
    }
    panic!("no seed of 64 has two copies in flight at once");
}

#[test]
fn a_broker_beyond_its_own_limit_is_rejected_though_within_the_receive_maximum() {
    let (mut events, second) = two_copies_in_flight();
    check_trace(&events).unwrap_or_else(|failure| panic!("rejected:\n{failure}"));
    for event in events.iter_mut().filter(|event| event.node.0 == BROKER) {
        if let Event::ConnectionOpened { max_in_flight, .. } = &mut event.event {
            *max_in_flight = 1;
        }
    }
    // The model's limit is the smaller of the two, so the property of the Receive Maximum
    // holds the broker to its own (flight_limits.rs).
    let rule = rule_of(&events, second + 1);
    assert!(rule.starts_with("breaks property receive_maximum_respected"), "{rule}");
}

/// c0 publishes two QoS 1 messages with Topic Aliases: the first PUBLISH sets alias 1 to the
/// topic, the second carries only the alias.
fn aliased_publishes() -> Vec<TraceEvent> {
    published_to_a_subscriber([Step::publish(0, QoS::AtLeastOnce), Step::publish(0, QoS::AtLeastOnce)], true)
}

fn uses_alias(p: &PacketInfo) -> bool {
    p.kind == PacketKind::Publish && p.topic.as_deref() == Some("") && p.topic_alias.is_some()
}

#[test]
fn a_publish_that_carries_only_its_topic_alias_is_resolved() {
    let events = aliased_publishes();
    position(&events, BROKER, packet(uses_alias));
    check_trace(&events).unwrap_or_else(|failure| panic!("rejected:\n{failure}"));
}

#[test]
fn a_topic_alias_that_was_never_set_is_rejected() {
    let mut events = aliased_publishes();
    let set = position(&events, "c0", sent(|p| p.kind == PacketKind::Publish && p.topic_alias.is_some()));
    edit_packets(&mut events, set, |_, p| p.payload.as_deref() == Some("m0"), |p| p.topic = Some(String::new()));
    let failure = check_trace(&events).expect_err("an alias never set is resolved");
    assert!(failure.rule.to_string().contains("uses Topic Alias 1, which was never set"), "{failure}");
}

/// Whether an event is the injection of a PUBLISH with `payload` (written by the simulator
/// playing a hostile client).
fn injected(payload: &'static str) -> impl Fn(&Event) -> bool {
    move |event| matches!(event, Event::PacketInjected { packet, .. } if packet.payload.as_deref() == Some(payload))
}

#[test]
fn a_publish_beyond_the_receive_maximum_is_refused_with_0x93_and_taken_nowhere() {
    let events = corpus("receive_maximum_exceeded_v5");
    check_trace(&events).unwrap_or_else(|failure| panic!("rejected:\n{failure}"));
    let refusals = events.iter().filter(|e| {
        e.node.0 == BROKER
            && matches!(&e.event, Event::PacketSent { packet, .. }
                if packet.kind == PacketKind::Disconnect && packet.reason_code == Some(0x93))
    });
    assert_eq!(refusals.count(), 2, "one DISCONNECT 0x93 per PUBLISH beyond the quota");
    let taken = |e: &TraceEvent| {
        matches!(&e.event, Event::MessageDelivered { payload, .. } if payload.starts_with('x'))
            || matches!(&e.event, Event::PacketSent { packet, .. } if packet.packet_id == Some(u16::MAX))
    };
    assert!(!events.iter().any(taken), "a PUBLISH beyond the quota was answered or delivered");
}

#[test]
fn a_refusal_beyond_the_receive_maximum_with_another_reason_code_is_rejected() {
    let mut events = corpus("receive_maximum_exceeded_v5");
    let refusal = position(&events, BROKER, sent(|p| p.kind == PacketKind::Disconnect));
    edit_packets(&mut events, refusal, |_, p| p.reason_code == Some(0x93), |p| p.reason_code = Some(0x82));
    let rule = rule_of(&events, refusal + 1);
    assert!(rule.starts_with("no model step allows this event: field reason code differs"), "{rule}");
}

#[test]
fn an_injected_publish_without_its_payload_or_with_a_published_one_is_rejected() {
    for payload in [None, Some("m0".to_string())] {
        let mut events = corpus("receive_maximum_exceeded_v5");
        let at = position(&events, "network", injected("x0"));
        if let Event::PacketInjected { packet, .. } = &mut events[at].event {
            packet.payload = payload.clone();
        }
        let rule = rule_of(&events, at + 1);
        assert!(rule.starts_with("no model step allows this event: field message differs"), "{rule}");
    }
}

/// The model takes an injected packet only as a hostile client's, never as one the client
/// sent: the same PUBLISH logged as the client's own is rejected where it is logged.
#[test]
fn an_injected_publish_logged_as_the_clients_own_is_rejected() {
    let mut events = corpus("receive_maximum_exceeded_v5");
    let at = position(&events, "network", injected("x0"));
    let Event::PacketInjected { conn, packet } = events[at].event.clone() else { unreachable!() };
    events[at] =
        TraceEvent { node: Node::client("c0"), event: Event::PacketSent { conn, packet }, ..events[at].clone() };
    rejected_at(&events, at + 1);
}

/// The trace of the named situation with hostile PUBRECs for an unknown id, simulated again.
fn hostile_pubrecs() -> Vec<TraceEvent> {
    let name = "hostile_pubrecs_for_an_unknown_id_v5";
    let named = named_scenarios().into_iter().find(|n| n.name == name);
    let named = named.unwrap_or_else(|| panic!("no named situation {name}"));
    simulate(&named.scenario, named.seed).unwrap_or_else(|error| panic!("{name}: {error}")).trace
}

#[test]
fn a_refusing_pubrec_answered_with_a_pubrel_breaks_no_pubrel_after_refusal() {
    let mut events = hostile_pubrecs();
    let refusing = position(&events, BROKER, packet(|p| p.kind == PacketKind::Pubrec && p.reason_code == Some(0x80)));
    let pubrel = position(&events, BROKER, sent(|p| p.kind == PacketKind::Pubrel && p.packet_id == Some(u16::MAX)));
    events.insert(refusing + 1, events[pubrel].clone());
    let rule = rejected_at(&events, refusing + 2).rule.to_string();
    assert!(rule.contains("no_pubrel_after_refusal"), "{rule}");
}

#[test]
fn an_accepting_pubrec_for_an_unknown_id_left_unanswered_is_rejected() {
    let mut events = hostile_pubrecs();
    let pubrel = position(&events, BROKER, sent(|p| p.kind == PacketKind::Pubrel && p.packet_id == Some(u16::MAX)));
    // The broker's PUBREL 0x92 and what follows from it: the client's receipt and PUBCOMP.
    events.retain(|e| {
        !matches!(&e.event, Event::PacketSent { packet, .. } | Event::PacketReceived { packet, .. }
        if packet.packet_id == Some(u16::MAX) && packet.kind != PacketKind::Pubrec)
    });
    assert!(check_trace(&events).is_err(), "a PUBREL 0x92 left out at step {} is accepted", pubrel + 1);
}

#[test]
fn an_injected_pubrec_logged_as_the_clients_own_is_rejected() {
    let mut events = hostile_pubrecs();
    let injected = position(&events, "network", |e| matches!(e, Event::PacketInjected { .. }));
    if let Event::PacketInjected { conn, packet } = events[injected].event.clone() {
        events[injected].node = Node::client("c1");
        events[injected].event = Event::PacketSent { conn, packet };
    }
    rejected_at(&events, injected + 1);
}
