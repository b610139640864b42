//! A publisher's connection to the broker as bytes in and bytes out, over TCP, TLS,
//! WebSocket or WebSocket over TLS: what the publishers' sans-IO clients write to and read
//! from.

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use verimqtt::runtime::client::BrokerUrl;

/// Bytes read at most per call.
const READ_CHUNK: usize = 16 * 1024;

pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub enum Link {
    Stream(Box<dyn Io>),
    /// Each write is one binary message; what is read is their payloads in order.
    WebSocket(Box<WebSocketStream<Box<dyn Io>>>),
}

impl Link {
    /// Connects to `url`, with `tls` for `mqtts://` and `wss://`.
    pub async fn open(url: &BrokerUrl, tls: Option<Arc<ClientConfig>>) -> Result<Link, String> {
        let failed = |error: &dyn std::fmt::Display| format!("cannot connect to {url}: {error}");
        let tcp = TcpStream::connect((url.host.as_str(), url.port)).await.map_err(|error| failed(&error))?;
        // A load measures latency too: no waiting to coalesce small writes.
        tcp.set_nodelay(true).map_err(|error| failed(&error))?;
        let stream: Box<dyn Io> = match (url.scheme.is_tls(), tls) {
            (false, _) => Box::new(tcp),
            (true, Some(tls)) => {
                let name = ServerName::try_from(url.host.clone()).map_err(|error| failed(&error))?;
                Box::new(TlsConnector::from(tls).connect(name, tcp).await.map_err(|error| failed(&error))?)
            }
            (true, None) => return Err(failed(&"no TLS settings")),
        };
        if !url.scheme.is_websocket() {
            return Ok(Link::Stream(stream));
        }
        let uri = format!("{}://{}:{}{}", url.scheme.name(), url.uri_host(), url.port, url.path);
        let mut request = uri.into_client_request().map_err(|error| failed(&error))?;
        // The subprotocol MQTT over WebSocket needs [MQTT-6.0.0-3].
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
        let (socket, _) = tokio_tungstenite::client_async(request, stream).await.map_err(|error| failed(&error))?;
        Ok(Link::WebSocket(Box::new(socket)))
    }

    /// Writes all of `bytes` and flushes them.
    pub async fn write(&mut self, bytes: Bytes) -> io::Result<()> {
        match self {
            Link::Stream(stream) => {
                stream.write_all(&bytes).await?;
                stream.flush().await
            }
            Link::WebSocket(socket) => socket.send(Message::Binary(bytes)).await.map_err(io::Error::other),
        }
    }

    /// Appends what arrives next to `buffer`; 0 when the broker closed the connection.
    /// Cancel-safe: nothing is lost if the future is dropped before it completes.
    pub async fn read(&mut self, buffer: &mut BytesMut) -> io::Result<usize> {
        match self {
            Link::Stream(stream) => {
                buffer.reserve(READ_CHUNK);
                stream.read_buf(buffer).await
            }
            Link::WebSocket(socket) => loop {
                match socket.next().await {
                    None | Some(Ok(Message::Close(_))) => return Ok(0),
                    Some(Ok(Message::Binary(payload))) if !payload.is_empty() => {
                        buffer.extend_from_slice(&payload);
                        return Ok(payload.len());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(io::Error::other(error)),
                }
            },
        }
    }
}
