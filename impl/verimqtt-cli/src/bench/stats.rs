//! What the subscribers received, judged against what the publishers sent: messages
//! delivered, lost, duplicated and out of order (by the sequence numbers of the stamps), and
//! the latency distribution.

use std::collections::HashMap;
use std::ops::AddAssign;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::stamp::Stamp;

/// Sequence numbers past this one are taken for garbage rather than grow the record (a run
/// at a million messages per second for 15 minutes stays below it).
const MAX_SEQUENCE: u64 = 1 << 30;

/// Latencies recorded up to an hour, in microseconds, to three significant digits.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// The sequence numbers received from one publisher.
#[derive(Debug, Default, Clone)]
pub struct Sequences {
    /// Bit n is set once number n has been received.
    seen: Vec<u64>,
    unique: u64,
    duplicates: u64,
    /// Received after a higher number of the same publisher.
    reordered: u64,
    highest: Option<u64>,
}

/// What a received message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    New,
    Duplicate,
    /// Not from this run, not from a publisher this subscriber hears, or not stamped.
    Unexpected,
}

impl Sequences {
    pub fn record(&mut self, sequence: u64) -> Arrival {
        if sequence > MAX_SEQUENCE {
            return Arrival::Unexpected;
        }
        let (word, bit) = ((sequence / 64) as usize, 1u64 << (sequence % 64));
        if word >= self.seen.len() {
            self.seen.resize((word + 1).next_power_of_two(), 0);
        }
        if self.seen[word] & bit != 0 {
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        self.seen[word] |= bit;
        self.unique += 1;
        match self.highest {
            Some(highest) if sequence < highest => self.reordered += 1,
            _ => self.highest = Some(sequence),
        }
        Arrival::New
    }

    /// Of `sent` messages numbered from 0, how many were received at least once.
    pub fn received_of(&self, sent: u64) -> u64 {
        let whole_words = usize::try_from(sent / 64).unwrap_or(usize::MAX).min(self.seen.len());
        let mut count: u64 = self.seen[..whole_words].iter().map(|word| u64::from(word.count_ones())).sum();
        if let Some(word) = self.seen.get(whole_words).filter(|_| sent % 64 != 0) {
            count += u64::from((word & ((1u64 << (sent % 64)) - 1)).count_ones());
        }
        count
    }
}

/// Everything one subscriber received.
#[derive(Debug, Clone)]
pub struct Reception {
    run: u32,
    sources: HashMap<u32, Sequences>,
    latency: Histogram<u64>,
    received: u64,
    unexpected: u64,
    /// Nanoseconds since the start of the run when the last new message came.
    last_new_at: Option<u64>,
}

impl Reception {
    /// A subscriber of run `run` that hears the publishers `sources`.
    pub fn new(run: u32, sources: &[u32]) -> Self {
        Reception {
            run,
            sources: sources.iter().map(|&source| (source, Sequences::default())).collect(),
            latency: latency_histogram(),
            received: 0,
            unexpected: 0,
            last_new_at: None,
        }
    }

    /// Records a payload received `now` (nanoseconds since the start of the run).
    pub fn record(&mut self, payload: &[u8], now: u64) -> Arrival {
        self.received += 1;
        let arrival = match Stamp::read(payload).filter(|stamp| stamp.run == self.run) {
            Some(stamp) => match self.sources.get_mut(&stamp.publisher) {
                Some(sequences) => {
                    let arrival = sequences.record(stamp.sequence);
                    if arrival == Arrival::New {
                        self.latency.saturating_record(now.saturating_sub(stamp.sent_at) / 1_000);
                        self.last_new_at = Some(now);
                    }
                    arrival
                }
                None => Arrival::Unexpected,
            },
            None => Arrival::Unexpected,
        };
        if arrival == Arrival::Unexpected {
            self.unexpected += 1;
        }
        arrival
    }

    pub fn latency(&self) -> &Histogram<u64> {
        &self.latency
    }

    pub fn last_new_at(&self) -> Option<u64> {
        self.last_new_at
    }

    /// The counts, given how many messages each publisher sent (`sent[id]`).
    pub fn tally(&self, sent: &[u64]) -> Tally {
        let mut tally = Tally { received: self.received, unexpected: self.unexpected, ..Tally::default() };
        for (&source, sequences) in &self.sources {
            let sent = sent.get(source as usize).copied().unwrap_or(0);
            let delivered = sequences.received_of(sent);
            tally.expected += sent;
            tally.delivered += delivered;
            tally.lost += sent - delivered;
            // Numbers at or past `sent` were never published: the broker made them up.
            tally.unexpected += sequences.unique - delivered;
            tally.duplicates += sequences.duplicates;
            tally.reordered += sequences.reordered;
        }
        tally
    }
}

/// Counts of messages, for one subscriber or all.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Messages published that this subscriber should get, each once.
    pub expected: u64,
    /// Of those, received at least once.
    pub delivered: u64,
    /// Never received.
    pub lost: u64,
    /// Received again after the first time.
    pub duplicates: u64,
    /// Received after a later message of the same publisher.
    pub reordered: u64,
    /// Received and not expected (another run's, another topic's, never published).
    pub unexpected: u64,
    /// Every message received.
    pub received: u64,
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.lost += other.lost;
        self.duplicates += other.duplicates;
        self.reordered += other.reordered;
        self.unexpected += other.unexpected;
        self.received += other.received;
    }
}

