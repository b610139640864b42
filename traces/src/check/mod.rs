//! The trace checker: replays a recorded trace against the model.
//!
//! The trace's concrete values are mapped to the model's abstractions ([`mapping`]), then each
//! event must be what some model step consistent with the trace so far shows an observer
//! ([`search`]); the model is nondeterministic, so the checker keeps every consistent state.
//! Every state it reaches must satisfy the model's safety properties, what the network does
//! must be what it can do ([`wire`]), and at the end nothing may be owed ([`owed`]). A failure
//! names the event, the rule it breaks ([`explain`]) and the model states that were possible.

mod aliases;
mod describe;
mod explain;
mod failure;
mod flight_limits;
mod ids;
mod links;
mod mapping;
mod matching;
mod owed;
mod payload_format;
mod scope;
mod search;
mod values;
mod wire;

use verimqtt_model::MqttModel;
use verimqtt_model::properties::{CATALOGUE, Expect, PropertySpec};
use verimqtt_spec::trace::{Event, TraceEvent};

pub use describe::describe;
pub use failure::{CheckFailure, Rule};
pub use mapping::{Mapping, MappingError, TimeScale};
pub use matching::NOT_IN_THE_MODEL;
pub(crate) use matching::conn_of;
use search::{Candidate, Search};

/// A trace the model accepts.
#[derive(Debug)]
pub struct CheckReport {
    pub events: usize,
    /// Model states visited while matching the trace.
    pub states_explored: usize,
    /// The most model states consistent with a prefix of the trace at once.
    pub most_candidates: usize,
    /// Model states consistent with the whole trace.
    pub final_candidates: usize,
    pub mapping: Mapping,
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "trace valid: {} events, {} model states explored, at most {} consistent states at once, {} at the end",
            self.events, self.states_explored, self.most_candidates, self.final_candidates
        )?;
        writeln!(f, "{}", self.mapping)?;
        // A pass says what the model did not judge.
        let fields: Vec<&str> = NOT_IN_THE_MODEL.iter().map(|(field, _)| *field).collect();
        write!(f, "fields the model does not carry (NOT_IN_THE_MODEL): {}", fields.join("; "))
    }
}

/// Checks a trace with verimqtt's time scale (100 ms ticks, abort after 150 % of Keep Alive).
pub fn check_trace(events: &[TraceEvent]) -> Result<CheckReport, Box<CheckFailure>> {
    check_trace_with(events, TimeScale::default())
}

pub fn check_trace_with(events: &[TraceEvent], time: TimeScale) -> Result<CheckReport, Box<CheckFailure>> {
    let events = &aliases::resolved(events).map_err(|error| Box::new(CheckFailure::unmappable(error)))?;
    let mapping = Mapping::derive(events, time).map_err(|error| Box::new(CheckFailure::unmappable(error)))?;
    let model = MqttModel::new(mapping.config.clone());
    let mut search = Search::new(&model, &mapping);
    match replay(&mut search, events) {
        Ok(replayed) => Ok(CheckReport {
            events: events.len(),
            states_explored: search.explored,
            most_candidates: replayed.most_candidates,
            final_candidates: replayed.final_candidates,
            mapping,
        }),
        Err(stop) => Err(Box::new(explain::failure(&mut search, events, stop))),
    }
}

struct Replayed {
    most_candidates: usize,
    final_candidates: usize,
}

/// Where and why a replay stopped.
pub(crate) struct Stop {
    /// Index of the event that could not be accepted (`events.len()` for the end of the trace).
    index: usize,
    /// The candidates before that event.
    before: Vec<Candidate>,
    why: StopReason,
}

pub(crate) enum StopReason {
    TimeRunsBackwards,
    NoModelStep,
    /// A state consistent with the trace breaks the property.
    Property(&'static PropertySpec),
    /// The trace ends before the observations of a model step are all shown.
    UnfinishedStep,
    /// The network cannot have done what the event says.
    Wire(Rule),
    /// The trace ends owing what the list says.
    Owed(Vec<String>),
}

/// The safety properties that apply to the model's configuration.
fn safety_properties(model: &MqttModel) -> impl Iterator<Item = &'static PropertySpec> + '_ {
    CATALOGUE.iter().filter(|p| p.expect == Expect::Always && (p.applies)(&model.config))
}

fn replay(search: &mut Search, events: &[TraceEvent]) -> Result<Replayed, Stop> {
    let mut wire_break = wire::check(events);
    let mut candidates = vec![Candidate::initial(search.model)];
    let mut most_candidates = 1;
    let mut last_time = 0;
    for (index, event) in events.iter().enumerate() {
        let stop = |why| Stop { index, before: candidates.clone(), why };
        if event.time_ms < last_time {
            return Err(stop(StopReason::TimeRunsBackwards));
        }
        last_time = event.time_ms;
        if let Some((_, rule)) = wire_break.take_if(|(at, _)| *at == index) {
            return Err(stop(StopReason::Wire(rule)));
        }
        // A stall is the wire check's: the model lets packets wait in transit at any time.
        if matches!(event.event, Event::NetworkStalled { .. }) {
            continue;
        }
        let next = search.advance(&candidates, event);
        if next.is_empty() {
            return Err(stop(StopReason::NoModelStep));
        }
        // A step is judged once the trace has shown all it does.
        let broken = next
            .iter()
            .filter(|candidate| candidate.pending.is_empty())
            .find_map(|candidate| safety_properties(search.model).find(|p| !(p.holds)(search.model, &candidate.state)));
        if let Some(property) = broken {
            return Err(stop(StopReason::Property(property)));
        }
        most_candidates = most_candidates.max(next.len());
        candidates = next;
    }
    let finished: Vec<&Candidate> = candidates.iter().filter(|candidate| candidate.pending.is_empty()).collect();
    let end = |why| Err(Stop { index: events.len(), before: candidates.clone(), why });
    let Some(first) = finished.first() else {
        return end(StopReason::UnfinishedStep);
    };
    // The implementation owes something only if every state consistent with the trace does.
    if finished.iter().all(|candidate| !owed::owed(search.model, &candidate.state).is_empty()) {
        return end(StopReason::Owed(owed::owed(search.model, &first.state)));
    }
    Ok(Replayed { most_candidates, final_candidates: finished.len() })
}
