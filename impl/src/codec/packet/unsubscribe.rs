//! UNSUBSCRIBE (section 3.10) and UNSUBACK (section 3.11).

use super::subscribe::check_reason_codes;
use super::{PacketId, PacketType};
use crate::codec::error::Violation;
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reader::Reader;
use crate::codec::reason::ReasonCode;
use crate::codec::string::MqttString;
use crate::codec::topic::check_topic_filter;
use crate::codec::version::ProtocolVersion;
use crate::codec::writer::Sink;

/// UNSUBSCRIBE: at least one filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: PacketId,
    pub properties: Properties,
    pub filters: Vec<MqttString>,
}

impl Unsubscribe {
    pub(super) fn decode(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = PacketId::decode(reader, PacketType::Unsubscribe)?;
        let properties = if version.is_v5() { Properties::decode(reader)? } else { Properties::default() };
        let mut filters = Vec::new();
        while !reader.is_empty() {
            filters.push(reader.string()?);
        }
        Ok(Unsubscribe { packet_id, properties, filters })
    }

    pub(super) fn check(&self, version: ProtocolVersion) -> Result<(), Violation> {
        if self.filters.is_empty() {
            return Err(Violation::NoTopicFilters(PacketType::Unsubscribe));
        }
        for filter in &self.filters {
            check_topic_filter(filter, version).map_err(Violation::InvalidTopicFilter)?;
        }
        self.properties.check(PropertyContext::Unsubscribe)
    }

    pub(super) fn write(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        self.packet_id.write(sink);
        if version.is_v5() {
            self.properties.encode(sink);
        }
        for filter in &self.filters {
            sink.string(filter);
        }
    }
}

/// UNSUBACK. In 3.1.1 it is only the packet identifier; in 5.0 it has one code per filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    pub packet_id: PacketId,
    pub properties: Properties,
    /// Empty in 3.1.1.
    pub reason_codes: Vec<ReasonCode>,
}

impl UnsubAck {
    pub(super) fn decode(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = PacketId::decode(reader, PacketType::UnsubAck)?;
        let mut unsuback = UnsubAck { packet_id, properties: Properties::default(), reason_codes: Vec::new() };
        if version.is_v5() {
            unsuback.properties = Properties::decode(reader)?;
            while !reader.is_empty() {
                unsuback.reason_codes.push(ReasonCode::decode(reader.u8()?, PacketType::UnsubAck, version)?);
            }
        }
        Ok(unsuback)
    }

    pub(super) fn check(&self, version: ProtocolVersion) -> Result<(), Violation> {
        if version.is_v5() {
            check_reason_codes(&self.reason_codes, PacketType::UnsubAck, version)?;
        }
        self.properties.check(PropertyContext::UnsubAck)
    }

    pub(super) fn write(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        self.packet_id.write(sink);
        if version.is_v5() {
            self.properties.encode(sink);
            for code in &self.reason_codes {
                sink.u8(code.value());
            }
        }
    }
}
