//! broker_hostile: a broker with a packet limit well above 64 KiB and otherwise realistic
//! limits, and clients that send only well-formed packets of either version whose fields are
//! as large, deep and numerous as MQTT lets them be: topic names and filters of up to 65,536
//! levels, SUBSCRIBEs and UNSUBSCRIBEs of thousands of filters, tens of thousands of user
//! properties, client ids, payloads and wills of the largest sizes, topic aliases up to
//! 65,535, retained messages and wills on deep topics.
//!
//! A large field is made from a few input bytes (a short pattern and how often to repeat
//! it), so that a small input expands to packets of megabytes. Packet identifiers come from
//! a small set, so that acknowledgements meet the publications they acknowledge.

use std::num::{NonZeroU16, NonZeroU32};

use arbitrary::unstructured::Int;
use arbitrary::{Result, Unstructured};
use bytes::{Bytes, BytesMut};
use verimqtt_proto::broker::BrokerOptions;
use verimqtt_proto::codec::{
    Binary, Connect, Disconnect, MqttString, Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS, ReasonCode,
    Subscribe, Subscription, SubscriptionId, SubscriptionOptions, Unsubscribe, UserProperty, Will, shared_subscription,
};

use super::{Traffic, encode};
use crate::packets::{optional, qos, subscription_options};

/// The broker's packet limit lies between these, so that packets near it fall on both sides.
const MIN_PACKET_LIMIT: u32 = 1024 * 1024;
const MAX_PACKET_LIMIT: u32 = 4 * 1024 * 1024;

/// The longest string or binary field MQTT can carry.
const MAX_FIELD: usize = u16::MAX as usize;

/// What the filters of one SUBSCRIBE or UNSUBSCRIBE may add up to: the largest packet the
/// broker can accept.
const MAX_FILTER_BYTES: usize = MAX_PACKET_LIMIT as usize;
const MAX_FILTERS: usize = 10_000;
const MAX_USER_PROPERTIES: usize = 65_535;
/// User property names and values stay short, so that tens of thousands fit in a packet.
const MAX_USER_PROPERTY_LEN: usize = 16;
const MAX_PAYLOAD: usize = 1024 * 1024;

/// Topic levels: short ones, an empty one, one that starts with `$` (special when first).
const NAME_LEVELS: &[&str] = &["a", "", "b", "$x", "level"];
/// The same, and the single-level wildcard.
const FILTER_LEVELS: &[&str] = &["a", "", "b", "$x", "level", "+"];

pub struct Hostile;

impl Traffic for Hostile {
    /// Topics and filters of any depth are stored (no `max_topic_levels`), so that every
    /// walk of the subscription tree and the retained store meets the deepest there is; a
    /// few subscriptions and retained messages each keep the memory of a run (some 26 MB
    /// a deepest topic) within libFuzzer's limit.
    fn options(u: &mut Unstructured) -> Result<BrokerOptions> {
        Ok(BrokerOptions {
            max_packet_size: u.int_in_range(MIN_PACKET_LIMIT..=MAX_PACKET_LIMIT)?,
            topic_alias_maximum: u16::MAX,
            outbound_topic_aliases: u.arbitrary()?,
            max_topic_levels: usize::MAX,
            max_subscriptions_per_session: 4,
            max_retained_messages: 4,
            ..BrokerOptions::default()
        })
    }

    fn client_sends(u: &mut Unstructured, version: ProtocolVersion) -> Result<BytesMut> {
        let packet = match u.int_in_range(0..=9u8)? {
            0 | 1 => Packet::Connect(Box::new(connect(u, version)?)),
            2 | 3 => Packet::Publish(publish(u, version)?),
            4 | 5 => Packet::Subscribe(subscribe(u, version)?),
            6 => Packet::Unsubscribe(unsubscribe(u, version)?),
            7 => acknowledgement(u, version)?,
            8 => Packet::PingReq,
            _ => Packet::Disconnect(disconnect(u, version)?),
        };
        Ok(encode(&packet, version))
    }
}

