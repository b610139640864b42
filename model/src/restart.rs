//! A broker restart as a fault, and what an observer may expect to survive it.
//!
//! The broker process dies and starts again: the operating system closes its sockets, so every
//! client reads the end of its connection after what was already on its way to it, and what
//! was on its way to the broker is lost with the process, as are the packets it held back for
//! its store. Without a durable store ([`crate::config::Config::durable`]) every session is
//! lost. With one, the broker starts from the store's last commit ([`crate::store`]): the
//! persistent sessions committed then come back offline, and resend their flights with DUP=1
//! when they are resumed [MQTT-4.4.0-1]. With session expiry (5.0) the store keeps each
//! offline session's clock, which runs on through the restart (verimqtt's counts by the wall
//! clock): a restored session whose expiry passed is discarded as the broker starts, and one
//! whose connection the restart ended is offline from the restart. Without a store, restarts
//! are not combined with session expiry: a broker that loses its sessions leads to the stale
//! resume of the README's finding, with no client clock to guard against it.
//!
//! How the ghost judges a restart:
//!
//! - **Without a durable store** every session ends, as by the rules of the specification a
//!   session ends with its state: Session Present=0 afterwards is then correct, the QoS 1/2
//!   messages those sessions held are no longer owed to anyone, and no will is owed (neither
//!   one waiting out its delay nor that of a connection the restart ended). A message the
//!   broker had acknowledged (PUBACK/PUBREC) and then lost this way breaks nothing such a
//!   broker promises: MQTT keeps session state only for as long as the server holds it, and
//!   says nothing of a server that loses its memory; a broker without a store promises nothing
//!   across a restart.
//! - **With a durable store** the broker promises what verimqtt's persistence promises: a
//!   persistent session alive at a commit survives, and so does every QoS 1/2 message it
//!   acknowledged. The ghost keeps a session alive across the restart if it was alive at the
//!   last commit (an end after that commit, by Clean Start=1 or expiry, is rolled back with
//!   every other change not yet durable), and keeps owing a subscriber the messages whose
//!   PUBACK/PUBREC the broker had put on the wire (or queued before that commit), and the
//!   QoS 1 wills routed to it before that commit. A message the broker accepted but never
//!   acknowledged is the publisher's again: the publisher still holds it, and it is accepted
//!   afresh when resent; or the publisher discarded it meanwhile with its session (a clean
//!   one whose connection ended before the PUBACK came), and it is abandoned. `session_messages_kept` and `delivered_when_quiet` then state "an
//!   acknowledged QoS 1/2 message survives a broker restart".
//! - **Wills, with a durable store**: the will a persistent session had at the last commit
//!   survives. A will waiting out its delay waits on (its clock runs through the restart, as
//!   verimqtt's counts by the wall clock); the will of a connection the restart ended is owed,
//!   since that connection ended without DISCONNECT [MQTT-3.1.2-8], after its delay counted
//!   from the restart (at once without one). `will_iff_abnormal` judges both on the ghost's
//!   clock. As with every change, the last commit is what counts: a DISCONNECT the broker read
//!   after it is lost with the restart as if it had never arrived, so that will is owed too,
//!   and a will published after the restart but before a commit is owed again by a second
//!   restart (a will may then be published twice).
//! - **Subscriptions and retained messages**: a durable restart rolls back, with the session,
//!   its granted subscription (a SUBSCRIBE or UNSUBSCRIBE whose SUBACK or UNSUBACK was still held
//!   back is lost, as if it had never arrived) and the retained copies its SUBACKs called for;
//!   the retained messages are those of the last commit (verimqtt's store keeps them, and a
//!   retained QoS 1/2 publication is acknowledged only once they are durable). Without a store
//!   the broker starts with none, and the ghost owes none.
//! - **DISCONNECT and UNSUBSCRIBE budgets** are the clients' choices, not the broker's state:
//!   a restart leaves them as they are.

use crate::bits::Bits;
use crate::broker::{Session, session_expiry_due};
use crate::bugs::Bug;
use crate::config::Config;
use crate::ghost::Ghost;
use crate::inline::PerClient;
use crate::observe::Observation;
use crate::outbound::Stage;
use crate::retained::RetainedStore;
use crate::routing::Subscribed;
use crate::step::Step;
use crate::symmetry::Permutation;
use crate::will::{StoredWill, WillWatch};

