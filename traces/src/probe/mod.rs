//! Probing any broker from the wire: generated scenarios run by verimqtt's instrumented
//! sans-IO clients over real TCP, through a fault-injecting proxy of our own, and the trace
//! judged by wire-only monitors ([`monitors`]) and by the model's specification broker
//! ([`spec`]).
//!
//! The proxy sits in the probe's process: each client's bytes go to it in memory, and it
//! holds a real TCP connection to the broker per client connection. It frames packets in
//! each direction, logs each it passes on (`forwarded`) or drops (`dropped`), and injects
//! the simulator's faults at chosen steps or right after chosen packets: a cut (nothing
//! passes either way, neither end is told), a reset (a TCP reset to the broker, the client
//! told), a half-open connection (the client told, the broker's end left open) and stalls.
//! Clients and proxy share the machine's monotonic clock and write one trace in the
//! vocabulary of [`verimqtt_spec::trace`].
//!
//! The same seed runs the same scenario; the broker's timing may differ from run to run, so
//! the traces (and, where a property depends on a race, the verdicts) may too.

mod driver;
mod findings;
mod frames;
pub mod monitors;
mod named;
mod proxy;
pub mod spec;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use verimqtt_proto::codec::ProtocolVersion;
use verimqtt_spec::trace::TraceEvent;

pub use driver::RECEIVE_MAXIMUM;
pub use findings::{SpecSummary, Summary, findings_report};
pub use monitors::{Finding, Outcome, Property, Verdict, monitor};
pub use named::{finding_probes, named_probes};
pub use spec::{SpecJudgement, SpecVerdict};

use crate::sim::{Refusal, Scenario, SimError, arb_scenario};

/// A probe that could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("{0:?} is not a broker address: give mqtt://host:port or host:port")]
    BadAddress(String),
    #[error("broker {broker}: {error}")]
    Broker { broker: SocketAddr, error: String },
    #[error("client c{client}: {error}")]
    Client { client: usize, error: String },
    #[error("scenario: {0}")]
    Scenario(SimError),
    #[error("no finding named {0:?}: give one of {known}", known = finding_names().join(", "))]
    UnknownFinding(String),
}

/// The socket address of `mqtt://host:port` (or `host:port`; port 1883 if left out).
pub fn broker_address(url: &str) -> Result<SocketAddr, ProbeError> {
    let bad = || ProbeError::BadAddress(url.to_string());
    let host_port = url.strip_prefix("mqtt://").unwrap_or(url).trim_end_matches('/');
    if host_port.is_empty() || host_port.contains('/') || host_port.contains("://") {
        return Err(bad());
    }
    let with_port = if host_port.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
        host_port.to_string()
    } else {
        format!("{host_port}:1883")
    };
    with_port.to_socket_addrs().map_err(|_| bad())?.next().ok_or_else(bad)
}

/// The scenario of `seed`: one of the simulator's generated scenarios, in `version` if
/// given (else the generator's choice).
pub fn scenario(seed: u64, version: Option<ProtocolVersion>) -> Scenario {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let mut scenario = match arb_scenario().new_tree(&mut runner) {
        Ok(tree) => tree.current(),
        // The generator has no filters, so it cannot reject a case.
        Err(_) => Scenario::new(ProtocolVersion::V5),
    };
    if let Some(version) = version {
        scenario.version = version;
    }
    scenario
}

/// Which scenario a run ran: a named one, the minimal run of a finding, or a generated one by
/// its seed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    Named(&'static str),
    Finding(&'static str),
    Seed(u64),
}

impl Origin {
    /// The stem of the run's trace file: `NAME` or `seed-S`.
    pub fn file_stem(&self) -> String {
        match self {
            Origin::Named(name) | Origin::Finding(name) => (*name).to_string(),
            Origin::Seed(seed) => format!("seed-{seed}"),
        }
    }

    /// The options that run this scenario again.
    pub fn rerun_options(&self) -> String {
        match self {
            Origin::Named(_) => "--named --scenarios 0".to_string(),
            Origin::Finding(name) => format!("--finding {name} --scenarios 0"),
            Origin::Seed(seed) => format!("--seed {seed} --scenarios 1"),
        }
    }
}

/// One scenario run against the broker, the monitors' verdicts and the spec broker's.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    pub origin: Origin,
    pub scenario: Scenario,
    pub trace: Vec<TraceEvent>,
    pub refusals: Vec<Refusal>,
    pub verdicts: Vec<Verdict>,
    pub spec: SpecJudgement,
}

