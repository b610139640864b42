//! Reconnection: a resumed session sends its unfinished exchanges again ([MQTT-4.4.0-1]); a
//! session the server no longer has is discarded and reported ([MQTT-3.2.2-5] in 5.0); what lives
//! only on a connection is dropped with it and reported.

use verimqtt_proto::client::{
    DisconnectReason, DropReason, DroppedRequest, Event, ProtocolViolation, PublishState, State,
};
use verimqtt_proto::codec::{
    ConnAck, Disconnect, Packet, PacketId, PropertyValues, ProtocolVersion, PublishAck, QoS, ReasonCode,
};

use crate::harness::{
    Harness, SECOND, connack_with, disconnect_reason, id, options, puback, publish, publish_ids, pubrec, pubrel,
    receive_maximum,
};

/// A client whose session outlives its connections: 3.1.1 without clean session, 5.0 with a
/// Session Expiry Interval.
fn persistent(version: ProtocolVersion, expiry: u32) -> Harness {
    let mut options = options(version);
    match version {
        ProtocolVersion::V311 => options.clean_start = false,
        ProtocolVersion::V5 => options.session_expiry_interval = expiry,
    }
    Harness::new(options)
}

/// Connects again; the CONNECT must ask to resume (Clean Start 0) exactly when `resume`.
/// Returns the events of the reconnection alone.
fn reconnect(h: &mut Harness, resume: bool, session_present: bool) -> Vec<Event> {
    h.events();
    let connect = h.open();
    assert_eq!(connect.clean_start, !resume, "the CONNECT asks to resume exactly when a session is held");
    h.deliver(Packet::ConnAck(ConnAck::new(session_present, ReasonCode::Success)));
    h.events()
}

fn dropped(events: &[Event]) -> Vec<(DropReason, Vec<DroppedRequest>)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Dropped { reason, requests } => Some((reason.clone(), requests.clone())),
            _ => None,
        })
        .collect()
}

/// The requests of the one Dropped event among `events`, which must be for `reason`.
fn only_drop(events: &[Event], reason: DropReason) -> Vec<DroppedRequest> {
    match dropped(events).as_slice() {
        [(dropped_for, requests)] if *dropped_for == reason => requests.clone(),
        other => panic!("expected one drop for {reason:?}, got {other:?} in {events:?}"),
    }
}

fn dropped_publish_ids(requests: &[DroppedRequest]) -> Vec<Option<PacketId>> {
    requests
        .iter()
        .map(|request| match request {
            DroppedRequest::Publish { ticket, .. } => ticket.packet_id(),
            other => panic!("expected a publish, got {other:?}"),
        })
        .collect()
}

/// [MQTT-4.4.0-1], [MQTT-4.6.0-1], [MQTT-3.3.1-1], [MQTT-2.3.1-3]; a QoS 2 publish whose PUBREL
/// was sent is never sent again, its PUBREL is (3.1.1 [MQTT-4.3.3-1], 5.0 [MQTT-4.3.3-6]).
#[test]
fn resumed_session_resends_unacked_publishes_with_dup_in_order_then_pending_pubrels() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut h = persistent(version, 3600);
        h.connect(false);
        let tickets: Vec<_> = [QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
            .into_iter()
            .map(|qos| h.publish("a", qos))
            .collect();
        let ids: Vec<_> = tickets.iter().map(|ticket| ticket.packet_id().unwrap()).collect();
        h.deliver(pubrec(ids[1]));
        h.deliver(puback(ids[2]));
        h.lose_connection();
        let events = reconnect(&mut h, true, true);
        assert!(matches!(events.as_slice(), [Event::Connected { session_present: true, .. }]), "{events:?}");
        let resent = h.sent();
        assert_eq!(publish_ids(&resent), [(ids[0].get(), true), (ids[3].get(), true)], "{version}");
        assert_eq!(resent[2..], [Packet::PubRel(PublishAck::new(ids[1]))], "{version}");
        assert_eq!(h.client.publish_state(&tickets[1]), Some(PublishState::AwaitingPubComp));
        assert_eq!(h.client.in_flight(), 3);
    }
}

#[test]
fn a_resent_exchange_completes_as_a_first_one_does() {
    let mut h = persistent(ProtocolVersion::V311, 0);
    h.connect(false);
    let ticket = h.publish("a", QoS::ExactlyOnce);
    let packet_id = ticket.packet_id().unwrap();
    h.lose_connection();
    reconnect(&mut h, true, true);
    h.sent();
    h.deliver(pubrec(packet_id));
    assert_eq!(h.sent(), [Packet::PubRel(PublishAck::new(packet_id))]);
    h.deliver(Packet::PubComp(PublishAck::new(packet_id)));
    assert!(h.events().iter().any(|event| matches!(event, Event::PubComp { ticket: done, .. } if *done == ticket)));
    assert_eq!(h.client.packet_ids_in_use().count(), 0);
}

