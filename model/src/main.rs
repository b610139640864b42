//! `verimqtt-model`: check the MQTT model exhaustively, or explore it in a browser.

use clap::{Args, Parser, Subcommand};
use stateright::Model;
use std::process::ExitCode;
use std::time::Duration;
use verimqtt_model::bits::Bits;
use verimqtt_model::bounds::Bounds;
use verimqtt_model::properties::{CATALOGUE, Expect};
use verimqtt_model::render::render;
use verimqtt_model::routing::{Filter, FilterQos, RetainHandling};
use verimqtt_model::runner::first_discovery;
use verimqtt_model::spec_broker::probe::{ProbeVerdict, check_probe_trace};
use verimqtt_model::spec_broker::refinement::{REFINES_SPEC, Refinement, check_refinement, render_rejection};
use verimqtt_model::{
    Bug, Config, Expiry, MqttModel, Options, Outcome, Qos, ResendOrder, Search, SessionKind, Version, check,
};

#[derive(Parser)]
#[command(version, about = "Model checker for MQTT 3.1.1 / 5.0 QoS, sessions and keep alive")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every reachable state of a configuration and report each property's verdict.
    Check {
        #[command(flatten)]
        model: ModelArgs,
        /// Depth-first search (less memory, longer counterexamples) instead of breadth-first.
        #[arg(long)]
        dfs: bool,
        /// Symmetry reduction: one state per class of states that differ only by
        /// interchangeable subscribers (depth-first; implies --dfs).
        #[arg(long)]
        symmetry: bool,
        /// Checker threads (default: every core).
        #[arg(long, default_value_t = all_cores())]
        threads: usize,
        /// Give up after this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
        /// Structural bound: connections per client (default: see `bounds.rs`).
        #[arg(long)]
        max_links: Option<usize>,
        /// Structural bound: packets per channel (default: see `bounds.rs`).
        #[arg(long)]
        max_packets: Option<usize>,
    },
    /// Serve stateright's explorer for a configuration.
    Explore {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long, default_value = "127.0.0.1:3000")]
        address: String,
    },
    /// Check that the design broker refines the specification broker (`src/spec_broker`):
    /// every broker event of every reachable state is one a spec broker state explains.
    Refine {
        #[command(flatten)]
        model: ModelArgs,
        /// Checker threads (default: every core).
        #[arg(long, default_value_t = all_cores())]
        threads: usize,
        /// Ticks past 1.5 x keep alive the spec broker allows for a keep alive close.
        #[arg(long, default_value_t = 1)]
        tolerance: u8,
    },
    /// Replay a probe trace (`verimqtt-traces probe`) against the specification broker, from
    /// the wire alone.
    SpecTrace {
        /// The trace (JSON Lines).
        file: std::path::PathBuf,
        /// Milliseconds past a timer's due time the broker may take (the probe's keep alive
        /// monitor allows 1,500).
        #[arg(long, default_value_t = 1500)]
        tolerance_ms: u64,
    },
    /// List the properties (with the statements they cover) and the seeded bugs.
    List,
}

