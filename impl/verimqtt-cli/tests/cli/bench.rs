//! `verimqtt bench` against the embedded broker: its JSON result adds up.

use std::net::Ipv4Addr;
use std::process::Command;

use serde_json::Value;
use verimqtt::broker::AllowAll;
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Store, SyncPolicy, Transport};

use crate::files::{Pki, TempDir, acceptor};

/// Runs `verimqtt bench` with `flags` against `broker` and returns its JSON result.
fn bench(broker: &EmbeddedBroker, flags: &[&str]) -> Value {
    bench_at(&broker.url(), flags)
}

/// Runs `verimqtt bench` with `flags` against the broker at `url` and returns its JSON result.
fn bench_at(url: &str, flags: &[&str]) -> Value {
    let dir = TempDir::new();
    let json = dir.path().join("result.json");
    let output = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .arg("bench")
        .args(flags)
        .args(["--no-progress", "--json"])
        .arg(&json)
        .arg(url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "verimqtt bench {flags:?} failed: {stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("delivered"), "a summary on standard output: {stdout}");
    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
}

fn count(value: &Value, key: &str) -> u64 {
    value[key].as_u64().unwrap_or_else(|| panic!("{key} is not a count in {value}"))
}

#[test]
fn one_pair_at_qos_1_gets_every_message_once_and_the_counts_agree() {
    let broker = EmbeddedBroker::start().unwrap();
    let result = bench(&broker, &["--pairs", "1", "-q", "1", "-n", "2000", "-s", "100"]);
    for (key, expected) in [("sent", 2000), ("completed", 2000), ("failed", 0), ("expected", 2000)] {
        assert_eq!(count(&result, key), expected, "{key}");
    }
    for (key, expected) in [("delivered", 2000), ("lost", 0), ("duplicates", 0), ("unexpected", 0), ("received", 2000)]
    {
        assert_eq!(count(&result, key), expected, "{key}");
    }
    assert_eq!(result["delivered_percent"], 100.0);
    assert_eq!(result["errors"], Value::Array(Vec::new()));
    assert_eq!(result["load"]["qos"], 1);
    assert_eq!(result["load"]["payload_bytes"], 100);

    let latency = &result["latency_us"];
    assert_eq!(count(latency, "count"), 2000, "one latency per message delivered");
    let (p50, p99, max) = (count(latency, "p50"), count(latency, "p99"), count(latency, "max"));
    assert!(p50 <= p99 && p99 <= max, "{latency}");
    assert!(result["delivered_per_s"].as_f64().unwrap() > 0.0);

    let publishers = result["publishers"].as_array().unwrap();
    let subscribers = result["subscribers"].as_array().unwrap();
    assert_eq!((publishers.len(), subscribers.len()), (1, 1));
    assert_eq!((count(&publishers[0], "sent"), count(&publishers[0], "completed")), (2000, 2000));
    assert_eq!((count(&subscribers[0], "delivered"), count(&subscribers[0], "lost")), (2000, 0));
    assert_eq!(publishers[0]["topic"], subscribers[0]["filter"], "a pair shares its topic");
    broker.shutdown().unwrap();
}

#[test]
fn fan_out_at_qos_2_for_a_duration_delivers_each_message_to_every_subscriber() {
    let broker = EmbeddedBroker::start().unwrap();
    let result = bench(&broker, &["--fan-out", "3", "-q", "2", "-d", "0.5", "-r", "200", "-V", "mqttv5"]);
    let sent = count(&result, "sent");
    assert!(sent > 0);
    assert_eq!(count(&result, "completed"), sent);
    assert_eq!(count(&result, "expected"), 3 * sent, "each message to three subscribers");
    assert_eq!((count(&result, "delivered"), count(&result, "duplicates")), (3 * sent, 0));
    for subscriber in result["subscribers"].as_array().unwrap() {
        assert_eq!(count(subscriber, "delivered"), sent);
    }
    assert_eq!(result["load"]["protocol"], "5.0");
    broker.shutdown().unwrap();
}

#[test]
fn persistent_sessions_in_both_versions_against_a_broker_with_a_store() {
    let dir = TempDir::new();
    let store = Store::open(&dir.path().join("store.db"), SyncPolicy::Always).unwrap();
    let listener = Listener::bind((Ipv4Addr::LOCALHOST, 0).into(), Transport::Tcp).unwrap();
    let server = Server::new(Default::default(), AllowAll).listener(listener);
    let broker = EmbeddedBroker::serve(server.store(store)).unwrap();
    for version in ["mqttv311", "mqttv5"] {
        let result = bench(&broker, &["--pairs", "2", "-q", "2", "-n", "300", "-V", version, "--persistent-sessions"]);
        assert_eq!((count(&result, "delivered"), count(&result, "duplicates")), (600, 0), "{version}");
        assert_eq!(result["load"]["persistent_sessions"], true);
    }
    broker.shutdown().unwrap();
}

#[test]
fn over_tls_with_a_client_certificate_and_over_secure_websocket_every_message_arrives() {
    let pki = Pki::generate();
    let listen = |transport| Listener::bind((Ipv4Addr::LOCALHOST, 0).into(), transport).unwrap();
    let server = Server::new(Default::default(), AllowAll)
        .listener(listen(Transport::Tls(acceptor(&pki, true))))
        .listener(listen(Transport::SecureWebSocket(acceptor(&pki, false))));
    let broker = EmbeddedBroker::serve(server).unwrap();
    let path = |name: &str| pki.path(name).to_string_lossy().into_owned();
    let (ca, cert, key) = (path("ca.crt"), path("client.crt"), path("client.key"));
    let tls = format!("mqtts://localhost:{}", broker.addrs()[0].port());
    let flags = ["-q", "1", "-n", "200", "--cafile", &ca, "--cert", &cert, "--key", &key];
    let result = bench_at(&tls, &flags);
    assert_eq!((count(&result, "delivered"), count(&result, "lost")), (200, 0), "over TLS");
    assert_eq!(result["insecure_tls"], false);
    let wss = format!("wss://127.0.0.1:{}/mqtt", broker.addrs()[1].port());
    let result = bench_at(&wss, &["-q", "1", "-n", "200", "--insecure"]);
    assert_eq!((count(&result, "delivered"), count(&result, "lost")), (200, 0), "over WebSocket over TLS");
    assert_eq!(result["insecure_tls"], true, "the result says the certificate was not checked");
    broker.shutdown().unwrap();
}
