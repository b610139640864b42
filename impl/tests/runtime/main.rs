//! The tokio runtime over real loopback TCP: the embedded broker, the driver's timers and
//! shutdown, and interoperability with mosquitto's command-line clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod client;
mod mosquitto;
mod tcp;
