//! Decode and encode throughput of the codec against rumqttc's codec (`rumqttc::mqttbytes`),
//! measured in the same run on the same packets.
//!
//! Two mixes per version: the PUBLISH mix (QoS 0 and 1 with 16 B, 256 B and 4 KiB payloads)
//! and the full mix (the PUBLISH mix plus PUBACK, SUBSCRIBE and PINGREQ). Throughput is in
//! packets; `scripts/bench-report` turns criterion's estimates into ns/packet and ratios.
//!
//! Run: `cargo bench -p verimqtt-proto --bench codec`.

// A benchmark whose fixed input is invalid should stop at once.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use verimqtt_proto::codec::{
    self, DecodeOptions, MqttString, Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS, Subscribe,
    Subscription, SubscriptionOptions,
};

const PAYLOAD_SIZES: [usize; 3] = [16, 256, 4096];
const TOPIC: &str = "building/3/floor/2/room/12/sensor/temperature";
const FILTER: &str = "building/+/floor/+/room/#";

/// One packet of the mix, described once and built for both codecs.
#[derive(Clone, Copy)]
enum Item {
    Publish { qos: QoS, payload_len: usize },
    PubAck,
    Subscribe,
    PingReq,
}

fn publish_mix() -> Vec<Item> {
    let mut items = Vec::new();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        for payload_len in PAYLOAD_SIZES {
            items.push(Item::Publish { qos, payload_len });
        }
    }
    items
}

fn full_mix() -> Vec<Item> {
    let mut items = publish_mix();
    items.extend([Item::PubAck, Item::Subscribe, Item::PingReq]);
    items
}

fn packet_id() -> PacketId {
    PacketId::new(42).expect("42 is not zero")
}

fn ours(item: Item) -> Packet {
    let topic = MqttString::from_static(TOPIC).expect("a valid topic");
    match item {
        Item::Publish { qos, payload_len } => {
            let id = (qos != QoS::AtMostOnce).then(packet_id);
            Packet::Publish(Publish::new(topic, qos, id, Bytes::from(vec![b'x'; payload_len])))
        }
        Item::PubAck => Packet::PubAck(PublishAck::new(packet_id())),
        Item::Subscribe => Packet::Subscribe(Subscribe {
            packet_id: packet_id(),
            properties: Default::default(),
            subscriptions: vec![Subscription {
                filter: MqttString::from_static(FILTER).expect("a valid filter"),
                options: SubscriptionOptions::new(QoS::AtLeastOnce),
            }],
        }),
        Item::PingReq => Packet::PingReq,
    }
}

fn rumqttc_v4(item: Item) -> rumqttc::mqttbytes::v4::Packet {
    use rumqttc::mqttbytes::QoS as Q;
    use rumqttc::mqttbytes::v4;
    match item {
        Item::Publish { qos, payload_len } => {
            let qos = if qos == QoS::AtMostOnce { Q::AtMostOnce } else { Q::AtLeastOnce };
            let mut publish = v4::Publish::new(TOPIC, qos, vec![b'x'; payload_len]);
            if qos != Q::AtMostOnce {
                publish.pkid = 42;
            }
            v4::Packet::Publish(publish)
        }
        Item::PubAck => v4::Packet::PubAck(v4::PubAck::new(42)),
        Item::Subscribe => {
            let mut subscribe = v4::Subscribe::new(FILTER, Q::AtLeastOnce);
            subscribe.pkid = 42;
            v4::Packet::Subscribe(subscribe)
        }
        Item::PingReq => v4::Packet::PingReq,
    }
}

fn rumqttc_v5(item: Item) -> rumqttc::v5::mqttbytes::v5::Packet {
    use rumqttc::v5::mqttbytes::QoS as Q;
    use rumqttc::v5::mqttbytes::v5;
    match item {
        Item::Publish { qos, payload_len } => {
            let qos = if qos == QoS::AtMostOnce { Q::AtMostOnce } else { Q::AtLeastOnce };
            let mut publish = v5::Publish::new(TOPIC, qos, vec![b'x'; payload_len], None);
            if qos != Q::AtMostOnce {
                publish.pkid = 42;
            }
            v5::Packet::Publish(publish)
        }
        Item::PubAck => v5::Packet::PubAck(v5::PubAck::new(42, None)),
        Item::Subscribe => {
            let mut subscribe = v5::Subscribe::new(v5::Filter::new(FILTER, Q::AtLeastOnce), None);
            subscribe.pkid = 42;
            v5::Packet::Subscribe(subscribe)
        }
        Item::PingReq => v5::Packet::PingReq(v5::PingReq),
    }
}

