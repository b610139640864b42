//! Whether a trace event is what a model observation says an observer sees, and if not, how
//! they differ (for failure reports).

use verimqtt_model::observe::{Actor, Observation};
use verimqtt_model::packet::{Message, Packet};
use verimqtt_spec::trace::{Event, PacketInfo, PacketKind, TraceEvent};

use super::ids::{Ids, Space, allocates, packet_id};
use super::links::Links;
use super::mapping::Mapping;

/// A field in which a trace event differs from an observation of the same kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub field: &'static str,
    pub trace: String,
    pub model: String,
}

/// How an event compares with an observation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Another node or another kind of event: not comparable.
    Unrelated,
    /// The same node and kind of event; `differences` empty means the values match (the
    /// connection is checked separately).
    Related { differences: Vec<Difference> },
}

fn differ(field: &'static str, trace: impl ToString, model: impl ToString) -> Difference {
    Difference { field, trace: trace.to_string(), model: model.to_string() }
}

/// Collects the fields in which `trace` and `model` differ.
#[derive(Default)]
struct Diff(Vec<Difference>);

impl Diff {
    fn field<T: PartialEq + ToString>(&mut self, field: &'static str, trace: T, model: T) {
        if trace != model {
            self.0.push(differ(field, trace, model));
        }
    }

    fn message(&mut self, mapping: &Mapping, payload: Option<&str>, model: Message) {
        let trace = payload.and_then(|p| mapping.message(p));
        if trace != Some(model) {
            let shown = match (payload, trace) {
                (Some(p), Some(m)) => format!("{m} (payload {p:?})"),
                (Some(p), None) => format!("payload {p:?}, which was never published"),
                (None, _) => "no payload".to_string(),
            };
            self.0.push(differ("message", shown, model));
        }
    }
}

fn kind_of(packet: &Packet) -> PacketKind {
    match packet {
        Packet::Connect { .. } => PacketKind::Connect,
        Packet::ConnAck { .. } => PacketKind::Connack,
        Packet::Publish { .. } => PacketKind::Publish,
        Packet::PubAck(_) => PacketKind::Puback,
        Packet::PubRec(_) => PacketKind::Pubrec,
        Packet::PubRel(_) => PacketKind::Pubrel,
        Packet::PubComp(_) => PacketKind::Pubcomp,
        Packet::Subscribe(_) => PacketKind::Subscribe,
        Packet::SubAck(_) => PacketKind::Suback,
        Packet::PingReq => PacketKind::Pingreq,
        Packet::PingResp => PacketKind::Pingresp,
        Packet::Disconnect => PacketKind::Disconnect,
    }
}

/// The fields the model knows of a packet, compared with the trace's; `ids` says which trace
/// packet ids stand for which model ids in `space`.
fn packet_differences(
    mapping: &Mapping,
    ids: &Ids,
    space: Space,
    info: &PacketInfo,
    packet: &Packet,
) -> Vec<Difference> {
    let mut diff = Diff::default();
    match (info.packet_id, packet_id(packet)) {
        (None, None) => {}
        (Some(trace), Some(model)) if ids.agree(space, trace, model, allocates(packet)) => {}
        (trace, model) => {
            let shown = |id: Option<u16>| id.map_or("none".to_string(), |id| id.to_string());
            let expected = model
                .map(|model| ids.trace_id(space, model).map_or(format!("a new id (model {model})"), |t| t.to_string()));
            diff.0.push(differ("packet id", shown(trace), expected.unwrap_or_else(|| "none".to_string())));
        }
    }
    match *packet {
        Packet::Connect { clean_start, will } => {
            diff.field("clean start", info.clean_start.unwrap_or(true), clean_start);
            diff.field("will", info.will.unwrap_or(false), will);
        }
        Packet::ConnAck { session_present } => {
            diff.field("session present", info.session_present.unwrap_or(false), session_present);
        }
        Packet::Publish { message, qos, dup, .. } => {
            diff.message(mapping, info.payload.as_deref(), message);
            diff.field("qos", info.qos.unwrap_or(0), qos.level());
            diff.field("dup", info.dup.unwrap_or(false), dup);
        }
        _ => {}
    }
    diff.0
}

