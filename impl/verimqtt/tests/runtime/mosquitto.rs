//! Interoperability with a real third-party client: mosquitto_pub and mosquitto_sub from
//! Debian's mosquitto-clients. Without them a test prints a one-line notice and passes,
//! except under CI (the CI variable set), where they must be installed.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::codec::PublishAck;
use verimqtt::codec::{MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS};
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};

use verimqtt::runtime::passwd::set_password;

use crate::client::{PATIENCE, RawClient};
use crate::config::serve;
use crate::files::{Pki, TempDir};
use crate::process::{Process, tool};
use crate::sys::sys_broker;

fn version_flag(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::V311 => "mqttv311",
        ProtocolVersion::V5 => "mqttv5",
    }
}

/// Runs mosquitto_pub against `addr` to completion.
fn run_mosquitto_pub(pub_path: &PathBuf, addr: SocketAddr, args: &[&str]) -> Output {
    let port = addr.port().to_string();
    Command::new(pub_path).args(["-h", "127.0.0.1", "-p", &port]).args(args).output().unwrap()
}

/// Runs mosquitto_pub against `addr` to completion, which must be a success.
fn mosquitto_pub(pub_path: &PathBuf, addr: SocketAddr, args: &[&str]) {
    let output = run_mosquitto_pub(pub_path, addr, args);
    assert!(output.status.success(), "mosquitto_pub {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// A running mosquitto_sub whose output lines (`topic payload`) arrive on a channel.
struct Subscriber {
    /// Killed on drop.
    _child: Process,
    lines: mpsc::Receiver<String>,
}

/// The retained message that tells a test mosquitto_sub's subscriptions are in place: it
/// prints messages as they come (its debug output is buffered), and this one comes first.
const READY_TOPIC: &str = "interop/ready";

impl Subscriber {
    /// Starts mosquitto_sub against `addr` and waits until it is subscribed. The broker's
    /// first listener must be plain TCP, letting anonymous clients in.
    fn start(sub_path: &PathBuf, broker: &EmbeddedBroker, addr: SocketAddr, args: &[&str]) -> Self {
        let mut marker = RawClient::connect(broker.addr(), ProtocolVersion::V311, "ready-marker");
        let mut ready = Publish::new(MqttString::try_from(READY_TOPIC).unwrap(), QoS::AtMostOnce, None, "ready".into());
        ready.retain = true;
        marker.send(&Packet::Publish(ready));
        marker.send(&Packet::PingReq);
        assert_eq!(marker.recv(), Some(Packet::PingResp));
        let port = addr.port().to_string();
        let mut child = Command::new(sub_path)
            .args(["-h", "127.0.0.1", "-p", &port, "-v", "-t", READY_TOPIC])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut subscriber = Subscriber { _child: Process(child), lines };
        subscriber.wait_for(&format!("{READY_TOPIC} ready"));
        subscriber
    }

    /// Reads lines until `wanted` comes, failing after a while.
    fn wait_for(&mut self, wanted: &str) {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) if line == wanted => return,
                Ok(line) => seen.push(line),
                Err(_) => panic!("mosquitto_sub did not print {wanted:?}; it printed {seen:?}"),
            }
        }
    }
}

#[test]
fn mosquitto_pub_delivers_to_our_subscriber_at_every_qos_in_both_versions() {
    let Some(pub_path) = tool("mosquitto_pub") else { return };
    let broker = EmbeddedBroker::start().unwrap();
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut subscriber = RawClient::connect(broker.addr(), version, "ours");
        subscriber.subscribe("interop/#", QoS::ExactlyOnce);
        for qos in ["0", "1", "2"] {
            let message = format!("qos {qos}");
            mosquitto_pub(
                &pub_path,
                broker.addr(),
                &["-V", version_flag(version), "-q", qos, "-t", "interop/pub", "-m", &message],
            );
            match subscriber.recv() {
                Some(Packet::Publish(publish)) => {
                    assert_eq!(publish.payload, message.as_bytes());
                    assert_eq!(publish.qos as u8, qos.parse::<u8>().unwrap());
                    match publish.qos {
                        QoS::AtMostOnce => {}
                        QoS::AtLeastOnce => {
                            subscriber.send(&Packet::PubAck(PublishAck::new(publish.packet_id.unwrap())))
                        }
                        QoS::ExactlyOnce => {
                            let id = publish.packet_id.unwrap();
                            subscriber.send(&Packet::PubRec(PublishAck::new(id)));
                            assert_eq!(subscriber.recv(), Some(Packet::PubRel(PublishAck::new(id))));
                            subscriber.send(&Packet::PubComp(PublishAck::new(id)));
                        }
                    }
                }
                other => panic!("{version} QoS {qos}: expected PUBLISH, got {other:?}"),
            }
        }
    }
}

