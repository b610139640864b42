//! What the model does not express. A trace that uses any of it is a failure that says so
//! (never a pass): the list of these reasons is the list of what model widening (issue 16)
//! has left to do.

use verimqtt_spec::trace::{Event, FilterInfo, PacketKind, TraceEvent};

use super::mapping::MappingError;

/// The first thing in `events` the model does not express.
pub fn within_the_model(events: &[TraceEvent]) -> Result<(), MappingError> {
    for event in events {
        let outside = |why: &str| Err(MappingError(format!("{} at {} ms: {why}", event.node, event.time_ms)));
        match &event.event {
            Event::Forwarded { .. } | Event::BrokerClosed { .. } | Event::Dropped { .. } | Event::ProbeEnded => {
                return outside("a probe's trace has no broker events: the wire monitors check it (`probe`)");
            }
            Event::PacketSent { packet, .. } => {
                let retain_options =
                    |f: &FilterInfo| f.retain_as_published == Some(true) || f.retain_handling.is_some_and(|h| h != 0);
                if packet.kind == PacketKind::Subscribe && packet.filters.iter().flatten().any(retain_options) {
                    return outside("Retain As Published 1 and Retain Handling 1 or 2 are not modelled");
                }
            }
            _ => {}
        }
    }
    Ok(())
}
