//! Proptest strategies for every packet of both versions, generating only packets the
//! version can carry and a receiver must accept.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use verimqtt_proto::codec::*;

/// How often an optional field or property is present.
const PRESENT: f64 = 0.3;

pub fn versions() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)]
}

/// Any text MQTT allows: no U+0000, surrogates cannot occur in a Rust `char`.
pub fn text(max_chars: usize) -> impl Strategy<Value = MqttString> {
    vec(any::<char>().prop_filter("no U+0000", |&c| c != '\0'), 0..=max_chars)
        .prop_map(|chars| MqttString::try_from(chars.into_iter().collect::<String>()).unwrap())
}

/// A topic level without wildcards or separators, sometimes empty, sometimes non-ASCII.
fn level() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9_]{1,8}",
        1 => Just(String::new()),
        1 => "[é€$😀 ]{1,3}",
    ]
}

pub fn topic_name() -> impl Strategy<Value = MqttString> {
    vec(level(), 1..5)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("non-empty", |topic| !topic.is_empty())
        .prop_map(|topic| MqttString::try_from(topic).unwrap())
}

/// A valid filter for `version`: levels or `+`, maybe a final `#`, maybe shared in 5.0.
pub fn topic_filter(version: ProtocolVersion) -> impl Strategy<Value = MqttString> {
    let levels = vec(prop_oneof![3 => level(), 1 => Just("+".to_string())], 1..4);
    let shared = if version.is_v5() { weighted(0.2, "[a-z]{1,5}").boxed() } else { Just(None).boxed() };
    (levels, any::<bool>(), shared)
        .prop_map(|(levels, multi_level, group)| {
            let mut filter = levels.join("/");
            if filter.is_empty() {
                filter.push('#');
            } else if multi_level {
                filter.push_str("/#");
            }
            match group {
                Some(group) => format!("$share/{group}/{filter}"),
                None => filter,
            }
        })
        .prop_map(|filter| MqttString::try_from(filter).unwrap())
}

pub fn binary(max_len: usize) -> impl Strategy<Value = Binary> {
    vec(any::<u8>(), 0..=max_len).prop_map(|bytes| Binary::new(Bytes::from(bytes)).unwrap())
}

pub fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        8 => vec(any::<u8>(), 0..64),
        1 => vec(any::<u8>(), 200..2_000),
    ]
    .prop_map(Bytes::from)
}

pub fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(|id| PacketId::new(id).unwrap())
}

pub fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce), Just(QoS::ExactlyOnce)]
}

fn opt<T: std::fmt::Debug>(strategy: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    weighted(PRESENT, strategy)
}

