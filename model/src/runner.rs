//! Runs the checker on a model and gathers what it found.

use crate::bounds::WITHIN_BOUNDS;
use crate::model::MqttModel;
use crate::properties::{self, Expect, PropertySpec};
use crate::state::State;
use crate::step::Action;
use crate::symmetry;
use stateright::{Checker, HasDiscoveries, Model, Path};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Breadth first: shortest counterexamples, keeps whole states in memory.
    Bfs,
    /// Depth first: far less memory, longer counterexamples.
    Dfs,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub search: Search,
    pub threads: usize,
    pub timeout: Option<Duration>,
    /// Stop as soon as this property has a discovery (used to find a seeded bug quickly).
    pub stop_when_found: Option<&'static str>,
    /// Visit one state per class of states that differ only by interchangeable subscribers
    /// (see [`crate::symmetry`]); depth-first only, as stateright supports it there.
    pub symmetry: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { search: Search::Bfs, threads: 1, timeout: None, stop_when_found: None, symmetry: false }
    }
}

/// One property's result.
pub struct Verdict {
    pub spec: &'static PropertySpec,
    /// A counterexample (`always`) or an example (`sometimes`).
    pub discovery: Option<Path<State, Action>>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        match self.spec.expect {
            Expect::Always => self.discovery.is_none(),
            Expect::Sometimes => self.discovery.is_some(),
        }
    }
}

pub struct Outcome {
    pub states: usize,
    pub unique_states: usize,
    pub max_depth: usize,
    pub elapsed: Duration,
    /// Every reachable state was visited: no timeout, no early stop, no structural bound
    /// reached.
    pub exhaustive: bool,
    /// A path to a state past the model's structural bounds, if the search reached one (it
    /// stops there: see [`crate::bounds`]).
    pub bound_reached: Option<Path<State, Action>>,
    pub verdicts: Vec<Verdict>,
}

impl Outcome {
    pub fn states_per_second(&self) -> f64 {
        self.states as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn verdict(&self, name: &str) -> Option<&Verdict> {
        self.verdicts.iter().find(|v| v.spec.name == name)
    }

    pub fn all_passed(&self) -> bool {
        self.verdicts.iter().all(Verdict::passed)
    }
}

pub fn check(model: MqttModel, options: &Options) -> Outcome {
    assert!(!options.symmetry || options.search == Search::Dfs, "symmetry reduction is depth-first only");
    let model = if options.symmetry { model.with_symmetry() } else { model };
    let mut builder = model.checker().threads(options.threads.max(1));
    if options.symmetry {
        builder = builder.symmetry_fn(symmetry::representative);
    }
    if let Some(timeout) = options.timeout {
        builder = builder.timeout(timeout);
    }
    // The search stops at the first state past a structural bound, and where asked, at the
    // first discovery of one property.
    let stop_at: BTreeSet<&'static str> =
        [Some(WITHIN_BOUNDS), options.stop_when_found].into_iter().flatten().collect();
    builder = builder.finish_when(HasDiscoveries::AnyOf(stop_at));
    let started = Instant::now();
    match options.search {
        Search::Bfs => gather(builder.spawn_bfs().join(), started, options),
        Search::Dfs => gather(builder.spawn_dfs().join(), started, options),
    }
}

fn gather(checker: impl Checker<MqttModel>, started: Instant, options: &Options) -> Outcome {
    let elapsed = started.elapsed();
    let mut discoveries = checker.discoveries();
    let verdicts = checker
        .model()
        .properties()
        .iter()
        .filter_map(|p| properties::spec(p.name))
        .map(|spec| Verdict { spec, discovery: discoveries.remove(spec.name) })
        .collect();
    let timed_out = options.timeout.is_some_and(|t| elapsed >= t);
    let bound_reached = discoveries.remove(WITHIN_BOUNDS);
    Outcome {
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: checker.max_depth(),
        elapsed,
        exhaustive: !timed_out && options.stop_when_found.is_none() && bound_reached.is_none(),
        bound_reached,
        verdicts,
    }
}

/// A short path to a discovery of `property`, if there is one: a single-threaded
/// breadth-first search that stops at the first discovery, cut at the first state where the
/// property is decided (the checker may report a descendant of that state).
pub fn first_discovery(model: MqttModel, property: &'static str) -> Option<Path<State, Action>> {
    let spec = properties::spec(property)?;
    let options = Options { stop_when_found: Some(property), ..Options::default() };
    let mut outcome = check(model.clone(), &options);
    let path = outcome.verdicts.iter_mut().find(|v| v.spec.name == property).and_then(|v| v.discovery.take())?;
    let decided = |state: &State| match spec.expect {
        Expect::Always => !(spec.holds)(&model, state),
        Expect::Sometimes => (spec.holds)(&model, state),
    };
    let steps = path.into_vec();
    let end = steps.iter().position(|(state, _)| decided(state))?;
    let initial = steps[0].0.clone();
    let actions: Vec<Action> = steps[..end].iter().filter_map(|(_, a)| *a).collect();
    Path::from_actions(&model, initial, &actions)
}
