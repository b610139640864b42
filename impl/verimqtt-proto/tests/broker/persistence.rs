//! Persistence: with `persistence` on, the broker asks for its persistent sessions and
//! retained messages to be stored, answers nothing before what it answers is durable, and a
//! broker restored from the store carries on where the last one stopped.

use verimqtt_proto::broker::{BrokerOptions, StoreOp};
use verimqtt_proto::codec::{Packet, PublishAck, QoS};
use verimqtt_proto::testing::MemoryStore;

use crate::harness::{Client, Harness, V5, V311, connect, persistent, publish, pubrec, retained, subscribe};

fn options() -> BrokerOptions {
    BrokerOptions { persistence: true, ..BrokerOptions::default() }
}

/// Applies what the broker has for its store and tells it it is durable.
fn sync(harness: &mut Harness, store: &mut MemoryStore) {
    let now = harness.now;
    store.sync(&mut harness.broker, now);
}

/// Sends `request` and returns the client once its CONNACK, held until the store is
/// synced, came.
fn connect_durably(harness: &mut Harness, store: &mut MemoryStore, request: verimqtt_proto::codec::Connect) -> Client {
    let client = harness.open(request.protocol_version);
    harness.send(client, Packet::Connect(Box::new(request)));
    sync(harness, store);
    assert!(matches!(harness.recv_one(client), Packet::ConnAck(connack) if !connack.reason_code.is_failure()));
    client
}

#[test]
fn acknowledgements_wait_until_what_they_acknowledge_is_durable() {
    let mut harness = Harness::with_options(options());
    let mut store = MemoryStore::default();
    let subscriber = harness.open(V5);
    harness.send(subscriber, Packet::Connect(Box::new(persistent(V5, "keeper"))));
    assert_eq!(harness.recv(subscriber), [], "CONNACK waits for the new session's record");
    sync(&mut harness, &mut store);
    assert!(matches!(harness.recv_one(subscriber), Packet::ConnAck(_)));

    harness.send(subscriber, subscribe(1, &[("t", QoS::ExactlyOnce)]));
    assert_eq!(harness.recv(subscriber), [], "SUBACK waits for the subscription");
    sync(&mut harness, &mut store);
    assert!(matches!(harness.recv_one(subscriber), Packet::SubAck(_)));
    harness.cut(subscriber);
    sync(&mut harness, &mut store);

    let publisher = harness.connect("sender", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 7, "kept"));
    assert_eq!(harness.recv(publisher), [], "PUBACK waits for the message in the offline session");
    let pending = std::iter::from_fn(|| harness.broker.poll_store()).collect::<Vec<_>>();
    assert!(
        matches!(
            &pending[..],
            [(_, StoreOp::PutMessage { message, .. }), (_, StoreOp::PutDelivery { client_id, delivery, .. })]
                if client_id == "keeper" && delivery.message == *message
        ),
        "{pending:?}"
    );
    for (number, op) in pending {
        store.apply(number, op);
    }
    let now = harness.now;
    harness.broker.handle_durable(now, store.applied);
    assert_eq!(harness.recv_one(publisher), Packet::PubAck(PublishAck::new(crate::harness::id(7))));
    assert_eq!(store.sessions(), [("keeper", 1)]);
}

#[test]
fn clients_without_a_persistent_session_store_nothing_and_wait_for_nothing() {
    let mut harness = Harness::with_options(options());
    let subscriber = harness.connect("passing", V5);
    harness.send(subscriber, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    assert!(matches!(harness.recv_one(subscriber), Packet::SubAck(_)));
    let publisher = harness.connect("sender", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "gone with the session"));
    assert!(matches!(harness.recv_one(publisher), Packet::PubAck(_)));
    assert_eq!(harness.broker.poll_store(), None);
}

