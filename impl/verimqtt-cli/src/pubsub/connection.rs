//! The connection flags `verimqtt pub` and `verimqtt sub` share, spelt as mosquitto_pub and
//! mosquitto_sub spell them, and the async client they describe.

use std::io::IsTerminal;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};
use verimqtt::client::ClientOptions;
use verimqtt::codec::{Binary, Disconnect, MqttString, ProtocolVersion, QoS, ReasonCode, Will};
use verimqtt::runtime::client::{
    AsyncClient, AsyncClientOptions, BrokerUrl, ConnectError, INSECURE_WARNING, Reconnect, Scheme, TlsSettings,
};

use super::Failure;
use super::properties::{Command, PropertyFlags};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Version {
    #[value(name = "mqttv311", alias = "311")]
    V311,
    #[value(name = "mqttv5", alias = "5")]
    V5,
}

#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Broker host.
    #[arg(short = 'h', long = "host", default_value = "localhost")]
    host: String,
    /// Broker port (default 1883, or 8883 with --cafile).
    #[arg(short = 'p', long = "port")]
    port: Option<u16>,
    /// The broker as a URL instead of -h and -p: mqtt|mqtts|ws|wss://[user[:password]@]host[:port]/topic;
    /// its path is the topic.
    #[arg(short = 'L', long = "url", value_name = "URL", conflicts_with_all = ["host", "port"])]
    url: Option<String>,
    /// Connect through this Unix domain socket instead of TCP (mosquitto's `listener 0 PATH`).
    #[arg(long = "unix", value_name = "PATH", conflicts_with_all = ["host", "port", "url"])]
    unix: Option<String>,
    /// Leave from this local address, to choose the interface the connection uses.
    #[arg(short = 'A', value_name = "ADDRESS")]
    bind_address: Option<std::net::IpAddr>,
    /// Client identifier (default verimqtt-pub-PID or verimqtt-sub-PID).
    #[arg(short = 'i', long = "id")]
    id: Option<String>,
    /// Client identifier made of this prefix and the process id (for brokers that accept only
    /// some prefixes).
    #[arg(short = 'I', long = "id-prefix", conflicts_with = "id")]
    id_prefix: Option<String>,
    /// Keep alive in seconds; 0 turns it off.
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    keep_alive: u16,
    /// Username to authenticate with.
    #[arg(short = 'u', long = "username")]
    username: Option<String>,
    /// Password to authenticate with.
    #[arg(short = 'P', long = "pw")]
    password: Option<String>,
    /// MQTT version.
    #[arg(short = 'V', long = "protocol-version", value_enum, default_value = "mqttv311")]
    version: Version,
    /// Keep the session when disconnected (Clean Session 0; MQTT 5: a session that never
    /// expires); needs -i to find it again.
    #[arg(short = 'c', long = "disable-clean-session", requires = "id")]
    persistent: bool,
    /// MQTT 5 Session Expiry Interval in seconds: -1 (or ∞) for a session that never expires.
    /// Default: never with -c, 0 without.
    #[arg(short = 'x', long = "session-expiry-interval", allow_hyphen_values = true, value_parser = parse_expiry)]
    session_expiry: Option<u32>,
    /// An MQTT 5 property: -D COMMAND IDENTIFIER VALUE, as mosquitto's tools take it (commands
    /// connect, will, and publish for pub; a user-property takes a name and a value); repeat
    /// for several.
    #[arg(short = 'D', long = "property", num_args = 3..=4, action = ArgAction::Append, value_names = ["COMMAND", "IDENTIFIER", "VALUE"])]
    properties: Vec<String>,
    /// Print no error messages.
    #[arg(long = "quiet")]
    pub quiet: bool,
    /// Topic of the will message the broker publishes if the client vanishes.
    #[arg(long = "will-topic", requires = "will_payload")]
    will_topic: Option<String>,
    /// Payload of the will message.
    #[arg(long = "will-payload", requires = "will_topic")]
    will_payload: Option<String>,
    /// QoS of the will message.
    #[arg(long = "will-qos", default_value_t = 0, value_parser = parse_qos)]
    will_qos: u8,
    /// Retain the will message.
    #[arg(long = "will-retain")]
    will_retain: bool,
    /// TLS: --cafile or --capath alone makes -h and -p name a TLS broker (as in mosquitto's
    /// clients).
    #[command(flatten)]
    tls: TlsSettings,
    /// Print what the client does on stderr: every packet sent and received, connections,
    /// reconnections, timers.
    #[arg(short = 'd', long = "debug")]
    debug: bool,
    /// Print help (-h is the host, as in mosquitto's clients).
    #[arg(long = "help", action = ArgAction::Help)]
    help: Option<bool>,
}

