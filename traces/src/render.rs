//! A trace as a Mermaid `sequenceDiagram`, for a person to read instead of JSON.
//!
//! - participants: the clients in order of appearance, with the broker after the first;
//! - a packet is an arrow at the moment it is sent, from its sender to the other end of its
//!   connection: `->>` if it arrives, `-x` if it never does (lost in a cut);
//! - connections opened and closed, application publishes and deliveries, and timers are
//!   notes over their node;
//! - a note across everyone marks each time the clock moves.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use verimqtt_spec::trace::{ConnId, Event, Node, TraceEvent};

/// The Mermaid source of `trace`.
pub fn render(trace: &[TraceEvent]) -> String {
    let participants = participants(trace);
    let clients = client_of_conn(trace);
    let lost = lost_packets(trace);
    let mut out = String::from("sequenceDiagram\n");
    for participant in &participants {
        let _ = writeln!(out, "    participant {participant}");
    }
    let span = match (participants.first(), participants.last()) {
        (Some(first), Some(last)) if first != last => format!("{first},{last}"),
        (Some(only), _) => only.to_string(),
        _ => return out,
    };
    let mut time = None;
    for (index, event) in trace.iter().enumerate() {
        if time != Some(event.time_ms) {
            time = Some(event.time_ms);
            let _ = writeln!(out, "    Note over {span}: {} ms", event.time_ms);
        }
        let node = &event.node;
        let line = match &event.event {
            Event::ConnectionOpened { conn } => format!("Note over {node}: opens conn {conn}"),
            Event::ConnectionClosed { conn, reason } => {
                format!("Note over {node}: closes conn {conn} ({})", snake(&format!("{reason:?}")))
            }
            Event::PacketSent { conn, packet } => {
                let peer = peer(node, *conn, &clients);
                let arrow = if lost.contains(&index) { "-x" } else { "->>" };
                format!("{node}{arrow}{peer}: {}", escape(&packet.to_string()))
            }
            // Drawn as the sender's arrow.
            Event::PacketReceived { .. } => continue,
            Event::PublishRequested { topic, qos, retain, payload } => {
                format!("Note over {node}: app publishes {}", message(topic, *qos, *retain, payload))
            }
            Event::MessageDelivered { topic, qos, retain, payload } => {
                format!("Note over {node}: app receives {}", message(topic, *qos, *retain, payload))
            }
            Event::TimerFired { timer } => format!("Note over {node}: timer {}", snake(&format!("{timer:?}"))),
        };
        let _ = writeln!(out, "    {line}");
    }
    out
}

/// The clients in order of appearance, the broker second (first if no client appears).
fn participants(trace: &[TraceEvent]) -> Vec<Node> {
    let mut clients: Vec<Node> = Vec::new();
    for event in trace {
        if !event.node.is_broker() && !clients.contains(&event.node) {
            clients.push(event.node.clone());
        }
    }
    let at = clients.len().min(1);
    clients.insert(at, Node::broker());
    clients
}

/// The client at the other end of each connection, from the client's own events.
fn client_of_conn(trace: &[TraceEvent]) -> HashMap<ConnId, Node> {
    trace
        .iter()
        .filter(|event| !event.node.is_broker())
        .filter_map(|event| match &event.event {
            Event::ConnectionOpened { conn } => Some((*conn, event.node.clone())),
            _ => None,
        })
        .collect()
}

/// The other end of `conn` for `node`.
fn peer(node: &Node, conn: ConnId, clients: &HashMap<ConnId, Node>) -> Node {
    if node.is_broker() {
        clients.get(&conn).cloned().unwrap_or_else(|| Node::client(format!("conn{conn}")))
    } else {
        Node::broker()
    }
}

/// The indices of the sent packets that never arrive: each direction of a connection is a
/// FIFO, so the packets sent after the last one its receiver got are lost.
fn lost_packets(trace: &[TraceEvent]) -> HashSet<usize> {
    let mut received: HashMap<(ConnId, bool), usize> = HashMap::new();
    for event in trace {
        if let Event::PacketReceived { conn, .. } = event.event {
            // Keyed by the sender's side: the receiver is the broker iff the sender is not.
            *received.entry((conn, !event.node.is_broker())).or_default() += 1;
        }
    }
    let mut sent: HashMap<(ConnId, bool), usize> = HashMap::new();
    let mut lost = HashSet::new();
    for (index, event) in trace.iter().enumerate() {
        if let Event::PacketSent { conn, .. } = event.event {
            let key = (conn, event.node.is_broker());
            let count = sent.entry(key).or_default();
            *count += 1;
            if *count > received.get(&key).copied().unwrap_or(0) {
                lost.insert(index);
            }
        }
    }
    lost
}

fn message(topic: &str, qos: u8, retain: bool, payload: &str) -> String {
    let retain = if retain { ", retain" } else { "" };
    escape(&format!("{payload:?} on {topic:?} (qos {qos}{retain})"))
}

/// `KeepaliveClose` as `keepalive_close`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (index, c) in name.chars().enumerate() {
        if c.is_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Mermaid ends a message at `;` and reads `#` as the start of an entity code.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '#' => "#35;".to_string(),
            ';' => "#59;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use verimqtt_spec::trace::{PacketInfo, PacketKind, read_trace};

    fn sent(node: &str, conn: ConnId, kind: PacketKind) -> TraceEvent {
        TraceEvent {
            time_ms: 0,
            node: Node(node.into()),
            event: Event::PacketSent { conn, packet: PacketInfo::new(kind) },
        }
    }

    fn received(node: &str, conn: ConnId, kind: PacketKind) -> TraceEvent {
        let event = Event::PacketReceived { conn, packet: PacketInfo::new(kind) };
        TraceEvent { time_ms: 0, node: Node(node.into()), event }
    }

    #[test]
    fn a_packet_never_received_is_drawn_lost() {
        let opened = TraceEvent { time_ms: 0, node: Node("c0".into()), event: Event::ConnectionOpened { conn: 1 } };
        let trace = vec![
            opened,
            sent("c0", 1, PacketKind::Pingreq),
            received("broker", 1, PacketKind::Pingreq),
            sent("broker", 1, PacketKind::Pingresp),
        ];
        let diagram = render(&trace);
        assert!(diagram.contains("c0->>broker: PINGREQ"), "{diagram}");
        assert!(diagram.contains("broker-xc0: PINGRESP"), "{diagram}");
    }

    #[test]
    fn participants_put_the_broker_after_the_first_client() {
        let trace = read_trace(
            "{\"time_ms\":0,\"node\":\"c1\",\"event\":\"timer_fired\",\"timer\":\"keepalive_ping\"}\n\
             {\"time_ms\":5,\"node\":\"c0\",\"event\":\"timer_fired\",\"timer\":\"keepalive_ping\"}\n",
        )
        .unwrap();
        let diagram = render(&trace);
        assert!(
            diagram.starts_with("sequenceDiagram\n    participant c1\n    participant broker\n    participant c0\n")
        );
        assert!(diagram.contains("Note over c1,c0: 5 ms"), "{diagram}");
        assert!(diagram.contains("Note over c0: timer keepalive_ping"), "{diagram}");
    }

    #[test]
    fn mermaid_special_characters_are_escaped() {
        assert_eq!(escape("SUBSCRIBE(\"#\"); x"), "SUBSCRIBE(\"#35;\")#59; x");
    }
}
