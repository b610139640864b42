//! Keep alive: PINGREQ after the keep alive without sending ([MQTT-3.1.2-23] in 3.1.1,
//! [MQTT-3.1.2-20] in 5.0), at most one outstanding, and the abort after the receive-idle
//! period, including the edge cases haka-mqtt's changelog records as bugs.

use std::time::Duration;

use verimqtt_proto::client::{DisconnectReason, Event, IdlePeriod, State};
use verimqtt_proto::codec::{Packet, PropertyValues, ProtocolVersion, QoS};

use crate::harness::{Harness, SECOND, connack_with, disconnect_reason, options, publish};

const MILLISECOND: Duration = Duration::from_millis(1);
const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn client(version: ProtocolVersion, keep_alive: u16, ping: IdlePeriod, abort: IdlePeriod) -> Harness {
    let mut options = options(version);
    options.keep_alive = keep_alive;
    options.recv_idle_ping = ping;
    options.recv_idle_abort = abort;
    Harness::new(options)
}

/// Connected at time 0, pinging only when nothing was sent.
fn send_idle_only(version: ProtocolVersion, abort: IdlePeriod) -> Harness {
    let mut h = client(version, 10, IdlePeriod::Off, abort);
    h.connect(false);
    h
}

fn pings(packets: &[(Duration, Packet)]) -> Vec<Duration> {
    packets.iter().filter(|(_, packet)| *packet == Packet::PingReq).map(|(at, _)| *at).collect()
}

#[test]
fn pingreq_goes_when_nothing_was_sent_for_the_keep_alive() {
    for version in VERSIONS {
        let mut h = send_idle_only(version, IdlePeriod::Off);
        h.advance(10 * SECOND - MILLISECOND);
        assert_eq!(h.sent(), [], "{version}");
        h.advance(MILLISECOND);
        assert_eq!(h.sent_at(), [(10 * SECOND, Packet::PingReq)], "{version}");
    }
}

#[test]
fn sending_postpones_the_ping() {
    let mut h = send_idle_only(ProtocolVersion::V5, IdlePeriod::Off);
    h.advance(6 * SECOND);
    h.publish("a", QoS::AtMostOnce);
    h.advance(10 * SECOND - MILLISECOND);
    assert_eq!(pings(&h.sent_at()), []);
    h.advance(MILLISECOND);
    assert_eq!(pings(&h.sent_at()), [16 * SECOND]);
}

#[test]
fn receiving_does_not_postpone_the_send_idle_ping() {
    let mut h = send_idle_only(ProtocolVersion::V311, IdlePeriod::Off);
    h.advance(5 * SECOND);
    h.deliver(publish("a", QoS::AtMostOnce, None));
    h.advance(5 * SECOND);
    assert_eq!(pings(&h.sent_at()), [10 * SECOND]);
}

#[test]
fn pingresp_in_time_lets_the_next_ping_go_a_keep_alive_after_the_last() {
    let mut h = send_idle_only(ProtocolVersion::V5, IdlePeriod::Off);
    h.advance(11 * SECOND);
    h.deliver(Packet::PingResp);
    h.advance(9 * SECOND);
    assert_eq!(pings(&h.sent_at()), [10 * SECOND, 20 * SECOND]);
}

/// haka-mqtt: a PINGREQ already in flight when the keep alive comes due again.
#[test]
fn a_second_pingreq_never_goes_while_one_is_outstanding() {
    for version in VERSIONS {
        let mut h = send_idle_only(version, IdlePeriod::Fixed(25 * SECOND));
        h.advance(25 * SECOND - MILLISECOND);
        assert_eq!(pings(&h.sent_at()), [10 * SECOND], "{version}");
        assert_eq!(h.client.state(), State::Connected);
    }
}

#[test]
fn a_late_pingresp_lets_the_next_ping_go_at_once() {
    let mut h = send_idle_only(ProtocolVersion::V5, IdlePeriod::Fixed(30 * SECOND));
    h.advance(22 * SECOND);
    assert_eq!(pings(&h.sent_at()), [10 * SECOND]);
    // The next ping was due at 20 s; the answer to the first frees it.
    h.deliver(Packet::PingResp);
    assert_eq!(pings(&h.sent_at()), [22 * SECOND]);
}

/// haka-mqtt: the abort timeout firing while a ping is pending.
#[test]
fn abort_while_a_ping_is_pending_closes_with_keep_alive_timeout() {
    for version in VERSIONS {
        let mut h = send_idle_only(version, IdlePeriod::PercentOfKeepAlive(150));
        h.advance(15 * SECOND - MILLISECOND);
        assert_eq!(h.client.state(), State::Connected, "{version}");
        h.advance(MILLISECOND);
        assert_eq!(h.client.state(), State::Disconnected, "{version}");
        assert_eq!(disconnect_reason(&h.events()), Some(DisconnectReason::KeepAliveTimeout));
        // A dead connection gets no DISCONNECT; only the ping at 10 s was written.
        assert_eq!(h.sent(), [Packet::PingReq]);
        assert_eq!(h.client.poll_timeout(), None);
    }
}

