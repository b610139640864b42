//! The `verimqtt-traces` command: `render` prints a diagram, and a file it cannot read is one
//! clear line on stderr and a failing exit status.

// A test's own setup failing is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use verimqtt_traces::corpus::corpus_path;
use verimqtt_traces::probe::Property;

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

fn traces(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verimqtt-traces")).args(args).output().unwrap()
}

#[test]
fn monitor_prints_every_property_of_a_probe_trace() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("probe-corpus/resend_to_a_persistent_subscriber.jsonl");
    let output = traces(&["monitor", file.to_str().unwrap()]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.lines().filter(|line| line.contains(" holds ")).count(), Property::ALL.len(), "{text}");
}

#[test]
fn a_bad_or_unreachable_broker_is_one_line_and_a_failure() {
    for (broker, says) in
        [("mqtts://example.org:8883", "is not a broker address"), ("127.0.0.1:1", "broker 127.0.0.1:1:")]
    {
        let output = traces(&["probe", "--broker", broker, "--scenarios", "1"]);
        assert!(!output.status.success());
        let error = String::from_utf8(output.stderr).unwrap();
        assert_eq!(error.lines().count(), 1, "{error}");
        assert!(error.contains(says), "{error}");
    }
}

#[test]
fn probe_fails_when_the_verdicts_differ_from_the_expected_ones() {
    // No scenario: every property holds, and no broker is contacted.
    let all_hold = traces(&["probe", "--broker", "127.0.0.1:1", "--scenarios", "0", "--out", &scratch_dir("hold")]);
    assert!(all_hold.status.success());
    let verdicts = std::fs::read_to_string(Path::new(&scratch_dir("hold")).join("verdicts.json")).unwrap();
    let same = scratch_file("same.json", &verdicts);
    let output = traces(&["probe", "--broker", "127.0.0.1:1", "--scenarios", "0", "--expect", same.to_str().unwrap()]);
    assert!(output.status.success());
    let other = scratch_file("other.json", &verdicts.replace("\"dup\": \"holds\"", "\"dup\": \"violation\""));
    let output = traces(&["probe", "--broker", "127.0.0.1:1", "--scenarios", "0", "--expect", other.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(String::from_utf8(output.stderr).unwrap().contains("the verdicts differ"));
    // The spec broker's verdict is compared only where the expected file names it.
    assert!(verdicts.contains("\"spec_broker\": \"not judged\""), "{verdicts}");
    let spec_differs = scratch_file("spec.json", &verdicts.replace("\"not judged\"", "\"rejected\""));
    let output =
        traces(&["probe", "--broker", "127.0.0.1:1", "--scenarios", "0", "--expect", spec_differs.to_str().unwrap()]);
    assert!(!output.status.success());
    let without_spec = verdicts.replace(",\n  \"spec_broker\": \"not judged\"", "");
    assert!(!without_spec.contains("spec_broker"), "{without_spec}");
    let without_spec = scratch_file("without-spec.json", &without_spec);
    let output =
        traces(&["probe", "--broker", "127.0.0.1:1", "--scenarios", "0", "--expect", without_spec.to_str().unwrap()]);
    assert!(output.status.success());
}

fn scratch_dir(name: &str) -> String {
    let path = std::env::temp_dir().join(format!("verimqtt-traces-cli-{}-{name}", std::process::id()));
    path.to_str().unwrap().to_string()
}
