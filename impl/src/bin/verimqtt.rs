//! `verimqtt`: the command line of verimqtt. `verimqtt broker` serves MQTT 3.1.1 and 5.0.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::codec::QoS;

#[derive(Debug, Parser)]
#[command(name = "verimqtt", version, about = "A model-checked reference implementation of MQTT 3.1.1 and 5.0")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an MQTT broker until Ctrl-C. Logs go to stderr; RUST_LOG sets the level (default
    /// info; debug shows every socket).
    Broker(BrokerArgs),
}

/// Each limit defaults to the broker's default (see `BrokerOptions`).
#[derive(Debug, Args)]
struct BrokerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:1883")]
    listen: SocketAddr,
    /// Open connections at most; more are refused at accept.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Seconds a new connection has to send CONNECT.
    #[arg(long, value_name = "SECONDS")]
    connect_timeout: Option<u64>,
    /// Largest packet accepted, in bytes, fixed header included.
    #[arg(long, value_name = "BYTES")]
    max_packet_size: Option<u32>,
    /// QoS 2 messages a client may have unfinished toward the broker.
    #[arg(long)]
    receive_maximum: Option<NonZeroU16>,
    /// QoS 1 and 2 messages in flight toward a client.
    #[arg(long)]
    max_inflight: Option<NonZeroU16>,
    /// Messages queued per session; new ones are dropped past it.
    #[arg(long)]
    max_queued_messages: Option<usize>,
    /// Queue QoS 0 messages for offline persistent sessions too.
    #[arg(long)]
    queue_qos0_offline: bool,
    /// Topics with a retained message at most.
    #[arg(long)]
    max_retained_messages: Option<usize>,
    /// Subscriptions per session at most.
    #[arg(long)]
    max_subscriptions_per_session: Option<usize>,
    /// Sessions (connected and offline) at most.
    #[arg(long)]
    max_sessions: Option<usize>,
    /// Longest a session outlives its connection (also ends 3.1.1 persistent sessions).
    #[arg(long, value_name = "SECONDS")]
    max_session_expiry: Option<u32>,
    /// Highest keep alive allowed; MQTT 5 clients asking for more (or 0) are told this.
    #[arg(long, value_name = "SECONDS")]
    max_keep_alive: Option<NonZeroU16>,
    /// Topic aliases an MQTT 5 client may set (0: none).
    #[arg(long)]
    topic_alias_maximum: Option<u16>,
    /// Give topic aliases to messages sent to MQTT 5 clients that accept them.
    #[arg(long)]
    outbound_topic_aliases: bool,
    /// Highest QoS supported: 0, 1 or 2.
    #[arg(long, value_parser = parse_qos)]
    maximum_qos: Option<QoS>,
    /// Do not keep retained messages.
    #[arg(long)]
    no_retain: bool,
}

fn parse_qos(text: &str) -> Result<QoS, String> {
    text.parse::<u8>().ok().and_then(QoS::from_u8).ok_or_else(|| format!("{text:?} is not a QoS (0, 1 or 2)"))
}

impl BrokerArgs {
    fn options(&self) -> BrokerOptions {
        let defaults = BrokerOptions::default();
        BrokerOptions {
            max_connections: self.max_connections.unwrap_or(defaults.max_connections),
            connect_timeout: self.connect_timeout.map_or(defaults.connect_timeout, Duration::from_secs),
            max_packet_size: self.max_packet_size.unwrap_or(defaults.max_packet_size),
            receive_maximum: self.receive_maximum.unwrap_or(defaults.receive_maximum),
            max_inflight: self.max_inflight.unwrap_or(defaults.max_inflight),
            max_queued_messages: self.max_queued_messages.unwrap_or(defaults.max_queued_messages),
            queue_qos0_offline: self.queue_qos0_offline,
            max_retained_messages: self.max_retained_messages.unwrap_or(defaults.max_retained_messages),
            max_subscriptions_per_session: self
                .max_subscriptions_per_session
                .unwrap_or(defaults.max_subscriptions_per_session),
            max_sessions: self.max_sessions.unwrap_or(defaults.max_sessions),
            max_session_expiry_interval: self.max_session_expiry.unwrap_or(defaults.max_session_expiry_interval),
            max_keep_alive: self.max_keep_alive.or(defaults.max_keep_alive),
            topic_alias_maximum: self.topic_alias_maximum.unwrap_or(defaults.topic_alias_maximum),
            outbound_topic_aliases: self.outbound_topic_aliases,
            maximum_qos: self.maximum_qos.unwrap_or(defaults.maximum_qos),
            retain_available: !self.no_retain,
            ..defaults
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Command::Broker(args) => run_broker(&args),
    }
}

fn run_broker(args: &BrokerArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        verimqtt::runtime::serve(listener, args.options(), AllowAll, ctrl_c()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, listen = %args.listen, "broker failed");
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C. Without signal support it never completes, rather than stopping the
/// broker at once.
async fn ctrl_c() {
    match tokio::signal::ctrl_c().await {
        Ok(()) => tracing::info!("Ctrl-C: stopping"),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for Ctrl-C; stop the process another way");
            std::future::pending::<()>().await;
        }
    }
}
