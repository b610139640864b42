//! MQTT 5 properties (section 2.2.2): all 27 identifiers, their types, and the packets each
//! may appear in.
//!
//! One table below declares every property once; the struct, the decoder, the encoder and
//! the allowed-in-packet check are generated from it, so they cannot disagree.

use std::fmt;
use std::num::{NonZeroU16, NonZeroU32};
use std::ops::{Deref, DerefMut};

use bytes::Bytes;

use super::error::Violation;
use super::packet::QoS;
use super::reader::Reader;
use super::string::{Binary, MqttString};
use super::topic::check_topic_name_string;
use super::varint::MAX_VARINT;
use super::version::ProtocolVersion;
use super::writer::{Sink, measure};

/// Where a property block sits: a packet, or the will properties of a CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyContext {
    /// CONNECT's properties.
    Connect,
    /// The will properties in a CONNECT's payload.
    Will,
    /// CONNACK's properties.
    ConnAck,
    /// PUBLISH's properties.
    Publish,
    /// PUBACK's properties.
    PubAck,
    /// PUBREC's properties.
    PubRec,
    /// PUBREL's properties.
    PubRel,
    /// PUBCOMP's properties.
    PubComp,
    /// SUBSCRIBE's properties.
    Subscribe,
    /// SUBACK's properties.
    SubAck,
    /// UNSUBSCRIBE's properties.
    Unsubscribe,
    /// UNSUBACK's properties.
    UnsubAck,
    /// DISCONNECT's properties.
    Disconnect,
    /// AUTH's properties.
    Auth,
}

impl PropertyContext {
    /// Every place a property block can sit.
    pub const ALL: [PropertyContext; 14] = {
        use PropertyContext::*;
        [
            Connect,
            Will,
            ConnAck,
            Publish,
            PubAck,
            PubRec,
            PubRel,
            PubComp,
            Subscribe,
            SubAck,
            Unsubscribe,
            UnsubAck,
            Disconnect,
            Auth,
        ]
    };
}

impl fmt::Display for PropertyContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyContext::Will => f.write_str("will properties"),
            other => write!(f, "{}", format!("{other:?}").to_uppercase()),
        }
    }
}

/// The Payload Format Indicator: whether the payload is declared to be UTF-8 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// 0: unspecified bytes.
    Unspecified = 0,
    /// 1: UTF-8 encoded character data, which the receiver may check.
    Utf8 = 1,
}

/// A user property: a name and a value, both MQTT strings [MQTT-1.5.7-1].
pub type UserProperty = (MqttString, MqttString);

/// How a property's value is read, written and range-checked.
trait Value: Sized {
    /// Reads the value; a value of the right type but outside the property's range is an
    /// [`Violation::InvalidPropertyValue`] for `id`.
    fn read(reader: &mut Reader, id: PropertyId) -> Result<Self, Violation>;
    fn write(&self, sink: &mut impl Sink);
    /// A range rule for values the Rust type can hold but the property cannot.
    fn check(&self, _id: PropertyId) -> Result<(), Violation> {
        Ok(())
    }
}

fn invalid(property: PropertyId, value: u32) -> Violation {
    Violation::InvalidPropertyValue { property, value }
}

impl Value for bool {
    fn read(reader: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        match reader.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(invalid(id, u32::from(other))),
        }
    }
    fn write(&self, sink: &mut impl Sink) {
        sink.u8(u8::from(*self));
    }
}

impl Value for PayloadFormat {
    fn read(reader: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        match reader.u8()? {
            0 => Ok(PayloadFormat::Unspecified),
            1 => Ok(PayloadFormat::Utf8),
            other => Err(invalid(id, u32::from(other))),
        }
    }
    fn write(&self, sink: &mut impl Sink) {
        sink.u8(*self as u8);
    }
}

