//! The configuration file of `verimqtt broker -c`: what a valid one serves, over real
//! sockets, and how an invalid one is refused (the file, the line and the reason).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use verimqtt::auth::PasswordHash;
use verimqtt::codec::{Connect, Packet, ProtocolVersion, QoS};
use verimqtt::runtime::config::{ConfigError, LogConfig, LogFormat};
use verimqtt::runtime::{BrokerConfig, EmbeddedBroker, ListenAddress, SyncPolicy};

use crate::client::{RawClient, mqtt_string, publish};
use crate::files::{Pki, TempDir};
use crate::transport::Via;

/// Writes `text` as `broker.toml` in `dir` and serves what it configures.
pub fn serve(dir: &Path, text: &str) -> EmbeddedBroker {
    let path = dir.join("broker.toml");
    std::fs::write(&path, text).unwrap();
    let server = BrokerConfig::load(&path).unwrap().bind().unwrap();
    EmbeddedBroker::serve(server).unwrap()
}

/// Listeners of every transport on ephemeral loopback ports, in this order: tcp, tls, ws,
/// wss, with the PKI's server certificate.
pub const EVERY_TRANSPORT: &str = r#"
[[listener]]
bind = "127.0.0.1:0"

[[listener]]
transport = "tls"
bind = "127.0.0.1:0"
certificate = "server.crt"
private_key = "server.key"

[[listener]]
transport = "ws"
bind = "127.0.0.1:0"

[[listener]]
transport = "wss"
bind = "127.0.0.1:0"
certificate = "server.crt"
private_key = "server.key"
"#;

#[test]
fn one_broker_serves_a_listener_of_each_transport_and_messages_cross_them() {
    let pki = Pki::generate();
    let broker = serve(pki.dir.path(), EVERY_TRANSPORT);
    let tls = pki.client_config();
    let vias = [Via::Tcp, Via::Tls(tls.clone()), Via::WebSocket, Via::SecureWebSocket(tls)];
    assert_eq!(broker.addrs().len(), vias.len());
    let mut subscribers: Vec<RawClient> = vias
        .iter()
        .zip(broker.addrs())
        .enumerate()
        .map(|(n, (via, &addr))| {
            let mut client = RawClient::connect_via(via, addr, ProtocolVersion::V5, &format!("sub{n}"));
            client.subscribe("everywhere", QoS::AtMostOnce);
            client
        })
        .collect();
    for (n, (via, &addr)) in vias.iter().zip(broker.addrs()).enumerate() {
        let mut publisher = RawClient::connect_via(via, addr, ProtocolVersion::V311, &format!("pub{n}"));
        let payload = format!("from listener {n}");
        publisher.send(&publish("everywhere", QoS::AtMostOnce, &payload));
        for subscriber in &mut subscribers {
            assert!(matches!(subscriber.recv(), Some(Packet::Publish(publish)) if publish.payload == payload));
        }
    }
}

#[test]
fn a_listeners_max_connections_is_its_own() {
    let dir = TempDir::new();
    let broker = serve(
        dir.path(),
        "[[listener]]\nbind = \"127.0.0.1:0\"\nmax_connections = 1\n[[listener]]\nbind = \"127.0.0.1:0\"\n",
    );
    let (limited, other) = (broker.addrs()[0], broker.addrs()[1]);
    let _first = RawClient::connect(limited, ProtocolVersion::V311, "first");
    let mut second = RawClient::open(limited, ProtocolVersion::V311);
    assert_eq!(second.until_closed(), [], "the listener is full: closed without a word");
    RawClient::connect(other, ProtocolVersion::V311, "elsewhere");
}

#[test]
fn without_a_file_the_broker_listens_on_loopback_1883_and_lets_anonymous_clients_in() {
    let config = BrokerConfig::default();
    let [listener] = config.listeners.as_slice() else { panic!("{:?}", config.listeners) };
    assert_eq!(listener.address, ListenAddress::Ip("127.0.0.1:1883".parse().unwrap()));
    assert_eq!(listener.transport.name(), "tcp");
    assert_eq!(listener.max_connections, None);
    // Port 1883 may be taken on a test machine: serve the same configuration elsewhere.
    let mut config = BrokerConfig::default();
    config.listeners[0].address = ListenAddress::Ip("127.0.0.1:0".parse().unwrap());
    let broker = EmbeddedBroker::serve(config.bind().unwrap()).unwrap();
    RawClient::connect(broker.addr(), ProtocolVersion::V5, "anonymous");
}