/// What the ghost records of the durable store's promises. Only configurations with a durable
/// store and restarts record anything ([`Config::keeps_store`]), so elsewhere it adds no states.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Durability {
    /// Messages the broker owns across a restart: those whose PUBACK or PUBREC it put on the
    /// wire, and the wills it had routed at a commit.
    pub acknowledged: Bits,
    /// Messages whose PUBACK or PUBREC the broker queued but holds back for the store.
    pub acks_waiting: Bits,
    /// Clients whose persistent session was alive at the store's last commit.
    pub sessions_committed: Bits,
    /// Per subscriber: messages still owed to it, undelivered, when the broker restarted with
    /// its store (for the witness that such a message is delivered afterwards).
    pub restored: PerClient<Bits>,
    /// Per client, the will of its persistent session as of the last commit, by the ghost's
    /// own clock of waiting wills.
    pub wills_committed: PerClient<Option<StoredWill>>,
    /// Clients whose granted subscription (SUBACK sent, no UNSUBACK since) was committed: what
    /// went out before the commit, since every SUBACK or UNSUBACK after it was held back.
    pub subscribed_committed: Bits,
    /// Per subscriber, the retained copies owed to it at the last commit.
    pub owed_retained_committed: PerClient<Bits>,
    /// Per subscriber, the retained copies delivered to it as the ghost counted them at the
    /// last commit.
    pub delivered_retained_committed: PerClient<Bits>,
    /// The ghost's record of each topic's retained message at the last commit.
    pub retained_committed: RetainedStore,
}

impl Durability {
    pub fn new(clients: usize) -> Durability {
        Durability {
            acknowledged: Bits::EMPTY,
            acks_waiting: Bits::EMPTY,
            sessions_committed: Bits::EMPTY,
            restored: PerClient::filled(Bits::EMPTY, clients),
            wills_committed: PerClient::filled(None, clients),
            subscribed_committed: Bits::EMPTY,
            owed_retained_committed: PerClient::filled(Bits::EMPTY, clients),
            delivered_retained_committed: PerClient::filled(Bits::EMPTY, clients),
            retained_committed: RetainedStore::default(),
        }
    }

    /// The same with the clients renamed (see [`crate::symmetry`]).
    pub fn permuted(&self, p: &Permutation) -> Durability {
        Durability {
            acknowledged: p.messages(self.acknowledged),
            acks_waiting: p.messages(self.acks_waiting),
            sessions_committed: p.clients(self.sessions_committed),
            restored: p.per_client(&self.restored).iter().map(|&owed| p.messages(owed)).collect(),
            wills_committed: p.per_client(&self.wills_committed),
            subscribed_committed: p.clients(self.subscribed_committed),
            owed_retained_committed: p.per_client(&self.owed_retained_committed),
            delivered_retained_committed: p.per_client(&self.delivered_retained_committed),
            retained_committed: self.retained_committed,
        }
    }

    /// The broker queued a PUBACK or PUBREC for `message`, on the wire at once or `held` for
    /// the store.
    pub fn on_ack_queued(&mut self, message: u8, held: bool) {
        if held {
            self.acks_waiting.insert(message);
        } else {
            self.acknowledged.insert(message);
        }
    }

    /// The store committed: the acknowledgements that waited go out, the wills routed so far
    /// are the broker's, and the persistent sessions alive now, and their wills, survive a
    /// restart.
    pub fn on_commit(&mut self, persistent_alive: Bits, wills_routed: Bits, wills: PerClient<Option<StoredWill>>) {
        self.acknowledged = self.acknowledged.union(self.acks_waiting).union(wills_routed);
        self.acks_waiting = Bits::EMPTY;
        self.sessions_committed = persistent_alive;
        self.wills_committed = wills;
    }
}

impl Step<'_> {
    /// The broker process dies and starts again.
    pub(crate) fn restart(&mut self) {
        let config = self.config;
        self.state.restarts_left -= 1;
        self.observe(|| Observation::Restarted);
        for link in self.state.links.iter_mut().flatten() {
            link.close_broker_end();
        }
        let durable = config.keeps_store();
        self.state.sessions = if durable { self.state.store.sessions } else { PerClient::filled(None, config.clients) };
        let retained_kept = durable && !config.has(Bug::RestartLosesRetained);
        self.state.retained = if retained_kept { self.state.store.retained } else { RetainedStore::default() };
        if config.expiry_ticks().is_some() {
            // A session whose connection the restart ended is offline from now on.
            for session in self.state.sessions.iter_mut().flatten() {
                session.offline_ticks.get_or_insert(0);
            }
        }
        let wills_kept = durable && !config.has(Bug::RestartLosesWills);
        self.state.pending_wills = (0..config.clients)
            .map(|c| self.state.store.wills[c].filter(|_| wills_kept).map(StoredWill::waited))
            .collect();
        self.state.store.holding = false;
        self.state.store.discarded = Bits::EMPTY;
        let publishers_hold =
            self.state.clients.iter().fold(Bits::EMPTY, |held, client| held.union(client.outbound.messages(config)));
        judge_restart(&mut self.state.ghost, config, &self.state.sessions, publishers_hold);
        self.note(|| {
            let kept = if durable { "starts from its store" } else { "has lost every session" };
            format!("the broker restarts: every connection ends, it {kept}")
        });
        // A restored session whose expiry passed before the restart is discarded as the broker
        // starts, as verimqtt's restore does, with the will it held.
        for c in 0..config.clients {
            if session_expiry_due(config, &self.state, c) {
                self.expire_session(c);
            }
        }
        // The wills of the connections the restart ended, without a delay to wait out.
        if config.will_delay_ticks().is_none() {
            for c in 0..config.clients {
                self.publish_pending_will(c);
            }
        }
    }
}

