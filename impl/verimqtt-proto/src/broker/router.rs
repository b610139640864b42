//! Moving messages between sessions: from a publisher to the retained store and to every
//! matching subscription, into each session's queue, and from the queue to the client.
//!
//! Overlapping subscriptions: when several subscriptions of one session match a topic, the
//! session gets one copy, at the highest QoS they grant ([MQTT-3.3.5-1] in 3.1.1,
//! [MQTT-3.3.4-2] in 5.0), carrying the Subscription Identifiers of all of them
//! ([MQTT-3.3.4-3], [MQTT-3.3.4-4]), with the RETAIN flag kept if any of them has Retain As
//! Published. A subscription with No Local does not count for the publisher's own session. A
//! shared subscription is separate: each matching share group delivers its own copy to one
//! of its members.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;
use std::time::Instant;

use crate::codec::{MqttString, Packet, Publish, PublishAck, QoS, topic_levels};

use super::ConnId;
use super::connection::{Connection, SendError};
use super::core::Broker;
use super::counters::count_qos;
use super::event::{DropReason, Event, RetainedDropReason};
use super::listener::visible;
use super::message::{Delivery, Message};
use super::outbound::{QueueLimits, Transmit, Window};
use super::policy::Policy;
use super::session::{SessionId, Subscriber};
use super::store::NOT_STORED;
use super::topic_tree::Matched;
use crate::session::sender::Awaiting;

/// What became of a message the broker took.
#[derive(Debug, Clone, Copy)]
pub(super) struct Routed {
    /// The sessions it went to.
    pub sessions: usize,
    /// Why a retained message was not stored, if it was not.
    pub retained_refused: Option<RetainedDropReason>,
}

impl<P: Policy> Broker<P> {
    /// Takes ownership of a message: updates the retained store if it is retained, and
    /// delivers it to every matching subscription ([MQTT-4.5.0-1]).
    /// `source` is the connection the message was read from, if any: a congested
    /// subscriber holds it back (see `flow`).
    pub(super) fn publish_message(&mut self, message: Message, source: Option<ConnId>) -> Routed {
        let message = Arc::new(message);
        let retained_refused = if message.retain { self.retain(&message) } else { None };
        let deliveries = self.match_subscriptions(&message);
        let sessions = deliveries.len();
        for (session, delivery) in deliveries {
            if self.enqueue(session, delivery) == Enqueued::Queued {
                if let Some(now) = self.now {
                    self.hold_back(session, source, now);
                }
            }
        }
        Routed { sessions, retained_refused }
    }

    /// A retained PUBLISH replaces the topic's retained message ([MQTT-3.3.1-5]); with an
    /// empty payload it deletes it and is not stored ([MQTT-3.3.1-10], [MQTT-3.3.1-11] in
    /// 3.1.1; [MQTT-3.3.1-6], [MQTT-3.3.1-7] in 5.0).
    /// A topic deeper than the broker keeps is not stored: the store holds a node per level.
    /// Returns why the message was not stored, if it was not.
    fn retain(&mut self, message: &Arc<Message>) -> Option<RetainedDropReason> {
        let topic = &message.topic;
        let refused = if message.payload.is_empty() {
            self.retained.remove(topic);
            self.store_retained(message, false);
            None
        } else if topic_levels(topic) > self.options.max_topic_levels {
            Some(RetainedDropReason::TooManyLevels)
        } else {
            let refused = self.retained.store(Arc::clone(message)).err().map(|_| RetainedDropReason::StoreFull);
            if refused.is_none() {
                self.store_retained(message, true);
            }
            refused
        };
        if let Some(reason) = refused {
            self.stats.retained_dropped += 1;
            self.events.push(Event::RetainedDropped { topic: topic.clone(), reason });
        }
        refused
    }

    /// One delivery per session whose plain subscriptions match, plus one per matching share
    /// group, to sessions whose client the policy lets receive the message.
    fn match_subscriptions(&mut self, message: &Arc<Message>) -> Vec<(SessionId, Delivery)> {
        let Broker { subscriptions, sessions, policy, .. } = self;
        // In the order the sessions were created, whatever the order of the subscription
        // tree's maps: the same inputs send the same packets in the same order. `None` for a
        // session that may not receive the message, so it is asked once.
        let mut plain: BTreeMap<SessionId, Option<Delivery>> = BTreeMap::new();
        let mut shared: Vec<(SessionId, Delivery)> = Vec::new();
        let is_publisher = |session: SessionId| {
            let client_id = sessions.get(&session).map(|state| &state.client_id);
            message.publisher.is_some() && client_id == message.publisher.as_ref()
        };
        // A session sees only the topics under its mount point: `a/#` matches `a` too, which
        // is not under `a/`.
        let mut may_receive = |session: SessionId| {
            sessions.get(&session).is_some_and(|state| {
                visible(state.mount_point.as_ref(), &message.topic)
                    && policy.may_receive(state.client(), &message.topic)
            })
        };
        subscriptions.for_each_match(&message.topic, |matched| match matched {
            Matched::Subscriber(session, subscriber) => {
                // [MQTT-3.8.3-3]
                if subscriber.options.no_local && is_publisher(session) {
                    return;
                }
                match plain.entry(session) {
                    Entry::Vacant(entry) => {
                        entry.insert(may_receive(session).then(|| delivery(message, subscriber)));
                    }
                    Entry::Occupied(mut entry) => {
                        if let Some(delivery) = entry.get_mut() {
                            merge(delivery, message, subscriber);
                        }
                    }
                }
            }
            Matched::Group(group) => {
                let online = |session: SessionId| sessions.get(&session).is_some_and(|state| state.is_online());
                if let Some((session, subscriber)) = group.pick(&mut may_receive, online) {
                    shared.push((session, delivery(message, subscriber)));
                }
            }
        });
        let plain = plain.into_iter().filter_map(|(session, delivery)| Some((session, delivery?)));
        plain.chain(shared).collect()
    }

