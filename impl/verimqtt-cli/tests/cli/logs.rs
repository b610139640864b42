//! What `verimqtt broker` logs and where, over real sockets: the peer and the user on every
//! connection line, `-v` with every packet, `--log-format json`, `--log-file` reopened on
//! SIGHUP, an invalid level refused at start; mosquitto_pub as a client where it applies.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use verimqtt::codec::{Packet, ProtocolVersion, QoS, ReasonCode};

use crate::binary::BrokerProcess;
use crate::client::{RawClient, connect};
use crate::files::TempDir;
use crate::listeners::free_port;
use crate::process::tool;

/// The value of `field=` in a text log line, up to the next space.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line.find(&format!(" {name}=")).unwrap_or_else(|| panic!("no {name} in {line}")) + name.len() + 2;
    line[start..].split_whitespace().next().unwrap()
}

#[test]
fn connected_refused_taken_over_and_closed_lines_name_the_peer_and_the_user() {
    let (mut broker, addr) = BrokerProcess::start(&["--listen", "127.0.0.1:0", "--max-sessions", "1"]);
    let (mut first, _) = RawClient::connect_with(addr, connect(ProtocolVersion::V5, "meter", Some("alice"), None));
    let connected = broker.log_line_with("client connected");
    let first_peer = field(&connected, "peer");
    assert!(first_peer.starts_with("127.0.0.1:"), "{connected}");
    assert_eq!(field(&connected, "username"), "\"alice\"", "{connected}");

    let (_, refused) = RawClient::connect_with(addr, connect(ProtocolVersion::V5, "second", Some("bob"), None));
    assert_eq!(refused.reason_code, ReasonCode::QuotaExceeded);
    let line = broker.log_line_with("CONNECT refused");
    assert!(field(&line, "peer").starts_with("127.0.0.1:") && field(&line, "username") == "\"bob\"", "{line}");

    let (mut second, _) = RawClient::connect_with(addr, connect(ProtocolVersion::V311, "meter", Some("carol"), None));
    assert!(matches!(first.until_closed().as_slice(), [Packet::Disconnect(_)]));
    let line = broker.log_line_with("taken over");
    assert_eq!(field(&line, "peer"), first_peer, "{line}");
    assert_eq!(field(&line, "username"), "\"alice\"", "{line}");
    let by_peer = field(&line, "by_peer");
    assert!(by_peer.starts_with("127.0.0.1:") && by_peer != first_peer, "{line}");
    let connected = broker.log_line_with("client connected");
    assert_eq!((field(&connected, "peer"), field(&connected, "username")), (by_peer, "\"carol\""), "{connected}");

    second.send(&Packet::Disconnect(verimqtt::codec::Disconnect::new(ReasonCode::Success)));
    let line = broker.log_line_with("client disconnected");
    assert!(field(&line, "peer").starts_with("127.0.0.1:") && field(&line, "username") == "\"carol\"", "{line}");
    assert!(line.contains("client_id=meter"), "{line}");
}

#[test]
fn a_mosquitto_pub_connection_is_logged_with_its_peer_and_user() {
    let Some(mosquitto_pub) = tool("mosquitto_pub") else { return };
    let (mut broker, addr) = BrokerProcess::start(&["--listen", "127.0.0.1:0"]);
    let port = addr.port().to_string();
    let args = ["-h", "127.0.0.1", "-p", &port, "-V", "mqttv311", "-i", "mp", "-u", "erin", "-t", "t", "-m", "x"];
    assert!(Command::new(mosquitto_pub).args(args).status().unwrap().success());
    let connected = broker.log_line_with("client connected");
    let disconnected = broker.log_line_with("client disconnected");
    for line in [&connected, &disconnected] {
        assert!(field(line, "peer").starts_with("127.0.0.1:") && field(line, "username") == "\"erin\"", "{line}");
    }
}

#[test]
fn a_protocol_violation_line_names_the_peer_and_the_user() {
    let (mut broker, addr) = BrokerProcess::start(&["--listen", "127.0.0.1:0"]);
    let (mut client, _) = RawClient::connect_with(addr, connect(ProtocolVersion::V5, "twice", Some("dave"), None));
    let connected = broker.log_line_with("client connected");
    // [MQTT-3.1.0-2]: a second CONNECT is a protocol violation.
    client.send(&Packet::Connect(Box::new(connect(ProtocolVersion::V5, "twice", Some("dave"), None))));
    client.until_closed();
    let line = broker.log_line_with("protocol violation");
    assert_eq!((field(&line, "peer"), field(&line, "username")), (field(&connected, "peer"), "\"dave\""), "{line}");
}

#[test]
fn verbose_logs_every_packet_in_and_out_with_the_client_id() {
    let (mut broker, addr) = BrokerProcess::start(&["-v", "--listen", "127.0.0.1:0"]);
    let mut client = RawClient::connect(addr, ProtocolVersion::V311, "chatty");
    client.subscribe("news/#", QoS::AtLeastOnce);
    client.send(&Packet::PingReq);
    assert_eq!(client.recv(), Some(Packet::PingResp));
    let lines = broker.log_lines_until("PINGRESP");
    let packets: Vec<&String> = lines.iter().filter(|line| line.contains("verimqtt::packets")).collect();
    for wanted in ["received", "CONNECT", "sent", "CONNACK", "SUBSCRIBE", "SUBACK", "PINGREQ", "PINGRESP"] {
        assert!(packets.iter().any(|line| line.contains(wanted)), "no {wanted} in {packets:#?}");
    }
    let connected = lines.iter().find(|line| line.contains("client connected")).expect("a client connected line");
    let conn = format!("conn={}", field(connected, "conn"));
    assert!(
        packets.iter().all(|line| line.contains("client_id=\"chatty\"") && line.contains(&conn)),
        "{conn}: {packets:#?}"
    );
    assert!(lines.iter().any(|line| line.contains("DEBUG")), "-v is debug level");
}

