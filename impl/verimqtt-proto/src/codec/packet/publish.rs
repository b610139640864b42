//! PUBLISH (section 3.3).

use bytes::Bytes;

use super::{Body, PacketId, PacketType, QoS, properties_in};
use crate::codec::error::{EncodeError, QosField, Violation};
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reader::Reader;
use crate::codec::string::MqttString;
use crate::codec::topic::check_topic_name_string;
use crate::codec::version::ProtocolVersion;
use crate::codec::writer::Sink;

mod flag {
    pub(super) const RETAIN: u8 = 0x01;
    pub(super) const QOS_SHIFT: u8 = 1;
    pub(super) const QOS_MASK: u8 = 0x06;
    pub(super) const DUP: u8 = 0x08;
}

/// PUBLISH. The topic and payload are slices of the received buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this may be a resend of an earlier attempt; always `false` at QoS 0 [MQTT-3.3.1-2].
    pub dup: bool,
    /// The QoS the message is delivered with on this hop.
    pub qos: QoS,
    /// RETAIN: the server keeps the message for future subscribers (a retained message is sent to a new subscriber with it set).
    pub retain: bool,
    /// Empty only in MQTT 5 with a Topic Alias property.
    pub topic: MqttString,
    /// Present exactly when the QoS is 1 or 2.
    pub packet_id: Option<PacketId>,
    /// MQTT 5 properties: Payload Format Indicator, Message Expiry Interval, Topic Alias, Response Topic, Correlation Data, User Properties, Subscription Identifiers, Content Type. Empty in 3.1.1.
    pub properties: Properties,
    /// The application message, any bytes (UTF-8 text when the Payload Format Indicator says so).
    pub payload: Bytes,
}

impl Publish {
    /// A first transmission (DUP 0), not retained, without properties.
    pub fn new(topic: MqttString, qos: QoS, packet_id: Option<PacketId>, payload: Bytes) -> Self {
        Publish { dup: false, qos, retain: false, topic, packet_id, properties: Properties::default(), payload }
    }

    /// The QoS the fixed header flags carry, checked as soon as the fixed header is read.
    pub(crate) fn qos_from_flags(flags: u8) -> Result<QoS, Violation> {
        QoS::from_u8((flags & flag::QOS_MASK) >> flag::QOS_SHIFT).ok_or(Violation::QosThree(QosField::Publish))
    }

    #[inline]
    pub(super) fn decode(reader: &mut Reader, flags: u8, version: ProtocolVersion) -> Result<Self, Violation> {
        let qos = Self::qos_from_flags(flags)?;
        let topic = reader.string()?;
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce | QoS::ExactlyOnce => Some(PacketId::decode(reader, PacketType::Publish)?),
        };
        let properties = Properties::decode_for(reader, version)?;
        Ok(Publish {
            dup: flags & flag::DUP != 0,
            qos,
            retain: flags & flag::RETAIN != 0,
            topic,
            packet_id,
            properties,
            payload: reader.rest(),
        })
    }
}

impl Body for Publish {
    #[inline]
    fn v5_only_content(&self) -> Option<&'static str> {
        properties_in(&[&self.properties])
    }

    #[inline]
    fn check(&self, _packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(Violation::DupOnQos0);
        }
        // 5.0 lets a Topic Alias stand in for the topic (section 3.3.2.3.4).
        let aliased = version.is_v5() && self.properties.topic_alias.is_some();
        if !(aliased && self.topic.is_empty()) {
            check_topic_name_string(&self.topic)?;
        }
        self.properties.check(PropertyContext::Publish)
    }

    /// The identifier must be there exactly when the QoS needs one; the decoder reads it by
    /// the QoS, so only the encoder can meet a mismatch.
    #[inline]
    fn check_fits(&self, _version: ProtocolVersion) -> Result<(), EncodeError> {
        match (self.qos, self.packet_id) {
            (QoS::AtMostOnce, Some(_)) => Err(EncodeError::UnexpectedPacketId),
            (QoS::AtLeastOnce | QoS::ExactlyOnce, None) => Err(EncodeError::MissingPacketId { qos: self.qos as u8 }),
            _ => Ok(()),
        }
    }

    #[inline]
    fn fixed_header_flags(&self, _packet: PacketType) -> u8 {
        let mut flags = (self.qos as u8) << flag::QOS_SHIFT;
        if self.dup {
            flags |= flag::DUP;
        }
        if self.retain {
            flags |= flag::RETAIN;
        }
        flags
    }

    #[inline]
    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        sink.string(&self.topic);
        if let Some(packet_id) = self.packet_id {
            packet_id.write(sink);
        }
        self.properties.encode_for(version, sink);
        sink.put(&self.payload);
    }
}
