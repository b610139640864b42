//! The task that owns the client state machine and the transport. Commands come in over a
//! channel; bytes, time and connection events go into the [`Client`], whose packets are
//! written and whose events settle the callers' futures and feed the subscriptions. Nothing
//! here knows the protocol: keep alive, packet identifiers, acknowledgements and resending
//! with DUP after a reconnection are all the state machine's.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use rustls::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};

use super::error::{ClientError, ConnectError};
use super::options::Reconnect;
use super::subscription::{Message, Routes};
use super::transport::{self, Transport};
use super::url::BrokerUrl;
use crate::client::{Client, CommandError, DisconnectReason, DroppedRequest, Event, PublishTicket};
use crate::codec::{self, Disconnect, MqttString, PacketId, Properties, QoS, ReasonCode, SubAck};

/// Bytes read per call at most.
const READ_CHUNK: usize = 16 * 1024;

/// Bytes taken from the client for writing before the transport has to catch up.
const WRITE_BATCH: usize = 64 * 1024;

/// Commands taken at once before the driver writes and reads again.
const COMMAND_BATCH: usize = 256;

/// How long the last packets of a connection (its DISCONNECT) may take to write.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// What an [`AsyncClient`](super::AsyncClient) or a [`Subscription`](super::Subscription)
/// asks of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        topic: MqttString,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        properties: Properties,
        done: Reply<()>,
    },
    /// Answered with the subscription's id and the SUBACK's reason codes.
    Subscribe {
        subscriptions: Vec<codec::Subscription>,
        properties: Properties,
        messages: mpsc::Sender<Message>,
        /// Whether a SUBACK granting only some filters makes a subscription of those.
        partial: bool,
        done: Reply<(u64, Vec<ReasonCode>)>,
    },
    /// Answered with the id of a route for the messages no subscription wants.
    Unclaimed {
        messages: mpsc::Sender<Message>,
        done: Reply<u64>,
    },
    /// A dropped subscription: its filters no other one uses are unsubscribed.
    Unsubscribe {
        id: u64,
    },
    /// Unsubscribes from filters, answered with the UNSUBACK's reason codes.
    UnsubscribeFilters {
        filters: Vec<MqttString>,
        properties: Properties,
        done: Reply<Vec<ReasonCode>>,
    },
    /// Ends the client with `packet`; answered once it is over, or at once with the reason
    /// the client cannot send `packet` (then nothing ends).
    Disconnect {
        packet: Disconnect,
        done: Reply<()>,
    },
}

/// A SUBSCRIBE waiting for its SUBACK.
#[derive(Debug)]
struct PendingSubscribe {
    subscriptions: Vec<codec::Subscription>,
    messages: mpsc::Sender<Message>,
    partial: bool,
    done: Reply<(u64, Vec<ReasonCode>)>,
}

type Opening = Pin<Box<dyn Future<Output = Result<Box<dyn Transport>, ConnectError>> + Send>>;

/// How to reach the broker, again and again.
pub(crate) struct Dialer {
    pub url: BrokerUrl,
    pub tls: Option<Arc<ClientConfig>>,
    pub timeout: Duration,
    pub reconnect: Reconnect,
    pub local_address: Option<IpAddr>,
}

impl Dialer {
    fn open(&self) -> Opening {
        let (url, tls, timeout, local_address) = (self.url.clone(), self.tls.clone(), self.timeout, self.local_address);
        Box::pin(async move { transport::open_from(&url, tls, timeout, local_address).await })
    }
}

/// The transport of the current connection, split so that reading and writing go on at
/// once, with what waits on either side.
#[derive(Default)]
struct Link {
    reader: Option<ReadHalf<Box<dyn Transport>>>,
    writer: Option<WriteHalf<Box<dyn Transport>>>,
    read_buffer: BytesMut,
    /// Read and not yet taken by the client, which takes bytes only while its output is
    /// drained.
    unread: Bytes,
    outgoing: BytesMut,
    /// Written since the last flush (TLS and WebSocket hold bytes until flushed).
    unflushed: bool,
}

impl Link {
    fn attach(&mut self, transport: Box<dyn Transport>) {
        let (reader, writer) = tokio::io::split(transport);
        *self = Link { reader: Some(reader), writer: Some(writer), ..Link::default() };
    }

