//! Why a connection ends, and the rules a client can break that only the broker sees (the
//! codec judges single packets; the broker judges the sequence and the negotiated limits).

use std::fmt;

use crate::codec::{DecodeError, ProtocolVersion, ReasonCode, Rule};
use crate::session::{ProtocolViolation, Role};

use super::ConnId;

/// Why the broker closed a connection, or saw it close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent DISCONNECT; in MQTT 5 with this reason code (0x00 is a normal
    /// disconnection, 0x04 asks for the will to be published).
    ClientDisconnected {
        /// The DISCONNECT's reason code; 0x00 for a 3.1.1 client.
        reason_code: ReasonCode,
    },
    /// The network connection ended without a DISCONNECT.
    ConnectionLost,
    /// The client broke a rule of the protocol; MQTT 5 clients were sent DISCONNECT (or,
    /// during CONNECT, CONNACK) with the reason code first.
    ProtocolError(ProtocolError),
    /// The CONNECT was refused with this CONNACK reason code, for this reason (the rule or
    /// the limit).
    ConnectRefused {
        /// The CONNACK reason code, in MQTT 5 terms.
        reason_code: ReasonCode,
        /// Why, in words: the rule broken or the option whose limit was reached.
        why: &'static str,
    },
    /// No CONNECT arrived within the connect timeout.
    ConnectTimeout,
    /// Nothing arrived for one and a half times the keep alive ([MQTT-3.1.2-24] in 3.1.1,
    /// [MQTT-3.1.2-22] in 5.0); MQTT 5 clients were sent DISCONNECT 0x8D.
    KeepAliveTimeout,
    /// Another connection took over the session ([MQTT-3.1.4-2] in 3.1.1, [MQTT-3.1.4-3] in
    /// 5.0); MQTT 5 clients were sent DISCONNECT 0x8E.
    SessionTakenOver {
        /// The connection that took the session over.
        by: ConnId,
    },
    /// The client did not read what the broker sent until the transmit buffer passed twice
    /// [`BrokerOptions::max_transmit_buffer`](super::BrokerOptions::max_transmit_buffer).
    NotReading,
    /// The broker is shutting down; MQTT 5 clients were sent DISCONNECT 0x8B.
    ServerShuttingDown,
    /// The client's session stayed congested past the slow-consumer timeout and the policy
    /// is to disconnect it; MQTT 5 clients were sent DISCONNECT 0x97.
    SlowConsumer,
}

impl CloseReason {
    /// Whether a connection that ends this way publishes its will: every end but a
    /// DISCONNECT with reason code 0x00 ([MQTT-3.1.2-8], [MQTT-3.14.4-3]).
    pub fn publishes_will(&self) -> bool {
        !matches!(self, CloseReason::ClientDisconnected { reason_code: ReasonCode::Success })
    }

    /// The reason as a trace records it.
    pub(crate) fn trace_reason(&self) -> crate::trace::CloseReason {
        use crate::trace::CloseReason as Trace;
        match self {
            CloseReason::ClientDisconnected { .. } => Trace::PeerDisconnected,
            CloseReason::ConnectionLost => Trace::ConnectionLost,
            CloseReason::ProtocolError(_) => Trace::ProtocolViolation,
            CloseReason::ConnectRefused { .. } => Trace::Refused,
            CloseReason::ConnectTimeout => Trace::ConnectTimeout,
            CloseReason::KeepAliveTimeout => Trace::KeepAliveTimeout,
            CloseReason::SessionTakenOver { .. } => Trace::SessionTakenOver,
            CloseReason::NotReading => Trace::NotReading,
            CloseReason::ServerShuttingDown => Trace::Shutdown,
            CloseReason::SlowConsumer => Trace::NotReading,
        }
    }

    /// The reason code of the DISCONNECT an MQTT 5 client is sent before the broker closes
    /// the connection, if one is sent.
    pub(crate) fn disconnect_code(&self) -> Option<ReasonCode> {
        match self {
            CloseReason::ProtocolError(error) => Some(error.reason_code()),
            CloseReason::KeepAliveTimeout => Some(ReasonCode::KeepAliveTimeout),
            CloseReason::SessionTakenOver { .. } => Some(ReasonCode::SessionTakenOver),
            CloseReason::ServerShuttingDown => Some(ReasonCode::ServerShuttingDown),
            CloseReason::SlowConsumer => Some(ReasonCode::QuotaExceeded),
            CloseReason::ClientDisconnected { .. }
            | CloseReason::ConnectionLost
            | CloseReason::ConnectRefused { .. }
            | CloseReason::ConnectTimeout
            | CloseReason::NotReading => None,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ClientDisconnected { reason_code } => write!(f, "client sent DISCONNECT ({reason_code})"),
            CloseReason::ConnectionLost => f.write_str("connection lost without DISCONNECT"),
            CloseReason::ProtocolError(error) => write!(f, "protocol error: {error}"),
            CloseReason::ConnectRefused { reason_code, why } => write!(f, "CONNECT refused ({reason_code}): {why}"),
            CloseReason::ConnectTimeout => f.write_str("no CONNECT within the connect timeout"),
            CloseReason::KeepAliveTimeout => f.write_str("nothing received for 1.5 times the keep alive"),
            CloseReason::SessionTakenOver { by } => write!(f, "session taken over by connection {by}"),
            CloseReason::NotReading => f.write_str("client does not read: transmit buffer full"),
            CloseReason::ServerShuttingDown => f.write_str("server shutting down"),
            CloseReason::SlowConsumer => f.write_str("slow consumer: its queue stayed congested past the timeout"),
        }
    }
}

/// A client broke a rule: a packet the codec rejected, or a rule about the sequence of
/// packets or the negotiated limits that the broker enforces; judged in the version of its
/// connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// The rule broken.
    pub violation: ProtocolViolation,
    /// The protocol version of the connection, whose numbering the rule is in.
    pub version: ProtocolVersion,
}

impl ProtocolError {
    pub(crate) fn new(violation: ProtocolViolation, version: ProtocolVersion) -> Self {
        ProtocolError { violation, version }
    }

    /// The MQTT 5 reason code of the DISCONNECT (or CONNACK) that reports it.
    pub fn reason_code(&self) -> ReasonCode {
        self.violation.reason_code()
    }

    /// The statement or section broken, in the numbering of the connection's version. A
    /// limit of this broker that 3.1.1 has no statement for has no rule.
    pub fn rule(&self) -> Option<Rule> {
        self.violation.rule(self.version, Role::Client)
    }
}

impl From<DecodeError> for ProtocolError {
    fn from(error: DecodeError) -> Self {
        let version = error.version();
        ProtocolError::new(ProtocolViolation::Decode(error), version)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.violation {
            // The codec's errors name their version and rule already.
            ProtocolViolation::Decode(error) => write!(f, "{error}"),
            violation => {
                write!(f, "MQTT {}: {violation}", self.version)?;
                match self.rule() {
                    Some(rule) => write!(f, " {rule}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Why [`Broker::handle_connected`](super::Broker::handle_connected) refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    /// [`BrokerOptions::max_connections`](super::BrokerOptions::max_connections) connections are open already.
    #[error("{max} connections are open, the most the broker allows (max_connections)")]
    TooManyConnections {
        /// The limit, `max_connections`.
        max: usize,
    },
    /// The connection id is already in use by an open connection.
    #[error("connection {0} is already open")]
    DuplicateConnection(ConnId),
    /// The broker is shutting down and accepts no new connection.
    #[error("the broker is shutting down")]
    ShuttingDown,
}
