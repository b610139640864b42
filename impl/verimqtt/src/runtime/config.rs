//! The configuration of `verimqtt broker`: the TOML file of `-c FILE`, or, without one, a
//! TCP listener on 127.0.0.1:1883 that lets anonymous clients in. `impl/verimqtt/examples/broker.toml`
//! is a commented example of every key.
//!
//! ```toml
//! [[listener]]                 # as many as wanted; at least one
//! transport = "tls"            # tcp (default), tls, ws, wss or unix
//! bind = "0.0.0.0:8883"        # an IP address and a port
//! max_connections = 1000       # open connections on this listener (default: no limit of its own)
//! certificate = "server.crt"   # tls and wss: the certificate chain, PEM, server's first
//! private_key = "server.key"   # tls and wss: its private key, PEM
//! client_ca = "clients-ca.crt" # tls and wss, optional: ask clients for a certificate from this CA
//! require_client_certificate = true  # refuse clients without one (needs client_ca)
//! password_file = "passwd"     # any of allow_anonymous, password_file, acl_file: this
//! acl_file = "acl"             # listener's own rules, in place of [auth]'s
//!
//! [[listener]]
//! transport = "unix"           # a Unix domain socket, plain MQTT, for clients on this host
//! path = "verimqtt.sock"       # instead of bind; a stale socket file left there is replaced
//! mount_point = "local/"       # its clients' topics are under local/, which they do not see
//!
//! [limits]                     # any field of BrokerOptions; see `Limits`
//! max_connections = 10000
//!
//! [auth]                       # for listeners without rules of their own
//! allow_anonymous = false      # default: true without a password file, false with one
//! password_file = "passwd"     # mosquitto's format ($6$ and $7$ hashes)
//! acl_file = "acl"             # mosquitto's acl_file format
//!
//! [sys]
//! interval = 10                # seconds between $SYS updates; 0 turns them off
//!
//! [log]                        # read at start; the flags of `verimqtt broker` override it
//! level = "info"               # RUST_LOG's syntax: "debug", "info,verimqtt::packets=debug"
//! format = "json"              # text (default) or json: one JSON object per line
//! file = "broker.log"          # appended to, reopened on SIGHUP (default: stderr)
//!
//! [metrics]                    # optional: Prometheus' GET /metrics over HTTP
//! listen = "127.0.0.1:9883"    # an IP address and a port
//! ```
//!
//! Paths are relative to the directory of the configuration file. Unknown keys are errors.
//! Every file named is read at start, and every error names the file, the line and the
//! reason: a broker that starts has a configuration that works.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU16;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::auth::{Acl, FilePolicy, PasswordFile};
use crate::broker::{BrokerOptions, ListenerId, MountPoint, MountPointError, PerListener, SlowConsumerPolicy};
use crate::codec::{MAX_PACKET_SIZE, QoS};

use super::store::{Store, StoreError, SyncPolicy};
use super::tls::{self, ClientCertificates, TlsError};
use super::{ListenAddress, Listener, Server, Transport};

/// Seconds between `$SYS` updates unless configured otherwise.
const DEFAULT_SYS_INTERVAL: u64 = 10;

/// What `verimqtt broker` serves: listeners, limits, who may do what, and `$SYS`.
#[derive(Debug)]
pub struct BrokerConfig {
    /// The listeners to bind, in the file's order; never empty.
    pub listeners: Vec<ListenerConfig>,
    /// The broker's limits: the defaults with the `[limits]` table applied.
    pub options: BrokerOptions,
    /// `None`: no `$SYS` topics.
    pub sys_interval: Option<Duration>,
    /// Who may connect, publish and subscribe on listeners without rules of their own: the
    /// `[auth]` table with the files it names read. [`BrokerConfig::policies`] adds the
    /// listeners' own.
    pub policy: FilePolicy,
    /// Where the broker keeps its persistent sessions and retained messages, and when it
    /// waits for the disk: the `[persistence]` table. `None`: nothing survives a restart.
    pub persistence: Option<Persistence>,
    /// How the broker logs: the `[log]` table.
    pub log: LogConfig,
    /// The file it was read from, for errors found later (binding a listener).
    source: PathBuf,
    /// Where to serve Prometheus' `GET /metrics`: the `[metrics]` table's `listen`. `None`:
    /// nowhere.
    pub metrics: Option<SocketAddr>,
    /// The line of `[metrics]`, for an address that cannot be bound.
    metrics_line: usize,
}

