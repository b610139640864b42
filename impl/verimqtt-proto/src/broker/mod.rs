//! A sans-IO MQTT 3.1.1 and 5.0 broker.
//!
//! [`Broker`] holds every connection and session and routes messages between them; it is
//! driven by a runtime (see `verimqtt::runtime`) or by a test with a simulated clock. It
//! keeps the contract the client keeps ([`crate::client::Client`]), `now` first in every
//! input, per connection:
//!
//! - inputs: [`Broker::handle_connected`] (or [`Broker::handle_connected_on`] a listener), [`Broker::handle_bytes`] (returns how many bytes
//!   it took: none while it holds the connection back), [`Broker::handle_written`] (the
//!   bytes last polled are on the wire), [`Broker::handle_closed`]; and
//!   [`Broker::handle_timeout`] when [`Broker::poll_timeout`] says so,
//!   [`Broker::handle_verified`] with the result of each check of credentials;
//! - outputs, which change nothing but what they hand over: [`Broker::poll_transmit`]
//!   (bytes for one connection; [`Broker::poll_transmit_ready`] names the connections that
//!   have some), [`Broker::poll_close`] (a connection to close, why, and its last bytes),
//!   [`Broker::poll_reading`] (connections to stop or start reading: backpressure),
//!   [`Broker::poll_event`] (what happened, for logs and metrics),
//!   [`Broker::poll_verification`] (checks of credentials too slow to run on the task that
//!   drives the broker, such as password hashes: the owner runs them elsewhere).
//!
//! What of it the model checks, and what it leaves out: see the [crate's documentation](crate#what-is-model-checked-and-what-is-not).
//!
//! Who may connect, publish and subscribe is a [`Policy`]; [`AllowAll`] lets everyone.
//! Every limit is a field of [`BrokerOptions`], which says what happens when it is reached.
//!
//! # What one client can hold
//!
//! Every peer is hostile until proven otherwise. Nothing on the path of a packet recurses
//! over what a peer chooses (topic levels are walked in loops, the trees keep their nodes
//! in an arena), and every resource one client can grab is bounded by an option:
//!
//! | resource | bound |
//! |---|---|
//! | bytes buffered before CONNECT | [`BrokerOptions::max_connect_size`] (64 KiB), from the fixed header |
//! | a packet after CONNECT | [`BrokerOptions::max_packet_size`] (1 MiB), from the fixed header |
//! | connections, identified or not | [`BrokerOptions::max_connections`], [`BrokerOptions::connect_timeout`] |
//! | password hashes queued by CONNECTs | [`BrokerOptions::max_pending_verifications`]; run off the broker's task |
//! | bytes sent while a CONNECT is checked | [`BrokerOptions::max_packet_size`] |
//! | subscriptions of a session | [`BrokerOptions::max_subscriptions_per_session`], each of at most [`BrokerOptions::max_topic_levels`] levels and 64 KiB |
//! | messages held for a session | [`BrokerOptions::max_queued_messages`] and [`BrokerOptions::max_queued_bytes`] |
//! | unread answers to a client | twice [`BrokerOptions::max_transmit_buffer`] (64 KiB at least), then the client is closed |
//! | QoS 2 messages from a client | [`BrokerOptions::receive_maximum`] |
//! | topic aliases of a connection | [`BrokerOptions::topic_alias_maximum`] each way, each a copy of a topic |
//! | retained messages | [`BrokerOptions::max_retained_messages`], each of at most [`BrokerOptions::max_topic_levels`] levels |
//! | persistent sessions | [`BrokerOptions::max_sessions`]; clean ones by the connections |
//! | events not yet polled | [`BrokerOptions::max_pending_events`] |
//!
//! What the broker keeps for long never shares a buffer larger than itself: each packet is
//! copied out of the receive buffer before it is decoded, and filters and alias topics are
//! copied out of their packets. A SUBSCRIBE costs at most the room of the session's queue in
//! retained messages, however many its filters match.
//!
//! The state is split the way quinn-proto splits an endpoint from its connections: a
//! `Connection` is one network connection (framing, negotiated limits, keep alive, topic
//! aliases), a `Session` is what survives it (subscriptions, messages in flight and queued,
//! unfinished QoS 2 receptions, a delayed will), and the broker routes between sessions
//! through a subscription tree and keeps the retained messages.

mod connect;
mod connection;
mod core;
mod counters;
mod error;
mod event;
mod explanation;
mod flow;
mod level_tree;
mod listener;
mod message;
mod options;
mod outbound;
mod policy;
mod publish;
mod retained;
mod router;
mod session;
mod store;
mod subscribe;
mod timers;
mod topic_tree;
mod will;

