//! SUBSCRIBE, SUBACK, UNSUBSCRIBE and matching (sections 3.8 to 3.11, 4.7, 4.8).

use verimqtt_proto::broker::{Authentication, BrokerOptions, ClientInfo, Event, Policy};
use verimqtt_proto::codec::{
    Connect, Packet, Properties, QoS, ReasonCode, SubAck, Subscribe, SubscriptionId, SubscriptionOptions, UnsubAck,
};

use crate::harness::*;

fn suback(harness: &mut Harness<impl Policy>, client: Client) -> SubAck {
    match harness.recv_one(client) {
        Packet::SubAck(suback) => suback,
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

#[test]
fn suback_carries_the_identifier_and_one_code_per_filter_in_order() {
    // [MQTT-3.8.4-1], [MQTT-3.8.4-2], [MQTT-3.8.4-5], [MQTT-3.9.3-1] (3.1.1)
    let options = BrokerOptions { maximum_qos: QoS::AtLeastOnce, ..BrokerOptions::default() };
    let mut harness = Harness::with_options(options);
    let client = harness.connect("c", V311);
    harness.send(client, subscribe(77, &[("a", QoS::ExactlyOnce), ("b", QoS::AtMostOnce), ("c", QoS::AtLeastOnce)]));
    let suback = suback(&mut harness, client);
    assert_eq!(suback.packet_id, id(77));
    assert_eq!(suback.reason_codes, [ReasonCode::GrantedQos1, ReasonCode::GRANTED_QOS_0, ReasonCode::GrantedQos1]);
}

#[test]
fn a_topic_filter_with_a_misplaced_wildcard_closes_the_connection() {
    // [MQTT-4.7.1-2] (3.1.1); in 5.0 [MQTT-4.7.1-1] and DISCONNECT 0x82.
    let mut harness = Harness::new();
    let old = harness.connect("old", V311);
    harness.send_bytes(old, b"\x82\x0a\x00\x01\x00\x05a/b#c\x00");
    harness.recv_nothing(old);
    assert!(!harness.is_open(old));
    let new = harness.connect("new", V5);
    harness.send_bytes(new, b"\x82\x0b\x00\x01\x00\x00\x05a/b#c\x00");
    match harness.recv_one(new) {
        Packet::Disconnect(disconnect) => assert_eq!(disconnect.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
}

#[test]
fn single_and_multi_level_wildcards_match_as_specified() {
    // Section 4.7.1: "sport/tennis/#" matches "sport/tennis" too; "+" fills one level.
    let mut harness = Harness::new();
    let hash = subscriber(&mut harness, "hash", V311, "sport/tennis/#", QoS::AtMostOnce);
    let plus = subscriber(&mut harness, "plus", V311, "sport/+/player1", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V311);
    for topic in ["sport/tennis", "sport/tennis/player1", "sport/golf/player1", "sport/tennis/player1/ranking"] {
        harness.send(publisher, publish(topic, QoS::AtMostOnce, 0, "x"));
    }
    let topics = |publishes: Vec<verimqtt_proto::codec::Publish>| {
        publishes.into_iter().map(|publish| publish.topic.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(
        topics(harness.recv_publishes(hash)),
        ["sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking"]
    );
    assert_eq!(topics(harness.recv_publishes(plus)), ["sport/tennis/player1", "sport/golf/player1"]);
}

#[test]
fn topics_starting_with_dollar_are_not_matched_by_leading_wildcards() {
    // [MQTT-4.7.2-1]
    let mut harness = Harness::new();
    let everything = subscriber(&mut harness, "all", V311, "#", QoS::AtMostOnce);
    let one_level = subscriber(&mut harness, "plus", V311, "+/status", QoS::AtMostOnce);
    let explicit = subscriber(&mut harness, "sys", V311, "$SYS/#", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("$SYS/status", QoS::AtMostOnce, 0, "x"));
    harness.recv_nothing(everything);
    harness.recv_nothing(one_level);
    assert_eq!(harness.recv_publishes(explicit).len(), 1);
}

#[test]
fn overlapping_subscriptions_deliver_one_copy_at_the_highest_qos() {
    // [MQTT-3.3.5-1] (3.1.1), [MQTT-3.3.4-2] (5.0): the documented choice is one copy.
    let mut harness = Harness::new();
    let client = harness.connect("c", V311);
    harness
        .send(client, subscribe(1, &[("a/+", QoS::AtMostOnce), ("a/#", QoS::ExactlyOnce), ("a/b", QoS::AtLeastOnce)]));
    harness.recv(client);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("a/b", QoS::ExactlyOnce, 1, "x"));
    let received = harness.recv_publishes(client);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].qos, QoS::ExactlyOnce);
}

#[test]
fn the_single_copy_carries_every_matching_subscription_identifier() {
    // [MQTT-3.3.4-3], [MQTT-3.3.4-4]
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    for (n, filter) in [(1u16, "a/+"), (2, "a/#"), (3, "x/#")] {
        let mut request = subscribe_with(n, filter, SubscriptionOptions::new(QoS::AtLeastOnce));
        request.properties.subscription_identifiers = vec![SubscriptionId::new(u32::from(n) * 10).unwrap()];
        harness.send(client, Packet::Subscribe(request));
    }
    let mut plain = subscribe_with(4, "a/b", SubscriptionOptions::new(QoS::AtMostOnce));
    plain.properties = Properties::default();
    harness.send(client, Packet::Subscribe(plain));
    harness.recv(client);
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, publish("a/b", QoS::AtLeastOnce, 1, "x"));
    let received = harness.recv_publishes(client);
    let mut ids: Vec<u32> = received[0].properties.subscription_identifiers.iter().map(|id| id.get()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [10, 20]);
}

#[test]
fn subscribing_again_to_the_same_filter_replaces_the_subscription() {
    // [MQTT-3.8.4-3]: the new QoS applies, and there is still one subscription.
    let mut harness = Harness::new();
    let client = subscriber(&mut harness, "c", V311, "t", QoS::ExactlyOnce);
    harness.send(client, subscribe(2, &[("t", QoS::AtMostOnce)]));
    assert_eq!(suback(&mut harness, client).reason_codes, [ReasonCode::GRANTED_QOS_0]);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::ExactlyOnce, 1, "x"));
    let received = harness.recv_publishes(client);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].qos, QoS::AtMostOnce);
    assert_eq!(harness.broker.stats().subscriptions, 1);
}

