//! The broker URLs an [`AsyncClient`](super::AsyncClient) connects to:
//! `scheme://[user[:password]@]host[:port][/path]`, with the schemes `mqtt` (TCP, port 1883),
//! `mqtts` (TLS, 8883), `ws` (WebSocket, 80) and `wss` (WebSocket over TLS, 443), and
//! `unix:///path/to/socket` (a Unix domain socket, as mosquitto's `listener 0 PATH`). The user
//! and password may be percent-encoded; the path is the WebSocket request path (`/` when
//! there is none), the socket's path for `unix`, and means nothing to `mqtt` and `mqtts`.

use std::fmt;
use std::str::FromStr;

/// What carries MQTT to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `mqtt://`: MQTT over TCP, port 1883 by default.
    Mqtt,
    /// `mqtts://`: MQTT over TLS, port 8883 by default.
    Mqtts,
    /// `ws://`: MQTT over WebSocket, port 80 by default.
    Ws,
    /// `wss://`: MQTT over WebSocket over TLS, port 443 by default.
    Wss,
    /// `unix://`: MQTT over a Unix domain socket, whose path is the URL's path.
    Unix,
}

impl Scheme {
    /// The scheme as a URL spells it, e.g. `"mqtts"`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
            Scheme::Unix => "unix",
        }
    }

    /// The port used when the URL gives none: 1883, 8883, 80 or 443 (0 for a Unix socket,
    /// which has none).
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
            Scheme::Unix => 0,
        }
    }

    /// Whether the connection is over TLS (`mqtts`, `wss`).
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Mqtts | Scheme::Wss)
    }

    /// Whether MQTT goes in WebSocket frames (`ws`, `wss`).
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

/// A parsed broker URL.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// How MQTT is carried.
    pub scheme: Scheme,
    /// A name or an address; an IPv6 address without its brackets.
    pub host: String,
    /// The port: the URL's, or the scheme's default.
    pub port: u16,
    /// Starts with `/`.
    pub path: String,
    /// The user of the URL, percent-decoded; `None` if it has none.
    pub username: Option<String>,
    /// The password of the URL, percent-decoded; `None` if it has none.
    pub password: Option<String>,
}

/// Why a URL names no broker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The URL (carried) has no `scheme://`.
    #[error("{0:?} has no scheme: expected mqtt://, mqtts://, ws:// or wss://")]
    NoScheme(String),
    /// The scheme (carried) is not `mqtt`, `mqtts`, `ws` or `wss`.
    #[error("unknown scheme {0:?}: expected mqtt, mqtts, ws or wss")]
    UnknownScheme(String),
    /// The host is empty.
    #[error("the URL names no host")]
    NoHost,
    /// The port (carried) is not a number from 0 to 65535.
    #[error("{0:?} is not a port number")]
    InvalidPort(String),
    /// An IPv6 address lacks its closing `]`.
    #[error("an IPv6 address lacks its closing ']'")]
    UnclosedBracket,
    /// The user or password has an invalid percent-encoding.
    #[error("the user or password has an invalid percent-encoding")]
    InvalidPercentEncoding,
}

impl FromStr for BrokerUrl {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| UrlError::NoScheme(url.to_owned()))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => Scheme::Mqtt,
            "mqtts" | "ssl" => Scheme::Mqtts,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            "unix" => return BrokerUrl::unix(rest),
            _ => return Err(UrlError::UnknownScheme(scheme.to_owned())),
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, "/"),
        };
        // The last '@' ends the user information: a password may hold an unencoded '@'.
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(userinfo) => match userinfo.split_once(':') {
                Some((user, password)) => (Some(percent_decode(user)?), Some(percent_decode(password)?)),
                None => (Some(percent_decode(userinfo)?), None),
            },
        };
        let (host, port) = split_host_port(host_port)?;
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        let port = match port {
            Some(port) => port.parse().map_err(|_| UrlError::InvalidPort(port.to_owned()))?,
            None => scheme.default_port(),
        };
        Ok(BrokerUrl { scheme, host: host.to_owned(), port, path: path.to_owned(), username, password })
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), UrlError> {
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(UrlError::UnclosedBracket)?;
        return match after {
            "" => Ok((host, None)),
            _ => after.strip_prefix(':').map(|port| (host, Some(port))).ok_or(UrlError::InvalidPort(after.to_owned())),
        };
    }
    Ok(match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    })
}

/// Decodes `%XX` escapes; the result must be UTF-8.
fn percent_decode(text: &str) -> Result<String, UrlError> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            // Two hexadecimal digits, nothing else: `from_str_radix` would take a sign.
            let hex = tail.get(..2).filter(|hex| hex.iter().all(u8::is_ascii_hexdigit));
            let hex = hex.and_then(|hex| std::str::from_utf8(hex).ok());
            let decoded =
                hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()).ok_or(UrlError::InvalidPercentEncoding)?;
            bytes.push(decoded);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).map_err(|_| UrlError::InvalidPercentEncoding)
}

