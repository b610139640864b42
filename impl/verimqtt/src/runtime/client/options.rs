//! How an [`AsyncClient`](super::AsyncClient) connects, and reconnects.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use crate::client::ClientOptions;

/// The async client's options: the state machine's, and what the runtime adds.
#[derive(Debug, Clone)]
pub struct AsyncClientOptions {
    /// Version, client identifier, keep alive, session, will, credentials, limits. A user and
    /// password in the URL replace `username` and `password`. For a session that survives a
    /// reconnection, set `clean_start` false (3.1.1) or a `session_expiry_interval` (5.0);
    /// to resume the session a previous process left, set `clean_start` false in both.
    pub client: ClientOptions,
    /// Needed for `mqtts://` and `wss://` ([`TlsSettings::client_config`](super::TlsSettings::client_config) builds one).
    pub tls: Option<Arc<ClientConfig>>,
    /// When and how often to reconnect after the connection is lost.
    pub reconnect: Reconnect,
    /// How long the TCP, TLS and WebSocket handshakes of one attempt may take together.
    pub connect_timeout: Duration,
    /// Messages a [`Subscription`](super::Subscription) holds for the application (at
    /// least 1). When one is full, the client stops reading from the broker until the
    /// application takes a message, and the broker holds back the publishers: a slow
    /// application slows the flow down instead of growing memory. Messages that arrive
    /// before any subscription wants them are kept, this many at most (the oldest given up).
    pub subscription_capacity: usize,
    /// Log every packet sent and received, every connection opened and closed and every
    /// timer that fires, at `DEBUG` level with the target `verimqtt::packets` (what
    /// `verimqtt sub -d` prints). Off by default: each event costs a line built.
    pub log_packets: bool,
    /// The local address connections leave from (mosquitto's clients' `-A`), to choose the
    /// interface; `None` lets the system choose. Not used for `unix://`.
    pub local_address: Option<IpAddr>,
}

impl AsyncClientOptions {
    /// `client`'s options with the runtime's defaults: no TLS, reconnection from 100 ms doubling to 30 s forever, a 10 s connect timeout, 1024 messages per subscription, no packet log, any local address.
    pub fn new(client: ClientOptions) -> Self {
        AsyncClientOptions {
            client,
            tls: None,
            reconnect: Reconnect::default(),
            connect_timeout: Duration::from_secs(10),
            subscription_capacity: 1024,
            log_packets: false,
            local_address: None,
        }
    }
}

/// When to try again after the connection is lost: after `initial_delay`, then twice as
/// long each time up to `max_delay`, at most `max_retries` times in a row (`None`: forever).
/// A connection the broker accepts starts the count again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// The wait before the first attempt.
    pub initial_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// Attempts in a row before giving up; `None`: never give up.
    pub max_retries: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect { initial_delay: Duration::from_millis(100), max_delay: Duration::from_secs(30), max_retries: None }
    }
}

impl Reconnect {
    /// Never reconnect: a lost connection ends the client.
    pub const NEVER: Reconnect =
        Reconnect { initial_delay: Duration::ZERO, max_delay: Duration::ZERO, max_retries: Some(0) };

    /// The wait before retry number `retry` (from 0).
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.initial_delay.saturating_mul(factor).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let reconnect = Reconnect {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_retries: None,
        };
        let delays: Vec<_> = (0..6).map(|retry| reconnect.delay(retry).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(reconnect.delay(u32::MAX), Duration::from_secs(1));
    }
}
