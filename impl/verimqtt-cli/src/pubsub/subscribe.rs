//! `verimqtt sub`: prints the messages on some topic filters, with mosquitto_sub's flags.

use std::io::Write;

use clap::Args;
use futures_util::StreamExt;
use verimqtt::codec::{MqttString, Subscription, SubscriptionOptions};
use verimqtt::runtime::client::{Message, Reconnect};

use super::connection::{ConnectionArgs, parse_qos, qos};

#[derive(Debug, Args)]
pub struct SubArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Topic filter to subscribe to; repeat for several (or the path of -L).
    #[arg(short = 't', long = "topic")]
    topics: Vec<String>,
    /// Maximum QoS of the subscriptions.
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = parse_qos)]
    qos: u8,
    /// Exit after this many messages.
    #[arg(short = 'C', long = "count")]
    count: Option<u64>,
    /// Print each message as `topic payload`.
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
}

pub async fn run(args: SubArgs) -> Result<(), String> {
    let (url, url_topic) = args.connection.url()?;
    let filters: Vec<String> = args.topics.iter().cloned().chain(url_topic).collect();
    if filters.is_empty() {
        return Err("no topic: give -t TOPIC (or a -L URL with a path)".into());
    }
    let subscriptions = filters
        .iter()
        .map(|filter| {
            let filter =
                MqttString::try_from(filter.as_str()).map_err(|error| format!("invalid topic {filter:?}: {error}"))?;
            Ok(Subscription { filter, options: SubscriptionOptions::new(qos(args.qos)) })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let client = args.connection.connect("sub", url, Reconnect::default()).await?;
    let mut messages = match client.subscribe_many(subscriptions).await {
        Ok(messages) => messages,
        Err(error) => {
            client.disconnect().await;
            return Err(format!("subscribe failed: {error}"));
        }
    };
    let mut printed = 0;
    let result = loop {
        if args.count.is_some_and(|count| printed >= count) {
            break Ok(());
        }
        tokio::select! {
            message = messages.next() => match message {
                Some(message) => {
                    if let Err(error) = print(&message, args.verbose) {
                        break Err(format!("cannot write: {error}"));
                    }
                    printed += 1;
                }
                None => break Err("the connection to the broker is lost for good".to_owned()),
            },
            _ = tokio::signal::ctrl_c() => break Ok(()),
        }
    };
    // Disconnect before the subscription is dropped, which would unsubscribe: with -c the
    // session keeps its subscriptions for the next run, as mosquitto_sub's does.
    client.disconnect().await;
    drop(messages);
    result
}

fn print(message: &Message, verbose: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if verbose {
        write!(out, "{} ", message.topic)?;
    }
    out.write_all(&message.payload)?;
    out.write_all(b"\n")?;
    out.flush()
}
