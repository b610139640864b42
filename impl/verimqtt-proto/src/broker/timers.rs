//! The broker's deadlines, so that `poll_timeout` is the earliest of them without a scan.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::ConnId;
use super::session::SessionId;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// A connection that has not sent CONNECT yet.
    Connect(ConnId),
    /// A connection's keep alive. The deadline is checked lazily: receiving a packet only
    /// records the time, and an expired timer whose connection heard something since is set
    /// again instead of firing, so a busy connection costs no timer work per packet.
    KeepAlive(ConnId),
    /// The delayed will of a session whose client is offline.
    Will(SessionId),
    /// The end of a session whose client is offline.
    SessionExpiry(SessionId),
    /// A connected session congested for the slow-consumer timeout.
    SlowConsumer(SessionId),
}

/// At most one deadline per timer; setting it again moves it.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    by_deadline: BTreeSet<(Instant, Timer)>,
    deadlines: HashMap<Timer, Instant>,
}

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, deadline: Instant) {
        if let Some(previous) = self.deadlines.insert(timer, deadline) {
            self.by_deadline.remove(&(previous, timer));
        }
        self.by_deadline.insert((deadline, timer));
    }

    pub(crate) fn cancel(&mut self, timer: Timer) {
        if let Some(previous) = self.deadlines.remove(&timer) {
            self.by_deadline.remove(&(previous, timer));
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|&(deadline, _)| deadline)
    }

    /// Removes and returns a timer whose deadline is at or before `now`, earliest first.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let &(deadline, timer) = self.by_deadline.first()?;
        if deadline > now {
            return None;
        }
        self.by_deadline.remove(&(deadline, timer));
        self.deadlines.remove(&timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timers_fire_in_deadline_order_and_not_before() {
        let start = Instant::now();
        let mut timers = Timers::default();
        timers.set(Timer::KeepAlive(ConnId(1)), start + Duration::from_secs(3));
        timers.set(Timer::Connect(ConnId(2)), start + Duration::from_secs(1));
        assert_eq!(timers.next_deadline(), Some(start + Duration::from_secs(1)));
        assert_eq!(timers.pop_expired(start), None);
        let later = start + Duration::from_secs(5);
        assert_eq!(timers.pop_expired(later), Some(Timer::Connect(ConnId(2))));
        assert_eq!(timers.pop_expired(later), Some(Timer::KeepAlive(ConnId(1))));
        assert_eq!(timers.pop_expired(later), None);
    }

    #[test]
    fn setting_a_timer_again_moves_it_and_cancel_removes_it() {
        let start = Instant::now();
        let mut timers = Timers::default();
        let timer = Timer::KeepAlive(ConnId(1));
        timers.set(timer, start + Duration::from_secs(1));
        timers.set(timer, start + Duration::from_secs(9));
        assert_eq!(timers.next_deadline(), Some(start + Duration::from_secs(9)));
        timers.cancel(timer);
        assert_eq!(timers.next_deadline(), None);
    }
}
