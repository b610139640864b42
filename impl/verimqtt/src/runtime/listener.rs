//! Listeners: a bound TCP socket, what carries MQTT on it (plain TCP, TLS, WebSocket or
//! WebSocket over TLS) and how many connections it takes; or a Unix domain socket carrying
//! plain MQTT, for clients on the same host (mosquitto's `listener 0 PATH`). Each listener accepts on a task of
//! its own; each connection does its TLS and WebSocket handshakes on its own task, so a slow
//! or silent peer holds up nobody.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;

use crate::broker::{ConnId, ListenerId, MountPoint};

use super::log::{SUMMARY_INTERVAL, Throttle};
use super::socket::{self, Input, Origin, Peer};
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
    socket: Bound,
    transport: Transport,
    max_connections: usize,
    mount_point: Option<MountPoint>,
}

/// The socket a listener accepts on.
#[derive(Debug)]
enum Bound {
    Tcp(std::net::TcpListener),
    Unix { socket: std::os::unix::net::UnixListener, path: PathBuf },
}

/// Where a listener listens: an IP address and port, or a Unix domain socket's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddress {
    /// A TCP socket.
    Ip(SocketAddr),
    /// A Unix domain socket.
    Unix(PathBuf),
}

impl ListenAddress {
    /// The IP address and port, unless it is a Unix domain socket.
    pub fn ip(&self) -> Option<SocketAddr> {
        match self {
            ListenAddress::Ip(addr) => Some(*addr),
            ListenAddress::Unix(_) => None,
        }
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddress::Ip(addr) => write!(f, "{addr}"),
            ListenAddress::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl Listener {
    /// Binds `addr` (port 0 lets the system pick one). Connections are limited only by the
    /// broker's own `max_connections`.
    pub fn bind(addr: SocketAddr, transport: Transport) -> io::Result<Self> {
        let socket = std::net::TcpListener::bind(addr)?;
        socket.set_nonblocking(true)?;
        Ok(Listener { socket: Bound::Tcp(socket), transport, max_connections: usize::MAX, mount_point: None })
    }

    /// Binds a Unix domain socket at `path`, carrying plain MQTT. A socket file left there
    /// by a broker that is gone is replaced; one a running broker listens on is an address
    /// in use, and any other file is left alone (an error).
    pub fn bind_unix(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let socket = match std::os::unix::net::UnixListener::bind(path) {
            Err(error) if error.kind() == io::ErrorKind::AddrInUse && is_stale_socket(path) => {
                std::fs::remove_file(path)?;
                std::os::unix::net::UnixListener::bind(path)?
            }
            bound => bound?,
        };
        socket.set_nonblocking(true)?;
        let socket = Bound::Unix { socket, path: path.to_path_buf() };
        Ok(Listener { socket, transport: Transport::Tcp, max_connections: usize::MAX, mount_point: None })
    }

    /// Open connections on this listener at most, counting those still in their TLS or
    /// WebSocket handshake. Past it, new connections are closed at once without a word, as
    /// the broker's own limit does.
    pub fn with_max_connections(self, max_connections: usize) -> Self {
        Listener { max_connections, ..self }
    }

    /// Gives this listener's clients a topic tree of their own under `mount_point`
    /// (mosquitto's `mount_point`; see [`MountPoint`]).
    pub fn with_mount_point(self, mount_point: MountPoint) -> Self {
        Listener { mount_point: Some(mount_point), ..self }
    }

    /// The mount point of this listener's clients, if it has one.
    pub fn mount_point(&self) -> Option<&MountPoint> {
        self.mount_point.as_ref()
    }

    /// The address the listener is bound to (with the port the system chose for port 0); a
    /// Unix domain socket has none (see [`address`](Self::address)).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.socket {
            Bound::Tcp(socket) => socket.local_addr(),
            Bound::Unix { path, .. } => {
                Err(io::Error::new(io::ErrorKind::Unsupported, format!("{} is a Unix domain socket", path.display())))
            }
        }
    }

    /// Where the listener listens, whatever its kind.
    pub fn address(&self) -> io::Result<ListenAddress> {
        match &self.socket {
            Bound::Tcp(socket) => socket.local_addr().map(ListenAddress::Ip),
            Bound::Unix { path, .. } => Ok(ListenAddress::Unix(path.clone())),
        }
    }

    /// What carries MQTT on this listener's connections.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The listener's kind as logs name it: the transport's name, `unix` for a Unix domain
    /// socket.
    pub fn name(&self) -> &'static str {
        match self.socket {
            Bound::Tcp(_) => self.transport.name(),
            Bound::Unix { .. } => "unix",
        }
    }
}

/// Whether `path` is a socket no one listens on: a broker that did not remove it is gone.
fn is_stale_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_socket());
    is_socket && std::os::unix::net::UnixStream::connect(path).is_err()
}

