//! What the model found about MQTT itself, kept as executable evidence.
//!
//! With 5.0 session expiry, a persistent session can expire while its client is away. The
//! client reconnects with Clean Start=0; the broker has no session, creates a new one and
//! answers Session Present=0, but a cut loses that CONNACK. The client still holds its old
//! state; on its next connection the broker resumes the *new* session (Session Present=1), and
//! the client resends a QoS 2 PUBLISH the old session had already received: the broker has no
//! record of its packet id and delivers the message a second time. Nothing in MQTT lets either
//! side tell the two sessions apart, so the exactly-once properties exempt runs where this
//! happened (`Ghost::diverged`); 3.1.1 has no expiry and cannot reach it.

mod common;

use common::config;
use stateright::{Checker, Model, Property};
use verimqtt_model::SessionKind::Persistent;
use verimqtt_model::state::State;
use verimqtt_model::step::Action;
use verimqtt_model::suite::{with_cuts, with_expiry};
use verimqtt_model::{Config, MqttModel, Qos, Version};

/// The MQTT model with one question asked of it instead of the catalogue.
struct StaleResume(MqttModel);

impl Model for StaleResume {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        self.0.init_states()
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.0.actions(state, actions)
    }

    fn next_state(&self, state: &State, action: Action) -> Option<State> {
        self.0.next_state(state, action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::sometimes("qos2 duplicated after a stale resume", duplicated_after_stale_resume)]
    }
}

fn duplicated_after_stale_resume(model: &StaleResume, state: &State) -> bool {
    let qos2 = |n: u8| model.0.config.qos(n) == Qos::ExactlyOnce;
    state.ghost.diverged && state.ghost.duplicated.iter().any(|dups| dups.iter().any(qos2))
}

fn stale_resume_duplicates_qos2(config: Config) -> bool {
    let checker = StaleResume(MqttModel::new(config)).checker().threads(2).spawn_bfs().join();
    checker.discovery("qos2 duplicated after a stale resume").is_some()
}

#[test]
fn a_lost_connack_after_session_expiry_lets_qos2_be_delivered_twice() {
    let expiring = with_expiry(with_cuts(config(Version::V5_0, 2, &[1, 2, 0], &[Persistent]), 2), 2);
    assert!(stale_resume_duplicates_qos2(expiring));
}

#[test]
fn without_session_expiry_a_stale_resume_cannot_happen() {
    let never_expiring = with_cuts(config(Version::V3_1_1, 2, &[1, 2, 0], &[Persistent]), 2);
    assert!(!stale_resume_duplicates_qos2(never_expiring));
}
