//! CONNECT and CONNACK: the first packet, protocol levels, client identifiers, session
//! takeover, Session Present, the connect timeout and the policy's say.

use verimqtt_proto::broker::{
    Authentication, BrokerOptions, ClientInfo, CloseReason, Event, Policy, ProtocolError, ProtocolViolation,
    Verification,
};
use verimqtt_proto::codec::{Connect, Disconnect, MqttString, Packet, ProtocolVersion, QoS, ReasonCode};

use crate::harness::*;

fn protocol_violation(reason: Option<CloseReason>) -> ProtocolViolation {
    match reason {
        Some(CloseReason::ProtocolError(ProtocolError { violation, .. })) => violation,
        other => panic!("expected a protocol violation, got {other:?}"),
    }
}

#[test]
fn a_first_packet_other_than_connect_closes_the_connection_without_connack() {
    // [MQTT-3.1.0-1]
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let client = harness.open(version);
        harness.send(client, Packet::PingReq);
        harness.recv_nothing(client);
        assert_eq!(
            protocol_violation(harness.close_reason(client)),
            ProtocolViolation::UnexpectedPacket {
                packet: verimqtt_proto::codec::PacketType::PingReq,
                connected: false
            }
        );
    }
}

#[test]
fn a_second_connect_is_a_protocol_violation() {
    // [MQTT-3.1.0-2]
    let mut harness = Harness::new();
    let client = harness.connect("twice", V311);
    harness.send(client, Packet::Connect(Box::new(connect(V311, "twice"))));
    harness.recv_nothing(client);
    assert_eq!(
        protocol_violation(harness.close_reason(client)),
        ProtocolViolation::UnexpectedPacket { packet: verimqtt_proto::codec::PacketType::Connect, connected: true }
    );
}

