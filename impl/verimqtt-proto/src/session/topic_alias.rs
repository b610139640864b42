//! MQTT 5 topic aliases of one connection (section 3.3.2.3.4), for both roles: the peer's,
//! resolved on the way in, and our own, assigned on the way out. Neither outlives its
//! connection [MQTT-3.3.2-7]. Each keeps a copy of its topic of its own, not a slice of the
//! packet that brought it, which may be a megabyte.

use std::collections::HashMap;
use std::num::NonZeroU16;

use super::ProtocolViolation;
use crate::codec::{MqttString, PropertyId, Publish};

/// The aliases the peer set up, up to the Topic Alias Maximum we sent.
#[derive(Debug)]
pub(crate) struct InboundAliases {
    maximum: u16,
    topics: HashMap<NonZeroU16, MqttString>,
}

impl InboundAliases {
    pub(crate) fn new(maximum: u16) -> Self {
        InboundAliases { maximum, topics: HashMap::new() }
    }

    /// Gives `publish` its full topic and removes the alias, recording a new mapping on the
    /// way (section 3.3.4).
    pub(crate) fn resolve(&mut self, publish: &mut Publish) -> Result<(), ProtocolViolation> {
        let Some(alias) = publish.properties.topic_alias else { return Ok(()) };
        if alias.get() > self.maximum {
            return Err(ProtocolViolation::TopicAliasOutOfRange { alias, maximum: self.maximum });
        }
        if publish.topic.is_empty() {
            let topic = self.topics.get(&alias).ok_or(ProtocolViolation::UnknownTopicAlias { alias })?;
            publish.topic = topic.clone();
        } else {
            self.topics.insert(alias, publish.topic.detached());
        }
        publish.properties.remove(PropertyId::TopicAlias);
        Ok(())
    }
}

/// The aliases we assigned, first come first served up to the peer's Topic Alias Maximum
/// ([MQTT-3.3.2-9] for a client, [MQTT-3.3.2-11] for a server; none at all when it is 0,
/// [MQTT-3.2.2-18] and [MQTT-3.1.2-26]). A topic that finds them all taken goes out in full.
#[derive(Debug)]
pub(crate) struct OutboundAliases {
    maximum: u16,
    aliases: HashMap<MqttString, NonZeroU16>,
}

/// An alias a PUBLISH introduces, to be recorded once the PUBLISH is actually written.
#[derive(Debug)]
pub(crate) struct NewAlias {
    topic: MqttString,
    alias: NonZeroU16,
}

impl OutboundAliases {
    /// `maximum` 0 turns aliasing off.
    pub(crate) fn new(maximum: u16) -> Self {
        OutboundAliases { maximum, aliases: HashMap::new() }
    }

    /// Rewrites `publish` for the wire: a known topic becomes its alias alone; a new one gets
    /// an alias next to it while there are some left.
    pub(crate) fn apply(&self, publish: &mut Publish) -> Option<NewAlias> {
        if let Some(&alias) = self.aliases.get(&publish.topic) {
            publish.properties.topic_alias = Some(alias);
            publish.topic = MqttString::default();
            return None;
        }
        let next = u16::try_from(self.aliases.len() + 1).ok().filter(|&next| next <= self.maximum)?;
        let alias = NonZeroU16::new(next)?;
        publish.properties.topic_alias = Some(alias);
        Some(NewAlias { topic: publish.topic.detached(), alias })
    }

    pub(crate) fn record(&mut self, new: NewAlias) {
        self.aliases.insert(new.topic, new.alias);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::QoS;
    use bytes::Bytes;

    fn publish(topic: &'static str, alias: Option<u16>) -> Publish {
        let mut publish = Publish::new(MqttString::from_static(topic).unwrap(), QoS::AtMostOnce, None, Bytes::new());
        if let Some(alias) = alias {
            publish.properties.topic_alias = NonZeroU16::new(alias);
        }
        publish
    }

    #[test]
    fn inbound_alias_is_learnt_then_resolved_and_removed() {
        let mut aliases = InboundAliases::new(5);
        let mut first = publish("a/b", Some(2));
        aliases.resolve(&mut first).unwrap();
        assert_eq!(first.topic, "a/b");
        assert!(first.properties.is_empty());
        let mut second = publish("", Some(2));
        aliases.resolve(&mut second).unwrap();
        assert_eq!(second.topic, "a/b");
    }

    #[test]
    fn inbound_alias_above_the_maximum_or_unknown_is_a_violation() {
        let mut aliases = InboundAliases::new(1);
        let alias = NonZeroU16::new(2).unwrap();
        assert_eq!(
            aliases.resolve(&mut publish("a", Some(2))),
            Err(ProtocolViolation::TopicAliasOutOfRange { alias, maximum: 1 })
        );
        let alias = NonZeroU16::new(1).unwrap();
        assert_eq!(aliases.resolve(&mut publish("", Some(1))), Err(ProtocolViolation::UnknownTopicAlias { alias }));
    }

    #[test]
    fn outbound_aliases_are_assigned_until_the_maximum_then_topics_go_in_full() {
        let mut aliases = OutboundAliases::new(1);
        let mut first = publish("a", None);
        let new = aliases.apply(&mut first).unwrap();
        assert_eq!((first.topic.as_str(), first.properties.topic_alias), ("a", NonZeroU16::new(1)));
        aliases.record(new);
        let mut again = publish("a", None);
        assert!(aliases.apply(&mut again).is_none());
        assert_eq!((again.topic.as_str(), again.properties.topic_alias), ("", NonZeroU16::new(1)));
        let mut other = publish("b", None);
        assert!(aliases.apply(&mut other).is_none());
        assert_eq!((other.topic.as_str(), other.properties.topic_alias), ("b", None));
    }

    #[test]
    fn an_alias_not_recorded_is_offered_again() {
        let aliases = OutboundAliases::new(3);
        let mut first = publish("a", None);
        aliases.apply(&mut first);
        let mut second = publish("a", None);
        assert!(aliases.apply(&mut second).is_some());
        assert_eq!(second.topic, "a");
    }
}
