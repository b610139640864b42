//! The set of model states consistent with a trace so far, and how one more event narrows it.
//!
//! A model step can produce several observations (the broker reads a PUBLISH, forwards it and
//! acknowledges it); the trace logs them one by one. A [`Candidate`] therefore holds a model
//! state and the observations of its last step the trace has not shown yet. They are shown in
//! the model's order per node and connection, interleaved in any way across them (the broker
//! may accept a connection before the client sees it open; a client may hand a message to its
//! application before it acknowledges it).
//!
//! Between two steps, the model may take actions nobody logs: ticks (exactly as many as the
//! trace's clock advanced) and other silent actions (at most [`MAX_SILENT`] in a row). A tick
//! passes with a packet in flight only during a stall the trace logs: otherwise a packet that
//! is never received, on a connection the trace logs no fault on, is a failure.

use std::collections::HashSet;

use stateright::Model;
use verimqtt_model::MqttModel;
use verimqtt_model::network::BrokerEnd;
use verimqtt_model::observe::{Actor, LinkRef, Observation};
use verimqtt_model::state::State;
use verimqtt_model::step::Action;
use verimqtt_spec::trace::{ConnId, TraceEvent};

use super::ids::Ids;
use super::links::Links;
use super::mapping::Mapping;
use super::matching::matches;

/// Silent non-tick actions (a FIN read before CONNECT) allowed between two logged ones.
pub const MAX_SILENT: usize = 3;

/// One way the model can have produced the trace so far.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Candidate {
    pub state: State,
    /// Observations of the last step the trace has not shown yet.
    pub pending: Vec<Observation>,
    /// Links the last step removed, forgotten once its observations are all shown.
    removed: Vec<LinkRef>,
    links: Links,
    pub ids: Ids,
    /// Ticks since the start of the run.
    pub ticks: u64,
}

impl Candidate {
    pub fn initial(model: &MqttModel) -> Candidate {
        Candidate {
            state: State::initial(&model.config),
            pending: Vec::new(),
            removed: Vec::new(),
            links: Links::default(),
            ids: Ids::default(),
            ticks: 0,
        }
    }

    /// The pending observations the trace may show next: the first one per node and link.
    pub fn next_pending(&self) -> impl Iterator<Item = (usize, &Observation)> {
        let key = |o: &Observation| -> (Actor, Option<LinkRef>) { (o.actor(), o.link()) };
        self.pending
            .iter()
            .enumerate()
            .filter(move |(i, o)| self.pending[..*i].iter().all(|earlier| key(earlier) != key(o)))
    }

    /// The trace's connection bound to `link`, if any.
    pub fn conn_of(&self, link: LinkRef) -> Option<ConnId> {
        self.links.conn_of(link)
    }

    /// After `observation` (pending at `index`) matched, with the bindings the match left.
    fn shown(&self, index: usize, (links, ids): (Links, Ids)) -> Candidate {
        let mut next = Candidate { links, ids, ..self.clone() };
        next.pending.remove(index);
        next.finish_step();
        next
    }

    /// Once a step's observations are all shown, its removed links and freed ids are
    /// forgotten.
    fn finish_step(&mut self) {
        if self.pending.is_empty() {
            self.links.remove(&self.removed);
            self.removed.clear();
            self.ids.release_unused(&self.state);
        }
    }
}

/// The pending observations of `candidate` that `event` can be, with the bindings each match
/// leaves.
fn shown_next(mapping: &Mapping, candidate: &Candidate, event: &TraceEvent) -> Vec<(usize, (Links, Ids))> {
    candidate
        .next_pending()
        .filter_map(|(index, observation)| {
            let (mut links, mut ids) = (candidate.links.clone(), candidate.ids.clone());
            matches(mapping, event, observation, &mut links, &mut ids).then_some((index, (links, ids)))
        })
        .collect()
}

/// A state reached between logged steps.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Node {
    state: State,
    links: Links,
    ticks: u64,
}

