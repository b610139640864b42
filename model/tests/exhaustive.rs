//! Every property holds in every reachable state of the small configurations, for both
//! versions, and every `sometimes` property is reached: the interesting paths are exercised.

mod common;

use common::check_exhaustively;
use std::collections::BTreeSet;
use verimqtt_model::properties::CATALOGUE;
use verimqtt_model::render::render;
use verimqtt_model::suite::exhaustive_configurations;
use verimqtt_model::{MqttModel, Version};

fn assert_all_properties(version: Version) -> BTreeSet<&'static str> {
    let mut checked = BTreeSet::new();
    for config in exhaustive_configurations(version) {
        let outcome = check_exhaustively(&config);
        let model = MqttModel::new(config.clone());
        for verdict in &outcome.verdicts {
            checked.insert(verdict.spec.name);
            let failure = verdict.discovery.as_ref().map(|path| render(&model, path)).unwrap_or_default();
            assert!(verdict.passed(), "{config}: {} {:?} failed\n{failure}", verdict.spec.name, verdict.spec.expect);
        }
    }
    checked
}

/// Every applicable property is judged in at least one configuration of `version`.
fn assert_catalogue_covered(version: Version, checked: &BTreeSet<&str>) {
    for spec in CATALOGUE {
        let applies_to_version = spec.statements.iter().any(|(v, _)| *v == version);
        if applies_to_version {
            assert!(checked.contains(spec.name), "{} is never checked for {version}", spec.name);
        }
    }
}

#[test]
fn mqtt_3_1_1_small_configurations_satisfy_every_property() {
    let checked = assert_all_properties(Version::V3_1_1);
    assert_catalogue_covered(Version::V3_1_1, &checked);
}

#[test]
fn mqtt_5_0_small_configurations_satisfy_every_property() {
    let checked = assert_all_properties(Version::V5_0);
    assert_catalogue_covered(Version::V5_0, &checked);
}
