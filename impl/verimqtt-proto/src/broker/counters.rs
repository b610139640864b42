//! The running totals behind [`Stats`](super::Stats): plain integers the broker adds to as it
//! works, with no lock and no allocation on the path of a packet (a refused CONNECT, rare,
//! may add one entry to a map keyed by its reason code).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::codec::{QoS, ReasonCode};

use super::DropReason;

/// Counts per QoS, indexed by the QoS's number (0, 1, 2).
pub type QosCounts = [u64; 3];

/// Adds one to the count of `qos`.
pub(super) fn count_qos(counts: &mut QosCounts, qos: QoS) {
    counts[qos as usize] += 1;
}

/// Copies of messages not delivered to a session, by [`DropReason`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// [`DropReason::QueueFull`].
    pub queue_full: u64,
    /// [`DropReason::PacketTooLarge`].
    pub packet_too_large: u64,
    /// [`DropReason::Expired`].
    pub expired: u64,
}

impl DropCounts {
    pub(super) fn add(&mut self, reason: DropReason) {
        match reason {
            DropReason::QueueFull => self.queue_full += 1,
            DropReason::PacketTooLarge => self.packet_too_large += 1,
            DropReason::Expired => self.expired += 1,
        }
    }

    /// Every copy dropped, whatever the reason.
    pub fn total(&self) -> u64 {
        self.queue_full + self.packet_too_large + self.expired
    }
}

/// How long messages waited in the broker: from the input that made the broker take the
/// message (its PUBLISH read, its will due) to the input during which the broker encoded
/// its first PUBLISH to a subscriber, by the clock the owner passes in. A message that
/// waited in a queue (an offline or congested subscriber, a full window) shows here; one
/// routed at once counts as no wait, whatever the socket's own delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// How many waits fell in each bucket: `counts[i]` those longer than
    /// `LATENCY_BOUNDS[i - 1]` and at most `LATENCY_BOUNDS[i]`, the last one those longer
    /// than every bound.
    pub counts: [u64; LATENCY_BOUNDS.len() + 1],
    /// The sum of every wait, in microseconds.
    pub sum_micros: u64,
}

/// The upper bounds of the buckets of [`LatencyHistogram`], from a millisecond to a minute.
pub const LATENCY_BOUNDS: [Duration; 7] = [
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(60),
    Duration::from_secs(600),
];

impl LatencyHistogram {
    pub(super) fn record(&mut self, wait: Duration) {
        let bucket = LATENCY_BOUNDS.iter().position(|bound| wait <= *bound).unwrap_or(LATENCY_BOUNDS.len());
        self.counts[bucket] += 1;
        self.sum_micros = self.sum_micros.saturating_add(u64::try_from(wait.as_micros()).unwrap_or(u64::MAX));
    }

    /// How many waits were recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The totals the broker keeps as it goes; what it can count from its state (sessions,
/// subscriptions, messages held) is counted when asked instead.
#[derive(Debug, Default, Clone)]
pub(super) struct Counters {
    pub(super) messages_received: u64,
    pub(super) messages_sent: u64,
    pub(super) dropped: DropCounts,
    pub(super) bytes_received: u64,
    pub(super) bytes_sent: u64,
    pub(super) packets_received: u64,
    pub(super) publish_received: QosCounts,
    pub(super) publish_sent: QosCounts,
    pub(super) publish_bytes_received: u64,
    pub(super) publish_bytes_sent: u64,
    pub(super) connections_accepted: u64,
    pub(super) connections_not_accepted: u64,
    pub(super) connects_received: u64,
    pub(super) connects_refused: BTreeMap<ReasonCode, u64>,
    pub(super) retained_dropped: u64,
    pub(super) publishes_denied: u64,
    pub(super) sessions_maximum: usize,
    pub(super) sessions_expired: u64,
    pub(super) latency: LatencyHistogram,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_fall_in_the_first_bucket_whose_bound_they_do_not_pass() {
        let mut histogram = LatencyHistogram::default();
        for wait in [Duration::ZERO, Duration::from_millis(1), Duration::from_micros(1001), Duration::from_secs(3600)] {
            histogram.record(wait);
        }
        assert_eq!(histogram.counts, [2, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(histogram.count(), 4);
        assert_eq!(histogram.sum_micros, 1000 + 1001 + 3_600_000_000);
    }

    #[test]
    fn drops_are_counted_by_reason() {
        let mut drops = DropCounts::default();
        for reason in [DropReason::QueueFull, DropReason::QueueFull, DropReason::Expired] {
            drops.add(reason);
        }
        assert_eq!(drops, DropCounts { queue_full: 2, packet_too_large: 0, expired: 1 });
        assert_eq!(drops.total(), 3);
    }
}