/// Only Maximum QoS has a QoS value, and it may say 0 or 1: a server supporting QoS 2 leaves
/// the property out.
impl Value for QoS {
    fn read(reader: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        let value = reader.u8()?;
        let qos = QoS::from_u8(value).ok_or(invalid(id, u32::from(value)))?;
        qos.check(id)?;
        Ok(qos)
    }
    fn write(&self, sink: &mut impl Sink) {
        sink.u8(*self as u8);
    }
    fn check(&self, id: PropertyId) -> Result<(), Violation> {
        match self {
            QoS::ExactlyOnce => Err(invalid(id, 2)),
            QoS::AtMostOnce | QoS::AtLeastOnce => Ok(()),
        }
    }
}

/// Two- and four-byte integers, plain and those where 0 is out of range.
macro_rules! integer_values {
    ($($plain:ty, $non_zero:ty, $width:ident;)*) => {$(
        impl Value for $plain {
            fn read(reader: &mut Reader, _id: PropertyId) -> Result<Self, Violation> {
                reader.$width()
            }
            fn write(&self, sink: &mut impl Sink) {
                sink.$width(*self);
            }
        }

        impl Value for $non_zero {
            fn read(reader: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
                <$non_zero>::new(reader.$width()?).ok_or(invalid(id, 0))
            }
            fn write(&self, sink: &mut impl Sink) {
                sink.$width(self.get());
            }
        }
    )*};
}

integer_values! {
    u16, NonZeroU16, u16;
    u32, NonZeroU32, u32;
}

impl Value for MqttString {
    fn read(reader: &mut Reader, _id: PropertyId) -> Result<Self, Violation> {
        reader.string()
    }
    fn write(&self, sink: &mut impl Sink) {
        sink.string(self);
    }
}

impl Value for Binary {
    fn read(reader: &mut Reader, _id: PropertyId) -> Result<Self, Violation> {
        reader.binary()
    }
    fn write(&self, sink: &mut impl Sink) {
        sink.binary(self);
    }
}

impl Value for UserProperty {
    fn read(reader: &mut Reader, _id: PropertyId) -> Result<Self, Violation> {
        Ok((reader.string()?, reader.string()?))
    }
    fn write(&self, sink: &mut impl Sink) {
        sink.string(&self.0);
        sink.string(&self.1);
    }
}

/// A Subscription Identifier: a variable byte integer from 1 to 268,435,455.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(NonZeroU32);

impl SubscriptionId {
    /// The largest identifier, 268,435,455: what a four-byte Variable Byte Integer holds.
    pub const MAX: u32 = MAX_VARINT;

    /// The identifier `value`, or `None` for 0 or a value above [`MAX`](Self::MAX).
    pub const fn new(value: u32) -> Option<Self> {
        match NonZeroU32::new(value) {
            Some(id) if value <= Self::MAX => Some(SubscriptionId(id)),
            _ => None,
        }
    }

    /// The identifier as written on the wire.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl Value for SubscriptionId {
    fn read(reader: &mut Reader, id: PropertyId) -> Result<Self, Violation> {
        let value = reader.varint()?;
        SubscriptionId::new(value).ok_or(invalid(id, value))
    }
    fn write(&self, sink: &mut impl Sink) {
        sink.varint(self.get());
    }
}

/// Property slots hold one value (`Option`) or, for the two properties that may repeat, many
/// (`Vec`).
trait Slot {
    type Item: Value;
    const EMPTY: Self;
    fn is_present(&self) -> bool;
    fn store(&mut self, value: Self::Item, id: PropertyId) -> Result<(), Violation>;
    fn values(&self) -> impl Iterator<Item = &Self::Item>;
}

impl<T: Value> Slot for Option<T> {
    type Item = T;
    const EMPTY: Self = None;
    fn is_present(&self) -> bool {
        self.is_some()
    }
    fn store(&mut self, value: T, id: PropertyId) -> Result<(), Violation> {
        if self.is_some() {
            return Err(Violation::DuplicateProperty(id));
        }
        *self = Some(value);
        Ok(())
    }
    fn values(&self) -> impl Iterator<Item = &T> {
        self.iter()
    }
}

