//! What the fuzz targets share: feeding a byte stream to the decoder in random pieces while
//! checking every answer it gives, and building arbitrary packets.

mod packets;
mod stream;

pub use packets::arbitrary_packet;
pub use stream::check_decode_stream;
