//! What the client asks of the server when it connects, and the bounds it keeps to.

use std::fmt;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use crate::codec::{
    self, Binary, Connect, EncodeError, MqttString, Packet, Properties, PropertyValues, ProtocolVersion, UserProperty,
    Will,
};

/// A period of the keep alive machinery: off, a share of the keep alive in force (the one the
/// server imposed with Server Keep Alive, if it did), or a fixed duration.
///
/// Every period is off while the keep alive in force is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdlePeriod {
    /// Never.
    Off,
    /// This many percent of the keep alive: 150 is one and a half times it.
    PercentOfKeepAlive(u16),
    /// This long, whatever the keep alive.
    Fixed(Duration),
}

impl IdlePeriod {
    /// The period for a keep alive of `keep_alive`, or `None` when it is off.
    pub(crate) fn resolve(self, keep_alive: Duration) -> Option<Duration> {
        match self {
            IdlePeriod::Off => None,
            IdlePeriod::PercentOfKeepAlive(percent) => Some(keep_alive * u32::from(percent) / 100),
            IdlePeriod::Fixed(period) => Some(period),
        }
    }

    fn is_zero(self) -> bool {
        match self {
            IdlePeriod::Off => false,
            IdlePeriod::PercentOfKeepAlive(percent) => percent == 0,
            IdlePeriod::Fixed(period) => period.is_zero(),
        }
    }
}

/// How a [`Client`](super::Client) connects and what it keeps to. Fields marked MQTT 5 must
/// keep their defaults in 3.1.1, which has no way to send them.
#[derive(Clone)]
pub struct ClientOptions {
    /// The version the client speaks: its CONNECTs and every packet after are in it.
    pub protocol_version: ProtocolVersion,
    /// May be empty: the server then assigns one (in 3.1.1 only with `clean_start`
    /// [MQTT-3.1.3-7]). A MQTT 5 Assigned Client Identifier replaces it for later connections.
    pub client_id: MqttString,
    /// Clean Start (Clean Session in 3.1.1) of the first CONNECT. `false` declares that the
    /// client holds session state to resume, even if empty. Later CONNECTs ask to resume
    /// exactly when the session outlived the last connection.
    pub clean_start: bool,
    /// Seconds; 0 turns keep alive off. A MQTT 5 Server Keep Alive replaces it.
    pub keep_alive: u16,
    /// Send a PINGREQ when nothing was received for this long, even if packets were sent: a
    /// client that only publishes at QoS 0 would otherwise never hear from the server and
    /// abort. Default: the keep alive.
    pub recv_idle_ping: IdlePeriod,
    /// Close the connection with [`DisconnectReason::KeepAliveTimeout`] when nothing was
    /// received for this long. Default: one and a half times the keep alive.
    ///
    /// [`DisconnectReason::KeepAliveTimeout`]: super::DisconnectReason::KeepAliveTimeout
    pub recv_idle_abort: IdlePeriod,
    /// Close the connection when the CONNACK has not come this long after `connect`.
    pub connack_timeout: Option<Duration>,
    /// The User Name the CONNECT carries, for the server's authentication; `None` sends none.
    pub username: Option<MqttString>,
    /// The Password the CONNECT carries; `None` sends none. In 3.1.1 it needs a `username` [MQTT-3.1.2-22].
    pub password: Option<Binary>,
    /// The will the server publishes if the connection ends without a normal DISCONNECT; `None` for no will.
    pub will: Option<Will>,
    /// MQTT 5: seconds the session outlives the connection; `u32::MAX` is forever. In 3.1.1
    /// a session outlives the connection exactly when `clean_start` is false.
    pub session_expiry_interval: u32,
    /// MQTT 5: how many QoS 1 and 2 messages the server may have unacknowledged towards us.
    pub receive_maximum: NonZeroU16,
    /// The largest packet the client accepts; a larger one closes the connection. MQTT 5
    /// tells the server, which then never sends one.
    pub maximum_packet_size: Option<NonZeroU32>,
    /// MQTT 5: the highest topic alias the server may use towards us; 0 refuses aliases.
    pub topic_alias_maximum: u16,
    /// MQTT 5: replace topics by aliases on the way out, as far as the server allows.
    pub outbound_topic_aliases: bool,
    /// MQTT 5: ask for Response Information in the CONNACK.
    pub request_response_information: bool,
    /// MQTT 5: let the server add reason strings and user properties to every packet.
    pub request_problem_information: bool,
    /// MQTT 5: the method of enhanced authentication, and its first data.
    pub authentication_method: Option<MqttString>,
    /// MQTT 5: the Authentication Data of the CONNECT, for the method's first step; `None` sends none.
    pub authentication_data: Option<Binary>,
    /// MQTT 5: user properties of the CONNECT.
    pub user_properties: Vec<UserProperty>,
    /// Publishes accepted and not yet written.
    pub max_queued: usize,
    /// QoS 1 and 2 publishes written and not yet completed. MQTT 5 lowers it to the server's
    /// Receive Maximum.
    pub max_in_flight: usize,
    /// SUBSCRIBE and UNSUBSCRIBE requests not yet acknowledged.
    pub max_pending_requests: usize,
    /// Events not yet polled before the client stops taking bytes in.
    pub max_pending_events: usize,
    /// Packets not yet polled for transmission before the client stops taking bytes in.
    pub max_pending_transmits: usize,
}

