//! What a run found, as JSON for tools and Markdown for people: every scenario's outcome, and
//! how much of the catalogue the scenarios cover.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;
use verimqtt_spec::catalogue::{Binds, Level, SpecVersion, catalogue};

use crate::runner::Outcome;
use crate::suite::InstanceResult;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The broker as the run named it (a URL, or "embedded verimqtt").
    pub broker: String,
    pub run_id: String,
    pub duration_ms: u64,
    pub summary: Counts,
    pub coverage: Vec<Coverage>,
    pub results: Vec<ScenarioResult>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    /// Failed, and passed when run again.
    pub flaky: usize,
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Flaky { .. } => self.flaky += 1,
            Outcome::Skipped(_) => self.skipped += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.passed + self.failed + self.flaky + self.skipped
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// `<id>@<version>`, the test name.
    pub name: String,
    pub title: String,
    pub version: SpecVersion,
    pub statements: Vec<String>,
    /// "passed", "failed", "flaky" or "skipped".
    pub outcome: &'static str,
    /// For a flaky run: passes out of runs, as "2/5".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_rate: Option<String>,
    /// For a failure: the step, what went wrong and the bytes received; for a skip: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A failure of the liveness check: the broker stopped serving during or before the run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stopped_serving: bool,
    pub duration_ms: u64,
}

/// How much of one version's catalogue the scenarios that ran check.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub version: SpecVersion,
    pub levels: Vec<LevelCoverage>,
    /// Statements checked by a scenario that failed (other than by the broker ceasing to serve).
    pub broken: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelCoverage {
    /// "must", "should" or "may".
    pub level: &'static str,
    pub statements: usize,
    pub checked: usize,
    /// The statements that bind a server (or both sides): what a broker can be held to.
    pub server_statements: usize,
    pub server_checked: usize,
}

pub fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed(_) => "failed",
        Outcome::Flaky { .. } => "flaky",
        Outcome::Skipped(_) => "skipped",
    }
}

impl Report {
    pub fn new(broker: String, run_id: String, duration_ms: u64, results: &[InstanceResult]) -> Self {
        let mut summary = Counts::default();
        for result in results {
            summary.add(&result.outcome);
        }
        Report {
            broker,
            run_id,
            duration_ms,
            summary,
            coverage: coverage(results),
            results: results.iter().map(scenario_result).collect(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
    }

    /// Outcomes per area (the directory of the scenario) and version.
    pub fn by_area(&self) -> BTreeMap<(String, SpecVersion), Counts> {
        let mut areas: BTreeMap<(String, SpecVersion), Counts> = BTreeMap::new();
        for result in &self.results {
            let area = result.name.split('/').next().unwrap_or_default().to_string();
            let counts = areas.entry((area, result.version)).or_default();
            match result.outcome {
                "passed" => counts.passed += 1,
                "failed" => counts.failed += 1,
                "flaky" => counts.flaky += 1,
                _ => counts.skipped += 1,
            }
        }
        areas
    }

    /// A table of the outcomes per area and version, for the terminal.
    pub fn summary_table(&self) -> String {
        let mut table = format!(
            "{:<14} {:<8} {:>6} {:>6} {:>6} {:>7}\n",
            "area", "version", "passed", "failed", "flaky", "skipped"
        );
        let mut row = |area: &str, version: &str, c: &Counts| {
            let _ = writeln!(
                table,
                "{area:<14} {version:<8} {:>6} {:>6} {:>6} {:>7}",
                c.passed, c.failed, c.flaky, c.skipped
            );
        };
        for ((area, version), counts) in self.by_area() {
            row(&area, version.as_str(), &counts);
        }
        row("all", "", &self.summary);
        table
    }

    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let s = &self.summary;
        let _ = writeln!(md, "# MQTT conformance report: {}\n", self.broker);
        let _ = writeln!(
            md,
            "{} scenario runs in {:.1} s (run `{}`): **{} passed, {} failed, {} flaky, {} skipped**. \
             A failed run is run {} times again; one that then passes is flaky, shown with its pass rate.\n",
            s.total(),
            self.duration_ms as f64 / 1000.0,
            self.run_id,
            s.passed,
            s.failed,
            s.flaky,
            s.skipped,
            crate::suite::RERUNS
        );
        md.push_str(
            "## Outcomes\n\n| area | version | passed | failed | flaky | skipped |\n|---|---|---|---|---|---|\n",
        );
        for ((area, version), c) in self.by_area() {
            let _ = writeln!(md, "| {area} | {version} | {} | {} | {} | {} |", c.passed, c.failed, c.flaky, c.skipped);
        }
        md.push_str("\n## Catalogue coverage\n\nStatements checked by at least one scenario that ran. ");
        md.push_str("Those binding the server (or both sides) are what a broker can be held to.\n\n");
        md.push_str("| version | level | statements | checked | share | binding the server | checked | share |\n");
        md.push_str("|---|---|---|---|---|---|---|---|\n");
        for coverage in &self.coverage {
            for level in &coverage.levels {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    coverage.version,
                    level.level,
                    level.statements,
                    level.checked,
                    percent(level.checked, level.statements),
                    level.server_statements,
                    level.server_checked,
                    percent(level.server_checked, level.server_statements)
                );
            }
        }
        md.push_str(&uncovered_section(&self.results));
        let broken: Vec<String> = self
            .coverage
            .iter()
            .flat_map(|coverage| coverage.broken.iter().map(move |id| format!("`{id}` ({})", coverage.version)))
            .collect();
        if !broken.is_empty() {
            let _ = writeln!(md, "\nStatements the broker breaks: {}.", broken.join(", "));
        }
        let stopped: Vec<String> = self
            .results
            .iter()
            .filter(|result| result.stopped_serving)
            .map(|result| format!("`{}`", result.name))
            .collect();
        if !stopped.is_empty() {
            let _ = writeln!(
                md,
                "\nRuns during or before which the broker stopped serving (it crashed, restarted or stalled; \
                 their statements are not counted as broken): {}.",
                stopped.join(", ")
            );
        }
        let failures: Vec<&ScenarioResult> =
            self.results.iter().filter(|result| matches!(result.outcome, "failed" | "flaky")).collect();
        if !failures.is_empty() {
            md.push_str("\n## Failures\n");
            for failure in failures {
                let rate = failure.pass_rate.as_ref().map(|rate| format!(" (flaky: passed {rate} runs)"));
                let _ = writeln!(
                    md,
                    "\n### `{}`{}\n\n{}\n\nStatements: {}\n",
                    failure.name,
                    rate.unwrap_or_default(),
                    failure.title,
                    failure.statements.join(", ")
                );
                let _ = writeln!(md, "```text\n{}```", failure.detail.as_deref().unwrap_or_default());
            }
        }
        let skipped: Vec<&ScenarioResult> = self.results.iter().filter(|result| result.outcome == "skipped").collect();
        if !skipped.is_empty() {
            md.push_str("\n## Skipped\n\n");
            for skip in skipped {
                let _ = writeln!(md, "- `{}`: {}", skip.name, skip.detail.as_deref().unwrap_or_default());
            }
        }
        md
    }
}

