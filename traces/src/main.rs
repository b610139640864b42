//! `verimqtt-traces`: records, renders and checks traces of verimqtt's client and broker.
//!
//! - `check FILE.jsonl`: validates the trace against the model (exit 0 with a summary, or 1
//!   with the first event the model does not allow);
//! - `render FILE.jsonl`: prints the trace as a Mermaid sequence diagram;
//! - `record [NAME...]`: records the named situations (all by default) into `traces/corpus/`;
//! - `probe --broker mqtt://host:port`: runs generated scenarios against a broker through the
//!   fault proxy and prints the monitors' and the spec broker's verdicts (exit 1 if they
//!   differ from `--expect`);
//! - `monitor FILE.jsonl`: the monitors' and the spec broker's verdicts on a probe's trace.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use verimqtt_proto::codec::ProtocolVersion;
use verimqtt_spec::trace::{TraceEvent, read_trace, write_trace};
use verimqtt_traces::check::{TimeScale, check_trace_with};
use verimqtt_traces::corpus::{self, corpus_path};
use verimqtt_traces::probe::spec::judge;
use verimqtt_traces::probe::{
    ProbeOptions, ProbeRun, SpecVerdict, Summary, broker_address, findings_report, monitor, probe,
};
use verimqtt_traces::render::render;
use verimqtt_traces::sim::named_scenarios;

#[derive(Parser)]
#[command(about = "Records, renders and checks traces of verimqtt's client and broker")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints a trace as a Mermaid sequence diagram.
    Render { file: PathBuf },
    /// Records named situations (all if none is named) into traces/corpus/.
    Record { names: Vec<String> },
    /// Runs generated scenarios against a broker through the fault proxy and judges the
    /// traces with the wire monitors and the spec broker.
    Probe {
        /// mqtt://host:port
        #[arg(long)]
        broker: String,
        /// 3 (MQTT 3.1.1) or 5 (MQTT 5.0), for every scenario; each one's own if left out.
        #[arg(long)]
        version: Option<u8>,
        #[arg(long, default_value_t = 8)]
        scenarios: usize,
        /// Scenario i runs seed + i; `--seed S --scenarios 1` runs scenario S again.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Scenarios run at once.
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// Writes each trace (seed-S.jsonl), findings.md and verdicts.json here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Fails (exit 1) if the verdicts differ from this verdicts.json (the spec broker's
        /// only if the file names it).
        #[arg(long)]
        expect: Option<PathBuf>,
        /// Also runs the named probe scenarios (traces/probe-corpus/ is recorded with
        /// `--named --scenarios 0 --out DIR` against verimqtt's broker).
        #[arg(long)]
        named: bool,
        /// Also runs the minimal run of a finding on another broker, by name (traces/README.md,
        /// "What it found"; an unknown name is refused with the list). Repeatable.
        #[arg(long = "finding")]
        findings: Vec<String>,
    },
    /// The wire monitors' verdicts on a probe's trace, with every finding, and the spec
    /// broker's.
    Monitor { file: PathBuf },
    /// Validates a trace against the model: a summary and how the trace's values map to the
    /// model's, or the first event the model does not allow and why.
    Check {
        file: PathBuf,
        /// Milliseconds per model tick (the simulator's tick).
        #[arg(long, default_value_t = TimeScale::default().tick_ms)]
        tick_ms: u64,
        /// The client gives up after this percentage of Keep Alive without receiving.
        #[arg(long, default_value_t = TimeScale::default().abort_percent)]
        abort_percent: u64,
        /// The client gives up waiting for CONNACK after this many seconds (default: after
        /// the abort period, or 30 s with Keep Alive off).
        #[arg(long)]
        connack_timeout_s: Option<u64>,
        /// The broker closes a connection on which no CONNECT came after this many seconds.
        #[arg(long, default_value_t = TimeScale::default().connect_timeout_s)]
        connect_timeout_s: u64,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Render { file } => {
            print!("{}", render(&read(&file)?));
            Ok(())
        }
        Command::Check { file, tick_ms, abort_percent, connack_timeout_s, connect_timeout_s } => {
            let time = TimeScale { tick_ms, abort_percent, connack_timeout_s, connect_timeout_s };
            let report =
                check_trace_with(&read(&file)?, time).map_err(|failure| format!("{}: {failure}", file.display()))?;
            println!("{}: {report}", file.display());
            Ok(())
        }
        Command::Record { names } => record(&names),
        Command::Probe { broker, version, scenarios, seed, jobs, out, expect, named, findings } => {
            let version = match version {
                None => None,
                Some(3) => Some(ProtocolVersion::V311),
                Some(5) => Some(ProtocolVersion::V5),
                Some(other) => return Err(format!("--version {other}: give 3 or 5")),
            };
            let address = broker_address(&broker).map_err(|error| error.to_string())?;
            let options = ProbeOptions { broker: address, version, scenarios, seed, named, findings, jobs };
            let runs = probe(&options).map_err(|error| error.to_string())?;
            let summary = Summary::of(&runs);
            print!("{}", summary.table());
            let report = findings_report(&broker, &runs);
            if let Some(out) = out {
                write_probe(&out, &runs, &report, &summary)?;
            } else {
                print!("\n{report}");
            }
            match expect {
                Some(expected) => expect_verdicts(&expected, &summary),
                None => Ok(()),
            }
        }
        Command::Monitor { file } => {
            let trace = read(&file)?;
            for verdict in monitor(&trace) {
                println!(
                    "{:<18} {:<9} ({} cases decided)",
                    verdict.property.name(),
                    verdict.outcome().name(),
                    verdict.checked
                );
                for finding in &verdict.findings {
                    println!("  {}: {}", finding.outcome.name(), finding.message);
                }
            }
            print_spec_verdict(&judge(&trace).verdict);
            Ok(())
        }
    }
}

