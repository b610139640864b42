//! How `verimqtt sub` prints a message, as mosquitto_sub does: the payload alone, `topic
//! payload` with -v, or an -F format string (`%t`, `%p`, `%j`, `@H`, `\t`...), each followed by
//! a line break unless -N.
//!
//! A format string is checked once, before connecting, so a typo is an error at the start and
//! not a message printed wrongly later.

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Local};
use verimqtt::runtime::client::Message;

use super::json;

/// How messages are printed.
#[derive(Debug, Clone)]
pub struct Output {
    style: Style,
    end_of_line: bool,
    pretty: bool,
}

#[derive(Debug, Clone)]
enum Style {
    Payload,
    Verbose,
    Format(Vec<Piece>),
}

/// A part of a format string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    Field(Field),
    /// `@X`: the time of the message with strftime's `%X`.
    Time(char),
    /// `@N`: the nanoseconds of the time of the message.
    Nanoseconds,
}

/// A `%` specifier with its flags: `%-08.3t` is left-aligned, zero-padded, 8 wide, at most 3
/// characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    what: char,
    left: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

/// The specifiers mosquitto_sub knows.
const SPECIFIERS: &str = "%ACDEFIjJlmPpqRrStUxX";

impl Output {
    /// The output -F (`format`), -v, -N and --pretty describe.
    pub fn new(format: Option<&str>, verbose: bool, end_of_line: bool, pretty: bool) -> Result<Output, String> {
        let style = match format {
            Some(format) => Style::Format(parse(format)?),
            None if verbose => Style::Verbose,
            None => Style::Payload,
        };
        Ok(Output { style, end_of_line, pretty })
    }

    /// The bytes to print for `message` received at `now`, and the errors to report (a
    /// payload `%J` cannot embed); empty when mosquitto_sub prints nothing (an empty payload
    /// without -v or -F).
    pub fn render(&self, message: &Message, now: DateTime<Local>) -> (Vec<u8>, Vec<String>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        match &self.style {
            Style::Payload if message.payload.is_empty() => return (out, errors),
            Style::Payload => out.extend_from_slice(&message.payload),
            Style::Verbose if message.payload.is_empty() => {
                if !self.end_of_line {
                    return (out, errors);
                }
                out.extend_from_slice(format!("{} (null)", message.topic).as_bytes());
            }
            Style::Verbose => {
                out.extend_from_slice(format!("{} ", message.topic).as_bytes());
                out.extend_from_slice(&message.payload);
            }
            Style::Format(pieces) => {
                for piece in pieces {
                    match piece {
                        Piece::Text(text) => out.extend_from_slice(text),
                        Piece::Time(letter) => {
                            out.extend_from_slice(now.format(&format!("%{letter}")).to_string().as_bytes())
                        }
                        Piece::Nanoseconds => {
                            out.extend_from_slice(format!("{:09}", now.timestamp_subsec_nanos()).as_bytes())
                        }
                        Piece::Field(field) => {
                            if let Err(error) = self.field(&mut out, field, message, now) {
                                errors.push(error);
                            }
                        }
                    }
                }
            }
        }
        if self.end_of_line {
            out.push(b'\n');
        }
        (out, errors)
    }

    fn field(&self, out: &mut Vec<u8>, field: &Field, message: &Message, now: DateTime<Local>) -> Result<(), String> {
        let properties = &message.properties;
        let optional_number = |out: &mut Vec<u8>, value: Option<u64>| match value {
            Some(value) => out.extend_from_slice(field.number(value).as_bytes()),
            None => out.extend(std::iter::repeat_n(field.pad(), field.width)),
        };
        match field.what {
            '%' => out.push(b'%'),
            'A' => optional_number(out, properties.topic_alias.map(|alias| u64::from(alias.get()))),
            'E' => optional_number(out, properties.message_expiry_interval.map(u64::from)),
            'F' => optional_number(out, properties.payload_format_indicator.map(|format| format as u64)),
            'S' => optional_number(out, properties.subscription_identifiers.first().map(|id| u64::from(id.get()))),
            'l' => out.extend_from_slice(field.number(message.payload.len() as u64).as_bytes()),
            'm' => {
                out.extend_from_slice(field.number(message.packet_id.map_or(0, |id| u64::from(id.get()))).as_bytes())
            }
            'C' => match &properties.content_type {
                Some(content_type) => out.extend_from_slice(field.text(content_type).as_bytes()),
                None => out.extend(std::iter::repeat_n(b' ', field.width)),
            },
            'R' => {
                if let Some(topic) = &properties.response_topic {
                    out.extend_from_slice(field.text(topic).as_bytes());
                }
            }
            'D' => {
                if let Some(data) = &properties.correlation_data {
                    out.extend_from_slice(data);
                }
            }
            'P' => {
                let pairs: Vec<String> =
                    properties.user_properties.iter().map(|(name, value)| format!("{name}:{value}")).collect();
                out.extend_from_slice(pairs.join(" ").as_bytes());
            }
            'I' => out.extend_from_slice(field.text(&now.format("%FT%T%z").to_string()).as_bytes()),
            'U' => out.extend_from_slice(format!("{}.{:09}", now.timestamp(), now.timestamp_subsec_nanos()).as_bytes()),
            'j' => out.extend_from_slice(&json::message(message, now, json::Payload::Escaped, self.pretty)?),
            'J' => out.extend_from_slice(&json::message(message, now, json::Payload::Embedded, self.pretty)?),
            'p' => field.payload(out, &message.payload),
            'x' => field.hex(out, &message.payload, false),
            'X' => field.hex(out, &message.payload, true),
            'q' => out.push(b'0' + message.qos as u8),
            'r' => out.push(if message.retain { b'1' } else { b'0' }),
            't' => out.extend_from_slice(field.text(&message.topic).as_bytes()),
            other => unreachable!("parse accepts only known specifiers, not {other:?}"),
        }
        Ok(())
    }
}

