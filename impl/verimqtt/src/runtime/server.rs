//! The server: listeners, and the driver, the one task that owns the broker. The driver
//! takes in connections once their handshakes are done, feeds the broker what the
//! connection tasks read, hands them what the broker wants sent, wakes the broker when its
//! next deadline comes, and publishes the `$SYS` topics. No lock is held across an await:
//! nothing else ever touches the broker.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Interval, MissedTickBehavior};

use crate::broker::{Broker, BrokerOptions, Closing, ConnId, Event, ListenerId, Policy, Verification};
use crate::codec::ReasonCode;

use super::heap::{self, Heap, HeapReader, HeapSample};
use super::listener::{self, Listener, Shared};
use super::log::Log;
use super::metrics;
use super::metrics_http::{self, Scrape};
use super::packet_log::PacketLog;
use super::socket::{Input, Origin, Output, Peer};
use super::store::{Store, StoreWriter};
use super::sys::SysTopics;

/// Inputs waiting for the driver before connection tasks have to wait to read more.
const INPUT_CAPACITY: usize = 1024;

/// Verifications of credentials run at once: all cores but one, which is left to the
/// driver, so that a flood of CONNECTs with passwords slows down only those CONNECTs.
fn verification_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores.saturating_sub(1).max(1)
}

/// How often the counts of repeated log causes are looked at (see `log::Throttle`).
const LOG_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// How long a shutdown waits for connections to flush their last bytes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A broker and the listeners it serves.
///
/// ```no_run
/// use std::net::SocketAddr;
/// use std::time::Duration;
/// use verimqtt::broker::{AllowAll, BrokerOptions};
/// use verimqtt::runtime::{Listener, Server, Transport};
///
/// # async fn run() -> std::io::Result<()> {
/// let addr: SocketAddr = "127.0.0.1:1883".parse().unwrap();
/// Server::new(BrokerOptions::default(), AllowAll)
///     .listener(Listener::bind(addr, Transport::Tcp)?)
///     .sys_interval(Duration::from_secs(10))
///     .run(async { tokio::signal::ctrl_c().await.unwrap() })
///     .await
/// # }
/// ```
#[derive(Debug)]
pub struct Server<P> {
    options: BrokerOptions,
    policy: P,
    listeners: Vec<Listener>,
    sys_interval: Option<Duration>,
    policy_updates: Option<mpsc::UnboundedReceiver<P>>,
    events: Option<broadcast::Sender<Event>>,
    store: Option<Store>,
    metrics: Option<std::net::TcpListener>,
    heap: Option<Heap>,
}

impl<P: Policy> Server<P> {
    /// A server with no listener yet, no `$SYS` topics and no store.
    pub fn new(options: BrokerOptions, policy: P) -> Self {
        Server {
            options,
            policy,
            listeners: Vec::new(),
            sys_interval: None,
            policy_updates: None,
            events: None,
            store: None,
            metrics: None,
            heap: None,
        }
    }

    /// Publishes the heap `read` tells (the bytes the process's allocator handed out and
    /// not taken back) as `$SYS/broker/heap/current`, with the largest value read as
    /// `heap/maximum`, and as the `verimqtt_heap_bytes` and `verimqtt_heap_max_bytes`
    /// gauges of `/metrics`; read at each `$SYS` update and each scrape. Without it there
    /// are none: only the program knows its allocator (`verimqtt broker` reads jemalloc's
    /// `stats.allocated`).
    pub fn heap(self, read: impl Fn() -> Option<u64> + Send + 'static) -> Self {
        let read: HeapReader = Box::new(read);
        Server { heap: Some(Heap::new(read)), ..self }
    }

