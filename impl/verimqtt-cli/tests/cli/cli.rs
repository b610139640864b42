//! `verimqtt pub` and `verimqtt sub` as people run them: against our broker over TCP and
//! TLS, and against mosquitto (Debian's `mosquitto`; skipped with a notice when it is not
//! installed, except under CI), with mosquitto_pub's and mosquitto_sub's flags.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use verimqtt::auth::{Acl, FilePolicy, PasswordFile, PasswordHash, with_entry};
use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};

use crate::client::PATIENCE;
use crate::files::{Pki, TempDir, acceptor};
use crate::process::{Process, tool};

/// Flags as owned strings, to put together with others.
pub(crate) fn owned(flags: &[&str]) -> Vec<String> {
    flags.iter().map(|flag| flag.to_string()).collect()
}

/// Runs the binary to completion with `stdin` as its standard input.
pub(crate) fn run(args: &[String], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `verimqtt pub` and checks that it succeeded.
pub(crate) fn publish(args: &[String], stdin: &[u8]) {
    let output = run(&[owned(&["pub"]), args.to_vec()].concat(), stdin);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "verimqtt pub {args:?} failed: {stderr}");
}

/// Runs `verimqtt pub` or `sub` and checks that it failed with one line of explanation,
/// which is returned.
pub(crate) fn failure(args: &[String]) -> String {
    let output = run(args, b"");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success(), "verimqtt {args:?} succeeded");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with(&format!("verimqtt {}: ", args[0])), "{stderr}");
    stderr
}

/// A running `verimqtt sub` whose output lines arrive on a channel.
pub(crate) struct Subscriber {
    child: Process,
    lines: mpsc::Receiver<String>,
}

impl Subscriber {
    pub(crate) fn start(args: &[String]) -> Self {
        let mut child =
            Command::new(env!("CARGO_BIN_EXE_verimqtt")).arg("sub").args(args).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Subscriber { child: Process(child), lines }
    }

    /// The next line it prints.
    pub(crate) fn line(&self) -> String {
        self.lines.recv_timeout(PATIENCE).expect("verimqtt sub printed nothing in time")
    }

    /// Waits for it to exit by itself.
    /// Sends it SIGTERM, as a service manager stops it.
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    pub(crate) fn exit_status(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "verimqtt sub did not exit");
            // Its output closes as it exits: wait on that rather than on the clock alone.
            let _ = self.lines.recv_timeout(PATIENCE / 50);
        }
    }
}

