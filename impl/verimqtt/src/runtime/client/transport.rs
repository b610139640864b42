//! Opening a byte stream to the broker, whatever carries it: TCP, TLS, WebSocket (with the
//! subprotocol `mqtt`, frames read as one stream of bytes) or WebSocket over TLS. The async
//! client, `verimqtt bench` and the conformance suite all connect through [`open`]: what
//! is written goes out unchanged, inside the TLS stream or as one binary WebSocket message
//! per write, so a test may send any bytes, malformed packets included.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

use super::error::ConnectError;
use super::url::{BrokerUrl, Scheme};
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
    open_from(url, tls, timeout, None).await
}

/// [`open`] from the local address `local` (a port the system picks), to choose the
/// interface the connection leaves by; `None` lets the system choose the address too.
pub async fn open_from(
    url: &BrokerUrl,
    tls: Option<Arc<ClientConfig>>,
    timeout: Duration,
    local: Option<IpAddr>,
) -> Result<Box<dyn Transport>, ConnectError> {
    let target = url.to_string();
    match tokio::time::timeout(timeout, handshakes(url, tls, local)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::Timeout { target, timeout }),
    }
}

/// A TCP connection to `host:port`, from `local` if given: the first of the host's addresses
/// of `local`'s family that accepts.
async fn tcp_connect(host: &str, port: u16, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let Some(local) = local else { return TcpStream::connect((host, port)).await };
    let mut last_error = None;
    for remote in tokio::net::lookup_host((host, port)).await?.filter(|remote| remote.is_ipv4() == local.is_ipv4()) {
        let socket = if local.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        socket.bind(SocketAddr::new(local, 0))?;
        match socket.connect(remote).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::AddrNotAvailable, format!("{host} has no address of the family of {local}"))
    }))
}

async fn handshakes(
    url: &BrokerUrl,
    tls: Option<Arc<ClientConfig>>,
    local: Option<IpAddr>,
) -> Result<Box<dyn Transport>, ConnectError> {
    let io_error = |source| ConnectError::Io { target: url.to_string(), source };
    if url.scheme == Scheme::Unix {
        return unix_connect(&url.path).await.map_err(io_error);
    }
    let tcp = tcp_connect(&url.host, url.port, local).await.map_err(io_error)?;
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

#[cfg(unix)]
async fn unix_connect(path: &str) -> io::Result<Box<dyn Transport>> {
    Ok(Box::new(tokio::net::UnixStream::connect(path).await?))
}

#[cfg(not(unix))]
async fn unix_connect(_path: &str) -> io::Result<Box<dyn Transport>> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "Unix domain sockets are not available on this platform"))
}
