//! Whether a trace event is what a model observation says an observer sees, and if not, how
//! they differ (for failure reports).
//!
//! Every field a trace carries is compared: with the model's value where the model has one,
//! with the trace's single value where the model has one abstract value ([`Values`]: topic,
//! filter, client ids), and a field the trace leaves out is a difference, never a default.
//! The fields the model does not carry are listed in one place, each with how it is checked
//! instead or why it is not: [`NOT_IN_THE_MODEL`].
//!
//! [`Values`]: super::mapping::Values

use verimqtt_model::observe::{Actor, Observation};
use verimqtt_model::packet::{Message, Packet, reason};
use verimqtt_model::routing::Subscribed;
use verimqtt_model::{Qos, Version};
use verimqtt_spec::trace::{Event, FilterInfo, PacketInfo, PacketKind, TraceEvent};

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

/// The fields of a trace the model's packets do not carry, and how each is checked instead,
/// or why it is not.
pub const NOT_IN_THE_MODEL: &[(&str, &str)] = &[
    (
        "reason code of a received packet",
        "compared with the packet its peer sent (wire.rs); the sender's is compared with the model's",
    ),
    (
        "topic, will topic, filter, client id, protocol level, Keep Alive, Session Expiry Interval",
        "the model has one of each (per client where it matters): compared with the trace's own single \
         value (values.rs, mapping.rs)",
    ),
    (
        "Receive Maximum and Server Keep Alive (CONNECT, CONNACK)",
        "not compared: the model's CONNECT and CONNACK carry the Receive Maximum the mapping reads from the \
         trace's, lowered to the sender's own limit where that is lower (`connection_opened`'s \
         `max_in_flight`) and capped at the model's 7 packet ids (flight_limits.rs), and each sender's quota \
         follows it; the broker's CONNACK sets no Server Keep Alive",
    ),
    (
        "Topic Alias",
        "resolved before anything else (aliases.rs): a PUBLISH with an alias and an empty topic carries the \
         topic the alias was last set to by the same node on the same connection in the same direction; an \
         alias never set is rejected",
    ),
    (
        "Reason String (PUBACK, PUBREC, PUBREL, PUBCOMP)",
        "the model has none: a refusing PUBACK or PUBREC from the broker must carry one (verimqtt's design, \
         unless the client's CONNECT asks for no problem information); elsewhere not compared (the broker \
         also explains a retained message it routed but did not keep, which the model has no notion of)",
    ),
    ("the other 5.0 properties", "not compared: not in the trace"),
];

/// Reason codes from 0x80 on are failures (5.0 section 2.4).
const FIRST_FAILURE: u8 = 0x80;

/// A field as the trace shows it: `missing` when left out.
fn shown<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(|| "missing".to_string(), ToString::to_string)
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

    /// A message an application hands over or gets: `(payload, qos, topic, retain)` against
    /// the model's `(message, qos, retain)`. The model has one topic.
    fn application(
        &mut self,
        mapping: &Mapping,
        (payload, qos, topic, retain): (&str, u8, &str, bool),
        (message, model, model_retain): (Message, Qos, bool),
    ) {
        self.message(mapping, Some(payload), message);
        self.field("qos", qos, model.level());
        self.exact("topic", &Some(topic.to_string()), &mapping.values.topic);
        self.field("retain", retain, model_retain);
    }

    /// A field the trace must carry, with the model's value.
    fn required<T: PartialEq + ToString>(&mut self, field: &'static str, trace: &Option<T>, model: T) {
        if trace.as_ref() != Some(&model) {
            self.0.push(differ(field, shown(trace), model.to_string()));
        }
    }

    /// A field the trace must carry with the value `model`, or leave out if `model` is `None`.
    fn exact<T: PartialEq + ToString>(&mut self, field: &'static str, trace: &Option<T>, model: &Option<T>) {
        if trace != model {
            self.0.push(differ(field, shown(trace), shown(model)));
        }
    }

    /// verimqtt's design, not MQTT's (a Reason String is optional, 5.0 section 3.4.2.2.2):
    /// its broker explains every PUBLISH it refuses, in the PUBACK or PUBREC that refuses it,
    /// unless the client asked for no Reason Strings ([MQTT-3.1.2-29]).
    fn refusal_explained(&mut self, mapping: &Mapping, client: usize, info: &PacketInfo, reason: Option<u8>) {
        let refusal = matches!(info.kind, PacketKind::Puback | PacketKind::Pubrec)
            && reason.is_some_and(|code| code >= FIRST_FAILURE);
        if refusal && mapping.problem_information[client] && info.reason_string.is_none() {
            self.0.push(differ("reason string", "missing", "an explanation of the refusal (verimqtt's design)"));
        }
    }

    /// The message a payload names; a retained copy carries its message's payload (the RETAIN
    /// flag tells it apart, compared on its own).
    fn message(&mut self, mapping: &Mapping, payload: Option<&str>, model: Message) {
        let trace = payload.and_then(|p| mapping.message(p));
        let publication = match model {
            Message::Retained { message, .. } => Message::App(message),
            other => other,
        };
        if trace != Some(publication) {
            let shown = match (payload, trace) {
                (Some(p), Some(m)) => format!("{m} (payload {p:?})"),
                (Some(p), None) => format!("payload {p:?}, which was never published"),
                (None, _) => "no payload".to_string(),
            };
            self.0.push(differ("message", shown, model));
        }
    }
}

