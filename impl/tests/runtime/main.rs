//! The tokio runtime over real loopback sockets: the embedded broker, the driver's timers
//! and shutdown, the configuration file, TLS and WebSocket listeners, authentication and
//! ACLs, `$SYS`, the `verimqtt` binary, the async client, `verimqtt pub`, `sub` and
//! `bench`, and interoperability with mosquitto and its command-line clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acl;
mod async_client;
mod auth;
mod bench;
mod binary;
mod citations;
mod cli;
mod client;
mod config;
mod files;
mod flow;
mod hostile;
mod mosquitto;
mod process;
mod proxy;
mod sys;
mod tcp;
mod tls;
mod transport;
mod websocket;