#[test]
fn unsubscribe_stops_delivery_and_is_answered_even_when_nothing_matched() {
    // [MQTT-3.10.4-2], [MQTT-3.10.4-4], [MQTT-3.10.4-5] (3.1.1)
    let mut harness = Harness::new();
    let client = subscriber(&mut harness, "c", V311, "t/#", QoS::AtLeastOnce);
    harness.send(client, unsubscribe(5, &["t/#", "never/subscribed"]));
    assert_eq!(
        harness.recv_one(client),
        Packet::UnsubAck(UnsubAck { packet_id: id(5), properties: Properties::default(), reason_codes: vec![] })
    );
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t/x", QoS::AtLeastOnce, 1, "x"));
    harness.recv_nothing(client);
}

#[test]
fn unsubscribe_compares_filters_character_by_character() {
    // [MQTT-3.10.4-1]: "t/+" does not remove "t/#", and wildcards are not expanded.
    let mut harness = Harness::new();
    let client = subscriber(&mut harness, "c", V5, "t/#", QoS::AtMostOnce);
    harness.send(client, unsubscribe(5, &["t/+", "t/#"]));
    match harness.recv_one(client) {
        Packet::UnsubAck(unsuback) => {
            // [MQTT-3.11.3-1]: one code per filter, in order.
            assert_eq!(unsuback.reason_codes, [ReasonCode::NoSubscriptionExisted, ReasonCode::Success]);
        }
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
}

#[test]
fn qos_messages_in_flight_for_a_removed_subscription_are_completed() {
    // [MQTT-3.10.4-3]
    let mut harness = Harness::new();
    let client = subscriber(&mut harness, "c", V311, "t", QoS::ExactlyOnce);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::ExactlyOnce, 1, "x"));
    let packet_id = harness.recv_publishes(client)[0].packet_id.unwrap().get();
    harness.send(client, unsubscribe(2, &["t"]));
    harness.recv(client);
    harness.send(client, pubrec(packet_id));
    assert_eq!(harness.recv_one(client), pubrel(packet_id));
}

