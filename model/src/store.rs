//! The broker's store, as verimqtt's persistence uses it (`verimqtt_proto::broker::store`).
//!
//! With a durable store the broker writes what a restart must give back: the persistent
//! sessions (3.1.1 CleanSession=0, 5.0 a non-zero Session Expiry Interval) with their
//! subscription, queued and in-flight QoS 1/2 messages with each flight's stage, and the QoS 2
//! ids awaiting PUBREL. QoS 0 messages and sessions that end with their connection are never
//! stored.
//!
//! The will of a persistent session is stored too: the will of its open connection, or a
//! will waiting out its delay. So are the retained messages, as verimqtt's store keeps them.
//!
//! A change becomes durable at a store step of its own ([`crate::step::Action::StoreCommit`],
//! one commit for everything changed so far, as verimqtt's group commit). The rule that makes
//! the store worth having: once something changed that is not yet durable, every packet the
//! broker queues for any connection is held back until the commit, so a PUBACK or PUBREC never
//! precedes the message stored for every persistent session it was routed to, a SUBACK never
//! precedes its subscription, a PUBLISH never precedes its flight's packet id. A restart
//! ([`crate::restart`]) falls back to the last commit and loses the held packets.
//!
//! The commit is urgent (no time passes before it): the store answers within a tick.

use crate::bits::Bits;
use crate::broker::Session;
use crate::config::Config;
use crate::inline::PerClient;
use crate::retained::RetainedStore;
use crate::state::State;
use crate::step::Step;
use crate::symmetry::Permutation;
use crate::will::{StoredWill, WillWatch, connected_with_will, will_to_store};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Store {
    /// Per client, its persistent session as of the last commit: what a restart gives back.
    pub sessions: PerClient<Option<Session>>,
    /// The broker queued packets after a change that is not yet durable: those and every
    /// packet queued after them wait on their connections ([`crate::network::Link::held`]).
    pub holding: bool,
    /// Per client, the will of its persistent session as of the last commit.
    pub wills: PerClient<Option<StoredWill>>,
    /// The retained messages as of the last commit (verimqtt's store keeps them).
    pub retained: RetainedStore,
    /// Clients whose stored session the broker discarded (Clean Start=1) since the last
    /// commit: a change to commit even when the new session looks the same, as verimqtt's
    /// store is told to forget the old one.
    pub discarded: Bits,
}

impl Store {
    pub fn new(clients: usize) -> Store {
        Store {
            sessions: PerClient::filled(None, clients),
            holding: false,
            wills: PerClient::filled(None, clients),
            retained: RetainedStore::default(),
            discarded: Bits::EMPTY,
        }
    }

    /// The same with the clients renamed (see [`crate::symmetry`]).
    pub fn permuted(&self, p: &Permutation) -> Store {
        Store {
            sessions: p.per_client(&self.sessions).iter().map(|s| s.map(|s| s.permuted(p))).collect(),
            holding: self.holding,
            wills: p.per_client(&self.wills),
            retained: self.retained,
            discarded: p.clients(self.discarded),
        }
    }
}

/// What the store keeps of `client`'s live session: a persistent session as it is (with its
/// offline clock, which ages in the store as in the broker), nothing of a session that ends
/// with its connection.
fn record(config: &Config, client: usize, live: &Option<Session>) -> Option<Session> {
    live.as_ref().filter(|_| config.session_outlives_connection(client)).cloned()
}

/// The broker's state differs from what the store has committed.
pub fn changed(config: &Config, state: &State) -> bool {
    let sessions_changed = state.sessions.iter().zip(&state.store.sessions).enumerate().any(|(c, (live, stored))| {
        let kept = live.as_ref().filter(|_| config.session_outlives_connection(c));
        kept != stored.as_ref()
    });
    let wills_changed = (0..config.clients).any(|c| will_to_store(config, state, c) != state.store.wills[c]);
    let retained_changed = state.retained != state.store.retained;
    sessions_changed || wills_changed || retained_changed || !state.store.discarded.is_empty()
}

