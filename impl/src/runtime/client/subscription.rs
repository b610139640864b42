//! Subscriptions as streams: the driver hands every message it receives to each
//! [`Subscription`] with a filter that matches its topic, and a dropped subscription
//! unsubscribes from the filters no other subscription still uses.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

use super::driver::Command;
use crate::auth::filter::matches;
use crate::codec::{self, MqttString, Properties, ProtocolVersion, Publish, QoS, ReasonCode, shared_subscription};

/// A message from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: MqttString,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// MQTT 5 properties (user properties, content type, response topic...).
    pub properties: Properties,
}

impl From<Publish> for Message {
    fn from(publish: Publish) -> Self {
        let Publish { qos, retain, topic, properties, payload, .. } = publish;
        Message { topic, payload, qos, retain, properties }
    }
}

/// The messages matching some topic filters, as a [`Stream`]. It ends when the client
/// stops. Dropping it unsubscribes from each of its filters that no other subscription of
/// the client uses.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    granted: Vec<ReasonCode>,
    messages: mpsc::UnboundedReceiver<Message>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Subscription {
    pub(crate) fn new(
        id: u64,
        granted: Vec<ReasonCode>,
        messages: mpsc::UnboundedReceiver<Message>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> Self {
        Subscription { id, granted, messages, commands }
    }

    /// The SUBACK's reason code for each filter: the QoS the broker granted.
    pub fn granted(&self) -> &[ReasonCode] {
        &self.granted
    }
}

impl Stream for Subscription {
    type Item = Message;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.get_mut().messages.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // A client already gone has nothing left to unsubscribe.
        let _ = self.commands.send(Command::Unsubscribe { id: self.id });
    }
}

/// A subscription as the driver knows it.
#[derive(Debug)]
struct Route {
    subscriptions: Vec<codec::Subscription>,
    messages: mpsc::UnboundedSender<Message>,
}

/// Every live subscription, by id.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    routes: HashMap<u64, Route>,
}

impl Routes {
    pub fn insert(
        &mut self,
        id: u64,
        subscriptions: Vec<codec::Subscription>,
        messages: mpsc::UnboundedSender<Message>,
    ) {
        self.routes.insert(id, Route { subscriptions, messages });
    }

    /// Gives `message` to every subscription with a filter matching its topic. Returns the
    /// subscriptions found to have no reader any more.
    pub fn dispatch(&self, message: Message, version: ProtocolVersion) -> Vec<u64> {
        let mut unread = Vec::new();
        for (&id, route) in &self.routes {
            let wanted = route.subscriptions.iter().any(|subscription| {
                // A shared subscription's messages match the filter after the group.
                let filter = match shared_subscription(&subscription.filter, version) {
                    Some(Ok(shared)) => shared.filter,
                    _ => subscription.filter.as_str(),
                };
                matches(filter, &message.topic)
            });
            if wanted && route.messages.send(message.clone()).is_err() {
                unread.push(id);
            }
        }
        unread
    }

    /// Forgets subscription `id` and returns those of its filters no other one uses.
    pub fn remove(&mut self, id: u64) -> Vec<MqttString> {
        let Some(route) = self.routes.remove(&id) else { return Vec::new() };
        route
            .subscriptions
            .into_iter()
            .map(|subscription| subscription.filter)
            .filter(|filter| !self.uses(filter))
            .collect()
    }

    /// Of `filters`, those no subscription uses.
    pub fn unused(&self, filters: impl IntoIterator<Item = MqttString>) -> Vec<MqttString> {
        filters.into_iter().filter(|filter| !self.uses(filter)).collect()
    }

    fn uses(&self, filter: &MqttString) -> bool {
        self.routes.values().any(|route| route.subscriptions.iter().any(|subscription| subscription.filter == *filter))
    }

    /// Every filter subscribed to, once each with the options of its latest subscription:
    /// what to subscribe again to when the broker kept no session.
    pub fn all(&self) -> Vec<codec::Subscription> {
        let mut ids: Vec<_> = self.routes.keys().copied().collect();
        ids.sort_unstable();
        let mut all: Vec<codec::Subscription> = Vec::new();
        for subscription in ids.iter().flat_map(|id| &self.routes[id].subscriptions) {
            match all.iter_mut().find(|known| known.filter == subscription.filter) {
                Some(known) => *known = subscription.clone(),
                None => all.push(subscription.clone()),
            }
        }
        all
    }

    pub fn clear(&mut self) {
        self.routes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::SubscriptionOptions;

    fn subscription(filter: &str, qos: QoS) -> codec::Subscription {
        codec::Subscription { filter: MqttString::try_from(filter).unwrap(), options: SubscriptionOptions::new(qos) }
    }

    fn message(topic: &str) -> Message {
        Publish::new(MqttString::try_from(topic).unwrap(), QoS::AtMostOnce, None, Bytes::new()).into()
    }

    fn route(routes: &mut Routes, id: u64, filters: &[&str]) -> mpsc::UnboundedReceiver<Message> {
        let (sender, receiver) = mpsc::unbounded_channel();
        routes.insert(id, filters.iter().map(|filter| subscription(filter, QoS::AtLeastOnce)).collect(), sender);
        receiver
    }

    #[test]
    fn a_message_reaches_every_matching_subscription_once() {
        let mut routes = Routes::default();
        let mut wide = route(&mut routes, 1, &["a/#", "a/+"]);
        let mut narrow = route(&mut routes, 2, &["a/b"]);
        let mut other = route(&mut routes, 3, &["b/#", "$share/g/a/b"]);
        routes.dispatch(message("a/b"), ProtocolVersion::V5);
        assert_eq!(wide.try_recv().unwrap().topic, "a/b");
        assert!(wide.try_recv().is_err(), "one copy per subscription");
        assert_eq!(narrow.try_recv().unwrap().topic, "a/b");
        assert_eq!(other.try_recv().unwrap().topic, "a/b", "a shared subscription matches its filter");
        routes.dispatch(message("$SYS/x"), ProtocolVersion::V5);
        assert!(wide.try_recv().is_err(), "a wildcard never matches a $ topic [MQTT-4.7.2-1]");
    }

    #[test]
    fn removing_a_subscription_frees_only_the_filters_no_other_uses() {
        let mut routes = Routes::default();
        let _first = route(&mut routes, 1, &["a/#", "b"]);
        let _second = route(&mut routes, 2, &["a/#"]);
        assert_eq!(routes.remove(1), ["b"]);
        assert_eq!(routes.remove(2), ["a/#"]);
        assert_eq!(routes.remove(2), Vec::<MqttString>::new());
    }

    #[test]
    fn all_lists_each_filter_once_with_its_latest_options() {
        let mut routes = Routes::default();
        let (sender, _receiver) = mpsc::unbounded_channel();
        routes.insert(1, vec![subscription("a", QoS::AtMostOnce), subscription("b", QoS::AtMostOnce)], sender.clone());
        routes.insert(2, vec![subscription("a", QoS::ExactlyOnce)], sender);
        assert_eq!(routes.all(), [subscription("a", QoS::ExactlyOnce), subscription("b", QoS::AtMostOnce)]);
    }
}
