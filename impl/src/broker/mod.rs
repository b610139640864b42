//! A sans-IO MQTT 3.1.1 and 5.0 broker.
//!
//! [`Broker`] holds every connection and session and routes messages between them; it is
//! driven by a runtime (see `verimqtt::runtime`) or by a test with a simulated clock:
//!
//! - inputs: [`Broker::handle_accept`], [`Broker::handle_bytes`], [`Broker::handle_closed`]
//!   per connection, [`Broker::handle_timeout`] when [`Broker::poll_timeout`] says so;
//! - outputs: [`Broker::poll_transmit`] (bytes for one connection; [`Broker::poll_transmit_ready`]
//!   names the connections that have some), [`Broker::poll_close`] (connections to close,
//!   with the reason), [`Broker::poll_event`] (what happened, for logs and metrics).
//!
//! Who may connect, publish and subscribe is a [`Policy`]; [`AllowAll`] lets everyone.
//! Every limit is a field of [`BrokerOptions`], which says what happens when it is reached.
//!
//! The state is split the way quinn-proto splits an endpoint from its connections: a
//! `Connection` is one network connection (framing, negotiated limits, keep alive, topic
//! aliases), a `Session` is what survives it (subscriptions, messages in flight and queued,
//! unfinished QoS 2 receptions, a delayed will), and the broker routes between sessions
//! through a subscription tree and keeps the retained messages.

mod connect;
mod connection;
mod core;
mod error;
mod event;
mod explanation;
mod level_tree;
mod message;
mod options;
mod outbound;
mod policy;
mod publish;
mod retained;
mod router;
mod session;
mod subscribe;
mod timers;
mod topic_tree;
mod will;

use std::fmt;

pub use self::core::Broker;
pub use error::{AcceptError, ClientViolation, CloseReason, ProtocolError};
pub use event::{DropReason, Event, RetainedDropReason};
pub use options::BrokerOptions;
pub use policy::{AllowAll, Authentication, ClientInfo, Policy, Verification};

/// A network connection, named by the owner of the broker (the runtime) when it accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What the broker holds and has done, for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Open network connections, including those that have not sent CONNECT yet.
    pub connections: usize,
    /// Sessions whose client is connected.
    pub clients_connected: usize,
    /// Sessions, of connected and offline clients.
    pub sessions: usize,
    /// Copies of messages sessions hold for their clients: queued, or sent at QoS 1 or 2
    /// and not yet acknowledged.
    pub messages_held: usize,
    /// The bytes of those messages, as
    /// [`BrokerOptions::max_queued_bytes`](BrokerOptions::max_queued_bytes) counts them (a
    /// message held by several sessions counts once for each).
    pub bytes_held: usize,
    pub subscriptions: usize,
    pub retained_messages: usize,
    /// Application messages the broker took ownership of (PUBLISHes and wills).
    pub messages_received: u64,
    /// PUBLISH packets written to clients, first transmissions and resends.
    pub messages_sent: u64,
    /// Copies of messages not delivered to a session: queue full, expired, or too large for
    /// the client.
    pub messages_dropped: u64,
    /// Bytes read from clients, as handed to the broker.
    pub bytes_received: u64,
    /// Bytes the broker handed out to be written to clients.
    pub bytes_sent: u64,
    pub events_lost: u64,
}