/// The store of a broker with persistence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persistence {
    /// The store's file (SQLite), created if missing.
    pub file: PathBuf,
    /// When a commit waits for the disk.
    pub sync: SyncPolicy,
}

impl ListenerConfig {
    /// A TCP listener on `bind` with no limit of its own, declared by no file (the command
    /// line's).
    pub fn tcp(bind: SocketAddr) -> Self {
        ListenerConfig::plain(ListenAddress::Ip(bind))
    }

    /// A Unix domain socket listener at `path` with no limit of its own, declared by no file
    /// (the command line's).
    pub fn unix(path: PathBuf) -> Self {
        ListenerConfig::plain(ListenAddress::Unix(path))
    }

    /// Plain MQTT on `address`, with the broker's rules and limits only.
    fn plain(address: ListenAddress) -> Self {
        ListenerConfig {
            address,
            transport: Transport::Tcp,
            max_connections: None,
            policy: None,
            mount_point: None,
            line: 0,
        }
    }
}

/// The `[log]` table: what `verimqtt broker` logs, how and where. The level is checked
/// where the logs are set up, which knows the syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogConfig {
    /// Which lines, in `RUST_LOG`'s syntax; `None`: the command line's or the default.
    pub level: Option<String>,
    /// Plain text or JSON; `None`: the command line's or text.
    pub format: Option<LogFormat>,
    /// The file to append to, relative to the configuration's directory; `None`: stderr.
    pub file: Option<PathBuf>,
}

/// How each log line is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum LogFormat {
    /// Human-readable text: time, level, target, fields, message.
    #[default]
    Text,
    /// One JSON object per line, with the time, the level, the target and the fields.
    Json,
}

/// A listener to bind.
#[derive(Debug)]
pub struct ListenerConfig {
    /// The IP address and port to listen on, or the path of a Unix domain socket.
    pub address: ListenAddress,
    /// TCP, TLS, WebSocket or WebSocket over TLS, with the TLS acceptor built from its files
    /// (plain for a Unix domain socket).
    pub transport: Transport,
    /// Open connections this listener allows at once; `None`: only the broker's own limit.
    pub max_connections: Option<usize>,
    /// Who may connect, publish and subscribe on this listener, from its own
    /// `allow_anonymous`, `password_file` and `acl_file`; `None`: the `[auth]` table's rules.
    pub policy: Option<FilePolicy>,
    /// The topic prefix of this listener's clients (`mount_point`).
    pub mount_point: Option<MountPoint>,
    /// Where the file declares it.
    line: usize,
}

impl Default for BrokerConfig {
    /// One TCP listener on 127.0.0.1:1883, anonymous clients allowed, no ACL, the default
    /// limits, `$SYS` every 10 seconds.
    fn default() -> Self {
        BrokerConfig {
            listeners: vec![ListenerConfig::tcp((Ipv4Addr::LOCALHOST, 1883).into())],
            options: BrokerOptions::default(),
            sys_interval: Some(Duration::from_secs(DEFAULT_SYS_INTERVAL)),
            policy: FilePolicy::new(true),
            persistence: None,
            log: LogConfig::default(),
            source: PathBuf::new(),
            metrics: None,
            metrics_line: 0,
        }
    }
}

/// Why a configuration cannot be used: the file, the line (0 when it is about the whole
/// file) and the reason.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The configuration file.
    pub path: PathBuf,
    /// The line of the file the problem is on, from 1; 0 when it is about the whole file.
    pub line: usize,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            // No file: the default configuration, with the command line's listeners.
            _ if self.path.as_os_str().is_empty() => self.problem.fmt(f),
            0 => write!(f, "{}: {}", self.path.display(), self.problem),
            line => write!(f, "{}:{line}: {}", self.path.display(), self.problem),
        }
    }
}

