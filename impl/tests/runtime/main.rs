//! The tokio runtime over real loopback TCP: the embedded broker, the driver's timers and
//! shutdown, and interoperability with mosquitto's command-line clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod async_client;
mod binary;
mod cli;
mod client;
mod mosquitto;
mod pki;
mod proxy;
mod tcp;
