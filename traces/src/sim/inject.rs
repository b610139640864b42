//! The packets the simulator writes on a client's connection as a hostile client would
//! ([`Step::Inject`](super::Step::Inject)), encoded with verimqtt's codec.

use bytes::{Bytes, BytesMut};
use verimqtt_proto::codec::{self, Packet, ProtocolVersion, Publish, PublishAck};

use super::SimError;
use super::run::mqtt_string;
use super::scenario::{INJECTED_PACKET_ID, Injection, TOPIC};

/// The packet of `injection`, the run's `n`-th injected PUBLISH if it is one.
pub(super) fn packet_of(injection: Injection, n: usize) -> Result<Packet, SimError> {
    match injection {
        Injection::Publish { qos } => {
            let payload = Bytes::from(format!("x{n}"));
            Ok(Packet::Publish(Publish::new(mqtt_string(TOPIC)?, qos, Some(INJECTED_PACKET_ID), payload)))
        }
        Injection::PubRec { packet_id, code } => {
            Ok(Packet::PubRec(PublishAck { reason_code: code, ..PublishAck::new(packet_id) }))
        }
    }
}

/// `packet` on the wire in `version`.
pub(super) fn encoded(packet: &Packet, version: ProtocolVersion) -> Result<Bytes, SimError> {
    let mut wire = BytesMut::new();
    codec::encode(packet, version, &mut wire)
        .map_err(|error| SimError::CannotEncode { packet: format!("{packet:?}"), error: error.to_string() })?;
    Ok(wire.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use verimqtt_proto::codec::QoS;

    #[test]
    fn an_injected_publish_has_an_id_no_flight_uses_and_a_payload_of_its_own() {
        let Packet::Publish(publish) = packet_of(Injection::Publish { qos: QoS::AtLeastOnce }, 3).unwrap() else {
            panic!("a PUBLISH")
        };
        assert_eq!(publish.packet_id, Some(INJECTED_PACKET_ID));
        assert_eq!(&publish.payload[..], b"x3");
        assert_eq!((publish.qos, publish.dup, publish.retain), (QoS::AtLeastOnce, false, false));
        assert!(!encoded(&Packet::Publish(publish), ProtocolVersion::V5).unwrap().is_empty());
    }
}
