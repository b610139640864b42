//! Reaching a structural bound is an error in every build profile: the search stops there and
//! the run is not exhaustive. Nothing here depends on `debug_assertions`, so the same test
//! passes under `cargo test --release`.

mod common;

use common::config;
use verimqtt_model::SessionKind::Persistent;
use verimqtt_model::bounds::Bounds;
use verimqtt_model::suite::with_cuts;
use verimqtt_model::{MqttModel, Options, Version, check};

#[test]
fn a_run_that_reaches_a_bound_is_not_exhaustive() {
    let config = with_cuts(config(Version::V5_0, 2, &[1, 2], &[Persistent]), 1);
    let tight = Bounds { links_per_client: 2, packets_per_channel: 1 };
    let model = MqttModel::new(config).with_bounds(tight);
    let outcome = check(model.clone(), &Options { threads: 2, ..Options::default() });
    let path = outcome.bound_reached.as_ref().expect("two packets queue on one channel");
    assert!(!model.bounds.admit(path.last_state()));
    assert!(!outcome.exhaustive);
}

#[test]
fn the_default_bounds_are_never_reached_in_a_small_configuration() {
    let config = with_cuts(config(Version::V5_0, 2, &[1, 2], &[Persistent]), 1);
    let outcome = check(MqttModel::new(config), &Options { threads: 2, ..Options::default() });
    assert!(outcome.bound_reached.is_none());
    assert!(outcome.exhaustive);
}
