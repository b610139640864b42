//! SUBSCRIBE (section 3.8) and SUBACK (section 3.9).

use super::{Body, PacketId, PacketType, QoS, properties_in};
use crate::codec::error::{QosField, Violation};
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reader::Reader;
use crate::codec::reason::ReasonCode;
use crate::codec::string::MqttString;
use crate::codec::topic::{check_topic_filter, shared_subscription};
use crate::codec::version::ProtocolVersion;
use crate::codec::writer::Sink;

/// SUBSCRIBE: at least one filter with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The identifier the SUBACK answers with.
    pub packet_id: PacketId,
    /// MQTT 5 properties: a Subscription Identifier and User Properties. Empty in 3.1.1.
    pub properties: Properties,
    /// The filters to subscribe to, in order; never empty.
    pub subscriptions: Vec<Subscription>,
}

/// One topic filter of a SUBSCRIBE and what the subscriber asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The topic filter, which may hold `+` and `#` wildcards or name a shared subscription (`$share/{group}/{filter}`).
    pub filter: MqttString,
    /// The QoS and (MQTT 5) delivery options asked for this filter.
    pub options: SubscriptionOptions,
}

/// The subscription options byte. 3.1.1 has only the QoS; the other options are MQTT 5.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SubscriptionOptions {
    /// The highest QoS the subscriber accepts.
    pub qos: QoS,
    /// Do not send the subscriber its own publications.
    pub no_local: bool,
    /// Keep the RETAIN flag of forwarded messages as the publisher set it.
    pub retain_as_published: bool,
    /// When the server sends the retained messages matching the filter.
    pub retain_handling: RetainHandling,
}

/// When the server sends retained messages for a new subscription (MQTT 5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RetainHandling {
    /// 0: send them at every subscribe, new or not.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription did not exist before.
    SendIfNewSubscription = 1,
    /// 2: do not send them.
    DoNotSend = 2,
}

mod option {
    pub(super) const QOS_MASK: u8 = 0x03;
    pub(super) const NO_LOCAL: u8 = 0x04;
    pub(super) const RETAIN_AS_PUBLISHED: u8 = 0x08;
    pub(super) const RETAIN_HANDLING_SHIFT: u8 = 4;
    pub(super) const RETAIN_HANDLING_MASK: u8 = 0x30;
    /// Everything but the QoS is reserved in 3.1.1 [MQTT-3.8.3-4].
    pub(super) const RESERVED_V311: u8 = 0xfc;
    /// The top two bits are reserved in 5.0 [MQTT-3.8.3-5].
    pub(super) const RESERVED_V5: u8 = 0xc0;
}

impl SubscriptionOptions {
    /// Options that ask only for `qos`, the defaults elsewhere: all 3.1.1 can say.
    pub fn new(qos: QoS) -> Self {
        SubscriptionOptions { qos, ..SubscriptionOptions::default() }
    }

    /// Whether only the QoS differs from the defaults, which is all 3.1.1 can say.
    pub fn is_qos_only(&self) -> bool {
        *self == SubscriptionOptions::new(self.qos)
    }

    fn decode(byte: u8, version: ProtocolVersion) -> Result<Self, Violation> {
        let reserved = if version.is_v5() { option::RESERVED_V5 } else { option::RESERVED_V311 };
        if byte & reserved != 0 {
            return Err(Violation::SubscriptionOptionsReservedBits);
        }
        let qos = QoS::from_u8(byte & option::QOS_MASK).ok_or(Violation::QosThree(QosField::Subscription))?;
        let retain_handling = match (byte & option::RETAIN_HANDLING_MASK) >> option::RETAIN_HANDLING_SHIFT {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNewSubscription,
            2 => RetainHandling::DoNotSend,
            _ => return Err(Violation::RetainHandlingThree),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: byte & option::NO_LOCAL != 0,
            retain_as_published: byte & option::RETAIN_AS_PUBLISHED != 0,
            retain_handling,
        })
    }

    fn byte(&self) -> u8 {
        let mut byte = self.qos as u8 | (self.retain_handling as u8) << option::RETAIN_HANDLING_SHIFT;
        if self.no_local {
            byte |= option::NO_LOCAL;
        }
        if self.retain_as_published {
            byte |= option::RETAIN_AS_PUBLISHED;
        }
        byte
    }
}

