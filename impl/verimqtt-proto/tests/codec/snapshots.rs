//! The bytes of one canonical packet of each type in each version, as hex snapshots: a change
//! in what the encoder writes shows up in review.

use std::fmt::Write;
use std::num::NonZeroU16;

use bytes::{Bytes, BytesMut};
use verimqtt_proto::codec::{self, *};

fn text(value: &str) -> MqttString {
    MqttString::try_from(value).unwrap()
}

fn id(value: u16) -> PacketId {
    PacketId::new(value).unwrap()
}

/// Properties are MQTT 5 only; in 3.1.1 every block is empty.
fn properties(version: ProtocolVersion, build: impl FnOnce(&mut Properties)) -> Properties {
    let mut properties = Properties::default();
    if version.is_v5() {
        build(&mut properties);
    }
    properties
}

fn canonical_packets(version: ProtocolVersion) -> Vec<Packet> {
    let v5 = version.is_v5();
    let reason = |code: ReasonCode| if v5 { code } else { ReasonCode::Success };
    let mut packets = vec![
        Packet::Connect(Box::new(Connect {
            protocol_version: version,
            clean_start: false,
            keep_alive: 60,
            properties: properties(version, |p| {
                p.session_expiry_interval = Some(3600);
                p.receive_maximum = NonZeroU16::new(20);
            }),
            client_id: text("sensor-7"),
            will: Some(Will {
                topic: text("status/sensor-7"),
                payload: Binary::from_static(b"gone").unwrap(),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: properties(version, |p| p.will_delay_interval = Some(5)),
            }),
            username: Some(text("alice")),
            password: Some(Binary::from_static(b"secret").unwrap()),
        })),
        Packet::ConnAck(ConnAck {
            session_present: true,
            reason_code: ReasonCode::Success,
            properties: properties(version, |p| {
                p.maximum_qos = Some(QoS::AtLeastOnce);
                p.topic_alias_maximum = Some(10);
            }),
        }),
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: text("sensors/7/temperature"),
            packet_id: Some(id(42)),
            properties: properties(version, |p| {
                p.payload_format_indicator = Some(PayloadFormat::Utf8);
                p.message_expiry_interval = Some(30);
                p.topic_alias = NonZeroU16::new(3);
            }),
            payload: Bytes::from_static(b"21.5"),
        }),
    ];
    let ack = |code: ReasonCode| PublishAck {
        packet_id: id(42),
        reason_code: reason(code),
        properties: properties(version, |p| p.reason_string = Some(text("ok"))),
    };
    packets.extend([
        Packet::PubAck(ack(ReasonCode::NoMatchingSubscribers)),
        Packet::PubRec(ack(ReasonCode::Success)),
        Packet::PubRel(ack(ReasonCode::PacketIdentifierNotFound)),
        Packet::PubComp(ack(ReasonCode::Success)),
        Packet::Subscribe(Subscribe {
            packet_id: id(7),
            properties: properties(version, |p| p.subscription_identifiers = vec![SubscriptionId::new(9).unwrap()]),
            subscriptions: vec![
                Subscription {
                    filter: text("sensors/+/temperature"),
                    options: SubscriptionOptions::new(QoS::AtLeastOnce),
                },
                Subscription {
                    filter: text("alerts/#"),
                    options: SubscriptionOptions {
                        qos: QoS::ExactlyOnce,
                        no_local: v5,
                        retain_as_published: v5,
                        retain_handling: if v5 { RetainHandling::DoNotSend } else { RetainHandling::SendAtSubscribe },
                    },
                },
            ],
        }),
        Packet::SubAck(SubAck {
            packet_id: id(7),
            properties: Properties::default(),
            reason_codes: vec![ReasonCode::GrantedQos1, ReasonCode::UnspecifiedError],
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: id(8),
            properties: properties(version, |p| p.user_properties = vec![(text("k"), text("v"))]),
            filters: vec![text("sensors/+/temperature")],
        }),
        Packet::UnsubAck(UnsubAck {
            packet_id: id(8),
            properties: Properties::default(),
            reason_codes: if v5 { vec![ReasonCode::NoSubscriptionExisted] } else { vec![] },
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Disconnect {
            reason_code: reason(ReasonCode::DisconnectWithWillMessage),
            properties: properties(version, |p| p.session_expiry_interval = Some(0)),
        }),
    ]);
    if v5 {
        packets.push(Packet::Auth(Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: properties(version, |p| {
                p.authentication_method = Some(text("SCRAM-SHA-1"));
                p.authentication_data = Some(Binary::from_static(b"n,,n=user").unwrap());
            }),
        }));
    }
    packets
}

fn hex_table(version: ProtocolVersion) -> String {
    let mut table = String::new();
    for packet in canonical_packets(version) {
        let mut wire = BytesMut::new();
        codec::encode(&packet, version, &mut wire).unwrap();
        let hex: Vec<String> = wire.iter().map(|byte| format!("{byte:02x}")).collect();
        writeln!(table, "{:<11} {}", packet.packet_type().name(), hex.join(" ")).unwrap();
        let decoded = codec::decode(&mut wire, &DecodeOptions::new(version)).unwrap();
        assert_eq!(decoded, Some(packet));
    }
    table
}

#[test]
fn canonical_packets_of_3_1_1() {
    insta::assert_snapshot!("v3_1_1", hex_table(ProtocolVersion::V311));
}

#[test]
fn canonical_packets_of_5_0() {
    insta::assert_snapshot!("v5_0", hex_table(ProtocolVersion::V5));
}
