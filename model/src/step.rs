//! One step of the system: an action and the state it leads to.
//!
//! Transitions are methods on [`Step`], split by actor across `client.rs`, `broker.rs` and
//! `time.rs`. A step can narrate itself (for counterexamples) and say what an observer of the
//! real system would see (for trace checking); when it does neither, both cost nothing
//! because notes and observations are built lazily.

use crate::config::{Config, Qos};
use crate::network::BrokerEnd;
use crate::observe::{LinkRef, Observation};
use crate::state::State;
use std::fmt;
use verimqtt_spec::trace::Fault;

/// Everything that can happen next. Indices are client ids and link positions within a
/// client's links, so the order of actions is a function of the state alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The broker reads the next packet (or the FIN) the client sent on a connection.
    BrokerReceives { client: usize, link: usize },
    /// The client reads the next packet (or the FIN) the broker sent on a connection.
    ClientReceives { client: usize, link: usize },
    /// A subscriber without a subscription subscribes.
    Subscribe(usize),
    /// A subscriber unsubscribes from all its filters.
    Unsubscribe(usize),
    /// The client's application takes its next script step (publish, disconnect).
    Application(usize),
    /// The client sends PINGREQ because it has been silent for a keep alive.
    Ping(usize),
    /// The client gives up on a connection whose CONNACK or PINGRESP did not come.
    Abort(usize),
    /// The broker closes a connection on which no CONNECT came in time.
    ConnectTimeout { client: usize, link: usize },
    /// The broker closes a connection that has been silent for too long.
    KeepAliveClose { client: usize, link: usize },
    /// The broker discards an offline session whose expiry interval has passed (5.0).
    ExpireSession(usize),
    /// The client discards its session state: its own expiry clock ran out (5.0).
    ClientExpiresSession(usize),
    /// An offline client opens a new connection and sends CONNECT.
    Connect(usize),
    /// A connected or connecting client sends DISCONNECT (5.0: with reason 0x04 if `with_will`) and closes
    /// its connection, at a time of its choosing; it reconnects afterwards.
    Disconnect { client: usize, with_will: bool },
    /// The network fails under a connection, silently.
    Cut { client: usize, link: usize },
    /// The network fails under a connection and the client's end hears of it (reads a FIN),
    /// and the broker's too if `broker_told` (else the broker's end is left half-open).
    ReportedCut { client: usize, link: usize, broker_told: bool },
    /// One tick of time passes.
    Tick,
    /// The broker's store makes every change so far durable (a durable store only).
    StoreCommit,
    /// The broker process dies and starts again.
    Restart,
    /// The broker publishes a will whose delay has passed (5.0).
    DelayedWill(usize),
    /// A hostile client writes a QoS 1/2 PUBLISH beyond the broker's Receive Maximum on its
    /// connection (5.0, see [`crate::quota`]).
    PublishBeyondQuota { client: usize, qos: Qos },
    /// A hostile client writes a PUBREC for an id no flight of the broker uses on its
    /// connection, behind what the client wrote: accepted (0x00), or (5.0) `refused` (0x80).
    InjectPubRec { client: usize, refused: bool },
}

impl Action {
    /// Actions that happen "now": time does not pass while one of them is possible, because
    /// packets travel (unless the network is slow), timers fire and (unless paced)
    /// applications act faster than a tick.
    pub fn is_urgent(&self, config: &Config) -> bool {
        match self {
            Action::Disconnect { .. }
            | Action::Unsubscribe(_)
            | Action::Cut { .. }
            | Action::ReportedCut { .. }
            | Action::Tick
            | Action::Restart
            | Action::PublishBeyondQuota { .. }
            | Action::InjectPubRec { .. } => false,
            Action::Subscribe(_) | Action::Application(_) => !config.paced_application,
            // Under a bounded response a client reconnects at once.
            Action::Connect(_) => config.bounded_response.is_some(),
            Action::BrokerReceives { .. } | Action::ClientReceives { .. } => !config.slow_network,
            _ => true,
        }
    }

    /// Faults, hostile packets, and the DISCONNECTs and UNSUBSCRIBEs a client chooses to
    /// send: the bounded response's clock starts again after each.
    pub fn interrupts(&self) -> bool {
        self.is_optional() || matches!(self, Action::Restart)
    }

    /// What the environment or a client may do at any time, or never: a run where they are
    /// left unused is judged too.
    pub fn is_optional(&self) -> bool {
        matches!(
            self,
            Action::Cut { .. }
                | Action::ReportedCut { .. }
                | Action::Disconnect { .. }
                | Action::Unsubscribe(_)
                | Action::PublishBeyondQuota { .. }
                | Action::InjectPubRec { .. }
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::BrokerReceives { client, link } => write!(f, "broker reads c{client}#{link}"),
            Action::ClientReceives { client, link } => write!(f, "c{client} reads #{link}"),
            Action::Subscribe(c) => write!(f, "c{c} subscribes"),
            Action::Unsubscribe(c) => write!(f, "c{c} unsubscribes"),
            Action::Application(c) => write!(f, "c{c} application step"),
            Action::Ping(c) => write!(f, "c{c} keep alive ping"),
            Action::Abort(c) => write!(f, "c{c} gives up on its connection"),
            Action::KeepAliveClose { client, link } => {
                write!(f, "broker keep-alive-closes c{client}#{link}")
            }
            Action::ExpireSession(c) => write!(f, "broker expires session of c{c}"),
            Action::ClientExpiresSession(c) => write!(f, "c{c} expires its own session"),
            Action::ConnectTimeout { client, link } => {
                write!(f, "broker gives up waiting for CONNECT on c{client}#{link}")
            }
            Action::Connect(c) => write!(f, "c{c} connects"),
            Action::Disconnect { client, with_will: false } => write!(f, "c{client} disconnects"),
            Action::Disconnect { client, with_will: true } => write!(f, "c{client} disconnects with its will"),
            Action::Cut { client, link } => write!(f, "network cuts c{client}#{link}"),
            Action::ReportedCut { client, link, broker_told } => {
                let told = if *broker_told { "both ends" } else { "the client" };
                write!(f, "network cuts c{client}#{link}, telling {told}")
            }
            Action::Tick => write!(f, "tick"),
            Action::StoreCommit => write!(f, "the store commits"),
            Action::Restart => write!(f, "the broker restarts"),
            Action::DelayedWill(c) => write!(f, "the will delay of c{c} passes"),
            Action::PublishBeyondQuota { client, qos } => {
                write!(f, "c{client} writes a QoS {} PUBLISH beyond the broker's quota", qos.level())
            }
            Action::InjectPubRec { client, refused } => {
                write!(f, "a hostile c{client} writes a PUBREC{}", if *refused { " refusing" } else { "" })
            }
        }
    }
}

