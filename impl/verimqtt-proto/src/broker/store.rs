//! Persistence without I/O: what a broker with [`BrokerOptions::persistence`] on asks its
//! owner to keep, and the rule that makes it worth keeping — nothing is acknowledged before
//! what it acknowledges is durable.
//!
//! The broker numbers each change to what it keeps ([`StoreOp`], from
//! [`Broker::poll_store`]) and the owner writes them in that order, in batches as large as
//! it likes, then says how far they are durable ([`Broker::handle_durable`]). Until then,
//! every byte the broker queued for a client after such a change is held back: a PUBACK or
//! PUBREC is sent only once the message is stored for every persistent session it was
//! routed to, a SUBACK once the subscription is, a PUBREL once the flight's step is, and a
//! QoS 2 PUBLISH once its packet identifier is (or a crash between the two could deliver it
//! twice under two identifiers). Holding back everything, not only acknowledgements, keeps
//! every order the specification asks for without a case for each; what it costs is the
//! latency of one durable write, which the owner shares between all that waits (group
//! commit).
//!
//! Only persistent sessions are stored (Session Expiry Interval above 0, or a 3.1.1 session
//! with CleanSession 0), keyed by client identifier, with their subscriptions, the
//! identifiers of QoS 2 messages from the client awaiting PUBREL, and their QoS 1 and 2
//! deliveries toward the client, each with its flight once it has one; and the retained
//! messages. A message routed to many stored sessions is written once: each delivery refers
//! to it by number, and the broker counts the references, so that the message goes with
//! the last delivery that refers to it.
//! [`Broker::restore`] takes them back when the broker starts, with their wills: a will
//! waiting out its delay goes on waiting, and the will of a client connected when the broker
//! stopped is published after its delay, that connection having ended without DISCONNECT
//! ([MQTT-3.1.2-8]). Not stored: sessions of clients with Session Expiry 0 (nor their
//! wills), and QoS 0 messages (see `NOT_STORED`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec::{MqttString, PacketId, Properties, ProtocolVersion, QoS, SubscriptionId, SubscriptionOptions, Will};
use crate::session::sender::Awaiting;

use super::ConnId;
use super::core::{Broker, seconds};
use super::listener::ListenerId;
use super::message::{Delivery, Message};
use super::policy::Policy;
use super::session::{Route, SessionId, SessionSubscription, Subscriber};
use super::timers::Timer;
use super::will::StoredWill;

/// A change to what the broker keeps, for its owner to make durable in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// A persistent session's record, new or changed; it replaces the previous one.
    PutSession(SessionRecord),
    /// The session is gone (ended, expired, replaced by a clean one, or no longer
    /// persistent), with its deliveries. The messages they referred to stay until their
    /// [`StoreOp::DeleteMessage`].
    DeleteSession {
        /// The session's client identifier.
        client_id: MqttString,
    },
    /// A message that deliveries are about to refer to, written once however many
    /// sessions it goes to.
    PutMessage {
        /// The number deliveries refer to it by.
        message: u64,
        /// The message.
        record: MessageRecord,
    },
    /// No delivery refers to the message any more.
    DeleteMessage {
        /// The number of [`StoreOp::PutMessage`].
        message: u64,
    },
    /// A message entered a session's queue.
    PutDelivery {
        /// The session's client identifier.
        client_id: MqttString,
        /// The delivery's place in the session: entries are restored in this order.
        entry: u64,
        /// The delivery.
        delivery: DeliveryRecord,
    },
    /// A delivery's flight started or moved on (a PUBREC arrived).
    PutFlight {
        /// The session's client identifier.
        client_id: MqttString,
        /// The entry of [`StoreOp::PutDelivery`].
        entry: u64,
        /// Where the flight stands.
        flight: FlightRecord,
    },
    /// A delivery left the session: completed, refused, expired or given up.
    DeleteDelivery {
        /// The session's client identifier.
        client_id: MqttString,
        /// The entry of [`StoreOp::PutDelivery`].
        entry: u64,
    },
    /// The retained message of a topic, replacing the previous one.
    PutRetained(MessageRecord),
    /// The topic no longer has a retained message.
    DeleteRetained {
        /// The topic.
        topic: MqttString,
    },
}