#[test]
fn no_local_keeps_a_clients_own_messages_from_it() {
    // [MQTT-3.8.3-3]
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    let options = SubscriptionOptions { no_local: true, ..SubscriptionOptions::new(QoS::AtMostOnce) };
    harness.send(client, Packet::Subscribe(subscribe_with(1, "t", options)));
    harness.recv(client);
    let other = subscriber(&mut harness, "other", V5, "t", QoS::AtMostOnce);
    harness.send(client, publish("t", QoS::AtMostOnce, 0, "mine"));
    harness.recv_nothing(client);
    assert_eq!(harness.recv_publishes(other).len(), 1);
    harness.send(other, publish("t", QoS::AtMostOnce, 0, "theirs"));
    assert_eq!(payloads(&harness.recv_publishes(client)), [b"theirs"]);
}

#[test]
fn a_shared_subscription_delivers_each_message_to_one_member_in_turn() {
    // MQTT 5 section 4.8.2; [MQTT-4.8.2-3]: each member gets its own granted QoS.
    let mut harness = Harness::new();
    let first = subscriber(&mut harness, "first", V5, "$share/workers/jobs/+", QoS::AtLeastOnce);
    let second_client = subscriber(&mut harness, "second", V5, "$share/workers/jobs/+", QoS::AtMostOnce);
    let plain = subscriber(&mut harness, "plain", V5, "jobs/+", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V5);
    for n in 1..=4 {
        harness.send(publisher, publish("jobs/a", QoS::AtLeastOnce, n, "job"));
    }
    let first = harness.recv_publishes(first);
    let second = harness.recv_publishes(second_client);
    assert_eq!((first.len(), second.len()), (2, 2));
    assert!(first.iter().all(|publish| publish.qos == QoS::AtLeastOnce));
    assert!(second.iter().all(|publish| publish.qos == QoS::AtMostOnce));
    assert_eq!(harness.recv_publishes(plain).len(), 4);
    let stats = harness.broker.stats();
    assert_eq!((stats.subscriptions, stats.shared_subscriptions), (3, 2), "two members, one plain");
    harness.send(second_client, unsubscribe(2, &["$share/workers/jobs/+"]));
    assert_eq!(harness.broker.stats().shared_subscriptions, 1);
}

#[test]
fn a_shared_subscription_prefers_connected_members() {
    let mut harness = Harness::new();
    let (away, _) = harness.connect_with(persistent(V5, "away"));
    harness.send(away, subscribe(1, &[("$share/g/t", QoS::AtLeastOnce)]));
    harness.recv(away);
    harness.cut(away);
    let here = subscriber(&mut harness, "here", V5, "$share/g/t", QoS::AtLeastOnce);
    let publisher = harness.connect("pub", V5);
    for n in 1..=3 {
        harness.send(publisher, publish("t", QoS::AtLeastOnce, n, "x"));
    }
    assert_eq!(harness.recv_publishes(here).len(), 3);
}

#[test]
fn a_shared_subscription_gets_no_retained_messages() {
    let mut harness = Harness::new();
    let publisher = harness.connect("pub", V5);
    harness.send(publisher, retained("t", QoS::AtMostOnce, 0, "kept"));
    let member = subscriber(&mut harness, "member", V5, "$share/g/t", QoS::AtMostOnce);
    harness.recv_nothing(member);
}

#[test]
fn in_3_1_1_a_share_prefix_is_an_ordinary_topic_filter() {
    let mut harness = Harness::new();
    let client = subscriber(&mut harness, "c", V311, "$share/g/t", QoS::AtMostOnce);
    let publisher = harness.connect("pub", V311);
    harness.send(publisher, publish("t", QoS::AtMostOnce, 0, "x"));
    harness.recv_nothing(client);
    harness.send(publisher, publish("$share/g/t", QoS::AtMostOnce, 0, "y"));
    assert_eq!(payloads(&harness.recv_publishes(client)), [b"y"]);
}

/// Lets clients subscribe only below "public/".
struct PublicOnly;

impl Policy for PublicOnly {
    fn authenticate(&mut self, _connect: &Connect, _listener: verimqtt_proto::broker::ListenerId) -> Authentication {
        Authentication::ACCEPTED
    }
    fn may_publish(&mut self, _client: ClientInfo<'_>, topic: &str) -> bool {
        topic.starts_with("public/")
    }
    fn may_subscribe(&mut self, _client: ClientInfo<'_>, filter: &str) -> bool {
        filter.starts_with("public/")
    }
}

