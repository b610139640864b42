//! Listeners: a bound TCP socket, what carries MQTT on it (plain TCP, TLS, WebSocket or
//! WebSocket over TLS) and how many connections it takes. Each listener accepts on a task of
//! its own; each connection does its TLS and WebSocket handshakes on its own task, so a slow
//! or silent peer holds up nobody.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;

use crate::broker::ConnId;

use super::log::{SUMMARY_INTERVAL, Throttle};
use super::socket::{self, Input};
use super::websocket;

/// How long to pause accepting after the listener fails (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What carries MQTT on a listener's connections.
#[derive(Clone)]
pub enum Transport {
    /// MQTT straight over TCP.
    Tcp,
    /// MQTT over TLS, with this acceptor's certificate and client verification.
    Tls(TlsAcceptor),
    /// MQTT over WebSocket (section 6), subprotocol `mqtt`.
    WebSocket,
    /// MQTT over WebSocket over TLS.
    SecureWebSocket(TlsAcceptor),
}

impl Transport {
    /// The name of the transport, as the configuration file spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls(_) => "tls",
            Transport::WebSocket => "ws",
            Transport::SecureWebSocket(_) => "wss",
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A bound listening socket and how its connections are served.
#[derive(Debug)]
pub struct Listener {
    socket: std::net::TcpListener,
    transport: Transport,
    max_connections: usize,
}

impl Listener {
    /// Binds `addr` (port 0 lets the system pick one). Connections are limited only by the
    /// broker's own `max_connections`.
    pub fn bind(addr: SocketAddr, transport: Transport) -> io::Result<Self> {
        let socket = std::net::TcpListener::bind(addr)?;
        socket.set_nonblocking(true)?;
        Ok(Listener { socket, transport, max_connections: usize::MAX })
    }

    /// Open connections on this listener at most, counting those still in their TLS or
    /// WebSocket handshake. Past it, new connections are closed at once without a word, as
    /// the broker's own limit does.
    pub fn with_max_connections(self, max_connections: usize) -> Self {
        Listener { max_connections, ..self }
    }

    /// The address the listener is bound to (with the port the system chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// What carries MQTT on this listener's connections.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }
}

/// What every connection task needs, whatever its listener.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) inputs: mpsc::Sender<Input>,
    pub(crate) next_conn: Arc<AtomicU64>,
    /// How long a TLS or WebSocket handshake may take: the broker's connect timeout, which
    /// starts only once the connection reaches it.
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_packet_size: usize,
}

/// Accepts connections until the task is aborted.
pub(crate) async fn accept_loop(listener: Listener, shared: Shared) {
    let Listener { socket, transport, max_connections } = listener;
    let socket = match tokio::net::TcpListener::from_std(socket) {
        Ok(socket) => socket,
        Err(error) => return tracing::error!(%error, "cannot serve the listener"),
    };
    let room = Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS)));
    // A flood past the limit is one warning and then a count, not a line per connection.
    let mut refusals = Throttle::new();
    let mut flushes = tokio::time::interval(SUMMARY_INTERVAL);
    let name = transport.name();
    loop {
        let accepted = tokio::select! {
            accepted = socket.accept() => accepted,
            _ = flushes.tick() => {
                refusals.flush(Instant::now(), |(), count, during| {
                    let seconds = during.as_secs();
                    tracing::warn!(transport = name, max_connections, count, "listener full: {count} more connections refused in the last {seconds}s");
                });
                continue;
            }
        };
        match accepted {
            Ok((stream, peer)) => match Arc::clone(&room).try_acquire_owned() {
                Ok(permit) => {
                    serve_connection(stream, peer, transport.clone(), permit, shared.clone());
                }
                Err(_) => {
                    if refusals.first(&(), Instant::now()) {
                        tracing::warn!(%peer, transport = name, max_connections, "listener full: connection refused (further ones are counted)");
                    }
                }
            },
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Spawns the task of a connection: it completes the handshakes the transport needs, within
/// the handshake timeout, then runs the connection. The permit is the connection's place on
/// its listener, given back when it ends. One task per transport, each as large as that
/// transport needs: a single future for all of them would make every plain TCP connection
/// carry room for a TLS and WebSocket stream and their handshakes (about 20 KiB, most of an
/// idle connection's memory).
fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    transport: Transport,
    permit: OwnedSemaphorePermit,
    shared: Shared,
) {
    // MQTT packets are small and latency matters more than coalescing.
    let _ = stream.set_nodelay(true);
    let name = transport.name();
    let conn = ConnId(shared.next_conn.fetch_add(1, Ordering::Relaxed));
    let Shared { inputs, handshake_timeout, max_packet_size, .. } = shared;
    match transport {
        Transport::Tcp => spawn_with(permit, socket::run(conn, peer, name, stream, inputs)),
        Transport::Tls(acceptor) => spawn_with(permit, async move {
            if let Some(stream) = within(handshake_timeout, peer, name, acceptor.accept(stream)).await {
                socket::run(conn, peer, name, stream, inputs).await;
            }
        }),
        Transport::WebSocket => spawn_with(permit, async move {
            let handshake = websocket::accept(stream, max_packet_size);
            if let Some(stream) = within(handshake_timeout, peer, name, handshake).await {
                socket::run(conn, peer, name, stream, inputs).await;
            }
        }),
        Transport::SecureWebSocket(acceptor) => spawn_with(permit, async move {
            let handshakes = async {
                let stream = acceptor.accept(stream).await?;
                websocket::accept(stream, max_packet_size).await
            };
            if let Some(stream) = within(handshake_timeout, peer, name, handshakes).await {
                socket::run(conn, peer, name, stream, inputs).await;
            }
        }),
    }
}

/// Runs `connection` in a task of its own that holds `permit` until it ends.
fn spawn_with(permit: OwnedSemaphorePermit, connection: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(async move {
        connection.await;
        drop(permit);
    });
}

/// The stream the handshakes give, unless they fail or take longer than `timeout`.
async fn within<T>(
    timeout: Duration,
    peer: SocketAddr,
    transport: &'static str,
    handshakes: impl Future<Output = io::Result<T>>,
) -> Option<T> {
    match tokio::time::timeout(timeout, handshakes).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            tracing::info!(%peer, transport, %error, "handshake failed");
            None
        }
        Err(_) => {
            tracing::info!(%peer, transport, "handshake timed out");
            None
        }
    }
}
