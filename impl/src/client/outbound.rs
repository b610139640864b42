//! The send path of QoS 0, 1 and 2 publishes: queued (pre-flight) until written, then in
//! flight until PUBACK, or PUBREC and PUBCOMP, releases them (section 4.3).

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::event::{DroppedRequest, PublishState, PublishTicket};
use crate::codec::{PacketId, Publish, QoS};

/// A publish the client accepted, as the user asked for it.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub ticket: PublishTicket,
    /// DUP 0, no topic alias; the packet identifier is set for QoS 1 and 2.
    pub publish: Publish,
}

impl From<Outgoing> for DroppedRequest {
    fn from(outgoing: Outgoing) -> Self {
        DroppedRequest::Publish { ticket: outgoing.ticket, publish: outgoing.publish }
    }
}

/// Publishes accepted and not yet written, in the order they were accepted. They go out in
/// that order, QoS 0 ones included, so a QoS 0 message never overtakes a QoS 1 message that
/// waits for room in flight.
#[derive(Debug)]
pub(crate) struct PublishQueue {
    queue: VecDeque<Outgoing>,
    max: usize,
}

impl PublishQueue {
    pub fn new(max: usize) -> Self {
        PublishQueue { queue: VecDeque::new(), max }
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn is_full(&self) -> bool {
        self.queue.len() >= self.max
    }

    pub fn push(&mut self, outgoing: Outgoing) {
        self.queue.push_back(outgoing);
    }

    pub fn front(&self) -> Option<&Outgoing> {
        self.queue.front()
    }

    pub fn pop_front(&mut self) -> Option<Outgoing> {
        self.queue.pop_front()
    }

    pub fn contains(&self, ticket: &PublishTicket) -> bool {
        self.queue.iter().any(|outgoing| outgoing.ticket == *ticket)
    }

    /// Takes out the QoS 0 publishes, which do not outlive their connection.
    pub fn take_qos0(&mut self) -> Vec<Outgoing> {
        let (qos0, kept): (Vec<_>, Vec<_>) =
            self.queue.drain(..).partition(|outgoing| outgoing.publish.qos == QoS::AtMostOnce);
        self.queue = kept.into();
        qos0
    }
}

/// Where a publish in flight is in its exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// PUBLISH written: waits for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitingAck,
    /// PUBREL written: waits for PUBCOMP.
    AwaitingPubComp,
}

#[derive(Debug)]
pub(crate) struct InFlightEntry {
    pub outgoing: Outgoing,
    pub stage: Stage,
    /// Written on the current connection. After a reconnection every entry waits to be
    /// written again, and only those written count against the server's Receive Maximum.
    written: bool,
}

/// The QoS 1 and 2 publishes written and not yet done: session state that survives a
/// reconnection when the session does.
///
/// Entries are kept in the order of their last step, so a resumed session writes PUBLISHes
/// again in their original order [MQTT-4.6.0-1] and PUBRELs in the order of their PUBRECs
/// [MQTT-4.6.0-4].
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    entries: BTreeMap<u64, InFlightEntry>,
    order: HashMap<PacketId, u64>,
    next_order: u64,
    /// Entries to write again on a resumed session, in order; some may be done meanwhile.
    resend: VecDeque<PacketId>,
    /// Entries written on this connection and not done: the server's count of our
    /// unacknowledged publishes.
    written_on_connection: usize,
}

impl InFlight {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn written_on_connection(&self) -> usize {
        self.written_on_connection
    }

    /// A QoS 1 or 2 publish was just written for the first time.
    pub fn insert_written(&mut self, packet_id: PacketId, outgoing: Outgoing) {
        self.push_back(packet_id, InFlightEntry { outgoing, stage: Stage::AwaitingAck, written: true });
        self.written_on_connection += 1;
    }

    fn push_back(&mut self, packet_id: PacketId, entry: InFlightEntry) {
        let order = self.next_order;
        self.next_order += 1;
        self.entries.insert(order, entry);
        self.order.insert(packet_id, order);
    }

    pub fn get(&self, packet_id: PacketId) -> Option<&InFlightEntry> {
        self.order.get(&packet_id).and_then(|order| self.entries.get(order))
    }

    pub fn remove(&mut self, packet_id: PacketId) -> Option<InFlightEntry> {
        let order = self.order.remove(&packet_id)?;
        let entry = self.entries.remove(&order)?;
        if entry.written {
            self.written_on_connection -= 1;
        }
        Some(entry)
    }

    /// PUBREC arrived: the entry now waits for PUBCOMP, behind the others.
    pub fn advance_to_pubcomp(&mut self, packet_id: PacketId) {
        if let Some(mut entry) = self.remove(packet_id) {
            if entry.written {
                self.written_on_connection += 1;
            }
            entry.stage = Stage::AwaitingPubComp;
            self.push_back(packet_id, entry);
        }
    }

    /// The connection is gone: nothing is written on the next one yet.
    pub fn connection_closed(&mut self) {
        for entry in self.entries.values_mut() {
            entry.written = false;
        }
        self.written_on_connection = 0;
        self.resend.clear();
    }

    /// The session was resumed: every entry is to be written again, in order [MQTT-4.4.0-1].
    pub fn schedule_resend(&mut self) {
        self.resend = self.entries.values().filter_map(|entry| entry.outgoing.publish.packet_id).collect();
    }

