//! UNSUBSCRIBE (section 3.10) and UNSUBACK (section 3.11).

use super::subscribe::{check_reason_codes, decode_reason_codes, write_reason_codes};
use super::{Body, PacketId, PacketType, properties_in};
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
    /// The identifier the UNSUBACK answers with.
    pub packet_id: PacketId,
    /// MQTT 5 properties: User Properties. Empty in 3.1.1.
    pub properties: Properties,
    /// The filters to remove, exactly as subscribed; never empty.
    pub filters: Vec<MqttString>,
}

impl Unsubscribe {
    pub(super) fn decode(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = PacketId::decode(reader, PacketType::Unsubscribe)?;
        let properties = Properties::decode_for(reader, version)?;
        let mut filters = Vec::new();
        while !reader.is_empty() {
            filters.push(reader.string()?);
        }
        Ok(Unsubscribe { packet_id, properties, filters })
    }
}

impl Body for Unsubscribe {
    fn v5_only_content(&self) -> Option<&'static str> {
        properties_in(&[&self.properties])
    }

    fn check(&self, _packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        if self.filters.is_empty() {
            return Err(Violation::NoTopicFilters(PacketType::Unsubscribe));
        }
        for filter in &self.filters {
            check_topic_filter(filter, version).map_err(Violation::InvalidTopicFilter)?;
        }
        self.properties.check(PropertyContext::Unsubscribe)
    }

    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        self.packet_id.write(sink);
        self.properties.encode_for(version, sink);
        for filter in &self.filters {
            sink.string(filter);
        }
    }
}

/// UNSUBACK. In 3.1.1 it is only the packet identifier; in 5.0 it has one code per filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// The identifier of the UNSUBSCRIBE this answers.
    pub packet_id: PacketId,
    /// MQTT 5 properties: Reason String and User Properties. Empty in 3.1.1.
    pub properties: Properties,
    /// Empty in 3.1.1.
    pub reason_codes: Vec<ReasonCode>,
}

impl UnsubAck {
    pub(super) fn decode(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = PacketId::decode(reader, PacketType::UnsubAck)?;
        let properties = Properties::decode_for(reader, version)?;
        // 3.1.1's UNSUBACK ends with its packet identifier.
        let reason_codes =
            if version.is_v5() { decode_reason_codes(reader, PacketType::UnsubAck, version)? } else { Vec::new() };
        Ok(UnsubAck { packet_id, properties, reason_codes })
    }
}

impl Body for UnsubAck {
    fn v5_only_content(&self) -> Option<&'static str> {
        properties_in(&[&self.properties])
            .or_else(|| (!self.reason_codes.is_empty()).then_some("UNSUBACK reason codes"))
    }

    fn check(&self, _packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        if version.is_v5() {
            check_reason_codes(&self.reason_codes, PacketType::UnsubAck, version)?;
        }
        self.properties.check(PropertyContext::UnsubAck)
    }

    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        self.packet_id.write(sink);
        self.properties.encode_for(version, sink);
        write_reason_codes(&self.reason_codes, sink);
    }
}