impl ClientOptions {
    /// The defaults for `protocol_version` and `client_id`: clean start, keep alive 60 s, CONNACK timeout 30 s, no credentials, no will, and every MQTT 5 option at the protocol's default.
    pub fn new(protocol_version: ProtocolVersion, client_id: MqttString) -> Self {
        ClientOptions {
            protocol_version,
            client_id,
            clean_start: true,
            keep_alive: 60,
            recv_idle_ping: IdlePeriod::PercentOfKeepAlive(100),
            recv_idle_abort: IdlePeriod::PercentOfKeepAlive(150),
            connack_timeout: Some(Duration::from_secs(30)),
            username: None,
            password: None,
            will: None,
            session_expiry_interval: 0,
            receive_maximum: NonZeroU16::MAX,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            outbound_topic_aliases: false,
            request_response_information: false,
            request_problem_information: true,
            authentication_method: None,
            authentication_data: None,
            user_properties: Vec::new(),
            max_queued: 1000,
            max_in_flight: 100,
            max_pending_requests: 100,
            max_pending_events: 1000,
            max_pending_transmits: 1000,
        }
    }

    /// The seconds the session outlives a connection, as the options ask: in 3.1.1, none with
    /// a clean session, forever without.
    pub(crate) fn requested_session_expiry(&self) -> u32 {
        match self.protocol_version {
            ProtocolVersion::V5 => self.session_expiry_interval,
            ProtocolVersion::V311 if self.clean_start => 0,
            ProtocolVersion::V311 => u32::MAX,
        }
    }

    /// The CONNECT for these options.
    pub(crate) fn connect_packet(&self, clean_start: bool, client_id: MqttString) -> Connect {
        let mut connect = Connect::new(self.protocol_version, client_id);
        connect.clean_start = clean_start;
        connect.keep_alive = self.keep_alive;
        connect.will = self.will.clone();
        connect.username = self.username.clone();
        connect.password = self.password.clone();
        if self.protocol_version.is_v5() {
            connect.properties = self.connect_properties();
        }
        connect
    }

    /// MQTT 5 CONNECT properties; a value equal to the protocol's default is left out.
    fn connect_properties(&self) -> Properties {
        let values = PropertyValues {
            session_expiry_interval: (self.session_expiry_interval != 0).then_some(self.session_expiry_interval),
            receive_maximum: (self.receive_maximum != NonZeroU16::MAX).then_some(self.receive_maximum),
            maximum_packet_size: self.maximum_packet_size,
            topic_alias_maximum: (self.topic_alias_maximum != 0).then_some(self.topic_alias_maximum),
            request_response_information: self.request_response_information.then_some(true),
            request_problem_information: (!self.request_problem_information).then_some(false),
            authentication_method: self.authentication_method.clone(),
            authentication_data: self.authentication_data.clone(),
            user_properties: self.user_properties.clone(),
            ..PropertyValues::default()
        };
        if values == PropertyValues::EMPTY { Properties::default() } else { values.into() }
    }