#[test]
fn a_restored_broker_resends_flights_with_dup_then_the_queue_and_keeps_retained_messages() {
    let mut harness = Harness::with_options(options());
    let mut store = MemoryStore::default();
    let subscriber = connect_durably(&mut harness, &mut store, persistent(V5, "keeper"));
    harness.send(subscriber, subscribe(1, &[("t/#", QoS::ExactlyOnce)]));
    sync(&mut harness, &mut store);
    assert!(matches!(harness.recv_one(subscriber), Packet::SubAck(_)));

    let publisher = harness.connect("sender", V311);
    for (packet_id, payload) in [(1, "m1"), (2, "m2")] {
        harness.send(publisher, publish("t/a", QoS::ExactlyOnce, packet_id, payload));
    }
    sync(&mut harness, &mut store);
    let delivered = harness.recv_publishes(subscriber);
    let ids: Vec<u16> = delivered.iter().map(|publish| publish.packet_id.unwrap().get()).collect();
    // m1 is received (PUBREL sent, PUBCOMP awaited); m2's PUBREC never comes.
    harness.send(subscriber, pubrec(ids[0]));
    sync(&mut harness, &mut store);
    assert!(matches!(harness.recv(subscriber)[..], [Packet::PubRel(_)]));
    harness.cut(subscriber);
    harness.send(publisher, publish("t/b", QoS::AtLeastOnce, 3, "m3"));
    harness.send(publisher, retained("r", QoS::AtLeastOnce, 4, "last known"));
    sync(&mut harness, &mut store);
    assert_eq!(harness.recv(publisher).len(), 4, "PUBREC, PUBREC, PUBACK, PUBACK");

    // The broker stops; another starts on what was stored.
    let mut restarted = Harness::with_options(options());
    let now = restarted.now;
    restarted.broker.restore(now, store.restart());
    let mut request = persistent(V5, "keeper");
    request.clean_start = false;
    let client = restarted.open(V5);
    restarted.send(client, Packet::Connect(Box::new(request)));
    sync(&mut restarted, &mut store);
    let packets = restarted.recv(client);
    let Packet::ConnAck(connack) = &packets[0] else { panic!("{packets:?}") };
    assert!(connack.session_present, "the session survived the restart");
    // In the order of each flight's last step: m2's PUBLISH, then m1's PUBREL; then the queue.
    match &packets[1..] {
        [Packet::Publish(m2), Packet::PubRel(m1), Packet::Publish(m3)] => {
            assert_eq!((m2.packet_id.unwrap().get(), m2.dup, &m2.payload[..]), (ids[1], true, &b"m2"[..]));
            assert_eq!(m1.packet_id.get(), ids[0]);
            assert_eq!((m3.dup, m3.qos, &m3.payload[..]), (false, QoS::AtLeastOnce, &b"m3"[..]));
            assert!(!ids.contains(&m3.packet_id.unwrap().get()), "a new identifier, not one in flight");
        }
        other => panic!("{other:?}"),
    }

    let late = restarted.connect("late", V311);
    restarted.send(late, subscribe(1, &[("r", QoS::AtLeastOnce)]));
    let packets = restarted.recv(late);
    assert!(
        matches!(&packets[..], [Packet::SubAck(_), Packet::Publish(publish)] if publish.retain && publish.payload == "last known"),
        "{packets:?}"
    );
}

