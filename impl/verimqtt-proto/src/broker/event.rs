//! What the broker tells its owner about: connections opening and closing, subscriptions
//! made and deleted, messages published, delivered or dropped, sessions expiring. Events
//! inform (logs, metrics, an application's hooks); nothing has to act on them.

use std::collections::VecDeque;

use crate::codec::{MqttString, ProtocolVersion, QoS, ReasonCode};

use super::{CloseReason, ConnId, SlowConsumerPolicy};

/// Something that happened inside the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A CONNECT was accepted.
    Connected {
        /// The connection, as the broker numbered it when it opened.
        conn: ConnId,
        /// The client identifier the session is keyed on (assigned by the broker if the CONNECT's was empty).
        client_id: MqttString,
        /// The CONNECT's User Name; `None` if it had none.
        username: Option<MqttString>,
        /// The protocol version the client speaks.
        version: ProtocolVersion,
        /// Whether an existing session was resumed, as told in CONNACK.
        session_present: bool,
    },
    /// A CONNECT was refused with this code, for this reason: by the policy (wrong
    /// credentials, anonymous clients not allowed...), by a limit (which one, by its option's
    /// name), or for a rule it broke. The client was sent CONNACK with the code, or with the
    /// nearest 3.1.1 return code. The password is not part of the event, so logging it never
    /// reveals one.
    ConnectDenied {
        /// The connection, as the broker numbered it when it opened.
        conn: ConnId,
        /// The client identifier the CONNECT gave (possibly empty).
        client_id: MqttString,
        /// The CONNECT's User Name; `None` if it had none.
        username: Option<MqttString>,
        /// The MQTT 5 code the CONNACK refused with.
        reason_code: ReasonCode,
        /// Why, in words: the policy's reason, or the name of the option whose limit was reached.
        why: &'static str,
    },
    /// A connection ended, by either side. `client_id` is `None` before CONNECT was accepted.
    Closed {
        /// The connection, as the broker numbered it when it opened.
        conn: ConnId,
        /// The client's identifier; `None` if the connection never had a CONNECT accepted.
        client_id: Option<MqttString>,
        /// Who closed the connection and why.
        reason: CloseReason,
    },
    /// Filters of a SUBSCRIBE were refused: `count` of them, the first being `filter` for
    /// the reason `why` (not authorized, or the limit by its option's name).
    SubscribeRefused {
        /// The subscribing client.
        client_id: MqttString,
        /// How many filters of the SUBSCRIBE were refused.
        count: usize,
        /// The first refused filter.
        filter: MqttString,
        /// Why, in words: not authorized, or the name of the option whose limit was reached.
        why: &'static str,
    },
    /// A filter of a SUBSCRIBE was granted: a new subscription, or one that replaced the
    /// session's subscription to the same filter ([MQTT-3.8.4-3]).
    Subscribed {
        /// The subscribing client.
        client_id: MqttString,
        /// The Topic Filter, as the client sent it (a shared subscription with its
        /// `$share/{group}/` prefix).
        filter: MqttString,
        /// The maximum QoS granted, which can be below the one asked for ([MQTT-3.2.2-10]).
        qos: QoS,
    },
    /// An UNSUBSCRIBE deleted a subscription. A filter that matched none is not reported.
    Unsubscribed {
        /// The unsubscribing client.
        client_id: MqttString,
        /// The Topic Filter of the deleted subscription.
        filter: MqttString,
    },
    /// A client's PUBLISH was accepted and routed. Reported only when
    /// [`BrokerOptions::message_events`](super::BrokerOptions) is on.
    MessagePublished {
        /// The publishing client.
        client_id: MqttString,
        /// The message's topic.
        topic: MqttString,
        /// The QoS it was published with.
        qos: QoS,
        /// Its RETAIN flag.
        retain: bool,
        /// How many sessions it was routed to: one per session with matching subscriptions
        /// and one per matching share group.
        sessions: usize,
    },
    /// A message reached a subscriber: its PUBLISH was written to the connection (QoS 0),
    /// acknowledged by PUBACK (QoS 1) or completed by PUBCOMP (QoS 2). Reported only when
    /// [`BrokerOptions::message_events`](super::BrokerOptions) is on.
    MessageDelivered {
        /// The receiving client.
        client_id: MqttString,
        /// The message's topic.
        topic: MqttString,
        /// The QoS it was delivered at (at most the one its subscription granted).
        qos: QoS,
    },
    /// A connected session stayed congested for the slow-consumer timeout and `policy` was
    /// applied to it.
    SlowConsumer {
        /// The slow subscriber.
        client_id: MqttString,
        /// What the broker did about it.
        policy: SlowConsumerPolicy,
    },
    /// A message was not delivered to one session.
    MessageDropped {
        /// The session that lost the message.
        client_id: MqttString,
        /// The message's topic.
        topic: MqttString,
        /// Why it was dropped.
        reason: DropReason,
    },
    /// A retained message was delivered but not stored.
    RetainedDropped {
        /// The message's topic.
        topic: MqttString,
        /// Why it was not stored.
        reason: RetainedDropReason,
    },
    /// The policy refused a PUBLISH or a will; the message went nowhere.
    PublishDenied {
        /// The publishing client (for a will, the client that left it).
        client_id: MqttString,
        /// The topic it was refused on.
        topic: MqttString,
    },
    /// A will message was published.
    WillPublished {
        /// The client whose will it was.
        client_id: MqttString,
        /// The Will Topic.
        topic: MqttString,
    },
    /// A session ended because its expiry interval passed while its client was offline.
    SessionExpired {
        /// The client identifier of the session.
        client_id: MqttString,
    },
    /// `count` events were dropped because nobody polled them; this takes their place.
    EventsLost {
        /// How many events were lost since the last ones delivered.
        count: u64,
    },
}

