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
    #[error("invalid broker URL: {0}")]
    Url(#[from] UrlError),
    #[error("invalid client options: {0}")]
    Options(#[from] OptionsError),
    #[error("invalid username or password: {0}")]
    Credentials(FieldError),
    #[error("MQTT 5 enhanced authentication is not supported by the async client")]
    EnhancedAuthentication,
    #[error("{0} needs TLS settings (a CA certificate, or a rustls ClientConfig)")]
    TlsNotConfigured(String),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
    #[error("cannot connect to {target}: {source}")]
    Io { target: String, source: io::Error },
    #[error("no connection to {target} within {timeout:?}")]
    Timeout { target: String, timeout: Duration },
    #[error("the broker refused the connection: {0}")]
    Refused(ReasonCode),
    #[error("the connection ended before the broker accepted it: {0:?}")]
    Closed(DisconnectReason),
    #[error("the client task stopped")]
    Stopped,
}

/// Why a publish, subscribe or unsubscribe failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
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
    #[error("the connection is lost and {attempts} reconnection attempts failed")]
    RetriesExhausted { attempts: u32 },
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