/// Every MUST binding the server that no scenario in the run cites, with why
/// (`conformance/uncovered.json`).
fn uncovered_section(results: &[ScenarioResult]) -> String {
    let reasons = crate::uncovered::reasons();
    let mut md = String::new();
    for version in SpecVersion::ALL {
        if !results.iter().any(|result| result.version == version) {
            continue;
        }
        let cited: BTreeSet<&String> =
            results.iter().filter(|result| result.version == version).flat_map(|result| &result.statements).collect();
        let uncovered: Vec<_> = catalogue()
            .statements(version)
            .filter(|statement| statement.level == Level::Must && statement.binds != Binds::Client)
            .filter(|statement| !cited.contains(&statement.id))
            .collect();
        let _ = writeln!(
            md,
            "\n### MQTT {version}: server statements no scenario of this run checks ({})\n",
            uncovered.len()
        );
        for statement in uncovered {
            let why = reasons[&version].get(&statement.id).map_or("not among the scenarios that ran", String::as_str);
            let _ = writeln!(md, "- `{}` {} *Why not:* {why}", statement.id, statement.summary);
        }
    }
    md
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 { "-".to_string() } else { format!("{:.0}%", 100.0 * part as f64 / whole as f64) }
}

fn scenario_result(result: &InstanceResult) -> ScenarioResult {
    let scenario = &result.instance.scenario;
    let version = result.instance.version;
    ScenarioResult {
        name: result.instance.name(),
        title: scenario.title.clone(),
        version,
        statements: scenario.statements.get(&version).cloned().unwrap_or_default(),
        outcome: outcome_name(&result.outcome),
        pass_rate: match &result.outcome {
            Outcome::Flaky { passed, runs, .. } => Some(format!("{passed}/{runs}")),
            _ => None,
        },
        detail: match &result.outcome {
            Outcome::Passed => None,
            Outcome::Failed(failure) | Outcome::Flaky { failure, .. } => Some(failure.to_string()),
            Outcome::Skipped(why) => Some(why.clone()),
        },
        stopped_serving: matches!(&result.outcome, Outcome::Failed(failure) if failure.stopped_serving),
        duration_ms: result.duration.as_millis() as u64,
    }
}

