//! The bytes a scenario writes by hand from the specification beside a template (`"bytes":
//! {"3.1.1": "40 02 00 07"}` on a `send` or an `expect`) agree with the template: a sent
//! template encodes to exactly them, and an expected template matches them decoded. Checked
//! when a scenario loads, so every run of the suite proves it; the runner then compares what
//! the broker sends with the bytes themselves.

use bytes::BytesMut;
use verimqtt::codec::{self, DecodeOptions, ProtocolVersion};
use verimqtt_spec::catalogue::SpecVersion;

use crate::scenario::{Scenario, Step};
use crate::template::{ConnackTemplate, Context, Matcher, PacketTemplate, Reason, hex, parse_hex};

/// The one 3.1.1 CONNACK that accepts a connection as `template` says (section 3.2): type 2,
/// Remaining Length 2, Session Present, return code 0. `None` where the template leaves the
/// session flag or the code open.
pub fn connack_v311(template: &ConnackTemplate) -> Option<String> {
    let accepted = matches!(&template.reason_code, Some(Reason::Name(name)) if name == "success")
        || matches!(template.reason_code, Some(Reason::Value(0)));
    match (template.session_present, accepted, &template.properties) {
        (Some(session_present), true, None) => Some(format!("20 02 0{} 00", u8::from(session_present))),
        _ => None,
    }
}

/// Every disagreement between a step's bytes and its template, in one message.
pub fn check(scenario: &Scenario) -> Result<(), String> {
    let mut problems = Vec::new();
    for step in &scenario.steps {
        step.visit(&mut |step| {
            let (packet, bytes, sent) = match step {
                Step::Send(send) => match &send.packet {
                    Some(packet) => (packet, &send.bytes, true),
                    None => return,
                },
                Step::Expect(expect) => (&expect.packet, &expect.bytes, false),
                _ => return,
            };
            for (version, spec) in bytes {
                if !scenario.versions.contains(version) {
                    problems.push(format!("bytes for MQTT {version}, which the scenario does not run"));
                } else if let Err(problem) = agree(*version, packet, spec, sent) {
                    problems.push(format!("{} in {version}: {problem}", packet.name()));
                }
            }
        });
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}

/// Whether `spec` (hex) is what `packet` encodes to (`sent`), or what it matches.
pub fn agree(version: SpecVersion, packet: &PacketTemplate, spec: &str, sent: bool) -> Result<(), String> {
    let version = ProtocolVersion::from(version);
    let spec = parse_hex(spec)?;
    let mut context = Context::new("r".into(), "c".into());
    if sent {
        let encode = |context: &Context| {
            let built = packet.build(version, "c-a", context).map_err(|error| error.to_string())?;
            let mut encoded = BytesMut::new();
            codec::encode(&built, version, &mut encoded).map_err(|error| error.to_string())?;
            Ok::<_, String>(encoded)
        };
        let encoded = encode(&context)?;
        // The runner sends these bytes as they are: a placeholder would change with the run.
        if encode(&Context::new("other".into(), "o".into()))? != encoded {
            return Err("a packet sent as the specification's bytes cannot use {prefix}, {run} or {client}".into());
        }
        return match encoded[..] == spec[..] {
            true => Ok(()),
            false => Err(format!("encodes to {}, the specification's bytes are {}", hex(&encoded), hex(&spec))),
        };
    }
    let mut buffer = BytesMut::from(&spec[..]);
    let decoded = match codec::decode(&mut buffer, &DecodeOptions::new(version)) {
        Ok(Some(decoded)) if buffer.is_empty() => decoded,
        other => return Err(format!("{} is not one packet: {other:?}", hex(&spec))),
    };
    let mut matcher = Matcher::new(&mut context);
    packet.check(&decoded, &mut matcher);
    matcher.finish().map_err(|differences| format!("{} does not match: {}", hex(&spec), differences.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(steps: &str) -> Result<Scenario, String> {
        let json = format!(
            r#"{{"title": "t", "versions": ["3.1.1"], "statements": {{"3.1.1": ["MQTT-3.1.0-1"]}},
                "steps": [{{"open": {{"conn": "c"}}}}, {steps}]}}"#
        );
        let scenario: Scenario = serde_json::from_str(&json).map_err(|error| error.to_string())?;
        check(&scenario).map(|()| scenario)
    }

    #[test]
    fn an_accepting_3_1_1_connack_is_four_fixed_bytes() {
        let connack = |json: &str| connack_v311(&serde_json::from_str(json).unwrap());
        assert_eq!(connack(r#"{"session_present": true, "reason_code": "success"}"#).unwrap(), "20 02 01 00");
        assert_eq!(connack(r#"{"session_present": false, "reason_code": 0}"#).unwrap(), "20 02 00 00");
        assert_eq!(connack(r#"{"reason_code": "success"}"#), None, "the session flag left open");
        assert_eq!(connack(r#"{"session_present": false, "reason_code": "not_authorized"}"#), None);
    }

    #[test]
    fn bytes_that_agree_with_their_template_load() {
        assert!(
            scenario(
                r#"{"send": {"conn": "c", "packet": {"puback": {"packet_id": 7}}, "bytes": {"3.1.1": "40 02 00 07"}}}"#
            )
            .is_ok()
        );
        assert!(scenario(r#"{"expect": {"conn": "c", "packet": {"suback": {"packet_id": 1, "reason_codes": ["granted_qos_1"]}}, "bytes": {"3.1.1": "90 03 00 01 01"}}}"#).is_ok());
    }

    #[test]
    fn bytes_that_disagree_with_their_template_do_not() {
        let sent = scenario(
            r#"{"send": {"conn": "c", "packet": {"puback": {"packet_id": 7}}, "bytes": {"3.1.1": "40 02 00 08"}}}"#,
        );
        assert!(sent.unwrap_err().contains("encodes to 40 02 00 07"));
        let expected = scenario(
            r#"{"expect": {"conn": "c", "packet": {"suback": {"packet_id": 1, "reason_codes": ["granted_qos_1"]}}, "bytes": {"3.1.1": "90 03 00 01 00"}}}"#,
        );
        assert!(expected.unwrap_err().contains("does not match"));
        let placeholder = scenario(
            r#"{"send": {"conn": "c", "packet": {"publish": {"topic": "{prefix}"}}, "bytes": {"3.1.1": "30 08 00 06 76 6d 71 2f 72 2f"}}}"#,
        );
        assert!(placeholder.unwrap_err().contains("cannot use"));
        let other_version = scenario(r#"{"send": {"conn": "c", "packet": "pingreq", "bytes": {"5.0": "c0 00"}}}"#);
        assert!(other_version.unwrap_err().contains("does not run"));
    }
}
