//! The fifteen control packets and what they share: packet types, QoS, packet identifiers.
//!
//! Each packet module reads a body (`decode`), writes one (`write`), and states the rules
//! its fields must satisfy (`check`), which both directions apply: the decoder to what it
//! read, the encoder to what it is asked to write. [`Body`] gathers them per body type and
//! adds what only the encoder must refuse, such as a field 3.1.1 has no place for, so that
//! the encoder checks, measures and writes a packet after one dispatch on its type.

mod ack;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod subscribe;
mod tail;
mod unsubscribe;

use std::fmt;
use std::num::NonZeroU16;

pub use ack::PublishAck;
pub use connack::ConnAck;
pub(crate) use connect::read_protocol_version;
pub use connect::{Connect, Will};
pub use disconnect::{Auth, Disconnect};
pub use publish::Publish;
pub use subscribe::{RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions};
pub use unsubscribe::{UnsubAck, Unsubscribe};

use super::error::{EncodeError, Violation};
use super::properties::Properties;
use super::reader::Reader;
use super::version::ProtocolVersion;
use super::writer::Sink;

/// The packet type, the high nibble of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// CONNECT: a client asks to connect.
    Connect = 1,
    /// CONNACK: the server's answer to CONNECT.
    ConnAck = 2,
    /// PUBLISH: an application message, in either direction.
    Publish = 3,
    /// PUBACK: the acknowledgement of a QoS 1 PUBLISH.
    PubAck = 4,
    /// PUBREC: the first acknowledgement of a QoS 2 PUBLISH (received).
    PubRec = 5,
    /// PUBREL: the answer to PUBREC (release).
    PubRel = 6,
    /// PUBCOMP: the last acknowledgement of a QoS 2 exchange (complete).
    PubComp = 7,
    /// SUBSCRIBE: a client subscribes to topic filters.
    Subscribe = 8,
    /// SUBACK: the server's answer to SUBSCRIBE, one code per filter.
    SubAck = 9,
    /// UNSUBSCRIBE: a client removes subscriptions.
    Unsubscribe = 10,
    /// UNSUBACK: the server's answer to UNSUBSCRIBE.
    UnsubAck = 11,
    /// PINGREQ: a client's keep alive ping.
    PingReq = 12,
    /// PINGRESP: the server's answer to PINGREQ.
    PingResp = 13,
    /// DISCONNECT: the sender is closing the connection (from either side in MQTT 5, from the client only in 3.1.1).
    Disconnect = 14,
    /// MQTT 5 only; the value is reserved in 3.1.1.
    Auth = 15,
}

impl PacketType {
    /// The type a first byte names under `version`, or the reserved value it holds.
    pub fn from_first_byte(byte: u8, version: ProtocolVersion) -> Result<Self, Violation> {
        use PacketType::*;
        Ok(match byte >> 4 {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 if version.is_v5() => Auth,
            reserved => return Err(Violation::ReservedPacketType(reserved)),
        })
    }

    /// The fixed header flags every packet but PUBLISH must carry ([MQTT-2.2.2-1],
    /// [MQTT-2.1.3-1]).
    pub const fn reserved_flags(self) -> u8 {
        match self {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        }
    }

    /// The packet's name as the specification writes it, e.g. `"PUBREC"`.
    pub const fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Quality of service of a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QoS {
    /// QoS 0: delivered at most once, with no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: delivered at least once, acknowledged by PUBACK; may arrive twice.
    AtLeastOnce = 1,
    /// QoS 2: delivered exactly once, through PUBREC, PUBREL and PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS a two-bit field holds; 3 is no QoS.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

impl fmt::Display for QoS {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", *self as u8)
    }
}

/// A packet identifier, never 0 ([MQTT-2.3.1-1] in 3.1.1, [MQTT-2.2.1-3] in 5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// The identifier `value`, or `None` for 0, which is no packet identifier.
    pub const fn new(value: u16) -> Option<Self> {
        match NonZeroU16::new(value) {
            Some(id) => Some(PacketId(id)),
            None => None,
        }
    }

    /// The identifier as it is written on the wire, 1 to 65535.
    pub const fn get(self) -> u16 {
        self.0.get()
    }

    #[inline]
    pub(crate) fn decode(reader: &mut Reader, packet: PacketType) -> Result<Self, Violation> {
        PacketId::new(reader.u16()?).ok_or(Violation::ZeroPacketId(packet))
    }

