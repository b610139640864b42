//! One session's messages toward its client: the window of QoS 1 and 2 messages in flight,
//! and the queue of messages waiting behind it (or for the client to come back).
//!
//! Order is kept: messages leave the queue in the order they entered it, and after a
//! reconnection the unfinished ones are sent again in the order they were first sent
//! ([MQTT-4.6.0-6] in 3.1.1, [MQTT-4.6.0-5] in 5.0). The queue is strictly first in, first
//! out: a QoS 0 message waits behind a QoS 1 message the window has no room for.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use crate::codec::{PacketId, QoS};

use super::message::Delivery;

/// What to send next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transmit {
    /// A PUBLISH: new (`dup` false) or sent again after a reconnection (`dup` true,
    /// [MQTT-3.3.1-1]).
    Publish { packet_id: Option<PacketId>, dup: bool, delivery: Delivery },
    /// A queued message whose expiry passed before it could be sent; it is gone.
    Expired(Delivery),
}

/// What a PUBREC from the client means for the flow it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// Answer with PUBREL: the flow moved on, or the PUBREC was a repeat.
    Release,
    /// The client refused the message (reason code 0x80 or above); the flow is over
    /// ([MQTT-4.4.0-2]).
    Refused,
    /// No QoS 2 flow has this identifier.
    Unknown,
}

#[derive(Debug, Clone)]
enum Stage {
    /// PUBLISH sent (or to be sent again), waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published { delivery: Delivery, needs_resend: bool },
    /// PUBREL sent, waiting for PUBCOMP. The message itself is never sent again
    /// ([MQTT-4.3.3-1] in 3.1.1, [MQTT-4.3.3-6] in 5.0).
    Released,
}

#[derive(Debug, Clone)]
struct Inflight {
    packet_id: PacketId,
    stage: Stage,
}

#[derive(Debug, Default)]
pub(crate) struct Outbound {
    /// By the order in which the flows started.
    inflight: BTreeMap<u64, Inflight>,
    by_packet_id: HashMap<PacketId, u64>,
    next_seq: u64,
    next_packet_id: u16,
    queue: VecDeque<Delivery>,
    /// Flows that count against the client's Receive Maximum on this connection: all but
    /// the PUBLISHes still to be sent again.
    in_window: usize,
    awaiting_resend: usize,
    /// The footprints of the messages queued or in flight (until their PUBACK or PUBREC:
    /// a released flow no longer needs its message).
    held_bytes: usize,
}

