//! Runs one scenario in one protocol version against a broker, step by step, and says what
//! happened: passed, failed (at which step, why, with the bytes received), or skipped.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use verimqtt::codec::{self, Packet, PacketType, ProtocolVersion};
use verimqtt_spec::catalogue::SpecVersion;

use crate::connection::{Connection, ConnectionError, Incoming, Received};
use crate::scenario::{
    ConnectStep, DEFAULT_WITHIN_MS, ExpectAnyOrderStep, ExpectClosedStep, Feature, Outgoing, Scenario, SendStep, Step,
};
use crate::template::{Context, Matcher, PacketTemplate, parse_hex};

/// What every scenario of a run shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub address: SocketAddr,
    /// Makes the names of this run unique on a shared broker.
    pub run_id: String,
    /// Features the broker does not have; scenarios needing them are skipped.
    pub unsupported: BTreeSet<Feature>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(Failure),
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

pub fn protocol_version(version: SpecVersion) -> ProtocolVersion {
    match version {
        SpecVersion::V3_1_1 => ProtocolVersion::V311,
        SpecVersion::V5_0 => ProtocolVersion::V5,
    }
}

/// Runs `scenario` in `version`; `instance` tells this run of it from the others of the same
/// run (it goes into the topic and client id prefixes).
pub fn run(scenario: &Scenario, version: SpecVersion, instance: usize, settings: &Settings) -> Outcome {
    if let Some(feature) = scenario.features.iter().find(|feature| settings.unsupported.contains(feature)) {
        return Outcome::Skipped(format!("the broker does not support {}", feature.name()));
    }
    let mut run = Run {
        settings,
        version: protocol_version(version),
        context: Context::new(
            format!("{}/{instance}", settings.run_id),
            format!("v{}{}", settings.run_id, base36(instance)),
        ),
        connections: HashMap::new(),
        received: HashMap::new(),
    };
    for (index, step) in scenario.steps.iter().enumerate() {
        if let Err(message) = run.step(step) {
            let received = step.conn().and_then(|conn| run.received.get(conn)).cloned().unwrap_or_default();
            return Outcome::Failed(Failure { step: index + 1, step_text: step.to_string(), message, received });
        }
    }
    Outcome::Passed
}

struct Run<'a> {
    settings: &'a Settings,
    version: ProtocolVersion,
    context: Context,
    connections: HashMap<String, Connection>,
    /// Every packet received, per connection, for failure reports.
    received: HashMap<String, Vec<String>>,
}

type StepResult = Result<(), String>;

impl Run<'_> {
    fn step(&mut self, step: &Step) -> StepResult {
        match step {
            Step::Connect(step) => self.connect(step),
            Step::Open { conn } => self.open(conn),
            Step::Send(step) => self.send(step),
            Step::Expect(step) => self.expect_any_order(&step.conn, std::slice::from_ref(&step.packet), step.within_ms),
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
                self.connections.remove(conn).ok_or_else(|| format!("{conn:?} is not open"))?.cut();
                Ok(())
            }
        }
    }

    fn open(&mut self, conn: &str) -> StepResult {
        let connection = Connection::open(self.settings.address, self.version)
            .map_err(|error| format!("cannot connect to {}: {error}", self.settings.address))?;
        if let Some(previous) = self.connections.insert(conn.to_string(), connection) {
            previous.cut();
        }
        self.received.insert(conn.to_string(), Vec::new());
        Ok(())
    }

    fn connect(&mut self, step: &ConnectStep) -> StepResult {
        self.open(&step.conn)?;
        let connect = step
            .connect
            .build(self.version, &default_client_id(&step.conn), &self.context)
            .map_err(|error| format!("scenario error: {error}"))?;
        self.send_packet(&step.conn, &Packet::Connect(Box::new(connect)))?;
        let connack = PacketTemplate::Connack(step.connack.clone());
        self.expect_any_order(&step.conn, std::slice::from_ref(&connack), DEFAULT_WITHIN_MS)
    }

    fn send(&mut self, step: &SendStep) -> StepResult {
        match step.what() {
            Some(Outgoing::Packet(template)) => {
                let packet = template
                    .build(self.version, &default_client_id(&step.conn), &self.context)
                    .map_err(|error| format!("scenario error: {error}"))?;
                self.send_packet(&step.conn, &packet)
            }
            Some(Outgoing::Hex(hex)) => {
                let bytes = parse_hex(hex).map_err(|error| format!("scenario error: {error}"))?;
                self.send_bytes(&step.conn, &bytes)
            }
            None => Err("scenario error: nothing to send".to_string()),
        }
    }

    fn send_packet(&mut self, conn: &str, packet: &Packet) -> StepResult {
        let mut bytes = BytesMut::new();
        codec::encode(packet, self.version, &mut bytes)
            .map_err(|error| format!("scenario error: the packet cannot be encoded: {error}"))?;
        self.send_bytes(conn, &bytes)
    }

    fn send_bytes(&mut self, conn: &str, bytes: &[u8]) -> StepResult {
        self.connection(conn)?
            .send(bytes)
            .map_err(|error| format!("the connection was closed before the packet could be sent: {error}"))
    }

    fn connection(&mut self, conn: &str) -> Result<&mut Connection, String> {
        self.connections.get_mut(conn).ok_or_else(|| format!("{conn:?} is not open (the scenario cut it)"))
    }

    /// The next thing the broker does on `conn` before `deadline`, noted for failure reports.
    fn next(&mut self, conn: &str, deadline: Instant) -> Result<Option<Incoming>, String> {
        let incoming = self.connection(conn)?.next(deadline).map_err(|error| match error {
            ConnectionError::Undecodable { .. } => error.to_string(),
            ConnectionError::Io(error) => format!("reading from the broker failed: {error}"),
        })?;
        if let Some(Incoming::Packet(received)) = &incoming {
            self.received.entry(conn.to_string()).or_default().push(received.to_string());
        }
        Ok(incoming)
    }

    /// The next `templates.len()` packets must match the templates, one each, in any order.
    fn expect_any_order(&mut self, conn: &str, templates: &[PacketTemplate], within_ms: u64) -> StepResult {
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
        Ok(())
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
        if let Some(connection) = self.connections.remove(&step.conn) {
            connection.cut();
        }
        if step.reason_required && !reason_given {
            return Err("the broker closed the connection without saying why (DISCONNECT or CONNACK)".into());
        }
        Ok(())
    }

    /// Before closing, a broker may say why: DISCONNECT, or CONNACK for a refused CONNECT.
    fn check_closing_reason(&self, step: &ExpectClosedStep, received: &Received) -> StepResult {
        let code = match &received.packet {
            Packet::Disconnect(disconnect) => disconnect.reason_code,
            Packet::ConnAck(connack) if connack.reason_code.is_failure() => connack.reason_code,
            other => {
                return Err(format!(
                    "expected the connection to close, received {} first",
                    describe_unexpected(other.packet_type())
                ));
            }
        };
        let Some(reasons) = &step.reason else { return Ok(()) };
        let expected = reasons
            .as_slice()
            .iter()
            .map(|reason| reason.code().map_err(|error| format!("scenario error: {error}")))
            .collect::<Result<Vec<_>, _>>()?;
        if !expected.contains(&code) {
            let expected: Vec<String> = expected.iter().map(ToString::to_string).collect();
            return Err(format!("the broker gave the reason {code}, expected {}", expected.join(" or ")));
        }
        Ok(())
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

fn describe_unexpected(packet: PacketType) -> String {
    match packet {
        PacketType::ConnAck => "a CONNACK that accepts the connection".to_string(),
        other => other.to_string(),
    }
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
    use super::*;

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
