//! A strict, zero-copy codec for every control packet of MQTT 3.1.1 and MQTT 5.0.
//!
//! [`decode`] takes the front packet off a buffer of received bytes; [`encode`] appends a
//! packet to an output buffer. Decoding is incremental: a buffer that ends inside a packet is
//! "need more bytes" (`Ok(None)`), never an error, and consumes nothing. The fixed header is
//! judged as soon as it is there (reserved types and flags, QoS 3, the remaining length and
//! the maximum packet size) so a receiver never buffers the body of a packet it will refuse.
//!
//! Strings, topics, payloads and binary properties of a decoded packet are slices of the
//! received buffer. Every rejection is a [`DecodeError`] naming the rule broken; the encoder
//! applies the same rules and refuses to write what a receiver would reject.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use verimqtt_proto::codec::{self, DecodeOptions, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS};
//!
//! let topic = MqttString::try_from("sensors/kitchen/temperature")?;
//! let publish = Publish::new(topic, QoS::AtLeastOnce, PacketId::new(7), Bytes::from_static(b"21.5"));
//! let mut wire = BytesMut::new();
//! codec::encode(&Packet::Publish(publish.clone()), ProtocolVersion::V5, &mut wire)?;
//!
//! // Bytes arrive in pieces; the decoder waits for the whole packet.
//! let options = DecodeOptions::new(ProtocolVersion::V5);
//! let mut received = BytesMut::from(&wire[..5]);
//! assert_eq!(codec::decode(&mut received, &options)?, None);
//! received.extend_from_slice(&wire[5..]);
//! assert_eq!(codec::decode(&mut received, &options)?, Some(Packet::Publish(publish)));
//! assert!(received.is_empty());
//!
//! // A violation names its statement: here QoS 3 [MQTT-3.3.1-4].
//! let mut bad = BytesMut::from(&[0x36, 0x00][..]);
//! let error = codec::decode(&mut bad, &options).unwrap_err();
//! assert_eq!(error.to_string(), "MQTT 5.0: Publish QoS is 3 [MQTT-3.3.1-4]");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
pub mod matching;
mod packet;
mod properties;
mod reader;
mod reason;
mod string;
mod topic;
mod varint;
mod version;
mod writer;

use bytes::{Buf, BufMut, BytesMut};

pub use error::{DecodeError, EncodeError, ErrorKind, QosField, Rule, Violation};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketId, PacketType, Publish, PublishAck, QoS, RetainHandling, SubAck,
    Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
pub use properties::{
    PayloadFormat, Properties, PropertyContext, PropertyId, PropertyValues, SubscriptionId, UserProperty,
};
pub use reason::{ReasonCode, allowed_codes};
pub use string::{Binary, FieldError, MqttString};
pub use topic::{
    FilterError, SharedSubscription, check_topic_filter, check_topic_name, shared_subscription, topic_levels,
};
pub use varint::MAX_VARINT;
pub use version::ProtocolVersion;

use packet::{Body, BodyVisitor, check_for_encoding};
use reader::Reader;
use writer::{Sink, measure};

/// The largest packet the wire format can describe: one type byte, four length bytes and the
/// largest remaining length.
pub const MAX_PACKET_SIZE: u32 = 1 + 4 + MAX_VARINT;

/// How to decode: which version's rules apply, and the largest packet to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The version of the connection. A CONNECT is read in the version it names instead.
    pub version: ProtocolVersion,
    /// The largest packet accepted, counting the fixed header, as MQTT 5's Maximum Packet
    /// Size does. A larger one is refused from its fixed header, before its body is buffered.
    pub max_packet_size: u32,
}

impl DecodeOptions {
    /// Decodes `version` packets of any size the wire format allows.
    pub const fn new(version: ProtocolVersion) -> Self {
        DecodeOptions { version, max_packet_size: MAX_PACKET_SIZE }
    }

    /// These options with [`max_packet_size`](Self::max_packet_size) set, in bytes.
    pub const fn with_max_packet_size(self, max_packet_size: u32) -> Self {
        DecodeOptions { max_packet_size, ..self }
    }
}

/// What the fixed header says: the type, the flags and how long the packet is.
#[derive(Debug, Clone, Copy)]
struct FixedHeader {
    packet_type: PacketType,
    flags: u8,
    /// Bytes of the fixed header itself: the first byte and the remaining length.
    len: usize,
    remaining_len: u32,
    /// MQTT 5 requires the shortest encoding of the remaining length [MQTT-1.5.5-1].
    length_is_minimal: bool,
}

impl FixedHeader {
    /// Reads the fixed header from the front of `bytes`, or `None` if it is not all there.
    /// What can be judged from the first byte is judged before the length arrives.
    #[inline]
    fn peek(bytes: &[u8], version: ProtocolVersion) -> Result<Option<Self>, Violation> {
        let Some(&first) = bytes.first() else { return Ok(None) };
        let packet_type = PacketType::from_first_byte(first, version)?;
        let flags = first & 0x0f;
        if packet_type == PacketType::Publish {
            Publish::qos_from_flags(flags)?;
        } else if flags != packet_type.reserved_flags() {
            return Err(Violation::InvalidFixedHeaderFlags { packet: packet_type, flags });
        }
        let Some(length) = varint::read(&bytes[1..])? else { return Ok(None) };
        Ok(Some(FixedHeader {
            packet_type,
            flags,
            len: 1 + length.len,
            remaining_len: length.value,
            length_is_minimal: length.is_minimal(),
        }))
    }

