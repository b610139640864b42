//! The scenario format: a JSON file per behaviour, with the statements it checks and the steps
//! that check them.
//!
//! ```json
//! {
//!   "title": "A QoS 1 PUBLISH is answered with PUBACK",
//!   "versions": ["3.1.1", "5.0"],
//!   "statements": {"3.1.1": ["MQTT-3.3.4-1"], "5.0": ["MQTT-3.3.4-1"]},
//!   "features": ["qos1"],
//!   "steps": [
//!     {"connect": {"conn": "pub"}},
//!     {"send": {"conn": "pub", "packet": {"publish": {"topic": "{prefix}/a", "qos": 1, "packet_id": 7}}}},
//!     {"expect": {"conn": "pub", "packet": {"puback": {"packet_id": 7}}}}
//!   ]
//! }
//! ```
//!
//! Steps act on named connections. `{prefix}` in a string becomes a topic level unique to the
//! run and the scenario, `{client}` a short client id prefix unique to them, so scenarios can
//! share a broker and run concurrently.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use verimqtt_spec::catalogue::{SpecVersion, catalogue};

use crate::template::{ConnackTemplate, ConnectTemplate, PacketTemplate, Reason};

/// How long an expectation waits for the broker unless the step says otherwise.
pub const DEFAULT_WITHIN_MS: u64 = 2_000;

/// The area of scenarios that strain the broker with hostile but mostly valid input. What they
/// require first, that the broker survives and answers, no statement of the specification
/// names, so a robustness scenario may cite none (`"statements": {"5.0": []}`).
pub const ROBUSTNESS_AREA: &str = "robustness";

/// Areas whose scenarios all end with the liveness check (see [`crate::liveness`]): they feed
/// the broker what is most likely to crash it.
pub const CHECKED_AREAS: [&str; 2] = ["malformed", ROBUSTNESS_AREA];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Set from the file's path under `scenarios/`, without `.json`.
    #[serde(skip)]
    pub id: String,
    pub title: String,
    /// Why the behaviour matters, or how the scenario provokes it.
    #[serde(default)]
    pub notes: Option<String>,
    pub versions: Vec<SpecVersion>,
    /// The statements checked, per version (the versions number them differently).
    pub statements: BTreeMap<SpecVersion, Vec<String>>,
    /// Broker features the scenario needs; a broker without one skips it.
    #[serde(default)]
    pub features: Vec<Feature>,
    pub steps: Vec<Step>,
}

/// Optional broker capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    Retain,
    Wildcards,
    Qos1,
    Qos2,
    Wills,
    PersistentSessions,
    SharedSubscriptions,
    SubscriptionIdentifiers,
    TopicAliases,
    /// Clients in without a user name: a scenario that sends its CONNECT as raw bytes cannot
    /// carry the credentials a broker requires.
    Anonymous,
    /// A second user the suite may log in as: given by the profile, else unsupported.
    SecondUser,
    /// Topics outside `{prefix}` (`$` topics, filters starting with a wildcard): unsupported
    /// when the profile confines the suite to a topic prefix.
    AnyTopic,
}

impl Feature {
    pub const ALL: [Feature; 12] = [
        Feature::Retain,
        Feature::Wildcards,
        Feature::Qos1,
        Feature::Qos2,
        Feature::Wills,
        Feature::PersistentSessions,
        Feature::SharedSubscriptions,
        Feature::SubscriptionIdentifiers,
        Feature::TopicAliases,
        Feature::Anonymous,
        Feature::SecondUser,
        Feature::AnyTopic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Feature::Retain => "retain",
            Feature::Wildcards => "wildcards",
            Feature::Qos1 => "qos1",
            Feature::Qos2 => "qos2",
            Feature::Wills => "wills",
            Feature::PersistentSessions => "persistent_sessions",
            Feature::SharedSubscriptions => "shared_subscriptions",
            Feature::SubscriptionIdentifiers => "subscription_identifiers",
            Feature::TopicAliases => "topic_aliases",
            Feature::Anonymous => "anonymous",
            Feature::SecondUser => "second_user",
            Feature::AnyTopic => "any_topic",
        }
    }

    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|feature| feature.name() == name)
    }
}

