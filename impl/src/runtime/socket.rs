//! One task per TCP connection: it reads the socket into the driver's input channel and
//! writes what the driver sends it, one batch at a time.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::broker::ConnId;

/// Bytes read per system call at most.
const READ_CHUNK: usize = 16 * 1024;

/// What a connection task tells the driver.
#[derive(Debug)]
pub(crate) enum Input {
    Received {
        conn: ConnId,
        bytes: Bytes,
    },
    /// The last batch is on the wire: the connection can take the next.
    Written {
        conn: ConnId,
    },
    /// The socket is closed, by the peer, by an error or after `Output::Close`.
    Closed {
        conn: ConnId,
    },
}

/// What the driver tells a connection task.
#[derive(Debug)]
pub(crate) enum Output {
    Transmit(Bytes),
    /// Close the socket once what was sent before is written.
    Close,
}

/// Runs a connection until its socket closes, then reports it closed. The driver never has
/// more than one `Transmit` outstanding per connection (it waits for `Written`), so the
/// output channel holds at most a batch and a `Close`.
pub(crate) async fn run(
    conn: ConnId,
    stream: TcpStream,
    inputs: mpsc::Sender<Input>,
    mut outputs: mpsc::UnboundedReceiver<Output>,
) {
    // MQTT packets are small and latency matters more than coalescing.
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let read = async {
        let mut buffer = BytesMut::with_capacity(READ_CHUNK);
        loop {
            buffer.reserve(READ_CHUNK);
            match reader.read_buf(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let bytes = buffer.split().freeze();
                    if inputs.send(Input::Received { conn, bytes }).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let write = async {
        while let Some(output) = outputs.recv().await {
            match output {
                Output::Transmit(bytes) => {
                    if writer.write_all(&bytes).await.is_err() {
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
