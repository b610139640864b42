//! Listeners with rules of their own and mount points, from the configuration file, over
//! loopback TCP: anonymous clients refused on one listener and let in on another, an ACL
//! that binds one listener's clients and not the other's, a session taken over across
//! listeners and judged by the new one's rules, and a mounted listener whose clients see
//! only their tree (both ways: wildcards, retained messages, wills), with a topic too long
//! for its prefix refused cleanly.

use verimqtt::codec::{Connect, Packet, PacketId, ProtocolVersion, Publish, QoS, ReasonCode, Will};
use verimqtt::runtime::EmbeddedBroker;
use verimqtt::runtime::passwd::set_password;

use crate::client::{Answer, RawClient, assert_answer_at, connect, mqtt_string, publish};
use crate::config::serve;
use crate::files::TempDir;

/// Listener 0: the `[auth]` table's rules (anonymous clients in, no ACL). Listener 1: its
/// own, a password needed and alice reading only `alice/#`. Listener 2: the `[auth]` rules
/// under the mount point `t1/`.
const LISTENERS: &str = r#"
[[listener]]
bind = "127.0.0.1:0"

[[listener]]
bind = "127.0.0.1:0"
allow_anonymous = false
password_file = "passwd"
acl_file = "acl"

[[listener]]
bind = "127.0.0.1:0"
mount_point = "t1/"
"#;

struct Listeners {
    _dir: TempDir,
    broker: EmbeddedBroker,
}

impl Listeners {
    fn start() -> Self {
        let dir = TempDir::new();
        set_password(&dir.path().join("passwd"), "alice", "secret").unwrap();
        dir.write("acl", "user alice\ntopic readwrite alice/#\n");
        let broker = serve(dir.path(), LISTENERS);
        Listeners { _dir: dir, broker }
    }

    fn plain(&self) -> std::net::SocketAddr {
        self.broker.addrs()[0]
    }

    fn guarded(&self) -> std::net::SocketAddr {
        self.broker.addrs()[1]
    }

    fn mounted(&self) -> std::net::SocketAddr {
        self.broker.addrs()[2]
    }
}

fn accepted(addr: std::net::SocketAddr, connect: Connect) -> RawClient {
    let (client, connack) = RawClient::connect_with(addr, connect);
    assert_eq!(connack.reason_code, ReasonCode::Success);
    client
}

fn persistent(client_id: &str, username: Option<&str>, password: Option<&str>) -> Connect {
    let mut request = connect(ProtocolVersion::V5, client_id, username, password);
    request.clean_start = false;
    request.properties.session_expiry_interval = Some(3600);
    request
}