/// What is wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The configuration file cannot be read.
    #[error("cannot read it: {0}")]
    Unreadable(io::Error),
    /// TOML syntax, an unknown key, a value of the wrong type or out of range.
    #[error("{0}")]
    Invalid(String),
    /// The file has no `[[listener]]` table.
    #[error("no listener: add a [[listener]] table")]
    NoListener,
    /// A TLS or WSS listener lacks a key it needs.
    #[error("a {transport} listener needs `{key}`")]
    Missing {
        /// The listener's transport: `tls` or `wss`.
        transport: &'static str,
        /// The missing key, e.g. `certificate`.
        key: &'static str,
    },
    /// A TLS key on a TCP or WS listener.
    #[error("`{key}` is for tls and wss listeners only")]
    OnlyForTls {
        /// The key, e.g. `client_ca`.
        key: &'static str,
    },
    /// A key a Unix domain socket listener does not take.
    #[error("`{key}` is not for unix listeners (they take `path`)")]
    NotForUnix {
        /// The key, e.g. `bind`.
        key: &'static str,
    },
    /// A key for Unix domain socket listeners only.
    #[error("`{key}` is for unix listeners only")]
    OnlyForUnix {
        /// The key: `path`.
        key: &'static str,
    },
    /// `require_client_certificate = true` without a `client_ca` to check certificates with.
    #[error("`require_client_certificate` needs `client_ca`")]
    RequireWithoutCa,
    /// A certificate or key file that cannot be used.
    #[error("{path}: {error}", path = .path.display())]
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        error: TlsError,
    },
    /// A file the configuration names cannot be read.
    #[error("cannot read {path}: {error}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        error: io::Error,
    },
    /// A line of the password file is wrong.
    #[error("password file {path} {error}", path = .path.display())]
    PasswordFile {
        /// The password file.
        path: PathBuf,
        /// The line and what is wrong with it.
        error: crate::auth::LineError<crate::auth::EntryError>,
    },
    /// A line of the ACL file is wrong.
    #[error("ACL file {path} {error}", path = .path.display())]
    Acl {
        /// The ACL file.
        path: PathBuf,
        /// The line and what is wrong with it.
        error: crate::auth::LineError<crate::auth::RuleError>,
    },
    /// `allow_anonymous = false` without a `password_file`: any client could claim any name.
    #[error("allow_anonymous = false needs a password_file: without one, any client could claim any username")]
    AnonymousWithoutPasswords,
    /// A `mount_point` that cannot be one.
    #[error("mount_point {text:?}: {error}")]
    MountPoint {
        /// The value in the file.
        text: String,
        /// Why it is not a mount point.
        error: MountPointError,
    },
    /// The store cannot be opened or read.
    #[error("the store: {0}")]
    Store(Box<StoreError>),
    /// A listener's address cannot be bound (in use, or not this host's).
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: ListenAddress,
        /// Why it cannot be bound.
        error: io::Error,
    },
}

