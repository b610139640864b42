//! The statements the broker and its tests cite exist in the catalogue.

use std::path::{Path, PathBuf};

use verimqtt::broker::ClientViolation;
use verimqtt::codec::{PacketType, ProtocolVersion, QoS, Rule};
use verimqtt_spec::catalogue::{SpecVersion, catalogue};

fn spec_version(version: ProtocolVersion) -> SpecVersion {
    match version {
        ProtocolVersion::V311 => SpecVersion::V3_1_1,
        ProtocolVersion::V5 => SpecVersion::V5_0,
    }
}

#[test]
fn every_statement_a_broker_violation_names_is_in_the_catalogue_of_its_version() {
    let violations = [
        ClientViolation::FirstPacketNotConnect(PacketType::PingReq),
        ClientViolation::SecondConnect,
        ClientViolation::ServerOnlyPacket(PacketType::ConnAck),
        ClientViolation::AuthWithoutMethod,
        ClientViolation::TopicAliasOutOfRange { alias: 2, max: 1 },
        ClientViolation::TopicAliasUnknown(1),
        ClientViolation::SubscriptionIdentifierFromClient,
        ClientViolation::ReceiveMaximumExceeded { max: 1 },
        ClientViolation::QosNotSupported { qos: QoS::ExactlyOnce, max: QoS::AtLeastOnce },
        ClientViolation::RetainNotSupported,
        ClientViolation::SessionExpiryAfterZero,
    ];
    let mut checked = 0;
    for violation in violations {
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let only_v5 = matches!(
                violation,
                ClientViolation::AuthWithoutMethod
                    | ClientViolation::TopicAliasOutOfRange { .. }
                    | ClientViolation::TopicAliasUnknown(_)
                    | ClientViolation::SubscriptionIdentifierFromClient
                    | ClientViolation::SessionExpiryAfterZero
            );
            if only_v5 && version == ProtocolVersion::V311 {
                continue;
            }
            if let Some(Rule::Statement(id)) = violation.rule(version) {
                checked += 1;
                assert!(
                    catalogue().get(spec_version(version), id).is_some(),
                    "{violation:?}: {id} is not a statement of MQTT {version}"
                );
            }
        }
    }
    assert!(checked >= 8, "only {checked} statements checked");
}

#[test]
fn every_statement_cited_in_the_broker_source_and_tests_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut unknown = Vec::new();
    let mut cited = 0;
    for path in source_files(&root.join("src/broker")).into_iter().chain(source_files(&root.join("tests/broker"))) {
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
    assert!(cited > 100, "only {cited} citations found; is the scan looking in the right place?");
    assert!(unknown.is_empty(), "unknown statement ids:\n{}", unknown.join("\n"));
}

fn source_files(dir: &Path) -> Vec<PathBuf> {
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

/// The `MQTT-<sections>-<number>` ids in `text`.
fn statement_ids(text: &str) -> Vec<&str> {
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("MQTT-") {
        let candidate = &rest[start..];
        let end = candidate[5..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .map_or(candidate.len(), |end| end + 5);
        let id = candidate[..end].trim_end_matches(['.', '-']);
        if id.len() > 5 && id[5..].contains('-') {
            ids.push(id);
        }
        rest = &candidate[5..];
    }
    ids
}
