//! What reached each subscriber's application: how often, in what order, and whether
//! anything the broker took was lost.

use std::collections::HashMap;

use verimqtt_spec::trace::{End, Event, Node, PacketKind};

use super::view::View;
use super::{Judge, Property, Verdict};

/// A message an application published: its publisher, topic and QoS, and the events that
/// show the broker received it (the first PUBLISH passed to it) and took it over (the PUBACK
/// passed back, or for QoS 2 the PUBREL passed to it: after that, method A or B, the broker
/// owes it to every subscriber).
#[derive(Debug)]
pub(super) struct Published {
    publisher: Node,
    topic: String,
    qos: u8,
    pub(super) received: Option<usize>,
    taken: Option<usize>,
}

/// The messages of the trace by payload (payloads are unique in a probe's runs).
pub(super) fn published(view: &View) -> HashMap<String, Published> {
    let mut messages: HashMap<String, Published> = HashMap::new();
    // Per publisher, the payload of each packet id in flight to the broker.
    let mut ids: HashMap<(Node, u16), String> = HashMap::new();
    for (index, event) in view.trace.iter().enumerate() {
        match &event.event {
            Event::PublishRequested { topic, qos, payload, .. } => {
                let message = Published {
                    publisher: event.node.clone(),
                    topic: topic.clone(),
                    qos: *qos,
                    received: None,
                    taken: None,
                };
                messages.insert(payload.clone(), message);
            }
            Event::Forwarded { conn, to, packet } => {
                let Some(node) = view.conns.get(conn).map(|c| c.client.clone()) else { continue };
                match (to, packet.kind) {
                    (End::Broker, PacketKind::Publish) => {
                        let Some(payload) = &packet.payload else { continue };
                        if let Some(message) = messages.get_mut(payload).filter(|m| m.publisher == node) {
                            message.received.get_or_insert(index);
                        }
                        if let Some(id) = packet.packet_id {
                            ids.insert((node, id), payload.clone());
                        }
                    }
                    (End::Client, PacketKind::Puback) | (End::Broker, PacketKind::Pubrel) => {
                        let payload = packet.packet_id.and_then(|id| ids.get(&(node, id)));
                        if let Some(message) = payload.and_then(|payload| messages.get_mut(payload)) {
                            message.taken.get_or_insert(index);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    messages
}

/// Per subscriber, the first delivery of each payload and how many there were.
fn delivered(view: &View) -> HashMap<Node, Vec<(String, Vec<usize>)>> {
    let mut deliveries: HashMap<Node, Vec<(String, Vec<usize>)>> = HashMap::new();
    for (index, event) in view.trace.iter().enumerate() {
        if let Event::MessageDelivered { payload, .. } = &event.event {
            let of_node = deliveries.entry(event.node.clone()).or_default();
            match of_node.iter_mut().find(|(seen, _)| seen == payload) {
                Some((_, events)) => events.push(index),
                None => of_node.push((payload.clone(), vec![index])),
            }
        }
    }
    deliveries
}

/// QoS 0 at most once, QoS 2 exactly once (at most once here), and order.
pub(super) fn judge(view: &View) -> [Verdict; 3] {
    let mut qos0 = Judge::new(Property::Qos0AtMostOnce);
    let mut qos2 = Judge::new(Property::Qos2ExactlyOnce);
    let mut order = Judge::new(Property::Order);
    let messages = published(view);
    for (node, deliveries) in delivered(view) {
        for (payload, events) in &deliveries {
            let Some(message) = messages.get(payload) else { continue };
            let judge = match message.qos {
                0 => &mut qos0,
                2 => &mut qos2,
                _ => continue,
            };
            judge.check();
            if events.len() > 1 {
                judge.violation(
                    format!("{node} received {payload:?} (QoS {}) {} times", message.qos, events.len()),
                    events.clone(),
                );
            }
        }
        // Each pair of QoS 1/2 messages of one publisher, topic and QoS must reach the
        // subscriber first in the order the broker received them.
        for (position, (first, first_events)) in deliveries.iter().enumerate() {
            for (then, then_events) in &deliveries[position + 1..] {
                let (Some(a), Some(b)) = (messages.get(first), messages.get(then)) else { continue };
                let (Some(a_received), Some(b_received)) = (a.received, b.received) else { continue };
                if a.publisher != b.publisher || a.topic != b.topic || a.qos != b.qos || a.qos == 0 {
                    continue;
                }
                order.check();
                if b_received < a_received {
                    order.violation(
                        format!(
                            "{node} received {first:?} before {then:?}, which the broker received first from {} on \
                             {:?} at QoS {}",
                            a.publisher, a.topic, a.qos
                        ),
                        vec![b_received, a_received, first_events[0], then_events[0]],
                    );
                }
            }
        }
    }
    [qos0.verdict(), qos2.verdict(), order.verdict()]
}

/// No loss: every QoS 1/2 message the broker took while a persistent subscriber held its
/// subscription at QoS 1 or 2 reached that subscriber by the end, if the subscriber is up at the end. A
/// message lost because the broker lost the session is a deviation.
pub(super) fn judge_no_loss(view: &View) -> Verdict {
    let mut judge = Judge::new(Property::NoLoss);
    let messages = published(view);
    let deliveries = delivered(view);
    for node in view.clients() {
        let conns: Vec<_> = view.conns.values().filter(|conn| conn.client == node).collect();
        let persistent = conns.iter().all(|conn| {
            conn.connect.as_ref().is_some_and(|(_, connect)| {
                connect.clean_start == Some(false) && (!view.v5 || connect.session_expiry == Some(u32::MAX))
            })
        });
        let Some(last) = view.up_at_end(&node) else { continue };
        if !persistent || conns.is_empty() {
            continue;
        }
        let mut payloads: Vec<(&String, &Published)> = messages.iter().collect();
        payloads.sort_by_key(|(_, message)| message.taken);
        for (payload, message) in payloads {
            let Some(taken) = message.taken.filter(|_| message.qos > 0) else { continue };
            // Delivered at the lower of the message's QoS and the subscription's: a copy
            // downgraded to QoS 0 may be lost [MQTT-3.8.4-6] in 3.1.1, [MQTT-3.8.4-8] in 5.0.
            if view.granted_qos(&node, taken).is_none_or(|granted| granted == 0) {
                continue;
            }
            judge.check();
            let reached = deliveries.get(&node).is_some_and(|d| d.iter().any(|(seen, _)| seen == payload));
            if reached {
                continue;
            }
            let message_text = format!(
                "{node} never received {payload:?} (QoS {}), taken by the broker while it was subscribed",
                message.qos
            );
            match session_lost_after(view, &node, taken) {
                Some(connack) => judge.deviation(
                    format!("{message_text}: the broker lost the session (Session Present 0 on resuming)"),
                    vec![taken, connack],
                ),
                None => judge.violation(message_text, vec![taken, last.opened]),
            }
        }
    }
    judge.verdict()
}

/// A CONNACK passed to `node` after `at` that said its session was not present.
fn session_lost_after(view: &View, node: &Node, at: usize) -> Option<usize> {
    view.conns
        .values()
        .filter(|conn| &conn.client == node)
        .filter_map(|conn| conn.connack.as_ref())
        .find(|(index, connack)| *index > at && connack.session_present != Some(true))
        .map(|(index, _)| *index)
}
