//! Whether the broker still serves after a scenario.
//!
//! A scenario that makes the broker close a connection, or feeds it what is most likely to
//! crash it (every scenario of the [`CHECKED_AREAS`](crate::scenario::CHECKED_AREAS)), ends with
//! a check: a fresh client connects, subscribes to a topic of its own, publishes to it at QoS 1
//! and must get the PUBACK and the message back in time ([`probe_steps`]); the runner runs it
//! twice, with the scenario's connections still open (a broker stalled by one of them fails)
//! and once they are closed (tearing their sessions down can crash a broker too).
//!
//! A broker that crashed and was restarted by a supervisor (systemd, docker) serves that probe
//! well. The [`Sentinel`] tells: one connection opened when the run starts and kept alive
//! through it, which the broker closes only if it restarted or died. Every check pings it.
//! Scenarios run at the same time, so a check cannot tell which of them crashed the broker:
//! each scenario notes how many losses of the sentinel had been seen when it started, and a
//! loss seen since, by its own check, another's or the keep alive ping, fails it as having
//! happened during or before it.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use verimqtt::codec::{self, Connect, MqttString, Packet, ProtocolVersion};

use crate::connection::{Connection, Endpoint, Incoming};
use crate::scenario::Step;

/// The keep alive the sentinel asks for; it is pinged at half of it (or of the Server Keep
/// Alive a 5.0 broker imposes).
const SENTINEL_KEEP_ALIVE: u16 = 30;

/// How long the sentinel waits for a CONNACK or a PINGRESP: longer than a scenario's
/// expectations, since a slow answer is reported as a lost broker.
const SENTINEL_DEADLINE: Duration = Duration::from_secs(5);

/// How often the keep alive thread looks at the sentinel.
const TICK: Duration = Duration::from_millis(250);

/// The name of the probe's connection, which makes its client id `{client}-liveness`.
pub const PROBE_CONN: &str = "liveness";

/// The steps of the probe, run on a connection of their own with `{prefix}` a topic of the
/// probe's own: a new client subscribes, publishes to its subscription and gets the PUBACK and
/// the message back. At QoS 0 (no PUBACK) when the broker does not support QoS 1.
pub fn probe_steps(qos1: bool) -> Vec<Step> {
    let qos = u8::from(qos1);
    let publish =
        serde_json::json!({"publish": {"topic": "{prefix}", "qos": qos, "packet_id": 2, "payload": "alive?"}});
    let mut answers = vec![serde_json::json!({"publish": {"topic": "{prefix}", "payload": "alive?"}})];
    if qos1 {
        answers.push(serde_json::json!({"puback": {"packet_id": 2}}));
    }
    let steps = serde_json::json!([
        {"connect": {"conn": PROBE_CONN, "keep_alive": 10}},
        {"send": {"conn": PROBE_CONN, "packet": {"subscribe": {"packet_id": 1, "subscriptions": [{"filter": "{prefix}", "qos": qos}]}}}},
        {"expect": {"conn": PROBE_CONN, "packet": {"suback": {"packet_id": 1, "reason_codes": [["granted_qos_0", "granted_qos_1"]]}}}},
        {"send": {"conn": PROBE_CONN, "packet": publish}},
        {"expect_any_order": {"conn": PROBE_CONN, "packets": answers}},
        {"send": {"conn": PROBE_CONN, "packet": {"disconnect": {}}}}
    ]);
    // Fixed steps of the suite's own format: a failure to read them is a bug caught by tests.
    serde_json::from_value(steps).unwrap_or_default()
}

/// One connection held open for the whole run: its loss shows the broker restarted or died.
pub struct Sentinel {
    endpoint: Endpoint,
    version: ProtocolVersion,
    client_id: String,
    state: Mutex<SentinelState>,
}

struct SentinelState {
    /// `None` once lost, until it is opened again.
    connection: Option<Connection>,
    ping_every: Duration,
    last_ping: Instant,
    losses: Vec<Loss>,
}

/// The sentinel was closed, or stopped answering.
#[derive(Debug, Clone)]
struct Loss {
    why: String,
    /// Which check noticed it, or the keep alive ping.
    noticed_by: String,
}

impl fmt::Debug for Sentinel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sentinel").field("broker", &self.endpoint.url).field("client_id", &self.client_id).finish()
    }
}

