//! Runs one scenario in one protocol version against a broker, step by step, and says what
//! happened: passed, failed (at which step, why, with the bytes received), or skipped.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use verimqtt::codec::{self, Packet, ProtocolVersion};
use verimqtt_spec::catalogue::SpecVersion;

use crate::closing;
use crate::connection::{Connection, ConnectionError, Endpoint, Incoming, Received};
use crate::liveness::{self, PROBE_CONN, Sentinel};
use crate::scenario::{
    CHECKED_AREAS, ConnectStep, DEFAULT_WITHIN_MS, ExpectAnyOrderStep, ExpectClosedStep, Feature, Outgoing, RepeatStep,
    Scenario, SendStep, Step,
};
use crate::spec_bytes;
use crate::template::{Context, Matcher, PacketTemplate, TOPIC_ROOT, parse_hex};

/// What every scenario of a run shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: Endpoint,
    /// Makes the names of this run unique on a shared broker.
    pub run_id: String,
    /// Features the broker does not have; scenarios needing them are skipped.
    pub unsupported: BTreeSet<Feature>,
    /// The connection held for the whole run whose loss shows a restart; without it the
    /// liveness check only probes.
    pub sentinel: Option<Arc<Sentinel>>,
    /// Runs (`<id>@<version>`) known to be flaky: run every time as often as a failure is, so
    /// that their pass rate is measured even when the first attempt passes.
    pub flaky: BTreeSet<String>,
    /// The topic levels every `{prefix}` starts with: `vmq`, under the prefix a broker that
    /// allows only some topics allows.
    pub topic_root: String,
    /// The largest packet the broker takes: a run that would send a larger one is skipped.
    pub max_packet_size: Option<usize>,
}

impl Settings {
    /// The settings of a new run against `endpoint`, without a sentinel, every feature
    /// supported and topics under `vmq`.
    pub fn new(endpoint: Endpoint) -> Settings {
        Settings {
            endpoint,
            run_id: new_run_id(),
            unsupported: BTreeSet::new(),
            sentinel: None,
            flaky: BTreeSet::new(),
            topic_root: TOPIC_ROOT.to_string(),
            max_packet_size: None,
        }
    }

    /// Opens the sentinel of the run, connected in `version`.
    pub fn open_sentinel(&mut self, version: SpecVersion) -> Result<(), String> {
        let client_id = format!("v{}-sentinel", self.run_id);
        self.sentinel = Some(Sentinel::open(self.endpoint.clone(), ProtocolVersion::from(version), client_id)?);
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(Failure),
    /// Failed, then passed at least once when run again: the pass rate, and the first failure.
    Flaky {
        passed: usize,
        runs: usize,
        failure: Failure,
    },
    Skipped(String),
}

/// Where and why a scenario failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based.
    pub step: usize,
    pub step_text: String,
    pub message: String,
    /// What the connection of the failing step received, in order.
    pub received: Vec<String>,
    /// Whether it is the liveness check that failed: the broker crashed, restarted or stalled
    /// during or before the run, which breaks none of the statements the scenario checks.
    pub stopped_serving: bool,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "step {}: {}", self.step, self.step_text)?;
        writeln!(f, "  {}", self.message.replace('\n', "\n  "))?;
        if !self.received.is_empty() {
            writeln!(f, "  received on this connection:")?;
            for packet in &self.received {
                writeln!(f, "    {packet}")?;
            }
        }
        Ok(())
    }
}

/// Runs `scenario` in `version`; `instance` tells this run of it from the others of the same
/// run (it goes into the topic and client id prefixes). A scenario that made the broker close a
/// connection, or of an area that strains it, ends with the liveness check.
pub fn run(scenario: &Scenario, version: SpecVersion, instance: usize, settings: &Settings) -> Outcome {
    if let Some(feature) = scenario.features.iter().find(|feature| settings.unsupported.contains(feature)) {
        return Outcome::Skipped(match feature {
            Feature::Anonymous => "it sends a CONNECT as raw bytes, without the credentials the broker requires".into(),
            Feature::SecondUser => "it needs a second user: --username2/--password2, MQTT_USERNAME2/MQTT_PASSWORD2, \
                                    or [second] in the profile"
                .into(),
            Feature::AnyTopic => "it uses topics outside {prefix}, which the broker's topic prefix excludes".into(),
            feature => format!("the broker does not support {}", feature.name()),
        });
    }
    if !scenario.steps.is_empty() {
        wait_for_broker(&settings.endpoint);
    }
    let losses_before = settings.sentinel.as_ref().map(|sentinel| sentinel.watch());
    let client_prefix = format!("v{}{}", settings.run_id, base36(instance));
    let context = Context::new(format!("{}/{instance}", settings.run_id), client_prefix.clone())
        .with_topic_root(&settings.topic_root);
    let mut run = Run::new(settings, ProtocolVersion::from(version), context);
    let result = run.all(&scenario.steps);
    if let (Some(size), Some(maximum)) = (run.too_large, settings.max_packet_size) {
        return Outcome::Skipped(format!(
            "it sends {size} bytes at once, over the broker's maximum packet size of {maximum} bytes"
        ));
    }
    let closes = scenario.steps.iter().any(|step| step.any(&|step| matches!(step, Step::ExpectClosed(_))));
    if !(closes || run.broker_closed || CHECKED_AREAS.contains(&scenario.area())) {
        return result.map_or_else(Outcome::Failed, |()| Outcome::Passed);
    }
    let check = Check {
        settings,
        version,
        probe: Context::new(format!("{}/liveness/{instance}", settings.run_id), client_prefix)
            .with_topic_root(&settings.topic_root),
        losses_before,
        checker: scenario.instance_name(version),
        step: scenario.steps.len() + 1,
    };
    match (check.run(run), result) {
        (Ok(()), result) => result.map_or_else(Outcome::Failed, |()| Outcome::Passed),
        (Err(mut failure), result) => {
            if let Err(before) = result {
                failure.message.push_str(&format!(
                    "\nbefore that, the scenario failed at step {}: {}: {}",
                    before.step, before.step_text, before.message
                ));
            }
            Outcome::Failed(failure)
        }
    }
}

