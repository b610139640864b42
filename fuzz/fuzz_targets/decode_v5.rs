//! Arbitrary bytes through the MQTT 5.0 decoder, in random pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verimqtt_proto::codec::ProtocolVersion;

fuzz_target!(|data: &[u8]| verimqtt_fuzz::check_decode_stream(data, ProtocolVersion::V5));
