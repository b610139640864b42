//! The fifteen control packets and what they share: packet types, QoS, packet identifiers.
//!
//! Each packet module reads a body (`decode`), writes one (`write`), and states the rules
//! its fields must satisfy (`check`), which both directions apply: the decoder to what it
//! read, the encoder to what it is asked to write. `check_encodable` adds what only the
//! encoder must refuse, such as a field 3.1.1 has no place for.

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
use super::reason::ReasonCode;
use super::version::ProtocolVersion;
use super::writer::Sink;

/// The packet type, the high nibble of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
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
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
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
    pub const fn new(value: u16) -> Option<Self> {
        match NonZeroU16::new(value) {
            Some(id) => Some(PacketId(id)),
            None => None,
        }
    }

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
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PublishAck),
    PubRec(PublishAck),
    PubRel(PublishAck),
    PubComp(PublishAck),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    /// MQTT 5 only.
    Auth(Auth),
}

impl Packet {
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

    /// The low nibble of the first byte.
    #[inline]
    pub(crate) fn flags(&self) -> u8 {
        match self {
            Packet::Publish(publish) => publish.flags(),
            other => other.packet_type().reserved_flags(),
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
        match self {
            Packet::Connect(connect) => connect.check(version),
            Packet::ConnAck(connack) => connack.check(version),
            Packet::Publish(publish) => publish.check(version),
            Packet::PubAck(ack) => ack.check(PacketType::PubAck, version),
            Packet::PubRec(ack) => ack.check(PacketType::PubRec, version),
            Packet::PubRel(ack) => ack.check(PacketType::PubRel, version),
            Packet::PubComp(ack) => ack.check(PacketType::PubComp, version),
            Packet::Subscribe(subscribe) => subscribe.check(version),
            Packet::SubAck(suback) => suback.check(version),
            Packet::Unsubscribe(unsubscribe) => unsubscribe.check(version),
            Packet::UnsubAck(unsuback) => unsuback.check(version),
            Packet::PingReq | Packet::PingResp => Ok(()),
            Packet::Disconnect(disconnect) => disconnect.check(version),
            Packet::Auth(auth) => auth.check(version),
        }
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

    /// What the encoder refuses beyond [`Packet::check`]: fields `version` has no place for
    /// (it never drops one), a CONNECT of another version, a packet identifier that does not
    /// fit the QoS.
    #[inline]
    pub(crate) fn check_encodable(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if !version.is_v5() {
            if let Some(what) = self.v5_only_content() {
                return Err(EncodeError::NotInVersion { what, version });
            }
        }
        match self {
            Packet::Connect(connect) if connect.protocol_version != version => {
                Err(EncodeError::VersionMismatch { connect: connect.protocol_version, version })
            }
            Packet::Publish(publish) => publish.check_packet_id(),
            _ => Ok(()),
        }
    }

    /// The first thing in the packet that only MQTT 5 can carry: AUTH itself, then
    /// properties, then the fields of the packet's own.
    fn v5_only_content(&self) -> Option<&'static str> {
        let properties = |blocks: &[&Properties]| blocks.iter().any(|block| !block.is_empty()).then_some("properties");
        match self {
            Packet::Auth(_) => Some("AUTH"),
            Packet::Connect(connect) => match &connect.will {
                Some(will) => properties(&[&connect.properties, &will.properties]),
                None => properties(&[&connect.properties]),
            },
            Packet::PubAck(PublishAck { reason_code, properties: block, .. })
            | Packet::PubRec(PublishAck { reason_code, properties: block, .. })
            | Packet::PubRel(PublishAck { reason_code, properties: block, .. })
            | Packet::PubComp(PublishAck { reason_code, properties: block, .. })
            | Packet::Disconnect(Disconnect { reason_code, properties: block }) => {
                properties(&[block]).or_else(|| (*reason_code != ReasonCode::Success).then_some("a reason code"))
            }
            Packet::UnsubAck(unsuback) => properties(&[&unsuback.properties])
                .or_else(|| (!unsuback.reason_codes.is_empty()).then_some("UNSUBACK reason codes")),
            Packet::Subscribe(subscribe) => properties(&[&subscribe.properties]).or_else(|| {
                subscribe
                    .subscriptions
                    .iter()
                    .any(|subscription| !subscription.options.is_qos_only())
                    .then_some("subscription options other than QoS")
            }),
            Packet::ConnAck(ConnAck { properties: block, .. })
            | Packet::Publish(Publish { properties: block, .. })
            | Packet::SubAck(SubAck { properties: block, .. })
            | Packet::Unsubscribe(Unsubscribe { properties: block, .. }) => properties(&[block]),
            Packet::PingReq | Packet::PingResp => None,
        }
    }

    /// Hands the body (everything after the fixed header) to `visitor` as its own type, so
    /// that what the visitor does with it (measure it, write it) is one monomorphic call
    /// after this one dispatch on the packet type.
    #[inline]
    pub(crate) fn visit_body<V: BodyVisitor>(&self, visitor: V) -> V::Output {
        match self {
            Packet::Connect(connect) => visitor.visit(&**connect),
            Packet::ConnAck(connack) => visitor.visit(connack),
            Packet::Publish(publish) => visitor.visit(publish),
            Packet::PubAck(ack) | Packet::PubRec(ack) | Packet::PubRel(ack) | Packet::PubComp(ack) => {
                visitor.visit(ack)
            }
            Packet::Subscribe(subscribe) => visitor.visit(subscribe),
            Packet::SubAck(suback) => visitor.visit(suback),
            Packet::Unsubscribe(unsubscribe) => visitor.visit(unsubscribe),
            Packet::UnsubAck(unsuback) => visitor.visit(unsuback),
            Packet::PingReq | Packet::PingResp => visitor.visit(&NoBody),
            Packet::Disconnect(disconnect) => visitor.visit(disconnect),
            Packet::Auth(auth) => visitor.visit(auth),
        }
    }
}

/// The body of a checked packet, written by one function for every [`Sink`]: the encoder
/// measures it with the same code that writes it, so the two cannot disagree.
pub(crate) trait Body {
    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink);
}

/// Does something with a packet's body, whatever its type; see [`Packet::visit_body`].
pub(crate) trait BodyVisitor {
    type Output;
    fn visit<B: Body>(self, body: &B) -> Self::Output;
}

/// The body of PINGREQ and PINGRESP.
struct NoBody;

impl Body for NoBody {
    fn write_body(&self, _version: ProtocolVersion, _sink: &mut impl Sink) {}
}

macro_rules! bodies {
    ($($body:ty),*) => {$(
        impl Body for $body {
            #[inline]
            fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink) {
                self.write(version, sink);
            }
        }
    )*};
}

bodies!(Connect, ConnAck, Publish, PublishAck, Subscribe, SubAck, Unsubscribe, UnsubAck, Disconnect, Auth);
