//! A probe's results as artefacts: per property the worst verdict over the runs, and the spec
//! broker's (the part CI compares), and each violation, deviation or rejection with its
//! statements, the seed that reproduces it and a Mermaid diagram of the steps that matter.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::Duration;

use verimqtt_spec::trace::{Event, Node, TraceEvent};

use super::ProbeRun;
use super::monitors::{Outcome, Property};
use super::spec::SpecVerdict;
use crate::check::conn_of;
use crate::render::render;

/// The most events a finding's diagram shows.
const MAX_DIAGRAM_EVENTS: usize = 40;
/// How many events after a finding's last its diagram looks at.
const AFTER_THE_LAST: usize = 4;

/// Per property, the worst outcome over the runs and how many cases they decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub runs: usize,
    pub faults: usize,
    pub outcomes: BTreeMap<Property, (Outcome, usize)>,
    pub spec: SpecSummary,
}

/// The spec broker's verdicts over the runs: how many of each, and the time they took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecSummary {
    pub refines: usize,
    pub rejected: usize,
    pub stricter: usize,
    pub not_judged: usize,
    pub total: Duration,
    pub slowest: Duration,
}

impl SpecSummary {
    fn of(runs: &[ProbeRun]) -> Self {
        let mut summary = SpecSummary::default();
        for run in runs {
            match run.spec.verdict {
                SpecVerdict::Refines { .. } => summary.refines += 1,
                SpecVerdict::Rejected { .. } => summary.rejected += 1,
                SpecVerdict::Stricter { .. } => summary.stricter += 1,
                SpecVerdict::NotJudged { .. } => summary.not_judged += 1,
            }
            summary.total += run.spec.elapsed;
            summary.slowest = summary.slowest.max(run.spec.elapsed);
        }
        summary
    }

    /// The worst verdict of the judged runs: `rejected` if any run was, else `stricter than
    /// MQTT` if any run was rejected only where the spec broker is, else `refines`; `not
    /// judged` if no run was judged.
    pub fn verdict(&self) -> &'static str {
        if self.rejected > 0 {
            "rejected"
        } else if self.stricter > 0 {
            "stricter than MQTT"
        } else if self.refines > 0 {
            "refines"
        } else {
            "not judged"
        }
    }
}

impl Summary {
    pub fn of(runs: &[ProbeRun]) -> Self {
        let mut outcomes: BTreeMap<Property, (Outcome, usize)> =
            Property::ALL.iter().map(|&property| (property, (Outcome::Holds, 0))).collect();
        for verdict in runs.iter().flat_map(|run| &run.verdicts) {
            let entry = outcomes.entry(verdict.property).or_insert((Outcome::Holds, 0));
            entry.0 = entry.0.max(verdict.outcome());
            entry.1 += verdict.checked;
        }
        let faults = runs
            .iter()
            .flat_map(|run| &run.trace)
            .filter(|event| matches!(event.event, Event::FaultInjected { .. } | Event::NetworkStalled { .. }))
            .count();
        Summary { runs: runs.len(), faults, outcomes, spec: SpecSummary::of(runs) }
    }

    /// The verdicts as JSON, one property a line and, `with_spec`, the spec broker's last,
    /// without the counts (which vary with the broker's timing): the file CI compares.
    pub fn verdicts_json(&self, with_spec: bool) -> String {
        let spec = with_spec.then(|| format!("  \"spec_broker\": \"{}\"", self.spec.verdict()));
        let lines: Vec<String> = self
            .outcomes
            .iter()
            .map(|(property, (outcome, _))| format!("  \"{property}\": \"{}\"", outcome.name()))
            .chain(spec)
            .collect();
        format!("{{\n{}\n}}\n", lines.join(",\n"))
    }

    /// One line per property: verdict and cases decided.
    pub fn table(&self) -> String {
        let mut out = format!("{} runs, {} faults and stalls injected\n", self.runs, self.faults);
        for (property, (outcome, checked)) in &self.outcomes {
            let _ = writeln!(out, "{:<18} {:<9} ({checked} cases decided)", property.name(), outcome.name());
        }
        let spec = &self.spec;
        let _ = writeln!(
            out,
            "{:<18} {} ({} refine, {} rejected, {} rejected where it is stricter than MQTT, {} not judged; \
             {} ms per run, {} ms the slowest)",
            "spec_broker",
            spec.verdict(),
            spec.refines,
            spec.rejected,
            spec.stricter,
            spec.not_judged,
            spec.total.as_millis() / self.runs.max(1) as u128,
            spec.slowest.as_millis()
        );
        out
    }
}