/// Waits for `path` to hold a line containing `wanted`, and returns it.
fn file_line_with(path: &Path, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|line| line.contains(wanted)) {
            return line.to_owned();
        }
        assert!(Instant::now() < deadline, "no {wanted:?} in {}: {text}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn json_lines_go_to_the_log_file_which_sighup_reopens() {
    let dir = TempDir::new();
    let (log, rotated) = (dir.path().join("broker.log"), dir.path().join("broker.log.1"));
    let log_arg = log.to_str().unwrap();
    let broker = BrokerProcess::spawn(&["--listen", "127.0.0.1:0", "--log-format", "json", "--log-file", log_arg]);
    let listening: serde_json::Value = serde_json::from_str(&file_line_with(&log, "listening")).unwrap();
    let addr: SocketAddr = listening["fields"]["address"].as_str().unwrap().parse().unwrap();
    assert_eq!(listening["level"], "INFO");

    let _client = RawClient::connect_with(addr, connect(ProtocolVersion::V5, "json-meter", Some("alice"), None));
    let connected: serde_json::Value = serde_json::from_str(&file_line_with(&log, "client connected")).unwrap();
    let fields = &connected["fields"];
    assert!(fields["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{connected}");
    assert_eq!((&fields["username"], &fields["client_id"]), (&"alice".into(), &"json-meter".into()), "{connected}");

    // logrotate moves the file away, then sends SIGHUP.
    std::fs::rename(&log, &rotated).unwrap();
    broker.signal("HUP");
    file_line_with(&log, "log file reopened");
    RawClient::connect(addr, ProtocolVersion::V311, "after-rotation");
    file_line_with(&log, "after-rotation");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains("json-meter") && !old.contains("after-rotation"), "{old}");
    for line in std::fs::read_to_string(&log).unwrap().lines().chain(old.lines()) {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|error| panic!("{error}: {line}"));
    }
}

#[test]
fn the_log_table_of_the_configuration_sets_the_level_the_format_and_the_file() {
    let dir = TempDir::new();
    let port = free_port();
    let config = format!(
        "[[listener]]\nbind = \"127.0.0.1:{port}\"\n[log]\nlevel = \"info,verimqtt::packets=debug\"\nformat = \"json\"\nfile = \"broker.log\"\n"
    );
    let config = dir.write("broker.toml", &config);
    let _broker = BrokerProcess::spawn_with(&["-c", config.to_str().unwrap()], "");
    let log = dir.path().join("broker.log");
    file_line_with(&log, "listening");
    let mut client = RawClient::connect(SocketAddr::from(([127, 0, 0, 1], port)), ProtocolVersion::V311, "configured");
    client.send(&Packet::PingReq);
    assert_eq!(client.recv(), Some(Packet::PingResp));
    file_line_with(&log, "PINGRESP");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let debug: Vec<&serde_json::Value> = lines.iter().filter(|line| line["level"] == "DEBUG").collect();
    assert!(debug.iter().any(|line| line["fields"]["message"].as_str().unwrap().contains("CONNECT")), "{lines:#?}");
    assert!(debug.iter().all(|line| line["target"] == "verimqtt::packets"), "only the packets at debug: {debug:#?}");
}

/// Runs `verimqtt broker ARGS` with `RUST_LOG` and expects it to refuse to start with a
/// message on stderr containing each of `wanted`.
fn assert_refused(args: &[&str], rust_log: &str, wanted: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .arg("broker")
        .args(args)
        .env("RUST_LOG", rust_log)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{args:?} RUST_LOG={rust_log}: {stderr}");
    for wanted in wanted {
        assert!(stderr.contains(wanted), "{args:?} RUST_LOG={rust_log}: no {wanted:?} in {stderr}");
    }
}

#[test]
fn an_invalid_level_or_log_file_stops_the_broker_at_start_naming_it() {
    let dir = TempDir::new();
    let listen = ["--listen", "127.0.0.1:0"];
    assert_refused(&listen, "debg", &["\"debg\" is not a level", "RUST_LOG"]);
    assert_refused(&listen, "info,verimqtt=loud", &["\"info,verimqtt=loud\"", "RUST_LOG"]);
    let config = dir.write("broker.toml", "[[listener]]\nbind = \"127.0.0.1:0\"\n[log]\nlevel = \"verbose\"\n");
    assert_refused(&["-c", config.to_str().unwrap()], "", &["\"verbose\"", "[log] level"]);
    let nowhere = dir.path().join("missing-dir").join("broker.log");
    assert_refused(
        &[&listen[..], &["--log-file", nowhere.to_str().unwrap()]].concat(),
        "",
        &["cannot open the log file"],
    );
}
