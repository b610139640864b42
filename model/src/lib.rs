//! A stateright model of MQTT 3.1.1 and 5.0 client/broker QoS delivery, sessions and keep alive:
//! the independent oracle of verimqtt. It never depends on the implementation.
//!
//! - [`config`]: what a run looks like (version, clients, messages, timing, faults).
//! - [`routing`]: topics, filters and the QoS of each subscriber's copy of a message;
//!   [`retained`]: the broker's retained messages.
//! - [`state`], [`client`], [`broker`], [`network`], [`outbound`], [`time`]: the system and
//!   its transitions, driven through [`step`].
//! - [`ghost`]: what an observer records so properties can judge the protocol;
//!   [`ack_order`]: its monitor of the order of acknowledgements.
//! - [`observe`]: what a step looks like from outside, for checking recorded traces.
//! - [`properties`]: the catalogue of properties and the statements they cover.
//! - [`bugs`]: classic bugs that can be seeded to show each property can fail.
//! - [`store`], [`restart`]: the broker's durable store and the broker restart fault.
//! - [`will`]: wills that wait out a delay (5.0).
//! - [`hostile`]: packets a hostile client writes that its state machine did not send.
//! - [`spec_broker`]: a broker that says only what the specification says, and the check that
//!   the design broker refines it.
//! - [`inline`]: the fixed-size lists the state is made of.
//! - [`bounds`]: structural bounds whose reach is an error, never a silent prune.
//! - [`symmetry`]: symmetry reduction for interchangeable subscribers.
//! - [`suite`]: the configurations `cargo test` checks exhaustively.
//! - [`model`]: the stateright `Model`; [`runner`] runs the checker; [`render`] prints
//!   counterexamples.
#![forbid(unsafe_code)]

pub mod ack_order;
pub mod bits;
pub mod bounds;
pub mod broker;
pub mod bugs;
pub mod client;
pub mod config;
pub mod ghost;
pub mod hostile;
pub mod inline;
pub mod model;
pub mod network;
pub mod observe;
pub mod outbound;
pub mod packet;
pub mod properties;
pub mod quota;
pub mod render;
pub mod restart;
pub mod retained;
pub mod routing;
pub mod runner;
pub mod spec_broker;
pub mod state;
pub mod step;
pub mod store;
pub mod suite;
pub mod symmetry;
mod time;
pub mod will;

pub use bugs::Bug;
pub use config::{Config, Expiry, Qos, ResendOrder, SessionKind, Version};
pub use model::MqttModel;
pub use runner::{Options, Outcome, Search, check};
