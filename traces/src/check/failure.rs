//! What a failed check reports: the step, the event, the rule broken, the trace before it and
//! the model states that were possible.

use std::fmt;

use verimqtt_spec::trace::{Timer, TraceEvent};

use super::describe::describe;
use super::mapping::MappingError;

/// The rule a trace breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// The trace cannot be expressed in the model's terms.
    Unmappable(MappingError),
    TimeRunsBackwards,
    /// A model safety property fails in a state consistent with the trace: either the model
    /// itself, or the model with a seeded bug that accepts the trace (the event is what that
    /// bug would do).
    Property {
        name: &'static str,
        summary: &'static str,
        statements: Vec<&'static str>,
        /// The seeded bugs whose models accept the trace up to that step (all of them).
        seeded_bugs: Vec<&'static str>,
        /// The step (1-based) whose state breaks the property.
        at_step: usize,
    },
    /// No model step allows the event.
    NoModelStep {
        /// The fields in which the event differs from every step of the same node and kind
        /// the model allows.
        fields: Vec<&'static str>,
        /// The steps of the same node and kind the model allows instead, and how they differ.
        closest: Vec<String>,
        /// The event is allowed, but only at this later tick: it came too early.
        allowed_from_tick: Option<u64>,
        /// The event is allowed, but only up to this earlier tick: it came too late.
        allowed_until_tick: Option<u64>,
    },
    /// A client's keep alive timer fires after the model's deadline, or time passes without it:
    /// in every state possible before the event, the timer was already due (a ping must go out
    /// within Keep Alive of the last packet sent [MQTT-3.1.2-23] (3.1.1) / [MQTT-3.1.2-20]
    /// (5.0)).
    TimerLate {
        node: String,
        timer: Timer,
        due_by_tick: u64,
    },
    /// The trace ends before a model step has shown all it does.
    UnfinishedStep,
    /// A connection is lost, or a packet vanishes, where the trace logs no fault.
    LossWithoutFault {
        conn: u64,
    },
    /// A packet arrives that its peer never sent, or that a logged fault lost.
    ReceivedUnsent {
        conn: u64,
    },
    /// A packet arrives other than its peer sent it (step `sent_step`).
    ReceivedAltered {
        sent_step: usize,
        sent_as: String,
    },
    /// A packet arrives while the trace says the network stalls.
    ReceivedDuringStall,
    /// The trace ends owing something: a QoS 1/2 message not delivered to a subscriber
    /// entitled to it, an exchange in flight, a packet never received [MQTT-4.3.2-1]
    /// [MQTT-4.3.3-1] (3.1.1) / [MQTT-4.3.2-3] [MQTT-4.3.3-3] (5.0).
    OwedAtEnd {
        owed: Vec<String>,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Unmappable(error) => write!(f, "the trace cannot be mapped to the model: {error}"),
            Rule::TimeRunsBackwards => f.write_str("time runs backwards"),
            Rule::Property { name, summary, statements, seeded_bugs, at_step } => {
                let cited: Vec<String> = statements.iter().map(|s| format!("[{s}]")).collect();
                write!(f, "breaks property {name} at step {at_step}: {summary} {}", cited.join(" "))?;
                match seeded_bugs.as_slice() {
                    [] => {}
                    [bug] => write!(f, "\n  (of the seeded bugs, only {bug}'s model accepts the trace)")?,
                    bugs => write!(f, "\n  (the models of several seeded bugs accept the trace: {})", bugs.join(", "))?,
                }
                Ok(())
            }
            Rule::NoModelStep { fields, closest, allowed_from_tick, allowed_until_tick } => {
                f.write_str("no model step allows this event")?;
                match fields.as_slice() {
                    [] => {}
                    [field] => write!(f, ": field {field} differs from every step the model allows here")?,
                    fields => write!(f, ": fields {} differ from every step the model allows here", fields.join(", "))?,
                }
                if let Some(tick) = allowed_from_tick {
                    write!(f, "\n  too early: the model allows it from tick {tick} on")?;
                }
                if let Some(tick) = allowed_until_tick {
                    write!(f, "\n  too late: the model allows it at tick {tick} at the latest")?;
                }
                if !closest.is_empty() {
                    write!(f, "\n  closest steps the model allows here:")?;
                    for step in closest {
                        write!(f, "\n    {step}")?;
                    }
                }
                Ok(())
            }
            Rule::TimerLate { node, timer, due_by_tick } => {
                write!(f, "{node}'s {timer:?} timer is late: the model has it fire at tick {due_by_tick}")
            }
            Rule::UnfinishedStep => f.write_str("the trace ends in the middle of a model step"),
            Rule::LossWithoutFault { conn } => {
                write!(f, "conn {conn} loses a connection or a packet, but the trace logs no fault on it")
            }
            Rule::ReceivedUnsent { conn } => {
                write!(f, "a packet arrives on conn {conn} that its peer never sent, or that a logged fault lost")
            }
            Rule::ReceivedAltered { sent_step, sent_as } => {
                write!(f, "the packet arrives other than it was sent at step {sent_step} ({sent_as})")
            }
            Rule::ReceivedDuringStall => f.write_str("a packet arrives while the network stalls"),
            Rule::OwedAtEnd { owed } => write!(f, "the trace ends owing: {}", owed.join("; ")),
        }
    }
}

/// A trace the model does not accept.
#[derive(Debug, Clone)]
pub struct CheckFailure {
    /// The 1-based number of the event that broke the rule (one past the last for the end of
    /// the trace; 0 when the trace cannot be mapped at all).
    pub step: usize,
    pub event: Option<TraceEvent>,
    pub rule: Rule,
    /// The events before it (the last few), with their step numbers.
    pub prefix: Vec<(usize, TraceEvent)>,
    /// The model states consistent with the trace before the event, each with what it allowed
    /// next.
    pub possible: Vec<String>,
    /// How the trace's values map to the model's, if they do.
    pub mapping: Option<String>,
}

impl CheckFailure {
    pub(crate) fn unmappable(error: MappingError) -> CheckFailure {
        CheckFailure {
            step: 0,
            event: None,
            rule: Rule::Unmappable(error),
            prefix: Vec::new(),
            possible: Vec::new(),
            mapping: None,
        }
    }
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.event {
            Some(event) => writeln!(f, "trace rejected at step {}: {}", self.step, describe(event))?,
            None if self.step == 0 => writeln!(f, "trace rejected")?,
            None => writeln!(f, "trace rejected at its end (after step {})", self.step - 1)?,
        }
        writeln!(f, "rule: {}", self.rule)?;
        if !self.prefix.is_empty() {
            writeln!(f, "trace before it:")?;
            for (step, event) in &self.prefix {
                writeln!(f, "  {step:>4}. {}", describe(event))?;
            }
        }
        if !self.possible.is_empty() {
            writeln!(f, "model states possible before it:")?;
            for state in &self.possible {
                writeln!(f, "  - {state}")?;
            }
        }
        if let Some(mapping) = &self.mapping {
            writeln!(f, "mapping:")?;
            for line in mapping.lines() {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for CheckFailure {}
