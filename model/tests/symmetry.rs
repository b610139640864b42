//! Symmetry reduction (`src/symmetry.rs`) visits fewer states and changes no verdict.

mod common;

use common::{VERSIONS, config};
use verimqtt_model::SessionKind::Persistent;
use verimqtt_model::suite::with_cuts;
use verimqtt_model::{MqttModel, Options, Outcome, Search, check};

/// A publisher and two subscribers alike, one QoS 2 message, a cut: with the reduction about
/// half the states, and every property judged as without it.
#[test]
fn symmetry_reduction_visits_fewer_states_with_the_same_verdicts() {
    for version in VERSIONS {
        let config = with_cuts(config(version, 3, &[2], &[Persistent]), 1);
        let run = |symmetry| {
            let options = Options { search: Search::Dfs, symmetry, threads: 2, ..Options::default() };
            check(MqttModel::new(config.clone()), &options)
        };
        let (full, reduced) = (run(false), run(true));
        eprintln!("{config}: {} unique states, {} with symmetry reduction", full.unique_states, reduced.unique_states);
        assert!(full.exhaustive && reduced.exhaustive);
        assert!(reduced.unique_states < full.unique_states, "{config}: nothing reduced");
        let verdicts = |o: &Outcome| o.verdicts.iter().map(|v| (v.spec.name, v.passed())).collect::<Vec<_>>();
        assert_eq!(verdicts(&full), verdicts(&reduced), "{config}");
        assert!(full.all_passed(), "{config}");
    }
}
