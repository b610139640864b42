//! One publisher's loop: stamped messages on its topic, at most `inflight` unfinished at a
//! time, at its rate or as fast as the window allows, until the duration or the count is
//! reached; then it waits for its last publishes to complete.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::watch;
use verimqtt::client::{DroppedRequest, Event};
use verimqtt::codec::{MqttString, Properties, QoS, ReasonCode};

use super::connection::Connection;
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

impl Published {
    fn settle(&mut self, counters: &Counters, failure: Option<String>) {
        match failure {
            None => {
                self.completed += 1;
                counters.completed.fetch_add(1, Ordering::Relaxed);
            }
            Some(error) => {
                self.failed += 1;
                self.error.get_or_insert(error);
            }
        }
    }
}

/// Runs `publisher` on `connection` from `epoch` until the load says stop, or until `stop` is
/// signalled (its unfinished publishes are then abandoned), and disconnects.
pub async fn publish(
    mut connection: Connection,
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
    let topic = match MqttString::try_from(topic.as_str()) {
        Ok(topic) => topic,
        Err(error) => {
            done.error = Some(format!("invalid topic: {error}"));
            return done;
        }
    };
    // Handed to the client and not complete yet.
    let mut unfinished: usize = 0;
    let mut next_at = epoch;
    let mut issuing = true;
    'run: loop {
        let now = Instant::now();
        connection.on_time(now);
        while issuing {
            if done.sent >= count || end.is_some_and(|end| now >= end) || done.error.is_some() {
                issuing = false;
                done.publishing = now.duration_since(epoch).as_secs_f64();
                break;
            }
            if unfinished >= settings.inflight {
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
            match connection.client().publish(now, topic.clone(), payload, settings.qos, false, Properties::default()) {
                Ok(_) => {
                    done.sent += 1;
                    unfinished += 1;
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => done.error = Some(error.to_string()),
            }
        }
        if let Err(error) = connection.flush().await {
            done.error.get_or_insert(format!("cannot write: {error}"));
            break;
        }
        if settings.qos == QoS::AtMostOnce {
            // Written: complete.
            for _ in 0..unfinished {
                done.settle(&counters, None);
            }
            unfinished = 0;
        }
        while let Some(event) = connection.poll_event() {
            match event {
                Event::PubAck { ack, .. } | Event::PubComp { ack, .. } => {
                    unfinished = unfinished.saturating_sub(1);
                    done.settle(&counters, refusal(ack.reason_code));
                }
                // A failure ends a QoS 2 exchange at PUBREC.
                Event::PubRec { ack, .. } if ack.reason_code.is_failure() => {
                    unfinished = unfinished.saturating_sub(1);
                    done.settle(&counters, refusal(ack.reason_code));
                }
                Event::Dropped { reason, requests } => {
                    for _ in requests.iter().filter(|request| matches!(request, DroppedRequest::Publish { .. })) {
                        unfinished = unfinished.saturating_sub(1);
                        done.settle(&counters, Some(format!("given up: {reason:?}")));
                    }
                }
                Event::Disconnected { reason, .. } => {
                    done.error.get_or_insert(format!("disconnected: {reason:?}"));
                    break 'run;
                }
                _ => {}
            }
        }
        if !issuing && unfinished == 0 {
            break;
        }
        if issuing && unfinished < settings.inflight && settings.period.is_none() {
            // Room in the window and no rate to keep: take what has arrived without waiting,
            // let the other tasks run, and publish on.
            if let Err(error) = connection.read_ready() {
                done.error.get_or_insert(format!("cannot read: {error}"));
                break;
            }
            if stop.has_changed().unwrap_or(true) {
                break;
            }
            tokio::task::yield_now().await;
            continue;
        }
        // Wake for the next message of the rate when the window has room, and at the end
        // even when it has none, so that publishing stops on time.
        let next = settings.period.filter(|_| unfinished < settings.inflight).map(|_| next_at);
        let wake = match (issuing, next, end) {
            (false, _, _) => None,
            (true, Some(next), Some(end)) => Some(next.min(end)),
            (true, next, end) => next.or(end),
        };
        let timer = connection.client().poll_timeout();
        tokio::select! {
            biased;
            read = connection.read() => if let Err(error) = read {
                done.error.get_or_insert(format!("cannot read: {error}"));
                break;
            },
            () = sleep_until(timer) => {}
            () = sleep_until(wake) => {}
            _ = stop.changed() => break,
        }
    }
    if issuing {
        done.publishing = epoch.elapsed().as_secs_f64();
    }
    connection.close().await;
    done
}

/// The error a reason code of an acknowledgement means, if it is a failure.
fn refusal(reason_code: ReasonCode) -> Option<String> {
    reason_code.is_failure().then(|| format!("the broker answered with reason code {reason_code}"))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
