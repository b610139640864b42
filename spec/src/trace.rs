//! The vocabulary of observable events that the implementation records, the model speaks and
//! the trace checker compares: one JSON object per line (JSON Lines), in one global order.
//!
//! ```json
//! {"time_ms":0,"node":"c0","event":"connection_opened","conn":1}
//! {"time_ms":0,"node":"c0","event":"packet_sent","conn":1,"packet":{"kind":"connect","clean_start":true,"keep_alive":2}}
//! {"time_ms":1500,"node":"c0","event":"publish_requested","topic":"t","qos":1,"retain":false,"payload":"m0"}
//! {"time_ms":2000,"node":"network","event":"fault_injected","conn":1,"fault":"cut"}
//! {"time_ms":3000,"node":"broker","event":"connection_closed","conn":1,"reason":"keep_alive_timeout"}
//! ```
//!
//! Traces carry the concrete values of the run (topics, payloads, times in milliseconds); the
//! checker maps them to the model's abstractions (message ids, ticks).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The node that observed an event: `"broker"`, or a client by its name in the run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Node(pub String);

impl Node {
    pub const BROKER: &'static str = "broker";
    /// The network between the nodes: the node of injected faults.
    pub const NETWORK: &'static str = "network";

    pub fn broker() -> Self {
        Node(Self::BROKER.to_string())
    }

    pub fn network() -> Self {
        Node(Self::NETWORK.to_string())
    }

    pub fn is_network(&self) -> bool {
        self.0 == Self::NETWORK
    }

    pub fn client(name: impl Into<String>) -> Self {
        Node(name.into())
    }

    pub fn is_broker(&self) -> bool {
        self.0 == Self::BROKER
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A connection, numbered by the run; both ends of a connection use the same number.
pub type ConnId = u64;

/// One line of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Milliseconds since the start of the run.
    pub time_ms: u64,
    pub node: Node,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The transport of a connection is up (client: connected; broker: accepted).
    ConnectionOpened {
        conn: ConnId,
    },
    /// The node stopped using a connection, and why.
    ConnectionClosed {
        conn: ConnId,
        reason: CloseReason,
    },
    PacketSent {
        conn: ConnId,
        packet: PacketInfo,
    },
    PacketReceived {
        conn: ConnId,
        packet: PacketInfo,
    },
    /// The client's application asked to publish a message.
    PublishRequested {
        topic: String,
        qos: u8,
        retain: bool,
        payload: String,
    },
    /// The client gave a message its application asked to publish back to the application,
    /// never to send it (again): a QoS 0 message whose connection closed before it went, a
    /// QoS 1 or 2 message whose session ended or was discarded before it was acknowledged,
    /// or one the server's limits forbid.
    PublishAbandoned {
        topic: String,
        qos: u8,
        retain: bool,
        payload: String,
    },
    /// A message reached the client's application.
    MessageDelivered {
        topic: String,
        qos: u8,
        retain: bool,
        payload: String,
    },
    /// A timer of the node fired.
    TimerFired {
        timer: Timer,
    },
    /// The network failed under a connection (node `network`): a simulator or a fault proxy
    /// logs every fault it injects, so a checker never has to guess one.
    FaultInjected {
        conn: ConnId,
        fault: Fault,
    },
    /// A packet the client's state machine did not send, written on its connection by the
    /// simulator playing a hostile or broken client (node `network`, like a fault): the model
    /// takes it as a hostile action of that client, never as one of the client's own packets.
    PacketInjected {
        conn: ConnId,
        packet: PacketInfo,
    },
    /// Nothing in flight arrives anywhere for `duration_ms` from now (node `network`); the
    /// nodes' timers still fire.
    NetworkStalled {
        duration_ms: u64,
    },
    /// The broker process died and started again from its store (node `broker`, logged by
    /// the simulator that restarts it, like a fault): every connection ends, what was on its
    /// way to the broker is lost, and each client reads the end of its connection after what
    /// was already on its way to it.
    BrokerRestarted,
    /// A fault proxy between the clients and a broker it cannot see into passed a packet on
    /// (node `network`), `to` the broker or the client: for such a broker these are the
    /// only record of what it received and sent.
    Forwarded {
        conn: ConnId,
        to: End,
        packet: PacketInfo,
    },
    /// A fault proxy saw the broker close its end of a connection (node `network`).
    BrokerClosed {
        conn: ConnId,
    },
    /// A fault proxy dropped a packet it would have passed on: the connection had failed
    /// under a logged fault, or the end it was for had closed (node `network`).
    Dropped {
        conn: ConnId,
        to: End,
        packet: PacketInfo,
    },
    /// A fault proxy stopped watching (node `network`): the last event of a probe's trace;
    /// whatever a broker would do later is not observed.
    ProbeEnded,
}

/// An end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    Client,
    Broker,
}

/// A failure of the network under one connection. Every kind loses what is in flight in
/// both directions and everything sent on the connection afterwards; they differ in which
/// ends are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Neither end is told (a pulled cable): each finds out through its keep alive.
    Cut,
    /// Both ends see the connection lost (a TCP reset).
    Reset,
    /// Only the client sees the connection lost; the broker's end stays open (half-open).
    HalfOpen,
}

