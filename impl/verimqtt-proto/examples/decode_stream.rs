//! The codec alone: packets arrive in a byte stream, in pieces, and are decoded one by one as
//! they complete; a packet that breaks a rule is a typed error that names the rule.
//!
//! Run: `cargo run -p verimqtt-proto --example decode_stream`

use bytes::{Bytes, BytesMut};
use verimqtt_proto::codec::{
    self, DecodeOptions, ErrorKind, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let version = ProtocolVersion::V5;

    // What a peer sent: two PUBLISHes and a PINGREQ, back to back.
    let mut sent = BytesMut::new();
    for (topic, qos, id) in [("sensors/1", QoS::AtMostOnce, None), ("sensors/2", QoS::AtLeastOnce, PacketId::new(7))] {
        let publish = Publish::new(MqttString::try_from(topic)?, qos, id, Bytes::from_static(b"21.5"));
        codec::encode(&Packet::Publish(publish), version, &mut sent)?;
    }
    codec::encode(&Packet::PingReq, version, &mut sent)?;

    // They arrive 5 bytes at a time. `decode` takes a whole packet off the front of the
    // buffer, or nothing (Ok(None)) until one is complete.
    let options = DecodeOptions::new(version).with_max_packet_size(64 * 1024);
    let mut received = BytesMut::new();
    for chunk in sent.chunks(5) {
        received.extend_from_slice(chunk);
        while let Some(packet) = codec::decode(&mut received, &options)? {
            match packet {
                Packet::Publish(publish) => {
                    println!("PUBLISH {} qos {:?} id {:?}", publish.topic, publish.qos, publish.packet_id)
                }
                other => println!("{:?}", other.packet_type()),
            }
        }
    }

    // A PUBLISH whose topic name holds a wildcard. The error says which rule it breaks, in
    // this version's numbering, and how to close the connection (in MQTT 5, the reason code of
    // the DISCONNECT to send first).
    let mut bad = BytesMut::from(&b"\x30\x06\x00\x03a/#\x00"[..]);
    match codec::decode(&mut bad, &options) {
        Err(error) => {
            let kind = match error.kind() {
                ErrorKind::MalformedPacket => "malformed packet",
                ErrorKind::ProtocolError => "protocol error",
                ErrorKind::PacketTooLarge => "packet too large",
                ErrorKind::UnsupportedProtocolVersion => "unsupported protocol version",
            };
            println!("refused: {error} ({kind}, close with reason {:?})", error.reason_code());
        }
        Ok(packet) => println!("unexpectedly accepted: {packet:?}"),
    }
    Ok(())
}
