//! `verimqtt bench`: a load generator for any MQTT broker. Publishers send stamped messages
//! (run, publisher, sequence number, time) on their topics, subscribers read theirs as fast
//! as they come, and the result counts what was delivered, lost, duplicated and reordered,
//! with the throughput and the latency percentiles, as a summary and as JSON.
//!
//! Subscribers are async clients (`Subscription` streams); publishers drive the sans-IO
//! client on their own connections, so that a window of publishes leaves in one write and
//! the tool stays cheap next to the broker it measures (impl/verimqtt-cli/BENCHMARKS.md has the numbers).

mod connect;
mod connection;
mod cpu;
mod link;
pub mod options;
mod progress;
mod publisher;
mod report;
mod shape;
mod stamp;
mod stats;
mod subscriber;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::{join_all, try_join_all};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use verimqtt::runtime::client::{AsyncClient, INSECURE_WARNING, Subscription};

use connect::Connector;
use options::{BenchArgs, Settings};
use progress::{Counters, Progress};
use publisher::Published;
use report::{Report, Run};
use stats::Reception;
use subscriber::Received;

/// How often the end of the run is looked for.
const WATCH_PERIOD: Duration = Duration::from_millis(20);

pub async fn run(args: BenchArgs) -> Result<(), String> {
    let settings = Arc::new(args.settings(run_id())?);
    if args.tls.insecure {
        eprintln!("verimqtt bench: {INSECURE_WARNING}");
    }
    let connector = Connector::new(&args, &settings)?;
    let plan = settings.shape.plan(&settings.prefix);
    let name = |role: &str, id: u32| format!("verimqtt-bench-{:08x}-{role}-{id}", settings.run);
    // Subscribers first, so that the first message already has somewhere to go.
    let subscribers = try_join_all(plan.subscribers.iter().map(|subscriber| async {
        let client = connector.connect(name("sub", subscriber.id), settings.persistent_sessions).await?;
        let subscription = client.subscribe(&subscriber.filter, settings.qos).await.map_err(|error| {
            format!("subscriber {}: cannot subscribe to {}: {error}", subscriber.id, subscriber.filter)
        })?;
        Ok::<(AsyncClient, Subscription), String>((client, subscription))
    }))
    .await?;
    let publishers =
        try_join_all(plan.publishers.iter().map(|publisher| connector.open(name("pub", publisher.id)))).await?;

    let counters = Arc::new(Counters::default());
    let (stop, stopped) = watch::channel(false);
    let started_unix_s = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let cpu_before = cpu::process_seconds();
    let epoch = Instant::now();
    let progress =
        Progress::start(!args.no_progress, settings.until, plan.publishers.len() as u64, counters.clone(), epoch);
    let mut subscriber_clients = Vec::new();
    let mut receiving: Vec<JoinHandle<Received>> = Vec::new();
    for ((client, subscription), subscriber) in subscribers.into_iter().zip(&plan.subscribers) {
        let reception = Reception::new(settings.run, &subscriber.sources);
        receiving.push(tokio::spawn(subscriber::receive(
            subscription,
            reception,
            epoch,
            counters.clone(),
            stopped.clone(),
        )));
        subscriber_clients.push(client);
    }
    let mut publishing: Vec<JoinHandle<Published>> = Vec::new();
    for (connection, publisher) in publishers.into_iter().zip(&plan.publishers) {
        let task = publisher::publish(
            connection,
            publisher.clone(),
            settings.clone(),
            epoch,
            counters.clone(),
            stopped.clone(),
        );
        publishing.push(tokio::spawn(task));
    }
    wait_for_the_end(&settings, &publishing, &counters).await;
    let _ = stop.send(true);
    let elapsed_s = epoch.elapsed().as_secs_f64();
    let published = join_all(publishing).await.into_iter().collect::<Result<Vec<_>, _>>();
    let received = join_all(receiving).await.into_iter().collect::<Result<Vec<_>, _>>();
    let tool_cpu_s = cpu::process_seconds().zip(cpu_before).map(|(after, before)| after - before);
    progress.finish();
    join_all(subscriber_clients.iter().map(AsyncClient::disconnect)).await;
    let published = published.map_err(|error| format!("a publisher failed: {error}"))?;
    let received = received.map_err(|error| format!("a subscriber failed: {error}"))?;

    let subscribers =
        plan.subscribers.iter().zip(received).map(|(plan, got)| (plan.id, plan.filter.clone(), got)).collect();
    let run = Run { started_unix_s, elapsed_s, insecure_tls: args.tls.insecure, tool_cpu_s };
    let report = Report::new(&settings, run, published, subscribers);
    let json_to_stdout = args.json.as_deref().is_some_and(|path| path.as_os_str() == "-");
    if !json_to_stdout {
        print!("{}", report.summary());
    }
    match &args.json {
        Some(path) => report.write_json(path),
        None => Ok(()),
    }
}

/// Returns once every publisher is done and every message it sent is delivered, or once
/// nothing moved (no message sent, completed or delivered) for the drain time, or for two
/// periods of a slow rate: what is missing then is lost.
async fn wait_for_the_end(settings: &Settings, publishing: &[JoinHandle<Published>], counters: &Counters) {
    let patience = settings.period.map_or(settings.drain, |period| settings.drain.max(period * 2));
    let copies = settings.shape.copies();
    let read = || {
        let sent = counters.sent.load(Ordering::Relaxed);
        (sent, counters.completed.load(Ordering::Relaxed), counters.delivered.load(Ordering::Relaxed))
    };
    let (mut last, mut moved_at) = (read(), Instant::now());
    loop {
        tokio::time::sleep(WATCH_PERIOD).await;
        let now = read();
        let (sent, _, delivered) = now;
        if publishing.iter().all(JoinHandle::is_finished) && delivered >= sent.saturating_mul(copies) {
            return;
        }
        if now != last {
            (last, moved_at) = (now, Instant::now());
        } else if moved_at.elapsed() >= patience {
            return;
        }
    }
}

/// A number unique enough to tell this run's messages from others on the same broker.
fn run_id() -> u32 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16)
}