#[test]
fn a_second_connect_in_mqtt5_is_answered_with_disconnect_0x82() {
    // [MQTT-3.1.0-2] in 5.0: a Protocol Error.
    let mut harness = Harness::new();
    let client = harness.connect("twice", V5);
    harness.send(client, Packet::Connect(Box::new(connect(V5, "twice"))));
    match harness.recv_one(client) {
        Packet::Disconnect(disconnect) => {
            assert_eq!(disconnect.reason_code, ReasonCode::ProtocolError);
            let reason = disconnect.properties.reason_string.clone().unwrap();
            assert!(reason.contains("[MQTT-3.1.0-2]"), "{reason}");
        }
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert!(!harness.is_open(client));
}

#[test]
fn an_unsupported_protocol_level_below_5_gets_connack_0x01_in_3_1_1_format() {
    // [MQTT-3.1.2-2] (3.1.1): MQTT 3.1 (level 3) is not spoken.
    let mut harness = Harness::new();
    let client = harness.open(V311);
    harness.send_bytes(client, b"\x10\x0e\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x00");
    // The 3.1.1 reading of return code 1 is 0x84 Unsupported Protocol Version.
    assert_eq!(
        harness.recv_one(client),
        Packet::ConnAck(verimqtt_proto::codec::ConnAck::new(false, ReasonCode::UnsupportedProtocolVersion))
    );
    assert!(!harness.is_open(client));
}

#[test]
fn an_unsupported_protocol_level_above_5_gets_connack_0x84_in_5_0_format() {
    // [MQTT-3.1.2-2] (5.0)
    let mut harness = Harness::new();
    let client = harness.open(V5);
    harness.send_bytes(client, b"\x10\x0d\x00\x04MQTT\x06\x02\x00\x3c\x00\x00\x00");
    match harness.recv_one(client) {
        Packet::ConnAck(connack) => assert_eq!(connack.reason_code, ReasonCode::UnsupportedProtocolVersion),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert!(!harness.is_open(client));
    let refused = harness.broker.stats().connects_refused;
    assert_eq!(refused.into_iter().collect::<Vec<_>>(), [(ReasonCode::UnsupportedProtocolVersion, 1)]);
}

#[test]
fn a_malformed_3_1_1_connect_is_closed_without_connack() {
    // [MQTT-3.1.4-1], [MQTT-3.1.2-3]: the reserved flag is set.
    let mut harness = Harness::new();
    let client = harness.open(V311);
    harness.send_bytes(client, b"\x10\x0c\x00\x04MQTT\x04\x03\x00\x3c\x00\x00");
    harness.recv_nothing(client);
    assert!(matches!(
        harness.close_reason(client),
        Some(CloseReason::ProtocolError(ProtocolError { violation: ProtocolViolation::Decode(_), .. }))
    ));
}

#[test]
fn a_malformed_5_0_connect_is_answered_with_connack_0x81() {
    // [MQTT-3.1.2-3] (5.0): the reserved flag makes the CONNECT malformed.
    let mut harness = Harness::new();
    let client = harness.open(V5);
    harness.send_bytes(client, b"\x10\x0d\x00\x04MQTT\x05\x03\x00\x3c\x00\x00\x00");
    match harness.recv_one(client) {
        Packet::ConnAck(connack) => {
            assert_eq!(connack.reason_code, ReasonCode::MalformedPacket);
            assert!(!connack.session_present);
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
    assert!(!harness.is_open(client));
}

#[test]
fn an_empty_client_id_with_clean_session_0_is_rejected_in_3_1_1() {
    // [MQTT-3.1.3-8]: return code 0x02, identifier rejected.
    let mut harness = Harness::new();
    let mut request = connect(V311, "");
    request.clean_start = false;
    let (client, connack) = harness.connect_with(request);
    assert_eq!(connack.reason_code, ReasonCode::ClientIdentifierNotValid);
    assert!(!connack.session_present);
    assert!(!harness.is_open(client));
}

#[test]
fn an_empty_client_id_with_clean_session_1_is_given_one_in_3_1_1() {
    // [MQTT-3.1.3-6]
    let mut harness = Harness::new();
    let (client, connack) = harness.connect_with(connect(V311, ""));
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert!(harness.is_open(client));
    assert!(
        harness
            .events()
            .iter()
            .any(|event| matches!(event, Event::Connected { client_id, .. } if !client_id.is_empty()))
    );
}

#[test]
fn an_empty_client_id_in_5_0_is_assigned_a_unique_one_returned_in_connack() {
    // [MQTT-3.1.3-6], [MQTT-3.1.3-7], [MQTT-3.2.2-16]; also with Clean Start 0.
    let mut harness = Harness::new();
    harness.connect("verimqtt1", V5);
    let (_, first) = harness.connect_with(connect(V5, ""));
    let (_, second) = harness.connect_with(persistent(V5, ""));
    let first = first.properties.assigned_client_identifier.clone().unwrap();
    let second = second.properties.assigned_client_identifier.clone().unwrap();
    assert_ne!(first, second);
    assert_ne!(first.as_str(), "verimqtt1", "an id a session already has is never assigned");
    for assigned in [&first, &second] {
        assert!(assigned.chars().all(|c| c.is_ascii_alphanumeric()) && assigned.len() <= 23, "{assigned}");
    }
}

#[test]
fn a_client_id_that_is_not_empty_gets_no_assigned_identifier() {
    let mut harness = Harness::new();
    let (_, connack) = harness.connect_with(connect(V5, "named"));
    assert_eq!(connack.properties.assigned_client_identifier, None);
}

#[test]
fn a_new_connection_with_the_same_client_id_closes_the_old_one_in_3_1_1() {
    // [MQTT-3.1.4-2]
    let mut harness = Harness::new();
    let old = harness.connect("same", V311);
    let new = harness.connect("same", V311);
    harness.recv_nothing(old);
    assert!(matches!(harness.close_reason(old), Some(CloseReason::SessionTakenOver { by }) if by == new.conn));
    assert!(harness.is_open(new));
}

#[test]
fn a_session_takeover_in_5_0_sends_the_old_connection_disconnect_0x8e() {
    // [MQTT-3.1.4-3]
    let mut harness = Harness::new();
    let old = harness.connect("same", V5);
    let new = harness.connect("same", V5);
    assert_eq!(harness.recv_one(old), Packet::Disconnect(Disconnect::new(ReasonCode::SessionTakenOver)));
    assert!(!harness.is_open(old));
    assert!(harness.is_open(new));
}

#[test]
fn a_takeover_keeps_the_session_for_a_clean_session_0_connection() {
    // [MQTT-3.1.2-4]: the session of the connection taken over is resumed.
    let mut harness = Harness::new();
    let (old, _) = harness.connect_with(persistent(V311, "same"));
    harness.send(old, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    harness.recv(old);
    let (new, connack) = harness.connect_with(persistent(V311, "same"));
    assert!(connack.session_present);
    let publisher = harness.connect("publisher", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "after takeover"));
    assert_eq!(payloads(&harness.recv_publishes(new)), [b"after takeover"]);
}

#[test]
fn session_present_is_0_for_a_clean_session() {
    // [MQTT-3.2.2-1] (3.1.1), [MQTT-3.2.2-2] (5.0): even when a session existed.
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let (client, _) = harness.connect_with(persistent(version, "c"));
        harness.cut(client);
        let (_, connack) = harness.connect_with(connect(version, "c"));
        assert!(!connack.session_present);
    }
}

#[test]
fn session_present_is_1_when_a_stored_session_is_resumed() {
    // [MQTT-3.2.2-2] (3.1.1), [MQTT-3.2.2-3] (5.0)
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let (client, first) = harness.connect_with(persistent(version, "c"));
        assert!(!first.session_present, "no session was stored: [MQTT-3.2.2-3] (3.1.1)");
        harness.cut(client);
        let (_, connack) = harness.connect_with(persistent(version, "c"));
        assert!(connack.session_present);
    }
}

#[test]
fn a_clean_session_left_behind_nothing_to_resume() {
    // [MQTT-3.1.2-6] (3.1.1): the state of a clean session is never reused.
    let mut harness = Harness::new();
    let client = harness.connect("c", V311);
    harness.send(client, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    harness.recv(client);
    harness.cut(client);
    let (again, connack) = harness.connect_with(persistent(V311, "c"));
    assert!(!connack.session_present);
    let publisher = harness.connect("publisher", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "x"));
    harness.recv_nothing(again);
}

#[test]
fn a_connection_that_never_sends_connect_is_closed_at_the_connect_timeout() {
    let options = BrokerOptions { connect_timeout: secs(5), ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let client = harness.open(V311);
    harness.advance(secs(5) - std::time::Duration::from_millis(1));
    assert!(harness.is_open(client));
    harness.advance(std::time::Duration::from_millis(1));
    assert_eq!(harness.close_reason(client), Some(CloseReason::ConnectTimeout));
    harness.recv_nothing(client);
}

#[test]
fn the_connect_timeout_stops_once_connect_arrives() {
    let options = BrokerOptions { connect_timeout: secs(5), ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let client = harness.connect("c", V311);
    harness.advance(secs(60));
    assert!(harness.is_open(client));
}

#[test]
fn the_first_packet_a_client_gets_is_connack_with_return_code_0() {
    // [MQTT-3.2.0-1], [MQTT-3.1.4-4] (3.1.1), [MQTT-3.1.4-5] (5.0)
    for version in [V311, V5] {
        let mut harness = Harness::new();
        let client = harness.open(version);
        let mut wire = bytes::BytesMut::new();
        verimqtt_proto::codec::encode(&Packet::Connect(Box::new(connect(version, "c"))), version, &mut wire).unwrap();
        verimqtt_proto::codec::encode(&Packet::PingReq, version, &mut wire).unwrap();
        harness.send_bytes(client, &wire);
        let packets = harness.recv(client);
        assert!(
            matches!(&packets[..], [Packet::ConnAck(ack), Packet::PingResp] if ack.reason_code == ReasonCode::Success)
        );
    }
}

/// Lets in only the user "alice" with password "secret", and refuses "banned" outright.
struct Passwords;

impl Policy for Passwords {
    /// Decided at once for a banned user, otherwise by a verification as a password file
    /// would (the harness runs it at once).
    fn authenticate(&mut self, connect: &Connect, _listener: verimqtt_proto::broker::ListenerId) -> Authentication {
        if connect.username.as_deref() == Some("banned") {
            return Authentication::refused(ReasonCode::Banned);
        }
        let credentials = (connect.username.clone(), connect.password.clone());
        Authentication::Deferred(Verification::new(move || {
            match (credentials.0.as_deref(), credentials.1.as_deref()) {
                (Some("alice"), Some(b"secret")) => Ok(()),
                _ => Err(ReasonCode::BadUserNameOrPassword),
            }
        }))
    }
    fn may_publish(&mut self, _client: ClientInfo<'_>, _topic: &str) -> bool {
        true
    }
    fn may_subscribe(&mut self, _client: ClientInfo<'_>, _filter: &str) -> bool {
        true
    }
}

fn with_credentials(version: ProtocolVersion, username: &str, password: &'static [u8]) -> Connect {
    let mut request = connect(version, "c");
    request.username = Some(MqttString::try_from(username).unwrap());
    request.password = Some(verimqtt_proto::codec::Binary::from_static(password).unwrap());
    request
}

#[test]
fn the_policy_refuses_bad_credentials_with_the_code_each_version_has() {
    for (version, expected) in [(V311, ReasonCode::BadUserNameOrPassword), (V5, ReasonCode::BadUserNameOrPassword)] {
        let mut harness = Harness::with_policy(BrokerOptions::default(), Passwords);
        let (client, connack) = harness.connect_with(with_credentials(version, "alice", b"wrong"));
        assert_eq!(connack.reason_code, expected);
        assert!(!harness.is_open(client));
        let (client, connack) = harness.connect_with(with_credentials(version, "alice", b"secret"));
        assert_eq!(connack.reason_code, ReasonCode::Success);
        assert!(harness.is_open(client));
        let connected = harness.events().into_iter().find(|event| matches!(event, Event::Connected { .. }));
        assert!(
            matches!(&connected, Some(Event::Connected { username: Some(user), .. }) if user == "alice"),
            "the event names the user, for the logs: {connected:?}"
        );
    }
}

#[test]
fn a_refusal_code_3_1_1_lacks_becomes_not_authorized() {
    let mut harness = Harness::with_policy(BrokerOptions::default(), Passwords);
    let (_, connack) = harness.connect_with(with_credentials(V311, "banned", b""));
    assert_eq!(connack.reason_code, ReasonCode::NotAuthorized);
    let (_, connack) = harness.connect_with(with_credentials(V5, "banned", b""));
    assert_eq!(connack.reason_code, ReasonCode::Banned);
}

#[test]
fn nothing_sent_after_a_refused_connect_is_processed() {
    // [MQTT-3.1.4-5] (3.1.1), [MQTT-3.1.4-6] (5.0)
    let mut harness = Harness::with_policy(BrokerOptions::default(), Passwords);
    let watcher = harness.open(V311);
    harness.send(watcher, Packet::Connect(Box::new(with_credentials(V311, "alice", b"secret"))));
    harness.send(watcher, subscribe(1, &[("t", QoS::AtMostOnce)]));
    harness.recv(watcher);
    let intruder = harness.open(V311);
    let mut wire = bytes::BytesMut::new();
    verimqtt_proto::codec::encode(&Packet::Connect(Box::new(with_credentials(V311, "eve", b"guess"))), V311, &mut wire)
        .unwrap();
    verimqtt_proto::codec::encode(&publish("t", QoS::AtMostOnce, 0, "sneaky"), V311, &mut wire).unwrap();
    harness.send_bytes(intruder, &wire);
    assert!(matches!(&harness.recv(intruder)[..], [Packet::ConnAck(ack)] if ack.reason_code.is_failure()));
    harness.recv_nothing(watcher);
}

#[test]
fn an_authentication_method_the_broker_does_not_offer_is_refused_with_0x8c() {
    // [MQTT-4.12.0-1]
    let mut harness = Harness::new();
    let mut request = connect(V5, "c");
    request.properties.authentication_method = Some(string("SCRAM-SHA-1"));
    let (client, connack) = harness.connect_with(request);
    assert_eq!(connack.reason_code, ReasonCode::BadAuthenticationMethod);
    assert!(!harness.is_open(client));
}

#[test]
fn max_sessions_refuses_a_new_persistent_session_but_not_a_resumed_or_a_clean_one() {
    let options = BrokerOptions { max_sessions: 1, ..BrokerOptions::default() };
    for (version, code) in [(V311, ReasonCode::ServerUnavailable), (V5, ReasonCode::QuotaExceeded)] {
        let mut harness = Harness::with_options(options.clone());
        let (_, connack) = harness.connect_with(connect(version, "clean before"));
        assert_eq!(connack.reason_code, ReasonCode::Success, "a clean session is not counted");
        let (first, _) = harness.connect_with(persistent(version, "first"));
        let (_, connack) = harness.connect_with(persistent(version, "second"));
        assert_eq!(connack.reason_code, code);
        let (_, connack) = harness.connect_with(connect(version, "clean after"));
        assert_eq!(connack.reason_code, ReasonCode::Success, "clean sessions are never refused for it");
        // Keeping a clean session that is still there would make one persistent session more.
        let (_, connack) = harness.connect_with(persistent(version, "clean after"));
        assert_eq!(connack.reason_code, code, "a clean session taken over to be kept counts");
        harness.cut(first);
        let (_, connack) = harness.connect_with(persistent(version, "first"));
        assert_eq!((connack.reason_code, connack.session_present), (ReasonCode::Success, true));
    }
}

#[test]
fn connack_of_5_0_announces_the_limits_that_differ_from_the_defaults() {
    let options = BrokerOptions {
        receive_maximum: non_zero(10),
        max_packet_size: 4096,
        topic_alias_maximum: 5,
        maximum_qos: QoS::AtLeastOnce,
        retain_available: false,
        max_session_expiry_interval: 60,
        ..BrokerOptions::default()
    };
    let mut harness = Harness::with_options(options);
    let (_, connack) = harness.connect_with(persistent(V5, "c"));
    let properties = &connack.properties;
    assert_eq!(properties.receive_maximum, Some(non_zero(10)));
    assert_eq!(properties.maximum_packet_size.map(|size| size.get()), Some(4096));
    assert_eq!(properties.topic_alias_maximum, Some(5));
    assert_eq!(properties.maximum_qos, Some(QoS::AtLeastOnce));
    assert_eq!(properties.retain_available, Some(false));
    assert_eq!(properties.session_expiry_interval, Some(60));
    let mut default = Harness::new();
    let (_, connack) = default.connect_with(connect(V5, "c"));
    assert_eq!(connack.properties.maximum_qos, None);
    assert_eq!(connack.properties.retain_available, None);
    assert_eq!(connack.properties.session_expiry_interval, None);
}

#[test]
fn a_will_above_the_maximum_qos_is_refused_with_0x9b() {
    // [MQTT-3.2.2-12]
    let options = BrokerOptions { maximum_qos: QoS::AtLeastOnce, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let mut request = connect(V5, "c");
    request.will = Some(crate::will::will("last/words", QoS::ExactlyOnce, false));
    let (client, connack) = harness.connect_with(request);
    assert_eq!(connack.reason_code, ReasonCode::QosNotSupported);
    assert!(!harness.is_open(client));
}
