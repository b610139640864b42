//! The client's publishes before they are written: queued in the order they were accepted.
//! Once written, a QoS 1 or 2 publish is a flight of the session's sender
//! (`crate::session::sender`) until PUBACK, or PUBREC and PUBCOMP, ends it (section 4.3).

use std::collections::VecDeque;

use super::event::{DroppedRequest, PublishState, PublishTicket};
use crate::codec::{Publish, QoS};
use crate::session::sender::{Awaiting, Sender};

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
    pub(super) fn new(max: usize) -> Self {
        PublishQueue { queue: VecDeque::new(), max }
    }

    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(super) fn max(&self) -> usize {
        self.max
    }

    pub(super) fn is_full(&self) -> bool {
        self.queue.len() >= self.max
    }

    pub(super) fn push(&mut self, outgoing: Outgoing) {
        self.queue.push_back(outgoing);
    }

    pub(super) fn front(&self) -> Option<&Outgoing> {
        self.queue.front()
    }

    pub(super) fn pop_front(&mut self) -> Option<Outgoing> {
        self.queue.pop_front()
    }

    pub(super) fn contains(&self, ticket: &PublishTicket) -> bool {
        self.queue.iter().any(|outgoing| outgoing.ticket == *ticket)
    }

    /// Takes out the QoS 0 publishes, which do not outlive their connection.
    pub(super) fn take_qos0(&mut self) -> Vec<Outgoing> {
        let (qos0, kept): (Vec<_>, Vec<_>) =
            self.queue.drain(..).partition(|outgoing| outgoing.publish.qos == QoS::AtMostOnce);
        self.queue = kept.into();
        qos0
    }
}

/// Where a publish in flight is, as the client tells its user.
pub(crate) fn publish_state(sender: &Sender<Outgoing>, ticket: &PublishTicket) -> Option<PublishState> {
    let (outgoing, flight) = sender.get(ticket.packet_id()?)?;
    (outgoing.ticket == *ticket).then_some(match flight {
        Awaiting::PubAck => PublishState::AwaitingPubAck,
        Awaiting::PubRec => PublishState::AwaitingPubRec,
        Awaiting::PubComp => PublishState::AwaitingPubComp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{MqttString, PacketId};
    use bytes::Bytes;

    fn outgoing(sequence: u64, qos: QoS) -> Outgoing {
        let packet_id = PacketId::new(sequence as u16 + 1).unwrap();
        let topic = MqttString::from_static("t").unwrap();
        let publish = Publish::new(topic, qos, Some(packet_id), Bytes::new());
        Outgoing { ticket: PublishTicket::new(sequence, Some(packet_id), qos), publish }
    }

    #[test]
    fn queue_gives_up_only_qos0_and_keeps_the_order_of_the_rest() {
        let mut queue = PublishQueue::new(10);
        for (sequence, qos) in
            [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::AtMostOnce, QoS::ExactlyOnce].into_iter().enumerate()
        {
            queue.push(outgoing(sequence as u64, qos));
        }
        let dropped: Vec<_> = queue.take_qos0().iter().map(|o| o.ticket.sequence()).collect();
        assert_eq!(dropped, [0, 2]);
        assert_eq!(queue.pop_front().map(|o| o.ticket.sequence()), Some(1));
        assert_eq!(queue.pop_front().map(|o| o.ticket.sequence()), Some(3));
    }
}