/// The fields of a packet compared with the model's packet and the trace's single values;
/// `ids` says which trace packet ids stand for which model ids in `space`, and `fresh`
/// whether the packet may bind an id not bound yet. `reason` is the reason code the model's
/// sender sets, if the observation is the sending.
fn packet_differences(
    mapping: &Mapping,
    (ids, space, fresh): (&Ids, Space, bool),
    info: &PacketInfo,
    packet: &Packet,
    reason: Option<Option<u8>>,
) -> Vec<Difference> {
    let mut diff = Diff::default();
    let values = &mapping.values;
    if let Some(reason) = reason {
        diff.exact("reason code", &info.reason_code, &reason);
    }
    match (info.packet_id, packet_id(packet)) {
        (None, None) => {}
        (Some(trace), Some(model)) if ids.agree(space, trace, model, fresh) => {}
        (trace, model) => {
            let shown = |id: Option<u16>| id.map_or("none".to_string(), |id| id.to_string());
            let expected = model
                .map(|model| ids.trace_id(space, model).map_or(format!("a new id (model {model})"), |t| t.to_string()));
            diff.0.push(differ("packet id", shown(trace), expected.unwrap_or_else(|| "none".to_string())));
        }
    }
    match *packet {
        // The Receive Maximum is not compared: the model's is the trace's, capped (NOT_IN_THE_MODEL).
        Packet::Connect { clean_start, will, .. } => {
            let c = space.client;
            diff.required("clean start", &info.clean_start, clean_start);
            diff.required("will", &info.will, will);
            diff.required("protocol level", &info.protocol_level, protocol_level(mapping.config.version));
            diff.required("client id", &info.client_id, values.client_ids[c].clone());
            diff.required("keep alive", &info.keep_alive, mapping.keep_alive_s);
            // 5.0: absent means 0 (section 3.1.2.11.2), a session that ends with its connection.
            let (expiry, model) = match mapping.config.version {
                Version::V3_1_1 => (info.session_expiry, None),
                Version::V5_0 if !mapping.config.session_outlives_connection(c) => {
                    (info.session_expiry.or(Some(0)), Some(0))
                }
                Version::V5_0 => (info.session_expiry, mapping.session_expiry_s),
            };
            diff.exact("session expiry", &expiry, &model);
            let will_payload = mapping.wills[c].clone().filter(|_| will);
            diff.exact("will payload", &info.payload, &will_payload);
            diff.exact("will topic", &info.topic, &values.topic.clone().filter(|_| will));
            // The model's wills are not retained, all at one QoS (0 or 1).
            diff.exact("will qos", &info.qos, &will.then_some(mapping.config.will_qos.level()));
            diff.exact("will retain", &info.retain, &will.then_some(false));
        }
        Packet::ConnAck { session_present, .. } => {
            diff.required("session present", &info.session_present, session_present);
        }
        Packet::Publish { message, qos, dup, retain, .. } => {
            diff.message(mapping, info.payload.as_deref(), message);
            diff.required("qos", &info.qos, qos.level());
            diff.required("dup", &info.dup, dup);
            diff.required("retain", &info.retain, retain);
            diff.exact("topic", &info.topic, &values.topic);
            diff.exact("payload format", &info.payload_format, &mapping.payload_format(message));
        }
        // A hostile client's message, of its own: no message nor will of the trace.
        Packet::PublishBeyondQuota { qos } => {
            let own = "a payload no message or will has";
            match info.payload.as_deref().map(|p| (p, mapping.message(p))) {
                Some((_, None)) => {}
                Some((p, Some(message))) => diff.0.push(differ("message", format!("{message} (payload {p:?})"), own)),
                None => diff.0.push(differ("message", "no payload", own)),
            }
            diff.required("qos", &info.qos, qos.level());
            diff.required("dup", &info.dup, false);
            diff.required("retain", &info.retain, false);
            diff.exact("topic", &info.topic, &values.topic);
            diff.exact("payload format", &info.payload_format, &None);
        }
        Packet::Subscribe(_, request) => subscription_differences(&mut diff, mapping, request, info.filters.as_deref()),
        Packet::SubAck(_, request) => {
            let granted = values.requested(request).map(|r| vec![r.qos]);
            diff.exact(
                "reason codes",
                &info.reason_codes.as_ref().map(|c| format!("{c:?}")),
                &granted.map(|g| format!("{g:?}")),
            );
        }
        // The model's UNSUBSCRIBE names the one filter, without options.
        Packet::Unsubscribe(_) => {
            let model = values.subscription.as_ref().map(|first| {
                vec![FilterInfo {
                    filter: first.filter.clone(),
                    qos: None,
                    no_local: None,
                    retain_as_published: None,
                    retain_handling: None,
                }]
            });
            let show = |filters: &Option<Vec<FilterInfo>>| format!("{filters:?}");
            diff.field("filters", show(&info.filters), show(&model));
        }
        // 3.1.1's UNSUBACK has no payload; 5.0's has a reason code per filter.
        Packet::UnsubAck { existed, .. } => {
            let code = if existed { 0 } else { reason::NO_SUBSCRIPTION_EXISTED };
            let codes = match mapping.config.version {
                Version::V3_1_1 => vec![],
                Version::V5_0 => vec![code],
            };
            diff.field("reason codes", format!("{:?}", info.reason_codes), format!("{:?}", Some(codes)));
        }
        _ => {}
    }
    diff.0
}