#[test]
fn mosquitto_sub_receives_what_our_client_publishes_in_both_versions() {
    let Some(sub_path) = tool("mosquitto_sub") else { return };
    let broker = EmbeddedBroker::start().unwrap();
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut subscriber = Subscriber::start(
            &sub_path,
            &broker,
            broker.addr(),
            &["-V", version_flag(version), "-q", "2", "-t", "interop/sub"],
        );
        let mut publisher = RawClient::connect(broker.addr(), version, "ours");
        let topic = MqttString::try_from("interop/sub").unwrap();
        let message = Publish::new(topic, QoS::ExactlyOnce, PacketId::new(1), Bytes::from_static(b"to mosquitto"));
        publisher.send(&Packet::Publish(message));
        assert!(matches!(publisher.recv(), Some(Packet::PubRec(_))));
        publisher.send(&Packet::PubRel(PublishAck::new(PacketId::new(1).unwrap())));
        assert!(matches!(publisher.recv(), Some(Packet::PubComp(_))));
        // libmosquitto hands a QoS 2 message to mosquitto_sub only once the broker's PUBREL
        // arrives, so seeing it printed shows the whole flow worked.
        subscriber.wait_for("interop/sub to mosquitto");
    }
}

#[test]
fn mosquitto_sub_gets_a_retained_message_mosquitto_pub_left() {
    let (Some(pub_path), Some(sub_path)) = (tool("mosquitto_pub"), tool("mosquitto_sub")) else { return };
    let broker = EmbeddedBroker::start().unwrap();
    mosquitto_pub(&pub_path, broker.addr(), &["-q", "1", "-r", "-t", "interop/retained", "-m", "still here"]);
    let port = broker.addr().port().to_string();
    let output = Command::new(&sub_path)
        .args(["-h", "127.0.0.1", "-p", &port, "-V", "mqttv5", "-t", "interop/#", "-C", "1", "-W", "5", "-v"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "interop/retained still here");
}

#[test]
fn the_will_of_a_killed_mosquitto_sub_is_published() {
    let Some(sub_path) = tool("mosquitto_sub") else { return };
    let broker = EmbeddedBroker::start().unwrap();
    let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V5, "watcher");
    watcher.subscribe("interop/will", QoS::AtLeastOnce);
    let mortal = Subscriber::start(
        &sub_path,
        &broker,
        broker.addr(),
        &["-t", "interop/nothing", "--will-topic", "interop/will", "--will-payload", "gone", "--will-qos", "1"],
    );
    drop(mortal);
    match watcher.recv() {
        Some(Packet::Publish(publish)) => assert_eq!(publish.payload, "gone"),
        other => panic!("expected the will, got {other:?}"),
    }
}

#[test]
fn the_will_of_a_mosquitto_client_that_disconnects_cleanly_is_not_published() {
    let Some(pub_path) = tool("mosquitto_pub") else { return };
    let broker = sys_broker(Duration::from_millis(20));
    let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "watcher");
    watcher.subscribe("interop/#", QoS::AtLeastOnce);
    watcher.subscribe("$SYS/broker/#", QoS::AtMostOnce);
    mosquitto_pub(
        &pub_path,
        broker.addr(),
        &["-t", "interop/data", "-m", "x", "--will-topic", "interop/will", "--will-payload", "gone"],
    );
    let mut data_seen = false;
    let mut uptimes_after_data = 0;
    // mosquitto_pub has exited, but the broker may not have read its DISCONNECT yet. Once a
    // live `$SYS` count after the data says only the watcher is connected, the broker has
    // closed mosquitto_pub's connection, and a will would have been routed before that count.
    // mosquitto_pub may have come and gone between two updates, leaving the count unchanged:
    // then two live uptimes after the data, a second and more, stand for it.
    loop {
        match watcher.recv() {
            Some(Packet::Publish(message)) if message.topic.as_str() == "interop/data" => {
                data_seen = true;
                if let Some(id) = message.packet_id {
                    watcher.send(&Packet::PubAck(PublishAck::new(id)));
                }
            }
            Some(Packet::Publish(message)) if message.topic.as_str() == "interop/will" => {
                panic!("the will of a client that sent DISCONNECT was published")
            }
            Some(Packet::Publish(message)) if message.topic.as_str() == "$SYS/broker/uptime" => {
                uptimes_after_data += usize::from(data_seen && !message.retain);
                if uptimes_after_data == 2 {
                    break;
                }
            }
            Some(Packet::Publish(message))
                if data_seen
                    && !message.retain
                    && message.topic.as_str() == "$SYS/broker/clients/connected"
                    && message.payload == "1" =>
            {
                break;
            }
            Some(Packet::Publish(_)) => {}
            other => panic!("expected the data, then $SYS/broker/clients/connected, got {other:?}"),
        }
    }
}