/// The topic and payload of the next packet, which must be a PUBLISH.
fn next_message(client: &mut RawClient) -> (String, String) {
    match client.recv() {
        Some(Packet::Publish(publish)) => {
            (publish.topic.to_string(), String::from_utf8_lossy(&publish.payload).into_owned())
        }
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// Sends a PINGREQ and reads up to its PINGRESP: whatever PUBLISH came before it.
fn nothing_before_ping(client: &mut RawClient) {
    client.send(&Packet::PingReq);
    assert_eq!(client.recv(), Some(Packet::PingResp), "nothing was to come before the PINGRESP");
}

#[test]
fn anonymous_clients_are_refused_on_one_listener_and_let_in_on_another() {
    let listeners = Listeners::start();
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        assert_answer_at(listeners.plain(), connect(version, "anonymous", None, None), Answer::Accepted);
        assert_answer_at(listeners.guarded(), connect(version, "anonymous", None, None), Answer::NotAuthorized);
        let wrong = connect(version, "alice", Some("alice"), Some("wrong"));
        assert_answer_at(listeners.guarded(), wrong, Answer::BadUserNameOrPassword);
        assert_answer_at(
            listeners.guarded(),
            connect(version, "alice", Some("alice"), Some("secret")),
            Answer::Accepted,
        );
    }
}

#[test]
fn the_acl_of_one_listener_does_not_apply_to_the_other() {
    let listeners = Listeners::start();
    let mut guarded = accepted(listeners.guarded(), connect(ProtocolVersion::V5, "a", Some("alice"), Some("secret")));
    assert_eq!(guarded.subscribe("other/#", QoS::AtMostOnce).reason_codes, [ReasonCode::NotAuthorized]);
    assert_eq!(guarded.subscribe("alice/#", QoS::AtMostOnce).reason_codes, [ReasonCode::GRANTED_QOS_0]);
    // The same user on the plain listener: no ACL there.
    let mut plain = accepted(listeners.plain(), connect(ProtocolVersion::V5, "b", Some("alice"), None));
    assert_eq!(plain.subscribe("other/#", QoS::AtMostOnce).reason_codes, [ReasonCode::GRANTED_QOS_0]);
    plain.send(&publish("other/x", QoS::AtMostOnce, "1"));
    assert_eq!(next_message(&mut plain), ("other/x".into(), "1".into()));
}

#[test]
fn a_session_taken_over_on_another_listener_is_judged_by_the_new_listeners_rules() {
    let listeners = Listeners::start();
    let mut publisher = accepted(listeners.plain(), connect(ProtocolVersion::V5, "publisher", None, None));
    let mut first = accepted(listeners.plain(), persistent("roamer", None, None));
    first.subscribe("#", QoS::AtLeastOnce);

    // Anonymous on the guarded listener: refused, and the session's connection stays.
    let (mut refused, connack) = RawClient::connect_with(listeners.guarded(), persistent("roamer", None, None));
    assert_eq!(connack.reason_code, ReasonCode::NotAuthorized);
    assert_eq!(refused.until_closed(), []);
    nothing_before_ping(&mut first);

    let (mut second, connack) =
        RawClient::connect_with(listeners.guarded(), persistent("roamer", Some("alice"), Some("secret")));
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert!(connack.session_present);
    assert!(matches!(first.until_closed().as_slice(), [Packet::Disconnect(_)]), "taken over");
    // Its `#` subscription now reads by alice's rules on this listener.
    publisher.send(&publish("other/x", QoS::AtMostOnce, "not for alice"));
    publisher.send(&publish("alice/x", QoS::AtMostOnce, "for alice"));
    assert_eq!(next_message(&mut second), ("alice/x".into(), "for alice".into()));
    nothing_before_ping(&mut second);
}

#[test]
fn a_mounted_listeners_clients_see_only_their_tree_both_ways() {
    let listeners = Listeners::start();
    let mut plain = accepted(listeners.plain(), connect(ProtocolVersion::V5, "plain", None, None));
    plain.subscribe("#", QoS::AtMostOnce);
    let mut retained = Publish::new(mqtt_string("t1/config"), QoS::AtMostOnce, None, "kept".into());
    retained.retain = true;
    plain.send(&Packet::Publish(retained));
    next_message(&mut plain);

    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut mounted = accepted(listeners.mounted(), connect(version, "mounted", None, None));
        mounted.subscribe("+", QoS::AtMostOnce);
        let (topic, payload) = next_message(&mut mounted);
        assert_eq!((topic.as_str(), payload.as_str()), ("config", "kept"), "the retained message, without t1/");
        mounted.subscribe("sensors/#", QoS::AtMostOnce);

        plain.send(&publish("t1/sensors/1", QoS::AtMostOnce, "in"));
        plain.send(&publish("t2/sensors/1", QoS::AtMostOnce, "another tree"));
        plain.send(&publish("sensors/1", QoS::AtMostOnce, "the root"));
        assert_eq!(next_message(&mut mounted), ("sensors/1".into(), "in".into()));
        nothing_before_ping(&mut mounted);
        for _ in 0..3 {
            next_message(&mut plain);
        }

        mounted.send(&publish("sensors/2", QoS::AtMostOnce, "out"));
        assert_eq!(next_message(&mut plain), ("t1/sensors/2".into(), "out".into()));
        assert_eq!(next_message(&mut mounted), ("sensors/2".into(), "out".into()));
        mounted.send(&Packet::Disconnect(Default::default()));
    }
}

#[test]
fn a_mounted_clients_will_is_published_under_the_prefix() {
    let listeners = Listeners::start();
    let mut plain = accepted(listeners.plain(), connect(ProtocolVersion::V311, "plain", None, None));
    plain.subscribe("t1/#", QoS::AtMostOnce);
    let mut request = connect(ProtocolVersion::V311, "mortal", None, None);
    request.will = Some(Will {
        topic: mqtt_string("status"),
        payload: verimqtt::codec::Binary::try_from(&b"gone"[..]).unwrap(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    });
    let mortal = accepted(listeners.mounted(), request);
    drop(mortal);
    assert_eq!(next_message(&mut plain), ("t1/status".into(), "gone".into()));
}

#[test]
fn a_topic_too_long_with_the_prefix_is_refused_and_the_client_stays() {
    let listeners = Listeners::start();
    let mut plain = accepted(listeners.plain(), connect(ProtocolVersion::V5, "plain", None, None));
    plain.subscribe("#", QoS::AtMostOnce);
    let mut mounted = accepted(listeners.mounted(), connect(ProtocolVersion::V5, "mounted", None, None));
    // A valid topic alone; with `t1/` in front, longer than an MQTT string may be.
    let long = "a".repeat(65_534);
    let packet_id = PacketId::new(1).unwrap();
    mounted.send(&Packet::Publish(Publish::new(mqtt_string(&long), QoS::AtLeastOnce, Some(packet_id), "x".into())));
    match mounted.recv() {
        Some(Packet::PubAck(ack)) => assert_eq!(ack.reason_code, ReasonCode::TopicNameInvalid),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    assert_eq!(mounted.subscribe(&long, QoS::AtMostOnce).reason_codes, [ReasonCode::TopicFilterInvalid]);
    nothing_before_ping(&mut mounted);
    nothing_before_ping(&mut plain);

    // A fresh client on the mounted listener still gets a message through.
    let mut fresh = accepted(listeners.mounted(), connect(ProtocolVersion::V5, "fresh", None, None));
    fresh.send(&Packet::Publish(Publish::new(mqtt_string("ok"), QoS::AtLeastOnce, Some(packet_id), "through".into())));
    assert!(matches!(fresh.recv(), Some(Packet::PubAck(ack)) if ack.reason_code == ReasonCode::Success));
    assert_eq!(next_message(&mut plain), ("t1/ok".into(), "through".into()));
}