/// The mix on the wire, as our encoder writes it; both decoders read these same bytes.
fn wire(items: &[Item], version: ProtocolVersion) -> Bytes {
    let mut out = BytesMut::new();
    for &item in items {
        codec::encode(&ours(item), version, &mut out).expect("the mix is valid");
    }
    out.freeze()
}

fn bench_mix(c: &mut Criterion, version: ProtocolVersion, mix_name: &str, items: &[Item]) {
    let label = match version {
        ProtocolVersion::V311 => "v311",
        ProtocolVersion::V5 => "v5",
    };
    let wire = wire(items, version);
    let options = DecodeOptions::new(version);

    let mut decode = c.benchmark_group(format!("decode/{label}/{mix_name}"));
    decode.throughput(Throughput::Elements(items.len() as u64));
    // The received bytes are copied into a fresh buffer outside the timed section, and that
    // buffer is dropped outside it too: only decoding (and dropping the packets) is timed.
    let fresh = || BytesMut::from(&wire[..]);
    decode.bench_function("verimqtt", |b| {
        b.iter_batched_ref(
            fresh,
            |buf| {
                while let Some(packet) = codec::decode(buf, &options).expect("valid input") {
                    black_box(packet);
                }
            },
            BatchSize::SmallInput,
        )
    });
    decode.bench_function("rumqttc", |b| match version {
        ProtocolVersion::V311 => b.iter_batched_ref(
            fresh,
            |buf| {
                while !buf.is_empty() {
                    black_box(rumqttc::mqttbytes::v4::Packet::read(buf, usize::MAX).expect("valid input"));
                }
            },
            BatchSize::SmallInput,
        ),
        ProtocolVersion::V5 => b.iter_batched_ref(
            fresh,
            |buf| {
                while !buf.is_empty() {
                    black_box(rumqttc::v5::mqttbytes::v5::Packet::read(buf, None).expect("valid input"));
                }
            },
            BatchSize::SmallInput,
        ),
    });
    decode.finish();

    let mut encode = c.benchmark_group(format!("encode/{label}/{mix_name}"));
    encode.throughput(Throughput::Elements(items.len() as u64));
    let mut out = BytesMut::with_capacity(wire.len());
    let packets: Vec<Packet> = items.iter().map(|&item| ours(item)).collect();
    encode.bench_function("verimqtt", |b| {
        b.iter(|| {
            out.clear();
            for packet in &packets {
                codec::encode(packet, version, &mut out).expect("valid packet");
            }
            black_box(&out);
        })
    });
    match version {
        ProtocolVersion::V311 => {
            let packets: Vec<_> = items.iter().map(|&item| rumqttc_v4(item)).collect();
            encode.bench_function("rumqttc", |b| {
                b.iter(|| {
                    out.clear();
                    for packet in &packets {
                        packet.write(&mut out, usize::MAX).expect("valid packet");
                    }
                    black_box(&out);
                })
            });
        }
        ProtocolVersion::V5 => {
            let packets: Vec<_> = items.iter().map(|&item| rumqttc_v5(item)).collect();
            encode.bench_function("rumqttc", |b| {
                b.iter(|| {
                    out.clear();
                    for packet in &packets {
                        packet.write(&mut out, None).expect("valid packet");
                    }
                    black_box(&out);
                })
            });
        }
    }
    encode.finish();
}

fn codec_benchmarks(c: &mut Criterion) {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        bench_mix(c, version, "publish", &publish_mix());
        bench_mix(c, version, "full", &full_mix());
    }
}

criterion_group!(benches, codec_benchmarks);
criterion_main!(benches);
