//! The verdict on what a broker sends before it closes a connection the scenario expects it to
//! close: exactly what the specification allows in the version being run, nothing looser.
//!
//! - 3.1.1: a server never sends DISCONNECT (the packet goes from client to server only); it
//!   may refuse a CONNECT with a CONNACK return code only where the step names that code.
//! - 5.0: a DISCONNECT only after a successful CONNACK [MQTT-3.14.0-1], carrying the reason
//!   the step names (a step without one accepts only codes of 0x80 or above [MQTT-4.13.2-1]);
//!   a refusing CONNACK, as in 3.1.1, only where the step names its reason.
//! - anything else before the close fails. (A refusing CONNACK with Session Present 1 never
//!   gets here: the strict decoder rejects it, [MQTT-3.2.2-4] in 3.1.1, [MQTT-3.2.2-6] in 5.0.)
//!
//! Whether a DISCONNECT must come at all is the step's `reason_required`: MQTT 5 makes it a
//! SHOULD for most errors (section 4.13), so a plain close passes by default.

use verimqtt::codec::{Packet, PacketType, ProtocolVersion};

use crate::scenario::ExpectClosedStep;

/// Judges `packet`, received on the connection of `step` before it closed; `accepted` says
/// whether the broker had accepted that connection with a successful CONNACK.
pub fn judge(version: ProtocolVersion, accepted: bool, step: &ExpectClosedStep, packet: &Packet) -> Result<(), String> {
    let code = match packet {
        Packet::Disconnect(_) if version == ProtocolVersion::V311 => {
            return Err("a 3.1.1 server never sends DISCONNECT; it closes the connection".into());
        }
        Packet::Disconnect(_) if !accepted => {
            return Err("DISCONNECT before a successful CONNACK [MQTT-3.14.0-1]".into());
        }
        Packet::Disconnect(disconnect) => disconnect.reason_code,
        Packet::ConnAck(connack) if connack.reason_code.is_failure() && !accepted && step.reason.is_some() => {
            connack.reason_code
        }
        Packet::ConnAck(connack) if connack.reason_code.is_failure() => {
            return Err(format!(
                "expected the connection to close without a CONNACK, received a CONNACK refusing it with {}",
                connack.reason_code
            ));
        }
        other => {
            return Err(format!("expected the connection to close, received {} first", describe(other.packet_type())));
        }
    };
    let Some(reason) = &step.reason else {
        return match code.value() >= 0x80 {
            true => Ok(()),
            false => Err(format!("the broker closed with reason {code}, below 0x80 [MQTT-4.13.2-1]")),
        };
    };
    match reason.accepts(code) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("the broker gave the reason {code}, expected {}", reason.describe())),
        Err(error) => Err(format!("scenario error: {error}")),
    }
}

fn describe(packet: PacketType) -> String {
    match packet {
        PacketType::ConnAck => "a CONNACK that accepts the connection".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use verimqtt::codec::{self, DecodeOptions};

    use super::*;
    use crate::template::parse_hex;

    /// The packet these bytes (written from the specification) decode to.
    fn packet(version: ProtocolVersion, hex: &str) -> Packet {
        let mut bytes = BytesMut::from(&parse_hex(hex).unwrap()[..]);
        codec::decode(&mut bytes, &DecodeOptions::new(version)).unwrap().unwrap()
    }

    fn step(json: &str) -> ExpectClosedStep {
        serde_json::from_str(json).unwrap()
    }

    const MALFORMED: &str = r#"{"conn": "c", "reason": "malformed_packet"}"#;
    const V5: ProtocolVersion = ProtocolVersion::V5;
    const V311: ProtocolVersion = ProtocolVersion::V311;

    #[test]
    fn a_3_1_1_server_never_sends_disconnect() {
        let disconnect = packet(V311, "e0 00");
        let error = judge(V311, true, &step(MALFORMED), &disconnect).unwrap_err();
        assert!(error.contains("never sends DISCONNECT"), "{error}");
    }

    #[test]
    fn a_5_0_disconnect_carries_exactly_the_reason_named() {
        assert_eq!(judge(V5, true, &step(MALFORMED), &packet(V5, "e0 02 81 00")), Ok(()));
        let protocol_error = judge(V5, true, &step(MALFORMED), &packet(V5, "e0 02 82 00")).unwrap_err();
        assert!(protocol_error.contains("expected"), "{protocol_error}");
        let normal = judge(V5, true, &step(MALFORMED), &packet(V5, "e0 01 00")).unwrap_err();
        assert!(normal.contains("expected"), "{normal}");
    }

    #[test]
    fn a_5_0_disconnect_before_connack_fails() {
        let error = judge(V5, false, &step(MALFORMED), &packet(V5, "e0 02 81 00")).unwrap_err();
        assert!(error.contains("MQTT-3.14.0-1"), "{error}");
    }

    #[test]
    fn without_a_named_reason_only_an_error_code_passes() {
        let any = step(r#"{"conn": "c"}"#);
        assert_eq!(judge(V5, true, &any, &packet(V5, "e0 02 83 00")), Ok(()));
        let error = judge(V5, true, &any, &packet(V5, "e0 01 00")).unwrap_err();
        assert!(error.contains("MQTT-4.13.2-1"), "{error}");
    }

    #[test]
    fn a_refusing_connack_passes_only_where_its_reason_is_named() {
        let refused = packet(V311, "20 02 00 01");
        let error = judge(V311, false, &step(r#"{"conn": "c"}"#), &refused).unwrap_err();
        assert!(error.contains("without a CONNACK"), "{error}");
        let named = step(r#"{"conn": "c", "reason": "unsupported_protocol_version"}"#);
        assert_eq!(judge(V311, false, &named, &refused), Ok(()));
        assert!(judge(V311, true, &named, &refused).is_err(), "a second CONNACK");
    }

    #[test]
    fn any_other_packet_before_the_close_fails() {
        let pingresp = packet(V5, "d0 00");
        assert!(judge(V5, true, &step(MALFORMED), &pingresp).is_err());
        let accepted = packet(V5, "20 03 00 00 00");
        let error = judge(V5, false, &step(MALFORMED), &accepted).unwrap_err();
        assert!(error.contains("accepts the connection"), "{error}");
    }
}
