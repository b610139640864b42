//! Encode then decode is the identity, in one piece or any number of pieces, and no input
//! makes the decoder panic, loop, or read past a frame.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use verimqtt_proto::codec::{self, *};

use crate::strategies::{packet, versioned_packet, versions};

fn encode(packet: &Packet, version: ProtocolVersion) -> BytesMut {
    let mut out = BytesMut::new();
    encode_into(packet, version, &mut out);
    out
}

fn encode_into(packet: &Packet, version: ProtocolVersion, out: &mut BytesMut) {
    let before = out.len();
    codec::encode(packet, version, out).unwrap_or_else(|error| panic!("{error}: {packet:?}"));
    assert_eq!(out.len() - before, codec::encoded_len(packet, version).unwrap(), "encoded_len of {packet:?}");
}

/// Decodes every whole packet in `buf`, leaving a partial one.
fn decode_all(buf: &mut BytesMut, options: &DecodeOptions) -> Vec<Packet> {
    let mut packets = Vec::new();
    while let Some(packet) = codec::decode(buf, options).unwrap() {
        packets.push(packet);
    }
    packets
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn encode_then_decode_is_identity_and_consumes_exactly_the_packet((version, packet) in versioned_packet()) {
        let mut wire = encode(&packet, version);
        // Bytes of the next packet must stay in the buffer.
        wire.extend_from_slice(&[0xc0, 0x00]);
        let decoded = codec::decode(&mut wire, &DecodeOptions::new(version)).unwrap();
        prop_assert_eq!(decoded, Some(packet));
        prop_assert_eq!(&wire[..], &[0xc0, 0x00]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_stream_split_at_any_byte_decodes_the_same(
        (version, packets) in versions().prop_flat_map(|version| (Just(version), vec(packet(version), 1..5)))
    ) {
        let options = DecodeOptions::new(version);
        let mut wire = BytesMut::new();
        for packet in &packets {
            encode_into(packet, version, &mut wire);
        }
        for split in 0..=wire.len() {
            let mut buf = BytesMut::from(&wire[..split]);
            let mut decoded = decode_all(&mut buf, &options);
            buf.extend_from_slice(&wire[split..]);
            decoded.extend(decode_all(&mut buf, &options));
            prop_assert_eq!(&decoded, &packets, "split at {}", split);
            prop_assert!(buf.is_empty());
        }
    }

    #[test]
    fn byte_by_byte_arrival_decodes_each_packet_when_its_last_byte_arrives(
        (version, packets) in versions().prop_flat_map(|version| (Just(version), vec(packet(version), 1..4)))
    ) {
        let options = DecodeOptions::new(version);
        let mut ends = Vec::new();
        let mut wire = BytesMut::new();
        for packet in &packets {
            encode_into(packet, version, &mut wire);
            ends.push(wire.len());
        }
        let mut buf = BytesMut::new();
        let mut decoded_at = Vec::new();
        for (index, &byte) in wire.iter().enumerate() {
            buf.extend_from_slice(&[byte]);
            for _ in decode_all(&mut buf, &options) {
                decoded_at.push(index + 1);
            }
        }
        prop_assert_eq!(decoded_at, ends);
    }

    /// Whatever arbitrary bytes decode to re-encodes to bytes that decode to the same packet;
    /// nothing panics, and a "need more" never consumes.
    #[test]
    fn random_bytes_never_panic_the_decoder(
        version in versions(),
        bytes in vec(any::<u8>(), 0..256),
        max_packet_size in prop_oneof![Just(MAX_PACKET_SIZE), 2u32..64],
    ) {
        let options = DecodeOptions::new(version).with_max_packet_size(max_packet_size);
        let mut buf = BytesMut::from(&bytes[..]);
        loop {
            let before = buf.len();
            match codec::decode(&mut buf, &options) {
                Ok(Some(packet)) => {
                    prop_assert!(buf.len() < before);
                    let packet_version = match &packet {
                        Packet::Connect(connect) => connect.protocol_version,
                        _ => version,
                    };
                    let mut again = encode(&packet, packet_version);
                    let decoded = codec::decode(&mut again, &DecodeOptions::new(packet_version)).unwrap();
                    prop_assert_eq!(decoded, Some(packet));
                }
                Ok(None) => {
                    prop_assert_eq!(buf.len(), before);
                    break;
                }
                Err(_) => break,
            }
        }
    }

    /// Near-valid input: a valid packet with one byte changed.
    #[test]
    fn corrupted_packets_decode_or_fail_cleanly(
        (version, packet) in versioned_packet(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut wire = encode(&packet, version);
        let position = position.index(wire.len());
        wire[position] = byte;
        if let Ok(Some(decoded)) = codec::decode(&mut wire, &DecodeOptions::new(version)) {
            let decoded_version = match &decoded {
                Packet::Connect(connect) => connect.protocol_version,
                _ => version,
            };
            prop_assert!(codec::encode(&decoded, decoded_version, &mut BytesMut::new()).is_ok());
        }
    }
}

#[test]
fn payload_and_topic_share_the_received_buffer() {
    let mut wire = BytesMut::from(&b"\x30\x0a\x00\x03a/bhello"[..]);
    let start = wire.as_ptr() as usize;
    let Some(Packet::Publish(publish)) = codec::decode(&mut wire, &DecodeOptions::new(ProtocolVersion::V311)).unwrap()
    else {
        panic!("expected a PUBLISH");
    };
    assert_eq!(publish.topic.as_bytes().as_ptr() as usize, start + 4);
    assert_eq!(publish.payload.as_ptr() as usize, start + 7);
    assert_eq!(&publish.payload[..], b"hello");
}

#[test]
fn oversized_packet_is_refused_from_its_fixed_header_alone() {
    // Only the fixed header has arrived: it announces 200 000 bytes.
    let mut wire = BytesMut::from(&[0x30, 0xc0, 0x9a, 0x0c][..]);
    let options = DecodeOptions::new(ProtocolVersion::V5).with_max_packet_size(1024);
    let error = codec::decode(&mut wire, &options).unwrap_err();
    assert_eq!(error.violation(), &Violation::PacketTooLarge { size: 200_004, max: 1024 });
    assert_eq!(error.reason_code(), ReasonCode::PacketTooLarge);
    assert!(wire.capacity() < 1024, "the body was not buffered");
}

#[test]
fn the_maximum_packet_size_counts_the_fixed_header() {
    let options = DecodeOptions::new(ProtocolVersion::V5).with_max_packet_size(2);
    assert_eq!(codec::decode(&mut BytesMut::from(&[0xc0, 0x00][..]), &options), Ok(Some(Packet::PingReq)));
    let options = options.with_max_packet_size(1);
    assert!(codec::decode(&mut BytesMut::from(&[0xc0, 0x00][..]), &options).is_err());
}

#[test]
fn need_more_consumes_nothing_and_reserves_the_packet() {
    let mut wire = BytesMut::from(&[0x30, 0x80, 0x01][..]);
    assert_eq!(codec::decode(&mut wire, &DecodeOptions::new(ProtocolVersion::V311)), Ok(None));
    assert_eq!(&wire[..], &[0x30, 0x80, 0x01]);
    assert!(wire.capacity() >= 131);
}

#[test]
fn padded_remaining_length_is_accepted_in_3_1_1_only() {
    let padded = [0xc0, 0x80, 0x00];
    let v311 = DecodeOptions::new(ProtocolVersion::V311);
    assert_eq!(codec::decode(&mut BytesMut::from(&padded[..]), &v311), Ok(Some(Packet::PingReq)));
    let v5 = DecodeOptions::new(ProtocolVersion::V5);
    let error = codec::decode(&mut BytesMut::from(&padded[..]), &v5).unwrap_err();
    assert_eq!(error.violation(), &Violation::VarintNotMinimal);
}
