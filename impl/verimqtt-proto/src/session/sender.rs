//! The QoS 1 and 2 sender both roles share: the flights of messages sent and not yet
//! completed, named as the model names them (awaiting PUBACK, PUBREC or PUBCOMP), the count
//! of those written on the current connection (what the peer's Receive Maximum bounds), and
//! the cursor of what a resumed session writes again. It is session state: it outlives a
//! connection when the session does. What a flight carries is the role's own (the client a
//! publish and its ticket, the broker a session's copy of a message).

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::codec::{PacketId, QoS};

/// What a flight awaits: where it is in its exchange (section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[expect(clippy::enum_variant_names, reason = "named after the packets awaited, as the model names them")]
pub(crate) enum Awaiting {
    /// QoS 1 PUBLISH written, waiting for PUBACK.
    PubAck,
    /// QoS 2 PUBLISH written, waiting for PUBREC.
    PubRec,
    /// PUBREL written, waiting for PUBCOMP. The message is never sent again
    /// ([MQTT-4.3.3-1] in 3.1.1, [MQTT-4.3.3-6] in 5.0).
    PubComp,
}

/// What a PUBREC means for the flight it names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received<T> {
    /// Answer with PUBREL: the flight now waits for PUBCOMP, or already did (a repeat).
    Release,
    /// The peer refused the message (reason code 0x80 or above): the flight is over
    /// ([MQTT-4.4.0-2]).
    Refused(T),
    /// No QoS 2 flight has this identifier.
    Unknown,
}

#[derive(Debug)]
struct Entry<T> {
    packet_id: PacketId,
    item: T,
    flight: Awaiting,
    /// Written on the current connection. After a reconnection every flight waits to be
    /// written again, and only those written count against the peer's Receive Maximum.
    written: bool,
}

#[derive(Debug)]
pub(crate) struct Sender<T> {
    /// By the order of each flight's last step.
    entries: BTreeMap<u64, Entry<T>>,
    order: HashMap<PacketId, u64>,
    next_order: u64,
    /// Flights to write again on a resumed session, in order; some may be done meanwhile.
    resend: VecDeque<PacketId>,
    written_on_connection: usize,
}

impl<T> Sender<T> {
    pub(crate) fn new() -> Self {
        Sender {
            entries: BTreeMap::new(),
            order: HashMap::new(),
            next_order: 0,
            resend: VecDeque::new(),
            written_on_connection: 0,
        }
    }

    /// Flights not yet completed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Flights written on this connection and not completed: the peer's count of our
    /// unacknowledged publishes.
    pub(crate) fn written_on_connection(&self) -> usize {
        self.written_on_connection
    }

    /// A QoS 1 or 2 PUBLISH carrying `item` was just written for the first time.
    pub(crate) fn insert_written(&mut self, packet_id: PacketId, qos: QoS, item: T) {
        let flight = if qos == QoS::ExactlyOnce { Awaiting::PubRec } else { Awaiting::PubAck };
        self.push_back(Entry { packet_id, item, flight, written: true });
        self.written_on_connection += 1;
    }

    /// A flight of a restored session, at `flight`, not written on any connection yet:
    /// restored in the order of their last step, they are resent in that order.
    pub(crate) fn insert_restored(&mut self, packet_id: PacketId, flight: Awaiting, item: T) {
        self.push_back(Entry { packet_id, item, flight, written: false });
    }

