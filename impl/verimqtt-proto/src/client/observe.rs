//! What the client tells its observer (see [`crate::trace`]) beyond single packets: how a
//! connection ends (after its farewell, the last acknowledgements and the DISCONNECT, so
//! that a trace shows the DISCONNECT before the close), and the application's messages:
//! requested, delivered, and given back.

use std::time::Instant;

use super::{Client, DisconnectReason, DropReason, DroppedRequest};
use crate::codec::Publish;
use crate::trace::{self, CloseReason};

impl Client {
    /// The connection ends for `reason`, its farewell handed out.
    pub(super) fn trace_close(&mut self, now: Instant, reason: &DisconnectReason) {
        let (conn, reason) = (self.transports, close_reason(reason));
        self.tracer.emit(now, || trace::Event::ConnectionClosed { conn, reason });
    }

    /// The application asked for `publish` and the client accepted it.
    pub(super) fn trace_publish_requested(&mut self, now: Instant, publish: &Publish) {
        self.tracer.emit(now, || {
            let (topic, qos, retain, payload) = message_fields(publish);
            trace::Event::PublishRequested { topic, qos, retain, payload }
        });
    }

    /// Gives `requests` back to the application for `reason`, each publish among them traced
    /// as abandoned: the application learns of it, so an observer does too.
    pub(super) fn give_back(&mut self, now: Instant, reason: DropReason, requests: Vec<DroppedRequest>) {
        for request in &requests {
            if let DroppedRequest::Publish { publish, .. } = request {
                self.tracer.emit(now, || {
                    let (topic, qos, retain, payload) = message_fields(publish);
                    trace::Event::PublishAbandoned { topic, qos, retain, payload }
                });
            }
        }
        self.events.dropped(reason, requests);
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
        DisconnectReason::KeepAliveTimeout => CloseReason::KeepAliveTimeout,
        DisconnectReason::ConnAckTimeout => CloseReason::ConnackTimeout,
        DisconnectReason::Refused { .. } => CloseReason::Refused,
        DisconnectReason::ByServer { .. } => CloseReason::PeerDisconnected,
        DisconnectReason::ProtocolViolation(_) => CloseReason::ProtocolViolation,
        DisconnectReason::CannotSend(_) => CloseReason::CannotSend,
    }
}