    /// Puts a delivery in a session's queue and, if its client is connected, moves what can
    /// go on to the connection. A QoS 0 message for an offline client is not kept unless
    /// the options say so.
    pub(super) fn enqueue(&mut self, session: SessionId, mut delivery: Delivery) -> Enqueued {
        let Some(state) = self.sessions.get(&session) else { return Enqueued::NotKept };
        let online = state.is_online();
        if !online && delivery.qos == QoS::AtMostOnce && !self.options.queue_qos0_offline {
            return Enqueued::NotKept;
        }
        self.store_enqueued(session, &mut delivery);
        let limits = QueueLimits { messages: self.options.max_queued_messages, bytes: self.options.max_queued_bytes };
        let Some(state) = self.sessions.get_mut(&session) else { return Enqueued::NotKept };
        if let Err(delivery) = state.outbound.enqueue(delivery, limits) {
            let client_id = state.client_id.clone();
            self.store_removed(session, delivery.entry);
            self.drop_message(client_id, &delivery, DropReason::QueueFull);
            return Enqueued::QueueFull;
        }
        if online {
            self.pump(session);
        }
        Enqueued::Queued
    }

    /// Moves messages from a connected session's queue to its connection while the window
    /// of the client and the transmit buffer limit allow.
    pub(super) fn pump(&mut self, session: SessionId) {
        let Broker { sessions, connections, outbox, options, stats, events, now, tracer, .. } = self;
        let Some(now) = *now else { return };
        let Some(state) = sessions.get_mut(&session) else { return };
        let Some(connection) = state.connection.and_then(|conn| connections.get_mut(&conn)) else { return };
        if connection.session() != Some(session) {
            return;
        }
        let window = Window {
            max_inflight: usize::from(options.max_inflight.get()),
            receive_maximum: usize::from(connection.limits.receive_maximum),
        };
        // An empty buffer always takes one message, so even a limit of 0 lets messages flow.
        while connection.transmit_len() == 0 || connection.transmit_len() < options.max_transmit_buffer {
            let Some(transmit) = state.outbound.next_transmit(window, now) else { break };
            let (packet_id, dup, delivery) = match transmit {
                Transmit::Publish { packet_id, dup, delivery } => (packet_id, dup, delivery),
                Transmit::Release(packet_id) => {
                    // As every answer, a PUBREL fits any sane Maximum Packet Size.
                    let _ = connection.send(Packet::PubRel(PublishAck::new(packet_id)), outbox, tracer, now);
                    continue;
                }
                Transmit::Expired(delivery) => {
                    outbox.store.removed(session, &state.client_id, delivery.entry);
                    stats.dropped.add(DropReason::Expired);
                    events.push(dropped(state.client_id.clone(), &delivery, DropReason::Expired));
                    continue;
                }
            };
            // Stored before the PUBLISH is written, so the PUBLISH waits for it: a QoS 2
            // message must not come back after a crash under a new identifier.
            match packet_id {
                Some(packet_id) if !dup => {
                    let awaiting = if delivery.qos == QoS::ExactlyOnce { Awaiting::PubRec } else { Awaiting::PubAck };
                    outbox.store.flight(session, &state.client_id, delivery.entry, packet_id, awaiting);
                }
                Some(_) => {}
                None => outbox.store.removed(session, &state.client_id, delivery.entry),
            }
            let publish = outgoing_publish(&delivery, packet_id, dup, connection, now);
            match connection.send_publish(publish, outbox, tracer, now) {
                Ok(()) => {
                    stats.messages_sent += 1;
                    count_qos(&mut stats.publish_sent, delivery.qos);
                    stats.publish_bytes_sent += delivery.message.payload.len() as u64;
                    if !dup && !delivery.retain {
                        stats.latency.record(now.saturating_duration_since(delivery.message.received));
                    }
                    // A QoS 0 message is delivered once written; the others when acknowledged.
                    if options.message_events && packet_id.is_none() {
                        events.push(delivered(state.client_id.clone(), &delivery));
                    }
                }
                Err(error) => {
                    // [MQTT-3.1.2-25]: dropped, and the broker goes on as if it was sent.
                    debug_assert!(matches!(error, SendError::TooLarge { .. }), "unencodable PUBLISH: {error:?}");
                    if let Some(packet_id) = packet_id {
                        state.outbound.abandon(packet_id);
                        outbox.store.removed(session, &state.client_id, delivery.entry);
                    }
                    stats.dropped.add(DropReason::PacketTooLarge);
                    events.push(dropped(state.client_id.clone(), &delivery, DropReason::PacketTooLarge));
                }
            }
        }
        self.release_if_drained(session);
    }