#[derive(Args)]
struct ModelArgs {
    /// MQTT version: 3 (3.1.1) or 5 (5.0).
    #[arg(long, default_value = "5", value_parser = parse_version)]
    version: Version,
    /// Number of clients: the first `--publishers` publish, the others subscribe (1 client does
    /// both).
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Number of publishers: message n is published by client n % publishers.
    #[arg(long, default_value_t = 1)]
    publishers: usize,
    /// Topic (0 or 1) of the messages, cycled (e.g. 0,1).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    topics: Vec<u8>,
    /// Filters of each subscriber, cycled over the subscribers: filters joined by `&`, each
    /// `TOPIC:QOS` with TOPIC 0, 1 or `+` (both), e.g. `+:1&0:2,1:0`; 5.0 retain options
    /// follow: `:rh1` / `:rh2` (Retain Handling 1 / 2), `:rap` (Retain As Published).
    #[arg(long, value_delimiter = ',', default_value = "0:2", value_parser = parse_filters)]
    subscriptions: Vec<Vec<FilterQos>>,
    /// Filters each subscriber adds with a second SUBSCRIBE once its first is granted, cycled
    /// over the subscribers, as `--subscriptions` (`-`: that subscriber sends none), e.g. `+:2`.
    #[arg(long, value_delimiter = ',', value_parser = parse_added_filters)]
    added_subscriptions: Vec<Vec<FilterQos>>,
    /// Number of messages the publisher publishes.
    #[arg(long, default_value_t = 2)]
    messages: usize,
    /// QoS of the messages, cycled (e.g. 1,2,0).
    #[arg(long, value_delimiter = ',', default_value = "1,2,0", value_parser = parse_qos)]
    qos: Vec<Qos>,
    /// Session kind per client, cycled: persistent or clean.
    #[arg(long, value_delimiter = ',', default_value = "persistent", value_parser = parse_session)]
    sessions: Vec<SessionKind>,
    /// Network cuts the environment may inject.
    #[arg(long, default_value_t = 1)]
    cuts: u8,
    /// Keep Alive in ticks.
    #[arg(long, default_value_t = 2)]
    keep_alive: u8,
    /// Ticks without receiving anything after which a client gives up on its connection.
    #[arg(long, default_value_t = 3)]
    abort_after: u8,
    /// Packet ids available to each sender.
    #[arg(long, default_value_t = 2)]
    packet_ids: u8,
    /// Receive Maximum every client announces in CONNECT (5.0).
    #[arg(long, default_value_t = 2)]
    receive_maximum: u8,
    /// Receive Maximum the broker announces in CONNACK (5.0); default: `--receive-maximum`.
    #[arg(long)]
    broker_receive_maximum: Option<u8>,
    /// Session expiry of persistent sessions (5.0): `never` or a number of ticks.
    #[arg(long, default_value = "never", value_parser = parse_expiry)]
    session_expiry: Expiry,
    /// The publisher disconnects gracefully after its first message, then reconnects.
    #[arg(long)]
    graceful_disconnect: bool,
    /// DISCONNECTs the clients may send, each by any client at any time it is connected.
    #[arg(long, default_value_t = 0)]
    disconnects: u8,
    /// 5.0: such a DISCONNECT may also be 0x04, Disconnect with Will Message.
    #[arg(long)]
    disconnect_with_will: bool,
    /// UNSUBSCRIBEs the subscribers may send, each by any subscriber at any time.
    #[arg(long, default_value_t = 0)]
    unsubscribes: u8,
    /// PUBRECs hostile clients may write for an id no flight of the broker uses (5.0: each
    /// accepting or refusing with 0x80); needs --packet-ids below 7.
    #[arg(long, default_value_t = 0)]
    hostile_pubrecs: u8,
    /// Clients reconnect at once and everything owed must be delivered N ticks after the last
    /// fault (`bounded_response`); without a value, N is the model's bound for the
    /// configuration.
    #[arg(long, num_args = 0..=1, default_missing_value = "0")]
    bounded_response: Option<u8>,
    /// Messages published with RETAIN=1 (e.g. 0,1).
    #[arg(long, value_delimiter = ',')]
    retained: Vec<u8>,
    /// Retained messages with an empty payload, which delete their topic's retained message.
    #[arg(long, value_delimiter = ',')]
    empty: Vec<u8>,
    /// 5.0: QoS 0/1 messages whose payload is not the UTF-8 their Payload Format Indicator
    /// says, which the broker refuses (e.g. 0).
    #[arg(long, value_delimiter = ',')]
    invalid_payloads: Vec<u8>,
    /// 5.0: PUBLISHes a hostile client may write beyond the broker's Receive Maximum, which
    /// the broker must answer with DISCONNECT 0x93.
    #[arg(long, default_value_t = 0)]
    beyond_quota: u8,
    /// Connect without wills.
    #[arg(long)]
    no_will: bool,
    /// Clients that connect without a will (e.g. 1,2).
    #[arg(long, value_delimiter = ',')]
    without_will: Vec<u8>,
    /// Applications act when they like: time may pass between their steps.
    #[arg(long)]
    paced_application: bool,
    /// Cuts may be reported: the client's end hears of it, the broker's too or not.
    #[arg(long)]
    reported_cuts: bool,
    /// Packets may stay in transit while time passes.
    #[arg(long)]
    slow_network: bool,
    /// Ticks a connecting client waits for CONNACK (default: the abort period).
    #[arg(long)]
    connack_timeout: Option<u8>,
    /// Ticks the broker waits for CONNECT on a connection it accepted (default: no timeout).
    #[arg(long)]
    connect_timeout: Option<u8>,
    /// Order of a client's resends: first-transmission, last-step or releases-first.
    #[arg(long, default_value = "first-transmission", value_parser = parse_resend_order)]
    client_resends: ResendOrder,
    /// Order of the broker's resends: first-transmission, last-step or releases-first.
    #[arg(long, default_value = "first-transmission", value_parser = parse_resend_order)]
    broker_resends: ResendOrder,
    /// Seed a bug (see `list`).
    #[arg(long, value_parser = parse_bug)]
    bug: Option<Bug>,
    /// Broker restarts the environment may inject.
    #[arg(long, default_value_t = 0)]
    restarts: u8,
    /// QoS of the wills: 0 or 1.
    #[arg(long, default_value = "0", value_parser = parse_qos)]
    will_qos: Qos,
    /// Will Delay Interval in ticks (5.0).
    #[arg(long, default_value_t = 0)]
    will_delay: u8,
    /// The broker keeps a durable store across restarts (verimqtt's persistence).
    #[arg(long)]
    durable: bool,
}

