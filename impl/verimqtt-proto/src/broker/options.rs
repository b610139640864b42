//! What a broker allows and how much it holds: every limit, with what happens when it is
//! reached.

use std::num::NonZeroU16;
use std::time::Duration;

use crate::codec::{MAX_PACKET_SIZE, QoS};

/// The broker's configuration. `BrokerOptions::default()` is a broker that supports everything
/// both protocol versions offer, with limits sized for a small deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerOptions {
    /// Open network connections, counting those that have not sent CONNECT yet. When reached,
    /// [`Broker::handle_connected`](super::Broker::handle_connected) refuses the connection with
    /// [`AcceptError::TooManyConnections`](super::AcceptError::TooManyConnections) and the
    /// runtime closes the socket without a word, as mosquitto's `max_connections` does (no
    /// CONNACK can be written before the client has said which protocol version it speaks).
    pub max_connections: usize,
    /// How long a new connection may take to send its CONNECT. Past it the connection is
    /// closed without a CONNACK. One too long for the clock to reach is no limit.
    pub connect_timeout: Duration,
    /// The largest packet the broker accepts, fixed header included. A larger one closes the
    /// connection (MQTT 5: DISCONNECT 0x95 Packet too large first). Announced to MQTT 5
    /// clients as Maximum Packet Size when below the protocol's own limit.
    pub max_packet_size: u32,
    /// The largest first packet (the CONNECT) the broker reads, fixed header included: what
    /// a connection can make the broker buffer before anyone knows who it is. A first
    /// packet announcing more is refused from its fixed header, before its body is read, and
    /// the connection is closed without a word (the broker cannot know yet which version
    /// the client speaks). The memory all unidentified connections can hold is at most
    /// this times [`max_connections`](Self::max_connections). Past CONNECT,
    /// [`max_packet_size`](Self::max_packet_size) applies.
    pub max_connect_size: u32,
    /// Levels a topic filter of SUBSCRIBE may have, and a retained message's topic: the
    /// subscription tree and the retained store hold a node per level (a few hundred bytes
    /// each), so this bounds the memory one filter or one retained topic can take: with the
    /// defaults, a session's subscriptions hold at most some 1,000 × 128 nodes. A deeper filter is refused in
    /// SUBACK (MQTT 5: 0x97 Quota exceeded; 3.1.1: 0x80); a retained PUBLISH on a deeper
    /// topic is delivered but not retained (reported as
    /// [`Event::RetainedDropped`](super::Event::RetainedDropped)). Messages on topics of
    /// any depth are routed: no part of the broker recurses over the levels of a topic, so
    /// this is a bound on memory, not a guard against a crash.
    pub max_topic_levels: usize,
    /// The broker's Receive Maximum: how many QoS 2 PUBLISHes a client may have unfinished
    /// (PUBREC sent, PUBREL not yet received) at once. QoS 1 PUBLISHes are acknowledged at
    /// once and never count. A client that goes over is disconnected (MQTT 5: 0x93 Receive
    /// Maximum exceeded; 3.1.1 clients are told nothing beforehand and are simply closed).
    pub receive_maximum: NonZeroU16,
    /// The most QoS 1 and 2 messages the broker has sent a client and not yet seen completed.
    /// An MQTT 5 client's own Receive Maximum lowers it further for that client. Messages past
    /// the window wait in the session's queue.
    pub max_inflight: NonZeroU16,
    /// Messages waiting in one session's queue (behind the in-flight window, or for a client
    /// that is offline). When full, a new message for that session is dropped, counted in
    /// [`Stats::messages_dropped`](super::Stats) and reported as
    /// [`Event::MessageDropped`](super::Event::MessageDropped); the publisher is not told.
    /// Every message passes through the queue on its way out, so an empty queue always
    /// takes one.
    pub max_queued_messages: usize,
    /// Bytes of messages one session holds, queued or in flight (as mosquitto's
    /// `max_queued_bytes`, which counts only the queue). A message counts its topic,
    /// payload and properties, with its User Properties at their decoded size, which is up
    /// to 13 times their size on the wire. Past it, new messages for the session are
    /// dropped as when [`max_queued_messages`](Self::max_queued_messages) is reached. An
    /// empty queue always takes one message, so a session holds at most this plus one
    /// message of [`max_packet_size`](Self::max_packet_size).
    pub max_queued_bytes: usize,
    /// Whether QoS 0 messages are queued for a persistent session while its client is
    /// offline. Off by default, as in mosquitto: 3.1.1 makes it optional [MQTT-3.1.2-5].
    pub queue_qos0_offline: bool,
    /// How long a connected session may stay congested (its queue past half its limits)
    /// holding back the publishers that feed it, before it is treated as a slow consumer
    /// by [`slow_consumer_policy`](Self::slow_consumer_policy). See the `flow` module:
    /// while a session is congested, the broker stops reading PUBLISHes from the
    /// connections whose messages it queued, so a subscriber that keeps up loses nothing.
    pub slow_consumer_timeout: Duration,
    /// What becomes of a slow consumer.
    pub slow_consumer_policy: SlowConsumerPolicy,
    /// Bytes waiting in a connection's transmit buffer (encoded but not yet taken by
    /// `poll_transmit`) above which the broker stops moving messages from the session queue
    /// into it (an empty buffer always takes one message). Responses (acknowledgements,
    /// PINGRESP, SUBACK) are always written; a client that lets the buffer grow past twice
    /// this limit (and past 64 KiB whatever the limit) by not reading is disconnected.
    pub max_transmit_buffer: usize,
    /// Distinct topics holding a retained message. When full, a retained PUBLISH on a new
    /// topic is delivered as usual but not stored (reported as
    /// [`Event::RetainedDropped`](super::Event::RetainedDropped), and to an MQTT 5 publisher
    /// at QoS 1 or 2 as a Reason String on its PUBACK or PUBREC); replacing or deleting the
    /// message of a topic already stored always works. The broker's own messages
    /// ([`Broker::publish_own`](super::Broker::publish_own), the `$SYS` topics) are not
    /// counted: a store full of clients' messages does not stop the broker telling about
    /// itself.
    pub max_retained_messages: usize,
    /// Subscriptions one session may hold. A SUBSCRIBE past it gets the failure code for that
    /// filter (MQTT 5: 0x97 Quota exceeded; 3.1.1: 0x80).
    pub max_subscriptions_per_session: usize,
    /// CONNECTs whose credentials are being checked off the broker's task at once (see
    /// [`Authentication::Deferred`](super::Authentication::Deferred)): a flood of CONNECTs
    /// against a password file queues at most this many hash computations. Past it, a
    /// CONNECT that needs one is refused (MQTT 5: CONNACK 0x89 Server busy; 3.1.1: 0x03
    /// Server unavailable), as is one whose check does not finish within
    /// [`connect_timeout`](Self::connect_timeout).
    pub max_pending_verifications: usize,
    /// Persistent sessions held at once (those that outlive their connection: 3.1.1 Clean
    /// Session 0, 5.0 Session Expiry Interval above 0), of connected and offline clients
    /// alike. When reached, a CONNECT that would create one is refused (MQTT 5: CONNACK 0x97
    /// Quota exceeded; 3.1.1: 0x03 Server unavailable); resuming or taking over a session
    /// always works, and a session that ends with its connection is never refused (the
    /// listeners' `max_connections` bound those). With
    /// [`max_session_expiry_interval`](Self::max_session_expiry_interval), abandoned ones end.
    pub max_sessions: usize,
    /// The longest a session outlives its connection, in seconds. An MQTT 5 client asking for
    /// more is told this value in CONNACK; a 3.1.1 persistent session (which asks for
    /// "forever") ends this long after its client leaves. `u32::MAX` means never.
    pub max_session_expiry_interval: u32,
    /// The highest keep alive the broker lets a client have. An MQTT 5 client asking for 0 or
    /// for more is told this value as Server Keep Alive in CONNACK, and it is enforced. A
    /// 3.1.1 client cannot be told, so its own value stands.
    pub max_keep_alive: Option<NonZeroU16>,
    /// The Topic Alias Maximum announced to MQTT 5 clients: the aliases a client may set on
    /// PUBLISHes to the broker. 0 turns inbound aliases off. Each alias keeps a copy of its
    /// topic for the life of the connection, so a connection can hold this many topics
    /// (each up to 64 KiB) in each direction.
    pub topic_alias_maximum: u16,
    /// Whether the broker gives topic aliases to the messages it sends an MQTT 5 client that
    /// accepts them. Each new topic takes the next free alias, up to the client's Topic Alias
    /// Maximum or the broker's [`topic_alias_maximum`](Self::topic_alias_maximum), whichever
    /// is lower; topics after that are sent in full.
    pub outbound_topic_aliases: bool,
    /// The highest QoS the broker supports. Below 2, MQTT 5 clients are told Maximum QoS in
    /// CONNACK; subscriptions are granted at most this, a PUBLISH above it disconnects
    /// (0x9B QoS not supported) and a will above it is refused at CONNECT.
    pub maximum_qos: QoS,
    /// Whether the broker keeps retained messages. When off, MQTT 5 clients are told Retain
    /// Available 0, a retained PUBLISH disconnects (0x9A Retain not supported) and a retained
    /// will is refused at CONNECT.
    pub retain_available: bool,
    /// Events kept for [`Broker::poll_event`](super::Broker::poll_event). When full, newer
    /// events are dropped and counted; the next event polled is
    /// [`Event::EventsLost`](super::Event::EventsLost).
    pub max_pending_events: usize,
    /// Whether every message is reported as it is published
    /// ([`Event::MessagePublished`](super::Event::MessagePublished)) and as it reaches each
    /// subscriber ([`Event::MessageDelivered`](super::Event::MessageDelivered)). Off by
    /// default: that is an event or more per message, which a busy broker pays for whether
    /// anyone listens or not.
    pub message_events: bool,
    /// Whether the broker asks its owner to store its persistent sessions and retained
    /// messages ([`Broker::poll_store`](super::Broker::poll_store)) and acknowledges nothing
    /// before what it acknowledges is durable
    /// ([`Broker::handle_durable`](super::Broker::handle_durable)). Off by default: an owner
    /// that turns it on must store and report, or the broker's answers wait forever.
    pub persistence: bool,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            max_connections: 10_000,
            connect_timeout: Duration::from_secs(10),
            max_packet_size: 1024 * 1024,
            max_connect_size: 64 * 1024,
            // As EMQX's `max_topic_levels`.
            max_topic_levels: 128,
            receive_maximum: non_zero(64),
            max_inflight: non_zero(64),
            max_queued_messages: 1000,
            max_queued_bytes: 64 * 1024 * 1024,
            queue_qos0_offline: false,
            slow_consumer_timeout: Duration::from_secs(5),
            slow_consumer_policy: SlowConsumerPolicy::Drop,
            max_transmit_buffer: 256 * 1024,
            max_retained_messages: 10_000,
            max_subscriptions_per_session: 1000,
            max_pending_verifications: 128,
            max_sessions: 20_000,
            max_session_expiry_interval: u32::MAX,
            max_keep_alive: None,
            topic_alias_maximum: 64,
            outbound_topic_aliases: false,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            max_pending_events: 4096,
            message_events: false,
            persistence: false,
        }
    }
}

