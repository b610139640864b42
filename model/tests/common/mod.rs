//! Helpers shared by the model's integration tests.
#![allow(dead_code)] // each test crate uses its own subset of the helpers

use verimqtt_model::suite;
use verimqtt_model::{Config, MqttModel, Options, Outcome, SessionKind, Version};

pub const VERSIONS: [Version; 2] = [Version::V3_1_1, Version::V5_0];

/// A configuration from the command-line vocabulary: QoS levels cycle over the messages,
/// session kinds over the clients.
pub fn config(version: Version, clients: usize, qos: &[u8], sessions: &[SessionKind]) -> Config {
    let config = suite::configuration(version, clients, qos, sessions);
    config.validate().unwrap_or_else(|e| panic!("{config}: {e}"));
    config
}

/// Checks every reachable state breadth-first on two threads.
pub fn check_exhaustively(config: &Config) -> Outcome {
    let options = Options { threads: 2, ..Options::default() };
    let outcome = verimqtt_model::check(MqttModel::new(config.clone()), &options);
    eprintln!(
        "{config}: {} states, {} unique, depth {}, {:.2}s",
        outcome.states,
        outcome.unique_states,
        outcome.max_depth,
        outcome.elapsed.as_secs_f64()
    );
    assert!(outcome.exhaustive);
    outcome
}