    /// Serves the broker's statistics in Prometheus' text format at `GET /metrics` on
    /// `listener` (bound by the caller, e.g. `std::net::TcpListener::bind("127.0.0.1:9883")`):
    /// connections, sessions, messages in and out by QoS, drops by reason, what is held for
    /// sessions, bytes, and how long messages waited (the crate's README lists every
    /// metric). Each scrape visits every session once, on the task that drives the broker.
    pub fn metrics_listener(self, listener: std::net::TcpListener) -> Self {
        Server { metrics: Some(listener), ..self }
    }

    /// Keeps the persistent sessions, their messages and the retained messages in `store`,
    /// and starts from what it holds: with it, the broker acknowledges a message only once
    /// it is committed to the store (see [`Store`] and [`SyncPolicy`](super::SyncPolicy) for what survives
    /// what), so a restart, even after `kill -9`, loses nothing acknowledged.
    pub fn store(mut self, store: Store) -> Self {
        self.options.persistence = true;
        Server { store: Some(store), ..self }
    }

    /// This server with one more listener to accept connections on. The policy knows the
    /// listeners by the order they are added: the first is [`ListenerId`]`(0)`
    /// ([`ListenerId::DEFAULT`]), the next `ListenerId(1)`, and so on (see
    /// [`PerListener`](crate::broker::PerListener)).
    pub fn listener(mut self, listener: Listener) -> Self {
        self.listeners.push(listener);
        self
    }

    /// Publishes the `$SYS` topics at start and then every `interval` (a millisecond at
    /// least).
    pub fn sys_interval(self, interval: Duration) -> Self {
        Server { sys_interval: Some(interval), ..self }
    }

    /// Replaces the policy with each one received, as it arrives (the `verimqtt broker`
    /// command sends one when SIGHUP makes it read its password and ACL files again).
    /// Connected clients stay; the new policy answers their next question.
    pub fn policy_updates(self, updates: mpsc::UnboundedReceiver<P>) -> Self {
        Server { policy_updates: Some(updates), ..self }
    }

    /// Sends each of the broker's events (clients connected, refused and closed with the
    /// reason, subscriptions made, refused and deleted, messages and retained messages
    /// dropped with the reason, publishes denied, wills published, sessions expired, slow
    /// consumers; and with [`BrokerOptions::message_events`] every message published and
    /// delivered) to the receivers of `events`, for an application that embeds the broker:
    /// its hooks. The
    /// broker never waits for them: a receiver more than the channel's capacity behind loses
    /// the oldest events and is told how many (`broadcast::error::RecvError::Lagged`).
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// use tokio::sync::broadcast;
    /// use verimqtt::broker::{AllowAll, BrokerOptions, Event};
    /// use verimqtt::runtime::Server;
    ///
    /// let (events, mut received) = broadcast::channel(1024);
    /// tokio::spawn(async move {
    ///     while let Ok(event) = received.recv().await {
    ///         if let Event::Connected { client_id, .. } = event {
    ///             println!("{client_id} is connected");
    ///         }
    ///     }
    /// });
    /// Server::new(BrokerOptions::default(), AllowAll).events(events).run(std::future::pending()).await
    /// # }
    /// ```
    pub fn events(self, events: broadcast::Sender<Event>) -> Self {
        Server { events: Some(events), ..self }
    }

