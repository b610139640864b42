//! Session Present: 0 after Clean Start 1 and on a refusal; otherwise 1 exactly when the
//! broker holds a session for the client id, as far as its history on the wire decides. A
//! session the broker should hold but reports absent is a deviation (it lost it); one it
//! reports present that cannot exist is a violation.

use verimqtt_spec::trace::PacketInfo;

use super::view::{Conn, View};
use super::{Judge, Property, Verdict};

/// Slack for the broker's own clock when deciding whether a session has expired.
const EXPIRY_SLACK_MS: u64 = 1000;

/// Whether a session exists for a client id when its CONNECT arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Yes,
    No,
    /// The trace does not decide it (a race with a keep alive close, an expiry at the edge).
    Either,
}

pub(super) fn judge(view: &View) -> Verdict {
    let mut judge = Judge::new(Property::SessionPresent);
    for conn in view.conns.values() {
        let (Some((_, connect)), Some((connack_at, connack))) = (&conn.connect, &conn.connack) else { continue };
        let present = connack.session_present == Some(true);
        judge.check();
        if connack.reason_code.unwrap_or(0) >= 0x80 {
            if present {
                judge.violation(
                    format!("conn {}: a refusing CONNACK with Session Present 1", conn.id),
                    vec![*connack_at],
                );
            }
            continue;
        }
        if connect.clean_start == Some(true) {
            if present {
                judge.violation(format!("conn {}: Session Present 1 after Clean Start 1", conn.id), vec![*connack_at]);
            }
            continue;
        }
        match (held(view, conn), present) {
            (Held::Yes, false) => judge.deviation(
                format!(
                    "conn {}: Session Present 0, but the client id's session should still exist: the broker lost it",
                    conn.id
                ),
                vec![*connack_at],
            ),
            (Held::No, true) => judge.violation(
                format!("conn {}: Session Present 1, but no session can exist for the client id", conn.id),
                vec![*connack_at],
            ),
            _ => {}
        }
    }
    judge.verdict()
}

/// Whether the broker holds a session for `conn`'s client id when its CONNECT arrives, from
/// the client id's previous connection.
fn held(view: &View, conn: &Conn) -> Held {
    let Some(id) = conn.client_id() else { return Held::Either };
    let Some((connect_at, _)) = &conn.connect else { return Held::Either };
    let Some(previous) = view.conns_of_id(id).filter(|other| other.id < conn.id).last() else { return Held::No };
    let Some((_, previous_connect)) = &previous.connect else { return Held::Either };
    if !previous.accepted() {
        // Refused or never answered: the broker may or may not have made a session.
        return Held::Either;
    }
    let now = view.time(*connect_at);
    // The broker knew the previous connection was over (or may still think it open: a
    // takeover resumes its session).
    let known_end = view.broker_knows_end(previous).filter(|&index| index < *connect_at).map(|index| view.time(index));
    let first_end = view.first_end(previous).map_or(now, |index| view.time(index));
    match expiry_ms(view, previous_connect) {
        None => Held::Yes,
        Some(expiry) => {
            if now < first_end + expiry {
                // Not expired even counted from the earliest end, or not even ended (a takeover).
                Held::Yes
            } else {
                match known_end {
                    Some(end) if now > end + expiry + EXPIRY_SLACK_MS => Held::No,
                    _ => Held::Either,
                }
            }
        }
    }
}

/// How long a session outlives its connection: `None` for ever (3.1.1 CleanSession 0, or 5.0
/// 0xFFFFFFFF), 0 for a session that ends with its connection.
fn expiry_ms(view: &View, connect: &PacketInfo) -> Option<u64> {
    if !view.v5 {
        return if connect.clean_start == Some(true) { Some(0) } else { None };
    }
    match connect.session_expiry.unwrap_or(0) {
        u32::MAX => None,
        seconds => Some(u64::from(seconds) * 1000),
    }
}