/// Why a message did not reach a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The session's queue held [`BrokerOptions::max_queued_messages`](super::BrokerOptions)
    /// messages already, or its messages [`BrokerOptions::max_queued_bytes`](super::BrokerOptions).
    QueueFull,
    /// The message, as PUBLISH, was larger than the client's Maximum Packet Size
    /// ([MQTT-3.1.2-25]).
    PacketTooLarge,
    /// Its Message Expiry Interval passed while it waited ([MQTT-3.3.2-5]).
    Expired,
}

/// Why a retained message was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetainedDropReason {
    /// The store held [`BrokerOptions::max_retained_messages`](super::BrokerOptions) topics.
    StoreFull,
    /// The topic has more levels than
    /// [`BrokerOptions::max_topic_levels`](super::BrokerOptions).
    TooManyLevels,
}

/// A bounded queue of events that counts what it had to drop.
#[derive(Debug)]
pub(crate) struct EventQueue {
    events: VecDeque<Event>,
    capacity: usize,
    lost: u64,
    total_lost: u64,
}

impl EventQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        EventQueue { events: VecDeque::new(), capacity, lost: 0, total_lost: 0 }
    }

    /// Keeps the event if there is room. After a loss, the count of lost events goes in
    /// first, so the order of what is kept stays true.
    pub(crate) fn push(&mut self, event: Event) {
        let needed = if self.lost > 0 { 2 } else { 1 };
        if self.events.len() + needed > self.capacity {
            self.lost += 1;
            self.total_lost += 1;
            return;
        }
        if self.lost > 0 {
            self.events.push_back(Event::EventsLost { count: std::mem::take(&mut self.lost) });
        }
        self.events.push_back(event);
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        match self.events.pop_front() {
            None if self.lost > 0 => Some(Event::EventsLost { count: std::mem::take(&mut self.lost) }),
            event => event,
        }
    }

    pub(crate) fn total_lost(&self) -> u64 {
        self.total_lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expired(name: &'static str) -> Event {
        Event::SessionExpired { client_id: MqttString::from_static(name).unwrap() }
    }

    #[test]
    fn events_past_capacity_are_counted_and_reported_in_their_place() {
        let mut queue = EventQueue::new(2);
        for name in ["a", "b", "c", "d"] {
            queue.push(expired(name));
        }
        assert_eq!(queue.pop(), Some(expired("a")));
        queue.push(expired("e"));
        assert_eq!(queue.pop(), Some(expired("b")));
        assert_eq!(queue.pop(), Some(Event::EventsLost { count: 3 }));
        assert_eq!(queue.pop(), None);
        queue.push(expired("f"));
        assert_eq!(queue.pop(), Some(expired("f")));
        assert_eq!(queue.total_lost(), 3);
    }
}
