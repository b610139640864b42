//! A publisher's connection to the broker as bytes in and bytes out, over whatever transport
//! the URL names (the async client's, [`open_transport`]): what the publishers' sans-IO
//! clients write to and read from.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rustls::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use verimqtt::runtime::client::{BrokerUrl, Transport, open_transport};

/// Bytes read at most per call.
const READ_CHUNK: usize = 16 * 1024;

pub struct Link(Box<dyn Transport>);

impl Link {
    /// Connects to `url`, with `tls` for `mqtts://` and `wss://`, within `timeout`.
    pub async fn open(url: &BrokerUrl, tls: Option<Arc<ClientConfig>>, timeout: Duration) -> Result<Link, String> {
        open_transport(url, tls, timeout).await.map(Link).map_err(|error| error.to_string())
    }

    /// Writes all of `bytes` (over WebSocket, one binary message) and flushes them.
    pub async fn write(&mut self, bytes: Bytes) -> io::Result<()> {
        self.0.write_all(&bytes).await?;
        self.0.flush().await
    }

    /// Appends what arrives next to `buffer`; 0 when the broker closed the connection.
    /// Cancel-safe: nothing is lost if the future is dropped before it completes.
    pub async fn read(&mut self, buffer: &mut BytesMut) -> io::Result<usize> {
        buffer.reserve(READ_CHUNK);
        self.0.read_buf(buffer).await
    }
}
