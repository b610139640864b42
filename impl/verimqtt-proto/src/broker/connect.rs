//! CONNECT: who the client is, which session it gets, and the CONNACK that says so
//! (sections 3.1 and 3.2).

use std::time::{Duration, Instant};

use crate::codec::{
    ConnAck, Connect, DecodeError, MqttString, Packet, PacketType, PayloadFormat, ProtocolVersion, QoS, ReasonCode,
    allowed_codes,
};

use super::ConnId;
use super::connection::{Claimed, ClientLimits, Phase};
use super::core::Broker;
use super::error::CloseReason;
use super::event::Event;
use super::listener::{MountPoint, visible};
use super::policy::{Authentication, Policy, Verification};
use super::session::{Route, SessionId};
use super::timers::Timer;
use super::will::StoredWill;
use crate::session::topic_alias::OutboundAliases;

/// What the broker settled for a connection, told to an MQTT 5 client in CONNACK when it
/// differs from what the client asked.
struct Negotiated {
    session_expiry: u32,
    session_expiry_lowered: bool,
    keep_alive: u16,
    server_keep_alive: Option<u16>,
}

impl<P: Policy> Broker<P> {
    pub(super) fn handle_connect(&mut self, conn: ConnId, mut connect: Connect, now: Instant) {
        let Some(connection) = self.connections.get_mut(&conn) else { return };
        connection.set_version(connect.protocol_version);
        connection.claimed =
            Some(Claimed { client_id: connect.client_id.detached(), username: connect.username.clone() });
        let (listener, mount_point) = (connection.listener, connection.mount_point.clone());
        if let Err((code, explanation)) = self.check_connect(&connect) {
            return self.refuse(conn, code, explanation, now);
        }
        // The will's topic as it will be published, under the listener's mount point.
        if let (Some(mount_point), Some(will)) = (mount_point, connect.will.as_mut()) {
            match mount_point.mount_topic(&will.topic) {
                Some(topic) => will.topic = topic,
                None => {
                    let why = "the will topic is too long with the listener's mount point";
                    return self.refuse(conn, ReasonCode::TopicNameInvalid, why, now);
                }
            }
        }
        match self.policy.authenticate(&connect, listener) {
            Authentication::Decided(result) => self.authenticated(conn, connect, result, now),
            Authentication::Deferred(verification) => self.defer(conn, connect, verification, now),
        }
    }

    /// Parks the CONNECT until its [`Verification`] comes back through
    /// [`Broker::handle_verified`]; what the client sends meanwhile waits unread. The
    /// connect timeout keeps running: credentials not checked within it are a refusal.
    fn defer(&mut self, conn: ConnId, connect: Connect, verification: Verification, now: Instant) {
        if self.awaiting_verification.len() >= self.options.max_pending_verifications {
            let why = "max_pending_verifications CONNECTs are waiting for their credentials to be checked";
            return self.refuse(conn, ReasonCode::ServerBusy, why, now);
        }
        let Some(connection) = self.connections.get_mut(&conn) else { return };
        connection.phase = Phase::Authenticating;
        connection.pending_connect = Some(Box::new(connect));
        self.awaiting_verification.insert(conn);
        self.verifications.push_back((conn, verification));
    }

    /// The result of a [`Verification`] the owner ran for `conn`. A result for a connection
    /// that closed meanwhile (or that never asked) is ignored.
    pub fn handle_verified(&mut self, now: Instant, conn: ConnId, result: Result<(), ReasonCode>) {
        self.now = Some(now);
        if !self.awaiting_verification.remove(&conn) {
            return;
        }
        let Some(connection) = self.connections.get_mut(&conn) else { return };
        let Some(connect) = connection.pending_connect.take() else { return };
        connection.phase = Phase::AwaitingConnect;
        self.authenticated(conn, *connect, result, now);
        self.read_packets(conn, now);
    }

    /// The connect timeout passed while the CONNECT's credentials were being checked.
    pub(super) fn verification_timed_out(&mut self, conn: ConnId, now: Instant) {
        self.awaiting_verification.remove(&conn);
        let why = "its credentials could not be checked within the connect timeout";
        self.refuse(conn, ReasonCode::ServerBusy, why, now);
    }

    /// Carries out the policy's decision on a CONNECT.
    fn authenticated(&mut self, conn: ConnId, connect: Connect, result: Result<(), ReasonCode>, now: Instant) {
        self.timers.cancel(Timer::Connect(conn));
        match result {
            Ok(()) => self.admit(conn, connect, now),
            Err(reason_code) => self.refuse(conn, reason_code, "refused by the broker's policy", now),
        }
    }

