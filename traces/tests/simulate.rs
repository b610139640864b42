//! The simulator: runs are deterministic for a seed, and the situations it stages happen.

use verimqtt::codec::{ProtocolVersion, QoS};
use verimqtt_spec::trace::{Event, PacketKind, TraceEvent};
use verimqtt_traces::sim::{ClientSpec, Scenario, SessionKind, Side, Step, named_scenarios, simulate};

fn packets<'a>(trace: &'a [TraceEvent], node: &'a str, kind: PacketKind) -> impl Iterator<Item = &'a TraceEvent> {
    trace.iter().filter(move |event| {
        event.node.0 == node && matches!(&event.event, Event::PacketSent { packet, .. } if packet.kind == kind)
    })
}

fn delivered(trace: &[TraceEvent], node: &str) -> Vec<String> {
    trace
        .iter()
        .filter(|event| event.node.0 == node)
        .filter_map(|event| match &event.event {
            Event::MessageDelivered { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_same_seed_records_the_same_trace() {
    for named in named_scenarios() {
        let first = simulate(&named.scenario, 11).unwrap();
        assert_eq!(first, simulate(&named.scenario, 11).unwrap(), "{}", named.name);
    }
}

#[test]
fn seeds_choose_different_interleavings() {
    let scenario = Scenario::new(ProtocolVersion::V5)
        .client(ClientSpec::new(SessionKind::Clean))
        .client(ClientSpec::new(SessionKind::Clean))
        .steps([Step::Connect { client: 0 }, Step::Connect { client: 1 }, Step::Settle]);
    let traces: std::collections::HashSet<_> =
        (0..16).map(|seed| format!("{:?}", simulate(&scenario, seed).unwrap().trace)).collect();
    assert!(traces.len() > 1);
}

/// A publisher with a persistent session whose connection is cut once `receiver` gets
/// `packet` of a message at `qos`, then reconnects.
fn publisher_cut_after(version: ProtocolVersion, qos: QoS, receiver: Side, packet: PacketKind) -> Scenario {
    Scenario::new(version)
        .client(ClientSpec::new(SessionKind::Persistent))
        .client(ClientSpec::new(SessionKind::Clean))
        .steps([
            Step::Connect { client: 0 },
            Step::Connect { client: 1 },
            Step::Settle,
            Step::subscribe(1, qos),
            Step::Settle,
            Step::CutAfter { client: 0, receiver, packet },
            Step::publish(0, qos),
            Step::Settle,
            Step::Connect { client: 0 },
            Step::Settle,
        ])
}

#[test]
fn qos1_is_sent_again_with_dup_after_a_cut_and_delivered() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for seed in 0..8 {
            let scenario = publisher_cut_after(version, QoS::AtLeastOnce, Side::Broker, PacketKind::Publish);
            let run = simulate(&scenario, seed).unwrap();
            assert!(run.refusals.is_empty(), "{:?}", run.refusals);
            let dups: Vec<_> = packets(&run.trace, "c0", PacketKind::Publish)
                .map(|event| match &event.event {
                    Event::PacketSent { packet, .. } => packet.dup,
                    _ => None,
                })
                .collect();
            assert_eq!(dups, [Some(false), Some(true)]);
            assert!(delivered(&run.trace, "c1").iter().all(|payload| payload == "m0"));
            assert!(!delivered(&run.trace, "c1").is_empty());
        }
    }
}

#[test]
fn qos2_is_delivered_exactly_once_whatever_step_the_cut_follows() {
    let steps = [
        (Side::Broker, PacketKind::Publish),
        (Side::Client, PacketKind::Pubrec),
        (Side::Broker, PacketKind::Pubrel),
        (Side::Client, PacketKind::Pubcomp),
    ];
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for (receiver, packet) in steps {
            for seed in 0..8 {
                let run = simulate(&publisher_cut_after(version, QoS::ExactlyOnce, receiver, packet), seed).unwrap();
                assert_eq!(delivered(&run.trace, "c1"), ["m0"], "{version:?} cut after {packet:?}, seed {seed}");
                let completed = run.trace.iter().any(|event| {
                    event.node.0 == "c0"
                        && matches!(&event.event, Event::PacketReceived { packet, .. } if packet.kind == PacketKind::Pubcomp)
                });
                assert!(completed, "the publisher's exchange completes after the cut after {packet:?}");
            }
        }
    }
}

#[test]
fn a_half_open_connection_is_closed_by_the_brokers_keep_alive_and_its_will_published() {
    let scenario = Scenario::new(ProtocolVersion::V311)
        .client(ClientSpec::new(SessionKind::Clean).keep_alive(2).with_will())
        .client(ClientSpec::new(SessionKind::Clean))
        .steps([
            Step::Connect { client: 0 },
            Step::Connect { client: 1 },
            Step::Settle,
            Step::subscribe(1, QoS::AtMostOnce),
            Step::Settle,
            Step::HalfCut { client: 0 },
            Step::Advance(4),
        ]);
    let run = simulate(&scenario, 3).unwrap();
    let close = run
        .trace
        .iter()
        .find(|event| event.node.is_broker() && matches!(event.event, Event::ConnectionClosed { conn: 1, .. }));
    assert_eq!(close.map(|event| event.time_ms), Some(3000));
    assert_eq!(delivered(&run.trace, "c1"), ["will-c0"]);
}

#[test]
fn refused_commands_are_reported_not_failed() {
    let scenario = Scenario::new(ProtocolVersion::V5).client(ClientSpec::new(SessionKind::Clean)).steps([
        Step::publish(0, QoS::AtMostOnce),
        Step::Connect { client: 0 },
        Step::Connect { client: 0 },
    ]);
    let run = simulate(&scenario, 0).unwrap();
    assert_eq!(run.refusals.iter().map(|refusal| refusal.step).collect::<Vec<_>>(), [0, 2]);
}

#[test]
fn a_step_for_a_client_that_does_not_exist_is_an_error() {
    let scenario = Scenario::new(ProtocolVersion::V5).steps([Step::Connect { client: 0 }]);
    assert!(simulate(&scenario, 0).is_err());
}

#[test]
fn time_is_recorded_in_ticks_of_the_scenario() {
    let mut scenario = Scenario::new(ProtocolVersion::V311)
        .client(ClientSpec::new(SessionKind::Clean).keep_alive(1))
        .steps([Step::Connect { client: 0 }, Step::Settle, Step::Advance(2)]);
    scenario.tick_ms = 500;
    let run = simulate(&scenario, 0).unwrap();
    let pings: Vec<u64> = packets(&run.trace, "c0", PacketKind::Pingreq).map(|event| event.time_ms).collect();
    assert_eq!(pings, [1000]);
}

/// Generated scenarios per run: 500 by default, `PROPTEST_CASES` for more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(500)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(cases()))]

    /// Every generated scenario runs, records the same trace for the same seed, and stays
    /// within the bounds the model can track.
    #[test]
    fn generated_scenarios_run_deterministically(scenario in verimqtt_traces::sim::arb_scenario(), seed in 0u64..4) {
        let run = simulate(&scenario, seed).unwrap();
        proptest::prop_assert_eq!(&run, &simulate(&scenario, seed).unwrap());
        proptest::prop_assert!(scenario.clients.len() <= 3);
        let requested = run.trace.iter().filter(|event| matches!(event.event, Event::PublishRequested { .. })).count();
        proptest::prop_assert!(requested <= 4);
    }
}
