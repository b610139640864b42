//! `conformance-matrix DIR`: prints the compliance matrix (Markdown) from the reports that
//! `conformance/brokers/measure` wrote into DIR; see `verimqtt_conformance::matrix`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use verimqtt_conformance::matrix;

fn main() {
    let dir = std::env::args_os().nth(1).map_or_else(|| PathBuf::from("target/conformance"), PathBuf::from);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unavailable: BTreeMap<String, String> = std::fs::read_to_string(root.join("brokers/unavailable.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    match matrix::load(&dir, &root.join("expected")) {
        Ok(brokers) => print!("{}", matrix::render(&brokers, &unavailable)),
        Err(error) => {
            eprintln!("conformance-matrix: {error}");
            std::process::exit(2);
        }
    }
}