impl BrokerConfig {
    /// Reads the configuration file at `path` and every file it names.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            path: path.to_owned(),
            line: 0,
            problem: Problem::Unreadable(error),
        })?;
        Self::parse(&text, path)
    }

    /// Reads a configuration from `text`, as if it were the file at `path`: files it names
    /// are read relative to the directory of `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let fail = |span: Option<Range<usize>>, problem| ConfigError {
            path: path.to_owned(),
            line: span.map_or(0, |span| line_of(text, span.start)),
            problem,
        };
        let file: FileTable =
            toml::from_str(text).map_err(|error| fail(error.span(), Problem::Invalid(error.message().to_owned())))?;
        let base = path.parent().unwrap_or(Path::new(""));
        if file.listener.is_empty() {
            return Err(fail(None, Problem::NoListener));
        }
        let listeners = file
            .listener
            .iter()
            .map(|table| {
                let line = line_of(text, table.span().start);
                listener(table, line, base).map_err(|(span, problem)| fail(Some(span), problem))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let policy = policy(&file.auth, base).map_err(|(span, problem)| fail(Some(span), problem))?;
        let interval = file.sys.interval.unwrap_or(DEFAULT_SYS_INTERVAL);
        let persistence = match file.persistence {
            Some(table) => {
                let sync = match &table.sync {
                    Some(sync) => {
                        sync.get_ref().parse().map_err(|why| fail(Some(sync.span()), Problem::Invalid(why)))?
                    }
                    None => SyncPolicy::Always,
                };
                Some(Persistence { file: base.join(table.file), sync })
            }
            None => None,
        };
        Ok(BrokerConfig {
            listeners,
            options: file.limits.apply(BrokerOptions::default()),
            sys_interval: (interval > 0).then(|| Duration::from_secs(interval)),
            policy,
            persistence,
            log: LogConfig {
                level: file.log.level,
                format: file.log.format,
                file: file.log.file.map(|log| base.join(log)),
            },
            source: path.to_owned(),
            metrics: file.metrics.as_ref().map(|table| table.listen.get_ref().0),
            metrics_line: file.metrics.map_or(0, |table| line_of(text, table.listen.span().start)),
        })
    }

    /// Who may connect, publish and subscribe, listener by listener: the n-th listener
    /// (from 0) is [`ListenerId`]`(n)`, as [`Server::listener`] numbers them; those with
    /// rules of their own are judged by them, the others by the `[auth]` table's.
    pub fn policies(&self) -> PerListener<FilePolicy> {
        let own = self.listeners.iter().enumerate().filter_map(|(index, listener)| {
            // The file cannot hold more listeners than a u16 counts without other errors
            // first; `bind` refuses them anyway.
            Some((ListenerId(u16::try_from(index).ok()?), listener.policy.clone()?))
        });
        own.fold(PerListener::new(self.policy.clone()), |policies, (id, policy)| policies.with(id, policy))
    }

    /// Opens the store, if any, and binds every listener; an address that cannot be bound
    /// names the listener's line, a store that cannot be used says why and how to recover.
    pub fn bind(self) -> Result<Server<PerListener<FilePolicy>>, ConfigError> {
        let policies = self.policies();
        let BrokerConfig { listeners, options, sys_interval, persistence, source, metrics, metrics_line, .. } = self;
        let mut server = Server::new(options, policies);
        if let Some(Persistence { file, sync }) = persistence {
            let store = Store::open(&file, sync).map_err(|error| ConfigError {
                path: source.clone(),
                line: 0,
                problem: Problem::Store(Box::new(error)),
            })?;
            server = server.store(store);
        }
        for ListenerConfig { address, transport, max_connections, mount_point, line, .. } in listeners {
            let bound = match &address {
                ListenAddress::Ip(addr) => Listener::bind(*addr, transport),
                ListenAddress::Unix(path) => Listener::bind_unix(path),
            };
            let listener = bound.map_err(|error| ConfigError {
                path: source.clone(),
                line,
                problem: Problem::Bind { addr: address, error },
            })?;
            let listener = match max_connections {
                Some(max) => listener.with_max_connections(max),
                None => listener,
            };
            server = server.listener(match mount_point {
                Some(mount_point) => listener.with_mount_point(mount_point),
                None => listener,
            });
        }
        if let Some(addr) = metrics {
            let listener = std::net::TcpListener::bind(addr).map_err(|error| ConfigError {
                path: source.clone(),
                line: metrics_line,
                problem: Problem::Bind { addr: ListenAddress::Ip(addr), error },
            })?;
            server = server.metrics_listener(listener);
        }
        Ok(match sys_interval {
            Some(interval) => server.sys_interval(interval),
            None => server,
        })
    }
}

/// The line (from 1) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&byte| byte == b'\n').count() + 1
}

type Located<T> = Result<T, (Range<usize>, Problem)>;