    /// The next entry to write again, if any.
    pub fn next_resend(&mut self) -> Option<(PacketId, &InFlightEntry)> {
        while let Some(&packet_id) = self.resend.front() {
            if self.get(packet_id).is_some_and(|entry| !entry.written) {
                break;
            }
            self.resend.pop_front();
        }
        let packet_id = *self.resend.front()?;
        self.get(packet_id).map(|entry| (packet_id, entry))
    }

    pub fn has_resend_pending(&mut self) -> bool {
        self.next_resend().is_some()
    }

    /// The entry [`InFlight::next_resend`] gave was written again.
    pub fn mark_resent(&mut self, packet_id: PacketId) {
        if self.resend.front() == Some(&packet_id) {
            self.resend.pop_front();
        }
        let order = self.order.get(&packet_id).copied();
        if let Some(entry) = order.and_then(|order| self.entries.get_mut(&order)) {
            if !entry.written {
                entry.written = true;
                self.written_on_connection += 1;
            }
        }
    }

    /// All entries, in order, leaving none.
    pub fn drain(&mut self) -> Vec<InFlightEntry> {
        self.order.clear();
        self.resend.clear();
        self.written_on_connection = 0;
        std::mem::take(&mut self.entries).into_values().collect()
    }

    pub fn state(&self, ticket: &PublishTicket) -> Option<PublishState> {
        let entry = self.get(ticket.packet_id()?).filter(|entry| entry.outgoing.ticket == *ticket)?;
        Some(match (entry.stage, ticket.qos()) {
            (Stage::AwaitingPubComp, _) => PublishState::AwaitingPubComp,
            (Stage::AwaitingAck, QoS::ExactlyOnce) => PublishState::AwaitingPubRec,
            (Stage::AwaitingAck, _) => PublishState::AwaitingPubAck,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::MqttString;
    use bytes::Bytes;

    fn outgoing(sequence: u64, qos: QoS) -> (PacketId, Outgoing) {
        let packet_id = PacketId::new(sequence as u16 + 1).unwrap();
        let topic = MqttString::from_static("t").unwrap();
        let publish = Publish::new(topic, qos, Some(packet_id), Bytes::new());
        (packet_id, Outgoing { ticket: PublishTicket::new(sequence, Some(packet_id), qos), publish })
    }

    fn in_flight(count: u64) -> (InFlight, Vec<PacketId>) {
        let mut in_flight = InFlight::default();
        let ids = (0..count)
            .map(|sequence| {
                let (id, outgoing) = outgoing(sequence, QoS::ExactlyOnce);
                in_flight.insert_written(id, outgoing);
                id
            })
            .collect();
        (in_flight, ids)
    }

    #[test]
    fn written_count_follows_inserts_removals_and_connection_loss() {
        let (mut in_flight, ids) = in_flight(3);
        assert_eq!(in_flight.written_on_connection(), 3);
        in_flight.remove(ids[0]);
        assert_eq!(in_flight.written_on_connection(), 2);
        in_flight.connection_closed();
        assert_eq!((in_flight.len(), in_flight.written_on_connection()), (2, 0));
        in_flight.schedule_resend();
        in_flight.mark_resent(ids[1]);
        assert_eq!(in_flight.written_on_connection(), 1);
        // Removing an entry not yet written again leaves the count alone.
        in_flight.remove(ids[2]);
        assert_eq!(in_flight.written_on_connection(), 1);
    }

    #[test]
    fn resend_order_is_publish_order_then_pubrec_order() {
        let (mut in_flight, ids) = in_flight(4);
        in_flight.advance_to_pubcomp(ids[2]);
        in_flight.advance_to_pubcomp(ids[0]);
        in_flight.connection_closed();
        in_flight.schedule_resend();
        let mut order = Vec::new();
        while let Some((id, entry)) = in_flight.next_resend() {
            order.push((id, entry.stage));
            in_flight.mark_resent(id);
        }
        assert_eq!(
            order,
            [
                (ids[1], Stage::AwaitingAck),
                (ids[3], Stage::AwaitingAck),
                (ids[2], Stage::AwaitingPubComp),
                (ids[0], Stage::AwaitingPubComp)
            ]
        );
    }

    #[test]
    fn entries_done_before_their_resend_are_skipped() {
        let (mut in_flight, ids) = in_flight(2);
        in_flight.connection_closed();
        in_flight.schedule_resend();
        in_flight.remove(ids[0]);
        assert_eq!(in_flight.next_resend().map(|(id, _)| id), Some(ids[1]));
    }

    #[test]
    fn queue_gives_up_only_qos0_and_keeps_the_order_of_the_rest() {
        let mut queue = PublishQueue::new(10);
        for (sequence, qos) in
            [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::AtMostOnce, QoS::ExactlyOnce].into_iter().enumerate()
        {
            queue.push(outgoing(sequence as u64, qos).1);
        }
        let dropped: Vec<_> = queue.take_qos0().iter().map(|o| o.ticket.sequence()).collect();
        assert_eq!(dropped, [0, 2]);
        assert_eq!(queue.pop_front().map(|o| o.ticket.sequence()), Some(1));
        assert_eq!(queue.pop_front().map(|o| o.ticket.sequence()), Some(3));
    }
}
