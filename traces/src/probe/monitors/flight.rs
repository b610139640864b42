//! The broker's QoS 1/2 PUBLISHes to each client, as the proxy saw them (passed on or
//! dropped after a fault): DUP on resends, packet ids not reused while in use, and the
//! client's Receive Maximum.

use std::collections::HashMap;

use verimqtt_spec::trace::{ConnId, End, Event, Fault, Node, PacketInfo, PacketKind};

use super::deliveries::{Published, published};
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
    /// The connection that last carried it.
    last_conn: ConnId,
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
    let messages = published(view);
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
                match in_use.get_mut(&id) {
                    Some(earlier) if earlier.payload == packet.payload && !earlier.released => {
                        earlier.last_conn = conn;
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
                        } else if dup_flag
                            && let Some(received) = received_after_earlier_connections(view, conn, packet, &messages)
                        {
                            dup.violation(
                                format!(
                                    "conn {conn}: {packet} has DUP 1, but the broker received the message after \
                                     the client's earlier connections closed: it is the first transmission (DUP \
                                     copied from the incoming PUBLISH?)"
                                ),
                                vec![received, index],
                            );
                        }
                        let payload = packet.payload.clone();
                        in_use.insert(id, InUse { payload, released: false, first: index, last_conn: conn });
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
    not_resent_on_resumption(view, &sessions, &mut ids);
    [dup.verdict(), ids.verdict(), maximum.verdict()]
}

/// A PUBLISH the client had not acknowledged when it resumed its session must be sent again
/// under its original packet id ([MQTT-4.4.0-1]): judged for each client up at the end on a
/// resumed session, whose every unacknowledged PUBLISH sent on an earlier connection should
/// have come again on this one.
fn not_resent_on_resumption(view: &View, sessions: &Sessions, ids: &mut Judge) {
    for (node, in_use) in &sessions.in_use {
        let Some(last) = view.up_at_end(node) else { continue };
        let Some((resumed, _)) = last.connack.as_ref().filter(|(_, connack)| connack.session_present == Some(true))
        else {
            continue;
        };
        let mut owed: Vec<(&u16, &InUse)> =
            in_use.iter().filter(|(_, copy)| !copy.released && copy.first < *resumed).collect();
        owed.sort_by_key(|(_, copy)| copy.first);
        for (id, copy) in owed {
            ids.check();
            if copy.last_conn != last.id {
                ids.violation(
                    format!(
                        "conn {}: the PUBLISH of {:?} with id {id}, unacknowledged when the session resumed, is \
                         never sent again under its packet id",
                        last.id,
                        copy.payload.as_deref().unwrap_or_default()
                    ),
                    vec![copy.first, *resumed],
                );
            }
        }
    }
}

/// Where the broker first received the message that `packet` (a PUBLISH to the client of
/// `conn`) carries, if that was after every earlier connection of the client had closed at the
/// broker (its close seen, or a reset): the broker cannot have sent the message to the client
/// before, so this is its first transmission, whatever the DUP of the PUBLISH it received
/// ([MQTT-3.3.1-3]). A will or a message the trace never shows reaching the broker gives `None`.
fn received_after_earlier_connections(
    view: &View,
    conn: ConnId,
    packet: &PacketInfo,
    messages: &HashMap<String, Published>,
) -> Option<usize> {
    let received = messages.get(packet.payload.as_deref()?)?.received?;
    let client = &view.conns.get(&conn)?.client;
    let closed_before = |earlier: &super::view::Conn| {
        let reset = matches!(earlier.fault, Some((at, Fault::Reset)) if at < received);
        reset || earlier.broker_closed.is_some_and(|at| at < received)
    };
    view.conns
        .values()
        .filter(|earlier| &earlier.client == client && earlier.id < conn)
        .all(closed_before)
        .then_some(received)
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
