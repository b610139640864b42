//! MQTT 5: flow control both ways, Maximum Packet Size, topic aliases, session expiry,
//! reason codes and strings, the assigned client identifier, and enhanced authentication.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use verimqtt_proto::client::{
    ClientOptions, CommandError, DisconnectReason, DropReason, DroppedRequest, Event, ProtocolViolation, State,
};
use verimqtt_proto::codec::{
    Auth, Binary, ConnAck, Disconnect, ErrorKind, MqttString, Packet, Properties, PropertyValues, ProtocolVersion,
    Publish, QoS, ReasonCode, SubAck, Subscription, SubscriptionId, SubscriptionOptions,
};

use crate::harness::{
    Harness, connack_with, disconnect_reason, options, puback, publish, publish_ids, receive_maximum, topic,
};

fn v5() -> ClientOptions {
    options(ProtocolVersion::V5)
}

fn connected_with(options: ClientOptions, properties: PropertyValues) -> Harness {
    let mut h = Harness::new(options);
    h.connect_with(connack_with(false, properties.into()));
    h
}

fn connected(properties: PropertyValues) -> Harness {
    connected_with(v5(), properties)
}

fn string(text: &'static str) -> MqttString {
    MqttString::from_static(text).unwrap()
}

fn aliased(name: &str, alias: u16, qos: QoS, packet_id: Option<u16>) -> Packet {
    let Packet::Publish(mut publish) = publish(name, qos, packet_id) else { unreachable!() };
    publish.properties.topic_alias = NonZeroU16::new(alias);
    Packet::Publish(publish)
}

fn violation(h: &mut Harness) -> Option<ProtocolViolation> {
    match disconnect_reason(&h.events()) {
        Some(DisconnectReason::ProtocolViolation(violation)) => Some(violation),
        _ => None,
    }
}

fn disconnect_sent(reason_code: ReasonCode) -> Vec<Packet> {
    vec![Packet::Disconnect(Disconnect::new(reason_code))]
}

fn wire_publishes(packets: &[Packet]) -> Vec<&Publish> {
    packets
        .iter()
        .filter_map(|packet| match packet {
            Packet::Publish(publish) => Some(publish),
            _ => None,
        })
        .collect()
}

/// [MQTT-3.3.4-7], [MQTT-4.9.0-1], [MQTT-4.9.0-2]
#[test]
fn server_receive_maximum_bounds_the_publishes_in_flight() {
    let mut h = connected(PropertyValues { receive_maximum: receive_maximum(2), ..PropertyValues::default() });
    let tickets: Vec<_> = (0..4).map(|_| h.publish("a", QoS::AtLeastOnce)).collect();
    assert_eq!(publish_ids(&h.sent()).len(), 2);
    assert_eq!((h.client.in_flight(), h.client.queued()), (2, 2));
    h.deliver(puback(tickets[0].packet_id().unwrap()));
    assert_eq!(publish_ids(&h.sent()), [(3, false)]);
}

/// [MQTT-3.3.4-8], [MQTT-4.9.0-3]: with no quota left, everything but PUBLISH still goes.
#[test]
fn other_packets_go_while_the_send_quota_is_used_up() {
    let mut h = connected(PropertyValues { receive_maximum: receive_maximum(1), ..PropertyValues::default() });
    h.publish("a", QoS::AtLeastOnce);
    h.publish("b", QoS::AtLeastOnce);
    h.sent();
    let subscribe = h.subscribe("s");
    h.deliver(publish("in", QoS::AtLeastOnce, Some(9)));
    let sent = h.sent();
    assert!(
        matches!(&sent[..], [Packet::Subscribe(s), Packet::PubAck(ack)] if s.packet_id == subscribe && ack.packet_id.get() == 9)
    );
    assert_eq!(h.client.queued(), 1);
}

