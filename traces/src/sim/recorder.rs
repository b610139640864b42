//! The observers of a run: each node's events go into one log, in the one global order the
//! simulator runs the nodes in, with times in milliseconds since the start of the run and
//! connections numbered by the run.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use verimqtt_proto::trace::{Event, Observer};
use verimqtt_spec::trace::{ConnId, Node, TraceEvent};

/// The trace so far, shared by the observers of every node.
#[derive(Debug)]
pub(crate) struct Log {
    origin: Instant,
    pub events: Vec<TraceEvent>,
    /// Per client, the run's number of each of its connections, in order.
    client_conns: Vec<Vec<ConnId>>,
}

#[derive(Debug, Clone)]
pub(crate) struct SharedLog(Arc<Mutex<Log>>);

impl SharedLog {
    pub fn new(origin: Instant, clients: usize) -> Self {
        SharedLog(Arc::new(Mutex::new(Log { origin, events: Vec::new(), client_conns: vec![Vec::new(); clients] })))
    }

    /// The log; a node that panicked while recording left it as it was.
    pub fn lock(&self) -> MutexGuard<'_, Log> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The client's next connection is the run's connection `conn`.
    pub fn client_connects(&self, client: usize, conn: ConnId) {
        if let Some(conns) = self.lock().client_conns.get_mut(client) {
            conns.push(conn);
        }
    }

    /// Records what the network did at `now`.
    pub fn network(&self, now: Instant, event: Event) {
        self.environment(now, Node::network(), event);
    }

    /// Records that the run restarted its broker at `now`.
    pub fn broker_restarted(&self, now: Instant) {
        self.environment(now, Node::broker(), Event::BrokerRestarted);
    }

    /// Records what the run did to `node` from outside at `now`, as no observer of a node can.
    fn environment(&self, now: Instant, node: Node, event: Event) {
        let mut log = self.lock();
        let time_ms = now.saturating_duration_since(log.origin).as_millis() as u64;
        log.events.push(TraceEvent { time_ms, node, event });
    }

    pub fn observer(&self, node: Observed) -> Box<dyn Observer> {
        Box::new(NodeObserver { log: self.clone(), node })
    }
}

/// Whose steps an observer records.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Observed {
    Broker,
    Client(usize),
}

struct NodeObserver {
    log: SharedLog,
    node: Observed,
}

impl Observer for NodeObserver {
    fn observe(&mut self, now: Instant, mut event: Event) {
        let mut log = self.log.lock();
        let time_ms = now.saturating_duration_since(log.origin).as_millis() as u64;
        let node = match self.node {
            Observed::Broker => Node::broker(),
            Observed::Client(client) => {
                // A client numbers its connections 1, 2, ...; the run numbers all of them.
                if let Some(conn) = conn_mut(&mut event) {
                    let local = usize::try_from(*conn).unwrap_or(usize::MAX);
                    let run_conn = log.client_conns.get(client).and_then(|conns| conns.get(local.wrapping_sub(1)));
                    if let Some(&run_conn) = run_conn {
                        *conn = run_conn;
                    }
                }
                Node::client(format!("c{client}"))
            }
        };
        log.events.push(TraceEvent { time_ms, node, event });
    }
}

fn conn_mut(event: &mut Event) -> Option<&mut ConnId> {
    match event {
        Event::ConnectionOpened { conn }
        | Event::ConnectionClosed { conn, .. }
        | Event::PacketSent { conn, .. }
        | Event::PacketReceived { conn, .. } => Some(conn),
        Event::FaultInjected { .. }
        | Event::PacketInjected { .. }
        | Event::Forwarded { .. }
        | Event::BrokerClosed { .. }
        | Event::Dropped { .. }
        | Event::ProbeEnded
        | Event::PublishRequested { .. }
        | Event::PublishAbandoned { .. }
        | Event::MessageDelivered { .. }
        | Event::TimerFired { .. }
        | Event::NetworkStalled { .. }
        | Event::BrokerRestarted => None,
    }
}