#[test]
fn the_example_configuration_parses_with_the_files_it_names() {
    let pki = Pki::generate();
    let example = include_str!("../../examples/broker.toml");
    pki.dir.write("passwd", format!("alice:{}\n", PasswordHash::new(b"secret").unwrap()));
    pki.dir.write("acl", "user alice\ntopic readwrite alice/#\n");
    pki.dir.write("acl-read-only", "topic read #\n");
    std::fs::copy(pki.path("ca.crt"), pki.path("clients-ca.crt")).unwrap();
    let path = pki.dir.write("broker.toml", example);
    let config = BrokerConfig::load(&path).unwrap();
    let transports: Vec<&str> = config.listeners.iter().map(|listener| listener.transport.name()).collect();
    assert_eq!(transports, ["tcp", "tls", "ws", "wss", "tcp"]);
    // The TLS listener and the socket have rules of their own; the WebSocket one a mount
    // point.
    let own_rules: Vec<bool> = config.listeners.iter().map(|listener| listener.policy.is_some()).collect();
    assert_eq!(own_rules, [false, true, false, false, true]);
    let mount_points: Vec<Option<&str>> =
        config.listeners.iter().map(|listener| listener.mount_point.as_ref().map(|mount| mount.as_str())).collect();
    assert_eq!(mount_points, [None, None, Some("web/"), None, None]);
    assert_eq!(config.listeners[4].address, ListenAddress::Unix(pki.path("verimqtt.sock")), "plain MQTT on a socket");
    assert_eq!(config.listeners[0].max_connections, Some(1000));
    assert_eq!(config.sys_interval, Some(Duration::from_secs(10)));
    assert_eq!(config.metrics, Some("127.0.0.1:9883".parse().unwrap()));
    // The two limits the example sets away from their defaults reach the options.
    assert_eq!(config.options.max_keep_alive.map(|seconds| seconds.get()), Some(600));
    assert_eq!(config.options.max_session_expiry_interval, 86_400);
    let persistence = config.persistence.as_ref().expect("the example keeps a store");
    assert_eq!((persistence.file.clone(), persistence.sync), (pki.path("verimqtt.db"), SyncPolicy::Always));
    let log =
        LogConfig { level: Some("info".into()), format: Some(LogFormat::Text), file: Some(pki.path("verimqtt.log")) };
    assert_eq!(config.log, log, "the log file is relative to the configuration's directory");
}