/// Why a node stopped using a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The node sent DISCONNECT and closed.
    Disconnected,
    /// The peer sent DISCONNECT.
    PeerDisconnected,
    /// The transport failed or the peer closed it without DISCONNECT.
    ConnectionLost,
    /// Nothing was received for too long (client: abort period; broker: 1.5x keep alive).
    KeepAliveTimeout,
    /// The broker waited too long for CONNECT.
    ConnectTimeout,
    /// The client waited too long for CONNACK.
    ConnackTimeout,
    /// The peer broke a rule: malformed packet or protocol error.
    ProtocolViolation,
    /// The broker refused the CONNECT.
    Refused,
    /// Another connection took over the session (broker).
    SessionTakenOver,
    /// The node is shutting down.
    Shutdown,
    /// The broker's answers piled up unread.
    NotReading,
    /// A packet the protocol requires could not be sent (e.g. too large for the peer).
    CannotSend,
}

/// The timers of the client and the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timer {
    /// Client: nothing sent for the keep alive period, so PINGREQ.
    KeepAlivePing,
    /// Client: nothing received for the abort period.
    KeepAliveAbort,
    /// Client: no CONNACK in time.
    ConnackTimeout,
    /// Broker: nothing received for 1.5x the keep alive.
    KeepAliveClose,
    /// Broker: no CONNECT in time.
    ConnectTimeout,
    /// Broker: a will's delay has passed.
    WillDelay,
    /// An offline session's expiry interval has passed (broker, or a client's own state).
    SessionExpiry,
}

/// The type of a control packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PacketKind {
    Connect,
    Connack,
    Publish,
    Puback,
    Pubrec,
    Pubrel,
    Pubcomp,
    Subscribe,
    Suback,
    Unsubscribe,
    Unsuback,
    Pingreq,
    Pingresp,
    Disconnect,
    Auth,
}

impl PacketKind {
    pub fn name(self) -> &'static str {
        match self {
            PacketKind::Connect => "CONNECT",
            PacketKind::Connack => "CONNACK",
            PacketKind::Publish => "PUBLISH",
            PacketKind::Puback => "PUBACK",
            PacketKind::Pubrec => "PUBREC",
            PacketKind::Pubrel => "PUBREL",
            PacketKind::Pubcomp => "PUBCOMP",
            PacketKind::Subscribe => "SUBSCRIBE",
            PacketKind::Suback => "SUBACK",
            PacketKind::Unsubscribe => "UNSUBSCRIBE",
            PacketKind::Unsuback => "UNSUBACK",
            PacketKind::Pingreq => "PINGREQ",
            PacketKind::Pingresp => "PINGRESP",
            PacketKind::Disconnect => "DISCONNECT",
            PacketKind::Auth => "AUTH",
        }
    }
}

/// The fields of a packet a trace keeps: those the model's properties depend on, and the
/// concrete values (topic, payload) the checker maps to the model's message ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketInfo {
    pub kind: PacketKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet_id: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dup: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The payload as UTF-8 text, or `hex:` and its bytes in hex when it is not text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_present: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_start: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<u16>,
    /// CONNECT: whether it carries a will; `topic` and `payload` are then the will's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub will: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// CONNECT: 4 for MQTT 3.1.1, 5 for MQTT 5.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_level: Option<u8>,
    /// CONNECT (5.0): the Session Expiry Interval in seconds, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expiry: Option<u32>,
    /// The MQTT 5 reason code (3.1.1 CONNACK return codes as the 5.0 code of the same meaning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<u8>,
    /// SUBSCRIBE and UNSUBSCRIBE: the topic filters, each with its options (SUBSCRIBE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<FilterInfo>>,
    /// SUBACK and UNSUBACK: one reason code per filter (3.1.1 SUBACK return codes are the
    /// 5.0 codes of the same meaning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_codes: Option<Vec<u8>>,
    /// CONNECT and CONNACK (5.0): the Receive Maximum, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_maximum: Option<u16>,
    /// CONNACK (5.0): the Server Keep Alive, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_keep_alive: Option<u16>,
    /// PUBLISH (5.0): the Payload Format Indicator, if set (1: the payload claims to be UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_format: Option<u8>,
    /// PUBLISH (5.0): the Topic Alias, if set; the topic is then empty once the alias is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_alias: Option<u16>,
}

/// A topic filter of a SUBSCRIBE or UNSUBSCRIBE and, in a SUBSCRIBE, its options (the 5.0
/// ones only in 5.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterInfo {
    pub filter: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_local: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_as_published: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_handling: Option<u8>,
}

impl PacketInfo {
    /// A packet of `kind` with no field set.
    pub fn new(kind: PacketKind) -> Self {
        PacketInfo {
            kind,
            packet_id: None,
            qos: None,
            dup: None,
            retain: None,
            topic: None,
            payload: None,
            session_present: None,
            clean_start: None,
            keep_alive: None,
            will: None,
            client_id: None,
            protocol_level: None,
            session_expiry: None,
            reason_code: None,
            filters: None,
            reason_codes: None,
            receive_maximum: None,
            server_keep_alive: None,
            payload_format: None,
            topic_alias: None,
        }
    }
}

