//! One TCP connection to the broker under test: bytes out, decoded packets in, each with the
//! exact bytes it came in.
//!
//! The broker's packets are read with verimqtt's strict decoder, so a broker that sends a
//! malformed packet fails the scenario with the bytes that show it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use verimqtt::codec::{self, DecodeError, DecodeOptions, Packet, ProtocolVersion};

use crate::template::hex;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Connection {
    stream: TcpStream,
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
    pub fn open(address: SocketAddr, version: ProtocolVersion) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, buffer: BytesMut::with_capacity(4096), options: DecodeOptions::new(version) })
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
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
            self.stream.set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(Some(Incoming::Closed)),
                Ok(read) => self.buffer.extend_from_slice(&chunk[..read]),
                Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Ok(None);
                }
                Err(error)
                    if matches!(error.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted) =>
                {
                    return Ok(Some(Incoming::Closed));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Closes the connection without DISCONNECT and waits, until `deadline`, for the broker to
    /// close its side: once it has, it has noticed the close.
    pub fn close(mut self, deadline: Instant) {
        if self.stream.shutdown(Shutdown::Write).is_err() {
            return;
        }
        let mut chunk = [0u8; 4096];
        while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()) {
            if self.stream.set_read_timeout(Some(left)).is_err() || !matches!(self.stream.read(&mut chunk), Ok(1..)) {
                return;
            }
        }
    }

    /// Closes both directions at once, without DISCONNECT, as a failed network would.
    pub fn cut(self) {
        // The broker may already have closed it; either way it is gone.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
