//! PUBLISH from a client and the acknowledgements of both directions' QoS flows
//! (sections 3.3 to 3.7 and 4.3).

use std::time::Instant;

use crate::codec::{
    MqttString, Packet, PacketId, PayloadFormat, ProtocolVersion, Publish, PublishAck, QoS, ReasonCode,
};

use super::ConnId;
use super::core::Broker;
use super::error::ProtocolError;
use super::event::{Event, RetainedDropReason};
use super::message::Message;
use super::outbound::Received;
use super::policy::Policy;
use super::session::SessionId;
use crate::session::ProtocolViolation;
use crate::session::sender::Awaiting;

impl<P: Policy> Broker<P> {
    pub(super) fn handle_publish(&mut self, conn: ConnId, session: SessionId, mut publish: Publish, now: Instant) {
        let Some(connection) = self.connections.get_mut(&conn) else { return };
        let version = connection.version;
        if let Err(violation) = self.check_publish(conn, &mut publish) {
            return self.protocol_error(conn, ProtocolError::new(violation, version), now);
        }
        let Some(packet_id) = publish.packet_id else {
            self.accept_publish(conn, publish, now);
            return;
        };
        // Within the broker's Receive Maximum ([MQTT-3.3.4-7] in 5.0; a limit of its own in
        // 3.1.1): QoS 1 and 2 messages not yet answered for good.
        if let Err(violation) = self.connections.get_mut(&conn).map_or(Ok(()), |c| c.unanswered.received(packet_id)) {
            return self.protocol_error(conn, ProtocolError::new(violation, version), now);
        }
        if publish.qos == QoS::AtLeastOnce {
            // [MQTT-4.3.2-2] in 3.1.1, [MQTT-4.3.2-4] in 5.0.
            let accepted = self.accept_publish(conn, publish, now);
            return self.answer(conn, Packet::PubAck(ack(version, packet_id, accepted)), now);
        }
        let Some(state) = self.sessions.get_mut(&session) else { return };
        if state.awaiting_release.contains(packet_id) {
            // A repeat of a message already routed: PUBREC again, never a second delivery
            // ([MQTT-4.3.3-2] in 3.1.1, [MQTT-4.3.3-10] in 5.0).
            return self.send(conn, Packet::PubRec(PublishAck::new(packet_id)), now);
        }
        // The same bound across connections: a client that never releases its QoS 2
        // messages cannot pile them up by reconnecting.
        let maximum = self.options.receive_maximum.get();
        if state.awaiting_release.len() >= usize::from(maximum) {
            let violation = ProtocolViolation::ReceiveMaximumExceeded { maximum };
            return self.protocol_error(conn, ProtocolError::new(violation, version), now);
        }
        let accepted = self.accept_publish(conn, publish, now);
        let refused = accepted.code.is_failure();
        let pubrec = Packet::PubRec(ack(version, packet_id, accepted));
        // A refusal ends the flow here ([MQTT-4.3.3-9]); otherwise the identifier is kept
        // until PUBREL ([MQTT-4.3.3-2] in 3.1.1, [MQTT-4.3.3-8] in 5.0).
        if refused {
            return self.answer(conn, pubrec, now);
        }
        if let Some(state) = self.sessions.get_mut(&session) {
            state.awaiting_release.insert(packet_id);
        }
        self.store_session(session);
        self.send(conn, pubrec, now);
    }

    /// Sends the last answer of a QoS 1 or 2 exchange from the client, which frees its place
    /// within the broker's Receive Maximum.
    fn answer(&mut self, conn: ConnId, packet: Packet, now: Instant) {
        let packet_id = match &packet {
            Packet::PubAck(ack) | Packet::PubRec(ack) | Packet::PubComp(ack) => Some(ack.packet_id),
            _ => None,
        };
        self.send(conn, packet, now);
        if let (Some(connection), Some(packet_id)) = (self.connections.get_mut(&conn), packet_id) {
            connection.unanswered.answered(packet_id);
        }
    }

