//! verimqtt: a model-checked reference implementation of MQTT 3.1.1 and MQTT 5.0, on tokio.
//!
//! The sans-IO core is the crate `verimqtt-proto`, re-exported here so that one dependency
//! gives all of it:
//!
//! - [`codec`]: a strict, zero-copy encoder and decoder for every control packet of both
//!   versions, where every rejection names the normative statement it enforces.
//! - [`client`]: the sans-IO client state machine of both versions.
//! - [`broker`]: the sans-IO MQTT 3.1.1 and 5.0 broker.
//! - [`session`]: the session layer the client and the broker share.
//! - [`trace`]: the observer both machines report each observable step to.
//! - [`testing`] (feature `testing`): drivers of both machines on simulated time.
//!
//! This crate adds the I/O:
//!
//! - [`auth`]: password files and topic ACLs in mosquitto's formats, as a broker
//!   [`Policy`](broker::Policy).
//! - [`runtime`]: the broker served over TCP, TLS and WebSocket with `$SYS`, its
//!   configuration file, [`runtime::EmbeddedBroker`] to run one in-process on an ephemeral
//!   loopback port, and the async and blocking clients.
//!
//! ```
//! use verimqtt::client::ClientOptions;
//! use verimqtt::codec::{MqttString, ProtocolVersion, QoS};
//! use verimqtt::runtime::EmbeddedBroker;
//! use verimqtt::runtime::client::{AsyncClientOptions, BlockingClient};
//!
//! // A broker in this process on a free loopback port, and a client of it.
//! let broker = EmbeddedBroker::start()?;
//! let options = ClientOptions::new(ProtocolVersion::V5, MqttString::try_from("greeter")?);
//! let client = BlockingClient::connect(&broker.url(), AsyncClientOptions::new(options))?;
//! let mut greetings = client.subscribe("greetings/#", QoS::AtLeastOnce)?;
//! // Returns once the broker has completed the QoS 2 exchange.
//! client.publish("greetings/world", "hello", QoS::ExactlyOnce, false)?;
//! let message = greetings.recv().expect("the client is connected");
//! assert_eq!((message.topic.as_ref(), &message.payload[..]), ("greetings/world", &b"hello"[..]));
//! client.disconnect();
//! broker.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What the model checks of the core, and its limits, are stated in `verimqtt-proto`'s
//! documentation ([`verimqtt_proto`'s crate page](verimqtt_proto#what-is-model-checked-and-what-is-not)).
#![deny(unsafe_code)]
#![warn(unreachable_pub)]
#![warn(missing_docs)]

#[cfg(feature = "testing")]
pub use verimqtt_proto::testing;
pub use verimqtt_proto::{broker, client, codec, session, trace};

pub mod auth;
pub mod runtime;
