//! A tree of topic levels whose nodes live in one arena and name each other by index.
//!
//! The subscription tree and the retained store are both keyed by topic levels, and a peer
//! chooses how many levels there are: a topic of 65,535 `/` has 65,536. So nothing here
//! recurses: paths are walked in loops, a search keeps its own stack on the heap, and the
//! tree is dropped as a `Vec` of nodes, not as nodes dropping their children. Callers walk
//! the tree through [`LevelTree::child`] and [`LevelTree::children`] with their own
//! explicit stacks.

use std::collections::HashMap;

/// A node of a [`LevelTree`]. Valid until the node is pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeId(usize);

/// What a node holds; a node that holds nothing and has no children is pruned.
pub(crate) trait NodeValue: Default {
    fn is_empty(&self) -> bool;
}

#[derive(Debug)]
struct Node<V> {
    children: HashMap<Box<str>, NodeId>,
    value: V,
}

#[derive(Debug)]
pub(crate) struct LevelTree<V> {
    /// Index 0 is the root, which is never pruned; `None` is a free slot.
    nodes: Vec<Option<Node<V>>>,
    free: Vec<NodeId>,
}

impl<V: NodeValue> Default for LevelTree<V> {
    fn default() -> Self {
        LevelTree { nodes: vec![Some(Node { children: HashMap::new(), value: V::default() })], free: Vec::new() }
    }
}

impl<V: NodeValue> LevelTree<V> {
    pub(crate) const ROOT: NodeId = NodeId(0);

    fn node(&self, id: NodeId) -> &Node<V> {
        // Ids come from this tree and are dropped by callers when pruned.
        self.nodes[id.0].as_ref().unwrap_or_else(|| unreachable!("a pruned node was used"))
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node<V> {
        self.nodes[id.0].as_mut().unwrap_or_else(|| unreachable!("a pruned node was used"))
    }

    pub(crate) fn value(&self, id: NodeId) -> &V {
        &self.node(id).value
    }

    pub(crate) fn value_mut(&mut self, id: NodeId) -> &mut V {
        &mut self.node_mut(id).value
    }

    pub(crate) fn child(&self, id: NodeId, level: &str) -> Option<NodeId> {
        self.node(id).children.get(level).copied()
    }

    pub(crate) fn children(&self, id: NodeId) -> impl Iterator<Item = (&str, NodeId)> {
        self.node(id).children.iter().map(|(level, &child)| (&**level, child))
    }

    /// The node of `levels` below the root, if it exists.
    pub(crate) fn find<'a>(&self, levels: impl IntoIterator<Item = &'a str>) -> Option<NodeId> {
        levels.into_iter().try_fold(Self::ROOT, |node, level| self.child(node, level))
    }

    /// The node of `levels`, made with its missing ancestors if needed.
    pub(crate) fn find_or_insert<'a>(&mut self, levels: impl IntoIterator<Item = &'a str>) -> NodeId {
        let mut node = Self::ROOT;
        for level in levels {
            node = match self.child(node, level) {
                Some(child) => child,
                None => {
                    let child = self.allocate();
                    self.node_mut(node).children.insert(level.into(), child);
                    child
                }
            };
        }
        node
    }

    fn allocate(&mut self) -> NodeId {
        let node = Some(Node { children: HashMap::new(), value: V::default() });
        match self.free.pop() {
            Some(id) => {
                self.nodes[id.0] = node;
                id
            }
            None => {
                self.nodes.push(node);
                NodeId(self.nodes.len() - 1)
            }
        }
    }

    /// Changes the value at `levels` with `change`, if the node exists, then prunes the
    /// nodes of the path that hold nothing any more, from the bottom up. Returns what
    /// `change` returned.
    pub(crate) fn update<'a, T>(
        &mut self,
        levels: impl IntoIterator<Item = &'a str> + Clone,
        change: impl FnOnce(&mut V) -> T,
    ) -> Option<T> {
        let mut path = vec![Self::ROOT];
        for level in levels.clone() {
            let parent = path[path.len() - 1];
            path.push(self.child(parent, level)?);
        }
        let leaf = path[path.len() - 1];
        let result = change(self.value_mut(leaf));
        // The path holds the root and one node per level: the node at `depth` is the child
        // named by level `depth - 1` of the node before it.
        let names: Vec<&str> = levels.into_iter().collect();
        for depth in (1..path.len()).rev() {
            let node = self.node(path[depth]);
            if !(node.children.is_empty() && node.value.is_empty()) {
                break;
            }
            self.node_mut(path[depth - 1]).children.remove(names[depth - 1]);
            self.nodes[path[depth].0] = None;
            self.free.push(path[depth]);
        }
        Some(result)
    }

    #[cfg(test)]
    pub(crate) fn live_nodes(&self) -> usize {
        self.nodes.iter().filter(|node| node.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Count(u32);

    impl NodeValue for Count {
        fn is_empty(&self) -> bool {
            self.0 == 0
        }
    }

    #[test]
    fn update_prunes_only_the_nodes_left_empty() {
        let mut tree = LevelTree::<Count>::default();
        let abc = tree.find_or_insert("a/b/c".split('/'));
        tree.value_mut(abc).0 = 1;
        let ab = tree.find_or_insert("a/b".split('/'));
        tree.value_mut(ab).0 = 1;
        assert_eq!(tree.live_nodes(), 4);
        assert_eq!(tree.update("a/b/c".split('/'), |count| std::mem::take(&mut count.0)), Some(1));
        assert_eq!(tree.live_nodes(), 3, "a/b still holds a value");
        assert_eq!(tree.update("a/b".split('/'), |count| std::mem::take(&mut count.0)), Some(1));
        assert_eq!(tree.live_nodes(), 1, "only the root is left");
        assert_eq!(tree.update("a/b".split('/'), |_| ()), None);
    }

    #[test]
    fn freed_slots_are_reused() {
        let mut tree = LevelTree::<Count>::default();
        let x = tree.find_or_insert(["x", "y"]);
        tree.value_mut(x).0 = 1;
        tree.update(["x", "y"], |count| count.0 = 0);
        let z = tree.find_or_insert(["z", "w"]);
        assert_eq!(tree.nodes.len(), 3, "{z:?}");
    }

    #[test]
    fn a_path_of_65536_levels_is_built_walked_pruned_and_dropped_without_recursion() {
        let topic = "/".repeat(65_535);
        let mut tree = LevelTree::<Count>::default();
        let leaf = tree.find_or_insert(topic.split('/'));
        tree.value_mut(leaf).0 = 1;
        assert_eq!(tree.find(topic.split('/')), Some(leaf));
        assert_eq!(tree.live_nodes(), 65_537);
        let other = tree.find_or_insert(topic[..1000].split('/'));
        tree.value_mut(other).0 = 1;
        drop(tree);

        let mut tree = LevelTree::<Count>::default();
        let leaf = tree.find_or_insert(topic.split('/'));
        tree.value_mut(leaf).0 = 1;
        tree.update(topic.split('/'), |count| count.0 = 0);
        assert_eq!(tree.live_nodes(), 1);
    }
}
