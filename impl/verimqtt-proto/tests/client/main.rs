//! The sans-IO client against the behaviours issue 3 asks for, driven by a simulated clock
//! and a fake server that speaks through the codec. One behaviour per test, named for it.

// A test's own setup failing is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bounded;
mod harness;
mod interleavings;
mod keep_alive;
mod lifecycle;
mod mqtt5;
mod observer;
mod packet_ids;
mod receive_path;
mod reconnect;
mod send_path;
mod statements;
mod violations;
