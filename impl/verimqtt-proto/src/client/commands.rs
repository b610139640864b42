//! The user's commands. Each checks everything it can before changing anything: a refused
//! command leaves the client as it was, and takes no packet identifier.

use std::time::Instant;

use bytes::Bytes;

use super::connection::AuthExchange;
use super::error::CommandError;
use super::event::PublishTicket;
use super::limits::ServerLimits;
use super::outbound::Outgoing;
use super::requests::Request;
use super::{Client, DisconnectReason, Farewell, State};
use crate::codec::{
    self, Auth, Disconnect, MqttString, Packet, PacketId, Properties, PropertyId, ProtocolVersion, Publish, QoS,
    ReasonCode, Subscribe, Subscription, Unsubscribe,
};

/// Every identifier takes two bytes, so a packet is measured with this one before its own is
/// allocated.
const MEASURING_ID: PacketId = match PacketId::new(u16::MAX) {
    Some(id) => id,
    None => panic!("u16::MAX is not 0"),
};

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

    /// Asks for subscriptions; the SUBACK comes as [`Event::SubAck`](super::Event::SubAck)
    /// with the returned packet identifier. The request lives as long as the connection.
    pub fn subscribe(
        &mut self,
        now: Instant,
        subscriptions: Vec<Subscription>,
        properties: Properties,
    ) -> Result<PacketId, CommandError> {
        self.submit(now, Request::Subscribe(Subscribe { packet_id: MEASURING_ID, properties, subscriptions }))
    }

    /// Asks to end subscriptions; the UNSUBACK comes as
    /// [`Event::UnsubAck`](super::Event::UnsubAck) with the returned packet identifier.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: Vec<MqttString>,
        properties: Properties,
    ) -> Result<PacketId, CommandError> {
        self.submit(now, Request::Unsubscribe(Unsubscribe { packet_id: MEASURING_ID, properties, filters }))
    }

    fn submit(&mut self, now: Instant, mut request: Request) -> Result<PacketId, CommandError> {
        let size = self.measure(&request.to_packet())?;
        let connection = self.connection.as_mut().ok_or(CommandError::NoConnection)?;
        connection.advance(now);
        connection.limits.check_request(&request, self.options.protocol_version)?;
        connection.limits.check_size(size)?;
        if self.requests.is_full() {
            return Err(CommandError::TooManyPendingRequests { max: self.requests.max() });
        }
        let packet_id = self.packet_ids.allocate().ok_or(CommandError::PacketIdsExhausted)?;
        request.set_packet_id(packet_id);
        self.requests.push(request);
        Ok(packet_id)
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

    /// The encoded size of a packet, or why the version refuses it.
    fn measure(&self, packet: &Packet) -> Result<usize, CommandError> {
        codec::encoded_len(packet, self.options.protocol_version).map_err(CommandError::Invalid)
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
