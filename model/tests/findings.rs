//! What the model found about MQTT itself, kept as executable evidence.
//!
//! A session can end on the broker while its client is away (5.0 session expiry; a 3.1.1
//! server may also discard a session, which is not modelled). The client reconnects with
//! Clean Start=0; the broker has no session, creates a new one and answers Session Present=0,
//! but a cut loses that CONNACK. If the client still holds its old state, its next connection
//! resumes the broker's *new* session (Session Present=1) and it resends a QoS 2 PUBLISH the
//! old session had already received: the broker has no record of its packet id and delivers
//! the message a second time. Nothing in MQTT lets either side tell the two sessions apart.
//!
//! It needs a client that keeps its state past the broker's expiry. verimqtt's client restarted
//! its expiry clock on every closed connection, including one whose CONNACK never came
//! ([`Bug::ClientExpiryFromEveryClose`]); with the conservative rule (the clock runs from the
//! close of the last connection that got a CONNACK) the duplicate is unreachable.

mod common;

use common::{VERSIONS, check_exhaustively, config};
use stateright::{Checker, Model, Property};
use verimqtt_model::SessionKind::Persistent;
use verimqtt_model::ghost::Breach;
use verimqtt_model::state::State;
use verimqtt_model::step::Action;
use verimqtt_model::suite::{with_cuts, with_expiry, with_restarts};
use verimqtt_model::will::{StoredWill, connected_with_will};
use verimqtt_model::{Bug, Config, MqttModel, Qos, Version};

/// The MQTT model with one question asked of it instead of the catalogue: can a state
/// satisfying `condition` be reached?
struct Question {
    model: MqttModel,
    condition: fn(&MqttModel, &State) -> bool,
}

impl Model for Question {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        self.model.init_states()
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.model.actions(state, actions)
    }

    fn next_state(&self, state: &State, action: Action) -> Option<State> {
        self.model.next_state(state, action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::sometimes("reached", |q: &Question, s: &State| (q.condition)(&q.model, s))]
    }
}

fn reachable(config: Config, condition: fn(&MqttModel, &State) -> bool) -> bool {
    let question = Question { model: MqttModel::new(config), condition };
    question.checker().threads(2).spawn_bfs().join().discovery("reached").is_some()
}

fn duplicated_after_stale_resume(model: &MqttModel, state: &State) -> bool {
    let qos2 = |n: u8| model.config.qos(n) == Qos::ExactlyOnce;
    state.ghost.diverged && state.ghost.duplicated.iter().any(|dups| dups.iter().any(qos2))
}

fn stale_resume_duplicates_qos2(config: Config) -> bool {
    reachable(config, duplicated_after_stale_resume)
}

fn expiring() -> Config {
    with_expiry(with_cuts(config(Version::V5_0, 2, &[2, 1], &[Persistent]), 3), 1)
}

#[test]
fn a_client_that_restarts_its_expiry_clock_on_every_close_lets_qos2_be_delivered_twice() {
    let mut config = expiring();
    config.bug = Some(Bug::ClientExpiryFromEveryClose);
    assert!(stale_resume_duplicates_qos2(config));
}

#[test]
fn with_the_conservative_expiry_clock_the_duplicate_is_unreachable() {
    assert!(!stale_resume_duplicates_qos2(expiring()));
}

#[test]
fn without_session_expiry_a_stale_resume_cannot_happen() {
    let never_expiring = with_cuts(config(Version::V3_1_1, 2, &[1, 2, 0], &[Persistent]), 2);
    assert!(!stale_resume_duplicates_qos2(never_expiring));
}

/// On a network that holds packets, the conservative clock is not enough in general: the
/// client cannot know when the broker closed its end. One client, one QoS 2 message; 1.3 M
/// unique states, so it runs on demand:
/// `cargo test --release -p verimqtt-model --test findings -- --ignored`.
#[test]
#[ignore]
fn on_a_slow_network_with_the_conservative_clock() {
    let mut config = with_expiry(with_cuts(config(Version::V5_0, 1, &[2], &[Persistent]), 1), 1);
    config.slow_network = true;
    config.paced_application = true;
    config.reported_cuts = true;
    config.connack_timeout = Some(2);
    config.broker_connect_timeout = Some(2);
    eprintln!("duplicate reachable: {}", stale_resume_duplicates_qos2(config));
}

/// A client that keeps one PINGREQ outstanding and waits 1.5 x keep alive for its PINGRESP (the
/// model's default, and verimqtt's client) sends nothing while it waits, so a whole keep alive
/// can pass without a packet from it: the strict duty of [MQTT-3.1.2-23] (3.1.1) /
/// [MQTT-3.1.2-20] (5.0) is missed by up to half a keep alive. A client that gives up within one
/// keep alive meets it (`keep_alive_duty`, checked in `cargo test`).
#[test]
fn waiting_longer_than_a_keep_alive_for_pingresp_misses_the_keep_alive_duty() {
    let missed = |_: &MqttModel, s: &State| s.ghost.breached(Breach::KeepAliveDutyMissed);
    // A subscriber receiving QoS 0 messages (which it does not answer) from a publisher that
    // takes its time: what it receives does not count as sending.
    let mut patient = with_cuts(config(Version::V3_1_1, 2, &[0, 0], &[Persistent]), 1);
    patient.paced_application = true;
    assert!(patient.abort_after > patient.keep_alive);
    assert!(reachable(patient.clone(), missed));
    let prompt = Config { abort_after: patient.keep_alive, ..patient };
    assert!(!reachable(prompt, missed));
}

/// With a durable store the last commit is what counts for wills too. A client sends
/// DISCONNECT, so its will must not be published [MQTT-3.1.2-10]; the broker reads it and
/// drops the will, but the broker dies before its store commits that change: it starts again
/// from a store that still holds the will of a connection that was open, and publishes it.
/// The client cannot tell this from a DISCONNECT lost on its way, and no store can close the
/// gap between reading a packet and making its effect durable, so the ghost allows it (see
/// `src/restart.rs`). verimqtt's store keeps the will of an open connection the same way.
fn will_of_a_disconnected_client_published_by_a_restart(model: &MqttModel, state: &State) -> bool {
    let publisher = 0;
    let disconnected_before_the_commit = state.store.wills[publisher] == Some(StoredWill::OfConnection)
        && !connected_with_will(state, publisher)
        && state.pending_wills[publisher].is_none();
    let will = model.config.will_message(publisher as u8);
    disconnected_before_the_commit
        && state.restarts_left > 0
        && model.next_state(state, Action::Restart).is_some_and(|after| after.ghost.owed[1].contains(will))
}

#[test]
fn a_disconnect_not_yet_committed_is_lost_with_a_restart_and_the_will_published() {
    for version in VERSIONS {
        // No cuts: the publisher's connection can end only by its DISCONNECT or the restart.
        let mut config = with_restarts(with_cuts(config(version, 2, &[1], &[Persistent]), 0), 1, true);
        config.graceful_disconnect = true;
        config.will_qos = Qos::AtLeastOnce;
        assert!(reachable(config.clone(), will_of_a_disconnected_client_published_by_a_restart));
        let outcome = check_exhaustively(&config);
        assert!(outcome.verdicts.iter().all(|verdict| verdict.passed()), "{config}: the ghost allows it");
    }
}
