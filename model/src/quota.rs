//! A hostile client that writes a QoS 1 or 2 PUBLISH beyond the broker's Receive Maximum
//! ([`Config::beyond_quota`]), and the broker's answer.
//!
//! A client must not have more QoS 1/2 PUBLISHes unanswered (no PUBACK, no PUBCOMP) than the
//! broker's Receive Maximum [MQTT-3.3.4-7]; a broker that receives more closes the connection
//! with DISCONNECT 0x93 Receive Maximum exceeded (5.0 section 3.3.4, not a numbered statement;
//! handled as section 4.13 says, where a server closes the connection on a Protocol Error with a
//! reason code of its own [MQTT-4.13.1-1]) and takes nothing of the PUBLISH. The model's clients never
//! go beyond it, nor do verimqtt's: the trace simulator writes such a PUBLISH on a client's
//! connection itself, which this hostile client stands for. Its message is none a publisher's
//! application hands over, so nobody is owed anything for it.
//!
//! What the broker counts is verimqtt's: the QoS 2 PUBLISHes read on the connection whose
//! PUBREL has not come (a QoS 1 one is answered as it is read); for a QoS 2 PUBLISH also the
//! session's ids awaiting PUBREL, whichever connection they came on, so that a client cannot
//! pile them up by reconnecting (a design choice: 5.0 section 4.9 starts the quota afresh on
//! each connection).
//!
//! The hostile client writes only a PUBLISH that reaches the broker beyond the quota whatever
//! happens before the broker reads it (or never reaches it): no PUBREL ahead of it frees a
//! place, and it counts on the session's ids only where no clean-start CONNECT ahead of it ends
//! the session and no session expires (the other way a session ends while its CONNECT
//! travels). A PUBLISH within the quota would be an ordinary one, of a message the model does
//! not have.

use crate::bits::Bits;
use crate::broker::CloseReason;
use crate::bugs::Bug;
use crate::config::{Config, Qos};
use crate::network::BrokerEnd;
use crate::observe::{LinkRef, Observation};
use crate::packet::{Packet, PacketId};
use crate::state::State;
use crate::step::Step;

/// The packet id of a PUBLISH beyond the quota: one no sender of the model allocates (they
/// take `1..=Config::packet_ids`, at most [`Bits::MAX`]), as the simulator's is one no flight
/// of its client uses.
pub const BEYOND_QUOTA_ID: PacketId = Bits::MAX + 1;

/// What the broker counts against its Receive Maximum when it reads a QoS `qos` PUBLISH on
/// connection `link` of `c`, once it has also read the QoS 2 PUBLISHes of ids `ahead`; with
/// `in_session`, the session's ids awaiting PUBREL too for a QoS 2 one.
fn counted(state: &State, c: usize, link: usize, qos: Qos, ahead: Bits, in_session: bool) -> usize {
    let on_link = match state.links[c][link].broker {
        BrokerEnd::Open { unreleased, .. } => unreleased,
        BrokerEnd::AwaitingConnect { .. } | BrokerEnd::Closed => Bits::EMPTY,
    };
    let on_link = on_link.union(ahead).len();
    let session = state.sessions[c].as_ref().map_or(Bits::EMPTY, |s| s.awaiting_pubrel).union(ahead).len();
    match qos {
        Qos::ExactlyOnce if in_session => on_link.max(session),
        _ => on_link,
    }
}

/// Whether a QoS `qos` PUBLISH that `c` writes now on its connection reaches the broker
/// beyond its Receive Maximum, or never reaches it (the connection is cut, or the broker
/// has closed its end).
pub fn lands_beyond_quota(config: &Config, state: &State, c: usize, qos: Qos) -> bool {
    let Some(link) = state.client_link(c) else {
        return false;
    };
    let l = &state.links[c][link];
    if l.cut || l.broker == BrokerEnd::Closed {
        return true;
    }
    let ahead = &l.to_broker.packets;
    if ahead.iter().any(|p| matches!(p, Packet::PubRel(_))) {
        return false;
    }
    let session_lasts = config.expiry_ticks().is_none()
        && !ahead.iter().any(|p| matches!(p, Packet::Connect { clean_start: true, .. }));
    let qos2_ahead: Bits = ahead
        .iter()
        .filter_map(|p| match *p {
            Packet::Publish { id, qos: Qos::ExactlyOnce, .. } => Some(id),
            _ => None,
        })
        .collect();
    counted(state, c, link, qos, qos2_ahead, session_lasts) >= usize::from(config.broker_receive_maximum)
}

