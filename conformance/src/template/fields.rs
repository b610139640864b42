//! The values a packet template holds, and the context that gives them meaning: the per-run
//! names substituted into strings and the variables a scenario captures.
//!
//! In a template sent to the broker every field is a value (or a bound variable). In a
//! template the broker's packet is matched against, an absent field is not checked, and
//! variables capture what the broker chose (a packet identifier, an assigned client id) for
//! later steps.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use verimqtt::codec::ReasonCode;

/// Placeholders substituted into every string of a scenario.
pub const TOPIC_PREFIX: &str = "{prefix}";
pub const RUN_PREFIX: &str = "{run}";
pub const CLIENT_PREFIX: &str = "{client}";
/// In an item of a repeated list, its index (0, 1, ...).
pub const INDEX: &str = "{n}";

/// The most bytes an MQTT string holds: its length is two bytes.
const MAX_STRING_LEN: usize = 65_535;

/// The first topic level of every `{prefix}`.
pub const TOPIC_ROOT: &str = "vmq";

/// What a template means in one run of one scenario.
#[derive(Debug, Clone)]
pub struct Context {
    /// Replaces `{run}`: topic levels unique to this run of this scenario. `{prefix}` is
    /// `vmq/{run}`; a scenario that needs a topic starting with `$`, or a filter starting with
    /// a wildcard, writes `$vmq/{run}/...` or `+/{run}/...` and stays apart from the others.
    run_levels: String,
    /// The topic levels before the run's in `{prefix}`: [`TOPIC_ROOT`] unless a broker allows
    /// only topics under a prefix of its own.
    topic_root: String,
    /// Replaces `{client}`: a short client id prefix unique to this run of this scenario.
    client_prefix: String,
    /// Replaces `{n}` while an item of a repeated list is built or matched.
    index: Option<usize>,
    variables: HashMap<String, Bound>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Bound {
    Number(u64),
    Text(String),
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Number(number) => write!(f, "{number}"),
            Bound::Text(text) => write!(f, "{text:?}"),
        }
    }
}

/// A template that cannot be turned into a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("variable ${0} is used before a step captured it")]
    Unbound(String),
    #[error("variable ${0} holds a {1}, not what this field needs")]
    WrongKind(String, &'static str),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl TemplateError {
    pub fn invalid(field: &str, reason: impl fmt::Display) -> Self {
        TemplateError::Invalid { field: field.to_string(), reason: reason.to_string() }
    }
}

impl Context {
    pub fn new(run_levels: String, client_prefix: String) -> Self {
        Context {
            run_levels,
            topic_root: TOPIC_ROOT.to_string(),
            client_prefix,
            index: None,
            variables: HashMap::new(),
        }
    }

    /// The context with `{prefix}` under `root` instead of [`TOPIC_ROOT`].
    pub fn with_topic_root(mut self, root: &str) -> Self {
        root.clone_into(&mut self.topic_root);
        self
    }

    /// A string of the scenario with the per-run names (and the index of a repeated item) in
    /// place.
    pub fn expand(&self, text: &str) -> String {
        let text = text
            .replace(TOPIC_PREFIX, &format!("{}/{}", self.topic_root, self.run_levels))
            .replace(RUN_PREFIX, &self.run_levels)
            .replace(CLIENT_PREFIX, &self.client_prefix);
        match self.index {
            Some(index) => text.replace(INDEX, &index.to_string()),
            None => text,
        }
    }

    /// The index `{n}` stands for, in a repetition.
    pub fn index(&self) -> Option<usize> {
        self.index
    }

    pub fn set_index(&mut self, index: Option<usize>) {
        self.index = index;
    }

    fn number(&self, name: &str) -> Result<u64, TemplateError> {
        match self.variables.get(name) {
            Some(Bound::Number(number)) => Ok(*number),
            Some(Bound::Text(_)) => Err(TemplateError::WrongKind(name.to_string(), "string")),
            None => Err(TemplateError::Unbound(name.to_string())),
        }
    }