/// How long a run waits, before it starts, for a broker that does not accept connections: one
/// that a supervisor is bringing back after a crash (which the check of the run that caused it
/// reports). A run that starts while it is down would fail for no fault of its own.
const BROKER_RESTART_GRACE: Duration = Duration::from_secs(3);

/// Waits until the broker accepts a TCP connection, or [`BROKER_RESTART_GRACE`] has passed.
fn wait_for_broker(endpoint: &Endpoint) {
    let deadline = Instant::now() + BROKER_RESTART_GRACE;
    while !endpoint.accepts_tcp(BROKER_RESTART_GRACE) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The liveness check after one scenario run.
struct Check<'a> {
    settings: &'a Settings,
    version: SpecVersion,
    /// The probe's names: a topic of its own, the scenario's client id prefix.
    probe: Context,
    /// The sentinel's losses seen when the run started.
    losses_before: Option<usize>,
    /// The run's name, for the sentinel's messages.
    checker: String,
    /// The step number the check takes in a failure report: after the scenario's last.
    step: usize,
}

impl Check<'_> {
    /// A new client's round trip ([`liveness::probe_steps`]) while the scenario's connections
    /// are still open (a broker stalled by one of them fails it), then again once they are
    /// closed and the broker has closed its side (tearing down their sessions can crash it
    /// too), then the sentinel, if the run has one.
    fn run(&self, mut scenario: Run<'_>) -> Result<(), Failure> {
        let qos1 = !self.settings.unsupported.contains(&Feature::Qos1);
        let steps = liveness::probe_steps(qos1);
        let mut problems = Vec::new();
        let mut received = Vec::new();
        let mut round_trip = |when: &str| {
            let mut probe = Run::new(self.settings, ProtocolVersion::from(self.version), self.probe.clone());
            if let Err(failure) = probe.all(&steps) {
                problems.push(format!(
                    "a new client's QoS {} round trip failed {when}, at its step {} ({}): {}",
                    u8::from(qos1),
                    failure.step,
                    failure.step_text,
                    failure.message
                ));
                if received.is_empty() {
                    received = failure.received;
                }
            }
        };
        round_trip("while the scenario's connections were still open");
        scenario.close_all(Instant::now() + Duration::from_millis(DEFAULT_WITHIN_MS));
        round_trip("once the scenario's connections were closed");
        if let (Some(sentinel), Some(before)) = (&self.settings.sentinel, self.losses_before) {
            if let Err(lost) = sentinel.check(before, &self.checker) {
                problems.push(lost);
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(Failure {
            step: self.step,
            step_text: format!("liveness check: a new client {PROBE_CONN:?} round trip, and the sentinel connection"),
            message: format!("the broker stopped serving after this scenario: {}", problems.join("\n")),
            received,
            stopped_serving: true,
        })
    }
}

struct Run<'a> {
    settings: &'a Settings,
    version: ProtocolVersion,
    context: Context,
    connections: HashMap<String, Connection>,
    /// Every packet received, per connection, for failure reports.
    received: HashMap<String, Vec<String>>,
    /// What the broker did that the first step of an alternative read but did not accept: the
    /// next alternative reads it again.
    unread: HashMap<String, VecDeque<Incoming>>,
    /// While the first step of an alternative runs: everything it reads.
    reading_ahead: Option<Vec<(String, Incoming)>>,
    /// The connection of the innermost step that failed, for the failure report.
    failed_conn: Option<String>,
    /// Whether the broker closed a connection.
    broker_closed: bool,
    /// The connections the broker accepted with a successful CONNACK.
    accepted: BTreeSet<String>,
    /// The Maximum Packet Size each connection's CONNECT declared: the broker never sends a
    /// larger packet on it [MQTT-3.1.2-24] (5.0).
    maximum_packet_size: HashMap<String, usize>,
    /// The size of what a step was to send, over the broker's maximum packet size: the run
    /// stops there, and is skipped rather than judged.
    too_large: Option<usize>,
}

