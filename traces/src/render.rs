//! A trace as a Mermaid `sequenceDiagram`, for a person to read instead of JSON.
//!
//! - participants: the clients in order of appearance, with the broker after the first;
//! - a packet is an arrow at the moment it is sent, from its sender to the other end of its
//!   connection: `->>` if it arrives, `-x` if it never does (lost in a cut); one that
//!   arrives later than it was sent also gets a note over its receiver when it arrives;
//! - connections opened and closed, application publishes and deliveries, and timers are
//!   notes over their node;
//! - a note across everyone marks each time the clock moves.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write;

use verimqtt_spec::trace::{ConnId, End, Event, Node, TraceEvent};

/// The Mermaid source of `trace`.
pub fn render(trace: &[TraceEvent]) -> String {
    let participants = participants(trace);
    let clients = client_of_conn(trace);
    let deliveries = Deliveries::of(trace);
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
            Event::ConnectionOpened { conn, .. } => format!("Note over {node}: opens conn {conn}"),
            Event::ConnectionClosed { conn, reason } => {
                format!("Note over {node}: closes conn {conn} ({})", snake(&format!("{reason:?}")))
            }
            Event::PacketSent { conn, packet } => {
                let peer = peer(node, *conn, &clients);
                let arrow = if deliveries.lost.contains(&index) { "-x" } else { "->>" };
                format!("{node}{arrow}{peer}: {}", escape(&packet.to_string()))
            }
            // Drawn as an arrow from the client whose connection it is written on.
            Event::PacketInjected { conn, packet } => {
                let client = peer(&Node::broker(), *conn, &clients);
                let arrow = if deliveries.lost.contains(&index) { "-x" } else { "->>" };
                format!("{client}{arrow}broker: injected {}", escape(&packet.to_string()))
            }
            // Drawn as the sender's arrow, unless it arrives later.
            Event::PacketReceived { packet, .. } => match deliveries.sent_at.get(&index) {
                Some(&sent_at) if sent_at != event.time_ms => {
                    format!("Note over {node}: receives {} sent at {sent_at} ms", escape(&packet.to_string()))
                }
                _ => continue,
            },
            Event::PublishRequested { topic, qos, retain, payload } => {
                format!("Note over {node}: app publishes {}", message(topic, *qos, *retain, payload))
            }
            Event::PublishAbandoned { topic, qos, retain, payload } => {
                format!("Note over {node}: app gets back {}", message(topic, *qos, *retain, payload))
            }
            Event::MessageDelivered { topic, qos, retain, payload } => {
                format!("Note over {node}: app receives {}", message(topic, *qos, *retain, payload))
            }
            Event::TimerFired { timer } => format!("Note over {node}: timer {}", snake(&format!("{timer:?}"))),
            Event::FaultInjected { conn, fault } => {
                format!("Note over {node}: {} under conn {conn}", snake(&format!("{fault:?}")))
            }
            Event::NetworkStalled { duration_ms } => format!("Note over {node}: stalls for {duration_ms} ms"),
            Event::BrokerRestarted => format!("Note over {node}: restarts from its store"),
            // A broker seen only through a fault proxy: what the proxy passes to a client is
            // drawn as the broker's arrow; what it passes to the broker, as the client's.
            Event::Forwarded { conn, to: End::Client, packet } => {
                let client = peer(&Node::broker(), *conn, &clients);
                let arrow = if deliveries.lost.contains(&index) { "-x" } else { "->>" };
                format!("broker{arrow}{client}: {}", escape(&packet.to_string()))
            }
            Event::Forwarded { to: End::Broker, .. } => continue,
            Event::BrokerClosed { conn } => format!("Note over broker: closes conn {conn} (seen by the proxy)"),
            Event::Dropped { conn, to, packet } => {
                format!("Note over {node}: drops {} for the {to:?} on conn {conn}", escape(&packet.to_string()))
            }
            Event::ProbeEnded => format!("Note over {node}: stops watching"),
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
            Event::ConnectionOpened { conn, .. } => Some((*conn, event.node.clone())),
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

/// How the packets of a trace travel: each direction of a connection is a FIFO, so its
/// n-th packet received is its n-th sent, and those sent after the last one received are lost.
/// In a probe's trace the proxy's `forwarded` stands for the broker's end: passed to the
/// broker, the client's packet arrived; passed to the client, the broker sent it.
#[derive(Debug, Default)]
struct Deliveries {
    /// The indices of the sent packets that never arrive.
    lost: HashSet<usize>,
    /// For each packet received, when it was sent.
    sent_at: HashMap<usize, u64>,
}

impl Deliveries {
    fn of(trace: &[TraceEvent]) -> Self {
        // Per direction (connection, and whether the broker sends), the packets in flight.
        let mut in_flight: HashMap<(ConnId, bool), VecDeque<(usize, u64)>> = HashMap::new();
        let mut deliveries = Deliveries::default();
        for (index, event) in trace.iter().enumerate() {
            match event.event {
                Event::PacketSent { conn, .. } => {
                    in_flight.entry((conn, event.node.is_broker())).or_default().push_back((index, event.time_ms));
                }
                Event::PacketInjected { conn, .. } => {
                    in_flight.entry((conn, false)).or_default().push_back((index, event.time_ms));
                }
                Event::Forwarded { conn, to: End::Client, .. } => {
                    in_flight.entry((conn, true)).or_default().push_back((index, event.time_ms));
                }
                Event::PacketReceived { conn, .. } => {
                    let sender_is_broker = !event.node.is_broker();
                    if let Some((_, time_ms)) = in_flight.entry((conn, sender_is_broker)).or_default().pop_front() {
                        deliveries.sent_at.insert(index, time_ms);
                    }
                }
                Event::Forwarded { conn, to: End::Broker, .. } => {
                    in_flight.entry((conn, false)).or_default().pop_front();
                }
                _ => {}
            }
        }
        deliveries.lost = in_flight.into_values().flatten().map(|(index, _)| index).collect();
        deliveries
    }
}

fn message(topic: &str, qos: u8, retain: bool, payload: &str) -> String {
    let retain = if retain { ", retain" } else { "" };
    escape(&format!("{payload:?} on {topic:?} (qos {qos}{retain})"))
}

/// `KeepAliveClose` as `keep_alive_close`.
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
        let opened = TraceEvent {
            time_ms: 0,
            node: Node("c0".into()),
            event: Event::ConnectionOpened { conn: 1, max_in_flight: u16::MAX },
        };
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
    fn a_packet_that_arrives_late_gets_a_note_when_it_arrives() {
        let mut late = received("broker", 1, PacketKind::Connect);
        late.time_ms = 4000;
        let opened = TraceEvent {
            time_ms: 0,
            node: Node("c0".into()),
            event: Event::ConnectionOpened { conn: 1, max_in_flight: u16::MAX },
        };
        let diagram = render(&[opened, sent("c0", 1, PacketKind::Connect), late]);
        assert!(diagram.contains("c0->>broker: CONNECT\n"), "{diagram}");
        assert!(
            diagram.contains("Note over c0,broker: 4000 ms\n    Note over broker: receives CONNECT sent at 0 ms"),
            "{diagram}"
        );
    }

    #[test]
    fn participants_put_the_broker_after_the_first_client() {
        let trace = read_trace(
            "{\"time_ms\":0,\"node\":\"c1\",\"event\":\"timer_fired\",\"timer\":\"keep_alive_ping\"}\n\
             {\"time_ms\":5,\"node\":\"c0\",\"event\":\"timer_fired\",\"timer\":\"keep_alive_ping\"}\n",
        )
        .unwrap();
        let diagram = render(&trace);
        assert!(
            diagram.starts_with("sequenceDiagram\n    participant c1\n    participant broker\n    participant c0\n")
        );
        assert!(diagram.contains("Note over c1,c0: 5 ms"), "{diagram}");
        assert!(diagram.contains("Note over c0: timer keep_alive_ping"), "{diagram}");
    }

    #[test]
    fn mermaid_special_characters_are_escaped() {
        assert_eq!(escape("SUBSCRIBE(\"#\"); x"), "SUBSCRIBE(\"#35;\")#59; x");
    }
}
