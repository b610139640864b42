//! The connection's life: CONNECT first, commands that do not fit the state refused, and a
//! graceful DISCONNECT that flushes the acknowledgements owed, then ends the connection.

use verimqtt_proto::client::{Client, CommandError, DisconnectReason, Event, OptionsError, State};
use verimqtt_proto::codec::{
    ConnAck, Disconnect, MqttString, Packet, Properties, PropertyValues, ProtocolVersion, PublishAck, QoS, ReasonCode,
    Subscription, SubscriptionOptions,
};

use crate::harness::{Harness, disconnect_reason, id, options, publish, topic};

/// [MQTT-3.1.0-1]: the first packet on a connection is the CONNECT.
#[test]
fn connect_is_the_first_packet_and_carries_the_options() {
    let mut options = options(ProtocolVersion::V311);
    options.keep_alive = 30;
    options.username = Some(MqttString::from_static("user").unwrap());
    let mut h = Harness::new(options);
    h.client.handle_connected(h.now);
    assert_eq!(h.client.state(), State::TransportReady);
    h.publish("a", QoS::AtLeastOnce);
    h.subscribe("s");
    assert_eq!(h.sent(), []);
    h.client.connect(h.now).unwrap();
    let sent = h.sent();
    let [Packet::Connect(connect)] = sent.as_slice() else { panic!("expected the CONNECT alone: {sent:?}") };
    assert_eq!((connect.client_id.as_str(), connect.keep_alive, connect.clean_start), ("client-1", 30, true));
    assert_eq!(connect.username, Some(MqttString::from_static("user").unwrap()));
    assert_eq!(h.client.state(), State::AwaitingConnAck);
}

#[test]
fn connect_without_a_transport_or_twice_is_refused() {
    let mut h = Harness::v5();
    assert_eq!(h.client.connect(h.now), Err(CommandError::NoConnection));
    h.client.handle_connected(h.now);
    h.client.connect(h.now).unwrap();
    assert_eq!(h.client.connect(h.now), Err(CommandError::AlreadyConnected));
}

#[test]
fn commands_that_need_a_connection_are_refused_without_one() {
    let mut h = Harness::v5();
    let subscription = Subscription { filter: topic("a"), options: SubscriptionOptions::default() };
    assert_eq!(h.client.subscribe(h.now, vec![subscription], Properties::default()), Err(CommandError::NoConnection));
    assert_eq!(h.client.unsubscribe(h.now, vec![topic("a")], Properties::default()), Err(CommandError::NoConnection));
    assert_eq!(h.client.disconnect(h.now, Disconnect::default()), Err(CommandError::NoConnection));
}

/// [MQTT-3.14.4-1], [MQTT-3.14.4-2]: the DISCONNECT is the last packet, after the
/// acknowledgements the client owes; then the connection is over.
#[test]
fn disconnect_flushes_owed_acknowledgements_then_ends_the_connection() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut h = Harness::new(options(version));
        h.connect(false);
        h.socket_full = true;
        h.deliver(publish("a", QoS::AtLeastOnce, Some(4)));
        let queued = h.publish("b", QoS::AtLeastOnce);
        h.client.disconnect(h.now, Disconnect::default()).unwrap();
        assert_eq!(h.client.state(), State::Disconnected);
        h.socket_full = false;
        let events = h.events();
        assert_eq!(disconnect_reason(&events), Some(DisconnectReason::Requested));
        assert_eq!(
            h.sent(),
            [Packet::PubAck(PublishAck::new(id(4))), Packet::Disconnect(Disconnect::default())],
            "{version}"
        );
        // The queued publish waits for the next connection.
        assert_eq!(h.client.publish_state(&queued), Some(verimqtt_proto::client::PublishState::Queued));
    }
}

#[test]
fn disconnect_before_the_connect_was_written_writes_nothing() {
    let mut h = Harness::v5();
    h.client.handle_connected(h.now);
    h.client.disconnect(h.now, Disconnect::default()).unwrap();
    assert_eq!(h.sent(), []);
    assert_eq!(disconnect_reason(&h.events()), Some(DisconnectReason::Requested));
}

#[test]
fn a_3_1_1_disconnect_with_a_reason_code_is_refused() {
    let mut h = Harness::v311();
    h.connect(false);
    let refused = h.client.disconnect(h.now, Disconnect::new(ReasonCode::DisconnectWithWillMessage));
    assert!(matches!(refused, Err(CommandError::Invalid(_))), "{refused:?}");
    assert_eq!(h.client.state(), State::Connected);
}

#[test]
fn a_refused_connection_reports_the_reason_and_writes_nothing_more() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut h = Harness::new(options(version));
        h.open();
        h.deliver(Packet::ConnAck(ConnAck::new(false, ReasonCode::NotAuthorized)));
        assert_eq!(h.client.state(), State::Disconnected);
        assert_eq!(
            h.events(),
            [Event::Disconnected {
                reason: DisconnectReason::Refused {
                    reason_code: ReasonCode::NotAuthorized,
                    properties: Properties::default()
                },
                last_bytes: None,
            }]
        );
        assert_eq!(h.sent(), []);
    }
}

#[test]
fn connection_lost_is_reported_once() {
    let mut h = Harness::v5();
    h.connect(false);
    h.lose_connection();
    h.lose_connection();
    assert_eq!(h.events(), [Event::Disconnected { reason: DisconnectReason::ConnectionLost, last_bytes: None }]);
}

#[test]
fn options_a_client_cannot_work_with_are_refused() {
    let mut options = options(ProtocolVersion::V311);
    options.topic_alias_maximum = 3;
    assert_eq!(Client::new(options).err(), Some(OptionsError::OnlyInMqtt5 { option: "topic_alias_maximum" }));
}

/// MQTT 5 CONNECT properties carry the client's limits.
#[test]
fn the_mqtt5_connect_carries_the_clients_limits() {
    let mut options = options(ProtocolVersion::V5);
    options.session_expiry_interval = 120;
    options.topic_alias_maximum = 8;
    options.request_problem_information = false;
    let mut h = Harness::new(options);
    let connect = h.open();
    let expected: Properties = PropertyValues {
        session_expiry_interval: Some(120),
        topic_alias_maximum: Some(8),
        request_problem_information: Some(false),
        ..PropertyValues::default()
    }
    .into();
    assert_eq!(connect.properties, expected);
}
