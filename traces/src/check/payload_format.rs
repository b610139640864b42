//! 5.0 Payload Format Indicators: each message's, as its publisher sent it, and the messages
//! the broker refuses because their payload is not the UTF-8 the indicator claims (section
//! 3.3.2.3.2; the model's [`Config::invalid_payloads`]).
//!
//! [`Config::invalid_payloads`]: verimqtt_model::Config::invalid_payloads

use verimqtt_model::bits::Bits;
use verimqtt_spec::trace::{Event, Node, PacketKind, TraceEvent};

/// The indicator that says the payload is UTF-8 text.
const UTF8: u8 = 1;

/// Per message (numbered as `payloads`), the Payload Format Indicator of the first PUBLISH of
/// it that `publisher` sent: every other PUBLISH of it must carry the same
/// ([MQTT-3.3.2-4] for the broker's copies). `None` for a message sent without one, or never
/// sent.
pub fn payload_formats(events: &[TraceEvent], publisher: &Node, payloads: &[String]) -> Vec<Option<u8>> {
    payloads
        .iter()
        .map(|payload| {
            events
                .iter()
                .filter(|e| &e.node == publisher)
                .find_map(|e| match &e.event {
                    Event::PacketSent { packet, .. }
                        if packet.kind == PacketKind::Publish && packet.payload.as_ref() == Some(payload) =>
                    {
                        Some(packet.payload_format)
                    }
                    _ => None,
                })
                .flatten()
        })
        .collect()
}

/// The messages whose indicator claims UTF-8 text while their payload is not UTF-8.
pub fn invalid_payloads(formats: &[Option<u8>], payloads: &[String]) -> Bits {
    (0..=Bits::MAX)
        .zip(formats.iter().zip(payloads))
        .filter(|(_, (format, payload))| **format == Some(UTF8) && !is_utf8(payload))
        .map(|(n, _)| n)
        .collect()
}

/// Whether a payload as a trace writes it (`payload_text`: the text, or `hex:` and the bytes)
/// is UTF-8.
fn is_utf8(payload: &str) -> bool {
    let Some(hex) = payload.strip_prefix("hex:") else {
        return true;
    };
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|at| hex.get(at..at + 2).and_then(|byte| u8::from_str_radix(byte, 16).ok()))
        .collect();
    bytes.is_some_and(|bytes| std::str::from_utf8(&bytes).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use verimqtt_spec::trace::payload_text;

    #[test]
    fn a_payload_is_utf8_as_its_bytes_are_whatever_the_trace_writes() {
        assert!(is_utf8(&payload_text(b"m3")));
        assert!(is_utf8(&payload_text(b"line\nbreak")), "UTF-8 with a control character, written in hex");
        assert!(!is_utf8(&payload_text(b"m3\xff")));
    }

    #[test]
    fn only_a_utf8_claim_on_a_payload_that_is_not_makes_it_invalid() {
        let payloads = ["m0", "m1", "hex:6d32ff", "hex:6d33ff"].map(String::from);
        let formats = [None, Some(UTF8), Some(UTF8), None];
        assert_eq!(invalid_payloads(&formats, &payloads), [2].into_iter().collect());
    }
}
