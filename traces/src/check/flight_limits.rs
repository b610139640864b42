//! 5.0: how many QoS 1 and 2 PUBLISH packets each side may keep unacknowledged, as the
//! model's two limits (`Config::receive_maximum` for the broker's flights to a client,
//! `Config::broker_receive_maximum` for a client's to the broker).
//!
//! A sender is bound by the Receive Maximum its peer announces ([MQTT-3.3.4-7] for a client,
//! [MQTT-3.3.4-9] for the server; an absent one is 65,535, sections 3.1.2.11.3 and 3.2.2.3.3)
//! and by its own limit, which its `connection_opened` carries (`max_in_flight`). A correct
//! sender keeps the smaller of the two, so the model is given the smaller, and its
//! `receive_maximum_respected` then holds each sender to it: a sender that exceeds its own
//! limit while within its peer's breaks that property (whose name and citations are the
//! Receive Maximum's: the limit it broke may be its own). The model has one value per
//! direction for every client, so the clients must agree on it.
//!
//! 3.1.1 has no Receive Maximum and the model no limit there: a 3.1.1 sender's own limit is
//! not checked.

use verimqtt_model::Version;
use verimqtt_model::bits::Bits;
use verimqtt_spec::trace::{Event, Node, PacketKind, TraceEvent};

use super::mapping::{MappingError, sent_by};

/// The model's limits on the broker's flights to each client and on each client's flights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlightLimits {
    pub to_clients: u8,
    pub from_clients: u8,
}

/// The limits of a trace of `version` whose client nodes are `clients`.
pub fn flight_limits(version: Version, events: &[TraceEvent], clients: &[Node]) -> Result<FlightLimits, MappingError> {
    if version == Version::V3_1_1 {
        return Ok(FlightLimits { to_clients: Bits::MAX, from_clients: Bits::MAX });
    }
    let broker = Node::broker();
    let broker_own = own_limit(events, &broker)?.unwrap_or(u16::MAX);
    let broker_announced = announced(events, &broker, PacketKind::Connack, "Receive Maximum of the broker")?;
    let mut to_clients = Vec::new();
    let mut from_clients = Vec::new();
    for client in clients {
        let client_announced = announced(events, client, PacketKind::Connect, "Receive Maximum of one client")?;
        let client_own = own_limit(events, client)?.unwrap_or(u16::MAX);
        to_clients.push(client_announced.min(broker_own));
        from_clients.push(broker_announced.min(client_own));
    }
    Ok(FlightLimits {
        to_clients: model_limit(agreed(&to_clients, "limit on the broker's flights to a client")?),
        from_clients: model_limit(agreed(&from_clients, "limit on a client's flights")?),
    })
}

/// The limit every `connection_opened` of `node` carries; `None` if it opens none.
fn own_limit(events: &[TraceEvent], node: &Node) -> Result<Option<u16>, MappingError> {
    let limits: Vec<u16> = events
        .iter()
        .filter(|e| &e.node == node)
        .filter_map(|e| match e.event {
            Event::ConnectionOpened { max_in_flight, .. } => Some(max_in_flight),
            _ => None,
        })
        .collect();
    if limits.is_empty() {
        return Ok(None);
    }
    agreed(&limits, &format!("own limit on the flights of {node}")).map(Some)
}

/// The Receive Maximum every `kind` packet `node` sends announces (65,535 where absent, and
/// where it sends none, as then nothing of its peer's is bound by it).
fn announced(events: &[TraceEvent], node: &Node, kind: PacketKind, what: &str) -> Result<u16, MappingError> {
    let values: Vec<u16> =
        sent_by(events, node, kind).iter().map(|packet| packet.receive_maximum.unwrap_or(u16::MAX)).collect();
    if values.is_empty() {
        return Ok(u16::MAX);
    }
    agreed(&values, what)
}

fn agreed(values: &[u16], what: &str) -> Result<u16, MappingError> {
    let first = values.first().copied().unwrap_or(u16::MAX);
    match values.iter().find(|&&v| v != first) {
        Some(other) => Err(MappingError(format!("the {what} differs ({first}, {other}); the model has one"))),
        None => Ok(first),
    }
}