    fn packet_size(&self) -> u64 {
        self.len as u64 + u64::from(self.remaining_len)
    }
}

/// Bytes reserved for the rest of a packet, at most, ahead of their arrival. A peer that
/// announces a large packet gets the memory for it as its bytes arrive, not at once.
const RESERVE_AHEAD: usize = 64 * 1024;

/// Takes the packet at the front of `buf`.
///
/// `Ok(None)`: the packet is not all there yet; nothing was consumed (the buffer may have been
/// given room for some of what is missing). `Ok(Some(packet))`: exactly the packet's bytes were
/// consumed. `Err`: the connection must be closed, see [`DecodeError::kind`]; the buffer is no
/// longer positioned at a packet boundary.
pub fn decode(buf: &mut BytesMut, options: &DecodeOptions) -> Result<Option<Packet>, DecodeError> {
    let Some(header) = frame(buf, options)? else { return Ok(None) };
    // The size fits in a u32, so in a usize.
    let size = header.packet_size() as usize;
    if buf.len() < size {
        buf.reserve((size - buf.len()).min(RESERVE_AHEAD));
        return Ok(None);
    }
    let mut body = buf.split_to(size).freeze();
    body.advance(header.len);
    decode_body(header, Reader::new(body), options.version).map(Some)
}

/// The size of the packet at the front of `buf`, fixed header included, once it is all
/// there; `Ok(None)` until then. The fixed header is judged as [`decode`] judges it, so a
/// receiver that copies each packet out of its receive buffer before decoding it (to keep
/// no more of that buffer alive than the packet) never buffers the body of a packet it will
/// refuse.
pub fn frame_len(buf: &[u8], options: &DecodeOptions) -> Result<Option<usize>, DecodeError> {
    let Some(header) = frame(buf, options)? else { return Ok(None) };
    let size = header.packet_size() as usize;
    Ok((buf.len() >= size).then_some(size))
}

/// The fixed header at the front of `buf`, checked, and the size it announces checked
/// against the maximum.
#[inline(always)]
fn frame(buf: &[u8], options: &DecodeOptions) -> Result<Option<FixedHeader>, DecodeError> {
    let fail = |violation| DecodeError::new(violation, options.version);
    let Some(header) = FixedHeader::peek(buf, options.version).map_err(fail)? else {
        return Ok(None);
    };
    let size = header.packet_size();
    if size > u64::from(options.max_packet_size) {
        return Err(fail(Violation::PacketTooLarge { size, max: options.max_packet_size }));
    }
    Ok(Some(header))
}

#[inline]
fn decode_body(header: FixedHeader, mut reader: Reader, version: ProtocolVersion) -> Result<Packet, DecodeError> {
    let version = match header.packet_type {
        PacketType::Connect => packet::read_protocol_version(&mut reader, version)?,
        _ => version,
    };
    let fail = |violation| DecodeError::new(violation, version);
    if version.is_v5() && !header.length_is_minimal {
        return Err(fail(Violation::VarintNotMinimal));
    }
    let packet = Packet::decode_body(header.packet_type, header.flags, &mut reader, version).map_err(fail)?;
    reader.finish().map_err(fail)?;
    packet.check(version).map_err(fail)?;
    Ok(packet)
}

/// Appends `packet`, written in `version`, to `out`. On error nothing is appended.
pub fn encode(packet: &Packet, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
    packet.visit_body(WriteFrame { version, out })
}

/// The number of bytes [`encode`] would append, fixed header included: what MQTT 5's Maximum
/// Packet Size limits.
pub fn encoded_len(packet: &Packet, version: ProtocolVersion) -> Result<usize, EncodeError> {
    let remaining = packet.visit_body(MeasureBody { version })?;
    Ok(1 + varint::encoded_len(remaining) + remaining as usize)
}

/// Checks a body as [`encode`] does, then measures it: the remaining length of its packet.
struct MeasureBody {
    version: ProtocolVersion,
}

impl BodyVisitor for MeasureBody {
    type Output = Result<u32, EncodeError>;

    #[inline(always)]
    fn visit<B: Body>(self, packet: PacketType, body: &B) -> Result<u32, EncodeError> {
        check_for_encoding(body, packet, self.version)?;
        let remaining = measure(|counter| body.write_body(self.version, counter));
        u32::try_from(remaining)
            .ok()
            .filter(|&remaining| remaining <= MAX_VARINT)
            .ok_or(EncodeError::PacketTooLarge { remaining })
    }
}

/// Checks and measures a body, then writes its packet: the fixed header, then the body.
struct WriteFrame<'a> {
    version: ProtocolVersion,
    out: &'a mut BytesMut,
}

impl BodyVisitor for WriteFrame<'_> {
    type Output = Result<(), EncodeError>;

    #[inline]
    fn visit<B: Body>(self, packet: PacketType, body: &B) -> Result<(), EncodeError> {
        let remaining = MeasureBody { version: self.version }.visit(packet, body)?;
        self.out.reserve(1 + varint::encoded_len(remaining) + remaining as usize);
        self.out.put_u8((packet as u8) << 4 | body.fixed_header_flags(packet));
        self.out.varint(remaining);
        body.write_body(self.version, self.out);
        Ok(())
    }
}