#[test]
fn a_filter_the_policy_refuses_gets_the_failure_code_and_the_others_are_granted() {
    // [MQTT-3.9.3-2] (3.1.1): 0x80 is the only failure; 5.0 says 0x87 Not authorized.
    for (version, refused) in [(V311, ReasonCode::UnspecifiedError), (V5, ReasonCode::NotAuthorized)] {
        let mut harness = Harness::with_policy(BrokerOptions::default(), PublicOnly);
        let client = harness.connect("c", version);
        harness.send(client, subscribe(1, &[("secret/#", QoS::AtMostOnce), ("public/#", QoS::AtLeastOnce)]));
        assert_eq!(suback(&mut harness, client).reason_codes, [refused, ReasonCode::GrantedQos1]);
    }
}

#[test]
fn a_publish_the_policy_refuses_is_acknowledged_and_dropped() {
    // [MQTT-3.3.5-2] (3.1.1): a normal acknowledgement; 5.0 says 0x87.
    for (version, code) in [(V311, ReasonCode::Success), (V5, ReasonCode::NotAuthorized)] {
        let mut harness = Harness::with_policy(BrokerOptions::default(), PublicOnly);
        let everything = harness.connect("all", version);
        harness.send(everything, subscribe(1, &[("public/#", QoS::AtLeastOnce)]));
        harness.recv(everything);
        let publisher = harness.connect("pub", version);
        harness.send(publisher, publish("secret/x", QoS::AtLeastOnce, 3, "x"));
        match harness.recv_one(publisher) {
            Packet::PubAck(ack) => assert_eq!((ack.packet_id, ack.reason_code), (id(3), code)),
            other => panic!("expected PUBACK, got {other:?}"),
        }
        assert!(harness.is_open(publisher));
        harness.recv_nothing(everything);
    }
}

#[test]
fn max_subscriptions_per_session_refuses_new_filters_with_quota_exceeded() {
    let options = BrokerOptions { max_subscriptions_per_session: 1, ..BrokerOptions::default() };
    for (version, refused) in [(V311, ReasonCode::UnspecifiedError), (V5, ReasonCode::QuotaExceeded)] {
        let mut harness = Harness::with_options(options.clone());
        let client = harness.connect("c", version);
        harness.send(client, subscribe(1, &[("a", QoS::AtMostOnce), ("b", QoS::AtMostOnce), ("a", QoS::AtLeastOnce)]));
        let codes = suback(&mut harness, client).reason_codes;
        assert_eq!(codes, [ReasonCode::GRANTED_QOS_0, refused, ReasonCode::GrantedQos1], "replacing is allowed");
        let refusals: Vec<Event> =
            harness.events().into_iter().filter(|event| matches!(event, Event::SubscribeRefused { .. })).collect();
        let why = "the session holds max_subscriptions_per_session subscriptions";
        assert_eq!(
            refusals,
            [Event::SubscribeRefused { client_id: string("c"), count: 1, filter: string("b"), why }],
            "one event per SUBSCRIBE, naming the limit"
        );
    }
}

#[test]
fn a_filter_deeper_than_max_topic_levels_is_refused_before_anything_walks_it() {
    let options = BrokerOptions { max_topic_levels: 3, ..BrokerOptions::default() };
    for (version, refused) in [(V311, ReasonCode::UnspecifiedError), (V5, ReasonCode::QuotaExceeded)] {
        let mut harness = Harness::with_options(options.clone());
        let client = harness.connect("c", version);
        harness.send(
            client,
            subscribe(1, &[("a/b/c", QoS::AtMostOnce), ("a/b/c/d", QoS::AtMostOnce), ("/+/", QoS::AtMostOnce)]),
        );
        let suback = suback(&mut harness, client);
        assert_eq!(suback.reason_codes, [ReasonCode::GRANTED_QOS_0, refused, ReasonCode::GRANTED_QOS_0]);
        if version.is_v5() {
            let explanation = suback.properties.reason_string.clone().unwrap();
            assert_eq!(explanation, "a/b/c/d: more topic levels than max_topic_levels");
        }
    }
}

#[test]
fn a_subscription_identifier_from_a_subscribe_comes_back_on_messages() {
    let mut harness = Harness::new();
    let client = harness.connect("c", V5);
    let mut request: Subscribe = subscribe_with(1, "t", SubscriptionOptions::new(QoS::AtMostOnce));
    request.properties.subscription_identifiers = vec![SubscriptionId::new(268_435_455).unwrap()];
    harness.send(client, Packet::Subscribe(request));
    harness.recv(client);
    harness.send(client, publish("t", QoS::AtMostOnce, 0, "x"));
    let received = harness.recv_publishes(client);
    assert_eq!(received[0].properties.subscription_identifiers, [SubscriptionId::new(268_435_455).unwrap()]);
}
