//! Listeners: a policy per listener (the one a connection came in on judges it, also when it
//! takes over a session from another listener) and mount points (a listener's clients have
//! a topic tree of their own under a prefix, as mosquitto's `mount_point`).

use verimqtt_proto::broker::{
    AllowAll, Authentication, BrokerOptions, ClientInfo, ListenerId, MountPoint, PerListener, Policy,
};
use verimqtt_proto::codec::{Connect, Packet, QoS, ReasonCode};

use crate::harness::*;
use crate::will::will;

const PLAIN: ListenerId = ListenerId::DEFAULT;
const GUARDED: ListenerId = ListenerId(1);
const MOUNTED: ListenerId = ListenerId(2);

/// Open, or the rules of a guarded listener: a User Name is needed, and nothing under
/// `secret/` may be received. Every topic and filter it is asked to publish or subscribe to
/// is noted, to show which form it sees.
#[derive(Debug, Clone, Default)]
struct Rules {
    guarded: bool,
    asked: Vec<String>,
}

impl Rules {
    fn guarded() -> Self {
        Rules { guarded: true, asked: Vec::new() }
    }
}

impl Policy for Rules {
    fn authenticate(&mut self, connect: &Connect, listener: ListenerId) -> Authentication {
        match (self.guarded, &connect.username) {
            (true, None) => Authentication::refused(ReasonCode::NotAuthorized),
            _ => AllowAll.authenticate(connect, listener),
        }
    }

    fn may_publish(&mut self, _client: ClientInfo<'_>, topic: &str) -> bool {
        self.asked.push(topic.to_owned());
        true
    }

    fn may_subscribe(&mut self, _client: ClientInfo<'_>, filter: &str) -> bool {
        self.asked.push(filter.to_owned());
        true
    }

    fn may_receive(&mut self, _client: ClientInfo<'_>, topic: &str) -> bool {
        !(self.guarded && topic.starts_with("secret/"))
    }
}

/// A broker whose `GUARDED` and `MOUNTED` listeners have guarded rules, and `MOUNTED`
/// the mount point `t1/`.
fn harness() -> Harness<PerListener<Rules>> {
    harness_with(BrokerOptions::default())
}

fn harness_with(options: BrokerOptions) -> Harness<PerListener<Rules>> {
    let policy = PerListener::new(Rules::default()).with(GUARDED, Rules::guarded()).with(MOUNTED, Rules::guarded());
    let mut harness = Harness::with_policy(options, policy);
    harness.broker.set_mount_point(MOUNTED, Some(MountPoint::new("t1/").unwrap()));
    harness
}

fn named(connect: Connect) -> Connect {
    Connect { username: Some(string("alice")), ..connect }
}

/// Connects `client_id` with a User Name on `listener`.
fn connect_on(harness: &mut Harness<PerListener<Rules>>, client_id: &str, listener: ListenerId) -> Client {
    let (client, connack) = harness.connect_on(named(connect(V5, client_id)), listener);
    assert_eq!(connack.reason_code, ReasonCode::Success);
    client
}