impl<T: Value> Slot for Vec<T> {
    type Item = T;
    const EMPTY: Self = Vec::new();
    fn is_present(&self) -> bool {
        !self.is_empty()
    }
    fn store(&mut self, value: T, _id: PropertyId) -> Result<(), Violation> {
        self.push(value);
        Ok(())
    }
    fn values(&self) -> impl Iterator<Item = &T> {
        self.iter()
    }
}

macro_rules! properties {
    ($(
        $(#[doc = $doc:literal])+
        $id:literal $variant:ident $field:ident: $slot:ty, $name:literal, [$($context:ident),+];
    )*) => {
        /// A property identifier.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum PropertyId {
            $($(#[doc = $doc])+ $variant = $id,)*
        }

        impl PropertyId {
            /// Every property, in identifier order.
            pub const ALL: &'static [PropertyId] = &[$(PropertyId::$variant,)*];

            /// The property a Variable Byte Integer identifier names; `None` for an unknown one.
            pub const fn from_u32(id: u32) -> Option<Self> {
                match id {
                    $($id => Some(PropertyId::$variant),)*
                    _ => None,
                }
            }

            /// The specification's name of the property.
            pub const fn name(self) -> &'static str {
                match self {
                    $(PropertyId::$variant => $name,)*
                }
            }

            /// Whether the property may appear in `context` (table 2-4 of section 2.2.2.2).
            pub fn allowed_in(self, context: PropertyContext) -> bool {
                match self {
                    $(PropertyId::$variant => matches!(context, $(PropertyContext::$context)|+),)*
                }
            }
        }

        /// The values of a property block, one field per property: `None` or empty when
        /// absent. Packets hold them through [`Properties`].
        #[derive(Clone, Default, PartialEq, Eq)]
        pub struct PropertyValues {
            $($(#[doc = $doc])+ pub $field: $slot,)*
        }

        impl PropertyValues {
            /// No property at all.
            pub const EMPTY: PropertyValues = PropertyValues { $($field: <$slot as Slot>::EMPTY,)* };

            fn read_one(&mut self, id: PropertyId, reader: &mut Reader) -> Result<(), Violation> {
                match id {
                    $(PropertyId::$variant => {
                        let value = Value::read(reader, id)?;
                        self.$field.store(value, id)
                    })*
                }
            }

            /// The identifiers of the properties present, in identifier order.
            pub fn present(&self) -> impl Iterator<Item = PropertyId> + '_ {
                [$((PropertyId::$variant, self.$field.is_present()),)*]
                    .into_iter()
                    .filter_map(|(id, present)| present.then_some(id))
            }

            fn remove(&mut self, id: PropertyId) {
                match id {
                    $(PropertyId::$variant => self.$field = Default::default(),)*
                }
            }

            fn check_values(&self) -> Result<(), Violation> {
                $(for value in self.$field.values() {
                    value.check(PropertyId::$variant)?;
                })*
                Ok(())
            }

            fn write_all(&self, sink: &mut impl Sink) {
                $(for value in self.$field.values() {
                    sink.u8(PropertyId::$variant as u8);
                    value.write(sink);
                })*
            }
        }

        /// Shows only the properties that are present.
        impl fmt::Debug for PropertyValues {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut debug = f.debug_struct("Properties");
                $(if self.$field.is_present() {
                    debug.field(stringify!($field), &self.$field);
                })*
                debug.finish()
            }
        }
    };
}

properties! {
    /// 0x01 Payload Format Indicator: whether the payload is declared UTF-8 text (PUBLISH, will).
    0x01 PayloadFormatIndicator payload_format_indicator: Option<PayloadFormat>, "Payload Format Indicator", [Publish, Will];
    /// 0x02 Message Expiry Interval, in seconds: how long the message may wait undelivered; absent, it never expires (PUBLISH, will).
    0x02 MessageExpiryInterval message_expiry_interval: Option<u32>, "Message Expiry Interval", [Publish, Will];
    /// 0x03 Content Type: the application's description of the payload, e.g. a MIME type (PUBLISH, will).
    0x03 ContentType content_type: Option<MqttString>, "Content Type", [Publish, Will];
    /// 0x08 Response Topic: the topic name the receiver should publish its response to (PUBLISH, will).
    0x08 ResponseTopic response_topic: Option<MqttString>, "Response Topic", [Publish, Will];
    /// 0x09 Correlation Data: bytes the requester uses to match a response to its request (PUBLISH, will).
    0x09 CorrelationData correlation_data: Option<Binary>, "Correlation Data", [Publish, Will];
    /// 0x0B Subscription Identifier: the number a SUBSCRIBE tags its subscription with; in a PUBLISH, those of every subscription it matched (may repeat).
    0x0b SubscriptionIdentifier subscription_identifiers: Vec<SubscriptionId>, "Subscription Identifier", [Publish, Subscribe];
    /// 0x11 Session Expiry Interval, in seconds: how long the session outlives its connection; 0 (absent in CONNECT) ends it with the connection, `u32::MAX` never (CONNECT, CONNACK, DISCONNECT).
    0x11 SessionExpiryInterval session_expiry_interval: Option<u32>, "Session Expiry Interval", [Connect, ConnAck, Disconnect];
    /// 0x12 Assigned Client Identifier: the identifier the server gave a client that connected with an empty one (CONNACK).
    0x12 AssignedClientIdentifier assigned_client_identifier: Option<MqttString>, "Assigned Client Identifier", [ConnAck];
    /// 0x13 Server Keep Alive, in seconds: the keep alive the server imposes in place of the client's [MQTT-3.1.2-21] (CONNACK).
    0x13 ServerKeepAlive server_keep_alive: Option<u16>, "Server Keep Alive", [ConnAck];
    /// 0x15 Authentication Method: the name of the enhanced authentication method, e.g. `SCRAM-SHA-1` (CONNECT, CONNACK, AUTH).
    0x15 AuthenticationMethod authentication_method: Option<MqttString>, "Authentication Method", [Connect, ConnAck, Auth];
    /// 0x16 Authentication Data: the method's own bytes for this step of the exchange (CONNECT, CONNACK, AUTH).
    0x16 AuthenticationData authentication_data: Option<Binary>, "Authentication Data", [Connect, ConnAck, Auth];
    /// 0x17 Request Problem Information: `false` asks the server to put a Reason String or User Properties only on PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29]; absent means `true` (CONNECT).
    0x17 RequestProblemInformation request_problem_information: Option<bool>, "Request Problem Information", [Connect];
    /// 0x18 Will Delay Interval, in seconds: how long after the connection closes the server waits before it publishes the will; absent, 0 (will properties).
    0x18 WillDelayInterval will_delay_interval: Option<u32>, "Will Delay Interval", [Will];
    /// 0x19 Request Response Information: `true` asks the server for Response Information in CONNACK; absent means `false` (CONNECT).
    0x19 RequestResponseInformation request_response_information: Option<bool>, "Request Response Information", [Connect];
    /// 0x1A Response Information: what the server offers as the basis of response topics (CONNACK).
    0x1a ResponseInformation response_information: Option<MqttString>, "Response Information", [ConnAck];
    /// 0x1C Server Reference: another server the client should use, with reason code 0x9C or 0x9D (CONNACK, DISCONNECT).
    0x1c ServerReference server_reference: Option<MqttString>, "Server Reference", [ConnAck, Disconnect];
    /// 0x1F Reason String: a human-readable diagnostic, not meant to be parsed (acknowledgements, DISCONNECT, AUTH).
    0x1f ReasonString reason_string: Option<MqttString>, "Reason String", [ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth];
    /// 0x21 Receive Maximum: the most QoS 1 and 2 PUBLISHes the sender will take unacknowledged at once; absent means 65,535 (CONNECT, CONNACK).
    0x21 ReceiveMaximum receive_maximum: Option<NonZeroU16>, "Receive Maximum", [Connect, ConnAck];
    /// 0x22 Topic Alias Maximum: the highest Topic Alias the sender accepts; absent or 0, none (CONNECT, CONNACK).
    0x22 TopicAliasMaximum topic_alias_maximum: Option<u16>, "Topic Alias Maximum", [Connect, ConnAck];
    /// 0x23 Topic Alias: a number standing for the topic on this connection, in the direction it is sent (PUBLISH).
    0x23 TopicAlias topic_alias: Option<NonZeroU16>, "Topic Alias", [Publish];
    /// 0x24 Maximum QoS: the highest QoS the server accepts, 0 or 1; absent means 2 (CONNACK).
    0x24 MaximumQos maximum_qos: Option<QoS>, "Maximum QoS", [ConnAck];
    /// 0x25 Retain Available: whether the server keeps retained messages; absent means `true` (CONNACK).
    0x25 RetainAvailable retain_available: Option<bool>, "Retain Available", [ConnAck];
    /// 0x26 User Property: an application's name and value pair; may repeat, in an order that is kept (every packet with properties).
    0x26 UserProperty user_properties: Vec<UserProperty>, "User Property", [Connect, Will, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp, Subscribe, SubAck, Unsubscribe, UnsubAck, Disconnect, Auth];
    /// 0x27 Maximum Packet Size, in bytes: the largest packet the sender accepts, fixed header included; absent, the protocol's limit (CONNECT, CONNACK).
    0x27 MaximumPacketSize maximum_packet_size: Option<NonZeroU32>, "Maximum Packet Size", [Connect, ConnAck];
    /// 0x28 Wildcard Subscription Available: whether the server accepts filters with wildcards; absent means `true` (CONNACK).
    0x28 WildcardSubscriptionAvailable wildcard_subscription_available: Option<bool>, "Wildcard Subscription Available", [ConnAck];
    /// 0x29 Subscription Identifier Available: whether the server supports Subscription Identifiers; absent means `true` (CONNACK).
    0x29 SubscriptionIdentifierAvailable subscription_identifier_available: Option<bool>, "Subscription Identifier Available", [ConnAck];
    /// 0x2A Shared Subscription Available: whether the server supports shared subscriptions; absent means `true` (CONNACK).
    0x2a SharedSubscriptionAvailable shared_subscription_available: Option<bool>, "Shared Subscription Available", [ConnAck];
}

impl fmt::Display for PropertyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:#04x})", self.name(), *self as u8)
    }
}

