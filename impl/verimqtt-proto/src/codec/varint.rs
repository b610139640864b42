//! Variable byte integers: the remaining length, property lengths and subscription identifiers.

use super::error::Violation;

/// The largest value a variable byte integer of at most four bytes can hold.
pub const MAX_VARINT: u32 = 268_435_455;

/// A variable byte integer read from the front of a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Varint {
    pub value: u32,
    /// How many bytes the encoding took.
    pub len: usize,
}

impl Varint {
    /// Whether the encoding used more bytes than the value needs; MQTT 5 forbids that
    /// ([MQTT-1.5.5-1]), MQTT 3.1.1 says nothing of it.
    pub(super) fn is_minimal(self) -> bool {
        self.len == encoded_len(self.value)
    }
}

/// Reads a variable byte integer from the front of `bytes`.
///
/// `Ok(None)` means the bytes end before the integer does. A fifth byte is never needed, so a
/// fourth byte with its continuation bit set is an error at once, without waiting for more.
#[inline]
pub(super) fn read(bytes: &[u8]) -> Result<Option<Varint>, Violation> {
    // Most lengths (every empty property block) are one byte.
    if let Some(&byte) = bytes.first() {
        if byte & 0x80 == 0 {
            return Ok(Some(Varint { value: u32::from(byte), len: 1 }));
        }
    }
    read_long(bytes)
}

fn read_long(bytes: &[u8]) -> Result<Option<Varint>, Violation> {
    let mut value = 0u32;
    for (index, &byte) in bytes.iter().enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(Some(Varint { value, len: index + 1 }));
        }
        if index == 3 {
            return Err(Violation::VarintTooLong);
        }
    }
    Ok(None)
}

/// How many bytes the minimal encoding of `value` takes.
pub(super) const fn encoded_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// The minimal encoding of a value, at most four bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Encoded {
    bytes: [u8; 4],
    len: usize,
}

impl Encoded {
    pub(super) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Encodes `value`, which must not exceed [`MAX_VARINT`] (callers bound it first).
pub(super) fn encode(value: u32) -> Encoded {
    debug_assert!(value <= MAX_VARINT, "callers bound the value first");
    let mut encoded = Encoded { bytes: [0; 4], len: 0 };
    let mut rest = value;
    loop {
        let digit = (rest & 0x7f) as u8;
        rest >>= 7;
        let more = rest != 0 && encoded.len < 3;
        encoded.bytes[encoded.len] = if more { digit | 0x80 } else { digit };
        encoded.len += 1;
        if !more {
            return encoded;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(value: u32) -> Vec<u8> {
        super::encode(value).as_slice().to_vec()
    }

    #[test]
    fn boundaries_of_each_length_encode_as_the_spec_table_says() {
        // The table of section 1.5.5 (5.0) / 2.2.3 (3.1.1).
        let table: [(u32, &[u8]); 8] = [
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (MAX_VARINT, &[0xff, 0xff, 0xff, 0x7f]),
        ];
        for (value, bytes) in table {
            assert_eq!(encode(value), bytes, "encoding of {value}");
            let decoded = read(bytes).unwrap().unwrap();
            assert_eq!(decoded, Varint { value, len: bytes.len() });
            assert!(decoded.is_minimal());
        }
    }

    #[test]
    fn incomplete_integer_asks_for_more() {
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(read(&[0x80]), Ok(None));
        assert_eq!(read(&[0xff, 0xff, 0xff]), Ok(None));
    }

    #[test]
    fn fourth_continuation_bit_is_an_error_without_a_fifth_byte() {
        assert_eq!(read(&[0x80, 0x80, 0x80, 0x80]), Err(Violation::VarintTooLong));
    }

    #[test]
    fn padded_encodings_are_flagged_not_minimal() {
        let padded = read(&[0x80, 0x00]).unwrap().unwrap();
        assert_eq!(padded.value, 0);
        assert!(!padded.is_minimal());
        let padded = read(&[0xff, 0x80, 0x00]).unwrap().unwrap();
        assert_eq!(padded.value, 127);
        assert!(!padded.is_minimal());
    }

    proptest! {
        #[test]
        fn every_value_round_trips_minimally(value in 0..=MAX_VARINT) {
            let bytes = encode(value);
            prop_assert_eq!(bytes.len(), encoded_len(value));
            let decoded = read(&bytes).unwrap().unwrap();
            prop_assert_eq!(decoded.value, value);
            prop_assert!(decoded.is_minimal());
        }
    }
}
