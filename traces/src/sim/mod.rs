//! The simulator: real verimqtt clients (`c0`, `c1`, ...) and the real broker, wired
//! through a simulated network (per-connection FIFO pipes, cuts, stalls) and a simulated
//! clock, driven by a [`Scenario`]. A run records one trace of every node's events in one
//! global order, and is the same for the same scenario and seed.
//!
//! ```
//! use verimqtt_proto::codec::{ProtocolVersion, QoS};
//! use verimqtt_traces::sim::{simulate, ClientSpec, Scenario, SessionKind, Step};
//!
//! let scenario = Scenario::new(ProtocolVersion::V5)
//!     .client(ClientSpec::new(SessionKind::Clean))
//!     .steps([Step::Connect { client: 0 }, Step::Settle, Step::publish(0, QoS::AtLeastOnce), Step::Settle]);
//! let run = simulate(&scenario, 7)?;
//! assert!(run.refusals.is_empty());
//! assert_eq!(run.trace, simulate(&scenario, 7)?.trace);
//! # Ok::<(), verimqtt_traces::sim::SimError>(())
//! ```

pub(crate) mod command;
mod inject;
mod named;
mod network;
pub(crate) mod recorder;
mod rng;
pub(crate) mod run;
mod scenario;
mod strategy;

use verimqtt_spec::trace::TraceEvent;

pub use named::{NamedScenario, connected, named_scenarios};
pub use scenario::{
    ClientSpec, DEFAULT_TICK_MS, INJECTED_PACKET_ID, Injection, PayloadClaim, Scenario, SessionKind, Side, Step, TOPIC,
};
pub use strategy::{arb_flow_controlled_scenario, arb_hostile_scenario, arb_restarting_scenario, arb_scenario};

/// What a run recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulation {
    pub trace: Vec<TraceEvent>,
    /// The commands a client refused (a QoS 0 publish with no connection, a second
    /// connect...): part of the run, not a failure of it.
    pub refusals: Vec<Refusal>,
}

/// A step whose command the client refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub step: usize,
    pub reason: String,
}

/// A scenario that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("step {step} names a client, but the scenario has {clients}")]
    NoSuchClient { step: usize, clients: usize },
    #[error("client c{client}: {error}")]
    ClientOptions { client: usize, error: String },
    #[error("{0:?} is not a valid MQTT string")]
    BadString(String),
    #[error("at {time_ms} ms the timers keep firing without time passing")]
    TimersDoNotSettle { time_ms: u64 },
    #[error("the injected {packet} cannot be encoded: {error}")]
    CannotEncode { packet: String, error: String },
}

/// Runs `scenario`, the seed choosing among what could happen next.
pub fn simulate(scenario: &Scenario, seed: u64) -> Result<Simulation, SimError> {
    run::Run::new(scenario, seed)?.run(&scenario.steps)
}
