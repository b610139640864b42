//! What the client and the broker share: the MQTT session layer. Each role keeps only its
//! own policy in [`client`](crate::client) and [`broker`](crate::broker).
//!
//! - [`ProtocolViolation`]: the rules a peer can break beyond a single packet, with the
//!   reason code that reports each and the rule it breaks, by [`Role`];
//! - `sender`: the QoS 1 and 2 flights sent and not completed, the window the peer's
//!   Receive Maximum bounds, and what a resumed session writes again;
//! - `receiver`: the QoS 2 messages received and not released, and the window our own
//!   Receive Maximum bounds;
//! - `framer`: the bytes a connection received and the packets they make;
//! - `packet_ids`: the packet identifier pool;
//! - `topic_alias`: the topic aliases of a connection, both ways.

pub(crate) mod framer;
pub(crate) mod packet_ids;
pub(crate) mod receiver;
pub(crate) mod sender;
pub(crate) mod topic_alias;
mod violation;

pub use violation::{ProtocolViolation, Role};