impl Sentinel {
    /// Connects the sentinel, and keeps it alive on a thread of its own until the last
    /// reference to it is dropped.
    pub fn open(endpoint: Endpoint, version: ProtocolVersion, client_id: String) -> Result<Arc<Sentinel>, String> {
        let (connection, ping_every) = connect(&endpoint, version, &client_id)
            .map_err(|why| format!("cannot open the sentinel connection to {}: {why}", endpoint.url))?;
        let sentinel = Arc::new(Sentinel {
            endpoint,
            version,
            client_id,
            state: Mutex::new(SentinelState {
                connection: Some(connection),
                ping_every,
                last_ping: Instant::now(),
                losses: Vec::new(),
            }),
        });
        let weak = Arc::downgrade(&sentinel);
        std::thread::Builder::new()
            .name("conformance-sentinel".to_string())
            .spawn(move || keep_alive(&weak))
            .map_err(|error| format!("cannot start the sentinel's keep alive thread: {error}"))?;
        Ok(sentinel)
    }

    /// How many losses have been seen so far: a scenario notes it when it starts. A sentinel
    /// lost earlier is opened again first, if the broker is back, so that it watches this
    /// scenario too.
    pub fn watch(&self) -> usize {
        let mut state = self.lock();
        if state.connection.is_none() {
            self.reopen(&mut state);
        }
        state.losses.len()
    }

    /// Pings the sentinel now; fails if it has been lost since `since` losses had been seen.
    /// `checker` names the scenario run that checks, for the others' messages.
    pub fn check(&self, since: usize, checker: &str) -> Result<(), String> {
        let mut state = self.lock();
        self.ping_or_reopen(&mut state, &format!("the check after {checker}"));
        let losses = state.losses.get(since..).unwrap_or_default();
        if losses.is_empty() {
            return Ok(());
        }
        let losses: Vec<String> =
            losses.iter().map(|loss| format!("{} (noticed by {})", loss.why, loss.noticed_by)).collect();
        Err(format!(
            "the sentinel connection, open since the run started, was lost during or before this scenario: {}. \
             The broker restarted or died; this scenario, or one running at the same time, may have caused it",
            losses.join("; then ")
        ))
    }

    fn lock(&self) -> MutexGuard<'_, SentinelState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pings the sentinel when it is due.
    fn tick(&self) {
        let mut state = self.lock();
        if state.connection.is_none() || state.last_ping.elapsed() >= state.ping_every {
            self.ping_or_reopen(&mut state, "the keep alive ping");
        }
    }

    /// Pings the sentinel, noting a loss if it fails; a lost one is opened again, so that a
    /// later restart is noticed too.
    fn ping_or_reopen(&self, state: &mut SentinelState, noticed_by: &str) {
        if let Some(connection) = state.connection.as_mut() {
            match ping(connection, self.version) {
                Ok(()) => {
                    state.last_ping = Instant::now();
                    return;
                }
                Err(why) => {
                    state.losses.push(Loss { why, noticed_by: noticed_by.to_string() });
                    state.connection = None;
                }
            }
        }
        self.reopen(state);
    }

    /// Opens the sentinel again. While the broker is down this fails, quickly, and the keep
    /// alive thread and the next run try again.
    fn reopen(&self, state: &mut SentinelState) {
        if let Ok((connection, ping_every)) = connect(&self.endpoint, self.version, &self.client_id) {
            *state = SentinelState {
                connection: Some(connection),
                ping_every,
                last_ping: Instant::now(),
                losses: std::mem::take(&mut state.losses),
            };
        }
    }
}

fn keep_alive(sentinel: &Weak<Sentinel>) {
    loop {
        std::thread::sleep(TICK);
        match sentinel.upgrade() {
            Some(sentinel) => sentinel.tick(),
            None => return,
        }
    }
}

/// Opens a connection and has the CONNECT accepted; returns it and how often to ping it.
fn connect(endpoint: &Endpoint, version: ProtocolVersion, client_id: &str) -> Result<(Connection, Duration), String> {
    let mut connection = Connection::open(endpoint, version)?;
    let mut connect = Connect::new(version, MqttString::try_from(client_id).map_err(|error| error.to_string())?);
    connect.keep_alive = SENTINEL_KEEP_ALIVE;
    crate::credentials::apply(&mut connect);
    send(&mut connection, &Packet::Connect(Box::new(connect)), version)?;
    match next(&mut connection)? {
        Packet::ConnAck(connack) if !connack.reason_code.is_failure() => {
            let keep_alive = connack.properties.server_keep_alive.unwrap_or(SENTINEL_KEEP_ALIVE);
            let ping_every = Duration::from_secs(u64::from(keep_alive.clamp(1, SENTINEL_KEEP_ALIVE))) / 2;
            Ok((connection, ping_every))
        }
        other => Err(format!("the broker answered the CONNECT with {}", describe(&other))),
    }
}

