//! The statements the broker and its tests cite exist in the catalogue.

use std::num::NonZeroU16;

use std::path::Path;

use verimqtt_proto::broker::ProtocolViolation;
use verimqtt_proto::codec::{PacketType, ProtocolVersion, QoS, Rule};
use verimqtt_proto::session::Role;
use verimqtt_spec::catalogue::catalogue;
use verimqtt_spec::citations::check_sources;

#[test]
fn every_statement_a_broker_violation_names_is_in_the_catalogue_of_its_version() {
    let violations = [
        ProtocolViolation::UnexpectedPacket { packet: PacketType::PingReq, connected: false },
        ProtocolViolation::UnexpectedPacket { packet: PacketType::Connect, connected: true },
        ProtocolViolation::UnexpectedPacket { packet: PacketType::ConnAck, connected: true },
        ProtocolViolation::AuthWithoutMethod,
        ProtocolViolation::TopicAliasOutOfRange { alias: NonZeroU16::new(2).unwrap(), maximum: 1 },
        ProtocolViolation::UnknownTopicAlias { alias: NonZeroU16::new(1).unwrap() },
        ProtocolViolation::SubscriptionIdentifierFromClient,
        ProtocolViolation::ReceiveMaximumExceeded { maximum: 1 },
        ProtocolViolation::QosNotSupported { qos: QoS::ExactlyOnce, max: QoS::AtLeastOnce },
        ProtocolViolation::RetainNotSupported,
        ProtocolViolation::SessionExpiryAfterZero,
    ];
    let mut checked = 0;
    for violation in violations {
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let only_v5 = matches!(
                violation,
                ProtocolViolation::AuthWithoutMethod
                    | ProtocolViolation::TopicAliasOutOfRange { .. }
                    | ProtocolViolation::UnknownTopicAlias { .. }
                    | ProtocolViolation::SubscriptionIdentifierFromClient
                    | ProtocolViolation::SessionExpiryAfterZero
            );
            if only_v5 && version == ProtocolVersion::V311 {
                continue;
            }
            if let Some(Rule::Statement(id)) = violation.rule(version, Role::Client) {
                checked += 1;
                assert!(
                    catalogue().get(version.into(), id).is_some(),
                    "{violation:?}: {id} is not a statement of MQTT {version}"
                );
            }
        }
    }
    assert!(checked >= 8, "only {checked} statements checked");
}

/// Every `MQTT-x.x.x-y` in the broker and its tests names a statement of at least one version.
#[test]
fn every_statement_cited_in_the_broker_source_and_tests_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let citations =
        check_sources(&[&root.join("src/broker"), &root.join("src/session"), &root.join("tests/broker")]).unwrap();
    assert!(citations.count > 100, "only {} citations found; is the scan looking in the right place?", citations.count);
    assert!(citations.unknown.is_empty(), "unknown statement ids:\n{}", citations.unknown.join("\n"));
}