/// Runs `scenario` against the broker at `broker`; `namespace` prefixes client ids and topics.
pub fn probe_scenario(
    broker: SocketAddr,
    origin: Origin,
    scenario: &Scenario,
    namespace: String,
) -> Result<ProbeRun, ProbeError> {
    let (trace, refusals) = driver::Driver::new(broker, scenario, namespace)?.run()?;
    let verdicts = monitor(&trace);
    let spec = spec::judge(&trace);
    Ok(ProbeRun { origin, scenario: scenario.clone(), trace, refusals, verdicts, spec })
}

/// The names of the minimal runs of findings.
fn finding_names() -> Vec<&'static str> {
    finding_probes().into_iter().map(|(name, _)| name).collect()
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    pub broker: SocketAddr,
    /// The version of every scenario (each one's own if `None`).
    pub version: Option<ProtocolVersion>,
    /// Generated scenarios `seed`, `seed + 1`, ...
    pub scenarios: usize,
    pub seed: u64,
    /// Also the named scenarios ([`named_probes`]), first.
    pub named: bool,
    /// Also these minimal runs of findings ([`finding_probes`]), after the named ones.
    pub findings: Vec<String>,
    /// Scenarios run at once (they mostly wait on the clock).
    pub jobs: usize,
}

/// A namespace of client ids and topics fresh for every process and run, so runs never meet
/// a session an earlier run left on the broker.
pub fn namespace(run: u64) -> String {
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos() as u64)
        ^ u64::from(std::process::id());
    format!("vp{:08x}", (nonce ^ run.wrapping_mul(0x9e37_79b9_7f4a_7c15)) as u32)
}

/// Runs the scenarios, `jobs` at once, each in its own [`namespace`]; the runs come back
/// named ones first, then the findings', then by seed.
pub fn probe(options: &ProbeOptions) -> Result<Vec<ProbeRun>, ProbeError> {
    let known = finding_names();
    if let Some(unknown) = options.findings.iter().find(|name| !known.contains(&name.as_str())) {
        return Err(ProbeError::UnknownFinding(unknown.clone()));
    }
    let named =
        named_probes().into_iter().filter(|_| options.named).map(|(name, scenario)| (Origin::Named(name), scenario));
    let findings = finding_probes()
        .into_iter()
        .filter(|(name, _)| options.findings.iter().any(|chosen| chosen == name))
        .map(|(name, scenario)| (Origin::Finding(name), scenario));
    let named = named.chain(findings).map(|(origin, mut scenario)| {
        scenario.version = options.version.unwrap_or(scenario.version);
        (origin, scenario)
    });
    let generated = (0..options.scenarios as u64).map(|index| {
        let seed = options.seed.wrapping_add(index);
        (Origin::Seed(seed), scenario(seed, options.version))
    });
    let jobs: Vec<(Origin, Scenario)> = named.chain(generated).collect();
    let next = AtomicUsize::new(0);
    let runs = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((origin, scenario)) = jobs.get(index) else { return };
                    let result = probe_scenario(options.broker, origin.clone(), scenario, namespace(index as u64));
                    runs.lock().unwrap_or_else(PoisonError::into_inner).push(result);
                }
            });
        }
    });
    let mut runs =
        runs.into_inner().unwrap_or_else(PoisonError::into_inner).into_iter().collect::<Result<Vec<_>, _>>()?;
    runs.sort_by(|a, b| a.origin.cmp(&b.origin));
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_addresses_are_urls_or_host_and_port() {
        assert_eq!(broker_address("mqtt://127.0.0.1:18830").unwrap(), "127.0.0.1:18830".parse().unwrap());
        assert_eq!(broker_address("127.0.0.1").unwrap(), "127.0.0.1:1883".parse().unwrap());
        assert!(matches!(broker_address("mqtts://x:1/y"), Err(ProbeError::BadAddress(_))));
        assert!(matches!(broker_address(""), Err(ProbeError::BadAddress(_))));
    }

    #[test]
    fn an_unknown_finding_is_refused_with_the_known_ones() {
        let options = ProbeOptions {
            broker: "127.0.0.1:1".parse().unwrap(),
            version: None,
            scenarios: 0,
            seed: 1,
            named: false,
            findings: vec!["silent_connection".to_string(), "no_such_finding".to_string()],
            jobs: 1,
        };
        let error = probe(&options).err().unwrap();
        assert_eq!(error, ProbeError::UnknownFinding("no_such_finding".to_string()));
        assert!(error.to_string().contains("silent_connection, will_after_a_keep_alive_close"), "{error}");
    }

    #[test]
    fn a_seed_names_one_scenario() {
        assert_eq!(scenario(7, None), scenario(7, None));
        assert_ne!(scenario(7, None), scenario(8, None));
        assert_eq!(scenario(7, Some(ProtocolVersion::V311)).version, ProtocolVersion::V311);
    }
}
