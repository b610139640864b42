//! Which broker the suite runs against: the one a URL names (`mqtt://`, `mqtts://`, `ws://`,
//! `wss://`, parsed as verimqtt's client parses it), or the embedded one, run in a child
//! process under supervision (see [`crate::embedded`]).

use std::sync::Arc;

use rustls::ClientConfig;
use verimqtt::runtime::client::BrokerUrl;

use crate::connection::Endpoint;
use crate::embedded::SupervisedBroker;

/// The environment variable that names the broker under test, e.g. `mqtt://127.0.0.1:1883`.
pub const BROKER_VARIABLE: &str = "MQTT_BROKER";

/// The broker a run talks to, started if it is the embedded one (and stopped when this is
/// dropped).
pub struct TargetBroker {
    endpoint: Endpoint,
    name: String,
    /// Held for its lifetime: dropping it stops the embedded broker.
    _embedded: Option<SupervisedBroker>,
}

impl TargetBroker {
    /// The broker `url` names (reached with `tls` for `mqtts://` and `wss://`), else the
    /// embedded broker.
    pub fn start(url: Option<BrokerUrl>, tls: Option<Arc<ClientConfig>>) -> Result<Self, String> {
        match url {
            Some(url) => {
                let name = url.to_string();
                Ok(TargetBroker { endpoint: Endpoint { url, tls }, name, _embedded: None })
            }
            None => {
                let broker =
                    SupervisedBroker::start().map_err(|error| format!("cannot start the embedded broker: {error}"))?;
                let url = format!("mqtt://{}", broker.address());
                let name = format!("embedded verimqtt {} ({url}, in a child process)", env!("CARGO_PKG_VERSION"));
                let url = url.parse().map_err(|error| format!("{url}: {error}"))?;
                Ok(TargetBroker { endpoint: Endpoint { url, tls: None }, name, _embedded: Some(broker) })
            }
        }
    }

    /// The broker, named in reports as reached without checking its certificate.
    pub fn insecure(self) -> Self {
        let name = format!("{} (INSECURE: its TLS certificate was not checked)", self.name);
        TargetBroker { name, ..self }
    }

    /// Where the broker is and how to reach it.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How reports name the broker (its URL, without the password).
    pub fn name(&self) -> String {
        self.name.clone()
    }
}