/// The model's senders have [`Bits::MAX`] packet ids, so a limit of that or more never binds
/// in the model: such limits all map to it.
fn model_limit(limit: u16) -> u8 {
    u8::try_from(limit).map_or(Bits::MAX, |limit| limit.min(Bits::MAX))
}

#[cfg(test)]
mod tests {
    use verimqtt_spec::trace::{ConnId, PacketInfo};

    use super::*;

    fn event(node: &str, event: Event) -> TraceEvent {
        TraceEvent { time_ms: 0, node: Node(node.to_string()), event }
    }

    fn opened(node: &str, conn: ConnId, max_in_flight: u16) -> TraceEvent {
        event(node, Event::ConnectionOpened { conn, max_in_flight })
    }

    fn sends(node: &str, conn: ConnId, kind: PacketKind, receive_maximum: Option<u16>) -> TraceEvent {
        let packet = PacketInfo { receive_maximum, ..PacketInfo::new(kind) };
        event(node, Event::PacketSent { conn, packet })
    }

    /// c0 announces `c0_maximum` and limits itself to `c0_own`; the broker announces 2 and
    /// limits itself to `broker_own`.
    fn trace(c0_maximum: u16, c0_own: u16, broker_own: u16) -> Vec<TraceEvent> {
        vec![
            opened("c0", 1, c0_own),
            opened("broker", 1, broker_own),
            sends("c0", 1, PacketKind::Connect, Some(c0_maximum)),
            sends("broker", 1, PacketKind::Connack, Some(2)),
        ]
    }

    fn limits(events: &[TraceEvent], clients: &[&str]) -> Result<FlightLimits, MappingError> {
        let clients: Vec<Node> = clients.iter().map(|c| Node(c.to_string())).collect();
        flight_limits(Version::V5_0, events, &clients)
    }

    #[test]
    fn each_sender_keeps_the_smaller_of_its_peers_receive_maximum_and_its_own_limit() {
        let both = limits(&trace(3, 1, 64), &["c0"]).unwrap();
        assert_eq!(both, FlightLimits { to_clients: 3, from_clients: 1 });
        let broker_own = limits(&trace(3, 100, 1), &["c0"]).unwrap();
        assert_eq!(broker_own, FlightLimits { to_clients: 1, from_clients: 2 });
    }

    #[test]
    fn limits_the_model_cannot_bind_map_to_its_packet_id_pool() {
        let none = limits(&trace(u16::MAX, u16::MAX, u16::MAX), &["c0"]).unwrap();
        assert_eq!(none.to_clients, Bits::MAX);
    }

    #[test]
    fn clients_must_agree_on_what_binds_them() {
        let mut events = trace(3, 1, 64);
        events.extend([opened("c1", 2, 2), sends("c1", 2, PacketKind::Connect, Some(3))]);
        let error = limits(&events, &["c0", "c1"]).unwrap_err();
        assert!(error.0.contains("limit on a client's flights differs (1, 2)"), "{error}");
        // A client whose own limit is above what the broker allows is bound alike.
        events[4] = opened("c1", 2, 5);
        assert_eq!(
            limits(&events, &["c0", "c1"]).unwrap_err().0,
            "the limit on a client's flights differs (1, 2); the model has one"
        );
    }

    #[test]
    fn a_node_that_changes_its_own_limit_is_outside_the_model() {
        let mut events = trace(3, 1, 64);
        events.push(opened("c0", 2, 4));
        assert!(limits(&events, &["c0"]).unwrap_err().0.contains("own limit on the flights of c0 differs"));
    }

    #[test]
    fn a_3_1_1_trace_has_no_limits_the_model_binds() {
        let none = flight_limits(Version::V3_1_1, &trace(3, 1, 1), &[Node("c0".into())]).unwrap();
        assert_eq!(none, FlightLimits { to_clients: Bits::MAX, from_clients: Bits::MAX });
    }
}
