//! `verimqtt-traces`: records, renders and checks traces of verimqtt's client and broker.
//!
//! - `render FILE.jsonl`: prints the trace as a Mermaid sequence diagram;
//! - `record [NAME...]`: records the named situations (all by default) into `traces/corpus/`.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use verimqtt_spec::trace::read_trace;
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
    // Part B adds `Check { file }` here: validate a trace against the model.
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
            let text = fs::read_to_string(&file).map_err(|error| format!("{}: {error}", file.display()))?;
            let trace = read_trace(&text).map_err(|error| format!("{}: {error}", file.display()))?;
            print!("{}", render(&trace));
            Ok(())
        }
        Command::Record { names } => record(&names),
    }
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