fn protocol_level(version: Version) -> u8 {
    match version {
        Version::V3_1_1 => 4,
        Version::V5_0 => 5,
    }
}

/// A SUBSCRIBE carries the one filter at the one QoS of the model's SUBSCRIBE `request` (the
/// first, or the one that adds), with the 5.0 options the model's subscription has (No Local
/// 0: a client that publishes to itself gets its messages; its Retain As Published and Retain
/// Handling).
fn subscription_differences(diff: &mut Diff, mapping: &Mapping, request: Subscribed, filters: Option<&[FilterInfo]>) {
    let v5 = mapping.config.version == Version::V5_0;
    let model = mapping.values.requested(request).map(|r| FilterInfo {
        filter: r.filter.clone(),
        qos: Some(r.qos),
        no_local: v5.then_some(false),
        retain_as_published: v5.then_some(r.retain.as_published),
        retain_handling: v5.then_some(r.retain.handling.level()),
    });
    let trace = match filters {
        Some([only]) => Some(only.clone()),
        _ => None,
    };
    if trace != model {
        let show = |f: &Option<FilterInfo>| f.as_ref().map_or_else(|| "missing".to_string(), |f| format!("{f:?}"));
        diff.0.push(differ(
            "filters",
            filters.map_or_else(|| "missing".to_string(), |f| format!("{f:?}")),
            show(&model),
        ));
    }
}

