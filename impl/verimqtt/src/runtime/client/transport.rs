//! Opening a byte stream to the broker, whatever carries it: TCP, TLS, WebSocket (with the
//! subprotocol `mqtt`, frames read as one stream of bytes) or WebSocket over TLS. The async
//! client, `verimqtt bench` and the conformance suite all connect through [`open`]: what
//! is written goes out unchanged, inside the TLS stream or as one binary WebSocket message
//! per write, so a test may send any bytes, malformed packets included.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::error::ConnectError;
use super::url::BrokerUrl;
use crate::runtime::websocket;

/// A connected byte stream to the broker.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Transport for T {}

/// Opens a stream to the broker `url` names, all handshakes done within `timeout`; `tls` is
/// needed for `mqtts://` and `wss://`.
pub async fn open(
    url: &BrokerUrl,
    tls: Option<Arc<ClientConfig>>,
    timeout: Duration,
) -> Result<Box<dyn Transport>, ConnectError> {
    let target = url.to_string();
    match tokio::time::timeout(timeout, handshakes(url, tls)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::Timeout { target, timeout }),
    }
}

async fn handshakes(url: &BrokerUrl, tls: Option<Arc<ClientConfig>>) -> Result<Box<dyn Transport>, ConnectError> {
    let io_error = |source| ConnectError::Io { target: url.to_string(), source };
    let tcp = TcpStream::connect((url.host.as_str(), url.port)).await.map_err(io_error)?;
    // MQTT packets are small and latency matters more than coalescing.
    tcp.set_nodelay(true).map_err(io_error)?;
    let websocket_uri = format!("{}://{}:{}{}", url.scheme.name(), url.uri_host(), url.port, url.path);
    if !url.scheme.is_tls() {
        return Ok(match url.scheme.is_websocket() {
            true => Box::new(websocket::connect(tcp, &websocket_uri).await.map_err(io_error)?),
            false => Box::new(tcp),
        });
    }
    let config = tls.ok_or_else(|| ConnectError::TlsNotConfigured(url.to_string()))?;
    let server_name = ServerName::try_from(url.host.clone()).map_err(|_| ConnectError::ServerName(url.host.clone()))?;
    let stream = TlsConnector::from(config)
        .connect(server_name, tcp)
        .await
        .map_err(|source| ConnectError::TlsHandshake { target: url.to_string(), source })?;
    Ok(match url.scheme.is_websocket() {
        true => Box::new(websocket::connect(stream, &websocket_uri).await.map_err(io_error)?),
        false => Box::new(stream),
    })
}
