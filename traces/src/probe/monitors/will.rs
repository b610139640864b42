//! Wills: published only for a connection that ended without a normal DISCONNECT, and
//! published (to a subscriber that is connected and subscribed throughout) for one the
//! broker knew had ended so.

use verimqtt_spec::trace::{Event, Node};

use super::view::{Conn, View};
use super::{Judge, Property, Verdict};

/// How long after the broker knew a connection ended its will must have arrived, for a
/// subscriber that stays connected that long.
const WILL_WITHIN_MS: u64 = 1000;

pub(super) fn judge(view: &View) -> Verdict {
    let mut judge = Judge::new(Property::Will);
    for client in view.clients() {
        let with_will: Vec<&Conn> = view
            .conns
            .values()
            .filter(|conn| conn.client == client && conn.connect.as_ref().is_some_and(|(_, c)| c.will == Some(true)))
            .collect();
        let Some((_, connect)) = with_will.first().and_then(|conn| conn.connect.as_ref()) else { continue };
        let (Some(topic), Some(payload)) = (connect.topic.clone(), connect.payload.clone()) else { continue };
        let abnormal = with_will.iter().filter(|conn| !conn.normal_disconnect()).count();
        for subscriber in view.clients() {
            let received: Vec<usize> = deliveries(view, &subscriber, &topic, &payload);
            judge.check();
            if received.len() > abnormal {
                let normal: Vec<usize> =
                    with_will.iter().filter_map(|conn| conn.disconnect.as_ref().map(|(index, _)| *index)).collect();
                judge.violation(
                    format!(
                        "{subscriber} received {client}'s will {} times, but only {abnormal} of its connections ended \
                         without a normal DISCONNECT",
                        received.len()
                    ),
                    normal.into_iter().chain(received.iter().copied()).collect(),
                );
            }
            for conn in &with_will {
                let Some(known) = must_publish(view, conn) else { continue };
                if !listening(view, &subscriber, known) {
                    continue;
                }
                judge.check();
                // The will may arrive as soon as the connection failed, even before the
                // proxy sees the broker close it.
                let ended = view.first_end(conn).unwrap_or(known);
                if !received.iter().any(|&index| index > ended) {
                    let connect = conn.connect.as_ref().map_or(conn.opened, |(index, _)| *index);
                    judge.violation(
                        format!(
                            "{subscriber}, connected and subscribed, never received {client}'s will after the broker \
                             knew conn {} ended without DISCONNECT",
                            conn.id
                        ),
                        vec![connect, ended, known],
                    );
                }
            }
        }
    }
    judge.verdict()
}

/// The event from which the broker knew `conn` ended without a normal DISCONNECT and owes
/// its will, unless a takeover (a newer connection with the client id) came first: the
/// specification's rules for a will on a takeover differ between versions and delays.
fn must_publish(view: &View, conn: &Conn) -> Option<usize> {
    if conn.normal_disconnect() || conn.disconnect.is_some() || !conn.accepted() {
        return None;
    }
    let known = view.broker_knows_end(conn)?;
    let taken_over = conn.client_id().is_some_and(|id| {
        view.conns_of_id(id).any(|other| other.id > conn.id && other.connect.as_ref().is_some_and(|(i, _)| *i < known))
    });
    (!taken_over).then_some(known)
}

/// Whether `subscriber` held its subscription at `at` on a connection that stays up, with no
/// fault, for [`WILL_WITHIN_MS`] after it.
fn listening(view: &View, subscriber: &Node, at: usize) -> bool {
    let until = view.time(at) + WILL_WITHIN_MS;
    let up = view.conns.values().any(|conn| {
        &conn.client == subscriber
            && conn.connack.as_ref().is_some_and(|(index, _)| *index < at)
            && conn.accepted()
            && [conn.fault.map(|(i, _)| i), conn.broker_closed, conn.client_closed.map(|(i, _)| i)]
                .into_iter()
                .flatten()
                .all(|end| view.time(end) > until)
            && view.ended > until
    });
    up && view.subscribed(subscriber, at)
}

/// The deliveries of a will to `subscriber`.
fn deliveries(view: &View, subscriber: &Node, topic: &str, payload: &str) -> Vec<usize> {
    view.trace
        .iter()
        .enumerate()
        .filter(|(_, event)| {
            &event.node == subscriber
                && matches!(&event.event, Event::MessageDelivered { topic: t, payload: p, .. } if t == topic && p == payload)
        })
        .map(|(index, _)| index)
        .collect()
}
