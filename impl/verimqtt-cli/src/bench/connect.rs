//! Connecting the load's clients: one set of client options and TLS settings for all, a
//! client identifier each, and no reconnection (a lost connection is a result, not something
//! to hide). Subscribers are async clients; publishers drive a sans-IO client themselves.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use verimqtt::client::ClientOptions;
use verimqtt::codec::{Binary, MqttString};
use verimqtt::runtime::client::{AsyncClient, AsyncClientOptions, BrokerUrl, Reconnect, tls_config};

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
        options.tls = match (&args.cafile, args.insecure) {
            (Some(cafile), _) => Some(tls_config(cafile, None).map_err(|error| format!("--cafile: {error}"))?),
            (None, true) if settings.url.scheme.is_tls() => Some(insecure_tls()),
            (None, _) => None,
        };
        Ok(Connector { options, url: settings.url.clone() })
    }

    /// A subscriber: an async client, whose subscriptions are streams of messages.
    pub async fn connect(&self, client_id: String) -> Result<AsyncClient, String> {
        let mut options = self.options.clone();
        options.client.client_id = client_id_of(&client_id)?;
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
        let link = tokio::time::timeout(timeout, Link::open(&self.url, self.options.tls.clone()))
            .await
            .map_err(|_| format!("{client_id}: cannot connect to {} within {timeout:?}", self.url))?
            .map_err(|error| format!("{client_id}: {error}"))?;
        Connection::open(link, options, timeout).await.map_err(|error| format!("{client_id}: {error}"))
    }
}

fn client_id_of(client_id: &str) -> Result<MqttString, String> {
    MqttString::try_from(client_id).map_err(|error| format!("invalid client id {client_id:?}: {error}"))
}

/// TLS that checks the handshake's signatures but trusts any certificate: `--insecure`.
fn insecure_tls() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(TrustAnything(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

#[derive(Debug)]
struct TrustAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for TrustAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
