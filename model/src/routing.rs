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

/// One filter of a SUBSCRIBE with the maximum QoS it asks for (and is granted) and its 5.0
/// retain options (3.1.1 has none: it behaves as their defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FilterQos {
    pub filter: Filter,
    pub qos: Qos,
    pub retain: RetainOptions,
}

impl FilterQos {
    /// A filter with the default retain options (those of 3.1.1).
    pub const fn new(filter: Filter, qos: Qos) -> FilterQos {
        FilterQos { filter, qos, retain: RetainOptions::DEFAULT }
    }
}

/// When a new subscription gets the retained messages its filter matches (5.0 Retain
/// Handling, section 3.8.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RetainHandling {
    /// 0: whenever the subscription is made [MQTT-3.3.1-9] (3.1.1 always does this).
    #[default]
    AtSubscribe = 0,
    /// 1: only if the session had no identical subscription before [MQTT-3.3.1-10].
    IfNew = 1,
    /// 2: never [MQTT-3.3.1-11].
    Never = 2,
}

impl RetainHandling {
    pub fn from_level(level: u8) -> Option<RetainHandling> {
        match level {
            0 => Some(RetainHandling::AtSubscribe),
            1 => Some(RetainHandling::IfNew),
            2 => Some(RetainHandling::Never),
            _ => None,
        }
    }

    /// The value of the option on the wire.
    pub fn level(self) -> u8 {
        self as u8
    }
}

/// A subscription's 5.0 options about retained messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RetainOptions {
    pub handling: RetainHandling,
    /// Retain As Published: a forwarded copy keeps the RETAIN flag it was published with
    /// [MQTT-3.3.1-13]; otherwise it carries 0 [MQTT-3.3.1-12].
    pub as_published: bool,
}

impl RetainOptions {
    /// Retain Handling 0, Retain As Published 0: 5.0's defaults and 3.1.1's behaviour.
    pub const DEFAULT: RetainOptions = RetainOptions { handling: RetainHandling::AtSubscribe, as_published: false };

    /// Whether a subscription with these options gets the retained messages when it is
    /// made, `existed` saying whether the session already had an identical one.
    pub fn sends_retained(self, existed: bool) -> bool {
        match self.handling {
            RetainHandling::AtSubscribe => true,
            RetainHandling::IfNew => !existed,
            RetainHandling::Never => false,
        }
    }
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
    vec![vec![FilterQos::new(Filter::Topic(WILL_TOPIC), Qos::ExactlyOnce)]]
}

/// The filters of a SUBSCRIBE asking for `requested` that get the retained messages they
/// match, for a session that held `held` before it (see [`RetainOptions::sends_retained`]).
pub fn sending_retained(requested: &[FilterQos], held: &[FilterQos]) -> Vec<FilterQos> {
    let existed = |f: &FilterQos| held.iter().any(|h| h.filter == f.filter);
    requested.iter().filter(|f| f.retain.sends_retained(existed(f))).copied().collect()
}

/// The RETAIN flag of a copy of a message published with `published_retain` on `topic`,
/// forwarded to a session subscribed with `filters`: set only if the message was published
/// with it and a matching subscription asks for Retain As Published ([MQTT-3.3.1-12],
/// [MQTT-3.3.1-13] in 5.0; 0 in 3.1.1, [MQTT-3.3.1-9]). verimqtt's broker keeps it when any
/// matching subscription asks (`impl/verimqtt-proto/src/broker/router.rs`, `merge`).
pub fn forwarded_retain(filters: &[FilterQos], topic: u8, published_retain: bool) -> bool {
    published_retain && filters.iter().any(|f| f.filter.matches(topic) && f.retain.as_published)
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

/// As `--subscriptions` takes it: `t/0:2`, with `:rh1` / `:rh2` for Retain Handling 1 / 2
/// and `:rap` for Retain As Published.
impl fmt::Display for FilterQos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.filter, self.qos.level())?;
        match self.retain.handling {
            RetainHandling::AtSubscribe => {}
            RetainHandling::IfNew => f.write_str(":rh1")?,
            RetainHandling::Never => f.write_str(":rh2")?,
        }
        if self.retain.as_published {
            f.write_str(":rap")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WILDCARD_1: FilterQos = FilterQos::new(Filter::Wildcard, Qos::AtLeastOnce);
    const TOPIC0_2: FilterQos = FilterQos::new(Filter::Topic(0), Qos::ExactlyOnce);

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
        let topic0_1 = FilterQos::new(Filter::Topic(0), Qos::AtLeastOnce);
        let first = [topic0_1];
        assert_eq!(held(&first, &[WILDCARD_1], Subscribed::No), []);
        assert_eq!(held(&first, &[WILDCARD_1], Subscribed::First), [topic0_1]);
        assert_eq!(held(&first, &[WILDCARD_1], Subscribed::Added), [topic0_1, WILDCARD_1]);
        assert_eq!(held(&first, &[TOPIC0_2], Subscribed::Added), [TOPIC0_2], "[MQTT-3.8.4-3]");
        let lowered = FilterQos::new(Filter::Topic(0), Qos::AtMostOnce);
        assert_eq!(held(&[TOPIC0_2], &[lowered], Subscribed::Added), [lowered], "a replacement may lower the QoS");
    }

    #[test]
    fn filters_print_as_topic_filters() {
        assert_eq!(format!("{WILDCARD_1} {TOPIC0_2}"), "t/+:1 t/0:2");
        let options = RetainOptions { handling: RetainHandling::Never, as_published: true };
        assert_eq!(FilterQos { retain: options, ..TOPIC0_2 }.to_string(), "t/0:2:rh2:rap");
    }

    #[test]
    fn retain_handling_decides_which_filters_get_the_retained_messages() {
        let if_new =
            FilterQos { retain: RetainOptions { handling: RetainHandling::IfNew, as_published: false }, ..TOPIC0_2 };
        let never =
            FilterQos { retain: RetainOptions { handling: RetainHandling::Never, as_published: false }, ..WILDCARD_1 };
        assert_eq!(sending_retained(&[if_new, never], &[]), [if_new], "[MQTT-3.3.1-10], [MQTT-3.3.1-11]");
        assert_eq!(sending_retained(&[if_new], &[TOPIC0_2]), [], "an identical filter existed [MQTT-3.3.1-10]");
        assert_eq!(sending_retained(&[if_new], &[WILDCARD_1]), [if_new], "another filter is not identical");
        assert_eq!(sending_retained(&[TOPIC0_2], &[TOPIC0_2]), [TOPIC0_2], "[MQTT-3.3.1-9]");
    }

    #[test]
    fn a_forwarded_copy_keeps_retain_only_for_a_matching_subscription_that_asks() {
        let as_published = FilterQos {
            retain: RetainOptions { handling: RetainHandling::AtSubscribe, as_published: true },
            ..WILDCARD_1
        };
        assert!(forwarded_retain(&[TOPIC0_2, as_published], 0, true), "[MQTT-3.3.1-13]");
        assert!(!forwarded_retain(&[TOPIC0_2, as_published], 0, false), "published without RETAIN");
        assert!(!forwarded_retain(&[TOPIC0_2], 0, true), "[MQTT-3.3.1-12]");
        let topic1 = FilterQos { filter: Filter::Topic(1), ..as_published };
        assert!(!forwarded_retain(&[TOPIC0_2, topic1], 0, true), "the subscription asking does not match");
    }
}