type StepResult = Result<(), String>;

impl<'a> Run<'a> {
    fn new(settings: &'a Settings, version: ProtocolVersion, context: Context) -> Self {
        Run {
            settings,
            version,
            context,
            connections: HashMap::new(),
            received: HashMap::new(),
            unread: HashMap::new(),
            reading_ahead: None,
            failed_conn: None,
            broker_closed: false,
            accepted: BTreeSet::new(),
            maximum_packet_size: HashMap::new(),
            too_large: None,
        }
    }

    /// Runs the steps of a scenario; a failure says where and why.
    fn all(&mut self, steps: &[Step]) -> Result<(), Failure> {
        self.steps(steps).map_err(|(index, message)| {
            let step = &steps[index];
            let conn = self.failed_conn.take().or_else(|| step.conn().map(str::to_string));
            let received = conn.and_then(|conn| self.received.get(&conn)).cloned().unwrap_or_default();
            Failure { step: index + 1, step_text: step.to_string(), message, received, stopped_serving: false }
        })
    }

    /// Runs the steps in order; a failure comes back with the index of the step.
    fn steps(&mut self, steps: &[Step]) -> Result<(), (usize, String)> {
        for (index, step) in steps.iter().enumerate() {
            self.step(step).map_err(|message| (index, message))?;
        }
        Ok(())
    }

    fn step(&mut self, step: &Step) -> StepResult {
        let result = self.act(step);
        if result.is_err() && self.failed_conn.is_none() {
            self.failed_conn = step.conn().map(str::to_string);
        }
        result
    }

    fn act(&mut self, step: &Step) -> StepResult {
        match step {
            Step::Connect(step) => self.connect(step),
            Step::Open { conn } => self.open(conn),
            Step::Send(step) => self.send(step),
            Step::Expect(step) => {
                let received = self.expect_packets(&step.conn, std::slice::from_ref(&step.packet), step.within_ms)?;
                match (step.bytes.get(&self.spec_version()), received.first()) {
                    (Some(spec), Some(received)) => same_bytes(spec, &received.bytes),
                    _ => Ok(()),
                }
            }
            Step::ExpectAnyOrder(ExpectAnyOrderStep { conn, packets, within_ms }) => {
                self.expect_any_order(conn, packets, *within_ms)
            }
            Step::ExpectClosed(step) => self.expect_closed(step),
            Step::ExpectNothing(step) => self.expect_nothing(&step.conn, step.for_ms),
            Step::Wait { ms } => {
                std::thread::sleep(Duration::from_millis(*ms));
                Ok(())
            }
            Step::Cut { conn } => {
                self.forget(conn).ok_or_else(|| format!("{conn:?} is not open"))?.cut();
                Ok(())
            }
            Step::Close { conn } => {
                let connection = self.forget(conn).ok_or_else(|| format!("{conn:?} is not open"))?;
                connection.close(Instant::now() + Duration::from_millis(DEFAULT_WITHIN_MS));
                Ok(())
            }
            Step::Either(alternatives) => self.either(alternatives),
            Step::Repeat(repeat) => self.repeat(repeat),
        }
    }

    /// The first alternative whose first step is met goes on; the others read nothing.
    fn either(&mut self, alternatives: &[Vec<Step>]) -> StepResult {
        let mut missed = Vec::new();
        for (number, alternative) in alternatives.iter().enumerate() {
            let Some((first, rest)) = alternative.split_first() else { continue };
            let context = self.context.clone();
            self.reading_ahead = Some(Vec::new());
            let met = self.step(first);
            let read = self.reading_ahead.take().unwrap_or_default();
            match met {
                Ok(()) => {
                    return self.steps(rest).map_err(|(index, message)| {
                        let step = &rest[index];
                        format!(
                            "alternative {} (its first step was met), step {}: {step}: {message}",
                            number + 1,
                            index + 2
                        )
                    });
                }
                Err(message) => {
                    self.context = context;
                    self.failed_conn = None;
                    for (conn, incoming) in read.into_iter().rev() {
                        self.unread.entry(conn).or_default().push_front(incoming);
                    }
                    missed.push(format!("{}. {first}: {message}", number + 1));
                }
            }
        }
        Err(format!("none of the alternatives happened:\n{}", missed.join("\n")))
    }

    fn repeat(&mut self, repeat: &RepeatStep) -> StepResult {
        let outer = self.context.index();
        for index in 0..repeat.times {
            self.context.set_index(Some(index));
            if let Err((step, message)) = self.steps(&repeat.steps) {
                self.context.set_index(outer);
                let text = &repeat.steps[step];
                return Err(format!("repetition n = {index}, step {}: {text}: {message}", step + 1));
            }
        }
        self.context.set_index(outer);
        Ok(())
    }

