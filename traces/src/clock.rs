//! A clock that only moves when told to.
//!
//! The state machines take `Instant`s; a simulated run hands them instants derived from one
//! real origin plus a simulated offset, so a run is the same every time and never sleeps,
//! and a trace records times as milliseconds since the start of the run.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SimulatedClock {
    origin: Instant,
    elapsed: Duration,
}

impl SimulatedClock {
    /// A clock at the start of a run.
    pub fn new() -> Self {
        SimulatedClock { origin: Instant::now(), elapsed: Duration::ZERO }
    }

    /// The instant to hand to a state machine now.
    pub fn now(&self) -> Instant {
        self.origin + self.elapsed
    }

    /// Simulated time since the start of the run.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Moves time forward by `step`.
    pub fn advance(&mut self, step: Duration) {
        self.elapsed += step;
    }

    /// Moves time forward to `deadline` if it is later than now (a state machine's timeout
    /// may already have passed); returns whether time moved.
    pub fn advance_to(&mut self, deadline: Instant) -> bool {
        match deadline.checked_duration_since(self.now()) {
            Some(step) if !step.is_zero() => {
                self.advance(step);
                true
            }
            _ => false,
        }
    }

    /// The time of `instant` in a trace: milliseconds since the start of the run, or `None`
    /// for an instant before it.
    pub fn millis_since_start(&self, instant: Instant) -> Option<u64> {
        instant.checked_duration_since(self.origin).map(|since| since.as_millis() as u64)
    }
}

impl Default for SimulatedClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_moves_only_when_advanced() {
        let mut clock = SimulatedClock::new();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - start, Duration::from_millis(1500));
        assert_eq!(clock.millis_since_start(clock.now()), Some(1500));
    }

    #[test]
    fn advancing_to_a_past_deadline_leaves_time_alone() {
        let mut clock = SimulatedClock::new();
        clock.advance(Duration::from_secs(10));
        let past = clock.now() - Duration::from_secs(1);
        assert!(!clock.advance_to(past));
        assert_eq!(clock.elapsed(), Duration::from_secs(10));
        let future = clock.now() + Duration::from_millis(250);
        assert!(clock.advance_to(future));
        assert_eq!(clock.now(), future);
    }

    #[test]
    fn instants_before_the_run_have_no_trace_time() {
        let clock = SimulatedClock::new();
        let before =
            clock.now().checked_sub(Duration::from_millis(1)).expect("the machine has been up for a millisecond");
        assert_eq!(clock.millis_since_start(before), None);
    }
}
