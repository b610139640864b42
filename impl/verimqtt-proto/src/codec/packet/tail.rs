//! The optional end shared by PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT and AUTH in MQTT 5:
//! a reason code, then properties, either of which may be left off when it says nothing.

use crate::codec::error::Violation;
use crate::codec::packet::PacketType;
use crate::codec::properties::Properties;
use crate::codec::reader::Reader;
use crate::codec::reason::ReasonCode;
use crate::codec::version::ProtocolVersion;
use crate::codec::writer::Sink;

/// Whether the property length may be left off after a reason code. PUBACK, PUBREC, PUBREL,
/// PUBCOMP and DISCONNECT allow it (sections 3.4.2.2, 3.14.2.2); AUTH omits both or neither
/// (section 3.15.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PropertyLength {
    Optional,
    Required,
}

/// Reads the reason code and properties, each defaulting when the packet ends before it. In
/// 3.1.1 there is neither, and any byte left is the caller's trailing byte.
pub(super) fn decode(
    reader: &mut Reader,
    packet: PacketType,
    version: ProtocolVersion,
    property_length: PropertyLength,
) -> Result<(ReasonCode, Properties), Violation> {
    if !version.is_v5() || reader.is_empty() {
        return Ok((ReasonCode::Success, Properties::default()));
    }
    let code = ReasonCode::decode(reader.u8()?, packet, version)?;
    let properties = if reader.is_empty() && property_length == PropertyLength::Optional {
        Properties::default()
    } else {
        Properties::decode(reader)?
    };
    Ok((code, properties))
}

/// Writes the shortest form [`decode`] reads back as the same code and properties.
pub(super) fn write(
    code: ReasonCode,
    properties: &Properties,
    version: ProtocolVersion,
    property_length: PropertyLength,
    sink: &mut impl Sink,
) {
    let no_properties = properties.is_empty();
    if !version.is_v5() || (code == ReasonCode::Success && no_properties) {
        return;
    }
    sink.u8(code.value());
    if !(no_properties && property_length == PropertyLength::Optional) {
        properties.encode(sink);
    }
}
