//! The set of model states consistent with a trace so far, and how one more event narrows it.
//!
//! A model step can produce several observations (the broker reads a PUBLISH, forwards it and
//! acknowledges it); the trace logs them one by one. A [`Candidate`] therefore holds a model
//! state and the observations of its last step the trace has not shown yet. The step's first
//! observation (what triggered it) comes first; the others follow in order per node and
//! connection, interleaved in any way (the implementation may acknowledge before it forwards).
//!
//! Between two steps, the model may take actions nobody logs: ticks (exactly as many as the
//! trace's clock advanced), cuts, and other silent actions (at most [`MAX_SILENT`] in a row).

use std::collections::HashSet;

use stateright::Model;
use verimqtt_model::MqttModel;
use verimqtt_model::observe::{Actor, LinkRef, Observation};
use verimqtt_model::state::State;
use verimqtt_model::step::{Action, Applied};
use verimqtt_spec::trace::TraceEvent;

use super::links::Links;
use super::mapping::Mapping;
use super::matching::matches;

/// Silent non-tick actions (cuts, a FIN read before CONNECT) allowed between two logged ones.
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

    /// After `observation` (pending at `index`) matched, with `links` as the match left them.
    fn shown(&self, index: usize, links: Links) -> Candidate {
        let mut next = Candidate { links, ..self.clone() };
        next.pending.remove(index);
        next.finish_step();
        next
    }

    /// Once a step's observations are all shown, its removed links are forgotten.
    fn finish_step(&mut self) {
        if self.pending.is_empty() && !self.removed.is_empty() {
            self.links.remove(&self.removed);
            self.removed.clear();
        }
    }
}

/// A state reached between logged steps.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Node {
    state: State,
    links: Links,
    ticks: u64,
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
        let mut next: Vec<Candidate> = Vec::new();
        let mut seen = HashSet::new();
        let mut keep = |candidate: Candidate| {
            if seen.insert(candidate.clone()) {
                next.push(candidate);
            }
        };
        for candidate in candidates {
            if !candidate.pending.is_empty() {
                if candidate.ticks != target {
                    continue;
                }
                for (index, observation) in candidate.next_pending() {
                    let mut links = candidate.links.clone();
                    if matches(self.mapping, event, observation, &mut links) {
                        keep(candidate.shown(index, links));
                    }
                }
                continue;
            }
            self.steps_at(candidate, target, |node, applied| {
                let mut links = node.links.clone();
                let (first, rest) = applied.observations.split_first()?;
                if !matches(self.mapping, event, first, &mut links) {
                    return None;
                }
                let mut next = Candidate {
                    state: applied.state.clone(),
                    pending: rest.to_vec(),
                    removed: applied.removed_links.clone(),
                    links,
                    ticks: node.ticks,
                };
                next.finish_step();
                keep(next);
                Some(())
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
        self.steps_at(candidate, target, |_, applied| {
            let first = *applied.observations.first()?;
            if !expected.contains(&first) {
                expected.push(first);
            }
            Some(())
        });
        expected
    }

    /// Calls `visit` with every observable step the model can take at tick `target` from
    /// `candidate` (whose last step is complete), after any ticks and silent actions.
    fn steps_at(&mut self, candidate: &Candidate, target: u64, mut visit: impl FnMut(&Node, &Applied) -> Option<()>) {
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
                        if node.ticks < target {
                            let state = self.model.observed_step(&node.state, action).state;
                            next_layer
                                .push((Node { state, links: node.links.clone(), ticks: node.ticks + 1 }, *silent));
                        }
                        continue;
                    }
                    let applied = self.model.observed_step(&node.state, action);
                    if !applied.observations.is_empty() {
                        if node.ticks == target {
                            visit(node, &applied);
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
