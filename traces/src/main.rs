//! `verimqtt-traces`: work with recorded traces of verimqtt's client and broker.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use verimqtt_spec::trace::read_trace;
use verimqtt_traces::check::{TimeScale, check_trace_with};

#[derive(Parser)]
#[command(version, about = "Recorded traces of verimqtt: check them against the model")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a JSON Lines trace against the model: exit 0 with a summary and the mapping
    /// of its values to the model's, or 1 with the first event the model does not allow.
    Check {
        file: PathBuf,
        /// Milliseconds per model tick (the simulator's tick).
        #[arg(long, default_value_t = TimeScale::default().tick_ms)]
        tick_ms: u64,
        /// The client gives up after this percentage of Keep Alive without receiving.
        #[arg(long, default_value_t = TimeScale::default().abort_percent)]
        abort_percent: u64,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { file, tick_ms, abort_percent } => check(&file, TimeScale { tick_ms, abort_percent }),
    }
}

fn check(file: &Path, time: TimeScale) -> ExitCode {
    let events = match std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| read_trace(&text).map_err(|e| e.to_string()))
    {
        Ok(events) => events,
        Err(error) => {
            eprintln!("{}: {error}", file.display());
            return ExitCode::from(2);
        }
    };
    match check_trace_with(&events, time) {
        Ok(report) => {
            println!("{}: {report}", file.display());
            ExitCode::SUCCESS
        }
        Err(failure) => {
            println!("{}: {failure}", file.display());
            ExitCode::FAILURE
        }
    }
}
