//! PUBLISH both ways and the acknowledgements of its QoS 1 and 2 flows (sections 3.3 to 3.7
//! and 4.3): the `publish` command, and what each PUBLISH, PUBACK, PUBREC, PUBREL and PUBCOMP
//! from the server means.

use std::time::Instant;

use bytes::Bytes;

use super::Client;
use super::error::{CommandError, ProtocolViolation};
use super::event::{Event, PublishTicket};
use super::outbound::Outgoing;
use super::transmit::MEASURING_ID;
use crate::codec::{MqttString, Packet, PacketId, PacketType, Properties, Publish, PublishAck, QoS, ReasonCode};
use crate::session::sender::{Awaiting, Received};

impl Client {
    /// Accepts a message for the server; it is written as soon as the connection and the
    /// room in flight allow. A QoS 1 or 2 message waits for a connection if there is none;
    /// a QoS 0 message needs one. The properties must leave the topic alias to the client
    /// and carry no subscription identifier [MQTT-3.3.4-6].
    pub fn publish(
        &mut self,
        now: Instant,
        topic: MqttString,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        properties: Properties,
    ) -> Result<PublishTicket, CommandError> {
        if let Some(connection) = self.connection.as_mut() {
            connection.advance(now);
        }
        if properties.topic_alias.is_some() {
            return Err(CommandError::TopicAliasReserved);
        }
        if !properties.subscription_identifiers.is_empty() {
            return Err(CommandError::SubscriptionIdentifierInPublish);
        }
        let packet_id = (qos != QoS::AtMostOnce).then_some(MEASURING_ID);
        let mut publish = Publish { dup: false, qos, retain, topic, packet_id, properties, payload };
        let size = self.measure(&Packet::Publish(publish.clone()))?;
        match &self.connection {
            Some(connection) => {
                connection.limits.check_publish(&publish)?;
                connection.limits.check_size(size)?;
            }
            None if qos == QoS::AtMostOnce => return Err(CommandError::NoConnection),
            None => {}
        }
        if self.queue.is_full() {
            return Err(CommandError::QueueFull { max: self.queue.max() });
        }
        if publish.packet_id.is_some() {
            publish.packet_id = Some(self.packet_ids.allocate().ok_or(CommandError::PacketIdsExhausted)?);
        }
        let ticket = PublishTicket::new(self.next_ticket, publish.packet_id, qos);
        self.next_ticket += 1;
        self.trace_publish_requested(now, &publish);
        self.queue.push(Outgoing { ticket, publish });
        Ok(ticket)
    }

    /// A message: QoS 0 is delivered; QoS 1 is delivered and acknowledged with PUBACK; QoS 2
    /// is delivered once, acknowledged with PUBREC every time, and remembered until its PUBREL
    /// ([MQTT-3.3.4-1], [MQTT-4.5.0-2]; [MQTT-4.3.2-2] and [MQTT-4.3.3-2] in 3.1.1,
    /// [MQTT-4.3.2-4], [MQTT-4.3.3-8] and [MQTT-4.3.3-10] in 5.0).
    pub(super) fn on_publish(&mut self, now: Instant, mut publish: Publish) -> Result<(), ProtocolViolation> {
        let Some(connection) = self.connection.as_mut() else { return Ok(()) };
        connection.inbound_aliases.resolve(&mut publish)?;
        if let Some(packet_id) = publish.packet_id {
            connection.unanswered.received(packet_id)?;
            if publish.qos == QoS::ExactlyOnce {
                let first_delivery = self.session.awaiting_release.insert(packet_id);
                connection.control.push_back(Packet::PubRec(PublishAck::new(packet_id)));
                if !first_delivery {
                    return Ok(());
                }
            } else {
                connection.control.push_back(Packet::PubAck(PublishAck::new(packet_id)));
            }
        }
        self.trace_delivered(now, &publish);
        self.events.push(Event::Message(publish));
        Ok(())
    }

    /// PUBREL releases a QoS 2 message: PUBCOMP answers it, known or not; MQTT 5 says when
    /// it was not ([MQTT-4.3.3-11], section 3.7.2.1).
    pub(super) fn on_pubrel(&mut self, pubrel: PublishAck) -> Result<(), ProtocolViolation> {
        let released = self.session.awaiting_release.release(pubrel.packet_id);
        let mut pubcomp = PublishAck::new(pubrel.packet_id);
        if !released && self.options.protocol_version.is_v5() {
            pubcomp.reason_code = ReasonCode::PacketIdentifierNotFound;
        }
        if let Some(connection) = self.connection.as_mut() {
            connection.control.push_back(Packet::PubComp(pubcomp));
        }
        Ok(())
    }

    pub(super) fn on_puback(&mut self, ack: PublishAck) -> Result<(), ProtocolViolation> {
        let ticket = self.awaiting(PacketType::PubAck, ack.packet_id, Awaiting::PubAck)?;
        self.complete(ack.packet_id);
        self.events.push(Event::PubAck { ticket, ack });
        Ok(())
    }

    /// PUBREC: a success moves the publish on to PUBREL [MQTT-4.3.3-4]; a failure (MQTT 5)
    /// completes it, not to be sent again [MQTT-4.4.0-2].
    pub(super) fn on_pubrec(&mut self, ack: PublishAck) -> Result<(), ProtocolViolation> {
        let ticket = self.awaiting(PacketType::PubRec, ack.packet_id, Awaiting::PubRec)?;
        match self.session.in_flight.received(ack.packet_id, ack.reason_code.is_failure()) {
            Received::Refused(_) => self.packet_ids.release(ack.packet_id),
            Received::Release => {
                if let Some(connection) = self.connection.as_mut() {
                    connection.control.push_back(Packet::PubRel(PublishAck::new(ack.packet_id)));
                }
            }
            Received::Unknown => {}
        }
        self.events.push(Event::PubRec { ticket, ack });
        Ok(())
    }

    pub(super) fn on_pubcomp(&mut self, ack: PublishAck) -> Result<(), ProtocolViolation> {
        let ticket = self.awaiting(PacketType::PubComp, ack.packet_id, Awaiting::PubComp)?;
        self.complete(ack.packet_id);
        self.events.push(Event::PubComp { ticket, ack });
        Ok(())
    }

    /// The publish in flight that `packet` may acknowledge; any other identifier is one the
    /// server made up or confused.
    fn awaiting(
        &self,
        packet: PacketType,
        packet_id: PacketId,
        flight: Awaiting,
    ) -> Result<PublishTicket, ProtocolViolation> {
        self.session
            .in_flight
            .get(packet_id)
            .filter(|(_, stage)| *stage == flight)
            .map(|(outgoing, _)| outgoing.ticket)
            .ok_or(ProtocolViolation::UnknownPacketId { packet, packet_id })
    }

    /// A publish is done: its identifier is free again.
    fn complete(&mut self, packet_id: PacketId) {
        if self.session.in_flight.remove(packet_id).is_some() {
            self.packet_ids.release(packet_id);
        }
    }
}
