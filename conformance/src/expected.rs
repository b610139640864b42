//! What a third-party broker is known to do: its deviations from the specification (and the
//! scenarios it cannot run as configured), each with a line saying why. A run compared with
//! its expectations fails on any change, in either direction, so a deviation is documented
//! rather than hidden, and a fixed one is noticed.
//!
//! ```json
//! {
//!   "broker": "mosquitto 2.0.11 (Debian 12), one TCP listener, anonymous, no persistence",
//!   "deviations": {
//!     "malformed/publish-qos-3@5.0": {"outcome": "failed", "why": "closes without DISCONNECT 0x81"}
//!   }
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::report::Report;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// The broker and the configuration the expectations hold for.
    pub broker: String,
    #[serde(default)]
    pub notes: Option<String>,
    /// Every scenario run not named here is expected to pass.
    pub deviations: BTreeMap<String, Deviation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    pub outcome: DeviationOutcome,
    /// One line: the broker's deviation from the specification, or the configuration it needs.
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviationOutcome {
    Failed,
    Skipped,
    /// Fails, and sometimes passes when run again, depending on the broker's own timing: a
    /// flaky outcome or a failure is accepted (a run that always passes is a change), and `why`
    /// says what makes it so. The report shows the pass rate.
    Flaky,
}

impl DeviationOutcome {
    fn name(self) -> &'static str {
        match self {
            DeviationOutcome::Failed => "failed",
            DeviationOutcome::Skipped => "skipped",
            DeviationOutcome::Flaky => "flaky or failed",
        }
    }

    fn accepts(self, outcome: &str) -> bool {
        match self {
            DeviationOutcome::Flaky => outcome == "flaky" || outcome == "failed",
            known => known.name() == outcome,
        }
    }
}

impl Expected {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
        serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// The runs expected to be flaky, which the suite runs every time as often as a failure.
    pub fn flaky_runs(&self) -> BTreeSet<String> {
        let flaky = self.deviations.iter().filter(|(_, deviation)| deviation.outcome == DeviationOutcome::Flaky);
        flaky.map(|(name, _)| name.clone()).collect()
    }

    /// Every difference between the report and the expectations: an outcome that changed, and
    /// a deviation naming a scenario run that does not exist (`known` holds every name).
    /// `unmeasured` names runs this run skipped for a reason of its own rather than the
    /// broker's (a CONNECT in raw bytes cannot carry the credentials it gives): the
    /// expectations say nothing of them.
    pub fn compare(&self, report: &Report, known: &BTreeSet<String>, unmeasured: &BTreeSet<String>) -> Vec<String> {
        let mut differences = Vec::new();
        for name in self.deviations.keys().filter(|name| !known.contains(*name)) {
            differences.push(format!("{name}: the expectations name a scenario run that does not exist"));
        }
        for result in &report.results {
            if result.outcome == "skipped" && unmeasured.contains(&result.name) {
                continue;
            }
            let deviation = self.deviations.get(&result.name);
            let accepted =
                deviation.map_or(result.outcome == "passed", |deviation| deviation.outcome.accepts(result.outcome));
            if !accepted {
                let expected = deviation.map_or("passed", |deviation| deviation.outcome.name());
                let why =
                    deviation.map(|deviation| format!(" (expected because: {})", deviation.why)).unwrap_or_default();
                differences.push(format!("{}: expected {expected}, {}{why}", result.name, result.outcome));
            }
        }
        differences
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Counts, ScenarioResult};
    use verimqtt_spec::catalogue::SpecVersion;

    impl Expected {
        fn compare_all(&self, report: &Report, known: &BTreeSet<String>) -> Vec<String> {
            self.compare(report, known, &BTreeSet::new())
        }
    }

    #[test]
    fn an_unmeasured_run_is_no_difference_only_if_it_was_skipped() {
        let known = ["x@5.0".to_string(), "y@5.0".to_string()].into();
        let unmeasured = ["x@5.0".to_string(), "y@5.0".to_string()].into();
        let differences =
            expected().compare(&report(&[("x@5.0", "skipped"), ("y@5.0", "failed")]), &known, &unmeasured);
        assert_eq!(differences, ["y@5.0: expected passed, failed".to_string()]);
    }

    fn report(outcomes: &[(&str, &'static str)]) -> Report {
        Report {
            broker: "b".into(),
            run_id: "r".into(),
            duration_ms: 0,
            summary: Counts::default(),
            coverage: vec![],
            results: outcomes
                .iter()
                .map(|(name, outcome)| ScenarioResult {
                    name: name.to_string(),
                    title: String::new(),
                    version: SpecVersion::V5_0,
                    statements: vec![],
                    outcome,
                    pass_rate: None,
                    detail: None,
                    stopped_serving: false,
                    duration_ms: 0,
                })
                .collect(),
        }
    }

    fn expected() -> Expected {
        serde_json::from_str(r#"{"broker": "b", "deviations": {"x@5.0": {"outcome": "failed", "why": "known bug"}}}"#)
            .unwrap()
    }

    #[test]
    fn matching_outcomes_have_no_differences() {
        let known = ["x@5.0".to_string(), "y@5.0".to_string()].into();
        assert!(expected().compare_all(&report(&[("x@5.0", "failed"), ("y@5.0", "passed")]), &known).is_empty());
    }

    #[test]
    fn changes_in_either_direction_are_differences() {
        let known = ["x@5.0".to_string(), "y@5.0".to_string()].into();
        let differences = expected().compare_all(&report(&[("x@5.0", "passed"), ("y@5.0", "failed")]), &known);
        assert_eq!(
            differences,
            [
                "x@5.0: expected failed, passed (expected because: known bug)".to_string(),
                "y@5.0: expected passed, failed".to_string(),
            ]
        );
    }

    #[test]
    fn a_flaky_outcome_accepts_flaky_and_failing_but_not_passing_or_skipping() {
        let expected: Expected =
            serde_json::from_str(r#"{"broker": "b", "deviations": {"x@5.0": {"outcome": "flaky", "why": "timer"}}}"#)
                .unwrap();
        let known = ["x@5.0".to_string()].into();
        assert!(expected.compare_all(&report(&[("x@5.0", "flaky")]), &known).is_empty());
        assert!(expected.compare_all(&report(&[("x@5.0", "failed")]), &known).is_empty());
        assert_eq!(expected.compare_all(&report(&[("x@5.0", "passed")]), &known).len(), 1, "a fix is noticed");
        assert_eq!(expected.compare_all(&report(&[("x@5.0", "skipped")]), &known).len(), 1);
    }

    #[test]
    fn a_deviation_for_a_scenario_that_does_not_exist_is_a_difference() {
        let known = ["y@5.0".to_string()].into();
        let differences = expected().compare_all(&report(&[("y@5.0", "passed")]), &known);
        assert_eq!(differences.len(), 1);
        assert!(differences[0].contains("does not exist"));
    }
}
