//! The broker core driven through its sans-IO interface with encoded packets and a
//! simulated clock: one behaviour per test, each citing the statements it checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod catalogue;
mod connect;
mod events;
mod flow;
mod harness;
mod keep_alive;
mod limits;
mod listeners;
mod mqtt5;
mod observer;
mod persistence;
mod qos;
mod retained;
mod sessions;
mod subscriptions;
mod will;
