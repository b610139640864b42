//! Wills beyond QoS 0 without delay: 5.0's Will Delay Interval, and wills at QoS 1.
//!
//! A will at QoS 1 is routed like a QoS 1 message: queued in the session of every subscriber,
//! owed to it and delivered with PUBACK, resent on resume. It is not judged for order (MQTT
//! orders the messages a client sent, and the broker publishes the will) nor as a duplicate.
//!
//! When the broker closes a connection without DISCONNECT, it publishes the will at once,
//! unless (5.0) the will has a delay and the session outlives the connection: then the will
//! waits, and is published once the delay passes or the session ends, whichever comes first
//! [MQTT-3.1.2-8] (5.0), and never if a new connection resumes the session before the delay
//! has passed [MQTT-3.1.3-9]. A session that ends with its connection ends the wait at once.
//!
//! The ghost keeps its own clock of each waiting will ([`WillWatch`]), from the close and the
//! session's life by the specification's rules, so `will_iff_abnormal` judges the broker's
//! timing and cancellation, not its bookkeeping.

use crate::bugs::Bug;
use crate::config::Config;
use crate::ghost::Breach;
use crate::network::BrokerEnd;
use crate::packet::Message;
use crate::state::State;
use crate::step::Step;

/// What the store keeps of a persistent session's will (see [`crate::store`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoredWill {
    /// The will of the session's open connection: a restart ends that connection without
    /// DISCONNECT, so the restarted broker publishes it after its delay [MQTT-3.1.2-8].
    OfConnection,
    /// A will waiting out its delay, this many ticks so far (its clock runs on through a
    /// restart, as verimqtt's counts by the wall clock).
    Waiting(u8),
}

impl StoredWill {
    /// The record of a persistent session's will: `waiting` for so many ticks, else held by
    /// an open connection or not at all.
    pub fn of(waiting: Option<u8>, connected_with_will: bool) -> Option<StoredWill> {
        waiting.map(StoredWill::Waiting).or(connected_with_will.then_some(StoredWill::OfConnection))
    }

    /// How long the will has waited when the broker starts again from this record.
    pub fn waited(self) -> u8 {
        match self {
            StoredWill::OfConnection => 0,
            StoredWill::Waiting(age) => age,
        }
    }
}

/// The broker holds an open connection of `client` whose CONNECT carried a will.
pub fn connected_with_will(state: &State, client: usize) -> bool {
    state.links[client].iter().any(|l| matches!(l.broker, BrokerEnd::Open { will: true, .. }))
}

/// The will the store keeps for `client` now: none for a session that ends with its
/// connection.
pub fn will_to_store(config: &Config, state: &State, client: usize) -> Option<StoredWill> {
    if !config.session_outlives_connection(client) {
        return None;
    }
    StoredWill::of(state.pending_wills[client], connected_with_will(state, client))
}

/// The ghost's account of a client's will after an abnormal close.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WillWatch {
    /// No will waits.
    #[default]
    Idle,
    /// A will waits, for this many ticks so far.
    Waiting(u8),
    /// The session ended while the will waited: it is due now.
    Due,
}

impl WillWatch {
    /// The will must be published now (the delay `delay` passed, or the session ended).
    fn due(self, delay: u8) -> bool {
        match self {
            WillWatch::Idle => false,
            WillWatch::Waiting(age) => age >= delay,
            WillWatch::Due => true,
        }
    }
}

/// The will of `client` has waited out its delay.
pub fn delayed_will_due(config: &Config, state: &State, client: usize) -> bool {
    matches!((state.pending_wills[client], config.will_delay_ticks()), (Some(age), Some(delay)) if age >= delay)
}

