//! The `verimqtt-traces` command: `render` prints a diagram, and a file it cannot read is one
//! clear line on stderr and a failing exit status.

// A test's own setup failing is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use verimqtt_traces::corpus::corpus_path;

fn render(file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verimqtt-traces")).arg("render").arg(file).output().unwrap()
}

fn scratch_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("verimqtt-traces-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn render_prints_a_corpus_trace_as_a_sequence_diagram() {
    let output = render(&corpus_path("qos1_v5"));
    assert!(output.status.success());
    let diagram = String::from_utf8(output.stdout).unwrap();
    assert!(diagram.starts_with("sequenceDiagram\n"), "{diagram}");
    assert!(diagram.contains("c0->>broker: PUBLISH"), "{diagram}");
}

#[test]
fn a_missing_file_is_one_line_and_a_failure() {
    let output = render(Path::new("/nonexistent/trace.jsonl"));
    assert!(!output.status.success());
    let error = String::from_utf8(output.stderr).unwrap();
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(error.starts_with("error: /nonexistent/trace.jsonl:"), "{error}");
}

#[test]
fn a_bad_json_line_is_named_by_its_number() {
    let path = scratch_file(
        "bad.jsonl",
        "{\"time_ms\":0,\"node\":\"c0\",\"event\":\"timer_fired\",\"timer\":\"keep_alive_ping\"}\nnot json\n",
    );
    let output = render(&path);
    std::fs::remove_file(&path).unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8(output.stderr).unwrap();
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(error.contains(": line 2: "), "{error}");
}
