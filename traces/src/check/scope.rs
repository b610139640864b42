//! What the model does not express. A trace that uses any of it is a failure that says so
//! (never a pass): the list of these reasons is the list of what model widening (issue 16)
//! has left to do.

use verimqtt_spec::trace::{Event, PacketKind, TraceEvent};

use super::mapping::MappingError;

/// The first thing in `events` the model does not express.
pub fn within_the_model(events: &[TraceEvent]) -> Result<(), MappingError> {
    for event in events {
        let outside = |why: &str| Err(MappingError(format!("{} at {} ms: {why}", event.node, event.time_ms)));
        match &event.event {
            Event::PublishRequested { retain: true, .. } => return outside("retained messages are not modelled"),
            Event::PacketSent { packet, .. } if packet.kind == PacketKind::Unsubscribe => {
                return outside("UNSUBSCRIBE is not modelled");
            }
            _ => {}
        }
    }
    Ok(())
}
