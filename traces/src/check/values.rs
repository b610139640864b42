//! The concrete values a trace must carry wherever the model has one abstract value: the
//! model has one topic, a first SUBSCRIBE of one filter granted at one QoS (and perhaps a
//! second that adds, or replaces, one), and one client id per client. Each is read from the
//! trace once; every packet is then compared with it.

use verimqtt_model::routing::{RetainHandling, RetainOptions, Subscribed};
use verimqtt_proto::codec::matching::matches as filter_matches;
use verimqtt_spec::trace::{Event, Node, PacketInfo, PacketKind, TraceEvent};

use super::mapping::MappingError;

/// The values of one trace that stand for the model's single ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Values {
    /// The topic every message (and will) is published to; `None` if nothing is published.
    pub topic: Option<String>,
    /// The filter of the subscribers' first SUBSCRIBE, with its QoS and options.
    pub subscription: Option<Requested>,
    /// The filter of a second SUBSCRIBE that adds a filter (or, with the first's filter,
    /// replaces its QoS or options [MQTT-3.8.4-3]).
    pub added: Option<Requested>,
    /// Per client (model order), the client id of its CONNECTs.
    pub client_ids: Vec<String>,
}

/// The one filter of a SUBSCRIBE: the filter, the QoS it asks for (and SUBACK grants), and
/// its 5.0 retain options (3.1.1 has none: the defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    pub filter: String,
    pub qos: u8,
    pub retain: RetainOptions,
}

impl Values {
    pub fn derive(events: &[TraceEvent], clients: &[Node]) -> Result<Values, MappingError> {
        let topic = one_topic(events)?;
        let (subscription, added) = subscriptions(events, topic.as_deref())?;
        let client_ids = clients.iter().map(|node| client_id(events, node)).collect::<Result<Vec<_>, _>>()?;
        if let Some((i, id)) = client_ids.iter().enumerate().find(|(i, id)| client_ids[..*i].contains(id)) {
            return Err(MappingError(format!(
                "{} uses client id {id:?} of another node; the model's clients have their own",
                clients[i]
            )));
        }
        Ok(Values { topic, subscription, added, client_ids })
    }

    /// The filter and QoS of SUBSCRIBE `request`: the first, or the one that adds.
    pub fn requested(&self, request: Subscribed) -> Option<&Requested> {
        match request {
            Subscribed::No => None,
            Subscribed::First => self.subscription.as_ref(),
            Subscribed::Added => self.added.as_ref(),
        }
    }
}

fn sent_packets(events: &[TraceEvent]) -> impl Iterator<Item = (&Node, &PacketInfo)> {
    events.iter().filter_map(|e| match &e.event {
        Event::PacketSent { packet, .. } => Some((&e.node, packet)),
        _ => None,
    })
}

/// The topic of every publish request and will: the model has one.
fn one_topic(events: &[TraceEvent]) -> Result<Option<String>, MappingError> {
    let requested = events.iter().filter_map(|e| match &e.event {
        Event::PublishRequested { topic, .. } => Some(topic),
        _ => None,
    });
    let wills = sent_packets(events)
        .filter(|(_, p)| p.kind == PacketKind::Connect && p.will == Some(true))
        .filter_map(|(_, p)| p.topic.as_ref());
    let mut topics = requested.chain(wills);
    let Some(first) = topics.next() else { return Ok(None) };
    match topics.find(|t| *t != first) {
        Some(other) => Err(MappingError(format!("messages go to topics {first:?} and {other:?}; the model has one"))),
        None => Ok(Some(first.clone())),
    }
}

/// The SUBSCRIBEs' filters, QoS and options, one per SUBSCRIBE: a first, and perhaps a second
/// that adds one (the first SUBSCRIBE with another filter, QoS or options); each filter must
/// match the topic.
type Subscriptions = (Option<Requested>, Option<Requested>);

fn subscriptions(events: &[TraceEvent], topic: Option<&str>) -> Result<Subscriptions, MappingError> {
    let mut found: Vec<Requested> = Vec::new();
    for (node, packet) in sent_packets(events).filter(|(_, p)| p.kind == PacketKind::Subscribe) {
        let filters = packet.filters.as_deref().unwrap_or_default();
        let [filter] = filters else {
            return Err(MappingError(format!(
                "{node} subscribes to {} filters at once; the model subscribes to one",
                filters.len()
            )));
        };
        let Some(qos) = filter.qos else {
            return Err(MappingError(format!("{node} subscribes to {:?} without a QoS", filter.filter)));
        };
        let level = filter.retain_handling.unwrap_or(0);
        let Some(handling) = RetainHandling::from_level(level) else {
            return Err(MappingError(format!("{node} asks for Retain Handling {level}")));
        };
        let retain = RetainOptions { handling, as_published: filter.retain_as_published == Some(true) };
        let this = Requested { filter: filter.filter.clone(), qos, retain };
        if !found.contains(&this) {
            found.push(this);
        }
    }
    if let [first, second, third, ..] = &found[..] {
        return Err(MappingError(format!(
            "subscriptions to {:?} at QoS {}, {:?} at QoS {} and {:?} at QoS {} (with their options); the model has a \
             first SUBSCRIBE and one that adds a filter",
            first.filter, first.qos, second.filter, second.qos, third.filter, third.qos
        )));
    }
    for Requested { filter, .. } in &found {
        if let Some(topic) = topic.filter(|topic| !filter_matches(filter, topic)) {
            return Err(MappingError(format!(
                "filter {filter:?} does not match topic {topic:?}; the model's subscriptions match its topic"
            )));
        }
    }
    let mut found = found.into_iter();
    Ok((found.next(), found.next()))
}

