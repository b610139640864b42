//! Every scenario, in every version it names, is a test of its own:
//! `cargo test -p verimqtt-conformance -- <filter>` runs the ones whose name contains the
//! filter, e.g. `qos2` or `@5.0`. The target is `MQTT_BROKER=mqtt://host:port` (or `mqtts://`,
//! `ws://`, `wss://`), or a profile `MQTT_PROFILE=file.toml`, or without either the embedded
//! verimqtt broker on an ephemeral loopback port; `MQTT_WITHOUT=qos2,wildcards` skips what the
//! broker lacks, `MQTT_USERNAME`/`MQTT_PASSWORD` give it credentials, `MQTT_CAFILE`,
//! `MQTT_CERT`/`MQTT_KEY` and `MQTT_INSECURE=1` set up TLS (see `src/profile.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use verimqtt_conformance::suite::{self, run_one};
use verimqtt_conformance::{Outcome, Profile, Scenario, scenarios_dir, serve_embedded_if_asked};
use verimqtt_spec::catalogue::SpecVersion;

fn main() {
    // In the child process that serves the embedded broker, this is all main does.
    serve_embedded_if_asked();
    let mut arguments = Arguments::from_args();
    // Scenarios spend their time waiting on the broker, and keep apart by their names: run many
    // at once unless told otherwise.
    arguments.test_threads.get_or_insert(16);
    let scenarios = Scenario::load_all(&scenarios_dir()).unwrap_or_else(|error| panic!("{error}"));
    let profile = Profile::from_env(None).unwrap_or_else(|error| panic!("{error}"));
    // The sentinel connection watches for a restart through the whole run (see `liveness`).
    let (broker, settings) = profile.open(SpecVersion::V3_1_1).unwrap_or_else(|error| panic!("{error}"));
    let settings = Arc::new(settings);
    let instances = suite::instances(scenarios);
    // libtest-mimic starts the trials in the order given: those that run alone first.
    let trials = suite::start_order(&instances)
        .into_iter()
        .map(|index| {
            let instance = instances[index].clone();
            let settings = Arc::clone(&settings);
            Trial::test(instance.name(), move || match run_one(&instance, &settings).outcome {
                Outcome::Passed | Outcome::Skipped(_) => Ok(()),
                Outcome::Failed(failure) => Err(Failed::from(format!("{}\n{failure}", instance.scenario.title))),
                Outcome::Flaky { passed, runs, failure } => Err(Failed::from(format!(
                    "{}\nflaky: passed {passed} of {runs} runs; the first failed:\n{failure}",
                    instance.scenario.title
                ))),
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&arguments, trials);
    drop(broker);
    conclusion.exit();
}