    /// Checks that the options describe a client that can work: limits that let something
    /// through, periods that are not zero, and a CONNECT the version can carry.
    pub(crate) fn validate(&self) -> Result<(), OptionsError> {
        let limits = [
            ("max_queued", self.max_queued),
            ("max_in_flight", self.max_in_flight),
            ("max_pending_requests", self.max_pending_requests),
            ("max_pending_events", self.max_pending_events),
            ("max_pending_transmits", self.max_pending_transmits),
        ];
        if let Some((option, _)) = limits.iter().find(|(_, limit)| *limit == 0) {
            return Err(OptionsError::ZeroLimit { option });
        }
        let periods = [("recv_idle_ping", self.recv_idle_ping), ("recv_idle_abort", self.recv_idle_abort)];
        if let Some((option, _)) = periods.iter().find(|(_, period)| period.is_zero()) {
            return Err(OptionsError::ZeroPeriod { option });
        }
        if self.connack_timeout.is_some_and(|timeout| timeout.is_zero()) {
            return Err(OptionsError::ZeroPeriod { option: "connack_timeout" });
        }
        if !self.protocol_version.is_v5() {
            self.check_v311()?;
        }
        let connect = self.connect_packet(self.clean_start, self.client_id.clone());
        codec::encoded_len(&Packet::Connect(Box::new(connect)), self.protocol_version)
            .map_err(OptionsError::InvalidConnect)?;
        Ok(())
    }

    /// 3.1.1 has no properties; and an empty client identifier needs a clean session.
    fn check_v311(&self) -> Result<(), OptionsError> {
        let v5_only = [
            ("session_expiry_interval", self.session_expiry_interval != 0),
            ("receive_maximum", self.receive_maximum != NonZeroU16::MAX),
            ("topic_alias_maximum", self.topic_alias_maximum != 0),
            ("outbound_topic_aliases", self.outbound_topic_aliases),
            ("request_response_information", self.request_response_information),
            ("request_problem_information", !self.request_problem_information),
            ("authentication_method", self.authentication_method.is_some()),
            ("authentication_data", self.authentication_data.is_some()),
            ("user_properties", !self.user_properties.is_empty()),
        ];
        if let Some((option, _)) = v5_only.iter().find(|(_, set)| *set) {
            return Err(OptionsError::OnlyInMqtt5 { option });
        }
        if self.client_id.is_empty() && !self.clean_start {
            return Err(OptionsError::EmptyClientIdWithoutCleanSession);
        }
        Ok(())
    }
}

/// Shows every option but the secrets, which have no place in a log.
impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured, so that a new option cannot be left out unnoticed.
        let ClientOptions {
            protocol_version,
            client_id,
            clean_start,
            keep_alive,
            recv_idle_ping,
            recv_idle_abort,
            connack_timeout,
            username,
            password,
            will,
            session_expiry_interval,
            receive_maximum,
            maximum_packet_size,
            topic_alias_maximum,
            outbound_topic_aliases,
            request_response_information,
            request_problem_information,
            authentication_method,
            authentication_data,
            user_properties,
            max_queued,
            max_in_flight,
            max_pending_requests,
            max_pending_events,
            max_pending_transmits,
        } = self;
        let redacted = |secret: &Option<Binary>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("ClientOptions")
            .field("protocol_version", protocol_version)
            .field("client_id", client_id)
            .field("clean_start", clean_start)
            .field("keep_alive", keep_alive)
            .field("recv_idle_ping", recv_idle_ping)
            .field("recv_idle_abort", recv_idle_abort)
            .field("connack_timeout", connack_timeout)
            .field("username", username)
            .field("password", &redacted(password))
            .field("will", will)
            .field("session_expiry_interval", session_expiry_interval)
            .field("receive_maximum", receive_maximum)
            .field("maximum_packet_size", maximum_packet_size)
            .field("topic_alias_maximum", topic_alias_maximum)
            .field("outbound_topic_aliases", outbound_topic_aliases)
            .field("request_response_information", request_response_information)
            .field("request_problem_information", request_problem_information)
            .field("authentication_method", authentication_method)
            .field("authentication_data", &redacted(authentication_data))
            .field("user_properties", user_properties)
            .field("max_queued", max_queued)
            .field("max_in_flight", max_in_flight)
            .field("max_pending_requests", max_pending_requests)
            .field("max_pending_events", max_pending_events)
            .field("max_pending_transmits", max_pending_transmits)
            .finish()
    }
}