    /// Every flight, in the order of its last step.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (PacketId, Awaiting, &T)> {
        self.entries.values().map(|entry| (entry.packet_id, entry.flight, &entry.item))
    }

    fn push_back(&mut self, entry: Entry<T>) {
        let order = self.next_order;
        self.next_order += 1;
        self.order.insert(entry.packet_id, order);
        self.entries.insert(order, entry);
    }

    /// The flight of `packet_id`, if there is one.
    pub(crate) fn get(&self, packet_id: PacketId) -> Option<(&T, Awaiting)> {
        let entry = self.order.get(&packet_id).and_then(|order| self.entries.get(order))?;
        Some((&entry.item, entry.flight))
    }

    /// Ends the flight of `packet_id`, whatever its stage, and gives back what it carried.
    pub(crate) fn remove(&mut self, packet_id: PacketId) -> Option<T> {
        self.take(packet_id).map(|entry| entry.item)
    }

    fn take(&mut self, packet_id: PacketId) -> Option<Entry<T>> {
        let order = self.order.remove(&packet_id)?;
        let entry = self.entries.remove(&order)?;
        if entry.written {
            self.written_on_connection -= 1;
        }
        Some(entry)
    }

    /// PUBACK: ends a QoS 1 flight. `None` if no flight waits for it.
    pub(crate) fn acknowledge(&mut self, packet_id: PacketId) -> Option<T> {
        self.end_if(packet_id, Awaiting::PubAck)
    }

    /// PUBCOMP: ends a QoS 2 flight. `None` if no flight waits for it.
    pub(crate) fn complete(&mut self, packet_id: PacketId) -> Option<T> {
        self.end_if(packet_id, Awaiting::PubComp)
    }

    fn end_if(&mut self, packet_id: PacketId, flight: Awaiting) -> Option<T> {
        self.get(packet_id).filter(|(_, stage)| *stage == flight)?;
        self.remove(packet_id)
    }

    /// PUBREC, with whether its reason code is a failure. An accepted one moves the flight
    /// behind the others, so PUBRELs go again in the order their PUBRECs came.
    pub(crate) fn received(&mut self, packet_id: PacketId, refused: bool) -> Received<T> {
        match self.get(packet_id).map(|(_, flight)| flight) {
            Some(Awaiting::PubComp) => Received::Release,
            Some(Awaiting::PubRec) if refused => self.remove(packet_id).map_or(Received::Unknown, Received::Refused),
            Some(Awaiting::PubRec) => {
                if let Some(mut entry) = self.take(packet_id) {
                    if entry.written {
                        self.written_on_connection += 1;
                    }
                    entry.flight = Awaiting::PubComp;
                    self.push_back(entry);
                }
                Received::Release
            }
            Some(Awaiting::PubAck) | None => Received::Unknown,
        }
    }

    /// The connection is gone: nothing is written on the next one yet.
    pub(crate) fn connection_closed(&mut self) {
        for entry in self.entries.values_mut() {
            entry.written = false;
        }
        self.written_on_connection = 0;
        self.resend.clear();
    }

    /// The session was resumed on a new connection: every flight is to be written again
    /// ([MQTT-4.4.0-1]), each in the order of its last step. So PUBLISHes go in the order they
    /// were first sent ([MQTT-4.6.0-1]) and PUBRELs in the order their PUBRECs came
    /// ([MQTT-4.6.0-4]), which the specification binds the client to and the broker keeps
    /// too; how the two kinds interleave it leaves open.
    pub(crate) fn schedule_resend(&mut self) {
        self.resend = self.entries.values().map(|entry| entry.packet_id).collect();
    }

    /// The next flight to write again, if any, taken off the resend queue: the caller writes
    /// it now, so it counts as written on this connection. Flights that ended meanwhile are
    /// passed over. None in the queue was written on this connection: it is filled when a
    /// session resumes, after its previous connection closed.
    pub(crate) fn resend_next(&mut self) -> Option<(PacketId, &T, Awaiting)> {
        let (packet_id, order) = loop {
            let packet_id = self.resend.pop_front()?;
            if let Some(&order) = self.order.get(&packet_id) {
                break (packet_id, order);
            }
        };
        let entry = self.entries.get_mut(&order)?;
        entry.written = true;
        self.written_on_connection += 1;
        Some((packet_id, &entry.item, entry.flight))
    }

    /// A flight still waits to be written again. Ended ones stay in the queue only until the
    /// next [`Sender::resend_next`].
    pub(crate) fn has_resend_pending(&self) -> bool {
        self.resend.iter().any(|packet_id| self.order.contains_key(packet_id))
    }

    /// Every flight, in order, leaving none.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.order.clear();
        self.resend.clear();
        self.written_on_connection = 0;
        std::mem::take(&mut self.entries).into_values().map(|entry| entry.item).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: u16) -> PacketId {
        PacketId::new(value).unwrap()
    }

    /// Four QoS 2 flights written in order, then PUBRECs for the third and the first.
    fn sender() -> Sender<u16> {
        let mut sender = Sender::new();
        for value in 1..=4 {
            sender.insert_written(id(value), QoS::ExactlyOnce, value);
        }
        assert_eq!(sender.received(id(3), false), Received::Release);
        assert_eq!(sender.received(id(1), false), Received::Release);
        sender
    }

    fn resent(sender: &mut Sender<u16>) -> Vec<(u16, Awaiting)> {
        sender.connection_closed();
        sender.schedule_resend();
        let mut order = Vec::new();
        while let Some((packet_id, _, flight)) = sender.resend_next() {
            order.push((packet_id.get(), flight));
        }
        order
    }

    #[test]
    fn publishes_go_again_in_first_send_order_then_releases_in_pubrec_order() {
        // [MQTT-4.6.0-4]: PUBREL in the order the PUBRECs came, 3 before 1.
        let mut sender = sender();
        let order = resent(&mut sender);
        let (pub_rec, pub_comp) = (Awaiting::PubRec, Awaiting::PubComp);
        assert_eq!(order, [(2, pub_rec), (4, pub_rec), (3, pub_comp), (1, pub_comp)]);
    }

    #[test]
    fn the_written_count_follows_inserts_completions_and_connection_loss() {
        let mut sender = Sender::new();
        for value in 1..=3 {
            sender.insert_written(id(value), QoS::AtLeastOnce, value);
        }
        assert_eq!(sender.written_on_connection(), 3);
        assert_eq!(sender.acknowledge(id(1)), Some(1));
        assert_eq!(sender.acknowledge(id(1)), None);
        assert_eq!(sender.complete(id(2)), None, "a PUBCOMP does not end a QoS 1 flight");
        assert_eq!(sender.written_on_connection(), 2);
        sender.connection_closed();
        assert_eq!((sender.len(), sender.written_on_connection()), (2, 0));
        sender.schedule_resend();
        assert_eq!(sender.resend_next().map(|(id, _, _)| id.get()), Some(2));
        assert_eq!(sender.written_on_connection(), 1);
        // Ending a flight not written again leaves the count alone.
        assert_eq!(sender.remove(id(3)), Some(3));
        assert_eq!(sender.written_on_connection(), 1);
    }

    #[test]
    fn a_refused_pubrec_ends_the_flight_and_a_repeated_one_is_released_again() {
        let mut sender = Sender::new();
        sender.insert_written(id(1), QoS::ExactlyOnce, 1);
        sender.insert_written(id(2), QoS::ExactlyOnce, 2);
        sender.insert_written(id(3), QoS::AtLeastOnce, 3);
        assert_eq!(sender.received(id(1), true), Received::Refused(1));
        assert_eq!(sender.received(id(1), false), Received::Unknown);
        assert_eq!(sender.received(id(2), false), Received::Release);
        assert_eq!(sender.received(id(2), false), Received::Release);
        assert_eq!(sender.received(id(3), false), Received::Unknown, "a PUBREC does not answer QoS 1");
        assert_eq!(sender.acknowledge(id(2)), None, "a PUBACK does not end a QoS 2 flight");
        assert_eq!(sender.complete(id(2)), Some(2));
    }

    #[test]
    fn flights_done_before_their_resend_are_skipped() {
        let mut sender = Sender::new();
        sender.insert_written(id(1), QoS::AtLeastOnce, 1);
        sender.insert_written(id(2), QoS::AtLeastOnce, 2);
        sender.connection_closed();
        sender.schedule_resend();
        sender.acknowledge(id(1));
        assert!(sender.has_resend_pending());
        assert_eq!(sender.resend_next().map(|(id, _, _)| id.get()), Some(2));
        sender.acknowledge(id(2));
        assert!(!sender.has_resend_pending(), "nothing left to write again");
        assert_eq!(sender.resend_next().map(|(id, _, _)| id.get()), None);
    }
}