static NO_PROPERTIES: PropertyValues = PropertyValues::EMPTY;

/// The properties of one packet (or of a will).
///
/// Most packets carry none, so the values live behind a pointer that stays null until a
/// property is set: reading goes through `Deref` to [`PropertyValues`] (absent properties
/// read as `None` or empty), the first write through `DerefMut` allocates. A packet without
/// properties costs one null pointer and no allocation.
#[derive(Clone, Default)]
pub struct Properties(Option<Box<PropertyValues>>);

impl Deref for Properties {
    type Target = PropertyValues;
    fn deref(&self) -> &PropertyValues {
        self.0.as_deref().unwrap_or(&NO_PROPERTIES)
    }
}

impl DerefMut for Properties {
    fn deref_mut(&mut self) -> &mut PropertyValues {
        self.0.get_or_insert_with(Box::default)
    }
}

impl From<PropertyValues> for Properties {
    fn from(values: PropertyValues) -> Self {
        Properties(Some(Box::new(values)))
    }
}

impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Properties {}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl Properties {
    /// Whether no property is present: what 3.1.1 requires of a packet it can write.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.as_deref().is_none_or(|values| values.present().next().is_none())
    }

    /// Removes a property, e.g. the Topic Alias of a PUBLISH a broker forwards.
    pub fn remove(&mut self, id: PropertyId) {
        if let Some(values) = &mut self.0 {
            values.remove(id);
        }
    }

    /// Reads a property block in MQTT 5; 3.1.1 has none.
    #[inline]
    pub(crate) fn decode_for(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        if version.is_v5() { Self::decode(reader) } else { Ok(Properties::default()) }
    }

    /// Writes the property block in MQTT 5; 3.1.1 has none.
    #[inline]
    pub(crate) fn encode_for(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        if version.is_v5() {
            self.encode(sink);
        }
    }

    /// Reads a property block: its length, then properties until the length is used up.
    #[inline]
    pub(crate) fn decode(reader: &mut Reader) -> Result<Self, Violation> {
        let len = reader.varint()?;
        if len == 0 {
            return Ok(Properties::default());
        }
        Self::decode_block(reader.take(len as usize)?)
    }

    fn decode_block(block: Bytes) -> Result<Self, Violation> {
        let mut block = Reader::new(block);
        let mut values = PropertyValues::default();
        while !block.is_empty() {
            let raw_id = block.varint()?;
            let id = PropertyId::from_u32(raw_id).ok_or(Violation::UnknownProperty(raw_id))?;
            values.read_one(id, &mut block)?;
        }
        Ok(values.into())
    }

    /// Writes the property block: its length, then each property in identifier order.
    #[inline]
    pub(crate) fn encode(&self, sink: &mut impl Sink) {
        match &self.0 {
            None => sink.u8(0),
            Some(values) => values.encode(sink),
        }
    }

    /// The rules that hold for a property block in `context`, whichever side wrote it.
    #[inline]
    pub fn check(&self, context: PropertyContext) -> Result<(), Violation> {
        match &self.0 {
            None => Ok(()),
            Some(values) => values.check_in(context),
        }
    }
}