impl Field {
    fn pad(&self) -> u8 {
        if self.zero && !self.left { b'0' } else { b' ' }
    }

    /// A number as printf's `%d` with these flags prints it.
    fn number(&self, value: u64) -> String {
        let width = self.width;
        match (self.left, self.zero) {
            (true, _) => format!("{value:<width$}"),
            (false, true) => format!("{value:0width$}"),
            (false, false) => format!("{value:>width$}"),
        }
    }

    /// Text as printf's `%s` prints it: cut to the precision, then padded with spaces.
    fn text(&self, value: &str) -> String {
        let cut: String = match self.precision {
            Some(precision) => value.chars().take(precision).collect(),
            None => value.to_owned(),
        };
        let width = self.width;
        if self.left { format!("{cut:<width$}") } else { format!("{cut:>width$}") }
    }

    /// The payload's bytes, cut to the width (as mosquitto_sub cuts them) and padded to it.
    fn payload(&self, out: &mut Vec<u8>, payload: &[u8]) {
        let shown = if self.width > 0 { &payload[..payload.len().min(self.width)] } else { payload };
        self.padded(out, shown.to_vec());
    }

    /// Two hexadecimal digits per byte; with a width, as many whole bytes as fit in it.
    fn hex(&self, out: &mut Vec<u8>, payload: &[u8], upper: bool) {
        let shown = if self.width > 0 { &payload[..payload.len().min(self.width / 2)] } else { payload };
        let mut digits = String::with_capacity(shown.len() * 2);
        for byte in shown {
            let _ = if upper { write!(digits, "{byte:02X}") } else { write!(digits, "{byte:02x}") };
        }
        self.padded(out, digits.into_bytes());
    }

    fn padded(&self, out: &mut Vec<u8>, value: Vec<u8>) {
        let padding = std::iter::repeat_n(self.pad(), self.width.saturating_sub(value.len()));
        if self.left {
            out.extend(value);
            out.extend(padding);
        } else {
            out.extend(padding);
            out.extend(value);
        }
    }
}

