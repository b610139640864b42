//! Monitor of the order of acknowledgements, per client and per direction of the PUBLISHes:
//! PUBACKs in the order their QoS 1 PUBLISHes were read [MQTT-4.6.0-2], PUBRECs in the order
//! their QoS 2 PUBLISHes were read [MQTT-4.6.0-3], and PUBRELs in the order their PUBRECs were
//! read [MQTT-4.6.0-4] (the same ids in 3.1.1 and 5.0). The statements bind the client; the
//! model holds the broker to them too (verimqtt's broker and client share one sender and one
//! receiver), so both ends are judged.
//!
//! PUBACKs and PUBRECs are judged per connection: a PUBLISH read on a connection that closed
//! before it was acknowledged is resent, and answered, on the next. PUBRELs are judged per
//! session: on a resumed session the PUBRELs the sender sends again follow the order in which
//! their PUBRECs came, on whichever connection that was.
//!
//! The model's receivers acknowledge a PUBLISH in the step that reads it, and a sender sends
//! its PUBREL in the step that reads the PUBREC, so in a correct model the lists of what is
//! still to be answered are empty at the end of every step and add no states; only the order
//! of the PUBRECs of a session's unfinished QoS 2 flights is kept between steps.

use crate::config::Qos;
use crate::ghost::Direction;
use crate::inline::{Inline, PerClient};
use crate::outbound::{MAX_FLIGHTS, MAX_QUEUED};
use crate::packet::{Packet, PacketId};
use crate::symmetry::Permutation;

/// The rule an acknowledgement broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misorder {
    PubAck,
    PubRec,
    PubRel,
}

/// What the monitor follows for one client and one direction of PUBLISH.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct Flow {
    /// QoS 1/2 PUBLISHes the receiver read on its current connection and has not
    /// acknowledged yet, in the order it read them.
    unanswered: Inline<(PacketId, Qos), MAX_QUEUED>,
    /// Ids whose PUBREC the sender read and whose PUBCOMP has not come, in the order the
    /// PUBRECs came (session state).
    released: Inline<PacketId, MAX_FLIGHTS>,
    /// The ids of `released` whose PUBREL the sender owes on its current connection.
    release_due: Inline<PacketId, MAX_FLIGHTS>,
}

impl Flow {
    /// The receiver acknowledges `id` at `qos`: it must be the first PUBLISH of that QoS it
    /// read and has not acknowledged.
    fn answer(&mut self, id: PacketId, qos: Qos) -> bool {
        let first = self.unanswered.iter().position(|&(_, q)| q == qos);
        let in_order = first.is_none_or(|at| self.unanswered[at].0 == id);
        self.unanswered.retain(|&entry| entry != (id, qos));
        in_order
    }