#[test]
fn abort_is_measured_from_the_last_receipt() {
    let mut h = send_idle_only(ProtocolVersion::V5, IdlePeriod::PercentOfKeepAlive(150));
    h.advance(12 * SECOND);
    h.deliver(publish("a", QoS::AtMostOnce, None));
    h.advance(15 * SECOND - MILLISECOND);
    assert_eq!(h.client.state(), State::Connected);
    h.advance(MILLISECOND);
    assert_eq!(disconnect_reason(&h.events()), Some(DisconnectReason::KeepAliveTimeout));
    assert_eq!(h.elapsed(), 27 * SECOND);
}

/// A client that only publishes at QoS 0 hears nothing back: the receive-idle ping (on by
/// default) draws a PINGRESP before the abort comes.
#[test]
fn receive_idle_ping_keeps_a_publishing_client_alive() {
    let mut h =
        client(ProtocolVersion::V5, 10, IdlePeriod::PercentOfKeepAlive(100), IdlePeriod::PercentOfKeepAlive(150));
    h.connect(false);
    for _ in 0..30 {
        h.advance(2 * SECOND);
        h.publish("a", QoS::AtMostOnce);
        if h.sent().contains(&Packet::PingReq) {
            h.deliver(Packet::PingResp);
        }
    }
    assert_eq!(h.client.state(), State::Connected);
}

#[test]
fn without_receive_idle_ping_a_client_that_only_sends_aborts() {
    let mut h = client(ProtocolVersion::V5, 10, IdlePeriod::Off, IdlePeriod::PercentOfKeepAlive(150));
    h.connect(false);
    while h.client.state() == State::Connected {
        h.advance(2 * SECOND);
        if h.client.state() == State::Connected {
            h.publish("a", QoS::AtMostOnce);
        }
    }
    assert_eq!(h.elapsed(), 16 * SECOND);
    assert_eq!(pings(&h.sent_at()), []);
    assert_eq!(disconnect_reason(&h.events()), Some(DisconnectReason::KeepAliveTimeout));
}

#[test]
fn receive_idle_ping_goes_when_nothing_was_received_though_packets_were_sent() {
    let mut h = client(ProtocolVersion::V311, 10, IdlePeriod::Fixed(4 * SECOND), IdlePeriod::Off);
    h.connect(false);
    h.advance(3 * SECOND);
    h.publish("a", QoS::AtMostOnce);
    h.advance(SECOND);
    assert_eq!(pings(&h.sent_at()), [4 * SECOND]);
}

#[test]
fn keep_alive_zero_turns_pings_and_aborts_off() {
    for version in VERSIONS {
        let mut h = client(version, 0, IdlePeriod::Fixed(SECOND), IdlePeriod::Fixed(2 * SECOND));
        h.connect(false);
        assert_eq!(h.client.poll_timeout(), None);
        h.advance(3600 * SECOND);
        assert_eq!(h.sent(), []);
        assert_eq!(h.client.state(), State::Connected);
    }
}

/// [MQTT-3.1.2-21], [MQTT-3.2.2-21]: the Server Keep Alive replaces the requested one.
#[test]
fn server_keep_alive_replaces_the_requested_one() {
    let mut h = client(ProtocolVersion::V5, 60, IdlePeriod::Off, IdlePeriod::PercentOfKeepAlive(150));
    let connect = h.open();
    assert_eq!(connect.keep_alive, 60);
    h.deliver(Packet::ConnAck(connack_with(
        false,
        PropertyValues { server_keep_alive: Some(4), ..PropertyValues::default() }.into(),
    )));
    h.advance(6 * SECOND);
    assert_eq!(pings(&h.sent_at()), [4 * SECOND]);
    // The abort follows the server's keep alive too: 6 s, not 90 s.
    assert_eq!(disconnect_reason(&h.events()), Some(DisconnectReason::KeepAliveTimeout));
}

#[test]
fn server_keep_alive_zero_turns_keep_alive_off() {
    let mut h =
        client(ProtocolVersion::V5, 10, IdlePeriod::PercentOfKeepAlive(100), IdlePeriod::PercentOfKeepAlive(150));
    h.open();
    h.deliver(Packet::ConnAck(connack_with(
        false,
        PropertyValues { server_keep_alive: Some(0), ..PropertyValues::default() }.into(),
    )));
    h.advance(600 * SECOND);
    assert_eq!(h.sent(), []);
    assert_eq!(h.client.state(), State::Connected);
}

#[test]
fn no_ping_goes_before_the_connack_and_its_timeout_closes() {
    let mut options = options(ProtocolVersion::V5);
    options.keep_alive = 5;
    options.connack_timeout = Some(30 * SECOND);
    let mut h = Harness::new(options);
    h.open();
    h.advance(30 * SECOND - MILLISECOND);
    assert_eq!(h.sent(), []);
    assert_eq!(h.client.state(), State::AwaitingConnAck);
    h.advance(MILLISECOND);
    assert!(matches!(
        h.events().as_slice(),
        [Event::Disconnected { reason: DisconnectReason::ConnAckTimeout, last_bytes: None }]
    ));
}
