//! Traces of what verimqtt's client and broker do, and the checker that replays them against
//! the model.
//!
//! - [`sim`]: the simulator that runs the real client and broker on a simulated network and
//!   clock and records their trace;
//! - [`check`]: maps a trace's events to the model's actions and keeps the model states
//!   consistent with it, failing at the first event no state allows;
//! - [`probe`]: runs generated scenarios against any broker through a fault-injecting proxy
//!   and judges what the wire shows with monitors of the broker's properties;
//! - [`render`]: a trace as a Mermaid sequence diagram;
//! - [`corpus`]: the named traces kept in `traces/corpus/`.

pub mod check;
mod clock;
pub mod corpus;
pub mod probe;
pub mod render;
pub mod sim;

pub use check::{CheckFailure, CheckReport, check_trace};
pub use clock::SimulatedClock;
