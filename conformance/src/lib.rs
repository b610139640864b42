//! The verimqtt conformance suite: byte-level scenarios, each tied to the normative statements
//! it checks, replayed over TCP against any broker.
//!
//! - [`scenario`]: the JSON format of a scenario and its steps;
//! - [`template`]: packets written as JSON, sent or matched against what the broker sends;
//! - [`runner`]: runs one scenario in one version against a broker;
//! - [`target`]: which broker (`MQTT_BROKER`, or the embedded one).

mod connection;
pub mod runner;
pub mod scenario;
mod target;
pub mod template;

use std::path::PathBuf;

pub use runner::{Failure, Outcome, Settings};
pub use scenario::{Feature, Scenario};
pub use target::{BrokerAddress, Target, TargetError};

/// Where the suite's scenarios live in the source tree.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
}
