//! The stateright [`Model`]: which actions are possible, what they lead to, what must hold.
//!
//! It is a hand-written `Model` rather than an actor system: stateright 0.31's actor networks
//! cannot cut a connection (losing what is in flight in both directions) and their timers carry
//! no time, while MQTT's sessions, keep alive and wills are all about exactly that.

use crate::bounds::{Bounds, WITHIN_BOUNDS};
use crate::broker::{connect_timeout_due, keep_alive_close_due, session_expiry_due};
use crate::client::{
    Status, abort_due, application_can_act, client_expiry_due, ping_due, subscription_wanted, unsubscription_wanted,
};
use crate::config::{Config, Qos};
use crate::hostile::hostile_actions;
use crate::properties::{CATALOGUE, Expect};
use crate::quota::lands_beyond_quota;
use crate::state::State;
use crate::step::{Action, Applied, Record, Step};
use crate::store::commit_due;
use crate::symmetry::Symmetry;
use crate::will::delayed_will_due;
use stateright::{Model, Property};

#[derive(Clone, Debug)]
pub struct MqttModel {
    pub config: Config,
    /// Reaching one is a modelling error (see [`crate::bounds`]).
    pub bounds: Bounds,
    /// The states carry the configuration's [`Symmetry`], for the checker's symmetry
    /// reduction.
    pub symmetric: bool,
}

impl MqttModel {
    pub fn new(config: Config) -> MqttModel {
        MqttModel { bounds: Bounds::for_config(&config), config, symmetric: false }
    }

    pub fn with_bounds(self, bounds: Bounds) -> MqttModel {
        MqttModel { bounds, ..self }
    }

    /// The model whose states say which clients are interchangeable (see [`crate::symmetry`]).
    pub fn with_symmetry(self) -> MqttModel {
        MqttModel { symmetric: true, ..self }
    }

    /// The state `action` leads to, with a narration of the step.
    pub fn narrated_step(&self, state: &State, action: Action) -> (State, Vec<String>) {
        let applied = Step::new(&self.config, state.clone(), Record::Notes).apply(action);
        (applied.state, applied.notes)
    }

    /// The state `action` leads to, with what an observer of the real system would see happen
    /// (see [`crate::observe`]).
    pub fn observed_step(&self, state: &State, action: Action) -> Applied {
        Step::new(&self.config, state.clone(), Record::Observations).apply(action)
    }

    /// Faults have stopped mattering and the system is at rest: every client is connected over
    /// a working connection, nothing is in transit or waits for the store, and nothing can
    /// happen but time passing, keep alive pings, restarts and further optional events (see
    /// [`Action::is_optional`]).
    pub fn is_quiescent(&self, state: &State) -> bool {
        let all_connected = (0..self.config.clients).all(|c| {
            state.clients[c].status == Status::Connected
                && state.links[c].len() == 1
                && state.links[c][0].broker_open()
                && !state.links[c][0].cut
        });
        if !all_connected {
            return false;
        }
        let mut actions = Vec::new();
        self.actions(state, &mut actions);
        actions.iter().all(|a| a.is_optional() || matches!(a, Action::Tick | Action::Ping(_) | Action::Restart))
    }
}

