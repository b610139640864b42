//! Backpressure: a connected subscriber whose queue passes half its limit holds back the
//! PUBLISHes of the connections that feed it, until it drains below a quarter; one that
//! stays behind for the slow-consumer timeout is dropped from or disconnected, as the policy
//! says. The broker tells its owner which connections to stop and start reading.

use bytes::BytesMut;
use verimqtt_proto::broker::{BrokerOptions, CloseReason, DropReason, Event, SlowConsumerPolicy};
use verimqtt_proto::codec::{self, Disconnect, Packet, QoS, ReasonCode};

use crate::harness::*;

/// Queues of 8 messages (congested at 4, drained at 2), and a transmit buffer that takes one
/// message at a time, so that the subscriber's queue builds up until the test reads it.
fn options() -> BrokerOptions {
    BrokerOptions { max_queued_messages: 8, max_transmit_buffer: 0, ..BrokerOptions::default() }
}

/// Several packets in one read, as a fast publisher's socket delivers them.
fn burst(client: Client, packets: &[Packet]) -> Vec<u8> {
    let mut wire = BytesMut::new();
    for packet in packets {
        codec::encode(packet, client.version, &mut wire).unwrap();
    }
    wire.to_vec()
}

fn message(n: u16) -> Packet {
    let payload: &'static str = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"][usize::from(n) - 1];
    publish("t", QoS::AtMostOnce, 0, payload)
}

fn reading_changes<P: verimqtt_proto::broker::Policy>(harness: &mut Harness<P>) -> Vec<(u64, bool)> {
    harness.take_reading_changes().into_iter().map(|(conn, reading)| (conn.0, reading)).collect()
}

/// The subscriber reads its messages one poll at a time, as many as there are.
fn drain<P: verimqtt_proto::broker::Policy>(harness: &mut Harness<P>, client: Client) -> Vec<String> {
    let mut payloads = Vec::new();
    loop {
        let polled = drain_one(harness, client);
        if polled.is_empty() {
            return payloads;
        }
        payloads.extend(polled);
    }
}

