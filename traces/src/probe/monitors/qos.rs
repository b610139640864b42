//! The QoS of what the broker sends a subscriber: the lower of the message's QoS (a publisher's
//! PUBLISH, or a will's QoS) and the highest QoS the broker granted the subscriber's
//! subscriptions (the probe's clients hold one subscription to the topic).

use std::collections::HashMap;

use verimqtt_spec::trace::{End, Event, Node, PacketKind};

use super::view::View;
use super::{Judge, Property, Verdict};

pub(super) fn judge(view: &View) -> Verdict {
    let mut judge = Judge::new(Property::DeliveredQos);
    let published = published_qos(view);
    let mut granted: HashMap<Node, u8> = HashMap::new();
    for (index, event) in view.trace.iter().enumerate() {
        let (conn, packet) = match &event.event {
            Event::Forwarded { conn, to: End::Client, packet } | Event::Dropped { conn, to: End::Client, packet } => {
                (*conn, packet)
            }
            _ => continue,
        };
        let Some(node) = view.conns.get(&conn).map(|c| c.client.clone()) else { continue };
        match packet.kind {
            PacketKind::Suback => {
                let highest = packet.reason_codes.iter().flatten().filter(|&&code| code < 0x80).max();
                if let Some(&highest) = highest {
                    let entry = granted.entry(node).or_insert(highest);
                    *entry = (*entry).max(highest);
                }
            }
            PacketKind::Connack if packet.session_present != Some(true) => {
                granted.remove(&node);
            }
            PacketKind::Publish => {
                let (Some(payload), Some(sent)) = (&packet.payload, packet.qos) else { continue };
                let (Some(&message), Some(&subscription)) = (published.get(payload), granted.get(&node)) else {
                    continue;
                };
                judge.check();
                let due = message.min(subscription);
                if sent != due {
                    judge.violation(
                        format!(
                            "conn {conn}: {packet} goes out at QoS {sent}, not {due}: the lower of the message's QoS \
                             {message} and the QoS {subscription} granted to {node}"
                        ),
                        vec![index],
                    );
                }
            }
            _ => {}
        }
    }
    judge.verdict()
}

/// The QoS of each message by payload: what the application asked for, or a will's.
fn published_qos(view: &View) -> HashMap<String, u8> {
    let requested = view.trace.iter().filter_map(|event| match &event.event {
        Event::PublishRequested { payload, qos, .. } => Some((payload.clone(), *qos)),
        _ => None,
    });
    let wills = view.conns.values().filter_map(|conn| {
        let (_, connect) = conn.connect.as_ref().filter(|(_, connect)| connect.will == Some(true))?;
        Some((connect.payload.clone()?, connect.qos?))
    });
    requested.chain(wills).collect()
}