    fn is_up(&self) -> bool {
        self.writer.is_some()
    }
}

/// What woke the driver.
enum Wake {
    Command(Option<Command>),
    Read(io::Result<usize>),
    /// `true` once everything is written and flushed.
    Written(io::Result<bool>),
    Timeout,
    Reconnect,
    Opened(Result<Box<dyn Transport>, ConnectError>),
    /// The first subscription a message waits for has room for it (or is gone).
    Room(u64, Result<mpsc::OwnedPermit<Message>, mpsc::error::SendError<()>>),
}

/// A message the client handed over that some full subscriptions still wait for. Until they
/// all have it, the driver takes no more events from the client (see `subscription`).
#[derive(Debug)]
struct Blocked {
    message: Message,
    waiting: VecDeque<(u64, mpsc::Sender<Message>)>,
}

pub(crate) struct Driver {
    client: Client,
    dialer: Dialer,
    commands: mpsc::UnboundedReceiver<Command>,
    link: Link,
    opening: Option<Opening>,
    reconnect_at: Option<Instant>,
    /// Reconnection attempts since the broker last accepted a connection.
    retries: u32,
    /// Until the first connection is accepted: where to say how it went.
    ready: Option<oneshot::Sender<Result<(), ConnectError>>>,
    publishes: HashMap<PublishTicket, Reply<()>>,
    subscribes: HashMap<PacketId, PendingSubscribe>,
    /// UNSUBSCRIBEs of [`Command::UnsubscribeFilters`] waiting for their UNSUBACK.
    unsubscribes: HashMap<PacketId, Reply<Vec<ReasonCode>>>,
    routes: Routes,
    next_route: u64,
    blocked: Option<Blocked>,
    /// Filters no subscription wants any more, dropped while there was no connection.
    unsubscribe_later: Vec<MqttString>,
    /// The client closed the connection (its last packets may still be to write).
    closing: Option<DisconnectReason>,
    /// Why every request fails from now on, once the client gave up reconnecting.
    gone: Option<ClientError>,
    shutting_down: bool,
    disconnect_waiters: Vec<Reply<()>>,
    stopped: bool,
}

impl Driver {
    pub(super) fn new(
        client: Client,
        dialer: Dialer,
        commands: mpsc::UnboundedReceiver<Command>,
        ready: oneshot::Sender<Result<(), ConnectError>>,
        subscription_capacity: usize,
    ) -> Self {
        let opening = Some(dialer.open());
        let routes = Routes::new(client.protocol_version(), subscription_capacity);
        Driver {
            client,
            dialer,
            commands,
            link: Link::default(),
            opening,
            reconnect_at: None,
            retries: 0,
            ready: Some(ready),
            publishes: HashMap::new(),
            subscribes: HashMap::new(),
            unsubscribes: HashMap::new(),
            routes,
            next_route: 0,
            blocked: None,
            unsubscribe_later: Vec::new(),
            closing: None,
            gone: None,
            shutting_down: false,
            disconnect_waiters: Vec::new(),
            stopped: false,
        }
    }

    pub(super) async fn run(mut self) {
        while !self.stopped {
            self.pump();
            if let Some(reason) = self.closing.take() {
                self.close_link().await;
                self.after_disconnect(reason);
                continue;
            }
            if self.stopped {
                break;
            }
            let wake = self.wait().await;
            self.on_wake(wake);
        }
        self.give_up(ClientError::Closed);
        for waiter in self.disconnect_waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
    }

    async fn wait(&mut self) -> Wake {
        let timeout = self.client.poll_timeout();
        let link = &mut self.link;
        tokio::select! {
            command = self.commands.recv(), if !self.shutting_down => Wake::Command(command),
            read = read_some(&mut link.reader, &mut link.read_buffer), if link.unread.is_empty() => Wake::Read(read),
            written = write_some(&mut link.writer, &mut link.outgoing, &mut link.unflushed) => Wake::Written(written),
            () = sleep_until(timeout) => Wake::Timeout,
            () = sleep_until(self.reconnect_at) => Wake::Reconnect,
            opened = finish_opening(&mut self.opening) => Wake::Opened(opened),
            (id, room) = room(&self.blocked) => Wake::Room(id, room),
        }
    }