/// What a step records besides the state it leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    Nothing,
    /// A narration, for counterexamples.
    Notes,
    /// What an observer would see, for trace checking.
    Observations,
}

/// The outcome of a step.
#[derive(Clone, Debug)]
pub struct Applied {
    pub state: State,
    pub notes: Vec<String>,
    pub observations: Vec<Observation>,
    /// The links the step finished and removed, as positions in the state it started from,
    /// in increasing order per client.
    pub removed_links: Vec<LinkRef>,
}

pub struct Step<'a> {
    pub config: &'a Config,
    pub state: State,
    notes: Option<Vec<String>>,
    observations: Option<Vec<Observation>>,
}

impl<'a> Step<'a> {
    pub fn new(config: &'a Config, state: State, record: Record) -> Step<'a> {
        Step {
            config,
            state,
            notes: (record == Record::Notes).then(Vec::new),
            observations: (record == Record::Observations).then(Vec::new),
        }
    }

    /// Records what happened, when narrating.
    pub fn note(&mut self, describe: impl FnOnce() -> String) {
        if let Some(notes) = &mut self.notes {
            notes.push(describe());
        }
    }

    /// Records what an observer sees, when observing.
    pub fn observe(&mut self, observation: impl FnOnce() -> Observation) {
        if let Some(observations) = &mut self.observations {
            observations.push(observation());
        }
    }

    pub fn apply(mut self, action: Action) -> Applied {
        if action.interrupts() && self.config.bounded_response.is_some() {
            self.state.ghost.calm = 0;
        }
        match action {
            Action::BrokerReceives { client, link } => self.broker_receives(client, link),
            Action::ClientReceives { client, link } => self.client_receives(client, link),
            Action::Subscribe(c) => self.subscribe(c),
            Action::Unsubscribe(c) => self.unsubscribe(c),
            Action::Application(c) => self.application_step(c),
            Action::Ping(c) => self.ping(c),
            Action::Abort(c) => self.abort(c),
            Action::KeepAliveClose { client, link } => self.keep_alive_close(client, link),
            Action::ExpireSession(c) => self.expire_session(c),
            Action::ClientExpiresSession(c) => self.client_expire_session(c),
            Action::ConnectTimeout { client, link } => self.connect_timeout(client, link),
            Action::Connect(c) => self.connect(c),
            Action::Disconnect { client, with_will } => self.chosen_disconnect(client, with_will),
            Action::Cut { client, link } => self.cut(client, link),
            Action::ReportedCut { client, link, broker_told } => self.reported_cut(client, link, broker_told),
            Action::Tick => self.tick(),
            Action::StoreCommit => self.store_commit(),
            Action::Restart => self.restart(),
            Action::DelayedWill(c) => self.publish_pending_will(c),
            Action::PublishBeyondQuota { client, qos } => self.publish_beyond_quota(client, qos),
            Action::InjectPubRec { client, refused } => self.inject_pubrec(client, refused),
        }
        self.state.ghost.end_step();
        let times_out_connect = self.config.broker_connect_timeout.is_some();
        let mut removed_links = Vec::new();
        for (client, links) in self.state.links.iter_mut().enumerate() {
            let mut link = 0;
            links.retain(|l| {
                let finished = l.is_finished(times_out_connect);
                if finished {
                    removed_links.push(LinkRef { client, link });
                }
                link += 1;
                !finished
            });
        }
        Applied {
            state: self.state,
            notes: self.notes.unwrap_or_default(),
            observations: self.observations.unwrap_or_default(),
            removed_links,
        }
    }

    fn cut(&mut self, client: usize, link: usize) {
        self.lose_link(client, link, Fault::Cut);
    }

    fn lose_link(&mut self, client: usize, link: usize, fault: Fault) {
        self.state.cuts_left -= 1;
        self.state.links[client][link].cut();
        self.observe(|| Observation::Fault { link: LinkRef { client, link }, fault });
        self.note(|| format!("connection c{client}#{link} is cut: in-flight packets lost"));
    }

    /// A cut the transport reports: each told end reads a FIN after nothing (what was in
    /// flight is lost) and closes its end as for any lost connection.
    fn reported_cut(&mut self, client: usize, link: usize, broker_told: bool) {
        self.lose_link(client, link, if broker_told { Fault::Reset } else { Fault::HalfOpen });
        let l = &mut self.state.links[client][link];
        l.to_client.fin = l.client_open;
        l.to_broker.fin = broker_told && l.broker != BrokerEnd::Closed;
        self.note(|| {
            format!(
                "c{client} hears the connection is lost{}",
                if broker_told { ", and so does the broker" } else { "" }
            )
        });
    }
}
