//! Retained messages, one per topic, in a tree of topic levels so that a new subscription
//! finds the messages its filter matches without looking at the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::message::Message;

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    message: Option<Arc<Message>>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.message.is_none()
    }
}

/// The store is full: the message was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreFull;

#[derive(Debug)]
pub(crate) struct RetainedStore {
    root: Node,
    count: usize,
    capacity: usize,
}

impl RetainedStore {
    pub(crate) fn new(capacity: usize) -> Self {
        RetainedStore { root: Node::default(), count: 0, capacity }
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Makes `message` the one retained for its topic, replacing any before it
    /// ([MQTT-3.3.1-5]). A new topic past the capacity is refused.
    pub(crate) fn store(&mut self, message: Arc<Message>) -> Result<(), StoreFull> {
        let mut node = &mut self.root;
        for level in message.topic.split('/') {
            if !node.children.contains_key(level) && self.count >= self.capacity {
                return Err(StoreFull);
            }
            node = node.children.entry(level.into()).or_default();
        }
        if node.message.is_none() {
            if self.count >= self.capacity {
                return Err(StoreFull);
            }
            self.count += 1;
        }
        node.message = Some(message);
        Ok(())
    }

    /// Forgets the message retained for `topic`, if any.
    pub(crate) fn remove(&mut self, topic: &str) {
        let levels: Vec<&str> = topic.split('/').collect();
        if remove_from(&mut self.root, &levels) {
            self.count -= 1;
        }
    }

    /// The retained messages whose topics match `filter`, expired ones left out (and
    /// forgotten). A filter starting with a wildcard does not match topics starting with `$`
    /// ([MQTT-4.7.2-1]).
    pub(crate) fn matching(&mut self, filter: &str, now: Instant) -> Vec<Arc<Message>> {
        let mut found = Vec::new();
        let levels: Vec<&str> = filter.split('/').collect();
        collect(&self.root, &levels, true, &mut found);
        let (live, expired): (Vec<_>, Vec<_>) =
            found.into_iter().partition(|message| message.expiry.remaining(now).is_ok());
        for message in expired {
            self.remove(&message.topic);
        }
        live
    }
}

/// Collects the messages below `node` that the filter levels left match. `at_root` marks
/// the first level, where wildcards skip `$` topics.
fn collect(node: &Node, filter: &[&str], at_root: bool, found: &mut Vec<Arc<Message>>) {
    let Some((&level, rest)) = filter.split_first() else {
        found.extend(node.message.iter().cloned());
        return;
    };
    let visible = |name: &str| !(at_root && name.starts_with('$'));
    match level {
        "#" => {
            // "sport/#" also matches "sport" itself.
            if !at_root {
                found.extend(node.message.iter().cloned());
            }
            for (name, child) in &node.children {
                if visible(name) {
                    collect_all(child, found);
                }
            }
        }
        "+" => {
            for (name, child) in &node.children {
                if visible(name) {
                    collect(child, rest, false, found);
                }
            }
        }
        exact => {
            if let Some(child) = node.children.get(exact) {
                collect(child, rest, false, found);
            }
        }
    }
}

fn collect_all(node: &Node, found: &mut Vec<Arc<Message>>) {
    found.extend(node.message.iter().cloned());
    for child in node.children.values() {
        collect_all(child, found);
    }
}

fn remove_from(node: &mut Node, levels: &[&str]) -> bool {
    let Some((level, rest)) = levels.split_first() else {
        return node.message.take().is_some();
    };
    let Some(child) = node.children.get_mut(*level) else { return false };
    let removed = remove_from(child, rest);
    if child.is_empty() {
        node.children.remove(*level);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::message::Expiry;
    use crate::codec::{MqttString, Properties, QoS};
    use bytes::Bytes;
    use std::time::Duration;

    fn message(topic: &str) -> Arc<Message> {
        Arc::new(Message {
            topic: MqttString::try_from(topic).unwrap(),
            payload: Bytes::from_static(b"x"),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: Properties::default(),
            publisher: None,
            expiry: Expiry::Never,
        })
    }

    fn topics(store: &mut RetainedStore, filter: &str) -> Vec<String> {
        let mut topics: Vec<String> =
            store.matching(filter, Instant::now()).iter().map(|message| message.topic.to_string()).collect();
        topics.sort();
        topics
    }

    fn store_of(topics: &[&str]) -> RetainedStore {
        let mut store = RetainedStore::new(100);
        for topic in topics {
            store.store(message(topic)).unwrap();
        }
        store
    }

    #[test]
    fn filters_find_the_topics_they_match() {
        let mut store = store_of(&["sport", "sport/tennis", "sport/tennis/player1", "news", "$SYS/uptime"]);
        assert_eq!(topics(&mut store, "sport/#"), ["sport", "sport/tennis", "sport/tennis/player1"]);
        assert_eq!(topics(&mut store, "sport/+"), ["sport/tennis"]);
        assert_eq!(topics(&mut store, "+"), ["news", "sport"]);
        assert_eq!(topics(&mut store, "#"), ["news", "sport", "sport/tennis", "sport/tennis/player1"]);
        assert_eq!(topics(&mut store, "$SYS/#"), ["$SYS/uptime"]);
        assert_eq!(topics(&mut store, "sport/tennis"), ["sport/tennis"]);
    }

    #[test]
    fn storing_again_replaces_and_remove_forgets() {
        let mut store = store_of(&["a/b", "a/b"]);
        assert_eq!(store.len(), 1);
        store.remove("a/b");
        store.remove("a/b");
        assert_eq!(store.len(), 0);
        assert!(store.root.is_empty());
    }

    #[test]
    fn a_full_store_refuses_new_topics_but_replaces_old_ones() {
        let mut store = RetainedStore::new(1);
        store.store(message("a")).unwrap();
        assert_eq!(store.store(message("b")), Err(StoreFull));
        assert_eq!(store.store(message("a")), Ok(()));
        assert_eq!(topics(&mut store, "#"), ["a"]);
    }

    #[test]
    fn expired_messages_are_not_found_and_are_forgotten() {
        let now = Instant::now();
        let mut store = RetainedStore::new(10);
        let mut expiring = message("a");
        Arc::make_mut(&mut expiring).expiry = Expiry::At { received: now, interval: 5 };
        store.store(expiring).unwrap();
        assert_eq!(store.matching("a", now + Duration::from_secs(4)).len(), 1);
        assert!(store.matching("a", now + Duration::from_secs(5)).is_empty());
        assert_eq!(store.len(), 0);
    }
}
