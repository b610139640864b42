//! Bounded memory: the client stops taking bytes while events or outgoing packets wait to be
//! polled, and refuses commands that would overflow a queue.

use verimqtt_proto::client::{ClientOptions, CommandError, Event};
use verimqtt_proto::codec::{Packet, ProtocolVersion, QoS, ReasonCode, Subscription, SubscriptionOptions};

use crate::harness::{Harness, encode, options, publish, suback, topic};

fn with(configure: impl FnOnce(&mut ClientOptions)) -> Harness {
    let mut options = options(ProtocolVersion::V5);
    configure(&mut options);
    let mut h = Harness::new(options);
    h.connect(false);
    h
}

/// Five messages in one read, as the server sent them.
fn five_messages(qos: QoS) -> (Vec<u8>, Vec<usize>) {
    let mut wire = Vec::new();
    let mut ends = Vec::new();
    for index in 0..5 {
        let packet_id = (qos != QoS::AtMostOnce).then_some(index + 1);
        wire.extend_from_slice(&encode(&publish(&format!("t/{index}"), qos, packet_id), ProtocolVersion::V5));
        ends.push(wire.len());
    }
    (wire, ends)
}

fn topics(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Message(message) => Some(message.topic.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_full_event_queue_stops_the_client_taking_bytes_until_it_is_polled() {
    let mut h = with(|options| options.max_pending_events = 2);
    let (wire, ends) = five_messages(QoS::AtMostOnce);
    let taken = h.deliver_bytes(&wire);
    assert_eq!(taken, ends[1], "two messages fill the queue");
    assert_eq!(h.deliver_bytes(&wire[taken..]), 0, "nothing more while the queue is full");
    let mut delivered = topics(&h.events());
    let mut offset = taken;
    while offset < wire.len() {
        let step = h.deliver_bytes(&wire[offset..]);
        assert!(step > 0, "no progress once the output was polled");
        offset += step;
        delivered.extend(topics(&h.events()));
    }
    assert_eq!(delivered, ["t/0", "t/1", "t/2", "t/3", "t/4"]);
}

#[test]
fn unwritten_acknowledgements_stop_the_client_taking_bytes() {
    let mut h = with(|options| options.max_pending_transmits = 2);
    let (wire, ends) = five_messages(QoS::AtLeastOnce);
    h.socket_full = true;
    let taken = h.deliver_bytes(&wire);
    assert_eq!(taken, ends[1]);
    assert_eq!(h.deliver_bytes(&wire[taken..]), 0, "nothing more while the acknowledgements wait");
    h.socket_full = false;
    let mut acknowledged = h.sent().len();
    let mut offset = taken;
    while offset < wire.len() {
        let step = h.deliver_bytes(&wire[offset..]);
        assert!(step > 0, "no progress once the output was polled");
        offset += step;
        acknowledged += h.sent().len();
    }
    assert_eq!(acknowledged, 5);
    assert_eq!(topics(&h.events()).len(), 5);
}

#[test]
fn too_many_pending_requests_are_refused_until_one_is_acknowledged() {
    let mut h = with(|options| options.max_pending_requests = 2);
    let first = h.subscribe("a");
    h.unsubscribe("b");
    let subscription = || vec![Subscription { filter: topic("c"), options: SubscriptionOptions::default() }];
    let refused = h.client.subscribe(h.now, subscription(), Default::default());
    assert_eq!(refused, Err(CommandError::TooManyPendingRequests { max: 2 }));
    h.deliver(suback(first, vec![ReasonCode::GrantedQos1]));
    assert!(h.client.subscribe(h.now, subscription(), Default::default()).is_ok());
    assert_eq!(h.client.pending_requests(), 2);
}

#[test]
fn connect_is_refused_while_the_event_queue_is_full() {
    let mut h = with(|options| options.max_pending_events = 1);
    h.lose_connection();
    h.client.handle_connected(h.now);
    assert_eq!(h.client.connect(h.now), Err(CommandError::EventQueueFull));
    h.events();
    assert_eq!(h.client.connect(h.now), Ok(()));
    assert!(matches!(h.sent().as_slice(), [Packet::Connect(_)]));
}
