//! WebSocket and WebSocket-over-TLS listeners: the subprotocol `mqtt`, binary frames whose
//! boundaries mean nothing ([MQTT-6.0.0-2]), and peers that break the rules, each closing
//! only its own connection.

use std::io::{ErrorKind, Write};
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use verimqtt::codec::{self, Connect, Packet, ProtocolVersion, QoS};
use verimqtt::runtime::EmbeddedBroker;

use tokio_tungstenite::tungstenite::{Error, Message};

use crate::client::{RawClient, mqtt_string, publish, read_until_closed, tcp};
use crate::config::{EVERY_TRANSPORT, serve};
use crate::files::Pki;
use crate::transport::{Via, websocket};

/// The broker of [`EVERY_TRANSPORT`], and its ws and wss listeners.
fn websocket_broker(pki: &Pki) -> (EmbeddedBroker, [(Via, SocketAddr); 2]) {
    let broker = serve(pki.dir.path(), EVERY_TRANSPORT);
    let listeners =
        [(Via::WebSocket, broker.addrs()[2]), (Via::SecureWebSocket(pki.client_config()), broker.addrs()[3])];
    (broker, listeners)
}

fn wire(packet: &Packet, version: ProtocolVersion) -> Bytes {
    let mut wire = BytesMut::new();
    codec::encode(packet, version, &mut wire).unwrap();
    wire.freeze()
}

#[test]
fn the_broker_agrees_on_the_subprotocol_mqtt_and_answers_in_binary_frames() {
    let pki = Pki::generate();
    let (_broker, [(_, ws), _]) = websocket_broker(&pki);
    let request = format!("ws://{ws}/mqtt");
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(request).unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "mqttv3.1, mqtt".parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::tungstenite::client(request, tcp(ws)).unwrap();
    assert_eq!(response.headers()["Sec-WebSocket-Protocol"], "mqtt", "[MQTT-6.0.0-4]");
    let connect = Packet::Connect(Box::new(Connect::new(ProtocolVersion::V5, mqtt_string("c"))));
    socket.send(Message::Binary(wire(&connect, ProtocolVersion::V5))).unwrap();
    match socket.read().unwrap() {
        Message::Binary(payload) => assert_eq!(payload[0], 0x20, "a CONNACK: {payload:?}"),
        other => panic!("expected a binary message, got {other:?}"),
    }
}

#[test]
fn messages_go_from_publisher_to_subscriber_over_ws_and_wss_in_both_versions() {
    let pki = Pki::generate();
    let (_broker, listeners) = websocket_broker(&pki);
    for (via, addr) in &listeners {
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let mut subscriber = RawClient::connect_via(via, *addr, version, "sub");
            subscriber.subscribe("ws/#", QoS::ExactlyOnce);
            let mut publisher = RawClient::connect_via(via, *addr, version, "pub");
            publisher.send(&publish("ws/test", QoS::AtLeastOnce, "over websocket"));
            assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));
            assert!(matches!(subscriber.recv(), Some(Packet::Publish(p)) if p.payload == "over websocket"));
        }
    }
}

#[test]
fn a_packet_split_across_frames_and_packets_sharing_a_frame_are_read_alike() {
    let pki = Pki::generate();
    let (_broker, listeners) = websocket_broker(&pki);
    for (via, addr) in &listeners {
        let version = ProtocolVersion::V5;
        let mut subscriber = RawClient::connect_via(via, *addr, version, "sub");
        subscriber.subscribe("frames", QoS::AtMostOnce);
        let mut publisher = RawClient::open_via(via, *addr, version);
        // CONNECT in two frames, cut inside its variable header.
        let connect = wire(&Packet::Connect(Box::new(Connect::new(version, mqtt_string("pub")))), version);
        publisher.send_bytes(&connect[..5]);
        publisher.send_bytes(&connect[5..]);
        assert!(matches!(publisher.recv(), Some(Packet::ConnAck(connack)) if !connack.reason_code.is_failure()));
        // Two PUBLISHes and a PINGREQ in one frame.
        let mut frame = BytesMut::new();
        for packet in [publish("frames", QoS::AtMostOnce, "one"), publish("frames", QoS::AtMostOnce, "two")] {
            frame.extend_from_slice(&wire(&packet, version));
        }
        frame.extend_from_slice(&wire(&Packet::PingReq, version));
        publisher.send_bytes(&frame);
        assert_eq!(publisher.recv(), Some(Packet::PingResp));
        for payload in ["one", "two"] {
            assert!(matches!(subscriber.recv(), Some(Packet::Publish(p)) if p.payload == payload));
        }
        // A third PUBLISH split three ways, its last piece sharing a frame with a PINGREQ.
        let third = wire(&publish("frames", QoS::AtMostOnce, "three"), version);
        publisher.send_bytes(&third[..1]);
        publisher.send_bytes(&third[1..4]);
        publisher.send_bytes(&[&third[4..], &wire(&Packet::PingReq, version)[..]].concat());
        assert_eq!(publisher.recv(), Some(Packet::PingResp));
        assert!(matches!(subscriber.recv(), Some(Packet::Publish(p)) if p.payload == "three"));
    }
}

