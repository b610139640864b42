//! Every statement a property cites exists, with that id, in the catalogue of its version.

use verimqtt_model::Version;
use verimqtt_model::properties::CATALOGUE;
use verimqtt_spec::catalogue::{SpecVersion, catalogue};

fn spec_version(version: Version) -> SpecVersion {
    match version {
        Version::V3_1_1 => SpecVersion::V3_1_1,
        Version::V5_0 => SpecVersion::V5_0,
    }
}

#[test]
fn every_cited_statement_is_in_the_catalogue_of_its_version() {
    for property in CATALOGUE {
        assert!(!property.statements.is_empty(), "{} cites nothing", property.name);
        for &(version, id) in property.statements {
            assert!(
                catalogue().get(spec_version(version), id).is_some(),
                "{} cites [{id}], which MQTT {version} does not have",
                property.name
            );
        }
    }
}

#[test]
fn an_id_from_the_wrong_version_is_rejected() {
    // Ids are per version: [MQTT-3.3.4-9] (the server respects the client's Receive Maximum)
    // exists in 5.0 only, so the check above must look in the cited version's catalogue.
    assert!(catalogue().get(SpecVersion::V3_1_1, "MQTT-3.3.4-9").is_none());
    assert!(catalogue().get(SpecVersion::V5_0, "MQTT-3.3.4-9").is_some());
}
