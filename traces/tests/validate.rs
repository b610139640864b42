//! Recorded traces validate against the model: every corpus trace on every run, and the traces
//! of random scenarios (500 per run; `VERIMQTT_TRACE_CASES` for more, e.g. with `--release`).

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use verimqtt_proto::client::CommandError;
use verimqtt_proto::codec::QoS;
use verimqtt_spec::trace::{TraceEvent, read_trace};
use verimqtt_traces::check_trace;
use verimqtt_traces::corpus::{corpus_dir, corpus_path};
use verimqtt_traces::sim::{Scenario, Step, arb_hostile_scenario, named_scenarios, simulate};

/// The checker's verdict on the corpus trace of a named situation, in one line.
fn verdict(name: &str) -> (String, Result<(), Box<verimqtt_traces::CheckFailure>>) {
    let path = corpus_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let events = read_trace(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    verdict_of(&events)
}

fn verdict_of(events: &[TraceEvent]) -> (String, Result<(), Box<verimqtt_traces::CheckFailure>>) {
    match check_trace(events) {
        Ok(report) => (format!("valid ({} events)", report.events), Ok(())),
        Err(failure) => {
            let rule = failure.rule.to_string();
            let first = rule.lines().next().unwrap_or_default();
            (format!("rejected at step {}: {first}", failure.step), Err(failure))
        }
    }
}

/// A named situation's trace validates. Nothing passes by being outside the model: a trace
/// the checker cannot map is rejected like any other (every corpus situation maps since the
/// model expresses a SUBSCRIBE that adds a filter, the last one issue 16 left outside).
fn judge(name: &str, result: Result<(), Box<verimqtt_traces::CheckFailure>>) {
    if let Err(failure) = result {
        panic!("{name} is rejected:\n{failure}");
    }
}

#[test]
fn every_corpus_trace_validates() {
    let mut table = String::new();
    for named in named_scenarios() {
        let (line, result) = verdict(named.name);
        table.push_str(&format!("{}: {line}\n", named.name));
        judge(named.name, result);
    }
    let files = std::fs::read_dir(corpus_dir()).map(|dir| dir.count()).unwrap_or(0);
    assert_eq!(files, named_scenarios().len(), "one corpus file per named situation");
    insta::assert_snapshot!(table);
}

/// The named situations simulated again, not read from their files: their targeted faults
/// (a cut right after a given packet) then judge the implementation as it is now.
#[test]
fn every_named_situation_simulated_again_validates() {
    for named in named_scenarios() {
        let run = simulate(&named.scenario, named.seed).unwrap_or_else(|error| panic!("{}: {error}", named.name));
        assert_eq!(run.refusals, [], "{}: a named situation refuses nothing", named.name);
        judge(named.name, verdict_of(&run.trace).1);
    }
}

/// The scenario narrowed to what the trace checker maps into the model: one Keep Alive for
/// every client (the mapping takes one).
fn in_the_models_shape(mut scenario: Scenario) -> Scenario {
    let first = scenario.clients[0].clone();
    for client in &mut scenario.clients {
        client.keep_alive = first.keep_alive;
    }
    scenario
}

/// Why a client may refuse `step`: there is nothing to act on. A QoS 1 or 2 publish is never
/// refused: it waits for a connection.
fn expected_refusals(step: &Step) -> Vec<String> {
    match step {
        Step::Publish { qos: QoS::AtMostOnce, .. }
        | Step::Disconnect { .. }
        | Step::DisconnectWithWill { .. }
        | Step::Unsubscribe { .. } => {
            vec![CommandError::NoConnection.to_string()]
        }
        Step::Connect { .. } => vec!["already connected".to_string()],
        Step::Cut { .. } | Step::Reset { .. } | Step::HalfCut { .. } => {
            vec!["no connection to cut".to_string(), "the connection is cut already".to_string()]
        }
        _ => Vec::new(),
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// 500 scenarios per run (`VERIMQTT_TRACE_CASES` for more), from a fixed seed so that every
/// run checks the same ones (`VERIMQTT_TRACE_SEED` for others).
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: env_or("VERIMQTT_TRACE_CASES", 500),
        rng_seed: RngSeed::Fixed(env_or("VERIMQTT_TRACE_SEED", 6)),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Every trace the simulator records validates, and the clients refused no command but for
    /// the scenario's own reasons (nothing to act on): a client that refuses to publish would
    /// leave nothing in the trace to reject.
    #[test]
    fn simulated_traces_validate(scenario in arb_hostile_scenario().prop_map(in_the_models_shape), seed in any::<u64>()) {
        let run = simulate(&scenario, seed).map_err(|error| TestCaseError::fail(error.to_string()))?;
        if let Some(refusal) = run.refusals.iter().find(|r| !expected_refusals(&scenario.steps[r.step]).contains(&r.reason)) {
            return Err(TestCaseError::fail(format!("step {} refused: {}", refusal.step, refusal.reason)));
        }
        if let Err(failure) = check_trace(&run.trace) {
            let trace = verimqtt_spec::trace::write_trace(&run.trace);
            return Err(TestCaseError::fail(format!("{failure}\ntrace:\n{trace}")));
        }
    }
}
