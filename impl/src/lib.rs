//! verimqtt: a model-checked reference implementation of MQTT 3.1.1 and MQTT 5.0.
//!
//! - [`codec`]: a strict, zero-copy encoder and decoder for every control packet of both
//!   versions, where every rejection names the normative statement it enforces.
//! - [`client`]: a sans-IO client state machine for both versions: keep alive, QoS 0/1/2
//!   send and receive paths, session resumption, MQTT 5 flow control, topic aliases and
//!   enhanced authentication, with every queue bounded.
#![forbid(unsafe_code)]

pub mod client;
pub mod codec;