/// The store has something to commit: a change, or packets waiting.
pub fn commit_due(config: &Config, state: &State) -> bool {
    config.keeps_store() && (state.store.holding || changed(config, state))
}

impl Step<'_> {
    /// Whether a packet the broker queues now must wait for the store: a change is not yet
    /// durable, or packets queued earlier still wait (they keep their order).
    pub(crate) fn store_holds_back(&mut self) -> bool {
        if !self.config.keeps_store() {
            return false;
        }
        if !self.state.store.holding && changed(self.config, &self.state) {
            self.state.store.holding = true;
        }
        self.state.store.holding
    }

    /// The broker discards `client`'s session: the store must forget the one it keeps.
    pub(crate) fn store_forgets(&mut self, client: usize) {
        if self.config.keeps_store() && self.state.store.sessions[client].is_some() {
            self.state.store.discarded.insert(client as u8);
        }
    }

    /// The store makes every change so far durable, and the packets that waited go out.
    pub(crate) fn store_commit(&mut self) {
        let config = self.config;
        let committed = (0..config.clients).map(|c| record(config, c, &self.state.sessions[c])).collect();
        self.state.store.sessions = committed;
        self.state.store.wills = (0..config.clients).map(|c| will_to_store(config, &self.state, c)).collect();
        self.state.store.retained = self.state.retained;
        self.state.store.holding = false;
        self.state.store.discarded = Bits::EMPTY;
        for link in self.state.links.iter_mut().flatten() {
            link.release_held();
        }
        // The ghost's own account of what is now durable: sessions by the specification's
        // rules, a waiting will by its own clock, a connection's will as the connection holds it.
        let wills = (0..config.clients)
            .map(|c| {
                let waiting = match self.state.ghost.will_watch[c] {
                    WillWatch::Waiting(age) => Some(age),
                    WillWatch::Idle | WillWatch::Due => None,
                };
                StoredWill::of(waiting, connected_with_will(&self.state, c))
                    .filter(|_| config.session_outlives_connection(c))
            })
            .collect();
        let ghost = &mut self.state.ghost;
        let persistent_alive = (0..config.clients)
            .filter(|&c| config.session_outlives_connection(c) && ghost.session_alive[c])
            .map(|c| c as u8)
            .collect();
        // A will the broker routed is its own message, owned once a commit made it durable.
        let routed = ghost.owed.iter().fold(Bits::EMPTY, |all, owed| all.union(*owed));
        let wills_routed = routed.iter().filter(|&m| config.will_of(m).is_some()).collect();
        ghost.durability.on_commit(persistent_alive, wills_routed, wills);
        let subscribed = (0..config.clients).filter(|&c| ghost.subscribed[c].any()).map(|c| c as u8).collect();
        ghost.durability.subscribed_committed = subscribed;
        ghost.durability.owed_retained_committed = ghost.owed_retained;
        ghost.durability.delivered_retained_committed = ghost.delivered_retained;
        ghost.durability.retained_committed = ghost.retained;
        self.note(|| "the store commits: what was held back goes out".to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SessionKind, Version};

    #[test]
    fn only_persistent_sessions_are_kept() {
        let mut config = Config::new(Version::V5_0, 2, 1);
        config.sessions = vec![SessionKind::Persistent, SessionKind::Clean];
        config.restarts = 1;
        config.durable = true;
        let mut state = State::initial(&config);
        state.sessions[1] = Some(Session::default());
        assert!(!changed(&config, &state), "a clean session is not stored");
        state.sessions[0] = Some(Session::default());
        assert!(changed(&config, &state) && commit_due(&config, &state));
        assert_eq!(record(&config, 1, &state.sessions[1]), None);
    }

    #[test]
    fn a_session_discarded_is_a_change_even_when_its_successor_looks_the_same() {
        let mut config = Config::new(Version::V5_0, 1, 1);
        config.restarts = 1;
        config.durable = true;
        let mut state = State::initial(&config);
        state.sessions[0] = Some(Session::default());
        state.store.sessions[0] = Some(Session::default());
        assert!(!changed(&config, &state));
        state.store.discarded.insert(0);
        assert!(changed(&config, &state));
    }
}
