//! Load shapes: who publishes on which topic, and which publishers each subscriber hears.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// N publishers, each heard by its own subscriber.
    Pairs(u32),
    /// N publishers heard by one subscriber.
    FanIn(u32),
    /// One publisher heard by N subscribers.
    FanOut(u32),
}

/// A publisher: its number (written in each of its payloads) and its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    pub id: u32,
    pub topic: String,
}

/// A subscriber: its filter and the publishers whose messages it expects, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: u32,
    pub filter: String,
    pub sources: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub publishers: Vec<Publisher>,
    pub subscribers: Vec<Subscriber>,
}

impl Shape {
    /// Publishers and subscribers together.
    pub fn clients(self) -> u32 {
        match self {
            Shape::Pairs(n) => n.saturating_mul(2),
            Shape::FanIn(n) | Shape::FanOut(n) if n == 0 => 0,
            Shape::FanIn(n) | Shape::FanOut(n) => n.saturating_add(1),
        }
    }

    /// Subscribers that get each message.
    pub fn copies(self) -> u64 {
        match self {
            Shape::Pairs(_) | Shape::FanIn(_) => 1,
            Shape::FanOut(n) => u64::from(n),
        }
    }

    /// The clients of this shape on topics below `prefix`.
    pub fn plan(self, prefix: &str) -> Plan {
        let publisher = |id: u32| Publisher { id, topic: format!("{prefix}/{id}") };
        match self {
            Shape::Pairs(n) => Plan {
                publishers: (0..n).map(publisher).collect(),
                subscribers: (0..n)
                    .map(|id| Subscriber { id, filter: format!("{prefix}/{id}"), sources: vec![id] })
                    .collect(),
            },
            Shape::FanIn(n) => Plan {
                publishers: (0..n).map(publisher).collect(),
                subscribers: vec![Subscriber { id: 0, filter: format!("{prefix}/+"), sources: (0..n).collect() }],
            },
            Shape::FanOut(n) => Plan {
                publishers: vec![publisher(0)],
                subscribers: (0..n)
                    .map(|id| Subscriber { id, filter: format!("{prefix}/0"), sources: vec![0] })
                    .collect(),
            },
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Pairs(n) => write!(f, "{n} pairs"),
            Shape::FanIn(n) => write!(f, "fan-in: {n} publishers, 1 subscriber"),
            Shape::FanOut(n) => write!(f, "fan-out: 1 publisher, {n} subscribers"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_hear_only_their_own_publisher() {
        let plan = Shape::Pairs(2).plan("p");
        let topics: Vec<_> = plan.publishers.iter().map(|publisher| publisher.topic.as_str()).collect();
        assert_eq!(topics, ["p/0", "p/1"]);
        assert_eq!(plan.subscribers[1], Subscriber { id: 1, filter: "p/1".into(), sources: vec![1] });
    }

    #[test]
    fn fan_in_hears_every_publisher_through_one_wildcard() {
        let plan = Shape::FanIn(3).plan("p");
        assert_eq!(plan.publishers.len(), 3);
        assert_eq!(plan.subscribers, [Subscriber { id: 0, filter: "p/+".into(), sources: vec![0, 1, 2] }]);
    }

    #[test]
    fn fan_out_gives_one_topic_to_every_subscriber() {
        let plan = Shape::FanOut(3).plan("p");
        assert_eq!(plan.publishers, [Publisher { id: 0, topic: "p/0".into() }]);
        assert!(plan.subscribers.iter().all(|subscriber| subscriber.filter == "p/0" && subscriber.sources == [0]));
        assert_eq!((Shape::FanOut(3).clients(), Shape::FanOut(0).clients(), Shape::Pairs(3).clients()), (4, 0, 6));
        assert_eq!((Shape::FanOut(3).copies(), Shape::FanIn(3).copies(), Shape::Pairs(3).copies()), (3, 1, 1));
    }
}