    fn text(&self, name: &str) -> Result<&str, TemplateError> {
        match self.variables.get(name) {
            Some(Bound::Text(text)) => Ok(text),
            Some(Bound::Number(_)) => Err(TemplateError::WrongKind(name.to_string(), "number")),
            None => Err(TemplateError::Unbound(name.to_string())),
        }
    }
}

/// A number: a literal, or `"$name"`, a variable (captured the first time an expectation
/// meets it, compared afterwards, substituted when sending).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Num {
    Value(u64),
    Var(#[serde(deserialize_with = "variable_name")] String),
    /// `{"differs_from": "$pid"}`, expected only: any value but that of a variable already
    /// captured (a packet identifier still in use must not be used again).
    DiffersFrom {
        #[serde(deserialize_with = "variable_name")]
        differs_from: String,
    },
}

fn variable_name<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    match text.strip_prefix('$') {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(serde::de::Error::custom(format!("{text:?} is neither a number nor a $variable"))),
    }
}

impl Num {
    pub fn resolve(&self, context: &Context) -> Result<u64, TemplateError> {
        match self {
            Num::Value(value) => Ok(*value),
            Num::Var(name) => context.number(name),
            Num::DiffersFrom { .. } => Err(TemplateError::invalid("number", "differs_from can only be expected")),
        }
    }
}

/// A string: a literal (with `{prefix}` and `{client}` substituted), `{"var": "name"}` to use
/// a captured string, `{"capture": "name"}` (expectations only) to capture one, or
/// `{"start": "{prefix}", "repeat": "/", "times": 65520}` for a long one (`start` is optional;
/// `repeat` goes fewer times if the string would be longer than an MQTT string can be, so that
/// a run whose topics go under a longer prefix still sends the longest topic it can).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Text {
    Literal(String),
    Var {
        var: String,
    },
    Capture {
        capture: String,
    },
    Repeat {
        #[serde(default)]
        start: String,
        repeat: String,
        times: usize,
    },
}

impl Text {
    pub fn resolve(&self, context: &Context) -> Result<String, TemplateError> {
        match self {
            Text::Literal(text) => Ok(context.expand(text)),
            Text::Repeat { start, repeat, times } => {
                let (start, repeat) = (context.expand(start), context.expand(repeat));
                let room = MAX_STRING_LEN.saturating_sub(start.len()) / repeat.len().max(1);
                Ok(start + &repeat.repeat((*times).min(room.max(1))))
            }
            Text::Var { var } => context.text(var).map(str::to_string),
            Text::Capture { capture } => {
                Err(TemplateError::invalid(capture, "a capture can only be expected, not sent"))
            }
        }
    }
}

/// A list: written out, or one item repeated, `{"repeat": item, "times": 5000}`, where `{n}`
/// in the item's strings is its index (0, 1, ...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Items<T> {
    List(Vec<T>),
    Repeat { repeat: T, times: usize },
}

impl<T> Items<T> {
    pub fn len(&self) -> usize {
        match self {
            Items::List(items) => items.len(),
            Items::Repeat { times, .. } => *times,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every item, in order, with the context it is read in (`{n}` set for a repeated one).
    pub fn map<R, E>(&self, context: &Context, mut f: impl FnMut(&T, &Context) -> Result<R, E>) -> Result<Vec<R>, E> {
        match self {
            Items::List(items) => items.iter().map(|item| f(item, context)).collect(),
            Items::Repeat { repeat, times } => {
                let mut indexed = context.clone();
                (0..*times)
                    .map(|index| {
                        indexed.index = Some(index);
                        f(repeat, &indexed)
                    })
                    .collect()
            }
        }
    }

    /// Every item, in order, for items that hold no strings.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        let (list, repeated): (&[T], _) = match self {
            Items::List(items) => (items, None),
            Items::Repeat { repeat, times } => (&[], Some(std::iter::repeat_n(repeat, *times))),
        };
        list.iter().chain(repeated.into_iter().flatten())
    }
}