    pub(crate) fn write(self, sink: &mut impl Sink) {
        sink.u16(self.get());
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// An MQTT control packet of either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Boxed: the largest packet and one per connection, it would otherwise make every packet
    /// as large as itself.
    Connect(Box<Connect>),
    /// CONNACK.
    ConnAck(ConnAck),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK, the QoS 1 acknowledgement.
    PubAck(PublishAck),
    /// PUBREC, the first QoS 2 acknowledgement.
    PubRec(PublishAck),
    /// PUBREL, the sender's answer to PUBREC.
    PubRel(PublishAck),
    /// PUBCOMP, the last QoS 2 acknowledgement.
    PubComp(PublishAck),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ, which has no body.
    PingReq,
    /// PINGRESP, which has no body.
    PingResp,
    /// DISCONNECT (3.1.1's has no body: it decodes as reason code 0x00 with no properties).
    Disconnect(Disconnect),
    /// MQTT 5 only.
    Auth(Auth),
}

impl Packet {
    /// The packet's type, the high nibble of its first byte.
    #[inline]
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// The packet identifier, for the packets that carry one.
    pub fn packet_id(&self) -> Option<PacketId> {
        match self {
            Packet::Publish(publish) => publish.packet_id,
            Packet::PubAck(ack) | Packet::PubRec(ack) | Packet::PubRel(ack) | Packet::PubComp(ack) => {
                Some(ack.packet_id)
            }
            Packet::Subscribe(subscribe) => Some(subscribe.packet_id),
            Packet::SubAck(suback) => Some(suback.packet_id),
            Packet::Unsubscribe(unsubscribe) => Some(unsubscribe.packet_id),
            Packet::UnsubAck(unsuback) => Some(unsuback.packet_id),
            Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::PingReq
            | Packet::PingResp
            | Packet::Disconnect(_)
            | Packet::Auth(_) => None,
        }
    }

    /// Reads the body of a packet whose fixed header said `packet` and `flags`; the body of
    /// a CONNECT starts after its protocol name and level.
    #[inline]
    pub(crate) fn decode_body(
        packet: PacketType,
        flags: u8,
        reader: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Self, Violation> {
        Ok(match packet {
            PacketType::Connect => Packet::Connect(Box::new(Connect::decode(reader, version)?)),
            PacketType::ConnAck => Packet::ConnAck(ConnAck::decode(reader, version)?),
            PacketType::Publish => Packet::Publish(Publish::decode(reader, flags, version)?),
            PacketType::PubAck => Packet::PubAck(PublishAck::decode(reader, packet, version)?),
            PacketType::PubRec => Packet::PubRec(PublishAck::decode(reader, packet, version)?),
            PacketType::PubRel => Packet::PubRel(PublishAck::decode(reader, packet, version)?),
            PacketType::PubComp => Packet::PubComp(PublishAck::decode(reader, packet, version)?),
            PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(reader, version)?),
            PacketType::SubAck => Packet::SubAck(SubAck::decode(reader, version)?),
            PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(reader, version)?),
            PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(reader, version)?),
            PacketType::PingReq => Packet::PingReq,
            PacketType::PingResp => Packet::PingResp,
            PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(reader, version)?),
            PacketType::Auth => Packet::Auth(Auth::decode(reader, version)?),
        })
    }

    /// The rules a packet must satisfy under `version`, read or written.
    #[inline(always)]
    pub(crate) fn check(&self, version: ProtocolVersion) -> Result<(), Violation> {
        self.visit_body(CheckBody { version })
    }

    /// The property blocks of the packet: one for most MQTT 5 packets, two for a CONNECT
    /// with a will, none for the pings.
    #[inline]
    pub fn property_blocks(&self) -> impl Iterator<Item = &Properties> {
        let (first, second) = match self {
            Packet::Connect(connect) => (Some(&connect.properties), connect.will.as_ref().map(|will| &will.properties)),
            Packet::ConnAck(ConnAck { properties, .. })
            | Packet::Publish(Publish { properties, .. })
            | Packet::PubAck(PublishAck { properties, .. })
            | Packet::PubRec(PublishAck { properties, .. })
            | Packet::PubRel(PublishAck { properties, .. })
            | Packet::PubComp(PublishAck { properties, .. })
            | Packet::Subscribe(Subscribe { properties, .. })
            | Packet::SubAck(SubAck { properties, .. })
            | Packet::Unsubscribe(Unsubscribe { properties, .. })
            | Packet::UnsubAck(UnsubAck { properties, .. })
            | Packet::Disconnect(Disconnect { properties, .. })
            | Packet::Auth(Auth { properties, .. }) => (Some(properties), None),
            Packet::PingReq | Packet::PingResp => (None, None),
        };
        first.into_iter().chain(second)
    }

    /// Hands the body (everything after the fixed header) to `visitor` as its own type, so
    /// that what the visitor does with it (measure it, write it) is one monomorphic call
    /// after this one dispatch on the packet type.
    #[inline]
    pub(crate) fn visit_body<V: BodyVisitor>(&self, visitor: V) -> V::Output {
        use PacketType as T;
        match self {
            Packet::Connect(connect) => visitor.visit(T::Connect, &**connect),
            Packet::ConnAck(connack) => visitor.visit(T::ConnAck, connack),
            Packet::Publish(publish) => visitor.visit(T::Publish, publish),
            Packet::PubAck(ack) => visitor.visit(T::PubAck, ack),
            Packet::PubRec(ack) => visitor.visit(T::PubRec, ack),
            Packet::PubRel(ack) => visitor.visit(T::PubRel, ack),
            Packet::PubComp(ack) => visitor.visit(T::PubComp, ack),
            Packet::Subscribe(subscribe) => visitor.visit(T::Subscribe, subscribe),
            Packet::SubAck(suback) => visitor.visit(T::SubAck, suback),
            Packet::Unsubscribe(unsubscribe) => visitor.visit(T::Unsubscribe, unsubscribe),
            Packet::UnsubAck(unsuback) => visitor.visit(T::UnsubAck, unsuback),
            Packet::PingReq => visitor.visit(T::PingReq, &NoBody),
            Packet::PingResp => visitor.visit(T::PingResp, &NoBody),
            Packet::Disconnect(disconnect) => visitor.visit(T::Disconnect, disconnect),
            Packet::Auth(auth) => visitor.visit(T::Auth, auth),
        }
    }
}