/// [MQTT-3.2.2-5] in 5.0: the server has no session, so the client discards its own and says what
/// it dropped. Queued publishes were never part of it and go out as new.
#[test]
fn session_not_present_discards_the_session_and_reports_what_was_dropped() {
    let mut options = options(ProtocolVersion::V5);
    options.session_expiry_interval = 3600;
    options.max_in_flight = 2;
    let mut h = Harness::new(options);
    h.connect(false);
    let first = h.publish("a", QoS::AtLeastOnce);
    let second = h.publish("b", QoS::ExactlyOnce);
    let queued = h.publish("c", QoS::AtLeastOnce);
    h.deliver(pubrec(second.packet_id().unwrap()));
    h.deliver(publish("in", QoS::ExactlyOnce, Some(7)));
    h.lose_connection();
    h.events();
    let events = reconnect(&mut h, true, false);
    let requests = only_drop(&events, DropReason::SessionNotPresent);
    assert_eq!(dropped_publish_ids(&requests), [first.packet_id(), second.packet_id()]);
    let resent: Vec<_> = h.sent();
    assert_eq!(publish_ids(&resent), [(queued.packet_id().unwrap().get(), false)]);
    assert_eq!(h.client.packet_ids_in_use().collect::<Vec<_>>(), [queued.packet_id().unwrap()]);
    // The QoS 2 message received on the old session is forgotten: the same identifier is new.
    h.deliver(publish("in", QoS::ExactlyOnce, Some(7)));
    assert!(h.events().iter().any(|event| matches!(event, Event::Message(_))));
}

/// [MQTT-3.2.2-4] in 5.0 (DISCONNECT 0x82 first); 3.1.1 closes without a word.
#[test]
fn session_present_after_a_clean_start_closes_the_connection() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut h = Harness::new(options(version));
        let connect = h.open();
        assert!(connect.clean_start);
        h.deliver(Packet::ConnAck(ConnAck::new(true, ReasonCode::Success)));
        assert_eq!(h.client.state(), State::Disconnected);
        assert_eq!(
            disconnect_reason(&h.events()),
            Some(DisconnectReason::ProtocolViolation(ProtocolViolation::SessionPresentWithoutSession))
        );
        let farewell = match version {
            ProtocolVersion::V311 => vec![],
            ProtocolVersion::V5 => vec![Packet::Disconnect(Disconnect::new(ReasonCode::ProtocolError))],
        };
        assert_eq!(h.sent(), farewell, "{version}");
    }
}