/// The id space of a packet observed by `observation`'s actor on a connection of `client`.
fn space_of(observation: &Observation, packet: &Packet, client: usize) -> Space {
    let sender = match observation {
        Observation::Received { actor: Actor::Broker, .. } => Actor::Client(client),
        Observation::Received { .. } => Actor::Broker,
        _ => observation.actor(),
    };
    Space::of(packet, sender, client)
}

/// Compares the values of `event` and `observation` (not the connection: see [`matches`]).
pub fn compare(mapping: &Mapping, ids: &Ids, event: &TraceEvent, observation: &Observation) -> Comparison {
    if mapping.actor(&event.node) != Some(observation.actor()) {
        return Comparison::Unrelated;
    }
    let mut diff = Diff::default();
    match (&event.event, observation) {
        (Event::ConnectionOpened { .. }, Observation::Opened { .. }) => {}
        (Event::ConnectionClosed { reason, .. }, Observation::Closed { reason: model, .. }) => {
            diff.field("reason", format!("{reason:?}"), format!("{model:?}"));
        }
        (Event::PacketSent { packet, .. }, Observation::Sent { packet: model, link, .. })
        | (Event::PacketReceived { packet, .. }, Observation::Received { packet: model, link, .. }) => {
            if packet.kind != kind_of(model) {
                return Comparison::Unrelated;
            }
            let space = space_of(observation, model, link.client);
            diff.0 = packet_differences(mapping, ids, space, packet, model);
        }
        (Event::PublishRequested { qos, payload, .. }, Observation::PublishRequested { message, qos: model, .. }) => {
            diff.message(mapping, Some(payload), Message::App(*message));
            diff.field("qos", *qos, model.level());
        }
        (Event::MessageDelivered { qos, payload, .. }, Observation::Delivered { message, qos: model, .. }) => {
            diff.message(mapping, Some(payload), *message);
            diff.field("qos", *qos, model.level());
        }
        (Event::TimerFired { timer }, Observation::TimerFired { timer: model, .. }) => {
            if timer != model {
                return Comparison::Unrelated;
            }
        }
        _ => return Comparison::Unrelated,
    }
    Comparison::Related { differences: diff.0 }
}

/// The connection an event happens on.
pub fn conn_of(event: &Event) -> Option<u64> {
    match *event {
        Event::ConnectionOpened { conn }
        | Event::ConnectionClosed { conn, .. }
        | Event::PacketSent { conn, .. }
        | Event::PacketReceived { conn, .. } => Some(conn),
        Event::PublishRequested { .. } | Event::MessageDelivered { .. } | Event::TimerFired { .. } => None,
    }
}

/// Whether `event` is what `observation` says, binding its connection to the observed link
/// when the link opens and its packet id to the model's when a sender first uses it.
pub fn matches(
    mapping: &Mapping,
    event: &TraceEvent,
    observation: &Observation,
    links: &mut Links,
    ids: &mut Ids,
) -> bool {
    if compare(mapping, ids, event, observation) != (Comparison::Related { differences: Vec::new() }) {
        return false;
    }
    let linked = match (conn_of(&event.event), observation.link()) {
        (None, None) => true,
        (Some(conn), Some(link)) => match observation {
            Observation::Opened { .. } => links.open(conn, link),
            _ => links.same(conn, link),
        },
        _ => false,
    };
    if let (Observation::Sent { packet, link, .. } | Observation::Received { packet, link, .. }, Some(trace)) =
        (observation, event_packet_id(&event.event))
    {
        if let Some(model) = packet_id(packet) {
            ids.bind(space_of(observation, packet, link.client), trace, model);
        }
    }
    linked
}

fn event_packet_id(event: &Event) -> Option<u16> {
    match event {
        Event::PacketSent { packet, .. } | Event::PacketReceived { packet, .. } => packet.packet_id,
        _ => None,
    }
}
