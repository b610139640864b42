//! The result of a run: put together from what the publishers and subscribers did, printed
//! as a summary and written as JSON.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::options::{Settings, Until};
use super::publisher::Published;
use super::shape::Shape;
use super::stats::{Percentiles, Tally, latency_histogram};
use super::subscriber::Received;

#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: String,
    /// Seconds since 1970 when the load started.
    pub started_unix_s: u64,
    pub broker: String,
    /// `--insecure`: the broker's certificate was not checked.
    pub insecure_tls: bool,
    pub load: Load,
    /// From the start to the last message handed to a client.
    pub publishing_s: f64,
    /// From the start to the last message delivered for the first time.
    pub delivering_s: f64,
    pub sent: u64,
    pub completed: u64,
    pub failed: u64,
    #[serde(flatten)]
    pub tally: Tally,
    pub delivered_percent: f64,
    /// Messages sent per second of publishing.
    pub sent_per_s: f64,
    /// Messages delivered (first copies) per second of delivering.
    pub delivered_per_s: f64,
    /// From the stamp in the payload to its arrival, for first copies.
    pub latency_us: Option<Percentiles>,
    /// Processor time the tool used, and in percent of one core over the run.
    pub tool_cpu_s: Option<f64>,
    pub tool_cpu_percent: Option<f64>,
    pub errors: Vec<String>,
    pub publishers: Vec<Published>,
    pub subscribers: Vec<SubscriberReport>,
}

#[derive(Debug, Serialize)]
pub struct Load {
    pub shape: &'static str,
    pub publishers: usize,
    pub subscribers: usize,
    pub qos: u8,
    pub protocol: &'static str,
    pub payload_bytes: usize,
    /// Messages per second of each publisher; `None`: as fast as possible.
    pub rate_per_publisher: Option<f64>,
    pub inflight: usize,
    pub duration_s: Option<f64>,
    pub count_per_publisher: Option<u64>,
    pub topic_prefix: String,
    pub persistent_sessions: bool,
}

#[derive(Debug, Serialize)]
pub struct SubscriberReport {
    pub id: u32,
    pub filter: String,
    #[serde(flatten)]
    pub tally: Tally,
    pub latency_us: Option<Percentiles>,
    pub error: Option<String>,
}

/// How the run went, measured by the caller.
pub struct Run {
    pub started_unix_s: u64,
    pub elapsed_s: f64,
    pub insecure_tls: bool,
    pub tool_cpu_s: Option<f64>,
}

impl Report {
    /// Subscribers come with their filters, in the plan's order.
    pub fn new(
        settings: &Settings,
        run: Run,
        publishers: Vec<Published>,
        subscribers: Vec<(u32, String, Received)>,
    ) -> Self {
        let mut sent_by = vec![0; publishers.iter().map(|published| published.id as usize + 1).max().unwrap_or(0)];
        for published in &publishers {
            sent_by[published.id as usize] = published.sent;
        }
        let mut tally = Tally::default();
        let mut latency = latency_histogram();
        let mut delivering_ns = 0;
        let mut errors: Vec<String> = Vec::new();
        let subscribers: Vec<SubscriberReport> = subscribers
            .into_iter()
            .map(|(id, filter, received)| {
                let own = received.reception.tally(&sent_by);
                tally += own;
                // Both histograms have the same bounds: adding cannot fail.
                let _ = latency.add(received.reception.latency());
                delivering_ns = delivering_ns.max(received.reception.last_new_at().unwrap_or(0));
                if let Some(error) = &received.error {
                    errors.push(format!("subscriber {id}: {error}"));
                }
                let latency_us = Percentiles::of(received.reception.latency());
                SubscriberReport { id, filter, tally: own, latency_us, error: received.error }
            })
            .collect();
        errors.extend(
            publishers
                .iter()
                .filter_map(|published| Some(format!("publisher {}: {}", published.id, published.error.as_ref()?))),
        );
        let publishing_s = publishers.iter().map(|published| published.publishing).fold(0.0, f64::max);
        let delivering_s = delivering_ns as f64 / 1e9;
        let sent = publishers.iter().map(|published| published.sent).sum();
        let tool_cpu_percent = run.tool_cpu_s.map(|cpu| 100.0 * cpu / run.elapsed_s.max(1e-9));
        Report {
            tool: format!("verimqtt bench {}", env!("CARGO_PKG_VERSION")),
            started_unix_s: run.started_unix_s,
            broker: settings.url.to_string(),
            insecure_tls: run.insecure_tls,
            load: Load::of(settings, publishers.len(), subscribers.len()),
            publishing_s,
            delivering_s,
            sent,
            completed: publishers.iter().map(|published| published.completed).sum(),
            failed: publishers.iter().map(|published| published.failed).sum(),
            tally,
            delivered_percent: tally.delivered_percent(),
            sent_per_s: per_second(sent, publishing_s),
            delivered_per_s: per_second(tally.delivered, delivering_s),
            latency_us: Percentiles::of(&latency),
            tool_cpu_s: run.tool_cpu_s,
            tool_cpu_percent,
            errors,
            publishers,
            subscribers,
        }
    }

