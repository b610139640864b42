//! The wire monitors on the probe's recorded traces (`traces/probe-corpus/`, recorded
//! against verimqtt's broker with `verimqtt-traces probe --named`): the traces hold every
//! property, and each edited to break one is rejected naming it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::PathBuf;

use verimqtt_spec::trace::{End, Event, Node, PacketInfo, PacketKind, TraceEvent, read_trace};
use verimqtt_traces::probe::spec::judge;
use verimqtt_traces::probe::{Origin, Outcome, ProbeRun, Property, findings_report, monitor, named_probes};

const RESEND: &str = "resend_to_a_persistent_subscriber";
const WILL: &str = "will_after_a_reset";

fn load(name: &str) -> Vec<TraceEvent> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probe-corpus").join(format!("{name}.jsonl"));
    read_trace(&fs::read_to_string(&path).unwrap()).unwrap()
}

/// The outcome of `property` on `trace`, and its findings' messages.
fn judged(trace: &[TraceEvent], property: Property) -> (Outcome, Vec<String>) {
    let verdict = monitor(trace).into_iter().find(|verdict| verdict.property == property).unwrap();
    (verdict.outcome(), verdict.findings.iter().map(|finding| finding.message.clone()).collect())
}

/// Asserts `property` is broken on `trace` with `outcome`, a finding saying `says`.
fn assert_found(trace: &[TraceEvent], property: Property, outcome: Outcome, says: &str) {
    let (actual, messages) = judged(trace, property);
    assert_eq!(actual, outcome, "{property}: {messages:?}");
    assert!(messages.iter().any(|message| message.contains(says)), "{property}: {messages:?} should say {says:?}");
}

/// The index of the first event that `matches`.
fn find(trace: &[TraceEvent], matches: impl Fn(&TraceEvent) -> bool) -> usize {
    trace.iter().position(matches).unwrap()
}

/// The packet the proxy passed on `conn` to `to`, of `kind`, that `matches`.
fn forwarded(
    trace: &[TraceEvent],
    on: u64,
    end: End,
    kind: PacketKind,
    matches: impl Fn(&PacketInfo) -> bool,
) -> usize {
    find(
        trace,
        |event| matches!(&event.event, Event::Forwarded { conn, to, packet } if *conn == on && *to == end && packet.kind == kind && matches(packet)),
    )
}

fn packet_mut(event: &mut TraceEvent) -> &mut PacketInfo {
    match &mut event.event {
        Event::Forwarded { packet, .. } | Event::Dropped { packet, .. } => packet,
        _ => panic!("not a proxy's packet"),
    }
}

fn delivered(trace: &[TraceEvent], node: &str, payload: &str) -> usize {
    find(trace, |event| {
        event.node == Node::client(node)
            && matches!(&event.event, Event::MessageDelivered { payload: p, .. } if p == payload)
    })
}

fn payload_is(payload: &'static str) -> impl Fn(&PacketInfo) -> bool {
    move |packet| packet.payload.as_deref() == Some(payload)
}

#[test]
fn the_recorded_traces_hold_and_decide_every_property() {
    let traces = [load(RESEND), load(WILL)];
    for property in Property::ALL {
        let mut decided = 0;
        for trace in &traces {
            let verdict = monitor(trace).into_iter().find(|verdict| verdict.property == property).unwrap();
            assert_eq!(verdict.outcome(), Outcome::Holds, "{property}: {:?}", verdict.findings);
            decided += verdict.checked;
        }
        assert!(decided > 0, "{property} decides nothing on the recorded traces");
    }
    let names: Vec<&str> = named_probes().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, [RESEND, WILL], "every named probe has its recorded trace");
}

#[test]
fn a_resend_without_dup_is_a_dup_violation() {
    let mut trace = load(RESEND);
    let resend = forwarded(&trace, 3, End::Client, PacketKind::Publish, payload_is("m0"));
    assert_eq!(packet_mut(&mut trace[resend]).dup, Some(true));
    packet_mut(&mut trace[resend]).dup = Some(false);
    assert_found(&trace, Property::Dup, Outcome::Violation, "sends again a PUBLISH not completed, with DUP 0");
}

#[test]
fn a_qos0_publish_with_dup_is_a_dup_violation() {
    let mut trace = load(WILL);
    let publish = forwarded(&trace, 2, End::Client, PacketKind::Publish, payload_is("m0"));
    packet_mut(&mut trace[publish]).dup = Some(true);
    assert_found(&trace, Property::Dup, Outcome::Violation, "a QoS 0 PUBLISH");
}