    fn drop_message(&mut self, client_id: crate::codec::MqttString, delivery: &Delivery, reason: DropReason) {
        self.stats.dropped.add(reason);
        self.events.push(dropped(client_id, delivery, reason));
    }

    /// A QoS 1 or 2 flight to a session's client ended with its acknowledgement.
    pub(super) fn report_delivered(&mut self, session: SessionId, delivery: &Delivery) {
        if !self.options.message_events {
            return;
        }
        if let Some(state) = self.sessions.get(&session) {
            self.events.push(delivered(state.client_id.clone(), delivery));
        }
    }
}

/// What became of a delivery handed to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Enqueued {
    Queued,
    /// The session's queue is full: the delivery was dropped (and reported).
    QueueFull,
    /// Not for this session: a QoS 0 message while its client is offline, or the session
    /// is gone.
    NotKept,
}

fn dropped(client_id: crate::codec::MqttString, delivery: &Delivery, reason: DropReason) -> Event {
    Event::MessageDropped { client_id, topic: delivery.message.topic.clone(), reason }
}

/// The topic is copied: the event may outlive the message and the buffer it was read into.
fn delivered(client_id: crate::codec::MqttString, delivery: &Delivery) -> Event {
    Event::MessageDelivered { client_id, topic: delivery.message.topic.detached(), qos: delivery.qos }
}

/// A session's copy for one subscription: at most the QoS it granted ([MQTT-3.8.4-6] in
/// 3.1.1, [MQTT-3.8.4-8] in 5.0), RETAIN as published only if it asks so ([MQTT-3.3.1-9] in
/// 3.1.1; [MQTT-3.3.1-12], [MQTT-3.3.1-13] in 5.0).
fn delivery(message: &Arc<Message>, subscriber: Subscriber) -> Delivery {
    Delivery {
        message: Arc::clone(message),
        qos: message.qos.min(subscriber.options.qos),
        retain: message.retain && subscriber.options.retain_as_published,
        subscription_ids: subscriber.id.into_iter().collect(),
        entry: NOT_STORED,
    }
}

/// Folds another matching subscription of the same session into its single copy.
fn merge(delivery: &mut Delivery, message: &Message, subscriber: Subscriber) {
    delivery.qos = delivery.qos.max(message.qos.min(subscriber.options.qos));
    delivery.retain |= message.retain && subscriber.options.retain_as_published;
    delivery.subscription_ids.extend(subscriber.id);
}

/// A stored topic as the client of `connection` sees it: without its listener's mount
/// point. Every message a session holds is under the mount point of its connection: new ones
/// are matched only if they are (`match_subscriptions`, `send_retained`), and a session that
/// holds others is not resumed on that listener (`fits_under`); so the topic is never sent
/// whole to a client under a mount point but for a broken rule, which a debug build stops at.
fn client_topic(connection: &Connection, topic: &MqttString) -> MqttString {
    let unmounted = match &connection.mount_point {
        Some(mount_point) => mount_point.unmount(topic),
        None => return topic.clone(),
    };
    debug_assert!(unmounted.is_some(), "{topic} is held for a client under {:?}", connection.mount_point);
    unmounted.unwrap_or_else(|| topic.clone())
}

/// The PUBLISH that carries a delivery to a client. DUP says only whether this packet is a
/// retransmission, never what the publisher sent ([MQTT-3.3.1-3]). An MQTT 5 client gets
/// the message's properties, its remaining expiry ([MQTT-3.3.2-6]) and the subscription
/// identifiers; a 3.1.1 client, which cannot carry them, gets none.
fn outgoing_publish(
    delivery: &Delivery,
    packet_id: Option<crate::codec::PacketId>,
    dup: bool,
    connection: &Connection,
    now: Instant,
) -> Publish {
    let message = &delivery.message;
    let mut publish =
        Publish::new(client_topic(connection, &message.topic), delivery.qos, packet_id, message.payload.clone());
    publish.dup = dup;
    publish.retain = delivery.retain;
    if connection.version.is_v5() {
        publish.properties = message.properties.clone();
        // A PUBLISH already sent is not expired again [MQTT-4.3.3-7]; it says 0 seconds left.
        let remaining = message.expiry.remaining(now).unwrap_or(Some(0));
        if remaining.is_some() {
            publish.properties.message_expiry_interval = remaining;
        }
        if !delivery.subscription_ids.is_empty() {
            publish.properties.subscription_identifiers = delivery.subscription_ids.clone();
        }
    }
    publish
}