/// Each invalid configuration's error, `DIR` standing for the temporary directory.
#[test]
fn an_invalid_file_is_refused_with_its_line_and_the_reason() {
    let pki = Pki::generate();
    pki.dir.write("bad-passwd", "# users\nalice:plain-text\n");
    pki.dir.write("bad-acl", "user alice\ntopic sometimes a/b\n");
    pki.dir.write("empty.crt", "");
    let tls = "transport = \"tls\"\ncertificate = \"server.crt\"\nprivate_key = \"server.key\"\n";
    let cases = [
        ("unknown key", "[[listener]]\nbind = \"127.0.0.1:0\"\nport = 1883\n".to_owned()),
        ("unknown table", "[[listener]]\nbind = \"127.0.0.1:0\"\n[logging]\n".to_owned()),
        ("bad address", "[[listener]]\nbind = \"localhost\"\n".to_owned()),
        ("bad transport", "[[listener]]\nbind = \"127.0.0.1:0\"\ntransport = \"quic\"\n".to_owned()),
        ("no listener", "[sys]\ninterval = 1\n".to_owned()),
        ("tls without certificate", "[[listener]]\nbind = \"127.0.0.1:0\"\ntransport = \"wss\"\n".to_owned()),
        (
            "missing certificate",
            "[[listener]]\nbind = \"127.0.0.1:0\"\ntransport = \"tls\"\ncertificate = \"nowhere.crt\"\nprivate_key = \"server.key\"\n"
                .to_owned(),
        ),
        (
            "empty certificate",
            "[[listener]]\nbind = \"127.0.0.1:0\"\ntransport = \"tls\"\ncertificate = \"empty.crt\"\nprivate_key = \"server.key\"\n"
                .to_owned(),
        ),
        ("certificate on tcp", "[[listener]]\nbind = \"127.0.0.1:0\"\ncertificate = \"server.crt\"\n".to_owned()),
        ("no bind", "[[listener]]\ntransport = \"ws\"\n".to_owned()),
        ("unix without a path", "[[listener]]\ntransport = \"unix\"\n".to_owned()),
        ("bind on unix", "[[listener]]\ntransport = \"unix\"\nbind = \"127.0.0.1:0\"\n".to_owned()),
        ("path on tcp", "[[listener]]\nbind = \"127.0.0.1:0\"\npath = \"mqtt.sock\"\n".to_owned()),
        (
            "client certificates without a CA",
            format!("[[listener]]\nbind = \"127.0.0.1:0\"\n{tls}require_client_certificate = true\n"),
        ),
        (
            "bad password-file line",
            "[[listener]]\nbind = \"127.0.0.1:0\"\n\n[auth]\npassword_file = \"bad-passwd\"\n".to_owned(),
        ),
        ("bad ACL line", "[[listener]]\nbind = \"127.0.0.1:0\"\n\n[auth]\nacl_file = \"bad-acl\"\n".to_owned()),
        ("missing ACL file", "[[listener]]\nbind = \"127.0.0.1:0\"\n[auth]\nacl_file = \"no-acl\"\n".to_owned()),
        (
            "closed without passwords",
            "[[listener]]\nbind = \"127.0.0.1:0\"\n[auth]\nallow_anonymous = false\n".to_owned(),
        ),
        ("bad limit", "[[listener]]\nbind = \"127.0.0.1:0\"\n[limits]\nmaximum_qos = 3\n".to_owned()),
        ("bad log format", "[[listener]]\nbind = \"127.0.0.1:0\"\n[log]\nformat = \"xml\"\n".to_owned()),
        ("negative interval", "[[listener]]\nbind = \"127.0.0.1:0\"\n[sys]\ninterval = -1\n".to_owned()),
        (
            "listener closed without passwords",
            "[[listener]]\nbind = \"127.0.0.1:0\"\nallow_anonymous = false\n".to_owned(),
        ),
        (
            "bad listener ACL line",
            "[[listener]]\nbind = \"127.0.0.1:0\"\n[[listener]]\nbind = \"127.0.0.1:0\"\nacl_file = \"bad-acl\"\n"
                .to_owned(),
        ),
        ("mount point with a wildcard", "[[listener]]\nbind = \"127.0.0.1:0\"\nmount_point = \"a/+/\"\n".to_owned()),
        ("mount point with an empty level", "[[listener]]\nbind = \"127.0.0.1:0\"\nmount_point = \"a//\"\n".to_owned()),
        ("mount point without a slash", "[[listener]]\nbind = \"127.0.0.1:0\"\nmount_point = \"tenant\"\n".to_owned()),
        ("empty mount point", "[[listener]]\nbind = \"127.0.0.1:0\"\nmount_point = \"\"\n".to_owned()),
        (
            "bad sync policy",
            "[[listener]]\nbind = \"127.0.0.1:0\"\n[persistence]\nfile = \"store.db\"\nsync = \"sometimes\"\n".to_owned(),
        ),
    ];
    let dir = pki.dir.path().display().to_string();
    let mut report = String::new();
    for (case, text) in cases {
        let path = pki.dir.write("broker.toml", &text);
        let error: ConfigError = BrokerConfig::load(&path).unwrap_err();
        assert_eq!(error.path, path, "{case}");
        assert!(error.line > 0 || case == "no listener", "{case}: {error} names no line");
        writeln!(report, "{case}: {}", error.to_string().replace(&dir, "DIR")).unwrap();
    }
    insta::assert_snapshot!(report);
}

