//! The statement ids the codec cites exist in the catalogue of the version they are cited for.

use std::path::Path;

use verimqtt_spec::catalogue::catalogue;
use verimqtt_spec::citations::check_sources;

use crate::malformed::{bytes, cases};

#[test]
fn every_statement_a_decode_error_names_is_in_the_catalogue_of_its_version() {
    use bytes::BytesMut;
    use verimqtt_proto::codec::{self, DecodeOptions, Rule};
    for case in cases() {
        let options = DecodeOptions::new(case.version).with_max_packet_size(64);
        let error = codec::decode(&mut BytesMut::from(&bytes(case.hex)[..]), &options).unwrap_err();
        if let Rule::Statement(id) = error.rule() {
            assert!(
                catalogue().get(error.version().into(), id).is_some(),
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let citations = check_sources(&[&root.join("src/codec")]).unwrap();
    assert!(citations.count > 50, "only {} citations found; is the scan looking in the right place?", citations.count);
    assert!(citations.unknown.is_empty(), "unknown statement ids:\n{}", citations.unknown.join("\n"));
}
