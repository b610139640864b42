//! Why an event was rejected, in terms a person can act on.
//!
//! 1. A QoS 0 or 2 message delivered to an application that already has it breaks the
//!    at-most-once or exactly-once property.
//! 2. If the model with one of its seeded bugs accepts the trace and then breaks a property,
//!    the trace does what that bug does: the rule is the property (with its statements).
//! 3. A client timer that fires when the model had it due already fires late.
//! 4. Otherwise the rule is "no model step allows this event", with the steps of the same node
//!    and kind the model allows instead and the fields in which they differ, and whether the
//!    event would be allowed later (it came too early).

use verimqtt_model::Qos;
use verimqtt_model::client::{abort_due, ping_due};
use verimqtt_model::observe::{Actor, Observation};
use verimqtt_model::packet::Message;
use verimqtt_model::properties::{self, PropertySpec, names};
use verimqtt_model::render::summarize;
use verimqtt_model::{Bug, MqttModel};
use verimqtt_spec::trace::{CloseReason, Event, Timer, TraceEvent};

use super::failure::{CheckFailure, Rule};
use super::matching::{Comparison, compare};
use super::search::{Candidate, Search, in_flight};
use super::{Stop, StopReason, replay};

/// Events shown before the failing one.
const PREFIX: usize = 8;
/// Possible model states shown.
const STATES_SHOWN: usize = 4;
/// How many ticks past the event the checker looks for a time the event would be allowed.
const LATER_TICKS: u64 = 30;

pub(crate) fn failure(search: &mut Search, events: &[TraceEvent], stop: Stop) -> CheckFailure {
    let event = events.get(stop.index);
    let rule = match (&stop.why, event) {
        (StopReason::TimeRunsBackwards, _) => Rule::TimeRunsBackwards,
        (StopReason::Wire(rule), _) => rule.clone(),
        (StopReason::Owed(owed), _) => Rule::OwedAtEnd { owed: owed.clone() },
        (StopReason::UnfinishedStep, _) | (_, None) => Rule::UnfinishedStep,
        (StopReason::Property(spec), _) => property_rule(search.model, spec, Vec::new(), stop.index),
        (StopReason::NoModelStep, Some(event)) => duplicate_delivery(search, &stop.before, event, stop.index)
            .or_else(|| loss_without_fault(events, stop.index))
            .or_else(|| vanished_without_fault(search, &stop.before, event))
            .or_else(|| timer_late(search, &stop.before, event))
            .or_else(|| seeded_bug_rule(search, events, stop.index))
            .unwrap_or_else(|| no_model_step(search, &stop.before, event)),
    };
    let target = event.map_or(u64::MAX, |e| search.mapping.time.tick(e.time_ms));
    let possible = stop.before.iter().take(STATES_SHOWN).map(|candidate| describe_candidate(search, candidate, target));
    let mut possible: Vec<String> = possible.collect();
    if stop.before.len() > STATES_SHOWN {
        possible.push(format!("… and {} more", stop.before.len() - STATES_SHOWN));
    }
    CheckFailure {
        step: stop.index + 1,
        event: event.cloned(),
        rule,
        prefix: (stop.index.saturating_sub(PREFIX)..stop.index).map(|i| (i + 1, events[i].clone())).collect(),
        possible,
        mapping: Some(search.mapping.to_string()),
    }
}

/// Time moves on while, in every possible state, a packet is in flight on a connection with no
/// logged fault or stall: the trace never shows it received, so it vanished.
fn vanished_without_fault(search: &Search, before: &[Candidate], event: &TraceEvent) -> Option<Rule> {
    let tick = search.mapping.time.tick(event.time_ms);
    let stuck = |candidate: &Candidate| {
        let link = in_flight(&candidate.state)?;
        (candidate.ticks < tick && !search.mapping.stalled(candidate.ticks)).then(|| candidate.conn_of(link))?
    };
    let conns: Vec<u64> = before.iter().map(stuck).collect::<Option<_>>()?;
    conns.first().map(|&conn| Rule::LossWithoutFault { conn })
}

fn property_rule(model: &MqttModel, spec: &'static PropertySpec, bugs: Vec<Bug>, index: usize) -> Rule {
    Rule::Property {
        name: spec.name,
        summary: spec.summary,
        statements: spec.statements.iter().filter(|(v, _)| *v == model.config.version).map(|(_, s)| *s).collect(),
        seeded_bugs: bugs.into_iter().map(Bug::name).collect(),
        at_step: index + 1,
    }
}

/// A connection closed as lost, where no fault was logged on it before and no broker restart:
/// the model loses a connection only through a fault, a restart or a peer that closes (whose
/// close it shows).
fn loss_without_fault(events: &[TraceEvent], index: usize) -> Option<Rule> {
    let Event::ConnectionClosed { conn, reason: CloseReason::ConnectionLost } = events[index].event else {
        return None;
    };
    let faulted = events[..index].iter().any(|e| {
        matches!(e.event, Event::FaultInjected { conn: c, .. } if c == conn)
            || matches!(e.event, Event::BrokerRestarted)
    });
    (!faulted).then_some(Rule::LossWithoutFault { conn })
}