/// Bytes: a UTF-8 string as it is, `{"hex": "de ad"}`, or `{"repeat": "x", "times": 1000}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Payload {
    Text(String),
    Hex { hex: String },
    Repeat { repeat: String, times: usize },
}

impl Payload {
    pub fn bytes(&self) -> Result<Vec<u8>, TemplateError> {
        match self {
            Payload::Text(text) => Ok(text.as_bytes().to_vec()),
            Payload::Hex { hex } => parse_hex(hex).map_err(|reason| TemplateError::invalid("hex", reason)),
            Payload::Repeat { repeat, times } => Ok(repeat.repeat(*times).into_bytes()),
        }
    }
}

/// Hex digits in pairs; spaces, newlines and `_` are ignored.
pub fn parse_hex(hex: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<char> = hex.chars().filter(|c| !c.is_whitespace() && *c != '_').collect();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits in {hex:?}"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let pair: String = pair.iter().collect();
            u8::from_str_radix(&pair, 16).map_err(|_| format!("{pair:?} is not a hex byte"))
        })
        .collect()
}

/// A reason code by its specification name in snake case (`"not_authorized"`,
/// `"granted_qos_1"`, `"normal_disconnection"`), or by its MQTT 5 value. A 3.1.1 CONNACK return
/// code is read as the 5.0 code of the same meaning, so name it (`"not_authorized"` is return
/// code 5 in 3.1.1). Expected, a list accepts any of its codes, where the specification leaves
/// the choice open: `["granted_qos_1", "unspecified_error"]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Reason {
    Value(u8),
    Name(String),
    AnyOf(Vec<Reason>),
}

impl Reason {
    /// The one code to send.
    pub fn code(&self) -> Result<ReasonCode, TemplateError> {
        let invalid = |what: String| TemplateError::invalid("reason_code", what);
        match self {
            Reason::AnyOf(_) => Err(invalid("a list of reason codes can only be expected, not sent".to_string())),
            Reason::Value(value) => {
                ReasonCode::from_u8(*value).ok_or_else(|| invalid(format!("{value:#04x} is no reason code")))
            }
            Reason::Name(name) => match name.as_str() {
                "normal_disconnection" | "granted_qos_0" => Ok(ReasonCode::Success),
                _ => ReasonCode::ALL
                    .iter()
                    .copied()
                    .find(|code| snake_case(code.name()) == *name)
                    .ok_or_else(|| invalid(format!("{name:?} is no reason code name"))),
            },
        }
    }

    /// The codes an expectation accepts.
    pub fn codes(&self) -> Result<Vec<ReasonCode>, TemplateError> {
        match self {
            Reason::AnyOf(reasons) => {
                reasons.iter().map(Reason::codes).collect::<Result<Vec<_>, _>>().map(|codes| codes.concat())
            }
            one => one.code().map(|code| vec![code]),
        }
    }

    /// Whether an expectation accepts `actual`; `Err` names what it expected.
    pub fn accepts(&self, actual: ReasonCode) -> Result<bool, TemplateError> {
        Ok(self.codes()?.contains(&actual))
    }

    /// What an expectation accepts, for messages: `0x00 Success or 0x80 Unspecified error`.
    pub fn describe(&self) -> String {
        match self.codes() {
            Ok(codes) => codes.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or "),
            Err(error) => error.to_string(),
        }
    }
}

fn snake_case(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// A property in an expectation: `"absent"`, `"present"` (any value), or a value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Prop<T> {
    Marker(Marker),
    Value(T),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Marker {
    Absent,
    Present,
}

/// Compares what a broker sent with a template, collecting every difference.
pub struct Matcher<'a> {
    context: &'a mut Context,
    differences: Vec<String>,
}

impl<'a> Matcher<'a> {
    pub fn new(context: &'a mut Context) -> Self {
        Matcher { context, differences: Vec::new() }
    }

    pub fn context(&self) -> &Context {
        self.context
    }

    /// The differences found, if any.
    pub fn finish(self) -> Result<(), Vec<String>> {
        if self.differences.is_empty() { Ok(()) } else { Err(self.differences) }
    }

