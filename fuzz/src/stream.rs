//! The decoder against a stream of arbitrary bytes.
//!
//! The first byte of the input steers the run: its top two bits pick the maximum packet size
//! (small sizes exercise the early refusal), the rest seeds the split points. The remaining
//! bytes are the stream, fed to the decoder in pieces of random length. For every answer:
//! - `Ok(None)` consumed nothing;
//! - `Ok(Some(packet))` consumed exactly one frame, as its fixed header announced it, never a
//!   byte of the next one, and the packet re-encodes to bytes that decode to the same packet;
//! - `Err(_)` ends the run, as it ends a connection.
//!
//! Termination is structural: every packet consumes at least two bytes.

use bytes::BytesMut;
use verimqtt_proto::codec::{self, DecodeOptions, MAX_PACKET_SIZE, Packet, ProtocolVersion};

pub fn check_decode_stream(data: &[u8], version: ProtocolVersion) {
    let Some((&control, stream)) = data.split_first() else { return };
    let max_packet_size = match control >> 6 {
        0 => MAX_PACKET_SIZE,
        1 => 16,
        2 => 128,
        _ => 1024,
    };
    let options = DecodeOptions::new(version).with_max_packet_size(max_packet_size);
    let mut splits = SplitPoints::new(control);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    while fed < stream.len() {
        let chunk = splits.next_len(stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + chunk]);
        fed += chunk;
        loop {
            let before = buf.clone();
            match codec::decode(&mut buf, &options) {
                Ok(Some(packet)) => {
                    let consumed = before.len() - buf.len();
                    assert_eq!(Some(consumed), announced_frame_len(&before), "consumed other than one frame");
                    check_reencodes(&packet, version);
                }
                Ok(None) => {
                    assert_eq!(buf, before, "need-more consumed bytes");
                    break;
                }
                Err(_) => return,
            }
        }
    }
}

/// The length of the frame at the front of `bytes` by its own fixed header, read here
/// independently of the codec.
fn announced_frame_len(bytes: &[u8]) -> Option<usize> {
    let mut remaining = 0usize;
    for (index, &byte) in bytes.iter().skip(1).take(4).enumerate() {
        remaining |= usize::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some(1 + index + 1 + remaining);
        }
    }
    None
}

fn check_reencodes(packet: &Packet, connection_version: ProtocolVersion) {
    // A CONNECT is read in the version it names; everything else in the connection's.
    let version = match packet {
        Packet::Connect(connect) => connect.protocol_version,
        _ => connection_version,
    };
    let mut wire = BytesMut::new();
    if let Err(error) = codec::encode(packet, version, &mut wire) {
        panic!("a decoded packet does not encode: {error}\n{packet:?}");
    }
    let decoded = codec::decode(&mut wire, &DecodeOptions::new(version));
    assert_eq!(decoded, Ok(Some(packet.clone())), "re-encoded packet decodes differently");
    assert!(wire.is_empty());
}

/// A small deterministic generator (xorshift) of chunk lengths, biased to short chunks so
/// that packets are often split inside their fixed header.
struct SplitPoints(u32);

impl SplitPoints {
    fn new(seed: u8) -> Self {
        SplitPoints(u32::from(seed) | 0x9e37_7900)
    }

    fn next_len(&mut self, available: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        let limit = if self.0 & 3 == 0 { available } else { 8.min(available) };
        1 + (self.0 as usize >> 2) % limit
    }
}
