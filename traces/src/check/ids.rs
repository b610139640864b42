//! Which model packet id each of a trace's packet ids is.
//!
//! MQTT lets a sender pick any id not in use; the model always picks the lowest free one,
//! verimqtt's client counts up. Only an id's identity matters, so the checker renames: a
//! trace id is bound to the model id of the same packet when a sender first uses it (PUBLISH
//! with DUP=0, SUBSCRIBE), each binding one-to-one within the sender's id space, and the
//! binding lasts while the model id is in use (a flight, a QoS 2 id awaiting PUBREL, a pending
//! SUBSCRIBE or UNSUBSCRIBE, a packet in transit or held back for the broker's store), or until the sender receives the packet that frees the
//! trace id (the model may hand the freed id to a message its flow control queued, in the
//! same step). Reusing an id while it is in use therefore still fails.

use verimqtt_model::observe::Actor;
use verimqtt_model::packet::{Packet, PacketId};
use verimqtt_model::quota::BEYOND_QUOTA_ID;
use verimqtt_model::state::State;

/// The ids one sender allocates: a client's, or the broker's towards one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Space {
    pub client: usize,
    pub allocator: Actor,
}

impl Space {
    /// The space of the id `packet` carries, sent by `sender` on a connection of `client`.
    pub fn of(packet: &Packet, sender: Actor, client: usize) -> Space {
        let allocated_by_sender = matches!(
            packet,
            Packet::Publish { .. }
                | Packet::PublishBeyondQuota { .. }
                | Packet::PubRel(_)
                | Packet::Subscribe(..)
                | Packet::Unsubscribe(_)
        );
        let allocator = match (allocated_by_sender, sender) {
            (true, sender) => sender,
            (false, Actor::Broker) => Actor::Client(client),
            (false, Actor::Client(_) | Actor::Network) => Actor::Broker,
        };
        Space { client, allocator }
    }
}

/// The packet id a packet carries, if any (0, a QoS 0 PUBLISH's, is none).
pub fn packet_id(packet: &Packet) -> Option<PacketId> {
    match *packet {
        Packet::Publish { id, .. } => (id != 0).then_some(id),
        Packet::PublishBeyondQuota { .. } => Some(BEYOND_QUOTA_ID),
        Packet::PubAck(id)
        | Packet::PubRec(id)
        | Packet::PubRecRefused(id)
        | Packet::PubRel(id)
        | Packet::PubComp(id)
        | Packet::Subscribe(id, _)
        | Packet::SubAck(id, _)
        | Packet::Unsubscribe(id)
        | Packet::UnsubAck { id, .. } => Some(id),
        Packet::Connect { .. }
        | Packet::ConnAck { .. }
        | Packet::PingReq
        | Packet::PingResp
        | Packet::Disconnect
        | Packet::DisconnectWithWill => None,
    }
}

/// Whether a packet may introduce a new id: a first transmission.
pub fn allocates(packet: &Packet) -> bool {
    matches!(
        packet,
        Packet::Publish { dup: false, .. }
            | Packet::PublishBeyondQuota { .. }
            | Packet::Subscribe(..)
            | Packet::Unsubscribe(_)
    )
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ids {
    bound: Vec<(Space, u16, PacketId)>,
}

impl Ids {
    fn model_of(&self, space: Space, trace: u16) -> Option<PacketId> {
        self.bound.iter().find(|(s, t, _)| *s == space && *t == trace).map(|(_, _, m)| *m)
    }

    fn trace_of(&self, space: Space, model: PacketId) -> Option<u16> {
        self.bound.iter().find(|(s, _, m)| *s == space && *m == model).map(|(_, t, _)| *t)
    }

    /// Whether trace id `trace` can be model id `model`: bound to each other, or (for a
    /// packet that allocates) both unbound.
    pub fn agree(&self, space: Space, trace: u16, model: PacketId, may_bind: bool) -> bool {
        match (self.model_of(space, trace), self.trace_of(space, model)) {
            (Some(bound), _) => bound == model,
            (None, None) => may_bind,
            (None, Some(_)) => false,
        }
    }

    /// The trace id model id `model` stands for, if bound.
    pub fn trace_id(&self, space: Space, model: PacketId) -> Option<u16> {
        self.trace_of(space, model)
    }

    pub fn bind(&mut self, space: Space, trace: u16, model: PacketId) {
        if self.model_of(space, trace).is_none() {
            self.bound.push((space, trace, model));
        }
    }

    /// The sender of `space` received the packet that frees trace id `trace`: the binding
    /// ends now, even though the model may already have handed its model id to a message its
    /// flow control queued, in the same step (the sender may give that message another id).
    pub fn end(&mut self, space: Space, trace: u16) {
        self.bound.retain(|&(s, t, _)| (s, t) != (space, trace));
    }

    /// Forgets the bindings of model ids `state` no longer uses.
    pub fn release_unused(&mut self, state: &State) {
        self.bound.retain(|(space, _, model)| in_use(state, *space, *model));
    }
}

fn in_use(state: &State, space: Space, id: PacketId) -> bool {
    let c = space.client;
    let session = state.sessions[c].as_ref();
    let client = &state.clients[c];
    let held = match space.allocator {
        Actor::Client(_) => {
            client.outbound.flights.iter().any(|f| f.id == id)
                || client.subscription.pending_id() == Some(id)
                || session.is_some_and(|s| s.awaiting_pubrel.contains(id))
        }
        Actor::Broker => {
            session.is_some_and(|s| s.outbound.flights.iter().any(|f| f.id == id))
                || client.awaiting_pubrel.contains(id)
        }
        Actor::Network => false,
    };
    held || state.links[c].iter().any(|link| {
        let to_broker = link.to_broker.packets.iter().map(|p| (p, Actor::Client(c)));
        // Packets the broker holds back for its store are on their way too.
        let to_client = link.to_client.packets.iter().chain(&link.held).map(|p| (p, Actor::Broker));
        to_broker.chain(to_client).any(|(p, sender)| Space::of(p, sender, c) == space && packet_id(p) == Some(id))
    })
}