impl Subscribe {
    pub(super) fn decode(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = PacketId::decode(reader, PacketType::Subscribe)?;
        let properties = Properties::decode_for(reader, version)?;
        let mut subscriptions = Vec::new();
        while !reader.is_empty() {
            let filter = reader.string()?;
            let options = SubscriptionOptions::decode(reader.u8()?, version)?;
            subscriptions.push(Subscription { filter, options });
        }
        Ok(Subscribe { packet_id, properties, subscriptions })
    }
}

impl Body for Subscribe {
    fn v5_only_content(&self) -> Option<&'static str> {
        properties_in(&[&self.properties]).or_else(|| {
            self.subscriptions
                .iter()
                .any(|subscription| !subscription.options.is_qos_only())
                .then_some("subscription options other than QoS")
        })
    }

    fn check(&self, _packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        if self.subscriptions.is_empty() {
            return Err(Violation::NoTopicFilters(PacketType::Subscribe));
        }
        for Subscription { filter, options } in &self.subscriptions {
            check_topic_filter(filter, version).map_err(Violation::InvalidTopicFilter)?;
            if options.no_local && shared_subscription(filter, version).is_some() {
                return Err(Violation::NoLocalOnSharedSubscription);
            }
        }
        self.properties.check(PropertyContext::Subscribe)
    }

    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        self.packet_id.write(sink);
        self.properties.encode_for(version, sink);
        for subscription in &self.subscriptions {
            sink.string(&subscription.filter);
            sink.u8(subscription.options.byte());
        }
    }
}

/// SUBACK: one code per filter of the SUBSCRIBE, in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The identifier of the SUBSCRIBE this answers.
    pub packet_id: PacketId,
    /// MQTT 5 properties: Reason String and User Properties. Empty in 3.1.1.
    pub properties: Properties,
    /// One per filter of the SUBSCRIBE, in order: the QoS granted (0x00 to 0x02) or a failure (0x80 and above).
    pub reason_codes: Vec<ReasonCode>,
}

impl SubAck {
    pub(super) fn decode(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        let packet_id = PacketId::decode(reader, PacketType::SubAck)?;
        let properties = Properties::decode_for(reader, version)?;
        let reason_codes = decode_reason_codes(reader, PacketType::SubAck, version)?;
        Ok(SubAck { packet_id, properties, reason_codes })
    }
}

impl Body for SubAck {
    fn v5_only_content(&self) -> Option<&'static str> {
        properties_in(&[&self.properties])
    }

    fn check(&self, _packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        check_reason_codes(&self.reason_codes, PacketType::SubAck, version)?;
        self.properties.check(PropertyContext::SubAck)
    }

    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        self.packet_id.write(sink);
        self.properties.encode_for(version, sink);
        write_reason_codes(&self.reason_codes, sink);
    }
}

/// The codes that end a SUBACK or UNSUBACK, one per filter.
pub(super) fn decode_reason_codes(
    reader: &mut Reader,
    packet: PacketType,
    version: ProtocolVersion,
) -> Result<Vec<ReasonCode>, Violation> {
    let mut codes = Vec::new();
    while !reader.is_empty() {
        codes.push(ReasonCode::decode(reader.u8()?, packet, version)?);
    }
    Ok(codes)
}

pub(super) fn write_reason_codes(codes: &[ReasonCode], sink: &mut impl Sink) {
    for code in codes {
        sink.u8(code.value());
    }
}

/// An acknowledgement answers every filter, so it has at least one code, each allowed.
pub(super) fn check_reason_codes(
    codes: &[ReasonCode],
    packet: PacketType,
    version: ProtocolVersion,
) -> Result<(), Violation> {
    if codes.is_empty() {
        return Err(Violation::NoReasonCodes(packet));
    }
    codes.iter().try_for_each(|code| code.check_allowed(packet, version))
}
