//! `verimqtt sub`: prints the messages on some topic filters, with mosquitto_sub's flags.

use std::io::Write;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use futures_util::StreamExt;
use verimqtt::codec::matching::matches;
use verimqtt::codec::{MqttString, QoS, Subscription, SubscriptionOptions};
use verimqtt::runtime::client::{AsyncClient, Message, Reconnect};

use super::Failure;
use super::connection::{ConnectionArgs, parse_qos, qos};
use super::output::Output;
use super::properties::PropertyFlags;

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
    /// Print each message as `topic payload` (an empty payload as `topic (null)`).
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Print each message as this format says: %t topic, %p payload, %q QoS, %r retain, %m
    /// packet id, %l payload length, %x/%X payload in hex, %j/%J JSON, %I ISO 8601 time, %U
    /// Unix time, %P user properties, %C content type, %R response topic, %D correlation data,
    /// %E message expiry, %F payload format, %S subscription id, %A topic alias, %% a %;
    /// with flags as %-08.3t; @X a strftime field (@N nanoseconds, @@ an @); \n \t \0 \\ \e ...
    #[arg(short = 'F', value_name = "FORMAT")]
    format: Option<String>,
    /// Do not add a line break after each message.
    #[arg(short = 'N')]
    no_end_of_line: bool,
    /// Indent the JSON of -F %j and %J.
    #[arg(long = "pretty")]
    pretty: bool,
    /// Do not print retained messages (those sent because they were retained).
    #[arg(short = 'R', conflicts_with = "retained_only")]
    no_retained: bool,
    /// Print only retained messages, and exit at the first message that is not.
    #[arg(long = "retained-only")]
    retained_only: bool,
    /// Clear each retained message received (publish an empty retained message on its
    /// topic), except those -T filters out.
    #[arg(long = "remove-retained")]
    remove_retained: bool,
    /// Do not print messages on topics matching this filter; repeat for several.
    #[arg(short = 'T', value_name = "FILTER")]
    filter_out: Vec<String>,
    /// Unsubscribe from this filter (kept by a persistent session) once connected; repeat for
    /// several.
    #[arg(short = 'U', value_name = "FILTER")]
    unsubscribe: Vec<String>,
    /// Exit once the broker has answered every subscription.
    #[arg(short = 'E')]
    exit_after_subscribe: bool,
    /// Exit after this many seconds (exit code 27, as mosquitto_sub).
    #[arg(short = 'W', value_name = "SECONDS")]
    timeout: Option<u64>,
}

/// mosquitto_sub's exit code when -W's time is up.
const TIMED_OUT: u8 = 27;

pub async fn run(args: SubArgs) -> Result<(), Failure> {
    let quiet = args.connection.quiet;
    let result = match args.timeout {
        Some(seconds) => tokio::time::timeout(Duration::from_secs(seconds), subscribe(&args))
            .await
            .unwrap_or(Err(Failure { message: Some("timed out".into()), exit_code: TIMED_OUT })),
        None => subscribe(&args).await,
    };
    result.map_err(|failure| if quiet { failure.quiet() } else { failure })
}

async fn subscribe(args: &SubArgs) -> Result<(), Failure> {
    // What is wrong with the flags is said before connecting.
    let output = Output::new(args.format.as_deref(), args.verbose, !args.no_end_of_line, args.pretty)?;
    let properties = args.connection.property_flags("sub")?;
    let (url, url_topic) = args.connection.url()?;
    let filters: Vec<String> = args.topics.iter().cloned().chain(url_topic).collect();
    if filters.is_empty() && args.unsubscribe.is_empty() {
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
    let result = session(args, &client, subscriptions, &properties, &output).await;
    // Disconnect before the subscription is dropped, which would unsubscribe: with -c the
    // session keeps its subscriptions for the next run, as mosquitto_sub's does.
    let disconnected = ConnectionArgs::disconnect(&client, &properties).await;
    result.and(disconnected)
}

/// Subscribes, unsubscribes (-U) and prints until a flag, a signal or the broker ends it.
async fn session(
    args: &SubArgs,
    client: &AsyncClient,
    subscriptions: Vec<Subscription>,
    properties: &PropertyFlags,
    output: &Output,
) -> Result<(), Failure> {
    let mut messages = None;
    if !subscriptions.is_empty() {
        let filters: Vec<MqttString> = subscriptions.iter().map(|subscription| subscription.filter.clone()).collect();
        let subscription = client
            .subscribe_granted(subscriptions, properties.subscribe.clone())
            .await
            .map_err(|error| format!("subscribe failed: {error}"))?;
        for (filter, code) in filters.iter().zip(subscription.granted()) {
            if code.is_failure() && !args.connection.quiet {
                eprintln!("verimqtt sub: the broker refused the subscription to {filter}: {code}");
            }
        }
        // Besides its own filters', every message that arrives, as mosquitto_sub prints it:
        // those a resumed session (-c) brings for the filters of an earlier run.
        let unclaimed = client.unclaimed().await.map_err(|error| format!("subscribe failed: {error}"))?;
        messages = Some(futures_util::stream::select(subscription, unclaimed));
    }
    if !args.unsubscribe.is_empty() {
        let filters: Vec<&str> = args.unsubscribe.iter().map(String::as_str).collect();
        client
            .unsubscribe_with_properties(&filters, properties.unsubscribe.clone())
            .await
            .map_err(|error| format!("unsubscribe failed: {error}"))?;
    }
    let Some(mut messages) = messages.filter(|_| !args.exit_after_subscribe) else {
        return Ok(());
    };
    let mut stop = pin!(crate::signals::stop());
    let mut printed = 0;
    loop {
        if args.count.is_some_and(|count| printed >= count) {
            return Ok(());
        }
        let message = tokio::select! {
            message = messages.next() => message,
            () = &mut stop => return Ok(()),
        };
        let Some(message) = message else {
            return Err("the connection to the broker is lost for good".into());
        };
        if args.retained_only && !message.retain {
            return Ok(());
        }
        if (args.no_retained && message.retain) || args.filter_out.iter().any(|filter| matches(filter, &message.topic))
        {
            continue;
        }
        if args.remove_retained && message.retain {
            client
                .publish(&message.topic, Bytes::new(), QoS::AtLeastOnce, true)
                .await
                .map_err(|error| format!("cannot remove the retained message on {}: {error}", message.topic))?;
        }
        print(output, &message, args.connection.quiet).map_err(|error| format!("cannot write: {error}"))?;
        printed += 1;
    }
}

fn print(output: &Output, message: &Message, quiet: bool) -> std::io::Result<()> {
    let (bytes, errors) = output.render(message, chrono::Local::now());
    for error in errors.iter().filter(|_| !quiet) {
        eprintln!("verimqtt sub: {error}");
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()
}
