//! The broker tells an installed observer every observable step, in the order it takes them.

use std::time::Duration;

use verimqtt_proto::codec::QoS;
use verimqtt_proto::trace::Recording;

use crate::harness::{Harness, V5, V311, connect, publish, subscribe};

fn observed(harness: &mut Harness) -> Recording {
    let recording = Recording::default();
    harness.broker.set_observer(Some(Box::new(recording.clone())));
    recording
}

#[test]
fn a_routed_qos1_message_is_observed_in_order() {
    let mut harness = Harness::new();
    let recording = observed(&mut harness);
    let subscriber = harness.connect("sub", V311);
    harness.send(subscriber, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 7, "m0"));
    harness.recv(subscriber);
    assert_eq!(
        recording.take_lines(),
        [
            "opened 1",
            r#"received 1 CONNECT(clean 1)"#,
            "sent 1 CONNACK(session present 0)",
            r#"received 1 SUBSCRIBE(id 1, "t" qos 1)"#,
            "sent 1 SUBACK(id 1, reasons [0x01])",
            "opened 2",
            "received 2 CONNECT(clean 1)",
            "sent 2 CONNACK(session present 0)",
            r#"received 2 PUBLISH("t", payload "m0", qos 1, id 7)"#,
            r#"sent 1 PUBLISH("t", payload "m0", qos 1, id 1)"#,
            "sent 2 PUBACK(id 7)",
        ]
    );
}

#[test]
fn the_keep_alive_close_is_observed_with_its_timer_and_disconnect() {
    let mut harness = Harness::new();
    let mut request = connect(V5, "quiet");
    request.keep_alive = 2;
    let (client, _) = harness.connect_with(request);
    let recording = observed(&mut harness);
    harness.advance(Duration::from_secs(3));
    assert!(!harness.is_open(client));
    assert_eq!(
        recording.take_lines(),
        ["timer KeepAliveClose", "sent 1 DISCONNECT(reason 0x8d)", "closed 1 KeepAliveTimeout"]
    );
}

#[test]
fn a_lost_connection_is_observed_once() {
    let mut harness = Harness::new();
    let client = harness.connect("gone", V311);
    let recording = observed(&mut harness);
    harness.cut(client);
    assert_eq!(recording.take_lines(), ["closed 1 ConnectionLost"]);
}
