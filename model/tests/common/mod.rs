//! Helpers shared by the model's integration tests.
#![allow(dead_code)] // each test crate uses its own subset of the helpers

use verimqtt_model::{Config, Expiry, MqttModel, Options, Outcome, Qos, SessionKind, Version};

pub const VERSIONS: [Version; 2] = [Version::V3_1_1, Version::V5_0];

/// A configuration from the command-line vocabulary: QoS levels cycle over the messages,
/// session kinds over the clients.
pub fn config(version: Version, clients: usize, qos: &[u8], sessions: &[SessionKind]) -> Config {
    let mut config = Config::new(version, clients, qos.len());
    config.messages = qos.iter().map(|&q| Qos::from_level(q).unwrap_or_else(|| panic!("no QoS {q}"))).collect();
    config.sessions = sessions.iter().copied().cycle().take(clients).collect();
    config.validate().unwrap_or_else(|e| panic!("{config}: {e}"));
    config
}

pub fn with_cuts(mut config: Config, cuts: u8) -> Config {
    config.cuts = cuts;
    config
}

pub fn with_expiry(mut config: Config, ticks: u8) -> Config {
    config.session_expiry = Expiry::AfterTicks(ticks);
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
