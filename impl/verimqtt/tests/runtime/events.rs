//! The broker's events as an embedding application receives them (`Server::events`), over
//! real loopback sockets: what happened to which client, in order.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::sync::broadcast;
use verimqtt::broker::{AllowAll, BrokerOptions, CloseReason, Event};
use verimqtt::codec::{Disconnect, Packet, ProtocolVersion, PublishAck, QoS, ReasonCode};
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};

use crate::client::{PATIENCE, RawClient, publish};

/// The next event, skipping none; fails after the test's patience.
fn next(events: &mut broadcast::Receiver<Event>) -> Event {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        match events.try_recv() {
            Ok(event) => return event,
            Err(broadcast::error::TryRecvError::Empty) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(error) => panic!("no event: {error:?}"),
        }
    }
}

#[test]
fn an_embedding_application_hears_who_connected_what_was_refused_and_how_each_left() {
    let (sender, mut events) = broadcast::channel(64);
    let options = BrokerOptions { max_subscriptions_per_session: 1, ..BrokerOptions::default() };
    let listener = Listener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), Transport::Tcp).unwrap();
    let broker = EmbeddedBroker::serve(Server::new(options, AllowAll).listener(listener).events(sender)).unwrap();

    let mut client = RawClient::connect(broker.addr(), ProtocolVersion::V5, "hooked");
    assert!(matches!(next(&mut events),
        Event::Connected { client_id, version: ProtocolVersion::V5, session_present: false, .. } if client_id == "hooked"));

    client.subscribe("a", QoS::AtLeastOnce);
    client.subscribe("b", QoS::AtLeastOnce);
    assert!(matches!(next(&mut events), Event::Subscribed { client_id, filter, qos: QoS::AtLeastOnce }
        if client_id == "hooked" && filter == "a"));
    assert!(matches!(next(&mut events), Event::SubscribeRefused { client_id, filter, .. }
        if client_id == "hooked" && filter == "b"));

    client.send(&Packet::Disconnect(Disconnect::new(ReasonCode::Success)));
    assert_eq!(client.until_closed(), []);
    assert!(matches!(next(&mut events),
        Event::Closed { client_id: Some(client_id), reason: CloseReason::ClientDisconnected { .. }, .. }
            if client_id == "hooked"));
}

#[test]
fn with_message_events_an_application_hears_each_subscription_and_each_message_reach_its_subscriber() {
    let (sender, mut events) = broadcast::channel(64);
    let options = BrokerOptions { message_events: true, ..BrokerOptions::default() };
    let listener = Listener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), Transport::Tcp).unwrap();
    let broker = EmbeddedBroker::serve(Server::new(options, AllowAll).listener(listener).events(sender)).unwrap();

    let mut subscriber = RawClient::connect(broker.addr(), ProtocolVersion::V5, "listener");
    subscriber.subscribe("m/#", QoS::AtLeastOnce);
    let mut publisher = RawClient::connect(broker.addr(), ProtocolVersion::V311, "talker");
    publisher.send(&publish("m/1", QoS::AtLeastOnce, "hello"));
    assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));
    let Some(Packet::Publish(delivered)) = subscriber.recv() else { panic!("the subscriber gets the message") };
    subscriber.send(&Packet::PubAck(PublishAck::new(delivered.packet_id.unwrap())));

    let heard: Vec<Event> =
        std::iter::from_fn(|| Some(next(&mut events))).take(5).filter(|event| !is_connected(event)).collect();
    assert!(
        matches!(&heard[..], [
            Event::Subscribed { client_id: subscriber, filter, qos: QoS::AtLeastOnce },
            Event::MessagePublished { client_id: publisher, topic: published, qos: QoS::AtLeastOnce, retain: false, sessions: 1 },
            Event::MessageDelivered { client_id: receiver, topic: delivered, qos: QoS::AtLeastOnce },
        ] if subscriber == "listener" && filter == "m/#" && publisher == "talker" && published == "m/1"
            && receiver == "listener" && delivered == "m/1"),
        "{heard:#?}"
    );
}

fn is_connected(event: &Event) -> bool {
    matches!(event, Event::Connected { .. })
}
