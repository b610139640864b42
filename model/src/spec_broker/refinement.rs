//! The refinement check: every behaviour of the design broker, as seen on the wire, is a
//! behaviour of the specification broker.
//!
//! [`Refinement`] is a stateright model of the whole system (design broker, clients, network,
//! exactly as [`MqttModel`]) whose state also carries the set of spec broker states consistent
//! with the broker's observable events so far. Each transition feeds its broker events (what
//! the broker read, sent and closed, and ticks) to [`SpecBroker::accept`] from every state in
//! the set; `refines_spec` requires the set to stay non-empty. This is trace inclusion checked
//! at every transition of every reachable state: a safety refinement. It does not check that
//! the design broker *does* what the specification requires it to (a CONNACK owed but never
//! sent is no violation here); the design model's own properties judge that.
//!
//! `sometimes` witnesses show that the spec broker allows what the design broker never does:
//! each is a reachable spec state (consistent with a design trace) from which the spec
//! broker may send something the design broker never sends at that point.

use super::{Conn, Event, Inbound, Input, SpecBroker, SpecState};
use crate::bounds::WITHIN_BOUNDS;
use crate::config::{Config, Qos};
use crate::model::MqttModel;
use crate::observe::{Actor, Observation};
use crate::state::State;
use crate::step::Action;
use stateright::{Model, Property};

pub const REFINES_SPEC: &str = "refines_spec";
pub const SPEC_MAY_SEND_QOS0_KEPT_OFFLINE: &str = "spec_may_send_qos0_kept_offline";
pub const SPEC_MAY_FORWARD_AFTER_PUBREL: &str = "spec_may_forward_qos2_after_pubrel";
pub const SPEC_MAY_SEND_EXTRA_OVERLAPPING_COPY: &str = "spec_may_send_extra_overlapping_copy";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RefinedState {
    pub design: State,
    /// Every spec broker state consistent with the broker's events so far, its connections
    /// aligned with the design's links; empty once an event had no spec explanation.
    pub spec: Vec<SpecState>,
}

#[derive(Clone, Debug)]
pub struct Refinement {
    pub design: MqttModel,
    /// See [`SpecBroker::tolerance`].
    pub tolerance: u8,
}

impl Refinement {
    /// The check for `config`, if the spec broker covers it.
    pub fn new(config: Config, tolerance: u8) -> Result<Refinement, String> {
        SpecBroker::covers(&config)?;
        Ok(Refinement { design: MqttModel::new(config), tolerance })
    }

    fn spec(&self) -> SpecBroker<'_> {
        SpecBroker::new(&self.design.config, self.tolerance)
    }

    /// The design step `action` from `state`, and the broker events it shows, in order.
    pub fn step(&self, state: &State, action: Action) -> (crate::step::Applied, Vec<Event>) {
        let applied = self.design.observed_step(state, action);
        let mut events = Vec::new();
        if let Action::BrokerReceives { client, link } = action
            && state.links[client][link].to_broker.packets.is_empty()
        {
            events.push(Event::Received { client, link, input: Input::Fin });
        }
        if action == Action::Tick {
            events.push(Event::Tick);
        }
        events.extend(applied.observations.iter().filter_map(|observation| match *observation {
            Observation::Received { actor: Actor::Broker, link, packet } => {
                Some(Event::Received { client: link.client, link: link.link, input: Input::Packet(packet) })
            }
            Observation::Sent { actor: Actor::Broker, link, packet, reason } => {
                Some(Event::Sent { client: link.client, link: link.link, packet, reason })
            }
            Observation::Closed { actor: Actor::Broker, link, .. } => {
                Some(Event::Closed { client: link.client, link: link.link })
            }
            _ => None,
        }));
        (applied, events)
    }

    /// The spec states `events` lead to from `states`, with no duplicates.
    pub fn accept_all(&self, states: &[SpecState], events: &[Event]) -> Vec<SpecState> {
        let spec = self.spec();
        events.iter().fold(states.to_vec(), |states, &event| {
            let mut next: Vec<SpecState> = Vec::new();
            for state in &states {
                for successor in spec.accept(state, event) {
                    if !next.contains(&successor) {
                        next.push(successor);
                    }
                }
            }
            next
        })
    }

    /// The first event of the design step `action` from `state` that no spec state explains,
    /// for a counterexample's last step.
    pub fn rejected_event(&self, state: &RefinedState, action: Action) -> Option<Event> {
        let (_, events) = self.step(&state.design, action);
        let mut states = state.spec.clone();
        for event in events {
            states = self.accept_all(&states, &[event]);
            if states.is_empty() {
                return Some(event);
            }
        }
        None
    }
}

/// Keeps each spec state's connections aligned with the design's links: drops those the step
/// removed and adds those it opened.
fn align(spec: &mut SpecState, applied: &crate::step::Applied) {
    for removed in applied.removed_links.iter().rev() {
        spec.conns[removed.client].remove(removed.link);
    }
    for (conns, links) in spec.conns.iter_mut().zip(&applied.state.links) {
        conns.resize(links.len(), Conn::Accepted { fin_read: false });
    }
}

impl Model for Refinement {
    type State = RefinedState;
    type Action = Action;

    fn init_states(&self) -> Vec<RefinedState> {
        let design = State::initial(&self.design.config);
        vec![RefinedState { spec: vec![SpecState::new(design.clients.len())], design }]
    }

    fn actions(&self, state: &RefinedState, actions: &mut Vec<Action>) {
        if !state.spec.is_empty() {
            self.design.actions(&state.design, actions);
        }
    }