impl PropertyValues {
    /// [`Properties::encode`] of a block that holds values.
    fn encode(&self, sink: &mut impl Sink) {
        // A packet's remaining length bounds its property block, so this fits a varint once
        // the whole packet has been measured against the same bound.
        let len = measure(|counter| self.write_all(counter));
        sink.varint(len.min(u64::from(MAX_VARINT)) as u32);
        self.write_all(sink);
    }

    /// [`Properties::check`] of a block that holds values.
    fn check_in(&self, context: PropertyContext) -> Result<(), Violation> {
        if let Some(property) = self.present().find(|id| !id.allowed_in(context)) {
            return Err(Violation::PropertyNotAllowed { property, context });
        }
        // Only a PUBLISH from the server may carry several (one per matching subscription).
        if context != PropertyContext::Publish && self.subscription_identifiers.len() > 1 {
            return Err(Violation::DuplicateProperty(PropertyId::SubscriptionIdentifier));
        }
        self.check_values()?;
        if self.authentication_data.is_some() && self.authentication_method.is_none() {
            return Err(Violation::AuthenticationDataWithoutMethod);
        }
        if let Some(topic) = &self.response_topic {
            check_topic_name_string(topic).map_err(|_| Violation::InvalidResponseTopic)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::PropertyContext::*;
    use super::*;
    use bytes::BytesMut;

    fn decode(bytes: &'static [u8]) -> Result<Properties, Violation> {
        let mut reader = Reader::new(Bytes::from_static(bytes));
        let properties = Properties::decode(&mut reader)?;
        reader.finish()?;
        Ok(properties)
    }

    #[test]
    fn there_are_27_properties_with_distinct_identifiers() {
        assert_eq!(PropertyId::ALL.len(), 27);
        for &id in PropertyId::ALL {
            assert_eq!(PropertyId::from_u32(id as u32), Some(id));
        }
    }

    #[test]
    fn every_property_is_allowed_somewhere_and_user_property_everywhere_but_pings() {
        let contexts = PropertyContext::ALL;
        for &id in PropertyId::ALL {
            assert!(contexts.iter().any(|&c| id.allowed_in(c)), "{id}");
        }
        assert!(contexts.iter().all(|&c| PropertyId::UserProperty.allowed_in(c)));
        assert!(!PropertyId::TopicAlias.allowed_in(Connect));
        assert!(PropertyId::WillDelayInterval.allowed_in(Will));
        assert!(!PropertyId::WillDelayInterval.allowed_in(Connect));
    }

    #[test]
    fn round_trip_of_a_full_connack_block() {
        let properties: Properties = PropertyValues {
            session_expiry_interval: Some(60),
            assigned_client_identifier: Some(MqttString::from_static("auto-1").unwrap()),
            receive_maximum: NonZeroU16::new(10),
            maximum_qos: Some(QoS::AtLeastOnce),
            user_properties: vec![
                (MqttString::from_static("a").unwrap(), MqttString::from_static("1").unwrap()),
                (MqttString::from_static("a").unwrap(), MqttString::from_static("2").unwrap()),
            ],
            ..PropertyValues::default()
        }
        .into();
        properties.check(ConnAck).unwrap();
        let mut out = BytesMut::new();
        properties.encode(&mut out);
        let mut reader = Reader::new(out.freeze());
        assert_eq!(Properties::decode(&mut reader).unwrap(), properties);
        assert!(reader.is_empty());
    }

    #[test]
    fn duplicates_are_rejected_except_user_properties_and_subscription_ids_in_publish() {
        assert_eq!(decode(&[6, 0x23, 0, 1, 0x23, 0, 2]), Err(Violation::DuplicateProperty(PropertyId::TopicAlias)));
        let repeated_ids = decode(&[4, 0x0b, 1, 0x0b, 2]).unwrap();
        assert_eq!(repeated_ids.check(Publish), Ok(()));
        assert_eq!(
            repeated_ids.check(Subscribe),
            Err(Violation::DuplicateProperty(PropertyId::SubscriptionIdentifier))
        );
    }

    #[test]
    fn values_outside_their_range_are_rejected() {
        let cases: [(&'static [u8], PropertyId, u32); 6] = [
            (&[3, 0x23, 0, 0], PropertyId::TopicAlias, 0),
            (&[3, 0x21, 0, 0], PropertyId::ReceiveMaximum, 0),
            (&[5, 0x27, 0, 0, 0, 0], PropertyId::MaximumPacketSize, 0),
            (&[2, 0x24, 2], PropertyId::MaximumQos, 2),
            (&[2, 0x17, 2], PropertyId::RequestProblemInformation, 2),
            (&[2, 0x0b, 0], PropertyId::SubscriptionIdentifier, 0),
        ];
        for (bytes, property, value) in cases {
            assert_eq!(decode(bytes), Err(Violation::InvalidPropertyValue { property, value }), "{bytes:x?}");
        }
    }

    #[test]
    fn unknown_and_misplaced_properties_are_rejected() {
        assert_eq!(decode(&[2, 0x04, 0]), Err(Violation::UnknownProperty(0x04)));
        let alias = decode(&[3, 0x23, 0, 1]).unwrap();
        assert_eq!(
            alias.check(Connect),
            Err(Violation::PropertyNotAllowed { property: PropertyId::TopicAlias, context: Connect })
        );
    }

    #[test]
    fn block_length_beyond_the_packet_is_unexpected_end() {
        assert_eq!(decode(&[5, 0x23, 0, 1]), Err(Violation::UnexpectedEndOfPacket));
        // A property value running past its block, even with bytes after the block.
        assert_eq!(decode(&[2, 0x23, 0, 1]), Err(Violation::UnexpectedEndOfPacket));
    }

    #[test]
    fn authentication_data_needs_a_method_and_response_topic_no_wildcard() {
        let data = Properties::from(PropertyValues {
            authentication_data: Some(Binary::from_static(b"x").unwrap()),
            ..PropertyValues::default()
        });
        assert_eq!(data.check(Auth), Err(Violation::AuthenticationDataWithoutMethod));
        let response = Properties::from(PropertyValues {
            response_topic: Some(MqttString::from_static("reply/#").unwrap()),
            ..PropertyValues::default()
        });
        assert_eq!(response.check(Publish), Err(Violation::InvalidResponseTopic));
    }
}