/// Our Receive Maximum bounds what the server may leave unacknowledged; more is a protocol
/// error answered with DISCONNECT 0x93 ([MQTT-3.3.4-9] is the server's side).
#[test]
fn exceeding_our_receive_maximum_closes_with_0x93() {
    let mut options = v5();
    options.receive_maximum = NonZeroU16::new(2).unwrap();
    let mut h = Harness::new(options);
    let connect = h.open();
    assert_eq!(connect.properties.receive_maximum, NonZeroU16::new(2));
    h.deliver(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)));
    h.events();
    // Unwritten acknowledgements do not free the count: the server cannot have seen them.
    h.socket_full = true;
    h.deliver(publish("a", QoS::AtLeastOnce, Some(1)));
    h.deliver(publish("a", QoS::ExactlyOnce, Some(2)));
    assert_eq!(h.client.state(), State::Connected);
    h.deliver(publish("a", QoS::AtLeastOnce, Some(3)));
    assert_eq!(violation(&mut h), Some(ProtocolViolation::ReceiveMaximumExceeded { maximum: 2 }));
    h.socket_full = false;
    assert_eq!(h.sent(), disconnect_sent(ReasonCode::ReceiveMaximumExceeded));
}

#[test]
fn written_acknowledgements_make_room_under_our_receive_maximum() {
    let mut options = v5();
    options.receive_maximum = NonZeroU16::new(1).unwrap();
    let mut h = Harness::new(options);
    h.connect(false);
    for packet_id in 1..=5 {
        h.deliver(publish("a", QoS::AtLeastOnce, Some(packet_id)));
    }
    h.deliver(publish("a", QoS::ExactlyOnce, Some(6)));
    h.deliver(Packet::PubRel(verimqtt_proto::codec::PublishAck::new(crate::harness::id(6))));
    h.deliver(publish("a", QoS::AtLeastOnce, Some(7)));
    assert_eq!(h.client.state(), State::Connected);
}

/// [MQTT-3.2.2-15]
#[test]
fn a_publish_larger_than_the_servers_maximum_packet_size_is_refused() {
    let mut h = connected(PropertyValues { maximum_packet_size: NonZeroU32::new(50), ..PropertyValues::default() });
    let refused =
        h.client.publish(h.now, topic("a"), Bytes::from(vec![0; 100]), QoS::AtLeastOnce, false, Properties::default());
    assert!(matches!(refused, Err(CommandError::PacketTooLarge { max: 50, .. })), "{refused:?}");
    assert_eq!(h.client.packet_ids_in_use().count(), 0);
}

#[test]
fn a_queued_publish_too_large_for_the_server_is_dropped_and_reported() {
    let mut h = Harness::new(v5());
    let ticket = h
        .client
        .publish(h.now, topic("a"), Bytes::from(vec![0; 100]), QoS::AtLeastOnce, false, Properties::default())
        .unwrap();
    h.open();
    let properties = PropertyValues { maximum_packet_size: NonZeroU32::new(50), ..PropertyValues::default() };
    h.deliver(Packet::ConnAck(connack_with(false, properties.into())));
    assert_eq!(h.sent(), []);
    let events = h.events();
    assert!(
        events.iter().any(|event| matches!(event,
            Event::Dropped { reason: DropReason::Unsendable(CommandError::PacketTooLarge { max: 50, .. }), requests }
                if matches!(&requests[..], [DroppedRequest::Publish { ticket: dropped, .. }] if *dropped == ticket))),
        "{events:?}"
    );
    assert_eq!((h.client.queued(), h.client.packet_ids_in_use().count()), (0, 0));
}

/// [MQTT-3.2.2-11], [MQTT-3.2.2-14]
#[test]
fn maximum_qos_and_retain_available_refuse_what_the_server_cannot_take() {
    let mut h = connected(PropertyValues {
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(false),
        ..PropertyValues::default()
    });
    let refused = h.client.publish(h.now, topic("a"), Bytes::new(), QoS::ExactlyOnce, false, Properties::default());
    assert_eq!(refused, Err(CommandError::QosNotSupported { requested: QoS::ExactlyOnce, maximum: QoS::AtLeastOnce }));
    let refused = h.client.publish(h.now, topic("a"), Bytes::new(), QoS::AtLeastOnce, true, Properties::default());
    assert_eq!(refused, Err(CommandError::RetainNotSupported));
    assert!(h.client.publish(h.now, topic("a"), Bytes::new(), QoS::AtLeastOnce, false, Properties::default()).is_ok());
}

/// [MQTT-3.3.4-6]
#[test]
fn a_publish_with_a_subscription_identifier_is_refused() {
    let mut h = connected(PropertyValues::default());
    let properties =
        PropertyValues { subscription_identifiers: vec![SubscriptionId::new(1).unwrap()], ..PropertyValues::default() };
    let refused = h.client.publish(h.now, topic("a"), Bytes::new(), QoS::AtMostOnce, false, properties.into());
    assert_eq!(refused, Err(CommandError::SubscriptionIdentifierInPublish));
}