impl Step<'_> {
    /// The broker closed `c`'s connection other than by DISCONNECT 0x00 and holds its will: published
    /// now, or kept waiting out its delay.
    pub(crate) fn will_on_abnormal_close(&mut self, c: usize) {
        if self.config.will_delay_ticks().is_some() && self.config.session_outlives_connection(c) {
            self.state.pending_wills[c] = Some(0);
            self.state.ghost.will_watch[c] = WillWatch::Waiting(0);
            self.note(|| format!("the will of c{c} waits out its delay"));
        } else {
            self.publish_will(c);
        }
    }

    fn publish_will(&mut self, c: usize) {
        self.note(|| format!("broker publishes the will of c{c}"));
        let owner = if self.config.has(Bug::WillOfAnotherClient) { (c + 1) % self.config.clients } else { c };
        self.route(Message::Will(owner as u8));
    }

    /// A waiting will goes out: its delay passed, or its session ended.
    pub(crate) fn publish_pending_will(&mut self, c: usize) {
        if self.state.pending_wills[c].take().is_none() {
            return;
        }
        let delay = self.config.will_delay_ticks().unwrap_or(0);
        if self.state.ghost.will_watch[c] != WillWatch::Idle {
            self.state.ghost.wills_publishable.insert(c as u8);
        }
        if !self.state.ghost.will_watch[c].due(delay) {
            self.state.ghost.breach(Breach::WillMismatch);
        }
        self.state.ghost.will_watch[c] = WillWatch::Idle;
        self.publish_will(c);
    }

    /// A new connection for `c` arrives. By the specification's account of the session
    /// (`resumes`: Clean Start=0 and the session alive) a waiting will is cancelled
    /// [MQTT-3.1.3-9]; the broker cancels its own if it resumes the session.
    pub(crate) fn will_on_new_connection(&mut self, c: usize, resumes: bool, session_present: bool) {
        if resumes && matches!(self.state.ghost.will_watch[c], WillWatch::Waiting(_)) {
            self.state.ghost.will_watch[c] = WillWatch::Idle;
        }
        if session_present && !self.config.has(Bug::WillNotCancelledOnResume) {
            self.state.pending_wills[c] = None;
        }
    }

    /// Time passes for waiting wills; a will whose delay had passed without its publication
    /// is late (without a delay, a will restored after a restart is due at once).
    pub(crate) fn will_tick(&mut self) {
        let delay = self.config.will_delay_ticks().unwrap_or(0);
        if self.state.ghost.will_watch.iter().any(|watch| watch.due(delay)) {
            self.state.ghost.breach(Breach::WillMismatch);
        }
        for age in self.state.pending_wills.iter_mut().flatten() {
            *age = (*age + 1).min(delay);
        }
        for watch in &mut self.state.ghost.will_watch {
            if let WillWatch::Waiting(age) = watch {
                *age = (*age + 1).min(delay);
            }
        }
        let stored = self.state.store.wills.iter_mut().chain(&mut self.state.ghost.durability.wills_committed);
        for will in stored.flatten() {
            if let StoredWill::Waiting(age) = will {
                *age = (*age + 1).min(delay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_will_is_owed_under_an_id_past_the_messages_on_the_will_topic_at_its_grant() {
        use crate::config::{Qos, Version};
        use crate::routing::{Filter, FilterQos, WILL_TOPIC};
        let mut config = Config { will_qos: Qos::AtLeastOnce, ..Config::new(Version::V5_0, 2, 2) };
        config.topics = vec![1];
        assert_eq!(config.will_message(1), 3);
        assert_eq!((config.will_of(3), config.will_of(1)), (Some(1), None));
        assert_eq!((config.qos(3), config.topic(3)), (Qos::AtLeastOnce, WILL_TOPIC));
        assert_eq!(config.copy_qos(1, 3), Some(Qos::AtLeastOnce));
        config.subscriptions = vec![vec![FilterQos::new(Filter::Wildcard, Qos::AtMostOnce)]];
        assert_eq!(config.copy_qos(1, 3), Some(Qos::AtMostOnce), "downgraded to the grant");
    }

    #[test]
    fn the_store_keeps_a_waiting_will_with_its_age_else_the_will_of_the_connection() {
        assert_eq!(StoredWill::of(Some(1), false), Some(StoredWill::Waiting(1)));
        assert_eq!(StoredWill::of(None, true), Some(StoredWill::OfConnection));
        assert_eq!(StoredWill::of(None, false), None);
        assert_eq!(StoredWill::Waiting(1).waited(), 1);
        assert_eq!(StoredWill::OfConnection.waited(), 0, "its delay counts from the restart");
    }

    #[test]
    fn a_waiting_will_is_due_once_its_delay_passed_or_its_session_ended() {
        assert!(!WillWatch::Idle.due(0));
        assert!(!WillWatch::Waiting(1).due(2));
        assert!(WillWatch::Waiting(2).due(2));
        assert!(WillWatch::Due.due(2));
    }
}