/// `-h HOST -p PORT` for `addr`, then `extra`.
pub(crate) fn at(addr: SocketAddr, extra: &[&str]) -> Vec<String> {
    [owned(&["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()]), owned(extra)].concat()
}

pub(crate) fn localhost() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

/// The round every broker gets: a retained message tells that `sub` is subscribed; then
/// `-m` at QoS 1, `-l` lines at QoS 2, `-n`, `-f` and `-s`, and `-C` ends `sub` after them.
fn pub_and_sub_round(broker: &[String], version: &str, dir: &TempDir) {
    let flags = |more: &[&str]| [broker.to_vec(), owned(&["-V", version]), owned(more)].concat();
    publish(&flags(&["-t", "cli/ready", "-m", "ready", "-r"]), b"");
    let mut subscriber =
        Subscriber::start(&flags(&["-v", "-q", "2", "-t", "cli/ready", "-t", "cli/data/#", "-C", "7"]));
    assert_eq!(subscriber.line(), "cli/ready ready", "the retained message comes first");
    publish(&flags(&["-t", "cli/data/m", "-m", "hello", "-q", "1"]), b"");
    publish(&flags(&["-t", "cli/data/l", "-l", "-q", "2"]), b"one\n\ntwo\n");
    publish(&flags(&["-t", "cli/data/n", "-n"]), b"");
    let file = dir.write("payload.txt", "from a file");
    publish(&flags(&["-t", "cli/data/f", "-f", file.to_str().unwrap()]), b"");
    publish(&flags(&["-t", "cli/data/s", "-s"]), b"all of stdin");
    let lines: Vec<String> = (0..6).map(|_| subscriber.line()).collect();
    let expected = [
        "cli/data/m hello",
        "cli/data/l one",
        "cli/data/l two",
        "cli/data/n (null)",
        "cli/data/f from a file",
        "cli/data/s all of stdin",
    ];
    assert_eq!(lines, expected, "{version}");
    assert!(subscriber.exit_status().success(), "sub -C 7 exits once it has printed 7 messages");
    // Clear the retained message for the next round.
    publish(&flags(&["-t", "cli/ready", "-n", "-r"]), b"");
}

#[test]
fn pub_and_sub_work_against_our_broker_in_both_versions() {
    let broker = EmbeddedBroker::start().unwrap();
    let dir = TempDir::new();
    for version in ["mqttv311", "mqttv5"] {
        pub_and_sub_round(&at(broker.addr(), &[]), version, &dir);
    }
}

#[test]
fn pub_takes_the_broker_and_topic_from_a_url_and_sub_uses_tls_with_a_ca_file() {
    let pki = Pki::generate();
    let ca = pki.path("ca.crt");
    let server = Server::new(BrokerOptions::default(), AllowAll)
        .listener(Listener::bind(localhost(), Transport::Tcp).unwrap())
        .listener(Listener::bind(localhost(), Transport::Tls(acceptor(&pki, false))).unwrap())
        .listener(Listener::bind(localhost(), Transport::WebSocket).unwrap());
    let broker = EmbeddedBroker::serve(server).unwrap();
    let [tcp, tls, ws] = [0, 1, 2].map(|index| broker.addrs()[index]);
    let tls = owned(&["-h", "localhost", "-p", &tls.port().to_string(), "--cafile", ca.to_str().unwrap()]);
    publish(&[tls.clone(), owned(&["-t", "url/ready", "-m", "ready", "-r"])].concat(), b"");
    let mut subscriber = Subscriber::start(&[tls, owned(&["-v", "-t", "url/#", "-C", "3"])].concat());
    assert_eq!(subscriber.line(), "url/ready ready");
    publish(&owned(&["-L", &format!("mqtt://anyone:anything@{tcp}/url/from-url"), "-m", "via -L"]), b"");
    assert_eq!(subscriber.line(), "url/from-url via -L");
    publish(&owned(&["-L", &format!("ws://{ws}/url/websocket"), "-m", "over WebSocket"]), b"");
    assert_eq!(subscriber.line(), "url/websocket over WebSocket");
    assert!(subscriber.exit_status().success());
}

#[test]
fn a_client_certificate_from_files_opens_a_listener_that_requires_one() {
    let pki = Pki::generate();
    let [ca, cert, key] = ["ca.crt", "client.crt", "client.key"].map(|name| pki.path(name));
    let listener = Listener::bind(localhost(), Transport::Tls(acceptor(&pki, true))).unwrap();
    let broker = EmbeddedBroker::serve(Server::new(BrokerOptions::default(), AllowAll).listener(listener)).unwrap();
    let tls = at(broker.addr(), &["--cafile", ca.to_str().unwrap(), "-t", "t", "-m", "x"]);
    publish(&[tls.clone(), owned(&["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()])].concat(), b"");
    failure(&[owned(&["pub"]), tls].concat());
}

#[test]
fn the_will_of_a_vanished_sub_is_published() {
    let broker = EmbeddedBroker::start().unwrap();
    publish(&at(broker.addr(), &["-t", "will/ready", "-m", "ready", "-r"]), b"");
    let will = ["--will-topic", "will/gone", "--will-payload", "gone", "--will-qos", "1"];
    let doomed = Subscriber::start(&at(broker.addr(), &[&["-v", "-t", "will/ready"][..], &will].concat()));
    assert_eq!(doomed.line(), "will/ready ready", "connected with its will");
    let watcher = Subscriber::start(&at(broker.addr(), &["-v", "-t", "will/ready", "-t", "will/gone"]));
    assert_eq!(watcher.line(), "will/ready ready");
    // Killed: no DISCONNECT, so the broker publishes the will.
    drop(doomed);
    assert_eq!(watcher.line(), "will/gone gone");
}

#[test]
fn credentials_are_checked_and_a_refusal_is_one_line() {
    let passwords = with_entry("", "alice", &PasswordHash::new(b"secret").unwrap());
    let policy = FilePolicy::new(false).with_passwords(PasswordFile::parse(&passwords).unwrap());
    let broker = EmbeddedBroker::start_with(BrokerOptions::default(), policy).unwrap();
    // Each version's code: 3.1.1's return code 4, 5.0's reason code 0x86.
    for (version, code) in [("mqttv311", "return code 4"), ("mqttv5", "0x86")] {
        let credentials = |password: &str| at(broker.addr(), &["-V", version, "-u", "alice", "-P", password]);
        publish(&[credentials("secret"), owned(&["-t", "t", "-m", "x"])].concat(), b"");
        let refused = failure(&[owned(&["pub"]), credentials("wrong"), owned(&["-t", "t", "-m", "x"])].concat());
        assert!(refused.contains("refused") && refused.contains(code), "{version}: {refused}");
        failure(&[owned(&["sub"]), credentials("wrong"), owned(&["-t", "t"])].concat());
    }
}

#[test]
fn errors_are_one_line_and_a_failure_exit() {
    let closed = std::net::TcpListener::bind(localhost()).unwrap().local_addr().unwrap();
    for command in [owned(&["pub", "-m", "x"]), owned(&["sub"])] {
        let refused = failure(&[command, at(closed, &["-t", "t"])].concat());
        assert!(refused.contains("cannot connect"), "{refused}");
    }
    let missing = failure(&owned(&["pub", "-t", "t", "-f", "/nonexistent/payload"]));
    assert!(missing.contains("/nonexistent/payload"), "{missing}");
    let no_ca = failure(&owned(&["sub", "-t", "t", "--cafile", "/nonexistent/ca.pem"]));
    assert!(no_ca.contains("CA file"), "{no_ca}");
    let bad_url = failure(&owned(&["pub", "-L", "http://broker/t", "-m", "x"]));
    assert!(bad_url.contains("unknown scheme"), "{bad_url}");
}

/// A mosquitto broker on loopback with a configuration of the test's, stopped when dropped.
pub(crate) struct Mosquitto {
    _process: Process,
}

impl Mosquitto {
    /// Starts mosquitto and waits until it says it is running.
    pub(crate) fn start(binary: &Path, config: &Path) -> Self {
        let mut child = Command::new(binary).arg("-c").arg(config).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let mut seen: Vec<String> = Vec::new();
        while !seen.last().is_some_and(|line| line.contains("running")) {
            match lines.recv_timeout(PATIENCE) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("mosquitto did not start: {seen:?}"),
            }
        }
        Mosquitto { _process: Process(child) }
    }
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind(localhost()).unwrap().local_addr().unwrap().port()
}

#[test]
fn pub_and_sub_work_against_mosquitto_with_a_password_file_of_ours_and_tls() {
    let Some(binary) = tool("mosquitto") else { return };
    let dir = TempDir::new();
    let passwords = dir.path().join("passwords");
    let output = run(&owned(&["passwd", passwords.to_str().unwrap(), "alice"]), b"secret\n");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let pki = Pki::generate();
    let [ca, cert, key] = ["ca.crt", "server.crt", "server.key"].map(|name| pki.path(name));
    let (tcp_port, tls_port) = (free_port(), free_port());
    let config = dir.path().join("mosquitto.conf");
    // Started as root, mosquitto would become the user `mosquitto`, who cannot read a
    // password file only its owner may read.
    std::fs::write(
        &config,
        format!(
            "log_dest stderr\nuser root\nallow_anonymous false\npassword_file {}\nlistener {tcp_port} 127.0.0.1\n\
             listener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
            passwords.display(),
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let _mosquitto = Mosquitto::start(&binary, &config);
    let tcp: SocketAddr = (Ipv4Addr::LOCALHOST, tcp_port).into();
    for version in ["mqttv311", "mqttv5"] {
        pub_and_sub_round(&at(tcp, &["-u", "alice", "-P", "secret"]), version, &dir);
        let wrong = at(tcp, &["-V", version, "-u", "alice", "-P", "wrong", "-t", "t", "-m", "x"]);
        let refused = failure(&[owned(&["pub"]), wrong].concat());
        assert!(refused.contains("refused"), "{refused}");
    }
    let tls = owned(&["-h", "localhost", "-p", &tls_port.to_string(), "--cafile", ca.to_str().unwrap()]);
    let tls = [tls, owned(&["-u", "alice", "-P", "secret"])].concat();
    publish(&[tls.clone(), owned(&["-t", "tls/ready", "-m", "over TLS", "-r", "-q", "1"])].concat(), b"");
    let subscriber = Subscriber::start(&[tls, owned(&["-v", "-t", "tls/#", "-C", "1"])].concat());
    assert_eq!(subscriber.line(), "tls/ready over TLS");
}

#[test]
fn a_persistent_sub_gets_what_was_published_while_it_was_away() {
    let broker = EmbeddedBroker::start().unwrap();
    publish(&at(broker.addr(), &["-t", "keep/ready", "-m", "ready", "-r"]), b"");
    for version in ["mqttv311", "mqttv5"] {
        let keeper = |topics: &[&str]| {
            let flags =
                [&["-V", version, "-c", "-i", &format!("keeper-{version}"), "-q", "1", "-v", "-C", "1"], topics];
            at(broker.addr(), &flags.concat())
        };
        let mut first = Subscriber::start(&keeper(&["-t", "keep/ready", "-t", "keep/data"]));
        assert_eq!(first.line(), "keep/ready ready");
        assert!(first.exit_status().success());
        publish(&at(broker.addr(), &["-V", version, "-t", "keep/data", "-m", "while away", "-q", "1"]), b"");
        let again = Subscriber::start(&keeper(&["-t", "keep/data"]));
        assert_eq!(again.line(), "keep/data while away", "{version}");
    }
}

#[test]
fn what_the_acl_refuses_is_a_one_line_error() {
    let acl = Acl::parse("topic read open/#\ntopic write open/#\n").unwrap();
    let broker = EmbeddedBroker::start_with(BrokerOptions::default(), FilePolicy::new(true).with_acl(acl)).unwrap();
    for (version, code) in [("mqttv311", "0x80"), ("mqttv5", "0x87")] {
        let refused = failure(&[owned(&["sub"]), at(broker.addr(), &["-V", version, "-t", "secret/#"])].concat());
        assert!(refused.contains("subscribe failed") && refused.contains(code), "{version}: {refused}");
    }
    let denied = at(broker.addr(), &["-V", "mqttv5", "-q", "1", "-t", "secret/x", "-m", "psst"]);
    let refused = failure(&[owned(&["pub"]), denied].concat());
    assert!(refused.contains("publish failed") && refused.contains("0x87"), "{refused}");
}