#[test]
fn subscriptions_the_server_does_not_support_are_refused() {
    let mut h = connected(PropertyValues {
        wildcard_subscription_available: Some(false),
        subscription_identifier_available: Some(false),
        ..PropertyValues::default()
    });
    let subscription = |filter| vec![Subscription { filter: topic(filter), options: SubscriptionOptions::default() }];
    let refused = h.client.subscribe(h.now, subscription("a/#"), Properties::default());
    assert_eq!(refused, Err(CommandError::WildcardSubscriptionsNotSupported));
    let with_id =
        PropertyValues { subscription_identifiers: vec![SubscriptionId::new(4).unwrap()], ..PropertyValues::default() };
    let refused = h.client.subscribe(h.now, subscription("a/b"), with_id.into());
    assert_eq!(refused, Err(CommandError::SubscriptionIdentifiersNotSupported));
    assert!(h.client.subscribe(h.now, subscription("a/b"), Properties::default()).is_ok());
}

#[test]
fn an_inbound_packet_larger_than_our_maximum_closes_with_0x95() {
    let mut options = v5();
    options.maximum_packet_size = NonZeroU32::new(30);
    let mut h = Harness::new(options);
    assert_eq!(h.open().properties.maximum_packet_size, NonZeroU32::new(30));
    h.deliver(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)));
    h.events();
    let large = Publish::new(topic("a"), QoS::AtMostOnce, None, Bytes::from(vec![0; 100]));
    h.deliver(Packet::Publish(large));
    match violation(&mut h) {
        Some(ProtocolViolation::Decode(error)) => assert_eq!(error.kind(), ErrorKind::PacketTooLarge),
        other => panic!("expected a packet too large, got {other:?}"),
    }
    assert_eq!(h.sent(), disconnect_sent(ReasonCode::PacketTooLarge));
}

