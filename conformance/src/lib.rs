//! The verimqtt conformance suite: byte-level scenarios, each tied to the normative statements
//! it checks, replayed over TCP against any broker.
//!
//! This crate grows with issue 7 (scenario format, runner, report). What is here now is how
//! the suite finds its target.

mod target;

pub use target::{BrokerAddress, Target, TargetError};