fn listener(table: &Spanned<ListenerTable>, line: usize, base: &Path) -> Located<ListenerConfig> {
    let at = table.span();
    let table = table.get_ref();
    let needs_tls = matches!(table.transport, TransportName::Tls | TransportName::Wss);
    let transport_name = table.transport.name();
    let address = match (table.transport, &table.bind, &table.path) {
        (TransportName::Unix, None, Some(path)) => ListenAddress::Unix(base.join(path.get_ref())),
        (TransportName::Unix, Some(bind), _) => return Err((bind.span(), Problem::NotForUnix { key: "bind" })),
        (TransportName::Unix, None, None) => {
            return Err((at, Problem::Missing { transport: transport_name, key: "path" }));
        }
        (_, _, Some(path)) => return Err((path.span(), Problem::OnlyForUnix { key: "path" })),
        (_, Some(bind), None) => ListenAddress::Ip(bind.get_ref().0),
        (_, None, None) => return Err((at, Problem::Missing { transport: transport_name, key: "bind" })),
    };
    if !needs_tls {
        let tls_keys = [
            ("certificate", table.certificate.as_ref().map(Spanned::span)),
            ("private_key", table.private_key.as_ref().map(Spanned::span)),
            ("client_ca", table.client_ca.as_ref().map(Spanned::span)),
            ("require_client_certificate", table.require_client_certificate.as_ref().map(Spanned::span)),
        ];
        if let Some((key, Some(span))) = tls_keys.into_iter().find(|(_, span)| span.is_some()) {
            return Err((span, Problem::OnlyForTls { key }));
        }
    }
    let transport = match table.transport {
        TransportName::Tcp | TransportName::Unix => Transport::Tcp,
        TransportName::Ws => Transport::WebSocket,
        TransportName::Tls => Transport::Tls(tls_acceptor(table, at.clone(), base)?),
        TransportName::Wss => Transport::SecureWebSocket(tls_acceptor(table, at.clone(), base)?),
    };
    // Any of the three makes the listener's rules its own, the others at their defaults
    // (mosquitto's `per_listener_settings true`); none: the [auth] table's.
    let has_own_rules = table.allow_anonymous.is_some() || table.password_file.is_some() || table.acl_file.is_some();
    let policy = if has_own_rules { Some(policy(&table.auth(), base)?) } else { None };
    let mount_point = match &table.mount_point {
        Some(text) => Some(
            MountPoint::new(text.get_ref())
                .map_err(|error| (text.span(), Problem::MountPoint { text: text.get_ref().clone(), error }))?,
        ),
        None => None,
    };
    Ok(ListenerConfig { address, transport, max_connections: table.max_connections, policy, mount_point, line })
}

fn tls_acceptor(table: &ListenerTable, at: Range<usize>, base: &Path) -> Located<tokio_rustls::TlsAcceptor> {
    let transport = table.transport.name();
    let required = |key, value: &Option<Spanned<PathBuf>>| match value {
        Some(path) => Ok((base.join(path.get_ref()), path.span())),
        None => Err((at.clone(), Problem::Missing { transport, key })),
    };
    let (certificate, certificate_at) = required("certificate", &table.certificate)?;
    let (key, key_at) = required("private_key", &table.private_key)?;
    let tls_problem = |path: &Path| {
        let path = path.to_owned();
        move |error| Problem::Tls { path, error }
    };
    let chain = tls::read_certificates(&certificate, "the certificate file")
        .map_err(|error| (certificate_at.clone(), tls_problem(&certificate)(error)))?;
    let private_key = tls::read_private_key(&key).map_err(|error| (key_at, tls_problem(&key)(error)))?;
    let require = table.require_client_certificate.as_ref();
    let clients = match (&table.client_ca, require) {
        (None, Some(require)) if *require.get_ref() => return Err((require.span(), Problem::RequireWithoutCa)),
        (None, _) => ClientCertificates::Ignored,
        (Some(ca), _) => {
            let path = base.join(ca.get_ref());
            let roots = tls::read_certificates(&path, "the client CA file")
                .map_err(|error| (ca.span(), tls_problem(&path)(error)))?;
            if require.is_some_and(|require| *require.get_ref()) {
                ClientCertificates::Required(roots)
            } else {
                ClientCertificates::Optional(roots)
            }
        }
    };
    // A key that does not go with the certificate is reported where the certificate is.
    tls::acceptor(chain, private_key, clients).map_err(|error| (certificate_at, tls_problem(&certificate)(error)))
}