impl Tally {
    /// Delivered messages in percent of those expected (100 when none was).
    pub fn delivered_percent(&self) -> f64 {
        if self.expected == 0 { 100.0 } else { 100.0 * self.delivered as f64 / self.expected as f64 }
    }
}

pub fn latency_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap_or_else(|_| unreachable!("valid histogram bounds"))
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Percentiles {
    /// `None` for an empty histogram.
    pub fn of(histogram: &Histogram<u64>) -> Option<Percentiles> {
        (!histogram.is_empty()).then(|| Percentiles {
            count: histogram.len(),
            min: histogram.min(),
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
            mean: histogram.mean(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped(run: u32, publisher: u32, sequence: u64, sent_at: u64) -> bytes::Bytes {
        Stamp { run, publisher, sequence, sent_at }.payload(32)
    }

    #[test]
    fn sequences_count_each_number_once_and_repeats_as_duplicates() {
        let mut sequences = Sequences::default();
        let arrivals: Vec<_> = [0, 1, 1, 3, 2, 200, 0].into_iter().map(|n| sequences.record(n)).collect();
        use Arrival::*;
        assert_eq!(arrivals, [New, New, Duplicate, New, New, New, Duplicate]);
        assert_eq!((sequences.unique, sequences.duplicates, sequences.reordered), (5, 2, 1));
        assert_eq!(sequences.received_of(4), 4);
        assert_eq!(sequences.received_of(200), 4, "200 itself is past the first 200");
        assert_eq!(sequences.received_of(201), 5);
        assert_eq!(sequences.received_of(64), 4);
        assert_eq!(sequences.received_of(1_000_000), 5, "far past what was seen");
        assert_eq!(sequences.received_of(0), 0);
        assert_eq!(sequences.record(MAX_SEQUENCE + 1), Unexpected);
    }

    #[test]
    fn lost_is_what_was_sent_and_never_received() {
        let mut reception = Reception::new(9, &[0, 1]);
        for sequence in [0, 1, 2, 4, 4] {
            reception.record(&stamped(9, 0, sequence, 0), 1_000);
        }
        reception.record(&stamped(9, 1, 0, 0), 1_000);
        let tally = reception.tally(&[6, 3]);
        assert_eq!(
            tally,
            Tally { expected: 9, delivered: 5, lost: 4, duplicates: 1, reordered: 0, unexpected: 0, received: 6 }
        );
        assert!((tally.delivered_percent() - 500.0 / 9.0).abs() < 1e-9);
    }

    #[test]
    fn messages_of_other_runs_publishers_or_numbers_are_unexpected() {
        let mut reception = Reception::new(9, &[0]);
        assert_eq!(reception.record(&stamped(8, 0, 0, 0), 0), Arrival::Unexpected, "another run");
        assert_eq!(reception.record(&stamped(9, 1, 0, 0), 0), Arrival::Unexpected, "a publisher not heard");
        assert_eq!(reception.record(b"short", 0), Arrival::Unexpected, "no stamp");
        assert_eq!(reception.record(&stamped(9, 0, 5, 0), 0), Arrival::New);
        let tally = reception.tally(&[2]);
        assert_eq!((tally.delivered, tally.lost, tally.unexpected, tally.received), (0, 2, 4, 4), "5 was never sent");
    }

    #[test]
    fn tallies_add_up() {
        let one = Tally { expected: 3, delivered: 2, lost: 1, duplicates: 1, reordered: 1, unexpected: 0, received: 3 };
        let mut all = Tally::default();
        all += one;
        all += one;
        assert_eq!(
            all,
            Tally { expected: 6, delivered: 4, lost: 2, duplicates: 2, reordered: 2, unexpected: 0, received: 6 }
        );
        assert_eq!(Tally::default().delivered_percent(), 100.0);
    }

    #[test]
    fn latencies_are_microseconds_from_the_stamp_to_arrival() {
        let mut reception = Reception::new(1, &[0]);
        // 1..=1000 µs, sent at 5 ms and received at 5 ms + n µs.
        for n in 1..=1000u64 {
            reception.record(&stamped(1, 0, n, 5_000_000), 5_000_000 + n * 1_000);
        }
        reception.record(&stamped(1, 0, 1, 0), 999_000_000); // a duplicate: not a latency
        let percentiles = Percentiles::of(reception.latency()).unwrap();
        assert_eq!((percentiles.count, percentiles.min, percentiles.max), (1000, 1, 1000));
        assert_eq!((percentiles.p50, percentiles.p90, percentiles.p99, percentiles.p999), (500, 900, 990, 999));
        assert!((percentiles.mean - 500.5).abs() < 0.5);
        assert_eq!(reception.last_new_at(), Some(6_000_000));
        assert_eq!(Percentiles::of(&latency_histogram()), None);
    }
}
