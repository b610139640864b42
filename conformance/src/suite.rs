//! The suite as a whole: which runs of which scenarios, run concurrently.
//!
//! Scenarios keep apart by their names, so they run side by side; most of their time is spent
//! waiting on the broker (and on keep alive timers), so many run at once. Those of the
//! robustness area run alone: a crash they cause fails them, not the runs around them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use verimqtt_spec::catalogue::SpecVersion;

use crate::runner::{self, Outcome, Settings};
use crate::scenario::{ROBUSTNESS_AREA, Scenario};

/// Held shared by every run, and alone by a run of the robustness area.
static TURNS: RwLock<()> = RwLock::new(());

/// Whether the instance runs alone: nothing else talks to the broker meanwhile.
pub fn runs_alone(instance: &Instance) -> bool {
    instance.scenario.area() == ROBUSTNESS_AREA
}

/// The order to start the instances in: those that run alone first, while nothing else is
/// running (later, each would wait for every run in flight to end).
pub fn start_order(instances: &[Instance]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..instances.len()).collect();
    order.sort_by_key(|&index| !runs_alone(&instances[index]));
    order
}

/// One scenario in one version: one test.
#[derive(Debug, Clone)]
pub struct Instance {
    pub scenario: Arc<Scenario>,
    pub version: SpecVersion,
    /// Unique within the run; it goes into the scenario's topic and client id prefixes.
    pub number: usize,
}

impl Instance {
    pub fn name(&self) -> String {
        self.scenario.instance_name(self.version)
    }
}

/// Every scenario in every version it names, numbered in a stable order.
pub fn instances(scenarios: Vec<Scenario>) -> Vec<Instance> {
    let mut instances = Vec::new();
    for scenario in scenarios {
        let scenario = Arc::new(scenario);
        for &version in &scenario.versions {
            instances.push(Instance { scenario: Arc::clone(&scenario), version, number: instances.len() });
        }
    }
    instances
}

/// What one instance did.
#[derive(Debug, Clone)]
pub struct InstanceResult {
    pub instance: Instance,
    pub outcome: Outcome,
    pub duration: Duration,
}

/// How many times a failed run is run again, to tell a failure from a flaky outcome.
pub const RERUNS: usize = 4;

/// Keeps the names of a run's attempts apart: attempt `n` is numbered `number + n * this`.
const ATTEMPT_STRIDE: usize = 10_000;

/// Runs `instance`, once it is its turn. A run that fails (other than by the broker ceasing to
/// serve) is run [`RERUNS`] times again, each with names of its own: if any of them passes, the
/// outcome is flaky, with its pass rate, never silently a pass or a failure.
pub fn run_one(instance: &Instance, settings: &Settings) -> InstanceResult {
    let alone = runs_alone(instance);
    let _alone = alone.then(|| TURNS.write().unwrap_or_else(PoisonError::into_inner));
    let _together = (!alone).then(|| TURNS.read().unwrap_or_else(PoisonError::into_inner));
    let started = Instant::now();
    let attempt =
        |n: usize| runner::run(&instance.scenario, instance.version, instance.number + n * ATTEMPT_STRIDE, settings);
    let outcome = match settings.flaky.contains(&instance.name()) {
        true => judge_repeated((0..=RERUNS).map(attempt)),
        false => judge_attempts(attempt(0), (1..=RERUNS).map(attempt)),
    };
    InstanceResult { instance: instance.clone(), outcome, duration: started.elapsed() }
}

/// The outcome of a run known to be flaky, from all its attempts: passed only if every one
/// passed, failed only if none did.
fn judge_repeated(mut attempts: impl Iterator<Item = Outcome>) -> Outcome {
    let Some(first) = attempts.next() else { return Outcome::Passed };
    let mut failure = match first {
        Outcome::Failed(failure) if !failure.stopped_serving => Some(failure),
        Outcome::Passed => None,
        other => return other,
    };
    let (mut runs, mut passed) = (1, usize::from(failure.is_none()));
    for outcome in attempts {
        runs += 1;
        match outcome {
            Outcome::Passed => passed += 1,
            Outcome::Failed(other) => {
                failure.get_or_insert(other);
            }
            _ => {}
        }
    }
    match (failure, passed) {
        (None, _) => Outcome::Passed,
        (Some(failure), 0) => Outcome::Failed(failure),
        (Some(failure), _) => Outcome::Flaky { passed, runs, failure },
    }
}