/// What a persistent session keeps besides its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The client identifier the session is keyed on.
    pub client_id: MqttString,
    /// The protocol version of its last connection.
    pub version: ProtocolVersion,
    /// Seconds it outlives its connection; `u32::MAX` is forever.
    pub expiry_interval: u32,
    /// Its subscriptions, as granted.
    pub subscriptions: Vec<SubscriptionRecord>,
    /// QoS 2 messages from the client routed and answered with PUBREC, awaiting PUBREL.
    pub awaiting_release: Vec<PacketId>,
    /// Whether its client was connected when the record was written. The expiry of a
    /// session whose client was connected when the broker stopped counts from the stop.
    pub online: bool,
    /// The will of its connection if `online` (the broker stopping ends that connection
    /// without DISCONNECT, so the will is published after its delay, counted from the
    /// stop), else the will waiting out its delay since the disconnection.
    pub will: Option<WillRecord>,
}

/// A will as a session keeps it: the message, its Will Delay Interval among its properties,
/// and who deposited it, for the policy to be asked when it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WillRecord {
    /// The will of the CONNECT.
    pub will: Will,
    /// The User Name of that CONNECT.
    pub username: Option<MqttString>,
}

/// One subscription of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// The Topic Filter as the client sent it.
    pub filter: MqttString,
    /// The options as granted.
    pub options: SubscriptionOptions,
    /// Its Subscription Identifier, if the SUBSCRIBE had one.
    pub id: Option<SubscriptionId>,
}

/// A message as it was published, as the retained store holds it and deliveries refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// The topic.
    pub topic: MqttString,
    /// The payload.
    pub payload: Bytes,
    /// The QoS it was published at.
    pub qos: QoS,
    /// The RETAIN flag it was published with.
    pub retain: bool,
    /// The properties passed on to subscribers, with the Message Expiry Interval left when
    /// the record was made, if it has one.
    pub properties: Properties,
    /// The publisher's client identifier, for No Local.
    pub publisher: Option<MqttString>,
}

/// One session's copy of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The message, by the number of its [`StoreOp::PutMessage`].
    pub message: u64,
    /// The QoS it is delivered at.
    pub qos: QoS,
    /// The RETAIN flag it is delivered with.
    pub retain: bool,
    /// The Subscription Identifiers it matched.
    pub subscription_ids: Vec<SubscriptionId>,
}

/// Where a message's flight stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlightRecord {
    /// Its packet identifier.
    pub packet_id: PacketId,
    /// What it waits for.
    pub stage: FlightStage,
    /// The order of its last step among the session's flights: flights are resent in
    /// this order.
    pub order: u64,
}

/// What a flight waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlightStage {
    /// QoS 1 PUBLISH written, PUBACK awaited.
    PubAck,
    /// QoS 2 PUBLISH written, PUBREC awaited.
    PubRec,
    /// PUBREL written, PUBCOMP awaited.
    PubComp,
}

/// What the owner read back from its store, for [`Broker::restore`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The persistent sessions.
    pub sessions: Vec<RecoveredSession>,
    /// The messages their deliveries refer to, by number, each with how long ago it was
    /// stored.
    pub messages: Vec<(u64, MessageRecord, Duration)>,
    /// The retained messages, each with how long ago it was stored.
    pub retained: Vec<(MessageRecord, Duration)>,
}

/// A session read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredSession {
    /// Its record.
    pub record: SessionRecord,
    /// How long its client has been offline: since the record was written if it was
    /// offline then, else since the broker stopped (as near as the store knows: its last
    /// write). The session's expiry counts from then.
    pub offline_for: Duration,
    /// Its deliveries by entry, each with its flight if it had one.
    pub deliveries: Vec<(u64, DeliveryRecord, Option<FlightRecord>)>,
}

