//! broker_session: a broker with small limits, so that reaching them is within a fuzzer's
//! reach, and clients that send raw bytes, arbitrary packets (valid or not) and valid
//! CONNECTs whose client ids collide, so that takeovers happen.

use arbitrary::{Result, Unstructured};
use bytes::BytesMut;
use verimqtt_proto::broker::BrokerOptions;
use verimqtt_proto::codec::{Connect, MqttString, Packet, ProtocolVersion};

use super::{Traffic, encode};
use crate::packets::arbitrary_packet;

pub struct SmallLimits;

impl Traffic for SmallLimits {
    fn options(_: &mut Unstructured) -> Result<BrokerOptions> {
        Ok(BrokerOptions {
            max_connections: 2,
            max_packet_size: 2048,
            max_queued_messages: 8,
            max_retained_messages: 4,
            max_subscriptions_per_session: 4,
            max_sessions: 3,
            max_transmit_buffer: 4096,
            max_pending_events: 16,
            // Fuzzed too: the events reported for every message, and persistence (stored,
            // synced and restarted from by the harness).
            message_events: true,
            persistence: true,
            ..BrokerOptions::default()
        })
    }

    fn client_sends(u: &mut Unstructured, version: ProtocolVersion) -> Result<BytesMut> {
        Ok(match u.int_in_range(0..=2u8)? {
            0 => BytesMut::from(&u.arbitrary::<Vec<u8>>()?[..]),
            1 => encode(&arbitrary_packet(u, version)?, version),
            _ => encode(&Packet::Connect(Box::new(connect(u, version)?)), version),
        })
    }
}

/// A valid CONNECT, with client ids from a small set so that takeovers happen.
fn connect(u: &mut Unstructured, version: ProtocolVersion) -> Result<Connect> {
    let client_id = *u.choose(&["a", "b", "c", ""])?;
    let mut connect =
        Connect::new(version, MqttString::from_static(client_id).map_err(|_| arbitrary::Error::IncorrectFormat)?);
    connect.clean_start = u.arbitrary()?;
    connect.keep_alive = u.int_in_range(0..=5)?;
    if version.is_v5() && u.arbitrary()? {
        connect.properties.session_expiry_interval = Some(u.int_in_range(0..=30)?);
    }
    Ok(connect)
}