fn policy(auth: &AuthTable, base: &Path) -> Located<FilePolicy> {
    let read = |file: &Spanned<PathBuf>| {
        let path = base.join(file.get_ref());
        let text = std::fs::read_to_string(&path)
            .map_err(|error| (file.span(), Problem::Read { path: path.clone(), error }))?;
        Ok((path, text))
    };
    let allow_anonymous = auth.allow_anonymous.as_ref().map(|allow| (*allow.get_ref(), allow.span()));
    let mut policy = match (allow_anonymous, &auth.password_file) {
        (Some((false, span)), None) => return Err((span, Problem::AnonymousWithoutPasswords)),
        (Some((allow, _)), _) => FilePolicy::new(allow),
        (None, passwords) => FilePolicy::new(passwords.is_none()),
    };
    if let Some(file) = &auth.password_file {
        let (path, text) = read(file)?;
        let passwords =
            PasswordFile::parse(&text).map_err(|error| (file.span(), Problem::PasswordFile { path, error }))?;
        policy = policy.with_passwords(passwords);
    }
    if let Some(file) = &auth.acl_file {
        let (path, text) = read(file)?;
        let acl = Acl::parse(&text).map_err(|error| (file.span(), Problem::Acl { path, error }))?;
        policy = policy.with_acl(acl);
    }
    Ok(policy)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTable {
    #[serde(default)]
    listener: Vec<Spanned<ListenerTable>>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    auth: AuthTable,
    #[serde(default)]
    sys: SysTable,
    persistence: Option<PersistenceTable>,
    #[serde(default)]
    log: LogTable,
    metrics: Option<MetricsTable>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogTable {
    level: Option<String>,
    format: Option<LogFormat>,
    file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsTable {
    listen: Spanned<BindAddress>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersistenceTable {
    file: PathBuf,
    sync: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenerTable {
    #[serde(default)]
    transport: TransportName,
    bind: Option<Spanned<BindAddress>>,
    path: Option<Spanned<PathBuf>>,
    max_connections: Option<usize>,
    certificate: Option<Spanned<PathBuf>>,
    private_key: Option<Spanned<PathBuf>>,
    client_ca: Option<Spanned<PathBuf>>,
    require_client_certificate: Option<Spanned<bool>>,
    allow_anonymous: Option<Spanned<bool>>,
    password_file: Option<Spanned<PathBuf>>,
    acl_file: Option<Spanned<PathBuf>>,
    mount_point: Option<Spanned<String>>,
}

impl ListenerTable {
    /// The listener's own rules, as an `[auth]` table would give them.
    fn auth(&self) -> AuthTable {
        AuthTable {
            allow_anonymous: self.allow_anonymous.clone(),
            password_file: self.password_file.clone(),
            acl_file: self.acl_file.clone(),
        }
    }
}

/// Where a listener listens: an IP address and a port, no host name (which could resolve
/// to several addresses, or to none at start).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct BindAddress(SocketAddr);

impl TryFrom<String> for BindAddress {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse().map(BindAddress).map_err(|_| {
            format!("{text:?} is not an IP address and a port, such as \"127.0.0.1:1883\" or \"[::1]:1883\"")
        })
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TransportName {
    #[default]
    Tcp,
    Tls,
    Ws,
    Wss,
    Unix,
}

impl TransportName {
    fn name(self) -> &'static str {
        match self {
            TransportName::Tcp => "tcp",
            TransportName::Tls => "tls",
            TransportName::Ws => "ws",
            TransportName::Wss => "wss",
            TransportName::Unix => "unix",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthTable {
    allow_anonymous: Option<Spanned<bool>>,
    password_file: Option<Spanned<PathBuf>>,
    acl_file: Option<Spanned<PathBuf>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SysTable {
    /// Seconds; 0 turns `$SYS` off.
    interval: Option<u64>,
}

/// The broker's limits and options, as the `[limits]` table of the configuration file and
/// as flags of `verimqtt broker` (which override the file). Each is a field of
/// [`BrokerOptions`], whose documentation says what happens when it is reached; an absent
/// one keeps its default.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Open connections at most; more are refused at accept.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_connections: Option<usize>,
    /// Seconds a new connection has to send CONNECT (and to finish its TLS and WebSocket
    /// handshakes before that).
    #[cfg_attr(feature = "clap", arg(long, value_name = "SECONDS"))]
    pub connect_timeout: Option<u64>,
    /// Largest packet accepted, in bytes, fixed header included.
    #[cfg_attr(feature = "clap", arg(long, value_name = "BYTES"))]
    pub max_packet_size: Option<PacketSize>,
    /// Largest first packet (CONNECT) accepted, in bytes: what an unidentified connection
    /// can make the broker buffer.
    #[cfg_attr(feature = "clap", arg(long, value_name = "BYTES"))]
    pub max_connect_size: Option<PacketSize>,
    /// Levels a subscription's topic filter, or a retained message's topic, may have.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_topic_levels: Option<usize>,
    /// QoS 2 messages a client may have unfinished toward the broker.
    #[cfg_attr(feature = "clap", arg(long))]
    pub receive_maximum: Option<NonZeroU16>,
    /// QoS 1 and 2 messages in flight toward a client.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_inflight: Option<NonZeroU16>,
    /// Messages queued per session; new ones are dropped past it.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_queued_messages: Option<usize>,
    /// Bytes of messages held per session, queued or in flight; new ones are dropped past it.
    #[cfg_attr(feature = "clap", arg(long, value_name = "BYTES"))]
    pub max_queued_bytes: Option<usize>,
    /// Queue QoS 0 messages for offline persistent sessions too.
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub queue_qos0_offline: Option<bool>,
    /// Seconds a connected session may stay congested, holding back the publishers that feed
    /// it, before it is a slow consumer.
    #[cfg_attr(feature = "clap", arg(long, value_name = "SECONDS"))]
    pub slow_consumer_timeout: Option<u64>,
    /// What becomes of a slow consumer: `drop` (messages past its queue's limits are dropped)
    /// or `disconnect`.
    #[cfg_attr(feature = "clap", arg(long, value_name = "POLICY"))]
    pub slow_consumer_policy: Option<SlowConsumer>,
    /// Bytes waiting for a client past which queued messages wait in the session.
    #[cfg_attr(feature = "clap", arg(long, value_name = "BYTES"))]
    pub max_transmit_buffer: Option<usize>,
    /// Topics with a retained message at most.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_retained_messages: Option<usize>,
    /// Subscriptions per session at most.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_subscriptions_per_session: Option<usize>,
    /// CONNECTs waiting for their password to be checked at most; more are refused as busy.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_pending_verifications: Option<usize>,
    /// Persistent sessions (connected and offline) at most; clean sessions are not counted.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_sessions: Option<usize>,
    /// Longest a session outlives its connection, in seconds (also ends 3.1.1 persistent
    /// sessions); 4294967295 is never.
    #[cfg_attr(feature = "clap", arg(long, value_name = "SECONDS"))]
    pub max_session_expiry: Option<u32>,
    /// Highest keep alive allowed, in seconds; MQTT 5 clients asking for more (or 0) are told
    /// this.
    #[cfg_attr(feature = "clap", arg(long, value_name = "SECONDS"))]
    pub max_keep_alive: Option<NonZeroU16>,
    /// Topic aliases an MQTT 5 client may set (0: none).
    #[cfg_attr(feature = "clap", arg(long))]
    pub topic_alias_maximum: Option<u16>,
    /// Give topic aliases to messages sent to MQTT 5 clients that accept them.
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub outbound_topic_aliases: Option<bool>,
    /// Highest QoS supported: 0, 1 or 2.
    #[cfg_attr(feature = "clap", arg(long))]
    pub maximum_qos: Option<MaximumQos>,
    /// Keep retained messages (`false`: a retained PUBLISH is refused).
    #[cfg_attr(feature = "clap", arg(long))]
    pub retain_available: Option<bool>,
    /// Broker events kept for the logs before newer ones are counted as lost.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_pending_events: Option<usize>,
}

impl Limits {
    /// `options` with every limit given here replaced.
    pub fn apply(&self, options: BrokerOptions) -> BrokerOptions {
        BrokerOptions {
            max_connections: self.max_connections.unwrap_or(options.max_connections),
            connect_timeout: self.connect_timeout.map_or(options.connect_timeout, Duration::from_secs),
            max_packet_size: self.max_packet_size.map_or(options.max_packet_size, |size| size.0),
            max_connect_size: self.max_connect_size.map_or(options.max_connect_size, |size| size.0),
            max_topic_levels: self.max_topic_levels.unwrap_or(options.max_topic_levels),
            receive_maximum: self.receive_maximum.unwrap_or(options.receive_maximum),
            max_inflight: self.max_inflight.unwrap_or(options.max_inflight),
            max_queued_messages: self.max_queued_messages.unwrap_or(options.max_queued_messages),
            max_queued_bytes: self.max_queued_bytes.unwrap_or(options.max_queued_bytes),
            queue_qos0_offline: self.queue_qos0_offline.unwrap_or(options.queue_qos0_offline),
            slow_consumer_timeout: self
                .slow_consumer_timeout
                .map_or(options.slow_consumer_timeout, Duration::from_secs),
            slow_consumer_policy: self.slow_consumer_policy.map_or(options.slow_consumer_policy, |policy| policy.0),
            max_transmit_buffer: self.max_transmit_buffer.unwrap_or(options.max_transmit_buffer),
            max_retained_messages: self.max_retained_messages.unwrap_or(options.max_retained_messages),
            max_subscriptions_per_session: self
                .max_subscriptions_per_session
                .unwrap_or(options.max_subscriptions_per_session),
            max_pending_verifications: self.max_pending_verifications.unwrap_or(options.max_pending_verifications),
            max_sessions: self.max_sessions.unwrap_or(options.max_sessions),
            max_session_expiry_interval: self.max_session_expiry.unwrap_or(options.max_session_expiry_interval),
            max_keep_alive: self.max_keep_alive.or(options.max_keep_alive),
            topic_alias_maximum: self.topic_alias_maximum.unwrap_or(options.topic_alias_maximum),
            outbound_topic_aliases: self.outbound_topic_aliases.unwrap_or(options.outbound_topic_aliases),
            maximum_qos: self.maximum_qos.map_or(options.maximum_qos, |qos| qos.0),
            retain_available: self.retain_available.unwrap_or(options.retain_available),
            max_pending_events: self.max_pending_events.unwrap_or(options.max_pending_events),
            // Not a limit: whether the application's hooks hear of every message.
            message_events: options.message_events,
            persistence: options.persistence,
        }
    }
}

/// A maximum packet size: from 2 bytes (the smallest packet) to the protocol's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u32")]
pub struct PacketSize(
    /// The size, in bytes, fixed header included.
    pub u32,
);

impl TryFrom<u32> for PacketSize {
    type Error = String;

    fn try_from(size: u32) -> Result<Self, String> {
        match size {
            2..=MAX_PACKET_SIZE => Ok(PacketSize(size)),
            _ => Err(format!("a maximum packet size is from 2 to {MAX_PACKET_SIZE} bytes, not {size}")),
        }
    }
}

impl FromStr for PacketSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.parse::<u32>().map_err(|error| format!("{text:?}: {error}"))?.try_into()
    }
}

/// A slow-consumer policy, as the file and the flags spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct SlowConsumer(
    /// The policy: `drop` or `disconnect`.
    pub SlowConsumerPolicy,
);

impl TryFrom<String> for SlowConsumer {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl FromStr for SlowConsumer {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "drop" => Ok(SlowConsumer(SlowConsumerPolicy::Drop)),
            "disconnect" => Ok(SlowConsumer(SlowConsumerPolicy::Disconnect)),
            other => Err(format!("{other:?} is not a slow-consumer policy (drop or disconnect)")),
        }
    }
}

/// The highest QoS a broker supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u8")]
pub struct MaximumQos(
    /// The QoS: 0, 1 or 2.
    pub QoS,
);

impl TryFrom<u8> for MaximumQos {
    type Error = String;

    fn try_from(qos: u8) -> Result<Self, String> {
        QoS::from_u8(qos).map(MaximumQos).ok_or_else(|| format!("{qos} is not a QoS (0, 1 or 2)"))
    }
}

impl FromStr for MaximumQos {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.parse::<u8>().map_err(|_| format!("{text:?} is not a QoS (0, 1 or 2)"))?.try_into()
    }
}