    /// Where the TCP listeners listen, in the order they were added (Unix domain sockets,
    /// which have no such address, are left out: see [`Listener::address`]).
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.listeners
            .iter()
            .filter_map(|listener| listener.address().map(|address| address.ip()).transpose())
            .collect()
    }

    /// Serves MQTT until `shutdown` completes, then stops listening, disconnects every
    /// client (MQTT 5 clients get DISCONNECT 0x8B) and returns once they are closed or after
    /// a short grace period. If the target `verimqtt::packets` logs at debug level when it
    /// starts, every packet in and out is logged (one line each, with the client id).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Server { options, policy, listeners, sys_interval, mut policy_updates, events, store, metrics, mut heap } =
            self;
        let started = Instant::now();
        let mut driver = Driver::new(Broker::new(options.clone(), policy), events);
        if PacketLog::wanted() {
            driver.broker.set_observer(Some(Box::new(PacketLog::default())));
        }
        if let Some(mut store) = store {
            let recovered = store.take_recovered();
            let (sessions, retained) = (recovered.sessions.len(), recovered.retained.len());
            driver.broker.restore(Instant::now(), recovered);
            tracing::info!(file = %store.path().display(), sessions, retained, "store opened");
            driver.store = Some(StoreWriter::start(store, driver.input_sender.clone())?);
        }
        let shared = Shared {
            listener: ListenerId::DEFAULT,
            inputs: driver.input_sender.clone(),
            next_conn: Arc::new(AtomicU64::new(1)),
            handshake_timeout: options.connect_timeout,
            max_packet_size: options.max_packet_size as usize,
        };
        let mut accepting = JoinSet::new();
        for (index, listener) in listeners.into_iter().enumerate() {
            let id = u16::try_from(index).map(ListenerId).map_err(|_| io::Error::other("more than 65536 listeners"))?;
            driver.broker.set_mount_point(id, listener.mount_point().cloned());
            let mount_point = listener.mount_point().map(ToString::to_string);
            tracing::info!(transport = listener.name(), mount_point, address = %listener.address()?, "MQTT broker listening");
            accepting.spawn(listener::accept_loop(listener, Shared { listener: id, ..shared.clone() }));
        }
        drop(shared);
        let mut scrapes = match metrics {
            Some(listener) => {
                listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(listener)?;
                tracing::info!(address = %listener.local_addr()?, "metrics listening (Prometheus, GET /metrics)");
                // At most `metrics_http::MAX_SCRAPES` wait: the listener bounds them.
                let (sender, receiver) = mpsc::unbounded_channel();
                accepting.spawn(metrics_http::serve(listener, sender));
                Some(receiver)
            }
            None => None,
        };
        // The first values are published before any connection is served, so that a client
        // subscribing at once gets them, retained.
        let mut sys = sys_interval.map(|interval| {
            let mut topics = SysTopics::new(Instant::now());
            topics.publish(&mut driver.broker, Instant::now(), heap::sample(&mut heap));
            (topics, ticks(interval))
        });
        let mut shutdown = std::pin::pin!(shutdown);
        let mut log_ticks = ticks(LOG_FLUSH_INTERVAL);
        loop {
            let deadline = driver.broker.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                () = &mut shutdown => break,
                Some(input) = driver.inputs.recv() => driver.handle(input),
                () = sleep_until(deadline) => driver.broker.handle_timeout(Instant::now()),
                Some(topics) = next_tick(&mut sys) => {
                    topics.publish(&mut driver.broker, Instant::now(), heap::sample(&mut heap));
                }
                _ = log_ticks.tick() => driver.log.flush(Instant::now()),
                Some(scrape) = next_update(&mut scrapes) => {
                    answer_scrape(scrape, &driver.broker, started, heap::sample(&mut heap));
                }
                Some(policy) = next_update(&mut policy_updates) => {
                    *driver.broker.policy_mut() = policy;
                    tracing::info!("new policy in use");
                }
            }
            driver.drain();
            if let Some(error) = driver.store_failed.take() {
                accepting.shutdown().await;
                driver.shut_down().await;
                return Err(io::Error::other(format!("the store failed, the broker stops: {error}")));
            }
        }
        // Aborting the accept loops closes the listening sockets.
        accepting.shutdown().await;
        driver.shut_down().await;
        Ok(())
    }
}

/// Ticks every `interval` (a millisecond at least: tokio refuses a zero period; it caps
/// one too long to be added to the clock), the first one `interval` from now.
fn ticks(interval: Duration) -> Interval {
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(1)));
    ticks.reset();
    // A broker too busy to publish on time publishes once, not a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks
}

