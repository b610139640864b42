//! Hostile clients: packets written on a client's connection that its state machine did not
//! send, as a broken or malicious client would (see [`Config::hostile_pubrecs`]). The client
//! itself neither knows nor answers for them: no monitor of the client's own packets sees them.
//!
//! A hostile PUBREC names an id no flight of the broker uses ([`Config::unknown_id`]); the
//! broker answers an accepted one with PUBREL (5.0: 0x92 Packet Identifier not found), which
//! the client completes with PUBCOMP (5.0: 0x92 too), and a refusing one (5.0, 0x80) with
//! nothing: a PUBREL answers only a PUBREC below 0x80 ([MQTT-4.3.3-4]).

use crate::config::{Config, Version};
use crate::observe::{LinkRef, Observation};
use crate::packet::Packet;
use crate::state::State;
use crate::step::{Action, Step};

/// The hostile actions possible in `state`: a client with a connection it uses may write a
/// PUBREC on it while the budget lasts.
pub fn hostile_actions(config: &Config, state: &State, actions: &mut Vec<Action>) {
    if state.hostile_pubrecs_left == 0 {
        return;
    }
    for client in (0..config.clients).filter(|&c| state.client_link(c).is_some()) {
        actions.push(Action::InjectPubRec { client, refused: false });
        if config.version == Version::V5_0 {
            actions.push(Action::InjectPubRec { client, refused: true });
        }
    }
}

impl Step<'_> {
    /// A hostile client writes a PUBREC for the unknown id behind what it wrote: lost like
    /// any packet on a cut connection or toward a closed broker end.
    pub(crate) fn inject_pubrec(&mut self, c: usize, refused: bool) {
        let Some(link) = self.state.client_link(c) else {
            return;
        };
        self.state.hostile_pubrecs_left -= 1;
        let id = self.config.unknown_id();
        let packet = if refused { Packet::PubRecRefused(id) } else { Packet::PubRec(id) };
        let reason = packet.success_code(self.config.version);
        self.state.links[c][link].send_to_broker(packet);
        let at = LinkRef { client: c, link };
        self.observe(|| Observation::Injected { link: at, packet, reason });
        self.note(|| format!("a hostile c{c} → broker: {packet}"));
    }
}