/// The first connection, not cut, on which a packet (or a close) travels towards an end that
/// still reads it.
pub fn in_flight(state: &State) -> Option<LinkRef> {
    state.links.iter().enumerate().find_map(|(client, links)| {
        let link = links.iter().position(|link| {
            !link.cut
                && ((!link.to_broker.is_empty() && link.broker != BrokerEnd::Closed)
                    || (!link.to_client.is_empty() && link.client_open))
        })?;
        Some(LinkRef { client, link })
    })
}

pub struct Search<'a> {
    pub model: &'a MqttModel,
    pub mapping: &'a Mapping,
    /// Model states visited so far.
    pub explored: usize,
}

impl<'a> Search<'a> {
    pub fn new(model: &'a MqttModel, mapping: &'a Mapping) -> Search<'a> {
        Search { model, mapping, explored: 0 }
    }

    /// The candidates consistent with the trace once `event` is added.
    pub fn advance(&mut self, candidates: &[Candidate], event: &TraceEvent) -> Vec<Candidate> {
        let target = self.mapping.time.tick(event.time_ms);
        let mapping = self.mapping;
        let mut next: Vec<Candidate> = Vec::new();
        let mut seen = HashSet::new();
        let mut keep = |candidate: Candidate| {
            if seen.insert(candidate.clone()) {
                next.push(candidate);
            }
        };
        for candidate in candidates {
            if !candidate.pending.is_empty() {
                if candidate.ticks == target {
                    for (index, bound) in shown_next(mapping, candidate, event) {
                        keep(candidate.shown(index, bound));
                    }
                }
                continue;
            }
            self.steps_at(candidate, target, |started| {
                for (index, bound) in shown_next(mapping, &started, event) {
                    keep(started.shown(index, bound));
                }
            });
        }
        next
    }

    /// What the model could show next from `candidate` at tick `target`: its pending
    /// observations, or the first observation of each step it could take.
    pub fn expected(&mut self, candidate: &Candidate, target: u64) -> Vec<Observation> {
        if !candidate.pending.is_empty() {
            return candidate.next_pending().map(|(_, o)| *o).collect();
        }
        let mut expected = Vec::new();
        self.steps_at(candidate, target, |started| {
            for (_, observation) in started.next_pending() {
                if !expected.contains(observation) {
                    expected.push(*observation);
                }
            }
        });
        expected
    }

    /// Calls `visit` with every observable step the model can take at tick `target` from
    /// `candidate` (whose last step is complete), after any ticks and silent actions: a
    /// candidate that has taken the step and shown nothing of it yet.
    fn steps_at(&mut self, candidate: &Candidate, target: u64, mut visit: impl FnMut(Candidate)) {
        let start = Node { state: candidate.state.clone(), links: candidate.links.clone(), ticks: candidate.ticks };
        let mut seen = HashSet::from([start.clone()]);
        // Each node with the number of silent non-tick actions on the way to it.
        let mut layer = vec![(start, 0)];
        while !layer.is_empty() {
            let mut next_layer = Vec::new();
            for (node, silent) in &layer {
                self.explored += 1;
                let mut actions = Vec::new();
                self.model.actions(&node.state, &mut actions);
                for action in actions {
                    if action == Action::Tick {
                        let may_wait = in_flight(&node.state).is_none() || self.mapping.stalled(node.ticks);
                        if node.ticks < target && may_wait {
                            let state = self.model.observed_step(&node.state, action).state;
                            next_layer
                                .push((Node { state, links: node.links.clone(), ticks: node.ticks + 1 }, *silent));
                        }
                        continue;
                    }
                    let applied = self.model.observed_step(&node.state, action);
                    if !applied.observations.is_empty() {
                        if node.ticks == target {
                            visit(Candidate {
                                state: applied.state,
                                pending: applied.observations,
                                removed: applied.removed_links,
                                links: node.links.clone(),
                                ids: candidate.ids.clone(),
                                ticks: node.ticks,
                            });
                        }
                    } else if *silent < MAX_SILENT {
                        let mut links = node.links.clone();
                        links.remove(&applied.removed_links);
                        next_layer.push((Node { state: applied.state, links, ticks: node.ticks }, silent + 1));
                    }
                }
            }
            next_layer.retain(|(node, _)| seen.insert(node.clone()));
            layer = next_layer;
        }
    }
}