#[test]
fn qos0_messages_and_unacked_requests_are_dropped_with_the_connection_and_reported() {
    let mut h = persistent(ProtocolVersion::V5, 3600);
    h.connect(false);
    let written = h.subscribe("s/1");
    h.socket_full = true;
    let qos0 = h.publish("a", QoS::AtMostOnce);
    let unsent = h.subscribe("s/2");
    let unsubscribe = h.unsubscribe("u");
    let kept = h.publish("b", QoS::AtLeastOnce);
    h.lose_connection();
    let events = h.events();
    assert_eq!(disconnect_reason(&events), Some(DisconnectReason::ConnectionLost));
    let requests = only_drop(&events, DropReason::ConnectionClosed);
    assert!(matches!(&requests[0], DroppedRequest::Publish { ticket, .. } if ticket == &qos0));
    let request_ids: Vec<_> = requests[1..]
        .iter()
        .map(|request| match request {
            DroppedRequest::Subscribe(subscribe) => subscribe.packet_id,
            DroppedRequest::Unsubscribe(unsubscribe) => unsubscribe.packet_id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(request_ids, [written, unsent, unsubscribe]);
    assert_eq!(h.client.publish_state(&kept), Some(PublishState::Queued));
    assert_eq!(h.client.packet_ids_in_use().collect::<Vec<_>>(), [kept.packet_id().unwrap()]);
    assert_eq!(h.client.pending_requests(), 0);
}

/// 3.1.1 Clean Session 1: the session lasts as long as the connection ([MQTT-3.1.2-6]).
#[test]
fn a_clean_session_ends_with_the_connection() {
    let mut h = Harness::v311();
    h.connect(false);
    let written = h.publish("a", QoS::AtLeastOnce);
    h.lose_connection();
    let events = h.events();
    let requests = only_drop(&events, DropReason::SessionEnded);
    assert_eq!(dropped_publish_ids(&requests), [written.packet_id()]);
    reconnect(&mut h, false, false);
    assert_eq!(h.sent(), []);
}

#[test]
fn queued_publishes_survive_a_connection_loss_and_go_out_as_new() {
    let mut h = Harness::v311();
    h.connect(false);
    h.socket_full = true;
    let queued = h.publish("a", QoS::AtLeastOnce);
    h.lose_connection();
    h.socket_full = false;
    reconnect(&mut h, false, false);
    assert_eq!(publish_ids(&h.sent()), [(queued.packet_id().unwrap().get(), false)]);
}

/// A QoS 2 message delivered before the connection dropped is not delivered again when the
/// server sends it again on the resumed session ([MQTT-4.3.3-2] in 3.1.1, [MQTT-4.3.3-10] in
/// 5.0).
#[test]
fn inbound_qos2_state_survives_a_resumed_session() {
    let mut h = persistent(ProtocolVersion::V311, 0);
    h.connect(false);
    h.deliver(publish("a", QoS::ExactlyOnce, Some(7)));
    assert_eq!(h.events().len(), 1);
    h.lose_connection();
    reconnect(&mut h, true, true);
    h.sent();
    let Packet::Publish(mut again) = publish("a", QoS::ExactlyOnce, Some(7)) else { unreachable!() };
    again.dup = true;
    h.deliver(Packet::Publish(again));
    assert_eq!(h.events(), []);
    assert_eq!(h.sent(), [pubrec(id(7))]);
    h.deliver(pubrel(id(7)));
    assert_eq!(h.sent(), [Packet::PubComp(PublishAck::new(id(7)))]);
}

#[test]
fn a_session_that_expired_while_disconnected_is_dropped() {
    let mut h = persistent(ProtocolVersion::V5, 10);
    h.connect(false);
    let written = h.publish("a", QoS::AtLeastOnce);
    h.advance(5 * SECOND);
    h.lose_connection();
    h.events();
    assert_eq!(h.client.poll_timeout(), Some(h.now + 10 * SECOND));
    h.advance(10 * SECOND);
    let events = h.events();
    let requests = only_drop(&events, DropReason::SessionExpired);
    assert_eq!(dropped_publish_ids(&requests), [written.packet_id()]);
    reconnect(&mut h, false, false);
}

#[test]
fn a_session_is_resumed_before_it_expires() {
    let mut h = persistent(ProtocolVersion::V5, 10);
    h.connect(false);
    let written = h.publish("a", QoS::AtLeastOnce);
    h.lose_connection();
    h.advance(9 * SECOND);
    reconnect(&mut h, true, true);
    assert_eq!(publish_ids(&h.sent()), [(written.packet_id().unwrap().get(), true)]);
}

/// Resent publishes count against the new connection's Receive Maximum ([MQTT-3.3.4-7]).
#[test]
fn resent_publishes_keep_within_the_new_receive_maximum() {
    let mut h = persistent(ProtocolVersion::V5, 3600);
    h.connect(false);
    let ids: Vec<_> = (0..4).map(|_| h.publish("a", QoS::AtLeastOnce).packet_id().unwrap()).collect();
    h.lose_connection();
    h.open();
    let properties = PropertyValues { receive_maximum: receive_maximum(2), ..PropertyValues::default() };
    h.deliver(Packet::ConnAck(connack_with(true, properties.into())));
    assert_eq!(publish_ids(&h.sent()), [(ids[0].get(), true), (ids[1].get(), true)]);
    h.deliver(puback(ids[1]));
    assert_eq!(publish_ids(&h.sent()), [(ids[2].get(), true)]);
}

#[test]
fn a_refused_connection_leaves_the_session_for_the_next_attempt() {
    let mut h = persistent(ProtocolVersion::V311, 0);
    h.connect(false);
    let written = h.publish("a", QoS::AtLeastOnce);
    h.lose_connection();
    h.events();
    h.open();
    h.deliver(Packet::ConnAck(ConnAck::new(false, ReasonCode::ServerUnavailable)));
    let events = h.events();
    assert!(matches!(
        disconnect_reason(&events),
        Some(DisconnectReason::Refused { reason_code: ReasonCode::ServerUnavailable, .. })
    ));
    assert_eq!(dropped(&events), []);
    assert_eq!(h.client.in_flight(), 1);
    reconnect(&mut h, true, true);
    assert_eq!(publish_ids(&h.sent()), [(written.packet_id().unwrap().get(), true)]);
}

#[test]
fn a_new_transport_replaces_one_still_open() {
    let mut h = Harness::v5();
    h.connect(false);
    h.client.handle_connected(h.now);
    assert_eq!(disconnect_reason(&h.events()), Some(DisconnectReason::ConnectionLost));
    assert_eq!(h.client.state(), State::TransportReady);
}