/// One step of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Opens the connection, sends CONNECT and expects CONNACK (success, no session unless
    /// said otherwise).
    Connect(ConnectStep),
    /// Opens a TCP connection to the broker.
    Open { conn: String },
    /// Sends a packet, or raw bytes for what no valid packet can say.
    Send(SendStep),
    /// The next packet on the connection must match.
    Expect(ExpectStep),
    /// The next packets on the connection must match these, in any order.
    ExpectAnyOrder(ExpectAnyOrderStep),
    /// The broker must close the connection.
    ExpectClosed(ExpectClosedStep),
    /// Nothing may arrive, and the connection must stay open.
    ExpectNothing(ExpectNothingStep),
    /// Lets time pass.
    Wait { ms: u64 },
    /// Closes the connection abruptly, without DISCONNECT, as a network failure would.
    Cut { conn: String },
    /// Closes the connection as a client must after its DISCONNECT [MQTT-3.14.4-1], then waits
    /// (up to the default expectation time, without failing) for the broker to close its side.
    /// Steps on other connections then follow the broker's handling of this one: a new CONNECT
    /// for the same client id cannot overtake the DISCONNECT on its way through the broker.
    Close { conn: String },
    /// What the broker does next on one connection decides which steps follow: each
    /// alternative starts with an expectation on that connection, tried in order; the first
    /// that is met goes on with the rest of its steps. For what the specification leaves open.
    Either(Vec<Vec<Step>>),
    /// The steps, `times` times over; `{n}` in their strings is the repetition's index.
    Repeat(RepeatStep),
}

impl Step {
    /// The connection the step acts on, if any.
    pub fn conn(&self) -> Option<&str> {
        match self {
            Step::Connect(ConnectStep { conn, .. })
            | Step::Open { conn }
            | Step::Send(SendStep { conn, .. })
            | Step::Expect(ExpectStep { conn, .. })
            | Step::ExpectAnyOrder(ExpectAnyOrderStep { conn, .. })
            | Step::ExpectClosed(ExpectClosedStep { conn, .. })
            | Step::ExpectNothing(ExpectNothingStep { conn, .. })
            | Step::Cut { conn }
            | Step::Close { conn } => Some(conn),
            Step::Either(alternatives) => alternatives.first().and_then(|steps| steps.first()).and_then(Step::conn),
            Step::Wait { .. } | Step::Repeat(_) => None,
        }
    }

    /// Whether the step sends a DISCONNECT packet on `conn`.
    fn sends_disconnect_on(&self, conn: &str) -> bool {
        matches!(self, Step::Send(send) if send.conn == conn
            && matches!(send.what(), Some(Outgoing::Packet(PacketTemplate::Disconnect(_)))))
    }

    /// Whether the step waits for the broker on its connection: what can start an alternative.
    fn is_expectation(&self) -> bool {
        matches!(self, Step::Expect(_) | Step::ExpectAnyOrder(_) | Step::ExpectClosed(_) | Step::ExpectNothing(_))
    }

    /// Calls `visit` on the step and every step nested in it.
    pub fn visit<'a>(&'a self, visit: &mut dyn FnMut(&'a Step)) {
        visit(self);
        match self {
            Step::Either(alternatives) => alternatives.iter().flatten().for_each(|step| step.visit(visit)),
            Step::Repeat(repeat) => repeat.steps.iter().for_each(|step| step.visit(visit)),
            _ => {}
        }
    }

