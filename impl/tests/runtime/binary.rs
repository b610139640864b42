//! The `verimqtt` binary: `verimqtt broker` serves on the address given, reads its
//! configuration file, logs refused clients without their password and stops cleanly on
//! Ctrl-C (SIGINT); `verimqtt passwd` writes password files.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{ChildStderr, Command, Output, Stdio};

use verimqtt::auth::PasswordFile;
use verimqtt::codec::{Connect, Disconnect, Packet, ProtocolVersion, ReasonCode};

use crate::auth::{Answer, assert_answer_at, connect};
use crate::client::{RawClient, mqtt_string};
use crate::files::TempDir;
use crate::process::Process;

/// A `verimqtt broker` process logging at info, and its log.
struct BrokerProcess {
    child: Process,
    log: BufReader<ChildStderr>,
}

impl BrokerProcess {
    /// Starts `verimqtt broker ARGS` and returns it with the address of its first listener,
    /// read from its log.
    fn start(args: &[&str]) -> (Self, SocketAddr) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
            .arg("broker")
            .args(args)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut process = BrokerProcess { log: BufReader::new(child.stderr.take().unwrap()), child: Process(child) };
        let line = process.log_line_with("address=");
        let (_, address) = line.split_once("address=").unwrap();
        (process, address.trim().parse().unwrap())
    }

    /// Reads the log until a line containing `wanted`, and returns it.
    fn log_line_with(&mut self, wanted: &str) -> String {
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
        let status = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
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
