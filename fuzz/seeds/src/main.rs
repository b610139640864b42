//! Writes the seed corpora of the fuzz targets, so that nobody writes seeds by hand:
//! - one packet of each type in each version, from the codec's byte snapshots
//!   (`impl/verimqtt-proto/tests/codec/snapshots/*.snap`);
//! - every malformed input of the codec's table (`impl/verimqtt-proto/tests/codec/malformed.rs`).
//!
//! Run from anywhere: `cargo run --manifest-path fuzz/Cargo.toml -p verimqtt-fuzz-seeds`.
//! The decode targets read their first byte as a control byte (maximum packet size, split
//! points), so their seeds are the packet behind a zero byte; the structured target roundtrip
//! gets the same files as raw material for its input. The broker and client targets get none:
//! their input is a sequence of steps, which packet bytes are not.

use std::fs;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V311,
    V5,
}

struct Seed {
    name: String,
    version: Version,
    bytes: Vec<u8>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let codec_tests = repo.join("impl/verimqtt-proto/tests/codec");
    let mut seeds = snapshot_packets(&codec_tests.join("snapshots"))?;
    seeds.extend(malformed_inputs(&codec_tests.join("malformed.rs"))?);

    let corpus = repo.join("fuzz/corpus");
    for (target, version) in
        [("decode_v311", Some(Version::V311)), ("decode_v5", Some(Version::V5)), ("roundtrip", None)]
    {
        let dir = corpus.join(target);
        fs::create_dir_all(&dir)?;
        let mut written = 0;
        for seed in seeds.iter().filter(|seed| version.is_none_or(|version| seed.version == version)) {
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(&seed.bytes);
            fs::write(dir.join(&seed.name), bytes)?;
            written += 1;
        }
        println!("{written} seeds in {}", dir.display());
    }
    Ok(())
}

/// Lines `TYPE  hex bytes` of the snapshot files `codec__snapshots__v3_1_1.snap` and `..v5_0.snap`.
fn snapshot_packets(dir: &Path) -> Result<Vec<Seed>, Box<dyn std::error::Error>> {
    let mut seeds = Vec::new();
    for (file, version, label) in
        [("codec__snapshots__v3_1_1.snap", Version::V311, "v311"), ("codec__snapshots__v5_0.snap", Version::V5, "v5")]
    {
        let text = read(&dir.join(file))?;
        // The header ends at the second `---` line.
        for line in text.split("---").nth(2).unwrap_or_default().lines() {
            let Some((packet, hex)) = line.trim().split_once(' ') else { continue };
            seeds.push(Seed { name: format!("{label}-{}", packet.to_lowercase()), version, bytes: parse_hex(hex)? });
        }
    }
    Ok(seeds)
}

/// The `"name", V311|V5, "hex"` rows of the malformed-input table.
fn malformed_inputs(file: &Path) -> Result<Vec<Seed>, Box<dyn std::error::Error>> {
    let text = read(file)?;
    let mut seeds = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.trim().splitn(4, ", ").collect();
        let [name, version, hex, _] = fields[..] else { continue };
        let version = match version {
            "V311" => Version::V311,
            "V5" => Version::V5,
            _ => continue,
        };
        let (Some(name), Some(hex)) = (unquote(name), unquote(hex)) else { continue };
        seeds.push(Seed { name: format!("malformed-{}", slug(name)), version, bytes: parse_hex(hex)? });
    }
    if seeds.len() < 60 {
        return Err(format!(
            "only {} malformed inputs found in {}; has its format changed?",
            seeds.len(),
            file.display()
        )
        .into());
    }
    Ok(seeds)
}

fn read(path: &Path) -> Result<String, Box<dyn std::error::Error>> {
    fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()).into())
}

fn unquote(field: &str) -> Option<&str> {
    field.strip_prefix('"')?.strip_suffix('"')
}

fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

fn parse_hex(hex: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    hex.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).map_err(|error| format!("{pair:?}: {error}").into()))
        .collect()
}