#[test]
fn a_new_publish_on_an_id_in_use_is_a_packet_id_violation() {
    let mut trace = load(RESEND);
    // m2's first transmission takes m1's id, whose PUBCOMP has not come yet.
    let m2 = forwarded(&trace, 3, End::Client, PacketKind::Publish, payload_is("m2"));
    packet_mut(&mut trace[m2]).packet_id = Some(2);
    assert_found(&trace, Property::PacketIds, Outcome::Violation, "still in use by a PUBLISH awaiting PUBCOMP");
}

#[test]
fn a_qos2_message_delivered_twice_is_a_violation() {
    let mut trace = load(RESEND);
    let m1 = delivered(&trace, "c1", "m1");
    trace.insert(m1 + 1, trace[m1].clone());
    assert_found(&trace, Property::Qos2ExactlyOnce, Outcome::Violation, "received \"m1\" (QoS 2) 2 times");
}

#[test]
fn a_qos0_message_delivered_twice_is_a_violation() {
    let mut trace = load(WILL);
    let m0 = delivered(&trace, "c1", "m0");
    trace.insert(m0 + 1, trace[m0].clone());
    assert_found(&trace, Property::Qos0AtMostOnce, Outcome::Violation, "received \"m0\" (QoS 0) 2 times");
}

#[test]
fn messages_delivered_out_of_order_are_an_order_violation() {
    let mut trace = load(RESEND);
    let m2 = trace.remove(delivered(&trace, "c1", "m2"));
    trace.insert(delivered(&trace, "c1", "m0"), m2);
    assert_found(&trace, Property::Order, Outcome::Violation, "received \"m2\" before \"m0\"");
}

#[test]
fn more_unacknowledged_publishes_than_receive_maximum_is_a_violation() {
    let mut trace = load(RESEND);
    // On conn 2 the broker sent m0 (its PUBACK lost in the cut) and m1: two, within 2.
    let connect = forwarded(&trace, 2, End::Broker, PacketKind::Connect, |_| true);
    packet_mut(&mut trace[connect]).receive_maximum = Some(1);
    assert_found(&trace, Property::ReceiveMaximum, Outcome::Violation, "over the client's Receive Maximum 1");
}

/// The trace with the broker's close of conn 2 moved to `time_ms`.
fn broker_closes_conn_2_at(time_ms: u64) -> Vec<TraceEvent> {
    let mut trace = load(RESEND);
    let closed = find(&trace, |event| matches!(event.event, Event::BrokerClosed { conn: 2 }));
    trace[closed].time_ms = time_ms;
    trace
}

/// When the proxy last passed a packet to the broker on conn 2 (its SUBSCRIBE).
fn conn_2_silent_from() -> u64 {
    let trace = load(RESEND);
    let last = trace
        .iter()
        .rposition(|event| matches!(event.event, Event::Forwarded { conn: 2, to: End::Broker, .. }))
        .unwrap();
    trace[last].time_ms
}

#[test]
fn a_keep_alive_close_before_one_and_a_half_keep_alives_is_a_violation() {
    // Keep Alive is 1 s: 1.2 x is too early.
    let trace = broker_closes_conn_2_at(conn_2_silent_from() + 1200);
    assert_found(&trace, Property::KeepAlive, Outcome::Violation, "before 1.5 x Keep Alive (1500 ms)");
}

#[test]
fn a_keep_alive_close_past_the_tolerance_is_a_violation() {
    let tolerance = verimqtt_traces::probe::monitors::TOLERANCE_MS;
    let trace = broker_closes_conn_2_at(conn_2_silent_from() + 1500 + tolerance + 100);
    assert_found(&trace, Property::KeepAlive, Outcome::Violation, "later than 1.5 x Keep Alive (1500 ms)");
    let in_time = broker_closes_conn_2_at(conn_2_silent_from() + 1500 + tolerance - 100);
    assert_eq!(judged(&in_time, Property::KeepAlive).0, Outcome::Holds);
}

#[test]
fn a_silent_connection_never_closed_is_a_keep_alive_violation() {
    let mut trace = load(RESEND);
    trace.retain(|event| !matches!(event.event, Event::BrokerClosed { conn: 2 }));
    assert_found(&trace, Property::KeepAlive, Outcome::Violation, "conn 2: silent from");
}

#[test]
fn a_will_published_after_a_normal_disconnect_is_a_violation() {
    let mut trace = load(WILL);
    // conn 1 ends with a DISCONNECT passed to the broker before the reset.
    let reset = find(&trace, |event| matches!(event.event, Event::FaultInjected { conn: 1, .. }));
    let mut disconnect = trace[reset].clone();
    disconnect.event = Event::Forwarded { conn: 1, to: End::Broker, packet: PacketInfo::new(PacketKind::Disconnect) };
    trace.insert(reset, disconnect);
    assert_found(&trace, Property::Will, Outcome::Violation, "received c0's will 1 times, but only 0");
}

