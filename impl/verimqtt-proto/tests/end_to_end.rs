//! verimqtt's client and broker speaking to each other through `testing::Pair`, on simulated
//! time: what each machine's own tests check against a scripted peer, checked here against
//! the real one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use verimqtt_proto::broker::{AllowAll, Broker, BrokerOptions};
use verimqtt_proto::client::{Client, ClientOptions, Event};
use verimqtt_proto::codec::{MqttString, Properties, ProtocolVersion, QoS, Subscription, SubscriptionOptions};
use verimqtt_proto::testing::Pair;

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn text(value: &str) -> MqttString {
    MqttString::try_from(value).unwrap()
}

/// A pair with one connected client per id, each with `keep_alive` seconds.
fn connected(version: ProtocolVersion, ids: &[&str], keep_alive: u16) -> Pair<AllowAll> {
    let now = Instant::now();
    let mut pair = Pair::new(Broker::new(BrokerOptions::default(), AllowAll), now);
    for id in ids {
        let mut options = ClientOptions::new(version, text(id));
        options.keep_alive = keep_alive;
        let index = pair.add(Client::new(options).unwrap()).unwrap();
        pair.clients[index].1.client.connect(now).unwrap();
    }
    pair.exchange();
    for (_, client) in &mut pair.clients {
        let events = client.take_events();
        assert!(matches!(events.as_slice(), [Event::Connected { .. }]), "{version}: {events:?}");
    }
    pair
}

fn messages(events: &[Event]) -> Vec<(String, Bytes, QoS)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Message(publish) => Some((publish.topic.to_string(), publish.payload.clone(), publish.qos)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_qos2_message_reaches_its_subscriber_once_and_completes_for_its_publisher() {
    for version in VERSIONS {
        let mut pair = connected(version, &["publisher", "subscriber"], 0);
        let now = pair.broker.now;
        let subscription =
            Subscription { filter: text("sensors/+"), options: SubscriptionOptions::new(QoS::ExactlyOnce) };
        pair.clients[1].1.client.subscribe(now, vec![subscription], Properties::default()).unwrap();
        pair.exchange();
        assert!(matches!(pair.clients[1].1.take_events().as_slice(), [Event::SubAck(_)]), "{version}");

        let ticket = pair.clients[0]
            .1
            .client
            .publish(
                now,
                text("sensors/1"),
                Bytes::from_static(b"21.5"),
                QoS::ExactlyOnce,
                false,
                Properties::default(),
            )
            .unwrap();
        pair.exchange();

        let published = pair.clients[0].1.take_events();
        assert!(
            published.iter().any(|event| matches!(event, Event::PubComp { ticket: done, .. } if *done == ticket)),
            "{version}: {published:?}"
        );
        let received = messages(&pair.clients[1].1.take_events());
        assert_eq!(received, [("sensors/1".to_owned(), Bytes::from_static(b"21.5"), QoS::ExactlyOnce)], "{version}");
        assert_eq!(
            pair.broker.broker.stats().messages_held,
            0,
            "{version}: the broker keeps nothing once both are done"
        );
    }
}

#[test]
fn a_client_that_pings_on_time_is_never_closed_by_the_broker() {
    for version in VERSIONS {
        let mut pair = connected(version, &["quiet"], 2);
        pair.advance(Duration::from_secs(60));
        let events = pair.clients[0].1.take_events();
        assert!(events.is_empty(), "{version}: {events:?}");
        assert_eq!(pair.broker.take_closed(), [], "{version}");
        assert_eq!(pair.broker.broker.stats().clients_connected, 1, "{version}");
    }
}
