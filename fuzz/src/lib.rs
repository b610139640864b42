//! What the fuzz targets share: feeding a byte stream to the decoder in random pieces while
//! checking every answer it gives, building arbitrary packets, and driving the broker and the client.

mod broker;
mod client;
mod packets;
mod stream;

pub use broker::{Hostile, SmallLimits, Traffic, fuzz_broker};
pub use client::ClientHarness;
pub use packets::arbitrary_packet;
pub use stream::check_decode_stream;