/// Sends `offence` on a connected WebSocket client and checks that the broker closes that
/// connection without an answer, while another client, subscribed to `t`, goes on and
/// receives nothing but what is published after.
fn closes_only_its_connection(offence: Message) {
    let pki = Pki::generate();
    let (_broker, [(via, ws), _]) = websocket_broker(&pki);
    let mut steady = RawClient::connect_via(&via, ws, ProtocolVersion::V311, "steady");
    steady.subscribe("t", QoS::AtMostOnce);
    let mut socket = websocket(tcp(ws), "ws", ws, Some("mqtt")).unwrap();
    let connect = Packet::Connect(Box::new(Connect::new(ProtocolVersion::V311, mqtt_string("offender"))));
    socket.send(Message::Binary(wire(&connect, ProtocolVersion::V311))).unwrap();
    assert!(matches!(socket.read(), Ok(Message::Binary(_))), "CONNACK");
    // The broker may close before it has read all of a long message: a failed write is
    // part of being closed.
    let _ = socket.send(offence);
    loop {
        match socket.read() {
            Ok(Message::Close(_)) => break,
            Ok(Message::Binary(payload)) => panic!("answered with {payload:?}"),
            Ok(_) => {}
            Err(Error::Io(error)) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("still open")
            }
            Err(_) => break,
        }
    }
    let mut publisher = RawClient::connect_via(&via, ws, ProtocolVersion::V311, "pub");
    publisher.send(&publish("t", QoS::AtMostOnce, "still here"));
    assert!(matches!(steady.recv(), Some(Packet::Publish(p)) if p.payload == "still here"));
}

#[test]
fn a_text_frame_closes_only_its_connection() {
    // MQTT travels in binary frames [MQTT-6.0.0-1]. Read as bytes, this text would be a
    // PUBLISH of "ok" on the topic the steady client subscribes to.
    closes_only_its_connection(Message::text("0\u{5}\u{0}\u{1}tok"));
}

#[test]
fn a_message_larger_than_any_packet_closes_only_its_connection() {
    // The default maximum packet size is 1 MiB, so is the limit of a message. Read, these
    // PINGREQs would each be answered.
    closes_only_its_connection(Message::Binary(Bytes::from(b"\xc0\x00".repeat(1024 * 1024))));
}

#[test]
fn a_handshake_without_the_subprotocol_mqtt_is_refused() {
    let pki = Pki::generate();
    let (_broker, [(_, ws), _]) = websocket_broker(&pki);
    for offered in [None, Some("mqttv3.1"), Some("chat")] {
        let error = websocket(tcp(ws), "ws", ws, offered).err().unwrap_or_else(|| panic!("{offered:?} accepted"));
        assert!(error.contains("400"), "{offered:?}: {error}");
    }
}

#[test]
fn garbage_instead_of_an_upgrade_closes_only_that_connection() {
    let pki = Pki::generate();
    let (_broker, listeners) = websocket_broker(&pki);
    for (via, addr) in &listeners {
        let mut steady = RawClient::connect_via(via, *addr, ProtocolVersion::V5, "steady");
        steady.subscribe("t", QoS::AtMostOnce);
        for garbage in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x00\x00\x01a",
            b"\0\0\0\0\r\n\r\n",
        ] {
            let mut peer = tcp(*addr);
            peer.write_all(garbage).unwrap();
            // Closed, whatever it was told before: an HTTP error, a TLS alert or nothing.
            let answer = read_until_closed(&mut peer);
            assert!(!answer.starts_with(b"HTTP/1.1 101"), "upgraded on {garbage:?}");
        }
        let mut publisher = RawClient::connect_via(via, *addr, ProtocolVersion::V5, "pub");
        publisher.send(&publish("t", QoS::AtMostOnce, "still here"));
        assert!(matches!(steady.recv(), Some(Packet::Publish(p)) if p.payload == "still here"));
    }
}

#[test]
fn a_websocket_ping_is_answered_and_mqtt_goes_on() {
    let pki = Pki::generate();
    let (_broker, [(_, ws), _]) = websocket_broker(&pki);
    let mut socket = websocket(tcp(ws), "ws", ws, Some("mqtt")).unwrap();
    socket.send(Message::Ping(Bytes::from_static(b"are you there"))).unwrap();
    assert_eq!(socket.read().unwrap(), Message::Pong(Bytes::from_static(b"are you there")));
    let connect = Packet::Connect(Box::new(Connect::new(ProtocolVersion::V311, mqtt_string("pinger"))));
    socket.send(Message::Binary(wire(&connect, ProtocolVersion::V311))).unwrap();
    assert_eq!(socket.read().unwrap(), Message::Binary(Bytes::from_static(b"\x20\x02\x00\x00")), "CONNACK");
}
