//! Retained messages, one per topic, in a tree of topic levels so that a new subscription
//! finds the messages its filter matches without looking at the others.

use std::sync::Arc;
use std::time::Instant;

use super::level_tree::{LevelTree, NodeId, NodeValue};
use super::message::Message;

/// The message retained for the topic of a node, if any.
#[derive(Debug, Default)]
struct Retained(Option<Arc<Message>>);

impl NodeValue for Retained {
    fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

/// Whether a message is the broker's own (see `Broker::publish_own`): no client published it.
fn is_own(message: &Message) -> bool {
    message.publisher.is_none()
}

/// The store is full: the message was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreFull;

#[derive(Debug)]
pub(crate) struct RetainedStore {
    tree: LevelTree<Retained>,
    /// Messages of clients, which the capacity bounds.
    count: usize,
    /// Messages of the broker's own (`$SYS`), which it does not: a store full of clients'
    /// messages must not stop the broker telling about itself.
    own: usize,
    capacity: usize,
}

/// An empty store that takes nothing: what stands in for the store while it is searched
/// outside the broker.
impl Default for RetainedStore {
    fn default() -> Self {
        RetainedStore::new(0)
    }
}

impl RetainedStore {
    pub(crate) fn new(capacity: usize) -> Self {
        RetainedStore { tree: LevelTree::default(), count: 0, own: 0, capacity }
    }

    pub(crate) fn len(&self) -> usize {
        self.count + self.own
    }

    /// Makes `message` the one retained for its topic, replacing any before it
    /// ([MQTT-3.3.1-5]). A new topic of a client's past the capacity is refused; the broker's
    /// own messages (no publisher) are not counted against it.
    pub(crate) fn store(&mut self, message: Arc<Message>) -> Result<(), StoreFull> {
        let node = self.tree.find(message.topic.split('/'));
        let previous = node.and_then(|node| self.tree.value(node).0.as_ref().map(|previous| is_own(previous)));
        if previous.is_none() && !is_own(&message) && self.count >= self.capacity {
            return Err(StoreFull);
        }
        let node = match node {
            Some(node) => node,
            None => self.tree.find_or_insert(message.topic.split('/')),
        };
        if let Some(own) = previous {
            *self.counter(own) -= 1;
        }
        *self.counter(is_own(&message)) += 1;
        self.tree.value_mut(node).0 = Some(message);
        Ok(())
    }

    /// Forgets the message retained for `topic`, if any.
    pub(crate) fn remove(&mut self, topic: &str) {
        if let Some(removed) = self.tree.update(topic.split('/'), |retained| retained.0.take()).flatten() {
            *self.counter(is_own(&removed)) -= 1;
        }
    }

    /// The count a message is in: the broker's own, or the clients'.
    fn counter(&mut self, own: bool) -> &mut usize {
        if own { &mut self.own } else { &mut self.count }
    }

    /// Calls `visit` with each retained message whose topic matches `filter`, until it
    /// returns false. Expired messages are not visited, and are forgotten. A filter
    /// starting with a wildcard does not match topics starting with `$` ([MQTT-4.7.2-1]).
    pub(crate) fn for_each_match(&mut self, filter: &str, now: Instant, mut visit: impl FnMut(&Arc<Message>) -> bool) {
        let mut expired = Vec::new();
        self.search(filter, |message| {
            if message.expiry.remaining(now).is_err() {
                expired.push(Arc::clone(message));
                return true;
            }
            visit(message)
        });
        for message in expired {
            self.remove(&message.topic);
        }
    }

    /// Calls `found` with each message whose topic `filter` matches, until it returns
    /// false. A depth-first search with its own stack of nodes and the filter levels left
    /// below them; `#` takes a whole subtree, with a stack of its own.
    fn search(&self, filter: &str, mut found: impl FnMut(&Arc<Message>) -> bool) {
        let root = LevelTree::<Retained>::ROOT;
        let levels: Vec<&str> = filter.split('/').collect();
        let mut stack = vec![(root, 0)];
        let mut subtree = Vec::new();
        while let Some((node, depth)) = stack.pop() {
            let Some(&level) = levels.get(depth) else {
                if !self.visit(node, &mut found) {
                    return;
                }
                continue;
            };
            // At the root, wildcards skip `$` topics.
            let visible = |name: &str| !(node == root && name.starts_with('$'));
            match level {
                "#" => {
                    // "sport/#" also matches "sport" itself.
                    if node != root && !self.visit(node, &mut found) {
                        return;
                    }
                    subtree.extend(self.tree.children(node).filter(|(name, _)| visible(name)).map(|(_, id)| id));
                    while let Some(below) = subtree.pop() {
                        if !self.visit(below, &mut found) {
                            return;
                        }
                        subtree.extend(self.tree.children(below).map(|(_, id)| id));
                    }
                }
                "+" => {
                    let children = self.tree.children(node).filter(|(name, _)| visible(name));
                    stack.extend(children.map(|(_, id)| (id, depth + 1)));
                }
                exact => stack.extend(self.tree.child(node, exact).map(|id| (id, depth + 1))),
            }
        }
    }

