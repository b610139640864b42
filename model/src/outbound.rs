//! The sending half of QoS 1 and QoS 2 delivery, the same for a client and the broker.
//!
//! A message waits in `queue` until a packet id is free and the receiver's Receive Maximum
//! allows one more unacknowledged PUBLISH; it then becomes a `Flight` that lives until its
//! PUBACK (QoS 1) or PUBCOMP (QoS 2). Flights are kept in the order of their first
//! transmission (or, for a sender that resends by last step, of their last step), and resent
//! in an order that keeps PUBLISHes in their original order [MQTT-4.6.0-1] and PUBRELs in the
//! order of their PUBRECs [MQTT-4.6.0-4].

use crate::bits::Bits;
use crate::config::{Config, Qos, ResendOrder};
use crate::inline::Inline;
use crate::packet::{Message, Packet, PacketId};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Stage {
    /// QoS 1 PUBLISH sent, PUBACK not yet received.
    #[default]
    AwaitPubAck,
    /// QoS 2 PUBLISH sent, PUBREC not yet received.
    AwaitPubRec,
    /// QoS 2 PUBREL sent, PUBCOMP not yet received.
    AwaitPubComp,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flight {
    pub id: PacketId,
    pub message: Message,
    pub stage: Stage,
}

/// Room for flights: one per packet id (at most [`Bits::MAX`]), and one more for a seeded bug
/// that reuses an id still in flight.
pub const MAX_FLIGHTS: usize = 8;

/// Room for queued messages: every application message and will ([`Bits`] holds 8) and
/// copies of them (a QoS 1 message taken twice, retained copies).
pub const MAX_QUEUED: usize = 16;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Outbound {
    pub flights: Inline<Flight, MAX_FLIGHTS>,
    pub queue: Inline<Message, MAX_QUEUED>,
}

/// What a PUBLISH of a message carries besides its packet id and DUP flag, as its sender
/// decides it for each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub qos: Qos,
    pub retain: bool,
}

/// What bounds a sender when it starts new flights.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Ids `1..=packet_ids` may be used.
    pub packet_ids: u8,
    /// Maximum number of flights (the receiver's Receive Maximum), if any.
    pub quota: Option<u8>,
    /// An id in use by something else (a SUBSCRIBE awaiting its SUBACK).
    pub reserved: Option<PacketId>,
    /// Seeded bug: ids awaiting PUBCOMP count as free.
    pub free_id_at_pubrec: bool,
}

impl Outbound {
    /// Every message this sender still owns a publication of, in flight or queued, as the
    /// ghost counts it: an application message by its index, a will by
    /// [`Config::will_message`] (a retained copy is not one).
    pub fn messages(&self, config: &Config) -> Bits {
        let publication = |m: Message| match m {
            Message::App(n) => Some(n),
            Message::Will(w) => Some(config.will_message(w)),
            Message::Retained { .. } => None,
        };
        self.flights.iter().map(|f| f.message).chain(self.queue.iter().copied()).filter_map(publication).collect()
    }

    pub fn is_idle(&self) -> bool {
        self.flights.is_empty() && self.queue.is_empty()
    }

    fn id_in_use(&self, id: PacketId, limits: &Limits) -> bool {
        limits.reserved == Some(id)
            || self.flights.iter().any(|f| f.id == id && !(limits.free_id_at_pubrec && f.stage == Stage::AwaitPubComp))
    }

    /// The lowest packet id not in use [MQTT-2.3.1-2] / [MQTT-2.2.1-3].
    pub fn free_id(&self, limits: &Limits) -> Option<PacketId> {
        (1..=limits.packet_ids).find(|&id| !self.id_in_use(id, limits))
    }

    fn has_quota(&self, limits: &Limits) -> bool {
        limits.quota.is_none_or(|quota| self.flights.len() < usize::from(quota))
    }