/// A QoS flag: 0, 1 or 2.
pub fn parse_qos(text: &str) -> Result<u8, String> {
    match text.parse::<u8>() {
        Ok(qos @ 0..=2) => Ok(qos),
        _ => Err(format!("{text:?} is not a QoS: 0, 1 or 2")),
    }
}

/// A session expiry flag: seconds, or -1, 4294967295 or ∞ for never.
fn parse_expiry(text: &str) -> Result<u32, String> {
    match text {
        "-1" | "∞" => Ok(u32::MAX),
        _ => text.parse().map_err(|_| format!("{text:?} is not a session expiry interval: seconds, or -1 for never")),
    }
}

/// The QoS a flag checked by [`parse_qos`] names.
pub fn qos(value: u8) -> QoS {
    QoS::from_u8(value).unwrap_or_default()
}

impl ConnectionArgs {
    /// The -D flags, checked; PUBLISH properties only for `pub`, SUBSCRIBE and UNSUBSCRIBE
    /// ones only for `sub`.
    pub fn property_flags(&self, command: &str) -> Result<PropertyFlags, Failure> {
        let command = if command == "pub" { Command::Pub } else { Command::Sub };
        let flags = PropertyFlags::parse(&self.properties, command)?;
        if !flags.is_empty() && matches!(self.version, Version::V311) {
            return Err("-D sets MQTT 5 properties: add -V mqttv5".into());
        }
        Ok(flags)
    }

    /// Connects to `url` as the flags say; `command` ("pub" or "sub") makes the default
    /// client identifier.
    pub async fn connect(&self, command: &str, url: BrokerUrl, reconnect: Reconnect) -> Result<AsyncClient, Failure> {
        let properties = self.property_flags(command)?;
        if self.debug {
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .init();
        }
        let version = match self.version {
            Version::V311 => ProtocolVersion::V311,
            Version::V5 => ProtocolVersion::V5,
        };
        let prefix = self.id_prefix.clone().unwrap_or_else(|| format!("verimqtt-{command}-"));
        let id = self.id.clone().unwrap_or_else(|| format!("{prefix}{}", std::process::id()));
        let mut client = ClientOptions::new(version, string("client id", &id)?);
        client.keep_alive = self.keep_alive;
        client.clean_start = !self.persistent;
        if version.is_v5() {
            let default = if self.persistent { u32::MAX } else { 0 };
            client.session_expiry_interval = self.session_expiry.unwrap_or(default);
        } else if self.session_expiry.is_some() {
            return Err("-x needs MQTT 5 (-V mqttv5)".into());
        }
        client.username = self.username.as_deref().map(|username| string("username", username)).transpose()?;
        client.password = self.password.as_deref().map(|password| binary("password", password)).transpose()?;
        if let (Some(topic), Some(payload)) = (&self.will_topic, &self.will_payload) {
            client.will = Some(Will {
                topic: string("will topic", topic)?,
                payload: binary("will payload", payload)?,
                qos: qos(self.will_qos),
                retain: self.will_retain,
                properties: properties.will.clone(),
            });
        }
        properties.apply_to_connect(&mut client);
        if properties.disconnect.session_expiry_interval.is_some_and(|seconds| seconds != 0)
            && client.session_expiry_interval == 0
        {
            return Err("-D disconnect session-expiry-interval: the session ends with the connection (no -x, no -c), \
                 so the DISCONNECT cannot keep it"
                .into());
        }
        let mut options = AsyncClientOptions::new(client);
        options.reconnect = reconnect;
        options.connect_timeout = Duration::from_secs(10);
        options.log_packets = self.debug;
        options.local_address = self.bind_address;
        if url.scheme.is_tls() {
            if self.tls.insecure {
                eprintln!("verimqtt {command}: {INSECURE_WARNING}");
            }
            options.tls = Some(self.tls.client_config().map_err(|error| Failure::from(error.to_string()))?);
        }
        AsyncClient::connect_to(url, options).await.map_err(|error| match error {
            ConnectError::Refused(code) => Failure::refused(code, version),
            error => Failure::from(error.to_string()),
        })
    }

