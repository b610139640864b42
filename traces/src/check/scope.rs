//! What the model does not express. A trace that uses any of it is a failure that says so
//! (never a pass): the list of these reasons is the list of what model widening (issue 16)
//! has left to do.

use verimqtt_model::config::PUBLISHER;
use verimqtt_spec::trace::{CloseReason, Event, Node, PacketKind, TraceEvent};

use super::mapping::MappingError;

/// The first thing in `events` the model does not express, with `clients` in model order.
pub fn within_the_model(events: &[TraceEvent], clients: &[Node]) -> Result<(), MappingError> {
    let mut published = false;
    for event in events {
        let outside = |why: &str| Err(MappingError(format!("{} at {} ms: {why}", event.node, event.time_ms)));
        match &event.event {
            Event::Forwarded { .. } | Event::BrokerClosed { .. } | Event::Dropped { .. } | Event::ProbeEnded => {
                return outside("a probe's trace has no broker events: the wire monitors check it (`probe`)");
            }
            Event::PublishRequested { retain: true, .. } => return outside("retained messages are not modelled"),
            Event::PublishRequested { .. } => published = true,
            Event::PacketSent { packet, .. } if packet.kind == PacketKind::Unsubscribe => {
                return outside("UNSUBSCRIBE is not modelled");
            }
            Event::ConnectionClosed { reason: CloseReason::Disconnected, .. } => {
                if clients.iter().position(|c| *c == event.node) != Some(PUBLISHER) {
                    return outside("only the publisher disconnects in the model");
                }
                if !published {
                    return outside("the model's publisher disconnects only after its first message");
                }
            }
            _ => {}
        }
    }
    Ok(())
}
