//! The corpus: one trace per named situation in `traces/corpus/{name}.jsonl`, recorded by
//! the simulator from [`named_scenarios`], so that each can be recorded again when the
//! implementation changes (`cargo run -p verimqtt-traces -- record`).

use std::path::PathBuf;

use verimqtt_spec::trace::write_trace;

use crate::sim::{NamedScenario, SimError, named_scenarios, simulate};

/// Where the corpus lives.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// The file of the named situation.
pub fn corpus_path(name: &str) -> PathBuf {
    corpus_dir().join(format!("{name}.jsonl"))
}

/// The named situation called `name`.
pub fn named(name: &str) -> Option<NamedScenario> {
    named_scenarios().into_iter().find(|named| named.name == name)
}

/// The trace of a named situation as its corpus file holds it. A situation whose client
/// refuses a command is not what its name says, so that is an error.
pub fn record(named: &NamedScenario) -> Result<String, RecordError> {
    let run = simulate(&named.scenario, named.seed)?;
    if let Some(refusal) = run.refusals.first() {
        return Err(RecordError::Refused { step: refusal.step, reason: refusal.reason.clone() });
    }
    Ok(write_trace(&run.trace))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Simulation(#[from] SimError),
    #[error("step {step} was refused: {reason}")]
    Refused { step: usize, reason: String },
}
