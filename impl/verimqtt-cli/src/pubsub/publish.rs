//! `verimqtt pub`: publishes one message, or one per line of standard input, with
//! mosquitto_pub's flags.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use tokio::io::{AsyncBufReadExt, BufReader};
use verimqtt::codec::Properties;
use verimqtt::runtime::client::{AsyncClient, Reconnect};

use super::Failure;
use super::connection::{ConnectionArgs, parse_qos, qos};

#[derive(Debug, Args)]
pub struct PubArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Topic to publish on (or the path of -L).
    #[arg(short = 't', long = "topic")]
    topic: Option<String>,
    #[command(flatten)]
    payload: Payload,
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = parse_qos)]
    qos: u8,
    /// Ask the broker to retain the message.
    #[arg(short = 'r', long = "retain")]
    retain: bool,
    /// Publish the message this many times.
    #[arg(long = "repeat", value_name = "COUNT", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Seconds to wait between repeated messages (fractions allowed).
    #[arg(long = "repeat-delay", value_name = "SECONDS", value_parser = parse_seconds, requires = "repeat")]
    repeat_delay: Option<Duration>,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| format!("{text:?} is not a number of seconds"))
}

/// Where the message comes from: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct Payload {
    /// The message.
    #[arg(short = 'm', long = "message")]
    message: Option<String>,
    /// Send the contents of a file as the message.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Send each line of standard input as a message (blank lines are skipped).
    #[arg(short = 'l', long = "stdin-line")]
    lines: bool,
    /// Send an empty (null) message.
    #[arg(short = 'n', long = "null-message")]
    null: bool,
    /// Send all of standard input as one message.
    #[arg(short = 's', long = "stdin-file")]
    stdin: bool,
}

pub async fn run(args: PubArgs) -> Result<(), Failure> {
    let quiet = args.connection.quiet;
    publish_as_asked(args).await.map_err(|failure| if quiet { failure.quiet() } else { failure })
}

async fn publish_as_asked(args: PubArgs) -> Result<(), Failure> {
    // Read a file or standard input and find the topic before connecting: what is missing
    // there is not the broker's business.
    let Payload { message, file, lines, null, stdin } = &args.payload;
    let whole: Option<Bytes> = match (message, file) {
        (Some(message), _) => Some(Bytes::from(message.clone())),
        (_, Some(path)) => {
            Some(std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?.into())
        }
        _ if *null => Some(Bytes::new()),
        _ if *stdin => {
            let mut all = Vec::new();
            std::io::stdin().read_to_end(&mut all).map_err(|error| format!("cannot read standard input: {error}"))?;
            Some(all.into())
        }
        _ => None,
    };
    let (url, url_topic) = args.connection.url()?;
    let topic = args.topic.clone().or(url_topic).ok_or("no topic: give -t TOPIC (or a -L URL with a path)")?;
    let flags = args.connection.property_flags("pub")?;
    let properties = &flags.publish;
    let retries = Reconnect { max_retries: Some(3), ..Reconnect::default() };
    let client = args.connection.connect("pub", url, retries).await?;
    let sending = async {
        match whole {
            Some(payload) => publish_repeated(&client, &topic, payload, properties, &args).await,
            None if *lines => publish_lines(&client, &topic, properties, &args).await,
            None => Ok(()),
        }
    };
    // A signal ends the run with a normal DISCONNECT, as the end of the input does.
    let sent = tokio::select! {
        sent = sending => sent,
        () = crate::signals::stop() => Ok(()),
    };
    let disconnected = ConnectionArgs::disconnect(&client, &flags).await;
    sent?;
    disconnected
}

/// The message, --repeat times, --repeat-delay apart.
async fn publish_repeated(
    client: &AsyncClient,
    topic: &str,
    payload: Bytes,
    properties: &Properties,
    args: &PubArgs,
) -> Result<(), String> {
    for round in 0..args.repeat {
        if round > 0 {
            if let Some(delay) = args.repeat_delay {
                tokio::time::sleep(delay).await;
            }
        }
        publish(client, topic, payload.clone(), properties, args).await?;
    }
    Ok(())
}

async fn publish(
    client: &AsyncClient,
    topic: &str,
    payload: Bytes,
    properties: &Properties,
    args: &PubArgs,
) -> Result<(), String> {
    client
        .publish_with_properties(topic, payload, qos(args.qos), args.retain, properties.clone())
        .await
        .map_err(|error| format!("publish failed: {error}"))
}

/// One message per line, without its line break, in order; blank lines are skipped, as
/// mosquitto_pub skips them.
async fn publish_lines(
    client: &AsyncClient,
    topic: &str,
    properties: &Properties,
    args: &PubArgs,
) -> Result<(), String> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await.map_err(|error| format!("cannot read standard input: {error}"))? {
        if !line.is_empty() {
            publish(client, topic, line.into(), properties, args).await?;
        }
    }
    Ok(())
}
