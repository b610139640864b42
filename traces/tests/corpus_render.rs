//! The corpus: every named situation's committed trace is what the simulator records now,
//! and each renders as the sequence diagram in its snapshot.

// A test's own setup failing is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use verimqtt_spec::trace::read_trace;
use verimqtt_traces::corpus::{self, corpus_dir, corpus_path};
use verimqtt_traces::render::render;
use verimqtt_traces::sim::named_scenarios;

#[test]
fn the_corpus_holds_at_least_twenty_named_situations() {
    assert!(named_scenarios().len() >= 20);
}

#[test]
fn every_committed_trace_is_what_the_simulator_records_now() {
    for named in named_scenarios() {
        let path = corpus_path(named.name);
        let committed = fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let recorded = corpus::record(&named).unwrap();
        assert!(
            committed == recorded,
            "{} differs from what the simulator records now; if the change is intended, record it again with \
             `cargo run -p verimqtt-traces -- record {}` and review the diff and the snapshot",
            path.display(),
            named.name
        );
    }
}

#[test]
fn every_corpus_file_is_a_named_situation() {
    for entry in fs::read_dir(corpus_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or_default();
        assert!(corpus::named(name).is_some(), "{} has no named scenario to record it again", path.display());
    }
}

#[test]
fn every_corpus_trace_renders_as_its_snapshot() {
    for named in named_scenarios() {
        let text = fs::read_to_string(corpus_path(named.name)).unwrap();
        let trace = read_trace(&text).unwrap();
        insta::assert_snapshot!(named.name, render(&trace));
    }
}
