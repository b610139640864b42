//! The tokio runtime around the sans-IO [`Broker`](crate::broker::Broker): listeners (TCP,
//! TLS, WebSocket, WebSocket over TLS), timers, the `$SYS` topics, Prometheus' `/metrics`,
//! the configuration file and logs.
//!
//! One task per listener accepts; one task per connection does its handshakes and its I/O,
//! over any transport alike; one driver task owns the broker, so no lock is ever held across
//! an await; the broker's next deadline (`poll_timeout`) and the `$SYS` interval are the
//! driver's only timers. [`Server::run`] serves until a future completes (the
//! `verimqtt broker` command passes Ctrl-C); [`EmbeddedBroker`] runs one in-process, by
//! default on an ephemeral loopback port, for tests and the conformance suite;
//! [`BrokerConfig`] reads the configuration file of `verimqtt broker -c`.
//!
//! Logs go through `tracing`: connections at `info`, protocol violations and refused
//! CONNECTs at `warn`, with the statement they break or the username they claimed (never
//! the password).

pub mod client;
pub mod config;
mod embedded;
mod heap;
mod listener;
mod log;
mod metrics;
mod metrics_http;
mod packet_log;
pub mod passwd;
mod server;
mod socket;
pub mod store;
mod sys;
pub mod tls;
mod websocket;

pub use config::BrokerConfig;
pub use embedded::EmbeddedBroker;
pub use heap::HeapReader;
pub use listener::{ListenAddress, Listener, Transport};
pub use server::Server;
pub use store::{Store, StoreError, SyncPolicy};
