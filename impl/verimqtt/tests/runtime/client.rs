//! A minimal blocking MQTT client over real loopback sockets (TCP, TLS, WebSocket,
//! WebSocket over TLS: see [`crate::transport`]), speaking the codec, for runtime tests.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use verimqtt::codec::{
    self, Binary, ConnAck, Connect, DecodeOptions, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS, SubAck,
    Subscribe, Subscription, SubscriptionOptions,
};

use crate::transport::{Stream, Via};

/// How long a test waits for a packet before it fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub struct RawClient {
    stream: Box<dyn Stream>,
    version: ProtocolVersion,
    received: BytesMut,
}

impl RawClient {
    /// A plain TCP connection, nothing sent yet.
    pub fn open(addr: SocketAddr, version: ProtocolVersion) -> Self {
        Self::open_via(&Via::Tcp, addr, version)
    }

    /// A connection over `via`, its TLS and WebSocket handshakes done, nothing MQTT sent yet.
    pub fn open_via(via: &Via, addr: SocketAddr, version: ProtocolVersion) -> Self {
        RawClient { stream: via.open(addr), version, received: BytesMut::new() }
    }

    /// Connects over TCP with `connect` and returns the CONNACK.
    pub fn connect_with(addr: SocketAddr, connect: Connect) -> (Self, ConnAck) {
        Self::connect_via_with(&Via::Tcp, addr, connect)
    }

    /// Connects over `via` with `connect` and returns the CONNACK.
    pub fn connect_via_with(via: &Via, addr: SocketAddr, connect: Connect) -> (Self, ConnAck) {
        let mut client = Self::open_via(via, addr, connect.protocol_version);
        client.send(&Packet::Connect(Box::new(connect)));
        match client.recv() {
            Some(Packet::ConnAck(connack)) => (client, connack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Over TCP, a clean session, keep alive off, accepted.
    pub fn connect(addr: SocketAddr, version: ProtocolVersion, client_id: &str) -> Self {
        Self::connect_via(&Via::Tcp, addr, version, client_id)
    }

    /// Over `via`, a clean session, keep alive off, accepted.
    pub fn connect_via(via: &Via, addr: SocketAddr, version: ProtocolVersion, client_id: &str) -> Self {
        let (client, connack) = Self::connect_via_with(via, addr, Connect::new(version, mqtt_string(client_id)));
        assert!(!connack.reason_code.is_failure(), "{connack:?}");
        client
    }

    pub fn send(&mut self, packet: &Packet) {
        let mut wire = BytesMut::new();
        codec::encode(packet, self.version, &mut wire).unwrap();
        self.send_bytes(&wire);
    }

    /// Writes `bytes` in one write: over WebSocket, one binary message.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
        self.stream.flush().unwrap();
    }

    /// Subscribes to one filter with packet identifier 1 and returns the SUBACK.
    pub fn subscribe(&mut self, filter: &str, qos: QoS) -> SubAck {
        let subscriptions = vec![Subscription { filter: mqtt_string(filter), options: SubscriptionOptions::new(qos) }];
        let packet_id = PacketId::new(1).unwrap();
        self.send(&Packet::Subscribe(Subscribe { packet_id, properties: Default::default(), subscriptions }));
        match self.recv() {
            Some(Packet::SubAck(suback)) => suback,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// The next packet, or `None` once the broker has closed the connection. Fails after
    /// [`PATIENCE`] without either.
    pub fn recv(&mut self) -> Option<Packet> {
        self.recv_wire().map(|(packet, _)| packet)
    }

    /// The next packet and its bytes as they came on the wire, or `None` once the broker
    /// has closed the connection (or the TLS or WebSocket layer failed).
    pub fn recv_wire(&mut self) -> Option<(Packet, Bytes)> {
        let options = DecodeOptions::new(self.version);
        loop {
            let before = self.received.clone().freeze();
            if let Some(packet) = codec::decode(&mut self.received, &options).unwrap() {
                let wire = before.slice(..before.len() - self.received.len());
                return Some((packet, wire));
            }
            let mut chunk = [0; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.received.extend_from_slice(&chunk[..n]),
                Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("no packet within {PATIENCE:?}: {error}")
                }
                Err(_) => return None,
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

pub fn mqtt_string(text: &str) -> MqttString {
    MqttString::try_from(text).unwrap()
}

/// A TCP connection to `addr` whose reads give up after [`PATIENCE`].
pub fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// A PUBLISH of `payload` on `topic`, with packet identifier 1 at QoS 1 and 2.
pub fn publish(topic: &str, qos: QoS, payload: &str) -> Packet {
    let packet_id = (qos != QoS::AtMostOnce).then(|| PacketId::new(1).unwrap());
    Packet::Publish(Publish::new(mqtt_string(topic), qos, packet_id, Bytes::from(payload.to_owned())))
}

/// What the peer sends on `stream` until it closes it (a reset counts as closed); fails
/// if it stays open past [`PATIENCE`].
pub fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => received,
        Err(error) if error.kind() == ErrorKind::ConnectionReset => received,
        Err(error) => panic!("still open after {PATIENCE:?} ({error}), having sent {received:?}"),
    }
}

pub const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

/// A CONNECT from `client_id`, with these credentials.
pub fn connect(version: ProtocolVersion, client_id: &str, username: Option<&str>, password: Option<&str>) -> Connect {
    let mut connect = Connect::new(version, mqtt_string(client_id));
    connect.username = username.map(mqtt_string);
    connect.password = password.map(|password| Binary::try_from(password.as_bytes()).unwrap());
    connect
}

/// What refusing a CONNECT looks like on the wire: `[0x20, 2, 0, code]` in 3.1.1, the MQTT 5
/// reason code in the third byte in 5.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// 3.1.1 return code 4, MQTT 5 0x86.
    BadUserNameOrPassword,
    /// 3.1.1 return code 5, MQTT 5 0x87.
    NotAuthorized,
}

impl Answer {
    fn code(self, version: ProtocolVersion) -> u8 {
        match (self, version) {
            (Answer::Accepted, _) => 0,
            (Answer::BadUserNameOrPassword, ProtocolVersion::V311) => 0x04,
            (Answer::BadUserNameOrPassword, ProtocolVersion::V5) => 0x86,
            (Answer::NotAuthorized, ProtocolVersion::V311) => 0x05,
            (Answer::NotAuthorized, ProtocolVersion::V5) => 0x87,
        }
    }
}

/// Connects and checks the CONNACK's code byte; a refused connection must then be closed.
pub fn assert_answer_at(addr: SocketAddr, connect: Connect, expected: Answer) {
    let version = connect.protocol_version;
    let what = format!("{version} {:?}/{:?}", connect.username, connect.password.as_ref().map(|_| "…"));
    let mut client = RawClient::open(addr, version);
    client.send(&Packet::Connect(Box::new(connect)));
    let Some((Packet::ConnAck(_), wire)) = client.recv_wire() else { panic!("{what}: no CONNACK") };
    // Byte 0: CONNACK; byte 3: the return code (3.1.1) or reason code (5.0).
    assert_eq!((wire[0], wire[3]), (0x20, expected.code(version)), "{what}: {wire:?}");
    if expected != Answer::Accepted {
        assert_eq!(client.until_closed(), [], "{what}: closed after a refusal");
    }
}