    fn open(&mut self, conn: &str) -> StepResult {
        let connection = Connection::open(&self.settings.endpoint, self.version)?;
        if let Some(previous) = self.forget(conn) {
            previous.cut();
        }
        self.connections.insert(conn.to_string(), connection);
        self.received.insert(conn.to_string(), Vec::new());
        self.accepted.remove(conn);
        self.maximum_packet_size.remove(conn);
        Ok(())
    }

    /// Closes every connection and waits, until `deadline`, for the broker to close its side.
    fn close_all(&mut self, deadline: Instant) {
        self.unread.clear();
        for (_, connection) in self.connections.drain() {
            connection.close(deadline);
        }
    }

    /// Takes `conn` out of the run, with anything left unread on it.
    fn forget(&mut self, conn: &str) -> Option<Connection> {
        self.unread.remove(conn);
        self.connections.remove(conn)
    }

    fn connect(&mut self, step: &ConnectStep) -> StepResult {
        self.open(&step.conn)?;
        let connect = step
            .connect
            .build(self.version, &default_client_id(&step.conn), &self.context)
            .map_err(|error| format!("scenario error: {error}"))?;
        self.send_packet(&step.conn, &Packet::Connect(Box::new(connect)))?;
        let connack = PacketTemplate::Connack(step.connack.clone());
        let received = self.expect_packets(&step.conn, std::slice::from_ref(&connack), DEFAULT_WITHIN_MS)?;
        match (self.version, spec_bytes::connack_v311(&step.connack), received.first()) {
            (ProtocolVersion::V311, Some(spec), Some(received)) => same_bytes(&spec, &received.bytes),
            _ => Ok(()),
        }
    }

    fn send(&mut self, step: &SendStep) -> StepResult {
        let bytes = match step.what() {
            // The bytes written from the specification, which the template was shown to
            // encode to when the scenario loaded (`spec_bytes`).
            Some(Outgoing::Packet(_)) if step.bytes.contains_key(&self.spec_version()) => {
                let spec = &step.bytes[&self.spec_version()];
                parse_hex(spec).map_err(|error| format!("scenario error: {error}"))?
            }
            Some(Outgoing::Packet(template)) => {
                let packet = template
                    .build(self.version, &default_client_id(&step.conn), &self.context)
                    .map_err(|error| format!("scenario error: {error}"))?;
                self.note_maximum_packet_size(&step.conn, &packet);
                self.encode(&packet)?
            }
            Some(Outgoing::Hex(hex)) => parse_hex(hex).map_err(|error| format!("scenario error: {error}"))?,
            None => return Err("scenario error: nothing to send".to_string()),
        };
        self.send_bytes(&step.conn, &bytes, step.one_byte_every_ms)
    }

    fn encode(&self, packet: &Packet) -> Result<Vec<u8>, String> {
        let mut bytes = BytesMut::new();
        let with_credentials;
        let packet = match packet {
            Packet::Connect(connect) => {
                let mut connect = connect.clone();
                crate::credentials::apply(&mut connect);
                with_credentials = Packet::Connect(connect);
                &with_credentials
            }
            other => other,
        };
        codec::encode(packet, self.version, &mut bytes)
            .map_err(|error| format!("scenario error: the packet cannot be encoded: {error}"))?;
        Ok(bytes.to_vec())
    }

    fn send_packet(&mut self, conn: &str, packet: &Packet) -> StepResult {
        self.note_maximum_packet_size(conn, packet);
        let bytes = self.encode(packet)?;
        self.send_bytes(conn, &bytes, None)
    }

    fn note_maximum_packet_size(&mut self, conn: &str, packet: &Packet) {
        if let Packet::Connect(connect) = packet {
            match connect.properties.maximum_packet_size {
                Some(size) => self.maximum_packet_size.insert(conn.to_string(), size.get() as usize),
                None => self.maximum_packet_size.remove(conn),
            };
        }
    }

    /// Sends `bytes` at once, or one byte every `pace` milliseconds.
    fn send_bytes(&mut self, conn: &str, bytes: &[u8], pace: Option<u64>) -> StepResult {
        if self.settings.max_packet_size.is_some_and(|maximum| bytes.len() > maximum) {
            self.too_large = Some(bytes.len());
            return Err(format!("{} bytes are over the broker's maximum packet size", bytes.len()));
        }
        let connection = self.connection(conn)?;
        let sent = match pace {
            None => connection.send(bytes),
            Some(ms) => bytes.iter().enumerate().try_for_each(|(index, byte)| {
                if index > 0 {
                    std::thread::sleep(Duration::from_millis(ms));
                }
                connection.send(std::slice::from_ref(byte))
            }),
        };
        sent.map_err(|error| format!("the connection was closed before the packet could be sent: {error}"))
    }

