//! The flags of `verimqtt bench`, and the settings they come to once checked.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use verimqtt::codec::{ProtocolVersion, QoS};
use verimqtt::runtime::client::{BrokerUrl, TlsSettings};

use super::shape::Shape;
use super::stamp::STAMP_LEN;
use crate::pubsub::connection::{Version, parse_qos, qos};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  verimqtt bench --pairs 4 -q 1 -d 10 mqtt://127.0.0.1:1883
  verimqtt bench --fan-out 16 -q 2 -r 100 --json result.json mqtts://broker:8883 --cafile ca.pem
  verimqtt bench --fan-in 8 -n 10000 -V mqttv5 ws://alice:secret@broker:8080/mqtt")]
pub struct BenchArgs {
    /// The broker: mqtt|mqtts|ws|wss://[user[:password]@]host[:port][/websocket-path].
    #[arg(value_name = "URL", default_value = "mqtt://127.0.0.1:1883")]
    pub url: String,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// QoS of every publish and subscription: 0, 1 or 2.
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = parse_qos)]
    pub qos: u8,
    /// MQTT version.
    #[arg(short = 'V', long = "protocol-version", value_enum, default_value = "mqttv311")]
    pub version: Version,
    /// Payload size in bytes; at least 24 (the stamp: run, publisher, sequence number, time).
    #[arg(short = 's', long = "size", value_name = "BYTES", default_value_t = 64)]
    pub size: usize,
    /// Messages per second of each publisher; without it, as fast as the in-flight window
    /// allows.
    #[arg(short = 'r', long = "rate", value_name = "MSG/S")]
    pub rate: Option<f64>,
    /// Publishes of one publisher not yet complete at most: written (QoS 0), not yet
    /// acknowledged by PUBACK (QoS 1) or PUBCOMP (QoS 2).
    #[arg(short = 'w', long = "inflight", value_name = "N", default_value_t = 64)]
    pub inflight: u16,
    /// Seconds to publish for (the default, 10 s, unless -n is given).
    #[arg(short = 'd', long = "duration", value_name = "SECONDS", conflicts_with = "count")]
    pub duration: Option<f64>,
    /// Messages each publisher sends, instead of a duration.
    #[arg(short = 'n', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// After publishing, how long to wait for messages still on their way once none arrives.
    #[arg(long = "drain", value_name = "SECONDS", default_value_t = 2.0)]
    pub drain: f64,
    /// Topic prefix; publisher i publishes on PREFIX/i (default verimqtt-bench/RUN, RUN
    /// unique to this run).
    #[arg(short = 't', long = "topic", value_name = "PREFIX")]
    pub topic: Option<String>,
    /// Username to authenticate with (or in the URL).
    #[arg(short = 'u', long = "username")]
    pub username: Option<String>,
    /// Password to authenticate with (or in the URL).
    #[arg(short = 'P', long = "pw", value_name = "PASSWORD")]
    pub password: Option<String>,
    #[command(flatten)]
    pub tls: TlsSettings,
    /// Keep alive in seconds; 0 turns it off.
    #[arg(short = 'k', long = "keepalive", value_name = "SECONDS", default_value_t = 60)]
    pub keep_alive: u16,
    /// Subscribers keep sessions that outlive their connections (CleanSession 0 in 3.1.1, as
    /// mosquitto_sub -c; Clean Start 0 and a Session Expiry of an hour in 5.0): what a broker
    /// with persistence stores, each message for each subscriber.
    #[arg(long = "persistent-sessions")]
    pub persistent_sessions: bool,
    /// Write the result as JSON to FILE ("-": standard output, instead of the summary).
    #[arg(long = "json", value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// No progress bar (it is never drawn when standard error is not a terminal).
    #[arg(long = "no-progress")]
    pub no_progress: bool,
}

/// The load shape: exactly one of these (default: one pair).
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct ShapeArgs {
    /// N publishers, each with its own subscriber on its own topic.
    #[arg(long = "pairs", value_name = "N")]
    pub pairs: Option<u32>,
    /// N publishers on their own topics, one subscriber to all of them (PREFIX/+).
    #[arg(long = "fan-in", value_name = "N")]
    pub fan_in: Option<u32>,
    /// One publisher, N subscribers to its topic.
    #[arg(long = "fan-out", value_name = "N")]
    pub fan_out: Option<u32>,
}

/// When the publishers stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Until {
    Elapsed(Duration),
    Sent(u64),
}

/// The flags, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: BrokerUrl,
    pub shape: Shape,
    pub qos: QoS,
    pub version: ProtocolVersion,
    pub size: usize,
    /// Time between two messages of one publisher; `None`: as fast as possible.
    pub period: Option<Duration>,
    pub rate: Option<f64>,
    pub inflight: usize,
    pub until: Until,
    pub drain: Duration,
    pub prefix: String,
    pub run: u32,
    pub keep_alive: u16,
    pub persistent_sessions: bool,
}

