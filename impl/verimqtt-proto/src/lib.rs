//! verimqtt-proto: MQTT 3.1.1 and MQTT 5.0 without I/O, the model-checked core of verimqtt.
//!
//! - [`codec`]: a strict, zero-copy encoder and decoder for every control packet of both
//!   versions, where every rejection names the normative statement it enforces.
//! - [`client`]: a sans-IO client state machine for both versions: keep alive, QoS 0/1/2
//!   send and receive paths, session resumption, MQTT 5 flow control, topic aliases and
//!   enhanced authentication, with every queue bounded.
//! - [`broker`]: a sans-IO MQTT 3.1.1 and 5.0 broker: bytes, connection events and time
//!   in; bytes per connection, connections to close, events and the next deadline out.
//! - [`session`]: what the client and the broker share: the session layer, and the one
//!   [`session::ProtocolViolation`] of both roles.
//! - [`testing`] (feature `testing`): drivers of both machines over a simulated network and
//!   clock, for tests, fuzz targets, simulations and benchmarks.
//! - [`trace`]: an observer the client and the broker report each observable step to, in
//!   the trace vocabulary of `verimqtt-spec`, for validation against the model.
//!
//! Both machines keep one contract, written out in ARCHITECTURE.md at the repository's root:
//! `now` first in every call, `handle_*` for what happened, `poll_*` for what the machine
//! wants done, and no call with a hidden side effect.
// Denied rather than forbidden: the codec has one measured exception, `ascii_text` in
// codec/string.rs, which allows it where it stands.
#![deny(unsafe_code)]
#![warn(unreachable_pub)]
#![warn(missing_docs)]

pub mod broker;
pub mod client;
pub mod codec;
pub mod session;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;

/// The README's examples run as doctests, so they cannot drift from the code.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
