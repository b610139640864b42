//! The `verimqtt` binary: `verimqtt broker` serves on the address given, reads its
//! configuration file, logs refused clients without their password and stops cleanly on
//! Ctrl-C (SIGINT); `verimqtt passwd` writes password files.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{ChildStderr, Command, Output, Stdio};

use bytes::Bytes;
use verimqtt::auth::PasswordFile;
use verimqtt::codec::{Binary, Connect, Disconnect, Packet, PacketId, ProtocolVersion, Publish, QoS, ReasonCode, Will};

use crate::client::{Answer, RawClient, assert_answer_at, connect, mqtt_string};
use crate::files::TempDir;
use crate::process::Process;

/// A `verimqtt broker` process logging at info, and its log.
pub(crate) struct BrokerProcess {
    pub(crate) child: Process,
    log: BufReader<ChildStderr>,
}

impl BrokerProcess {
    /// Starts `verimqtt broker ARGS` and returns it with the address of its first listener,
    /// read from its log.
    pub(crate) fn start(args: &[&str]) -> (Self, SocketAddr) {
        let mut process = Self::spawn(args);
        let address = process.next_address();
        (process, address)
    }

    /// Starts `verimqtt broker ARGS` with RUST_LOG=info.
    pub(crate) fn spawn(args: &[&str]) -> Self {
        Self::spawn_with(args, "info")
    }

    /// Starts `verimqtt broker ARGS` with this RUST_LOG (empty: as if unset).
    pub(crate) fn spawn_with(args: &[&str], rust_log: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
            .arg("broker")
            .args(args)
            .env("RUST_LOG", rust_log)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        BrokerProcess { log: BufReader::new(child.stderr.take().unwrap()), child: Process(child) }
    }

    /// The address of the next listener the log says it listens on.
    pub(crate) fn next_address(&mut self) -> SocketAddr {
        let line = self.log_line_with("address=");
        let (_, address) = line.split_once("address=").unwrap();
        address.trim().parse().unwrap()
    }

    /// Reads the log until a line containing `wanted`, and returns it.
    pub(crate) fn log_line_with(&mut self, wanted: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            assert_ne!(self.log.read_line(&mut line).unwrap(), 0, "the broker exited without logging {wanted:?}");
            if line.contains(wanted) {
                return line;
            }
        }
    }

    /// Sends SIGINT, as Ctrl-C does.
    fn interrupt(&self) {
        self.signal("INT");
    }

    /// Sends the signal of this name (`TERM`, `HUP`...).
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// The log lines up to the first one containing `wanted`, that one included.
    pub(crate) fn log_lines_until(&mut self, wanted: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            assert_ne!(self.log.read_line(&mut line).unwrap(), 0, "the broker exited without logging {wanted:?}");
            let done = line.contains(wanted);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }
}

#[test]
fn verimqtt_broker_serves_until_ctrl_c_then_disconnects_its_clients() {
    let (mut broker, addr) = BrokerProcess::start(&["--listen", "127.0.0.1:0", "--max-keep-alive", "30"]);
    let (mut client, connack) = RawClient::connect_with(addr, Connect::new(ProtocolVersion::V5, mqtt_string("c")));
    assert_eq!(connack.properties.server_keep_alive, Some(30), "the options reach the broker");
    broker.interrupt();
    assert_eq!(client.until_closed(), [Packet::Disconnect(Disconnect::new(ReasonCode::ServerShuttingDown))]);
    assert!(broker.child.wait().unwrap().success());
    broker.log_line_with("Ctrl-C");
}