impl BrokerUrl {
    /// The URL of the Unix domain socket at `path`.
    pub fn unix(path: &str) -> Result<BrokerUrl, UrlError> {
        if path.is_empty() {
            return Err(UrlError::NoHost);
        }
        let (scheme, host, port, path) = (Scheme::Unix, String::new(), 0, path.to_owned());
        Ok(BrokerUrl { scheme, host, port, path, username: None, password: None })
    }

    /// The host as it goes in a URI: an IPv6 address in brackets.
    pub fn uri_host(&self) -> String {
        if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() }
    }
}

/// The URL without its password.
impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.name())?;
        if self.scheme == Scheme::Unix {
            return f.write_str(&self.path);
        }
        if let Some(username) = &self.username {
            write!(f, "{username}@")?;
        }
        write!(f, "{}:{}", self.uri_host(), self.port)?;
        if self.scheme.is_websocket() { f.write_str(&self.path) } else { Ok(()) }
    }
}

impl fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BrokerUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_is_a_url_or_an_error(text in "\\PC{0,40}") {
            let _ = text.parse::<BrokerUrl>();
        }

        #[test]
        fn a_displayed_url_reads_back(
            scheme in prop_oneof![Just(Scheme::Mqtt), Just(Scheme::Mqtts), Just(Scheme::Ws), Just(Scheme::Wss)],
            host in "[a-z][a-z0-9.-]{0,20}",
            port in any::<u16>(),
            path in "(/[a-z0-9]{0,5}){1,3}",
            username in proptest::option::of("[a-zA-Z0-9._-]{1,8}"),
        ) {
            let path = if scheme.is_websocket() { path } else { "/".to_owned() };
            let url = BrokerUrl { scheme, host, port, path, username, password: None };
            prop_assert_eq!(url.to_string().parse::<BrokerUrl>(), Ok(url));
        }
    }

    fn parse(url: &str) -> BrokerUrl {
        url.parse().unwrap()
    }

    #[test]
    fn each_scheme_has_its_default_port_and_the_path_defaults_to_the_root() {
        for (url, scheme, port) in [
            ("mqtt://broker", Scheme::Mqtt, 1883),
            ("mqtts://broker", Scheme::Mqtts, 8883),
            ("ws://broker", Scheme::Ws, 80),
            ("WSS://broker", Scheme::Wss, 443),
        ] {
            let parsed = parse(url);
            assert_eq!(
                (parsed.scheme, parsed.host.as_str(), parsed.port, parsed.path.as_str()),
                (scheme, "broker", port, "/")
            );
        }
    }

    #[test]
    fn user_password_port_and_path_are_read_and_decoded() {
        let parsed = parse("ws://al%40ice:p%3Ass@wo@rd@127.0.0.1:9001/mqtt/ws");
        assert_eq!(parsed.username.as_deref(), Some("al@ice"));
        assert_eq!(parsed.password.as_deref(), Some("p:ss@wo@rd"));
        assert_eq!((parsed.host.as_str(), parsed.port, parsed.path.as_str()), ("127.0.0.1", 9001, "/mqtt/ws"));
    }

    #[test]
    fn a_unix_url_names_the_socket_by_its_path() {
        let parsed = parse("unix:///run/mosquitto.sock");
        assert_eq!((parsed.scheme, parsed.path.as_str()), (Scheme::Unix, "/run/mosquitto.sock"));
        assert_eq!(parsed.to_string(), "unix:///run/mosquitto.sock");
        assert_eq!("unix://".parse::<BrokerUrl>(), Err(UrlError::NoHost));
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let parsed = parse("mqtt://[::1]:1884");
        assert_eq!((parsed.host.as_str(), parsed.port), ("::1", 1884));
        assert_eq!(parsed.to_string(), "mqtt://[::1]:1884");
        assert_eq!(parse("mqtt://[::1]").port, 1883);
    }

    #[test]
    fn the_password_is_never_displayed() {
        let shown = format!("{} {:?}", parse("mqtt://bob:secret@host"), parse("mqtt://bob:secret@host"));
        assert!(shown.contains("bob@host:1883") && !shown.contains("secret"), "{shown}");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, error) in [
            ("broker:1883", UrlError::NoScheme("broker:1883".into())),
            ("http://broker", UrlError::UnknownScheme("http".into())),
            ("mqtt://:1883", UrlError::NoHost),
            ("mqtt://user@", UrlError::NoHost),
            ("mqtt://broker:http", UrlError::InvalidPort("http".into())),
            ("mqtt://broker:70000", UrlError::InvalidPort("70000".into())),
            ("mqtt://[::1", UrlError::UnclosedBracket),
            ("mqtt://a%2:b@host", UrlError::InvalidPercentEncoding),
            ("mqtt://a%ff@host", UrlError::InvalidPercentEncoding),
            ("mqtt://a%+1@host", UrlError::InvalidPercentEncoding),
        ] {
            assert_eq!(url.parse::<BrokerUrl>(), Err(error), "{url}");
        }
    }
}
