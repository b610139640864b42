//! What the model does not express. A trace that uses any of it is a failure that says so
//! (never a pass): the list of these reasons is the list of what model widening (issue 16)
//! has left to do.

use verimqtt_spec::trace::{Event, FilterInfo, PacketKind, TraceEvent};

use super::mapping::MappingError;

/// The first thing in `events` the model does not express.
pub fn within_the_model(events: &[TraceEvent]) -> Result<(), MappingError> {
    for event in events {
        let Event::PacketSent { packet, .. } = &event.event else {
            continue;
        };
        let retain_options =
            |f: &FilterInfo| f.retain_as_published == Some(true) || f.retain_handling.is_some_and(|h| h != 0);
        if packet.kind == PacketKind::Subscribe && packet.filters.iter().flatten().any(retain_options) {
            return Err(MappingError(format!(
                "{} at {} ms: Retain As Published 1 and Retain Handling 1 or 2 are not modelled",
                event.node, event.time_ms
            )));
        }
    }
    Ok(())
}
