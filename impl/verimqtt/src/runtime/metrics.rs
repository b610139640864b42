//! The broker's statistics in Prometheus' text exposition format (version 0.0.4), what
//! `/metrics` serves (see `metrics_http`). Written by hand from one [`Stats`] snapshot: every
//! value is the broker's own count, read once per scrape, so nothing is counted twice and
//! nothing is kept between scrapes.

use std::fmt::Write;
use std::time::Duration;

use crate::broker::{LATENCY_BOUNDS, Stats};

use super::heap::HeapSample;

/// The media type of the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A value of a sample: a count, or seconds.
#[derive(Debug, Clone, Copy)]
enum Value {
    Count(u64),
    Seconds(f64),
}

impl From<u64> for Value {
    fn from(count: u64) -> Self {
        Value::Count(count)
    }
}

impl From<usize> for Value {
    fn from(count: usize) -> Self {
        Value::Count(count as u64)
    }
}

/// The text of the metrics, for a broker up for `uptime`, with the heap if it is known.
pub(crate) fn render(stats: &Stats, uptime: Duration, heap: Option<HeapSample>) -> String {
    let mut out = Exposition::default();
    if let Some(HeapSample { current, maximum }) = heap {
        let help = "Bytes the allocator handed out and not taken back (jemalloc's stats.allocated).";
        out.family("verimqtt_heap_bytes", "gauge", help, [(Vec::new(), Value::Count(current))]);
        let help = "The most verimqtt_heap_bytes was at a scrape or $SYS update.";
        out.family("verimqtt_heap_max_bytes", "gauge", help, [(Vec::new(), Value::Count(maximum))]);
    }
    let gauges: [(&str, &str, Value); 12] = [
        ("verimqtt_uptime_seconds", "Seconds since the broker started.", Value::Seconds(uptime.as_secs_f64())),
        ("verimqtt_connections", "Open network connections, CONNECT sent or not.", stats.connections.into()),
        ("verimqtt_clients_connected", "Sessions whose client is connected.", stats.clients_connected.into()),
        ("verimqtt_sessions", "Sessions, of connected and offline clients.", stats.sessions.into()),
        (
            "verimqtt_sessions_persistent",
            "Sessions that outlive their connection (session expiry above 0).",
            stats.sessions_persistent.into(),
        ),
        ("verimqtt_sessions_offline", "Sessions kept for clients not connected.", stats.sessions_offline().into()),
        ("verimqtt_sessions_maximum", "The most sessions held at once.", stats.sessions_maximum.into()),
        (
            "verimqtt_messages_held",
            "Copies of messages held for sessions: queued, or in flight at QoS 1 and 2.",
            stats.messages_held.into(),
        ),
        (
            "verimqtt_bytes_held",
            "The bytes of those messages, as max_queued_bytes counts them.",
            stats.bytes_held.into(),
        ),
        (
            "verimqtt_retained_messages",
            "Topics with a retained message, $SYS included.",
            stats.retained_messages.into(),
        ),
        ("verimqtt_subscriptions", "Subscriptions, over all sessions.", stats.subscriptions.into()),
        (
            "verimqtt_shared_subscriptions",
            "Of those, members of share groups ($share/...).",
            stats.shared_subscriptions.into(),
        ),
    ];
    let counters: [(&str, &str, u64); 14] = [
        ("verimqtt_connections_accepted_total", "Network connections the broker took in.", stats.connections_accepted),
        (
            "verimqtt_connections_not_accepted_total",
            "Network connections refused before CONNECT: max_connections reached, or shutting down.",
            stats.connections_not_accepted,
        ),
        ("verimqtt_connects_total", "CONNECT packets read.", stats.connects_received),
        ("verimqtt_sessions_expired_total", "Sessions ended by their expiry interval.", stats.sessions_expired),
        (
            "verimqtt_messages_received_total",
            "Application messages the broker took ownership of: PUBLISHes accepted and wills.",
            stats.messages_received,
        ),
        (
            "verimqtt_retained_dropped_total",
            "Retained messages delivered but not stored (store full, too many levels).",
            stats.retained_dropped,
        ),
        ("verimqtt_publishes_denied_total", "PUBLISHes and wills the policy (ACL) refused.", stats.publishes_denied),
        ("verimqtt_received_bytes_total", "Bytes read from clients.", stats.bytes_received),
        ("verimqtt_sent_bytes_total", "Bytes handed out to be written to clients.", stats.bytes_sent),
        (
            "verimqtt_publish_received_payload_bytes_total",
            "Payload bytes of the PUBLISH packets read.",
            stats.publish_bytes_received,
        ),
        (
            "verimqtt_publish_sent_payload_bytes_total",
            "Payload bytes of the PUBLISH packets sent.",
            stats.publish_bytes_sent,
        ),
        ("verimqtt_packets_received_total", "MQTT packets of every type read.", stats.packets_received),
        ("verimqtt_packets_sent_total", "MQTT packets of every type sent.", stats.packets_sent),
        (
            "verimqtt_events_lost_total",
            "Broker events (logs, hooks) dropped because they were not taken in time.",
            stats.events_lost,
        ),
    ];
    for (name, help, value) in gauges {
        out.family(name, "gauge", help, [(Vec::new(), value)]);
    }
    for (name, help, count) in counters {
        out.family(name, "counter", help, [(Vec::new(), Value::Count(count))]);
    }
    out.family(
        "verimqtt_connects_refused_total",
        "counter",
        "CONNECTs refused, by the MQTT 5 reason code (3.1.1 clients get the nearest return code).",
        stats.connects_refused.iter().map(|(code, count)| {
            (vec![("code", format!("{:#04x}", code.value())), ("reason", code.name().to_owned())], Value::from(*count))
        }),
    );
    out.by_qos(
        "verimqtt_publish_received_total",
        "PUBLISH packets read from clients, refused ones included, by QoS.",
        stats.publish_received,
    );
    out.by_qos(
        "verimqtt_publish_sent_total",
        "PUBLISH packets sent to clients, resends included, by the QoS sent with.",
        stats.publish_sent,
    );
    let dropped = stats.messages_dropped_by;
    out.family(
        "verimqtt_messages_dropped_total",
        "counter",
        "Copies of messages not delivered to a session, by reason.",
        [
            ("queue_full", dropped.queue_full),
            ("packet_too_large", dropped.packet_too_large),
            ("expired", dropped.expired),
        ]
        .map(|(reason, count)| (vec![("reason", reason.to_owned())], Value::from(count))),
    );
    out.histogram(stats);
    out.text
}