#[test]
fn a_message_routed_to_many_stored_sessions_is_stored_once_and_goes_with_its_last_delivery() {
    let mut harness = Harness::with_options(options());
    let mut store = MemoryStore::default();
    let names = ["s1", "s2", "s3"];
    let mut subscribers = Vec::new();
    for name in names {
        let subscriber = connect_durably(&mut harness, &mut store, persistent(V5, name));
        harness.send(subscriber, subscribe(1, &[("t", QoS::AtLeastOnce)]));
        sync(&mut harness, &mut store);
        assert!(matches!(harness.recv_one(subscriber), Packet::SubAck(_)));
        subscribers.push(subscriber);
    }
    let publisher = harness.connect("sender", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "to all three"));
    sync(&mut harness, &mut store);
    assert_eq!(store.messages(), 1, "one message, three deliveries");
    assert_eq!(store.sessions(), [("s1", 1), ("s2", 1), ("s3", 1)]);

    // Each restored session gets its own delivery of the one stored message.
    let mut restarted = Harness::with_options(options());
    let now = restarted.now;
    restarted.broker.restore(now, store.restart());
    let mut resumed = Vec::new();
    for name in names {
        let mut request = persistent(V5, name);
        request.clean_start = false;
        let client = restarted.open(V5);
        restarted.send(client, Packet::Connect(Box::new(request)));
        sync(&mut restarted, &mut store);
        let packets = restarted.recv(client);
        match &packets[..] {
            [Packet::ConnAck(connack), Packet::Publish(publish)] => {
                assert!(connack.session_present);
                assert_eq!((publish.dup, &publish.payload[..]), (true, &b"to all three"[..]));
                resumed.push((client, publish.packet_id.unwrap()));
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // Two acknowledge: the message stays for the third, whose session then ends.
    for (client, packet_id) in &resumed[..2] {
        restarted.send(*client, Packet::PubAck(PublishAck::new(*packet_id)));
    }
    sync(&mut restarted, &mut store);
    assert_eq!(store.messages(), 1);
    assert_eq!(store.sessions(), [("s1", 0), ("s2", 0), ("s3", 1)]);
    let mut ending = connect(V5, "s3");
    ending.clean_start = true;
    connect_durably(&mut restarted, &mut store, ending);
    assert_eq!(store.messages(), 0, "gone with the last delivery that referred to it");
    assert_eq!(store.sessions(), [("s1", 0), ("s2", 0)]);
}

#[test]
fn a_session_that_ends_is_deleted_from_the_store_with_its_messages() {
    let mut harness = Harness::with_options(options());
    let mut store = MemoryStore::default();
    let subscriber = connect_durably(&mut harness, &mut store, persistent(V5, "leaving"));
    harness.send(subscriber, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    sync(&mut harness, &mut store);
    harness.cut(subscriber);
    sync(&mut harness, &mut store);
    let publisher = harness.connect("sender", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "queued"));
    sync(&mut harness, &mut store);
    assert_eq!(store.sessions(), [("leaving", 1)]);
    // A clean start discards the session ([MQTT-3.1.2-4] in 5.0).
    connect_durably(&mut harness, &mut store, connect(V5, "leaving"));
    assert_eq!(store.sessions(), []);
}

#[test]
fn qos0_messages_are_never_stored_nor_wait() {
    let options = BrokerOptions { queue_qos0_offline: true, ..options() };
    let mut harness = Harness::with_options(options);
    let mut store = MemoryStore::default();
    let subscriber = connect_durably(&mut harness, &mut store, persistent(V5, "keeper"));
    harness.send(subscriber, subscribe(1, &[("t", QoS::AtMostOnce)]));
    sync(&mut harness, &mut store);
    assert!(matches!(harness.recv_one(subscriber), Packet::SubAck(_)));
    let publisher = harness.connect("sender", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "online"));
    assert_eq!(harness.broker.poll_store(), None, "at most once: a crash may lose it");
    assert!(matches!(harness.recv_one(publisher), Packet::PubAck(_)));
    assert_eq!(harness.recv_publishes(subscriber).len(), 1);
    harness.cut(subscriber);
    sync(&mut harness, &mut store);
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "offline"));
    assert_eq!(harness.broker.poll_store(), None);
    assert_eq!(store.sessions(), [("keeper", 0)]);
}

/// A persistent MQTT 5 session whose CONNECT leaves a will with this delay.
fn with_will(client_id: &str, delay: u32) -> verimqtt_proto::codec::Connect {
    let mut request = persistent(V5, client_id);
    let mut will = crate::will::will("last/words", QoS::AtLeastOnce, false);
    will.properties.will_delay_interval = Some(delay);
    request.will = Some(will);
    request
}