#[test]
fn inbound_topic_aliases_are_resolved_and_removed() {
    let mut options = v5();
    options.topic_alias_maximum = 5;
    let mut h = Harness::new(options);
    assert_eq!(h.open().properties.topic_alias_maximum, Some(5));
    h.deliver(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)));
    h.events();
    h.deliver(aliased("a/b", 5, QoS::AtMostOnce, None));
    h.deliver(aliased("", 5, QoS::AtLeastOnce, Some(1)));
    let topics: Vec<_> = h
        .events()
        .into_iter()
        .map(|event| match event {
            Event::Message(message) => {
                assert_eq!(message.properties.topic_alias, None);
                message.topic.to_string()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(topics, ["a/b", "a/b"]);
}

/// A topic alias above the Topic Alias Maximum the client sent (0 when it sent none) is
/// answered with DISCONNECT 0x94 ([MQTT-3.3.2-11], [MQTT-3.1.2-27]).
#[test]
fn a_topic_alias_above_our_maximum_closes_with_0x94() {
    for maximum in [0, 3] {
        let mut options = v5();
        options.topic_alias_maximum = maximum;
        let mut h = connected_with(options, PropertyValues::default());
        h.deliver(aliased("a", 4, QoS::AtMostOnce, None));
        assert!(matches!(violation(&mut h), Some(ProtocolViolation::TopicAliasOutOfRange { .. })));
        assert_eq!(h.sent(), disconnect_sent(ReasonCode::TopicAliasInvalid));
    }
}

/// An alias not set up on this connection is a protocol error (section 3.3.4), and aliases
/// never carry over to a new connection [MQTT-3.3.2-7].
#[test]
fn an_alias_from_another_connection_is_unknown_and_closes_with_0x82() {
    let mut options = v5();
    options.topic_alias_maximum = 5;
    let mut h = connected_with(options, PropertyValues::default());
    h.deliver(aliased("a/b", 1, QoS::AtMostOnce, None));
    h.lose_connection();
    h.connect(false);
    h.deliver(aliased("", 1, QoS::AtMostOnce, None));
    assert!(matches!(violation(&mut h), Some(ProtocolViolation::UnknownTopicAlias { .. })));
    assert_eq!(h.sent(), disconnect_sent(ReasonCode::ProtocolError));
}

/// [MQTT-3.3.2-9], [MQTT-3.2.2-17]
#[test]
fn outbound_topic_aliases_replace_repeated_topics_within_the_servers_maximum() {
    let mut options = v5();
    options.outbound_topic_aliases = true;
    let mut h = connected_with(options, PropertyValues { topic_alias_maximum: Some(1), ..PropertyValues::default() });
    h.publish("a", QoS::AtMostOnce);
    h.publish("a", QoS::AtLeastOnce);
    h.publish("b", QoS::AtMostOnce);
    let sent = h.sent();
    let wire: Vec<_> = wire_publishes(&sent)
        .iter()
        .map(|publish| (publish.topic.to_string(), publish.properties.topic_alias.map(NonZeroU16::get)))
        .collect();
    assert_eq!(wire, [("a".into(), Some(1)), ("".into(), Some(1)), ("b".into(), None)]);
}

/// [MQTT-3.2.2-18]
#[test]
fn no_outbound_alias_goes_to_a_server_without_a_topic_alias_maximum() {
    let mut options = v5();
    options.outbound_topic_aliases = true;
    let mut h = connected_with(options, PropertyValues::default());
    h.publish("a", QoS::AtMostOnce);
    h.publish("a", QoS::AtMostOnce);
    assert!(wire_publishes(&h.sent()).iter().all(|publish| publish.topic == "a" && publish.properties.is_empty()));
}

/// A PUBLISH sent again on a new connection names its topic in full: the old aliases are gone
/// [MQTT-3.3.2-7].
#[test]
fn outbound_aliases_start_afresh_on_a_new_connection() {
    let mut options = v5();
    options.outbound_topic_aliases = true;
    options.session_expiry_interval = 60;
    let aliases = PropertyValues { topic_alias_maximum: Some(4), ..PropertyValues::default() };
    let mut h = connected_with(options, aliases.clone());
    h.publish("a", QoS::AtMostOnce);
    h.publish("a", QoS::AtLeastOnce);
    assert_eq!(wire_publishes(&h.sent())[1].topic, "");
    h.lose_connection();
    h.open();
    h.deliver(Packet::ConnAck(connack_with(true, aliases.into())));
    let sent = h.sent();
    let resent = wire_publishes(&sent);
    assert_eq!((resent[0].topic.as_str(), resent[0].dup), ("a", true));
    assert_eq!(resent[0].properties.topic_alias, NonZeroU16::new(1));
}

#[test]
fn a_topic_alias_set_by_the_user_is_refused() {
    let mut h = connected(PropertyValues::default());
    let properties = PropertyValues { topic_alias: NonZeroU16::new(1), ..PropertyValues::default() };
    let refused = h.client.publish(h.now, topic("a"), Bytes::new(), QoS::AtMostOnce, false, properties.into());
    assert_eq!(refused, Err(CommandError::TopicAliasReserved));
}

/// The CONNACK's Session Expiry Interval replaces the one the client asked for.
#[test]
fn the_connacks_session_expiry_replaces_ours() {
    let mut h = connected(PropertyValues { session_expiry_interval: Some(60), ..PropertyValues::default() });
    let written = h.publish("a", QoS::AtLeastOnce);
    h.lose_connection();
    assert!(!h.events().iter().any(|event| matches!(event, Event::Dropped { .. })));
    assert!(!h.open().clean_start);
    h.deliver(Packet::ConnAck(ConnAck::new(true, ReasonCode::Success)));
    assert_eq!(publish_ids(&h.sent()), [(written.packet_id().unwrap().get(), true)]);
}

#[test]
fn disconnect_can_end_the_session_with_expiry_zero() {
    let mut options = v5();
    options.session_expiry_interval = 60;
    let mut h = Harness::new(options);
    h.connect(false);
    let written = h.publish("a", QoS::AtLeastOnce);
    h.sent();
    let disconnect: Disconnect = Disconnect {
        reason_code: ReasonCode::Success,
        properties: PropertyValues { session_expiry_interval: Some(0), ..PropertyValues::default() }.into(),
    };
    h.client.disconnect(h.now, disconnect.clone()).unwrap();
    let events = h.events();
    assert_eq!(h.sent(), [Packet::Disconnect(disconnect)]);
    assert!(events.iter().any(|event| matches!(event,
        Event::Dropped { reason: DropReason::SessionEnded, requests }
            if matches!(&requests[..], [DroppedRequest::Publish { ticket, .. }] if *ticket == written))));
    assert!(h.open().clean_start);
}

/// Section 3.14.2.2.2: after a CONNECT with Session Expiry Interval 0 the DISCONNECT cannot
/// set another.
#[test]
fn disconnect_cannot_give_a_session_an_expiry_the_connect_did_not() {
    let mut h = connected(PropertyValues::default());
    let disconnect = Disconnect {
        reason_code: ReasonCode::Success,
        properties: PropertyValues { session_expiry_interval: Some(30), ..PropertyValues::default() }.into(),
    };
    assert_eq!(h.client.disconnect(h.now, disconnect), Err(CommandError::SessionExpiryAfterZero));
    assert_eq!(h.client.state(), State::Connected);
}

/// [MQTT-3.14.2-3], [MQTT-3.14.2-4]
#[test]
fn a_disconnect_too_large_for_the_server_goes_without_its_reason_string() {
    let mut h = connected(PropertyValues { maximum_packet_size: NonZeroU32::new(20), ..PropertyValues::default() });
    let disconnect = Disconnect {
        reason_code: ReasonCode::DisconnectWithWillMessage,
        properties: PropertyValues {
            reason_string: Some(string("shutting down for maintenance")),
            ..PropertyValues::default()
        }
        .into(),
    };
    h.client.disconnect(h.now, disconnect).unwrap();
    h.events();
    assert_eq!(h.sent(), disconnect_sent(ReasonCode::DisconnectWithWillMessage));
}

#[test]
fn an_assigned_client_identifier_is_used_from_then_on() {
    let mut options = v5();
    options.client_id = MqttString::default();
    let mut h = Harness::new(options);
    assert_eq!(h.open().client_id, "");
    let assigned = PropertyValues { assigned_client_identifier: Some(string("auto-7")), ..PropertyValues::default() };
    h.deliver(Packet::ConnAck(connack_with(false, assigned.into())));
    assert_eq!(h.client.client_id(), "auto-7");
    h.lose_connection();
    assert_eq!(h.open().client_id, "auto-7");
}

#[test]
fn reason_codes_and_reason_strings_are_surfaced() {
    let reason = |text| PropertyValues { reason_string: Some(string(text)), ..PropertyValues::default() };
    let mut h = connected(PropertyValues::default());
    let subscription = vec![
        Subscription { filter: topic("a"), options: SubscriptionOptions::new(QoS::ExactlyOnce) },
        Subscription { filter: topic("b"), options: SubscriptionOptions::default() },
    ];
    let packet_id = h.client.subscribe(h.now, subscription, Properties::default()).unwrap();
    h.pump();
    let suback = SubAck {
        packet_id,
        properties: reason("b is private").into(),
        reason_codes: vec![ReasonCode::GrantedQos1, ReasonCode::NotAuthorized],
    };
    h.deliver(Packet::SubAck(suback.clone()));
    assert_eq!(h.events(), [Event::SubAck(suback)]);
    let properties: Properties = reason("maintenance").into();
    h.deliver(Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::ServerShuttingDown,
        properties: properties.clone(),
    }));
    assert_eq!(
        disconnect_reason(&h.events()),
        Some(DisconnectReason::ByServer { reason_code: ReasonCode::ServerShuttingDown, properties })
    );
    h.open();
    let properties: Properties = reason("who are you").into();
    let refusal = ConnAck { session_present: false, reason_code: ReasonCode::BadUserNameOrPassword, properties };
    h.deliver(Packet::ConnAck(refusal.clone()));
    assert_eq!(
        disconnect_reason(&h.events()),
        Some(DisconnectReason::Refused { reason_code: refusal.reason_code, properties: refusal.properties })
    );
}