    /// The rules about a PUBLISH that depend on the connection and the broker's limits.
    fn check_publish(&mut self, conn: ConnId, publish: &mut Publish) -> Result<(), ProtocolViolation> {
        let Some(connection) = self.connections.get_mut(&conn) else { return Ok(()) };
        if connection.version.is_v5() {
            connection.inbound_aliases.resolve(publish)?;
            if !publish.properties.subscription_identifiers.is_empty() {
                return Err(ProtocolViolation::SubscriptionIdentifierFromClient);
            }
        }
        if publish.qos > self.options.maximum_qos {
            return Err(ProtocolViolation::QosNotSupported { qos: publish.qos, max: self.options.maximum_qos });
        }
        if publish.retain && !self.options.retain_available {
            return Err(ProtocolViolation::RetainNotSupported);
        }
        Ok(())
    }

    /// Takes ownership of the message of a valid PUBLISH and routes it, unless its payload
    /// is not the UTF-8 it claims, its topic does not fit an MQTT string once under the
    /// listener's mount point (MQTT 5: 0x90 Topic Name invalid) or the policy refuses it. Returns the reason code of the
    /// acknowledgement, in MQTT 5 terms, and why a retained copy was not kept.
    fn accept_publish(&mut self, conn: ConnId, mut publish: Publish, now: Instant) -> Accepted {
        let Some(connection) = self.connections.get(&conn) else { return ReasonCode::UnspecifiedError.into() };
        if publish.properties.payload_format_indicator == Some(PayloadFormat::Utf8)
            && std::str::from_utf8(&publish.payload).is_err()
        {
            return ReasonCode::PayloadFormatInvalid.into();
        }
        // The topic as stored, under the listener's mount point; the policy judges that one,
        // as mosquitto's ACL check does (`handle__publish`).
        if let Some(mount_point) = &connection.mount_point {
            match mount_point.mount_topic(&publish.topic) {
                Some(topic) => publish.topic = topic,
                None => return ReasonCode::TopicNameInvalid.into(),
            }
        }
        let client = Self::client_info(connection);
        let client_id = connection.client_id.clone();
        if !self.policy.may_publish(client, &publish.topic) {
            let client_id = client_id.unwrap_or_default();
            self.stats.publishes_denied += 1;
            self.events.push(Event::PublishDenied { client_id, topic: publish.topic });
            return ReasonCode::NotAuthorized.into();
        }
        let Publish { qos, retain, topic, properties, payload, .. } = publish;
        // A copy of the topic of its own: the event may outlive the packet's buffer.
        let reported = self.options.message_events.then(|| (client_id.clone().unwrap_or_default(), topic.detached()));
        let message = Message::new(topic, payload, qos, retain, properties, client_id, now);
        self.stats.messages_received += 1;
        let routed = self.publish_message(message, Some(conn));
        let sessions = routed.sessions;
        if let Some((client_id, topic)) = reported {
            self.events.push(Event::MessagePublished { client_id, topic, qos, retain, sessions });
        }
        let code = match sessions {
            0 => ReasonCode::NoMatchingSubscribers,
            _ => ReasonCode::Success,
        };
        Accepted { code, retained_refused: routed.retained_refused }
    }

    /// PUBACK: the client has a QoS 1 message; the window has room for another.
    pub(super) fn handle_puback(&mut self, session: SessionId, packet_id: PacketId) {
        let Some(state) = self.sessions.get_mut(&session) else { return };
        if let Some(delivery) = state.outbound.acknowledge(packet_id) {
            self.store_removed(session, delivery.entry);
            self.report_delivered(session, &delivery);
            self.pump(session);
        }
    }