    fn next_state(&self, state: &RefinedState, action: Action) -> Option<RefinedState> {
        let (applied, events) = self.step(&state.design, action);
        let mut spec = self.accept_all(&state.spec, &events);
        for s in &mut spec {
            align(s, &applied);
        }
        Some(RefinedState { design: applied.state, spec })
    }

    fn format_action(&self, action: &Action) -> String {
        action.to_string()
    }

    fn format_step(&self, state: &RefinedState, action: Action) -> Option<String> {
        self.design.format_step(&state.design, action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always(REFINES_SPEC, |_: &Refinement, s: &RefinedState| !s.spec.is_empty()),
            Property::always(WITHIN_BOUNDS, |m: &Refinement, s: &RefinedState| m.design.bounds.admit(&s.design)),
            Property::sometimes(SPEC_MAY_SEND_QOS0_KEPT_OFFLINE, |_: &Refinement, s: &RefinedState| {
                s.spec.iter().any(qos0_kept_offline_sendable)
            }),
            Property::sometimes(SPEC_MAY_FORWARD_AFTER_PUBREL, |m: &Refinement, s: &RefinedState| {
                s.spec.iter().any(|spec| stored_for_a_subscriber(&m.design.config, spec))
            }),
            Property::sometimes(SPEC_MAY_SEND_EXTRA_OVERLAPPING_COPY, |_: &Refinement, s: &RefinedState| {
                s.spec.iter().any(extra_copy_sendable)
            }),
        ]
    }
}

/// Whether the session of `client` is served on a connection whose CONNACK went out.
fn connected(spec: &SpecState, client: usize) -> bool {
    spec.session_link(client)
        .is_some_and(|link| matches!(&spec.conns[client][link], Conn::Open(open) if open.carries_session()))
}

/// A connected session holds a QoS 0 copy routed while it was offline, which the spec
/// broker may now send (verimqtt's broker sends QoS 0 to connected sessions only, and at
/// once).
fn qos0_kept_offline_sendable(spec: &SpecState) -> bool {
    spec.sessions.iter().enumerate().any(|(c, session)| {
        connected(spec, c)
            && session.as_ref().is_some_and(|s| {
                s.copies
                    .iter()
                    .enumerate()
                    .any(|(i, copy)| copy.qos == Qos::AtMostOnce && copy.routed_offline && !copy.extra && s.in_order(i))
            })
    })
}

/// The broker acknowledged a QoS 2 PUBLISH by method A and holds it unrouted while a
/// subscription matching it exists: it forwards it only on the PUBREL, which verimqtt's
/// broker (method B) never does.
fn stored_for_a_subscriber(config: &Config, spec: &SpecState) -> bool {
    let stored = spec.sessions.iter().flatten().flat_map(|s| &s.inbound).filter_map(|&(_, how)| match how {
        Inbound::Stored { message } => Some(message),
        Inbound::Routed => None,
    });
    stored.into_iter().any(|n| {
        spec.sessions.iter().enumerate().any(|(s, session)| {
            session.as_ref().is_some_and(|session| config.copy_qos_under(s, n, session.subscribed).is_some())
        })
    })
}

/// A connected session may be sent an extra copy for an additional matching subscription.
fn extra_copy_sendable(spec: &SpecState) -> bool {
    spec.sessions.iter().enumerate().any(|(c, session)| {
        connected(spec, c)
            && session
                .as_ref()
                .is_some_and(|s| s.copies.iter().enumerate().any(|(i, copy)| copy.extra && s.in_order(i)))
    })
}

/// What a refinement check found.
pub struct RefinementOutcome {
    pub states: usize,
    pub unique_states: usize,
    pub max_depth: usize,
    pub elapsed: std::time::Duration,
    /// A path to a design step no spec state explains.
    pub rejection: Option<stateright::Path<RefinedState, Action>>,
    /// A path past the design model's structural bounds (the check is then not exhaustive).
    pub bound_reached: Option<stateright::Path<RefinedState, Action>>,
    /// The `sometimes` witnesses reached.
    pub witnessed: Vec<&'static str>,
}

/// Checks every reachable state breadth-first, stopping at the first rejection or bound.
pub fn check_refinement(refinement: Refinement, threads: usize) -> RefinementOutcome {
    use stateright::{Checker, HasDiscoveries};
    let started = std::time::Instant::now();
    let checker = refinement
        .checker()
        .threads(threads.max(1))
        .finish_when(HasDiscoveries::AnyOf([REFINES_SPEC, WITHIN_BOUNDS].into_iter().collect()))
        .spawn_bfs()
        .join();
    let elapsed = started.elapsed();
    let mut discoveries = checker.discoveries();
    let witnessed =
        [SPEC_MAY_SEND_QOS0_KEPT_OFFLINE, SPEC_MAY_FORWARD_AFTER_PUBREL, SPEC_MAY_SEND_EXTRA_OVERLAPPING_COPY]
            .into_iter()
            .filter(|name| discoveries.contains_key(name))
            .collect();
    RefinementOutcome {
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: checker.max_depth(),
        elapsed,
        rejection: discoveries.remove(REFINES_SPEC),
        bound_reached: discoveries.remove(WITHIN_BOUNDS),
        witnessed,
    }
}

/// A rejection as a message sequence: each step, and at the end the event no spec state
/// explains.
pub fn render_rejection(refinement: &Refinement, path: &stateright::Path<RefinedState, Action>) -> String {
    let steps = path.clone().into_vec();
    let mut lines = Vec::new();
    for (state, action) in &steps {
        let Some(action) = *action else { continue };
        let notes = refinement.design.narrated_step(&state.design, action).1.join("; ");
        lines.push(format!("{action}: {notes}"));
        if let Some(event) = refinement.rejected_event(state, action) {
            lines.push(format!("  no spec broker state explains {event:?}"));
            break;
        }
    }
    lines.join("\n")
}
