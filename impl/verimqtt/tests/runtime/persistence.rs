//! The broker with a store, over real loopback sockets: a restarted broker gives back the
//! persistent sessions, their queued messages and the retained messages, and a store it
//! cannot read stops it with the file, what is wrong and how to recover.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::codec::{Connect, Packet, PacketId, ProtocolVersion, PublishAck, QoS};
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Store, StoreError, SyncPolicy, Transport};

use crate::client::{RawClient, mqtt_string, publish};
use crate::files::TempDir;

fn broker_on(store: &Path) -> EmbeddedBroker {
    let listener = Listener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), Transport::Tcp).unwrap();
    let store = Store::open(store, SyncPolicy::Always).unwrap();
    EmbeddedBroker::serve(Server::new(BrokerOptions::default(), AllowAll).listener(listener).store(store)).unwrap()
}

/// A CONNECT that resumes or creates a session that outlives its connection.
fn persistent(version: ProtocolVersion, client_id: &str) -> Connect {
    let mut connect = Connect::new(version, mqtt_string(client_id));
    connect.clean_start = false;
    if version.is_v5() {
        connect.properties.session_expiry_interval = Some(3600);
    }
    connect
}

fn id(value: u16) -> PacketId {
    PacketId::new(value).unwrap()
}

#[test]
fn a_restarted_broker_gives_back_sessions_their_queued_messages_and_retained_messages() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let dir = TempDir::new();
        let path = dir.path().join("store.db");
        let broker = broker_on(&path);
        let (mut subscriber, _) = RawClient::connect_with(broker.addr(), persistent(version, "durable"));
        subscriber.subscribe("d/#", QoS::ExactlyOnce);
        drop(subscriber);

        let mut publisher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "sender");
        publisher.send(&publish("d/1", QoS::AtLeastOnce, "one"));
        assert_eq!(publisher.recv(), Some(Packet::PubAck(PublishAck::new(id(1)))));
        publisher.send(&publish("d/2", QoS::ExactlyOnce, "two"));
        assert_eq!(publisher.recv(), Some(Packet::PubRec(PublishAck::new(id(1)))));
        publisher.send(&Packet::PubRel(PublishAck::new(id(1))));
        assert_eq!(publisher.recv(), Some(Packet::PubComp(PublishAck::new(id(1)))));
        let mut retained = publish("d/r", QoS::AtLeastOnce, "kept");
        if let Packet::Publish(publish) = &mut retained {
            publish.retain = true;
        }
        publisher.send(&retained);
        assert_eq!(publisher.recv(), Some(Packet::PubAck(PublishAck::new(id(1)))));
        broker.shutdown().unwrap();

        let broker = broker_on(&path);
        let (mut subscriber, connack) = RawClient::connect_with(broker.addr(), persistent(version, "durable"));
        assert!(connack.session_present, "{version}: the session survived the restart");
        let received: Vec<(String, QoS, Vec<u8>)> = (0..3)
            .map(|_| match subscriber.recv() {
                Some(Packet::Publish(publish)) => (publish.topic.to_string(), publish.qos, publish.payload.to_vec()),
                other => panic!("{version}: {other:?}"),
            })
            .collect();
        assert_eq!(
            received,
            [
                ("d/1".to_owned(), QoS::AtLeastOnce, b"one".to_vec()),
                ("d/2".to_owned(), QoS::ExactlyOnce, b"two".to_vec()),
                ("d/r".to_owned(), QoS::AtLeastOnce, b"kept".to_vec()),
            ],
            "{version}: in the order they were published"
        );
        let mut late = RawClient::connect(broker.addr(), version, "late");
        late.subscribe("d/r", QoS::AtMostOnce);
        assert!(matches!(late.recv(), Some(Packet::Publish(publish)) if publish.retain && publish.payload == "kept"));
        broker.shutdown().unwrap();
    }
}

#[test]
fn a_file_that_is_not_a_store_is_refused_with_the_way_out() {
    let dir = TempDir::new();
    let text = "a text file, not a database, long enough to have a header of its own";
    let path = dir.write("store.db", text);
    let error = Store::open(&path, SyncPolicy::Always).unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with(&path.display().to_string()), "{message}");
    assert!(message.contains("move") && message.contains("-wal"), "{message}");
    assert_eq!(std::fs::read(&path).unwrap(), text.as_bytes(), "the file is left as it was");
}

#[test]
fn a_store_of_another_format_is_refused_and_left_alone() {
    let dir = TempDir::new();
    let path = dir.path().join("store.db");
    drop(Store::open(&path, SyncPolicy::Never).unwrap());
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute("UPDATE meta SET value = '99' WHERE key = 'format'", []).unwrap();
    drop(db);
    let error = Store::open(&path, SyncPolicy::Always).unwrap_err();
    assert!(matches!(&error, StoreError::Incompatible { found, expected: 2, .. } if found == "99"), "{error}");
    assert!(error.to_string().contains("store format 99, this verimqtt reads format 2"), "{error}");
}

#[test]
fn a_session_expires_by_the_wall_clock_across_a_restart() {
    let dir = TempDir::new();
    let path = dir.path().join("store.db");
    let broker = broker_on(&path);
    let mut request = persistent(ProtocolVersion::V5, "brief");
    request.properties.session_expiry_interval = Some(1);
    let (mut client, _) = RawClient::connect_with(broker.addr(), request.clone());
    client.subscribe("b", QoS::AtLeastOnce);
    drop(client);
    broker.shutdown().unwrap();
    // The session had a second left when the broker stopped; it does not get it back.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let broker = broker_on(&path);
    let (_, connack) = RawClient::connect_with(broker.addr(), request);
    assert!(!connack.session_present, "the session expired while the broker was stopped");
}
