//! The tokio runtime over real loopback sockets: the embedded broker, the driver's timers
//! and shutdown, the configuration file, TLS and WebSocket listeners, authentication and
//! ACLs, `$SYS`, the `verimqtt` binary, and interoperability with mosquitto's command-line
//! clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acl;
mod auth;
mod binary;
mod citations;
mod client;
mod config;
mod files;
mod mosquitto;
mod process;
mod sys;
mod tcp;
mod tls;
mod transport;
mod websocket;