fn connect(u: &mut Unstructured, version: ProtocolVersion) -> Result<Connect> {
    // Short client ids collide, so that takeovers happen; long ones collide when their
    // lengths do.
    let client_id = match u.arbitrary()? {
        true => MqttString::from_static(u.choose(&["a", "b", ""])?).map_err(|_| arbitrary::Error::IncorrectFormat)?,
        false => repeated_text(u, MAX_FIELD)?,
    };
    let mut connect = Connect::new(version, client_id);
    connect.clean_start = u.arbitrary()?;
    connect.keep_alive = u.int_in_range(0..=5)?;
    connect.will = optional(u, |u| will(u, version))?;
    if u.arbitrary()? {
        connect.username = Some(repeated_text(u, MAX_FIELD)?);
        connect.password = optional(u, binary)?;
    }
    if version.is_v5() {
        let properties = &mut *connect.properties;
        properties.session_expiry_interval = Some(u.int_in_range(0..=30)?);
        properties.receive_maximum = NonZeroU16::new(size(u, u16::MAX)?);
        properties.topic_alias_maximum = Some(u16::MAX);
        properties.maximum_packet_size =
            optional(u, |u| Ok(NonZeroU32::new(u.int_in_range(MIN_PACKET_LIMIT..=MAX_PACKET_LIMIT)?)))?.flatten();
        properties.user_properties = user_properties(u)?;
    }
    Ok(connect)
}

fn will(u: &mut Unstructured, version: ProtocolVersion) -> Result<Will> {
    let mut will = Will {
        topic: topic_name(u)?,
        payload: binary(u)?,
        qos: qos(u)?,
        retain: u.arbitrary()?,
        properties: Default::default(),
    };
    if version.is_v5() {
        will.properties.will_delay_interval = optional(u, |u| u.int_in_range(0..=10))?;
        will.properties.user_properties = user_properties(u)?;
    }
    Ok(will)
}

fn publish(u: &mut Unstructured, version: ProtocolVersion) -> Result<Publish> {
    let qos = qos(u)?;
    let packet_id = match qos {
        QoS::AtMostOnce => None,
        QoS::AtLeastOnce | QoS::ExactlyOnce => Some(packet_id(u)?),
    };
    let payload = Bytes::from(vec![u.arbitrary::<u8>()?; size(u, MAX_PAYLOAD)?]);
    let mut publish = Publish::new(topic_name(u)?, qos, packet_id, payload);
    publish.retain = u.arbitrary()?;
    if version.is_v5() {
        if u.arbitrary()? {
            let alias = NonZeroU16::new(size(u, u16::MAX)?).unwrap_or(NonZeroU16::MIN);
            publish.properties.topic_alias = Some(alias);
            // An alias alone stands for the topic it was set with.
            if u.arbitrary()? {
                publish.topic = MqttString::default();
            }
        }
        publish.properties.message_expiry_interval = optional(u, |u| u.int_in_range(0..=10))?;
        publish.properties.user_properties = user_properties(u)?;
    }
    Ok(publish)
}

fn subscribe(u: &mut Unstructured, version: ProtocolVersion) -> Result<Subscribe> {
    let mut subscribe = Subscribe {
        packet_id: packet_id(u)?,
        properties: Default::default(),
        subscriptions: filters(u)?
            .into_iter()
            .map(|filter| Ok(Subscription { options: options_for(u, &filter, version)?, filter }))
            .collect::<Result<_>>()?,
    };
    if version.is_v5() {
        subscribe.properties.subscription_identifiers =
            optional(u, |u| Ok(SubscriptionId::new(size(u, SubscriptionId::MAX)?)))?.into_iter().flatten().collect();
        subscribe.properties.user_properties = user_properties(u)?;
    }
    Ok(subscribe)
}

/// The options a client of `version` can give `filter`: 3.1.1 says only the QoS, and a
/// shared subscription cannot be No Local [MQTT-3.8.3-4].
fn options_for(u: &mut Unstructured, filter: &str, version: ProtocolVersion) -> Result<SubscriptionOptions> {
    if !version.is_v5() {
        return Ok(SubscriptionOptions::new(qos(u)?));
    }
    let mut options = subscription_options(u)?;
    options.no_local &= shared_subscription(filter, version).is_none();
    Ok(options)
}

fn unsubscribe(u: &mut Unstructured, version: ProtocolVersion) -> Result<Unsubscribe> {
    let mut unsubscribe =
        Unsubscribe { packet_id: packet_id(u)?, properties: Default::default(), filters: filters(u)? };
    if version.is_v5() {
        unsubscribe.properties.user_properties = user_properties(u)?;
    }
    Ok(unsubscribe)
}

fn acknowledgement(u: &mut Unstructured, version: ProtocolVersion) -> Result<Packet> {
    let mut ack = PublishAck::new(packet_id(u)?);
    if version.is_v5() {
        ack.properties.user_properties = user_properties(u)?;
    }
    Ok(match u.int_in_range(0..=3u8)? {
        0 => Packet::PubAck(ack),
        1 => Packet::PubRec(ack),
        2 => Packet::PubRel(ack),
        _ => Packet::PubComp(ack),
    })
}

