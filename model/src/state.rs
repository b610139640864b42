//! The state of the whole system at one instant.

use crate::bits::Bits;
use crate::broker::Session;
use crate::client::Client;
use crate::config::Config;
use crate::ghost::Ghost;
use crate::inline::PerClient;
use crate::network::Link;
use crate::retained::RetainedStore;
use crate::store::Store;
use crate::symmetry::{Permutation, Symmetry};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Indexed by client id.
    pub clients: PerClient<Client>,
    /// The broker's sessions, indexed by client id.
    pub sessions: PerClient<Option<Session>>,
    /// Per client, its connections in the order they were opened: the current one, and
    /// perhaps an older one the broker still believes in.
    pub links: PerClient<Vec<Link>>,
    /// Network cuts the environment may still inject.
    pub cuts_left: u8,
    pub ghost: Ghost,
    /// Broker restarts the environment may still inject.
    pub restarts_left: u8,
    /// What the broker has committed to its store (durable configurations).
    pub store: Store,
    /// Per client, a will waiting out its delay (5.0): ticks waited so far.
    pub pending_wills: PerClient<Option<u8>>,
    /// DISCONNECTs the clients may still send at a time of their choosing.
    pub disconnects_left: u8,
    /// UNSUBSCRIBEs the subscribers may still send.
    pub unsubscribes_left: u8,
    /// PUBLISHes beyond the broker's Receive Maximum a hostile client may still write.
    pub beyond_quota_left: u8,
    /// PUBRECs hostile clients may still write (see [`Config::hostile_pubrecs`]).
    pub hostile_pubrecs_left: u8,
    /// The broker's retained messages.
    pub retained: RetainedStore,
    /// Which clients are interchangeable, when the checker reduces by symmetry (the same in
    /// every state).
    pub symmetry: Symmetry,
}

impl State {
    pub fn initial(config: &Config) -> State {
        State {
            clients: (0..config.clients)
                .map(|c| Client { resumable: !config.clean_start(c), ..Client::default() })
                .collect(),
            sessions: PerClient::filled(None, config.clients),
            links: PerClient::filled(Vec::new(), config.clients),
            cuts_left: config.cuts,
            ghost: Ghost::new(config.clients),
            restarts_left: config.restarts,
            store: Store::new(config.clients),
            pending_wills: PerClient::filled(None, config.clients),
            disconnects_left: config.disconnects,
            unsubscribes_left: config.unsubscribes,
            beyond_quota_left: config.beyond_quota,
            hostile_pubrecs_left: config.hostile_pubrecs,
            retained: RetainedStore::default(),
            symmetry: Symmetry::default(),
        }
    }

    /// The same with the clients renamed (see [`crate::symmetry`]).
    pub fn permuted(&self, p: &Permutation) -> State {
        State {
            clients: p.per_client(&self.clients).iter().map(|c| c.permuted(p)).collect(),
            sessions: p.per_client(&self.sessions).iter().map(|s| s.map(|s| s.permuted(p))).collect(),
            links: p
                .per_client(&self.links)
                .iter()
                .map(|links| links.iter().map(|l| l.permuted(p)).collect())
                .collect(),
            cuts_left: self.cuts_left,
            ghost: self.ghost.permuted(p),
            restarts_left: self.restarts_left,
            store: self.store.permuted(p),
            pending_wills: p.per_client(&self.pending_wills),
            disconnects_left: self.disconnects_left,
            unsubscribes_left: self.unsubscribes_left,
            beyond_quota_left: self.beyond_quota_left,
            hostile_pubrecs_left: self.hostile_pubrecs_left,
            retained: self.retained,
            symmetry: self.symmetry,
        }
    }

    /// The messages the publishers' applications have handed over so far.
    pub fn handed_over(&self, config: &Config) -> Bits {
        config.publishers().fold(Bits::EMPTY, |all, p| all.union(config.published_by(p, self.clients[p].steps_done)))
    }

    /// The messages handed over whose publication the protocol still guarantees: neither
    /// abandoned with their publisher's session before the broker took them, nor refused by
    /// the broker.
    pub fn guaranteed_publications(&self, config: &Config) -> Bits {
        self.handed_over(config).minus(self.ghost.abandoned).minus(self.ghost.refused)
    }

    /// Every publisher's application has taken all of its script steps.
    pub fn scripts_done(&self, config: &Config) -> bool {
        config.publishers().all(|p| usize::from(self.clients[p].steps_done) == config.script(p).len())
    }

    /// The connection `client` uses, if any.
    pub fn client_link(&self, client: usize) -> Option<usize> {
        self.links[client].iter().position(|l| l.client_open)
    }

    /// The connection the broker serves `client` on, if any.
    pub fn broker_link(&self, client: usize) -> Option<usize> {
        self.links[client].iter().position(|l| l.broker_open())
    }

    /// Every link with its client id.
    pub fn all_links(&self) -> impl Iterator<Item = (usize, &Link)> {
        self.links.iter().enumerate().flat_map(|(c, links)| links.iter().map(move |l| (c, l)))
    }
}