use std::collections::BTreeMap;
use std::fmt;

pub use self::core::{Broker, Closing};
pub use crate::session::ProtocolViolation;
pub use counters::{DropCounts, LATENCY_BOUNDS, LatencyHistogram, QosCounts};
pub use error::{AcceptError, CloseReason, ProtocolError};
pub use event::{DropReason, Event, RetainedDropReason};
pub use listener::{ListenerId, MountPoint, MountPointError};
pub use options::{BrokerOptions, SlowConsumerPolicy};
pub use policy::{AllowAll, Authentication, ClientInfo, PerListener, Policy, Verification};
pub use store::{
    DeliveryRecord, FlightRecord, FlightStage, MessageRecord, Recovered, RecoveredSession, SessionRecord, StoreOp,
    SubscriptionRecord, WillRecord,
};

/// A network connection, named by the owner of the broker (the runtime) when it accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What the broker holds and has done, for monitoring. The totals count from the broker's
/// creation; nothing resets them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Open network connections, including those that have not sent CONNECT yet.
    pub connections: usize,
    /// Sessions whose client is connected.
    pub clients_connected: usize,
    /// Sessions, of connected and offline clients.
    pub sessions: usize,
    /// Sessions that outlive their connection: a Session Expiry Interval above 0 (a 3.1.1
    /// CONNECT with Clean Session 0).
    pub sessions_persistent: usize,
    /// The most sessions held at once.
    pub sessions_maximum: usize,
    /// Sessions ended because their expiry interval passed while their client was offline.
    pub sessions_expired: u64,
    /// Copies of messages sessions hold for their clients: queued, or sent at QoS 1 or 2
    /// and not yet acknowledged.
    pub messages_held: usize,
    /// The bytes of those messages, as
    /// [`BrokerOptions::max_queued_bytes`](BrokerOptions::max_queued_bytes) counts them (a
    /// message held by several sessions counts once for each).
    pub bytes_held: usize,
    /// Subscriptions held, over all sessions.
    pub subscriptions: usize,
    /// Of those, shared subscriptions (`$share/{group}/...`, MQTT 5).
    pub shared_subscriptions: usize,
    /// Topics with a retained message.
    pub retained_messages: usize,
    /// Application messages the broker took ownership of (PUBLISHes and wills).
    pub messages_received: u64,
    /// PUBLISH packets written to clients, first transmissions and resends.
    pub messages_sent: u64,
    /// Copies of messages not delivered to a session: queue full, expired, or too large for
    /// the client.
    pub messages_dropped: u64,
    /// The same by reason.
    pub messages_dropped_by: DropCounts,
    /// Retained messages delivered but not stored (see [`RetainedDropReason`]).
    pub retained_dropped: u64,
    /// PUBLISHes and wills the policy refused.
    pub publishes_denied: u64,
    /// Packets of every type read from clients.
    pub packets_received: u64,
    /// Packets of every type the broker encoded for clients.
    pub packets_sent: u64,
    /// PUBLISH packets read from clients, refused ones included, by their QoS.
    pub publish_received: QosCounts,
    /// PUBLISH packets encoded for clients, first transmissions and resends, by the QoS
    /// they were sent with.
    pub publish_sent: QosCounts,
    /// The payload bytes of those PUBLISH packets read.
    pub publish_bytes_received: u64,
    /// The payload bytes of those PUBLISH packets sent.
    pub publish_bytes_sent: u64,
    /// Network connections taken in by [`Broker::handle_connected`].
    pub connections_accepted: u64,
    /// Network connections it refused (too many, shutting down).
    pub connections_not_accepted: u64,
    /// CONNECT packets read.
    pub connects_received: u64,
    /// CONNECTs answered with a refusing CONNACK (unreadable ones with an unsupported
    /// protocol level included), by the MQTT 5 reason code (a 3.1.1 client is sent the
    /// nearest return code).
    pub connects_refused: BTreeMap<crate::codec::ReasonCode, u64>,
    /// How long messages waited in the broker before their first PUBLISH to a subscriber;
    /// messages sent with the RETAIN flag (mostly retained messages sent to a new
    /// subscription, which waited since they were published) are left out.
    pub delivery_latency: LatencyHistogram,
    /// Bytes read from clients, as handed to the broker.
    pub bytes_received: u64,
    /// Bytes the broker handed out to be written to clients.
    pub bytes_sent: u64,
    /// Events dropped because [`Broker::poll_event`] was not called often enough.
    pub events_lost: u64,
}

impl Stats {
    /// Sessions kept for clients that are not connected.
    pub fn sessions_offline(&self) -> usize {
        self.sessions.saturating_sub(self.clients_connected)
    }
}
