//! MQTT over WebSocket (section 6 of both versions): the opening handshake, which must
//! agree on the subprotocol `mqtt`, and a byte stream over binary messages, so the
//! connection task reads and writes it as it does TCP.
//!
//! MQTT packets travel in binary frames ([MQTT-6.0.0-1]); a text frame closes the
//! connection. Frame boundaries mean nothing ([MQTT-6.0.0-2]): a packet may be split across
//! frames, a frame may carry several packets, since the broker reads a stream of bytes.
//! The client must offer `mqtt` ([MQTT-6.0.0-3]) and the server answers with it
//! ([MQTT-6.0.0-4]); a handshake without it is refused with HTTP 400.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header::SEC_WEBSOCKET_PROTOCOL};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

/// The subprotocol of MQTT over WebSocket, in both versions.
const SUBPROTOCOL: &str = "mqtt";

/// Bytes a WebSocket message may hold at least, whatever the broker's maximum packet size:
/// a message may carry several packets.
const MIN_MESSAGE_LIMIT: usize = 1024 * 1024;

/// Runs the server side of the opening handshake on `stream`. Messages larger than
/// `max_packet_size` (or 1 MiB, if more) are refused, so a peer cannot make the broker
/// buffer more than a packet's worth before the codec sees it.
pub(crate) async fn accept<S>(stream: S, max_packet_size: usize) -> io::Result<WebSocketIo<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limit = max_packet_size.max(MIN_MESSAGE_LIMIT);
    let config = WebSocketConfig::default().max_message_size(Some(limit)).max_frame_size(Some(limit));
    let socket =
        tokio_tungstenite::accept_hdr_async_with_config(stream, agree_on_mqtt, Some(config)).await.map_err(io_error)?;
    Ok(WebSocketIo { socket, unread: Bytes::new() })
}

/// Runs the client side of the opening handshake on `stream` for `uri`
/// (`ws://host:port/path`), offering the subprotocol `mqtt` [MQTT-6.0.0-3]; tungstenite
/// refuses an answer that does not agree on it.
pub(crate) async fn connect<S>(stream: S, uri: &str) -> io::Result<WebSocketIo<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = uri.into_client_request().map_err(io_error)?;
    request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(SUBPROTOCOL));
    let (socket, _) = tokio_tungstenite::client_async(request, stream).await.map_err(io_error)?;
    Ok(WebSocketIo { socket, unread: Bytes::new() })
}

// The signature is the one tungstenite's handshake callback has.
#[allow(clippy::result_large_err)]
fn agree_on_mqtt(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let offered = request.headers().get_all(SEC_WEBSOCKET_PROTOCOL).iter().filter_map(|value| value.to_str().ok());
    if !offered.flat_map(|value| value.split(',')).any(|protocol| protocol.trim() == SUBPROTOCOL) {
        let mut refusal =
            ErrorResponse::new(Some("MQTT over WebSocket needs the subprotocol \"mqtt\" [MQTT-6.0.0-3]\n".into()));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    response.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(SUBPROTOCOL));
    Ok(response)
}

/// A WebSocket connection as a byte stream: what is read is the payload of binary messages
/// in order, and each write goes out as one binary message.
pub(crate) struct WebSocketIo<S> {
    socket: WebSocketStream<S>,
    /// What is left of the last binary message.
    unread: Bytes,
}

fn io_error(error: tungstenite::Error) -> io::Error {
    match error {
        tungstenite::Error::Io(error) => error,
        other => io::Error::other(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WebSocketIo<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.unread.is_empty() {
            // Pings are answered by tungstenite itself; a Close ends the stream, and so does
            // a TCP close without one, as it ends a stream over TCP.
            match ready!(Pin::new(&mut this.socket).poll_next(cx)) {
                None | Some(Ok(Message::Close(_))) => return Poll::Ready(Ok(())),
                Some(Err(tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                    return Poll::Ready(Ok(()));
                }
                Some(Ok(Message::Binary(payload))) => this.unread = payload,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    let error = "a text frame: MQTT travels in binary frames [MQTT-6.0.0-1]";
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, error)));
                }
                Some(Err(error)) => return Poll::Ready(Err(io_error(error))),
            }
        }
        let count = buf.remaining().min(this.unread.len());
        buf.put_slice(&this.unread[..count]);
        this.unread.advance(count);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WebSocketIo<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let socket = &mut self.get_mut().socket;
        ready!(Pin::new(&mut *socket).poll_ready(cx)).map_err(io_error)?;
        Pin::new(socket).start_send(Message::Binary(Bytes::copy_from_slice(buf))).map_err(io_error)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_flush(cx).map_err(io_error)
    }

    /// Sends a Close frame.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_close(cx).map_err(io_error)
    }
}