/// Every violation and deviation of `runs`, and every rejection by the spec broker, as
/// Markdown: the property, its statements, the finding, the seed and the command that runs it
/// again, and a Mermaid sequence diagram of the steps that matter.
pub fn findings_report(broker: &str, runs: &[ProbeRun]) -> String {
    let mut out = String::new();
    for run in runs {
        let v5 = run.scenario.version.is_v5();
        for finding in run.verdicts.iter().flat_map(|verdict| &verdict.findings) {
            let _ = writeln!(out, "## {} {}: {}\n", finding.property, finding.outcome.name(), finding.message);
            let _ = writeln!(
                out,
                "- statements (MQTT {}): {}",
                if v5 { "5.0" } else { "3.1.1" },
                finding.property.statements(v5).join(", ")
            );
            scenario_and_diagram(&mut out, broker, run, &finding.events);
        }
        spec_rejection(&mut out, broker, run);
    }
    if out.is_empty() {
        out.push_str("No violation, no deviation and no rejection by the spec broker.\n");
    }
    let not_judged: Vec<String> = runs
        .iter()
        .filter_map(|run| match &run.spec.verdict {
            SpecVerdict::NotJudged { why } => Some(format!("- {}: {why}", run.origin.file_stem())),
            _ => None,
        })
        .collect();
    if !not_judged.is_empty() {
        let _ = writeln!(out, "\n## Runs the spec broker did not judge\n\n{}", not_judged.join("\n"));
    }
    out
}

/// The command that runs `run`'s scenario again, and a diagram of the steps that matter to
/// a finding shown by trace events `own`.
fn scenario_and_diagram(out: &mut String, broker: &str, run: &ProbeRun, own: &[usize]) {
    let _ = writeln!(
        out,
        "- scenario {}: `verimqtt-traces probe --broker {broker} --version {} {}`",
        run.origin.file_stem(),
        if run.scenario.version.is_v5() { 5 } else { 3 },
        run.origin.rerun_options()
    );
    let _ = writeln!(out, "\n```mermaid\n{}```\n", render(&steps_that_matter(&run.trace, own)));
}

/// The spec broker's rejection of `run`, if any, as a finding: what no spec state explains,
/// whether the spec broker is stricter than MQTT there, the command that runs it again and a
/// diagram from the opening of its connection (for an overdue timer: of the connection silent
/// longest).
fn spec_rejection(out: &mut String, broker: &str, run: &ProbeRun) {
    let (index, what, limit, shows) = match &run.spec.verdict {
        SpecVerdict::Rejected { index, what, shows } => (*index, what, None, shows),
        SpecVerdict::Stricter { index, what, limit, shows } => (*index, what, Some(*limit), shows),
        SpecVerdict::Refines { .. } | SpecVerdict::NotJudged { .. } => return,
    };
    let _ = writeln!(out, "## spec_broker {}: {what}\n", run.spec.verdict.name());
    let _ = writeln!(
        out,
        "- no state of the specification broker (`model/src/spec_broker/`) explains trace event {}",
        index + 1
    );
    if let Some(limit) = limit {
        let _ = writeln!(out, "- not a violation of MQTT: the spec broker is stricter than MQTT here ({limit})");
    }
    scenario_and_diagram(out, broker, run, shows);
}

/// The events of `trace` a reader needs to see a finding shown by trace events `own`: those,
/// and between the first and the last of them those on their connections and of their
/// clients, and the faults; at most [`MAX_DIAGRAM_EVENTS`], the nearest to `own` kept.
fn steps_that_matter(trace: &[TraceEvent], own: &[usize]) -> Vec<TraceEvent> {
    let (Some(&first), Some(&last)) = (own.iter().min(), own.iter().max()) else {
        return Vec::new();
    };
    let conns: BTreeSet<u64> = own.iter().filter_map(|&index| conn_of(&trace[index].event)).collect();
    let nodes: BTreeSet<Node> = trace
        .iter()
        .filter(|event| conn_of(&event.event).is_some_and(|conn| conns.contains(&conn)) && !event.node.is_network())
        .map(|event| event.node.clone())
        .chain(own.iter().map(|&index| trace[index].node.clone()))
        .collect();
    let relevant = |index: usize| {
        let event = &trace[index];
        own.contains(&index)
            || match conn_of(&event.event) {
                Some(conn) => conns.contains(&conn),
                None => nodes.contains(&event.node) || event.node.is_network(),
            }
    };
    // The openings of its connections name their clients in the diagram.
    let openings: Vec<usize> = (0..first)
        .filter(|&index| matches!(trace[index].event, Event::ConnectionOpened { conn, .. } if conns.contains(&conn)))
        .collect();
    // A few events past the last show how it was received.
    let end = (last + AFTER_THE_LAST).min(trace.len() - 1);
    let mut chosen: Vec<usize> = (first..=end).filter(|&index| relevant(index)).collect();
    let budget = MAX_DIAGRAM_EVENTS.saturating_sub(openings.len());
    if chosen.len() > budget {
        let distance = |index: usize| own.iter().map(|&event| event.abs_diff(index)).min().unwrap_or(0);
        chosen.sort_by_key(|&index| distance(index));
        chosen.truncate(budget);
        chosen.sort_unstable();
    }
    chosen.splice(0..0, openings);
    chosen.into_iter().map(|index| trace[index].clone()).collect()
}
