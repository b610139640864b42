//! The compliance matrix (`conformance/MATRIX.md`) from the reports `brokers/measure` writes:
//! per broker and version, the outcomes per area, the statements it breaks, the configuration
//! measured, and each deviation with the line its expected file gives for it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde::Deserialize;

use crate::expected::Expected;

/// What `brokers/measure` wrote for one broker.
#[derive(Debug, Clone, Deserialize)]
pub struct Measured {
    pub name: String,
    pub description: String,
    /// The suite runs: a port offset, then the suite's flags.
    pub runs: Vec<String>,
}

/// The part of a JSON report the matrix reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportView {
    pub results: Vec<ResultView>,
    pub coverage: Vec<CoverageView>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResultView {
    pub name: String,
    pub version: String,
    pub outcome: String,
    #[serde(default)]
    pub pass_rate: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CoverageView {
    pub version: String,
    pub broken: Vec<String>,
}

/// One broker's measurement: what it is, its reports, and its expected file if it has one.
#[derive(Debug, Clone)]
pub struct Broker {
    pub measured: Measured,
    pub reports: Vec<ReportView>,
    pub expected: Option<Expected>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    passed: usize,
    failed: usize,
    flaky: usize,
    skipped: usize,
}

impl Tally {
    fn add(&mut self, outcome: &str) {
        match outcome {
            "passed" => self.passed += 1,
            "failed" => self.failed += 1,
            "flaky" => self.flaky += 1,
            _ => self.skipped += 1,
        }
    }

    fn cell(&self) -> String {
        format!("{} / {} / {} / {}", self.passed, self.failed, self.flaky, self.skipped)
    }
}

/// Reads every `NAME.meta.json` in `dir` with its reports (`NAME.json`, `NAME.1.json`, ...)
/// and `expected_dir/NAME.json` where it exists.
pub fn load(dir: &Path, expected_dir: &Path) -> Result<Vec<Broker>, String> {
    let read = |path: &Path| std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()));
    let mut metas: Vec<_> = std::fs::read_dir(dir)
        .map_err(|error| format!("{}: {error}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".meta.json"))
        .collect();
    metas.sort();
    let mut brokers = Vec::new();
    for meta in metas {
        let measured: Measured =
            serde_json::from_str(&read(&meta)?).map_err(|error| format!("{}: {error}", meta.display()))?;
        let mut reports = Vec::new();
        for n in 0..measured.runs.len() {
            let file = match n {
                0 => format!("{}.json", measured.name),
                n => format!("{}.{n}.json", measured.name),
            };
            let path = dir.join(file);
            let report = serde_json::from_str(&read(&path)?).map_err(|error| format!("{}: {error}", path.display()))?;
            reports.push(report);
        }
        let expected_path = expected_dir.join(format!("{}.json", measured.name));
        let expected = expected_path.exists().then(|| Expected::load(&expected_path)).transpose()?;
        brokers.push(Broker { measured, reports, expected });
    }
    Ok(brokers)
}

/// The Markdown matrix; `unavailable` names the brokers not measured and why.
pub fn render(brokers: &[Broker], unavailable: &BTreeMap<String, String>) -> String {
    let mut md = String::from("# Compliance matrix\n\n");
    md.push_str(
        "Generated, not written: `conformance/brokers/measure all` installs each broker from its package \
         registry, starts it on loopback and runs the suite against it; then\n\
         `cargo run -p verimqtt-conformance --bin conformance-matrix -- target/conformance > conformance/MATRIX.md`.\n\
         Cells are passed / failed / flaky / skipped scenario runs. A failed run is run 4 times again; flaky \
         means it then passed at least once.\n\n",
    );
    md.push_str("## Summary\n\n| broker | version | passed | failed | flaky | skipped | server statements broken |\n");
    md.push_str("|---|---|---|---|---|---|---|\n");
    let mut areas: BTreeMap<String, BTreeMap<String, Tally>> = BTreeMap::new();
    let mut columns = Vec::new();
    for broker in brokers {
        let mut by_version: BTreeMap<String, Tally> = BTreeMap::new();
        for result in broker.reports.iter().flat_map(|report| &report.results) {
            by_version.entry(result.version.clone()).or_default().add(&result.outcome);
            let column = format!("{} {}", broker.measured.name, result.version);
            let area = result.name.split('/').next().unwrap_or_default().to_string();
            areas.entry(area).or_default().entry(column).or_default().add(&result.outcome);
        }
        for (version, tally) in &by_version {
            let broken = broken(broker, version).len();
            let _ = writeln!(
                md,
                "| {} | {version} | {} | {} | {} | {} | {broken} |",
                broker.measured.name, tally.passed, tally.failed, tally.flaky, tally.skipped
            );
            columns.push(format!("{} {version}", broker.measured.name));
        }
    }
    md.push_str("\n## Per area\n\n| area | ");
    md.push_str(&columns.join(" | "));
    md.push_str(" |\n|---|");
    md.push_str(&"---|".repeat(columns.len()));
    md.push('\n');
    for (area, tallies) in &areas {
        let cells: Vec<String> =
            columns.iter().map(|column| tallies.get(column).map_or("-".to_string(), Tally::cell)).collect();
        let _ = writeln!(md, "| {area} | {} |", cells.join(" | "));
    }
    md.push_str("\n## Brokers\n");
    for broker in brokers {
        render_broker(&mut md, broker);
    }
    if !unavailable.is_empty() {
        md.push_str("\n## Not measured\n\n");
        for (name, why) in unavailable {
            let _ = writeln!(md, "- **{name}**: {why}");
        }
    }
    md
}

fn broken(broker: &Broker, version: &str) -> Vec<String> {
    let coverage = broker.reports.iter().flat_map(|report| &report.coverage);
    coverage.filter(|coverage| coverage.version == version).flat_map(|coverage| coverage.broken.clone()).collect()
}

fn render_broker(md: &mut String, broker: &Broker) {
    let measured = &broker.measured;
    let _ = writeln!(md, "\n### {}\n\n{}.", measured.name, measured.description);
    let flags: Vec<String> =
        measured.runs.iter().map(|run| run.split_once(' ').map_or("", |(_, flags)| flags).to_string()).collect();
    if flags.iter().any(|flags| !flags.is_empty()) {
        let _ = writeln!(
            md,
            "Suite flags: {}.",
            flags.iter().map(|flags| format!("`{flags}`")).collect::<Vec<_>>().join(", ")
        );
    }
    for version in ["3.1.1", "5.0"] {
        let broken = broken(broker, version);
        if !broken.is_empty() {
            let _ = writeln!(md, "\nStatements broken in {version}: {}.", broken.join(", "));
        }
    }
    let deviations: Vec<&ResultView> = broker
        .reports
        .iter()
        .flat_map(|report| &report.results)
        .filter(|result| matches!(result.outcome.as_str(), "failed" | "flaky"))
        .collect();
    if deviations.is_empty() {
        md.push_str("\nEvery scenario run passed.\n");
        return;
    }
    let _ = writeln!(md, "\n| run | outcome | why (`conformance/expected/{}.json`) |\n|---|---|---|", measured.name);
    for result in deviations {
        let why = broker
            .expected
            .as_ref()
            .and_then(|expected| expected.deviations.get(&result.name))
            .map_or("not explained yet", |deviation| deviation.why.as_str());
        let outcome = match &result.pass_rate {
            Some(rate) => format!("flaky ({rate})"),
            None => result.outcome.clone(),
        };
        let _ = writeln!(md, "| `{}` | {outcome} | {why} |", result.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker() -> Broker {
        let report: ReportView = serde_json::from_str(
            r#"{"results": [
                {"name": "qos/a@5.0", "version": "5.0", "outcome": "passed"},
                {"name": "qos/b@5.0", "version": "5.0", "outcome": "failed"},
                {"name": "keep-alive/c@5.0", "version": "5.0", "outcome": "flaky", "pass_rate": "1/5"}],
                "coverage": [{"version": "5.0", "broken": ["MQTT-3.3.1-1"]}]}"#,
        )
        .unwrap();
        let expected = serde_json::from_str(
            r#"{"broker": "b", "deviations": {"qos/b@5.0": {"outcome": "failed", "why": "drops it"}}}"#,
        )
        .unwrap();
        Broker {
            measured: Measured {
                name: "b".into(),
                description: "b 1.0, defaults".into(),
                runs: vec!["0 --version 5".into()],
            },
            reports: vec![report],
            expected: Some(expected),
        }
    }

    #[test]
    fn the_matrix_shows_outcomes_broken_statements_and_why() {
        let unavailable = [("x".to_string(), "does not build".to_string())].into();
        let md = render(&[broker()], &unavailable);
        assert!(md.contains("| b | 5.0 | 1 | 1 | 1 | 0 | 1 |"), "{md}");
        assert!(md.contains("| qos | 1 / 1 / 0 / 0 |"), "{md}");
        assert!(md.contains("| `qos/b@5.0` | failed | drops it |"), "{md}");
        assert!(md.contains("| `keep-alive/c@5.0` | flaky (1/5) | not explained yet |"), "{md}");
        assert!(md.contains("Suite flags: `--version 5`."), "{md}");
        assert!(md.contains("- **x**: does not build"), "{md}");
    }
}