#[test]
fn a_congested_subscriber_holds_back_the_publisher_until_it_drains_and_nothing_is_lost() {
    let mut harness = Harness::with_options(options());
    let sub = subscriber(&mut harness, "sub", V5, "t", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V5);
    reading_changes(&mut harness);
    let packets =
        [message(1), message(2), message(3), message(4), message(5), Packet::PingReq, message(6), Packet::PingReq];
    harness.send_bytes(publisher, &burst(publisher, &packets));
    // One message in the transmit buffer and four queued: congested. What came before the
    // next PUBLISH is answered; the PUBLISH and what follows it wait.
    assert_eq!(reading_changes(&mut harness), [(publisher.conn.0, false)]);
    assert_eq!(harness.recv(publisher), [Packet::PingResp]);
    // Reading the subscriber drains its queue; at two it lets the publisher go.
    let mut received = Vec::new();
    for _ in 0..3 {
        received.extend(drain_one(&mut harness, sub));
    }
    assert_eq!(reading_changes(&mut harness), [(publisher.conn.0, true)]);
    assert_eq!(harness.recv(publisher), [Packet::PingResp], "the held packets were read");
    received.extend(drain(&mut harness, sub));
    assert_eq!(received, ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(harness.broker.stats().messages_dropped, 0);
}

/// One poll of the subscriber's transmit buffer.
fn drain_one<P: verimqtt_proto::broker::Policy>(harness: &mut Harness<P>, client: Client) -> Vec<String> {
    let publishes = harness.recv_publishes(client);
    publishes.iter().map(|publish| String::from_utf8(publish.payload.to_vec()).unwrap()).collect()
}

#[test]
fn a_slow_consumer_stops_holding_back_and_drops_past_its_limits_under_the_drop_policy() {
    let mut harness = Harness::with_options(options());
    let sub = subscriber(&mut harness, "sub", V5, "t", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V5);
    reading_changes(&mut harness);
    let flood: Vec<Packet> = (1..=10).map(message).collect();
    harness.send_bytes(publisher, &burst(publisher, &flood));
    assert_eq!(reading_changes(&mut harness), [(publisher.conn.0, false)]);
    harness.advance(options().slow_consumer_timeout);
    assert_eq!(reading_changes(&mut harness), [(publisher.conn.0, true)]);
    let events = harness.events();
    let slow = Event::SlowConsumer { client_id: string("sub"), policy: SlowConsumerPolicy::Drop };
    assert!(events.contains(&slow), "{events:?}");
    // The rest of the flood was read: 1 sent, 8 queued, 1 dropped.
    let dropped = |event: &Event| matches!(event, Event::MessageDropped { reason: DropReason::QueueFull, .. });
    assert_eq!(events.iter().filter(|event| dropped(event)).count(), 1, "{events:?}");
    assert_eq!(drain(&mut harness, sub).len(), 9);
    assert!(reading_changes(&mut harness).is_empty(), "dropping, the session held no one back");
    // Drained, it is a subscriber like any other again: the next flood holds the publisher back.
    harness.send_bytes(publisher, &burst(publisher, &flood));
    assert_eq!(reading_changes(&mut harness), [(publisher.conn.0, false)]);
}

#[test]
fn a_slow_consumer_is_disconnected_with_0x97_under_the_disconnect_policy() {
    let options = BrokerOptions { slow_consumer_policy: SlowConsumerPolicy::Disconnect, ..options() };
    let mut harness = Harness::with_options(options.clone());
    let sub = subscriber(&mut harness, "sub", V5, "t", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V5);
    reading_changes(&mut harness);
    let flood: Vec<Packet> = (1..=6).map(message).collect();
    harness.send_bytes(publisher, &burst(publisher, &flood));
    assert_eq!(reading_changes(&mut harness), [(publisher.conn.0, false)]);
    harness.advance(options.slow_consumer_timeout);
    assert_eq!(harness.close_reason(sub), Some(CloseReason::SlowConsumer));
    let last = harness.recv(sub).pop();
    assert_eq!(last, Some(Packet::Disconnect(Disconnect::new(ReasonCode::QuotaExceeded))));
    assert_eq!(reading_changes(&mut harness), [(publisher.conn.0, true)]);
    assert!(harness.is_open(publisher));
}

#[test]
fn a_client_that_publishes_to_itself_is_never_held_back_by_its_own_queue() {
    let mut harness = Harness::with_options(options());
    let client = subscriber(&mut harness, "echo", V311, "t", QoS::AtMostOnce);
    reading_changes(&mut harness);
    let flood: Vec<Packet> = (1..=10).map(message).collect();
    harness.send_bytes(client, &burst(client, &flood));
    assert!(reading_changes(&mut harness).is_empty());
}

#[test]
fn a_held_back_client_is_not_closed_for_keep_alive() {
    let options = BrokerOptions { slow_consumer_timeout: secs(600), ..options() };
    let mut harness = Harness::with_options(options);
    let sub = subscriber(&mut harness, "sub", V311, "t", QoS::AtMostOnce);
    let mut request = connect(V311, "pub");
    request.keep_alive = 10;
    let (publisher, _) = harness.connect_with(request);
    let flood: Vec<Packet> = (1..=6).map(message).collect();
    harness.send_bytes(publisher, &burst(publisher, &flood));
    assert_eq!(reading_changes(&mut harness), [(publisher.conn.0, false)]);
    harness.advance(secs(60));
    assert!(harness.is_open(publisher), "the broker, not the client, is the one not reading");
    assert_eq!(drain(&mut harness, sub).len(), 6);
}

#[test]
fn an_offline_session_holds_no_one_back_and_keeps_its_limits() {
    let mut harness = Harness::with_options(options());
    let (sub, _) = harness.connect_with(persistent(V311, "sub"));
    harness.send(sub, subscribe(1, &[("t", QoS::AtLeastOnce)]));
    harness.recv(sub);
    harness.cut(sub);
    let publisher = harness.connect("pub", V311);
    reading_changes(&mut harness);
    let flood: Vec<Packet> = (1..=10).map(|n| publish("t", QoS::AtLeastOnce, n, "x")).collect();
    harness.send_bytes(publisher, &burst(publisher, &flood));
    assert!(reading_changes(&mut harness).is_empty());
    assert_eq!(harness.recv(publisher).len(), 10, "every PUBLISH acknowledged");
    assert_eq!(harness.broker.stats().messages_dropped, 2, "8 queued, 2 past the limit");
}

#[test]
fn what_a_held_back_client_sent_before_closing_is_read_and_its_disconnect_keeps_its_will() {
    let mut harness = Harness::with_options(options());
    let sub = subscriber(&mut harness, "sub", V5, "#", QoS::AtMostOnce);
    let mut request = connect(V5, "pub");
    request.will = Some(crate::will::will("last/words", QoS::AtMostOnce, false));
    let (publisher, _) = harness.connect_with(request);
    reading_changes(&mut harness);
    let mut packets: Vec<Packet> = (1..=6).map(message).collect();
    packets.push(Packet::Disconnect(Disconnect::new(ReasonCode::Success)));
    harness.send_bytes(publisher, &burst(publisher, &packets));
    assert_eq!(reading_changes(&mut harness), [(publisher.conn.0, false)], "the sixth PUBLISH waits");
    // The client closes its end after the DISCONNECT, as clients do.
    harness.cut(publisher);
    assert_eq!(drain(&mut harness, sub), ["1", "2", "3", "4", "5", "6"], "no will, nothing lost");
}
