//! Traces of what verimqtt's client and broker do, and the checker that replays them against
//! the model.
//!
//! This crate grows with issue 6 (simulator, recorder, checker). What is here now is the
//! simulated clock the simulator drives the state machines with.

mod clock;

pub use clock::SimulatedClock;