/// Options a client cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// A limit (`max_queued`, `receive_maximum`...) is 0, so nothing could ever pass.
    #[error("{option} is 0: nothing could ever pass")]
    ZeroLimit {
        /// The option's field name in [`ClientOptions`].
        option: &'static str,
    },
    /// A keep alive period is zero.
    #[error("{option} is a zero period")]
    ZeroPeriod {
        /// The option's field name in [`ClientOptions`].
        option: &'static str,
    },
    /// An MQTT 5 option is set off its default for a 3.1.1 client.
    #[error("{option} is an MQTT 5 option and MQTT 3.1.1 has no way to send it")]
    OnlyInMqtt5 {
        /// The option's field name in [`ClientOptions`].
        option: &'static str,
    },
    /// A 3.1.1 client with an empty client identifier asks to resume a session [MQTT-3.1.3-7].
    #[error("an empty client identifier needs a clean session in MQTT 3.1.1 [MQTT-3.1.3-7]")]
    EmptyClientIdWithoutCleanSession,
    /// The CONNECT the options describe breaks a rule of the protocol.
    #[error("the CONNECT these options describe cannot be sent: {0}")]
    InvalidConnect(EncodeError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(version: ProtocolVersion) -> ClientOptions {
        ClientOptions::new(version, MqttString::from_static("client").unwrap())
    }

    #[test]
    fn defaults_are_valid_in_both_versions() {
        assert_eq!(options(ProtocolVersion::V311).validate(), Ok(()));
        assert_eq!(options(ProtocolVersion::V5).validate(), Ok(()));
    }

    #[test]
    fn percent_periods_follow_the_keep_alive() {
        let period = IdlePeriod::PercentOfKeepAlive(150);
        assert_eq!(period.resolve(Duration::from_secs(10)), Some(Duration::from_secs(15)));
        assert_eq!(IdlePeriod::Off.resolve(Duration::from_secs(10)), None);
    }

    #[test]
    fn mqtt5_options_are_refused_in_3_1_1() {
        let mut options = options(ProtocolVersion::V311);
        options.session_expiry_interval = 10;
        assert_eq!(options.validate(), Err(OptionsError::OnlyInMqtt5 { option: "session_expiry_interval" }));
    }

    #[test]
    fn empty_client_id_needs_a_clean_session_in_3_1_1() {
        let mut options = ClientOptions::new(ProtocolVersion::V311, MqttString::default());
        options.clean_start = false;
        assert_eq!(options.validate(), Err(OptionsError::EmptyClientIdWithoutCleanSession));
    }

    #[test]
    fn zero_limits_and_periods_are_refused() {
        let mut zero_queue = options(ProtocolVersion::V5);
        zero_queue.max_queued = 0;
        assert_eq!(zero_queue.validate(), Err(OptionsError::ZeroLimit { option: "max_queued" }));
        let mut zero_abort = options(ProtocolVersion::V5);
        zero_abort.recv_idle_abort = IdlePeriod::Fixed(Duration::ZERO);
        assert_eq!(zero_abort.validate(), Err(OptionsError::ZeroPeriod { option: "recv_idle_abort" }));
    }

    #[test]
    fn a_will_the_codec_refuses_is_refused_here() {
        let mut options = options(ProtocolVersion::V5);
        options.will = Some(Will {
            topic: MqttString::from_static("a/#").unwrap(),
            payload: Binary::default(),
            qos: codec::QoS::AtMostOnce,
            retain: false,
            properties: Properties::default(),
        });
        assert!(matches!(options.validate(), Err(OptionsError::InvalidConnect(_))));
    }

    #[test]
    fn debug_output_hides_the_password_and_authentication_data() {
        let mut options = options(ProtocolVersion::V5);
        options.password = Some(Binary::from_static(b"hunter2").unwrap());
        options.authentication_data = Some(Binary::from_static(b"token-42").unwrap());
        let shown = format!("{options:?}");
        assert!(shown.contains("<redacted>") && shown.contains("client"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("104, 117") && !shown.contains("token"), "{shown}");
    }

    #[test]
    fn connect_properties_leave_out_defaults() {
        let mut options = options(ProtocolVersion::V5);
        assert!(options.connect_packet(true, options.client_id.clone()).properties.is_empty());
        options.receive_maximum = NonZeroU16::new(10).unwrap();
        options.session_expiry_interval = 60;
        let connect = options.connect_packet(false, options.client_id.clone());
        assert_eq!(connect.properties.receive_maximum, NonZeroU16::new(10));
        assert_eq!(connect.properties.session_expiry_interval, Some(60));
        assert!(!connect.clean_start);
    }
}
