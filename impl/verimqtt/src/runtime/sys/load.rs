//! The `$SYS/broker/load/...` values: rates per minute of a counter, averaged over 1, 5 and
//! 15 minutes with exponentially decaying weights, as mosquitto computes them (and as Unix
//! computes its load average). At each update the rate since the last one is folded in:
//!
//! `average = rate + e^(-elapsed / window) * (average - rate)`
//!
//! so a steady rate is reached exponentially, a third of the way short after one window.

use std::time::Duration;

/// The averaging windows and the name of each in the topic.
pub(super) const WINDOWS: [(&str, Duration); 3] =
    [("1min", Duration::from_secs(60)), ("5min", Duration::from_secs(5 * 60)), ("15min", Duration::from_secs(15 * 60))];

/// The three averages of one counter, and the counter's value when they were last updated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Load {
    last_total: u64,
    averages: [f64; WINDOWS.len()],
}

impl Load {
    /// Averages of 0, starting from the counter at `total`.
    pub(super) fn new(total: u64) -> Self {
        Load { last_total: total, averages: [0.0; WINDOWS.len()] }
    }

    /// Folds in the events since the last update (the counter is now at `total`), which took
    /// `elapsed`. Nothing changes over no time: a rate needs some.
    pub(super) fn update(&mut self, total: u64, elapsed: Duration) {
        if elapsed.is_zero() {
            return;
        }
        // A counter only grows; one restarted lower counts as no event, not a negative rate.
        let events = total.saturating_sub(self.last_total) as f64;
        self.last_total = total;
        let per_minute = events * 60.0 / elapsed.as_secs_f64();
        for (average, (_, window)) in self.averages.iter_mut().zip(WINDOWS) {
            let weight = (-elapsed.as_secs_f64() / window.as_secs_f64()).exp();
            *average = per_minute + weight * (*average - per_minute);
        }
    }

    /// The averages per minute, in the order of [`WINDOWS`].
    pub(super) fn averages(&self) -> [f64; WINDOWS.len()] {
        self.averages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-9
    }

    #[test]
    fn one_minute_at_a_steady_rate_takes_each_average_one_weight_towards_it() {
        let mut load = Load::new(1000);
        load.update(1000 + 600, MINUTE);
        let [one, five, fifteen] = load.averages();
        // 600 events in a minute: a rate of 600 per minute, reached by 1 - e^(-1/n).
        assert!(close(one, 600.0 * (1.0 - (-1.0f64).exp())), "{one}");
        assert!(close(five, 600.0 * (1.0 - (-1.0f64 / 5.0).exp())), "{five}");
        assert!(close(fifteen, 600.0 * (1.0 - (-1.0f64 / 15.0).exp())), "{fifteen}");
    }

    #[test]
    fn the_rate_is_per_minute_whatever_the_interval() {
        let (mut every_second, mut once) = (Load::new(0), Load::new(0));
        for second in 1..=60 {
            every_second.update(10 * second, Duration::from_secs(1));
        }
        once.update(600, MINUTE);
        for (split, whole) in every_second.averages().into_iter().zip(once.averages()) {
            assert!(close(split, whole), "{split} vs {whole}");
        }
    }

    #[test]
    fn a_steady_rate_is_approached_and_idleness_decays_it() {
        let mut load = Load::new(0);
        for minute in 1..=60 {
            load.update(120 * minute, MINUTE);
        }
        let [one, five, fifteen] = load.averages();
        assert!((one - 120.0).abs() < 1e-6 && (five - 120.0).abs() < 1e-3, "{one} {five}");
        // An hour is four 15-minute windows: 1 - e^(-4) of the way.
        assert!((fifteen - 120.0 * (1.0 - (-4.0f64).exp())).abs() < 1e-6, "{fifteen}");
        load.update(120 * 60, 5 * MINUTE);
        let [one, five, _] = load.averages();
        // Five idle minutes: one 5-minute window, the average down to e^(-1) of itself.
        assert!((five - 120.0 * (-1.0f64).exp()).abs() < 1e-3, "{five}");
        assert!(one < 1.0, "{one}");
    }

    #[test]
    fn no_time_changes_nothing_and_a_lower_total_counts_as_no_event() {
        let mut load = Load::new(5);
        load.update(50, Duration::ZERO);
        assert_eq!(load, Load::new(5));
        load.update(2, MINUTE);
        assert_eq!(load.averages(), [0.0; 3]);
    }
}
