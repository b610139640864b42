//! The statement ids the client cites exist: in its source (in at least one version), and in
//! the rules its protocol violations name (in the version they are named for).

use std::num::NonZeroU16;
use std::path::Path;

use verimqtt_proto::client::ProtocolViolation;
use verimqtt_proto::codec::{PacketType, ProtocolVersion, ReasonCode, Rule};
use verimqtt_proto::session::Role;
use verimqtt_spec::catalogue::catalogue;
use verimqtt_spec::citations::check_sources;

use crate::harness::id;

fn violations() -> Vec<ProtocolViolation> {
    let alias = NonZeroU16::new(3).unwrap();
    let packet_types = [
        PacketType::Connect,
        PacketType::ConnAck,
        PacketType::Publish,
        PacketType::SubAck,
        PacketType::Subscribe,
        PacketType::Unsubscribe,
        PacketType::PingReq,
        PacketType::PingResp,
        PacketType::Disconnect,
        PacketType::Auth,
    ];
    let mut violations: Vec<_> = packet_types
        .iter()
        .flat_map(|&packet| {
            [false, true].map(move |connected| ProtocolViolation::UnexpectedPacket { packet, connected })
        })
        .collect();
    for packet in
        [PacketType::PubAck, PacketType::PubRec, PacketType::PubComp, PacketType::SubAck, PacketType::UnsubAck]
    {
        violations.push(ProtocolViolation::UnknownPacketId { packet, packet_id: id(1) });
    }
    violations.extend([
        ProtocolViolation::ReasonCodeCountMismatch { packet: PacketType::SubAck, expected: 1, received: 2 },
        ProtocolViolation::ReasonCodeCountMismatch { packet: PacketType::UnsubAck, expected: 1, received: 2 },
        ProtocolViolation::SessionPresentWithoutSession,
        ProtocolViolation::ReceiveMaximumExceeded { maximum: 1 },
        ProtocolViolation::TopicAliasOutOfRange { alias, maximum: 2 },
        ProtocolViolation::UnknownTopicAlias { alias },
        ProtocolViolation::AuthenticationMethodMismatch { packet: PacketType::Auth },
        ProtocolViolation::UnexpectedAuth { reason_code: ReasonCode::ReAuthenticate },
    ]);
    violations
}

#[test]
fn every_statement_a_violation_names_is_in_the_catalogue_of_its_version() {
    let mut named = 0;
    for violation in violations() {
        // These come from MQTT 5 features: a 3.1.1 connection cannot raise them.
        let v5_only = matches!(
            violation,
            ProtocolViolation::ReceiveMaximumExceeded { .. }
                | ProtocolViolation::TopicAliasOutOfRange { .. }
                | ProtocolViolation::UnknownTopicAlias { .. }
                | ProtocolViolation::AuthenticationMethodMismatch { .. }
                | ProtocolViolation::UnexpectedAuth { .. }
        );
        let versions: &[ProtocolVersion] =
            if v5_only { &[ProtocolVersion::V5] } else { &[ProtocolVersion::V311, ProtocolVersion::V5] };
        for &version in versions {
            if let Some(Rule::Statement(id)) = violation.rule(version, Role::Server) {
                named += 1;
                assert!(
                    catalogue().get(version.into(), id).is_some(),
                    "{violation:?}: {id} is not a statement of MQTT {version}"
                );
            }
        }
    }
    assert!(named > 30, "only {named} statements named");
}

#[test]
fn violations_map_to_the_reason_codes_of_section_4_13() {
    let alias = NonZeroU16::new(3).unwrap();
    assert_eq!(
        ProtocolViolation::ReceiveMaximumExceeded { maximum: 1 }.reason_code(),
        ReasonCode::ReceiveMaximumExceeded
    );
    assert_eq!(
        ProtocolViolation::TopicAliasOutOfRange { alias, maximum: 2 }.reason_code(),
        ReasonCode::TopicAliasInvalid
    );
    assert_eq!(ProtocolViolation::UnknownTopicAlias { alias }.reason_code(), ReasonCode::ProtocolError);
    assert_eq!(ProtocolViolation::SessionPresentWithoutSession.reason_code(), ReasonCode::ProtocolError);
}

/// Every `MQTT-x.x.x-y` written in the client's source names a statement of at least one
/// version; which one is the code's business, this catches typos.
#[test]
fn every_statement_cited_in_the_client_source_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let citations = check_sources(&[&root.join("src/client")]).unwrap();
    assert!(citations.count > 50, "only {} citations found; is the scan looking in the right place?", citations.count);
    assert!(citations.unknown.is_empty(), "unknown statement ids:\n{}", citations.unknown.join("\n"));
}