/// Every property with a random value, before the packet's rules are applied.
fn any_properties() -> impl Strategy<Value = Properties> {
    let messages = (
        opt(prop_oneof![Just(PayloadFormat::Unspecified), Just(PayloadFormat::Utf8)]),
        opt(any::<u32>()),
        opt(text(8)),
        opt(topic_name()),
        opt(binary(8)),
        vec((1..=SubscriptionId::MAX).prop_map(|id| SubscriptionId::new(id).unwrap()), 0..3),
    );
    let session = (
        opt(any::<u32>()),
        opt(text(8)),
        opt(any::<u16>()),
        opt(text(8)),
        opt(binary(8)),
        opt(any::<bool>()),
        opt(any::<u32>()),
        opt(any::<bool>()),
        opt(text(8)),
        opt(text(8)),
    );
    let limits = (
        opt(text(8)),
        opt(any::<NonZeroU16>()),
        opt(any::<u16>()),
        opt(any::<NonZeroU16>()),
        opt(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
        opt(any::<bool>()),
        vec((text(4), text(4)), 0..3),
        opt(any::<NonZeroU32>()),
        opt(any::<bool>()),
        opt(any::<bool>()),
        opt(any::<bool>()),
    );
    (messages, session, limits)
        .prop_map(|(messages, session, limits)| PropertyValues {
            payload_format_indicator: messages.0,
            message_expiry_interval: messages.1,
            content_type: messages.2,
            response_topic: messages.3,
            correlation_data: messages.4,
            subscription_identifiers: messages.5,
            session_expiry_interval: session.0,
            assigned_client_identifier: session.1,
            server_keep_alive: session.2,
            authentication_method: session.3,
            authentication_data: session.4,
            request_problem_information: session.5,
            will_delay_interval: session.6,
            request_response_information: session.7,
            response_information: session.8,
            server_reference: session.9,
            reason_string: limits.0,
            receive_maximum: limits.1,
            topic_alias_maximum: limits.2,
            topic_alias: limits.3,
            maximum_qos: limits.4,
            retain_available: limits.5,
            user_properties: limits.6,
            maximum_packet_size: limits.7,
            wildcard_subscription_available: limits.8,
            subscription_identifier_available: limits.9,
            shared_subscription_available: limits.10,
        })
        .prop_map(Properties::from)
}

/// Properties a packet (or will) of `context` may carry under `version`: none in 3.1.1.
pub fn properties(version: ProtocolVersion, context: PropertyContext) -> BoxedStrategy<Properties> {
    if !version.is_v5() {
        return Just(Properties::default()).boxed();
    }
    any_properties()
        .prop_map(move |mut properties| {
            for &id in PropertyId::ALL {
                if !id.allowed_in(context) {
                    properties.remove(id);
                }
            }
            if context != PropertyContext::Publish {
                properties.subscription_identifiers.truncate(1);
            }
            if properties.authentication_method.is_none() {
                properties.authentication_data = None;
            }
            properties
        })
        .boxed()
}

fn reason_code(packet: PacketType, version: ProtocolVersion) -> impl Strategy<Value = ReasonCode> {
    proptest::sample::select(allowed_codes(packet, version))
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let will = (topic_name(), binary(16), qos(), any::<bool>(), properties(version, PropertyContext::Will))
        .prop_map(|(topic, payload, qos, retain, properties)| Will { topic, payload, qos, retain, properties });
    (
        any::<bool>(),
        any::<u16>(),
        properties(version, PropertyContext::Connect),
        text(23),
        opt(will),
        opt(text(12)),
        opt(binary(12)),
    )
        .prop_map(move |(clean_start, keep_alive, properties, client_id, will, username, password)| {
            // 3.1.1 has no password without a user name [MQTT-3.1.2-22].
            let password = if version.is_v5() || username.is_some() { password } else { None };
            Packet::Connect(Box::new(Connect {
                protocol_version: version,
                clean_start,
                keep_alive,
                properties,
                client_id,
                will,
                username,
                password,
            }))
        })
}

fn connack(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (any::<bool>(), reason_code(PacketType::ConnAck, version), properties(version, PropertyContext::ConnAck)).prop_map(
        |(session_present, reason_code, properties)| {
            Packet::ConnAck(ConnAck {
                session_present: session_present && reason_code == ReasonCode::Success,
                reason_code,
                properties,
            })
        },
    )
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        properties(version, PropertyContext::Publish),
        payload(),
        any::<bool>(),
    )
        .prop_map(|(qos, dup, retain, topic, packet_id, properties, payload, omit_topic)| {
            let acknowledged = qos != QoS::AtMostOnce;
            // With a Topic Alias, 5.0 may leave the topic out (section 3.3.2.3.4).
            let aliased = properties.topic_alias.is_some();
            let topic = if aliased && omit_topic { MqttString::default() } else { topic };
            Packet::Publish(Publish {
                dup: dup && acknowledged,
                qos,
                retain,
                topic,
                packet_id: acknowledged.then_some(packet_id),
                properties,
                payload,
            })
        })
}

