//! CONNACK (section 3.2).

use super::{Body, PacketType, properties_in};
use crate::codec::error::Violation;
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reader::Reader;
use crate::codec::reason::{ReasonCode, connack_v311_reason_code, connack_v311_return_code};
use crate::codec::version::ProtocolVersion;
use crate::codec::writer::Sink;

const SESSION_PRESENT: u8 = 0x01;

/// CONNACK. The reason code is in 5.0 terms for both versions: a 3.1.1 return code is read as
/// the 5.0 code of the same meaning (1 as 0x84, 2 as 0x85, 3 as 0x88, 4 as 0x86, 5 as 0x87),
/// and only those codes can be written in 3.1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Whether the server resumed a session it held for the client (always `false` with a failure code).
    pub session_present: bool,
    /// 0x00 Success, or why the connection is refused (then the server closes it).
    pub reason_code: ReasonCode,
    /// MQTT 5 properties: what the server allows and assigns (Receive Maximum, Maximum QoS, Assigned Client Identifier, Server Keep Alive, ...). Empty in 3.1.1.
    pub properties: Properties,
}

impl ConnAck {
    /// A CONNACK without properties.
    pub fn new(session_present: bool, reason_code: ReasonCode) -> Self {
        ConnAck { session_present, reason_code, properties: Properties::default() }
    }

    pub(super) fn decode(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        let flags = reader.u8()?;
        if flags & !SESSION_PRESENT != 0 {
            return Err(Violation::ConnAckReservedFlags);
        }
        let code = reader.u8()?;
        let reason_code = if version.is_v5() {
            ReasonCode::decode(code, PacketType::ConnAck, version)?
        } else {
            connack_v311_reason_code(code)?
        };
        let properties = Properties::decode_for(reader, version)?;
        Ok(ConnAck { session_present: flags & SESSION_PRESENT != 0, reason_code, properties })
    }
}

impl Body for ConnAck {
    fn v5_only_content(&self) -> Option<&'static str> {
        properties_in(&[&self.properties])
    }

    fn check(&self, _packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        self.reason_code.check_allowed(PacketType::ConnAck, version)?;
        if self.session_present && self.reason_code != ReasonCode::Success {
            return Err(Violation::SessionPresentWithFailure);
        }
        self.properties.check(PropertyContext::ConnAck)
    }

    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        sink.u8(if self.session_present { SESSION_PRESENT } else { 0 });
        if version.is_v5() {
            sink.u8(self.reason_code.value());
            self.properties.encode(sink);
        } else {
            // `check` has made sure the code has a 3.1.1 return code.
            let return_code = connack_v311_return_code(self.reason_code);
            debug_assert!(return_code.is_some(), "checked before writing");
            sink.u8(return_code.unwrap_or(self.reason_code.value()));
        }
    }
}
