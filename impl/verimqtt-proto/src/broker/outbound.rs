//! One session's messages toward its client: the queue of messages waiting (behind the
//! window, or for the client to come back), and the QoS 1 and 2 flights of the session's
//! sender (`crate::session::sender`), resent on a resumed session as the client resends.
//!
//! Order is kept: messages leave the queue in the order they entered it, and after a
//! reconnection the unfinished ones are sent again in the order they were first sent
//! ([MQTT-4.6.0-6] in 3.1.1, [MQTT-4.6.0-5] in 5.0), their PUBRELs in the order the PUBRECs
//! came. The queue is strictly first in, first out: a QoS 0 message waits behind a QoS 1
//! message the window has no room for.

use std::collections::VecDeque;
use std::time::Instant;

use crate::codec::{PacketId, QoS};
use crate::session::packet_ids::PacketIds;
use crate::session::sender::{Awaiting, Sender};

pub(crate) use crate::session::sender::Received;

use super::message::Delivery;

/// What to send next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transmit {
    /// A PUBLISH: new (`dup` false) or sent again after a reconnection (`dup` true,
    /// [MQTT-3.3.1-1]).
    Publish { packet_id: Option<PacketId>, dup: bool, delivery: Delivery },
    /// A PUBREL sent again after a reconnection ([MQTT-4.4.0-1]).
    Release(PacketId),
    /// A queued message whose expiry passed before it could be sent; it is gone.
    Expired(Delivery),
}

/// How much a session's queue takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueLimits {
    /// Messages waiting in the queue.
    pub(crate) messages: usize,
    /// Bytes of messages waiting or in flight.
    pub(crate) bytes: usize,
}

/// How many flights may be unfinished: the broker's own maximum, and on this connection the
/// client's Receive Maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) max_inflight: usize,
    pub(crate) receive_maximum: usize,
}

#[derive(Debug)]
pub(crate) struct Outbound {
    sender: Sender<Delivery>,
    packet_ids: PacketIds,
    queue: VecDeque<Delivery>,
    /// The footprints of the messages queued or in flight (until their PUBACK or PUBREC:
    /// a released flow no longer needs its message).
    held_bytes: usize,
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound { sender: Sender::new(), packet_ids: PacketIds::default(), queue: VecDeque::new(), held_bytes: 0 }
    }
}

impl Outbound {
    /// Queues a message, or hands it back if the queue is full: it holds as many messages
    /// as `limits` allow, or the bytes of the messages held would pass theirs. An empty queue
    /// always takes one, so a message larger than the byte limit still goes.
    pub(crate) fn enqueue(&mut self, delivery: Delivery, limits: QueueLimits) -> Result<(), Delivery> {
        let bytes = self.held_bytes.saturating_add(delivery.message.footprint);
        if !self.queue.is_empty() && (self.queue.len() >= limits.messages || bytes > limits.bytes) {
            return Err(delivery);
        }
        self.held_bytes = bytes;
        self.queue.push_back(delivery);
        Ok(())
    }

    /// A restored session's flights, in the order of their last step, and its queue.
    pub(crate) fn restore(&mut self, flights: Vec<(PacketId, Awaiting, Delivery)>, queued: Vec<Delivery>) {
        for (packet_id, flight, delivery) in flights {
            self.packet_ids.take(packet_id);
            if flight != Awaiting::PubComp {
                self.held_bytes += delivery.message.footprint;
            }
            self.sender.insert_restored(packet_id, flight, delivery);
        }
        for delivery in queued {
            self.held_bytes += delivery.message.footprint;
            self.queue.push_back(delivery);
        }
    }

    /// The flights, in the order of their last step, and the queue.
    pub(crate) fn held(&self) -> (Vec<(PacketId, Awaiting, &Delivery)>, impl Iterator<Item = &Delivery>) {
        (self.sender.iter().collect(), self.queue.iter())
    }

    /// Messages waiting in the queue.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The messages queued or in flight.
    pub(crate) fn held_messages(&self) -> usize {
        self.queue.len() + self.sender.len()
    }

    /// The bytes of the messages queued or in flight.
    pub(crate) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// A message the session no longer holds.
    fn release(&mut self, delivery: &Delivery) {
        self.held_bytes -= delivery.message.footprint;
    }

