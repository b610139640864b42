//! TLS listeners (rustls) over loopback, with certificates generated at run time: a round
//! trip, optional and required client certificates, and a peer that does not speak TLS.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::ClientConfig;

use verimqtt::codec::{Packet, ProtocolVersion, QoS};
use verimqtt::runtime::EmbeddedBroker;

use crate::client::{RawClient, publish, read_until_closed, tcp};
use crate::config::serve;
use crate::files::Pki;
use crate::transport::{Via, tls};

/// A broker with one TLS listener; `client_certificates` is added to its table.
fn tls_broker(pki: &Pki, client_certificates: &str) -> EmbeddedBroker {
    let text = format!(
        "[[listener]]\ntransport = \"tls\"\nbind = \"127.0.0.1:0\"\ncertificate = \"server.crt\"\nprivate_key = \"server.key\"\n{client_certificates}"
    );
    serve(pki.dir.path(), &text)
}

/// Checks that the broker refuses this client's TLS handshake. With TLS 1.3 the client's
/// side of the handshake may be done before the server has checked its certificate, so
/// the refusal may show only as the first read fails; a handshake the server accepts is
/// followed by silence (the client has sent no CONNECT) and fails the test.
fn assert_refused(config: &Arc<ClientConfig>, addr: SocketAddr) {
    let mut stream = tls(config, addr);
    let _ = stream.conn.complete_io(&mut stream.sock);
    match stream.read(&mut [0; 1]) {
        Ok(0) => {}
        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("the handshake was accepted")
        }
        Err(_) => {}
        Ok(_) => panic!("the broker sent data"),
    }
}

const REQUIRED: &str = "client_ca = \"ca.crt\"\nrequire_client_certificate = true\n";

#[test]
fn a_qos1_message_goes_from_publisher_to_subscriber_over_tls_in_both_versions() {
    let pki = Pki::generate();
    let broker = tls_broker(&pki, "");
    let via = Via::Tls(pki.client_config());
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut subscriber = RawClient::connect_via(&via, broker.addr(), version, "sub");
        subscriber.subscribe("tls/#", QoS::AtLeastOnce);
        let mut publisher = RawClient::connect_via(&via, broker.addr(), version, "pub");
        publisher.send(&publish("tls/test", QoS::AtLeastOnce, "over tls"));
        assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));
        match subscriber.recv() {
            Some(Packet::Publish(publish)) => {
                assert_eq!((publish.topic.as_str(), &publish.payload[..]), ("tls/test", &b"over tls"[..]));
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
}

#[test]
fn required_client_certificates_refuse_a_client_without_one_and_accept_one_from_the_ca() {
    let pki = Pki::generate();
    let broker = tls_broker(&pki, REQUIRED);
    assert_refused(&pki.client_config(), broker.addr());
    let via = Via::Tls(pki.client_config_with_certificate());
    RawClient::connect_via(&via, broker.addr(), ProtocolVersion::V5, "with-certificate");
}

#[test]
fn a_certificate_from_another_ca_is_refused_even_when_certificates_are_optional() {
    let pki = Pki::generate();
    let stranger = Pki::generate();
    let broker = tls_broker(&pki, "client_ca = \"ca.crt\"\n");
    RawClient::connect_via(&Via::Tls(pki.client_config()), broker.addr(), ProtocolVersion::V311, "none");
    RawClient::connect_via(
        &Via::Tls(pki.client_config_with_certificate()),
        broker.addr(),
        ProtocolVersion::V311,
        "ours",
    );
    // The stranger's client trusts our server (same CA for the server) but presents a
    // certificate our CA did not sign.
    assert_refused(&stranger.client_config_for(&pki), broker.addr());
}

#[test]
fn a_peer_that_does_not_speak_tls_is_closed_and_nobody_else_is_disturbed() {
    let pki = Pki::generate();
    let broker = tls_broker(&pki, "");
    let via = Via::Tls(pki.client_config());
    let mut steady = RawClient::connect_via(&via, broker.addr(), ProtocolVersion::V311, "steady");
    steady.subscribe("t", QoS::AtMostOnce);
    // A plain MQTT CONNECT where a ClientHello belongs.
    let mut plain = tcp(broker.addr());
    plain.write_all(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x00\x00\x01a").unwrap();
    let answer = read_until_closed(&mut plain);
    assert!(!answer.starts_with(b"\x20"), "no CONNACK in plain text: {answer:?}");
    let mut publisher = RawClient::connect_via(&via, broker.addr(), ProtocolVersion::V311, "pub");
    publisher.send(&publish("t", QoS::AtMostOnce, "still here"));
    assert!(matches!(steady.recv(), Some(Packet::Publish(publish)) if publish.payload == "still here"));
}

#[test]
fn a_silent_peer_holds_up_nobody_and_is_closed_at_the_connect_timeout() {
    let pki = Pki::generate();
    let broker = tls_broker(&pki, "[limits]\nconnect_timeout = 1\n");
    let mut silent = tcp(broker.addr());
    let started = std::time::Instant::now();
    RawClient::connect_via(&Via::Tls(pki.client_config()), broker.addr(), ProtocolVersion::V5, "meanwhile");
    assert_eq!(read_until_closed(&mut silent), b"", "closed without a word");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "closed after {:?}", started.elapsed());
}

#[test]
fn a_peer_still_in_its_handshake_counts_against_the_listeners_connections() {
    let pki = Pki::generate();
    let broker = tls_broker(&pki, "max_connections = 1\n");
    let _silent = tcp(broker.addr());
    assert_refused(&pki.client_config(), broker.addr());
}
