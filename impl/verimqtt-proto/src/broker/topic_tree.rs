//! Every subscription of every session, in a tree of topic levels, so that matching a topic
//! visits only the branches its levels (and the wildcards beside them) lead to, never every
//! subscription.

use std::collections::HashMap;

use super::level_tree::{LevelTree, NodeId, NodeValue};
use super::session::{Route, SessionId, Subscriber};

/// The subscriptions on one filter of one share group: each message goes to one member.
#[derive(Debug, Default)]
pub(crate) struct SharedGroup {
    members: Vec<(SessionId, Subscriber)>,
    next: usize,
}

impl SharedGroup {
    /// The member to deliver the next message to, among the `eligible` ones (those that may
    /// receive it): round robin over the members whose client is connected, or over all
    /// when none is (the message then waits in that member's session).
    pub(crate) fn pick(
        &mut self,
        mut eligible: impl FnMut(SessionId) -> bool,
        online: impl Fn(SessionId) -> bool,
    ) -> Option<(SessionId, Subscriber)> {
        let count = self.members.len();
        let mut offline = None;
        let mut chosen = None;
        for index in (0..count).map(|offset| (self.next + offset) % count) {
            let session = self.members[index].0;
            if !eligible(session) {
                continue;
            }
            if online(session) {
                chosen = Some(index);
                break;
            }
            offline.get_or_insert(index);
        }
        let chosen = chosen.or(offline)?;
        self.next = (chosen + 1) % count;
        Some(self.members[chosen])
    }
}

/// A subscription that matched a topic.
#[derive(Debug)]
pub(crate) enum Matched<'a> {
    Subscriber(SessionId, Subscriber),
    Group(&'a mut SharedGroup),
}

/// The subscriptions whose filter ends at one node.
#[derive(Debug, Default)]
struct Subscriptions {
    subscribers: HashMap<SessionId, Subscriber>,
    groups: HashMap<Box<str>, SharedGroup>,
}

impl NodeValue for Subscriptions {
    fn is_empty(&self) -> bool {
        self.subscribers.is_empty() && self.groups.is_empty()
    }
}

#[derive(Debug, Default)]
pub(crate) struct SubscriptionTree {
    tree: LevelTree<Subscriptions>,
    count: usize,
    /// Of those, the members of share groups.
    shared: usize,
}

impl SubscriptionTree {
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Shared subscriptions: one per member of each share group.
    pub(crate) fn shared_len(&self) -> usize {
        self.shared
    }

    /// Adds or replaces a session's subscription; true if it replaced one.
    pub(crate) fn insert(&mut self, route: &Route, session: SessionId, subscriber: Subscriber) -> bool {
        let (filter, group) = parts(route);
        let node = self.tree.find_or_insert(filter.split('/'));
        let subscriptions = self.tree.value_mut(node);
        let replaced = match group {
            None => subscriptions.subscribers.insert(session, subscriber).is_some(),
            Some(group) => {
                let group = subscriptions.groups.entry(group.into()).or_default();
                match group.members.iter_mut().find(|(member, _)| *member == session) {
                    Some(member) => {
                        member.1 = subscriber;
                        true
                    }
                    None => {
                        group.members.push((session, subscriber));
                        false
                    }
                }
            }
        };
        if !replaced {
            self.count += 1;
            self.shared += usize::from(group.is_some());
        }
        replaced
    }

    /// Removes a session's subscription; true if there was one.
    pub(crate) fn remove(&mut self, route: &Route, session: SessionId) -> bool {
        let (filter, group) = parts(route);
        let removed = self
            .tree
            .update(filter.split('/'), |subscriptions| match group {
                None => subscriptions.subscribers.remove(&session).is_some(),
                Some(name) => {
                    let Some(shared) = subscriptions.groups.get_mut(name) else { return false };
                    let before = shared.members.len();
                    shared.members.retain(|(member, _)| *member != session);
                    let removed = shared.members.len() < before;
                    if shared.members.is_empty() {
                        subscriptions.groups.remove(name);
                    } else {
                        shared.next %= shared.members.len();
                    }
                    removed
                }
            })
            .unwrap_or(false);
        if removed {
            self.count -= 1;
            self.shared -= usize::from(group.is_some());
        }
        removed
    }