    /// A few lines for people.
    pub fn summary(&self) -> String {
        let load = &self.load;
        let rate =
            load.rate_per_publisher.map_or("as fast as possible".to_owned(), |rate| format!("{rate} msg/s each"));
        let mut text = format!(
            "{} against {}{}\n\
             load: {}, QoS {}, MQTT {}, {}-byte payloads, {rate}, {} in flight\n\
             sent {} in {:.2} s ({:.0} msg/s), {} completed, {} failed\n\
             delivered {} of {} ({:.2} %) in {:.2} s ({:.0} msg/s): {} lost, {} duplicates, {} out of order, {} unexpected\n",
            self.tool,
            self.broker,
            if self.insecure_tls { " (INSECURE: certificate not checked)" } else { "" },
            self.load.shape,
            load.qos,
            load.protocol,
            load.payload_bytes,
            load.inflight,
            self.sent,
            self.publishing_s,
            self.sent_per_s,
            self.completed,
            self.failed,
            self.tally.delivered,
            self.tally.expected,
            self.delivered_percent,
            self.delivering_s,
            self.delivered_per_s,
            self.tally.lost,
            self.tally.duplicates,
            self.tally.reordered,
            self.tally.unexpected,
        );
        if let Some(latency) = &self.latency_us {
            text += &format!(
                "latency µs: min {} p50 {} p90 {} p99 {} p99.9 {} max {} mean {:.0}\n",
                latency.min, latency.p50, latency.p90, latency.p99, latency.p999, latency.max, latency.mean
            );
        }
        if let (Some(cpu), Some(percent)) = (self.tool_cpu_s, self.tool_cpu_percent) {
            text += &format!("tool CPU: {cpu:.2} s ({percent:.0} % of one core)\n");
        }
        for error in &self.errors {
            text += &format!("error: {error}\n");
        }
        text
    }

    /// Writes the JSON result to `path`, or to standard output for `-`.
    pub fn write_json(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).map_err(|error| error.to_string())?;
        if path.as_os_str() == "-" {
            let mut stdout = std::io::stdout().lock();
            return writeln!(stdout, "{json}").map_err(|error| format!("cannot write the result: {error}"));
        }
        std::fs::write(path, json + "\n").map_err(|error| format!("cannot write {}: {error}", path.display()))
    }
}

impl Load {
    fn of(settings: &Settings, publishers: usize, subscribers: usize) -> Self {
        Load {
            shape: match settings.shape {
                Shape::Pairs(_) => "pairs",
                Shape::FanIn(_) => "fan-in",
                Shape::FanOut(_) => "fan-out",
            },
            publishers,
            subscribers,
            qos: settings.qos as u8,
            protocol: if settings.version.is_v5() { "5.0" } else { "3.1.1" },
            payload_bytes: settings.size,
            rate_per_publisher: settings.rate,
            inflight: settings.inflight,
            duration_s: match settings.until {
                Until::Elapsed(duration) => Some(duration.as_secs_f64()),
                Until::Sent(_) => None,
            },
            persistent_sessions: settings.persistent_sessions,
            count_per_publisher: match settings.until {
                Until::Sent(count) => Some(count),
                Until::Elapsed(_) => None,
            },
            topic_prefix: settings.prefix.clone(),
        }
    }
}

fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 { count as f64 / seconds } else { 0.0 }
}