/// What every connection task needs, whatever its listener.
#[derive(Clone)]
pub(crate) struct Shared {
    /// The listener the connections come in on, as the broker knows it.
    pub(crate) listener: ListenerId,
    pub(crate) inputs: mpsc::Sender<Input>,
    pub(crate) next_conn: Arc<AtomicU64>,
    /// How long a TLS or WebSocket handshake may take: the broker's connect timeout, which
    /// starts only once the connection reaches it.
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_packet_size: usize,
}

/// Accepts connections until the task is aborted.
pub(crate) async fn accept_loop(listener: Listener, shared: Shared) {
    let name = listener.name();
    let Listener { socket, transport, max_connections, .. } = listener;
    let socket = match Acceptor::from_std(socket) {
        Ok(socket) => socket,
        Err(error) => return tracing::error!(%error, "cannot serve the listener"),
    };
    let room = Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS)));
    // A flood past the limit is one warning and then a count, not a line per connection.
    let mut refusals = Throttle::new();
    let mut flushes = tokio::time::interval(SUMMARY_INTERVAL);
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
            Ok(accepted) => match Arc::clone(&room).try_acquire_owned() {
                Ok(permit) => match accepted {
                    Accepted::Tcp(stream, peer) => {
                        serve_connection(stream, peer, transport.clone(), permit, shared.clone())
                    }
                    Accepted::Unix(stream) => serve_unix_connection(stream, permit, shared.clone()),
                },
                Err(_) => {
                    let peer = accepted.peer();
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

/// The accepting end of a listener's socket.
enum Acceptor {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

/// A connection a listener accepted.
enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Unix(UnixStream),
}

impl Acceptor {
    fn from_std(socket: Bound) -> io::Result<Self> {
        Ok(match socket {
            Bound::Tcp(socket) => Acceptor::Tcp(tokio::net::TcpListener::from_std(socket)?),
            Bound::Unix { socket, .. } => Acceptor::Unix(tokio::net::UnixListener::from_std(socket)?),
        })
    }

    async fn accept(&self) -> io::Result<Accepted> {
        match self {
            Acceptor::Tcp(socket) => socket.accept().await.map(|(stream, peer)| Accepted::Tcp(stream, peer)),
            Acceptor::Unix(socket) => socket.accept().await.map(|(stream, _)| Accepted::Unix(stream)),
        }
    }
}

impl Accepted {
    fn peer(&self) -> Peer {
        match self {
            Accepted::Tcp(_, peer) => Peer::Ip(*peer),
            Accepted::Unix(_) => Peer::Local,
        }
    }
}

/// Spawns the task of a connection on a Unix domain socket: plain MQTT, no handshake.
fn serve_unix_connection(stream: UnixStream, permit: OwnedSemaphorePermit, shared: Shared) {
    let conn = ConnId(shared.next_conn.fetch_add(1, Ordering::Relaxed));
    let origin = Origin { conn, listener: shared.listener, peer: Peer::Local, transport: "unix" };
    spawn_with(permit, socket::run(origin, stream, shared.inputs));
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
    let peer = Peer::Ip(peer);
    let name = transport.name();
    let conn = ConnId(shared.next_conn.fetch_add(1, Ordering::Relaxed));
    let Shared { listener, inputs, handshake_timeout, max_packet_size, .. } = shared;
    let origin = Origin { conn, listener, peer, transport: name };
    match transport {
        Transport::Tcp => spawn_with(permit, socket::run(origin, stream, inputs)),
        Transport::Tls(acceptor) => spawn_with(permit, async move {
            if let Some(stream) = within(handshake_timeout, peer, name, acceptor.accept(stream)).await {
                socket::run(origin, stream, inputs).await;
            }
        }),
        Transport::WebSocket => spawn_with(permit, async move {
            let handshake = websocket::accept(stream, max_packet_size);
            if let Some(stream) = within(handshake_timeout, peer, name, handshake).await {
                socket::run(origin, stream, inputs).await;
            }
        }),
        Transport::SecureWebSocket(acceptor) => spawn_with(permit, async move {
            let handshakes = async {
                let stream = acceptor.accept(stream).await?;
                websocket::accept(stream, max_packet_size).await
            };
            if let Some(stream) = within(handshake_timeout, peer, name, handshakes).await {
                socket::run(origin, stream, inputs).await;
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
    peer: Peer,
    transport: &'static str,
    handshakes: impl Future<Output = io::Result<T>>,
) -> Option<T> {
    match tokio::time::timeout(timeout, handshakes).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            match super::tls::certificate_advice(&error) {
                Some(advice) => tracing::info!(%peer, transport, %error, advice, "handshake failed"),
                None => tracing::info!(%peer, transport, %error, "handshake failed"),
            }
            None
        }
        Err(_) => {
            tracing::info!(%peer, transport, "handshake timed out");
            None
        }
    }
}