    /// PUBREC: answered with PUBREL ([MQTT-4.3.3-1] in 3.1.1, [MQTT-4.3.3-4] in 5.0), also
    /// when repeated; a refusal ends the flow ([MQTT-4.4.0-2]).
    pub(super) fn handle_pubrec(
        &mut self,
        conn: ConnId,
        session: SessionId,
        packet_id: PacketId,
        code: ReasonCode,
        now: Instant,
    ) {
        let Some(state) = self.sessions.get_mut(&session) else { return };
        let version = self.connections.get(&conn).map_or(ProtocolVersion::V311, |c| c.version);
        let flight = state.outbound.flight(packet_id);
        match state.outbound.received(packet_id, code.is_failure()) {
            Received::Release => {
                if let Some((entry, Awaiting::PubRec)) = flight {
                    self.store_flight(session, entry, packet_id, Awaiting::PubComp);
                }
                self.send(conn, Packet::PubRel(PublishAck::new(packet_id)), now);
            }
            Received::Refused(()) => {
                if let Some((entry, _)) = flight {
                    self.store_removed(session, entry);
                }
                self.pump(session);
            }
            Received::Unknown if code.is_failure() => {}
            Received::Unknown => {
                let mut release = PublishAck::new(packet_id);
                if version.is_v5() {
                    release.reason_code = ReasonCode::PacketIdentifierNotFound;
                }
                self.send(conn, Packet::PubRel(release), now);
            }
        }
    }

    /// PUBREL: the QoS 2 flow from the client is over; PUBCOMP ([MQTT-4.3.3-2] in 3.1.1,
    /// [MQTT-4.3.3-11] in 5.0), and the identifier is free for a new message
    /// ([MQTT-4.3.3-12]).
    pub(super) fn handle_pubrel(&mut self, conn: ConnId, session: SessionId, packet_id: PacketId, now: Instant) {
        let known = self.sessions.get_mut(&session).is_some_and(|state| state.awaiting_release.release(packet_id));
        if known {
            self.store_session(session);
        }
        let version = self.connections.get(&conn).map_or(ProtocolVersion::V311, |c| c.version);
        let mut complete = PublishAck::new(packet_id);
        if !known && version.is_v5() {
            complete.reason_code = ReasonCode::PacketIdentifierNotFound;
        }
        self.answer(conn, Packet::PubComp(complete), now);
    }

    /// PUBCOMP: a QoS 2 flow to the client is over; the window has room for another.
    pub(super) fn handle_pubcomp(&mut self, session: SessionId, packet_id: PacketId) {
        let Some(state) = self.sessions.get_mut(&session) else { return };
        if let Some(delivery) = state.outbound.complete(packet_id) {
            self.store_removed(session, delivery.entry);
            self.report_delivered(session, &delivery);
            self.pump(session);
        }
    }
}

/// The outcome of a PUBLISH the broker read: the reason code of its acknowledgement, in
/// MQTT 5 terms, and why its retained copy was not stored, if it was not.
#[derive(Debug, Clone, Copy)]
struct Accepted {
    code: ReasonCode,
    retained_refused: Option<RetainedDropReason>,
}

impl From<ReasonCode> for Accepted {
    fn from(code: ReasonCode) -> Self {
        Accepted { code, retained_refused: None }
    }
}

/// PUBACK or PUBREC with the outcome's code, and a Reason String that explains a refusal, or
/// a retained message that was routed but not stored (the only way to tell an MQTT 5
/// publisher, since the message itself was accepted). 3.1.1 has no reason codes: there every
/// outcome is acknowledged plainly, which is what [MQTT-3.3.5-2] lets a server do with a
/// PUBLISH it does not authorize.
fn ack(version: ProtocolVersion, packet_id: PacketId, accepted: Accepted) -> PublishAck {
    let mut ack = PublishAck::new(packet_id);
    if version.is_v5() {
        ack.reason_code = accepted.code;
        let explanation = match (accepted.code, accepted.retained_refused) {
            (ReasonCode::NotAuthorized, _) => Some("not authorized to publish on this topic"),
            (ReasonCode::TopicNameInvalid, _) => Some("the topic is too long with the listener's mount point"),
            (ReasonCode::PayloadFormatInvalid, _) => {
                Some("the payload is not the UTF-8 its Payload Format Indicator says")
            }
            (_, Some(RetainedDropReason::StoreFull)) => {
                Some("routed, but not retained: the broker holds max_retained_messages retained topics")
            }
            (_, Some(RetainedDropReason::TooManyLevels)) => {
                Some("routed, but not retained: the topic has more levels than max_topic_levels")
            }
            _ => None,
        };
        ack.properties.reason_string = explanation.and_then(|text| MqttString::try_from(text).ok());
    }
    ack
}