    fn on_wake(&mut self, wake: Wake) {
        let now = Instant::now();
        match wake {
            Wake::Command(Some(command)) => {
                self.on_command(command);
                // The commands already waiting go in the same batch of writes: one write per
                // publish would cost a system call each.
                for _ in 1..COMMAND_BATCH {
                    if self.shutting_down {
                        break;
                    }
                    let Ok(command) = self.commands.try_recv() else { break };
                    self.on_command(command);
                }
            }
            // Every handle is gone: nobody can use the client any more.
            Wake::Command(None) => {
                // A plain DISCONNECT can always be sent.
                let _ = self.shut_down(Disconnect::new(ReasonCode::Success));
            }
            Wake::Read(Ok(0) | Err(_)) | Wake::Written(Err(_)) => self.connection_lost(),
            Wake::Read(Ok(_)) => self.link.unread = self.link.read_buffer.split().freeze(),
            Wake::Written(Ok(true)) => self.settle_qos0(true, Ok(())),
            Wake::Written(Ok(false)) => {}
            Wake::Timeout => self.client.handle_timeout(now),
            Wake::Reconnect => {
                self.reconnect_at = None;
                self.opening = Some(self.dialer.open());
            }
            Wake::Opened(opened) => {
                self.opening = None;
                self.on_opened(opened);
            }
            Wake::Room(id, room) => self.on_room(id, room),
        }
    }

    /// The first subscription the blocked message waits for has room, or is gone: it gets
    /// the message, then each of the others that has room too.
    fn on_room(&mut self, id: u64, room: Result<mpsc::OwnedPermit<Message>, mpsc::error::SendError<()>>) {
        let Some(blocked) = self.blocked.as_mut() else { return };
        blocked.waiting.pop_front();
        let mut gone = Vec::new();
        match room {
            Ok(permit) => {
                permit.send(blocked.message.clone());
            }
            Err(_) => gone.push(id),
        }
        while let Some((id, sender)) = blocked.waiting.front() {
            match sender.try_send(blocked.message.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => break,
                Err(mpsc::error::TrySendError::Closed(_)) => gone.push(*id),
            }
            blocked.waiting.pop_front();
        }
        if blocked.waiting.is_empty() {
            self.blocked = None;
        }
        for id in gone {
            self.remove_route(id);
        }
    }

    fn on_opened(&mut self, opened: Result<Box<dyn Transport>, ConnectError>) {
        let now = Instant::now();
        match opened {
            Ok(transport) => {
                self.link.attach(transport);
                self.client.handle_connected(now);
                if let Err(error) = self.client.connect(now) {
                    tracing::error!(%error, "cannot send CONNECT");
                    self.connection_lost();
                }
            }
            Err(error) => match self.ready.take() {
                Some(ready) => {
                    let _ = ready.send(Err(error));
                    self.stopped = true;
                }
                None => {
                    tracing::warn!(url = %self.dialer.url, %error, "reconnection failed");
                    self.schedule_reconnect();
                }
            },
        }
    }

