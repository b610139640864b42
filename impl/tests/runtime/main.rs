//! The tokio runtime over real loopback TCP: the embedded broker, the driver's timers and
//! shutdown, interoperability with mosquitto's command-line clients, the async client, and
//! `verimqtt pub` and `verimqtt sub` against our broker and mosquitto.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_client;
mod binary;
mod cli;
mod client;
mod files;
mod mosquitto;
mod process;
mod proxy;
mod tcp;
