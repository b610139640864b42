//! Subscriptions as streams: the driver hands every message it receives to each
//! [`Subscription`] with a filter that matches its topic, and a dropped subscription
//! unsubscribes from the filters no other subscription still uses.
//!
//! Each subscription holds a bounded number of messages. When one is full the driver keeps
//! the message it could not hand over and stops taking events from the client state
//! machine, whose bounded event queue then fills, so it stops taking bytes and the driver
//! stops reading the socket: TCP slows the broker, which holds back the publishers. A QoS 1
//! or 2 message is acknowledged once it is in that event queue, a bounded buffer that the
//! driver empties into the subscriptions as the application reads them.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

use super::driver::Command;
use crate::codec::matching::matches;
use crate::codec::{
    self, MqttString, PacketId, Properties, ProtocolVersion, Publish, QoS, ReasonCode, shared_subscription,
};

/// A message from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic it was published on.
    pub topic: MqttString,
    /// The application message.
    pub payload: Bytes,
    /// The QoS it was delivered with: the lower of the publisher's and the subscription's.
    pub qos: QoS,
    /// Whether it is a retained message (sent because of a new subscription, or with Retain As Published).
    pub retain: bool,
    /// MQTT 5 properties (user properties, content type, response topic...).
    pub properties: Properties,
    /// The packet identifier it came with (QoS 1 and 2 only), as tools such as
    /// mosquitto_sub print it.
    pub packet_id: Option<PacketId>,
}

impl From<Publish> for Message {
    fn from(publish: Publish) -> Self {
        let Publish { qos, retain, topic, properties, payload, packet_id, .. } = publish;
        Message { topic, payload, qos, retain, properties, packet_id }
    }
}