    /// The client's connection ended: nothing is written on the next one yet.
    pub(crate) fn connection_closed(&mut self) {
        self.sender.connection_closed();
    }

    /// A new connection takes over the session: every flight is to be written again
    /// ([MQTT-4.4.0-1]).
    pub(crate) fn resume(&mut self) {
        self.sender.schedule_resend();
    }

    /// The next packet to send within `window`: first what a reconnection left to send
    /// again, then the queue. `None` when nothing can go now.
    pub(crate) fn next_transmit(&mut self, window: Window, now: Instant) -> Option<Transmit> {
        if self.sender.has_resend_pending() {
            return self.next_resend(window);
        }
        let front = self.queue.front()?;
        if front.message.expiry.remaining(now).is_err() {
            let delivery = self.queue.pop_front()?;
            self.release(&delivery);
            return Some(Transmit::Expired(delivery));
        }
        if front.qos == QoS::AtMostOnce {
            let delivery = self.queue.pop_front()?;
            self.release(&delivery);
            return Some(Transmit::Publish { packet_id: None, dup: false, delivery });
        }
        let room =
            self.sender.len() < window.max_inflight && self.sender.written_on_connection() < window.receive_maximum;
        if !room {
            return None;
        }
        let packet_id = self.packet_ids.allocate()?;
        let delivery = self.queue.pop_front()?;
        self.sender.insert_written(packet_id, delivery.qos, delivery.clone());
        Some(Transmit::Publish { packet_id: Some(packet_id), dup: false, delivery })
    }

    fn next_resend(&mut self, window: Window) -> Option<Transmit> {
        if self.sender.written_on_connection() >= window.max_inflight.min(window.receive_maximum) {
            return None;
        }
        let (packet_id, delivery, flight) = self.sender.resend_next()?;
        Some(match flight {
            Awaiting::PubComp => Transmit::Release(packet_id),
            Awaiting::PubAck | Awaiting::PubRec => {
                Transmit::Publish { packet_id: Some(packet_id), dup: true, delivery: delivery.clone() }
            }
        })
    }

    /// The entry of the flight of `packet_id` and what it awaits, if there is one.
    pub(crate) fn flight(&self, packet_id: PacketId) -> Option<(u64, Awaiting)> {
        self.sender.get(packet_id).map(|(delivery, flight)| (delivery.entry, flight))
    }

    /// PUBACK: ends a QoS 1 flight and returns what it delivered; `None` if no QoS 1 flight
    /// waits for it.
    pub(crate) fn acknowledge(&mut self, packet_id: PacketId) -> Option<Delivery> {
        let ended = self.sender.acknowledge(packet_id);
        self.ended(packet_id, ended, true)
    }

    /// PUBREC, with whether its reason code is a failure.
    pub(crate) fn received(&mut self, packet_id: PacketId, refused: bool) -> Received<()> {
        let first = self.sender.get(packet_id).is_some_and(|(_, flight)| flight == Awaiting::PubRec);
        match self.sender.received(packet_id, refused) {
            Received::Refused(delivery) => {
                self.ended(packet_id, Some(delivery), true);
                Received::Refused(())
            }
            Received::Release => {
                // From now on the message itself is never sent again: it is not held.
                if let Some((delivery, _)) = self.sender.get(packet_id).filter(|_| first) {
                    self.held_bytes -= delivery.message.footprint;
                }
                Received::Release
            }
            Received::Unknown => Received::Unknown,
        }
    }

    /// PUBCOMP: ends a QoS 2 flight and returns what it delivered; `None` if no flight waits
    /// for it.
    pub(crate) fn complete(&mut self, packet_id: PacketId) -> Option<Delivery> {
        let ended = self.sender.complete(packet_id);
        self.ended(packet_id, ended, false)
    }

    /// Forgets a flight whose PUBLISH could not be sent (too large for the client): the
    /// broker carries on as if it had been ([MQTT-3.1.2-25]).
    pub(crate) fn abandon(&mut self, packet_id: PacketId) {
        let ended = self.sender.remove(packet_id);
        self.ended(packet_id, ended, true);
    }

