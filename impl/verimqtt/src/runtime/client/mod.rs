//! An async MQTT client for tokio, a thin driver around the sans-IO
//! [`Client`]: one task owns the state machine and the transport,
//! the handles talk to it over channels, and time goes in as `Instant`.
//!
//! - [`AsyncClient::connect`] takes a URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`, with an
//!   optional `user:password@`) and resolves once the broker accepted the connection.
//! - [`AsyncClient::publish`] resolves when the message is complete for its QoS: written
//!   (QoS 0), acknowledged by PUBACK (QoS 1) or PUBCOMP (QoS 2); a failure reason code, a
//!   connection that cannot be recovered or a client shut down fail it.
//! - [`AsyncClient::subscribe`] returns a [`Subscription`], a `Stream` of the messages
//!   matching its filter; dropping it unsubscribes.
//! - A lost connection is reopened after a capped exponential backoff ([`Reconnect`]); the
//!   state machine resumes the session and sends unacknowledged messages again with DUP.
//!   When the broker kept no session, the client subscribes again to what its live
//!   subscriptions want.
//! - [`AsyncClient::disconnect`] sends DISCONNECT and ends the client.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use verimqtt::client::ClientOptions;
//! use verimqtt::codec::{MqttString, ProtocolVersion, QoS};
//! use verimqtt::runtime::client::{AsyncClient, AsyncClientOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let options = ClientOptions::new(ProtocolVersion::V5, MqttString::try_from("sensor-1")?);
//! let client = AsyncClient::connect("mqtt://127.0.0.1:1883", AsyncClientOptions::new(options)).await?;
//! let mut temperatures = client.subscribe("sensors/+/temperature", QoS::AtLeastOnce).await?;
//! client.publish("sensors/1/temperature", "21.5", QoS::ExactlyOnce, false).await?;
//! if let Some(message) = temperatures.next().await {
//!     println!("{} {:?}", message.topic, message.payload);
//! }
//! client.disconnect().await;
//! # Ok(())
//! # }
//! ```
//!
//! Messages a subscription has not read yet wait in an unbounded queue, so that a task
//! awaiting a publish while it does not read its subscriptions never blocks the connection.
//! MQTT 5 enhanced authentication (an `authentication_method`) is not supported.

mod blocking;
mod driver;
mod error;
mod options;
mod subscription;
mod tls;
mod transport;
mod url;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

pub use blocking::{BlockingClient, BlockingError, BlockingSubscription};
pub use error::{ClientError, ConnectError};
pub use options::{AsyncClientOptions, Reconnect};
pub use subscription::{Message, Subscription};
pub use tls::{INSECURE_WARNING, TlsSettings, TlsVersion};
pub use transport::{Transport, open as open_transport, open_from as open_transport_from};
pub use url::{BrokerUrl, Scheme, UrlError};

use crate::client::Client;
use crate::codec::{
    self, Binary, Disconnect, MqttString, Properties, ProtocolVersion, QoS, ReasonCode, SubscriptionOptions,
};
use driver::{Command, Dialer, Driver};

/// Logs what the client does, one line per event (`AsyncClientOptions::log_packets`).
struct PacketLog;

impl crate::trace::Observer for PacketLog {
    fn observe(&mut self, _now: std::time::Instant, event: crate::trace::Event) {
        tracing::debug!(target: crate::runtime::packet_log::TARGET, "{}", crate::trace::describe(&event));
    }
}

/// A handle on a connected client; clones share the connection. The client ends when
/// [`disconnect`](AsyncClient::disconnect) is called, or when every handle and every
/// subscription is dropped (it then disconnects as well).
#[derive(Debug, Clone)]
pub struct AsyncClient {
    commands: mpsc::UnboundedSender<Command>,
    version: ProtocolVersion,
    subscription_capacity: usize,
}

impl AsyncClient {
    /// Connects to the broker at `url` and waits for its CONNACK. The first attempt is not
    /// retried: its failure is returned. Must be called within a tokio runtime.
    pub async fn connect(url: &str, options: AsyncClientOptions) -> Result<AsyncClient, ConnectError> {
        Self::connect_to(url.parse()?, options).await
    }

    /// [`connect`](AsyncClient::connect) to a URL already parsed.
    pub async fn connect_to(url: BrokerUrl, options: AsyncClientOptions) -> Result<AsyncClient, ConnectError> {
        let AsyncClientOptions {
            client: mut client_options,
            tls,
            reconnect,
            connect_timeout,
            subscription_capacity,
            log_packets,
            local_address,
        } = options;
        let subscription_capacity = subscription_capacity.max(1);
        if let Some(username) = &url.username {
            client_options.username = Some(MqttString::try_from(username.as_str()).map_err(ConnectError::Credentials)?);
        }
        if let Some(password) = &url.password {
            client_options.password = Some(Binary::try_from(password.as_bytes()).map_err(ConnectError::Credentials)?);
        }
        if client_options.authentication_method.is_some() {
            return Err(ConnectError::EnhancedAuthentication);
        }
        if url.scheme.is_tls() && tls.is_none() {
            return Err(ConnectError::TlsNotConfigured(url.to_string()));
        }
        let version = client_options.protocol_version;
        let mut client = Client::new(client_options)?;
        if log_packets {
            client.set_observer(Some(Box::new(PacketLog)));
        }
        let (commands, receiver) = mpsc::unbounded_channel();
        let (ready, connected) = oneshot::channel();
        let dialer = Dialer { url, tls, timeout: connect_timeout, reconnect, local_address };
        tokio::spawn(Driver::new(client, dialer, receiver, ready, subscription_capacity).run());
        connected.await.map_err(|_| ConnectError::Stopped)??;
        Ok(AsyncClient { commands, version, subscription_capacity })
    }

