//! Named probe scenarios: fixed runs that reach every monitor, recorded once against
//! verimqtt's broker into `traces/probe-corpus/` as the valid traces the monitors' mutation
//! tests edit.

use verimqtt_proto::codec::{ProtocolVersion, QoS};
use verimqtt_spec::trace::PacketKind;

use crate::sim::{ClientSpec, Scenario, SessionKind, Side, Step, connected};

/// `resend_to_a_persistent_subscriber` (5.0): c1, a persistent subscriber with a will, is cut
/// right after it receives the first of three messages (QoS 1, 2, 1) against a Receive Maximum
/// of 2; the broker closes it for keep alive and publishes its will, and on resuming the
/// session it sends the first message again with DUP 1 and the others after.
/// `will_after_a_reset` (3.1.1): c0 with a will publishes at QoS 0 and is reset; c1, subscribed,
/// gets the message and the will; c0 comes back and disconnects normally.
pub fn named_probes() -> Vec<(&'static str, Scenario)> {
    let resend = connected(
        ProtocolVersion::V5,
        ClientSpec::new(SessionKind::Clean).keep_alive(1),
        ClientSpec::new(SessionKind::Persistent).keep_alive(1).with_will(),
        QoS::ExactlyOnce,
    )
    .steps([
        Step::CutAfter { client: 1, receiver: Side::Client, packet: PacketKind::Publish },
        Step::publish(0, QoS::AtLeastOnce),
        Step::publish(0, QoS::ExactlyOnce),
        Step::publish(0, QoS::AtLeastOnce),
        Step::Settle,
        Step::Heal,
        Step::Advance(4),
        Step::Connect { client: 1 },
        Step::Settle,
        Step::Advance(1),
    ]);
    let will = connected(
        ProtocolVersion::V311,
        ClientSpec::new(SessionKind::Clean).keep_alive(2).with_will(),
        ClientSpec::new(SessionKind::Clean).keep_alive(2),
        QoS::AtLeastOnce,
    )
    .steps([
        Step::publish(0, QoS::AtMostOnce),
        Step::Settle,
        Step::Reset { client: 0 },
        Step::Settle,
        Step::Advance(1),
        Step::Connect { client: 0 },
        Step::Settle,
        Step::Disconnect { client: 0 },
        Step::Settle,
        Step::Advance(1),
    ]);
    vec![("resend_to_a_persistent_subscriber", resend), ("will_after_a_reset", will)]
}