/// The ghost's account of a restart (see the module documentation). `restored` are the
/// broker's sessions after it: their flights are what the broker sent before and may resend.
/// `publishers_hold` are the messages the publishers still hold (queued or in flight).
fn judge_restart(ghost: &mut Ghost, config: &Config, restored: &[Option<Session>], publishers_hold: Bits) {
    let durable = config.keeps_store();
    let acknowledged = ghost.durability.acknowledged;
    for (c, session) in restored.iter().enumerate() {
        if !(durable && ghost.durability.sessions_committed.contains(c as u8)) {
            ghost.on_session_ended(c);
            continue;
        }
        // Alive at the last commit: an end after it is rolled back with the rest, and so are
        // an UNSUBSCRIBE or SUBSCRIBE after it (their UNSUBACK or SUBACK was held back).
        ghost.session_alive[c] = true;
        // Added subscriptions are not modelled with restarts (see `Config::validate`): a committed
        // subscription is the first SUBSCRIBE's.
        ghost.subscribed[c] =
            if ghost.durability.subscribed_committed.contains(c as u8) { Subscribed::First } else { Subscribed::No };
        // A SUBACK after the commit owed its retained copies afresh; rolled back, what was
        // owed at the commit is owed again, and what had been delivered of it (then or since)
        // stays delivered.
        ghost.owed_retained[c] = ghost.durability.owed_retained_committed[c];
        let delivered_retained = ghost.delivered_retained[c].union(ghost.durability.delivered_retained_committed[c]);
        ghost.delivered_retained[c] = delivered_retained;
        let owed = ghost.owed[c].intersection(acknowledged);
        ghost.owed[c] = owed;
        let restored_owed = ghost.durability.restored[c].union(owed.minus(ghost.delivered[c]));
        ghost.durability.restored[c] = restored_owed;
        let flights = session.as_ref().map(|session| &*session.outbound.flights).unwrap_or_default();
        let ids_at = |stages: &[Stage]| -> Vec<crate::packet::PacketId> {
            flights.iter().filter(|f| stages.contains(&f.stage)).map(|f| f.id).collect()
        };
        ghost.broker_sends_restored(
            c,
            ids_at(&[Stage::AwaitPubAck, Stage::AwaitPubRec]).into_iter().collect(),
            ids_at(&[Stage::AwaitPubComp]),
        );
    }
    for (c, watch) in ghost.will_watch.iter_mut().enumerate() {
        let committed = ghost.durability.wills_committed[c].filter(|_| durable);
        *watch = committed.map_or(WillWatch::Idle, |will| WillWatch::Waiting(will.waited()));
    }
    // The retained messages: those of the last commit with a store, none without one (MQTT
    // promises nothing of a server that loses its memory).
    ghost.retained = if durable { ghost.durability.retained_committed } else { RetainedStore::default() };
    if durable {
        let unacknowledged: Bits = ghost.accepted.minus(acknowledged).iter().filter(|&m| config.reliable(m)).collect();
        ghost.accepted = ghost.accepted.minus(unacknowledged);
        // A publisher that discarded its session since (a clean one whose connection ended)
        // gave those up without an acknowledgement, which MQTT allows: abandoned, as a message
        // it discards before the broker accepts it.
        ghost.abandoned = ghost.abandoned.union(unacknowledged.minus(publishers_hold));
        ghost.durability.acks_waiting = Bits::EMPTY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Version;

    /// Subscriber 1's session is alive and was committed, m0 and m1 are owed to it and the
    /// broker acknowledged only m0.
    fn before_restart(durable: bool) -> (Config, Ghost) {
        let mut config = Config::new(Version::V5_0, 2, 2);
        config.restarts = 1;
        config.durable = durable;
        let mut ghost = Ghost::new(2);
        ghost.session_alive[1] = true;
        ghost.accepted = [0, 1].into_iter().collect();
        ghost.owed[1] = [0, 1].into_iter().collect();
        ghost.durability.on_ack_queued(0, false);
        ghost.durability.on_ack_queued(1, true);
        ghost.durability.sessions_committed = [1].into_iter().collect();
        (config, ghost)
    }

    #[test]
    fn a_durable_restart_keeps_owing_what_was_acknowledged() {
        let (config, mut ghost) = before_restart(true);
        let m1: Bits = [1].into_iter().collect();
        judge_restart(&mut ghost, &config, &[None, Some(Session::default())], m1);
        let m0: Bits = [0].into_iter().collect();
        assert!(ghost.session_alive[1]);
        assert_eq!(ghost.owed[1], m0);
        assert_eq!(ghost.accepted, m0, "m1 was never acknowledged: it is the publisher's again");
        assert!(ghost.abandoned.is_empty(), "the publisher still holds m1");
        assert_eq!(ghost.durability.restored[1], m0);
    }

    #[test]
    fn a_message_unacknowledged_at_a_durable_restart_that_its_publisher_discarded_is_abandoned() {
        let (config, mut ghost) = before_restart(true);
        judge_restart(&mut ghost, &config, &[None, Some(Session::default())], Bits::EMPTY);
        let m1: Bits = [1].into_iter().collect();
        assert_eq!(ghost.abandoned, m1, "no PUBACK reached the publisher, which gave m1 up");
        assert!(!ghost.accepted.contains(1));
    }

    #[test]
    fn a_durable_restart_rolls_back_the_end_of_a_session_committed_alive() {
        let (config, mut ghost) = before_restart(true);
        ghost.on_session_ended(1);
        judge_restart(&mut ghost, &config, &[None, Some(Session::default())], Bits::EMPTY);
        assert!(ghost.session_alive[1], "the store gives the session back");
    }

    #[test]
    fn a_restart_without_a_store_ends_every_session() {
        let (config, mut ghost) = before_restart(false);
        judge_restart(&mut ghost, &config, &[None, None], Bits::EMPTY);
        assert!(!ghost.session_alive[1]);
        assert!(ghost.owed[1].is_empty());
    }

    #[test]
    fn a_durable_restart_rolls_back_a_subscription_change_not_yet_committed() {
        let (config, mut ghost) = before_restart(true);
        let m0: Bits = [0].into_iter().collect();
        // Committed: subscribed, retained m0 owed and delivered. Then an UNSUBSCRIBE and a new
        // SUBSCRIBE whose SUBACK owes m0 afresh, neither committed.
        ghost.subscribed[1] = Subscribed::First;
        ghost.durability.subscribed_committed = [1].into_iter().collect();
        ghost.durability.owed_retained_committed[1] = m0;
        ghost.durability.delivered_retained_committed[1] = m0;
        ghost.owed_retained[1] = m0;
        ghost.subscribed[1] = Subscribed::No;
        judge_restart(&mut ghost, &config, &[None, Some(Session::default())], Bits::EMPTY);
        assert!(ghost.subscribed[1].any(), "the UNSUBSCRIBE is lost with the restart");
        assert_eq!((ghost.owed_retained[1], ghost.delivered_retained[1]), (m0, m0), "m0 stays delivered");
    }

    /// Client 0's will waited 1 tick at the last commit, client 1 was connected with its will.
    fn wills_committed(ghost: &mut Ghost) {
        ghost.durability.wills_committed =
            [Some(StoredWill::Waiting(1)), Some(StoredWill::OfConnection)].into_iter().collect();
        ghost.will_watch = [WillWatch::Waiting(2), WillWatch::Idle].into_iter().collect();
    }

    #[test]
    fn a_durable_restart_owes_the_committed_wills_from_their_clocks() {
        let (config, mut ghost) = before_restart(true);
        wills_committed(&mut ghost);
        judge_restart(&mut ghost, &config, &[None, Some(Session::default())], Bits::EMPTY);
        assert_eq!(*ghost.will_watch, [WillWatch::Waiting(1), WillWatch::Waiting(0)]);
    }

    #[test]
    fn a_restart_without_a_store_owes_no_will() {
        let (config, mut ghost) = before_restart(false);
        wills_committed(&mut ghost);
        judge_restart(&mut ghost, &config, &[None, None], Bits::EMPTY);
        assert_eq!(*ghost.will_watch, [WillWatch::Idle, WillWatch::Idle]);
    }
}
