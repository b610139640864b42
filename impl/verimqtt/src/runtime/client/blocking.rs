//! The client without async: every call blocks until it is done or its timeout passes.
//!
//! It is the async client run on a runtime of its own, one background thread that keeps the
//! connection alive between calls (keep alive, reconnection, the session's resends), the way
//! `reqwest::blocking` wraps `reqwest`: the same sans-IO state machine, the same guarantees.
//! Must not be used from within an async runtime (blocking there would stall it).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::runtime::Runtime;

use super::{AsyncClient, AsyncClientOptions, ClientError, ConnectError, Message, Subscription};
use crate::codec::{ProtocolVersion, QoS};

/// Why a blocking call did not complete.
#[derive(Debug, thiserror::Error)]
pub enum BlockingError {
    /// The client refused or failed it, as the async client would have.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// It was not done within the client's timeout; a publish may still complete later.
    #[error("not done within {0:?}")]
    TimedOut(Duration),
}

/// A connected client whose calls block. Dropping it (and its subscriptions) disconnects.
#[derive(Debug)]
pub struct BlockingClient {
    runtime: Arc<Runtime>,
    client: AsyncClient,
    timeout: Option<Duration>,
}

impl BlockingClient {
    /// Connects to the broker at `url` (`mqtt://`, `mqtts://`, `ws://`, `wss://`) and waits
    /// for its CONNACK, [`AsyncClientOptions::connect_timeout`] at most.
    pub fn connect(url: &str, options: AsyncClientOptions) -> Result<BlockingClient, ConnectError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("verimqtt-blocking-client")
            .enable_all()
            .build()
            .map_err(|source| ConnectError::Io { target: url.to_owned(), source })?;
        let client = runtime.block_on(AsyncClient::connect(url, options))?;
        Ok(BlockingClient { runtime: Arc::new(runtime), client, timeout: None })
    }

    /// The longest any later call waits (`None`, the default: as long as it takes).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The protocol version the client speaks.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.client.protocol_version()
    }

    /// Publishes `payload` on `topic` and returns once it is complete for its QoS: written
    /// (QoS 0), acknowledged by PUBACK (QoS 1) or by PUBCOMP (QoS 2).
    pub fn publish(&self, topic: &str, payload: impl Into<Bytes>, qos: QoS, retain: bool) -> Result<(), BlockingError> {
        let payload = payload.into();
        block(&self.runtime, self.timeout, self.client.publish(topic, payload, qos, retain))?.map_err(Into::into)
    }

    /// Subscribes to `filter` with a maximum QoS of `qos` and returns once the SUBACK granted
    /// it; the messages are read from the returned subscription.
    pub fn subscribe(&self, filter: &str, qos: QoS) -> Result<BlockingSubscription, BlockingError> {
        let subscription = block(&self.runtime, self.timeout, self.client.subscribe(filter, qos))??;
        Ok(BlockingSubscription { runtime: Arc::clone(&self.runtime), subscription })
    }

    /// Sends DISCONNECT and closes the connection; no will is published.
    pub fn disconnect(self) {
        self.runtime.block_on(self.client.disconnect());
    }
}

/// The messages of one subscription, read one by one; an iterator that ends when the client
/// does. Dropping it unsubscribes.
#[derive(Debug)]
pub struct BlockingSubscription {
    runtime: Arc<Runtime>,
    subscription: Subscription,
}

impl BlockingSubscription {
    /// The next message, waiting as long as it takes; `None` once the client has ended.
    pub fn recv(&mut self) -> Option<Message> {
        self.runtime.block_on(self.subscription.next())
    }

    /// The next message if one comes within `timeout`: `Ok(None)` once the client has
    /// ended, `Err` when the time ran out.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, BlockingError> {
        block(&self.runtime, Some(timeout), self.subscription.next())
    }
}

impl Iterator for BlockingSubscription {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        self.recv()
    }
}

/// Runs `work` to its end on `runtime`, or until `timeout` passes.
fn block<T>(runtime: &Runtime, timeout: Option<Duration>, work: impl Future<Output = T>) -> Result<T, BlockingError> {
    match timeout {
        None => Ok(runtime.block_on(work)),
        Some(limit) => runtime
            .block_on(async { tokio::time::timeout(limit, work).await })
            .map_err(|_| BlockingError::TimedOut(limit)),
    }
}
