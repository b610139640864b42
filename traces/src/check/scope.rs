//! What the model does not express. A trace that uses any of it is a failure that says so
//! (never a pass): the list of these reasons is the list of what model widening (issue 16)
//! has left to do.

use verimqtt_spec::trace::{Event, TraceEvent};

use super::mapping::MappingError;

/// The first thing in `events` the model does not express.
pub fn within_the_model(events: &[TraceEvent]) -> Result<(), MappingError> {
    for event in events {
        if let Event::PublishRequested { retain: true, .. } = &event.event {
            return Err(MappingError(format!(
                "{} at {} ms: retained messages are not modelled",
                event.node, event.time_ms
            )));
        }
    }
    Ok(())
}
