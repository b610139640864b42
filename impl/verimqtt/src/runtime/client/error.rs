//! What goes wrong for the async client: connecting, and each request after.

use std::io;
use std::time::Duration;

use crate::client::{CommandError, DisconnectReason, DropReason, OptionsError};
use crate::codec::{FieldError, ReasonCode};
use crate::runtime::tls::TlsError;

use super::url::UrlError;

/// Why [`AsyncClient::connect`](super::AsyncClient::connect) could not connect, or why a
/// reconnection attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The broker URL cannot be parsed or names an unknown scheme.
    #[error("invalid broker URL: {0}")]
    Url(#[from] UrlError),
    /// The client options are inconsistent.
    #[error("invalid client options: {0}")]
    Options(#[from] OptionsError),
    /// The username or password cannot be an MQTT string or binary field.
    #[error("invalid username or password: {0}")]
    Credentials(FieldError),
    /// The options set an Authentication Method, which the async client cannot carry out.
    #[error("MQTT 5 enhanced authentication is not supported by the async client")]
    EnhancedAuthentication,
    /// An `mqtts` or `wss` URL (carried) without a CA certificate or rustls configuration.
    #[error("{0} needs TLS settings (a CA certificate, or a rustls ClientConfig)")]
    TlsNotConfigured(String),
    /// The TLS settings cannot be used, or the handshake failed.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The URL's host (carried) is not a name or address TLS can check a certificate against.
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
    /// The TLS handshake failed: most often a certificate the client does not trust, or a
    /// client certificate the broker refused.
    #[error("TLS handshake with {target} failed: {source}{}", advice.map(|advice| format!(": {advice}")).unwrap_or_default())]
    TlsHandshake {
        /// The broker's URL.
        target: String,
        /// rustls's reason, as an I/O error.
        source: io::Error,
        /// What to do, for a certificate rustls refuses where OpenSSL would not.
        advice: Option<&'static str>,
    },
    /// The transport could not connect.
    #[error("cannot connect to {target}: {source}")]
    Io {
        /// The broker's URL.
        target: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The transport's handshakes (TCP, TLS, WebSocket) did not finish within the connect timeout.
    #[error("no connection to {target} within {timeout:?}")]
    Timeout {
        /// The broker's URL.
        target: String,
        /// The connect timeout that passed.
        timeout: Duration,
    },
    /// The broker refused the CONNECT with this reason code (MQTT 5 terms; 3.1.1 return codes are mapped).
    #[error("the broker refused the connection: {0}")]
    Refused(ReasonCode),
    /// The connection ended before a CONNACK came, for this reason.
    #[error("the connection ended before the broker accepted it: {0:?}")]
    Closed(DisconnectReason),
    /// The client's task stopped before it connected.
    #[error("the client task stopped")]
    Stopped,
}

/// Why a publish, subscribe or unsubscribe failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The topic or filter cannot be an MQTT string.
    #[error("invalid topic: {0}")]
    InvalidTopic(FieldError),
    /// The client state machine refused the request (queue full, above the broker's
    /// limits...).
    #[error(transparent)]
    Command(CommandError),
    /// There is no connection right now (the client is reconnecting): a QoS 0 message and a
    /// subscription need one.
    #[error("not connected to the broker: reconnecting")]
    NotConnected,
    /// The broker answered with a failure reason code (0x80 or above).
    #[error("the broker answered with reason code {0}")]
    Rejected(ReasonCode),
    /// The client gave the request up.
    #[error("given up: {}", describe_drop(.0))]
    Dropped(DropReason),
    /// The connection was lost before a QoS 0 message was written.
    #[error("the connection was lost before the message was sent")]
    ConnectionLost,
    /// The connection was lost and every reconnection attempt failed.
    #[error("the connection is lost and {attempts} reconnection attempts failed")]
    RetriesExhausted {
        /// The attempts made.
        attempts: u32,
    },
    /// The broker refused the CONNECT of a reconnection with this reason code.
    #[error("the broker refused the reconnection: {0}")]
    ReconnectRefused(ReasonCode),
    /// `disconnect` was called, or the client task is gone.
    #[error("the client is shut down")]
    Closed,
}

impl From<CommandError> for ClientError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::NoConnection => ClientError::NotConnected,
            error => ClientError::Command(error),
        }
    }
}

fn describe_drop(reason: &DropReason) -> String {
    match reason {
        DropReason::ConnectionClosed => "the connection closed".into(),
        DropReason::SessionEnded => "the session ended with the connection".into(),
        DropReason::SessionNotPresent => "the broker resumed no session".into(),
        DropReason::SessionExpired => "the session expired".into(),
        DropReason::Unsendable(error) => format!("the broker's limits forbid it: {error}"),
    }
}