/// The outcome of a run from its first attempt and, if that failed, the attempts after it.
fn judge_attempts(first: Outcome, again: impl Iterator<Item = Outcome>) -> Outcome {
    let failure = match first {
        Outcome::Failed(failure) if !failure.stopped_serving => failure,
        other => return other,
    };
    let mut runs = 1;
    let mut passed = 0;
    for outcome in again {
        runs += 1;
        passed += usize::from(outcome == Outcome::Passed);
    }
    match passed {
        0 => Outcome::Failed(failure),
        _ => Outcome::Flaky { passed, runs, failure },
    }
}

/// Runs every instance on `jobs` threads (in [`start_order`]), telling `done` as each
/// finishes; results come back in the order of `instances`.
pub fn run_all(
    instances: &[Instance],
    settings: &Settings,
    jobs: usize,
    done: &(dyn Fn(&InstanceResult) + Sync),
) -> Vec<InstanceResult> {
    let order = start_order(instances);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![None; instances.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                while let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = run_one(&instances[index], settings);
                    done(&result);
                    results.lock().unwrap_or_else(PoisonError::into_inner)[index] = Some(result);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(PoisonError::into_inner).into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Endpoint;

    fn scenario(id: &str, versions: &str) -> Scenario {
        let json = format!(
            r#"{{"title": "t", "versions": {versions}, "statements": {{"3.1.1": ["MQTT-3.1.0-1"], "5.0": ["MQTT-3.1.0-1"]}}, "steps": []}}"#
        );
        let mut scenario: Scenario = serde_json::from_str(&json).unwrap();
        scenario.id = id.to_string();
        scenario
    }

    #[test]
    fn every_version_of_every_scenario_is_an_instance_with_its_own_number() {
        let instances = instances(vec![scenario("a", r#"["3.1.1", "5.0"]"#), scenario("b", r#"["5.0"]"#)]);
        let names: Vec<String> = instances.iter().map(Instance::name).collect();
        assert_eq!(names, ["a@3.1.1", "a@5.0", "b@5.0"]);
        let numbers: Vec<usize> = instances.iter().map(|instance| instance.number).collect();
        assert_eq!(numbers, [0, 1, 2]);
    }

    fn failure() -> Outcome {
        Outcome::Failed(runner::Failure {
            step: 1,
            step_text: "s".into(),
            message: "m".into(),
            received: vec![],
            stopped_serving: false,
        })
    }

    #[test]
    fn a_failure_that_passes_when_run_again_is_flaky_with_its_pass_rate() {
        let again = [Outcome::Passed, failure(), Outcome::Passed, failure()];
        let Outcome::Flaky { passed, runs, .. } = judge_attempts(failure(), again.into_iter()) else { panic!() };
        assert_eq!((passed, runs), (2, 5));
        assert_eq!(judge_attempts(failure(), [failure(), failure()].into_iter()), failure());
        assert_eq!(judge_attempts(Outcome::Passed, [failure()].into_iter()), Outcome::Passed, "not run again");
    }

    #[test]
    fn a_run_known_to_be_flaky_is_judged_on_every_attempt() {
        let mixed = [Outcome::Passed, failure(), Outcome::Passed];
        let Outcome::Flaky { passed, runs, .. } = judge_repeated(mixed.into_iter()) else { panic!() };
        assert_eq!((passed, runs), (2, 3));
        assert_eq!(judge_repeated([Outcome::Passed, Outcome::Passed].into_iter()), Outcome::Passed);
        assert_eq!(judge_repeated([failure(), failure()].into_iter()), failure());
    }

    #[test]
    fn robustness_runs_start_first() {
        let instances = instances(vec![scenario("a/x", r#"["5.0"]"#), scenario("robustness/y", r#"["3.1.1", "5.0"]"#)]);
        assert_eq!(start_order(&instances), [1, 2, 0]);
        assert!(runs_alone(&instances[1]) && !runs_alone(&instances[0]));
    }

    #[test]
    fn run_all_returns_results_in_instance_order() {
        let instances = instances(vec![scenario("a", r#"["3.1.1", "5.0"]"#), scenario("b", r#"["5.0"]"#)]);
        let settings = Settings::new(Endpoint { url: "mqtt://127.0.0.1:9".parse().unwrap(), tls: None });
        let seen = AtomicUsize::new(0);
        let results = run_all(&instances, &settings, 3, &|_| {
            seen.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(seen.load(Ordering::Relaxed), 3);
        let names: Vec<String> = results.iter().map(|result| result.instance.name()).collect();
        assert_eq!(names, ["a@3.1.1", "a@5.0", "b@5.0"]);
        // Scenarios without steps pass without touching the network.
        assert!(results.iter().all(|result| result.outcome == Outcome::Passed));
    }
}
