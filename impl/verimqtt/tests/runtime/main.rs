//! The tokio runtime over real loopback sockets: the embedded broker, the driver's timers
//! and shutdown, the configuration file, TLS and WebSocket listeners, authentication and
//! ACLs, `$SYS`, the async client, and interoperability with mosquitto and its command-line
//! clients. The `verimqtt` binary's own tests are in the crate verimqtt-cli.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acl;
mod async_client;
mod auth;
mod blocking_client;
mod citations;
mod client;
mod config;
mod events;
mod files;
mod flow;
mod hostile;
mod listeners;
mod metrics;
mod mosquitto;
mod persistence;
mod process;
mod proxy;
mod scrape;
mod sys;
mod tcp;
mod tls;
mod transport;
mod websocket;
