//! The driver: the one task that owns the broker. It accepts connections, feeds the broker
//! what the connection tasks read, hands them what the broker wants sent, and wakes the
//! broker when its next deadline comes. No lock is held across an await: nothing else ever
//! touches the broker.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::broker::{Broker, BrokerOptions, ConnId, Policy};

use super::log;
use super::socket::{self, Input, Output};

/// Inputs waiting for the driver before connection tasks have to wait to read more.
const INPUT_CAPACITY: usize = 1024;

/// How long a shutdown waits for connections to flush their last bytes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How long to pause accepting after the listener fails (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The driver's view of one connection.
struct Socket {
    outputs: mpsc::UnboundedSender<Output>,
    peer: SocketAddr,
    /// A batch is being written; the next waits for `Input::Written`.
    writing: bool,
    closing: bool,
}

/// Serves MQTT on `listener` until `shutdown` completes, then disconnects every client
/// (MQTT 5 clients get DISCONNECT 0x8B) and returns once they are closed or after a short
/// grace period.
pub async fn serve<P: Policy>(
    listener: TcpListener,
    options: BrokerOptions,
    policy: P,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut driver = Driver::new(Broker::new(options, policy));
    tracing::info!(address = %listener.local_addr()?, "MQTT broker listening");
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let deadline = driver.broker.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => driver.accept(stream, peer),
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(input) = driver.inputs.recv() => driver.handle(input),
            () = sleep_until(deadline) => driver.broker.handle_timeout(Instant::now()),
        }
        driver.drain();
    }
    drop(listener);
    driver.shut_down().await;
    Ok(())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

struct Driver<P> {
    broker: Broker<P>,
    sockets: HashMap<ConnId, Socket>,
    inputs: mpsc::Receiver<Input>,
    input_sender: mpsc::Sender<Input>,
    next_conn: u64,
}

impl<P: Policy> Driver<P> {
    fn new(broker: Broker<P>) -> Self {
        let (input_sender, inputs) = mpsc::channel(INPUT_CAPACITY);
        Driver { broker, sockets: HashMap::new(), inputs, input_sender, next_conn: 0 }
    }

    fn accept(&mut self, stream: tokio::net::TcpStream, peer: SocketAddr) {
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        if let Err(error) = self.broker.handle_accept(conn, Instant::now()) {
            // Dropping the stream closes it.
            tracing::warn!(%peer, %error, "connection refused");
            return;
        }
        tracing::debug!(%conn, %peer, "connection accepted");
        let (outputs, receiver) = mpsc::unbounded_channel();
        self.sockets.insert(conn, Socket { outputs, peer, writing: false, closing: false });
        tokio::spawn(socket::run(conn, stream, self.input_sender.clone(), receiver));
    }

    fn handle(&mut self, input: Input) {
        let now = Instant::now();
        match input {
            Input::Received { conn, bytes } => self.broker.handle_bytes(conn, now, &bytes),
            Input::Written { conn } => {
                if let Some(socket) = self.sockets.get_mut(&conn) {
                    socket.writing = false;
                }
                self.transmit(conn);
            }
            Input::Closed { conn } => {
                self.broker.handle_closed(conn, now);
                if let Some(socket) = self.sockets.remove(&conn) {
                    tracing::debug!(%conn, peer = %socket.peer, "socket closed");
                }
            }
        }
    }

    /// Carries out what the broker decided: connections to close, bytes to send, events to
    /// log.
    fn drain(&mut self) {
        while let Some((conn, reason)) = self.broker.poll_close() {
            let Some(socket) = self.sockets.get_mut(&conn) else { continue };
            log::closing(conn, socket.peer, &reason);
            socket.closing = true;
            if let Some(bytes) = self.broker.poll_transmit(conn) {
                let _ = socket.outputs.send(Output::Transmit(bytes));
            }
            let _ = socket.outputs.send(Output::Close);
        }
        while let Some(conn) = self.broker.poll_transmit_ready() {
            self.transmit(conn);
        }
        while let Some(event) = self.broker.poll_event() {
            log::event(&event);
        }
    }

    /// Hands the connection its next batch, unless one is being written or it is closing.
    fn transmit(&mut self, conn: ConnId) {
        let Some(socket) = self.sockets.get_mut(&conn) else { return };
        if socket.writing || socket.closing {
            return;
        }
        if let Some(bytes) = self.broker.poll_transmit(conn) {
            socket.writing = socket.outputs.send(Output::Transmit(bytes)).is_ok();
        }
    }

    async fn shut_down(mut self) {
        tracing::info!(connections = self.sockets.len(), "shutting down");
        self.broker.shutdown(Instant::now());
        self.drain();
        let grace = tokio::time::sleep(SHUTDOWN_GRACE);
        let mut grace = std::pin::pin!(grace);
        while !self.sockets.is_empty() {
            tokio::select! {
                () = &mut grace => break,
                Some(input) = self.inputs.recv() => self.handle(input),
            }
            self.drain();
        }
    }
}
