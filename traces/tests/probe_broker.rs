//! The probe against a real broker, from `cargo test`: with `MQTT_BROKER=mqtt://host:port`
//! set, runs the named probe scenarios, the minimal runs of the findings on other brokers, and
//! `MQTT_PROBE_SCENARIOS` (default 4) generated ones
//! from `MQTT_PROBE_SEED` (default 1), and fails on any violation, printing each finding
//! with its statements, seed and diagram. Without `MQTT_BROKER` it runs nothing and says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use verimqtt_traces::probe::{Outcome, ProbeOptions, broker_address, finding_probes, findings_report, probe};

fn number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

#[test]
fn the_broker_under_probe_breaks_no_property() {
    let Ok(url) = std::env::var("MQTT_BROKER") else {
        eprintln!("MQTT_BROKER is not set: no broker probed");
        return;
    };
    let broker = broker_address(&url).unwrap();
    let options = ProbeOptions {
        broker,
        version: None,
        scenarios: number("MQTT_PROBE_SCENARIOS", 4) as usize,
        seed: number("MQTT_PROBE_SEED", 1),
        named: true,
        // A broker that follows MQTT passes the minimal runs of what the probe found in others.
        findings: finding_probes().into_iter().map(|(name, _)| name.to_string()).collect(),
        jobs: 4,
    };
    let runs = probe(&options).unwrap();
    let violations = runs
        .iter()
        .flat_map(|run| &run.verdicts)
        .flat_map(|verdict| &verdict.findings)
        .filter(|finding| finding.outcome == Outcome::Violation)
        .count();
    assert_eq!(violations, 0, "{}", findings_report(&url, &runs));
}