    /// A CONNECT the policy let in: the client gets its session and CONNACK.
    fn admit(&mut self, conn: ConnId, connect: Connect, now: Instant) {
        let version = connect.protocol_version;
        let assigned = connect.client_id.is_empty();
        let client_id = if assigned { self.assign_client_id() } else { connect.client_id.clone() };
        let existing = self.session_by_client.get(&client_id).copied();
        let negotiated = self.negotiate(&connect);
        // Only sessions that outlive their connection count: one that ends with it is bounded
        // by the listeners' connections, and clients with clean sessions (random ids
        // included) must not lock out the persistent clients, nor the reverse.
        // A clean session taken over by a CONNECT that keeps it becomes persistent: it counts.
        let persistent_already = existing.and_then(|id| self.sessions.get(&id)).is_some_and(|s| s.is_persistent());
        if !persistent_already
            && negotiated.session_expiry > 0
            && self.persistent_sessions() >= self.options.max_sessions
        {
            return self.refuse(
                conn,
                ReasonCode::QuotaExceeded,
                "the broker holds max_sessions persistent sessions",
                now,
            );
        }

        // [MQTT-3.1.4-2] in 3.1.1, [MQTT-3.1.4-3] in 5.0: the client already connected is
        // disconnected; its will goes out unless the session resumes before its delay.
        if let Some(previous) = existing.and_then(|session| self.sessions.get(&session)?.connection) {
            self.close_connection(previous, CloseReason::SessionTakenOver { by: conn }, now, true);
        }
        let Some(connection) = self.connections.get(&conn) else { return };
        let (listener, mount_point) = (connection.listener, connection.mount_point.clone());
        let (session, session_present) = match existing {
            // [MQTT-3.1.2-4] in 3.1.1, [MQTT-3.1.2-5] in 5.0; a session that holds
            // subscriptions or messages outside the listener's mount point is not the
            // client's to resume there (it was made on a listener with another one).
            Some(session) if !connect.clean_start && self.fits_under(session, mount_point.as_ref()) => {
                self.resume_session(session);
                (session, true)
            }
            // [MQTT-3.1.2-6] in 3.1.1, [MQTT-3.1.2-4] in 5.0: the old session is discarded;
            // also one that does not fit under the mount point, as if Clean Start were set.
            Some(session) => {
                self.end_session(session, now, false);
                (self.create_session(client_id.clone(), negotiated.session_expiry), false)
            }
            None => (self.create_session(client_id.clone(), negotiated.session_expiry), false),
        };
        if let Some(state) = self.sessions.get_mut(&session) {
            state.expiry_interval = negotiated.session_expiry;
            state.connection = Some(conn);
            state.username = connect.username.clone();
            state.version = version;
            // From now on the session is judged by this listener's rules.
            state.listener = listener;
            state.mount_point = mount_point;
        }

        let Some(connection) = self.connections.get_mut(&conn) else { return };
        connection.phase = Phase::Active(session);
        connection.client_id = Some(client_id.clone());
        connection.username = connect.username.clone();
        connection.limits = ClientLimits::of(&connect, &self.options);
        connection.outbound_aliases = OutboundAliases::new(connection.limits.outbound_alias_maximum);
        connection.connect_expiry_was_zero = connect.properties.session_expiry_interval.unwrap_or(0) == 0;
        connection.will = connect.will.map(|will| StoredWill {
            will,
            client_id: client_id.clone(),
            username: connect.username.clone(),
            version,
            listener,
        });
        if negotiated.keep_alive > 0 {
            let window = Duration::from_millis(u64::from(negotiated.keep_alive) * 1500);
            connection.keep_alive_window = Some(window);
            self.timers.set(Timer::KeepAlive(conn), now + window);
        }

        self.store_session(session);
        let connack = self.connack(version, session_present, assigned.then_some(&client_id), &negotiated);
        self.send(conn, Packet::ConnAck(connack), now);
        let username = connect.username;
        self.events.push(Event::Connected { conn, client_id, username, version, session_present });
        if session_present {
            // PUBRELs the client has not answered go again, then unacknowledged PUBLISHes
            // with DUP set, as the window allows ([MQTT-4.4.0-1]).
            if let Some(state) = self.sessions.get_mut(&session) {
                state.outbound.resume();
            }
        }
        self.pump(session);
    }

