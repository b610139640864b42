//! Prometheus' `GET /metrics` over loopback: the exposition parses, and its values follow
//! real traffic; the `[metrics]` key of the configuration file serves it too.

use std::net::{SocketAddr, TcpListener};

use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::codec::{Connect, Packet, ProtocolVersion, PublishAck, QoS, ReasonCode};
use verimqtt::runtime::{BrokerConfig, EmbeddedBroker, Listener, Server, Transport};

use crate::client::{RawClient, mqtt_string, publish};
use crate::config::serve;
use crate::files::TempDir;
use crate::scrape::{get, request, scrape};

/// A broker allowing no persistent session, with its metrics on an ephemeral loopback port.
fn metrics_broker() -> (EmbeddedBroker, SocketAddr) {
    let metrics = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = metrics.local_addr().unwrap();
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap(), Transport::Tcp).unwrap();
    let options = BrokerOptions { max_sessions: 0, ..BrokerOptions::default() };
    let server = Server::new(options, AllowAll).listener(listener).metrics_listener(metrics);
    (EmbeddedBroker::serve(server).unwrap(), addr)
}

#[test]
fn the_metrics_parse_and_follow_connections_messages_and_refusals() {
    let (broker, metrics) = metrics_broker();
    let before = scrape(metrics);
    for series in [
        "verimqtt_connections",
        "verimqtt_clients_connected",
        "verimqtt_sessions_offline",
        "verimqtt_messages_held",
        "verimqtt_bytes_held",
        "verimqtt_publish_received_total{qos=\"1\"}",
        "verimqtt_messages_dropped_total{reason=\"queue_full\"}",
        "verimqtt_delivery_wait_seconds_count",
    ] {
        assert_eq!(before.get(series), Some(&0.0), "{series}");
    }
    let mut subscriber = RawClient::connect(broker.addr(), ProtocolVersion::V5, "subscriber");
    subscriber.subscribe("t", QoS::AtLeastOnce);
    let mut publisher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "publisher");
    publisher.send(&publish("t", QoS::AtMostOnce, "a"));
    publisher.send(&publish("t", QoS::AtLeastOnce, "bb"));
    assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));
    for _ in 0..2 {
        match subscriber.recv() {
            Some(Packet::Publish(message)) => {
                if let Some(packet_id) = message.packet_id {
                    subscriber.send(&Packet::PubAck(PublishAck::new(packet_id)));
                }
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
    // The broker holds no persistent session (max_sessions 0): a CONNECT asking for one is
    // refused with Quota exceeded.
    let mut persistent = Connect::new(ProtocolVersion::V5, mqtt_string("third"));
    persistent.clean_start = false;
    persistent.properties.session_expiry_interval = Some(60);
    let (_, connack) = RawClient::connect_with(broker.addr(), persistent);
    assert_eq!(connack.reason_code, ReasonCode::QuotaExceeded);
    let after = scrape(metrics);
    let expected = [
        ("verimqtt_clients_connected", 2.0),
        ("verimqtt_sessions", 2.0),
        ("verimqtt_sessions_maximum", 2.0),
        ("verimqtt_connections_accepted_total", 3.0),
        ("verimqtt_connects_total", 3.0),
        ("verimqtt_connects_refused_total{code=\"0x97\",reason=\"Quota exceeded\"}", 1.0),
        ("verimqtt_publish_received_total{qos=\"0\"}", 1.0),
        ("verimqtt_publish_received_total{qos=\"1\"}", 1.0),
        ("verimqtt_publish_sent_total{qos=\"0\"}", 1.0),
        ("verimqtt_publish_sent_total{qos=\"1\"}", 1.0),
        ("verimqtt_publish_received_payload_bytes_total", 3.0),
        ("verimqtt_publish_sent_payload_bytes_total", 3.0),
        ("verimqtt_messages_received_total", 2.0),
        ("verimqtt_subscriptions", 1.0),
        ("verimqtt_delivery_wait_seconds_count", 2.0),
        ("verimqtt_delivery_wait_seconds_bucket{le=\"+Inf\"}", 2.0),
    ];
    for (series, value) in expected {
        assert_eq!(after.get(series), Some(&value), "{series}");
    }
    for series in ["verimqtt_received_bytes_total", "verimqtt_sent_bytes_total", "verimqtt_packets_received_total"] {
        assert!(after[series] > before[series], "{series}");
    }
    assert!(after["verimqtt_connections"] >= 2.0, "the refused one may still be closing");
}

#[test]
fn other_paths_methods_and_garbage_get_http_errors() {
    let (_broker, metrics) = metrics_broker();
    assert_eq!(get(metrics, "/").status, 404);
    assert_eq!(request(metrics, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status, 405);
    assert_eq!(request(metrics, "\x10\x0c\0\x04MQTT\x04\x02\0\x3c\0\0\r\n\r\n").status, 400);
    // The listener still serves.
    scrape(metrics);
}

#[test]
fn the_configuration_file_turns_the_metrics_listener_on() {
    let dir = TempDir::new();
    // A free port: taken, then let go for the broker to bind.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let broker =
        serve(dir.path(), &format!("[[listener]]\nbind = \"127.0.0.1:0\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    let _client = RawClient::connect(broker.addr(), ProtocolVersion::V311, "client");
    let samples = scrape(SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(samples["verimqtt_clients_connected"], 1.0);
}

#[test]
fn an_unusable_metrics_address_is_refused_naming_its_line() {
    let dir = TempDir::new();
    let path = dir.path().join("broker.toml");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let text =
        format!("[[listener]]\nbind = \"127.0.0.1:0\"\n\n[metrics]\nlisten = \"{}\"\n", taken.local_addr().unwrap());
    let error = BrokerConfig::parse(&text, &path).unwrap().bind().unwrap_err();
    assert_eq!(error.line, 5, "{error}");
    let error =
        BrokerConfig::parse("[[listener]]\nbind = \"127.0.0.1:0\"\n[metrics]\nlisten = \"localhost:9883\"\n", &path)
            .unwrap_err();
    assert_eq!(error.line, 4, "{error}");
    assert!(error.to_string().contains("is not an IP address and a port"), "{error}");
}

#[test]
fn a_long_head_and_silent_scrapers_are_bounded_and_mqtt_keeps_serving() {
    use std::io::Read;
    use std::time::Duration;
    let (broker, metrics) = metrics_broker();
    // A head longer than the 8 KiB read: refused, not buffered on.
    let long = format!("GET /metrics HTTP/1.1\r\nX-Long: {}\r\n", "a".repeat(9 * 1024));
    assert_eq!(request(metrics, &long).status, 400);
    // Scrapers that connect and never send hold the 16 places (metrics_http::MAX_SCRAPES):
    // one more is closed at once, without an answer.
    let silent: Vec<std::net::TcpStream> = (0..16).map(|_| std::net::TcpStream::connect(metrics).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = std::net::TcpStream::connect(metrics).unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = Vec::new();
    assert_eq!(extra.read_to_end(&mut answer).unwrap(), 0, "closed without a word");
    // MQTT is not held up: a fresh client's message gets through.
    let mut subscriber = RawClient::connect(broker.addr(), ProtocolVersion::V5, "fresh-subscriber");
    subscriber.subscribe("after", QoS::AtMostOnce);
    let mut publisher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "fresh-publisher");
    publisher.send(&publish("after", QoS::AtMostOnce, "still served"));
    assert!(matches!(subscriber.recv(), Some(Packet::Publish(message)) if message.payload.as_ref() == b"still served"));
    // Their places come back once they go.
    drop(silent);
    std::thread::sleep(Duration::from_millis(300));
    scrape(metrics);
}