    pub fn differ(&mut self, field: &str, expected: impl fmt::Display, actual: impl fmt::Display) {
        self.differences.push(format!("{field}: expected {expected}, received {actual}"));
    }

    pub fn error(&mut self, field: &str, error: TemplateError) {
        self.differences.push(format!("{field}: {error}"));
    }

    pub fn num(&mut self, field: &str, expected: Option<&Num>, actual: u64) {
        match expected {
            None => {}
            Some(Num::Value(value)) if *value != actual => self.differ(field, value, actual),
            Some(Num::Value(_)) => {}
            Some(Num::Var(name)) => self.variable(field, name, Bound::Number(actual)),
            Some(Num::DiffersFrom { differs_from }) => match self.context.number(differs_from) {
                Ok(bound) if bound == actual => self.differ(field, format!("anything but ${differs_from}"), actual),
                Ok(_) => {}
                Err(error) => self.error(field, error),
            },
        }
    }

    pub fn text(&mut self, field: &str, expected: Option<&Text>, actual: &str) {
        match expected {
            None => {}
            Some(Text::Var { var } | Text::Capture { capture: var }) => {
                self.variable(field, var, Bound::Text(actual.to_string()))
            }
            Some(expected) => match expected.resolve(self.context) {
                Ok(expected) if expected != actual => self.differ(field, show_text(&expected), show_text(actual)),
                Ok(_) => {}
                Err(error) => self.error(field, error),
            },
        }
    }

    pub fn flag(&mut self, field: &str, expected: Option<bool>, actual: bool) {
        if let Some(expected) = expected.filter(|&expected| expected != actual) {
            self.differ(field, expected, actual);
        }
    }

    pub fn bytes(&mut self, field: &str, expected: Option<&Payload>, actual: &[u8]) {
        let Some(expected) = expected else { return };
        match expected.bytes() {
            Ok(expected) if expected != actual => self.differ(field, show_bytes(&expected), show_bytes(actual)),
            Ok(_) => {}
            Err(error) => self.error(field, error),
        }
    }

    pub fn reason(&mut self, field: &str, expected: Option<&Reason>, actual: ReasonCode) {
        let Some(expected) = expected else { return };
        match expected.accepts(actual) {
            Ok(true) => {}
            Ok(false) => self.differ(field, expected.describe(), actual),
            Err(error) => self.error(field, error),
        }
    }

    /// A property: `absent` and `present` test presence, a value tests presence and value.
    pub fn prop<T, A>(
        &mut self,
        field: &str,
        expected: Option<&Prop<T>>,
        actual: Option<A>,
        compare: impl FnOnce(&mut Self, &str, &T, A),
    ) {
        match (expected, actual) {
            (None, _) | (Some(Prop::Marker(Marker::Absent)), None) | (Some(Prop::Marker(Marker::Present)), Some(_)) => {
            }
            (Some(Prop::Marker(Marker::Absent)), Some(_)) => self.differ(field, "absent", "present"),
            (Some(Prop::Marker(Marker::Present) | Prop::Value(_)), None) => self.differ(field, "present", "absent"),
            (Some(Prop::Value(expected)), Some(actual)) => compare(self, field, expected, actual),
        }
    }

    /// Captures an unbound variable, or compares with what it holds.
    fn variable(&mut self, field: &str, name: &str, actual: Bound) {
        match self.context.variables.get(name) {
            None => {
                self.context.variables.insert(name.to_string(), actual);
            }
            Some(bound) if *bound != actual => {
                let bound = bound.to_string();
                self.differ(field, format!("${name} = {bound}"), actual)
            }
            Some(_) => {}
        }
    }
}

/// Bytes as text when they are printable UTF-8, as hex otherwise.
pub fn show_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.chars().all(|c| !c.is_control()) && text.len() <= 80 => format!("{text:?}"),
        _ if bytes.len() > 32 => format!("{} bytes: {} ...", bytes.len(), hex(&bytes[..32])),
        _ => format!("hex {}", hex(bytes)),
    }
}