    /// The checks a CONNECT must pass beyond its format, before the policy is asked, in the
    /// order a client would want to hear about them.
    fn check_connect(&self, connect: &Connect) -> Result<(), (ReasonCode, &'static str)> {
        let version = connect.protocol_version;
        // [MQTT-3.1.3-8] (3.1.1): an empty client id needs a clean session.
        if !version.is_v5() && connect.client_id.is_empty() && !connect.clean_start {
            return Err((ReasonCode::ClientIdentifierNotValid, "an empty client id needs a clean session"));
        }
        // The broker offers no enhanced authentication method [MQTT-4.12.0-1].
        if connect.properties.authentication_method.is_some() {
            return Err((ReasonCode::BadAuthenticationMethod, "the broker offers no authentication method"));
        }
        if let Some(will) = &connect.will {
            // [MQTT-3.2.2-12]
            if will.qos > self.options.maximum_qos {
                return Err((ReasonCode::QosNotSupported, "the will QoS is above the broker's Maximum QoS"));
            }
            // [MQTT-3.2.2-13]
            if will.retain && !self.options.retain_available {
                return Err((ReasonCode::RetainNotSupported, "the broker does not retain messages"));
            }
            if will.properties.payload_format_indicator == Some(PayloadFormat::Utf8)
                && std::str::from_utf8(&will.payload).is_err()
            {
                return Err((ReasonCode::PayloadFormatInvalid, "the will payload is not the UTF-8 it says"));
            }
        }
        Ok(())
    }

    /// Refuses the CONNECT: CONNACK with the code, then the connection closes
    /// ([MQTT-3.2.2-5] in 3.1.1, [MQTT-3.2.2-7] in 5.0) and nothing more it sent is read.
    /// The explanation goes to an MQTT 5 client as Reason String, and to the logs.
    pub(super) fn refuse(&mut self, conn: ConnId, code: ReasonCode, explanation: &'static str, now: Instant) {
        let Some(connection) = self.connections.get(&conn) else { return };
        let version = connection.version;
        *self.stats.connects_refused.entry(code).or_default() += 1;
        if let Some(Claimed { client_id, username }) = connection.claimed.clone() {
            let reason_code = code;
            self.events.push(Event::ConnectDenied { conn, client_id, username, reason_code, why: explanation });
        }
        let code = connack_code(version, code);
        // [MQTT-3.2.2-4] in 3.1.1, [MQTT-3.2.2-6] in 5.0: session present 0 on a refusal.
        let mut connack = ConnAck::new(false, code);
        if version.is_v5() {
            connack.properties.reason_string = MqttString::try_from(explanation).ok();
        }
        self.send(conn, Packet::ConnAck(connack), now);
        self.close_connection(conn, CloseReason::ConnectRefused { reason_code: code, why: explanation }, now, true);
    }

    /// A first packet that could not be decoded. A CONNECT naming a protocol level the
    /// broker does not speak is answered 0x01 (3.1.1) or 0x84 (5.0) [MQTT-3.1.2-2]; a broken
    /// MQTT 5 CONNECT is answered with the reason; anything else closes without a word
    /// ([MQTT-3.1.4-1]).
    pub(super) fn refuse_unreadable_connect(&mut self, conn: ConnId, error: &DecodeError, now: Instant) {
        let answer_in = error.version();
        if error.unsupported_protocol_level().is_none() && !answer_in.is_v5() {
            return;
        }
        let Some(connection) = self.connections.get_mut(&conn) else { return };
        connection.set_version(answer_in);
        *self.stats.connects_refused.entry(error.reason_code()).or_default() += 1;
        let code = connack_code(answer_in, error.reason_code());
        self.send(conn, Packet::ConnAck(ConnAck::new(false, code)), now);
    }

    /// A client id no session has ([MQTT-3.1.3-6], [MQTT-3.2.2-16] in 5.0): letters and
    /// digits only, so it is one that any server accepts [MQTT-3.1.3-5].
    fn assign_client_id(&mut self) -> MqttString {
        loop {
            self.next_assigned_id += 1;
            let candidate = format!("verimqtt{}", self.next_assigned_id);
            if !self.session_by_client.contains_key(candidate.as_str()) {
                // Letters and digits only: always a valid string.
                if let Ok(id) = MqttString::try_from(candidate) {
                    return id;
                }
            }
        }
    }

    /// The session expiry and keep alive in force for this connection.
    fn negotiate(&self, connect: &Connect) -> Negotiated {
        let requested_expiry = match (connect.protocol_version, connect.clean_start) {
            (ProtocolVersion::V5, _) => connect.properties.session_expiry_interval.unwrap_or(0),
            (ProtocolVersion::V311, true) => 0,
            // A 3.1.1 persistent session lasts until the client cleans it.
            (ProtocolVersion::V311, false) => u32::MAX,
        };
        let session_expiry = requested_expiry.min(self.options.max_session_expiry_interval);
        // Server Keep Alive (MQTT 5 section 3.2.2.3.14): only an MQTT 5 client can be told.
        let server_keep_alive = match (connect.protocol_version, self.options.max_keep_alive) {
            (ProtocolVersion::V5, Some(max)) if connect.keep_alive == 0 || connect.keep_alive > max.get() => {
                Some(max.get())
            }
            _ => None,
        };
        Negotiated {
            session_expiry,
            session_expiry_lowered: session_expiry < requested_expiry,
            keep_alive: server_keep_alive.unwrap_or(connect.keep_alive),
            server_keep_alive,
        }
    }

