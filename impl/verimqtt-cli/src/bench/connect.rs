//! Connecting the load's clients: one set of client options and TLS settings for all, a
//! client identifier each, and no reconnection (a lost connection is a result, not something
//! to hide). Subscribers are async clients; publishers drive a sans-IO client themselves.

use verimqtt::client::ClientOptions;
use verimqtt::codec::{Binary, MqttString};
use verimqtt::runtime::client::{AsyncClient, AsyncClientOptions, BrokerUrl, Reconnect};

use super::connection::Connection;
use super::link::Link;
use super::options::{BenchArgs, Settings};

pub struct Connector {
    options: AsyncClientOptions,
    url: BrokerUrl,
}

impl Connector {
    pub fn new(args: &BenchArgs, settings: &Settings) -> Result<Self, String> {
        let mut client = ClientOptions::new(settings.version, MqttString::default());
        client.keep_alive = settings.keep_alive;
        // Each publisher keeps its window: never refused for a full queue.
        client.max_in_flight = settings.inflight;
        client.max_queued = settings.inflight;
        let mut options = AsyncClientOptions::new(client);
        options.reconnect = Reconnect::NEVER;
        if settings.url.scheme.is_tls() {
            options.tls = Some(args.tls.client_config().map_err(|error| error.to_string())?);
        }
        Ok(Connector { options, url: settings.url.clone() })
    }

    /// A subscriber: an async client, whose subscriptions are streams of messages; with
    /// `persistent`, its session outlives its connection.
    pub async fn connect(&self, client_id: String, persistent: bool) -> Result<AsyncClient, String> {
        let mut options = self.options.clone();
        options.client.client_id = client_id_of(&client_id)?;
        if persistent {
            options.client.clean_start = false;
            if options.client.protocol_version.is_v5() {
                options.client.session_expiry_interval = 3600;
            }
        }
        AsyncClient::connect_to(self.url.clone(), options).await.map_err(|error| format!("{client_id}: {error}"))
    }

    /// A publisher: a sans-IO client on its own link.
    pub async fn open(&self, client_id: String) -> Result<Connection, String> {
        let mut options = self.options.client.clone();
        options.client_id = client_id_of(&client_id)?;
        if let Some(username) = &self.url.username {
            options.username =
                Some(MqttString::try_from(username.as_str()).map_err(|error| format!("username: {error}"))?);
        }
        if let Some(password) = &self.url.password {
            options.password =
                Some(Binary::try_from(password.as_bytes()).map_err(|error| format!("password: {error}"))?);
        }
        let timeout = self.options.connect_timeout;
        let link = Link::open(&self.url, self.options.tls.clone(), timeout)
            .await
            .map_err(|error| format!("{client_id}: {error}"))?;
        Connection::open(link, options, timeout).await.map_err(|error| format!("{client_id}: {error}"))
    }
}

fn client_id_of(client_id: &str) -> Result<MqttString, String> {
    MqttString::try_from(client_id).map_err(|error| format!("invalid client id {client_id:?}: {error}"))
}
