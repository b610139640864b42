//! The `$SYS` topics: the broker's state, published as retained messages of its own at a
//! configured interval, under names mosquitto uses so existing dashboards read them. A
//! value is published when it changed since it was last published, so a quiet broker sends
//! only its uptime. Topics start with `$`, so `#` and `+/...` subscriptions do not match
//! them ([MQTT-4.7.2-1]): a client subscribes to `$SYS/#` to see them.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;

use crate::broker::{Broker, Policy, Stats};
use crate::codec::MqttString;

/// What the broker last published on each `$SYS` topic, and when it started.
pub(crate) struct SysTopics {
    started: Instant,
    published: HashMap<&'static str, String>,
}

impl SysTopics {
    pub(crate) fn new(started: Instant) -> Self {
        SysTopics { started, published: HashMap::new() }
    }

    /// Publishes the values that changed.
    pub(crate) fn publish<P: Policy>(&mut self, broker: &mut Broker<P>, now: Instant) {
        let uptime = now.saturating_duration_since(self.started).as_secs();
        for (topic, value) in values(&broker.stats(), uptime) {
            if self.published.get(topic) == Some(&value) {
                continue;
            }
            // The topics are constants, valid by construction.
            if let Ok(name) = MqttString::from_static(topic) {
                broker.publish_own(now, name, Bytes::from(value.clone()));
            }
            self.published.insert(topic, value);
        }
    }
}

fn values(stats: &Stats, uptime: u64) -> [(&'static str, String); 13] {
    [
        ("$SYS/broker/version", format!("verimqtt {}", env!("CARGO_PKG_VERSION"))),
        ("$SYS/broker/uptime", format!("{uptime} seconds")),
        ("$SYS/broker/clients/connected", stats.clients_connected.to_string()),
        // Sessions of connected clients and of offline ones that persist, as mosquitto counts.
        ("$SYS/broker/clients/total", stats.sessions.to_string()),
        ("$SYS/broker/messages/received", stats.messages_received.to_string()),
        ("$SYS/broker/messages/sent", stats.messages_sent.to_string()),
        ("$SYS/broker/publish/messages/dropped", stats.messages_dropped.to_string()),
        // Messages held for sessions, queued or in flight: what mosquitto's store holds.
        ("$SYS/broker/store/messages/count", stats.messages_held.to_string()),
        ("$SYS/broker/store/messages/bytes", stats.bytes_held.to_string()),
        ("$SYS/broker/bytes/received", stats.bytes_received.to_string()),
        ("$SYS/broker/bytes/sent", stats.bytes_sent.to_string()),
        ("$SYS/broker/retained messages/count", stats.retained_messages.to_string()),
        ("$SYS/broker/subscriptions/count", stats.subscriptions.to_string()),
    ]
}