    /// The protocol version the client speaks, from its options.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// Publishes `payload` on `topic` and waits until it is complete for its QoS.
    pub async fn publish(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<(), ClientError> {
        self.publish_with_properties(topic, payload, qos, retain, Properties::default()).await
    }

    /// [`publish`](AsyncClient::publish) with MQTT 5 properties.
    pub async fn publish_with_properties(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
        properties: Properties,
    ) -> Result<(), ClientError> {
        let topic = MqttString::try_from(topic).map_err(ClientError::InvalidTopic)?;
        let payload = payload.into();
        self.request(|done| Command::Publish { topic, payload, qos, retain, properties, done }).await
    }

    /// Subscribes to `filter` with a maximum QoS of `qos`; the SUBACK must grant it.
    pub async fn subscribe(&self, filter: &str, qos: QoS) -> Result<Subscription, ClientError> {
        let filter = MqttString::try_from(filter).map_err(ClientError::InvalidTopic)?;
        self.subscribe_many(vec![codec::Subscription { filter, options: SubscriptionOptions::new(qos) }]).await
    }

    /// One subscription for several filters: each message matching any of them comes once.
    /// The SUBACK must grant every one.
    pub async fn subscribe_many(&self, subscriptions: Vec<codec::Subscription>) -> Result<Subscription, ClientError> {
        self.subscribe_filters(subscriptions, Properties::default(), false).await
    }

    /// [`subscribe_many`](AsyncClient::subscribe_many) that keeps the filters the broker
    /// grants when it refuses others: [`Subscription::granted`] tells which (a failure code
    /// for each refused filter). Fails only when every filter is refused.
    /// The SUBSCRIBE carries `properties` (MQTT 5: a Subscription Identifier, User
    /// Properties).
    pub async fn subscribe_granted(
        &self,
        subscriptions: Vec<codec::Subscription>,
        properties: Properties,
    ) -> Result<Subscription, ClientError> {
        self.subscribe_filters(subscriptions, properties, true).await
    }

    async fn subscribe_filters(
        &self,
        subscriptions: Vec<codec::Subscription>,
        properties: Properties,
        partial: bool,
    ) -> Result<Subscription, ClientError> {
        let (messages, receiver) = mpsc::channel(self.subscription_capacity);
        let (id, granted) =
            self.request(|done| Command::Subscribe { subscriptions, properties, messages, partial, done }).await?;
        Ok(Subscription::new(id, granted, receiver, self.commands.clone()))
    }

    /// The messages no [`Subscription`] of this client wants, as a [`Subscription`] with no
    /// filters of its own (dropping it unsubscribes from nothing): those a resumed session
    /// brings for the filters of an earlier connection, first those that arrived before this
    /// call. Tools that print whatever arrives (mosquitto_sub does) read it besides their
    /// subscriptions.
    pub async fn unclaimed(&self) -> Result<Subscription, ClientError> {
        let (messages, receiver) = mpsc::channel(self.subscription_capacity);
        let id = self.request(|done| Command::Unclaimed { messages, done }).await?;
        Ok(Subscription::new(id, Vec::new(), receiver, self.commands.clone()))
    }

    /// Unsubscribes from `filters`, whichever subscription made them (one of this client's,
    /// or one its persistent session kept from an earlier connection), and waits for the
    /// UNSUBACK: its reason codes, one per filter (MQTT 5; 3.1.1's UNSUBACK has none, so
    /// each is Success). A [`Subscription`] using one of them stays open and gets nothing
    /// more on it.
    pub async fn unsubscribe(&self, filters: &[&str]) -> Result<Vec<ReasonCode>, ClientError> {
        self.unsubscribe_with_properties(filters, Properties::default()).await
    }

    /// [`unsubscribe`](AsyncClient::unsubscribe) with MQTT 5 properties (User Properties).
    pub async fn unsubscribe_with_properties(
        &self,
        filters: &[&str],
        properties: Properties,
    ) -> Result<Vec<ReasonCode>, ClientError> {
        let filters = filters
            .iter()
            .map(|filter| MqttString::try_from(*filter).map_err(ClientError::InvalidTopic))
            .collect::<Result<Vec<_>, _>>()?;
        let count = filters.len();
        let codes = self.request(|done| Command::UnsubscribeFilters { filters, properties, done }).await?;
        Ok(if codes.is_empty() { vec![ReasonCode::Success; count] } else { codes })
    }

    /// Sends DISCONNECT, closes the connection and ends the client: what is still waiting
    /// fails with [`ClientError::Closed`].
    pub async fn disconnect(&self) {
        // A plain DISCONNECT is never refused; a client already ended has nothing to end.
        let _ = self.disconnect_with(Disconnect::new(ReasonCode::Success)).await;
    }

    /// [`disconnect`](AsyncClient::disconnect) with `packet`: a reason code (MQTT 5 0x04
    /// publishes the will) and properties (a new Session Expiry Interval, User Properties).
    /// A packet the client cannot send ([`ClientError::Command`]: a Session Expiry Interval
    /// after a CONNECT with none (section 3.14.2.2.2), too big for the server) ends nothing.
    pub async fn disconnect_with(&self, packet: Disconnect) -> Result<(), ClientError> {
        match self.request(|done| Command::Disconnect { packet, done }).await {
            // The driver ending without a word has finished as well.
            Err(ClientError::Closed) => Ok(()),
            other => other,
        }
    }

    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, ClientError>>) -> Command,
    ) -> Result<T, ClientError> {
        let (done, answer) = oneshot::channel();
        self.commands.send(command(done)).map_err(|_| ClientError::Closed)?;
        answer.await.map_err(|_| ClientError::Closed)?
    }
}
