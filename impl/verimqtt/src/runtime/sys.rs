//! The `$SYS` topics: the broker's state, published as retained messages of its own at a
//! configured interval, under the names mosquitto 2.0 uses so existing dashboards read them
//! (the table is in the crate's README). A value is published when it changed since it was
//! last published, so a quiet broker sends little more than its uptime. Topics start with
//! `$`, so `#` and `+/...` subscriptions do not match them ([MQTT-4.7.2-1]): a client
//! subscribes to `$SYS/#` to see them.

mod load;

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;

use crate::broker::{Broker, Policy, Stats};
use crate::codec::MqttString;

use super::heap::HeapSample;

use load::{Load, WINDOWS};

/// Reads one counter of the broker's statistics.
type Counter = fn(&Stats) -> u64;

/// The counters with `$SYS/broker/load/...` averages, by the topic's middle part.
const LOADS: [(&str, Counter); 9] = [
    ("messages/received", |stats| stats.packets_received),
    ("messages/sent", |stats| stats.packets_sent),
    ("publish/received", |stats| stats.publish_received.iter().sum()),
    ("publish/sent", |stats| stats.publish_sent.iter().sum()),
    ("publish/dropped", |stats| stats.messages_dropped),
    ("bytes/received", |stats| stats.bytes_received),
    ("bytes/sent", |stats| stats.bytes_sent),
    ("connections", |stats| stats.connects_received),
    ("sockets", |stats| stats.connections_accepted),
];

/// What the broker last published on each `$SYS` topic, when it started, and the load
/// averages.
pub(crate) struct SysTopics {
    started: Instant,
    published: HashMap<String, String>,
    /// The averages of each of [`LOADS`], and when they were last updated.
    loads: Option<([Load; LOADS.len()], Instant)>,
}

impl SysTopics {
    pub(crate) fn new(started: Instant) -> Self {
        SysTopics { started, published: HashMap::new(), loads: None }
    }

    /// Publishes the values that changed; the heap's too, if it is known.
    pub(crate) fn publish<P: Policy>(&mut self, broker: &mut Broker<P>, now: Instant, heap: Option<HeapSample>) {
        let stats = broker.stats();
        let uptime = now.saturating_duration_since(self.started).as_secs();
        let mut values = values(&stats, uptime);
        if let Some(HeapSample { current, maximum }) = heap {
            values.push(("$SYS/broker/heap/current".into(), current.to_string()));
            values.push(("$SYS/broker/heap/maximum".into(), maximum.to_string()));
        }
        values.extend(self.loads(&stats, now));
        for (topic, value) in values {
            if self.published.get(&topic) == Some(&value) {
                continue;
            }
            // The topics are built from constants, valid by construction.
            if let Ok(name) = MqttString::try_from(topic.as_str()) {
                broker.publish_own(now, name, Bytes::from(value.clone()));
            }
            self.published.insert(topic, value);
        }
    }

    /// The load averages, updated with what happened since the last time; 0 the first time.
    fn loads(&mut self, stats: &Stats, now: Instant) -> Vec<(String, String)> {
        let (loads, since) = self.loads.get_or_insert_with(|| (LOADS.map(|(_, total)| Load::new(total(stats))), now));
        let elapsed = now.saturating_duration_since(*since);
        *since = now;
        let mut values = Vec::with_capacity(LOADS.len() * WINDOWS.len());
        for (load, (name, total)) in loads.iter_mut().zip(LOADS) {
            load.update(total(stats), elapsed);
            for (average, (window, _)) in load.averages().into_iter().zip(WINDOWS) {
                // Two decimals, as mosquitto prints them: a change below 0.01 is not published.
                values.push((format!("$SYS/broker/load/{name}/{window}"), format!("{average:.2}")));
            }
        }
        values
    }
}

/// The values other than the load averages, by topic.
fn values(stats: &Stats, uptime: u64) -> Vec<(String, String)> {
    let offline = stats.sessions_offline();
    let publish_received: u64 = stats.publish_received.iter().sum();
    let publish_sent: u64 = stats.publish_sent.iter().sum();
    let values: [(&str, String); 24] = [
        ("version", format!("verimqtt {}", env!("CARGO_PKG_VERSION"))),
        ("uptime", format!("{uptime} seconds")),
        // Sessions of connected clients and of offline ones that persist, as mosquitto counts.
        ("clients/total", stats.sessions.to_string()),
        ("clients/maximum", stats.sessions_maximum.to_string()),
        ("clients/connected", stats.clients_connected.to_string()),
        ("clients/active", stats.clients_connected.to_string()),
        ("clients/disconnected", offline.to_string()),
        ("clients/inactive", offline.to_string()),
        ("clients/expired", stats.sessions_expired.to_string()),
        // Every packet, as mosquitto counts "messages"; PUBLISH packets apart below.
        ("messages/received", stats.packets_received.to_string()),
        ("messages/sent", stats.packets_sent.to_string()),
        // Messages held for sessions, queued or in flight: a message held for several
        // sessions counts once for each, and retained messages are counted apart.
        ("messages/stored", stats.messages_held.to_string()),
        ("store/messages/count", stats.messages_held.to_string()),
        ("store/messages/bytes", stats.bytes_held.to_string()),
        ("publish/messages/received", publish_received.to_string()),
        ("publish/messages/sent", publish_sent.to_string()),
        ("publish/messages/dropped", stats.messages_dropped.to_string()),
        ("publish/bytes/received", stats.publish_bytes_received.to_string()),
        ("publish/bytes/sent", stats.publish_bytes_sent.to_string()),
        ("bytes/received", stats.bytes_received.to_string()),
        ("bytes/sent", stats.bytes_sent.to_string()),
        ("retained messages/count", stats.retained_messages.to_string()),
        ("subscriptions/count", stats.subscriptions.to_string()),
        ("shared_subscriptions/count", stats.shared_subscriptions.to_string()),
    ];
    values.into_iter().map(|(name, value)| (format!("$SYS/broker/{name}"), value)).collect()
}
