//! The bytes a connection received and the packets they make, for both roles.
//!
//! Each packet is copied out of the receive buffer into an allocation of its own before it
//! is decoded. What a decoded packet holds (a message, a will) shares that allocation, and a
//! broker may keep it for long: had it shared the receive buffer, a small retained message
//! could keep a buffer of a megabyte alive. The fixed header is judged before the body is
//! buffered, against the largest packet the connection accepts.

use bytes::{Buf, BytesMut};

use crate::codec::{self, DecodeError, DecodeOptions, Packet, PacketType};

#[derive(Debug)]
pub(crate) struct Framer {
    received: BytesMut,
    options: DecodeOptions,
}

impl Framer {
    pub(crate) fn new(options: DecodeOptions) -> Self {
        Framer { received: BytesMut::new(), options }
    }

    /// From now on packets are read with these options.
    pub(crate) fn set_options(&mut self, options: DecodeOptions) {
        self.options = options;
    }

    pub(crate) fn receive(&mut self, bytes: &[u8]) {
        self.received.extend_from_slice(bytes);
    }

    /// Bytes received and not yet read as packets.
    pub(crate) fn unread_len(&self) -> usize {
        self.received.len()
    }

    /// Forgets the bytes not yet read.
    pub(crate) fn clear(&mut self) {
        self.received.clear();
    }

    /// Whether the next packet, whole or not, is of this type.
    pub(crate) fn next_is(&self, packet_type: PacketType) -> bool {
        self.received.first().is_some_and(|&first| first >> 4 == packet_type as u8)
    }

    /// The next whole packet, if there is one. An error leaves the framer out of step: the
    /// connection must be closed.
    pub(crate) fn next_packet(&mut self) -> Result<Option<Packet>, DecodeError> {
        let Some(len) = codec::frame_len(&self.received, &self.options)? else { return Ok(None) };
        let mut frame = BytesMut::from(&self.received[..len]);
        self.received.advance(len);
        codec::decode(&mut frame, &self.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ProtocolVersion;

    #[test]
    fn packets_come_whole_and_each_in_an_allocation_of_its_own() {
        let mut framer = Framer::new(DecodeOptions::new(ProtocolVersion::V311));
        framer.receive(&[0xc0, 0x00, 0xd0]);
        assert!(framer.next_is(PacketType::PingReq));
        assert_eq!(framer.next_packet(), Ok(Some(Packet::PingReq)));
        assert_eq!(framer.next_packet(), Ok(None), "half a PINGRESP");
        framer.receive(&[0x00]);
        assert_eq!(framer.next_packet(), Ok(Some(Packet::PingResp)));
        assert_eq!(framer.unread_len(), 0);
    }

    #[test]
    fn a_packet_over_the_limit_is_refused_from_its_fixed_header() {
        let mut framer = Framer::new(DecodeOptions::new(ProtocolVersion::V5).with_max_packet_size(16));
        framer.receive(&[0x30, 0x7f]);
        assert!(framer.next_packet().is_err());
    }
}
