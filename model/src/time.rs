//! Discrete time.
//!
//! There is no global clock in the state, only the counters timers need: per client its idle
//! time and its silence (time since it last received anything), per broker connection its
//! silence, per offline session (5.0) its age on each side. Each saturates just past the value where its timer fires, so time
//! adds finitely many states. A tick happens only when nothing urgent is possible (see
//! [`crate::step::Action::is_urgent`]).

use crate::client::Status;
use crate::ghost::Breach;
use crate::network::BrokerEnd;
use crate::step::Step;

impl Step<'_> {
    pub(crate) fn tick(&mut self) {
        let config = self.config;
        // [MQTT-3.1.2-23] (3.1.1) / [MQTT-3.1.2-20] (5.0): a connected client sends something
        // within each keep alive, so no tick may pass once it has been idle for one.
        let duty_missed = self
            .state
            .clients
            .iter()
            .any(|client| client.status == Status::Connected && client.idle >= config.keep_alive);
        if duty_missed {
            self.state.ghost.breach(Breach::KeepAliveDutyMissed);
        }
        for client in &mut self.state.clients {
            if client.status != Status::Offline {
                client.idle = (client.idle + 1).min(config.keep_alive);
                client.silence = (client.silence + 1).min(config.client_silence_cap());
            }
            if let (Some(age), Some(expiry)) = (&mut client.expiry_age, config.expiry_ticks()) {
                *age = (*age + 1).min(expiry);
            }
        }
        for link in self.state.links.iter_mut().flatten() {
            match &mut link.broker {
                BrokerEnd::Open { silence, .. } => *silence = (*silence + 1).min(config.silence_cap()),
                BrokerEnd::AwaitingConnect { waited } => {
                    *waited = (*waited + 1).min(config.broker_connect_timeout.unwrap_or(0));
                }
                BrokerEnd::Closed => {}
            }
        }
        if let Some(expiry) = config.expiry_ticks() {
            // The store's copy of an offline session ages too: verimqtt's store keeps when the
            // session went offline, and its expiry counts by the wall clock.
            let sessions = self.state.sessions.iter_mut().chain(&mut self.state.store.sessions);
            for session in sessions.flatten() {
                if let Some(offline) = &mut session.offline_ticks {
                    *offline = (*offline + 1).min(expiry);
                }
            }
        }
        self.will_tick();
        if let Some(bound) = config.bounded_response {
            self.state.ghost.calm = (self.state.ghost.calm + 1).min(bound);
        }
        self.note(|| "one tick passes".to_string());
    }
}
