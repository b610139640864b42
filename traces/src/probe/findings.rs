//! A probe's results as artefacts: per property the worst verdict over the runs (the part CI
//! compares), and each violation or deviation with its statements, the seed that reproduces
//! it and a Mermaid diagram of the steps that matter.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use verimqtt_spec::trace::{Event, Node, TraceEvent};

use super::ProbeRun;
use super::monitors::{Finding, Outcome, Property};
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
        Summary { runs: runs.len(), faults, outcomes }
    }

    /// The verdicts as JSON, one property a line, without the counts (which vary with the
    /// broker's timing): the file CI compares.
    pub fn verdicts_json(&self) -> String {
        let lines: Vec<String> = self
            .outcomes
            .iter()
            .map(|(property, (outcome, _))| format!("  \"{property}\": \"{}\"", outcome.name()))
            .collect();
        format!("{{\n{}\n}}\n", lines.join(",\n"))
    }

    /// One line per property: verdict and cases decided.
    pub fn table(&self) -> String {
        let mut out = format!("{} runs, {} faults and stalls injected\n", self.runs, self.faults);
        for (property, (outcome, checked)) in &self.outcomes {
            let _ = writeln!(out, "{:<18} {:<9} ({checked} cases decided)", property.name(), outcome.name());
        }
        out
    }
}

/// Every violation and deviation of `runs`, as Markdown: the property, its statements, the
/// finding, the seed and the command that runs it again, and a Mermaid sequence diagram of
/// the steps that matter.
pub fn findings_report(broker: &str, runs: &[ProbeRun]) -> String {
    let mut out = String::new();
    for run in runs {
        let v5 = run.scenario.version.is_v5();
        for finding in run.verdicts.iter().flat_map(|verdict| &verdict.findings) {
            let version = if v5 { 5 } else { 3 };
            let _ = writeln!(out, "## {} {}: {}\n", finding.property, finding.outcome.name(), finding.message);
            let _ = writeln!(
                out,
                "- statements (MQTT {}): {}",
                if v5 { "5.0" } else { "3.1.1" },
                finding.property.statements(v5).join(", ")
            );
            let _ = writeln!(
                out,
                "- scenario {}: `verimqtt-traces probe --broker {broker} --version {version} {}`",
                run.origin.file_stem(),
                run.origin.rerun_options()
            );
            let _ = writeln!(out, "\n```mermaid\n{}```\n", render(&steps_that_matter(&run.trace, finding)));
        }
    }
    if out.is_empty() {
        out.push_str("No violation and no deviation.\n");
    }
    out
}

/// The events of `trace` a reader needs to see `finding`: its own, and between the first and
/// the last of them those on its connections and of its clients, and the faults; at most
/// [`MAX_DIAGRAM_EVENTS`], the nearest to the finding's events kept.
fn steps_that_matter(trace: &[TraceEvent], finding: &Finding) -> Vec<TraceEvent> {
    let (Some(&first), Some(&last)) = (finding.events.iter().min(), finding.events.iter().max()) else {
        return Vec::new();
    };
    let conns: BTreeSet<u64> = finding.events.iter().filter_map(|&index| conn_of(&trace[index].event)).collect();
    let nodes: BTreeSet<Node> = trace
        .iter()
        .filter(|event| conn_of(&event.event).is_some_and(|conn| conns.contains(&conn)) && !event.node.is_network())
        .map(|event| event.node.clone())
        .chain(finding.events.iter().map(|&index| trace[index].node.clone()))
        .collect();
    let relevant = |index: usize| {
        let event = &trace[index];
        finding.events.contains(&index)
            || match conn_of(&event.event) {
                Some(conn) => conns.contains(&conn),
                None => nodes.contains(&event.node) || event.node.is_network(),
            }
    };
    // The openings of its connections name their clients in the diagram.
    let openings: Vec<usize> = (0..first)
        .filter(|&index| matches!(trace[index].event, Event::ConnectionOpened { conn } if conns.contains(&conn)))
        .collect();
    // A few events past the last show how it was received.
    let end = (last + AFTER_THE_LAST).min(trace.len() - 1);
    let mut chosen: Vec<usize> = (first..=end).filter(|&index| relevant(index)).collect();
    let budget = MAX_DIAGRAM_EVENTS.saturating_sub(openings.len());
    if chosen.len() > budget {
        let distance = |index: usize| finding.events.iter().map(|&own| own.abs_diff(index)).min().unwrap_or(0);
        chosen.sort_by_key(|&index| distance(index));
        chosen.truncate(budget);
        chosen.sort_unstable();
    }
    chosen.splice(0..0, openings);
    chosen.into_iter().map(|index| trace[index].clone()).collect()
}
