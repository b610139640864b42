//! What the runtime logs: each connection's life, and every protocol violation with the
//! statement it breaks.

use std::net::SocketAddr;

use crate::broker::{CloseReason, ConnId, Event};

pub(crate) fn closing(conn: ConnId, peer: SocketAddr, reason: &CloseReason) {
    match reason {
        CloseReason::ProtocolError(error) => {
            let rule = error.rule().map(|rule| rule.to_string()).unwrap_or_default();
            tracing::warn!(%conn, %peer, %rule, reason_code = %error.reason_code(), "protocol violation: {error}");
        }
        CloseReason::NotReading | CloseReason::ConnectTimeout | CloseReason::KeepAliveTimeout => {
            tracing::info!(%conn, %peer, "closing: {reason}");
        }
        _ => tracing::debug!(%conn, %peer, "closing: {reason}"),
    }
}

pub(crate) fn event(event: &Event) {
    match event {
        Event::Connected { conn, client_id, version, session_present } => {
            tracing::info!(%conn, %client_id, %version, session_present, "client connected");
        }
        Event::ConnectDenied { conn, client_id, username, reason_code } => {
            let username = username.as_deref().unwrap_or("-");
            tracing::warn!(%conn, %client_id, username, %reason_code, "connection refused by the policy");
        }
        Event::Closed { conn, client_id, reason } => {
            let client_id = client_id.as_deref().unwrap_or("-");
            tracing::info!(%conn, client_id, "connection closed: {reason}");
        }
        Event::MessageDropped { client_id, topic, reason } => {
            tracing::warn!(%client_id, %topic, ?reason, "message dropped");
        }
        Event::RetainedDropped { topic, reason } => tracing::warn!(%topic, ?reason, "message not retained"),
        Event::PublishDenied { client_id, topic } => tracing::info!(%client_id, %topic, "publish denied by policy"),
        Event::WillPublished { client_id, topic } => tracing::info!(%client_id, %topic, "will published"),
        Event::SessionExpired { client_id } => tracing::info!(%client_id, "session expired"),
        Event::EventsLost { count } => tracing::warn!(count, "broker events lost"),
    }
}
