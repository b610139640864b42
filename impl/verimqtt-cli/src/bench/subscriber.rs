//! One subscriber's loop: reads its subscription as fast as messages come and records each
//! one, until told to stop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::StreamExt;
use tokio::sync::watch;
use verimqtt::runtime::client::Subscription;

use super::progress::Counters;
use super::stamp::nanos_since;
use super::stats::{Arrival, Reception};

/// What a subscriber received, and why it stopped early if it did.
pub struct Received {
    pub reception: Reception,
    pub error: Option<String>,
}

pub async fn receive(
    mut subscription: Subscription,
    mut reception: Reception,
    epoch: Instant,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Received {
    let error = loop {
        tokio::select! {
            biased;
            message = subscription.next() => match message {
                Some(message) => {
                    if reception.record(&message.payload, nanos_since(epoch, Instant::now())) == Arrival::New {
                        counters.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => break Some("the connection was lost".to_owned()),
            },
            _ = stop.changed() => break None,
        }
    };
    Received { reception, error }
}
