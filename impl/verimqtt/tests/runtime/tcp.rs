//! The embedded broker over real loopback TCP.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::codec::{
    Disconnect, MqttString, Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS, ReasonCode,
};
use verimqtt::runtime::EmbeddedBroker;

use crate::client::RawClient;

fn topic(text: &str) -> MqttString {
    MqttString::try_from(text).unwrap()
}

#[test]
fn the_embedded_broker_listens_on_an_ephemeral_loopback_port() {
    let broker = EmbeddedBroker::start().unwrap();
    assert!(broker.addr().ip().is_loopback());
    assert_ne!(broker.addr().port(), 0);
    assert_eq!(broker.url(), format!("mqtt://127.0.0.1:{}", broker.addr().port()));
    let other = EmbeddedBroker::start().unwrap();
    assert_ne!(broker.addr(), other.addr(), "each embedded broker has its own port");
}

#[test]
fn a_qos2_message_goes_from_publisher_to_subscriber_over_tcp_in_both_versions() {
    let broker = EmbeddedBroker::start().unwrap();
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut subscriber = RawClient::connect(broker.addr(), version, "sub");
        subscriber.subscribe("tcp/#", QoS::ExactlyOnce);
        let mut publisher = RawClient::connect(broker.addr(), version, "pub");
        let id = PacketId::new(1).unwrap();
        let message = Publish::new(topic("tcp/test"), QoS::ExactlyOnce, Some(id), Bytes::from_static(b"over tcp"));
        publisher.send(&Packet::Publish(message));
        assert!(matches!(publisher.recv(), Some(Packet::PubRec(ack)) if ack.packet_id == id));
        publisher.send(&Packet::PubRel(PublishAck::new(id)));
        assert!(matches!(publisher.recv(), Some(Packet::PubComp(ack)) if ack.packet_id == id));
        match subscriber.recv() {
            Some(Packet::Publish(publish)) => {
                assert_eq!((publish.topic.as_str(), &publish.payload[..]), ("tcp/test", &b"over tcp"[..]));
                let delivered = publish.packet_id.unwrap();
                subscriber.send(&Packet::PubRec(PublishAck::new(delivered)));
                assert_eq!(subscriber.recv(), Some(Packet::PubRel(PublishAck::new(delivered))));
                subscriber.send(&Packet::PubComp(PublishAck::new(delivered)));
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
}

#[test]
fn a_large_message_crosses_many_reads_intact() {
    let broker = EmbeddedBroker::start().unwrap();
    let mut subscriber = RawClient::connect(broker.addr(), ProtocolVersion::V5, "sub");
    subscriber.subscribe("big", QoS::AtLeastOnce);
    let mut publisher = RawClient::connect(broker.addr(), ProtocolVersion::V5, "pub");
    let payload: Vec<u8> = (0..200_000u32).map(|n| n as u8).collect();
    let message = Publish::new(topic("big"), QoS::AtLeastOnce, PacketId::new(1), Bytes::from(payload.clone()));
    publisher.send(&Packet::Publish(message));
    match subscriber.recv() {
        Some(Packet::Publish(publish)) => assert_eq!(publish.payload, payload),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

#[test]
fn a_silent_client_is_closed_after_one_and_a_half_keep_alives_and_not_before() {
    // [MQTT-3.1.2-22] (5.0), with real time: keep alive 1 s.
    let broker = EmbeddedBroker::start().unwrap();
    let mut connect = verimqtt::codec::Connect::new(ProtocolVersion::V5, topic("sleepy"));
    connect.keep_alive = 1;
    let started = Instant::now();
    let (mut client, _) = RawClient::connect_with(broker.addr(), connect);
    assert_eq!(client.until_closed(), [Packet::Disconnect(Disconnect::new(ReasonCode::KeepAliveTimeout))]);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1500), "closed after {waited:?}");
    assert!(waited < Duration::from_secs(4), "closed only after {waited:?}");
}

#[test]
fn a_connection_that_sends_nothing_is_closed_at_the_connect_timeout() {
    let options = BrokerOptions { connect_timeout: Duration::from_millis(200), ..BrokerOptions::default() };
    let broker = EmbeddedBroker::start_with(options, AllowAll).unwrap();
    let mut client = RawClient::open(broker.addr(), ProtocolVersion::V311);
    assert_eq!(client.until_closed(), []);
}

#[test]
fn a_protocol_error_closes_only_the_connection_it_came_on() {
    let broker = EmbeddedBroker::start().unwrap();
    let mut steady = RawClient::connect(broker.addr(), ProtocolVersion::V311, "steady");
    steady.subscribe("t", QoS::AtMostOnce);
    let mut bad = RawClient::connect(broker.addr(), ProtocolVersion::V5, "bad");
    bad.send_bytes(b"\x30\x05\x00\x02\xc3\x28\x00");
    match bad.until_closed().as_slice() {
        [Packet::Disconnect(disconnect)] => assert_eq!(disconnect.reason_code, ReasonCode::MalformedPacket),
        other => panic!("expected DISCONNECT 0x81, got {other:?}"),
    }
    let mut publisher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "pub");
    publisher.send(&Packet::Publish(Publish::new(topic("t"), QoS::AtMostOnce, None, Bytes::from_static(b"ok"))));
    assert!(matches!(steady.recv(), Some(Packet::Publish(publish)) if publish.payload == "ok"));
}

#[test]
fn shutdown_disconnects_clients_and_frees_the_port() {
    let broker = EmbeddedBroker::start().unwrap();
    let addr = broker.addr();
    let mut client = RawClient::connect(addr, ProtocolVersion::V5, "c");
    broker.shutdown().unwrap();
    assert_eq!(client.until_closed(), [Packet::Disconnect(Disconnect::new(ReasonCode::ServerShuttingDown))]);
    assert!(TcpStream::connect(addr).is_err(), "nothing listens any more");
}

#[test]
fn dropping_the_embedded_broker_stops_it() {
    let addr = EmbeddedBroker::start().unwrap().addr();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn many_clients_at_once_each_get_every_message() {
    const CLIENTS: usize = 20;
    const MESSAGES: usize = 50;
    let broker = EmbeddedBroker::start().unwrap();
    let mut subscribers: Vec<RawClient> = (0..CLIENTS)
        .map(|n| {
            let mut client = RawClient::connect(broker.addr(), ProtocolVersion::V311, &format!("sub{n}"));
            client.subscribe("load/#", QoS::AtLeastOnce);
            client
        })
        .collect();
    let addr = broker.addr();
    let publishers: Vec<_> = (0..2)
        .map(|p| {
            std::thread::spawn(move || {
                let mut publisher = RawClient::connect(addr, ProtocolVersion::V311, &format!("pub{p}"));
                for n in 1..=MESSAGES {
                    let payload = Bytes::from(format!("{p}:{n}"));
                    let id = PacketId::new(n as u16);
                    publisher.send(&Packet::Publish(Publish::new(topic("load/x"), QoS::AtLeastOnce, id, payload)));
                    assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.join().unwrap();
    }
    for subscriber in &mut subscribers {
        let mut last = [0usize; 2];
        for _ in 0..2 * MESSAGES {
            match subscriber.recv() {
                Some(Packet::Publish(publish)) => {
                    let text = String::from_utf8(publish.payload.to_vec()).unwrap();
                    let (p, n) = text.split_once(':').unwrap();
                    let (p, n): (usize, usize) = (p.parse().unwrap(), n.parse().unwrap());
                    assert_eq!(n, last[p] + 1, "in order per publisher [MQTT-4.6.0-6]");
                    last[p] = n;
                    subscriber.send(&Packet::PubAck(PublishAck::new(publish.packet_id.unwrap())));
                }
                other => panic!("expected PUBLISH, got {other:?}"),
            }
        }
    }
}

#[test]
fn a_resumed_session_gets_its_unacknowledged_messages_again_and_those_queued_while_away() {
    let broker = EmbeddedBroker::start().unwrap();
    // 3.1.1: a session without clean session outlives its connection.
    let persistent = || {
        let mut connect = verimqtt::codec::Connect::new(ProtocolVersion::V311, topic("resumer"));
        connect.clean_start = false;
        connect
    };
    let (mut subscriber, _) = RawClient::connect_with(broker.addr(), persistent());
    subscriber.subscribe("resume/#", QoS::ExactlyOnce);
    let mut publisher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "pub");
    let send = |publisher: &mut RawClient, qos: QoS, payload: &'static str| {
        publisher.send(&Packet::Publish(Publish::new(topic("resume/x"), qos, PacketId::new(1), Bytes::from(payload))));
        assert!(matches!(publisher.recv(), Some(Packet::PubAck(_) | Packet::PubRec(_))));
        if qos == QoS::ExactlyOnce {
            publisher.send(&Packet::PubRel(PublishAck::new(PacketId::new(1).unwrap())));
            assert!(matches!(publisher.recv(), Some(Packet::PubComp(_))));
        }
    };
    send(&mut publisher, QoS::AtLeastOnce, "in flight 1");
    send(&mut publisher, QoS::ExactlyOnce, "in flight 2");
    // Received, never acknowledged: the connection drops with both in flight.
    let first: Vec<Packet> = (0..2).map(|_| subscriber.recv().unwrap()).collect();
    assert!(first.iter().all(|packet| matches!(packet, Packet::Publish(p) if !p.dup)), "{first:?}");
    drop(subscriber);
    send(&mut publisher, QoS::AtLeastOnce, "while away");
    let (mut subscriber, connack) = RawClient::connect_with(broker.addr(), persistent());
    assert!(connack.session_present);
    let mut again = Vec::new();
    for _ in 0..3 {
        match subscriber.recv() {
            Some(Packet::Publish(publish)) => {
                let id = publish.packet_id.unwrap();
                again.push((String::from_utf8(publish.payload.to_vec()).unwrap(), publish.dup));
                match publish.qos {
                    QoS::ExactlyOnce => subscriber.send(&Packet::PubRec(PublishAck::new(id))),
                    _ => subscriber.send(&Packet::PubAck(PublishAck::new(id))),
                }
            }
            other => panic!("expected PUBLISH, got {other:?} after {again:?}"),
        }
    }
    assert!(matches!(subscriber.recv(), Some(Packet::PubRel(_))), "the QoS 2 message goes on to PUBREL");
    // Resent with DUP in their original order [MQTT-4.4.0-1], then the queued one.
    let expected = [("in flight 1", true), ("in flight 2", true), ("while away", false)];
    assert_eq!(again, expected.map(|(payload, dup)| (payload.to_owned(), dup)));
}
