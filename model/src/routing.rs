//! Topics, topic filters and which copy of a message a subscriber's session gets.
//!
//! The model has two topics, named by index (say `t/0` and `t/1`), and filters that name one
//! topic or match both with a single-level wildcard (`t/+`). A subscriber's first SUBSCRIBE
//! asks for all of its filters at once, each with a maximum QoS, which the broker grants as
//! asked. With added subscriptions (`Config::added_subscriptions`) a second SUBSCRIBE, sent once
//! the first is granted, adds its filters to the session; one identical to a filter the session
//! has replaces it, with its own QoS ([MQTT-3.8.4-3] in both versions).
//!
//! Overlapping subscriptions: when several filters of one session match a topic, MQTT requires
//! delivery at the highest QoS among them ([MQTT-3.3.5-1] in 3.1.1, [MQTT-3.3.4-2] in 5.0) and
//! allows (5.0 says so explicitly) a further copy per additional matching subscription.
//! verimqtt's broker sends one copy per session (`impl/verimqtt-proto/src/broker/router.rs`),
//! and so does the model. A copy goes out at the lower of the published QoS and the granted
//! one ([MQTT-3.8.4-6] in 3.1.1, [MQTT-3.8.4-8] in 5.0).

use crate::bits::Bits;
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

/// Which of its subscriber's SUBSCRIBEs a session holds: none, the first, or the first and the
/// one that adds filters. The order matters: the added one replaces identical filters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subscribed {
    #[default]
    No,
    First,
    Added,
}

impl Subscribed {
    pub fn any(self) -> bool {
        self != Subscribed::No
    }
}

/// A session's record of the SUBSCRIBEs it held when each of its QoS 1/2 copies was routed,
/// by message (an application message's index, or a will's id): a copy keeps the QoS of its
/// routing, and a later SUBSCRIBE changes no copy already in the session (publishing flows
/// on unbroken: [MQTT-3.8.4-3] in 3.1.1, [MQTT-3.8.4-4] in 5.0), as verimqtt's broker fixes the
/// QoS when it queues the copy. Only copies routed with the added SUBSCRIBE are recorded, so
/// without added subscriptions the record stays empty and adds no state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RoutedUnder(Bits);

impl RoutedUnder {
    /// A copy of `message` is routed while the session holds `subscribed`.
    pub fn record(&mut self, message: u8, subscribed: Subscribed) {
        if subscribed == Subscribed::Added {
            self.0.insert(message);
        } else {
            self.0.remove(message);
        }
    }

    /// What the session held when its latest copy of `message` was routed.
    pub fn subscribed(self, message: u8) -> Subscribed {
        if self.0.contains(message) { Subscribed::Added } else { Subscribed::First }
    }

    /// The same with the clients renamed, and with them the wills (see [`crate::symmetry`]).
    pub fn permuted(self, p: &crate::symmetry::Permutation) -> RoutedUnder {
        RoutedUnder(p.messages(self.0))
    }
}

/// The filters a session holds after the SUBSCRIBEs `subscribed` says: `first`, then `added`
/// each replacing an identical filter of `first` [MQTT-3.8.4-3].
pub fn held<'a>(first: &'a [FilterQos], added: &'a [FilterQos], subscribed: Subscribed) -> Vec<FilterQos> {
    let (first, added): (&[FilterQos], &[FilterQos]) = match subscribed {
        Subscribed::No => (&[], &[]),
        Subscribed::First => (first, &[]),
        Subscribed::Added => (first, added),
    };
    let replaced = |f: &FilterQos| added.iter().any(|a| a.filter == f.filter);
    first.iter().filter(|f| !replaced(f)).chain(added).copied().collect()
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
    fn an_added_subscription_adds_filters_and_replaces_an_identical_one() {
        let topic0_1 = FilterQos { filter: Filter::Topic(0), qos: Qos::AtLeastOnce };
        let first = [topic0_1];
        assert_eq!(held(&first, &[WILDCARD_1], Subscribed::No), []);
        assert_eq!(held(&first, &[WILDCARD_1], Subscribed::First), [topic0_1]);
        assert_eq!(held(&first, &[WILDCARD_1], Subscribed::Added), [topic0_1, WILDCARD_1]);
        assert_eq!(held(&first, &[TOPIC0_2], Subscribed::Added), [TOPIC0_2], "[MQTT-3.8.4-3]");
        let lowered = FilterQos { filter: Filter::Topic(0), qos: Qos::AtMostOnce };
        assert_eq!(held(&[TOPIC0_2], &[lowered], Subscribed::Added), [lowered], "a replacement may lower the QoS");
    }

    #[test]
    fn filters_print_as_topic_filters() {
        assert_eq!(format!("{WILDCARD_1} {TOPIC0_2}"), "t/+:1 t/0:2");
    }
}