    fn connection(&mut self, conn: &str) -> Result<&mut Connection, String> {
        self.connections.get_mut(conn).ok_or_else(|| not_open(conn))
    }

    /// The next thing the broker does on `conn` before `deadline`, noted for failure reports.
    fn next(&mut self, conn: &str, deadline: Instant) -> Result<Option<Incoming>, String> {
        // The fields one by one: the connection and the unread packets are borrowed together.
        let connection = self.connections.get_mut(conn).ok_or_else(|| not_open(conn))?;
        let incoming = match self.unread.get_mut(conn).and_then(VecDeque::pop_front) {
            Some(unread) => Some(unread),
            None => {
                let incoming = connection.next(deadline).map_err(|error| match error {
                    ConnectionError::Undecodable { .. } => error.to_string(),
                    ConnectionError::Io(error) => format!("reading from the broker failed: {error}"),
                })?;
                match &incoming {
                    Some(Incoming::Packet(received)) => {
                        self.received.entry(conn.to_string()).or_default().push(received.to_string());
                        if let Some(&maximum) = self.maximum_packet_size.get(conn) {
                            if received.bytes.len() > maximum {
                                return Err(format!(
                                    "the broker sent a {} of {} bytes, over the Maximum Packet Size of {maximum} the client \
                                     declared in CONNECT [MQTT-3.1.2-24]",
                                    received.packet.packet_type(),
                                    received.bytes.len()
                                ));
                            }
                        }
                        if matches!(&received.packet, Packet::ConnAck(connack) if !connack.reason_code.is_failure()) {
                            self.accepted.insert(conn.to_string());
                        }
                    }
                    Some(Incoming::Closed) => self.broker_closed = true,
                    None => {}
                }
                incoming
            }
        };
        if let (Some(read), Some(incoming)) = (&mut self.reading_ahead, &incoming) {
            read.push((conn.to_string(), incoming.clone()));
        }
        Ok(incoming)
    }

    fn expect_any_order(&mut self, conn: &str, templates: &[PacketTemplate], within_ms: u64) -> StepResult {
        self.expect_packets(conn, templates, within_ms).map(drop)
    }

    fn spec_version(&self) -> SpecVersion {
        match self.version {
            ProtocolVersion::V311 => SpecVersion::V3_1_1,
            _ => SpecVersion::V5_0,
        }
    }

    /// The next `templates.len()` packets must match the templates, one each, in any order;
    /// they come back in the order they arrived.
    fn expect_packets(
        &mut self,
        conn: &str,
        templates: &[PacketTemplate],
        within_ms: u64,
    ) -> Result<Vec<Received>, String> {
        let mut arrived = Vec::new();
        let deadline = Instant::now() + Duration::from_millis(within_ms);
        let mut waiting: Vec<&PacketTemplate> = templates.iter().collect();
        while !waiting.is_empty() {
            let expected = || waiting.iter().map(|template| template.name()).collect::<Vec<_>>().join(", ");
            let received = match self.next(conn, deadline)? {
                None => return Err(format!("expected {} within {within_ms} ms; nothing arrived", expected())),
                Some(Incoming::Closed) => {
                    return Err(format!("expected {}; the broker closed the connection", expected()));
                }
                Some(Incoming::Packet(received)) => received,
            };
            let mut differences = Vec::new();
            let matched = waiting.iter().position(|template| match self.try_match(template, &received.packet) {
                Ok(()) => true,
                Err(found) => {
                    differences.extend(found);
                    false
                }
            });
            match matched {
                Some(index) => {
                    waiting.remove(index);
                    arrived.push(received);
                }
                None => {
                    return Err(format!(
                        "expected {}, received {}:\n{}",
                        expected(),
                        received.packet.packet_type(),
                        differences.join("\n")
                    ));
                }
            }
        }
        Ok(arrived)
    }

    /// Matches on a copy of the variables, kept only if the packet matches, so that a failed
    /// attempt captures nothing.
    fn try_match(&mut self, template: &PacketTemplate, packet: &Packet) -> Result<(), Vec<String>> {
        let mut context = self.context.clone();
        let mut matcher = Matcher::new(&mut context);
        template.check(packet, &mut matcher);
        matcher.finish()?;
        self.context = context;
        Ok(())
    }

    fn expect_closed(&mut self, step: &ExpectClosedStep) -> StepResult {
        let deadline = Instant::now() + Duration::from_millis(step.within_ms);
        let mut reason_given = false;
        loop {
            match self.next(&step.conn, deadline)? {
                None => return Err(format!("the connection is still open after {} ms", step.within_ms)),
                Some(Incoming::Closed) => break,
                Some(Incoming::Packet(received)) if step.silent => {
                    return Err(format!(
                        "expected the connection to close without a packet, received {} first",
                        received.packet.packet_type()
                    ));
                }
                Some(Incoming::Packet(received)) => {
                    self.check_closing_reason(step, &received)?;
                    reason_given = true;
                }
            }
        }
        if let Some(connection) = self.forget(&step.conn) {
            connection.cut();
        }
        if step.reason_required && !reason_given {
            return Err("the broker closed the connection without saying why (DISCONNECT or CONNACK)".into());
        }
        Ok(())
    }

