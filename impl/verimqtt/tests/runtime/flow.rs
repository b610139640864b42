//! Backpressure over real loopback sockets: publishers flooding as fast as they can lose
//! nothing, at QoS 0 as at QoS 1, to subscribers that read as fast as they can; the broker
//! slows the publishers down instead of dropping.

use std::sync::{Arc, Barrier};

use std::time::Duration;

use bytes::Bytes;
use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::codec::{Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS};
use verimqtt::runtime::EmbeddedBroker;

use crate::client::{RawClient, mqtt_string};

const PAIRS: usize = 4;
const MESSAGES: u32 = 20_000;

#[test]
fn publishers_flooding_reading_subscribers_lose_nothing_at_qos_0_and_1() {
    // Held back, not dropped, however long a loaded machine makes the subscribers take.
    let options = BrokerOptions { slow_consumer_timeout: Duration::from_secs(60), ..BrokerOptions::default() };
    let broker = EmbeddedBroker::start_with(options, AllowAll).unwrap();
    let addr = broker.addr();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let subscribed = Arc::new(Barrier::new(2 * PAIRS));
        let threads: Vec<_> = (0..PAIRS)
            .flat_map(|pair| {
                let topic = format!("flow/{qos:?}/{pair}");
                let (subscribed_too, topic_too) = (Arc::clone(&subscribed), topic.clone());
                let subscriber = std::thread::spawn(move || {
                    let mut client = RawClient::connect(addr, ProtocolVersion::V311, &format!("sub{pair}"));
                    client.subscribe(&topic_too, qos);
                    subscribed_too.wait();
                    received_in_order(&mut client)
                });
                let subscribed = Arc::clone(&subscribed);
                let publisher = std::thread::spawn(move || {
                    let mut client = RawClient::connect(addr, ProtocolVersion::V311, &format!("pub{pair}"));
                    subscribed.wait();
                    flood(&mut client, &topic, qos);
                    MESSAGES
                });
                [subscriber, publisher]
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), MESSAGES, "{qos:?}: every message, in order");
        }
    }
}

/// Publishes the numbers 1 to `MESSAGES` as fast as the socket takes them; at QoS 1 the
/// PUBACKs are read once all are sent.
fn flood(client: &mut RawClient, topic: &str, qos: QoS) {
    for n in 1..=MESSAGES {
        let packet_id = (qos != QoS::AtMostOnce).then(|| PacketId::new((n % 65_535) as u16 + 1).unwrap());
        let publish = Publish::new(mqtt_string(topic), qos, packet_id, Bytes::from(n.to_string()));
        client.send(&Packet::Publish(publish));
    }
    if qos == QoS::AtLeastOnce {
        for _ in 1..=MESSAGES {
            assert!(matches!(client.recv(), Some(Packet::PubAck(_))));
        }
    }
}

/// Reads messages until `MESSAGES` have come, checking they come in order, one each.
fn received_in_order(client: &mut RawClient) -> u32 {
    for expected in 1..=MESSAGES {
        match client.recv() {
            Some(Packet::Publish(publish)) => {
                assert_eq!(publish.payload, expected.to_string(), "lost or out of order");
                if let Some(packet_id) = publish.packet_id {
                    client.send(&Packet::PubAck(PublishAck::new(packet_id)));
                }
            }
            other => panic!("expected message {expected}, got {other:?}"),
        }
    }
    MESSAGES
}