/// How much a session's queue takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueLimits {
    /// Messages waiting in the queue.
    pub(crate) messages: usize,
    /// Bytes of messages waiting or in flight.
    pub(crate) bytes: usize,
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

    /// The messages queued or in flight.
    pub(crate) fn held_messages(&self) -> usize {
        self.queue.len() + self.inflight.len()
    }

    /// The bytes of the messages queued or in flight.
    pub(crate) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// A message the session no longer holds.
    fn release(&mut self, delivery: &Delivery) {
        self.held_bytes -= delivery.message.footprint;
    }

    /// Messages waiting in the queue.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    #[cfg(test)]
    fn inflight(&self) -> usize {
        self.inflight.len()
    }

    /// A new connection takes over the session: every PUBLISH in flight is to be sent
    /// again, and the identifiers of the flows that need their PUBREL again are returned in
    /// order ([MQTT-4.4.0-1]).
    pub(crate) fn resume(&mut self) -> Vec<PacketId> {
        let mut releases = Vec::new();
        self.awaiting_resend = 0;
        for flow in self.inflight.values_mut() {
            match &mut flow.stage {
                Stage::Published { needs_resend, .. } => {
                    *needs_resend = true;
                    self.awaiting_resend += 1;
                }
                Stage::Released => releases.push(flow.packet_id),
            }
        }
        self.in_window = releases.len();
        releases
    }

    /// The next PUBLISH to send with `window` flows allowed in flight: first what a
    /// reconnection left to send again, then the queue. `None` when nothing can go now.
    pub(crate) fn next_transmit(&mut self, window: usize, now: Instant) -> Option<Transmit> {
        if self.awaiting_resend > 0 {
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
        if self.in_window >= window {
            return None;
        }
        let packet_id = self.allocate_packet_id()?;
        let delivery = self.queue.pop_front()?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.inflight.insert(
            seq,
            Inflight { packet_id, stage: Stage::Published { delivery: delivery.clone(), needs_resend: false } },
        );
        self.by_packet_id.insert(packet_id, seq);
        self.in_window += 1;
        Some(Transmit::Publish { packet_id: Some(packet_id), dup: false, delivery })
    }

    fn next_resend(&mut self, window: usize) -> Option<Transmit> {
        if self.in_window >= window {
            return None;
        }
        let flow = self
            .inflight
            .values_mut()
            .find(|flow| matches!(flow.stage, Stage::Published { needs_resend: true, .. }))?;
        let Stage::Published { delivery, needs_resend } = &mut flow.stage else { return None };
        *needs_resend = false;
        self.awaiting_resend -= 1;
        self.in_window += 1;
        Some(Transmit::Publish { packet_id: Some(flow.packet_id), dup: true, delivery: delivery.clone() })
    }

    /// An identifier no flow of this session uses ([MQTT-2.3.1-4] in 3.1.1, [MQTT-2.2.1-4]
    /// in 5.0). The window is far below 65535, so one is always free.
    fn allocate_packet_id(&mut self) -> Option<PacketId> {
        for _ in 0..u16::MAX {
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            let id = PacketId::new(self.next_packet_id)?;
            if !self.by_packet_id.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }

    /// PUBACK: ends a QoS 1 flow. False if no QoS 1 flow waits for it.
    pub(crate) fn acknowledge(&mut self, packet_id: PacketId) -> bool {
        self.finish_if(
            packet_id,
            |stage| matches!(stage, Stage::Published { delivery, .. } if delivery.qos == QoS::AtLeastOnce),
        )
    }

    /// PUBREC, with whether its reason code is a failure.
    pub(crate) fn received(&mut self, packet_id: PacketId, refused: bool) -> Received {
        let Some(flow) = self.by_packet_id.get(&packet_id).and_then(|seq| self.inflight.get_mut(seq)) else {
            return Received::Unknown;
        };
        match &flow.stage {
            Stage::Released => Received::Release,
            Stage::Published { delivery, .. } if delivery.qos != QoS::ExactlyOnce => Received::Unknown,
            Stage::Published { .. } if refused => {
                self.finish_if(packet_id, |_| true);
                Received::Refused
            }
            Stage::Published { .. } => {
                if let Stage::Published { delivery, .. } = std::mem::replace(&mut flow.stage, Stage::Released) {
                    self.release(&delivery);
                }
                Received::Release
            }
        }
    }

    /// PUBCOMP: ends a QoS 2 flow. False if no flow waits for it.
    pub(crate) fn complete(&mut self, packet_id: PacketId) -> bool {
        self.finish_if(packet_id, |stage| matches!(stage, Stage::Released))
    }

    /// Forgets a flow whose PUBLISH could not be sent (too large for the client): the
    /// broker carries on as if it had been ([MQTT-3.1.2-25]).
    pub(crate) fn abandon(&mut self, packet_id: PacketId) {
        self.finish_if(packet_id, |_| true);
    }

    fn finish_if(&mut self, packet_id: PacketId, wanted: impl FnOnce(&Stage) -> bool) -> bool {
        let Some(&seq) = self.by_packet_id.get(&packet_id) else { return false };
        let Some(flow) = self.inflight.get(&seq) else { return false };
        if !wanted(&flow.stage) {
            return false;
        }
        if matches!(flow.stage, Stage::Published { needs_resend: true, .. }) {
            self.awaiting_resend -= 1;
        } else {
            self.in_window -= 1;
        }
        if let Some(Inflight { stage: Stage::Published { delivery, .. }, .. }) = self.inflight.remove(&seq) {
            self.release(&delivery);
        }
        self.by_packet_id.remove(&packet_id);
        true
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
        }
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
        assert_eq!(sent(outbound.next_transmit(1, now)), (Some(1), false, "a"));
        assert_eq!(outbound.next_transmit(1, now), None);
        assert!(outbound.acknowledge(PacketId::new(1).unwrap()));
        assert_eq!(sent(outbound.next_transmit(1, now)), (Some(2), false, "b"));
        assert!(outbound.acknowledge(PacketId::new(2).unwrap()));
        assert_eq!(sent(outbound.next_transmit(1, now)), (None, false, "c"));
        assert_eq!(outbound.next_transmit(1, now), None);
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
        outbound.next_transmit(10, now).unwrap();
        assert_eq!(outbound.held_bytes(), 2 * one, "a message in flight is still held");
        assert_eq!(outbound.received(PacketId::new(1).unwrap(), false), Received::Release);
        assert_eq!(outbound.held_bytes(), one, "a released flow no longer needs its message");
        outbound.next_transmit(10, now).unwrap();
        assert_eq!(outbound.received(PacketId::new(2).unwrap(), true), Received::Refused);
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
    fn resume_resends_publishes_with_dup_in_order_and_releases_first() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        for (payload, qos) in [("a", QoS::ExactlyOnce), ("b", QoS::AtLeastOnce), ("c", QoS::ExactlyOnce)] {
            outbound.enqueue(delivery(payload, qos), room(10)).unwrap();
            outbound.next_transmit(10, now).unwrap();
        }
        assert_eq!(outbound.received(PacketId::new(1).unwrap(), false), Received::Release);
        let releases = outbound.resume();
        assert_eq!(releases, vec![PacketId::new(1).unwrap()]);
        assert_eq!(sent(outbound.next_transmit(10, now)), (Some(2), true, "b"));
        assert_eq!(sent(outbound.next_transmit(10, now)), (Some(3), true, "c"));
        assert_eq!(outbound.next_transmit(10, now), None);
    }

    #[test]
    fn resends_respect_a_smaller_window_on_the_new_connection() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        for payload in ["a", "b"] {
            outbound.enqueue(delivery(payload, QoS::AtLeastOnce), room(10)).unwrap();
            outbound.next_transmit(10, now).unwrap();
        }
        outbound.resume();
        assert_eq!(sent(outbound.next_transmit(1, now)), (Some(1), true, "a"));
        assert_eq!(outbound.next_transmit(1, now), None);
        assert!(outbound.acknowledge(PacketId::new(1).unwrap()));
        assert_eq!(sent(outbound.next_transmit(1, now)), (Some(2), true, "b"));
    }

    #[test]
    fn a_refused_pubrec_ends_the_flow_and_a_repeated_one_is_released_again() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        for payload in ["a", "b"] {
            outbound.enqueue(delivery(payload, QoS::ExactlyOnce), room(10)).unwrap();
            outbound.next_transmit(10, now).unwrap();
        }
        let (first, second) = (PacketId::new(1).unwrap(), PacketId::new(2).unwrap());
        assert_eq!(outbound.received(first, true), Received::Refused);
        assert_eq!(outbound.received(first, false), Received::Unknown);
        assert_eq!(outbound.received(second, false), Received::Release);
        assert_eq!(outbound.received(second, false), Received::Release);
        assert!(!outbound.acknowledge(second), "a PUBACK does not end a QoS 2 flow");
        assert!(outbound.complete(second));
        assert_eq!(outbound.inflight(), 0);
    }

    #[test]
    fn packet_ids_in_use_are_skipped() {
        let now = Instant::now();
        let mut outbound = Outbound { next_packet_id: u16::MAX - 1, ..Outbound::default() };
        for payload in ["a", "b", "c"] {
            outbound.enqueue(delivery(payload, QoS::AtLeastOnce), room(10)).unwrap();
        }
        assert_eq!(sent(outbound.next_transmit(10, now)).0, Some(u16::MAX));
        assert_eq!(sent(outbound.next_transmit(10, now)).0, Some(1));
        outbound.next_packet_id = u16::MAX - 1;
        assert_eq!(sent(outbound.next_transmit(10, now)).0, Some(2), "65535 and 1 are in use");
    }

    #[test]
    fn an_expired_message_leaves_the_queue_unsent() {
        let now = Instant::now();
        let mut outbound = Outbound::default();
        let mut expiring = delivery("a", QoS::AtLeastOnce);
        Arc::make_mut(&mut expiring.message).expiry = Expiry::At { received: now, interval: 1 };
        outbound.enqueue(expiring, room(10)).unwrap();
        let later = now + Duration::from_secs(1);
        assert!(matches!(outbound.next_transmit(10, later), Some(Transmit::Expired(_))));
        assert_eq!(outbound.next_transmit(10, later), None);
    }
}
