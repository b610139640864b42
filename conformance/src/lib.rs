//! The verimqtt conformance suite: byte-level scenarios, each tied to the normative statements
//! it checks, replayed over TCP, TLS or WebSocket against any broker.
//!
//! - [`scenario`]: the JSON format of a scenario and its steps;
//! - [`template`]: packets written as JSON, sent or matched against what the broker sends;
//! - [`runner`]: runs one scenario in one version against a broker;
//! - [`liveness`]: the check that the broker still serves after a scenario;
//! - [`suite`]: every scenario in every version, run concurrently;
//! - [`report`]: outcomes and catalogue coverage, as JSON and Markdown;
//! - [`expected`]: a third-party broker's known deviations, compared with a run;
//! - [`profile`]: what the suite knows of the broker (URL, credentials, TLS, what it lacks),
//!   from a TOML file, the environment and flags;
//! - which broker: the profile's URL over TCP, TLS, WebSocket or WebSocket over TLS, or the
//!   embedded one ([`TargetBroker`]), run in a child process so that its crash does not end
//!   the suite ([`serve_embedded_if_asked`]).

mod closing;
mod connection;
pub mod credentials;
mod embedded;
pub mod expected;
pub mod liveness;
pub mod matrix;
pub mod profile;
pub mod report;
pub mod runner;
pub mod scenario;
mod spec_bytes;
pub mod suite;
mod target;
pub mod template;
mod uncovered;

use std::path::PathBuf;

pub use connection::Endpoint;
pub use embedded::serve_embedded_if_asked;
pub use profile::Profile;
pub use runner::{Failure, Outcome, Settings};
pub use scenario::{Feature, Scenario};
pub use target::TargetBroker;

/// Where the suite's scenarios live in the source tree.
pub fn scenarios_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
}
