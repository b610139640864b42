//! 5.0 Topic Aliases, resolved before a trace is mapped: the model has topics, not aliases.
//!
//! A sender may replace a PUBLISH's topic by an alias it set earlier on the same connection
//! (section 3.3.2.3.4): a PUBLISH with an alias and a topic sets the alias, one with an alias
//! and an empty topic uses it. Each end keeps its own account, so the resolution follows each
//! node's own packets: what it sent, and what it received, on each connection. The alias stays
//! in the packet (and `wire.rs` compares it between the ends); only the topic is filled in.

use std::collections::HashMap;

use verimqtt_spec::trace::{ConnId, Event, Node, PacketKind, TraceEvent};

use super::mapping::MappingError;

/// Whose account an alias is in: a node's, on a connection, for what it sends or receives.
type Account = (Node, ConnId, bool);

/// `events` with the topic of every PUBLISH that uses an alias filled in.
pub fn resolved(events: &[TraceEvent]) -> Result<Vec<TraceEvent>, MappingError> {
    let mut aliases: HashMap<(Account, u16), String> = HashMap::new();
    let mut resolved = events.to_vec();
    for (step, event) in resolved.iter_mut().enumerate() {
        let (conn, packet, sent) = match &mut event.event {
            Event::PacketSent { conn, packet } => (*conn, packet, true),
            Event::PacketReceived { conn, packet } => (*conn, packet, false),
            _ => continue,
        };
        let Some(alias) = packet.topic_alias.filter(|_| packet.kind == PacketKind::Publish) else {
            continue;
        };
        let key = ((event.node.clone(), conn, sent), alias);
        match packet.topic.as_deref() {
            Some("") | None => match aliases.get(&key) {
                Some(topic) => packet.topic = Some(topic.clone()),
                None => {
                    return Err(MappingError(format!(
                        "step {}: a PUBLISH on conn {conn} uses Topic Alias {alias}, which was never set there",
                        step + 1
                    )));
                }
            },
            Some(topic) => {
                aliases.insert(key, topic.to_string());
            }
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use verimqtt_spec::trace::PacketInfo;

    fn publish(node: &str, sent: bool, topic: &str, alias: u16) -> TraceEvent {
        let packet = PacketInfo {
            topic: Some(topic.to_string()),
            topic_alias: Some(alias),
            ..PacketInfo::new(PacketKind::Publish)
        };
        let event = match sent {
            true => Event::PacketSent { conn: 1, packet },
            false => Event::PacketReceived { conn: 1, packet },
        };
        TraceEvent { time_ms: 0, node: Node(node.to_string()), event }
    }

    fn topics(events: &[TraceEvent]) -> Vec<String> {
        let topic = |e: &TraceEvent| match &e.event {
            Event::PacketSent { packet, .. } | Event::PacketReceived { packet, .. } => packet.topic.clone(),
            _ => None,
        };
        events.iter().filter_map(topic).collect()
    }

    #[test]
    fn an_alias_stands_for_the_topic_it_was_last_set_to_by_each_end() {
        let events = [
            publish("c0", true, "t", 1),
            publish("broker", false, "t", 1),
            publish("c0", true, "", 1),
            publish("broker", false, "", 1),
            publish("c0", true, "u", 1),
            publish("c0", true, "", 1),
        ];
        assert_eq!(topics(&resolved(&events).unwrap()), ["t", "t", "t", "t", "u", "u"]);
    }

    #[test]
    fn an_alias_never_set_is_rejected() {
        // The broker never received the PUBLISH that set it.
        let events = [publish("c0", true, "t", 1), publish("broker", false, "", 1)];
        let error = resolved(&events).unwrap_err();
        assert!(error.0.contains("Topic Alias 1, which was never set"), "{error}");
    }
}