/// The client id every CONNECT of `node` carries.
fn client_id(events: &[TraceEvent], node: &Node) -> Result<String, MappingError> {
    let mut ids = sent_packets(events)
        .filter(|(n, p)| *n == node && p.kind == PacketKind::Connect)
        .map(|(_, p)| p.client_id.clone());
    let Some(first) = ids.next() else { return Ok(String::new()) };
    let Some(first) = first else {
        return Err(MappingError(format!("a CONNECT of {node} has no client id")));
    };
    match ids.find(|id| id.as_ref() != Some(&first)) {
        Some(other) => Err(MappingError(format!(
            "{node} connects as {first:?} and as {other:?}; a model client keeps one client id"
        ))),
        None => Ok(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(node: &str, event: Event) -> TraceEvent {
        TraceEvent { time_ms: 0, node: Node::client(node), event }
    }

    fn subscribe(filter: &str, qos: u8) -> TraceEvent {
        let filter = verimqtt_spec::trace::FilterInfo {
            filter: filter.into(),
            qos: Some(qos),
            no_local: None,
            retain_as_published: None,
            retain_handling: None,
        };
        let packet = PacketInfo { filters: Some(vec![filter]), ..PacketInfo::new(PacketKind::Subscribe) };
        event("c1", Event::PacketSent { conn: 1, packet })
    }

    fn request(topic: &str) -> TraceEvent {
        event("c0", Event::PublishRequested { topic: topic.into(), qos: 1, retain: false, payload: "m0".into() })
    }

    fn requested(filter: &str, qos: u8) -> Requested {
        Requested { filter: filter.to_string(), qos, retain: RetainOptions::DEFAULT }
    }

    #[test]
    fn one_topic_and_one_matching_filter() {
        let events = [request("a/b"), subscribe("a/+", 2)];
        let values = Values::derive(&events, &[]).unwrap();
        assert_eq!(values.topic.as_deref(), Some("a/b"));
        assert_eq!(values.subscription, Some(requested("a/+", 2)));
        assert_eq!(values.added, None);
    }

    #[test]
    fn a_second_filter_or_qos_is_the_subscribe_that_adds() {
        let events = [request("a"), subscribe("a", 1), subscribe("#", 2), subscribe("a", 1)];
        let values = Values::derive(&events, &[]).unwrap();
        assert_eq!(values.requested(Subscribed::First), Some(&requested("a", 1)));
        assert_eq!(values.requested(Subscribed::Added), Some(&requested("#", 2)));
        let replaced = Values::derive(&[subscribe("a", 1), subscribe("a", 2)], &[]).unwrap();
        assert_eq!(replaced.added, Some(requested("a", 2)));
    }

    #[test]
    fn retain_options_are_read_and_other_options_are_another_subscribe() {
        let mut with_options = subscribe("a", 1);
        if let Event::PacketSent { packet, .. } = &mut with_options.event {
            for f in packet.filters.iter_mut().flatten() {
                (f.retain_handling, f.retain_as_published) = (Some(2), Some(true));
            }
        }
        let values = Values::derive(&[subscribe("a", 1), with_options.clone()], &[]).unwrap();
        let options = RetainOptions { handling: RetainHandling::Never, as_published: true };
        assert_eq!(values.added, Some(Requested { retain: options, ..requested("a", 1) }));
        if let Event::PacketSent { packet, .. } = &mut with_options.event {
            packet.filters.iter_mut().flatten().for_each(|f| f.retain_handling = Some(3));
        }
        assert!(Values::derive(&[with_options], &[]).is_err(), "Retain Handling 3 is malformed");
    }

    #[test]
    fn two_topics_three_subscriptions_or_a_filter_that_misses_are_outside_the_model() {
        assert!(Values::derive(&[request("a"), request("b")], &[]).is_err());
        assert!(Values::derive(&[subscribe("a", 2), subscribe("#", 2), subscribe("+", 1)], &[]).is_err());
        assert!(Values::derive(&[request("a"), subscribe("b", 2)], &[]).is_err());
        assert!(Values::derive(&[request("a"), subscribe("a", 2), subscribe("b", 2)], &[]).is_err());
    }
}