impl Model for MqttModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let mut state = State::initial(&self.config);
        if self.symmetric {
            state.symmetry = Symmetry::of(&self.config);
        }
        vec![state]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        let config = &self.config;
        for (client, links) in state.links.iter().enumerate() {
            for (link, l) in links.iter().enumerate() {
                if !l.to_broker.is_empty() {
                    actions.push(Action::BrokerReceives { client, link });
                }
                if !l.to_client.is_empty() {
                    actions.push(Action::ClientReceives { client, link });
                }
                if keep_alive_close_due(config, state, client, link) {
                    actions.push(Action::KeepAliveClose { client, link });
                }
                if connect_timeout_due(config, state, client, link) {
                    actions.push(Action::ConnectTimeout { client, link });
                }
            }
        }
        for c in 0..self.config.clients {
            if subscription_wanted(config, state, c) {
                actions.push(Action::Subscribe(c));
            }
            if unsubscription_wanted(config, state, c) {
                actions.push(Action::Unsubscribe(c));
            }
            if application_can_act(config, state, c) {
                actions.push(Action::Application(c));
            }
            if ping_due(config, state, c) {
                actions.push(Action::Ping(c));
            }
            if abort_due(config, state, c) {
                actions.push(Action::Abort(c));
            }
            if session_expiry_due(config, state, c) {
                actions.push(Action::ExpireSession(c));
            }
            if client_expiry_due(config, state, c) {
                actions.push(Action::ClientExpiresSession(c));
            }
            if delayed_will_due(config, state, c) {
                actions.push(Action::DelayedWill(c));
            }
        }
        if commit_due(config, state) {
            actions.push(Action::StoreCommit);
        }
        if state.disconnects_left > 0 {
            // A client may send DISCONNECT right after its CONNECT, before the CONNACK, as a
            // client may send any packet then (verimqtt's does).
            for client in (0..config.clients).filter(|&c| state.clients[c].status != Status::Offline) {
                actions.push(Action::Disconnect { client, with_will: false });
                if config.may_disconnect_with_will() {
                    actions.push(Action::Disconnect { client, with_will: true });
                }
            }
        }
        for c in 0..self.config.clients {
            // The client looks at its expiry clock before it connects, as verimqtt's does.
            if state.clients[c].status == Status::Offline && !client_expiry_due(config, state, c) {
                actions.push(Action::Connect(c));
            }
        }
        if state.cuts_left > 0 {
            for (client, links) in state.links.iter().enumerate() {
                for (link, l) in links.iter().enumerate() {
                    if l.cut {
                        continue;
                    }
                    actions.push(Action::Cut { client, link });
                    if config.reported_cuts && l.client_open {
                        for broker_told in [true, false] {
                            actions.push(Action::ReportedCut { client, link, broker_told });
                        }
                    }
                }
            }
        }
        if state.restarts_left > 0 {
            actions.push(Action::Restart);
        }
        if state.beyond_quota_left > 0 {
            for client in 0..config.clients {
                for qos in [Qos::AtLeastOnce, Qos::ExactlyOnce] {
                    if lands_beyond_quota(config, state, client, qos) {
                        actions.push(Action::PublishBeyondQuota { client, qos });
                    }
                }
            }
        }
        hostile_actions(config, state, actions);
        if !actions.iter().any(|action| action.is_urgent(config)) {
            actions.push(Action::Tick);
        }
    }

    fn next_state(&self, state: &State, action: Action) -> Option<State> {
        Some(Step::new(&self.config, state.clone(), Record::Nothing).apply(action).state)
    }

    fn format_action(&self, action: &Action) -> String {
        action.to_string()
    }

    fn format_step(&self, state: &State, action: Action) -> Option<String> {
        Some(self.narrated_step(state, action).1.join("; "))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let catalogue = CATALOGUE.iter().filter(|p| (p.applies)(&self.config)).map(|p| match p.expect {
            Expect::Always => Property::always(p.name, p.holds),
            Expect::Sometimes => Property::sometimes(p.name, p.holds),
        });
        catalogue.chain([Property::always(WITHIN_BOUNDS, |m: &MqttModel, s: &State| m.bounds.admit(s))]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Qos, Version};

    /// A run that never uses its optional DISCONNECT and UNSUBSCRIBE is still judged by
    /// `delivered_when_quiet`: its rest state counts as quiescent, though either is possible.
    #[test]
    fn an_unused_disconnect_or_unsubscribe_does_not_keep_a_run_from_quiescence() {
        let mut config = Config::new(Version::V5_0, 2, 1);
        config.messages = vec![Qos::ExactlyOnce];
        config.cuts = 0;
        config.disconnects = 1;
        config.unsubscribes = 1;
        let model = MqttModel::new(config);
        let optional = |a: &Action| matches!(a, Action::Tick | Action::Disconnect { .. } | Action::Unsubscribe(_));
        let mut state = State::initial(&model.config);
        for _ in 0..100 {
            let mut actions = Vec::new();
            model.actions(&state, &mut actions);
            let Some(&action) = actions.iter().find(|a| !optional(a)) else {
                break;
            };
            state = model.next_state(&state, action).expect("every action has a successor");
        }
        let mut actions = Vec::new();
        model.actions(&state, &mut actions);
        assert!(state.scripts_done(&model.config));
        assert!(actions.iter().any(|a| matches!(a, Action::Disconnect { .. })), "{actions:?}");
        assert!(actions.contains(&Action::Unsubscribe(1)), "{actions:?}");
        assert!(model.is_quiescent(&state));
    }
}