#[test]
fn a_will_never_published_after_a_reset_is_a_violation() {
    let mut trace = load(WILL);
    trace.remove(delivered(&trace, "c1", "will-c0"));
    assert_found(&trace, Property::Will, Outcome::Violation, "never received c0's will");
}

#[test]
fn session_present_after_clean_start_is_a_violation() {
    let mut trace = load(WILL);
    let connack = forwarded(&trace, 3, End::Client, PacketKind::Connack, |_| true);
    packet_mut(&mut trace[connack]).session_present = Some(true);
    assert_found(&trace, Property::SessionPresent, Outcome::Violation, "Session Present 1 after Clean Start 1");
}

#[test]
fn session_present_with_no_history_is_a_violation() {
    let mut trace = load(RESEND);
    let connack = forwarded(&trace, 2, End::Client, PacketKind::Connack, |_| true);
    packet_mut(&mut trace[connack]).session_present = Some(true);
    assert_found(&trace, Property::SessionPresent, Outcome::Violation, "no session can exist");
}

#[test]
fn a_lost_session_is_a_deviation() {
    let mut trace = load(RESEND);
    let connack = forwarded(&trace, 3, End::Client, PacketKind::Connack, |_| true);
    packet_mut(&mut trace[connack]).session_present = Some(false);
    assert_found(&trace, Property::SessionPresent, Outcome::Deviation, "the broker lost it");
}

#[test]
fn a_message_never_delivered_to_a_persistent_subscriber_is_lost() {
    let mut trace = load(RESEND);
    trace.remove(delivered(&trace, "c1", "m2"));
    assert_found(&trace, Property::NoLoss, Outcome::Violation, "c1 never received \"m2\" (QoS 1)");
}

#[test]
fn a_copy_downgraded_to_qos_0_may_be_lost() {
    let mut trace = load(RESEND);
    trace.remove(delivered(&trace, "c1", "m2"));
    let subscribed_on = trace
        .iter()
        .find_map(|event| match &event.event {
            Event::PacketSent { conn, packet }
                if event.node == Node::client("c1") && packet.kind == PacketKind::Subscribe =>
            {
                Some(*conn)
            }
            _ => None,
        })
        .unwrap();
    let suback = forwarded(&trace, subscribed_on, End::Client, PacketKind::Suback, |_| true);
    packet_mut(&mut trace[suback]).reason_codes = Some(vec![0]);
    let (outcome, messages) = judged(&trace, Property::NoLoss);
    assert_ne!(outcome, Outcome::Violation, "a subscription granted QoS 0 is owed nothing: {messages:?}");
}

#[test]
fn a_message_lost_with_the_session_is_a_deviation() {
    let mut trace = load(RESEND);
    trace.remove(delivered(&trace, "c1", "m2"));
    let connack = forwarded(&trace, 3, End::Client, PacketKind::Connack, |_| true);
    packet_mut(&mut trace[connack]).session_present = Some(false);
    assert_found(&trace, Property::NoLoss, Outcome::Deviation, "the broker lost the session");
}

#[test]
fn a_message_sent_above_its_qos_is_a_delivered_qos_violation() {
    let mut trace = load(RESEND);
    // m2 was published at QoS 1; c1's subscription is granted QoS 2.
    let m2 = forwarded(&trace, 3, End::Client, PacketKind::Publish, payload_is("m2"));
    packet_mut(&mut trace[m2]).qos = Some(2);
    assert_found(&trace, Property::DeliveredQos, Outcome::Violation, "goes out at QoS 2, not 1");
}

mod robustness {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever a trace file holds, the monitors give verdicts and the report draws them: a
        /// recorded trace with events dropped and times moved never makes either panic.
        #[test]
        fn monitors_judge_any_edit_of_a_trace(
            which in any::<bool>(),
            dropped in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
            moved in prop::collection::vec((any::<prop::sample::Index>(), 0u64..20_000), 0..10),
        ) {
            let mut trace = load(if which { RESEND } else { WILL });
            for (index, time_ms) in moved {
                let at = index.index(trace.len());
                trace[at].time_ms = time_ms;
            }
            let mut drop: Vec<usize> = dropped.iter().map(|index| index.index(trace.len())).collect();
            drop.sort_unstable();
            drop.dedup();
            for at in drop.into_iter().rev() {
                trace.remove(at);
            }
            let verdicts = monitor(&trace);
            prop_assert_eq!(verdicts.len(), Property::ALL.len());
            let (name, scenario) = named_probes().remove(usize::from(!which));
            let spec = judge(&trace);
            let run = ProbeRun { origin: Origin::Named(name), scenario, trace, refusals: Vec::new(), verdicts, spec };
            prop_assert!(!findings_report("mqtt://127.0.0.1:1883", &[run]).is_empty());
        }
    }
}
