//! The broker's keep alive, timed by the proxy: a connection the broker closes with no other
//! cause must have been silent (nothing passed to the broker) for 1.5 x Keep Alive, and a
//! connection silenced by a fault must be closed within 1.5 x Keep Alive plus a tolerance.

use verimqtt_spec::trace::{End, Event, Fault, PacketKind};

use super::view::{Conn, View};
use super::{Judge, Property, Verdict};

/// How late after 1.5 x Keep Alive a broker may close a silent connection: a broker checks
/// its timers on a tick (mosquitto's main loop, for one), and the proxy sees the close a
/// moment after it happens.
pub const TOLERANCE_MS: u64 = 1500;

pub(super) fn judge(view: &View) -> Verdict {
    let mut judge = Judge::new(Property::KeepAlive);
    for conn in view.conns.values() {
        let Some(keep_alive) = conn.keep_alive().filter(|&seconds| seconds > 0) else { continue };
        let Some(last) = last_before_close(view, conn) else { continue };
        let (silent_from, limit) = (view.time(last), u64::from(keep_alive) * 1500);
        let deadline = silent_from + limit + TOLERANCE_MS;
        if let Some(other) = other_cause(view, conn) {
            // A takeover or a refusal before the deadline explains any close; after it, the
            // broker should have closed already.
            if view.time(other) <= deadline {
                continue;
            }
        }
        match conn.broker_closed {
            Some(closed) => {
                let silence = view.time(closed).saturating_sub(silent_from);
                judge.check();
                if silence < limit {
                    judge.violation(
                        format!(
                            "conn {}: the broker closed it after {silence} ms of silence, before 1.5 x Keep Alive \
                             ({limit} ms), with no other cause",
                            conn.id
                        ),
                        vec![last, closed],
                    );
                } else if silence > limit + TOLERANCE_MS {
                    judge.violation(
                        format!(
                            "conn {}: the broker closed it after {silence} ms of silence, later than 1.5 x Keep Alive \
                             ({limit} ms) + {TOLERANCE_MS} ms",
                            conn.id
                        ),
                        vec![last, closed],
                    );
                }
            }
            // Silenced by a fault that left the broker's end open, and watched past the
            // deadline: the broker never closed it.
            None if matches!(conn.fault, Some((_, Fault::Cut | Fault::HalfOpen))) && view.ended > deadline => {
                judge.check();
                let fault = conn.fault.map_or(last, |(index, _)| index);
                judge.violation(
                    format!(
                        "conn {}: silent from {silent_from} ms, still open at {} ms, past 1.5 x Keep Alive ({limit} ms) \
                         + {TOLERANCE_MS} ms",
                        conn.id, view.ended
                    ),
                    vec![last, fault],
                );
            }
            None => {}
        }
    }
    judge.verdict()
}

/// The last packet the proxy passed to the broker on `conn` before the broker closed it.
fn last_before_close(view: &View, conn: &Conn) -> Option<usize> {
    let until = conn.broker_closed.unwrap_or(view.trace.len());
    view.trace[..until]
        .iter()
        .rposition(|event| matches!(event.event, Event::Forwarded { conn: on, to: End::Broker, .. } if on == conn.id))
}

/// Another reason for the broker to close `conn`, if any: the client's DISCONNECT, a refusal,
/// a DISCONNECT of the broker other than for keep alive (0x8D), or a newer connection with
/// the same client id (a takeover).
fn other_cause(view: &View, conn: &Conn) -> Option<usize> {
    if let Some((index, _)) = &conn.disconnect {
        return Some(*index);
    }
    let refused = conn.connack.as_ref().filter(|(_, connack)| connack.reason_code.unwrap_or(0) >= 0x80);
    if let Some((index, _)) = refused {
        return Some(*index);
    }
    let broker_disconnect = view.trace.iter().enumerate().find_map(|(index, event)| match &event.event {
        Event::Forwarded { conn: on, to: End::Client, packet }
        | Event::Dropped { conn: on, to: End::Client, packet }
            if *on == conn.id && packet.kind == PacketKind::Disconnect && packet.reason_code != Some(0x8d) =>
        {
            Some(index)
        }
        _ => None,
    });
    let takeover = conn.client_id().and_then(|id| {
        view.conns_of_id(id)
            .filter(|other| other.id > conn.id)
            .find_map(|other| other.connect.as_ref().map(|(i, _)| *i))
    });
    [broker_disconnect, takeover].into_iter().flatten().min()
}
