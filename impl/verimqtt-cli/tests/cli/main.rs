//! The `verimqtt` binary over real loopback sockets: `verimqtt broker` (configuration,
//! signals, logs), `verimqtt passwd`, `pub`, `sub` and `bench`, side by side with
//! mosquitto's tools.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod binary;
mod cli;
mod crash;
mod listeners;
mod logs;
mod mosquitto_flags;

// The runtime suite's helpers (a raw client on every transport, files and certificates,
// child processes), shared by path so that both suites speak to a broker the same way; this
// suite uses only part of them.
#[path = "../../../verimqtt/tests/runtime/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "../../../verimqtt/tests/runtime/files.rs"]
#[allow(dead_code)]
mod files;
#[path = "../../../verimqtt/tests/runtime/process.rs"]
#[allow(dead_code)]
mod process;
#[path = "../../../verimqtt/tests/runtime/scrape.rs"]
#[allow(dead_code)]
mod scrape;
#[path = "../../../verimqtt/tests/runtime/transport.rs"]
#[allow(dead_code)]
mod transport;