/// The smallest runs that show what the probe found in other brokers (traces/README.md, "What
/// it found"), each run with `probe --finding NAME`; a correct broker passes every one.
///
/// - `copy_above_its_qos` (3.1.1): c1 subscribes at QoS 2, c0 publishes at QoS 0 and QoS 1;
///   each copy must go out at the message's QoS ([MQTT-3.8.4-6]; 5.0 [MQTT-3.8.4-8]).
/// - `retained_to_a_filter_it_does_not_match` (3.1.1): c1 holds a subscription to `t`, c0
///   publishes a retained message there, and c2 connects and subscribes to `u` only: it must
///   get no copy of the message on `t`: what the broker sends a subscriber matches one of its
///   filters ([MQTT-3.3.2-3]).
/// - `silent_connection` (3.1.1): c0 connects with Keep Alive 1 s and its connection is cut:
///   the broker must close it after 1.5 s of silence, not earlier, and not much later (the run
///   watches for 8 s).
/// - `will_after_a_keep_alive_close` (3.1.1): c1 subscribes to the will topic; c0, with a will,
///   is cut; the broker closes c0's connection for keep alive and must publish its will
///   ([MQTT-3.1.2-8]).
/// - `first_copy_of_a_resent_publish` (3.1.1): c0 and c1 subscribe to `t`; c0, a persistent
///   client, is cut and its QoS 1 PUBLISH lost; it resends it with DUP 1 on its next
///   connection, and the broker's copies to c1 (on its first connection) and to c0 (on its
///   second) are that message's first transmissions: DUP 0 ([MQTT-3.3.1-3]).
/// - `resend_of_a_copy_to_its_own_publisher` (5.0): c0, a persistent client subscribed to its
///   own topic at QoS 1, publishes two QoS 1 messages; the broker's copy of the second to c0 is
///   lost with a cut, and on resuming the session the broker must send it again with DUP 1
///   ([MQTT-3.3.1-1]) under its original packet id ([MQTT-4.4.0-1]).
pub fn finding_probes() -> Vec<(&'static str, Scenario)> {
    let other_topic = |client| Step::subscribe_to(client, "u", QoS::AtLeastOnce);
    let copy_above_its_qos = connected(
        ProtocolVersion::V311,
        ClientSpec::new(SessionKind::Clean).keep_alive(2),
        ClientSpec::new(SessionKind::Clean).keep_alive(2),
        QoS::ExactlyOnce,
    )
    .steps([Step::publish(0, QoS::AtMostOnce), Step::publish(0, QoS::AtLeastOnce), Step::Settle, Step::Advance(1)]);
    let retained = connected(
        ProtocolVersion::V311,
        ClientSpec::new(SessionKind::Clean).keep_alive(2),
        ClientSpec::new(SessionKind::Clean).keep_alive(2),
        QoS::AtLeastOnce,
    )
    .client(ClientSpec::new(SessionKind::Clean).keep_alive(2))
    .steps([
        Step::publish_with(0, QoS::AtLeastOnce, true),
        Step::Settle,
        Step::Connect { client: 2 },
        Step::Settle,
        other_topic(2),
        Step::Settle,
        Step::Advance(1),
    ]);
    let silent = Scenario::new(ProtocolVersion::V311)
        .client(ClientSpec::new(SessionKind::Clean).keep_alive(1))
        .steps([Step::Connect { client: 0 }, Step::Settle, Step::Cut { client: 0 }, Step::Advance(8)]);
    let will = connected(
        ProtocolVersion::V311,
        ClientSpec::new(SessionKind::Clean).keep_alive(1).with_will(),
        ClientSpec::new(SessionKind::Clean).keep_alive(1),
        QoS::AtLeastOnce,
    )
    .steps([Step::Cut { client: 0 }, Step::Advance(4)]);
    let first_copy = Scenario::new(ProtocolVersion::V311)
        .client(ClientSpec::new(SessionKind::Persistent).keep_alive(1))
        .client(ClientSpec::new(SessionKind::Clean).keep_alive(1))
        .steps([
            Step::Connect { client: 0 },
            Step::Connect { client: 1 },
            Step::Settle,
            Step::subscribe(1, QoS::AtLeastOnce),
            Step::subscribe(0, QoS::AtLeastOnce),
            Step::Settle,
            Step::Cut { client: 0 },
            Step::publish(0, QoS::AtLeastOnce),
            Step::Settle,
            Step::Advance(3),
            Step::Connect { client: 0 },
            Step::Settle,
            Step::Advance(1),
        ]);
    let resend =
        Scenario::new(ProtocolVersion::V5).client(ClientSpec::new(SessionKind::Persistent).keep_alive(1)).steps([
            Step::Connect { client: 0 },
            Step::Settle,
            Step::subscribe(0, QoS::AtLeastOnce),
            Step::Settle,
            // A first message completes, so the lost copy's packet id is not the first.
            Step::publish(0, QoS::AtLeastOnce),
            Step::Settle,
            Step::CutAfter { client: 0, receiver: Side::Broker, packet: PacketKind::Publish },
            Step::publish(0, QoS::AtLeastOnce),
            Step::Settle,
            Step::Heal,
            Step::Advance(3),
            Step::Connect { client: 0 },
            Step::Settle,
            Step::Advance(1),
        ]);
    vec![
        ("copy_above_its_qos", copy_above_its_qos),
        ("retained_to_a_filter_it_does_not_match", retained),
        ("silent_connection", silent),
        ("will_after_a_keep_alive_close", will),
        ("first_copy_of_a_resent_publish", first_copy),
        ("resend_of_a_copy_to_its_own_publisher", resend),
    ]
}
