//! Wire-only monitors: properties a broker must keep that can be decided from what its
//! clients and the fault proxy saw, without looking inside the broker. Each gives a verdict
//! per trace: it holds, it was broken (a violation), or the broker did something the
//! specification allows but that is worth knowing (a deviation: a session it lost).
//!
//! Every monitor decides only what the trace settles: a keep alive close the probe stopped
//! watching before its deadline, or a session that may or may not have expired by the time
//! the client came back, is not counted (`checked` says how many cases were decided).

mod deliveries;
mod flight;
mod keep_alive;
mod qos;
mod sessions;
pub(super) mod view;
mod will;

use std::fmt;

use verimqtt_spec::trace::TraceEvent;

pub use keep_alive::TOLERANCE_MS;

/// A property of a broker, decidable from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Property {
    /// A PUBLISH the broker sends again in a session has DUP 1 and the same packet id; the
    /// first transmission and every QoS 0 PUBLISH have DUP 0.
    Dup,
    /// No new PUBLISH of the broker reuses a packet id the client has not completed.
    PacketIds,
    /// A QoS 0 message reaches a subscription at most once.
    Qos0AtMostOnce,
    /// A QoS 2 message reaches a subscription at most once (that it arrives at all is
    /// [`Property::NoLoss`]).
    Qos2ExactlyOnce,
    /// Messages of one publisher on one topic at one QoS (1 or 2) reach a subscriber in the
    /// order the broker received them.
    Order,
    /// The broker sends a message to a subscriber at the lower of the message's QoS and the
    /// QoS it granted the subscription.
    DeliveredQos,
    /// The broker never has more QoS 1/2 PUBLISHes unacknowledged on a connection than the
    /// client's Receive Maximum (5.0).
    ReceiveMaximum,
    /// The broker closes a silent connection not before 1.5 x Keep Alive after the last packet
    /// it received, and not later than that plus [`TOLERANCE_MS`].
    KeepAlive,
    /// A will is published if and only if its connection ended without a normal DISCONNECT.
    Will,
    /// Session Present is 0 after Clean Start 1 or a refusal, and otherwise consistent with the
    /// client id's history; a session the broker lost is a deviation.
    SessionPresent,
    /// A persistent subscriber receives every QoS 1/2 message the broker took while it was
    /// subscribed, once faults stop and the run settles.
    NoLoss,
}

impl Property {
    pub const ALL: [Property; 11] = [
        Property::Dup,
        Property::PacketIds,
        Property::Qos0AtMostOnce,
        Property::Qos2ExactlyOnce,
        Property::Order,
        Property::DeliveredQos,
        Property::ReceiveMaximum,
        Property::KeepAlive,
        Property::Will,
        Property::SessionPresent,
        Property::NoLoss,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Property::Dup => "dup",
            Property::PacketIds => "packet_ids",
            Property::Qos0AtMostOnce => "qos0_at_most_once",
            Property::Qos2ExactlyOnce => "qos2_exactly_once",
            Property::Order => "order",
            Property::DeliveredQos => "delivered_qos",
            Property::ReceiveMaximum => "receive_maximum",
            Property::KeepAlive => "keep_alive",
            Property::Will => "will",
            Property::SessionPresent => "session_present",
            Property::NoLoss => "no_loss",
        }
    }

    /// The statements the property rests on, in MQTT 3.1.1 and in MQTT 5.0 (ids of the
    /// `spec` catalogue; a property with no numbered statement names its section).
    pub fn statements(self, v5: bool) -> &'static [&'static str] {
        match (self, v5) {
            (Property::Dup, false) => &["MQTT-3.3.1-1", "MQTT-3.3.1-2", "MQTT-3.3.1-3", "MQTT-2.3.1-3", "MQTT-2.3.1-4"],
            (Property::Dup, true) => &["MQTT-3.3.1-1", "MQTT-3.3.1-2", "MQTT-3.3.1-3", "MQTT-4.4.0-1"],
            (Property::PacketIds, false) => &["MQTT-2.3.1-2", "MQTT-2.3.1-4", "MQTT-4.4.0-1"],
            (Property::PacketIds, true) => &["MQTT-2.2.1-4", "MQTT-4.4.0-1"],
            // Section 4.3.1 promises at most once delivery without a numbered statement.
            (Property::Qos0AtMostOnce, _) => &["section 4.3.1", "MQTT-4.3.1-1"],
            (Property::Qos2ExactlyOnce, false) => &["MQTT-4.3.3-1", "MQTT-4.3.3-2"],
            (Property::Qos2ExactlyOnce, true) => &["MQTT-4.3.3-1", "MQTT-4.3.3-2", "MQTT-4.3.3-6"],
            (Property::Order, false) => &["MQTT-4.6.0-6"],
            (Property::Order, true) => &["MQTT-4.6.0-5"],
            (Property::DeliveredQos, false) => &["MQTT-3.8.4-6"],
            (Property::DeliveredQos, true) => &["MQTT-3.8.4-8"],
            (Property::ReceiveMaximum, false) => &[],
            (Property::ReceiveMaximum, true) => &["MQTT-3.3.4-9"],
            (Property::KeepAlive, false) => &["MQTT-3.1.2-24"],
            (Property::KeepAlive, true) => &["MQTT-3.1.2-22", "MQTT-3.2.2-22"],
            (Property::Will, _) => &["MQTT-3.1.2-8", "MQTT-3.1.2-10", "MQTT-3.14.4-3"],
            (Property::SessionPresent, false) => &["MQTT-3.2.2-1", "MQTT-3.2.2-2", "MQTT-3.2.2-3", "MQTT-3.2.2-4"],
            (Property::SessionPresent, true) => &["MQTT-3.2.2-2", "MQTT-3.2.2-3", "MQTT-3.2.2-6"],
            (Property::NoLoss, false) => &["MQTT-3.1.2-4", "MQTT-3.1.2-5", "MQTT-4.4.0-1", "MQTT-4.5.0-1"],
            (Property::NoLoss, true) => &["MQTT-3.1.2-5", "MQTT-3.1.2-23", "MQTT-4.4.0-1", "MQTT-4.5.0-1"],
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a finding says about the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Holds,
    /// Allowed by the specification, and reported: a session the broker lost.
    Deviation,
    Violation,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::Deviation => "deviation",
            Outcome::Violation => "violation",
        }
    }
}