/// A payload as a trace keeps it: the text if it is UTF-8 without control characters, else
/// `hex:` and the bytes.
pub fn payload_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => text.to_string(),
        _ => format!("hex:{}", bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>()),
    }
}

impl fmt::Display for PacketInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())?;
        let mut fields = Vec::new();
        if let Some(topic) = &self.topic {
            fields.push(format!("{topic:?}"));
        }
        if let Some(payload) = &self.payload {
            fields.push(format!("payload {payload:?}"));
        }
        if let Some(qos) = self.qos {
            fields.push(format!("qos {qos}"));
        }
        if let Some(id) = self.packet_id {
            fields.push(format!("id {id}"));
        }
        if self.dup == Some(true) {
            fields.push("dup".to_string());
        }
        if self.retain == Some(true) {
            fields.push("retain".to_string());
        }
        if let Some(alias) = self.topic_alias {
            fields.push(format!("alias {alias}"));
        }
        if let Some(format) = self.payload_format {
            fields.push(format!("payload format {format}"));
        }
        if let Some(clean_start) = self.clean_start {
            fields.push(format!("clean {}", u8::from(clean_start)));
        }
        if let Some(session_present) = self.session_present {
            fields.push(format!("session present {}", u8::from(session_present)));
        }
        if let Some(code) = self.reason_code.filter(|&code| code != 0) {
            fields.push(format!("reason {code:#04x}"));
        }
        for filter in self.filters.iter().flatten() {
            match filter.qos {
                Some(qos) => fields.push(format!("{:?} qos {qos}", filter.filter)),
                None => fields.push(format!("{:?}", filter.filter)),
            }
        }
        if let Some(codes) = &self.reason_codes {
            let codes: Vec<String> = codes.iter().map(|code| format!("{code:#04x}")).collect();
            fields.push(format!("reasons [{}]", codes.join(", ")));
        }
        if !fields.is_empty() {
            write!(f, "({})", fields.join(", "))?;
        }
        Ok(())
    }
}

/// A trace that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct TraceError {
    pub line: usize,
    pub source: serde_json::Error,
}

/// Reads a JSON Lines trace; blank lines are skipped.
pub fn read_trace(text: &str) -> Result<Vec<TraceEvent>, TraceError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| serde_json::from_str(line).map_err(|source| TraceError { line: index + 1, source }))
        .collect()
}

/// Writes a trace as JSON Lines.
pub fn write_trace(events: &[TraceEvent]) -> String {
    let mut text = String::new();
    for event in events {
        // Serialising these plain types cannot fail.
        if let Ok(line) = serde_json::to_string(event) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish() -> TraceEvent {
        let mut packet = PacketInfo::new(PacketKind::Publish);
        packet.topic = Some("t".into());
        packet.payload = Some("m0".into());
        packet.qos = Some(1);
        packet.packet_id = Some(1);
        packet.dup = Some(false);
        TraceEvent { time_ms: 1500, node: Node::client("c0"), event: Event::PacketSent { conn: 1, packet } }
    }

    #[test]
    fn an_event_is_one_flat_json_object() {
        let line = serde_json::to_string(&publish()).unwrap();
        assert_eq!(
            line,
            r#"{"time_ms":1500,"node":"c0","event":"packet_sent","conn":1,"packet":{"kind":"publish","packet_id":1,"qos":1,"dup":false,"topic":"t","payload":"m0"}}"#
        );
    }

    #[test]
    fn traces_round_trip_through_json_lines() {
        let closed = TraceEvent {
            time_ms: 3000,
            node: Node::broker(),
            event: Event::ConnectionClosed { conn: 1, reason: CloseReason::KeepAliveTimeout },
        };
        let timer = TraceEvent {
            time_ms: 2000,
            node: Node::client("c0"),
            event: Event::TimerFired { timer: Timer::KeepAlivePing },
        };
        let fault = TraceEvent {
            time_ms: 2500,
            node: Node::network(),
            event: Event::FaultInjected { conn: 1, fault: Fault::Reset },
        };
        let events = vec![publish(), timer, fault, closed];
        assert_eq!(read_trace(&write_trace(&events)).unwrap(), events);
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number() {
        let error = read_trace("\n{\"time_ms\": 0}\n").unwrap_err();
        assert_eq!(error.line, 2);
    }

    #[test]
    fn payloads_are_text_or_hex() {
        assert_eq!(payload_text(b"m3"), "m3");
        assert_eq!(payload_text(&[0, 255]), "hex:00ff");
    }

    #[test]
    fn packets_display_their_fields() {
        let Event::PacketSent { packet, .. } = publish().event else { panic!() };
        assert_eq!(packet.to_string(), r#"PUBLISH("t", payload "m0", qos 1, id 1)"#);
    }
}
