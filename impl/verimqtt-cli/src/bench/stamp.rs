//! What each payload carries so that a subscriber can tell which message it is and how long
//! it took: the run, the publisher, its sequence number and the time it was published, in
//! the first 24 bytes (big-endian), zeros after.

use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};

/// Bytes the stamp takes at the start of every payload.
pub const STAMP_LEN: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Tells this run's messages from any other on the broker.
    pub run: u32,
    pub publisher: u32,
    /// From 0, one more for each message of the publisher.
    pub sequence: u64,
    /// Nanoseconds since the start of the run (one clock: publishers and subscribers share
    /// the process).
    pub sent_at: u64,
}

impl Stamp {
    /// A payload of `size` bytes (at least [`STAMP_LEN`]) that starts with this stamp.
    pub fn payload(&self, size: usize) -> Bytes {
        let mut payload = BytesMut::with_capacity(size.max(STAMP_LEN));
        payload.put_u32(self.run);
        payload.put_u32(self.publisher);
        payload.put_u64(self.sequence);
        payload.put_u64(self.sent_at);
        payload.resize(size.max(STAMP_LEN), 0);
        payload.freeze()
    }

    /// The stamp a payload starts with; `None` if it is too short to have one.
    pub fn read(payload: &[u8]) -> Option<Stamp> {
        let (run, rest) = payload.split_first_chunk::<4>()?;
        let (publisher, rest) = rest.split_first_chunk::<4>()?;
        let (sequence, rest) = rest.split_first_chunk::<8>()?;
        let (sent_at, _) = rest.split_first_chunk::<8>()?;
        Some(Stamp {
            run: u32::from_be_bytes(*run),
            publisher: u32::from_be_bytes(*publisher),
            sequence: u64::from_be_bytes(*sequence),
            sent_at: u64::from_be_bytes(*sent_at),
        })
    }
}

/// The clock of the stamps: nanoseconds from the start of the run `epoch` to `now`.
pub fn nanos_since(epoch: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_from_a_payload_of_any_size() {
        let stamp = Stamp { run: 0xdead_beef, publisher: 3, sequence: u64::MAX - 1, sent_at: 123_456_789 };
        for size in [STAMP_LEN, 64, 4096] {
            let payload = stamp.payload(size);
            assert_eq!(payload.len(), size);
            assert_eq!(Stamp::read(&payload), Some(stamp));
        }
        assert_eq!(stamp.payload(1).len(), STAMP_LEN, "never shorter than the stamp");
    }

    #[test]
    fn a_payload_too_short_has_no_stamp() {
        assert_eq!(Stamp::read(&[0; STAMP_LEN - 1]), None);
        assert_eq!(Stamp::read(b""), None);
    }
}
