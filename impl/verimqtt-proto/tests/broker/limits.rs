//! Every bounded resource reaches its limit and behaves as `BrokerOptions` documents. (The
//! queue, retained store, subscriptions, sessions, packet size and receive maximum limits are
//! tested beside the features they bound.)

use verimqtt_proto::broker::{AcceptError, BrokerOptions, CloseReason, ConnId, Event};
use verimqtt_proto::codec::{Packet, PublishAck, QoS};

use crate::harness::*;

#[test]
fn max_connections_refuses_the_next_connection_until_one_closes() {
    let options = BrokerOptions { max_connections: 2, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let first = harness.open(V311);
    harness.open(V311);
    let now = harness.now;
    assert_eq!(harness.broker.handle_connected(now, ConnId(99)), Err(AcceptError::TooManyConnections { max: 2 }));
    harness.cut(first);
    assert_eq!(harness.broker.handle_connected(now, ConnId(99)), Ok(()));
}

#[test]
fn a_connection_id_in_use_is_refused() {
    let mut harness = Harness::new();
    let client = harness.open(V311);
    let now = harness.now;
    assert_eq!(harness.broker.handle_connected(now, client.conn), Err(AcceptError::DuplicateConnection(client.conn)));
}

#[test]
fn deliveries_wait_in_the_queue_while_the_transmit_buffer_is_full() {
    let options = BrokerOptions { max_transmit_buffer: 100, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let sub = subscriber(&mut harness, "sub", V311, "t", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V311);
    for _ in 0..20 {
        harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "twenty bytes of data"));
    }
    // Nothing was taken from the broker yet: only what fits under the limit was encoded,
    // and each write makes room for the next.
    let mut total = 0;
    let mut polls = 0;
    loop {
        let bytes = harness.output(sub.conn);
        if bytes.is_empty() {
            break;
        }
        assert!(bytes.len() < 100 + 30, "one poll holds at most the limit and one more packet");
        total += bytes.len();
        polls += 1;
    }
    assert_eq!(total, 20 * (2 + 3 + 20));
    assert!(polls > 1);
    assert!(harness.is_open(sub));
}

#[test]
fn a_client_that_never_reads_its_answers_is_disconnected() {
    let options = BrokerOptions { max_transmit_buffer: 64, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let client = harness.connect("deaf", V311);
    // Answers pile up unread: 64 KiB of PINGRESPs is the floor of the threshold.
    let pings = b"\xc0\x00".repeat(32 * 1024);
    harness.send_bytes(client, &pings);
    assert!(harness.is_open(client), "64 KiB of answers is tolerated");
    harness.send_bytes(client, b"\xc0\x00");
    assert_eq!(harness.close_reason(client), Some(CloseReason::NotReading));
}

#[test]
fn poll_transmit_ready_names_each_connection_with_bytes_once() {
    let mut harness = Harness::new();
    let first = subscriber(&mut harness, "first", V311, "t", QoS::AtMostOnce);
    let second = subscriber(&mut harness, "second", V311, "t", QoS::AtMostOnce);
    while harness.broker.poll_transmit_ready().is_some() {}
    let publisher = harness.connect("pub", V311);
    while harness.broker.poll_transmit_ready().is_some() {}
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "a"));
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "b"));
    let mut ready = Vec::new();
    while let Some(conn) = harness.broker.poll_transmit_ready() {
        ready.push(conn);
    }
    ready.sort();
    assert_eq!(ready, [first.conn, second.conn]);
}

#[test]
fn events_nobody_polls_are_bounded_and_their_loss_is_reported() {
    let options = BrokerOptions { max_pending_events: 3, ..BrokerOptions::default() };
    let mut broker = verimqtt_proto::broker::Broker::new(options, verimqtt_proto::broker::AllowAll);
    let now = std::time::Instant::now();
    for n in 0..10 {
        broker.handle_connected(now, ConnId(n)).unwrap();
        broker.handle_closed(now, ConnId(n));
    }
    let mut events = Vec::new();
    while let Some(event) = broker.poll_event() {
        events.push(event);
    }
    assert_eq!(events.len(), 4);
    assert!(events[..3].iter().all(|event| matches!(event, Event::Closed { .. })));
    assert_eq!(events[3], Event::EventsLost { count: 7 });
    assert_eq!(broker.stats().events_lost, 7);
}

#[test]
fn shutdown_disconnects_mqtt5_clients_with_0x8b_and_refuses_new_connections() {
    let mut harness = Harness::new();
    let new = harness.connect("new", V5);
    let old = harness.connect("old", V311);
    let now = harness.now;
    harness.broker.shutdown(now);
    assert_eq!(
        harness.recv_one(new),
        Packet::Disconnect(verimqtt_proto::codec::Disconnect::new(
            verimqtt_proto::codec::ReasonCode::ServerShuttingDown
        ))
    );
    harness.recv_nothing(old);
    assert_eq!(harness.close_reason(old), Some(CloseReason::ServerShuttingDown));
    assert_eq!(harness.broker.handle_connected(now, ConnId(1000)), Err(AcceptError::ShuttingDown));
}

#[test]
fn stats_count_messages_in_and_out() {
    let mut harness = Harness::new();
    let sub = subscriber(&mut harness, "sub", V311, "t", QoS::AtLeastOnce);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::AtLeastOnce, 1, "x"));
    let packet_id = harness.recv_publishes(sub)[0].packet_id.unwrap();
    harness.send(sub, Packet::PubAck(PublishAck::new(packet_id)));
    let stats = harness.broker.stats();
    assert_eq!((stats.messages_received, stats.messages_sent, stats.connections, stats.sessions), (1, 1, 2, 2));
    // CONNECT, SUBSCRIBE, PUBACK from one, CONNECT, PUBLISH from the other; CONNACK, SUBACK,
    // PUBLISH to one, CONNACK, PUBACK to the other.
    assert_eq!((stats.packets_received, stats.packets_sent), (5, 5));
    assert_eq!((stats.publish_received, stats.publish_sent), ([0, 1, 0], [0, 1, 0]));
    assert_eq!((stats.publish_bytes_received, stats.publish_bytes_sent), (1, 1));
    assert_eq!((stats.connects_received, stats.connections_accepted, stats.connections_not_accepted), (2, 2, 0));
    assert_eq!((stats.sessions_maximum, stats.sessions_persistent, stats.sessions_expired), (2, 0, 0));
    assert_eq!(stats.delivery_latency.count(), 1, "routed at once: {:?}", stats.delivery_latency);
    assert_eq!(stats.delivery_latency.counts[0], 1, "{:?}", stats.delivery_latency);
    assert!(stats.connects_refused.is_empty() && stats.messages_dropped_by.total() == 0, "{stats:?}");
}

#[test]
fn limits_of_zero_still_let_messages_reach_a_connected_client() {
    let options = BrokerOptions { max_transmit_buffer: 0, max_queued_messages: 0, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let sub = subscriber(&mut harness, "sub", V311, "t", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "a"));
    assert_eq!(payloads(&harness.recv_publishes(sub)), [b"a"]);
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "b"));
    assert_eq!(payloads(&harness.recv_publishes(sub)), [b"b"]);
}