    /// The step and every step nested in it.
    pub fn any(&self, predicate: &dyn Fn(&Step) -> bool) -> bool {
        predicate(self)
            || match self {
                Step::Either(alternatives) => alternatives.iter().flatten().any(|step| step.any(predicate)),
                Step::Repeat(repeat) => repeat.steps.iter().any(|step| step.any(predicate)),
                _ => false,
            }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatStep {
    pub times: usize,
    pub steps: Vec<Step>,
}

/// `{"connect": {"conn": "sub", "clean_start": false, ..., "session_present": true}}`: the
/// CONNECT fields sit beside `conn`; `session_present` (default false) or a whole `connack`
/// template say what to expect back.
#[derive(Debug, Clone)]
pub struct ConnectStep {
    pub conn: String,
    pub connect: ConnectTemplate,
    pub connack: ConnackTemplate,
}

impl<'de> Deserialize<'de> for ConnectStep {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut fields = serde_json::Map::deserialize(deserializer)?;
        let take = |fields: &mut serde_json::Map<String, serde_json::Value>, key: &str| fields.remove(key);
        let conn = take(&mut fields, "conn").ok_or_else(|| D::Error::missing_field("conn"))?;
        let conn = String::deserialize(conn).map_err(D::Error::custom)?;
        let session_present =
            take(&mut fields, "session_present").map(bool::deserialize).transpose().map_err(D::Error::custom)?;
        let connack = match take(&mut fields, "connack") {
            Some(connack) => {
                if session_present.is_some() {
                    return Err(D::Error::custom("give session_present inside connack, or connack not at all"));
                }
                ConnackTemplate::deserialize(connack).map_err(D::Error::custom)?
            }
            None => ConnackTemplate {
                session_present: Some(session_present.unwrap_or(false)),
                reason_code: Some(Reason::Name("success".to_string())),
                properties: None,
            },
        };
        let connect = ConnectTemplate::deserialize(serde_json::Value::Object(fields)).map_err(D::Error::custom)?;
        Ok(ConnectStep { conn, connect, connack })
    }
}

/// `{"send": {"conn": "a", "packet": {...}}}` or `{"send": {"conn": "a", "hex": "c0 00"}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    pub conn: String,
    #[serde(default)]
    pub packet: Option<PacketTemplate>,
    /// Raw bytes, for what no valid packet can say.
    #[serde(default)]
    pub hex: Option<String>,
    /// Sends the bytes one at a time, this many milliseconds apart, as a slow client would.
    #[serde(default)]
    pub one_byte_every_ms: Option<u64>,
    /// Per version, the bytes the specification gives for `packet`, written by hand: the
    /// template must encode to exactly these (checked when the scenario loads, see
    /// [`crate::spec_bytes`]).
    #[serde(default)]
    pub bytes: BTreeMap<SpecVersion, String>,
}

