//! The client side of each transport the broker serves, blocking: TCP, TLS (rustls),
//! WebSocket and WebSocket over TLS (tungstenite), each a byte stream for [`RawClient`].
//!
//! [`RawClient`]: crate::client::RawClient

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

use crate::client::tcp;

/// A connection's byte stream, whatever carries it.
pub trait Stream: Read + Write + Send {}

impl<S: Read + Write + Send> Stream for S {}

/// How a client reaches the broker.
#[derive(Clone)]
pub enum Via {
    Tcp,
    Tls(Arc<ClientConfig>),
    /// Offering the subprotocol `mqtt`.
    WebSocket,
    SecureWebSocket(Arc<ClientConfig>),
}

impl Via {
    /// Opens a connection to `addr` and completes its handshakes. A TLS handshake finishes on
    /// the first read or write, so a server refusing it shows then.
    pub fn open(&self, addr: SocketAddr) -> Box<dyn Stream> {
        match self {
            Via::Tcp => Box::new(tcp(addr)),
            Via::Tls(config) => Box::new(tls(config, addr)),
            Via::WebSocket => Box::new(WebSocketStream::new(websocket(tcp(addr), "ws", addr, Some("mqtt")))),
            Via::SecureWebSocket(config) => {
                Box::new(WebSocketStream::new(websocket(tls(config, addr), "wss", addr, Some("mqtt"))))
            }
        }
    }
}

/// A TLS client connection to `addr`, checking the server's certificate for its IP address.
pub fn tls(config: &Arc<ClientConfig>, addr: SocketAddr) -> StreamOwned<ClientConnection, std::net::TcpStream> {
    let connection = ClientConnection::new(Arc::clone(config), ServerName::from(addr.ip())).unwrap();
    StreamOwned::new(connection, tcp(addr))
}

/// Runs a WebSocket client handshake over `stream`, offering `subprotocol`.
pub fn websocket<S: Read + Write>(
    stream: S,
    scheme: &str,
    addr: SocketAddr,
    subprotocol: Option<&str>,
) -> Result<WebSocket<S>, String> {
    let mut request = format!("{scheme}://{addr}/mqtt").into_client_request().unwrap();
    if let Some(subprotocol) = subprotocol {
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(subprotocol).unwrap());
    }
    tungstenite::client(request, stream).map(|(socket, _)| socket).map_err(|error| error.to_string())
}

/// A WebSocket as a byte stream: each write is one binary message; reads give the payloads
/// of binary messages in order.
pub struct WebSocketStream<S: Read + Write> {
    socket: WebSocket<S>,
    unread: Bytes,
}

impl<S: Read + Write> WebSocketStream<S> {
    pub fn new(socket: Result<WebSocket<S>, String>) -> Self {
        WebSocketStream { socket: socket.unwrap(), unread: Bytes::new() }
    }
}

impl<S: Read + Write> Read for WebSocketStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.unread.is_empty() {
            match self.socket.read() {
                Ok(Message::Binary(payload)) => self.unread = payload,
                Ok(Message::Close(_))
                | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => return Ok(0),
                Ok(Message::Text(_)) => return Err(io::Error::new(io::ErrorKind::InvalidData, "a text message")),
                Ok(_) => {}
                Err(tungstenite::Error::Io(error)) => return Err(error),
                Err(error) => return Err(io::Error::other(error)),
            }
        }
        let count = buf.len().min(self.unread.len());
        buf[..count].copy_from_slice(&self.unread[..count]);
        self.unread.advance(count);
        Ok(count)
    }
}

impl<S: Read + Write> Write for WebSocketStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.socket.send(Message::Binary(Bytes::copy_from_slice(buf))).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.socket.flush().map_err(io::Error::other)
    }
}
