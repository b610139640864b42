//! The length-prefixed data types: UTF-8 strings and binary data.
//!
//! Both are views of the received buffer (`Bytes`), validated once when they are made, so a
//! decoded packet never copies a topic, a payload or a property, and a value that exists is
//! always one the wire format can carry.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

/// Length-prefixed fields carry a two-byte length.
pub(super) const MAX_FIELD_LEN: usize = u16::MAX as usize;

/// Why a value cannot be an MQTT string or binary field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// Not well-formed UTF-8, or encodes a surrogate code point U+D800 to U+DFFF.
    #[error("not well-formed UTF-8 (or a UTF-16 surrogate)")]
    InvalidUtf8,
    /// Contains U+0000, which MQTT strings never do.
    #[error("contains the null character U+0000")]
    NullCharacter,
    /// Longer than the 65,535 bytes a two-byte length prefix can carry.
    #[error("{len} bytes is longer than the 65535 a two-byte length can carry")]
    TooLong {
        /// The value's length, in bytes.
        len: usize,
    },
}

/// A UTF-8 encoded string as MQTT defines it: well-formed, no surrogates, no U+0000, at most
/// 65535 bytes ([MQTT-1.5.3-1], [MQTT-1.5.3-2] in 3.1.1; [MQTT-1.5.4-1], [MQTT-1.5.4-2] in 5.0).
///
/// A U+FEFF byte order mark is kept as it is, never stripped ([MQTT-1.5.3-3], [MQTT-1.5.4-3]).
///
/// What a value proves, because every constructor validates and nothing mutates it: its
/// bytes are well-formed UTF-8 without U+0000 and fit a two-byte length, so the encoder
/// writes it without checking any of that again. It also knows, from the same pass over its
/// bytes, whether it contains a wildcard (`+` or `#`), so a topic name's wildcard rule
/// ([`MqttString::has_wildcard`]) costs nothing to check, read or written.
#[derive(Clone, Default)]
pub struct MqttString {
    text: ByteString,
    /// Whether `text` contains `+` or `#`; always computed from `text`, never set apart.
    wildcard: bool,
}

impl MqttString {
    /// Validates `bytes` as an MQTT string without copying them.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, FieldError> {
        check_len(bytes.len())?;
        let scan = Scan::of(&bytes);
        let text = if scan.non_ascii {
            ByteString::try_from(bytes).map_err(|_| FieldError::InvalidUtf8)?
        } else {
            ascii_text(bytes)
        };
        if scan.null {
            return Err(FieldError::NullCharacter);
        }
        Ok(MqttString { text, wildcard: scan.wildcard })
    }

    /// Validates a static string without copying it.
    pub fn from_static(text: &'static str) -> Result<Self, FieldError> {
        Self::from_bytes(Bytes::from_static(text.as_bytes()))
    }

    /// The text, borrowed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The string's bytes, sharing the buffer they were decoded from.
    pub fn as_bytes(&self) -> &Bytes {
        self.text.as_bytes()
    }

    /// Whether the string contains `+` or `#`, known since it was validated.
    pub fn has_wildcard(&self) -> bool {
        self.wildcard
    }

    /// The same string in an allocation of its own. A decoded string keeps the whole
    /// buffer it was decoded from alive; something kept for long (a subscription's filter,
    /// a client identifier) should not keep a large packet with it.
    pub fn detached(&self) -> Self {
        // Already valid: only the storage changes.
        MqttString { text: ByteString::from(self.as_str()), wildcard: self.wildcard }
    }
}