/// A broker with a persistent watcher of `last/#`, and a store synced.
fn watched() -> (Harness, MemoryStore) {
    let mut harness = Harness::with_options(options());
    let mut store = MemoryStore::default();
    let watcher = connect_durably(&mut harness, &mut store, persistent(V5, "watcher"));
    harness.send(watcher, subscribe(1, &[("last/#", QoS::AtLeastOnce)]));
    sync(&mut harness, &mut store);
    assert!(matches!(harness.recv_one(watcher), Packet::SubAck(_)));
    (harness, store)
}

/// The broker stops without a word to anyone; another starts on the store, and the
/// watcher resumes its session.
fn restart(store: &mut MemoryStore) -> (Harness, Client) {
    let mut restarted = Harness::with_options(options());
    let now = restarted.now;
    restarted.broker.restore(now, store.restart());
    sync(&mut restarted, store);
    let mut request = persistent(V5, "watcher");
    request.clean_start = false;
    let watcher = connect_durably(&mut restarted, store, request);
    (restarted, watcher)
}

/// A client with a will of this delay loses its connection; the broker stops while the will
/// waits, and starts again.
fn restart_while_a_will_waits(delay: u32) -> (Harness, Client, MemoryStore) {
    let (mut harness, mut store) = watched();
    let mortal = connect_durably(&mut harness, &mut store, with_will("mortal", delay));
    harness.cut(mortal);
    sync(&mut harness, &mut store);
    let (restarted, watcher) = restart(&mut store);
    (restarted, watcher, store)
}

#[test]
fn the_will_of_a_client_connected_when_the_broker_stopped_is_published_after_its_delay() {
    let (mut harness, mut store) = watched();
    connect_durably(&mut harness, &mut store, with_will("mortal", 5));
    let (mut restarted, watcher) = restart(&mut store);
    restarted.advance(crate::harness::secs(4));
    assert_eq!(restarted.recv(watcher), [], "not before its delay");
    restarted.advance(crate::harness::secs(1));
    sync(&mut restarted, &mut store);
    let wills = restarted.recv_publishes(watcher);
    assert_eq!(wills.iter().map(|will| &will.payload[..]).collect::<Vec<_>>(), [&b"gone"[..]], "[MQTT-3.1.2-8]");
}

#[test]
fn a_will_waiting_out_its_delay_waits_on_after_a_restart_and_a_resumed_session_cancels_it() {
    let (mut restarted, watcher, mut store) = restart_while_a_will_waits(30);
    restarted.advance(crate::harness::secs(10));
    let mut request = with_will("mortal", 30);
    request.clean_start = false;
    connect_durably(&mut restarted, &mut store, request);
    restarted.advance(crate::harness::secs(30));
    sync(&mut restarted, &mut store);
    assert_eq!(restarted.recv(watcher), [], "the session resumed within the delay [MQTT-3.1.3-9]");
}

#[test]
fn a_will_waiting_out_its_delay_is_published_when_the_delay_ends_after_a_restart() {
    let (mut restarted, watcher, mut store) = restart_while_a_will_waits(30);
    restarted.advance(crate::harness::secs(29));
    assert_eq!(restarted.recv(watcher), []);
    restarted.advance(crate::harness::secs(1));
    sync(&mut restarted, &mut store);
    assert_eq!(restarted.recv_publishes(watcher).len(), 1, "the will, once its delay is over");
}

#[test]
fn the_brokers_own_messages_are_not_stored() {
    let mut harness = Harness::with_options(options());
    let now = harness.now;
    harness.broker.publish_own(now, crate::harness::string("$SYS/uptime"), bytes::Bytes::from_static(b"1"));
    assert_eq!(harness.broker.poll_store(), None, "published afresh at every start");
}
