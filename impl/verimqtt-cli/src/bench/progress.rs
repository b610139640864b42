//! The counters the publishers and subscribers bump as they go, and the progress bar that
//! shows them on standard error.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use super::options::Until;

#[derive(Debug, Default)]
pub struct Counters {
    /// Messages handed to the clients by every publisher.
    pub sent: AtomicU64,
    /// Publishes complete for their QoS.
    pub completed: AtomicU64,
    /// Messages received by every subscriber for the first time.
    pub delivered: AtomicU64,
}

/// A bar on standard error, redrawn five times a second, while the load runs.
pub struct Progress {
    bar: ProgressBar,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts showing the load that `until` bounds, sent by `publishers`; hidden when `shown`
    /// is false or standard error is not a terminal.
    pub fn start(shown: bool, until: Until, publishers: u64, counters: Arc<Counters>, epoch: Instant) -> Self {
        if !shown || !std::io::stderr().is_terminal() {
            return Progress { bar: ProgressBar::hidden(), ticker: None };
        }
        // The bar measures time for a duration, messages sent for a count.
        let (length, unit) = match until {
            Until::Elapsed(duration) => (u64::try_from(duration.as_millis()).unwrap_or(u64::MAX), "ms"),
            Until::Sent(count) => (count.saturating_mul(publishers), "msg"),
        };
        let style =
            ProgressStyle::with_template(&format!("{{elapsed:>4}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{msg}}"))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr()).with_style(style);
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_millis(200));
            let mut last = (Instant::now(), 0);
            loop {
                ticks.tick().await;
                let (sent, delivered) =
                    (counters.sent.load(Ordering::Relaxed), counters.delivered.load(Ordering::Relaxed));
                let now = Instant::now();
                let rate = (delivered - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-3);
                last = (now, delivered);
                shown.set_position(match until {
                    Until::Elapsed(_) => u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX),
                    Until::Sent(_) => sent,
                });
                shown.set_message(format!("sent {sent}  delivered {delivered}  {rate:.0} msg/s"));
            }
        });
        Progress { bar, ticker: Some(ticker) }
    }

    pub fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        self.bar.finish_and_clear();
    }
}
