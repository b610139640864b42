//! Every property holds in every reachable state of the small configurations, for both
//! versions, and every `sometimes` property is reached: the interesting paths are exercised.

mod common;

use common::{check_exhaustively, config, with_cuts, with_expiry};
use std::collections::BTreeSet;
use verimqtt_model::SessionKind::{Clean, Persistent};
use verimqtt_model::properties::CATALOGUE;
use verimqtt_model::render::render;
use verimqtt_model::{Config, MqttModel, ResendOrder, Version};

/// The configurations `cargo test` checks exhaustively, per version.
fn small_configurations(version: Version) -> Vec<Config> {
    let mut configs = vec![
        // One client publishing to itself through two cuts.
        with_cuts(config(version, 1, &[1, 2, 0], &[Persistent]), 2),
        // Publisher and subscriber, persistent, three cuts.
        with_cuts(config(version, 2, &[1, 2, 0], &[Persistent]), 3),
        // A clean subscriber, and a publisher that disconnects gracefully.
        {
            let mut c = config(version, 2, &[1, 2, 0], &[Persistent, Clean]);
            c.graceful_disconnect = true;
            with_cuts(c, 2)
        },
        // Clean sessions everywhere.
        with_cuts(config(version, 2, &[2, 1], &[Clean]), 2),
        // One packet id and Receive Maximum 1: queueing, id reuse, flow control.
        {
            let mut c = config(version, 2, &[2, 2, 1], &[Persistent]);
            c.packet_ids = 1;
            c.receive_maximum = 1;
            c
        },
        // Two subscribers.
        config(version, 3, &[1, 2], &[Persistent]),
        // Four messages through two cuts.
        with_cuts(config(version, 2, &[1, 2, 0, 1], &[Persistent]), 2),
        // Applications that take their time, and verimqtt's resend orders (the trace checker
        // uses this kind of configuration).
        {
            let mut c = with_cuts(config(version, 2, &[2, 1], &[Persistent]), 2);
            c.paced_application = true;
            c.client_resend_order = ResendOrder::LastStep;
            c.broker_resend_order = ResendOrder::ReleasesFirst;
            c
        },
    ];
    if version == Version::V5_0 {
        // Sessions that expire while their client is away.
        configs.push(with_expiry(with_cuts(config(version, 2, &[1, 2, 0], &[Persistent]), 2), 1));
    }
    configs
}

fn assert_all_properties(version: Version) -> BTreeSet<&'static str> {
    let mut checked = BTreeSet::new();
    for config in small_configurations(version) {
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