    /// Starts as many queued messages as the limits allow, in queue order, and returns the
    /// PUBLISH packets to send (first transmissions, DUP=0).
    pub fn start_queued(&mut self, header_of: impl Fn(Message) -> Header, limits: &Limits) -> Vec<Packet> {
        let mut sent = Vec::new();
        while let Some(&message) = self.queue.first() {
            let header = header_of(message);
            if header.qos == Qos::AtMostOnce {
                // Only a seeded bug ever queues QoS 0; it goes out without a flight.
                self.queue.remove(0);
                sent.push(publish(0, message, header, false));
                continue;
            }
            if !self.has_quota(limits) {
                break;
            }
            let Some(id) = self.free_id(limits) else {
                break;
            };
            self.queue.remove(0);
            let stage = match header.qos {
                Qos::AtLeastOnce => Stage::AwaitPubAck,
                _ => Stage::AwaitPubRec,
            };
            self.flights.push(Flight { id, message, stage });
            sent.push(publish(id, message, header, false));
        }
        sent
    }

    /// The packets to resend on a resumed session [MQTT-4.4.0-1], in `order`: the PUBLISH of
    /// every flight not yet acknowledged (with `dup`, which is true unless a bug is seeded),
    /// and the PUBREL of every flight awaiting PUBCOMP.
    pub fn resend(&self, header_of: impl Fn(Message) -> Header, dup: bool, order: ResendOrder) -> Vec<Packet> {
        let packet = |f: &Flight| match f.stage {
            Stage::AwaitPubAck | Stage::AwaitPubRec => publish(f.id, f.message, header_of(f.message), dup),
            Stage::AwaitPubComp => Packet::PubRel(f.id),
        };
        match order {
            ResendOrder::FirstTransmission | ResendOrder::LastStep => self.flights.iter().map(packet).collect(),
            ResendOrder::ReleasesFirst => {
                let (releases, publishes): (Vec<&Flight>, Vec<&Flight>) =
                    self.flights.iter().partition(|f| f.stage == Stage::AwaitPubComp);
                releases.into_iter().chain(publishes).map(packet).collect()
            }
        }
    }

    /// Seeded bug: the PUBLISH of a flight instead of its PUBREL.
    pub fn publish_in_place_of_release(
        &self,
        packet: Packet,
        header_of: impl Fn(Message) -> Header,
        dup: bool,
    ) -> Packet {
        match packet {
            Packet::PubRel(id) => self
                .flights
                .iter()
                .find(|f| f.id == id)
                .map_or(packet, |f| publish(f.id, f.message, header_of(f.message), dup)),
            other => other,
        }
    }

    /// PUBACK received: the QoS 1 flight is over.
    pub fn on_puback(&mut self, id: PacketId) {
        self.flights.retain(|f| !(f.id == id && f.stage == Stage::AwaitPubAck));
    }

    /// PUBREC received: the PUBLISH is acknowledged, the PUBREL is sent and awaits PUBCOMP.
    /// A sender that resends by last step moves the flight behind the others.
    pub fn on_pubrec(&mut self, id: PacketId, order: ResendOrder) -> Option<Packet> {
        let position = self.flights.iter().position(|f| f.id == id && f.stage != Stage::AwaitPubAck)?;
        let mut flight = self.flights.remove(position);
        flight.stage = Stage::AwaitPubComp;
        if order == ResendOrder::LastStep {
            self.flights.push(flight);
        } else {
            self.flights.insert(position, flight);
        }
        Some(Packet::PubRel(id))
    }

    /// PUBREC of 0x80 or more received: the QoS 2 flight is over, its id free, with no PUBREL
    /// ([MQTT-4.3.3-4], [MQTT-4.4.0-2]).
    pub fn on_pubrec_refused(&mut self, id: PacketId) {
        self.flights.retain(|f| !(f.id == id && f.stage == Stage::AwaitPubRec));
    }

    /// PUBCOMP received: the QoS 2 flight is over.
    pub fn on_pubcomp(&mut self, id: PacketId) {
        self.flights.retain(|f| !(f.id == id && f.stage == Stage::AwaitPubComp));
    }
}

