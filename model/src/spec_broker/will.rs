//! The spec broker's wills (5.0 Will Delay Interval included): when a will is published, as
//! an interval with the broker's tolerance.
//!
//! A connection closed other than by DISCONNECT 0x00 publishes its will [MQTT-3.1.2-8], at
//! once unless (5.0) the will has a delay and the session outlives the connection: then the
//! will waits in the session and is published once the delay passes or the session ends,
//! whichever is first, and never if a new connection resumes the session first
//! [MQTT-3.1.3-9]. The publication is a broker-internal step: it may happen before any event
//! from the due time to the due time plus the tolerance, so each event in between branches.

use super::{SpecBroker, SpecState};
use crate::packet::Message;

impl SpecBroker<'_> {
    /// The broker closed connection `taken_over` or not of `c`, whose will was not deleted.
    /// A connection taken over by one that resumed the session has its waiting will
    /// cancelled [MQTT-3.1.3-9]; one taken over by a new session ended the old one, so its
    /// will goes at once.
    pub(super) fn will_on_close(&self, next: &mut SpecState, c: usize, taken_over: Option<bool>) {
        let delayed = self.config.will_delay_ticks().is_some();
        match taken_over {
            Some(true) if delayed => {}
            None if delayed && next.sessions[c].as_ref().is_some_and(|s| s.persistent) => {
                if let Some(session) = next.sessions[c].as_mut() {
                    session.waiting_will = Some(0);
                }
            }
            _ => self.route(next, Message::Will(c as u8), c),
        }
    }

    /// A CONNECT of `c` finds its old session ending (Clean Start, expiry): a will waiting in
    /// it goes now, as the session's end comes before its delay.
    pub(super) fn will_on_session_end(&self, next: &mut SpecState, c: usize, waiting: Option<u8>) {
        if waiting.is_some() {
            self.route(next, Message::Will(c as u8), c);
        }
    }

    /// The tick a waiting will of `c` is due at: its delay, or the session's expiry if that
    /// comes first (whether the session ends with its publication).
    fn due(&self) -> Option<(u8, bool)> {
        let delay = self.config.will_delay_ticks()?;
        Some(match self.config.expiry_ticks() {
            Some(expiry) if expiry < delay => (expiry, true),
            _ => (delay, false),
        })
    }

    /// Every state the broker's hidden publication of due wills can lead to from `state`,
    /// `state` itself included: a due will may go out before any event, as the broker's
    /// timer fires whenever it does within its window.
    pub(super) fn publish_due_wills(&self, state: SpecState) -> Vec<SpecState> {
        let Some((due, session_ends)) = self.due() else {
            return vec![state];
        };
        let mut states = vec![state];
        for c in 0..states[0].sessions.len() {
            let mut next = Vec::new();
            for state in states {
                let waited = state.sessions[c].as_ref().and_then(|s| s.waiting_will);
                if waited.is_some_and(|age| age >= due) {
                    let mut published = state.clone();
                    match published.sessions[c].as_mut() {
                        Some(_) if session_ends => published.sessions[c] = None,
                        Some(session) => session.waiting_will = None,
                        None => {}
                    }
                    self.route(&mut published, Message::Will(c as u8), c);
                    next.push(published);
                }
                next.push(state);
            }
            states = next;
        }
        states
    }

    /// A tick passes for the waiting wills: none may still wait at its due time plus the
    /// tolerance.
    pub(super) fn age_wills(&self, mut state: SpecState) -> Option<SpecState> {
        let Some((due, _)) = self.due() else {
            return Some(state);
        };
        for age in state.sessions.iter_mut().flatten().filter_map(|s| s.waiting_will.as_mut()) {
            if *age >= due.saturating_add(self.tolerance) {
                return None;
            }
            *age += 1;
        }
        Some(state)
    }
}
