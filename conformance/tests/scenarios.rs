//! Every scenario, in every version it names, is a test of its own:
//! `cargo test -p verimqtt-conformance -- <filter>` runs the ones whose name contains the
//! filter, e.g. `qos2` or `@5.0`. The target is `MQTT_BROKER=mqtt://host:port`, or without it
//! the embedded verimqtt broker on an ephemeral loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use verimqtt_conformance::runner::{self, new_run_id};
use verimqtt_conformance::{Outcome, Scenario, Settings, Target, scenarios_dir};

fn main() {
    let arguments = Arguments::from_args();
    let scenarios = Scenario::load_all(&scenarios_dir()).unwrap_or_else(|error| panic!("{error}"));
    let target = Target::from_env().unwrap_or_else(|error| panic!("MQTT_BROKER: {error}"));
    let address = match target {
        Target::Broker(address) => address.resolve().unwrap_or_else(|error| panic!("{address}: {error}")),
        Target::Embedded => panic!("the embedded broker is not wired in yet; set MQTT_BROKER=mqtt://host:port"),
    };
    let settings = Arc::new(Settings { address, run_id: new_run_id(), unsupported: BTreeSet::new() });
    let mut trials = Vec::new();
    for (index, scenario) in scenarios.into_iter().enumerate() {
        let scenario = Arc::new(scenario);
        for (offset, &version) in scenario.versions.iter().enumerate() {
            let (scenario, settings) = (Arc::clone(&scenario), Arc::clone(&settings));
            let instance = index * 2 + offset;
            trials.push(Trial::test(scenario.instance_name(version), move || {
                match runner::run(&scenario, version, instance, &settings) {
                    Outcome::Passed | Outcome::Skipped(_) => Ok(()),
                    Outcome::Failed(failure) => Err(Failed::from(format!("{}\n{failure}", scenario.title))),
                }
            }));
        }
    }
    libtest_mimic::run(&arguments, trials).exit();
}