fn ping(connection: &mut Connection, version: ProtocolVersion) -> Result<(), String> {
    send(connection, &Packet::PingReq, version)?;
    match next(connection)? {
        Packet::PingResp => Ok(()),
        other => Err(format!("the broker answered its PINGREQ with {}", describe(&other))),
    }
}

fn send(connection: &mut Connection, packet: &Packet, version: ProtocolVersion) -> Result<(), String> {
    let mut bytes = BytesMut::new();
    codec::encode(packet, version, &mut bytes).map_err(|error| error.to_string())?;
    connection.send(&bytes).map_err(|error| format!("the broker closed it ({error})"))
}

/// The next packet on the sentinel; its close, or silence, is an error.
fn next(connection: &mut Connection) -> Result<Packet, String> {
    match connection.next(Instant::now() + SENTINEL_DEADLINE) {
        Ok(Some(Incoming::Packet(received))) => Ok(received.packet),
        Ok(Some(Incoming::Closed)) => Err("the broker closed it".to_string()),
        Ok(None) => Err(format!("the broker did not answer it within {} ms", SENTINEL_DEADLINE.as_millis())),
        Err(error) => Err(error.to_string()),
    }
}

fn describe(packet: &Packet) -> String {
    match packet {
        Packet::ConnAck(connack) => format!("CONNACK {}", connack.reason_code),
        Packet::Disconnect(disconnect) => format!("DISCONNECT {}", disconnect.reason_code),
        other => other.packet_type().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verimqtt::broker::{AllowAll, BrokerOptions};
    use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};

    fn endpoint(broker: &EmbeddedBroker) -> Endpoint {
        Endpoint { url: format!("mqtt://{}", broker.addr()).parse().unwrap(), tls: None }
    }

    fn broker_at(address: std::net::SocketAddr) -> EmbeddedBroker {
        let listener = Listener::bind(address, Transport::Tcp).unwrap();
        EmbeddedBroker::serve(Server::new(BrokerOptions::default(), AllowAll).listener(listener)).unwrap()
    }

    #[test]
    fn the_probe_steps_read() {
        assert_eq!(probe_steps(true).len(), 6);
        assert_eq!(probe_steps(false).len(), 6);
    }

    #[test]
    fn a_sentinel_on_a_live_broker_reports_nothing() {
        let broker = EmbeddedBroker::start().unwrap();
        let sentinel = Sentinel::open(endpoint(&broker), ProtocolVersion::V5, "sentinel-live".to_string()).unwrap();
        assert_eq!(sentinel.watch(), 0);
        assert_eq!(sentinel.check(0, "a@5.0"), Ok(()));
        assert_eq!(sentinel.check(0, "a@5.0"), Ok(()));
    }

    #[test]
    fn the_sentinel_notices_a_restart_and_watches_the_new_broker() {
        let first = EmbeddedBroker::start().unwrap();
        let address = first.addr();
        let sentinel = Sentinel::open(endpoint(&first), ProtocolVersion::V311, "sentinel-restart".to_string()).unwrap();
        let before = sentinel.watch();
        first.shutdown().unwrap();
        let second = broker_at(address);
        let error = sentinel.check(before, "malformed/x@3.1.1").unwrap_err();
        assert!(error.contains("lost during or before this scenario"), "{error}");
        assert!(error.contains("noticed by the check after malformed/x@3.1.1"), "{error}");
        assert!(error.contains("The broker restarted or died"), "{error}");
        // A scenario that started after the loss is not blamed, and the sentinel watches the
        // new broker.
        let after = sentinel.watch();
        assert_eq!(sentinel.check(after, "b@3.1.1"), Ok(()));
        second.shutdown().unwrap();
        assert!(sentinel.check(after, "c@3.1.1").is_err());
    }

    #[test]
    fn the_keep_alive_ping_notices_a_loss_between_checks() {
        let broker = EmbeddedBroker::start().unwrap();
        let sentinel = Sentinel::open(endpoint(&broker), ProtocolVersion::V311, "sentinel-ping".to_string()).unwrap();
        sentinel.lock().ping_every = Duration::ZERO;
        broker.shutdown().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while sentinel.watch() == 0 && Instant::now() < deadline {
            std::thread::sleep(TICK);
        }
        let error = sentinel.check(0, "a@3.1.1").unwrap_err();
        assert!(error.contains("noticed by the keep alive ping"), "{error}");
    }
}
