//! A cursor over one packet's body that never reads past the frame.
//!
//! Every read checks that the bytes are there and fails with
//! [`Violation::UnexpectedEndOfPacket`] if not; slices are taken from the shared buffer, not
//! copied.

use bytes::{Buf, Bytes};

use super::error::Violation;
use super::string::{Binary, MqttString};
use super::varint;

pub(crate) struct Reader {
    bytes: Bytes,
}

impl Reader {
    #[inline]
    pub(crate) fn new(bytes: Bytes) -> Self {
        Reader { bytes }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    #[inline]
    fn need(&self, len: usize) -> Result<(), Violation> {
        if self.bytes.len() < len {
            return Err(Violation::UnexpectedEndOfPacket);
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, Violation> {
        self.need(1)?;
        Ok(self.bytes.get_u8())
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, Violation> {
        self.need(2)?;
        Ok(self.bytes.get_u16())
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, Violation> {
        self.need(4)?;
        Ok(self.bytes.get_u32())
    }

    /// A variable byte integer inside a body. Only MQTT 5 has them there (property lengths,
    /// subscription identifiers), so the shortest encoding is always required [MQTT-1.5.5-1].
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u32, Violation> {
        let parsed = varint::read(&self.bytes)?.ok_or(Violation::UnexpectedEndOfPacket)?;
        if !parsed.is_minimal() {
            return Err(Violation::VarintNotMinimal);
        }
        self.bytes.advance(parsed.len);
        Ok(parsed.value)
    }

    /// The next `len` bytes, as a slice of the packet.
    #[inline]
    pub(crate) fn take(&mut self, len: usize) -> Result<Bytes, Violation> {
        self.need(len)?;
        Ok(self.bytes.split_to(len))
    }

    /// A two-byte length and that many bytes.
    pub(crate) fn binary(&mut self) -> Result<Binary, Violation> {
        let len = self.u16()?;
        Ok(Binary::new(self.take(usize::from(len))?)?)
    }

    /// A two-byte length and that many bytes of MQTT string.
    #[inline]
    pub(crate) fn string(&mut self) -> Result<MqttString, Violation> {
        let len = self.u16()?;
        Ok(MqttString::from_bytes(self.take(usize::from(len))?)?)
    }

    /// Everything left, e.g. a PUBLISH payload.
    #[inline]
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.bytes)
    }

    /// Ends the body: a byte left unread means the remaining length was longer than the fields.
    #[inline]
    pub(crate) fn finish(self) -> Result<(), Violation> {
        match self.bytes.len() {
            0 => Ok(()),
            count => Err(Violation::TrailingBytes { count }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::string::FieldError;

    fn reader(bytes: &'static [u8]) -> Reader {
        Reader::new(Bytes::from_static(bytes))
    }

    #[test]
    fn reads_never_cross_the_end() {
        let mut r = reader(&[0x01]);
        assert_eq!(r.u16(), Err(Violation::UnexpectedEndOfPacket));
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u8(), Err(Violation::UnexpectedEndOfPacket));
    }

    #[test]
    fn string_longer_than_the_body_is_unexpected_end() {
        let mut r = reader(&[0x00, 0x05, b'a', b'b']);
        assert_eq!(r.string(), Err(Violation::UnexpectedEndOfPacket));
    }

    #[test]
    fn invalid_string_is_reported_as_a_field_error() {
        let mut r = reader(&[0x00, 0x01, 0x00]);
        assert_eq!(r.string(), Err(Violation::Field(FieldError::NullCharacter)));
    }

    #[test]
    fn padded_varint_in_a_body_is_rejected() {
        assert_eq!(reader(&[0x80, 0x00]).varint(), Err(Violation::VarintNotMinimal));
        assert_eq!(reader(&[0x80]).varint(), Err(Violation::UnexpectedEndOfPacket));
    }

    #[test]
    fn finish_counts_unread_bytes() {
        let mut r = reader(&[1, 2, 3]);
        r.u8().unwrap();
        assert_eq!(r.finish(), Err(Violation::TrailingBytes { count: 2 }));
    }
}
