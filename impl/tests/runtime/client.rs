//! A minimal blocking MQTT client over real TCP, speaking the codec, for runtime tests.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use verimqtt::codec::{self, ConnAck, Connect, DecodeOptions, MqttString, Packet, ProtocolVersion};

/// How long a test waits for a packet before it fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub struct RawClient {
    stream: TcpStream,
    version: ProtocolVersion,
    received: BytesMut,
}

impl RawClient {
    pub fn open(addr: SocketAddr, version: ProtocolVersion) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        RawClient { stream, version, received: BytesMut::new() }
    }

    /// Connects with `connect` and returns the CONNACK.
    pub fn connect_with(addr: SocketAddr, connect: Connect) -> (Self, ConnAck) {
        let mut client = Self::open(addr, connect.protocol_version);
        client.send(&Packet::Connect(Box::new(connect)));
        match client.recv() {
            Some(Packet::ConnAck(connack)) => (client, connack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// A clean session, keep alive off, accepted.
    pub fn connect(addr: SocketAddr, version: ProtocolVersion, client_id: &str) -> Self {
        let (client, connack) =
            Self::connect_with(addr, Connect::new(version, MqttString::try_from(client_id).unwrap()));
        assert!(!connack.reason_code.is_failure(), "{connack:?}");
        client
    }

    pub fn send(&mut self, packet: &Packet) {
        let mut wire = BytesMut::new();
        codec::encode(packet, self.version, &mut wire).unwrap();
        self.stream.write_all(&wire).unwrap();
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next packet, or `None` once the broker has closed the connection. Fails after
    /// [`PATIENCE`] without either.
    pub fn recv(&mut self) -> Option<Packet> {
        let options = DecodeOptions::new(self.version);
        loop {
            if let Some(packet) = codec::decode(&mut self.received, &options).unwrap() {
                return Some(packet);
            }
            let mut chunk = [0; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.received.extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == ErrorKind::ConnectionReset => return None,
                Err(error) => panic!("no packet within {PATIENCE:?}: {error}"),
            }
        }
    }

    /// Reads until the broker closes the connection, returning what came before.
    pub fn until_closed(&mut self) -> Vec<Packet> {
        let mut packets = Vec::new();
        while let Some(packet) = self.recv() {
            packets.push(packet);
        }
        packets
    }
}