    /// The sender sends the PUBREL of `id`: it must be the first one it owes.
    fn release(&mut self, id: PacketId) -> bool {
        let in_order = !self.release_due.contains(&id) || self.release_due.first() == Some(&id);
        self.release_due.retain(|&due| due != id);
        in_order
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AckOrder {
    /// Per client, per [`Direction`] of the PUBLISHes.
    flows: PerClient<[Flow; 2]>,
}

impl AckOrder {
    pub fn new(clients: usize) -> AckOrder {
        AckOrder { flows: PerClient::filled(Default::default(), clients) }
    }

    /// The same with the clients renamed (see [`crate::symmetry`]).
    pub fn permuted(&self, p: &Permutation) -> AckOrder {
        AckOrder { flows: p.per_client(&self.flows) }
    }

    fn flow(&mut self, direction: Direction, client: usize) -> &mut Flow {
        &mut self.flows[client][direction as usize]
    }

    /// The receiver of PUBLISHes going in `direction` read a QoS 1/2 PUBLISH it will answer.
    pub fn on_publish_read(&mut self, direction: Direction, client: usize, id: PacketId, qos: Qos) {
        if qos > Qos::AtMostOnce {
            self.flow(direction, client).unanswered.push((id, qos));
        }
    }

    /// The sender of PUBLISHes going in `direction` read the PUBREC of `id` and owes its
    /// PUBREL.
    pub fn on_pubrec_read(&mut self, direction: Direction, client: usize, id: PacketId) {
        let flow = self.flow(direction, client);
        if !flow.released.contains(&id) {
            flow.released.push(id);
        }
        if !flow.release_due.contains(&id) {
            flow.release_due.push(id);
        }
    }

    /// A packet `sender` put on the wire to or from `client`; the rule it broke, if any.
    pub fn on_sent(&mut self, sender: Direction, client: usize, packet: &Packet) -> Option<Misorder> {
        let answered = sender.opposite();
        let in_order = match *packet {
            Packet::PubAck(id) => (self.flow(answered, client).answer(id, Qos::AtLeastOnce), Misorder::PubAck),
            Packet::PubRec(id) | Packet::PubRecRefused(id) => {
                (self.flow(answered, client).answer(id, Qos::ExactlyOnce), Misorder::PubRec)
            }
            Packet::PubRel(id) => (self.flow(sender, client).release(id), Misorder::PubRel),
            _ => return None,
        };
        (!in_order.0).then_some(in_order.1)
    }

    /// The sender of PUBLISHes going in `direction` resumes its session: it owes again the
    /// PUBREL of every flight awaiting PUBCOMP, in the order of their PUBRECs.
    pub fn on_resumed(&mut self, direction: Direction, client: usize) {
        let flow = self.flow(direction, client);
        flow.release_due = flow.released;
    }

    /// The PUBCOMP of `id` came: the flight is over.
    pub fn on_completed(&mut self, direction: Direction, client: usize, id: PacketId) {
        let flow = self.flow(direction, client);
        flow.released.retain(|&r| r != id);
        flow.release_due.retain(|&r| r != id);
    }

    /// The sender of PUBLISHes going in `direction` discarded its session.
    pub fn on_session_ended(&mut self, direction: Direction, client: usize) {
        let flow = self.flow(direction, client);
        flow.released.clear();
        flow.release_due.clear();
    }

    /// The receiver of PUBLISHes going in `direction` starts a new connection.
    pub fn on_connection_opened(&mut self, direction: Direction, client: usize) {
        self.flow(direction, client).unanswered.clear();
    }

    /// A broker restarted from its store holds `released` (flights awaiting PUBCOMP, in the
    /// order it keeps them) as what it released for `client` before.
    pub fn on_restored(&mut self, client: usize, released: Vec<PacketId>) {
        let flow = self.flow(Direction::ToClient, client);
        flow.released = released.into_iter().collect();
        flow.release_due.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TO_BROKER: Direction = Direction::ToBroker;
    const TO_CLIENT: Direction = Direction::ToClient;

    #[test]
    fn acknowledgements_follow_the_publishes_of_their_qos() {
        let mut order = AckOrder::new(1);
        order.on_publish_read(TO_CLIENT, 0, 1, Qos::AtLeastOnce);
        order.on_publish_read(TO_CLIENT, 0, 2, Qos::ExactlyOnce);
        order.on_publish_read(TO_CLIENT, 0, 3, Qos::AtLeastOnce);
        // A PUBREC may overtake a PUBACK: each kind has its own order.
        assert_eq!(order.on_sent(TO_BROKER, 0, &Packet::PubRec(2)), None);
        assert_eq!(order.on_sent(TO_BROKER, 0, &Packet::PubAck(3)), Some(Misorder::PubAck));
        assert_eq!(order.on_sent(TO_BROKER, 0, &Packet::PubAck(1)), None);
    }

    #[test]
    fn releases_follow_the_pubrecs_also_when_resent_on_a_resumed_session() {
        let mut order = AckOrder::new(1);
        order.on_pubrec_read(TO_BROKER, 0, 2);
        order.on_pubrec_read(TO_BROKER, 0, 1);
        assert_eq!(order.on_sent(TO_BROKER, 0, &Packet::PubRel(2)), None);
        assert_eq!(order.on_sent(TO_BROKER, 0, &Packet::PubRel(1)), None);
        order.on_resumed(TO_BROKER, 0);
        assert_eq!(order.on_sent(TO_BROKER, 0, &Packet::PubRel(1)), Some(Misorder::PubRel));
        order.on_completed(TO_BROKER, 0, 2);
        order.on_resumed(TO_BROKER, 0);
        assert_eq!(order.on_sent(TO_BROKER, 0, &Packet::PubRel(1)), None, "2 is complete");
    }

    #[test]
    fn a_new_connection_owes_no_acknowledgement_of_the_last() {
        let mut order = AckOrder::new(1);
        order.on_publish_read(TO_BROKER, 0, 1, Qos::AtLeastOnce);
        order.on_connection_opened(TO_BROKER, 0);
        order.on_publish_read(TO_BROKER, 0, 2, Qos::AtLeastOnce);
        assert_eq!(order.on_sent(TO_CLIENT, 0, &Packet::PubAck(2)), None);
    }
}