fn authenticating() -> ClientOptions {
    let mut options = v5();
    options.authentication_method = Some(string("SCRAM-SHA-1"));
    options.authentication_data = Some(Binary::from_static(b"client-first").unwrap());
    options
}

fn auth(reason_code: ReasonCode, method: &'static str, data: &'static [u8]) -> Auth {
    let properties = PropertyValues {
        authentication_method: Some(string(method)),
        authentication_data: Some(Binary::from_static(data).unwrap()),
        ..PropertyValues::default()
    };
    Auth { reason_code, properties: properties.into() }
}

fn auth_data(data: &'static [u8]) -> Properties {
    PropertyValues { authentication_data: Some(Binary::from_static(data).unwrap()), ..PropertyValues::default() }.into()
}

fn method_only(method: &'static str) -> Properties {
    PropertyValues { authentication_method: Some(string(method)), ..PropertyValues::default() }.into()
}

/// Section 4.12: the server's AUTH 0x18 is an event, the client's answer a command carrying
/// 0x18 and the same method ([MQTT-4.12.0-3], [MQTT-4.12.0-5]); nothing but AUTH goes before
/// the CONNACK [MQTT-3.1.2-30].
#[test]
fn enhanced_authentication_runs_until_the_connack() {
    let mut h = Harness::new(authenticating());
    let connect = h.open();
    assert_eq!(connect.properties.authentication_method, Some(string("SCRAM-SHA-1")));
    h.publish("a", QoS::AtLeastOnce);
    let challenge = auth(ReasonCode::ContinueAuthentication, "SCRAM-SHA-1", b"server-first");
    h.deliver(Packet::Auth(challenge.clone()));
    assert_eq!(h.events(), [Event::Auth(challenge)]);
    h.client.continue_authentication(h.now, auth_data(b"client-final")).unwrap();
    assert_eq!(h.sent(), [Packet::Auth(auth(ReasonCode::ContinueAuthentication, "SCRAM-SHA-1", b"client-final"))]);
    // The server did not ask again: no second answer.
    let again = h.client.continue_authentication(h.now, auth_data(b"more"));
    assert_eq!(again, Err(CommandError::AuthenticationNotExpected));
    h.deliver(Packet::ConnAck(connack_with(false, method_only("SCRAM-SHA-1"))));
    assert_eq!(h.client.state(), State::Connected);
    assert_eq!(publish_ids(&h.sent()).len(), 1);
}

