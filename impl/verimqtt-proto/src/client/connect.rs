//! CONNECT and CONNACK, AUTH, and the client's DISCONNECT (sections 3.1, 3.2, 3.14, 3.15 and
//! 4.12): the commands that open, authenticate and end a connection, and what the server's
//! answers to them mean. Like every command, each checks everything it can before changing
//! anything: a refused command leaves the client as it was.

use std::time::Instant;

use super::connection::AuthExchange;
use super::error::{CommandError, ProtocolViolation};
use super::event::{DropReason, Event};
use super::limits::ServerLimits;
use super::{Client, DisconnectReason, Farewell, State};
use crate::codec::{
    self, Auth, ConnAck, Disconnect, MqttString, Packet, PacketType, Properties, PropertyId, ProtocolVersion,
    ReasonCode,
};
use crate::session::topic_alias::OutboundAliases;

impl Client {
    /// Queues the CONNECT on a transport that is up. It asks to resume the session if the
    /// client holds one, and to start clean otherwise.
    pub fn connect(&mut self, now: Instant) -> Result<(), CommandError> {
        self.expire_session(now);
        let connection = self.connection.as_mut().ok_or(CommandError::NoConnection)?;
        if connection.state != State::TransportReady {
            return Err(CommandError::AlreadyConnected);
        }
        if self.events.is_full() {
            return Err(CommandError::EventQueueFull);
        }
        connection.advance(now);
        // A session that is not resumable holds nothing: it was discarded when it ended, and
        // state only accrues on an accepted connection, which makes it resumable.
        let clean_start = !self.session.is_resumable();
        let connect = self.options.connect_packet(clean_start, self.client_id.clone());
        connection.control.push_back(Packet::Connect(Box::new(connect)));
        connection.clean_start_sent = clean_start;
        connection.state = State::AwaitingConnAck;
        connection.connack_deadline =
            self.options.connack_timeout.and_then(|timeout| connection.now.checked_add(timeout));
        if self.options.authentication_method.is_some() {
            connection.auth = AuthExchange::AwaitingServer;
        }
        Ok(())
    }

    /// Ends the connection with this DISCONNECT, after the acknowledgements still pending.
    /// In MQTT 5 it may change the Session Expiry Interval, unless the CONNECT's was 0.
    /// Queued QoS 1 and 2 publishes wait for the next connection.
    pub fn disconnect(&mut self, now: Instant, mut disconnect: Disconnect) -> Result<(), CommandError> {
        let version = self.options.protocol_version;
        self.measure(&Packet::Disconnect(disconnect.clone()))?;
        let connection = self.connection.as_mut().ok_or(CommandError::NoConnection)?;
        let expiry_interval = disconnect.properties.session_expiry_interval;
        if expiry_interval.is_some_and(|interval| interval != 0) && self.options.session_expiry_interval == 0 {
            return Err(CommandError::SessionExpiryAfterZero);
        }
        fit_disconnect(&mut disconnect, version, &connection.limits)?;
        if let Some(expiry_interval) = expiry_interval {
            self.session.expiry_interval = expiry_interval;
        }
        self.close(now, DisconnectReason::Requested, Farewell::Disconnect { packet: disconnect, graceful: true });
        Ok(())
    }

    /// MQTT 5: answers the server's AUTH 0x18 with the next authentication data (in
    /// `properties`), carrying reason code 0x18 [MQTT-4.12.0-3].
    pub fn continue_authentication(&mut self, now: Instant, properties: Properties) -> Result<(), CommandError> {
        self.send_auth(now, ReasonCode::ContinueAuthentication, properties)
    }

    /// MQTT 5: starts a re-authentication with the same method on a connected client
    /// (section 4.12.1).
    pub fn reauthenticate(&mut self, now: Instant, properties: Properties) -> Result<(), CommandError> {
        self.send_auth(now, ReasonCode::ReAuthenticate, properties)
    }

    /// Queues an AUTH with the CONNECT's Authentication Method ([MQTT-4.12.0-5],
    /// [MQTT-4.12.1-1]); there is none without one [MQTT-4.12.0-7].
    fn send_auth(
        &mut self,
        now: Instant,
        reason_code: ReasonCode,
        mut properties: Properties,
    ) -> Result<(), CommandError> {
        let method = self.options.authentication_method.clone().ok_or(CommandError::NoAuthenticationMethod)?;
        if properties.authentication_method.as_ref().is_some_and(|given| *given != method) {
            return Err(CommandError::AuthenticationMethodMismatch);
        }
        properties.authentication_method = Some(method);
        let packet = Packet::Auth(Auth { reason_code, properties });
        let size = self.measure(&packet)?;
        let connection = self.connection.as_mut().ok_or(CommandError::NoConnection)?;
        let expected = match reason_code {
            ReasonCode::ReAuthenticate => connection.state == State::Connected && connection.auth == AuthExchange::Idle,
            _ => connection.auth == AuthExchange::AwaitingClient,
        };
        if !expected {
            return Err(CommandError::AuthenticationNotExpected);
        }
        connection.limits.check_size(size)?;
        connection.advance(now);
        connection.control.push_back(packet);
        connection.auth = AuthExchange::AwaitingServer;
        Ok(())
    }

    pub(super) fn on_connack(&mut self, now: Instant, connack: ConnAck) -> Result<(), ProtocolViolation> {
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
        self.give_back(now, DropReason::SessionNotPresent, discarded);
        Ok(())
    }

    /// MQTT 5 enhanced authentication (section 4.12): the server continues an exchange the
    /// client is in, or ends a re-authentication with success.
    pub(super) fn on_auth(&mut self, auth: Auth) -> Result<(), ProtocolViolation> {
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
}

/// Leaves out the Reason String and User Properties of a DISCONNECT too large for the server
/// ([MQTT-3.14.2-3], [MQTT-3.14.2-4]).
fn fit_disconnect(
    disconnect: &mut Disconnect,
    version: ProtocolVersion,
    limits: &ServerLimits,
) -> Result<(), CommandError> {
    let measure = |disconnect: &Disconnect| {
        codec::encoded_len(&Packet::Disconnect(disconnect.clone()), version).map_err(CommandError::Invalid)
    };
    if limits.check_size(measure(disconnect)?).is_ok() {
        return Ok(());
    }
    disconnect.properties.remove(PropertyId::ReasonString);
    disconnect.properties.remove(PropertyId::UserProperty);
    limits.check_size(measure(disconnect)?)
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
