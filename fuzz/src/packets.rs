//! Arbitrary packets, valid or not: any property in any packet, any reason code, wildcards in
//! topic names, a QoS that does not match the packet identifier. The encoder must refuse the
//! invalid ones and round-trip the rest.

use std::num::{NonZeroU16, NonZeroU32};

use arbitrary::{Result, Unstructured};
use bytes::Bytes;
use verimqtt_proto::codec::*;

/// A packet of any type for `version` (AUTH and CONNECT of the other version included: the
/// encoder must refuse those).
pub fn arbitrary_packet(u: &mut Unstructured, version: ProtocolVersion) -> Result<Packet> {
    Ok(match u.int_in_range(0..=14u8)? {
        0 => Packet::Connect(Box::new(connect(u, version)?)),
        1 => Packet::ConnAck(ConnAck {
            session_present: u.arbitrary()?,
            reason_code: reason_code(u)?,
            properties: properties(u)?,
        }),
        2 => Packet::Publish(publish(u)?),
        3 => Packet::PubAck(publish_ack(u)?),
        4 => Packet::PubRec(publish_ack(u)?),
        5 => Packet::PubRel(publish_ack(u)?),
        6 => Packet::PubComp(publish_ack(u)?),
        7 => Packet::Subscribe(Subscribe {
            packet_id: packet_id(u)?,
            properties: properties(u)?,
            subscriptions: list(u, |u| Ok(Subscription { filter: topic(u)?, options: subscription_options(u)? }))?,
        }),
        8 => Packet::SubAck(SubAck {
            packet_id: packet_id(u)?,
            properties: properties(u)?,
            reason_codes: list(u, reason_code)?,
        }),
        9 => Packet::Unsubscribe(Unsubscribe {
            packet_id: packet_id(u)?,
            properties: properties(u)?,
            filters: list(u, topic)?,
        }),
        10 => Packet::UnsubAck(UnsubAck {
            packet_id: packet_id(u)?,
            properties: properties(u)?,
            reason_codes: list(u, reason_code)?,
        }),
        11 => Packet::PingReq,
        12 => Packet::PingResp,
        13 => Packet::Disconnect(Disconnect { reason_code: reason_code(u)?, properties: properties(u)? }),
        _ => Packet::Auth(Auth { reason_code: reason_code(u)?, properties: properties(u)? }),
    })
}

fn connect(u: &mut Unstructured, version: ProtocolVersion) -> Result<Connect> {
    let protocol_version = if u.ratio(1, 8)? {
        match version {
            ProtocolVersion::V311 => ProtocolVersion::V5,
            ProtocolVersion::V5 => ProtocolVersion::V311,
        }
    } else {
        version
    };
    let will = if u.arbitrary()? {
        Some(Will {
            topic: topic(u)?,
            payload: binary(u)?,
            qos: qos(u)?,
            retain: u.arbitrary()?,
            properties: properties(u)?,
        })
    } else {
        None
    };
    Ok(Connect {
        protocol_version,
        clean_start: u.arbitrary()?,
        keep_alive: u.arbitrary()?,
        properties: properties(u)?,
        client_id: text(u)?,
        will,
        username: optional(u, text)?,
        password: optional(u, binary)?,
    })
}

fn publish(u: &mut Unstructured) -> Result<Publish> {
    let qos = qos(u)?;
    // Mostly the identifier the QoS needs; sometimes the wrong presence.
    let packet_id = match (qos, u.ratio(1, 8)?) {
        (QoS::AtMostOnce, false) | (QoS::AtLeastOnce | QoS::ExactlyOnce, true) => None,
        _ => Some(packet_id(u)?),
    };
    Ok(Publish {
        dup: u.arbitrary()?,
        qos,
        retain: u.arbitrary()?,
        topic: topic(u)?,
        packet_id,
        properties: properties(u)?,
        payload: Bytes::from(u.arbitrary::<Vec<u8>>()?),
    })
}

fn publish_ack(u: &mut Unstructured) -> Result<PublishAck> {
    Ok(PublishAck { packet_id: packet_id(u)?, reason_code: reason_code(u)?, properties: properties(u)? })
}

pub(crate) fn subscription_options(u: &mut Unstructured) -> Result<SubscriptionOptions> {
    Ok(SubscriptionOptions {
        qos: qos(u)?,
        no_local: u.arbitrary()?,
        retain_as_published: u.arbitrary()?,
        retain_handling: *u.choose(&[
            RetainHandling::SendAtSubscribe,
            RetainHandling::SendIfNewSubscription,
            RetainHandling::DoNotSend,
        ])?,
    })
}

