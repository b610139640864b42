//! One connection to the broker under test, over whatever transport its URL names (TCP, TLS,
//! WebSocket, WebSocket over TLS, opened by verimqtt's client transport): bytes out, as they
//! are, decoded packets in, each with the exact bytes it came in.
//!
//! The broker's packets are read with verimqtt's strict decoder, so a broker that sends a
//! malformed packet fails the scenario with the bytes that show it. Scenarios run on plain
//! threads and block; the transports are tokio's, so each call runs to its end on one runtime
//! shared by every connection of the process.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustls::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use verimqtt::codec::{self, DecodeError, DecodeOptions, Packet, ProtocolVersion};
use verimqtt::runtime::client::{BrokerUrl, Transport, open_transport};

use crate::template::hex;

/// How long the TCP, TLS and WebSocket handshakes of one connection may take together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the broker under test is and how to reach it: its URL, and the TLS configuration
/// `mqtts://` and `wss://` need.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: BrokerUrl,
    pub tls: Option<Arc<ClientConfig>>,
}

impl Endpoint {
    /// The first address the URL's host resolves to.
    pub fn socket_address(&self) -> io::Result<SocketAddr> {
        (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{} resolves to no address", self.url.host)))
    }

    /// Whether the broker's port accepts a TCP connection within `timeout`: the cheapest sign
    /// that a broker being restarted is back, whatever the transport above TCP.
    pub fn accepts_tcp(&self, timeout: Duration) -> bool {
        self.socket_address().and_then(|address| TcpStream::connect_timeout(&address, timeout)).is_ok()
    }
}

/// The runtime every connection's I/O runs on, started on first use.
fn runtime() -> io::Result<&'static Runtime> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("conformance-io")
            .enable_all()
            .build()
            .map_err(|error| error.to_string())
    });
    runtime.as_ref().map_err(|error| io::Error::other(format!("cannot start the I/O runtime: {error}")))
}

pub struct Connection {
    stream: Box<dyn Transport>,
    buffer: BytesMut,
    options: DecodeOptions,
}

/// A packet the broker sent, and its bytes.
#[derive(Debug, Clone)]
pub struct Received {
    pub packet: Packet,
    pub bytes: Vec<u8>,
}

impl std::fmt::Display for Received {
    /// The bytes and the decoded packet, each cut short if the packet is large.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 300;
        let bytes = match self.bytes.get(..SHOWN / 3) {
            Some(start) if start.len() < self.bytes.len() => format!("{} ... ({} bytes)", hex(start), self.bytes.len()),
            _ => hex(&self.bytes),
        };
        let packet = format!("{:?}", self.packet);
        match packet.char_indices().nth(SHOWN) {
            Some((cut, _)) => write!(f, "{bytes}  =  {} ...", &packet[..cut]),
            None => write!(f, "{bytes}  =  {packet}"),
        }
    }
}

/// What the broker did next.
#[derive(Debug, Clone)]
pub enum Incoming {
    Packet(Received),
    /// The broker closed the connection (or reset it).
    Closed,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("the broker sent bytes that are not a valid MQTT {version} packet: {error}\n  bytes: {}", hex(bytes))]
    Undecodable { version: ProtocolVersion, error: DecodeError, bytes: Vec<u8> },
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl Connection {
    /// Opens a connection, every handshake of its transport done.
    pub fn open(endpoint: &Endpoint, version: ProtocolVersion) -> Result<Self, String> {
        let opening = open_transport(&endpoint.url, endpoint.tls.clone(), CONNECT_TIMEOUT);
        let stream =
            runtime().map_err(|error| error.to_string())?.block_on(opening).map_err(|error| error.to_string())?;
        Ok(Connection { stream, buffer: BytesMut::with_capacity(4096), options: DecodeOptions::new(version) })
    }

    /// Writes `bytes` as they are: over WebSocket, in one binary message.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = &mut self.stream;
        runtime()?.block_on(async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
    }

    /// The next packet or the close, or `None` if neither came before `deadline`.
    pub fn next(&mut self, deadline: Instant) -> Result<Option<Incoming>, ConnectionError> {
        loop {
            let before = self.buffer.clone();
            match codec::decode(&mut self.buffer, &self.options) {
                Ok(Some(packet)) => {
                    let bytes = before[..before.len() - self.buffer.len()].to_vec();
                    return Ok(Some(Incoming::Packet(Received { packet, bytes })));
                }
                Ok(None) => {}
                Err(error) => {
                    return Err(ConnectionError::Undecodable {
                        version: self.options.version,
                        error,
                        bytes: before.to_vec(),
                    });
                }
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()) else {
                return Ok(None);
            };
            self.buffer.reserve(4096);
            let (stream, buffer) = (&mut self.stream, &mut self.buffer);
            match runtime()?.block_on(async { tokio::time::timeout(left, stream.read_buf(buffer)).await }) {
                Err(_elapsed) => return Ok(None),
                Ok(Ok(0)) => return Ok(Some(Incoming::Closed)),
                Ok(Ok(_)) => {}
                Ok(Err(error)) if is_close(&error) => return Ok(Some(Incoming::Closed)),
                Ok(Err(error)) => return Err(error.into()),
            }
        }
    }

    /// Closes the connection without DISCONNECT (over TLS with its close_notify, over
    /// WebSocket with a Close frame) and waits, until `deadline`, for the broker to close its
    /// side: once it has, it has noticed the close.
    pub fn close(mut self, deadline: Instant) {
        let Ok(runtime) = runtime() else { return };
        let stream = &mut self.stream;
        runtime.block_on(async {
            let left = deadline.saturating_duration_since(Instant::now());
            if !matches!(tokio::time::timeout(left, stream.shutdown()).await, Ok(Ok(()))) {
                return;
            }
            let mut chunk = [0u8; 4096];
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(left, async { while let Ok(1..) = stream.read(&mut chunk).await {} }).await;
        });
    }

    /// Closes both directions at once, without DISCONNECT, as a failed network would: no
    /// close_notify, no Close frame.
    pub fn cut(self) {
        drop(self.stream);
    }
}

/// Whether a read error means the broker closed the connection: a reset, or TLS ended
/// without close_notify (rustls reports it as an unexpected end of file).
fn is_close(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
    )
}