/// A CONNECT over the Unix domain socket at `path`, and whether a CONNACK accepted it.
fn connects_over_unix_socket(path: &Path) -> bool {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(path).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut wire = bytes::BytesMut::new();
    let connect = Packet::Connect(Box::new(Connect::new(ProtocolVersion::V5, mqtt_string("local"))));
    verimqtt::codec::encode(&connect, ProtocolVersion::V5, &mut wire).unwrap();
    stream.write_all(&wire).unwrap();
    let mut received = bytes::BytesMut::new();
    let options = verimqtt::codec::DecodeOptions::new(ProtocolVersion::V5);
    loop {
        if let Some(packet) = verimqtt::codec::decode(&mut received, &options).unwrap() {
            return matches!(packet, Packet::ConnAck(connack) if !connack.reason_code.is_failure());
        }
        let mut chunk = [0; 256];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(read) => received.extend_from_slice(&chunk[..read]),
        }
    }
}

#[test]
fn a_unix_socket_listener_serves_local_clients_and_replaces_a_stale_socket() {
    let dir = TempDir::new();
    let socket = dir.path().join("mqtt.sock");
    // A socket file a broker that is gone left behind.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let text = "[[listener]]\nbind = \"127.0.0.1:0\"\n[[listener]]\ntransport = \"unix\"\npath = \"mqtt.sock\"\n";
    let broker = serve(dir.path(), text);
    assert!(connects_over_unix_socket(&socket));
    assert_eq!(broker.addrs().len(), 1, "the Unix domain socket has no IP address");
    RawClient::connect(broker.addr(), ProtocolVersion::V311, "over tcp");
    // One a broker listens on is in use, and a file that is not a socket is left alone.
    let again = dir.write("again.toml", text);
    let error = BrokerConfig::load(&again).unwrap().bind().unwrap_err();
    assert!(error.to_string().contains("cannot listen on unix:") && error.line == 3, "{error}");
    dir.write("not-a-socket", "data");
    let file = dir.write("file.toml", "[[listener]]\ntransport = \"unix\"\npath = \"not-a-socket\"\n");
    let error = BrokerConfig::load(&file).unwrap().bind().unwrap_err();
    assert!(error.to_string().contains("cannot listen on unix:"), "{error}");
    assert_eq!(std::fs::read_to_string(dir.path().join("not-a-socket")).unwrap(), "data");
}

#[test]
fn a_missing_file_and_an_address_in_use_are_refused_with_the_reason() {
    let dir = TempDir::new();
    let missing = BrokerConfig::load(&dir.path().join("absent.toml")).unwrap_err();
    assert!(missing.to_string().ends_with("absent.toml: cannot read it: No such file or directory (os error 2)"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let text =
        format!("[[listener]]\nbind = \"127.0.0.1:0\"\n\n[[listener]]\nbind = \"{}\"\n", taken.local_addr().unwrap());
    let path = dir.write("broker.toml", text);
    let error = BrokerConfig::load(&path).unwrap().bind().unwrap_err();
    assert_eq!(error.line, 4, "{error}");
    assert!(error.to_string().contains("cannot listen on"), "{error}");
}

#[test]
fn the_limits_of_the_file_reach_the_broker() {
    let dir = TempDir::new();
    let broker =
        serve(dir.path(), "[[listener]]\nbind = \"127.0.0.1:0\"\n[limits]\nmax_keep_alive = 30\nmaximum_qos = 1\n");
    let (_client, connack) =
        RawClient::connect_with(broker.addr(), Connect::new(ProtocolVersion::V5, mqtt_string("c")));
    assert_eq!(connack.properties.server_keep_alive, Some(30));
    assert_eq!(connack.properties.maximum_qos, Some(QoS::AtLeastOnce));
}

#[test]
fn a_connect_timeout_too_long_for_the_clock_is_no_limit_rather_than_a_crash() {
    let dir = TempDir::new();
    let text = format!("[[listener]]\nbind = \"127.0.0.1:0\"\n[limits]\nconnect_timeout = {}\n", u64::MAX);
    let broker = serve(dir.path(), &text);
    RawClient::connect(broker.addr(), ProtocolVersion::V311, "patient");
}