/// Reads a format string into its pieces: `%[-][0][width][.precision]X` specifiers, `@X` times
/// (`@@` is an `@`), `\X` escapes (`\n`, `\t`, `\0`, `\\`, `\a`, `\e`, `\r`, `\v`) and text.
fn parse(format: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = Vec::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let mut field = Field { what: '%', left: false, zero: false, width: 0, precision: None };
                field.left = chars.next_if_eq(&'-').is_some();
                field.zero = chars.next_if_eq(&'0').is_some();
                field.width = digits(&mut chars);
                if chars.next_if_eq(&'.').is_some() {
                    field.precision = Some(digits(&mut chars));
                }
                field.what = chars.next().ok_or("incomplete format specifier at the end of -F")?;
                if !SPECIFIERS.contains(field.what) {
                    return Err(format!("invalid format specifier '{}' in -F", field.what));
                }
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Field(field));
            }
            '@' => match chars.next() {
                Some('@') => text.push(b'@'),
                Some('N') => {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Nanoseconds);
                }
                Some(letter) => {
                    let spec = format!("%{letter}");
                    if StrftimeItems::new(&spec).any(|item| matches!(item, Item::Error)) {
                        return Err(format!("invalid time specifier '@{letter}' in -F"));
                    }
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Time(letter));
                }
                None => return Err("incomplete time specifier '@' at the end of -F".into()),
            },
            '\\' => match chars.next() {
                Some(escaped) => text.push(match escaped {
                    '\\' => b'\\',
                    '0' => 0,
                    'a' => 0x07,
                    'e' => 0x1b,
                    'n' => b'\n',
                    'r' => b'\r',
                    't' => b'\t',
                    'v' => 0x0b,
                    other => return Err(format!("invalid escape '\\{other}' in -F")),
                }),
                None => return Err("incomplete escape '\\' at the end of -F".into()),
            },
            other => text.extend_from_slice(other.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    pieces.push(Piece::Text(text));
    pieces.retain(|piece| *piece != Piece::Text(Vec::new()));
    Ok(pieces)
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> usize {
    let mut value = 0usize;
    while let Some(digit) = chars.next_if(char::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(digit as usize - '0' as usize);
    }
    value
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::TimeZone;
    use verimqtt::codec::{MqttString, PacketId, Properties, QoS};

    use super::*;

    fn message(topic: &str, payload: &'static [u8]) -> Message {
        Message {
            topic: MqttString::try_from(topic).unwrap(),
            payload: Bytes::from_static(payload),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::default(),
            packet_id: PacketId::new(7),
        }
    }

    fn printed(format: Option<&str>, verbose: bool, end_of_line: bool, message: &Message) -> String {
        let output = Output::new(format, verbose, end_of_line, false).unwrap();
        let now = Local.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        let (bytes, errors) = output.render(message, now);
        assert!(errors.is_empty(), "{errors:?}");
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn plain_and_verbose_print_as_mosquitto_sub_including_empty_payloads() {
        let hello = message("a/b", b"hello");
        let empty = message("a/b", b"");
        assert_eq!(printed(None, false, true, &hello), "hello\n");
        assert_eq!(printed(None, false, true, &empty), "", "nothing at all, not an empty line");
        assert_eq!(printed(None, true, true, &hello), "a/b hello\n");
        assert_eq!(printed(None, true, true, &empty), "a/b (null)\n");
        assert_eq!(printed(None, true, false, &empty), "");
        assert_eq!(printed(None, false, false, &hello), "hello");
    }

    #[test]
    fn specifiers_with_width_precision_and_alignment() {
        let hello = message("sensors/1", b"hello");
        assert_eq!(printed(Some("%t|%p|%q|%r|%m|%l|%%"), false, false, &hello), "sensors/1|hello|1|1|7|5|%");
        assert_eq!(
            printed(Some("[%12t|%-12t|%.3t|%10.3t]"), false, false, &hello),
            "[   sensors/1|sensors/1   |sen|       sen]"
        );
        assert_eq!(printed(Some("[%3p|%8p|%-8p|%08p]"), false, false, &hello), "[hel|   hello|hello   |000hello]");
        assert_eq!(printed(Some("[%06l|%-4l|%4m|%-08l]"), false, false, &hello), "[000005|5   |   7|5       ]");
        assert_eq!(printed(Some("%x %X %12x"), false, false, &message("t", b"\x01\xab")), "01ab 01AB         01ab");
        assert_eq!(printed(Some("%4x"), false, false, &hello), "6865", "as many whole bytes as fit");
    }

    #[test]
    fn absent_properties_print_as_blanks_of_the_width() {
        let hello = message("t", b"x");
        assert_eq!(printed(Some("[%5A|%05E|%5C|%R|%D|%P|%S]"), false, false, &hello), "[     |00000|     ||||]");
        let mut with = message("t", b"x");
        with.properties.content_type = Some(MqttString::try_from("text/plain").unwrap());
        with.properties.message_expiry_interval = Some(100);
        with.properties.user_properties = vec![
            (MqttString::try_from("a").unwrap(), MqttString::try_from("b").unwrap()),
            (MqttString::try_from("c").unwrap(), MqttString::try_from("d").unwrap()),
        ];
        assert_eq!(printed(Some("[%C|%5E|%P]"), false, false, &with), "[text/plain|  100|a:b c:d]");
    }

    #[test]
    fn escapes_and_times() {
        let hello = message("t", b"x");
        assert_eq!(printed(Some("a\\tb\\\\c\\n@@"), false, true, &hello), "a\tb\\c\n@\n");
        let now = Local.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        let expected = format!("{}.123456789 {} 123456789", now.timestamp(), now.format("%Y"));
        assert_eq!(printed(Some("%U @Y @N"), false, false, &hello), expected);
        assert_eq!(printed(Some("%I"), false, false, &hello), now.format("%FT%T%z").to_string());
    }

    #[test]
    fn a_wrong_format_string_is_refused_before_anything_is_printed() {
        for (format, wanted) in [
            ("%", "incomplete format specifier"),
            ("%5", "incomplete format specifier"),
            ("%z", "invalid format specifier 'z'"),
            ("@", "incomplete time specifier"),
            ("\\q", "invalid escape"),
        ] {
            let error = Output::new(Some(format), false, true, false).unwrap_err();
            assert!(error.contains(wanted), "{format:?}: {error}");
        }
    }
}