fn disconnect(u: &mut Unstructured, version: ProtocolVersion) -> Result<Disconnect> {
    let mut disconnect = Disconnect::default();
    if version.is_v5() {
        disconnect.reason_code = *u.choose(&[ReasonCode::Success, ReasonCode::DisconnectWithWillMessage])?;
        disconnect.properties.user_properties = user_properties(u)?;
    }
    Ok(disconnect)
}

/// At least one filter, and up to thousands, that add up to at most the largest packet.
fn filters(u: &mut Unstructured) -> Result<Vec<MqttString>> {
    let count = size(u, MAX_FILTERS)?.max(1);
    let mut room = MAX_FILTER_BYTES;
    let mut filters = Vec::with_capacity(count);
    while filters.len() < count && room > 0 {
        let filter = topic_filter(u, room.min(MAX_FIELD))?;
        room = room.saturating_sub(filter.len() + 3);
        filters.push(filter);
    }
    Ok(filters)
}

fn topic_name(u: &mut Unstructured) -> Result<MqttString> {
    repeated_levels(u, "", NAME_LEVELS, None, MAX_FIELD)
}

/// A filter, a shared subscription now and then (in 3.1.1 an ordinary filter that happens to
/// start with `$share/`), ending in a multi-level wildcard now and then.
fn topic_filter(u: &mut Unstructured, max_len: usize) -> Result<MqttString> {
    let prefix = *u.choose(&["", "", "$share/group/"])?;
    let last = *u.choose(&[None, Some("#")])?;
    repeated_levels(u, prefix, FILTER_LEVELS, last, max_len)
}

/// `prefix`, then a pattern of one to three levels from `alphabet` repeated as often as the
/// input says and `max_len` allows, then `last` as a level of its own.
fn repeated_levels(
    u: &mut Unstructured,
    prefix: &str,
    alphabet: &[&str],
    last: Option<&str>,
    max_len: usize,
) -> Result<MqttString> {
    let pattern_len = u.int_in_range(1..=3)?;
    let pattern: Vec<&str> = (0..pattern_len).map(|_| u.choose(alphabet).copied()).collect::<Result<_>>()?;
    let pattern = pattern.join("/");
    let last_len = last.map_or(0, |level| level.len() + 1);
    // `n` repetitions take n * (pattern + 1) - 1 bytes.
    let room = max_len.saturating_sub(prefix.len() + last_len) + 1;
    // Only a filter that ends in a wildcard can do without the pattern, and an empty level
    // alone is no topic.
    let least = match last {
        Some(_) => 0,
        None if pattern.is_empty() => 2,
        None => 1,
    };
    let repeats = size(u, room / (pattern.len() + 1))?.max(least);
    let mut levels = vec![pattern.as_str(); repeats];
    levels.extend(last);
    MqttString::try_from(format!("{prefix}{}", levels.join("/"))).map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// As many as tens of thousands of copies of one short pair: numerous for two input bytes.
fn user_properties(u: &mut Unstructured) -> Result<Vec<UserProperty>> {
    if u.arbitrary()? {
        return Ok(Vec::new());
    }
    let pair = (repeated_text(u, MAX_USER_PROPERTY_LEN)?, repeated_text(u, MAX_USER_PROPERTY_LEN)?);
    Ok(vec![pair; size(u, MAX_USER_PROPERTIES)?])
}

/// Up to `max_len` copies of one lowercase letter.
fn repeated_text(u: &mut Unstructured, max_len: usize) -> Result<MqttString> {
    let letter = char::from(u.int_in_range(b'a'..=b'z')?);
    MqttString::try_from(letter.to_string().repeat(size(u, max_len)?)).map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// Up to the longest binary field, of copies of one byte.
fn binary(u: &mut Unstructured) -> Result<Binary> {
    let byte = u.arbitrary::<u8>()?;
    Binary::new(Bytes::from(vec![byte; size(u, MAX_FIELD)?])).map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// A few identifiers, so that acknowledgements and QoS 2 exchanges meet.
fn packet_id(u: &mut Unstructured) -> Result<PacketId> {
    PacketId::new(u.int_in_range(1..=4)?).ok_or(arbitrary::Error::IncorrectFormat)
}

/// A count or length up to `max`: often small, often the largest, otherwise anything
/// between, so that both ends are within the fuzzer's reach from the first input.
fn size<T: Int + From<u8>>(u: &mut Unstructured, max: T) -> Result<T> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => u.int_in_range(T::from(0)..=max.min(T::from(8)))?,
        1 => max,
        _ => u.int_in_range(T::from(0)..=max)?,
    })
}
