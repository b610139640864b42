//! Which broker the suite runs against: the one `MQTT_BROKER` names, or the embedded one, run
//! in a child process under supervision (see [`crate::embedded`]).

use std::fmt;

use crate::embedded::SupervisedBroker;

/// The environment variable that names the broker under test, e.g. `mqtt://127.0.0.1:1883`.
pub const BROKER_VARIABLE: &str = "MQTT_BROKER";

/// The port MQTT over plain TCP listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 1883;

/// Where the scenarios connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A broker someone else runs.
    Broker(BrokerAddress),
    /// verimqtt's own broker, started in-process on an ephemeral loopback port.
    Embedded,
}

impl Target {
    /// The target `MQTT_BROKER` names; unset or empty means the embedded broker.
    pub fn from_env() -> Result<Self, TargetError> {
        match std::env::var(BROKER_VARIABLE) {
            Ok(url) if !url.trim().is_empty() => Ok(Target::Broker(BrokerAddress::parse(url.trim())?)),
            _ => Ok(Target::Embedded),
        }
    }
}

/// A broker reachable over plain TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
}

/// Why a broker URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{url:?}: the scheme must be mqtt:// or tcp:// (TLS and WebSocket targets are not supported yet)")]
    UnsupportedScheme { url: String },
    #[error("{url:?}: no host")]
    MissingHost { url: String },
    #[error("{url:?}: {port:?} is not a port number")]
    InvalidPort { url: String, port: String },
    #[error("{url:?}: a broker URL has no path, query or credentials")]
    UnexpectedPart { url: String },
}

impl BrokerAddress {
    /// Parses `mqtt://host[:port]` (or `tcp://`); IPv6 hosts go in brackets.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let rest = ["mqtt://", "tcp://"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme))
            .ok_or_else(|| TargetError::UnsupportedScheme { url: url.to_string() })?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) {
            return Err(TargetError::UnexpectedPart { url: url.to_string() });
        }
        let (host, port) = split_host_port(authority);
        if host.is_empty() {
            return Err(TargetError::MissingHost { url: url.to_string() });
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(port) => port
                .parse()
                .ok()
                .filter(|&port| port != 0)
                .ok_or_else(|| TargetError::InvalidPort { url: url.to_string(), port: port.to_string() })?,
        };
        Ok(BrokerAddress { host: host.to_string(), port })
    }
}

/// Splits `host:port`, `[v6]:port`, `host` or `[v6]`; brackets are kept off the host.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if let Some(bracketed) = authority.strip_prefix('[') {
        return match bracketed.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, rest)) => (host, Some(rest.strip_prefix(':').unwrap_or(rest))),
            None => ("", None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

impl BrokerAddress {
    /// The first socket address the host name resolves to.
    pub fn resolve(&self) -> std::io::Result<std::net::SocketAddr> {
        use std::net::ToSocketAddrs;
        (self.host.as_str(), self.port).to_socket_addrs()?.next().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} resolves to no address", self.host))
        })
    }
}

impl fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "mqtt://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "mqtt://{}:{}", self.host, self.port)
        }
    }
}

/// The broker a run talks to, started if it is the embedded one (and stopped when this is
/// dropped).
pub struct TargetBroker {
    address: std::net::SocketAddr,
    name: String,
    /// Held for its lifetime: dropping it stops the embedded broker.
    _embedded: Option<SupervisedBroker>,
}

impl TargetBroker {
    /// The broker `url` names, else the one `MQTT_BROKER` names, else the embedded broker.
    pub fn start(url: Option<&str>) -> Result<Self, String> {
        let target = match url {
            Some(url) => Target::Broker(BrokerAddress::parse(url).map_err(|error| error.to_string())?),
            None => Target::from_env().map_err(|error| format!("{BROKER_VARIABLE}: {error}"))?,
        };
        match target {
            Target::Broker(address) => Ok(TargetBroker {
                address: address.resolve().map_err(|error| format!("{address}: {error}"))?,
                name: address.to_string(),
                _embedded: None,
            }),
            Target::Embedded => {
                let broker =
                    SupervisedBroker::start().map_err(|error| format!("cannot start the embedded broker: {error}"))?;
                Ok(TargetBroker {
                    address: broker.address(),
                    name: format!(
                        "embedded verimqtt {} (mqtt://{}, in a child process)",
                        env!("CARGO_PKG_VERSION"),
                        broker.address()
                    ),
                    _embedded: Some(broker),
                })
            }
        }
    }

    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    /// How reports name the broker.
    pub fn name(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(host: &str, port: u16) -> BrokerAddress {
        BrokerAddress { host: host.to_string(), port }
    }

    #[test]
    fn host_and_port_are_read_from_mqtt_and_tcp_urls() {
        assert_eq!(BrokerAddress::parse("mqtt://127.0.0.1:1884"), Ok(address("127.0.0.1", 1884)));
        assert_eq!(BrokerAddress::parse("tcp://broker.example:8883/"), Ok(address("broker.example", 8883)));
        assert_eq!(BrokerAddress::parse("mqtt://[::1]:1885"), Ok(address("::1", 1885)));
    }

    #[test]
    fn the_port_defaults_to_1883() {
        assert_eq!(BrokerAddress::parse("mqtt://localhost"), Ok(address("localhost", 1883)));
        assert_eq!(BrokerAddress::parse("mqtt://[::1]"), Ok(address("::1", 1883)));
    }

    #[test]
    fn unusable_urls_are_rejected_with_the_reason() {
        let url = |text: &str| text.to_string();
        assert_eq!(
            BrokerAddress::parse("mqtts://host:8883"),
            Err(TargetError::UnsupportedScheme { url: url("mqtts://host:8883") })
        );
        assert_eq!(BrokerAddress::parse("mqtt://:1883"), Err(TargetError::MissingHost { url: url("mqtt://:1883") }));
        assert_eq!(
            BrokerAddress::parse("mqtt://host:0"),
            Err(TargetError::InvalidPort { url: url("mqtt://host:0"), port: url("0") })
        );
        assert_eq!(
            BrokerAddress::parse("mqtt://host:99999"),
            Err(TargetError::InvalidPort { url: url("mqtt://host:99999"), port: url("99999") })
        );
        assert_eq!(
            BrokerAddress::parse("mqtt://user:pw@host"),
            Err(TargetError::UnexpectedPart { url: url("mqtt://user:pw@host") })
        );
    }

    #[test]
    fn display_round_trips() {
        for url in ["mqtt://127.0.0.1:1884", "mqtt://[::1]:1883"] {
            assert_eq!(BrokerAddress::parse(url).unwrap().to_string(), url);
        }
    }
}