/// One case a monitor found wrong or deviating, with the trace events (indices) that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub property: Property,
    pub outcome: Outcome,
    pub message: String,
    pub events: Vec<usize>,
}

/// A monitor's verdict on one trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub property: Property,
    /// How many cases the trace decided (messages, connections, CONNACKs...).
    pub checked: usize,
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// The worst outcome among the findings; `Holds` without any.
    pub fn outcome(&self) -> Outcome {
        self.findings.iter().map(|finding| finding.outcome).max().unwrap_or(Outcome::Holds)
    }
}

/// Collects a monitor's cases and findings.
#[derive(Debug)]
pub(crate) struct Judge {
    property: Property,
    checked: usize,
    findings: Vec<Finding>,
}

impl Judge {
    fn new(property: Property) -> Self {
        Judge { property, checked: 0, findings: Vec::new() }
    }

    /// One more case decided.
    fn check(&mut self) {
        self.checked += 1;
    }

    fn violation(&mut self, message: String, events: Vec<usize>) {
        self.findings.push(Finding { property: self.property, outcome: Outcome::Violation, message, events });
    }

    fn deviation(&mut self, message: String, events: Vec<usize>) {
        self.findings.push(Finding { property: self.property, outcome: Outcome::Deviation, message, events });
    }

    fn verdict(self) -> Verdict {
        Verdict { property: self.property, checked: self.checked, findings: self.findings }
    }
}

/// Every monitor's verdict on a probe's trace, in [`Property::ALL`] order.
pub fn monitor(trace: &[TraceEvent]) -> Vec<Verdict> {
    let view = view::View::of(trace);
    let mut verdicts = Vec::new();
    verdicts.extend(flight::judge(&view));
    verdicts.extend(deliveries::judge(&view));
    verdicts.push(qos::judge(&view));
    verdicts.push(keep_alive::judge(&view));
    verdicts.push(will::judge(&view));
    verdicts.push(sessions::judge(&view));
    verdicts.push(deliveries::judge_no_loss(&view));
    verdicts.sort_by_key(|verdict| verdict.property);
    verdicts
}

#[cfg(test)]
mod tests {
    use verimqtt_spec::catalogue::{SpecVersion, catalogue};

    use super::*;

    #[test]
    fn every_cited_statement_is_in_the_catalogue_of_its_version() {
        for property in Property::ALL {
            for (v5, version) in [(false, SpecVersion::V3_1_1), (true, SpecVersion::V5_0)] {
                for id in property.statements(v5).iter().filter(|id| id.starts_with("MQTT-")) {
                    assert!(catalogue().get(version, id).is_some(), "{property}: {id} is not a {version:?} statement");
                }
            }
        }
    }
}