impl BenchArgs {
    /// The settings the flags describe, for the run numbered `run`.
    pub fn settings(&self, run: u32) -> Result<Settings, String> {
        let mut url: BrokerUrl = self.url.parse().map_err(|error| format!("{}: {error}", self.url))?;
        if self.username.is_some() {
            url.username.clone_from(&self.username);
        }
        if self.password.is_some() {
            url.password.clone_from(&self.password);
        }
        let shape = match (self.shape.pairs, self.shape.fan_in, self.shape.fan_out) {
            (Some(n), _, _) => Shape::Pairs(n),
            (_, Some(n), _) => Shape::FanIn(n),
            (_, _, Some(n)) => Shape::FanOut(n),
            _ => Shape::Pairs(1),
        };
        if shape.clients() == 0 {
            return Err("a load needs at least one publisher and one subscriber".into());
        }
        if self.size < STAMP_LEN {
            return Err(format!("--size {} is too small: the stamp takes {STAMP_LEN} bytes", self.size));
        }
        let period = match self.rate {
            None => None,
            Some(rate) if rate.is_finite() && rate > 0.0 => Some(Duration::from_secs_f64(1.0 / rate)),
            Some(rate) => return Err(format!("--rate {rate} is not a positive number of messages per second")),
        };
        if self.inflight == 0 {
            return Err("--inflight must be at least 1".into());
        }
        let until = match (self.count, self.duration) {
            (Some(0), _) => return Err("--count must be at least 1".into()),
            (Some(count), _) => Until::Sent(count),
            (None, duration) => Until::Elapsed(seconds("--duration", duration.unwrap_or(10.0))?),
        };
        let prefix = self.topic.clone().unwrap_or_else(|| format!("verimqtt-bench/{run:08x}"));
        if prefix.is_empty() || prefix.contains(['+', '#']) {
            return Err(format!("--topic {prefix:?}: a prefix is not empty and has no wildcard"));
        }
        Ok(Settings {
            url,
            shape,
            qos: qos(self.qos),
            version: match self.version {
                Version::V311 => ProtocolVersion::V311,
                Version::V5 => ProtocolVersion::V5,
            },
            size: self.size,
            period,
            rate: self.rate,
            inflight: usize::from(self.inflight),
            until,
            drain: seconds("--drain", self.drain)?,
            prefix,
            run,
            keep_alive: self.keep_alive,
            persistent_sessions: self.persistent_sessions,
        })
    }
}

fn seconds(flag: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("{flag} {value} is not a number of seconds"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn settings(args: &[&str]) -> Result<Settings, String> {
        let flags = Flags::try_parse_from([&["bench"], args].concat()).map_err(|error| error.to_string())?;
        flags.bench.settings(7)
    }

    #[test]
    fn defaults_are_one_pair_at_qos_0_for_ten_seconds() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.shape, Shape::Pairs(1));
        assert_eq!((settings.qos, settings.size, settings.inflight), (QoS::AtMostOnce, 64, 64));
        assert_eq!(settings.until, Until::Elapsed(Duration::from_secs(10)));
        assert_eq!(settings.prefix, "verimqtt-bench/00000007");
        assert_eq!((settings.url.host.as_str(), settings.url.port), ("127.0.0.1", 1883));
    }

    #[test]
    fn flags_set_shape_rate_count_and_credentials() {
        let settings =
            settings(&["--fan-out", "8", "-q", "2", "-r", "250", "-n", "100", "-u", "a", "-P", "b", "ws://h/mqtt"])
                .unwrap();
        assert_eq!((settings.shape, settings.qos), (Shape::FanOut(8), QoS::ExactlyOnce));
        assert_eq!(settings.period, Some(Duration::from_millis(4)));
        assert_eq!(settings.until, Until::Sent(100));
        assert_eq!((settings.url.username.as_deref(), settings.url.password.as_deref()), (Some("a"), Some("b")));
    }

    #[test]
    fn impossible_settings_are_refused() {
        for args in [
            &["--pairs", "1", "--fan-in", "2"][..],
            &["--pairs", "0"],
            &["-s", "23"],
            &["-r", "0"],
            &["-w", "0"],
            &["-n", "0"],
            &["-n", "5", "-d", "3"],
            &["-q", "3"],
            &["-t", "a/+"],
            &["--insecure", "--cafile", "ca.pem"],
        ] {
            assert!(settings(args).is_err(), "{args:?}");
        }
        assert!(settings(&["--insecure", "mqtts://broker"]).is_ok());
        assert!(settings(&["--cert", "client.pem", "mqtts://broker"]).is_err(), "a certificate needs its key");
    }
}
