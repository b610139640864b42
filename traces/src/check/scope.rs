//! What the model does not express. A trace that uses any of it is a failure that says so
//! (never a pass): the list of these reasons is the list of what model widening (issue 16)
//! has left to do.

use verimqtt_spec::trace::{Event, PacketKind, TraceEvent};

use super::mapping::MappingError;

/// The first thing in `events` the model does not express.
pub fn within_the_model(events: &[TraceEvent]) -> Result<(), MappingError> {
    for event in events {
        if matches!(
            &event.event,
            Event::Forwarded { .. } | Event::BrokerClosed { .. } | Event::Dropped { .. } | Event::ProbeEnded
        ) {
            let why = "a probe's trace has no broker events: the wire monitors check it (`probe`)";
            return Err(MappingError(format!("{} at {} ms: {why}", event.node, event.time_ms)));
        }
        if let Event::PacketInjected { packet, .. } = &event.event
            && !matches!(packet.kind, PacketKind::Pubrec | PacketKind::Publish)
        {
            let why = "the model's hostile clients write only PUBRECs and PUBLISHes";
            return Err(MappingError(format!("{packet} injected at {} ms: {why}", event.time_ms)));
        }
    }
    Ok(())
}