    /// A flight ended, if `ended` says so: its identifier is free, and its message is no
    /// longer held if it still was (`held`: not yet released by a PUBREC).
    fn ended(&mut self, packet_id: PacketId, ended: Option<Delivery>, held: bool) -> Option<Delivery> {
        let delivery = ended?;
        self.packet_ids.release(packet_id);
        if held {
            self.release(&delivery);
        }
        Some(delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::message::{Expiry, Message};
    use crate::codec::{MqttString, Properties};
    use bytes::Bytes;
    use std::sync::Arc;
    use std::time::Duration;

    fn delivery(payload: &'static str, qos: QoS) -> Delivery {
        Delivery {
            message: Arc::new(Message::new(
                MqttString::from_static("t").unwrap(),
                Bytes::from_static(payload.as_bytes()),
                qos,
                false,
                Properties::default(),
                None,
                Instant::now(),
            )),
            qos,
            retain: false,
            subscription_ids: Vec::new(),
            entry: 0,
        }
    }

    fn window(flights: usize) -> Window {
        Window { max_inflight: flights, receive_maximum: flights }
    }

    fn room(messages: usize) -> QueueLimits {
        QueueLimits { messages, bytes: usize::MAX }
    }

    fn sent(transmit: Option<Transmit>) -> (Option<u16>, bool, &'static str) {
        match transmit {
            Some(Transmit::Publish { packet_id, dup, delivery }) => {
                let payload: &'static str = match &delivery.message.payload[..] {
                    b"a" => "a",
                    b"b" => "b",
                    b"c" => "c",
                    _ => "?",
                };
                (packet_id.map(PacketId::get), dup, payload)
            }
            other => panic!("expected a PUBLISH, got {other:?}"),
        }
    }

    #[test]
    fn the_window_holds_back_qos1_and_everything_queued_behind_it() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        for (payload, qos) in [("a", QoS::AtLeastOnce), ("b", QoS::AtLeastOnce), ("c", QoS::AtMostOnce)] {
            outbound.enqueue(delivery(payload, qos), room(10)).unwrap();
        }
        assert_eq!(sent(outbound.next_transmit(window(1), now)), (Some(1), false, "a"));
        assert_eq!(outbound.next_transmit(window(1), now), None);
        assert!(outbound.acknowledge(PacketId::new(1).unwrap()).is_some());
        assert_eq!(sent(outbound.next_transmit(window(1), now)), (Some(2), false, "b"));
        assert!(outbound.acknowledge(PacketId::new(2).unwrap()).is_some());
        assert_eq!(sent(outbound.next_transmit(window(1), now)), (None, false, "c"));
        assert_eq!(outbound.next_transmit(window(1), now), None);
    }

    #[test]
    fn a_full_queue_hands_the_message_back() {
        let mut outbound = Outbound::default();
        outbound.enqueue(delivery("a", QoS::AtLeastOnce), room(1)).unwrap();
        assert!(outbound.enqueue(delivery("b", QoS::AtLeastOnce), room(1)).is_err());
        assert_eq!(outbound.queued(), 1);
    }

