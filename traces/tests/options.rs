//! "implementation ⊑ model ⊨ property" has no gap: every behaviour the trace checker's model
//! configuration turns on for a corpus trace is checked exhaustively, with every property, in
//! at least one configuration of `cargo test -p verimqtt-model` (`verimqtt_model::suite`).

use std::collections::BTreeSet;
use verimqtt_model::Version;
use verimqtt_model::suite::exhaustive_configurations;
use verimqtt_spec::trace::read_trace;
use verimqtt_traces::check::{Mapping, TimeScale};
use verimqtt_traces::corpus::corpus_path;
use verimqtt_traces::sim::named_scenarios;

fn checked_exhaustively(version: Version) -> BTreeSet<&'static str> {
    exhaustive_configurations(version).iter().flat_map(|config| config.options_on()).collect()
}

#[test]
fn every_option_a_corpus_trace_needs_is_checked_exhaustively() {
    let mut mapped = 0;
    for named in named_scenarios() {
        let path = corpus_path(named.name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let events = read_trace(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let Ok(mapping) = Mapping::derive(&events, TimeScale::default()) else {
            continue;
        };
        mapped += 1;
        let checked = checked_exhaustively(mapping.config.version);
        let unchecked: Vec<_> = mapping.config.options_on().difference(&checked).copied().collect();
        assert!(
            unchecked.is_empty(),
            "{}: {} is never checked exhaustively: {unchecked:?}",
            named.name,
            mapping.config
        );
    }
    assert!(mapped > 0, "no corpus trace maps into the model");
}