/// The body of a packet (everything after the fixed header), as its own type: the rules it
/// must satisfy and how it is written.
///
/// It is written by one function for every [`Sink`], so the encoder measures it with the
/// same code that writes it and the two cannot disagree.
pub(crate) trait Body {
    /// The rules the body must satisfy in `packet` under `version`, read or written. The four
    /// acknowledgements of a QoS flow share one body and differ in the codes they allow.
    fn check(&self, packet: PacketType, version: ProtocolVersion) -> Result<(), Violation>;

    /// The first thing in the body that only MQTT 5 can carry: properties, then the fields
    /// of the packet's own. The encoder refuses it in 3.1.1 rather than drop it.
    fn v5_only_content(&self) -> Option<&'static str>;

    /// What else only the encoder can meet: a CONNECT of another version than the one it is
    /// written in, a packet identifier that does not fit the QoS.
    fn check_fits(&self, _version: ProtocolVersion) -> Result<(), EncodeError> {
        Ok(())
    }

    /// The low nibble of the first byte: the flags `packet` must carry, or PUBLISH's own.
    fn fixed_header_flags(&self, packet: PacketType) -> u8 {
        packet.reserved_flags()
    }

    /// Writes the body of a checked packet.
    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink);
}

/// What the encoder refuses, in this order: content 3.1.1 has no place for, what only the
/// encoder can meet ([`Body::check_fits`]), and the rules a receiver applies.
#[inline]
pub(crate) fn check_for_encoding<B: Body>(
    body: &B,
    packet: PacketType,
    version: ProtocolVersion,
) -> Result<(), EncodeError> {
    if !version.is_v5() {
        if let Some(what) = body.v5_only_content() {
            return Err(EncodeError::NotInVersion { what, version });
        }
    }
    body.check_fits(version)?;
    body.check(packet, version).map_err(|violation| EncodeError::invalid(violation, version))
}

/// Does something with a packet's body, whatever its type; see [`Packet::visit_body`].
pub(crate) trait BodyVisitor {
    type Output;
    fn visit<B: Body>(self, packet: PacketType, body: &B) -> Self::Output;
}

/// [`Packet::check`].
struct CheckBody {
    version: ProtocolVersion,
}

impl BodyVisitor for CheckBody {
    type Output = Result<(), Violation>;

    #[inline]
    fn visit<B: Body>(self, packet: PacketType, body: &B) -> Result<(), Violation> {
        body.check(packet, self.version)
    }
}

/// "properties" if one of the blocks holds any.
pub(super) fn properties_in(blocks: &[&Properties]) -> Option<&'static str> {
    blocks.iter().any(|block| !block.is_empty()).then_some("properties")
}

/// The body of PINGREQ and PINGRESP.
struct NoBody;

impl Body for NoBody {
    fn check(&self, _packet: PacketType, _version: ProtocolVersion) -> Result<(), Violation> {
        Ok(())
    }
    fn v5_only_content(&self) -> Option<&'static str> {
        None
    }
    fn write_body(&self, _version: ProtocolVersion, _sink: &mut impl Sink) {}
}
