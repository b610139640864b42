//! The client tells an installed observer every observable step, in the order it takes
//! them; a connection it closes is reported closed after its last packet.

use std::time::Duration;

use verimqtt_proto::codec::{Disconnect, ProtocolVersion, QoS, ReasonCode};
use verimqtt_proto::trace::{Recording, describe};

use crate::harness::{Harness, SECOND, id, options, puback, publish, pubrel};

fn observed(harness: &mut Harness) -> Recording {
    let recording = Recording::default();
    harness.client.set_observer(Some(Box::new(recording.clone())));
    recording
}

#[test]
fn a_qos1_publish_and_a_disconnect_are_observed_in_order() {
    let mut harness = Harness::v311();
    let recording = observed(&mut harness);
    harness.connect(false);
    let ticket = harness.publish("t", QoS::AtLeastOnce);
    harness.deliver(puback(ticket.packet_id().unwrap()));
    harness.client.disconnect(harness.now, Disconnect::new(ReasonCode::Success)).unwrap();
    harness.sent();
    assert_eq!(
        recording.take_lines(),
        [
            "opened 1",
            "sent 1 CONNECT(clean 1)",
            "received 1 CONNACK(session present 0)",
            "requested payload qos 1",
            r#"sent 1 PUBLISH("t", payload "payload", qos 1, id 1)"#,
            "received 1 PUBACK(id 1)",
            "sent 1 DISCONNECT",
            "closed 1 Disconnected",
        ]
    );
}

/// What a clean session gives back to the application when it ends with its connection is
/// observed as abandoned, after the close.
#[test]
fn a_flight_an_ended_session_gives_back_is_observed_as_abandoned() {
    let mut harness = Harness::v311();
    harness.connect(false);
    harness.publish("t", QoS::AtLeastOnce);
    harness.sent();
    let recording = observed(&mut harness);
    harness.lose_connection();
    assert_eq!(recording.take_lines(), ["closed 1 ConnectionLost", "abandoned payload qos 1"]);
}

#[test]
fn a_repeated_qos2_message_is_delivered_once() {
    let mut harness = Harness::v5();
    harness.connect(false);
    let recording = observed(&mut harness);
    harness.deliver(publish("t", QoS::ExactlyOnce, Some(4)));
    harness.deliver(publish("t", QoS::ExactlyOnce, Some(4)));
    harness.deliver(pubrel(id(4)));
    let lines = recording.take_lines();
    assert_eq!(lines.iter().filter(|line| line.starts_with("delivered")).count(), 1, "{lines:#?}");
    assert_eq!(lines.iter().filter(|line| line.starts_with("sent 1 PUBREC")).count(), 2, "{lines:#?}");
    assert!(lines.last().is_some_and(|line| line.starts_with("sent 1 PUBCOMP")), "{lines:#?}");
}

#[test]
fn keep_alive_timers_are_observed_before_what_they_cause() {
    let mut options = options(ProtocolVersion::V311);
    options.keep_alive = 2;
    let mut harness = Harness::new(options);
    harness.connect(false);
    let recording = observed(&mut harness);
    harness.advance(Duration::from_secs(4));
    let events = recording.take();
    let lines: Vec<String> = events.iter().map(|(_, event)| describe(event)).collect();
    assert_eq!(lines, ["timer KeepAlivePing", "sent 1 PINGREQ", "timer KeepAliveAbort", "closed 1 KeepAliveTimeout"]);
    let times: Vec<Duration> = events.iter().map(|(at, _)| *at - events[0].0).collect();
    assert_eq!(times, [Duration::ZERO, Duration::ZERO, SECOND, SECOND]);
}

#[test]
fn each_transport_gets_the_next_connection_number() {
    let mut harness = Harness::v311();
    let recording = observed(&mut harness);
    harness.connect(false);
    harness.lose_connection();
    harness.connect(false);
    let lines = recording.take_lines();
    assert_eq!(lines.iter().filter(|line| line.starts_with("opened")).collect::<Vec<_>>(), ["opened 1", "opened 2"]);
    assert!(lines.contains(&"closed 1 ConnectionLost".to_string()), "{lines:#?}");
}

#[test]
fn a_removed_observer_hears_nothing_more() {
    let mut harness = Harness::v311();
    let recording = observed(&mut harness);
    harness.client.set_observer(None);
    harness.connect(false);
    assert!(recording.take().is_empty());
}
