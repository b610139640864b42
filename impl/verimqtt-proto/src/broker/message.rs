//! An application message as the broker holds it, and one session's copy of it.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::codec::{MqttString, Properties, PropertyId, QoS, SubscriptionId, UserProperty};

/// A message the broker took ownership of, shared by every session it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) topic: MqttString,
    pub(crate) payload: Bytes,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    /// The properties passed on to subscribers unchanged: Payload Format Indicator, Content
    /// Type, Response Topic, Correlation Data and User Properties in their order
    /// ([MQTT-3.3.2-4], [MQTT-3.3.2-15] to [MQTT-3.3.2-20]). What belongs to one hop (Topic
    /// Alias, Subscription Identifiers) or changes with time (Message Expiry Interval) is
    /// kept out and set per delivery.
    pub(crate) properties: Properties,
    /// The client id of the publisher, for No Local ([MQTT-3.8.3-3]).
    pub(crate) publisher: Option<MqttString>,
    pub(crate) expiry: Expiry,
    /// When the broker took it: what the delivery latency is measured from.
    pub(crate) received: Instant,
    /// Roughly the bytes the message takes, what a session's queue counts against
    /// [`max_queued_bytes`](super::BrokerOptions::max_queued_bytes).
    pub(crate) footprint: usize,
    /// The number it is stored under once a stored session's delivery refers to it
    /// (`store`): one record however many sessions it goes to.
    pub(crate) stored_as: OnceLock<u64>,
}

impl Message {
    /// A message from a PUBLISH or will's parts; `properties` are stripped of what is set
    /// per hop.
    pub(crate) fn new(
        topic: MqttString,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        mut properties: Properties,
        publisher: Option<MqttString>,
        now: Instant,
    ) -> Self {
        let expiry = match properties.message_expiry_interval {
            Some(seconds) => Expiry::At { received: now, interval: seconds },
            None => Expiry::Never,
        };
        for id in [PropertyId::TopicAlias, PropertyId::SubscriptionIdentifier, PropertyId::MessageExpiryInterval] {
            properties.remove(id);
        }
        let footprint = footprint(&topic, &payload, &properties);
        let stored_as = OnceLock::new();
        Message { topic, payload, qos, retain, properties, publisher, expiry, received: now, footprint, stored_as }
    }
}

/// What a message costs in memory, roughly: its bytes, and the decoded form of its User
/// Properties, which costs much more than their bytes on the wire (two empty strings are 5
/// bytes there and a 64-byte pair decoded, so a packet of nothing else grows 13 times).
fn footprint(topic: &str, payload: &[u8], properties: &Properties) -> usize {
    let user_properties: usize = properties
        .user_properties
        .iter()
        .map(|(name, value)| size_of::<UserProperty>() + name.len() + value.len())
        .sum();
    let strings = [&properties.content_type, &properties.response_topic].into_iter().flatten().map(|text| text.len());
    let correlation = properties.correlation_data.as_ref().map_or(0, |data| data.len());
    size_of::<Message>() + topic.len() + payload.len() + user_properties + strings.sum::<usize>() + correlation
}

/// When a message stops being worth delivering (MQTT 5 Message Expiry Interval).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    Never,
    At { received: Instant, interval: u32 },
}

impl Expiry {
    /// The interval to forward at `now`: what was received minus the whole seconds the
    /// message has waited ([MQTT-3.3.2-6]), or [`Expired`] once it has passed ([MQTT-3.3.2-5]).
    pub(crate) fn remaining(self, now: Instant) -> Result<Option<u32>, Expired> {
        match self {
            Expiry::Never => Ok(None),
            Expiry::At { received, interval } => {
                let waited = now.saturating_duration_since(received);
                if waited >= Duration::from_secs(u64::from(interval)) {
                    return Err(Expired);
                }
                // Below `interval`, so it fits.
                Ok(Some(interval - waited.as_secs() as u32))
            }
        }
    }
}

/// The message's expiry interval has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expired;

/// One session's copy of a message: the QoS and RETAIN flag it is delivered with, and the
/// identifiers of the subscriptions it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    pub(crate) message: Arc<Message>,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    pub(crate) subscription_ids: Vec<SubscriptionId>,
    /// Its place in the session's queue, which names it in the store (`store`);
    /// `store::NOT_STORED` for a QoS 0 message.
    pub(crate) entry: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarded_interval_counts_down_in_whole_seconds_and_expires_at_the_end() {
        let received = Instant::now();
        let expiry = Expiry::At { received, interval: 10 };
        assert_eq!(expiry.remaining(received), Ok(Some(10)));
        assert_eq!(expiry.remaining(received + Duration::from_millis(2500)), Ok(Some(8)));
        assert_eq!(expiry.remaining(received + Duration::from_millis(9999)), Ok(Some(1)));
        assert_eq!(expiry.remaining(received + Duration::from_secs(10)), Err(Expired));
        assert_eq!(Expiry::Never.remaining(received + Duration::from_secs(1_000_000)), Ok(None));
    }
}
