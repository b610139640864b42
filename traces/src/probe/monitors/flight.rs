//! The broker's QoS 1/2 PUBLISHes to each client, as the proxy saw them (passed on or
//! dropped after a fault): DUP on resends, packet ids not reused while in use, and the
//! client's Receive Maximum.

use std::collections::HashMap;

use verimqtt_spec::trace::{ConnId, End, Event, Node, PacketInfo, PacketKind};

use super::view::View;
use super::{Judge, Property, Verdict};

/// A PUBLISH of the broker the client has not completed.
#[derive(Debug)]
struct InUse {
    payload: Option<String>,
    /// The client's PUBREC reached the broker: only PUBREL may follow, not the PUBLISH.
    released: bool,
    /// The event of its first transmission.
    first: usize,
}

/// Per client, the packet ids in use in its session, and per connection those sent on it.
#[derive(Debug, Default)]
struct Sessions {
    in_use: HashMap<Node, HashMap<u16, InUse>>,
    /// Whether the client's session has had an earlier connection (a resend may then come
    /// before the proxy saw a first transmission, lost in a reset).
    resumed: HashMap<Node, bool>,
    /// Per connection, the ids unacknowledged on it and the event that sent each.
    open_on: HashMap<ConnId, Vec<(u16, usize)>>,
}

pub(super) fn judge(view: &View) -> [Verdict; 3] {
    let mut dup = Judge::new(Property::Dup);
    let mut ids = Judge::new(Property::PacketIds);
    let mut maximum = Judge::new(Property::ReceiveMaximum);
    let mut sessions = Sessions::default();
    for (index, event) in view.trace.iter().enumerate() {
        let (conn, to, packet) = match &event.event {
            Event::Forwarded { conn, to, packet } | Event::Dropped { conn, to, packet } => (*conn, *to, packet),
            _ => continue,
        };
        let Some(c) = view.conns.get(&conn) else { continue };
        let node = c.client.clone();
        match (to, packet.kind) {
            (End::Client, PacketKind::Connack) if packet.session_present != Some(true) => {
                sessions.in_use.remove(&node);
                sessions.resumed.insert(node.clone(), false);
            }
            (End::Broker, PacketKind::Connect) => {
                let earlier = view.conns.values().any(|other| other.client == node && other.id < conn);
                sessions.resumed.entry(node.clone()).and_modify(|resumed| *resumed |= earlier).or_insert(earlier);
            }
            (End::Client, PacketKind::Publish) => {
                let qos = packet.qos.unwrap_or(0);
                let dup_flag = packet.dup == Some(true);
                if qos == 0 {
                    dup.check();
                    if dup_flag {
                        dup.violation(format!("conn {conn}: a QoS 0 PUBLISH {packet} with DUP 1"), vec![index]);
                    }
                    continue;
                }
                let Some(id) = packet.packet_id else { continue };
                let in_use = sessions.in_use.entry(node.clone()).or_default();
                dup.check();
                ids.check();
                match in_use.get(&id) {
                    Some(earlier) if earlier.payload == packet.payload && !earlier.released => {
                        if !dup_flag {
                            dup.violation(
                                format!("conn {conn}: {packet} sends again a PUBLISH not completed, with DUP 0"),
                                vec![earlier.first, index],
                            );
                        }
                    }
                    Some(earlier) => {
                        let why = if earlier.released { "awaiting PUBCOMP" } else { "of another message" };
                        ids.violation(
                            format!("conn {conn}: {packet} uses id {id}, still in use by a PUBLISH {why}"),
                            vec![earlier.first, index],
                        );
                    }
                    None => {
                        if dup_flag && !sessions.resumed.get(&node).copied().unwrap_or(false) {
                            dup.violation(
                                format!("conn {conn}: {packet} is the first transmission and has DUP 1"),
                                vec![index],
                            );
                        }
                        in_use.insert(id, InUse { payload: packet.payload.clone(), released: false, first: index });
                    }
                }
                let open = sessions.open_on.entry(conn).or_default();
                if !open.iter().any(|&(open_id, _)| open_id == id) {
                    open.push((id, index));
                }
                if view.v5 {
                    let limit = receive_maximum(view, conn);
                    maximum.check();
                    if open.len() > usize::from(limit) {
                        maximum.violation(
                            format!(
                                "conn {conn}: {packet} makes {} QoS 1/2 PUBLISHes unacknowledged, over the client's \
                                 Receive Maximum {limit}",
                                open.len()
                            ),
                            open.iter().map(|&(_, sent)| sent).collect(),
                        );
                    }
                }
            }
            (End::Broker, PacketKind::Puback | PacketKind::Pubrec | PacketKind::Pubcomp) => {
                if matches!(event.event, Event::Dropped { .. }) {
                    continue;
                }
                let Some(id) = packet.packet_id else { continue };
                if packet.kind == PacketKind::Pubrec && packet.reason_code.unwrap_or(0) < 0x80 {
                    if let Some(in_use) = sessions.in_use.get_mut(&node).and_then(|ids| ids.get_mut(&id)) {
                        in_use.released = true;
                    }
                    continue;
                }
                completed(&mut sessions, &node, conn, id);
            }
            _ => {}
        }
    }
    [dup.verdict(), ids.verdict(), maximum.verdict()]
}

/// The client completed the exchange of `id`: it is free, and no longer counts against the
/// Receive Maximum of `conn`.
fn completed(sessions: &mut Sessions, node: &Node, conn: ConnId, id: u16) {
    if let Some(in_use) = sessions.in_use.get_mut(node) {
        in_use.remove(&id);
    }
    if let Some(open) = sessions.open_on.get_mut(&conn) {
        open.retain(|&(open_id, _)| open_id != id);
    }
}

/// The Receive Maximum the client announced on `conn` (65,535 if it set none).
fn receive_maximum(view: &View, conn: ConnId) -> u16 {
    view.conns
        .get(&conn)
        .and_then(|c| c.connect.as_ref())
        .and_then(|(_, connect): &(usize, PacketInfo)| connect.receive_maximum)
        .unwrap_or(u16::MAX)
}