    /// Feeds the client what was read, takes what it has to write and handles its events,
    /// until none of them moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            if !self.link.unread.is_empty() {
                let taken = self.client.handle_bytes(Instant::now(), &self.link.unread);
                self.link.unread.advance(taken);
                moved |= taken > 0;
            }
            while self.link.is_up() && self.link.outgoing.len() < WRITE_BATCH {
                let Some(bytes) = self.client.poll_transmit() else { break };
                self.link.outgoing.extend_from_slice(&bytes);
                moved = true;
            }
            // A message waiting for room in a subscription holds back the events after it.
            while self.blocked.is_none() {
                let Some(event) = self.client.poll_event() else { break };
                self.on_event(event);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Publish { topic, payload, qos, retain, properties, done } => {
                let accepted = self
                    .usable()
                    .and_then(|()| Ok(self.client.publish(now, topic, payload, qos, retain, properties)?));
                match accepted {
                    Ok(ticket) => {
                        self.publishes.insert(ticket, done);
                    }
                    Err(error) => {
                        let _ = done.send(Err(error));
                    }
                }
            }
            Command::Subscribe { subscriptions, properties, messages, partial, done } => {
                let accepted =
                    self.usable().and_then(|()| Ok(self.client.subscribe(now, subscriptions.clone(), properties)?));
                match accepted {
                    Ok(packet_id) => {
                        self.subscribes.insert(packet_id, PendingSubscribe { subscriptions, messages, partial, done });
                    }
                    Err(error) => {
                        let _ = done.send(Err(error));
                    }
                }
            }
            Command::Unclaimed { messages, done } => {
                let id = self.new_route(Vec::new(), messages);
                if done.send(Ok(id)).is_err() {
                    self.remove_route(id);
                }
            }
            Command::Unsubscribe { id } => self.remove_route(id),
            Command::UnsubscribeFilters { filters, properties, done } => {
                let accepted = self.usable().and_then(|()| Ok(self.client.unsubscribe(now, filters, properties)?));
                match accepted {
                    Ok(packet_id) => {
                        self.unsubscribes.insert(packet_id, done);
                    }
                    Err(error) => {
                        let _ = done.send(Err(error));
                    }
                }
            }
            Command::Disconnect { packet, done } => match self.shut_down(packet) {
                Ok(()) => self.disconnect_waiters.push(done),
                Err(error) => {
                    let _ = done.send(Err(error));
                }
            },
        }
    }

    /// Whether requests can still be made: not once the client gave up.
    fn usable(&self) -> Result<(), ClientError> {
        self.gone.clone().map_or(Ok(()), Err)
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected { session_present, .. } => {
                self.retries = 0;
                // Filters subscribed to again since are wanted after all.
                let later = std::mem::take(&mut self.unsubscribe_later);
                let unused = self.routes.unused(later);
                self.unsubscribe(unused);
                match self.ready.take() {
                    Some(ready) => {
                        tracing::debug!(url = %self.dialer.url, session_present, "connected");
                        let _ = ready.send(Ok(()));
                    }
                    None => {
                        tracing::info!(url = %self.dialer.url, session_present, "reconnected");
                        if !session_present {
                            self.resubscribe();
                        }
                    }
                }
            }
            Event::Message(publish) => {
                let message = Message::from(publish);
                let dispatched = self.routes.dispatch(&message);
                for id in dispatched.gone {
                    self.remove_route(id);
                }
                if !dispatched.full.is_empty() {
                    self.blocked = Some(Blocked { message, waiting: dispatched.full.into() });
                }
            }
            Event::PubAck { ticket, ack } | Event::PubComp { ticket, ack } => self.settle(ticket, ack.reason_code),
            // A failure ends a QoS 2 exchange at PUBREC [MQTT-4.3.3-4].
            Event::PubRec { ticket, ack } if ack.reason_code.is_failure() => self.settle(ticket, ack.reason_code),
            Event::PubRec { .. } | Event::Auth(_) => {}
            Event::UnsubAck(unsuback) => {
                // An UNSUBACK of a dropped subscription has no one waiting.
                if let Some(done) = self.unsubscribes.remove(&unsuback.packet_id) {
                    let _ = done.send(Ok(unsuback.reason_codes));
                }
            }
            Event::SubAck(suback) => self.on_suback(suback),
            Event::Dropped { reason, requests } => {
                for request in requests {
                    let error = ClientError::Dropped(reason.clone());
                    match request {
                        DroppedRequest::Publish { ticket, .. } => {
                            if let Some(done) = self.publishes.remove(&ticket) {
                                let _ = done.send(Err(error));
                            }
                        }
                        DroppedRequest::Subscribe(subscribe) => {
                            if let Some(pending) = self.subscribes.remove(&subscribe.packet_id) {
                                let _ = pending.done.send(Err(error));
                            }
                        }
                        DroppedRequest::Unsubscribe(unsubscribe) => {
                            if let Some(done) = self.unsubscribes.remove(&unsubscribe.packet_id) {
                                let _ = done.send(Err(error));
                            }
                        }
                    }
                }
            }
            Event::Disconnected { reason, last_bytes } => {
                if self.link.is_up() {
                    self.link.outgoing.extend_from_slice(&last_bytes.unwrap_or_default());
                    self.closing = Some(reason);
                } else {
                    self.after_disconnect(reason);
                }
            }
        }
    }

    /// A QoS 1 or 2 publish is done, well or not.
    fn settle(&mut self, ticket: PublishTicket, reason_code: ReasonCode) {
        if let Some(done) = self.publishes.remove(&ticket) {
            let _ = done.send(if reason_code.is_failure() { Err(ClientError::Rejected(reason_code)) } else { Ok(()) });
        }
    }

    /// Settles the QoS 0 publishes the client handed out for writing (`written_only`), or
    /// all of them.
    fn settle_qos0(&mut self, written_only: bool, result: Result<(), ClientError>) {
        let client = &self.client;
        let settled: Vec<PublishTicket> = self
            .publishes
            .keys()
            .filter(|ticket| ticket.qos() == QoS::AtMostOnce)
            .filter(|ticket| !written_only || client.publish_state(ticket).is_none())
            .copied()
            .collect();
        for ticket in settled {
            if let Some(done) = self.publishes.remove(&ticket) {
                let _ = done.send(result.clone());
            }
        }
    }

    fn on_suback(&mut self, suback: SubAck) {
        // A SUBACK of a resubscription after a reconnection has no one waiting.
        let Some(pending) = self.subscribes.remove(&suback.packet_id) else { return };
        let all_granted = suback.reason_codes.iter().all(|code| !code.is_failure());
        let granted: Vec<codec::Subscription> = pending
            .subscriptions
            .into_iter()
            .zip(&suback.reason_codes)
            .filter(|(_, code)| !code.is_failure())
            .map(|(subscription, _)| subscription)
            .collect();
        if !all_granted && (!pending.partial || granted.is_empty()) {
            let unused = self.routes.unused(granted.into_iter().map(|subscription| subscription.filter));
            self.unsubscribe(unused);
            let refused = suback.reason_codes.iter().copied().find(|code| code.is_failure()).unwrap_or_default();
            let _ = pending.done.send(Err(ClientError::Rejected(refused)));
            return;
        }
        let id = self.new_route(granted, pending.messages);
        if pending.done.send(Ok((id, suback.reason_codes))).is_err() {
            // The caller stopped waiting: nobody will read this subscription.
            self.remove_route(id);
        }
    }

    fn new_route(&mut self, subscriptions: Vec<codec::Subscription>, messages: mpsc::Sender<Message>) -> u64 {
        let id = self.next_route;
        self.next_route += 1;
        self.routes.insert(id, subscriptions, messages);
        id
    }

    fn remove_route(&mut self, id: u64) {
        let unused = self.routes.remove(id);
        self.unsubscribe(unused);
    }

    /// Unsubscribes from `filters`; without a connection, as soon as there is one again (the
    /// broker may keep them in the session meanwhile).
    fn unsubscribe(&mut self, filters: Vec<MqttString>) {
        if filters.is_empty() {
            return;
        }
        if let Err(CommandError::NoConnection) =
            self.client.unsubscribe(Instant::now(), filters.clone(), Properties::default())
        {
            self.unsubscribe_later.extend(filters);
        }
    }

    /// The broker kept no session: subscribe again to every filter still wanted.
    fn resubscribe(&mut self) {
        let subscriptions = self.routes.all();
        if subscriptions.is_empty() {
            return;
        }
        if let Err(error) = self.client.subscribe(Instant::now(), subscriptions, Properties::default()) {
            tracing::warn!(%error, "cannot subscribe again after reconnecting");
        }
    }

    /// Ends the connection with `packet`, if there is one, and then the driver; a `packet`
    /// the client refuses (a Session Expiry Interval after a CONNECT with none, a packet
    /// too big for the server) ends nothing.
    fn shut_down(&mut self, packet: Disconnect) -> Result<(), ClientError> {
        match self.client.disconnect(Instant::now(), packet) {
            Ok(()) => {}
            // No connection to end.
            Err(CommandError::NoConnection) => self.stopped = true,
            Err(error) => return Err(error.into()),
        }
        self.shutting_down = true;
        self.reconnect_at = None;
        self.opening = None;
        Ok(())
    }

    /// The transport failed or the broker closed it.
    fn connection_lost(&mut self) {
        self.link = Link::default();
        self.client.handle_closed(Instant::now());
    }

    /// Writes what is left, the last packets the client handed out with its close
    /// (acknowledgements, DISCONNECT) included, and closes the transport.
    async fn close_link(&mut self) {
        let mut link = std::mem::take(&mut self.link);
        let Some(writer) = link.writer.as_mut() else { return };
        let written = tokio::time::timeout(CLOSE_GRACE, async {
            writer.write_all(&link.outgoing).await?;
            writer.flush().await
        })
        .await;
        if matches!(written, Ok(Ok(()))) {
            self.settle_qos0(true, Ok(()));
            let _ = tokio::time::timeout(CLOSE_GRACE, writer.shutdown()).await;
        }
    }

    /// The connection is over and closed: stop, give up or try again.
    fn after_disconnect(&mut self, reason: DisconnectReason) {
        self.settle_qos0(false, Err(ClientError::ConnectionLost));
        if self.shutting_down {
            self.stopped = true;
            return;
        }
        if let Some(ready) = self.ready.take() {
            let error = match reason {
                DisconnectReason::Refused { reason_code, .. } => ConnectError::Refused(reason_code),
                reason => ConnectError::Closed(reason),
            };
            let _ = ready.send(Err(error));
            self.stopped = true;
            return;
        }
        tracing::warn!(url = %self.dialer.url, ?reason, "connection lost");
        match reason {
            DisconnectReason::Refused { reason_code, .. } => self.give_up(ClientError::ReconnectRefused(reason_code)),
            _ => self.schedule_reconnect(),
        }
    }

    fn schedule_reconnect(&mut self) {
        let reconnect = self.dialer.reconnect;
        if reconnect.max_retries.is_some_and(|max| self.retries >= max) {
            return self.give_up(ClientError::RetriesExhausted { attempts: self.retries });
        }
        let delay = reconnect.delay(self.retries);
        self.retries += 1;
        self.reconnect_at = Instant::now().checked_add(delay);
    }

    /// Fails everything waiting and ends every subscription: nothing will come any more.
    fn give_up(&mut self, error: ClientError) {
        if self.gone.is_none() && error != ClientError::Closed {
            tracing::warn!(%error, "the client gives up");
        }
        for (_, done) in self.publishes.drain() {
            let _ = done.send(Err(error.clone()));
        }
        for (_, pending) in self.subscribes.drain() {
            let _ = pending.done.send(Err(error.clone()));
        }
        for (_, done) in self.unsubscribes.drain() {
            let _ = done.send(Err(error.clone()));
        }
        self.routes.clear();
        self.reconnect_at = None;
        self.gone.get_or_insert(error);
    }
}