/// What the broker does with a connected session that stays congested for
/// [`BrokerOptions::slow_consumer_timeout`]. Either way the episode is reported once
/// ([`Event::SlowConsumer`](super::Event::SlowConsumer)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlowConsumerPolicy {
    /// The session stops holding publishers back until it drains; messages past its
    /// queue's limits are dropped meanwhile (counted in
    /// [`Stats::messages_dropped`](super::Stats), reported as
    /// [`DropReason::QueueFull`](super::DropReason::QueueFull)), as mosquitto does.
    Drop,
    /// The session's connection is closed (MQTT 5: DISCONNECT 0x97 Quota exceeded); a
    /// persistent session keeps its queue, offline, within its limits.
    Disconnect,
}

impl BrokerOptions {
    /// The queue length and bytes at which a connected session is congested.
    pub(crate) fn high_water(&self) -> (usize, usize) {
        ((self.max_queued_messages / 2).max(1), self.max_queued_bytes / 2)
    }

    /// The queue length and bytes at or below which its congestion is over.
    pub(crate) fn low_water(&self) -> (usize, usize) {
        (self.max_queued_messages / 4, self.max_queued_bytes / 4)
    }

    /// Bytes of unread answers past which a client is taken not to read at all.
    pub(crate) fn not_reading_threshold(&self) -> usize {
        const FLOOR: usize = 64 * 1024;
        self.max_transmit_buffer.saturating_mul(2).max(FLOOR)
    }

    /// The Maximum Packet Size worth announcing: none when it is the protocol's own limit.
    pub(crate) fn announced_max_packet_size(&self) -> Option<u32> {
        (self.max_packet_size < MAX_PACKET_SIZE).then_some(self.max_packet_size)
    }
}

const fn non_zero(value: u16) -> NonZeroU16 {
    match NonZeroU16::new(value) {
        Some(value) => value,
        None => panic!("a default limit is zero"),
    }
}
