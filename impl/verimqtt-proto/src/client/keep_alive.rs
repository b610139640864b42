//! Keep alive: when to ping a quiet server and when to give up on a silent one.
//!
//! Three clocks, in the manner of haka-mqtt: a PINGREQ goes out when nothing was *sent* for
//! the keep alive ([MQTT-3.1.2-23] in 3.1.1, [MQTT-3.1.2-20] in 5.0) or, optionally, when
//! nothing was *received* for the receive-idle ping period; the connection is abandoned when
//! nothing was received for the abort period, one and a half times the keep alive by default
//! as the server's own rule has it ([MQTT-3.1.2-24] in 3.1.1, [MQTT-3.1.2-22] in 5.0). At most
//! one PINGREQ is outstanding; its PINGRESP lets the next one go at once if it is already due.

use std::time::{Duration, Instant};

use super::options::IdlePeriod;

/// The periods in force on a connection whose keep alive is not 0.
#[derive(Debug, Clone, Copy)]
struct Periods {
    keep_alive: Duration,
    recv_idle_ping: Option<Duration>,
    recv_idle_abort: Option<Duration>,
}

/// What the keep alive asks for at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    Nothing,
    Ping,
    Abort,
}

/// The keep alive state of one connection. It watches traffic from the start but only runs
/// its timers once the CONNACK has settled the keep alive.
#[derive(Debug)]
pub(crate) struct KeepAlive {
    periods: Option<Periods>,
    last_sent: Instant,
    last_received: Instant,
    ping_outstanding: bool,
}

impl KeepAlive {
    pub(super) fn new(now: Instant) -> Self {
        KeepAlive { periods: None, last_sent: now, last_received: now, ping_outstanding: false }
    }

    /// Starts the timers for a keep alive of `seconds`; 0 leaves them all off.
    pub(super) fn start(&mut self, seconds: u16, recv_idle_ping: IdlePeriod, recv_idle_abort: IdlePeriod) {
        let keep_alive = Duration::from_secs(u64::from(seconds));
        self.periods = (seconds != 0).then(|| Periods {
            keep_alive,
            recv_idle_ping: recv_idle_ping.resolve(keep_alive),
            recv_idle_abort: recv_idle_abort.resolve(keep_alive),
        });
    }

    pub(super) fn on_sent(&mut self, now: Instant) {
        self.last_sent = now;
    }

    pub(super) fn on_received(&mut self, now: Instant) {
        self.last_received = now;
    }

    /// When the next PINGREQ is due: never while one is outstanding.
    fn ping_deadline(&self) -> Option<Instant> {
        let periods = self.periods.filter(|_| !self.ping_outstanding)?;
        let send_idle = self.last_sent.checked_add(periods.keep_alive);
        let recv_idle = periods.recv_idle_ping.and_then(|period| self.last_received.checked_add(period));
        earliest(send_idle, recv_idle)
    }

    fn abort_deadline(&self) -> Option<Instant> {
        let period = self.periods?.recv_idle_abort?;
        self.last_received.checked_add(period)
    }

    /// The next instant at which [`KeepAlive::due`] may ask for something.
    pub(super) fn deadline(&self) -> Option<Instant> {
        earliest(self.ping_deadline(), self.abort_deadline())
    }

    /// What is due at `now`. Asking for a ping counts it as outstanding.
    pub(super) fn due(&mut self, now: Instant) -> Due {
        if self.abort_deadline().is_some_and(|deadline| deadline <= now) {
            return Due::Abort;
        }
        if self.ping_deadline().is_some_and(|deadline| deadline <= now) {
            self.ping_outstanding = true;
            return Due::Ping;
        }
        Due::Nothing
    }

    /// A PINGRESP arrived; `false` if no PINGREQ was outstanding.
    pub(super) fn on_pingresp(&mut self) -> bool {
        std::mem::replace(&mut self.ping_outstanding, false)
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn started(seconds: u16, ping: IdlePeriod, abort: IdlePeriod) -> (Instant, KeepAlive) {
        let base = Instant::now();
        let mut keep_alive = KeepAlive::new(base);
        keep_alive.start(seconds, ping, abort);
        (base, keep_alive)
    }

    #[test]
    fn zero_keep_alive_has_no_deadline_at_all() {
        let (_, keep_alive) = started(0, IdlePeriod::Fixed(SECOND), IdlePeriod::Fixed(SECOND));
        assert_eq!(keep_alive.deadline(), None);
    }

    #[test]
    fn sending_postpones_the_ping_and_receiving_postpones_the_abort() {
        let (base, mut keep_alive) = started(10, IdlePeriod::Off, IdlePeriod::PercentOfKeepAlive(150));
        keep_alive.on_sent(base + 4 * SECOND);
        assert_eq!(keep_alive.deadline(), Some(base + 14 * SECOND));
        assert_eq!(keep_alive.due(base + 13 * SECOND), Due::Nothing);
        assert_eq!(keep_alive.due(base + 14 * SECOND), Due::Ping);
        // The ping is outstanding: only the abort is left, 15 s after the last receipt.
        assert_eq!(keep_alive.deadline(), Some(base + 15 * SECOND));
        keep_alive.on_received(base + 14 * SECOND);
        assert_eq!(keep_alive.deadline(), Some(base + 29 * SECOND));
    }

    #[test]
    fn receive_idle_ping_comes_before_the_send_idle_one_when_earlier() {
        let (base, mut keep_alive) = started(10, IdlePeriod::Fixed(3 * SECOND), IdlePeriod::Off);
        keep_alive.on_sent(base + 2 * SECOND);
        assert_eq!(keep_alive.deadline(), Some(base + 3 * SECOND));
    }

    #[test]
    fn abort_wins_over_a_ping_due_at_the_same_time() {
        let (base, mut keep_alive) = started(10, IdlePeriod::Off, IdlePeriod::Fixed(10 * SECOND));
        assert_eq!(keep_alive.due(base + 10 * SECOND), Due::Abort);
    }

    #[test]
    fn a_pingresp_without_a_ping_is_reported() {
        let (base, mut keep_alive) = started(10, IdlePeriod::Off, IdlePeriod::Off);
        assert!(!keep_alive.on_pingresp());
        assert_eq!(keep_alive.due(base + 10 * SECOND), Due::Ping);
        assert!(keep_alive.on_pingresp());
    }
}
