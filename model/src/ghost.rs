//! Ghost state: what an all-seeing observer records so that properties can judge the protocol.
//!
//! The protocol code never reads it. Session lifetimes are tracked here from the rules of the
//! specification (clean start, connection close of a non-persistent session, expiry), not from
//! what the broker's code decided, so a broker that loses a session it should keep is caught.
//!
//! Properties about single events (a PUBLISH sent with the wrong DUP flag, a will published on a
//! clean disconnect, ...) are checked by a monitor when the event happens and recorded as a
//! breach; the property is then "no such breach". In a correct model no breach is ever
//! recorded, so the record adds no states.

use crate::ack_order::{AckOrder, Misorder};
use crate::bits::Bits;
use crate::config::{Config, Qos};
use crate::inline::PerClient;
use crate::packet::{Message, Packet, PacketId};
use crate::quota::BEYOND_QUOTA_ID;
use crate::restart::Durability;
use crate::retained::RetainedStore;
use crate::routing::{RoutedUnder, Subscribed, TOPICS};
use crate::symmetry::Permutation;
use crate::will::WillWatch;

/// An event that breaks a property at the moment it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breach {
    /// A PUBLISH whose DUP flag does not say whether it is a retransmission.
    DupFlag,
    /// A subscriber received a message after a later one of the same publisher, topic and QoS.
    OutOfOrder,
    /// The broker closed a connection for keep alive before 1.5 x keep alive of silence.
    KeepAliveTooEarly,
    /// A will published on a normal disconnect, or not published on an abnormal close.
    WillMismatch,
    /// CONNACK's Session Present did not say whether the broker had a session.
    SessionPresent,
    /// A PUBLISH retransmitted other than in reply to a resumed session (5.0 forbids it).
    ResendOutsideResumption,
    /// A QoS 2 PUBLISH sent with an id whose PUBREL was already sent.
    PublishAfterPubRel,
    /// A connected client let a whole keep alive pass without sending anything.
    KeepAliveDutyMissed,
    /// The broker sent a client a message none of its granted subscriptions matches.
    NotSubscribed,
    /// The broker sent a copy at another QoS than the published one lowered to the highest
    /// grant among the matching subscriptions.
    CopyQos,
    /// The broker sent a new subscription a retained message that is not its topic's latest
    /// retained publication (replaced or deleted since).
    RetainedNotLatest,
    /// A PUBACK sent before that of a QoS 1 PUBLISH read earlier on the connection.
    PubAckOrder,
    /// A PUBREC sent before that of a QoS 2 PUBLISH read earlier on the connection.
    PubRecOrder,
    /// A PUBREL sent before that of a flight whose PUBREC came earlier.
    PubRelOrder,
    /// A subscriber's application received a message nobody published (or whose publication
    /// the broker refused), or the will of a client none of whose connections ended without a
    /// normal DISCONNECT.
    NotPublished,
    /// The broker made a retained copy that no filter of the SUBSCRIBE it answered calls
    /// for by its Retain Handling (5.0).
    RetainedAgainstHandling,
    /// The broker sent a PUBLISH whose RETAIN flag is not the one its copy must carry.
    RetainFlag,
    /// The broker acknowledged a PUBLISH a client wrote beyond its Receive Maximum (see
    /// [`crate::quota`]), which it must refuse by closing the connection.
    TakenBeyondQuota,
    /// A sender answered a PUBREC of 0x80 or more with a PUBREL.
    PubRelAfterRefusal,
}

impl From<Misorder> for Breach {
    fn from(misorder: Misorder) -> Breach {
        match misorder {
            Misorder::PubAck => Breach::PubAckOrder,
            Misorder::PubRec => Breach::PubRecOrder,
            Misorder::PubRel => Breach::PubRelOrder,
        }
    }
}

/// The direction of a PUBLISH: which end sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ToBroker,
    ToClient,
}