fn coverage(results: &[InstanceResult]) -> Vec<Coverage> {
    SpecVersion::ALL
        .into_iter()
        .filter(|version| results.iter().any(|result| result.instance.version == *version))
        .map(|version| {
            let mut checked = BTreeSet::new();
            let mut broken = BTreeSet::new();
            for result in results.iter().filter(|result| result.instance.version == version) {
                let ids = result.instance.scenario.statements.get(&version).into_iter().flatten();
                match &result.outcome {
                    Outcome::Passed => checked.extend(ids.cloned()),
                    Outcome::Failed(failure) if failure.stopped_serving => checked.extend(ids.cloned()),
                    Outcome::Failed(_) | Outcome::Flaky { .. } => {
                        for id in ids {
                            checked.insert(id.clone());
                            broken.insert(id.clone());
                        }
                    }
                    Outcome::Skipped(_) => {}
                }
            }
            let levels = [(Level::Must, "must"), (Level::Should, "should"), (Level::May, "may")]
                .into_iter()
                .map(|(level, name)| {
                    let statements: Vec<_> =
                        catalogue().statements(version).filter(|statement| statement.level == level).collect();
                    let server: Vec<_> =
                        statements.iter().filter(|statement| statement.binds != Binds::Client).collect();
                    let count_checked =
                        |ids: &mut dyn Iterator<Item = &str>| ids.filter(|id| checked.contains(*id)).count();
                    LevelCoverage {
                        level: name,
                        statements: statements.len(),
                        checked: count_checked(&mut statements.iter().map(|statement| statement.id.as_str())),
                        server_statements: server.len(),
                        server_checked: count_checked(&mut server.iter().map(|statement| statement.id.as_str())),
                    }
                })
                .filter(|level| level.statements > 0)
                .collect();
            Coverage { version, levels, broken: broken.into_iter().collect() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Failure;
    use crate::scenario::Scenario;
    use crate::suite::instances;
    use std::time::Duration;

    fn results() -> Vec<InstanceResult> {
        let scenario: Scenario = serde_json::from_str(
            r#"{"title": "A PUBLISH before CONNECT closes the connection", "versions": ["3.1.1", "5.0"],
                "statements": {"3.1.1": ["MQTT-3.1.0-1"], "5.0": ["MQTT-3.1.0-1", "MQTT-3.1.0-2"]}, "steps": []}"#,
        )
        .unwrap();
        let mut scenario = scenario;
        scenario.id = "connect/first".to_string();
        let failure = Failure {
            step: 2,
            step_text: "expect \"c\" closed".into(),
            message: "still open".into(),
            received: vec![],
            stopped_serving: false,
        };
        instances(vec![scenario])
            .into_iter()
            .zip([Outcome::Passed, Outcome::Failed(failure)])
            .map(|(instance, outcome)| InstanceResult { instance, outcome, duration: Duration::from_millis(5) })
            .collect()
    }

    #[test]
    fn coverage_counts_statements_checked_and_broken_per_version() {
        let report = Report::new("test".into(), "r".into(), 10, &results());
        assert_eq!(report.summary, Counts { passed: 1, failed: 1, flaky: 0, skipped: 0 });
        let v5 = report.coverage.iter().find(|coverage| coverage.version == SpecVersion::V5_0).unwrap();
        let must = v5.levels.iter().find(|level| level.level == "must").unwrap();
        assert_eq!(must.checked, 2);
        assert_eq!(must.statements, catalogue().len(SpecVersion::V5_0));
        assert_eq!(v5.broken, ["MQTT-3.1.0-1", "MQTT-3.1.0-2"]);
        let v311 = report.coverage.iter().find(|coverage| coverage.version == SpecVersion::V3_1_1).unwrap();
        assert!(v311.broken.is_empty());
    }

    #[test]
    fn a_broker_that_stopped_serving_breaks_no_statement_of_the_run() {
        let mut results = results();
        if let Outcome::Failed(failure) = &mut results[1].outcome {
            failure.stopped_serving = true;
        }
        let report = Report::new("test".into(), "r".into(), 10, &results);
        assert!(report.coverage.iter().all(|coverage| coverage.broken.is_empty()));
        assert!(report.results[1].stopped_serving);
        let markdown = report.to_markdown();
        assert!(markdown.contains("the broker stopped serving (it crashed"), "{markdown}");
        assert!(markdown.contains("`connect/first@5.0`"), "{markdown}");
    }

    #[test]
    fn the_markdown_report_shows_outcomes_coverage_and_failures() {
        let markdown = Report::new("mqtt://127.0.0.1:1883".into(), "r".into(), 1500, &results()).to_markdown();
        assert!(markdown.contains("**1 passed, 1 failed, 0 flaky, 0 skipped**"), "{markdown}");
        assert!(markdown.contains("| connect | 5.0 | 0 | 1 | 0 | 0 |"), "{markdown}");
        assert!(markdown.contains("### `connect/first@5.0`"), "{markdown}");
        assert!(markdown.contains("still open"), "{markdown}");
    }

    #[test]
    fn the_json_report_names_every_result() {
        let json: serde_json::Value =
            serde_json::from_str(&Report::new("b".into(), "r".into(), 1, &results()).to_json()).unwrap();
        assert_eq!(json["results"][1]["name"], "connect/first@5.0");
        assert_eq!(json["results"][1]["outcome"], "failed");
        assert_eq!(json["summary"]["failed"], 1);
    }
}
