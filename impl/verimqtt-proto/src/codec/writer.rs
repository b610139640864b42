//! Where encoded bytes go: an output buffer, or a counter that only measures.
//!
//! A packet is written by one function generic over [`Sink`], run once on a [`Counter`] to
//! learn its remaining length (and each property block's length) and once on the output.
//! Sizes therefore cannot drift from what is written.

use bytes::{BufMut, BytesMut};

use super::string::{Binary, MqttString};
use super::varint;

pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);

    #[inline]
    fn u8(&mut self, value: u8) {
        self.put(&[value]);
    }

    #[inline]
    fn u16(&mut self, value: u16) {
        self.put(&value.to_be_bytes());
    }

    #[inline]
    fn u32(&mut self, value: u32) {
        self.put(&value.to_be_bytes());
    }

    /// Callers bound `value` to [`varint::MAX_VARINT`] first.
    #[inline]
    fn varint(&mut self, value: u32) {
        self.put(varint::encode(value).as_slice());
    }

    #[inline]
    fn string(&mut self, text: &MqttString) {
        self.prefixed(text.as_bytes());
    }

    #[inline]
    fn binary(&mut self, data: &Binary) {
        self.prefixed(data);
    }

    /// A two-byte length and the bytes; the field types guarantee the length fits.
    #[inline]
    fn prefixed(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.len() <= usize::from(u16::MAX));
        self.u16(bytes.len() as u16);
        self.put(bytes);
    }
}

impl Sink for BytesMut {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.put_slice(bytes);
    }

    #[inline]
    fn u8(&mut self, value: u8) {
        self.put_u8(value);
    }

    #[inline]
    fn u16(&mut self, value: u16) {
        self.put_u16(value);
    }

    /// Byte by byte: a short copy of a length unknown at compile time costs more.
    #[inline]
    fn varint(&mut self, value: u32) {
        debug_assert!(value <= varint::MAX_VARINT, "callers bound the value first");
        let mut rest = value;
        while rest >= 0x80 {
            self.put_u8((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        self.put_u8(rest as u8);
    }
}

/// A sink that counts bytes instead of storing them.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    len: u64,
}

impl Sink for Counter {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
    }

    #[inline]
    fn varint(&mut self, value: u32) {
        self.len += varint::encoded_len(value) as u64;
    }
}

/// How many bytes `write` writes.
pub(crate) fn measure(write: impl FnOnce(&mut Counter)) -> u64 {
    let mut counter = Counter::default();
    write(&mut counter);
    counter.len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(sink: &mut impl Sink) {
        sink.u8(1);
        sink.u16(2);
        sink.u32(3);
        sink.varint(300);
        sink.string(&MqttString::try_from("héllo").unwrap());
    }

    #[test]
    fn counter_agrees_with_the_buffer() {
        let mut out = BytesMut::new();
        sample(&mut out);
        assert_eq!(measure(sample), out.len() as u64);
        assert_eq!(&out[..], b"\x01\x00\x02\x00\x00\x00\x03\xac\x02\x00\x06h\xc3\xa9llo");
    }
}