/// The spec broker's verdict on one trace, with what it rejected and why.
fn print_spec_verdict(verdict: &SpecVerdict) {
    match verdict {
        SpecVerdict::Refines { events } => println!("{:<18} refines   ({events} events)", "spec_broker"),
        SpecVerdict::Rejected { index, what, .. } => {
            println!("{:<18} rejected  at trace line {}: {what}", "spec_broker", index + 1)
        }
        SpecVerdict::Stricter { index, what, limit, .. } => println!(
            "{:<18} stricter than MQTT: rejected at trace line {}: {what}; not a violation of MQTT: {limit}",
            "spec_broker",
            index + 1
        ),
        SpecVerdict::NotJudged { why } => println!("{:<18} not judged: {why}", "spec_broker"),
    }
}

fn read(file: &Path) -> Result<Vec<TraceEvent>, String> {
    let text = fs::read_to_string(file).map_err(|error| format!("{}: {error}", file.display()))?;
    read_trace(&text).map_err(|error| format!("{}: {error}", file.display()))
}

/// Writes a probe's traces, findings and verdicts into `out`.
fn write_probe(out: &Path, runs: &[ProbeRun], report: &str, summary: &Summary) -> Result<(), String> {
    let write =
        |path: PathBuf, text: &str| fs::write(&path, text).map_err(|error| format!("{}: {error}", path.display()));
    fs::create_dir_all(out).map_err(|error| format!("{}: {error}", out.display()))?;
    for run in runs {
        write(out.join(format!("{}.jsonl", run.origin.file_stem())), &write_trace(&run.trace))?;
    }
    write(out.join("findings.md"), report)?;
    write(out.join("verdicts.json"), &summary.verdicts_json(true))?;
    println!("wrote {}", out.display());
    Ok(())
}

/// `Err` naming the difference if the verdicts are not those of `expected`; the spec
/// broker's is compared only if `expected` names it (where it depends on the broker's timing,
/// the file leaves it out).
fn expect_verdicts(expected: &Path, summary: &Summary) -> Result<(), String> {
    let text = fs::read_to_string(expected).map_err(|error| format!("{}: {error}", expected.display()))?;
    let actual = summary.verdicts_json(text.contains("\"spec_broker\""));
    if text == actual {
        println!("verdicts as expected ({})", expected.display());
        return Ok(());
    }
    Err(format!("the verdicts differ from {}:\nexpected:\n{text}actual:\n{actual}", expected.display()))
}

fn record(names: &[String]) -> Result<(), String> {
    let chosen = if names.is_empty() {
        named_scenarios()
    } else {
        names
            .iter()
            .map(|name| corpus::named(name).ok_or_else(|| format!("no named situation {name:?}")))
            .collect::<Result<_, _>>()?
    };
    fs::create_dir_all(corpus::corpus_dir()).map_err(|error| error.to_string())?;
    for named in chosen {
        let text = corpus::record(&named).map_err(|error| format!("{}: {error}", named.name))?;
        let path = corpus_path(named.name);
        fs::write(&path, text).map_err(|error| format!("{}: {error}", path.display()))?;
        println!("recorded {}", path.display());
    }
    Ok(())
}
