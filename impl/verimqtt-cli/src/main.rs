//! `verimqtt`: the command line of verimqtt. `verimqtt broker` serves MQTT 3.1.1 and 5.0;
//! `verimqtt passwd` writes password files; `verimqtt pub` and `verimqtt sub` publish and
//! subscribe with mosquitto_pub's and mosquitto_sub's flags; `verimqtt bench` puts a load on
//! any broker and measures it.

mod bench;
mod listen;
mod logging;
mod pubsub;
mod signals;

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use verimqtt::runtime::BrokerConfig;
use verimqtt::runtime::SyncPolicy;
use verimqtt::runtime::config::{Limits, Persistence};
use verimqtt::runtime::passwd::set_password;

use signals::Reload;

#[derive(Debug, Parser)]
#[command(name = "verimqtt", version, about = "A model-checked reference implementation of MQTT 3.1.1 and 5.0")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an MQTT broker until Ctrl-C or SIGTERM, which disconnect every client cleanly.
    /// SIGHUP reads the password and ACL files of the configuration again and reopens the
    /// log file. Logs go to stderr or --log-file; -v, else RUST_LOG, else the configuration's
    /// [log] level sets the level (default info; debug shows every socket, subscription and
    /// packet). An invalid level is an error.
    Broker(BrokerArgs),
    /// Add a user to a password file, or change its password. The file is in mosquitto's
    /// format (the hash is salted PBKDF2-SHA512) and is created if missing. As with
    /// mosquitto_passwd, -b takes the password as an argument; otherwise it is asked twice on
    /// a terminal, or read from the first line of standard input.
    Passwd(PasswdArgs),
    /// Publish a message (mosquitto_pub's flags; -h is the host, --help the help).
    #[command(disable_help_flag = true)]
    Pub(pubsub::publish::PubArgs),
    /// Print the messages on some topics (mosquitto_sub's flags; -h is the host, --help the
    /// help).
    #[command(disable_help_flag = true)]
    Sub(pubsub::subscribe::SubArgs),
    /// Put a load on any MQTT broker and measure it: publisher/subscriber pairs, fan-in or
    /// fan-out, at QoS 0, 1 or 2; prints messages sent, delivered, lost and duplicated, the
    /// throughput and latency percentiles (--json for all of it, per client).
    Bench(bench::options::BenchArgs),
}

/// Each limit defaults to the configuration file's, or else to the broker's default (see
/// `BrokerOptions`).
#[derive(Debug, Args)]
struct BrokerArgs {
    /// Configuration file (TOML: listeners, limits, auth, ACL, $SYS, persistence, log; see
    /// impl/verimqtt/examples/broker.toml). Without it: TCP on 127.0.0.1:1883, anonymous clients
    /// allowed.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// A TCP listener on this IP address and port ("0.0.0.0:1883", "[::]:1883"), or on each
    /// address of a host name ("localhost:1883", resolved at start), or a Unix domain socket
    /// ("unix:/run/verimqtt.sock"), instead of 127.0.0.1:1883; repeat it for several (without
    /// -c only: -c gives the file's).
    #[arg(long, value_name = "ADDRESS", value_parser = listen::parse, conflicts_with = "config")]
    listen: Vec<listen::ListenAddress>,
    /// A TCP listener on this port of 127.0.0.1, as mosquitto 2's -p without a configuration
    /// file (which also listens on ::1); repeat it for several (without -c only).
    #[arg(short = 'p', long, value_name = "PORT", conflicts_with = "config")]
    port: Vec<u16>,
    /// Keep persistent sessions, their messages and retained messages in this file (SQLite,
    /// created if missing) across restarts, acknowledging nothing before it is written there;
    /// instead of the configuration's [persistence] file.
    #[arg(long, value_name = "FILE")]
    persistence: Option<PathBuf>,
    /// When a write to the store waits for the disk: "always" (survives a power loss),
    /// "interval N ms" (loses at most N ms to a power loss) or "never"; every policy survives
    /// the broker being killed. Default: the configuration's, or "always".
    #[arg(long, value_name = "POLICY", requires = "persistence")]
    persistence_sync: Option<SyncPolicy>,
    /// Serve Prometheus' GET /metrics over HTTP on this address (e.g. 127.0.0.1:9883),
    /// instead of the configuration's [metrics] listen; off by default.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    #[command(flatten)]
    log: logging::LogFlags,
    #[command(flatten)]
    limits: Limits,
}

