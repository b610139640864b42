//! Retained messages: the broker keeps the last retained message of each topic and sends it,
//! with RETAIN set, to every new subscription whose filter matches the topic.
//!
//! A PUBLISH with RETAIN=1 replaces the topic's retained message ([MQTT-3.3.1-5] in both
//! versions); with an empty payload it deletes it and is not kept itself ([MQTT-3.3.1-10],
//! [MQTT-3.3.1-11] in 3.1.1; [MQTT-3.3.1-6], [MQTT-3.3.1-7] in 5.0); either way it is routed
//! to the current subscribers like any message, with RETAIN=0 ([MQTT-3.3.1-9] in 3.1.1; Retain
//! As Published 0, [MQTT-3.3.1-12] in 5.0) or, for a 5.0 subscription with Retain As
//! Published, as published [MQTT-3.3.1-13] (`routing::forwarded_retain`). A SUBSCRIBE is
//! handled as a series of SUBSCRIBEs, one per filter ([MQTT-3.8.4-4] in 3.1.1, [MQTT-3.8.4-5]
//! in 5.0), and each filter gets the retained messages it matches ([MQTT-3.3.1-6],
//! [MQTT-3.8.4-3] in 3.1.1; in 5.0 as its Retain Handling says: 0 always, [MQTT-3.3.1-9],
//! [MQTT-3.8.4-4]; 1 only if the session had no identical subscription, [MQTT-3.3.1-10]; 2
//! never, [MQTT-3.3.1-11]: `routing::sending_retained`), at the message's QoS lowered to the filter's grant:
//! so overlapping filters get a copy each, as verimqtt's broker sends them
//! (`impl/verimqtt-proto/src/broker/subscribe.rs`).

use crate::config::Qos;
use crate::routing::{FilterQos, TOPICS};

/// The retained message of each topic, if any: an application message's index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RetainedStore([Option<u8>; TOPICS as usize]);

impl RetainedStore {
    pub fn get(&self, topic: u8) -> Option<u8> {
        self.0[usize::from(topic)]
    }

    /// A retained publication of `message` on `topic`: it replaces the topic's retained
    /// message, or deletes it when its payload is `empty`.
    pub fn publish(&mut self, topic: u8, message: u8, empty: bool) {
        self.0[usize::from(topic)] = (!empty).then_some(message);
    }

    /// The retained copies a SUBSCRIBE asking for `filters` brings, in the order they are sent:
    /// per filter, per matching topic with a retained message, that message at its QoS
    /// (`qos_of`) lowered to the filter's grant.
    pub fn copies(&self, filters: &[FilterQos], qos_of: impl Fn(u8) -> Qos) -> Vec<(u8, Qos)> {
        filters
            .iter()
            .flat_map(|f| {
                (0..TOPICS)
                    .filter(move |&t| f.filter.matches(t))
                    .filter_map(|t| self.get(t))
                    .map(|n| (n, qos_of(n).min(f.qos)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::Filter;

    #[test]
    fn a_retained_publication_replaces_and_an_empty_one_deletes() {
        let mut store = RetainedStore::default();
        store.publish(0, 0, false);
        store.publish(0, 1, false);
        store.publish(1, 2, false);
        assert_eq!((store.get(0), store.get(1)), (Some(1), Some(2)));
        store.publish(1, 3, true);
        assert_eq!(store.get(1), None);
    }

    #[test]
    fn each_filter_gets_the_retained_messages_it_matches_at_its_grant() {
        let mut store = RetainedStore::default();
        store.publish(0, 0, false);
        store.publish(1, 1, false);
        let filters =
            [FilterQos::new(Filter::Wildcard, Qos::AtLeastOnce), FilterQos::new(Filter::Topic(0), Qos::ExactlyOnce)];
        let qos_of = |_| Qos::ExactlyOnce;
        assert_eq!(
            store.copies(&filters, qos_of),
            vec![(0, Qos::AtLeastOnce), (1, Qos::AtLeastOnce), (0, Qos::ExactlyOnce)]
        );
        assert_eq!(store.copies(&filters, |_| Qos::AtMostOnce)[2], (0, Qos::AtMostOnce), "never upgraded");
    }
}