fn publish(id: PacketId, message: Message, header: Header, dup: bool) -> Packet {
    Packet::Publish { id, message, qos: header.qos, dup, retain: header.retain }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(message: Message) -> Header {
        let Message::App(n) = message else { unreachable!("only application messages here") };
        header([Qos::AtLeastOnce, Qos::ExactlyOnce, Qos::ExactlyOnce][usize::from(n)])
    }

    fn header(qos: Qos) -> Header {
        Header { qos, retain: false }
    }

    fn app(messages: &[u8]) -> Inline<Message, MAX_QUEUED> {
        messages.iter().map(|&n| Message::App(n)).collect()
    }

    fn limits(packet_ids: u8, quota: Option<u8>) -> Limits {
        Limits { packet_ids, quota, reserved: None, free_id_at_pubrec: false }
    }

    #[test]
    fn starts_queued_messages_while_ids_and_quota_last() {
        let mut out = Outbound { queue: app(&[0, 1, 2]), ..Outbound::default() };
        let sent = out.start_queued(header_of, &limits(3, Some(2)));
        assert_eq!(sent.len(), 2);
        assert_eq!(out.queue, app(&[2]));
        out.on_puback(1);
        let sent = out.start_queued(header_of, &limits(3, Some(2)));
        assert_eq!(
            sent,
            vec![publish(1, Message::App(2), header(Qos::ExactlyOnce), false)],
            "id 1 is free again after its PUBACK"
        );
    }

    #[test]
    fn qos2_id_stays_in_use_until_pubcomp() {
        let mut out = Outbound { queue: app(&[1, 2]), ..Outbound::default() };
        out.start_queued(header_of, &limits(1, None));
        assert_eq!(out.on_pubrec(1, ResendOrder::FirstTransmission), Some(Packet::PubRel(1)));
        assert!(out.start_queued(header_of, &limits(1, None)).is_empty());
        let buggy = Limits { free_id_at_pubrec: true, ..limits(1, None) };
        assert_eq!(out.free_id(&buggy), Some(1));
        out.on_pubcomp(1);
        assert_eq!(out.start_queued(header_of, &limits(1, None)).len(), 1);
    }

    #[test]
    fn resends_in_original_order() {
        let mut out = Outbound { queue: app(&[0, 1]), ..Outbound::default() };
        out.start_queued(header_of, &limits(2, None));
        out.on_pubrec(2, ResendOrder::FirstTransmission);
        assert_eq!(
            out.resend(header_of, true, ResendOrder::FirstTransmission),
            vec![publish(1, Message::App(0), header(Qos::AtLeastOnce), true), Packet::PubRel(2)]
        );
    }

    /// Flights m1 (id 1), m2 (id 2) and m0 (id 3); the middle one has had its PUBREC.
    fn three_flights_one_released(order: ResendOrder) -> Outbound {
        let mut out = Outbound { queue: app(&[1, 2, 0]), ..Outbound::default() };
        out.start_queued(header_of, &limits(3, None));
        out.on_pubrec(2, order);
        out
    }

    #[test]
    fn every_resend_order_keeps_publishes_and_releases_in_their_own_order() {
        let qos2 = |id, n| publish(id, Message::App(n), header(Qos::ExactlyOnce), true);
        let qos1 = |id, n| publish(id, Message::App(n), header(Qos::AtLeastOnce), true);
        let resent = |order| three_flights_one_released(order).resend(header_of, true, order);
        assert_eq!(resent(ResendOrder::FirstTransmission), vec![qos2(1, 1), Packet::PubRel(2), qos1(3, 0)]);
        assert_eq!(resent(ResendOrder::LastStep), vec![qos2(1, 1), qos1(3, 0), Packet::PubRel(2)]);
        assert_eq!(resent(ResendOrder::ReleasesFirst), vec![Packet::PubRel(2), qos2(1, 1), qos1(3, 0)]);
    }
}