/// What a send step sends.
#[derive(Debug, Clone, Copy)]
pub enum Outgoing<'a> {
    Packet(&'a PacketTemplate),
    Hex(&'a str),
}

impl SendStep {
    /// The packet or the bytes; a scenario that gives both or neither does not load.
    pub fn what(&self) -> Option<Outgoing<'_>> {
        match (&self.packet, &self.hex) {
            (Some(packet), None) => Some(Outgoing::Packet(packet)),
            (None, Some(hex)) => Some(Outgoing::Hex(hex)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    pub conn: String,
    pub packet: PacketTemplate,
    #[serde(default = "default_within")]
    pub within_ms: u64,
    /// Per version, the exact bytes the broker must send, written by hand from the
    /// specification, checked as well as the template (which they must match, checked when
    /// the scenario loads): the verdict does not rest on verimqtt's decoder alone.
    #[serde(default)]
    pub bytes: BTreeMap<SpecVersion, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectAnyOrderStep {
    pub conn: String,
    pub packets: Vec<PacketTemplate>,
    #[serde(default = "default_within")]
    pub within_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectClosedStep {
    pub conn: String,
    #[serde(default = "default_within")]
    pub within_ms: u64,
    /// If the broker says why (MQTT 5 DISCONNECT, or CONNACK for a bad CONNECT) before closing,
    /// it must say this: one reason, or a list of those the specification leaves open.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// Whether the broker must say why before closing (MQTT 5 makes it a SHOULD for most
    /// errors, so by default it need not).
    #[serde(default)]
    pub reason_required: bool,
    /// Whether the broker must close without sending anything first (3.1.1 closes on a bad
    /// CONNECT without CONNACK [MQTT-3.1.4-1]).
    #[serde(default)]
    pub silent: bool,
    /// Where `reason` lists several codes outside the robustness area: the statement that
    /// forbids what the scenario does without naming the one code the broker gives.
    #[serde(default)]
    pub open_by: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectNothingStep {
    pub conn: String,
    pub for_ms: u64,
}

fn default_within() -> u64 {
    DEFAULT_WITHIN_MS
}

/// A scenario that cannot be used as written.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("{id}: {problem}")]
    Invalid { id: String, problem: String },
}

impl Scenario {
    /// Loads every `*.json` under `dir`, sorted by id; any invalid scenario is an error.
    pub fn load_all(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
        let mut paths = Vec::new();
        collect_json(dir, &mut paths).map_err(|source| ScenarioError::Read { path: dir.to_path_buf(), source })?;
        let mut scenarios = paths.iter().map(|path| Scenario::load(dir, path)).collect::<Result<Vec<_>, _>>()?;
        scenarios.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(scenarios)
    }

    pub fn load(root: &Path, path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.into(), source })?;
        let mut scenario: Scenario =
            serde_json::from_str(&text).map_err(|source| ScenarioError::Parse { path: path.into(), source })?;
        let relative = path.strip_prefix(root).unwrap_or(path).with_extension("");
        scenario.id = relative.to_string_lossy().replace('\\', "/");
        scenario.validate()?;
        Ok(scenario)
    }

    /// The statements exist in the catalogue of their version, every version has some (except
    /// in the robustness area), and every step that uses a connection comes after one that
    /// opens it.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let invalid = |problem: String| Err(ScenarioError::Invalid { id: self.id.clone(), problem });
        if self.versions.is_empty() {
            return invalid("no version".into());
        }
        for version in &self.versions {
            match self.statements.get(version) {
                Some(ids) if !ids.is_empty() || self.area() == ROBUSTNESS_AREA => {}
                _ => return invalid(format!("no statement for MQTT {version}")),
            }
        }
        for (version, ids) in &self.statements {
            if !self.versions.contains(version) {
                return invalid(format!("statements for MQTT {version}, which the scenario does not run"));
            }
            if let Some(id) = ids.iter().find(|id| catalogue().get(*version, id).is_none()) {
                return invalid(format!("{id} is not a statement of MQTT {version}"));
            }
        }
        validate_steps(&self.steps, &mut Vec::new(), "step").or_else(invalid)?;
        self.validate_closes().or_else(invalid)?;
        crate::spec_bytes::check(self).or_else(invalid)
    }

    /// Every close a 5.0 run expects is exact: silent, or with the one reason the broker must
    /// give if it says why; several reasons only where a cited statement leaves the choice open
    /// (the robustness area, where limits are the broker's own, says so in SCENARIOS.md).
    fn validate_closes(&self) -> Result<(), String> {
        let mut closes = Vec::new();
        for step in &self.steps {
            step.visit(&mut |step| {
                if let Step::ExpectClosed(closed) = step {
                    closes.push(closed);
                }
            });
        }
        for closed in closes {
            let conn = &closed.conn;
            if let Some(open_by) = &closed.open_by {
                if !self.versions.iter().any(|version| catalogue().get(*version, open_by).is_some()) {
                    return Err(format!("expect_closed on {conn:?}: open_by {open_by} is no statement"));
                }
            }
            if !self.versions.contains(&SpecVersion::V5_0) || closed.silent {
                continue;
            }
            match &closed.reason {
                None => {
                    return Err(format!(
                        "expect_closed on {conn:?} in 5.0 must name the reason a DISCONNECT would carry, or be silent"
                    ));
                }
                Some(Reason::AnyOf(_)) if closed.open_by.is_none() && self.area() != ROBUSTNESS_AREA => {
                    return Err(format!(
                        "expect_closed on {conn:?} accepts several reasons without open_by, the statement that leaves the choice open"
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The first level of the id: `malformed` for `malformed/publish-qos-3`.
    pub fn area(&self) -> &str {
        self.id.split('/').next().unwrap_or_default()
    }

    /// The name of one run of the scenario, as tests and reports show it.
    pub fn instance_name(&self, version: SpecVersion) -> String {
        format!("{}@{version}", self.id)
    }
}

/// Checks `steps`, with `opened` the connections opened before them (and, after, those they
/// open for certain); `path` names them in messages (`step`, `step 3, alternative 2, step`).
fn validate_steps<'a>(steps: &'a [Step], opened: &mut Vec<&'a str>, path: &str) -> Result<(), String> {
    for (index, step) in steps.iter().enumerate() {
        let here = format!("{path} {}", index + 1);
        match step {
            Step::ExpectClosed(closed) if closed.silent && (closed.reason.is_some() || closed.reason_required) => {
                return Err(format!("{here} expects a silent close and a reason"));
            }
            Step::Send(send) if send.what().is_none() => {
                return Err(format!("{here} must send either a packet or hex"));
            }
            Step::Connect(ConnectStep { conn, .. }) | Step::Open { conn } => opened.push(conn.as_str()),
            Step::Either(alternatives) => {
                if alternatives.len() < 2 {
                    return Err(format!("{here} gives fewer than two alternatives"));
                }
                let guard = alternatives[0].first().and_then(Step::conn);
                let mut opened_in_every: Option<Vec<&str>> = None;
                for (number, alternative) in alternatives.iter().enumerate() {
                    let alternative_path = format!("{here}, alternative {}", number + 1);
                    match alternative.first() {
                        Some(first) if first.is_expectation() && first.conn() == guard => {}
                        _ => {
                            return Err(format!(
                                "{alternative_path} must start with an expectation on {:?}, as the first does",
                                guard.unwrap_or_default()
                            ));
                        }
                    }
                    let mut inside = opened.clone();
                    validate_steps(alternative, &mut inside, &format!("{alternative_path}, step"))?;
                    opened_in_every = Some(match opened_in_every {
                        None => inside,
                        Some(every) => every.into_iter().filter(|conn| inside.contains(conn)).collect(),
                    });
                }
                *opened = opened_in_every.unwrap_or_default();
            }
            Step::Repeat(repeat) => {
                if repeat.times == 0 || repeat.steps.is_empty() {
                    return Err(format!("{here} repeats nothing"));
                }
                validate_steps(&repeat.steps, opened, &format!("{here}, repeated step"))?;
            }
            Step::Cut { conn } if index > 0 && steps[index - 1].sends_disconnect_on(conn) => {
                return Err(format!(
                    "{here} cuts {conn:?} right after its DISCONNECT: use close, which waits for the broker to \
                     close its side, so that a later connection cannot overtake the DISCONNECT"
                ));
            }
            other => {
                if let Some(conn) = other.conn().filter(|conn| !opened.contains(conn)) {
                    return Err(format!("{here} uses connection {conn:?} before opening it"));
                }
            }
        }
    }
    Ok(())
}

fn collect_json(dir: &Path, paths: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_json(&path, paths)?;
        } else if path.extension().is_some_and(|extension| extension == "json") {
            paths.push(path);
        }
    }
    Ok(())
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Connect(step) => write!(f, "connect {:?}", step.conn),
            Step::Open { conn } => write!(f, "open {conn:?}"),
            Step::Send(step) => {
                match step.what() {
                    Some(Outgoing::Packet(packet)) => write!(f, "send {} on {:?}", packet.name(), step.conn)?,
                    Some(Outgoing::Hex(hex)) => write!(f, "send bytes {hex} on {:?}", step.conn)?,
                    None => write!(f, "send nothing on {:?}", step.conn)?,
                }
                match step.one_byte_every_ms {
                    Some(ms) => write!(f, ", one byte every {ms} ms"),
                    None => Ok(()),
                }
            }
            Step::Expect(step) => {
                write!(f, "expect {} on {:?} within {} ms", step.packet.name(), step.conn, step.within_ms)
            }
            Step::ExpectAnyOrder(step) => {
                let names: Vec<&str> = step.packets.iter().map(PacketTemplate::name).collect();
                write!(f, "expect {} in any order on {:?} within {} ms", names.join(", "), step.conn, step.within_ms)
            }
            Step::ExpectClosed(step) => write!(f, "expect {:?} closed within {} ms", step.conn, step.within_ms),
            Step::ExpectNothing(step) => write!(f, "expect nothing on {:?} for {} ms", step.conn, step.for_ms),
            Step::Wait { ms } => write!(f, "wait {ms} ms"),
            Step::Cut { conn } => write!(f, "cut {conn:?}"),
            Step::Close { conn } => write!(f, "close {conn:?}"),
            Step::Either(alternatives) => {
                let firsts: Vec<String> =
                    alternatives.iter().filter_map(|steps| steps.first()).map(ToString::to_string).collect();
                write!(f, "either {}", firsts.join(", or "))
            }
            Step::Repeat(repeat) => write!(f, "repeat {} steps {} times", repeat.steps.len(), repeat.times),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario =
            serde_json::from_str(json).map_err(|source| ScenarioError::Parse { path: "test".into(), source })?;
        scenario.id = "test".into();
        scenario.validate()?;
        Ok(scenario)
    }

    const MINIMAL: &str = r#"{
        "title": "t", "versions": ["3.1.1"], "statements": {"3.1.1": ["MQTT-3.1.0-1"]},
        "steps": [{"connect": {"conn": "a", "clean_start": false, "session_present": true}},
                  {"send": {"conn": "a", "hex": "c0 00"}},
                  {"expect": {"conn": "a", "packet": "pingresp"}}]
    }"#;

    /// [`MINIMAL`] with its last step (an expectation of PINGRESP) replaced by `steps` (JSON).
    fn minimal_ending_with(steps: &str) -> String {
        MINIMAL.replace(r#"{"expect": {"conn": "a", "packet": "pingresp"}}"#, steps)
    }

    /// A 5.0 scenario whose one step is this `expect_closed` (JSON), in `area`.
    fn closing(area: &str, expect_closed: &str) -> Result<(), ScenarioError> {
        let mut scenario: Scenario = serde_json::from_str(&format!(
            r#"{{"title": "t", "versions": ["5.0"], "statements": {{"5.0": ["MQTT-3.1.0-1"]}},
                "steps": [{{"open": {{"conn": "c"}}}}, {{"expect_closed": {expect_closed}}}]}}"#
        ))
        .unwrap();
        scenario.id = format!("{area}/test");
        scenario.validate()
    }

    #[test]
    fn a_close_in_5_0_names_its_reason_or_is_silent() {
        assert!(closing("malformed", r#"{"conn": "c"}"#).is_err());
        assert!(closing("malformed", r#"{"conn": "c", "silent": true}"#).is_ok());
        assert!(closing("malformed", r#"{"conn": "c", "reason": "malformed_packet"}"#).is_ok());
    }

    #[test]
    fn several_reasons_need_the_statement_that_leaves_them_open() {
        let open = r#"{"conn": "c", "reason": ["malformed_packet", "protocol_error"]}"#;
        assert!(closing("malformed", open).is_err());
        assert!(closing("robustness", open).is_ok(), "limits are the broker's own");
        let cited = r#"{"conn": "c", "reason": ["malformed_packet", "protocol_error"], "open_by": "MQTT-3.3.1-2"}"#;
        assert!(closing("malformed", cited).is_ok());
        let unknown = r#"{"conn": "c", "reason": ["malformed_packet", "protocol_error"], "open_by": "MQTT-9.9.9-9"}"#;
        assert!(closing("malformed", unknown).is_err());
    }

    #[test]
    fn a_scenario_reads_with_its_steps() {
        let scenario = parse(MINIMAL).unwrap();
        let Step::Connect(connect) = &scenario.steps[0] else { panic!() };
        assert_eq!(connect.connect.clean_start, Some(false));
        assert_eq!(connect.connack.session_present, Some(true));
        let Step::Send(send) = &scenario.steps[1] else { panic!() };
        assert!(matches!(send.what(), Some(Outgoing::Hex("c0 00"))));
        assert_eq!(scenario.steps[2].to_string(), "expect PINGRESP on \"a\" within 2000 ms");
    }

    #[test]
    fn a_misspelt_connect_field_is_rejected() {
        let json = MINIMAL.replace("clean_start", "clean_strat");
        assert!(matches!(parse(&json), Err(ScenarioError::Parse { .. })));
    }

    #[test]
    fn unknown_statements_are_rejected() {
        let json = MINIMAL.replace("MQTT-3.1.0-1", "MQTT-9.9.9-9");
        let error = parse(&json).unwrap_err().to_string();
        assert!(error.contains("MQTT-9.9.9-9 is not a statement of MQTT 3.1.1"), "{error}");
    }

    #[test]
    fn a_connection_must_be_opened_before_use() {
        let json = MINIMAL.replace(r#"{"send": {"conn": "a""#, r#"{"send": {"conn": "b""#);
        let error = parse(&json).unwrap_err().to_string();
        assert!(error.contains("before opening it"), "{error}");
    }

    #[test]
    fn alternatives_start_with_an_expectation_on_one_connection() {
        let steps =
            |either: &str| minimal_ending_with(&format!(r#"{{"open": {{"conn": "b"}}}}, {{"either": {either}}}"#));
        let error = |either: &str| parse(&steps(either)).unwrap_err().to_string();
        let expect = |conn: &str| format!(r#"{{"expect": {{"conn": "{conn}", "packet": "pingresp"}}}}"#);
        let closed = r#"{"expect_closed": {"conn": "a"}}"#;
        assert!(error(&format!("[[{}]]", expect("a"))).contains("fewer than two alternatives"));
        let message = error(&format!("[[{}], [{}]]", expect("a"), expect("b")));
        assert!(message.contains("step 4, alternative 2 must start with an expectation on \"a\""), "{message}");
        let message = error(&format!(r#"[[{}], [{{"wait": {{"ms": 1}}}}]]"#, expect("a")));
        assert!(message.contains("alternative 2 must start with an expectation"), "{message}");
        assert!(parse(&steps(&format!("[[{}], [{closed}]]", expect("a")))).is_ok());
    }

    #[test]
    fn a_connection_opened_in_every_alternative_is_open_after_them() {
        let either = |second: &str| {
            minimal_ending_with(&format!(
                r#"{{"either": [[{{"expect": {{"conn": "a", "packet": "pingresp"}}}}, {{"open": {{"conn": "b"}}}}],
                                [{{"expect_closed": {{"conn": "a"}}}}{second}]]}},
                   {{"cut": {{"conn": "b"}}}}"#
            ))
        };
        assert!(parse(&either(r#", {"open": {"conn": "b"}}"#)).is_ok());
        let error = parse(&either("")).unwrap_err().to_string();
        assert!(error.contains("step 4 uses connection \"b\" before opening it"), "{error}");
    }

    #[test]
    fn a_cut_right_after_a_disconnect_must_be_a_close() {
        let ending = |last: &str| {
            minimal_ending_with(&format!(
                r#"{{"send": {{"conn": "a", "packet": {{"disconnect": {{}}}}}}}}, {{"{last}": {{"conn": "a"}}}}"#
            ))
        };
        let error = parse(&ending("cut")).unwrap_err().to_string();
        assert!(error.contains("cuts \"a\" right after its DISCONNECT: use close"), "{error}");
        assert!(parse(&ending("close")).is_ok());
    }

    #[test]
    fn only_robustness_scenarios_may_cite_no_statement() {
        let json = MINIMAL.replace(r#"["MQTT-3.1.0-1"]"#, "[]");
        let error = parse(&json).unwrap_err().to_string();
        assert!(error.contains("no statement for MQTT 3.1.1"), "{error}");
        let mut scenario: Scenario = serde_json::from_str(&json).unwrap();
        scenario.id = "robustness/test".into();
        assert!(scenario.validate().is_ok());
        assert_eq!(scenario.area(), "robustness");
    }

    #[test]
    fn every_version_needs_statements() {
        let json = MINIMAL.replace(r#"["3.1.1"]"#, r#"["3.1.1", "5.0"]"#);
        let error = parse(&json).unwrap_err().to_string();
        assert!(error.contains("no statement for MQTT 5.0"), "{error}");
    }
}
