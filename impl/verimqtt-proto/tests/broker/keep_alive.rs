//! Keep alive: a connection that sends nothing for one and a half times its keep alive is
//! closed, never earlier ([MQTT-3.1.2-24] in 3.1.1, [MQTT-3.1.2-22] in 5.0); MQTT 5's Server
//! Keep Alive.

use std::time::Duration;

use verimqtt_proto::broker::{BrokerOptions, CloseReason};
use verimqtt_proto::codec::{Disconnect, Packet, ProtocolVersion, ReasonCode};

use crate::harness::*;

fn with_keep_alive<P: verimqtt_proto::broker::Policy>(
    harness: &mut Harness<P>,
    version: ProtocolVersion,
    keep_alive: u16,
) -> (Client, verimqtt_proto::codec::ConnAck) {
    let mut request = connect(version, "c");
    request.keep_alive = keep_alive;
    harness.connect_with(request)
}

const MILLI: Duration = Duration::from_millis(1);

#[test]
fn a_silent_connection_is_closed_at_one_and_a_half_times_its_keep_alive_and_not_before() {
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let (client, _) = with_keep_alive(&mut harness, version, 10);
        harness.advance(secs(15) - MILLI);
        assert!(harness.is_open(client), "{version}: closed before 1.5 x keep alive");
        harness.advance(MILLI);
        assert_eq!(harness.close_reason(client), Some(CloseReason::KeepAliveTimeout), "{version}");
    }
}

#[test]
fn every_packet_received_restarts_the_keep_alive_period() {
    let mut harness = Harness::new();
    let (client, _) = with_keep_alive(&mut harness, V311, 10);
    for _ in 0..5 {
        harness.advance(secs(14));
        harness.send(client, Packet::PingReq);
        assert_eq!(harness.recv(client), [Packet::PingResp]);
    }
    harness.advance(secs(15) - MILLI);
    assert!(harness.is_open(client));
    harness.advance(MILLI);
    assert!(!harness.is_open(client));
}

#[test]
fn any_packet_counts_not_only_pingreq() {
    let mut harness = Harness::new();
    let (client, _) = with_keep_alive(&mut harness, V311, 2);
    harness.advance(secs(2));
    harness.send(client, publish("t", verimqtt_proto::codec::QoS::AtMostOnce, 0, "alive"));
    harness.advance(secs(2));
    assert!(harness.is_open(client));
}

#[test]
fn a_partial_packet_is_not_activity() {
    let mut harness = Harness::new();
    let (client, _) = with_keep_alive(&mut harness, V311, 2);
    harness.advance(secs(2));
    harness.send_bytes(client, &[0xc0]);
    harness.advance(secs(1));
    assert_eq!(harness.close_reason(client), Some(CloseReason::KeepAliveTimeout));
}

#[test]
fn keep_alive_0_turns_the_mechanism_off() {
    let mut harness = Harness::new();
    let (client, _) = with_keep_alive(&mut harness, V311, 0);
    harness.advance(secs(24 * 3600));
    assert!(harness.is_open(client));
}

#[test]
fn an_mqtt5_client_is_told_why_with_disconnect_0x8d() {
    let mut harness = Harness::new();
    let (client, _) = with_keep_alive(&mut harness, V5, 1);
    harness.advance(Duration::from_millis(1500));
    assert_eq!(harness.recv_one(client), Packet::Disconnect(Disconnect::new(ReasonCode::KeepAliveTimeout)));
}

#[test]
fn the_server_keep_alive_replaces_a_longer_or_absent_one_for_mqtt5_clients() {
    // MQTT 5 section 3.2.2.3.14: the client must use the Server Keep Alive; the broker
    // enforces the value it announced.
    let options = BrokerOptions { max_keep_alive: Some(non_zero(4)), ..BrokerOptions::default() };
    for requested in [0, 60] {
        let mut harness = Harness::with_options(options.clone());
        let (client, connack) = with_keep_alive(&mut harness, V5, requested);
        assert_eq!(connack.properties.server_keep_alive, Some(4));
        harness.advance(secs(6) - MILLI);
        assert!(harness.is_open(client));
        harness.advance(MILLI);
        assert_eq!(harness.close_reason(client), Some(CloseReason::KeepAliveTimeout));
    }
}

#[test]
fn a_keep_alive_within_the_maximum_is_kept_and_not_announced() {
    // [MQTT-3.2.2-22]: without Server Keep Alive the client's value applies.
    let options = BrokerOptions { max_keep_alive: Some(non_zero(60)), ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let (client, connack) = with_keep_alive(&mut harness, V5, 10);
    assert_eq!(connack.properties.server_keep_alive, None);
    harness.advance(secs(15));
    assert!(!harness.is_open(client));
}

#[test]
fn a_3_1_1_client_cannot_be_told_so_its_own_keep_alive_stands() {
    let options = BrokerOptions { max_keep_alive: Some(non_zero(4)), ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let (client, _) = with_keep_alive(&mut harness, V311, 60);
    harness.advance(secs(89));
    assert!(harness.is_open(client));
    harness.advance(secs(1));
    assert!(!harness.is_open(client));
}