// Equality, order and hash are those of the text; the wildcard flag follows from it.
impl PartialEq for MqttString {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for MqttString {}

impl PartialOrd for MqttString {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MqttString {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl Borrow<str> for MqttString {
    fn borrow(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

// Hash as `str` does, so that `Borrow<str>` lookups in hash maps find the entry.
impl Hash for MqttString {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl TryFrom<&str> for MqttString {
    type Error = FieldError;
    fn try_from(text: &str) -> Result<Self, FieldError> {
        Self::from_bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl TryFrom<String> for MqttString {
    type Error = FieldError;
    fn try_from(text: String) -> Result<Self, FieldError> {
        Self::from_bytes(Bytes::from(text))
    }
}

impl TryFrom<Bytes> for MqttString {
    type Error = FieldError;
    fn try_from(bytes: Bytes) -> Result<Self, FieldError> {
        Self::from_bytes(bytes)
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Binary data with a two-byte length: at most 65535 bytes (passwords, will payloads,
/// correlation and authentication data).
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Binary(Bytes);

impl Binary {
    /// `bytes` as a binary field, or [`FieldError::TooLong`] past 65,535 bytes.
    pub fn new(bytes: Bytes) -> Result<Self, FieldError> {
        check_len(bytes.len())?;
        Ok(Binary(bytes))
    }

    /// A static byte string as a binary field, without copying it.
    pub fn from_static(bytes: &'static [u8]) -> Result<Self, FieldError> {
        Self::new(Bytes::from_static(bytes))
    }

    /// The bytes, sharing the buffer they were decoded from.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The bytes, without copying them.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Binary {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<Bytes> for Binary {
    type Error = FieldError;
    fn try_from(bytes: Bytes) -> Result<Self, FieldError> {
        Self::new(bytes)
    }
}

impl TryFrom<&[u8]> for Binary {
    type Error = FieldError;
    fn try_from(bytes: &[u8]) -> Result<Self, FieldError> {
        Self::new(Bytes::copy_from_slice(bytes))
    }
}

impl fmt::Debug for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Text made of bytes that are all ASCII, without validating them again.
///
/// The one `unsafe` block of the crate, kept because it is measured: the scan that every MQTT
/// string needs anyway (U+0000, wildcards) also tells whether a byte is above 0x7f, and a
/// second pass of `str::from_utf8` over bytes already known to be ASCII cost about 120 of the
/// 860 instructions (callgrind) of decoding a PUBLISH with a 46-byte topic. Strings with other
/// bytes are validated by `std` as before.
#[allow(unsafe_code)]
fn ascii_text(bytes: Bytes) -> ByteString {
    debug_assert!(bytes.is_ascii(), "the caller's scan found no byte above 0x7f");
    // SAFETY: every byte is below 0x80 (the caller's `Scan` found no byte with the high bit
    // set, a property the proptest `the_scan_sees_what_a_byte_by_byte_look_sees` checks), and
    // a sequence of ASCII bytes is well-formed UTF-8.
    unsafe { ByteString::from_bytes_unchecked(bytes) }
}

/// What one pass over a string's bytes finds: a U+0000, a wildcard, a byte outside ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scan {
    null: bool,
    wildcard: bool,
    non_ascii: bool,
}

impl Scan {
    /// Bits of the per-byte summary.
    const NULL: u8 = 0x01;
    const WILDCARD: u8 = 0x02;
    const NON_ASCII: u8 = 0x80;

    /// Every byte is looked at, without an early exit, in blocks of 16 that are or-ed into
    /// one block, lane by lane, so that the loop compiles to vector instructions and the
    /// lanes are combined once at the end. A last partial block is read as the last 16
    /// bytes, looking again at some bytes already seen, which changes nothing in what is found.
    fn of(bytes: &[u8]) -> Self {
        const BLOCK: usize = 16;
        let found = if bytes.len() < BLOCK {
            bytes.iter().fold(0, |found, &byte| found | Self::summary(byte))
        } else {
            let mut lanes = [0u8; BLOCK];
            let mut blocks = bytes.chunks_exact(BLOCK);
            for block in blocks.by_ref() {
                Self::merge(&mut lanes, block);
            }
            if !blocks.remainder().is_empty() {
                Self::merge(&mut lanes, &bytes[bytes.len() - BLOCK..]);
            }
            lanes.iter().fold(0, |found, &lane| found | lane)
        };
        Scan {
            null: found & Self::NULL != 0,
            wildcard: found & Self::WILDCARD != 0,
            non_ascii: found & Self::NON_ASCII != 0,
        }
    }

    fn merge(lanes: &mut [u8; 16], block: &[u8]) {
        for (lane, &byte) in lanes.iter_mut().zip(block) {
            *lane |= Self::summary(byte);
        }
    }

    /// The bits one byte sets.
    fn summary(byte: u8) -> u8 {
        (byte & Self::NON_ASCII) | u8::from(byte == 0) | (u8::from(byte == b'+' || byte == b'#') << 1)
    }
}

fn check_len(len: usize) -> Result<(), FieldError> {
    if len > MAX_FIELD_LEN {
        return Err(FieldError::TooLong { len });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn decoded_string_shares_the_input_buffer() {
        let input = Bytes::from_static(b"sensors/temperature");
        let text = MqttString::from_bytes(input.slice(8..)).unwrap();
        assert_eq!(text, "temperature");
        assert_eq!(text.as_bytes().as_ptr(), input[8..].as_ptr());
    }

    #[test]
    fn ill_formed_utf8_and_surrogates_are_rejected() {
        // A lone continuation byte, a truncated sequence, an overlong '/' and U+D800 encoded
        // as if it were a scalar value.
        for bad in [&b"\x80"[..], b"a\xc3", b"\xc0\xaf", b"\xed\xa0\x80"] {
            assert_eq!(MqttString::from_bytes(Bytes::copy_from_slice(bad)), Err(FieldError::InvalidUtf8), "{bad:x?}");
        }
    }

    #[test]
    fn null_character_is_rejected() {
        assert_eq!(MqttString::try_from("a\0b"), Err(FieldError::NullCharacter));
    }

    #[test]
    fn byte_order_mark_is_kept() {
        let text = MqttString::try_from("\u{feff}topic").unwrap();
        assert_eq!(text.as_bytes().as_ref(), b"\xef\xbb\xbftopic");
    }

    #[test]
    fn fields_longer_than_a_two_byte_length_are_rejected() {
        let long = "x".repeat(MAX_FIELD_LEN + 1);
        assert_eq!(MqttString::try_from(long.as_str()), Err(FieldError::TooLong { len: MAX_FIELD_LEN + 1 }));
        assert!(MqttString::try_from(&long[1..]).is_ok());
        assert_eq!(Binary::try_from(long.as_bytes()), Err(FieldError::TooLong { len: MAX_FIELD_LEN + 1 }));
    }

    #[test]
    fn wildcards_are_found_wherever_they_are() {
        for text in ["+", "#", "a/+", "a/#", &format!("{}#", "x".repeat(40)), &format!("{}+b", "x".repeat(16))] {
            assert!(MqttString::try_from(text).unwrap().has_wildcard(), "{text}");
        }
        for text in ["", "a/b", "\u{feff}topic", &"x".repeat(47)] {
            assert!(!MqttString::try_from(text).unwrap().has_wildcard(), "{text}");
        }
    }

    proptest! {
        #[test]
        fn the_scan_sees_what_a_byte_by_byte_look_sees(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let scan = Scan::of(&bytes);
            prop_assert_eq!(scan.null, bytes.contains(&0));
            prop_assert_eq!(scan.wildcard, bytes.iter().any(|&byte| byte == b'+' || byte == b'#'));
            prop_assert_eq!(scan.non_ascii, !bytes.is_ascii());
        }

        #[test]
        fn validation_agrees_with_std_and_a_null_search(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let expected = match std::str::from_utf8(&bytes) {
                Err(_) => Err(FieldError::InvalidUtf8),
                Ok(text) if text.contains('\0') => Err(FieldError::NullCharacter),
                Ok(text) => Ok(text.to_owned()),
            };
            let got = MqttString::from_bytes(Bytes::from(bytes)).map(|text| text.as_str().to_owned());
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn hash_agrees_with_str_for_borrowed_lookups() {
        let set: HashSet<MqttString> = [MqttString::try_from("a/b").unwrap()].into();
        assert!(set.contains("a/b"));
    }
}