    /// Ends the connection with a normal DISCONNECT (so no will is published) carrying the
    /// `-D disconnect` properties.
    pub async fn disconnect(client: &AsyncClient, properties: &PropertyFlags) -> Result<(), Failure> {
        let packet = Disconnect { reason_code: ReasonCode::Success, properties: properties.disconnect.clone() };
        client.disconnect_with(packet).await.map_err(|error| Failure::from(format!("cannot disconnect: {error}")))
    }

    /// The broker's URL, from -L or from -h, -p and --cafile, and the topic a -L URL names.
    pub fn url(&self) -> Result<(BrokerUrl, Option<String>), String> {
        if let Some(path) = &self.unix {
            return Ok((BrokerUrl::unix(path).map_err(|error| format!("--unix: {error}"))?, None));
        }
        let Some(url) = &self.url else {
            let tls = self.tls.cafile.is_some() || self.tls.capath.is_some() || self.tls.insecure;
            let scheme = if tls { Scheme::Mqtts } else { Scheme::Mqtt };
            let url = BrokerUrl {
                scheme,
                host: self.host.clone(),
                port: self.port.unwrap_or(scheme.default_port()),
                path: "/".into(),
                username: None,
                password: None,
            };
            return Ok((url, None));
        };
        let mut url: BrokerUrl = url.parse().map_err(|error| format!("-L: {error}"))?;
        // As in mosquitto, the path of -L is the topic.
        let topic = url.path.strip_prefix('/').filter(|topic| !topic.is_empty()).map(str::to_owned);
        url.path = "/".into();
        Ok((url, topic))
    }
}

fn string(what: &str, text: &str) -> Result<MqttString, String> {
    MqttString::try_from(text).map_err(|error| format!("invalid {what}: {error}"))
}

fn binary(what: &str, text: &str) -> Result<Binary, String> {
    Binary::try_from(text.as_bytes()).map_err(|error| format!("invalid {what}: {error}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    #[command(disable_help_flag = true)]
    struct Flags {
        #[command(flatten)]
        connection: ConnectionArgs,
    }

    fn url(args: &[&str]) -> (BrokerUrl, Option<String>) {
        let flags = Flags::try_parse_from([&["test"], args].concat()).unwrap();
        flags.connection.url().unwrap()
    }

    #[test]
    fn host_and_port_default_to_mosquittos() {
        let (plain, _) = url(&[]);
        assert_eq!((plain.scheme, plain.host.as_str(), plain.port), (Scheme::Mqtt, "localhost", 1883));
        let (tls, _) = url(&["--cafile", "ca.pem", "-h", "broker"]);
        assert_eq!((tls.scheme, tls.host.as_str(), tls.port), (Scheme::Mqtts, "broker", 8883));
        let (given, _) = url(&["-h", "10.0.0.1", "-p", "1884"]);
        assert_eq!((given.host.as_str(), given.port), ("10.0.0.1", 1884));
    }

    #[test]
    fn the_path_of_a_url_is_the_topic() {
        let (broker, topic) = url(&["-L", "mqtts://alice:secret@broker:8884/sensors/1/temperature"]);
        assert_eq!(topic.as_deref(), Some("sensors/1/temperature"));
        assert_eq!((broker.scheme, broker.port, broker.path.as_str()), (Scheme::Mqtts, 8884, "/"));
        assert_eq!((broker.username.as_deref(), broker.password.as_deref()), (Some("alice"), Some("secret")));
        assert_eq!(url(&["-L", "ws://broker/"]).1, None);
    }

    #[test]
    fn flags_that_cannot_go_together_are_refused() {
        for args in [&["-L", "mqtt://b/t", "-h", "a"][..], &["-c"], &["-V", "mqttv31"], &["--will-topic", "t"]] {
            assert!(Flags::try_parse_from([&["test"], args].concat()).is_err(), "{args:?}");
        }
    }
}
