//! What the client and the broker share: the MQTT session layer. Each role keeps only its
//! own policy in `client/` and `broker/`.
//!
//! - [`sender`]: the QoS 1 and 2 flights sent and not completed, the window the peer's
//!   Receive Maximum bounds, and what a resumed session writes again;
//! - [`packet_ids`]: the packet identifier pool.

pub(crate) mod packet_ids;
pub(crate) mod sender;
