//! The broker end of one proxied connection: a real TCP connection to the broker, the
//! packets framed in each direction, and whether the network has failed under it.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use socket2::SockRef;
use verimqtt_proto::codec::ProtocolVersion;
use verimqtt_proto::trace::{PacketInfo, PacketKind};

use super::frames::Frames;

/// How long the proxy waits for the broker to take bytes before giving up on a write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(super) struct ProxyLink {
    /// The client (index in the scenario) this connection is for.
    pub client: usize,
    /// The connection to the broker; `None` once either side closed it.
    socket: Option<TcpStream>,
    pub from_client: Frames,
    pub from_broker: Frames,
    /// A fault was injected: nothing passes any more either way.
    pub faulted: bool,
    /// The client still uses the connection.
    pub client_open: bool,
    /// The client closed its end: the proxy closes the broker's once it has passed on the
    /// client's last packets (unless a fault came first: a pulled cable carries no close).
    pub client_closing: bool,
    /// The broker closed its end, and the client has not been told yet.
    pub broker_closed: bool,
    /// When the proxy last passed a packet to the broker.
    pub last_to_broker: Option<Instant>,
    /// The keep alive in force: the CONNECT's, or the CONNACK's Server Keep Alive (5.0).
    keep_alive: Option<u16>,
}

/// What a read from the broker found.
pub(super) enum ReadOutcome {
    Bytes,
    Nothing,
    Closed,
}

impl ProxyLink {
    pub fn connect(broker: SocketAddr, client: usize, version: ProtocolVersion) -> io::Result<Self> {
        let socket = TcpStream::connect_timeout(&broker, WRITE_TIMEOUT)?;
        socket.set_nodelay(true)?;
        socket.set_nonblocking(true)?;
        Ok(ProxyLink {
            client,
            socket: Some(socket),
            from_client: Frames::new(version),
            from_broker: Frames::new(version),
            faulted: false,
            client_open: true,
            client_closing: false,
            broker_closed: false,
            last_to_broker: None,
            keep_alive: None,
        })
    }

    /// Notes the keep alive a passing CONNECT or CONNACK sets.
    pub fn note_keep_alive(&mut self, packet: Option<&PacketInfo>) {
        match packet {
            Some(packet) if packet.kind == PacketKind::Connect => self.keep_alive = packet.keep_alive,
            Some(packet) if packet.kind == PacketKind::Connack && packet.server_keep_alive.is_some() => {
                self.keep_alive = packet.server_keep_alive;
            }
            _ => {}
        }
    }

    /// When the broker may close the connection for silence: 1.5 x the keep alive after the
    /// last packet it received; `None` with keep alive off.
    pub fn keep_alive_deadline(&self) -> Option<Instant> {
        let keep_alive = self.keep_alive.filter(|&seconds| seconds > 0)?;
        Some(self.last_to_broker? + Duration::from_millis(u64::from(keep_alive) * 1500))
    }

    /// Whether the broker's end is still open as far as the proxy knows.
    pub fn broker_open(&self) -> bool {
        self.socket.is_some()
    }

    /// Writes `bytes` to the broker; a broker that takes none for [`WRITE_TIMEOUT`] or a
    /// failed write counts as a closed connection.
    pub fn write(&mut self, bytes: &[u8]) {
        let Some(socket) = &mut self.socket else { return };
        let started = Instant::now();
        let mut rest = bytes;
        while !rest.is_empty() {
            match socket.write(rest) {
                Ok(0) => break,
                Ok(written) => rest = &rest[written..],
                Err(error) if error.kind() == ErrorKind::WouldBlock && started.elapsed() < WRITE_TIMEOUT => {
                    thread::sleep(Duration::from_millis(1));
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// Reads what the broker sent into [`Self::from_broker`].
    pub fn read(&mut self) -> ReadOutcome {
        let Some(socket) = &mut self.socket else { return ReadOutcome::Nothing };
        let mut buffer = [0u8; 16 * 1024];
        match socket.read(&mut buffer) {
            Ok(0) => {
                self.socket = None;
                ReadOutcome::Closed
            }
            Ok(read) => {
                self.from_broker.push(&buffer[..read]);
                ReadOutcome::Bytes
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                ReadOutcome::Nothing
            }
            Err(_) => {
                self.socket = None;
                ReadOutcome::Closed
            }
        }
    }

    /// Closes the broker's end with a FIN, as a client closing its socket does.
    pub fn close(&mut self) {
        if let Some(socket) = self.socket.take() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Closes the broker's end with a TCP reset.
    pub fn reset(&mut self) {
        if let Some(socket) = self.socket.take() {
            let _ = SockRef::from(&socket).set_linger(Some(Duration::ZERO));
        }
    }
}