impl Step<'_> {
    /// The hostile side of client `c` writes a QoS `qos` PUBLISH beyond the broker's quota on
    /// its connection, behind what the client wrote; the client itself knows nothing of it.
    pub(crate) fn publish_beyond_quota(&mut self, c: usize, qos: Qos) {
        self.state.beyond_quota_left -= 1;
        let Some(link) = self.state.client_link(c) else {
            return;
        };
        let packet = Packet::PublishBeyondQuota { qos };
        self.state.links[c][link].send_to_broker(packet);
        self.observe(|| Observation::Injected { link: LinkRef { client: c, link }, packet, reason: None });
        self.note(|| format!("c{c}'s connection carries a hostile {packet} → broker"));
    }

    /// The broker reads a PUBLISH beyond its quota: it closes the connection with DISCONNECT
    /// 0x93 and takes nothing of it. Taking it (within the quota, which the hostile client
    /// never lets happen, or with the seeded bug) is acknowledging it, as the model has no
    /// message to route: `beyond_quota_refused` catches that.
    pub(crate) fn broker_reads_beyond_quota(&mut self, c: usize, link: usize, qos: Qos) {
        let counted = counted(&self.state, c, link, qos, Bits::EMPTY, true);
        let beyond = counted >= usize::from(self.config.broker_receive_maximum);
        if beyond && !self.config.has(Bug::BeyondQuotaTaken) {
            self.note(|| format!("broker: c{c} is beyond its Receive Maximum"));
            self.close(c, link, CloseReason::ReceiveMaximumExceeded);
            return;
        }
        let ack = match qos {
            Qos::ExactlyOnce => Packet::PubRec(BEYOND_QUOTA_ID),
            Qos::AtMostOnce | Qos::AtLeastOnce => Packet::PubAck(BEYOND_QUOTA_ID),
        };
        self.broker_send_on(c, link, ack);
    }

    /// The broker has read a QoS 2 PUBLISH of id `id` on `link` of `c`, or its PUBREL
    /// (`released`): its count on the connection, where a hostile client may test it.
    pub(crate) fn count_unreleased(&mut self, c: usize, link: usize, id: PacketId, released: bool) {
        if self.config.beyond_quota == 0 {
            return;
        }
        if let BrokerEnd::Open { unreleased, .. } = &mut self.state.links[c][link].broker {
            if released {
                unreleased.remove(id);
            } else {
                unreleased.insert(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Version;
    use crate::model::MqttModel;
    use crate::step::Action;
    use stateright::Model;

    /// A persistent publisher with Receive Maximum 1 and a QoS 2 message, and one PUBLISH
    /// beyond the quota.
    fn model() -> MqttModel {
        let mut config = Config::new(Version::V5_0, 1, 1);
        config.messages = vec![Qos::ExactlyOnce];
        config.broker_receive_maximum = 1;
        config.cuts = 0;
        config.beyond_quota = 1;
        MqttModel::new(config)
    }

    /// Takes the first action `wanted` picks among the enabled ones.
    fn take(model: &MqttModel, state: State, wanted: impl Fn(&Action) -> bool) -> State {
        let mut actions = Vec::new();
        model.actions(&state, &mut actions);
        let action = *actions.iter().find(|a| wanted(a)).unwrap_or_else(|| panic!("none of {actions:?}"));
        model.next_state(&state, action).expect("a successor")
    }

    fn beyond(qos: Qos) -> impl Fn(&Action) -> bool {
        move |a| *a == Action::PublishBeyondQuota { client: 0, qos }
    }

    #[test]
    fn a_publish_behind_a_qos2_one_the_broker_has_not_released_is_beyond_a_quota_of_one() {
        let model = model();
        let mut state = State::initial(&model.config);
        state = take(&model, state, |a| *a == Action::Connect(0));
        assert!(!lands_beyond_quota(&model.config, &state, 0, Qos::AtLeastOnce), "nothing counted yet");
        let (broker_reads, client_reads) =
            (Action::BrokerReceives { client: 0, link: 0 }, Action::ClientReceives { client: 0, link: 0 });
        // CONNECT and CONNACK, SUBSCRIBE and SUBACK, then the QoS 2 PUBLISH.
        for step in
            [broker_reads, client_reads, Action::Subscribe(0), broker_reads, client_reads, Action::Application(0)]
        {
            state = take(&model, state, |a| *a == step);
        }
        for qos in [Qos::AtLeastOnce, Qos::ExactlyOnce] {
            assert!(lands_beyond_quota(&model.config, &state, 0, qos), "the QoS 2 PUBLISH ahead fills the quota");
        }
        state = take(&model, state, beyond(Qos::AtLeastOnce));
        for _ in 0..2 {
            state = take(&model, state, |a| *a == broker_reads);
        }
        assert!(!state.links[0][0].broker_open(), "the broker closed the connection");
        assert!(state.links[0][0].to_client.packets.contains(&Packet::PubRec(1)));
        assert!(!state.links[0][0].to_client.packets.iter().any(|p| matches!(p, Packet::PubAck(_))));
        assert_eq!(state.links[0][0].to_client.packets.last(), Some(&Packet::Disconnect));
    }

    #[test]
    fn a_release_on_its_way_may_free_a_place_so_no_publish_is_beyond() {
        let model = model();
        let mut state = State::initial(&model.config);
        state = take(&model, state, |a| *a == Action::Connect(0));
        state.links[0][0].send_to_broker(Packet::Publish {
            id: 1,
            message: crate::packet::Message::App(0),
            qos: Qos::ExactlyOnce,
            dup: false,
            retain: false,
        });
        assert!(lands_beyond_quota(&model.config, &state, 0, Qos::AtLeastOnce));
        state.links[0][0].send_to_broker(Packet::PubRel(1));
        assert!(!lands_beyond_quota(&model.config, &state, 0, Qos::AtLeastOnce));
    }
}
