//! One direction of a proxied connection cut into whole packets: the proxy passes a packet on
//! whole or not at all, and logs what it passes.

use bytes::{Bytes, BytesMut};
use verimqtt_proto::codec::{self, DecodeOptions, ProtocolVersion};
use verimqtt_proto::trace::{PacketInfo, packet_info};

/// A whole packet, and its fields if it decodes.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    pub bytes: Bytes,
    /// `None` for bytes that do not frame or decode as a packet of the version: the proxy
    /// passes them on unlogged and the receiving client reports the violation.
    pub packet: Option<PacketInfo>,
}

#[derive(Debug)]
pub(super) struct Frames {
    buffer: BytesMut,
    options: DecodeOptions,
}

impl Frames {
    pub fn new(version: ProtocolVersion) -> Self {
        Frames { buffer: BytesMut::new(), options: DecodeOptions::new(version) }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole packet, if there is one; bytes that cannot be framed come out as one
    /// frame of everything buffered.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if self.buffer.is_empty() {
            return None;
        }
        let len = match codec::frame_len(&self.buffer, &self.options) {
            Ok(Some(len)) => len,
            Ok(None) => return None,
            Err(_) => return Some(Frame { bytes: self.buffer.split().freeze(), packet: None }),
        };
        let bytes = self.buffer.split_to(len).freeze();
        let packet = codec::decode(&mut BytesMut::from(&bytes[..]), &self.options)
            .ok()
            .flatten()
            .map(|packet| packet_info(&packet, self.options.version));
        Some(Frame { bytes, packet })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;
    use verimqtt_proto::codec::{MqttString, Packet, Publish, QoS};
    use verimqtt_proto::trace::PacketKind;

    fn publish(payload: &[u8]) -> Packet {
        let topic = MqttString::try_from("t").unwrap_or_default();
        Packet::Publish(Publish::new(topic, QoS::AtMostOnce, None, Bytes::copy_from_slice(payload)))
    }

    proptest! {
        /// However the stream is cut into reads, the proxy passes the same whole packets.
        #[test]
        fn any_split_of_a_stream_gives_its_packets(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..6),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let packets: Vec<Packet> = payloads.iter().map(|payload| publish(payload)).collect();
            let mut stream = BytesMut::new();
            for packet in &packets {
                codec::encode(packet, ProtocolVersion::V311, &mut stream).unwrap_or_default();
            }
            let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len())).collect();
            points.sort_unstable();
            let mut frames = Frames::new(ProtocolVersion::V311);
            let (mut passed, mut from) = (Vec::new(), 0);
            for point in points.into_iter().chain([stream.len()]) {
                frames.push(&stream[from..point]);
                from = point;
                while let Some(frame) = frames.next_frame() {
                    passed.push(frame);
                }
            }
            let expected: Vec<PacketInfo> =
                packets.iter().map(|packet| packet_info(packet, ProtocolVersion::V311)).collect();
            prop_assert_eq!(passed.iter().map(|frame| frame.packet.clone()).collect::<Vec<_>>(),
                expected.into_iter().map(Some).collect::<Vec<_>>());
            prop_assert_eq!(passed.iter().map(|frame| frame.bytes.len()).sum::<usize>(), stream.len());
        }
    }

    #[test]
    fn packets_come_out_whole_with_their_fields() {
        let mut frames = Frames::new(ProtocolVersion::V311);
        frames.push(&[0xc0, 0x00, 0x30, 0x04, 0x00, 0x01]);
        let ping = frames.next_frame().unwrap();
        assert_eq!(ping.packet.unwrap().kind, PacketKind::Pingreq);
        assert!(frames.next_frame().is_none(), "half a PUBLISH");
        frames.push(b"tx");
        let publish = frames.next_frame().unwrap();
        assert_eq!(&publish.bytes[..], &[0x30, 0x04, 0x00, 0x01, b't', b'x']);
        let packet = publish.packet.unwrap();
        assert_eq!((packet.topic.as_deref(), packet.payload.as_deref()), (Some("t"), Some("x")));
    }

    #[test]
    fn bytes_that_are_no_packet_come_out_unlogged() {
        let mut frames = Frames::new(ProtocolVersion::V311);
        frames.push(&[0x00, 0x00]);
        let frame = frames.next_frame().unwrap();
        assert!(frame.packet.is_none());
        assert_eq!(&frame.bytes[..], &[0x00, 0x00]);
    }
}
