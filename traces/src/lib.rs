//! Traces of what verimqtt's client and broker do, and the checker that replays them against
//! the model.
//!
//! - [`sim`]: the simulator that runs the real client and broker on a simulated network and
//!   clock and records their trace;
//! - [`render`]: a trace as a Mermaid sequence diagram;
//! - [`corpus`]: the named traces kept in `traces/corpus/`.

mod clock;
pub mod corpus;
pub mod render;
pub mod sim;

pub use clock::SimulatedClock;