/// The text being written.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// A metric with its samples, each with its labels.
    fn family(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Vec<(&'static str, String)>, Value)>,
    ) {
        self.header(name, kind, help);
        for (labels, value) in samples {
            self.sample(name, &labels, value);
        }
    }

    fn by_qos(&mut self, name: &str, help: &str, counts: [u64; 3]) {
        let samples = (0..).zip(counts).map(|(qos, count)| (vec![("qos", format!("{qos}"))], Value::from(count)));
        self.family(name, "counter", help, samples);
    }

    /// How long messages waited in the broker before their first PUBLISH to a subscriber.
    fn histogram(&mut self, stats: &Stats) {
        let name = "verimqtt_delivery_wait_seconds";
        let histogram = &stats.delivery_latency;
        self.header(
            name,
            "histogram",
            "Time from the broker taking a message to encoding its first PUBLISH for a subscriber (RETAIN-flagged ones left out).",
        );
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BOUNDS.iter().zip(histogram.counts) {
            cumulative += count;
            self.sample(&bucket, &[("le", format!("{}", bound.as_secs_f64()))], Value::Count(cumulative));
        }
        self.sample(&bucket, &[("le", "+Inf".to_owned())], Value::Count(histogram.count()));
        self.sample(&format!("{name}_sum"), &[], Value::Seconds(histogram.sum_micros as f64 / 1e6));
        self.sample(&format!("{name}_count"), &[], Value::Count(histogram.count()));
    }

    fn header(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: Value) {
        self.text.push_str(name);
        if !labels.is_empty() {
            let labels: Vec<String> =
                labels.iter().map(|(label, value)| format!("{label}=\"{}\"", escape_label(value))).collect();
            let _ = write!(self.text, "{{{}}}", labels.join(","));
        }
        let _ = match value {
            Value::Count(count) => writeln!(self.text, " {count}"),
            Value::Seconds(seconds) => writeln!(self.text, " {seconds}"),
        };
    }
}

/// A label value as the format wants it: backslash, double quote and line feed escaped.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ReasonCode;

    /// The values of an exposition, by series (name and labels). The runtime tests check
    /// the format itself, over HTTP.
    fn samples(text: &str) -> std::collections::BTreeMap<&str, f64> {
        let samples = text.lines().filter(|line| !line.starts_with('#'));
        samples
            .map(|line| line.rsplit_once(' ').unwrap())
            .map(|(series, value)| (series, value.parse().unwrap()))
            .collect()
    }

    #[test]
    fn each_value_is_in_its_series() {
        let mut stats = Stats { connections: 3, sessions: 5, clients_connected: 2, ..Stats::default() };
        stats.publish_received = [7, 8, 9];
        stats.messages_dropped_by.queue_full = 4;
        stats.connects_refused.insert(ReasonCode::NotAuthorized, 2);
        let text = render(&stats, Duration::from_millis(1500), None);
        let samples = samples(&text);
        assert_eq!(samples["verimqtt_connections"], 3.0);
        assert_eq!(samples["verimqtt_sessions_offline"], 3.0);
        assert_eq!(samples["verimqtt_uptime_seconds"], 1.5);
        assert_eq!(samples["verimqtt_publish_received_total{qos=\"2\"}"], 9.0);
        assert_eq!(samples["verimqtt_messages_dropped_total{reason=\"queue_full\"}"], 4.0);
        assert_eq!(samples["verimqtt_connects_refused_total{code=\"0x87\",reason=\"Not authorized\"}"], 2.0);
    }

    #[test]
    fn the_heap_gauges_are_there_only_when_the_heap_is_known() {
        let heap = HeapSample { current: 2048, maximum: 4096 };
        let text = render(&Stats::default(), Duration::ZERO, Some(heap));
        let samples = samples(&text);
        assert_eq!((samples["verimqtt_heap_bytes"], samples["verimqtt_heap_max_bytes"]), (2048.0, 4096.0));
        let without = render(&Stats::default(), Duration::ZERO, None);
        assert!(!without.contains("verimqtt_heap"), "{without}");
    }

    #[test]
    fn the_histogram_buckets_are_cumulative_and_end_with_every_wait() {
        let mut stats = Stats::default();
        stats.delivery_latency.counts = [3, 0, 2, 0, 0, 0, 0, 1];
        stats.delivery_latency.sum_micros = 2_500_000;
        let text = render(&stats, Duration::ZERO, None);
        let samples = samples(&text);
        let bucket = |le: &str| samples[format!("verimqtt_delivery_wait_seconds_bucket{{le=\"{le}\"}}").as_str()];
        assert_eq!((bucket("0.001"), bucket("0.01"), bucket("0.1"), bucket("600")), (3.0, 3.0, 5.0, 5.0));
        assert_eq!(bucket("+Inf"), 6.0);
        assert_eq!(samples["verimqtt_delivery_wait_seconds_count"], 6.0);
        assert_eq!(samples["verimqtt_delivery_wait_seconds_sum"], 2.5);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