    /// Passes the message of `node`, if it has one, to `found`; false to stop the search.
    fn visit(&self, node: NodeId, found: &mut impl FnMut(&Arc<Message>) -> bool) -> bool {
        self.tree.value(node).0.as_ref().is_none_or(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::message::Expiry;
    use crate::codec::{MqttString, Properties, QoS};

    use bytes::Bytes;
    use std::time::Duration;

    /// A client's retained message, or the broker's own.
    fn published_by(topic: &str, publisher: Option<&str>) -> Arc<Message> {
        let topic = MqttString::try_from(topic).unwrap();
        let publisher = publisher.map(|name| MqttString::try_from(name).unwrap());
        let now = Instant::now();
        let payload = Bytes::from_static(b"x");
        Arc::new(Message::new(topic, payload, QoS::AtMostOnce, true, Properties::default(), publisher, now))
    }

    fn message(topic: &str) -> Arc<Message> {
        published_by(topic, Some("client"))
    }

    /// The topics of the first `limit` messages `filter` finds at `now`.
    fn found(store: &mut RetainedStore, filter: &str, now: Instant, limit: usize) -> Vec<String> {
        let mut topics = Vec::new();
        store.for_each_match(filter, now, |message| {
            topics.push(message.topic.to_string());
            topics.len() < limit
        });
        topics.sort();
        topics
    }

    fn topics(store: &mut RetainedStore, filter: &str) -> Vec<String> {
        found(store, filter, Instant::now(), usize::MAX)
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
        assert_eq!(store.tree.live_nodes(), 1, "only the root is left");
    }

    #[test]
    fn a_full_store_refuses_new_topics_but_replaces_old_ones() {
        let mut store = RetainedStore::new(1);
        store.store(message("a")).unwrap();
        assert_eq!(store.store(message("b")), Err(StoreFull));
        assert_eq!(store.store(message("a")), Ok(()));
        assert_eq!(topics(&mut store, "#"), ["a"]);
        assert_eq!(store.store(published_by("$SYS/uptime", None)), Ok(()), "the broker's own are not counted");
        assert_eq!(store.len(), 2);
        store.remove("$SYS/uptime");
        assert_eq!(store.store(message("b")), Err(StoreFull));
    }

    #[test]
    fn a_search_stops_when_told() {
        let mut store = store_of(&["a/1", "a/2", "a/3", "b"]);
        assert_eq!(found(&mut store, "a/+", Instant::now(), 2).len(), 2);
        assert_eq!(found(&mut store, "#", Instant::now(), 1).len(), 1);
    }

    #[test]
    fn topics_of_65535_levels_are_stored_found_and_removed_without_recursion() {
        let deep = "/".repeat(65_534);
        let mut store = store_of(&[&deep, "a"]);
        // Compared by length: a failure message with the topics would be 64 KiB long.
        let lengths = |topics: Vec<String>| topics.iter().map(String::len).collect::<Vec<_>>();
        assert_eq!(lengths(topics(&mut store, &deep)), [65_534]);
        assert_eq!(lengths(topics(&mut store, &format!("{}+", "/".repeat(65_534)))), [65_534]);
        assert_eq!(lengths(topics(&mut store, "#")), [65_534, 1]);
        store.remove(&deep);
        assert_eq!(store.len(), 1);
        assert_eq!(store.tree.live_nodes(), 2);
        // The store is dropped deep, too.
        store.store(message(&deep)).unwrap();
    }

    #[test]
    fn expired_messages_are_not_found_and_are_forgotten() {
        let now = Instant::now();
        let mut store = RetainedStore::new(10);
        let mut expiring = message("a");
        Arc::make_mut(&mut expiring).expiry = Expiry::At { received: now, interval: 5 };
        store.store(expiring).unwrap();
        assert_eq!(found(&mut store, "a", now + Duration::from_secs(4), 10).len(), 1);
        assert!(found(&mut store, "a", now + Duration::from_secs(5), 10).is_empty());
        assert_eq!(store.len(), 0);
    }
}