/// The `$SYS` topics once it is time to publish them; never without them.
async fn next_tick(sys: &mut Option<(SysTopics, Interval)>) -> Option<&mut SysTopics> {
    match sys {
        Some((topics, ticks)) => {
            ticks.tick().await;
            Some(topics)
        }
        None => std::future::pending().await,
    }
}

/// Hands a scrape of `/metrics` the broker's statistics now. A scraper that gave up is no
/// error.
fn answer_scrape<P: Policy>(scrape: Scrape, broker: &Broker<P>, started: Instant, heap: Option<HeapSample>) {
    let _ = scrape.send(metrics::render(&broker.stats(), started.elapsed(), heap));
}

/// The next policy to use (or scrape to answer); never, without a source of them or once
/// it is gone.
async fn next_update<P>(updates: &mut Option<mpsc::UnboundedReceiver<P>>) -> Option<P> {
    match updates {
        Some(receiver) => match receiver.recv().await {
            Some(policy) => Some(policy),
            None => {
                *updates = None;
                None
            }
        },
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The driver's view of one connection.
struct Socket {
    outputs: mpsc::UnboundedSender<Output>,
    reading: watch::Sender<bool>,
    peer: Peer,
    /// A batch is being written; the next waits for `Input::Written`.
    writing: bool,
    closing: bool,
    /// Bytes the broker did not take because it holds the connection back, offered again
    /// when it resumes it; the connection reads nothing more until then (the credit).
    held: Option<(Bytes, OwnedSemaphorePermit)>,
}

struct Driver<P> {
    broker: Broker<P>,
    sockets: HashMap<ConnId, Socket>,
    inputs: mpsc::Receiver<Input>,
    input_sender: mpsc::Sender<Input>,
    /// Verifications of credentials running at once, on blocking threads.
    verifying: Arc<Semaphore>,
    log: Log,
    /// Where the application's hooks receive the broker's events, if it asked for them.
    events: Option<broadcast::Sender<Event>>,
    /// Where the broker's changes are made durable, with persistence.
    store: Option<StoreWriter>,
    store_failed: Option<String>,
}

impl<P: Policy> Driver<P> {
    fn new(broker: Broker<P>, events: Option<broadcast::Sender<Event>>) -> Self {
        let (input_sender, inputs) = mpsc::channel(INPUT_CAPACITY);
        let verifying = Arc::new(Semaphore::new(verification_threads()));
        Driver {
            broker,
            sockets: HashMap::new(),
            inputs,
            input_sender,
            verifying,
            log: Log::new(),
            events,
            store: None,
            store_failed: None,
        }
    }

    fn handle(&mut self, input: Input) {
        let now = Instant::now();
        match input {
            Input::Opened { origin: Origin { conn, listener, peer, transport }, outputs, reading } => {
                if let Err(error) = self.broker.handle_connected_on(now, conn, listener) {
                    // Dropping `outputs` ends the connection task, which closes the socket.
                    self.log.not_accepted(peer, transport, &error);
                    return;
                }
                tracing::debug!(%conn, %peer, transport, "connection accepted");
                self.log.opened(conn, peer);
                let socket = Socket { outputs, reading, peer, writing: false, closing: false, held: None };
                self.sockets.insert(conn, socket);
            }
            Input::Received { conn, bytes, credit } => self.offer(now, conn, bytes, credit),
            Input::Written { conn } => {
                if let Some(socket) = self.sockets.get_mut(&conn) {
                    socket.writing = false;
                }
                self.broker.handle_written(now, conn);
                self.transmit(conn);
            }
            Input::Verified { conn, result } => self.broker.handle_verified(now, conn, result),
            Input::Durable { up_to } => self.broker.handle_durable(now, up_to),
            Input::StoreFailed { error } => {
                tracing::error!("{error}: the broker stops, since it cannot keep what it would acknowledge");
                self.store_failed = Some(error);
            }
            Input::Closed { conn } => {
                // A connection the broker refused was never in `sockets` nor in the broker.
                if let Some(mut socket) = self.sockets.remove(&conn) {
                    // What it sent before it closed is the broker's, held back or not.
                    if let Some((bytes, _credit)) = socket.held.take() {
                        self.broker.handle_closing(now, conn);
                        self.broker.handle_bytes(now, conn, &bytes);
                    }
                    self.broker.handle_closed(now, conn);
                    self.log.socket_closed(conn);
                    tracing::debug!(%conn, peer = %socket.peer, "socket closed");
                }
            }
        }
    }

    /// Carries out what the broker decided: connections to close, bytes to send, events to
    /// log.
    ///
    /// Taking bytes to transmit can drain a congested session's queue and let held-back
    /// publishers go, whose waiting packets the broker then reads: that can make more to
    /// close and to send, so this goes round until there is nothing left.
    fn drain(&mut self) {
        let mut busy = true;
        while busy {
            busy = false;
            while let Some(Closing { conn, reason, last_bytes }) = self.broker.poll_close() {
                busy = true;
                let Some(socket) = self.sockets.get_mut(&conn) else { continue };
                self.log.closing(conn, &reason);
                socket.closing = true;
                if let Some(bytes) = last_bytes {
                    let _ = socket.outputs.send(Output::Transmit(bytes));
                }
                let _ = socket.outputs.send(Output::Close);
            }
            while let Some(conn) = self.broker.poll_transmit_ready() {
                busy = true;
                self.transmit(conn);
            }
            while let Some((conn, reading)) = self.broker.poll_reading() {
                let Some(socket) = self.sockets.get_mut(&conn) else { continue };
                socket.reading.send_replace(reading);
                let held = if reading { socket.held.take() } else { None };
                if let Some((bytes, credit)) = held {
                    busy = true;
                    self.offer(Instant::now(), conn, bytes, credit);
                }
            }
        }
        while let Some(event) = self.broker.poll_event() {
            self.log.event(&event);
            if let Some(events) = &self.events {
                // No receiver is not an error: the application may have stopped listening.
                let _ = events.send(event);
            }
        }
        self.log.forget_gone();
        while let Some((conn, verification)) = self.broker.poll_verification() {
            self.verify(conn, verification);
        }
        if let Some(store) = &self.store {
            let changes: Vec<_> = std::iter::from_fn(|| self.broker.poll_store()).collect();
            if !changes.is_empty() {
                store.write(changes);
            }
        }
    }

    /// Runs a verification of credentials (a password hash: milliseconds of CPU) on a
    /// blocking thread, a few at a time, and hands the result back as an input; the driver
    /// goes on serving everyone else meanwhile.
    fn verify(&self, conn: ConnId, verification: Verification) {
        let (permits, inputs) = (Arc::clone(&self.verifying), self.input_sender.clone());
        tokio::spawn(async move {
            // The semaphore is never closed.
            let Ok(_permit) = permits.acquire_owned().await else { return };
            let result = tokio::task::spawn_blocking(move || verification.run()).await;
            // A verification that panicked refuses the client rather than leave it waiting.
            let result = result.unwrap_or(Err(ReasonCode::UnspecifiedError));
            let _ = inputs.send(Input::Verified { conn, result }).await;
        });
    }

    /// Hands the broker bytes the connection read. What it does not take is kept, with the
    /// connection's read credit, until it resumes the connection; the credit goes back (and
    /// the connection reads on) once it took them all.
    fn offer(&mut self, now: Instant, conn: ConnId, bytes: Bytes, credit: OwnedSemaphorePermit) {
        let taken = self.broker.handle_bytes(now, conn, &bytes);
        if taken < bytes.len() {
            if let Some(socket) = self.sockets.get_mut(&conn) {
                socket.held = Some((bytes.slice(taken..), credit));
            }
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
        if let Some(store) = self.store.take() {
            store.finish().await;
        }
    }
}
