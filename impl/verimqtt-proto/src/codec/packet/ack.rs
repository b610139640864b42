//! PUBACK, PUBREC, PUBREL and PUBCOMP: the steps of a QoS 1 and QoS 2 flow, which share one
//! shape (sections 3.4 to 3.7).

use super::tail::{self, PropertyLength};
use super::{Body, PacketId, PacketType, properties_in};
use crate::codec::error::Violation;
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reader::Reader;
use crate::codec::reason::ReasonCode;
use crate::codec::version::ProtocolVersion;
use crate::codec::writer::Sink;

/// The body of PUBACK, PUBREC, PUBREL and PUBCOMP. In 3.1.1 only the packet identifier
/// exists; the reason code is then always Success and the properties empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishAck {
    /// The identifier of the PUBLISH this step belongs to.
    pub packet_id: PacketId,
    /// The outcome (MQTT 5); below 0x80 is success. Always 0x00 Success in 3.1.1.
    pub reason_code: ReasonCode,
    /// MQTT 5 properties: Reason String and User Properties. Empty in 3.1.1.
    pub properties: Properties,
}

impl PublishAck {
    /// A successful step with nothing more to say.
    pub fn new(packet_id: PacketId) -> Self {
        PublishAck { packet_id, reason_code: ReasonCode::Success, properties: Properties::default() }
    }

    pub(super) fn decode(reader: &mut Reader, packet: PacketType, version: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = PacketId::decode(reader, packet)?;
        let (reason_code, properties) = tail::decode(reader, packet, version, PropertyLength::Optional)?;
        Ok(PublishAck { packet_id, reason_code, properties })
    }
}

impl Body for PublishAck {
    fn v5_only_content(&self) -> Option<&'static str> {
        properties_in(&[&self.properties])
            .or_else(|| (self.reason_code != ReasonCode::Success).then_some("a reason code"))
    }

    fn check(&self, packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        if version.is_v5() {
            self.reason_code.check_allowed(packet, version)?;
        }
        self.properties.check(context(packet))
    }

    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        self.packet_id.write(sink);
        tail::write(self.reason_code, &self.properties, version, PropertyLength::Optional, sink);
    }
}

fn context(packet: PacketType) -> PropertyContext {
    match packet {
        PacketType::PubRec => PropertyContext::PubRec,
        PacketType::PubRel => PropertyContext::PubRel,
        PacketType::PubComp => PropertyContext::PubComp,
        _ => PropertyContext::PubAck,
    }
}
