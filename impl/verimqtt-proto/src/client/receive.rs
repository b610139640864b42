//! The receive path: what each packet from the server means in the state it finds the client
//! in. A packet the state does not allow is a protocol violation that closes the connection.

use std::time::Instant;

use super::connection::AuthExchange;
use super::error::ProtocolViolation;
use super::event::{DropReason, Event, PublishTicket};
use super::limits::ServerLimits;
use super::{Client, DisconnectReason, Farewell, State};
use crate::codec::{
    Auth, ConnAck, MqttString, Packet, PacketId, PacketType, Properties, Publish, PublishAck, QoS, ReasonCode, SubAck,
    UnsubAck,
};
use crate::session::sender::{Awaiting, Received};
use crate::session::topic_alias::OutboundAliases;

impl Client {
    /// The one place where packets from the server come in.
    pub(super) fn receive(&mut self, now: Instant, packet: Packet) {
        let Some(state) = self.connection.as_ref().map(|connection| connection.state) else { return };
        self.tracer.received(now, self.transports, &packet, self.options.protocol_version);
        let outcome = match (state, packet) {
            (State::AwaitingConnAck, Packet::ConnAck(connack)) => self.on_connack(now, connack),
            (State::AwaitingConnAck | State::Connected, Packet::Auth(auth)) => self.on_auth(auth),
            (State::Connected, Packet::Publish(publish)) => self.on_publish(now, publish),
            (State::Connected, Packet::PubAck(ack)) => self.on_puback(ack),
            (State::Connected, Packet::PubRec(ack)) => self.on_pubrec(ack),
            (State::Connected, Packet::PubComp(ack)) => self.on_pubcomp(ack),
            (State::Connected, Packet::PubRel(ack)) => self.on_pubrel(ack),
            (State::Connected, Packet::SubAck(suback)) => self.on_suback(suback),
            (State::Connected, Packet::UnsubAck(unsuback)) => self.on_unsuback(unsuback),
            (State::Connected, Packet::PingResp) => self.on_pingresp(now),
            // Only MQTT 5 servers send DISCONNECT, and only after a successful CONNACK
            // [MQTT-3.14.0-1].
            (State::Connected, Packet::Disconnect(disconnect)) if self.options.protocol_version.is_v5() => {
                let reason = DisconnectReason::ByServer {
                    reason_code: disconnect.reason_code,
                    properties: disconnect.properties,
                };
                self.close(now, reason, Farewell::Silent);
                Ok(())
            }
            (state, packet) => Err(ProtocolViolation::UnexpectedPacket {
                packet: packet.packet_type(),
                connected: state == State::Connected,
            }),
        };
        if let Err(violation) = outcome {
            self.close_for_violation(now, violation);
        }
    }

    fn on_connack(&mut self, now: Instant, connack: ConnAck) -> Result<(), ProtocolViolation> {
        if connack.reason_code.is_failure() {
            // The server closes the connection after a refusal ([MQTT-3.2.2-5] in 3.1.1,
            // [MQTT-3.2.2-7] in 5.0); the session is untouched.
            let reason = DisconnectReason::Refused { reason_code: connack.reason_code, properties: connack.properties };
            self.close(now, reason, Farewell::Silent);
            return Ok(());
        }
        let Some(connection) = self.connection.as_mut() else { return Ok(()) };
        if connack.session_present && connection.clean_start_sent {
            return Err(ProtocolViolation::SessionPresentWithoutSession);
        }
        check_authentication_method(&self.options.authentication_method, &connack.properties, PacketType::ConnAck)?;
        let properties = &connack.properties;
        connection.limits = ServerLimits::from_connack(properties);
        if self.options.outbound_topic_aliases {
            connection.outbound_aliases = OutboundAliases::new(connection.limits.topic_alias_maximum);
        }
        // The server's keep alive replaces the client's ([MQTT-3.1.2-21], [MQTT-3.2.2-21]).
        let keep_alive = properties.server_keep_alive.unwrap_or(self.options.keep_alive);
        connection.keep_alive.start(keep_alive, self.options.recv_idle_ping, self.options.recv_idle_abort);
        connection.state = State::Connected;
        connection.connack_deadline = None;
        connection.auth = AuthExchange::Idle;
        if let Some(client_id) = &properties.assigned_client_identifier {
            self.client_id = client_id.clone();
        }
        if let Some(expiry_interval) = properties.session_expiry_interval {
            self.session.expiry_interval = expiry_interval;
        }
        let discarded = if connack.session_present {
            self.session.in_flight.schedule_resend();
            Vec::new()
        } else {
            // After a clean start there is nothing left to discard.
            self.session.discard(&mut self.packet_ids)
        };
        self.session.connected();
        self.events.push(Event::Connected { session_present: connack.session_present, properties: connack.properties });
        self.events.dropped(DropReason::SessionNotPresent, discarded);
        Ok(())
    }