/// The entry of a delivery that is never stored: a QoS 0 message, which a crash may lose
/// as it may lose it on the network ([MQTT-4.3.1-1]: at most once). Storing it would cost
/// a write per message that no acknowledgement paces.
pub(super) const NOT_STORED: u64 = 0;

/// The broker's side of persistence: the changes not yet polled, how far they are durable,
/// and the connections whose bytes wait for them.
#[derive(Debug, Default)]
pub(super) struct StoreLog {
    ops: VecDeque<(u64, StoreOp)>,
    issued: u64,
    durable: u64,
    /// The sessions whose record is in the store, each with the message its stored
    /// deliveries refer to, by entry.
    stored: HashMap<SessionId, HashMap<u64, u64>>,
    /// How many stored deliveries refer to each stored message.
    references: HashMap<u64, usize>,
    next_entry: u64,
    next_order: u64,
    next_message: u64,
}

impl StoreLog {
    /// The latest change not yet durable: bytes queued now wait for it.
    pub(super) fn barrier(&self) -> Option<u64> {
        (self.issued > self.durable).then_some(self.issued)
    }

    fn push(&mut self, op: StoreOp) {
        self.issued += 1;
        self.ops.push_back((self.issued, op));
    }

    /// A delivery's flight started or took a step, in a stored session.
    pub(super) fn flight(
        &mut self,
        session: SessionId,
        client_id: &MqttString,
        entry: u64,
        packet_id: PacketId,
        awaiting: Awaiting,
    ) {
        if self.stored.contains_key(&session) {
            self.next_order += 1;
            let flight = FlightRecord { packet_id, stage: awaiting_stage(awaiting), order: self.next_order };
            self.push(StoreOp::PutFlight { client_id: client_id.clone(), entry, flight });
        }
    }

    /// A delivery entered a stored session's queue; its message is written first unless a
    /// stored delivery already refers to it.
    fn put_delivery(&mut self, session: SessionId, client_id: &MqttString, delivery: &Delivery, now: Option<Instant>) {
        let next_message = &mut self.next_message;
        let message = *delivery.message.stored_as.get_or_init(|| {
            *next_message += 1;
            *next_message
        });
        let references = self.references.entry(message).or_insert(0);
        *references += 1;
        if *references == 1 {
            let record = message_record(&delivery.message, now);
            self.push(StoreOp::PutMessage { message, record });
        }
        self.stored.entry(session).or_default().insert(delivery.entry, message);
        let record = DeliveryRecord {
            message,
            qos: delivery.qos,
            retain: delivery.retain,
            subscription_ids: delivery.subscription_ids.clone(),
        };
        self.push(StoreOp::PutDelivery { client_id: client_id.clone(), entry: delivery.entry, delivery: record });
    }

    /// A delivery left a stored session.
    pub(super) fn removed(&mut self, session: SessionId, client_id: &MqttString, entry: u64) {
        let Some(message) = self.stored.get_mut(&session).and_then(|entries| entries.remove(&entry)) else { return };
        self.push(StoreOp::DeleteDelivery { client_id: client_id.clone(), entry });
        self.release(message);
    }

    /// A stored session is gone, with its deliveries.
    fn delete_session(&mut self, session: SessionId, client_id: &MqttString) {
        let Some(entries) = self.stored.remove(&session) else { return };
        self.push(StoreOp::DeleteSession { client_id: client_id.clone() });
        for message in entries.into_values() {
            self.release(message);
        }
    }

    /// A stored delivery no longer refers to `message`: the message goes with the last one.
    fn release(&mut self, message: u64) {
        let Some(references) = self.references.get_mut(&message) else { return };
        *references -= 1;
        if *references == 0 {
            self.references.remove(&message);
            self.push(StoreOp::DeleteMessage { message });
        }
    }
}

impl<P: Policy> Broker<P> {
    /// The next change to make durable, numbered from 1 in the order they must be applied.
    /// Always `None` unless [`BrokerOptions::persistence`](super::BrokerOptions::persistence) is on.
    pub fn poll_store(&mut self) -> Option<(u64, StoreOp)> {
        self.outbox.store.ops.pop_front()
    }

