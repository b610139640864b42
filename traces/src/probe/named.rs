//! Named probe scenarios: fixed runs that reach every monitor, recorded once against
//! verimqtt's broker into `traces/probe-corpus/` as the valid traces the monitors' mutation
//! tests edit.

use verimqtt_proto::codec::{ProtocolVersion, QoS};
use verimqtt_spec::trace::PacketKind;

use crate::sim::{ClientSpec, Scenario, SessionKind, Side, Step};

/// `resend_to_a_persistent_subscriber` (5.0): c1, a persistent subscriber with a will, is cut
/// right after it receives the first of three messages (QoS 1, 2, 1) against a Receive Maximum
/// of 2; the broker closes it for keep alive and publishes its will, and on resuming the
/// session it sends the first message again with DUP 1 and the others after.
/// `will_after_a_reset` (3.1.1): c0 with a will publishes at QoS 0 and is reset; c1, subscribed,
/// gets the message and the will; c0 comes back and disconnects normally.
pub fn named_probes() -> Vec<(&'static str, Scenario)> {
    let resend = Scenario::new(ProtocolVersion::V5)
        .client(ClientSpec::new(SessionKind::Clean).keep_alive(1))
        .client(ClientSpec::new(SessionKind::Persistent).keep_alive(1).with_will())
        .steps([
            Step::Connect { client: 0 },
            Step::Connect { client: 1 },
            Step::Settle,
            Step::subscribe(1, QoS::ExactlyOnce),
            Step::Settle,
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
    let will = Scenario::new(ProtocolVersion::V311)
        .client(ClientSpec::new(SessionKind::Clean).keep_alive(2).with_will())
        .client(ClientSpec::new(SessionKind::Clean).keep_alive(2))
        .steps([
            Step::Connect { client: 0 },
            Step::Connect { client: 1 },
            Step::Settle,
            Step::subscribe(1, QoS::AtLeastOnce),
            Step::Settle,
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