    /// MQTT 5 enhanced authentication (section 4.12): the server continues an exchange the
    /// client is in, or ends a re-authentication with success.
    fn on_auth(&mut self, auth: Auth) -> Result<(), ProtocolViolation> {
        check_authentication_method(&self.options.authentication_method, &auth.properties, PacketType::Auth)?;
        let Some(connection) = self.connection.as_mut() else { return Ok(()) };
        connection.auth = match (connection.auth, auth.reason_code, connection.state) {
            (AuthExchange::AwaitingServer, ReasonCode::ContinueAuthentication, _) => AuthExchange::AwaitingClient,
            (AuthExchange::AwaitingServer, ReasonCode::Success, State::Connected) => AuthExchange::Idle,
            (_, reason_code, _) => return Err(ProtocolViolation::UnexpectedAuth { reason_code }),
        };
        self.events.push(Event::Auth(auth));
        Ok(())
    }

    /// A message: QoS 0 is delivered; QoS 1 is delivered and acknowledged with PUBACK; QoS 2
    /// is delivered once, acknowledged with PUBREC every time, and remembered until its PUBREL
    /// ([MQTT-3.3.4-1], [MQTT-4.5.0-2]; [MQTT-4.3.2-2] and [MQTT-4.3.3-2] in 3.1.1,
    /// [MQTT-4.3.2-4], [MQTT-4.3.3-8] and [MQTT-4.3.3-10] in 5.0).
    fn on_publish(&mut self, now: Instant, mut publish: Publish) -> Result<(), ProtocolViolation> {
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
    fn on_pubrel(&mut self, pubrel: PublishAck) -> Result<(), ProtocolViolation> {
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

    fn on_puback(&mut self, ack: PublishAck) -> Result<(), ProtocolViolation> {
        let ticket = self.awaiting(PacketType::PubAck, ack.packet_id, Awaiting::PubAck)?;
        self.complete(ack.packet_id);
        self.events.push(Event::PubAck { ticket, ack });
        Ok(())
    }

    /// PUBREC: a success moves the publish on to PUBREL [MQTT-4.3.3-4]; a failure (MQTT 5)
    /// completes it, not to be sent again [MQTT-4.4.0-2].
    fn on_pubrec(&mut self, ack: PublishAck) -> Result<(), ProtocolViolation> {
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

    fn on_pubcomp(&mut self, ack: PublishAck) -> Result<(), ProtocolViolation> {
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

    fn on_suback(&mut self, suback: SubAck) -> Result<(), ProtocolViolation> {
        let filters = self.acknowledge_request(PacketType::SubAck, suback.packet_id)?;
        check_reason_code_count(PacketType::SubAck, filters, suback.reason_codes.len())?;
        self.events.push(Event::SubAck(suback));
        Ok(())
    }

    fn on_unsuback(&mut self, unsuback: UnsubAck) -> Result<(), ProtocolViolation> {
        let filters = self.acknowledge_request(PacketType::UnsubAck, unsuback.packet_id)?;
        // A 3.1.1 UNSUBACK has no reason codes.
        if self.options.protocol_version.is_v5() {
            check_reason_code_count(PacketType::UnsubAck, filters, unsuback.reason_codes.len())?;
        }
        self.events.push(Event::UnsubAck(unsuback));
        Ok(())
    }

    /// Ends the request `packet` acknowledges and frees its identifier; returns how many
    /// topic filters it had.
    fn acknowledge_request(&mut self, packet: PacketType, packet_id: PacketId) -> Result<usize, ProtocolViolation> {
        let request = self
            .requests
            .acknowledge(packet_id, packet)
            .ok_or(ProtocolViolation::UnknownPacketId { packet, packet_id })?;
        self.packet_ids.release(packet_id);
        Ok(request.filter_count())
    }

    /// PINGRESP answers the one PINGREQ outstanding. If it came late the next ping is
    /// already due, and goes at once.
    fn on_pingresp(&mut self, now: Instant) -> Result<(), ProtocolViolation> {
        let Some(connection) = self.connection.as_mut() else { return Ok(()) };
        if !connection.keep_alive.on_pingresp() {
            return Err(ProtocolViolation::UnexpectedPacket { packet: PacketType::PingResp, connected: true });
        }
        self.run_keep_alive(now);
        Ok(())
    }
}

/// A successful CONNACK and every AUTH carry the CONNECT's Authentication Method, and none
/// if it had none ([MQTT-4.12.0-5], [MQTT-4.12.0-6]).
fn check_authentication_method(
    method: &Option<MqttString>,
    properties: &Properties,
    packet: PacketType,
) -> Result<(), ProtocolViolation> {
    if properties.authentication_method != *method {
        return Err(ProtocolViolation::AuthenticationMethodMismatch { packet });
    }
    Ok(())
}

/// An acknowledgement has one reason code per topic filter of its request.
fn check_reason_code_count(packet: PacketType, expected: usize, received: usize) -> Result<(), ProtocolViolation> {
    if expected != received {
        return Err(ProtocolViolation::ReasonCodeCountMismatch { packet, expected, received });
    }
    Ok(())
}
