//! The statement ids the codec cites exist in the catalogue of the version they are cited for.

use verimqtt::codec::ProtocolVersion;
use verimqtt_spec::catalogue::{SpecVersion, catalogue};

use crate::malformed::{bytes, cases};

fn spec_version(version: ProtocolVersion) -> SpecVersion {
    match version {
        ProtocolVersion::V311 => SpecVersion::V3_1_1,
        ProtocolVersion::V5 => SpecVersion::V5_0,
    }
}

#[test]
fn every_statement_a_decode_error_names_is_in_the_catalogue_of_its_version() {
    use bytes::BytesMut;
    use verimqtt::codec::{self, DecodeOptions, Rule};
    for case in cases() {
        let options = DecodeOptions::new(case.version).with_max_packet_size(64);
        let error = codec::decode(&mut BytesMut::from(&bytes(case.hex)[..]), &options).unwrap_err();
        if let Rule::Statement(id) = error.rule() {
            assert!(
                catalogue().get(spec_version(error.version()), id).is_some(),
                "{}: {id} is not a statement of MQTT {}",
                case.name,
                error.version()
            );
        }
    }
}

/// Every `MQTT-x.x.x-y` written in the codec's source names a real statement of at least one
/// version (which one is the code's business; this catches typos).
#[test]
fn every_statement_cited_in_the_codec_source_exists() {
    let mut unknown = Vec::new();
    let mut cited = 0;
    for path in source_files(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/codec"))) {
        let source = std::fs::read_to_string(&path).unwrap();
        for id in statement_ids(&source) {
            cited += 1;
            let known =
                [SpecVersion::V3_1_1, SpecVersion::V5_0].iter().any(|&version| catalogue().get(version, id).is_some());
            if !known {
                unknown.push(format!("{}: {id}", path.display()));
            }
        }
    }
    assert!(cited > 50, "only {cited} citations found; is the scan looking in the right place?");
    assert!(unknown.is_empty(), "unknown statement ids:\n{}", unknown.join("\n"));
}

fn source_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(source_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The `MQTT-<digits and dots>-<digits>` substrings of `text`.
fn statement_ids(text: &str) -> Vec<&str> {
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("MQTT-") {
        let candidate = &rest[start..];
        let end = candidate[5..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .map_or(candidate.len(), |end| end + 5);
        let id = &candidate[..end];
        if id.len() > 5 && id[5..].contains('-') {
            ids.push(id.trim_end_matches(['.', '-']));
        }
        rest = &candidate[5..];
    }
    ids
}
