//! The blocking client over real loopback sockets, against the embedded broker and against
//! mosquitto: publishes return once complete for their QoS, subscriptions are read one
//! message at a time, a call that cannot complete in time says so, and a broker restart is
//! ridden out by reconnecting.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use verimqtt::client::{ClientOptions, DropReason};
use verimqtt::codec::{MqttString, ProtocolVersion, QoS};
use verimqtt::runtime::client::{AsyncClientOptions, BlockingClient, BlockingError, ClientError, Reconnect};
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};

use crate::client::PATIENCE;
use crate::files::TempDir;
use crate::mosquitto::Mosquitto;
use crate::process::tool;

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn options(version: ProtocolVersion, client_id: &str) -> AsyncClientOptions {
    AsyncClientOptions::new(ClientOptions::new(version, MqttString::try_from(client_id).unwrap()))
}

/// A subscriber gets what a publisher sent at each QoS, once; then nothing more comes.
fn messages_go_through(url: &str, version: ProtocolVersion) {
    let subscriber = BlockingClient::connect(url, options(version, "blocking-sub")).unwrap();
    let mut messages = subscriber.subscribe("blocking/#", QoS::ExactlyOnce).unwrap();
    let mut publisher = BlockingClient::connect(url, options(version, "blocking-pub")).unwrap();
    publisher.set_timeout(Some(PATIENCE));
    let sent = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    for qos in sent {
        publisher.publish(&format!("blocking/{}", qos as u8), format!("at {qos:?}"), qos, false).unwrap();
    }
    let mut received: Vec<(String, String, QoS)> = (0..sent.len())
        .map(|_| {
            let message = messages.recv_timeout(PATIENCE).unwrap().expect("the client ended");
            (message.topic.to_string(), String::from_utf8(message.payload.to_vec()).unwrap(), message.qos)
        })
        .collect();
    received.sort_by_key(|(topic, _, _)| topic.clone());
    let expected: Vec<_> =
        sent.iter().map(|&qos| (format!("blocking/{}", qos as u8), format!("at {qos:?}"), qos)).collect();
    assert_eq!(received, expected, "{version} at {url}");
    assert!(
        matches!(messages.recv_timeout(Duration::from_millis(200)), Err(BlockingError::TimedOut(_))),
        "{version}: one copy of each"
    );
    publisher.disconnect();
    subscriber.disconnect();
}

#[test]
fn the_blocking_client_publishes_at_every_qos_and_reads_its_subscription_in_both_versions() {
    let broker = EmbeddedBroker::start().unwrap();
    for version in VERSIONS {
        messages_go_through(&broker.url(), version);
    }
}

#[test]
fn the_blocking_client_works_with_mosquitto_in_both_versions() {
    let Some(mosquitto) = tool("mosquitto") else { return };
    let dir = TempDir::new();
    let broker = Mosquitto::start(&mosquitto, &dir, "allow_anonymous true\n");
    for version in VERSIONS {
        messages_go_through(&format!("mqtt://{}", broker.addr()), version);
    }
}

#[test]
fn a_blocking_call_that_cannot_complete_in_time_says_so() {
    let broker = EmbeddedBroker::start().unwrap();
    let client = BlockingClient::connect(&broker.url(), options(ProtocolVersion::V5, "blocking-idle")).unwrap();
    let mut messages = client.subscribe("nothing/comes/here", QoS::AtLeastOnce).unwrap();
    let started = std::time::Instant::now();
    let waited = messages.recv_timeout(Duration::from_millis(300));
    assert!(matches!(waited, Err(BlockingError::TimedOut(limit)) if limit == Duration::from_millis(300)), "{waited:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    client.disconnect();
}

/// Subscribes and publishes, restarts the broker (which loses every session), and publishes
/// until the subscriber hears again: each `publish` returns once its client has reconnected
/// and the new broker acknowledged it (or, for one written on the connection the restart
/// closed, with the error saying the message ended with the session), and the subscriber,
/// told Session Present 0, subscribes again by itself. Messages published before it has go to
/// nobody.
fn a_broker_restart_is_ridden_out(url: &str, version: ProtocolVersion, restart: &mut dyn FnMut()) {
    let quick = |client_id: &str| {
        let mut options = options(version, client_id);
        options.reconnect = Reconnect {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            max_retries: None,
        };
        options
    };
    let subscriber = BlockingClient::connect(url, quick("restart-sub")).unwrap();
    let mut messages = subscriber.subscribe("restart/#", QoS::AtLeastOnce).unwrap();
    let mut publisher = BlockingClient::connect(url, quick("restart-pub")).unwrap();
    publisher.set_timeout(Some(PATIENCE));
    publisher.publish("restart/before", "before", QoS::AtLeastOnce, false).unwrap();
    assert_eq!(messages.recv_timeout(PATIENCE).unwrap().expect("the client ended").payload, "before");

    restart();
    let deadline = Instant::now() + PATIENCE;
    loop {
        match publisher.publish("restart/after", "after", QoS::AtLeastOnce, false) {
            Ok(()) => {}
            // Written on the connection the restart closed: the client's session (expiry 0)
            // ended with it, and the client says the message went with it.
            Err(BlockingError::Client(ClientError::Dropped(DropReason::SessionEnded))) => continue,
            Err(error) => panic!("{version} at {url}: {error}"),
        }
        match messages.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(message)) => {
                assert_eq!((message.topic.as_ref(), &message.payload[..]), ("restart/after", &b"after"[..]));
                break;
            }
            Err(BlockingError::TimedOut(_)) if Instant::now() < deadline => {}
            other => panic!("{version} at {url}: nothing after the restart: {other:?}"),
        }
    }
    publisher.disconnect();
    subscriber.disconnect();
}

#[test]
fn the_blocking_client_rides_out_a_restart_of_the_embedded_broker() {
    let start_on = |addr: SocketAddr| {
        let listener = Listener::bind(addr, Transport::Tcp).unwrap();
        EmbeddedBroker::serve(Server::new(Default::default(), verimqtt::broker::AllowAll).listener(listener)).unwrap()
    };
    for version in VERSIONS {
        let mut broker = Some(EmbeddedBroker::start().unwrap());
        let addr = broker.as_ref().unwrap().addr();
        let mut restart = || {
            broker.take().unwrap().shutdown().unwrap();
            broker = Some(start_on(addr));
        };
        a_broker_restart_is_ridden_out(&format!("mqtt://{addr}"), version, &mut restart);
    }
}

#[test]
fn the_blocking_client_rides_out_a_restart_of_mosquitto() {
    let Some(mosquitto) = tool("mosquitto") else { return };
    let dir = TempDir::new();
    for version in VERSIONS {
        let mut broker = Some(Mosquitto::start(&mosquitto, &dir, "allow_anonymous true\n"));
        let addr = broker.as_ref().unwrap().addr();
        let mut restart = || {
            drop(broker.take());
            broker = Some(Mosquitto::start_on(&mosquitto, &dir, "allow_anonymous true\n", addr.port()));
        };
        a_broker_restart_is_ridden_out(&format!("mqtt://{addr}"), version, &mut restart);
    }
}