    fn check_closing_reason(&self, step: &ExpectClosedStep, received: &Received) -> StepResult {
        closing::judge(self.version, self.accepted.contains(&step.conn), step, &received.packet)
    }

    fn expect_nothing(&mut self, conn: &str, for_ms: u64) -> StepResult {
        let deadline = Instant::now() + Duration::from_millis(for_ms);
        match self.next(conn, deadline)? {
            None => Ok(()),
            Some(Incoming::Closed) => {
                Err(format!("expected nothing for {for_ms} ms; the broker closed the connection"))
            }
            Some(Incoming::Packet(received)) => {
                Err(format!("expected nothing for {for_ms} ms, received {}", received.packet.packet_type()))
            }
        }
    }
}

/// The broker's packet is exactly the bytes the specification gives (`spec`, hex).
fn same_bytes(spec: &str, received: &[u8]) -> StepResult {
    let spec = parse_hex(spec).map_err(|error| format!("scenario error: {error}"))?;
    match spec[..] == received[..] {
        true => Ok(()),
        false => Err(format!(
            "the packet matched its template, but its bytes are {}, not the specification's {}",
            crate::template::hex(received),
            crate::template::hex(&spec)
        )),
    }
}

fn not_open(conn: &str) -> String {
    format!("{conn:?} is not open (the scenario cut it, or the broker closed it)")
}

/// A CONNECT that names no client: `{client}-` and the connection's name.
fn default_client_id(conn: &str) -> String {
    format!("{{client}}-{conn}")
}