async fn read_some(reader: &mut Option<ReadHalf<Box<dyn Transport>>>, buffer: &mut BytesMut) -> io::Result<usize> {
    let Some(reader) = reader.as_mut() else { return std::future::pending().await };
    buffer.reserve(READ_CHUNK);
    reader.read_buf(buffer).await
}

/// Writes some of `outgoing`, or flushes once it is all written; `true` when flushed.
async fn write_some(
    writer: &mut Option<WriteHalf<Box<dyn Transport>>>,
    outgoing: &mut BytesMut,
    unflushed: &mut bool,
) -> io::Result<bool> {
    let Some(writer) = writer.as_mut() else { return std::future::pending().await };
    if !outgoing.is_empty() {
        let written = writer.write(outgoing).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        outgoing.advance(written);
        *unflushed = true;
        return Ok(false);
    }
    if !*unflushed {
        return std::future::pending().await;
    }
    writer.flush().await?;
    *unflushed = false;
    Ok(true)
}

/// Room in the first subscription the blocked message waits for; never, without one.
async fn room(blocked: &Option<Blocked>) -> (u64, Result<mpsc::OwnedPermit<Message>, mpsc::error::SendError<()>>) {
    match blocked.as_ref().and_then(|blocked| blocked.waiting.front()) {
        Some((id, sender)) => (*id, sender.clone().reserve_owned().await),
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

async fn finish_opening(opening: &mut Option<Opening>) -> Result<Box<dyn Transport>, ConnectError> {
    match opening {
        Some(opening) => opening.await,
        None => std::future::pending().await,
    }
}