/// The mosquitto flags of a TLS connection trusting the test CA, with the client
/// certificate or not.
fn tls_flags(pki: &Pki, with_certificate: bool) -> Vec<String> {
    let path = |name: &str| pki.path(name).display().to_string();
    let mut flags = vec!["--cafile".to_owned(), path("ca.crt")];
    if with_certificate {
        flags.extend(["--cert".to_owned(), path("client.crt"), "--key".to_owned(), path("client.key")]);
    }
    flags
}

#[test]
fn mosquitto_pub_and_sub_talk_through_our_tls_listener_in_both_versions() {
    let (Some(pub_path), Some(sub_path)) = (tool("mosquitto_pub"), tool("mosquitto_sub")) else { return };
    let pki = Pki::generate();
    let tls =
        "transport = \"tls\"\nbind = \"127.0.0.1:0\"\ncertificate = \"server.crt\"\nprivate_key = \"server.key\"\n";
    let config = format!(
        "[[listener]]\nbind = \"127.0.0.1:0\"\n[[listener]]\n{tls}[[listener]]\n{tls}client_ca = \"ca.crt\"\nrequire_client_certificate = true\n"
    );
    let broker = serve(pki.dir.path(), &config);
    let (tls_addr, mutual_addr) = (broker.addrs()[1], broker.addrs()[2]);
    let plain = tls_flags(&pki, false);
    let plain: Vec<&str> = plain.iter().map(String::as_str).collect();
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let flags = [&["-V", version_flag(version), "-q", "1"][..], &plain].concat();
        let mut subscriber = Subscriber::start(&sub_path, &broker, tls_addr, &[&flags[..], &["-t", "tls/#"]].concat());
        let message = format!("over tls in {version}");
        mosquitto_pub(&pub_path, tls_addr, &[&flags[..], &["-t", "tls/interop", "-m", &message]].concat());
        subscriber.wait_for(&format!("tls/interop {message}"));
    }
    // The listener that requires a client certificate takes mosquitto's, and not none.
    let mutual = tls_flags(&pki, true);
    let mutual: Vec<&str> = mutual.iter().map(String::as_str).collect();
    mosquitto_pub(&pub_path, mutual_addr, &[&mutual[..], &["-t", "tls/mutual", "-m", "with a certificate"]].concat());
    let refused =
        run_mosquitto_pub(&pub_path, mutual_addr, &[&plain[..], &["-t", "tls/mutual", "-m", "without"]].concat());
    assert!(!refused.status.success(), "accepted without a client certificate");
}

#[test]
fn mosquitto_clients_log_in_with_a_username_and_password_in_both_versions() {
    let (Some(pub_path), Some(sub_path)) = (tool("mosquitto_pub"), tool("mosquitto_sub")) else { return };
    let dir = TempDir::new();
    set_password(&dir.path().join("passwd"), "alice", "wonderland").unwrap();
    let broker = serve(
        dir.path(),
        "[[listener]]\nbind = \"127.0.0.1:0\"\n[auth]\nallow_anonymous = true\npassword_file = \"passwd\"\n",
    );
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let login = ["-V", version_flag(version), "-u", "alice", "-P", "wonderland"];
        let mut subscriber =
            Subscriber::start(&sub_path, &broker, broker.addr(), &[&login[..], &["-t", "auth/#"]].concat());
        mosquitto_pub(&pub_path, broker.addr(), &[&login[..], &["-t", "auth/in", "-m", "logged in"]].concat());
        subscriber.wait_for("auth/in logged in");
        let wrong = ["-V", version_flag(version), "-u", "alice", "-P", "looking-glass", "-t", "auth/in", "-m", "no"];
        let refused = run_mosquitto_pub(&pub_path, broker.addr(), &wrong);
        assert!(!refused.status.success(), "{version}: a wrong password was accepted");
        let said = String::from_utf8_lossy(&refused.stderr).to_lowercase();
        assert!(said.contains("password") || said.contains("not authori"), "{version}: {said}");
    }
}

/// A mosquitto broker on a loopback port, killed on drop.
pub struct Mosquitto {
    /// Killed on drop.
    _child: Process,
    port: u16,
}

