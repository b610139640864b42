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
//!
//! ```
//! use bytes::BytesMut;
//! use verimqtt_proto::codec::{self, DecodeOptions, Packet, ProtocolVersion};
//!
//! // CONNECT, MQTT 3.1.1, clean session, keep alive 60 s, client identifier "a", and the
//! // first byte of the next packet.
//! let wire = b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01a\xc0";
//! let mut received = BytesMut::from(&wire[..]);
//! let options = DecodeOptions::new(ProtocolVersion::V311);
//! let Some(Packet::Connect(connect)) = codec::decode(&mut received, &options)? else { panic!("a CONNECT") };
//! assert_eq!((connect.client_id.as_ref(), connect.keep_alive), ("a", 60));
//! // The rest waits for more bytes; a malformed packet would be an error naming its rule.
//! assert_eq!(codec::decode(&mut received, &options)?, None);
//!
//! let mut sent = BytesMut::new();
//! codec::encode(&Packet::Connect(connect), ProtocolVersion::V311, &mut sent)?;
//! assert_eq!(&sent[..], &wire[..wire.len() - 1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The examples of the crate drive each part with I/O of their own: `decode_stream` (the
//! codec over a stream), `blocking_client` (the client over `std::net`), `broker_loop` (the
//! broker in a hand-written loop).
//!
//! # What is model-checked, and what is not
//!
//! The client's and the broker's QoS 0/1/2 paths, session resumption, keep alive and wills
//! are checked against `verimqtt-model`, a stateright model explored exhaustively in bounded
//! configurations (1 to 3 clients, a few messages, a connection cut or two, both versions),
//! for the properties its README lists with their statements: a QoS 0 message at most once
//! and a QoS 2 message never twice, no QoS 1/2 message lost while its session lives, packet
//! identifiers unique, DUP exactly on resends, order per publisher and QoS, no keep-alive
//! close before 1.5 times the keep alive, the will exactly when the close was abnormal,
//! Session Present exactly when the session existed, Receive Maximum respected, and every
//! QoS 1/2 message delivered once the network is quiet. Traces of this implementation under
//! injected faults are replayed against the same model (`verimqtt-traces`).
//!
//! Limits, stated where the claim is: the model has one topic and one publisher, subscribes
//! once at QoS 2, never unsubscribes, retains nothing, publishes wills at QoS 0 without a
//! delay, and has no broker restart. Topics and wildcards, overlapping and shared
//! subscriptions, QoS downgrade, retained messages, topic aliases, will delay and every
//! limit of [`broker::BrokerOptions`] are covered by example tests, property tests, the
//! conformance suite and fuzzing, not by the model.
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