fn subscribe_to(harness: &mut Harness<PerListener<Rules>>, client: Client, filter: &str) {
    harness.send(client, subscribe(1, &[(filter, QoS::AtLeastOnce)]));
    match harness.recv_one(client) {
        Packet::SubAck(suback) => assert!(!suback.reason_codes[0].is_failure(), "{suback:?}"),
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

fn topics(publishes: &[verimqtt_proto::codec::Publish]) -> Vec<&str> {
    publishes.iter().map(|publish| publish.topic.as_str()).collect()
}

#[test]
fn each_listener_authenticates_by_its_own_rules() {
    let mut harness = harness();
    let (_, open) = harness.connect_on(connect(V5, "anonymous-a"), PLAIN);
    assert_eq!(open.reason_code, ReasonCode::Success);
    let (_, guarded) = harness.connect_on(connect(V5, "anonymous-b"), GUARDED);
    assert_eq!(guarded.reason_code, ReasonCode::NotAuthorized);
    let (_, unknown) = harness.connect_on(connect(V311, "anonymous-c"), ListenerId(9));
    assert_eq!(unknown.reason_code, ReasonCode::Success, "a listener without rules of its own: the default");
    let (_, named) = harness.connect_on(named(connect(V5, "alice")), GUARDED);
    assert_eq!(named.reason_code, ReasonCode::Success);
}

#[test]
fn a_session_taken_over_on_another_listener_is_judged_by_the_new_listeners_rules() {
    let mut harness = harness();
    let publisher = harness.connect("publisher", V5);
    let (first, _) = harness.connect_on(persistent(V5, "roamer"), PLAIN);
    subscribe_to(&mut harness, first, "#");
    harness.send(publisher, publish("secret/a", QoS::AtMostOnce, 0, "1"));
    assert_eq!(topics(&harness.recv_publishes(first)), ["secret/a"], "the plain listener lets it read anything");

    // Anonymous, the takeover is refused by the guarded listener; the session stays.
    let (_, refused) = harness.connect_on(persistent(V5, "roamer"), GUARDED);
    assert_eq!(refused.reason_code, ReasonCode::NotAuthorized);
    assert!(harness.is_open(first));

    let (second, connack) = harness.connect_on(named(persistent(V5, "roamer")), GUARDED);
    assert!(connack.session_present);
    assert!(!harness.is_open(first));
    harness.send(publisher, publish("secret/b", QoS::AtLeastOnce, 1, "2"));
    harness.send(publisher, publish("open/c", QoS::AtLeastOnce, 2, "3"));
    assert_eq!(topics(&harness.recv_publishes(second)), ["open/c"], "its subscription now reads by the new rules");
}

#[test]
fn a_mounted_client_sees_only_its_tree_without_the_prefix() {
    let mut harness = harness();
    let plain = subscriber(&mut harness, "plain", V5, "#", QoS::AtMostOnce);
    let mounted = connect_on(&mut harness, "mounted", MOUNTED);
    subscribe_to(&mut harness, mounted, "#");

    harness.send(plain, publish("t1/a", QoS::AtMostOnce, 0, "in"));
    harness.send(plain, publish("t2/a", QoS::AtMostOnce, 0, "out"));
    // `t1/#` matches `t1` itself, which is not under `t1/`.
    harness.send(plain, publish("t1", QoS::AtMostOnce, 0, "parent"));
    assert_eq!(topics(&harness.recv_publishes(mounted)), ["a"]);
    harness.recv_publishes(plain);

    harness.send(mounted, publish("b/c", QoS::AtMostOnce, 0, "up"));
    assert_eq!(topics(&harness.recv_publishes(plain)), ["t1/b/c"]);
    assert_eq!(topics(&harness.recv_publishes(mounted)), ["b/c"]);

    harness.send(mounted, unsubscribe(2, &["#"]));
    assert!(matches!(harness.recv_one(mounted), Packet::UnsubAck(ack) if ack.reason_codes == [ReasonCode::Success]));
    harness.send(plain, publish("t1/a", QoS::AtMostOnce, 0, "gone"));
    harness.recv_nothing(mounted);
}

#[test]
fn the_policy_judges_topics_and_filters_as_stored_with_the_prefix() {
    let mut harness = harness();
    let mounted = connect_on(&mut harness, "mounted", MOUNTED);
    subscribe_to(&mut harness, mounted, "a/+");
    harness.send(mounted, publish("a/b", QoS::AtMostOnce, 0, "x"));
    harness.recv_publishes(mounted);
    assert_eq!(harness.broker.policy_mut().get(MOUNTED).asked, ["t1/a/+", "t1/a/b"]);
}

#[test]
fn retained_messages_wildcards_and_share_groups_stay_in_the_tree() {
    let mut harness = harness();
    let plain = harness.connect("plain", V5);
    harness.send(plain, retained("t1/r/1", QoS::AtMostOnce, 0, "mine"));
    harness.send(plain, retained("t2/r/1", QoS::AtMostOnce, 0, "theirs"));
    let mounted = connect_on(&mut harness, "mounted", MOUNTED);
    harness.send(mounted, subscribe(1, &[("+/1", QoS::AtMostOnce)]));
    let received = harness.recv(mounted);
    assert!(matches!(&received[0], Packet::SubAck(_)));
    assert!(
        matches!(&received[1..], [Packet::Publish(publish)] if publish.topic == "r/1" && publish.retain),
        "{received:?}"
    );

    harness.send(mounted, subscribe(2, &[("$share/g/jobs/+", QoS::AtMostOnce)]));
    assert!(matches!(harness.recv_one(mounted), Packet::SubAck(_)));
    harness.send(plain, publish("t1/jobs/7", QoS::AtMostOnce, 0, "work"));
    harness.send(plain, publish("jobs/8", QoS::AtMostOnce, 0, "not ours"));
    assert_eq!(topics(&harness.recv_publishes(mounted)), ["jobs/7"]);
}

#[test]
fn a_mounted_clients_will_is_published_under_the_prefix() {
    let mut harness = harness();
    let plain = subscriber(&mut harness, "plain", V5, "#", QoS::AtLeastOnce);
    let mut request = named(connect(V5, "mortal"));
    request.will = Some(will("status", QoS::AtLeastOnce, false));
    let (mounted, connack) = harness.connect_on(request, MOUNTED);
    assert_eq!(connack.reason_code, ReasonCode::Success);
    harness.cut(mounted);
    assert_eq!(topics(&harness.recv_publishes(plain)), ["t1/status"]);
}

#[test]
fn a_topic_too_long_with_the_prefix_is_refused_cleanly() {
    // Room for a CONNECT whose will topic is that long.
    let mut harness = harness_with(BrokerOptions { max_connect_size: 1 << 20, ..BrokerOptions::default() });
    let plain = subscriber(&mut harness, "plain", V5, "#", QoS::AtMostOnce);
    let mounted = connect_on(&mut harness, "mounted", MOUNTED);
    // Fits an MQTT string alone, not with `t1/` in front.
    let long = "a".repeat(65_534);

    harness.send(mounted, Packet::Publish(publish_packet(&long, QoS::AtLeastOnce, 1, "x")));
    match harness.recv_one(mounted) {
        Packet::PubAck(ack) => assert_eq!(ack.reason_code, ReasonCode::TopicNameInvalid),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    harness.recv_nothing(plain);

    harness.send(mounted, subscribe(2, &[(&long, QoS::AtMostOnce), ("ok", QoS::AtMostOnce)]));
    match harness.recv_one(mounted) {
        Packet::SubAck(suback) => {
            assert_eq!(suback.reason_codes, [ReasonCode::TopicFilterInvalid, ReasonCode::GRANTED_QOS_0]);
        }
        other => panic!("expected SUBACK, got {other:?}"),
    }
    assert!(harness.is_open(mounted));

    let mut request = named(connect(V5, "long-will"));
    request.will = Some(will(&long, QoS::AtMostOnce, false));
    let (_, connack) = harness.connect_on(request, MOUNTED);
    assert_eq!(connack.reason_code, ReasonCode::TopicNameInvalid);
}

#[test]
fn a_session_is_not_resumed_under_another_mount_point() {
    let mut harness = harness();
    let (first, _) = harness.connect_on(named(persistent(V5, "roamer")), PLAIN);
    subscribe_to(&mut harness, first, "t2/#");
    harness.cut(first);
    // Its subscription is outside `t1/`: not the client's to resume there.
    let (mounted, connack) = harness.connect_on(named(persistent(V5, "roamer")), MOUNTED);
    assert!(!connack.session_present);
    let plain = harness.connect("plain", V5);
    harness.send(plain, publish("t2/x", QoS::AtLeastOnce, 1, "not visible"));
    harness.recv_nothing(mounted);

    // Made under `t1/`, it resumes there.
    subscribe_to(&mut harness, mounted, "x");
    harness.cut(mounted);
    let (again, connack) = harness.connect_on(named(persistent(V5, "roamer")), MOUNTED);
    assert!(connack.session_present);
    harness.send(plain, publish("t1/x", QoS::AtLeastOnce, 2, "visible"));
    assert_eq!(topics(&harness.recv_publishes(again)), ["x"]);
}
