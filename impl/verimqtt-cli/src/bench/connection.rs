//! A publisher's sans-IO client on its link: whatever the client has to send goes out in one
//! write, whatever arrives goes into the client, and its events wait here for the publisher.
//! Publishers drive the state machine themselves, rather than through the async client, so
//! that a window of publishes leaves in one write (see impl/verimqtt-cli/BENCHMARKS.md for why).

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use futures_util::FutureExt;
use verimqtt::client::{Client, ClientOptions, Event};
use verimqtt::codec::{Disconnect, ReasonCode};

use super::link::Link;

pub struct Connection {
    client: Client,
    link: Link,
    /// Read and not yet taken by the client.
    input: BytesMut,
    /// The last packets the client handed out with its close, for the next flush.
    last_bytes: BytesMut,
    events: VecDeque<Event>,
}

impl Connection {
    /// Sends CONNECT on `link` and waits for the broker to accept it, `timeout` at most.
    pub async fn open(link: Link, options: ClientOptions, timeout: Duration) -> Result<Connection, String> {
        let client = Client::new(options).map_err(|error| error.to_string())?;
        let mut connection =
            Connection { client, link, input: BytesMut::new(), last_bytes: BytesMut::new(), events: VecDeque::new() };
        let now = Instant::now();
        connection.client.handle_connected(now);
        connection.client.connect(now).map_err(|error| error.to_string())?;
        let accepted = tokio::time::timeout(timeout, async {
            loop {
                connection.flush().await.map_err(|error| error.to_string())?;
                while let Some(event) = connection.events.pop_front() {
                    match event {
                        Event::Connected { .. } => return Ok(()),
                        Event::Disconnected { reason, .. } => return Err(format!("the broker refused: {reason:?}")),
                        _ => {}
                    }
                }
                connection.read().await.map_err(|error| error.to_string())?;
            }
        });
        match accepted.await {
            Ok(result) => result.map(|()| connection),
            Err(_) => Err(format!("no CONNACK within {timeout:?}")),
        }
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Writes everything the client has to send, in one write.
    pub async fn flush(&mut self) -> io::Result<()> {
        let mut output = std::mem::take(&mut self.last_bytes);
        while let Some(bytes) = self.client.poll_transmit() {
            output.extend_from_slice(&bytes);
        }
        if output.is_empty() {
            return Ok(());
        }
        self.link.write(output.freeze()).await
    }

    /// Waits for bytes from the broker and hands them to the client. Cancel-safe.
    pub async fn read(&mut self) -> io::Result<()> {
        // Bytes the client left last time (its transmits were full) come first.
        let unread = self.input.len();
        if unread > 0 {
            self.feed();
            if self.input.len() < unread {
                return Ok(());
            }
        }
        if self.link.read(&mut self.input).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.feed();
        Ok(())
    }

    /// Hands the client what has arrived already, without waiting.
    pub fn read_ready(&mut self) -> io::Result<()> {
        self.read().now_or_never().unwrap_or(Ok(()))
    }

    /// Runs the client's timers (keep alive) that are due.
    pub fn on_time(&mut self, now: Instant) {
        if self.client.poll_timeout().is_some_and(|deadline| deadline <= now) {
            self.client.handle_timeout(now);
        }
        self.take_events();
    }

    /// Sends DISCONNECT and lets the connection go.
    pub async fn close(mut self) {
        if self.client.disconnect(Instant::now(), Disconnect::new(ReasonCode::Success)).is_ok() {
            self.take_events();
            let _ = self.flush().await;
        }
    }

    fn feed(&mut self) {
        // The client takes bytes only while its events are drained; transmits wait in it
        // for the next flush.
        loop {
            let taken = self.client.handle_bytes(Instant::now(), &self.input);
            self.input.advance(taken);
            self.take_events();
            if taken == 0 || self.input.is_empty() {
                return;
            }
        }
    }

    fn take_events(&mut self) {
        while let Some(mut event) = self.client.poll_event() {
            if let Event::Disconnected { last_bytes, .. } = &mut event {
                self.last_bytes.extend_from_slice(&last_bytes.take().unwrap_or_default());
            }
            self.events.push_back(event);
        }
    }
}