impl Mosquitto {
    /// Starts mosquitto with these configuration lines (plus a loopback listener) and
    /// waits until it says it is running.
    pub fn start(path: &PathBuf, dir: &TempDir, lines: &str) -> Self {
        // A port that was free a moment ago: mosquitto cannot be told to pick one.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(path, dir, lines, port)
    }

    /// [`start`](Self::start) on this port, as when a broker is started again.
    pub fn start_on(path: &PathBuf, dir: &TempDir, lines: &str, port: u16) -> Self {
        let config = dir.write("mosquitto.conf", format!("listener {port} 127.0.0.1\n{lines}"));
        let mut child = Command::new(path).arg("-c").arg(&config).stderr(Stdio::piped()).spawn().unwrap();
        let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        while !seen.last().is_some_and(|line: &String| line.contains("running")) {
            match log.next() {
                Some(Ok(line)) => seen.push(line),
                _ => panic!("mosquitto stopped before running: {seen:?}"),
            }
        }
        // Its log must keep draining, or mosquitto blocks writing it.
        std::thread::spawn(move || log.for_each(drop));
        Mosquitto { _child: Process(child), port }
    }

    pub fn addr(&self) -> SocketAddr {
        (std::net::Ipv4Addr::LOCALHOST, self.port).into()
    }
}

#[test]
fn mosquitto_reads_a_password_file_written_by_verimqtt_passwd() {
    let (Some(mosquitto), Some(pub_path)) = (tool("mosquitto"), tool("mosquitto_pub")) else { return };
    let dir = TempDir::new();
    let passwords = dir.path().join("passwd");
    set_password(&passwords, "alice", "wonderland").unwrap();
    // mosquitto started as root reads its files as the user mosquitto.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passwords, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let broker =
        Mosquitto::start(&mosquitto, &dir, &format!("allow_anonymous false\npassword_file {}\n", passwords.display()));
    mosquitto_pub(&pub_path, broker.addr(), &["-u", "alice", "-P", "wonderland", "-t", "t", "-m", "m"]);
    let refused = run_mosquitto_pub(&pub_path, broker.addr(), &["-u", "alice", "-P", "wonder", "-t", "t", "-m", "m"]);
    assert!(!refused.status.success(), "mosquitto took a wrong password");
}

/// The `$SYS` topics a broker publishes: those retained when `$SYS/#` is subscribed to, and
/// those published until `live_uptimes` updates of the uptime went by.
fn sys_topics(addr: SocketAddr, live_uptimes: usize) -> std::collections::BTreeSet<String> {
    let mut watcher = RawClient::connect(addr, ProtocolVersion::V311, "sys-topics");
    watcher.subscribe("$SYS/#", QoS::AtMostOnce);
    let (mut topics, mut uptimes) = (std::collections::BTreeSet::new(), 0);
    while uptimes < live_uptimes {
        match watcher.recv() {
            Some(Packet::Publish(message)) => {
                uptimes += usize::from(message.topic.as_str() == "$SYS/broker/uptime" && !message.retain);
                topics.insert(message.topic.to_string());
            }
            other => panic!("expected $SYS messages, got {other:?} after {topics:?}"),
        }
    }
    topics
}

#[test]
fn verimqtt_publishes_mosquittos_sys_topics_the_heap_with_a_reader() {
    let Some(mosquitto) = tool("mosquitto") else { return };
    let dir = TempDir::new();
    let theirs = sys_topics(Mosquitto::start(&mosquitto, &dir, "allow_anonymous true\nsys_interval 1\n").addr(), 2);
    let ours = sys_topics(sys_broker(Duration::from_millis(50)).addr(), 1);
    assert!(ours.len() >= 50, "{ours:?}");
    let only_ours: Vec<&String> = ours.difference(&theirs).collect();
    assert!(only_ours.is_empty(), "topics mosquitto 2.0 does not publish: {only_ours:?}");
    let only_theirs: Vec<&str> = theirs.difference(&ours).map(String::as_str).collect();
    // The heap needs the allocator's count, which only the program can give (README.md).
    let heap = ["$SYS/broker/heap/current", "$SYS/broker/heap/maximum"];
    assert_eq!(only_theirs, heap, "mosquitto's topics verimqtt does not publish without a heap reader");
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap(), Transport::Tcp).unwrap();
    let server =
        Server::new(BrokerOptions::default(), AllowAll).listener(listener).sys_interval(Duration::from_millis(50));
    let with_heap = EmbeddedBroker::serve(server.heap(|| Some(4096))).unwrap();
    let ours = sys_topics(with_heap.addr(), 1);
    assert_eq!(ours, theirs, "with a heap reader, every topic of mosquitto's and no other");
}