impl ModelArgs {
    fn config(&self) -> Result<Config, String> {
        let mut config = Config::new(self.version, self.clients, self.messages);
        if self.qos.is_empty() || self.sessions.is_empty() {
            return Err("--qos and --sessions need at least one value".into());
        }
        config.messages = self.qos.iter().copied().cycle().take(self.messages).collect();
        config.sessions = self.sessions.iter().copied().cycle().take(self.clients).collect();
        config.cuts = self.cuts;
        config.keep_alive = self.keep_alive;
        config.abort_after = self.abort_after;
        config.packet_ids = self.packet_ids;
        config.receive_maximum = self.receive_maximum;
        config.broker_receive_maximum = self.broker_receive_maximum.unwrap_or(self.receive_maximum);
        config.session_expiry = self.session_expiry;
        config.graceful_disconnect = self.graceful_disconnect;
        config.will = !self.no_will;
        config.without_will = self.without_will.iter().copied().filter(|&c| usize::from(c) < self.clients).collect();
        config.paced_application = self.paced_application;
        config.reported_cuts = self.reported_cuts;
        config.slow_network = self.slow_network;
        config.connack_timeout = self.connack_timeout;
        config.broker_connect_timeout = self.connect_timeout;
        config.client_resend_order = self.client_resends;
        config.broker_resend_order = self.broker_resends;
        config.bug = self.bug;
        config.restarts = self.restarts;
        config.durable = self.durable;
        config.will_delay = self.will_delay;
        config.will_qos = self.will_qos;
        config.publishers = self.publishers;
        config.topics = self.topics.clone();
        config.subscriptions = self.subscriptions.clone();
        config.added_subscriptions = self.added_subscriptions.clone();
        config.disconnects = self.disconnects;
        config.disconnect_with_will = self.disconnect_with_will;
        config.unsubscribes = self.unsubscribes;
        config.beyond_quota = self.beyond_quota;
        config.hostile_pubrecs = self.hostile_pubrecs;
        config.bounded_response = self.bounded_response.map(|n| if n == 0 { config.response_bound() } else { n });
        let messages =
            |list: &[u8], flag: &str| match list.iter().find(|&&n| usize::from(n) >= self.messages || n > Bits::MAX) {
                Some(n) => Err(format!("--{flag}: there is no message {n}")),
                None => Ok(list.iter().copied().collect()),
            };
        config.retained = messages(&self.retained, "retained")?;
        config.empty = messages(&self.empty, "empty")?;
        config.invalid_payloads = messages(&self.invalid_payloads, "invalid-payloads")?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

/// Every core the machine offers: the checker's threads share one set of visited states.
fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn parse_version(s: &str) -> Result<Version, String> {
    match s {
        "3" | "3.1.1" | "4" => Ok(Version::V3_1_1),
        "5" | "5.0" => Ok(Version::V5_0),
        _ => Err(format!("unknown version {s}: use 3 or 5")),
    }
}

fn parse_qos(s: &str) -> Result<Qos, String> {
    s.parse::<u8>().ok().and_then(Qos::from_level).ok_or_else(|| format!("QoS must be 0, 1 or 2, not {s}"))
}

fn parse_filters(s: &str) -> Result<Vec<FilterQos>, String> {
    let parse_one = |one: &str| {
        let mut parts = one.split(':');
        let (Some(topic), Some(qos)) = (parts.next(), parts.next()) else {
            return Err(format!("{one}: expected TOPIC:QOS[:rh1|:rh2][:rap]"));
        };
        let filter = match topic {
            "+" => Filter::Wildcard,
            _ => Filter::Topic(topic.parse().map_err(|_| format!("{topic}: expected a topic number or +"))?),
        };
        let mut parsed = FilterQos::new(filter, parse_qos(qos)?);
        for option in parts {
            match option {
                "rh1" => parsed.retain.handling = RetainHandling::IfNew,
                "rh2" => parsed.retain.handling = RetainHandling::Never,
                "rap" => parsed.retain.as_published = true,
                _ => return Err(format!("{one}: unknown subscription option {option}: use rh1, rh2 or rap")),
            }
        }
        Ok(parsed)
    };
    s.split('&').map(parse_one).collect()
}

fn parse_added_filters(s: &str) -> Result<Vec<FilterQos>, String> {
    if s == "-" { Ok(Vec::new()) } else { parse_filters(s) }
}

fn parse_session(s: &str) -> Result<SessionKind, String> {
    match s {
        "persistent" => Ok(SessionKind::Persistent),
        "clean" => Ok(SessionKind::Clean),
        _ => Err(format!("session must be persistent or clean, not {s}")),
    }
}

fn parse_expiry(s: &str) -> Result<Expiry, String> {
    if s == "never" {
        return Ok(Expiry::Never);
    }
    s.parse().map(Expiry::AfterTicks).map_err(|_| format!("session expiry must be `never` or ticks, not {s}"))
}

fn parse_resend_order(s: &str) -> Result<ResendOrder, String> {
    match s {
        "first-transmission" => Ok(ResendOrder::FirstTransmission),
        "last-step" => Ok(ResendOrder::LastStep),
        "releases-first" => Ok(ResendOrder::ReleasesFirst),
        _ => Err(format!("resend order must be first-transmission, last-step or releases-first, not {s}")),
    }
}

fn parse_bug(s: &str) -> Result<Bug, String> {
    Bug::from_name(s).ok_or_else(|| format!("unknown bug {s}; `verimqtt-model list` names them"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { model, dfs, symmetry, threads, timeout, max_links, max_packets } => {
            model.config().map(|config| {
                let mut bounds = Bounds::for_config(&config);
                bounds.links_per_client = max_links.unwrap_or(bounds.links_per_client);
                bounds.packets_per_channel = max_packets.unwrap_or(bounds.packets_per_channel);
                let options = Options {
                    search: if dfs || symmetry { Search::Dfs } else { Search::Bfs },
                    threads,
                    timeout: timeout.map(Duration::from_secs),
                    stop_when_found: None,
                    symmetry,
                };
                run_check(MqttModel::new(config).with_bounds(bounds), &options)
            })
        }
        Command::Explore { model, address } => model.config().map(|config| {
            println!("model: {config}");
            println!("serving the explorer on http://{address}");
            MqttModel::new(config).checker().serve(address.as_str());
            true
        }),
        Command::Refine { model, threads, tolerance } => model
            .config()
            .and_then(|config| Refinement::new(config, tolerance))
            .map(|refinement| run_refinement(refinement, threads)),
        Command::SpecTrace { file, tolerance_ms } => spec_trace(&file, tolerance_ms),
        Command::List => {
            list();
            Ok(true)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Prints the spec broker's verdict on a probe trace; true if the trace refines it.
fn spec_trace(file: &std::path::Path, tolerance_ms: u64) -> Result<bool, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let trace = verimqtt_spec::trace::read_trace(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    match check_probe_trace(&trace, tolerance_ms)? {
        ProbeVerdict::Refines { events } => {
            println!("{}: refines the spec broker ({events} events: packets, closes, 100 ms ticks)", file.display());
            Ok(true)
        }
        ProbeVerdict::Rejected { index, event } => {
            println!(
                "{}: REJECTED at trace line {}: no spec broker state explains {event:?}",
                file.display(),
                index + 1
            );
            Ok(false)
        }
    }
}

/// Prints the refinement check's numbers, the spec-only behaviours it reached and any
/// rejection; true if the design broker refines the spec broker.
fn run_refinement(refinement: Refinement, threads: usize) -> bool {
    println!("refinement of the spec broker: {}", refinement.design.config);
    let outcome = check_refinement(refinement.clone(), threads);
    println!(
        "states: {}, unique: {}, max depth: {}, seconds: {:.2}",
        outcome.states,
        outcome.unique_states,
        outcome.max_depth,
        outcome.elapsed.as_secs_f64()
    );
    println!("spec-only behaviours reached: {:?}", outcome.witnessed);
    if let Some(path) = &outcome.bound_reached {
        println!("a structural bound was reached: not exhaustive\n{}", render_rejection(&refinement, path));
        return false;
    }
    match &outcome.rejection {
        Some(path) => {
            println!("{REFINES_SPEC}: FAILS\n{}", render_rejection(&refinement, path));
            false
        }
        None => {
            println!("{REFINES_SPEC}: holds");
            true
        }
    }
}

/// Prints the run's numbers and verdicts; true if every property got its expected verdict.
fn run_check(model: MqttModel, options: &Options) -> bool {
    println!("model: {}", model.config);
    println!(
        "bounds: {} connections per client, {} packets per channel",
        model.bounds.links_per_client, model.bounds.packets_per_channel
    );
    let search = match options.search {
        Search::Bfs => "breadth-first",
        Search::Dfs => "depth-first",
    };
    println!("search: {search}, {} thread(s)", options.threads);
    let outcome = check(model.clone(), options);
    print_numbers(&outcome);
    if let Some(path) = &outcome.bound_reached {
        println!("\nERROR: the model reached a structural bound (a modelling error), so the run is not exhaustive:");
        print!("{}", render(&model, path));
        return false;
    }
    println!("properties:");
    for verdict in &outcome.verdicts {
        let spec = verdict.spec;
        let kind = match spec.expect {
            Expect::Always => "always",
            Expect::Sometimes => "sometimes",
        };
        let result = match (verdict.passed(), spec.expect) {
            (true, Expect::Always) => "holds",
            (true, Expect::Sometimes) => "reached",
            (false, Expect::Always) => "FAILS",
            (false, Expect::Sometimes) => "NOT REACHED",
        };
        println!("  {result:<11} {kind:<9} {:<28} {}", spec.name, spec.summary);
    }
    for verdict in outcome.verdicts.iter().filter(|v| !v.passed()) {
        if let Some(path) = first_discovery(model.clone(), verdict.spec.name) {
            println!("\ncounterexample to {}:", verdict.spec.name);
            print!("{}", render(&model, &path));
        }
    }
    outcome.all_passed()
}

fn print_numbers(outcome: &Outcome) {
    println!("states generated: {}", outcome.states);
    println!("unique states: {}", outcome.unique_states);
    println!("max depth: {}", outcome.max_depth);
    println!("seconds: {:.2}", outcome.elapsed.as_secs_f64());
    println!("states/second: {:.0}", outcome.states_per_second());
    let exhaustive = match (outcome.exhaustive, &outcome.bound_reached) {
        (true, _) => "yes",
        (false, Some(_)) => "no (a structural bound was reached)",
        (false, None) => "no (timed out)",
    };
    println!("exhaustive: {exhaustive}");
}

fn list() {
    println!("properties:");
    for spec in CATALOGUE {
        let statements: Vec<String> =
            spec.statements.iter().map(|(version, id)| format!("[{id}] ({version})")).collect();
        println!("  {:<28} {}", spec.name, spec.summary);
        println!("  {:<28} {}", "", statements.join(" "));
    }
    println!("seeded bugs (--bug NAME):");
    for bug in Bug::ALL {
        println!("  {:<32} breaks {}", bug.name(), bug.breaks());
    }
}