    /// Every change up to number `up_to` is durable: what waited for them goes out.
    pub fn handle_durable(&mut self, now: Instant, up_to: u64) {
        self.now = Some(now);
        let store = &mut self.outbox.store;
        store.durable = store.durable.max(up_to.min(store.issued));
        let durable = store.durable;
        let holding: Vec<ConnId> = self.outbox.holding.iter().copied().collect();
        for conn in holding {
            let released = self.connections.get_mut(&conn).is_none_or(|c| c.release_durable(durable, &mut self.outbox));
            if released {
                self.outbox.holding.remove(&conn);
            }
        }
    }

    /// Takes back what a store kept, before any connection: the sessions (offline, their
    /// expiry counting from when they were last written), their subscriptions, QoS 2
    /// identifiers awaiting release and messages, flights to be resent with DUP when their
    /// client resumes ([MQTT-4.4.0-1]), and the retained messages. Messages whose expiry
    /// passed meanwhile are dropped, as are sessions whose expiry did, and messages that no
    /// delivery refers to any more.
    pub fn restore(&mut self, now: Instant, recovered: Recovered) {
        self.now = Some(now);
        for (record, age) in recovered.retained {
            if let Some(message) = message_of(record, age, now) {
                // Within the limits that stored it, unless they were lowered since.
                let _ = self.retained.store(Arc::new(message));
            }
        }
        let mut messages = HashMap::new();
        for (number, record, age) in recovered.messages {
            let store = &mut self.outbox.store;
            store.next_message = store.next_message.max(number);
            store.references.insert(number, 0);
            if let Some(message) = message_of(record, age, now) {
                let _ = message.stored_as.set(number);
                messages.insert(number, Arc::new(message));
            }
        }
        let mut due_wills = Vec::new();
        for session in recovered.sessions {
            due_wills.extend(self.restore_session(session, &messages, now));
        }
        // Expired, or left by sessions that ended meanwhile (or by a stop between a
        // session's deletion and its messages').
        let store = &mut self.outbox.store;
        let unreferenced: Vec<u64> = store.references.iter().filter(|(_, n)| **n == 0).map(|(m, _)| *m).collect();
        for message in unreferenced {
            store.references.remove(&message);
            store.push(StoreOp::DeleteMessage { message });
        }
        // Once every session is back, so that each subscriber gets them.
        for will in due_wills {
            self.publish_will(will, now);
        }
    }