/// The id space of a packet observed by `observation`'s actor on a connection of `client`.
fn space_of(observation: &Observation, packet: &Packet, client: usize) -> Space {
    let sender = match observation {
        Observation::Received { actor: Actor::Broker, .. } => Actor::Client(client),
        Observation::Received { .. } => Actor::Broker,
        // Written on the client's connection, as if by the client.
        Observation::Injected { .. } => Actor::Client(client),
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
        (Event::FaultInjected { fault, .. }, Observation::Fault { fault: model, .. }) => {
            diff.field("fault", format!("{fault:?}"), format!("{model:?}"));
        }
        (Event::PacketSent { packet, .. }, Observation::Sent { packet: model, link, reason, .. }) => {
            if packet.kind != model.kind() {
                return Comparison::Unrelated;
            }
            let space = space_of(observation, model, link.client);
            diff.0 = packet_differences(mapping, (ids, space, allocates(model)), packet, model, Some(*reason));
            if observation.actor() == Actor::Broker {
                diff.refusal_explained(mapping, link.client, packet, *reason);
            }
        }
        (Event::PacketReceived { packet, .. }, Observation::Received { packet: model, link, .. }) => {
            if packet.kind != model.kind() {
                return Comparison::Unrelated;
            }
            let space = space_of(observation, model, link.client);
            diff.0 = packet_differences(mapping, (ids, space, allocates(model)), packet, model, None);
        }
        // A hostile packet's id is whatever the hostile client chose: it binds the model's
        // id for it (`Config::unknown_id`) if neither is bound yet.
        (Event::PacketInjected { packet, .. }, Observation::Injected { packet: model, link, reason }) => {
            if packet.kind != model.kind() {
                return Comparison::Unrelated;
            }
            let space = space_of(observation, model, link.client);
            diff.0 = packet_differences(mapping, (ids, space, true), packet, model, Some(*reason));
        }
        // What a publisher's application hands over, or gets back, carries RETAIN as it was
        // published.
        (
            Event::PublishRequested { qos, payload, topic, retain },
            Observation::PublishRequested { message, qos: model, .. },
        )
        | (
            Event::PublishAbandoned { qos, payload, topic, retain },
            Observation::Abandoned { message, qos: model, .. },
        ) => {
            let model_retain = mapping.config.retained.contains(*message);
            diff.application(mapping, (payload, *qos, topic, *retain), (Message::App(*message), *model, model_retain))
        }
        (
            Event::MessageDelivered { qos, payload, topic, retain },
            Observation::Delivered { message, qos: model, retain: model_retain, .. },
        ) => diff.application(mapping, (payload, *qos, topic, *retain), (*message, *model, *model_retain)),
        (Event::BrokerRestarted, Observation::Restarted) => {}
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
        Event::ConnectionOpened { conn, .. }
        | Event::ConnectionClosed { conn, .. }
        | Event::PacketSent { conn, .. }
        | Event::PacketReceived { conn, .. }
        | Event::FaultInjected { conn, .. }
        | Event::PacketInjected { conn, .. }
        | Event::Forwarded { conn, .. }
        | Event::BrokerClosed { conn }
        | Event::Dropped { conn, .. } => Some(conn),
        Event::ProbeEnded
        | Event::PublishRequested { .. }
        | Event::PublishAbandoned { .. }
        | Event::MessageDelivered { .. }
        | Event::TimerFired { .. }
        | Event::NetworkStalled { .. }
        | Event::BrokerRestarted => None,
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
    if let (
        Observation::Sent { packet, link, .. }
        | Observation::Received { packet, link, .. }
        | Observation::Injected { packet, link, .. },
        Some(trace),
    ) = (observation, event_packet_id(&event.event))
    {
        if let Some(model) = packet_id(packet) {
            let space = space_of(observation, packet, link.client);
            if matches!(observation, Observation::Received { .. }) && frees_its_id(packet, observation.actor()) {
                ids.end(space, trace);
            } else {
                ids.bind(space, trace, model);
            }
        }
    }
    linked
}

/// Whether `receiver`'s receiving `packet` ends its id's use by the sender that allocated it.
/// A refusing PUBREC ends a client's QoS 2 flow; one the broker reads is a hostile client's,
/// for an id no flight uses, which its answer (PUBREL 0x92 to an accepting one) may still
/// carry.
fn frees_its_id(packet: &Packet, receiver: Actor) -> bool {
    match packet {
        Packet::PubAck(_) | Packet::PubComp(_) | Packet::SubAck(..) | Packet::UnsubAck { .. } => true,
        Packet::PubRecRefused(_) => matches!(receiver, Actor::Client(_)),
        _ => false,
    }
}

fn event_packet_id(event: &Event) -> Option<u16> {
    match event {
        Event::PacketSent { packet, .. }
        | Event::PacketReceived { packet, .. }
        | Event::PacketInjected { packet, .. } => packet.packet_id,
        _ => None,
    }
}