/// A QoS 0 or QoS 2 message delivered to an application that, in every possible state, already
/// has it breaks the at-most-once or exactly-once property.
fn duplicate_delivery(search: &Search, before: &[Candidate], event: &TraceEvent, index: usize) -> Option<Rule> {
    let Event::MessageDelivered { qos, payload, .. } = &event.event else {
        return None;
    };
    let (Some(Actor::Client(c)), Some(Message::App(n))) =
        (search.mapping.actor(&event.node), search.mapping.message(payload))
    else {
        return None;
    };
    let name = match Qos::from_level(*qos)? {
        Qos::AtMostOnce => names::QOS0_AT_MOST_ONCE,
        Qos::ExactlyOnce => names::QOS2_NOT_DUPLICATED,
        Qos::AtLeastOnce => return None,
    };
    let delivered_before = before.iter().all(|candidate| candidate.state.ghost.delivered[c].contains(n));
    let spec = properties::spec(name)?;
    delivered_before.then(|| property_rule(search.model, spec, Vec::new(), index))
}

/// The trace lets time pass (or fires the timer) after a client's keep alive timer fell due in
/// every possible state: the timer fired late, or not at all before the event.
fn timer_late(search: &Search, before: &[Candidate], event: &TraceEvent) -> Option<Rule> {
    let config = &search.model.config;
    let tick = search.mapping.time.tick(event.time_ms);
    let due_timer = |candidate: &Candidate| {
        (0..config.clients).find_map(|c| {
            let state = &candidate.state;
            let timer = if ping_due(config, state, c) {
                Timer::KeepAlivePing
            } else if abort_due(config, state, c) {
                Timer::KeepAliveAbort
            } else {
                return None;
            };
            Some((c, timer))
        })
    };
    // A due timer explains the rejection when time has passed since, or the event is a timer.
    if !(is_timer(event) || before.iter().all(|candidate| candidate.ticks < tick)) {
        return None;
    }
    let due: Vec<(usize, Timer)> = before.iter().map(due_timer).collect::<Option<_>>()?;
    let (c, timer) = *due.first()?;
    let due_by_tick = before.iter().map(|candidate| candidate.ticks).max()?;
    Some(Rule::TimerLate { node: search.mapping.clients[c].to_string(), timer, due_by_tick })
}

fn is_timer(event: &TraceEvent) -> bool {
    matches!(event.event, Event::TimerFired { .. })
}

/// The property broken by the seeded bugs whose models accept the trace up to and past the
/// rejected event, naming every such bug: an explanation only, the trace is rejected anyway.
fn seeded_bug_rule(search: &Search, events: &[TraceEvent], rejected: usize) -> Option<Rule> {
    let explained: Vec<(Bug, &'static PropertySpec, usize)> = Bug::ALL
        .into_iter()
        .filter_map(|bug| {
            let model = MqttModel::new(verimqtt_model::Config { bug: Some(bug), ..search.model.config.clone() });
            let mut buggy = Search::new(&model, search.mapping);
            match replay(&mut buggy, events) {
                Err(Stop { index, why: StopReason::Property(spec), .. }) if index >= rejected => {
                    Some((bug, spec, index))
                }
                _ => None,
            }
        })
        .collect();
    let &(_, spec, index) = explained.first()?;
    let bugs = explained.iter().filter(|(_, other, _)| other.name == spec.name).map(|(bug, _, _)| *bug).collect();
    Some(property_rule(search.model, spec, bugs, index))
}

fn no_model_step(search: &mut Search, before: &[Candidate], event: &TraceEvent) -> Rule {
    let target = search.mapping.time.tick(event.time_ms);
    let mut closest = Vec::new();
    // The fields that differ from every related step, once one is found.
    let mut fields: Option<Vec<&'static str>> = None;
    for candidate in before {
        for observation in search.expected(candidate, target) {
            let Comparison::Related { differences } = compare(search.mapping, &candidate.ids, event, &observation)
            else {
                continue;
            };
            let differing: Vec<&'static str> = differences.iter().map(|d| d.field).collect();
            fields = Some(match fields {
                None => differing,
                Some(common) => common.into_iter().filter(|f| differing.contains(f)).collect(),
            });
            let line = if differences.is_empty() {
                format!("{observation} (on another connection)")
            } else {
                let fields: Vec<String> =
                    differences.iter().map(|d| format!("{}: trace {}, model {}", d.field, d.trace, d.model)).collect();
                format!("{observation} (differs in {})", fields.join("; "))
            };
            if !closest.contains(&line) {
                closest.push(line);
            }
        }
    }
    let mut allowed_at = |tick: u64| {
        before
            .iter()
            .any(|candidate| search.expected(candidate, tick).iter().any(|o| same_values(search, candidate, event, o)))
    };
    let allowed_from_tick = (target + 1..=target + LATER_TICKS).find(|&tick| allowed_at(tick));
    let earliest = before.iter().map(|candidate| candidate.ticks).min().unwrap_or(target);
    let allowed_until_tick = match allowed_from_tick {
        Some(_) => None,
        None => (earliest..target).rev().find(|&tick| allowed_at(tick)),
    };
    Rule::NoModelStep { fields: fields.unwrap_or_default(), closest, allowed_from_tick, allowed_until_tick }
}

fn same_values(search: &Search, candidate: &Candidate, event: &TraceEvent, observation: &Observation) -> bool {
    compare(search.mapping, &candidate.ids, event, observation) == Comparison::Related { differences: Vec::new() }
}

fn describe_candidate(search: &mut Search, candidate: &Candidate, target: u64) -> String {
    let mut text = format!("tick {}: {}", candidate.ticks, summarize(&candidate.state));
    let next: Vec<String> = if target == u64::MAX {
        candidate.pending.iter().map(ToString::to_string).collect()
    } else {
        search.expected(candidate, target).iter().map(ToString::to_string).collect()
    };
    if !next.is_empty() {
        let label = if candidate.pending.is_empty() { "allows next" } else { "still to show" };
        text.push_str(&format!("\n      {label}: {}", next.join(" | ")));
    }
    text
}
