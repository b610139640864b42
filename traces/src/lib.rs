//! Traces of what verimqtt's client and broker do, and the checker that replays them against
//! the model.
//!
//! - [`check`]: maps a trace's events to the model's actions and keeps the model states
//!   consistent with it, failing at the first event no state allows.
//! - [`SimulatedClock`]: the clock the simulator drives the state machines with.

pub mod check;
mod clock;

pub use check::{CheckFailure, CheckReport, check_trace};
pub use clock::SimulatedClock;
