//! The codec against its promises: round trips, incremental decoding, malformed input,
//! byte snapshots, and the statement ids it cites.

// A test's own setup failing is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod catalogue;
mod malformed;
mod roundtrip;
mod snapshots;
mod strategies;