    #[test]
    fn the_bytes_held_are_bounded_and_given_back_as_flows_end() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        let one = delivery("a", QoS::ExactlyOnce).message.footprint;
        let limits = QueueLimits { messages: 100, bytes: 2 * one };
        for payload in ["a", "b"] {
            outbound.enqueue(delivery(payload, QoS::ExactlyOnce), limits).unwrap();
        }
        assert!(outbound.enqueue(delivery("c", QoS::AtMostOnce), limits).is_err(), "over the byte limit");
        assert_eq!(outbound.held_bytes(), 2 * one);
        outbound.next_transmit(window(10), now).unwrap();
        assert_eq!(outbound.held_bytes(), 2 * one, "a message in flight is still held");
        assert_eq!(outbound.received(PacketId::new(1).unwrap(), false), Received::Release);
        assert_eq!(outbound.held_bytes(), one, "a released flow no longer needs its message");
        outbound.next_transmit(window(10), now).unwrap();
        assert_eq!(outbound.received(PacketId::new(2).unwrap(), true), Received::Refused(()));
        assert_eq!(outbound.held_bytes(), 0);
    }

    #[test]
    fn an_empty_queue_takes_a_message_larger_than_the_byte_limit() {
        let mut outbound = Outbound::default();
        let limits = QueueLimits { messages: 10, bytes: 1 };
        outbound.enqueue(delivery("a", QoS::AtLeastOnce), limits).unwrap();
        assert!(outbound.enqueue(delivery("b", QoS::AtLeastOnce), limits).is_err());
    }

    #[test]
    fn resume_resends_each_flight_in_the_order_of_its_last_step_publishes_with_dup() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        for (payload, qos) in [("a", QoS::ExactlyOnce), ("b", QoS::AtLeastOnce), ("c", QoS::ExactlyOnce)] {
            outbound.enqueue(delivery(payload, qos), room(10)).unwrap();
            outbound.next_transmit(window(10), now).unwrap();
        }
        assert_eq!(outbound.received(PacketId::new(1).unwrap(), false), Received::Release);
        outbound.connection_closed();
        outbound.resume();
        // PUBLISHes in the order first sent [MQTT-4.6.0-1]; the PUBREL, its PUBREC the latest
        // step of all, after them.
        assert_eq!(sent(outbound.next_transmit(window(10), now)), (Some(2), true, "b"));
        assert_eq!(sent(outbound.next_transmit(window(10), now)), (Some(3), true, "c"));
        assert_eq!(outbound.next_transmit(window(10), now), Some(Transmit::Release(PacketId::new(1).unwrap())));
        assert_eq!(outbound.next_transmit(window(10), now), None);
    }

    #[test]
    fn resends_respect_a_smaller_window_on_the_new_connection() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        for payload in ["a", "b"] {
            outbound.enqueue(delivery(payload, QoS::AtLeastOnce), room(10)).unwrap();
            outbound.next_transmit(window(10), now).unwrap();
        }
        outbound.connection_closed();
        outbound.resume();
        assert_eq!(sent(outbound.next_transmit(window(1), now)), (Some(1), true, "a"));
        assert_eq!(outbound.next_transmit(window(1), now), None);
        assert!(outbound.acknowledge(PacketId::new(1).unwrap()).is_some());
        assert_eq!(sent(outbound.next_transmit(window(1), now)), (Some(2), true, "b"));
    }

    #[test]
    fn a_refused_pubrec_ends_the_flow_and_a_repeated_one_is_released_again() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        for payload in ["a", "b"] {
            outbound.enqueue(delivery(payload, QoS::ExactlyOnce), room(10)).unwrap();
            outbound.next_transmit(window(10), now).unwrap();
        }
        let (first, second) = (PacketId::new(1).unwrap(), PacketId::new(2).unwrap());
        assert_eq!(outbound.received(first, true), Received::Refused(()));
        assert_eq!(outbound.received(first, false), Received::Unknown);
        assert_eq!(outbound.received(second, false), Received::Release);
        assert_eq!(outbound.received(second, false), Received::Release);
        assert!(outbound.acknowledge(second).is_none(), "a PUBACK does not end a QoS 2 flow");
        assert_eq!(
            outbound.complete(second).map(|ended| ended.message.payload.clone()),
            Some(Bytes::from_static(b"b"))
        );
        assert_eq!(outbound.held_messages(), 0);
    }

    #[test]
    fn packet_ids_in_use_are_skipped() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        for payload in ["a", "b", "c"] {
            outbound.enqueue(delivery(payload, QoS::AtLeastOnce), room(10)).unwrap();
        }
        assert_eq!(sent(outbound.next_transmit(window(10), now)).0, Some(1));
        assert_eq!(sent(outbound.next_transmit(window(10), now)).0, Some(2));
        assert!(outbound.acknowledge(PacketId::new(1).unwrap()).is_some());
        assert_eq!(sent(outbound.next_transmit(window(10), now)).0, Some(3), "2 is in use, 1 just freed");
    }

    #[test]
    fn an_expired_message_leaves_the_queue_unsent() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        let mut expiring = delivery("a", QoS::AtLeastOnce);
        Arc::make_mut(&mut expiring.message).expiry = Expiry::At { received: now, interval: 1 };
        outbound.enqueue(expiring, room(10)).unwrap();
        let later = now + Duration::from_secs(1);
        assert!(matches!(outbound.next_transmit(window(10), later), Some(Transmit::Expired(_))));
        assert_eq!(outbound.next_transmit(window(10), later), None);
    }
}