#[test]
fn sigterm_stops_the_broker_as_ctrl_c_does_publishing_wills_and_telling_mqtt5_clients() {
    let (mut broker, addr) = BrokerProcess::start(&["--listen", "127.0.0.1:0"]);
    let mut watcher = RawClient::connect(addr, ProtocolVersion::V311, "watcher");
    watcher.subscribe("wills/#", QoS::AtLeastOnce);
    let mut request = Connect::new(ProtocolVersion::V5, mqtt_string("mortal"));
    request.will = Some(Will {
        topic: mqtt_string("wills/mortal"),
        payload: Binary::from_static(b"stopped").unwrap(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    let (mut client, _) = RawClient::connect_with(addr, request);
    broker.signal("TERM");
    assert_eq!(client.until_closed(), [Packet::Disconnect(Disconnect::new(ReasonCode::ServerShuttingDown))]);
    match watcher.until_closed().as_slice() {
        [Packet::Publish(will)] => assert_eq!(&will.payload[..], b"stopped"),
        other => panic!("expected the will, got {other:?}"),
    }
    assert!(broker.child.wait().unwrap().success(), "exit status 0");
    broker.log_line_with("SIGTERM: stopping");
}

#[test]
fn sighup_reads_the_password_file_again_and_keeps_the_old_one_when_the_new_one_is_wrong() {
    let dir = TempDir::new();
    passwd(&dir, &["-b", "passwd", "alice", "first"]);
    let config = dir.write(
        "broker.toml",
        "[[listener]]\nbind = \"127.0.0.1:0\"\n[auth]\nallow_anonymous = false\npassword_file = \"passwd\"\n",
    );
    let (mut broker, addr) = BrokerProcess::start(&["-c", config.to_str().unwrap()]);
    let alice = |password| connect(ProtocolVersion::V5, "alice", Some("alice"), Some(password));
    assert_answer_at(addr, alice("first"), Answer::Accepted);
    // A new password for alice, and a new user.
    passwd(&dir, &["-b", "passwd", "alice", "second"]);
    passwd(&dir, &["-b", "passwd", "bob", "builder"]);
    broker.signal("HUP");
    let line = broker.log_line_with("SIGHUP");
    assert!(line.contains("added: bob") && line.contains("new password: alice"), "{line}");
    broker.log_line_with("new policy in use");
    assert_answer_at(addr, alice("first"), Answer::BadUserNameOrPassword);
    assert_answer_at(addr, alice("second"), Answer::Accepted);
    assert_answer_at(addr, connect(ProtocolVersion::V311, "bob", Some("bob"), Some("builder")), Answer::Accepted);
    // A file that cannot be read is refused with the line and the reason; the one in use
    // stays.
    dir.write("passwd", "alice:not-a-hash\n");
    broker.signal("HUP");
    let line = broker.log_line_with("SIGHUP");
    assert!(line.contains("line 1") && line.contains("kept"), "{line}");
    assert_answer_at(addr, alice("second"), Answer::Accepted);
}

#[test]
fn a_subscriber_that_cannot_keep_up_makes_one_warning_with_a_count_not_one_per_message() {
    let limits = ["--max-inflight", "1", "--max-queued-messages", "1", "--slow-consumer-timeout", "1"];
    let (mut broker, addr) = BrokerProcess::start(&[&["--listen", "127.0.0.1:0"][..], &limits].concat());
    // The subscriber reads but never acknowledges: one message in flight, one queued. It
    // holds the publisher back for a second, then it is a slow consumer and the rest is
    // dropped.
    let mut stuck = RawClient::connect(addr, ProtocolVersion::V311, "stuck");
    stuck.subscribe("busy", QoS::AtLeastOnce);
    let mut publisher = RawClient::connect(addr, ProtocolVersion::V311, "publisher");
    for n in 1..=500 {
        let packet_id = PacketId::new(n);
        let message = Publish::new(mqtt_string("busy"), QoS::AtLeastOnce, packet_id, Bytes::from_static(b"x"));
        publisher.send(&Packet::Publish(message));
        assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));
    }
    // A client connecting afterwards marks the end of what the flood logged.
    RawClient::connect(addr, ProtocolVersion::V311, "marker");
    let lines = broker.log_lines_until("marker");
    let drops: Vec<&String> = lines.iter().filter(|line| line.contains("dropped")).collect();
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert!(drops[0].contains("QueueFull") && drops[0].contains("stuck"), "{}", drops[0]);
    let slow: Vec<&String> = lines.iter().filter(|line| line.contains("slow consumer")).collect();
    assert_eq!(slow.len(), 1, "{slow:?}");
    drop(stuck);
}

#[test]
fn a_refusal_for_a_limit_names_the_limit() {
    let (mut broker, addr) = BrokerProcess::start(&["--listen", "127.0.0.1:0", "--max-sessions", "1"]);
    let persistent = |id: &str| {
        let mut connect = Connect::new(ProtocolVersion::V5, mqtt_string(id));
        connect.clean_start = false;
        connect.properties.session_expiry_interval = Some(60);
        connect
    };
    let _first = RawClient::connect_with(addr, persistent("first"));
    let (_, connack) = RawClient::connect_with(addr, persistent("second"));
    assert_eq!(connack.reason_code, ReasonCode::QuotaExceeded);
    let reason = connack.properties.reason_string.clone().unwrap();
    assert!(reason.contains("max_sessions"), "{reason}");
    let line = broker.log_line_with("CONNECT refused");
    assert!(line.contains("max_sessions") && line.contains("second"), "{line}");
}

#[test]
fn verimqtt_broker_reads_its_file_and_logs_a_refused_client_without_the_password() {
    let dir = TempDir::new();
    passwd(&dir, &["-b", "passwd", "alice", "s3cret-wonderland"]);
    let config = dir.write(
        "broker.toml",
        "[[listener]]\nbind = \"127.0.0.1:0\"\n[auth]\nallow_anonymous = false\npassword_file = \"passwd\"\n",
    );
    let (mut broker, addr) = BrokerProcess::start(&["-c", config.to_str().unwrap()]);
    let attempt = connect(ProtocolVersion::V5, "intruder", Some("alice"), Some("guessed-password"));
    assert_answer_at(addr, attempt, Answer::BadUserNameOrPassword);
    let line = broker.log_line_with("refused");
    assert!(line.contains("alice") && line.contains("intruder"), "the log names who tried: {line}");
    assert!(!line.contains("guessed-password"), "the log shows the password: {line}");
    assert_answer_at(
        addr,
        connect(ProtocolVersion::V311, "alice", Some("alice"), Some("s3cret-wonderland")),
        Answer::Accepted,
    );
}

#[test]
fn verimqtt_broker_serves_prometheus_metrics_on_the_address_of_the_flag() {
    let (mut broker, addr) = BrokerProcess::start(&["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
    let line = broker.log_line_with("metrics listening");
    let (_, metrics) = line.split_once("address=").unwrap();
    let metrics: SocketAddr = metrics.trim().parse().unwrap();
    let _client = RawClient::connect(addr, ProtocolVersion::V5, "scraped");
    let samples = crate::scrape::scrape(metrics);
    assert_eq!(samples["verimqtt_clients_connected"], 1.0);
    assert_eq!(samples["verimqtt_connects_total"], 1.0);
    // jemalloc's heap: a broker holds some, and the maximum read is at least the latest.
    let heap = samples["verimqtt_heap_bytes"];
    assert!(heap > 0.0 && samples["verimqtt_heap_max_bytes"] >= heap, "{samples:?}");
    let help = Command::new(env!("CARGO_BIN_EXE_verimqtt")).args(["broker", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--metrics <ADDR>"), "the flag is in --help");
}

#[test]
fn verimqtt_broker_publishes_jemallocs_heap_in_sys() {
    let (_broker, addr) = BrokerProcess::start(&["--listen", "127.0.0.1:0"]);
    let mut client = RawClient::connect(addr, ProtocolVersion::V5, "heap");
    client.subscribe("$SYS/broker/heap/+", QoS::AtMostOnce);
    let mut values = std::collections::BTreeMap::new();
    while values.len() < 2 {
        let Some(Packet::Publish(message)) = client.recv() else { panic!("expected the heap topics") };
        let bytes: u64 = String::from_utf8_lossy(&message.payload).parse().unwrap();
        values.insert(message.topic.to_string(), bytes);
    }
    let (current, maximum) = (values["$SYS/broker/heap/current"], values["$SYS/broker/heap/maximum"]);
    assert!(current > 0 && maximum >= current, "{values:?}");
}

#[test]
fn verimqtt_broker_refuses_an_invalid_file_naming_the_line_and_the_reason() {
    let dir = TempDir::new();
    let config = dir.write("broker.toml", "[[listener]]\nbind = \"127.0.0.1:0\"\ntransport = \"quic\"\n");
    let output = Command::new(env!("CARGO_BIN_EXE_verimqtt")).args(["broker", "-c"]).arg(&config).output().unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains(&format!("{}:3: unknown variant `quic`", config.display())), "{log}");
}

/// Runs `verimqtt passwd ARGS` in `dir`.
fn passwd(dir: &TempDir, args: &[&str]) -> Output {
    let output =
        Command::new(env!("CARGO_BIN_EXE_verimqtt")).arg("passwd").args(args).current_dir(dir.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn verimqtt_passwd_writes_entries_from_the_batch_flag_and_from_standard_input() {
    let dir = TempDir::new();
    passwd(&dir, &["-b", "passwd", "alice", "from-argument"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .args(["passwd", "passwd", "bob"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"from-stdin\n").unwrap();
    assert!(child.wait().unwrap().success());
    let file = PasswordFile::parse(&std::fs::read_to_string(dir.path().join("passwd")).unwrap()).unwrap();
    assert!(file.get("alice").unwrap().verify(b"from-argument"));
    assert!(file.get("bob").unwrap().verify(b"from-stdin"));
    let refused = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .args(["passwd", "-b", "passwd", "a:b", "x"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(message.lines().count(), 1, "one clear line: {message}");
}