/// The messages matching some topic filters, as a [`Stream`]. It ends when the client
/// stops. Dropping it unsubscribes from each of its filters that no other subscription of
/// the client uses; to leave them in a persistent session for the next connection,
/// disconnect first.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    granted: Vec<ReasonCode>,
    messages: mpsc::Receiver<Message>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Subscription {
    pub(crate) fn new(
        id: u64,
        granted: Vec<ReasonCode>,
        messages: mpsc::Receiver<Message>,
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

/// A subscription as the driver knows it. A route without filters is not one the broker
/// knows: it takes the messages no subscription wants ([`AsyncClient::unclaimed`]).
///
/// [`AsyncClient::unclaimed`]: super::AsyncClient::unclaimed
#[derive(Debug)]
struct Route {
    subscriptions: Vec<codec::Subscription>,
    messages: mpsc::Sender<Message>,
}

/// Where a message could not go at once: the subscriptions (id and channel) that are full,
/// and those whose application is gone.
#[derive(Debug, Default)]
pub(crate) struct Dispatched {
    pub full: Vec<(u64, mpsc::Sender<Message>)>,
    pub gone: Vec<u64>,
}

impl Route {
    fn takes_unclaimed(&self) -> bool {
        self.subscriptions.is_empty()
    }

    fn wants(&self, message: &Message, version: ProtocolVersion) -> bool {
        self.subscriptions.iter().any(|subscription| {
            // A shared subscription's messages match the filter after the group.
            let filter = match shared_subscription(&subscription.filter, version) {
                Some(Ok(shared)) => shared.filter,
                _ => subscription.filter.as_str(),
            };
            matches(filter, &message.topic)
        })
    }
}

/// Every live subscription, by id, and the messages no subscription claimed yet: a resumed
/// session brings the messages of its subscriptions as soon as it is accepted, before the
/// application subscribes again, and a broker may send a message before the SUBACK of the
/// subscription it matches.
#[derive(Debug)]
pub(crate) struct Routes {
    version: ProtocolVersion,
    routes: HashMap<u64, Route>,
    unclaimed: VecDeque<Message>,
    /// Unclaimed messages kept at most: a subscription's capacity, so that a new one takes
    /// them all.
    max_unclaimed: usize,
}

impl Routes {
    pub(super) fn new(version: ProtocolVersion, capacity: usize) -> Self {
        Routes { version, routes: HashMap::new(), unclaimed: VecDeque::new(), max_unclaimed: capacity }
    }

    /// Adds a subscription, and hands it the unclaimed messages it wants (its channel is
    /// new and as large as they can be many); without `subscriptions`, a route that takes
    /// every message no subscription wants, those kept so far first.
    pub(super) fn insert(&mut self, id: u64, subscriptions: Vec<codec::Subscription>, messages: mpsc::Sender<Message>) {
        let route = Route { subscriptions, messages };
        let (claimed, unclaimed) =
            self.unclaimed.drain(..).partition(|message| route.takes_unclaimed() || route.wants(message, self.version));
        self.unclaimed = unclaimed;
        for message in Vec::from(claimed) {
            let _ = route.messages.try_send(message);
        }
        self.routes.insert(id, route);
    }

    /// Gives `message` to every subscription that wants it and has room, or keeps it for
    /// one to come. Says which wanted it but were full, and which have no reader any more.
    pub(super) fn dispatch(&mut self, message: &Message) -> Dispatched {
        let mut dispatched = Dispatched::default();
        let wanted = |route: &Route| !route.takes_unclaimed() && route.wants(message, self.version);
        let mut claimed = self.hand_over(message, wanted, &mut dispatched);
        if !claimed {
            claimed = self.hand_over(message, Route::takes_unclaimed, &mut dispatched);
        }
        if !claimed {
            if self.unclaimed.len() >= self.max_unclaimed {
                self.unclaimed.pop_front();
                tracing::warn!(kept = self.max_unclaimed, "a message no subscription wants was given up");
            }
            self.unclaimed.push_back(message.clone());
        }
        dispatched
    }

    /// Gives `message` to the routes `chosen` picks; whether there were any.
    fn hand_over(&self, message: &Message, chosen: impl Fn(&Route) -> bool, dispatched: &mut Dispatched) -> bool {
        let mut any = false;
        for (&id, route) in self.routes.iter().filter(|(_, route)| chosen(route)) {
            any = true;
            match route.messages.try_send(message.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => dispatched.full.push((id, route.messages.clone())),
                Err(mpsc::error::TrySendError::Closed(_)) => dispatched.gone.push(id),
            }
        }
        any
    }

    /// Forgets subscription `id` and returns those of its filters no other one uses.
    pub(super) fn remove(&mut self, id: u64) -> Vec<MqttString> {
        let Some(route) = self.routes.remove(&id) else { return Vec::new() };
        route
            .subscriptions
            .into_iter()
            .map(|subscription| subscription.filter)
            .filter(|filter| !self.uses(filter))
            .collect()
    }

    /// Of `filters`, those no subscription uses.
    pub(super) fn unused(&self, filters: impl IntoIterator<Item = MqttString>) -> Vec<MqttString> {
        filters.into_iter().filter(|filter| !self.uses(filter)).collect()
    }

    fn uses(&self, filter: &MqttString) -> bool {
        self.routes.values().any(|route| route.subscriptions.iter().any(|subscription| subscription.filter == *filter))
    }

    /// Every filter subscribed to, once each with the options of its latest subscription:
    /// what to subscribe again to when the broker kept no session.
    pub(super) fn all(&self) -> Vec<codec::Subscription> {
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

    pub(super) fn clear(&mut self) {
        self.routes.clear();
        self.unclaimed.clear();
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

    const CAPACITY: usize = 100;

    fn route(routes: &mut Routes, id: u64, filters: &[&str]) -> mpsc::Receiver<Message> {
        let (sender, receiver) = mpsc::channel(CAPACITY);
        routes.insert(id, filters.iter().map(|filter| subscription(filter, QoS::AtLeastOnce)).collect(), sender);
        receiver
    }

    #[test]
    fn a_message_reaches_every_matching_subscription_once() {
        let mut routes = Routes::new(ProtocolVersion::V5, CAPACITY);
        let mut wide = route(&mut routes, 1, &["a/#", "a/+"]);
        let mut narrow = route(&mut routes, 2, &["a/b"]);
        let mut other = route(&mut routes, 3, &["b/#", "$share/g/a/b"]);
        routes.dispatch(&message("a/b"));
        assert_eq!(wide.try_recv().unwrap().topic, "a/b");
        assert!(wide.try_recv().is_err(), "one copy per subscription");
        assert_eq!(narrow.try_recv().unwrap().topic, "a/b");
        assert_eq!(other.try_recv().unwrap().topic, "a/b", "a shared subscription matches its filter");
        routes.dispatch(&message("$SYS/x"));
        assert!(wide.try_recv().is_err(), "a wildcard never matches a $ topic [MQTT-4.7.2-1]");
    }

    #[test]
    fn a_message_no_subscription_wants_waits_for_one_that_does() {
        let mut routes = Routes::new(ProtocolVersion::V311, CAPACITY);
        for topic in ["early/1", "other", "early/2"] {
            routes.dispatch(&message(topic));
        }
        let mut late = route(&mut routes, 1, &["early/#"]);
        let topics: Vec<_> = std::iter::from_fn(|| late.try_recv().ok()).map(|message| message.topic).collect();
        assert_eq!(topics, ["early/1", "early/2"]);
        let mut later = route(&mut routes, 2, &["#"]);
        assert_eq!(later.try_recv().unwrap().topic, "other", "each message is claimed once");
        assert!(later.try_recv().is_err());
    }

    #[test]
    fn a_route_without_filters_takes_what_no_subscription_wants() {
        let mut routes = Routes::new(ProtocolVersion::V5, CAPACITY);
        routes.dispatch(&message("resumed/1"));
        let mut mine = route(&mut routes, 1, &["mine/#"]);
        let mut rest = route(&mut routes, 2, &[]);
        assert_eq!(rest.try_recv().unwrap().topic, "resumed/1", "what was kept so far first");
        for topic in ["mine/x", "resumed/2"] {
            routes.dispatch(&message(topic));
        }
        assert_eq!(mine.try_recv().unwrap().topic, "mine/x");
        assert_eq!(rest.try_recv().unwrap().topic, "resumed/2");
        assert!(rest.try_recv().is_err(), "a message a subscription wants is not taken");
        assert!(routes.remove(2).is_empty(), "nothing to unsubscribe");
        assert_eq!(routes.all().len(), 1, "not subscribed again after a reconnection");
    }

    #[test]
    fn unclaimed_messages_are_bounded() {
        let mut routes = Routes::new(ProtocolVersion::V5, CAPACITY);
        for index in 0..=CAPACITY {
            routes.dispatch(&message(&format!("t/{index}")));
        }
        let mut all = route(&mut routes, 1, &["#"]);
        assert_eq!(all.try_recv().unwrap().topic, "t/1", "the oldest was given up");
        assert_eq!(std::iter::from_fn(|| all.try_recv().ok()).count(), CAPACITY - 1, "the rest fit");
    }

    #[test]
    fn a_full_subscription_is_named_and_the_others_still_get_the_message() {
        let mut routes = Routes::new(ProtocolVersion::V5, 1);
        let (sender, mut small) = mpsc::channel(1);
        routes.insert(1, vec![subscription("a", QoS::AtMostOnce)], sender);
        let mut roomy = route(&mut routes, 2, &["a"]);
        assert!(routes.dispatch(&message("a")).full.is_empty());
        let dispatched = routes.dispatch(&message("a"));
        assert_eq!(dispatched.full.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [1]);
        assert_eq!(std::iter::from_fn(|| roomy.try_recv().ok()).count(), 2);
        assert_eq!(std::iter::from_fn(|| small.try_recv().ok()).count(), 1);
        drop(small);
        assert_eq!(routes.dispatch(&message("a")).gone, [1]);
    }

    #[test]
    fn removing_a_subscription_frees_only_the_filters_no_other_uses() {
        let mut routes = Routes::new(ProtocolVersion::V5, CAPACITY);
        let _first = route(&mut routes, 1, &["a/#", "b"]);
        let _second = route(&mut routes, 2, &["a/#"]);
        assert_eq!(routes.remove(1), ["b"]);
        assert_eq!(routes.remove(2), ["a/#"]);
        assert_eq!(routes.remove(2), Vec::<MqttString>::new());
    }

    #[test]
    fn all_lists_each_filter_once_with_its_latest_options() {
        let mut routes = Routes::new(ProtocolVersion::V5, CAPACITY);
        let (sender, _receiver) = mpsc::channel(CAPACITY);
        routes.insert(1, vec![subscription("a", QoS::AtMostOnce), subscription("b", QoS::AtMostOnce)], sender.clone());
        routes.insert(2, vec![subscription("a", QoS::ExactlyOnce)], sender);
        assert_eq!(routes.all(), [subscription("a", QoS::ExactlyOnce), subscription("b", QoS::AtMostOnce)]);
    }
}