impl Direction {
    /// The direction of the acknowledgements of a PUBLISH going this way.
    pub fn opposite(self) -> Direction {
        match self {
            Direction::ToBroker => Direction::ToClient,
            Direction::ToClient => Direction::ToBroker,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ghost {
    /// Application messages the broker has taken ownership of.
    pub accepted: Bits,
    /// QoS 1 messages the broker took ownership of more than once (a resend after a lost
    /// PUBACK is a new publication [MQTT-4.3.2-2]).
    pub republished: Bits,
    /// Messages the publisher dropped with its session before the broker took them: the
    /// protocol gives no guarantee for them.
    pub abandoned: Bits,
    /// QoS 1 messages the broker refused with its PUBACK (a payload that is not the UTF-8 it
    /// claims): the publication failed, so nothing is owed for them.
    pub refused: Bits,
    /// Per client: the broker has a session for it, by the rules of the specification.
    pub session_alive: PerClient<bool>,
    /// Per client: the SUBSCRIBEs the broker granted (sent SUBACK for) in its current
    /// session, as an observer of the SUBACKs knows, not as the broker's routing state says.
    pub subscribed: PerClient<Subscribed>,
    /// Per client: what `subscribed` was when the broker routed each copy to its session,
    /// which fixes the copy's QoS (see [`RoutedUnder`]).
    pub routed_under: PerClient<RoutedUnder>,
    /// Per subscriber: messages the broker accepted while the current session had a granted
    /// subscription matching them, whose copy is QoS 1/2, so the session must deliver them.
    pub owed: PerClient<Bits>,
    /// Per subscriber: messages its application has received.
    pub delivered: PerClient<Bits>,
    /// Per subscriber: QoS 0 or QoS 2 messages its application received more than once.
    pub duplicated: PerClient<Bits>,
    /// Per client: it has received a CONNACK of the broker's current session, so the state it
    /// holds belongs to that session.
    pub attached: PerClient<bool>,
    /// Per client: the broker's session ended after the client attached to it, and the client
    /// has not yet discarded the state it kept for it. (A client that never got a CONNACK holds
    /// no session state, so nothing of it is stale.)
    pub holds_stale_state: PerClient<bool>,
    /// A client resumed state from a session the broker had discarded: its CONNACK with
    /// Session Present=0 was lost, and its next connection resumed the broker's *new* session.
    /// MQTT cannot tell the two sessions apart, so exactly-once and no-loss guarantees end
    /// here (a finding of this model, see README).
    pub diverged: bool,
    /// Per client, per direction: ids of PUBLISH packets sent and not yet acknowledged, which
    /// is what makes the next PUBLISH with that id a retransmission.
    unacked_ids: PerClient<[Bits; 2]>,
    /// Per client, per direction: ids whose PUBREL was sent and whose PUBCOMP has not come.
    released_ids: PerClient<[Bits; 2]>,
    /// Per client, per direction: the sender resumes a session in this very step (the broker
    /// sent, or the client received, CONNACK with Session Present=1), so it may retransmit.
    /// Cleared at the end of every step, so it adds no states.
    resuming: PerClient<[bool; 2]>,
    /// One bit per [`Breach`].
    breaches: u32,
    /// Design monitor: a QoS 1/2 message arrived after a later one of the same publisher and
    /// topic at the other QoS.
    pub order_across_qos_broken: bool,
    /// Design monitor: a QoS 1/2 message arrived after a later one of the same publisher on
    /// another topic.
    pub order_across_topics_broken: bool,
    /// Each topic's retained message by the rules of the specification, from the retained
    /// publications the broker accepted (not from the broker's store).
    pub retained: RetainedStore,
    /// Per subscriber: retained messages whose QoS 1/2 copy a SUBACK the broker sent calls for
    /// (by `retained` when it was sent), not yet received since.
    pub owed_retained: PerClient<Bits>,
    /// Per subscriber: retained messages whose copy its application received since it was last
    /// owed.
    pub delivered_retained: PerClient<Bits>,
    /// What a durable store promises across a broker restart (see [`crate::restart`]).
    pub durability: Durability,
    /// Per client, its will after an abnormal close, by the specification's rules (5.0 delay).
    pub will_watch: PerClient<WillWatch>,
    /// The order of acknowledgements on each side (see [`crate::ack_order`]).
    pub ack_order: AckOrder,
    /// Clients whose will the broker may publish in this step: a connection of theirs with a
    /// will ends now without a normal DISCONNECT (as the broker read it), or the ghost's own
    /// account ([`WillWatch`]) has their will waiting (a delay, a restart from a store).
    /// Cleared at the end of every step, so it adds no states.
    pub wills_publishable: Bits,
    /// The retained copies the SUBACK the broker sent in this step calls for, whatever the
    /// topics' retained messages are (that is `retained_is_latest`'s to judge): per filter
    /// that gets retained messages by its Retain Handling, per topic it matches, (client,
    /// topic, grant), each taken off as the broker makes a copy. Cleared at the end of every
    /// step, so it adds no states.
    retained_called_for: Vec<(usize, u8, Qos)>,
    /// Per client and [`Direction`] of the PUBLISHes, the ids of the PUBRECs of 0x80 or more
    /// their sender read in this step: no PUBREL may answer them. Cleared at the end of
    /// every step, so it adds no states.
    refusing_pubrecs: PerClient<[Bits; 2]>,
    /// With a bounded response: ticks since the last fault (or the start), saturating at the
    /// bound; always 0 otherwise.
    pub calm: u8,
}

impl Ghost {
    pub fn new(clients: usize) -> Ghost {
        Ghost {
            accepted: Bits::EMPTY,
            republished: Bits::EMPTY,
            abandoned: Bits::EMPTY,
            refused: Bits::EMPTY,
            session_alive: PerClient::filled(false, clients),
            subscribed: PerClient::filled(Subscribed::No, clients),
            routed_under: PerClient::filled(RoutedUnder::default(), clients),
            owed: PerClient::filled(Bits::EMPTY, clients),
            delivered: PerClient::filled(Bits::EMPTY, clients),
            duplicated: PerClient::filled(Bits::EMPTY, clients),
            attached: PerClient::filled(false, clients),
            holds_stale_state: PerClient::filled(false, clients),
            diverged: false,
            unacked_ids: PerClient::filled([Bits::EMPTY; 2], clients),
            released_ids: PerClient::filled([Bits::EMPTY; 2], clients),
            resuming: PerClient::filled([false; 2], clients),
            breaches: 0,
            order_across_qos_broken: false,
            order_across_topics_broken: false,
            retained: RetainedStore::default(),
            owed_retained: PerClient::filled(Bits::EMPTY, clients),
            delivered_retained: PerClient::filled(Bits::EMPTY, clients),
            durability: Durability::new(clients),
            will_watch: PerClient::filled(WillWatch::Idle, clients),
            ack_order: AckOrder::new(clients),
            wills_publishable: Bits::EMPTY,
            retained_called_for: Vec::new(),
            refusing_pubrecs: PerClient::filled([Bits::EMPTY; 2], clients),
            calm: 0,
        }
    }

    /// The same with the clients renamed (see [`crate::symmetry`]).
    pub fn permuted(&self, p: &Permutation) -> Ghost {
        let messages =
            |list: &PerClient<Bits>| -> PerClient<Bits> { p.per_client(list).iter().map(|&m| p.messages(m)).collect() };
        Ghost {
            accepted: p.messages(self.accepted),
            republished: p.messages(self.republished),
            abandoned: p.messages(self.abandoned),
            refused: p.messages(self.refused),
            session_alive: p.per_client(&self.session_alive),
            subscribed: p.per_client(&self.subscribed),
            routed_under: p.per_client(&self.routed_under).iter().map(|r| r.permuted(p)).collect(),
            owed: messages(&self.owed),
            delivered: messages(&self.delivered),
            duplicated: messages(&self.duplicated),
            attached: p.per_client(&self.attached),
            holds_stale_state: p.per_client(&self.holds_stale_state),
            diverged: self.diverged,
            unacked_ids: p.per_client(&self.unacked_ids),
            released_ids: p.per_client(&self.released_ids),
            resuming: p.per_client(&self.resuming),
            breaches: self.breaches,
            order_across_qos_broken: self.order_across_qos_broken,
            order_across_topics_broken: self.order_across_topics_broken,
            retained: self.retained,
            owed_retained: p.per_client(&self.owed_retained),
            delivered_retained: p.per_client(&self.delivered_retained),
            durability: self.durability.permuted(p),
            will_watch: p.per_client(&self.will_watch),
            ack_order: self.ack_order.permuted(p),
            wills_publishable: p.clients(self.wills_publishable),
            // Empty between steps, where states are permuted.
            retained_called_for: Vec::new(),
            refusing_pubrecs: p.per_client(&self.refusing_pubrecs),
            calm: self.calm,
        }
    }

    pub fn breach(&mut self, breach: Breach) {
        self.breaches |= 1 << breach as u32;
    }

    pub fn breached(&self, breach: Breach) -> bool {
        self.breaches & (1 << breach as u32) != 0
    }

    /// Monitor for every packet put on the wire between `client` and the broker: the DUP flag
    /// [MQTT-3.3.1-1..3]; no retransmission but on a resumed session [MQTT-4.4.0-1] (5.0); no
    /// PUBLISH once its PUBREL is sent [MQTT-4.3.3-1] (3.1.1) / [MQTT-4.3.3-6] (5.0); the order
    /// of acknowledgements [MQTT-4.6.0-2..4].
    pub fn on_publish_sent(&mut self, direction: Direction, client: usize, packet: &Packet) {
        let d = direction as usize;
        if let Some(misorder) = self.ack_order.on_sent(direction, client, packet) {
            self.breach(misorder.into());
        }
        let (id, qos, dup) = match *packet {
            Packet::Publish { id, qos, dup, .. } => (id, qos, dup),
            Packet::ConnAck { session_present: true, .. } => {
                self.resuming[client][d] = true;
                self.ack_order.on_resumed(direction, client);
                return;
            }
            Packet::PubRel(id) => {
                self.released_ids[client][d].insert(id);
                if self.refusing_pubrecs[client][d].contains(id) {
                    self.breach(Breach::PubRelAfterRefusal);
                }
                return;
            }
            _ => return,
        };
        let unacked = &mut self.unacked_ids[client][d];
        let retransmission = qos > Qos::AtMostOnce && unacked.contains(id);
        if qos > Qos::AtMostOnce {
            unacked.insert(id);
        }
        if dup != retransmission {
            self.breach(Breach::DupFlag);
        }
        if retransmission && !self.resuming[client][d] {
            self.breach(Breach::ResendOutsideResumption);
        }
        if qos > Qos::AtMostOnce && self.released_ids[client][d].contains(id) {
            self.breach(Breach::PublishAfterPubRel);
        }
    }

    /// The sender of a PUBREL received its PUBCOMP: the id is free.
    pub fn on_release_completed(&mut self, direction: Direction, client: usize, id: PacketId) {
        self.released_ids[client][direction as usize].remove(id);
        self.ack_order.on_completed(direction, client, id);
    }

    /// A step is over: the reaction to a resumed session is done.
    pub fn end_step(&mut self) {
        for resuming in &mut self.resuming {
            *resuming = [false; 2];
        }
        self.wills_publishable = Bits::EMPTY;
        self.retained_called_for.clear();
        for refusing in self.refusing_pubrecs.iter_mut() {
            *refusing = [Bits::EMPTY; 2];
        }
    }

    /// The sender of PUBLISHes going in `direction` to or from `client` read a PUBREC of
    /// 0x80 or more for `id`: the flow of the id ends there (section 4.3.3; [MQTT-4.4.0-2]),
    /// so a PUBREL for it in answer breaks `no_pubrel_after_refusal`.
    pub fn on_refusing_pubrec_read(&mut self, direction: Direction, client: usize, id: PacketId) {
        self.refusing_pubrecs[client][direction as usize].insert(id);
    }

    /// The sender of a PUBLISH received its PUBACK or PUBREC: the PUBLISH is never resent.
    pub fn on_publish_acknowledged(&mut self, direction: Direction, client: usize, id: PacketId) {
        self.unacked_ids[client][direction as usize].remove(id);
    }

    /// Monitor for every copy of a message the broker adds to `client`'s session: only a
    /// session with a granted subscription (SUBACK sent, no UNSUBACK since) that matches the
    /// topic gets one [MQTT-3.3.2-3], [MQTT-3.10.4-2] (both versions). A copy already queued
    /// when the client unsubscribes is still delivered [MQTT-3.10.4-3], so this is judged when
    /// the copy is made, not when it is sent.
    pub fn on_routed(&mut self, config: &Config, client: usize, message: Message) {
        let subscribed = self.subscribed[client];
        if !subscribed.any() || Self::copy_qos(config, client, message, subscribed).is_none() {
            self.breach(Breach::NotSubscribed);
        }
        if let Some(id) = config.copy_id(message) {
            self.routed_under[client].record(id, subscribed);
        }
    }

    /// Monitor for every packet the broker sends `client`. A PUBLISH: one copy at the
    /// published QoS lowered to the highest grant among the subscriptions that matched when
    /// it was routed ([MQTT-3.3.5-1], [MQTT-3.8.4-6] (3.1.1) / [MQTT-3.3.4-2], [MQTT-3.8.4-8]
    /// (5.0)); a retained copy at the message's QoS lowered to the grant of a matching filter;
    /// its RETAIN flag as [`Config::copy_retain_under`] says for those subscriptions. No PUBACK
    /// or PUBREC answers a PUBLISH beyond the broker's Receive Maximum. A SUBACK
    /// grants its SUBSCRIBE's filters, and each that gets retained messages by its Retain
    /// Handling (judged against the subscriptions the ghost saw granted before) calls for the
    /// retained message of every topic it matches (see [`crate::retained`]), as the ghost's
    /// record has them now; an UNSUBACK ends the subscription.
    pub fn on_sent_to_client(&mut self, config: &Config, client: usize, packet: &Packet) {
        match *packet {
            Packet::Publish { message, qos, retain, .. } => {
                let routed = config
                    .copy_id(message)
                    .map_or(self.subscribed[client], |id| self.routed_under[client].subscribed(id));
                if Self::copy_qos(config, client, message, routed) != Some(qos) {
                    self.breach(Breach::CopyQos);
                }
                if config.copy_retain_under(client, message, routed) != retain {
                    self.breach(Breach::RetainFlag);
                }
            }
            Packet::PubAck(BEYOND_QUOTA_ID) | Packet::PubRec(BEYOND_QUOTA_ID) => self.breach(Breach::TakenBeyondQuota),
            Packet::UnsubAck { .. } => self.subscribed[client] = Subscribed::No,
            Packet::SubAck(_, request) => {
                let before = self.subscribed[client];
                self.subscribed[client] = config.after_subscribe(client, before, request);
                let filters = config.filters_sending_retained(client, before, request);
                for f in &filters {
                    let topics = (0..TOPICS).filter(|&t| f.filter.matches(t));
                    self.retained_called_for.extend(topics.map(|t| (client, t, f.qos)));
                }
                for (n, qos) in self.retained.copies(&filters, |n| config.qos(n)) {
                    if qos > Qos::AtMostOnce {
                        self.owed_retained[client].insert(n);
                        self.delivered_retained[client].remove(n);
                    }
                }
            }
            _ => {}
        }
    }

    /// Monitor for every retained copy the broker makes for a new subscription of `client`:
    /// it is the latest retained publication on its topic ([MQTT-3.3.1-5], [MQTT-3.3.1-6],
    /// [MQTT-3.3.1-10] (3.1.1) / [MQTT-3.3.1-5], [MQTT-3.3.1-6], [MQTT-3.3.1-9] (5.0)), and
    /// one the SUBACK just sent calls for by the Retain Handling of its filters
    /// ([MQTT-3.3.1-10], [MQTT-3.3.1-11] in 5.0).
    pub fn on_retained_copy(&mut self, config: &Config, client: usize, message: u8, qos: Qos) {
        if self.retained.get(config.topic(message)) != Some(message) {
            self.breach(Breach::RetainedNotLatest);
        }
        let topic = config.topic(message);
        let called =
            |&(c, t, grant): &(usize, u8, Qos)| (c, t) == (client, topic) && grant.min(config.qos(message)) == qos;
        match self.retained_called_for.iter().position(called) {
            Some(i) => {
                self.retained_called_for.remove(i);
            }
            None => self.breach(Breach::RetainedAgainstHandling),
        }
    }

    /// The application of `subscriber` receives the retained copy of `message`.
    pub fn on_retained_delivered(&mut self, subscriber: usize, message: u8) {
        self.delivered_retained[subscriber].insert(message);
    }

    /// The QoS of `client`'s copy of `message` by the rules of routing, while its session
    /// holds `subscribed`; a retained copy's by the grant of any filter the client subscribes
    /// to (it was made for one of them).
    fn copy_qos(config: &Config, client: usize, message: Message, subscribed: Subscribed) -> Option<Qos> {
        match message {
            Message::App(n) => config.copy_qos_under(client, n, subscribed),
            Message::Will(w) => config.copy_qos_under(client, config.will_message(w), subscribed),
            Message::Retained { message: n, qos } => {
                let topic = config.topic(n);
                let filters = config.filters(client).iter().chain(config.added_filters(client));
                let mut grants = filters.filter(|f| f.filter.matches(topic));
                grants.any(|f| f.qos.min(config.qos(n)) == qos).then_some(qos)
            }
        }
    }

    /// The QoS of `subscriber`'s copy of message `message` (an application message or a will),
    /// as its session held the subscriptions when the copy was routed.
    pub fn copy_qos_of(&self, config: &Config, subscriber: usize, message: u8) -> Option<Qos> {
        config.copy_qos_under(subscriber, message, self.routed_under[subscriber].subscribed(message))
    }

    /// Whether `subscriber` is owed a QoS 1/2 copy of `message` routed now.
    fn owes_copy(&self, config: &Config, subscriber: usize, message: u8) -> bool {
        let subscribed = self.subscribed[subscriber];
        subscribed.any() && config.copy_qos_under(subscriber, message, subscribed) > Some(Qos::AtMostOnce)
    }

    /// The broker takes ownership of application message `message` from its publisher. On its
    /// first publication each subscriber whose granted subscriptions match it and give it a
    /// QoS 1/2 copy is owed that copy; a QoS 1 message taken again is republished. A retained
    /// one becomes its topic's retained message (or deletes it), each time it is taken.
    pub fn on_accepted(&mut self, config: &Config, message: u8) {
        if config.retained.contains(message) {
            self.retained.publish(config.topic(message), message, config.empty.contains(message));
        }
        if !self.accepted.contains(message) {
            self.accepted.insert(message);
            let owed: Vec<usize> = (0..config.clients).filter(|&s| self.owes_copy(config, s, message)).collect();
            for s in owed {
                self.owed[s].insert(message);
            }
        } else if config.qos(message) == Qos::AtLeastOnce {
            self.republished.insert(message);
        }
    }

    /// The broker publishes the will of `client` (each abnormal close publishes it anew): it
    /// must be one it may publish now (integrity, see `wills_publishable`); at QoS 1 every
    /// subscriber whose granted subscriptions give it a QoS 1 copy is owed it.
    pub fn on_will_published(&mut self, config: &Config, client: u8) {
        if !self.wills_publishable.contains(client) {
            self.breach(Breach::NotPublished);
        }
        let will = config.will_message(client);
        let owed: Vec<usize> = (0..config.clients).filter(|&s| self.owes_copy(config, s, will)).collect();
        for s in owed {
            self.owed[s].insert(will);
        }
    }

    /// Monitor for every message an application receives (integrity): an application message
    /// its publisher's application handed over (`handed_over`) and the broker did not refuse
    /// (a payload that is not the UTF-8 it claims: the publication failed), or a retained copy of a
    /// retained message the broker accepted. A will is judged when the broker publishes it
    /// ([`Ghost::on_will_published`]): it reaches an application only through a session the
    /// broker routed it to.
    pub fn on_application_receives(&mut self, config: &Config, message: Message, handed_over: Bits) {
        let genuine = match message {
            Message::App(n) => handed_over.contains(n) && !config.invalid_payloads.contains(n),
            Message::Retained { message: n, .. } => config.retained.contains(n) && self.accepted.contains(n),
            Message::Will(_) => true,
        };
        if !genuine {
            self.breach(Breach::NotPublished);
        }
    }

    /// The application of `subscriber` receives application message `message` at `qos`.
    pub fn on_delivered(&mut self, config: &Config, subscriber: usize, message: u8, qos: Qos) {
        let delivered = self.delivered[subscriber];
        if delivered.contains(message) {
            // A QoS 1 message the broker took twice is two publications [MQTT-4.3.2-2] (3.1.1)
            // / [MQTT-4.3.2-5] (5.0), so its QoS 0 copy may arrive twice.
            if qos != Qos::AtLeastOnce && !self.republished.contains(message) {
                self.duplicated[subscriber].insert(message);
            }
            return;
        }
        // A message published once must not arrive after a later one of the same publisher,
        // topic and QoS [MQTT-4.6.0-6] (3.1.1) / [MQTT-4.6.0-5] (5.0); verimqtt also keeps the
        // order across QoS levels and across topics (design properties: one queue per session).
        // A QoS 1 message the broker took twice may legitimately arrive late (its first copy
        // can be lost with a subscriber's session), so order is judged between single
        // publications, and only between QoS 1/2 copies (a QoS 0 copy goes out at once). Wills
        // are not judged for order: the broker publishes them, not a client.
        let reliable = |m: u8| self.copy_qos_of(config, subscriber, m) > Some(Qos::AtMostOnce);
        let in_order = |m: u8| config.will_of(m).is_none() && reliable(m) && !self.republished.contains(m);
        if in_order(message) {
            let same_publisher = |m: u8| config.publisher_of(m) == config.publisher_of(message);
            let overtaken_by: Bits =
                delivered.iter().filter(|&m| m > message && in_order(m) && same_publisher(m)).collect();
            let same_topic = |m: u8| config.topic(m) == config.topic(message);
            if overtaken_by.iter().any(|m| same_topic(m) && config.qos(m) == config.qos(message)) {
                self.breach(Breach::OutOfOrder);
            }
            self.order_across_qos_broken |= overtaken_by.iter().any(same_topic);
            self.order_across_topics_broken |= overtaken_by.iter().any(|m| !same_topic(m));
        }
        self.delivered[subscriber].insert(message);
    }

    /// The broker's session for `client` ends (clean start, close of a session that does not
    /// outlive its connection, or expiry).
    pub fn on_session_ended(&mut self, client: usize) {
        self.session_alive[client] = false;
        self.subscribed[client] = Subscribed::No;
        self.routed_under[client] = RoutedUnder::default();
        self.holds_stale_state[client] |= self.attached[client];
        self.attached[client] = false;
        self.owed[client] = Bits::EMPTY;
        self.owed_retained[client] = Bits::EMPTY;
        self.unacked_ids[client][Direction::ToClient as usize] = Bits::EMPTY;
        self.released_ids[client][Direction::ToClient as usize] = Bits::EMPTY;
        self.ack_order.on_session_ended(Direction::ToClient, client);
        // A will waiting out its delay is due when its session ends [MQTT-3.1.2-8] (5.0).
        if let WillWatch::Waiting(_) = self.will_watch[client] {
            self.will_watch[client] = WillWatch::Due;
        }
    }

    /// A broker restarted from its store holds again the flights it had committed for
    /// `client`: their PUBLISHes (`unacked`) and PUBRELs (`released`) went out before, what
    /// it did after the commit never went out (it was held back), so these are its
    /// outstanding sends (see [`crate::restart`]).
    pub fn broker_sends_restored(&mut self, client: usize, unacked: Bits, released: Vec<PacketId>) {
        let d = Direction::ToClient as usize;
        self.unacked_ids[client][d] = unacked;
        self.released_ids[client][d] = released.iter().copied().collect();
        self.ack_order.on_restored(client, released);
    }

    /// `client` discards its own session state; whatever the publisher had not handed over is
    /// abandoned.
    pub fn on_client_session_discarded(&mut self, config: &Config, client: usize, steps_done: u8) {
        if config.is_publisher(client) {
            let unsent = config.published_by(client, steps_done).minus(self.accepted);
            self.abandoned = self.abandoned.union(unsent);
        }
        self.unacked_ids[client][Direction::ToBroker as usize] = Bits::EMPTY;
        self.released_ids[client][Direction::ToBroker as usize] = Bits::EMPTY;
        self.ack_order.on_session_ended(Direction::ToBroker, client);
        self.holds_stale_state[client] = false;
    }

    /// `client` received CONNACK with Session Present=1 and keeps its session state.
    pub fn on_client_session_resumed(&mut self, client: usize) {
        if self.holds_stale_state[client] {
            self.diverged = true;
        }
        self.resuming[client][Direction::ToBroker as usize] = true;
        self.ack_order.on_resumed(Direction::ToBroker, client);
    }

    /// `client` received a CONNACK: what it holds from now on belongs to the broker's session.
    pub fn on_client_attached(&mut self, client: usize) {
        self.attached[client] = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Version;
    use crate::packet::Message;

    fn publish(id: PacketId, dup: bool) -> Packet {
        Packet::Publish { id, message: Message::App(0), qos: Qos::AtLeastOnce, dup, retain: false }
    }

    #[test]
    fn dup_must_mark_exactly_the_retransmissions() {
        let mut ghost = Ghost::new(1);
        ghost.on_publish_sent(Direction::ToBroker, 0, &publish(1, false));
        ghost.on_publish_sent(Direction::ToBroker, 0, &publish(1, true));
        assert!(!ghost.breached(Breach::DupFlag));
        ghost.on_publish_acknowledged(Direction::ToBroker, 0, 1);
        ghost.on_publish_sent(Direction::ToBroker, 0, &publish(1, true));
        assert!(ghost.breached(Breach::DupFlag), "a new PUBLISH marked DUP");
    }

    /// Message 1 delivered before message 0, their QoS as given.
    fn overtaken(qos: [Qos; 2]) -> Ghost {
        let config = Config { messages: qos.to_vec(), ..Config::new(Version::V5_0, 2, 2) };
        let mut ghost = Ghost::new(2);
        ghost.on_delivered(&config, 1, 1, qos[1]);
        ghost.on_delivered(&config, 1, 0, qos[0]);
        ghost
    }

    #[test]
    fn a_single_publication_overtaken_at_the_same_qos_is_out_of_order() {
        let ghost = overtaken([Qos::AtLeastOnce, Qos::AtLeastOnce]);
        assert!(ghost.breached(Breach::OutOfOrder) && ghost.order_across_qos_broken);
    }

    #[test]
    fn overtaken_by_the_other_qos_breaks_only_the_design_order() {
        let ghost = overtaken([Qos::AtLeastOnce, Qos::ExactlyOnce]);
        assert!(!ghost.breached(Breach::OutOfOrder) && ghost.order_across_qos_broken);
    }

    #[test]
    fn a_republished_qos1_message_may_arrive_late() {
        let config = Config::new(Version::V5_0, 2, 2);
        let mut ghost = Ghost::new(2);
        ghost.on_accepted(&config, 0);
        ghost.on_accepted(&config, 0);
        assert!(ghost.republished.contains(0));
        ghost.on_delivered(&config, 1, 1, Qos::ExactlyOnce);
        ghost.on_delivered(&config, 1, 0, Qos::AtLeastOnce);
        assert!(!ghost.breached(Breach::OutOfOrder));
    }
}
