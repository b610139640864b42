//! The statements the runtime, the auth module, the `verimqtt` binary (crate verimqtt-cli)
//! and their tests cite.

use std::path::Path;

use verimqtt_spec::citations::check_sources;

/// Every `MQTT-x.x.x-y` in the runtime, auth, the binary and their tests names a statement of at least
/// one version.
#[test]
fn every_statement_cited_in_the_runtime_auth_and_their_tests_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cli = root.join("../verimqtt-cli");
    let sources = [
        root.join("src/runtime"),
        root.join("src/auth"),
        root.join("tests/runtime"),
        cli.join("src"),
        cli.join("tests"),
    ];
    let citations = check_sources(&sources.iter().map(|path| path.as_path()).collect::<Vec<_>>()).unwrap();
    assert!(citations.count > 10, "only {} citations found; is the scan looking in the right place?", citations.count);
    assert!(citations.unknown.is_empty(), "unknown statement ids:\n{}", citations.unknown.join("\n"));
}