    /// Calls `visit` for each subscription matching `topic`: each plain subscription, and
    /// each share group with a matching filter. A topic starting with `$` is not matched by
    /// a filter starting with a wildcard ([MQTT-4.7.2-1]). Levels are compared as they are,
    /// without normalisation ([MQTT-4.7.3-4]).
    ///
    /// A depth-first search with its own stack: a node and the levels of the topic left
    /// below it (`None` once all are consumed). Branches are taken in a fixed order (`#`,
    /// then `+`, then the exact level), so the same subscriptions are visited in the same
    /// order for the same topic.
    pub(crate) fn for_each_match(&mut self, topic: &str, mut visit: impl FnMut(Matched<'_>)) {
        let root = LevelTree::<Subscriptions>::ROOT;
        let mut stack: Vec<(NodeId, Option<&str>)> = vec![(root, Some(topic))];
        while let Some((node, rest)) = stack.pop() {
            // [MQTT-4.7.2-1]: at the root, wildcards do not match a `$` topic.
            let wildcards = node != root || !topic.starts_with('$');
            let Some(rest) = rest else {
                self.visit_node(node, &mut visit);
                // "sport/#" also matches "sport" itself.
                if let Some(parent_match) = self.tree.child(node, "#") {
                    self.visit_node(parent_match, &mut visit);
                }
                continue;
            };
            let (level, tail) = match rest.split_once('/') {
                Some((level, tail)) => (level, Some(tail)),
                None => (rest, None),
            };
            // A topic level of "+" or "#" cannot exist (topic names have no wildcards), so
            // this never visits a wildcard node twice. Pushed last, popped first.
            if let Some(exact) = self.tree.child(node, level) {
                stack.push((exact, tail));
            }
            if wildcards {
                if let Some(any_level) = self.tree.child(node, "+") {
                    stack.push((any_level, tail));
                }
                if let Some(everything) = self.tree.child(node, "#") {
                    self.visit_node(everything, &mut visit);
                }
            }
        }
    }

    fn visit_node(&mut self, node: NodeId, visit: &mut impl FnMut(Matched<'_>)) {
        let subscriptions = self.tree.value_mut(node);
        for (&session, &subscriber) in &subscriptions.subscribers {
            visit(Matched::Subscriber(session, subscriber));
        }
        for group in subscriptions.groups.values_mut() {
            visit(Matched::Group(group));
        }
    }
}

fn parts(route: &Route) -> (&str, Option<&str>) {
    match route {
        Route::Plain(filter) => (filter, None),
        Route::Shared { group, filter } => (filter, Some(group)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{ProtocolVersion, QoS, SubscriptionOptions};

    fn subscriber() -> Subscriber {
        Subscriber { options: SubscriptionOptions::new(QoS::AtLeastOnce), id: None }
    }

    fn tree(filters: &[(&str, u64)]) -> SubscriptionTree {
        let mut tree = SubscriptionTree::default();
        for &(filter, session) in filters {
            tree.insert(&Route::of(filter, ProtocolVersion::V5), SessionId(session), subscriber());
        }
        tree
    }

    fn matching(tree: &mut SubscriptionTree, topic: &str) -> Vec<u64> {
        let mut sessions = Vec::new();
        tree.for_each_match(topic, |matched| match matched {
            Matched::Subscriber(session, _) => sessions.push(session.0),
            Matched::Group(group) => sessions.extend(group.pick(|_| true, |_| true).map(|(session, _)| session.0)),
        });
        sessions.sort_unstable();
        sessions
    }

    #[test]
    fn wildcards_match_as_section_4_7_says() {
        let mut tree = tree(&[
            ("sport/tennis/player1/#", 1),
            ("sport/+", 2),
            ("+/+", 3),
            ("/+", 4),
            ("+", 5),
            ("#", 6),
            ("sport/tennis/+", 7),
        ]);
        assert_eq!(matching(&mut tree, "sport/tennis/player1"), vec![1, 6, 7]);
        assert_eq!(matching(&mut tree, "sport/tennis/player1/ranking"), vec![1, 6]);
        assert_eq!(matching(&mut tree, "sport/"), vec![2, 3, 6]);
        assert_eq!(matching(&mut tree, "sport"), vec![5, 6]);
        assert_eq!(matching(&mut tree, "/finance"), vec![3, 4, 6]);
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        // [MQTT-4.7.2-1]
        let mut tree = tree(&[("#", 1), ("+/monitor/Clients", 2), ("$SYS/#", 3), ("$SYS/monitor/+", 4)]);
        assert_eq!(matching(&mut tree, "$SYS/monitor/Clients"), vec![3, 4]);
        assert_eq!(matching(&mut tree, "SYS/monitor/Clients"), vec![1, 2]);
    }

    #[test]
    fn levels_are_compared_exactly() {
        // [MQTT-4.7.3-4]
        let mut tree = tree(&[("ACCOUNTS", 1), ("a b", 2), ("a//b", 3)]);
        assert_eq!(matching(&mut tree, "Accounts"), Vec::<u64>::new());
        assert_eq!(matching(&mut tree, "a b"), vec![2]);
        assert_eq!(matching(&mut tree, "a//b"), vec![3]);
        assert_eq!(matching(&mut tree, "a/b"), Vec::<u64>::new());
    }

    #[test]
    fn insert_replaces_and_remove_prunes() {
        let mut tree = tree(&[("a/b/c", 1)]);
        let route = Route::of("a/b/c", ProtocolVersion::V5);
        assert!(tree.insert(&route, SessionId(1), subscriber()));
        assert_eq!(tree.len(), 1);
        assert!(tree.remove(&route, SessionId(1)));
        assert!(!tree.remove(&route, SessionId(1)));
        assert_eq!(tree.len(), 0);
        assert_eq!(tree.tree.live_nodes(), 1, "only the root is left");
    }

    #[test]
    fn a_share_group_delivers_each_message_to_one_member_in_turn_preferring_online_ones() {
        let mut tree = tree(&[("$share/g/a/+", 1), ("$share/g/a/+", 2), ("$share/g/a/+", 3), ("a/+", 9)]);
        assert_eq!(matching(&mut tree, "a/x"), vec![1, 9]);
        assert_eq!(matching(&mut tree, "a/x"), vec![2, 9]);
        assert_eq!(matching(&mut tree, "a/x"), vec![3, 9]);
        let mut picked = Vec::new();
        tree.for_each_match("a/x", |matched| {
            if let Matched::Group(group) = matched {
                picked.push(group.pick(|_| true, |session| session == SessionId(3)).map(|(session, _)| session.0));
                picked.push(group.pick(|_| true, |session| session == SessionId(3)).map(|(session, _)| session.0));
            }
        });
        assert_eq!(picked, vec![Some(3), Some(3)]);
    }

    #[test]
    fn a_share_group_passes_over_members_that_may_not_receive() {
        let mut tree = tree(&[("$share/g/a", 1), ("$share/g/a", 2), ("$share/g/a", 3)]);
        let mut picked = Vec::new();
        tree.for_each_match("a", |matched| {
            if let Matched::Group(group) = matched {
                let not_two = |session: SessionId| session != SessionId(2);
                for _ in 0..3 {
                    picked.push(group.pick(not_two, |session| session != SessionId(1)).map(|(session, _)| session.0));
                }
                picked.push(group.pick(|_| false, |_| true).map(|(session, _)| session.0));
            }
        });
        assert_eq!(picked, vec![Some(3), Some(3), Some(3), None], "1 is offline, 2 may not receive");
    }

    #[test]
    fn filters_of_65535_levels_are_inserted_matched_and_removed_without_recursion() {
        let deep = "/".repeat(65_534);
        let wildcard = format!("{}+/#", "/".repeat(65_532));
        let mut tree = tree(&[(&deep, 1), (&wildcard, 2), ("#", 3)]);
        assert_eq!(matching(&mut tree, &deep), vec![1, 2, 3]);
        assert_eq!(matching(&mut tree, &"/".repeat(65_533)), vec![2, 3]);
        assert!(tree.remove(&Route::of(&deep, ProtocolVersion::V5), SessionId(1)));
        assert!(tree.remove(&Route::of(&wildcard, ProtocolVersion::V5), SessionId(2)));
        assert_eq!(tree.tree.live_nodes(), 2, "the root and `#`");
        // The tree is dropped deep, too.
        tree.insert(&Route::of(&deep, ProtocolVersion::V5), SessionId(1), subscriber());
    }

    #[test]
    fn in_3_1_1_a_share_filter_is_an_ordinary_filter() {
        let mut tree = SubscriptionTree::default();
        tree.insert(&Route::of("$share/g/a", ProtocolVersion::V311), SessionId(1), subscriber());
        assert_eq!(matching(&mut tree, "a"), Vec::<u64>::new());
        assert_eq!(matching(&mut tree, "$share/g/a"), vec![1]);
    }
}
