//! One task per connection, whatever carries it (TCP, TLS, WebSocket): it registers with
//! the driver, reads the stream into the driver's input channel and writes what the driver
//! sends it, one batch at a time. The inputs of the driver are defined here, those of the
//! connection tasks and the one of the verifications of credentials.

use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::broker::{ConnId, ListenerId};
use crate::codec::ReasonCode;

/// Bytes read per call at most.
const READ_CHUNK: usize = 16 * 1024;

/// Where a connection comes from, as logs show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// A TCP peer's address and port.
    Ip(SocketAddr),
    /// A peer on a Unix domain socket, which has no address worth showing.
    Local,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Ip(addr) => write!(f, "{addr}"),
            Peer::Local => f.write_str("unix"),
        }
    }
}

/// Where a connection comes from: its number, its listener, its peer and its transport.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    pub(crate) conn: ConnId,
    pub(crate) listener: ListenerId,
    pub(crate) peer: Peer,
    pub(crate) transport: &'static str,
}

/// What a connection task tells the driver.
#[derive(Debug)]
pub(crate) enum Input {
    /// A connection is ready for MQTT (its TLS and WebSocket handshakes done). The driver
    /// sends it [`Output`]s, or drops `outputs` to refuse it.
    Opened {
        origin: Origin,
        outputs: mpsc::UnboundedSender<Output>,
        /// `false` stops the connection reading its socket (backpressure), `true` starts it
        /// again.
        reading: watch::Sender<bool>,
    },
    Received {
        conn: ConnId,
        bytes: Bytes,
        /// The connection reads again once this is dropped: when the driver has handed the
        /// bytes to the broker. One read of a connection waits for the driver at most, so a
        /// fast client cannot fill the driver's input channel, and the broker's holding it
        /// back takes effect within one read.
        credit: OwnedSemaphorePermit,
    },
    /// The last batch is on the wire: the connection can take the next.
    Written { conn: ConnId },
    /// The connection is closed, by the peer, by an error or after `Output::Close`.
    Closed { conn: ConnId },
    /// The credentials of the connection's CONNECT were checked, off the driver.
    Verified { conn: ConnId, result: Result<(), ReasonCode> },
    /// The store committed the broker's changes up to this number.
    Durable { up_to: u64 },
    /// The store cannot be written: the broker stops, since it can no longer keep what it
    /// acknowledges.
    StoreFailed { error: String },
}

/// What the driver tells a connection task.
#[derive(Debug)]
pub(crate) enum Output {
    Transmit(Bytes),
    /// Close the connection once what was sent before is written.
    Close,
}

/// Runs a connection until it closes, then reports it closed. The driver never has more
/// than one `Transmit` outstanding per connection (it waits for `Written`), so the output
/// channel holds at most a batch and a `Close`.
pub(crate) async fn run<S>(origin: Origin, stream: S, inputs: mpsc::Sender<Input>)
where
    S: AsyncRead + AsyncWrite + Send,
{
    let (outputs, mut to_write) = mpsc::unbounded_channel();
    let (reading, mut may_read) = watch::channel(true);
    let credit = Arc::new(Semaphore::new(1));
    let conn = origin.conn;
    if inputs.send(Input::Opened { origin, outputs, reading }).await.is_err() {
        return;
    }
    let (mut reader, mut writer) = tokio::io::split(stream);
    let read = async {
        loop {
            // While the broker holds this client back, its bytes wait in the kernel and TCP
            // slows it down. The driver gone is the end of the connection.
            if may_read.wait_for(|may| *may).await.is_err() {
                return;
            }
            // Never closed: the permit comes back with the previous bytes.
            let Ok(credit) = Arc::clone(&credit).acquire_owned().await else { return };
            match read_some(&mut reader).await {
                Ok(bytes) if bytes.is_empty() => return,
                Ok(bytes) => {
                    if inputs.send(Input::Received { conn, bytes, credit }).await.is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    };
    let write = async {
        // `None`: the driver refused the connection or is gone.
        while let Some(output) = to_write.recv().await {
            match output {
                Output::Transmit(bytes) => {
                    // TLS and WebSocket hold written bytes until flushed.
                    if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
                        return;
                    }
                    if inputs.send(Input::Written { conn }).await.is_err() {
                        return;
                    }
                }
                Output::Close => {
                    let _ = writer.shutdown().await;
                    return;
                }
            }
        }
    };
    tokio::select! {
        () = read => {}
        () = write => {}
    }
    let _ = inputs.send(Input::Closed { conn }).await;
}

/// The bytes one read of `reader` gives (none at its end), in an allocation of their size.
/// The read goes to a buffer on the stack of the poll, not one kept in the task between
/// reads: an idle connection, waiting here most of its life, holds no read buffer at all
/// (a kept 16 KiB buffer was most of an idle connection's memory). The copy out of it costs
/// far less than the system call that filled it.
async fn read_some<R: AsyncRead + Unpin>(reader: &mut R) -> std::io::Result<Bytes> {
    std::future::poll_fn(|context| {
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buffer = ReadBuf::uninit(&mut chunk);
        ready!(Pin::new(&mut *reader).poll_read(context, &mut buffer))?;
        Poll::Ready(Ok(Bytes::copy_from_slice(buffer.filled())))
    })
    .await
}