fn publish_ack(packet: PacketType, version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let context = match packet {
        PacketType::PubAck => PropertyContext::PubAck,
        PacketType::PubRec => PropertyContext::PubRec,
        PacketType::PubRel => PropertyContext::PubRel,
        _ => PropertyContext::PubComp,
    };
    (packet_id(), reason_code(packet, version), properties(version, context)).prop_map(
        move |(packet_id, reason_code, properties)| {
            let ack = PublishAck { packet_id, reason_code, properties };
            match packet {
                PacketType::PubAck => Packet::PubAck(ack),
                PacketType::PubRec => Packet::PubRec(ack),
                PacketType::PubRel => Packet::PubRel(ack),
                _ => Packet::PubComp(ack),
            }
        },
    )
}

fn subscription_options(version: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    if !version.is_v5() {
        return qos().prop_map(SubscriptionOptions::new).boxed();
    }
    let retain_handling = prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendIfNewSubscription),
        Just(RetainHandling::DoNotSend),
    ];
    (qos(), any::<bool>(), any::<bool>(), retain_handling)
        .prop_map(|(qos, no_local, retain_as_published, retain_handling)| SubscriptionOptions {
            qos,
            no_local,
            retain_as_published,
            retain_handling,
        })
        .boxed()
}

fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let subscription = (topic_filter(version), subscription_options(version)).prop_map(move |(filter, mut options)| {
        // No Local makes no sense on a shared subscription [MQTT-3.8.3-4].
        if shared_subscription(&filter, version).is_some() {
            options.no_local = false;
        }
        Subscription { filter, options }
    });
    (packet_id(), properties(version, PropertyContext::Subscribe), vec(subscription, 1..4)).prop_map(
        |(packet_id, properties, subscriptions)| Packet::Subscribe(Subscribe { packet_id, properties, subscriptions }),
    )
}

fn suback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (packet_id(), properties(version, PropertyContext::SubAck), vec(reason_code(PacketType::SubAck, version), 1..4))
        .prop_map(|(packet_id, properties, reason_codes)| {
            Packet::SubAck(SubAck { packet_id, properties, reason_codes })
        })
}

fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (packet_id(), properties(version, PropertyContext::Unsubscribe), vec(topic_filter(version), 1..4)).prop_map(
        |(packet_id, properties, filters)| Packet::Unsubscribe(Unsubscribe { packet_id, properties, filters }),
    )
}

fn unsuback(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let codes = if version.is_v5() { 1..4 } else { 0..1 };
    (
        packet_id(),
        properties(version, PropertyContext::UnsubAck),
        vec(reason_code(PacketType::UnsubAck, version), codes),
    )
        .prop_map(|(packet_id, properties, reason_codes)| {
            Packet::UnsubAck(UnsubAck { packet_id, properties, reason_codes })
        })
}

fn disconnect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (reason_code(PacketType::Disconnect, version), properties(version, PropertyContext::Disconnect))
        .prop_map(|(reason_code, properties)| Packet::Disconnect(Disconnect { reason_code, properties }))
}

fn auth() -> impl Strategy<Value = Packet> {
    (reason_code(PacketType::Auth, ProtocolVersion::V5), properties(ProtocolVersion::V5, PropertyContext::Auth))
        .prop_map(|(reason_code, properties)| Packet::Auth(Auth { reason_code, properties }))
}

/// Any packet `version` can carry, every type equally likely.
pub fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let common = prop_oneof![
        connect(version),
        connack(version),
        publish(version),
        publish_ack(PacketType::PubAck, version),
        publish_ack(PacketType::PubRec, version),
        publish_ack(PacketType::PubRel, version),
        publish_ack(PacketType::PubComp, version),
        subscribe(version),
        suback(version),
        unsubscribe(version),
        unsuback(version),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        disconnect(version),
    ];
    if version.is_v5() { prop_oneof![14 => common, 1 => auth()].boxed() } else { common.boxed() }
}

/// A version and a packet of it.
pub fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    versions().prop_flat_map(|version| (Just(version), packet(version)))
}