/// A string, quoted, cut after 80 characters (a topic may be 65,535 bytes long).
pub fn show_text(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{} bytes: {:?} ...", text.len(), &text[..cut]),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context::new("run1/7".to_string(), "vr1a7".to_string())
    }

    #[test]
    fn differs_from_rejects_the_captured_value_only() {
        let differs: Num = serde_json::from_str(r#"{"differs_from": "$pid"}"#).unwrap();
        let mut context = Context::new("r".into(), "c".into());
        let mut matcher = Matcher::new(&mut context);
        matcher.num("packet_id", Some(&Num::Var("pid".into())), 7);
        matcher.num("packet_id", Some(&differs), 8);
        assert!(matcher.finish().is_ok());
        let mut matcher = Matcher::new(&mut context);
        matcher.num("packet_id", Some(&differs), 7);
        assert!(matcher.finish().is_err());
        assert!(differs.resolve(&context).is_err(), "never sent");
    }

    #[test]
    fn placeholders_are_expanded() {
        assert_eq!(context().expand("{prefix}/a/+"), "vmq/run1/7/a/+");
        let allowed = context().with_topic_root("tenants/test/vmq");
        assert_eq!(allowed.expand("{prefix}/a/+"), "tenants/test/vmq/run1/7/a/+");
        assert_eq!(allowed.expand("$vmq/{run}/a"), "$vmq/run1/7/a", "only {{prefix}} goes under the root");
        assert_eq!(context().expand("$vmq/{run}/a"), "$vmq/run1/7/a");
        assert_eq!(context().expand("{client}-sub"), "vr1a7-sub");
    }

    #[test]
    fn a_variable_captures_then_compares() {
        let mut context = context();
        let mut matcher = Matcher::new(&mut context);
        let pid: Num = serde_json::from_str("\"$pid\"").unwrap();
        matcher.num("packet_id", Some(&pid), 7);
        matcher.num("packet_id", Some(&pid), 8);
        assert_eq!(matcher.finish(), Err(vec!["packet_id: expected $pid = 7, received 8".to_string()]));
        assert_eq!(pid.resolve(&context), Ok(7));
    }

    #[test]
    fn an_unbound_variable_cannot_be_sent() {
        let pid: Num = serde_json::from_str("\"$later\"").unwrap();
        assert_eq!(pid.resolve(&context()), Err(TemplateError::Unbound("later".to_string())));
    }

    #[test]
    fn numbers_must_be_numbers_or_variables() {
        assert!(serde_json::from_str::<Num>("\"7\"").is_err());
        assert!(serde_json::from_str::<Num>("\"$\"").is_err());
    }

    #[test]
    fn reason_codes_by_name_and_value() {
        let code = |json: &str| serde_json::from_str::<Reason>(json).unwrap().code();
        assert_eq!(code("\"not_authorized\""), Ok(ReasonCode::NotAuthorized));
        assert_eq!(code("\"re_authenticate\""), Ok(ReasonCode::ReAuthenticate));
        assert_eq!(code("\"normal_disconnection\""), Ok(ReasonCode::Success));
        assert_eq!(code("\"granted_qos_2\""), Ok(ReasonCode::GrantedQos2));
        assert_eq!(code("135"), Ok(ReasonCode::NotAuthorized));
        assert!(code("\"nonsense\"").is_err());
    }

    #[test]
    fn payloads_from_text_hex_and_repetition() {
        let bytes = |json: &str| serde_json::from_str::<Payload>(json).unwrap().bytes().unwrap();
        assert_eq!(bytes("\"hi\""), b"hi");
        assert_eq!(bytes("{\"hex\": \"de ad_be ef\"}"), [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(bytes("{\"repeat\": \"ab\", \"times\": 3}"), b"ababab");
    }

    #[test]
    fn a_long_string_is_a_start_and_a_repetition() {
        let text: Text = serde_json::from_str(r#"{"start": "{prefix}", "repeat": "/", "times": 3}"#).unwrap();
        assert_eq!(text.resolve(&context()), Ok("vmq/run1/7///".to_string()));
        let deep: Text = serde_json::from_str(r#"{"start": "{prefix}", "repeat": "/", "times": 65530}"#).unwrap();
        let prefixed = context().with_topic_root("a/long/tenant/prefix/vmq");
        let topic = deep.resolve(&prefixed).unwrap();
        assert_eq!(topic.len(), 65_535, "as many levels as fit in an MQTT string");
        assert!(topic.starts_with("a/long/tenant/prefix/vmq/run1/7/"));
        let text: Text = serde_json::from_str(r#"{"repeat": "ab", "times": 2}"#).unwrap();
        assert_eq!(text.resolve(&context()), Ok("abab".to_string()));
        assert!(serde_json::from_str::<Text>(r#"{"repeat": "a", "times": 2, "end": "b"}"#).is_err());
    }

    #[test]
    fn a_repeated_item_knows_its_index() {
        let items: Items<Text> = serde_json::from_str(r#"{"repeat": "{prefix}/{n}", "times": 3}"#).unwrap();
        assert_eq!(items.len(), 3);
        let texts = items.map(&context(), Text::resolve).unwrap();
        assert_eq!(texts, ["vmq/run1/7/0", "vmq/run1/7/1", "vmq/run1/7/2"]);
        let items: Items<Text> = serde_json::from_str(r#"["{prefix}/{n}"]"#).unwrap();
        assert_eq!(items.map(&context(), Text::resolve).unwrap(), ["vmq/run1/7/{n}"]);
        let items: Items<Num> = serde_json::from_str(r#"{"repeat": 4, "times": 2}"#).unwrap();
        assert_eq!(items.iter().collect::<Vec<_>>(), [&Num::Value(4), &Num::Value(4)]);
    }

    #[test]
    fn an_expected_reason_may_be_any_of_a_list() {
        let reason: Reason = serde_json::from_str(r#"["granted_qos_1", 128]"#).unwrap();
        assert_eq!(reason.accepts(ReasonCode::GrantedQos1), Ok(true));
        assert_eq!(reason.accepts(ReasonCode::UnspecifiedError), Ok(true));
        assert_eq!(reason.accepts(ReasonCode::GrantedQos2), Ok(false));
        assert!(reason.code().is_err(), "a list cannot be sent");
        let mut context = context();
        let mut matcher = Matcher::new(&mut context);
        matcher.reason("suback.reason_codes[0]", Some(&reason), ReasonCode::Success);
        assert_eq!(
            matcher.finish(),
            Err(vec![
                "suback.reason_codes[0]: expected 0x01 Granted QoS 1 or 0x80 Unspecified error, received 0x00 Success"
                    .to_string()
            ])
        );
    }

    #[test]
    fn long_strings_are_cut_in_differences() {
        let long = "/".repeat(1000);
        let shown = show_text(&long);
        assert!(shown.starts_with("1000 bytes: \"//") && shown.len() < 120, "{shown}");
        assert_eq!(show_text("a"), "\"a\"");
    }

    #[test]
    fn property_markers_test_presence() {
        let mut context = context();
        let mut matcher = Matcher::new(&mut context);
        let absent: Prop<Num> = serde_json::from_str("\"absent\"").unwrap();
        let present: Prop<Num> = serde_json::from_str("\"present\"").unwrap();
        let compare = |m: &mut Matcher, field: &str, expected: &Num, actual: u64| m.num(field, Some(expected), actual);
        matcher.prop("topic_alias", Some(&absent), Some(3u64), compare);
        matcher.prop("topic_alias", Some(&present), None::<u64>, compare);
        matcher.prop("topic_alias", Some(&present), Some(3u64), compare);
        assert_eq!(
            matcher.finish(),
            Err(vec![
                "topic_alias: expected absent, received present".to_string(),
                "topic_alias: expected present, received absent".to_string(),
            ])
        );
    }
}