fn properties(u: &mut Unstructured) -> Result<Properties> {
    if u.ratio(2, 3)? {
        return Ok(Properties::default());
    }
    Ok(PropertyValues {
        payload_format_indicator: optional(u, |u| Ok(*u.choose(&[PayloadFormat::Unspecified, PayloadFormat::Utf8])?))?,
        message_expiry_interval: optional(u, Unstructured::arbitrary)?,
        content_type: optional(u, text)?,
        response_topic: optional(u, topic)?,
        correlation_data: optional(u, binary)?,
        subscription_identifiers: list(u, |u| {
            SubscriptionId::new(u.int_in_range(1..=SubscriptionId::MAX)?).ok_or(arbitrary::Error::IncorrectFormat)
        })?,
        session_expiry_interval: optional(u, Unstructured::arbitrary)?,
        assigned_client_identifier: optional(u, text)?,
        server_keep_alive: optional(u, Unstructured::arbitrary)?,
        authentication_method: optional(u, text)?,
        authentication_data: optional(u, binary)?,
        request_problem_information: optional(u, Unstructured::arbitrary)?,
        will_delay_interval: optional(u, Unstructured::arbitrary)?,
        request_response_information: optional(u, Unstructured::arbitrary)?,
        response_information: optional(u, text)?,
        server_reference: optional(u, text)?,
        reason_string: optional(u, text)?,
        receive_maximum: optional(u, Unstructured::arbitrary::<NonZeroU16>)?,
        topic_alias_maximum: optional(u, Unstructured::arbitrary)?,
        topic_alias: optional(u, Unstructured::arbitrary::<NonZeroU16>)?,
        maximum_qos: optional(u, qos)?,
        retain_available: optional(u, Unstructured::arbitrary)?,
        user_properties: list(u, |u| Ok((text(u)?, text(u)?)))?,
        maximum_packet_size: optional(u, Unstructured::arbitrary::<NonZeroU32>)?,
        wildcard_subscription_available: optional(u, Unstructured::arbitrary)?,
        subscription_identifier_available: optional(u, Unstructured::arbitrary)?,
        shared_subscription_available: optional(u, Unstructured::arbitrary)?,
    }
    .into())
}

pub(crate) fn optional<'a, T>(
    u: &mut Unstructured<'a>,
    value: impl FnOnce(&mut Unstructured<'a>) -> Result<T>,
) -> Result<Option<T>> {
    if u.ratio(1, 4)? { value(u).map(Some) } else { Ok(None) }
}

/// Up to four values; SUBSCRIBE and the acknowledgements may come out empty, which the
/// encoder must refuse.
fn list<'a, T>(u: &mut Unstructured<'a>, mut value: impl FnMut(&mut Unstructured<'a>) -> Result<T>) -> Result<Vec<T>> {
    let len = u.int_in_range(0..=4u8)?;
    (0..len).map(|_| value(u)).collect()
}

/// Any string MQTT can carry; one with U+0000 cannot be made, so the null is dropped.
fn text(u: &mut Unstructured) -> Result<MqttString> {
    let text: String = u.arbitrary()?;
    MqttString::try_from(text.replace('\0', "")).map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// A topic or filter, often built from MQTT's special characters so that valid and invalid
/// wildcard placements both come up.
fn topic(u: &mut Unstructured) -> Result<MqttString> {
    if u.arbitrary()? {
        return text(u);
    }
    let len = u.int_in_range(0..=12u8)?;
    let topic: String = (0..len)
        .map(|_| u.choose(&['a', 'b', '/', '+', '#', '$', 's', 'h', 'r', 'e']).copied())
        .collect::<Result<_>>()?;
    MqttString::try_from(topic).map_err(|_| arbitrary::Error::IncorrectFormat)
}

fn binary(u: &mut Unstructured) -> Result<Binary> {
    Binary::new(Bytes::from(u.arbitrary::<Vec<u8>>()?)).map_err(|_| arbitrary::Error::IncorrectFormat)
}

pub(crate) fn qos(u: &mut Unstructured) -> Result<QoS> {
    Ok(*u.choose(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])?)
}

fn reason_code(u: &mut Unstructured) -> Result<ReasonCode> {
    Ok(*u.choose(ReasonCode::ALL)?)
}

fn packet_id(u: &mut Unstructured) -> Result<PacketId> {
    PacketId::new(u.int_in_range(1..=u16::MAX)?).ok_or(arbitrary::Error::IncorrectFormat)
}
