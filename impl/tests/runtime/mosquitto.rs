//! Interoperability with a real third-party client: mosquitto_pub and mosquitto_sub from
//! Debian's mosquitto-clients. Without them a test prints a one-line notice and passes,
//! except under CI (the CI variable set), where they must be installed.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use verimqtt::codec::{MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS, Subscribe, Subscription};
use verimqtt::codec::{PublishAck, SubscriptionOptions};
use verimqtt::runtime::EmbeddedBroker;

use crate::client::{PATIENCE, RawClient};

/// The path of a mosquitto client tool, or `None` (after saying so) when it is not
/// installed outside CI.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed; CI must install Debian's mosquitto-clients (apt-get install mosquitto-clients)"
        );
        eprintln!("skipped: {name} is not installed (apt-get install mosquitto-clients)");
    }
    found
}

fn version_flag(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::V311 => "mqttv311",
        ProtocolVersion::V5 => "mqttv5",
    }
}

fn subscribe(client: &mut RawClient, filter: &str, qos: QoS) {
    let filter = MqttString::try_from(filter).unwrap();
    let subscriptions = vec![Subscription { filter, options: SubscriptionOptions::new(qos) }];
    let packet_id = PacketId::new(1).unwrap();
    client.send(&Packet::Subscribe(Subscribe { packet_id, properties: Default::default(), subscriptions }));
    assert!(matches!(client.recv(), Some(Packet::SubAck(_))));
}

/// Runs mosquitto_pub to completion.
fn mosquitto_pub(pub_path: &PathBuf, broker: &EmbeddedBroker, args: &[&str]) {
    let port = broker.addr().port().to_string();
    let output = Command::new(pub_path).args(["-h", "127.0.0.1", "-p", &port]).args(args).output().unwrap();
    assert!(output.status.success(), "mosquitto_pub {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// A running mosquitto_sub whose output lines (`topic payload`) arrive on a channel.
struct Subscriber {
    child: Child,
    lines: mpsc::Receiver<String>,
}

/// The retained message that tells a test mosquitto_sub's subscriptions are in place: it
/// prints messages as they come (its debug output is buffered), and this one comes first.
const READY_TOPIC: &str = "interop/ready";

impl Subscriber {
    /// Starts mosquitto_sub and waits until it is subscribed.
    fn start(sub_path: &PathBuf, broker: &EmbeddedBroker, args: &[&str]) -> Self {
        let mut marker = RawClient::connect(broker.addr(), ProtocolVersion::V311, "ready-marker");
        let mut ready = Publish::new(MqttString::try_from(READY_TOPIC).unwrap(), QoS::AtMostOnce, None, "ready".into());
        ready.retain = true;
        marker.send(&Packet::Publish(ready));
        marker.send(&Packet::PingReq);
        assert_eq!(marker.recv(), Some(Packet::PingResp));
        let port = broker.addr().port().to_string();
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
        let mut subscriber = Subscriber { child, lines };
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

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn mosquitto_pub_delivers_to_our_subscriber_at_every_qos_in_both_versions() {
    let Some(pub_path) = tool("mosquitto_pub") else { return };
    let broker = EmbeddedBroker::start().unwrap();
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut subscriber = RawClient::connect(broker.addr(), version, "ours");
        subscribe(&mut subscriber, "interop/#", QoS::ExactlyOnce);
        for qos in ["0", "1", "2"] {
            let message = format!("qos {qos}");
            mosquitto_pub(
                &pub_path,
                &broker,
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
        let mut subscriber =
            Subscriber::start(&sub_path, &broker, &["-V", version_flag(version), "-q", "2", "-t", "interop/sub"]);
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
    mosquitto_pub(&pub_path, &broker, &["-q", "1", "-r", "-t", "interop/retained", "-m", "still here"]);
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
    subscribe(&mut watcher, "interop/will", QoS::AtLeastOnce);
    let mortal = Subscriber::start(
        &sub_path,
        &broker,
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
    let broker = EmbeddedBroker::start().unwrap();
    let mut watcher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "watcher");
    subscribe(&mut watcher, "interop/#", QoS::AtLeastOnce);
    mosquitto_pub(
        &pub_path,
        &broker,
        &["-t", "interop/data", "-m", "x", "--will-topic", "interop/will", "--will-payload", "gone"],
    );
    assert!(matches!(watcher.recv(), Some(Packet::Publish(publish)) if publish.payload == "x"));
    // mosquitto_pub has exited, but the broker may not have read its DISCONNECT yet: give it
    // time, then a PINGRESP with nothing before it shows no will was published.
    std::thread::sleep(Duration::from_millis(300));
    watcher.send(&Packet::PingReq);
    assert_eq!(watcher.recv(), Some(Packet::PingResp));
}
