//! `verimqtt-traces`: records, renders and checks traces of verimqtt's client and broker.
//!
//! - `check FILE.jsonl`: validates the trace against the model (exit 0 with a summary, or 1
//!   with the first event the model does not allow);
//! - `render FILE.jsonl`: prints the trace as a Mermaid sequence diagram;
//! - `record [NAME...]`: records the named situations (all by default) into `traces/corpus/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use verimqtt_spec::trace::{TraceEvent, read_trace};
use verimqtt_traces::check::{TimeScale, check_trace_with};
use verimqtt_traces::corpus::{self, corpus_path};
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
    }
}

fn read(file: &Path) -> Result<Vec<TraceEvent>, String> {
    let text = fs::read_to_string(file).map_err(|error| format!("{}: {error}", file.display()))?;
    read_trace(&text).map_err(|error| format!("{}: {error}", file.display()))
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