    /// Restores one session, its deliveries referring to `messages`; returns its will if it
    /// is due now.
    fn restore_session(
        &mut self,
        recovered: RecoveredSession,
        messages: &HashMap<u64, Arc<Message>>,
        now: Instant,
    ) -> Option<StoredWill> {
        let RecoveredSession { record, offline_for, mut deliveries } = recovered;
        let will = record.will.map(|WillRecord { will, username }| StoredWill {
            will,
            client_id: record.client_id.clone(),
            username,
            // Not stored: the policy judges it as a client of the default listener.
            listener: ListenerId::DEFAULT,
            version: record.version,
        });
        let will_left = will.as_ref().map(|will| seconds(will.delay()).saturating_sub(offline_for));
        let left = match record.expiry_interval {
            u32::MAX => None,
            interval => match seconds(interval).checked_sub(offline_for) {
                Some(left) if !left.is_zero() => Some(left),
                // The session ended while the broker was stopped, and its will with it.
                _ => {
                    self.outbox.store.push(StoreOp::DeleteSession { client_id: record.client_id });
                    return will;
                }
            },
        };
        let session = self.create_session(record.client_id.clone(), record.expiry_interval);
        deliveries.sort_by_key(|(entry, ..)| *entry);
        let store = &mut self.outbox.store;
        let mut flights = Vec::new();
        let mut queued = Vec::new();
        let mut gone = Vec::new();
        let mut entries = HashMap::new();
        for (entry, stored, flight) in deliveries {
            store.next_entry = store.next_entry.max(entry + 1);
            // Expired meanwhile.
            let Some(message) = messages.get(&stored.message) else {
                gone.push(entry);
                continue;
            };
            *store.references.entry(stored.message).or_insert(0) += 1;
            entries.insert(entry, stored.message);
            let DeliveryRecord { qos, retain, subscription_ids, .. } = stored;
            let delivery = Delivery { message: Arc::clone(message), qos, retain, subscription_ids, entry };
            match flight {
                Some(flight) => {
                    store.next_order = store.next_order.max(flight.order + 1);
                    flights.push((flight.order, flight.packet_id, stage_awaiting(flight.stage), delivery));
                }
                None => queued.push(delivery),
            }
        }
        store.stored.insert(session, entries);
        flights.sort_by_key(|(order, ..)| *order);
        let Some(state) = self.sessions.get_mut(&session) else { return will };
        state.version = record.version;
        for packet_id in record.awaiting_release {
            state.awaiting_release.insert(packet_id);
        }
        for subscription in record.subscriptions {
            let route = Route::of(&subscription.filter, record.version);
            let subscriber = Subscriber { options: subscription.options, id: subscription.id };
            self.subscriptions.insert(&route, session, subscriber);
            state.subscriptions.insert(subscription.filter, SessionSubscription { route, subscriber });
        }
        let flights = flights.into_iter().map(|(_, packet_id, awaiting, delivery)| (packet_id, awaiting, delivery));
        state.outbound.restore(flights.collect(), queued);
        let client_id = record.client_id;
        for entry in gone {
            self.outbox.store.push(StoreOp::DeleteDelivery { client_id: client_id.clone(), entry });
        }
        if let Some(left) = left {
            self.timers.set(Timer::SessionExpiry(session), now + left);
        }
        let due = match (will, will_left) {
            (Some(will), Some(left)) if !left.is_zero() => {
                if let Some(state) = self.sessions.get_mut(&session) {
                    state.pending_will = Some(will);
                }
                self.timers.set(Timer::Will(session), now + left);
                None
            }
            (will, _) => will,
        };
        // Its client is offline now, whatever the record said.
        self.store_session(session);
        due
    }

    /// Whether the session's changes are stored: persistence is on and the session outlives
    /// its connection.
    fn persists(&self, session: SessionId) -> bool {
        self.options.persistence && self.sessions.get(&session).is_some_and(|state| state.is_persistent())
    }

    /// Writes the session's record, or deletes it once the session is gone or no longer
    /// persistent. A session stored for the first time brings the messages it already
    /// holds.
    pub(super) fn store_session(&mut self, session: SessionId) {
        if !self.options.persistence {
            return;
        }
        let Some(state) = self.sessions.get(&session) else { return };
        if !self.persists(session) {
            self.outbox.store.delete_session(session, &state.client_id);
            return;
        }
        let record = SessionRecord {
            client_id: state.client_id.clone(),
            version: state.version,
            expiry_interval: state.expiry_interval,
            subscriptions: state
                .subscriptions
                .iter()
                .map(|(filter, subscription)| SubscriptionRecord {
                    filter: filter.clone(),
                    options: subscription.subscriber.options,
                    id: subscription.subscriber.id,
                })
                .collect(),
            awaiting_release: state.awaiting_release.iter().collect(),
            online: state.is_online(),
            will: match state.connection {
                Some(conn) => self.connections.get(&conn).and_then(|connection| connection.will.as_ref()),
                None => state.pending_will.as_ref(),
            }
            .map(|stored| WillRecord { will: stored.will.clone(), username: stored.username.clone() }),
        };
        let first = !self.outbox.store.stored.contains_key(&session);
        self.outbox.store.stored.entry(session).or_default();
        self.outbox.store.push(StoreOp::PutSession(record));
        if first {
            self.store_everything_held(session);
        }
    }

    /// A session that became persistent: what it holds goes to the store as if it had just
    /// arrived.
    fn store_everything_held(&mut self, session: SessionId) {
        let Broker { sessions, outbox, now, .. } = self;
        let Some(state) = sessions.get(&session) else { return };
        let (flights, queued) = state.outbound.held();
        for (packet_id, awaiting, delivery) in flights {
            outbox.store.put_delivery(session, &state.client_id, delivery, *now);
            outbox.store.flight(session, &state.client_id, delivery.entry, packet_id, awaiting);
        }
        for delivery in queued.filter(|delivery| delivery.entry != NOT_STORED) {
            outbox.store.put_delivery(session, &state.client_id, delivery, *now);
        }
    }

