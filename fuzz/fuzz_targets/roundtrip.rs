//! Structured packets of both versions: encode then decode is the identity, unless the
//! encoder refuses the packet, in which case it must have appended nothing.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use verimqtt_proto::codec::{self, DecodeOptions, ProtocolVersion};

fn run(u: &mut Unstructured) -> Result<()> {
    let version = if u.arbitrary()? { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
    let packet = verimqtt_fuzz::arbitrary_packet(u, version)?;
    let mut wire = BytesMut::new();
    match codec::encode(&packet, version, &mut wire) {
        Ok(()) => {
            assert_eq!(codec::encoded_len(&packet, version), Ok(wire.len()));
            let decoded = codec::decode(&mut wire, &DecodeOptions::new(version));
            assert_eq!(decoded, Ok(Some(packet)), "encode then decode changed the packet");
            assert!(wire.is_empty(), "decode left bytes of its own encoding");
        }
        Err(_) => assert!(wire.is_empty(), "a refused packet left bytes behind"),
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