#[derive(Debug, Args)]
struct PasswdArgs {
    /// Batch mode: the password is the argument after the username.
    #[arg(short = 'b', requires = "password")]
    batch: bool,
    /// The password file.
    file: PathBuf,
    /// The user to add or change.
    user: String,
    /// The password (with -b only).
    #[arg(requires = "batch")]
    password: Option<String>,
}

/// jemalloc rather than the system allocator: glibc's keeps what a closed connection freed
/// (its arenas return memory only from their top), so 10,000 idle connections that come and
/// go left the broker at its peak size; jemalloc's background thread gives freed pages back
/// to the system within seconds.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The bytes jemalloc has handed out and not taken back (`stats.allocated`), for `$SYS`'s
/// `heap/*` and `/metrics`. jemalloc caches its statistics: advancing the epoch refreshes
/// them.
fn heap_allocated() -> Option<u64> {
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    let allocated = tikv_jemalloc_ctl::stats::allocated::read().ok()?;
    u64::try_from(allocated).ok()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Broker(args) => run_broker(args),
        Command::Passwd(args) => match run_passwd(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("verimqtt passwd: {error}");
                ExitCode::FAILURE
            }
        },
        Command::Pub(args) => run_client("pub", pubsub::publish::run(args)),
        Command::Sub(args) => run_client("sub", pubsub::subscribe::run(args)),
        Command::Bench(args) => run_bench(args),
    }
}

/// Runs `pub` or `sub`; a failure is one line on stderr (none with --quiet) and
/// mosquitto's exit code for it.
fn run_client(command: &str, run: impl Future<Output = Result<(), pubsub::Failure>>) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| pubsub::Failure::from(format!("cannot start the async runtime: {error}")))
        .and_then(|runtime| runtime.block_on(run));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = failure.message {
                eprintln!("verimqtt {command}: {message}");
            }
            ExitCode::from(failure.exit_code)
        }
    }
}

/// Runs `bench` on every core: the load must not be what limits the broker.
fn run_bench(args: bench::options::BenchArgs) -> ExitCode {
    let result = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start the async runtime: {error}"))
        .and_then(|runtime| runtime.block_on(bench::run(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("verimqtt bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_broker(args: BrokerArgs) -> ExitCode {
    let config = match &args.config {
        Some(path) => BrokerConfig::load(path),
        None => Ok(BrokerConfig::default()),
    };
    // The logs are set up from the configuration: errors until then go to stderr.
    let mut config = match config {
        Ok(config) => config,
        Err(error) => {
            eprintln!("verimqtt broker: invalid configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    let log_file = match logging::start(&args.log, &config.log) {
        Ok(log_file) => log_file,
        Err(error) => {
            eprintln!("verimqtt broker: {error}");
            return ExitCode::FAILURE;
        }
    };
    let listeners = listen::listeners(&args.listen, &args.port);
    if !listeners.is_empty() {
        // Without -c: they replace the default listener.
        config.listeners = listeners;
    }
    config.options = args.limits.apply(config.options);
    if let Some(file) = args.persistence.clone() {
        let sync = args.persistence_sync.or(config.persistence.as_ref().map(|p| p.sync)).unwrap_or(SyncPolicy::Always);
        config.persistence = Some(Persistence { file, sync });
    }
    if let Some(addr) = args.metrics {
        config.metrics = Some(addr);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let logs_to_file = log_file.is_some();
    let result = runtime.block_on(async {
        let (updates, policy_updates) = tokio::sync::mpsc::unbounded_channel();
        let reload = Reload {
            path: args.config,
            limits: args.limits,
            log_file,
            policy: config.policies(),
            options: config.options.clone(),
        };
        let server =
            config.bind().map_err(|error| error.to_string())?.policy_updates(policy_updates).heap(heap_allocated);
        tokio::spawn(signals::reload_on_hangup(reload, updates));
        server.run(signals::stop()).await.map_err(|error| error.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("broker failed: {error}");
            if logs_to_file {
                // Also where whoever started it looks first.
                eprintln!("verimqtt broker: {error}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run_passwd(args: &PasswdArgs) -> Result<(), String> {
    let password = match &args.password {
        Some(password) => password.clone(),
        None => read_password()?,
    };
    set_password(&args.file, &args.user, &password).map_err(|error| error.to_string())
}

/// Asks twice on a terminal; otherwise the first line of standard input, for scripts.
fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|error| error.to_string())?;
        let again = rpassword::prompt_password("Password again: ").map_err(|error| error.to_string())?;
        return if first == again { Ok(first) } else { Err("the passwords differ".into()) };
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|error| error.to_string())?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