    /// A session ended: its record and deliveries go, and the messages only they referred to.
    pub(super) fn store_session_ended(&mut self, session: SessionId, client_id: &MqttString) {
        self.outbox.store.delete_session(session, client_id);
    }

    /// Gives a QoS 1 or 2 delivery its entry in the session, and stores it if the session
    /// persists.
    pub(super) fn store_enqueued(&mut self, session: SessionId, delivery: &mut Delivery) {
        if delivery.qos == QoS::AtMostOnce {
            return;
        }
        self.outbox.store.next_entry += 1;
        delivery.entry = self.outbox.store.next_entry;
        if !self.outbox.store.stored.contains_key(&session) {
            return;
        }
        let Some(state) = self.sessions.get(&session) else { return };
        self.outbox.store.put_delivery(session, &state.client_id, delivery, self.now);
    }

    /// A delivery's flight started or took a step.
    pub(super) fn store_flight(&mut self, session: SessionId, entry: u64, packet_id: PacketId, awaiting: Awaiting) {
        let Some(state) = self.sessions.get(&session) else { return };
        self.outbox.store.flight(session, &state.client_id, entry, packet_id, awaiting);
    }

    /// A delivery left its session.
    pub(super) fn store_removed(&mut self, session: SessionId, entry: u64) {
        let Some(state) = self.sessions.get(&session) else { return };
        self.outbox.store.removed(session, &state.client_id, entry);
    }

    /// The retained message of a topic changed. The broker's own messages (`$SYS`) are not
    /// kept: it publishes them afresh when it starts.
    pub(super) fn store_retained(&mut self, message: &Message, stored: bool) {
        if !self.options.persistence || message.publisher.is_none() {
            return;
        }
        let op = if stored {
            StoreOp::PutRetained(MessageRecord { retain: true, ..message_record(message, self.now) })
        } else {
            StoreOp::DeleteRetained { topic: message.topic.clone() }
        };
        self.outbox.store.push(op);
    }
}

fn awaiting_stage(awaiting: Awaiting) -> FlightStage {
    match awaiting {
        Awaiting::PubAck => FlightStage::PubAck,
        Awaiting::PubRec => FlightStage::PubRec,
        Awaiting::PubComp => FlightStage::PubComp,
    }
}

fn stage_awaiting(stage: FlightStage) -> Awaiting {
    match stage {
        FlightStage::PubAck => Awaiting::PubAck,
        FlightStage::PubRec => Awaiting::PubRec,
        FlightStage::PubComp => Awaiting::PubComp,
    }
}

/// A message as a record, its expiry as it stands at `now`. The topic and payload are shared
/// with the message, not copied: the record lives only until the owner has written it, one
/// commit.
fn message_record(message: &Message, now: Option<Instant>) -> MessageRecord {
    let mut properties = message.properties.clone();
    properties.message_expiry_interval = now.and_then(|now| message.expiry.remaining(now).ok().flatten());
    MessageRecord {
        topic: message.topic.clone(),
        payload: message.payload.clone(),
        qos: message.qos,
        retain: message.retain,
        properties,
        publisher: message.publisher.clone(),
    }
}

/// The message of a record stored `age` ago, its expiry counted down by that; `None` if it
/// expired meanwhile.
fn message_of(record: MessageRecord, age: Duration, now: Instant) -> Option<Message> {
    let MessageRecord { topic, payload, qos, retain, mut properties, publisher } = record;
    if let Some(interval) = properties.message_expiry_interval {
        let left = u64::from(interval).checked_sub(age.as_secs()).filter(|left| *left > 0)?;
        properties.message_expiry_interval = u32::try_from(left).ok();
    }
    Some(Message::new(topic, payload, qos, retain, properties, publisher, now))
}