/// Section 4.12.1: re-authentication with the same method [MQTT-4.12.1-1], ended by AUTH 0x00.
#[test]
fn reauthentication_uses_the_same_method_and_ends_with_success() {
    let mut h = Harness::new(authenticating());
    h.connect_with(connack_with(false, method_only("SCRAM-SHA-1")));
    h.client.reauthenticate(h.now, auth_data(b"client-first")).unwrap();
    assert_eq!(h.sent(), [Packet::Auth(auth(ReasonCode::ReAuthenticate, "SCRAM-SHA-1", b"client-first"))]);
    assert_eq!(h.client.reauthenticate(h.now, auth_data(b"x")), Err(CommandError::AuthenticationNotExpected));
    h.deliver(Packet::Auth(auth(ReasonCode::ContinueAuthentication, "SCRAM-SHA-1", b"server-first")));
    h.client.continue_authentication(h.now, auth_data(b"client-final")).unwrap();
    let success = auth(ReasonCode::Success, "SCRAM-SHA-1", b"server-final");
    h.deliver(Packet::Auth(success.clone()));
    assert_eq!(h.events().last(), Some(&Event::Auth(success)));
    assert_eq!(h.client.state(), State::Connected);
}

#[test]
fn an_auth_command_with_another_method_is_refused() {
    let mut h = Harness::new(authenticating());
    h.connect_with(connack_with(false, method_only("SCRAM-SHA-1")));
    let refused = h.client.reauthenticate(h.now, method_only("PLAIN"));
    assert_eq!(refused, Err(CommandError::AuthenticationMethodMismatch));
}

/// [MQTT-4.12.0-5]
#[test]
fn an_auth_with_another_method_closes_with_0x82() {
    let mut h = Harness::new(authenticating());
    h.open();
    h.deliver(Packet::Auth(auth(ReasonCode::ContinueAuthentication, "PLAIN", b"x")));
    assert!(matches!(violation(&mut h), Some(ProtocolViolation::AuthenticationMethodMismatch { .. })));
    assert_eq!(h.sent(), disconnect_sent(ReasonCode::ProtocolError));
}

/// [MQTT-4.12.0-7]: without a method there is no AUTH, either way.
#[test]
fn without_an_authentication_method_auth_is_refused_and_closes() {
    let mut h = connected(PropertyValues::default());
    assert_eq!(h.client.reauthenticate(h.now, Properties::default()), Err(CommandError::NoAuthenticationMethod));
    h.deliver(Packet::Auth(Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: Properties::default(),
    }));
    assert!(matches!(violation(&mut h), Some(ProtocolViolation::UnexpectedAuth { .. })));
}

#[test]
fn a_connack_without_the_authentication_method_closes() {
    let mut h = Harness::new(authenticating());
    h.open();
    h.deliver(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)));
    assert!(matches!(violation(&mut h), Some(ProtocolViolation::AuthenticationMethodMismatch { .. })));
}