fn base36(mut number: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut digits = Vec::new();
    loop {
        digits.push(DIGITS[number % 36]);
        number /= 36;
        if number == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// A short id for a run: the time and process, in base 36.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos());
    let mixed = (nanos as usize) ^ (std::process::id() as usize).rotate_left(20);
    let id = base36(mixed % 36usize.pow(5));
    format!("{id:0>5}")
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use verimqtt::runtime::EmbeddedBroker;

    /// The steps (JSON) as scenario `id`, in MQTT 3.1.1.
    fn scenario(id: &str, steps: &str) -> Scenario {
        let json = format!(
            r#"{{"title": "t", "versions": ["3.1.1"], "statements": {{"3.1.1": ["MQTT-3.1.0-1"]}}, "steps": {steps}}}"#
        );
        let mut scenario: Scenario = serde_json::from_str(&json).unwrap();
        scenario.id = id.to_string();
        scenario.validate().unwrap();
        scenario
    }

    fn settings_without_sentinel(address: SocketAddr) -> Settings {
        Settings::new(Endpoint { url: format!("mqtt://{address}").parse().unwrap(), tls: None })
    }

    fn settings_with_sentinel(address: SocketAddr) -> Settings {
        let mut settings = settings_without_sentinel(address);
        settings.open_sentinel(SpecVersion::V3_1_1).unwrap();
        settings
    }

    /// Where a broker listened that has stopped.
    fn dead_broker() -> SocketAddr {
        let broker = EmbeddedBroker::start().unwrap();
        let address = broker.addr();
        broker.shutdown().unwrap();
        address
    }

    /// Runs the steps (JSON) as a scenario in MQTT 3.1.1 against a broker of its own.
    fn run_steps(steps: &str) -> Outcome {
        let broker = EmbeddedBroker::start().unwrap();
        run(&scenario("test/test", steps), SpecVersion::V3_1_1, 0, &settings_without_sentinel(broker.addr()))
    }

    /// Three steps after which the broker must close `c`: a malformed PUBLISH (QoS 3).
    const MALFORMED: &str = r#"[{"connect": {"conn": "c"}},
        {"send": {"conn": "c", "hex": "36 03 00 01 61"}},
        {"expect_closed": {"conn": "c"}}]"#;

    #[test]
    fn a_broker_that_still_serves_passes_the_liveness_check() {
        let broker = EmbeddedBroker::start().unwrap();
        let settings = settings_with_sentinel(broker.addr());
        for id in ["malformed/qos-3", "publish/closes"] {
            assert_eq!(run(&scenario(id, MALFORMED), SpecVersion::V3_1_1, 0, &settings), Outcome::Passed);
        }
        // Unless the QoS 1 round trip is possible, the probe goes at QoS 0.
        let settings = Settings { unsupported: [Feature::Qos1].into(), ..settings };
        assert_eq!(run(&scenario("malformed/qos-3", MALFORMED), SpecVersion::V3_1_1, 1, &settings), Outcome::Passed);
    }

    #[test]
    fn malformed_and_robustness_runs_are_checked_whatever_their_steps() {
        let settings = settings_without_sentinel(dead_broker());
        for id in ["malformed/empty", "robustness/empty"] {
            let failure = failure(run(&scenario(id, "[]"), SpecVersion::V3_1_1, 0, &settings));
            assert!(failure.stopped_serving, "{id}: {failure}");
        }
        assert_eq!(run(&scenario("publish/empty", "[]"), SpecVersion::V3_1_1, 0, &settings), Outcome::Passed);
    }

    #[test]
    fn a_broker_that_dies_during_a_scenario_fails_it() {
        let broker = EmbeddedBroker::start().unwrap();
        let settings = settings_with_sentinel(broker.addr());
        // The broker goes away while the scenario waits for it to close `c`: the scenario's own
        // steps pass, as they would against a broker that crashed.
        let dying = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            broker.shutdown().unwrap();
        });
        let outcome = run(
            &scenario(
                "connect/t",
                r#"[{"connect": {"conn": "c"}}, {"expect_closed": {"conn": "c", "within_ms": 5000}}]"#,
            ),
            SpecVersion::V3_1_1,
            0,
            &settings,
        );
        dying.join().unwrap();
        let failure = failure(outcome);
        assert_eq!(failure.step, 3, "{failure}");
        assert!(failure.message.starts_with("the broker stopped serving after this scenario: "), "{failure}");
        let open =
            "round trip failed while the scenario's connections were still open, at its step 1 (connect \"liveness\")";
        assert!(failure.message.contains(open), "{failure}");
        assert!(failure.message.contains("the sentinel connection, open since the run started, was lost"), "{failure}");
    }

    #[test]
    fn a_broker_restarted_during_a_scenario_fails_it() {
        let first = EmbeddedBroker::start().unwrap();
        let address = first.addr();
        let settings = settings_with_sentinel(address);
        // A supervisor brings the broker back on the same port at once: the probe is served,
        // the sentinel is gone.
        let restarted = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            first.shutdown().unwrap();
            let listener = verimqtt::runtime::Listener::bind(address, verimqtt::runtime::Transport::Tcp).unwrap();
            let server = verimqtt::runtime::Server::new(Default::default(), verimqtt::broker::AllowAll);
            EmbeddedBroker::serve(server.listener(listener)).unwrap()
        });
        let steps = r#"[{"connect": {"conn": "c"}}, {"expect_closed": {"conn": "c", "within_ms": 5000}}, {"wait": {"ms": 300}}]"#;
        let outcome = run(&scenario("connect/t", steps), SpecVersion::V3_1_1, 0, &settings);
        let _second = restarted.join().unwrap();
        let failure = failure(outcome);
        assert!(failure.message.starts_with("the broker stopped serving after this scenario: "), "{failure}");
        assert!(!failure.message.contains("round trip failed"), "the new broker serves: {failure}");
        assert!(failure.message.contains("lost during or before this scenario"), "{failure}");
        assert!(failure.message.contains("noticed by the check after connect/t@3.1.1"), "{failure}");
    }

    #[test]
    fn a_failed_scenario_whose_broker_died_reports_both() {
        let settings = settings_without_sentinel(dead_broker());
        let failure = failure(run(&scenario("malformed/qos-3", MALFORMED), SpecVersion::V3_1_1, 0, &settings));
        assert!(failure.message.starts_with("the broker stopped serving after this scenario: "), "{failure}");
        assert!(failure.message.contains("before that, the scenario failed at step 1: connect \"c\""), "{failure}");
    }

    /// A PINGREQ on `c`, then the alternatives (JSON).
    fn after_a_ping(alternatives: &str) -> Outcome {
        run_steps(&format!(
            r#"[{{"connect": {{"conn": "c"}}}},
                {{"send": {{"conn": "c", "packet": "pingreq"}}}},
                {{"either": {alternatives}}}]"#
        ))
    }

    fn failure(outcome: Outcome) -> Failure {
        match outcome {
            Outcome::Failed(failure) => failure,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn an_alternative_not_met_gives_back_what_it_read() {
        let outcome = after_a_ping(
            r#"[[{"expect": {"conn": "c", "packet": {"suback": {}}}}],
                [{"expect_closed": {"conn": "c"}}],
                [{"expect": {"conn": "c", "packet": "pingresp"}}, {"expect_nothing": {"conn": "c", "for_ms": 50}}]]"#,
        );
        assert_eq!(outcome, Outcome::Passed);
    }

    #[test]
    fn when_no_alternative_is_met_each_says_why() {
        let failure = failure(after_a_ping(
            r#"[[{"expect": {"conn": "c", "packet": {"suback": {}}}}], [{"expect_closed": {"conn": "c", "within_ms": 100}}]]"#,
        ));
        assert_eq!(failure.step, 3);
        assert!(failure.message.starts_with("none of the alternatives happened"), "{failure}");
        assert!(failure.message.contains("1. expect SUBACK"), "{failure}");
        assert!(failure.message.contains("2. expect \"c\" closed"), "{failure}");
        assert_eq!(failure.received.len(), 2, "the CONNACK and the PINGRESP: {failure}");
    }

    #[test]
    fn a_failure_after_a_met_alternative_names_the_step_in_it() {
        let failure = failure(after_a_ping(
            r#"[[{"expect": {"conn": "c", "packet": "pingresp"}}, {"expect": {"conn": "c", "packet": "pingresp", "within_ms": 50}}],
                [{"expect_closed": {"conn": "c"}}]]"#,
        ));
        let expected = "alternative 1 (its first step was met), step 2: expect PINGRESP";
        assert!(failure.message.starts_with(expected), "{failure}");
    }

    #[test]
    fn repeated_steps_know_their_index() {
        let outcome = run_steps(
            r#"[{"connect": {"conn": "sub"}},
                {"send": {"conn": "sub", "packet": {"subscribe": {"subscriptions": [{"filter": "{prefix}/#"}]}}}},
                {"expect": {"conn": "sub", "packet": {"suback": {"reason_codes": ["granted_qos_0"]}}}},
                {"connect": {"conn": "pub"}},
                {"repeat": {"times": 3, "steps": [
                    {"send": {"conn": "pub", "packet": {"publish": {"topic": "{prefix}/{n}"}}}},
                    {"expect": {"conn": "sub", "packet": {"publish": {"topic": "{prefix}/{n}"}}}}
                ]}},
                {"send": {"conn": "pub", "packet": {"publish": {"topic": "{prefix}/x"}}}},
                {"expect": {"conn": "sub", "packet": {"publish": {"topic": "{prefix}/{n}"}}}}]"#,
        );
        let failure = failure(outcome);
        assert_eq!(failure.step, 7, "{{n}} means nothing outside a repetition: {failure}");
    }

    #[test]
    fn a_run_that_would_send_more_than_the_brokers_maximum_packet_size_is_skipped() {
        let broker = EmbeddedBroker::start().unwrap();
        let mut settings = settings_without_sentinel(broker.addr());
        settings.max_packet_size = Some(64);
        let steps = |payload: usize| {
            let payload = "x".repeat(payload);
            format!(
                r#"[{{"connect": {{"conn": "c"}}}},
                    {{"send": {{"conn": "c", "packet": {{"publish": {{"topic": "{{prefix}}/a", "payload": "{payload}"}}}}}}}}]"#
            )
        };
        assert_eq!(run(&scenario("publish/t", &steps(8)), SpecVersion::V3_1_1, 0, &settings), Outcome::Passed);
        let Outcome::Skipped(why) = run(&scenario("publish/t", &steps(100)), SpecVersion::V3_1_1, 1, &settings) else {
            panic!("a PUBLISH of over 100 bytes is not sent to a broker that takes 64")
        };
        assert!(why.contains("over the broker's maximum packet size of 64 bytes"), "{why}");
    }

    #[test]
    fn bytes_can_be_sent_one_at_a_time() {
        let started = Instant::now();
        let outcome = run_steps(
            r#"[{"open": {"conn": "c"}},
                {"send": {"conn": "c", "packet": {"connect": {}}, "one_byte_every_ms": 5}},
                {"expect": {"conn": "c", "packet": {"connack": {"reason_code": "success"}}}}]"#,
        );
        assert_eq!(outcome, Outcome::Passed);
        assert!(started.elapsed() >= Duration::from_millis(5 * 20), "a CONNECT of 21 bytes or more, paced");
    }

    /// A broker that answers the first bytes it reads with `reply`, then holds the connection.
    fn scripted_broker(reply: &'static [u8]) -> SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let _ = stream.read(&mut [0; 256]);
            let _ = stream.write_all(reply);
            std::thread::sleep(Duration::from_secs(2));
        });
        address
    }

    #[test]
    fn a_packet_over_the_clients_maximum_packet_size_fails_the_step() {
        let connack = &[0x20, 0x09, 0x00, 0x00, 0x06, 0x22, 0x00, 0x0a, 0x21, 0x00, 0x14];
        let settings = settings_without_sentinel(scripted_broker(connack));
        let mut run = Run::new(&settings, ProtocolVersion::V5, Context::new("r".into(), "c".into()));
        let steps: Vec<Step> =
            serde_json::from_str(r#"[{"connect": {"conn": "c", "properties": {"maximum_packet_size": 10}}}]"#).unwrap();
        let failure = run.all(&steps).unwrap_err();
        assert!(failure.message.contains("over the Maximum Packet Size of 10"), "{failure}");
    }

    #[test]
    fn base36_digits() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }

    #[test]
    fn run_ids_are_five_characters() {
        let id = new_run_id();
        assert_eq!(id.len(), 5, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
