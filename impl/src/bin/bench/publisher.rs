//! One publisher's loop: stamped messages on its topic, at most `inflight` unfinished at a
//! time, at its rate or as fast as the window allows, until the duration or the count is
//! reached; then it waits for its last publishes to complete.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Serialize;
use tokio::sync::watch;
use verimqtt::runtime::client::AsyncClient;

use super::options::{Settings, Until};
use super::progress::Counters;
use super::shape::Publisher;
use super::stamp::{Stamp, nanos_since};

/// What one publisher did.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub id: u32,
    pub topic: String,
    /// Messages handed to the client (numbered 0 to `sent - 1`).
    pub sent: u64,
    /// Publishes complete for their QoS: written (0), PUBACK (1), PUBCOMP (2).
    pub completed: u64,
    pub failed: u64,
    /// Seconds from the start to the last message handed to the client.
    #[serde(rename = "publishing_s")]
    pub publishing: f64,
    /// The first failure: the publisher sends nothing after it.
    pub error: Option<String>,
}

/// Runs `publisher` on `client` from `epoch` until the load says stop, or until `stop` is
/// signalled (its unfinished publishes are then abandoned).
pub async fn publish(
    client: AsyncClient,
    publisher: Publisher,
    settings: Arc<Settings>,
    epoch: Instant,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Published {
    let end = match settings.until {
        Until::Elapsed(duration) => epoch.checked_add(duration),
        Until::Sent(_) => None,
    };
    let count = match settings.until {
        Until::Sent(count) => count,
        Until::Elapsed(_) => u64::MAX,
    };
    let Publisher { id, topic } = publisher;
    let mut done =
        Published { id, topic: topic.clone(), sent: 0, completed: 0, failed: 0, publishing: 0.0, error: None };
    let mut pending = FuturesUnordered::new();
    let mut next_at = epoch;
    let mut issuing = true;
    loop {
        while issuing {
            let now = Instant::now();
            if done.sent >= count || end.is_some_and(|end| now >= end) || done.error.is_some() {
                issuing = false;
                done.publishing = now.duration_since(epoch).as_secs_f64();
                break;
            }
            if pending.len() >= settings.inflight {
                break;
            }
            if let Some(period) = settings.period {
                if now < next_at {
                    break;
                }
                // Behind schedule, it catches up as fast as the window allows.
                next_at += period;
            }
            let stamp =
                Stamp { run: settings.run, publisher: id, sequence: done.sent, sent_at: nanos_since(epoch, now) };
            let payload = stamp.payload(settings.size);
            pending.push(client.publish(&topic, payload, settings.qos, false));
            done.sent += 1;
            counters.sent.fetch_add(1, Ordering::Relaxed);
        }
        if !issuing && pending.is_empty() {
            break;
        }
        // Wake for the next message of the rate when the window has room, and at the end
        // even when it has none, so that publishing stops on time.
        let next = settings.period.filter(|_| pending.len() < settings.inflight).map(|_| next_at);
        let wake = match (issuing, next, end) {
            (false, _, _) => None,
            (true, Some(next), Some(end)) => Some(next.min(end)),
            (true, next, end) => next.or(end),
        };
        tokio::select! {
            biased;
            Some(result) = pending.next() => match result {
                Ok(()) => {
                    done.completed += 1;
                    counters.completed.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    done.failed += 1;
                    done.error.get_or_insert_with(|| error.to_string());
                }
            },
            () = sleep_until(wake) => {}
            _ = stop.changed() => break,
        }
    }
    if issuing {
        done.publishing = epoch.elapsed().as_secs_f64();
    }
    done
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
