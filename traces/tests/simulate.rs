//! The simulator: runs are deterministic for a seed, and the situations it stages happen.

// A test's own setup failing is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use verimqtt_proto::codec::{ProtocolVersion, QoS};
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
/// `packet` of a message at `qos`; once both ends have given the connection up, it
/// reconnects.
fn publisher_cut_after(version: ProtocolVersion, qos: QoS, receiver: Side, packet: PacketKind) -> Scenario {
    Scenario::new(version)
        .client(ClientSpec::new(SessionKind::Persistent).keep_alive(2))
        .client(ClientSpec::new(SessionKind::Clean).keep_alive(2))
        .steps([
            Step::Connect { client: 0 },
            Step::Connect { client: 1 },
            Step::Settle,
            Step::subscribe(1, qos),
            Step::Settle,
            Step::CutAfter { client: 0, receiver, packet },
            Step::publish(0, qos),
            Step::Settle,
            Step::Advance(3),
            Step::Connect { client: 0 },
            Step::Settle,
        ])
}

#[test]
fn a_cut_is_found_out_through_keep_alive_by_both_ends() {
    let scenario = publisher_cut_after(ProtocolVersion::V5, QoS::AtLeastOnce, Side::Broker, PacketKind::Publish);
    for seed in 0..8 {
        let run = simulate(&scenario, seed).unwrap();
        assert!(run.refusals.is_empty(), "{:?}", run.refusals);
        let closes: Vec<(String, u64)> = run
            .trace
            .iter()
            .filter_map(|event| match &event.event {
                Event::ConnectionClosed { conn: 1, reason } => {
                    Some((format!("{} {reason:?}", event.node), event.time_ms))
                }
                _ => None,
            })
            .collect();
        assert!(closes.contains(&("c0 KeepAliveTimeout".to_string(), 3000)), "{closes:?}");
        assert!(closes.contains(&("broker KeepAliveTimeout".to_string(), 3000)), "{closes:?}");
    }
}

#[test]
fn a_reset_is_seen_by_both_ends_at_once() {
    let scenario = Scenario::new(ProtocolVersion::V311).client(ClientSpec::new(SessionKind::Clean)).steps([
        Step::Connect { client: 0 },
        Step::Settle,
        Step::Reset { client: 0 },
    ]);
    let run = simulate(&scenario, 0).unwrap();
    let closes = run.trace.iter().filter(|event| {
        matches!(
            event.event,
            Event::ConnectionClosed { conn: 1, reason: verimqtt_spec::trace::CloseReason::ConnectionLost }
        )
    });
    assert_eq!(closes.count(), 2);
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
    fn generated_scenarios_run_deterministically(scenario in verimqtt_traces::sim::arb_hostile_scenario(), seed in 0u64..4) {
        let run = simulate(&scenario, seed).unwrap();
        proptest::prop_assert_eq!(&run, &simulate(&scenario, seed).unwrap());
        proptest::prop_assert!(scenario.clients.len() <= 3);
        let requested = run.trace.iter().filter(|event| matches!(event.event, Event::PublishRequested { .. })).count();
        // At most 4, and the QoS 2 messages (as many as a Receive Maximum of at most 2 allows)
        // of a publisher that goes beyond it.
        proptest::prop_assert!(requested <= 6);
        check_connections(&run.trace).map_err(proptest::test_runner::TestCaseError::fail)?;
    }
}

/// What a trace must show of the network whatever the scenario: both ends use one number for
/// a connection, each node uses a connection only between its open and its close, and each
/// direction is a FIFO that may lose its tail but never reorders or invents a packet (an
/// injected packet travels with the client's own).
fn check_connections(trace: &[TraceEvent]) -> Result<(), String> {
    use std::collections::HashMap;
    let mut opened: HashMap<(String, u64), bool> = HashMap::new();
    let mut sent: HashMap<(String, u64), Vec<String>> = HashMap::new();
    let mut received: HashMap<(String, u64), Vec<String>> = HashMap::new();
    for (index, event) in trace.iter().enumerate() {
        let node = event.node.0.clone();
        let (conn, packet) = match &event.event {
            Event::ConnectionOpened { conn, .. } => {
                if opened.insert((node.clone(), *conn), true).is_some() {
                    return Err(format!("event {index}: {node} opens connection {conn} twice"));
                }
                continue;
            }
            Event::ConnectionClosed { conn, .. } => {
                if opened.insert((node.clone(), *conn), false) != Some(true) {
                    return Err(format!("event {index}: {node} closes connection {conn} it does not have open"));
                }
                continue;
            }
            Event::PacketSent { conn, packet } => {
                sent.entry((node.clone(), *conn)).or_default().push(packet.to_string());
                (*conn, packet)
            }
            // Written on the client's end, behind what the client wrote: in its direction.
            Event::PacketInjected { conn, packet } => {
                sent.entry((client_of(trace, *conn), *conn)).or_default().push(packet.to_string());
                continue;
            }
            Event::PacketReceived { conn, packet } => {
                // Keyed by the sender, so that the two lists of a direction line up.
                let sender = if event.node.is_broker() { client_of(trace, *conn) } else { "broker".to_string() };
                received.entry((sender, *conn)).or_default().push(packet.to_string());
                (*conn, packet)
            }
            _ => continue,
        };
        if opened.get(&(node.clone(), conn)) != Some(&true) {
            return Err(format!("event {index}: {node} uses connection {conn} while it is not open ({packet})"));
        }
    }
    for (direction, got) in &received {
        let put = sent.get(direction).map(Vec::as_slice).unwrap_or_default();
        if !put.starts_with(got) {
            return Err(format!("{direction:?} received {got:?} but sent {put:?}"));
        }
    }
    Ok(())
}

/// The client that opened `conn`.
fn client_of(trace: &[TraceEvent], conn: u64) -> String {
    trace
        .iter()
        .find(|event| {
            !event.node.is_broker()
                && matches!(event.event, Event::ConnectionOpened { conn: opened, .. } if opened == conn)
        })
        .map(|event| event.node.0.clone())
        .unwrap_or_default()
}

#[test]
fn the_connection_check_rejects_a_packet_received_but_never_sent() {
    let named = named_scenarios().into_iter().find(|named| named.name == "qos1_v5").unwrap();
    let mut trace = simulate(&named.scenario, named.seed).unwrap().trace;
    assert_eq!(check_connections(&trace), Ok(()));
    let first_sent = trace.iter().position(|event| matches!(event.event, Event::PacketSent { .. })).unwrap();
    trace.remove(first_sent);
    assert!(check_connections(&trace).is_err());
}
