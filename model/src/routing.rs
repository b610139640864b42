//! Topics, topic filters and which copy of a message a subscriber's session gets.
//!
//! The model has two topics, named by index (say `t/0` and `t/1`), and filters that name one
//! topic or match both with a single-level wildcard (`t/+`). A subscriber's SUBSCRIBE asks for
//! all of its filters at once, each with a maximum QoS, which the broker grants as asked.
//!
//! Overlapping subscriptions: when several filters of one session match a topic, MQTT requires
//! delivery at the highest QoS among them ([MQTT-3.3.5-1] in 3.1.1, [MQTT-3.3.4-2] in 5.0) and
//! allows (5.0 says so explicitly) a further copy per additional matching subscription.
//! verimqtt's broker sends one copy per session (`impl/verimqtt-proto/src/broker/router.rs`),
//! and so does the model. A copy goes out at the lower of the published QoS and the granted
//! one ([MQTT-3.8.4-6] in 3.1.1, [MQTT-3.8.4-8] in 5.0).

use crate::config::Qos;
use std::fmt;

/// The number of topics a configuration can use.
pub const TOPICS: u8 = 2;

/// The topic every will is published on.
pub const WILL_TOPIC: u8 = 0;

/// A topic filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Exactly one topic.
    Topic(u8),
    /// A single-level wildcard that matches every topic of the model (`t/+`).
    Wildcard,
}

impl Filter {
    pub fn matches(self, topic: u8) -> bool {
        match self {
            Filter::Topic(t) => t == topic,
            Filter::Wildcard => true,
        }
    }
}

/// One filter of a SUBSCRIBE with the maximum QoS it asks for (and is granted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FilterQos {
    pub filter: Filter,
    pub qos: Qos,
}

/// The QoS of the one copy a session subscribed with `filters` gets of a message published at
/// `qos` on `topic`: the published QoS, lowered to the highest QoS granted among the matching
/// filters; `None` when no filter matches.
pub fn copy_qos(filters: &[FilterQos], topic: u8, qos: Qos) -> Option<Qos> {
    let granted = filters.iter().filter(|f| f.filter.matches(topic)).map(|f| f.qos).max()?;
    Some(granted.min(qos))
}

/// The subscriptions of the model before routing was added, and of every configuration that
/// does not choose others: each subscriber subscribes to topic 0 (which the wills are on too)
/// at QoS 2, so no copy is downgraded.
pub fn one_topic_at_qos2() -> Vec<Vec<FilterQos>> {
    vec![vec![FilterQos { filter: Filter::Topic(WILL_TOPIC), qos: Qos::ExactlyOnce }]]
}

/// How many of `filters` match `topic`.
pub fn matching(filters: &[FilterQos], topic: u8) -> usize {
    filters.iter().filter(|f| f.filter.matches(topic)).count()
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Topic(t) => write!(f, "t/{t}"),
            Filter::Wildcard => f.write_str("t/+"),
        }
    }
}

impl fmt::Display for FilterQos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.filter, self.qos.level())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WILDCARD_1: FilterQos = FilterQos { filter: Filter::Wildcard, qos: Qos::AtLeastOnce };
    const TOPIC0_2: FilterQos = FilterQos { filter: Filter::Topic(0), qos: Qos::ExactlyOnce };

    #[test]
    fn a_copy_is_at_the_lower_of_published_and_highest_matching_grant() {
        let overlapping = [WILDCARD_1, TOPIC0_2];
        assert_eq!(copy_qos(&overlapping, 0, Qos::ExactlyOnce), Some(Qos::ExactlyOnce), "highest grant wins");
        assert_eq!(copy_qos(&overlapping, 1, Qos::ExactlyOnce), Some(Qos::AtLeastOnce), "downgraded");
        assert_eq!(copy_qos(&overlapping, 1, Qos::AtMostOnce), Some(Qos::AtMostOnce), "never upgraded");
        assert_eq!(copy_qos(&[TOPIC0_2], 1, Qos::AtLeastOnce), None, "no filter matches");
        assert_eq!(matching(&overlapping, 0), 2);
        assert_eq!(matching(&overlapping, 1), 1);
    }

    #[test]
    fn filters_print_as_topic_filters() {
        assert_eq!(format!("{WILDCARD_1} {TOPIC0_2}"), "t/+:1 t/0:2");
    }
}
