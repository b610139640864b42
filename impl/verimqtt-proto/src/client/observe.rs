//! What the client tells its observer (see [`crate::trace`]) beyond single packets: how a
//! connection ends, which happens only once its farewell (the last acknowledgements and the
//! DISCONNECT) is written, so that a trace shows the DISCONNECT before the close.

use std::time::Instant;

use super::{Client, DisconnectReason};
use crate::codec::{Packet, Publish};
use crate::trace::{self, CloseReason, ConnId};

/// The close of a connection whose farewell is still being written.
#[derive(Debug)]
pub(super) struct FarewellTrace {
    /// When the client closed: the farewell is written at that time.
    at: Instant,
    conn: ConnId,
    reason: CloseReason,
}

impl Client {
    /// The connection ends for `reason`: the observer hears of it now, or after the farewell.
    pub(super) fn trace_close(&mut self, now: Instant, reason: &DisconnectReason) {
        if !self.tracer.is_on() {
            return;
        }
        let closed = FarewellTrace { at: now, conn: self.transports, reason: close_reason(reason) };
        if self.farewell.is_empty() {
            self.report_close(closed);
        } else {
            self.farewell_trace = Some(closed);
        }
    }

    /// A packet of the farewell was handed out; after the last one the connection is closed.
    pub(super) fn on_farewell_sent(&mut self, packet: &Packet) {
        let Some(closed) = &self.farewell_trace else { return };
        let (at, conn, version) = (closed.at, closed.conn, self.options.protocol_version);
        self.tracer.sent(at, conn, packet, version);
        if self.farewell.is_empty() {
            self.report_pending_close();
        }
    }

    /// The transport is gone or replaced: what was left of the farewell is never written.
    pub(super) fn forget_farewell(&mut self) {
        self.farewell.clear();
        self.report_pending_close();
    }

    fn report_pending_close(&mut self) {
        if let Some(closed) = self.farewell_trace.take() {
            self.report_close(closed);
        }
    }

    fn report_close(&mut self, FarewellTrace { at, conn, reason }: FarewellTrace) {
        self.tracer.emit(at, || trace::Event::ConnectionClosed { conn, reason });
    }

    /// The application asked for `publish` and the client accepted it.
    pub(super) fn trace_publish_requested(&mut self, now: Instant, publish: &Publish) {
        self.tracer.emit(now, || {
            let (topic, qos, retain, payload) = message_fields(publish);
            trace::Event::PublishRequested { topic, qos, retain, payload }
        });
    }

    /// `publish` reaches the application.
    pub(super) fn trace_delivered(&mut self, now: Instant, publish: &Publish) {
        self.tracer.emit(now, || {
            let (topic, qos, retain, payload) = message_fields(publish);
            trace::Event::MessageDelivered { topic, qos, retain, payload }
        });
    }
}

/// Topic, QoS, RETAIN and payload, as the application sees a message.
fn message_fields(publish: &Publish) -> (String, u8, bool, String) {
    (publish.topic.to_string(), publish.qos as u8, publish.retain, trace::payload_text(&publish.payload))
}

fn close_reason(reason: &DisconnectReason) -> CloseReason {
    match reason {
        DisconnectReason::Requested => CloseReason::Disconnected,
        DisconnectReason::ConnectionLost => CloseReason::ConnectionLost,
        DisconnectReason::KeepAliveTimeout => CloseReason::KeepaliveTimeout,
        DisconnectReason::ConnAckTimeout => CloseReason::ConnackTimeout,
        DisconnectReason::Refused { .. } => CloseReason::Refused,
        DisconnectReason::ByServer { .. } => CloseReason::PeerDisconnected,
        DisconnectReason::ProtocolViolation(_) => CloseReason::ProtocolViolation,
        DisconnectReason::CannotSend(_) => CloseReason::CannotSend,
    }
}