    /// The CONNACK of an accepted CONNECT ([MQTT-3.2.2-1] to [MQTT-3.2.2-3] in 3.1.1 and
    /// [MQTT-3.2.2-2], [MQTT-3.2.2-3] in 5.0 for Session Present), with the MQTT 5
    /// properties that tell the client what differs from the defaults.
    fn connack(
        &self,
        version: ProtocolVersion,
        session_present: bool,
        assigned_client_id: Option<&MqttString>,
        negotiated: &Negotiated,
    ) -> ConnAck {
        let mut connack = ConnAck::new(session_present, ReasonCode::Success);
        if !version.is_v5() {
            return connack;
        }
        let options = &self.options;
        let properties = &mut connack.properties;
        // [MQTT-3.1.3-7], [MQTT-3.2.2-16]
        properties.assigned_client_identifier = assigned_client_id.cloned();
        if negotiated.session_expiry_lowered {
            properties.session_expiry_interval = Some(negotiated.session_expiry);
        }
        properties.server_keep_alive = negotiated.server_keep_alive;
        if options.receive_maximum.get() < u16::MAX {
            properties.receive_maximum = Some(options.receive_maximum);
        }
        properties.maximum_packet_size = options.announced_max_packet_size().and_then(std::num::NonZeroU32::new);
        if options.topic_alias_maximum > 0 {
            properties.topic_alias_maximum = Some(options.topic_alias_maximum);
        }
        // [MQTT-3.2.2-9]
        if options.maximum_qos < QoS::ExactlyOnce {
            properties.maximum_qos = Some(options.maximum_qos);
        }
        if !options.retain_available {
            properties.retain_available = Some(false);
        }
        connack
    }

    /// Whether everything `session` holds is under `mount_point`: its subscriptions' filters
    /// and the topics of the messages it holds for its client.
    fn fits_under(&self, session: SessionId, mount_point: Option<&MountPoint>) -> bool {
        let Some(state) = self.sessions.get(&session) else { return false };
        let under = |topic: &str| visible(mount_point, topic);
        let filters_fit = state.subscriptions.values().all(|subscription| match &subscription.route {
            Route::Plain(filter) | Route::Shared { filter, .. } => under(filter),
        });
        let (flights, queued) = state.outbound.held();
        let messages_fit = flights
            .iter()
            .map(|(_, _, delivery)| *delivery)
            .chain(queued)
            .all(|delivery| under(&delivery.message.topic));
        filters_fit && messages_fit
    }

    /// A session resumes: a will still waiting for its delay is not sent [MQTT-3.1.3-9],
    /// and the session no longer expires.
    fn resume_session(&mut self, session: SessionId) {
        self.timers.cancel(Timer::Will(session));
        self.timers.cancel(Timer::SessionExpiry(session));
        if let Some(state) = self.sessions.get_mut(&session) {
            state.pending_will = None;
        }
    }
}

/// The CONNACK code a client of `version` can read for a refusal.
fn connack_code(version: ProtocolVersion, code: ReasonCode) -> ReasonCode {
    if allowed_codes(PacketType::ConnAck, version).contains(&code) && code.is_failure() {
        return code;
    }
    match (version, code) {
        (ProtocolVersion::V5, _) => ReasonCode::UnspecifiedError,
        (
            ProtocolVersion::V311,
            ReasonCode::ServerBusy
            | ReasonCode::QuotaExceeded
            | ReasonCode::QosNotSupported
            | ReasonCode::RetainNotSupported
            | ReasonCode::ConnectionRateExceeded,
        ) => ReasonCode::ServerUnavailable,
        (ProtocolVersion::V311, _) => ReasonCode::NotAuthorized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_codes_a_3_1_1_client_cannot_read_are_mapped_to_ones_it_can() {
        use ProtocolVersion::{V5, V311};
        assert_eq!(connack_code(V311, ReasonCode::BadUserNameOrPassword), ReasonCode::BadUserNameOrPassword);
        assert_eq!(connack_code(V311, ReasonCode::QuotaExceeded), ReasonCode::ServerUnavailable);
        assert_eq!(connack_code(V311, ReasonCode::Banned), ReasonCode::NotAuthorized);
        assert_eq!(connack_code(V5, ReasonCode::Banned), ReasonCode::Banned);
        assert_eq!(connack_code(V5, ReasonCode::Success), ReasonCode::UnspecifiedError);
    }
}
