//! Topic ACLs over loopback TCP, in both versions: per-user `topic` rules, `pattern` rules
//! with `%u` and `%c`, denied SUBSCRIBEs (SUBACK 0x80 / 0x87), denied PUBLISHes (3.1.1:
//! acknowledged and dropped; 5.0: reason 0x87), and a `#` subscription that never delivers
//! what its subscriber may not read, retained messages included.

use verimqtt::codec::{Packet, PacketId, ProtocolVersion, PublishAck, QoS, ReasonCode};
use verimqtt::runtime::EmbeddedBroker;
use verimqtt::runtime::passwd::set_password;

use crate::client::{RawClient, publish};
use crate::client::{VERSIONS, connect};
use crate::config::serve;
use crate::files::TempDir;

const ACL: &str = "\
# Anonymous clients.
topic read public/#

user alice
topic readwrite alice/#
topic read public/#

user bob
topic write #
topic read bob/#

pattern readwrite clients/%c/#
pattern read users/%u/inbox
";

/// A broker with the ACL above, users alice and bob (password: their name), anonymous
/// clients allowed.
fn acl_broker(dir: &TempDir) -> EmbeddedBroker {
    for user in ["alice", "bob"] {
        set_password(&dir.path().join("passwd"), user, user).unwrap();
    }
    dir.write("acl", ACL);
    let config = "[[listener]]\nbind = \"127.0.0.1:0\"\n[auth]\nallow_anonymous = true\npassword_file = \"passwd\"\nacl_file = \"acl\"\n";
    serve(dir.path(), config)
}

fn login(broker: &EmbeddedBroker, version: ProtocolVersion, user: &str, client_id: &str) -> RawClient {
    let (client, connack) = RawClient::connect_with(broker.addr(), connect(version, client_id, Some(user), Some(user)));
    assert_eq!(connack.reason_code, ReasonCode::Success);
    client
}

/// The failure code of a refused subscription, as the SUBACK has it on the wire.
fn refused_subscription(version: ProtocolVersion) -> ReasonCode {
    match version {
        // 3.1.1's 0x80 Failure decodes as the MQTT 5 code of the same value.
        ProtocolVersion::V311 => ReasonCode::UnspecifiedError,
        ProtocolVersion::V5 => ReasonCode::NotAuthorized,
    }
}

#[test]
fn a_subscription_is_granted_only_where_the_user_may_read() {
    let dir = TempDir::new();
    let broker = acl_broker(&dir);
    for version in VERSIONS {
        let mut alice = login(&broker, version, "alice", "alice-c");
        let granted = ["alice/#", "public/news", "clients/alice-c/#", "users/alice/inbox", "#", "+/news"];
        for filter in granted {
            assert_eq!(alice.subscribe(filter, QoS::AtLeastOnce).reason_codes, [ReasonCode::GrantedQos1], "{filter}");
        }
        let denied = ["bob/#", "secret", "clients/bob-c/#", "users/bob/inbox"];
        for filter in denied {
            let suback = alice.subscribe(filter, QoS::AtLeastOnce);
            assert_eq!(suback.reason_codes, [refused_subscription(version)], "{version} {filter}");
        }
        let mut anonymous = RawClient::connect(broker.addr(), version, "anonymous");
        assert_eq!(anonymous.subscribe("public/#", QoS::AtMostOnce).reason_codes, [ReasonCode::Success]);
        assert_eq!(anonymous.subscribe("alice/#", QoS::AtMostOnce).reason_codes, [refused_subscription(version)]);
    }
}

#[test]
fn a_denied_publish_is_acknowledged_and_dropped_in_3_1_1_and_answered_0x87_in_5() {
    let dir = TempDir::new();
    let broker = acl_broker(&dir);
    for version in VERSIONS {
        let mut bob = login(&broker, version, "bob", "bob-c");
        bob.subscribe("bob/#", QoS::AtLeastOnce);
        let mut alice = login(&broker, version, "alice", "alice-c");
        let id = PacketId::new(1).unwrap();
        let denied = match version {
            ProtocolVersion::V311 => ReasonCode::Success,
            ProtocolVersion::V5 => ReasonCode::NotAuthorized,
        };
        alice.send(&publish("bob/x", QoS::AtLeastOnce, "denied"));
        let ack = alice.recv();
        assert!(
            matches!(&ack, Some(Packet::PubAck(ack)) if (ack.packet_id, ack.reason_code) == (id, denied)),
            "{ack:?}"
        );
        alice.send(&publish("bob/x", QoS::ExactlyOnce, "denied"));
        let ack = alice.recv();
        assert!(
            matches!(&ack, Some(Packet::PubRec(ack)) if (ack.packet_id, ack.reason_code) == (id, denied)),
            "{ack:?}"
        );
        // In 5.0 a failing PUBREC ends the exchange [MQTT-4.3.3-4]; 3.1.1 completes it.
        if version == ProtocolVersion::V311 {
            alice.send(&Packet::PubRel(PublishAck::new(id)));
            assert_eq!(alice.recv(), Some(Packet::PubComp(PublishAck::new(id))));
        }
        alice.send(&publish("bob/x", QoS::AtMostOnce, "denied"));
        // Allowed by the `%c` pattern; bob has no subscription there (MQTT 5: 0x10).
        alice.send(&publish("clients/alice-c/status", QoS::AtLeastOnce, "allowed"));
        let ack = alice.recv();
        assert!(matches!(&ack, Some(Packet::PubAck(ack)) if !ack.reason_code.is_failure()), "{ack:?}");
        // Bob may write anywhere, and read what he receives: only his own message comes.
        bob.send(&publish("bob/x", QoS::AtMostOnce, "allowed"));
        assert!(matches!(bob.recv(), Some(Packet::Publish(p)) if p.payload == "allowed"), "{version}");
    }
}

const RETAINED: [&str; 4] = ["secret/r", "alice/r", "bob/r", "public/r"];

fn retained(topic: &str, payload: &str) -> Packet {
    let Packet::Publish(mut message) = publish(topic, QoS::AtMostOnce, payload) else { unreachable!() };
    message.retain = true;
    Packet::Publish(message)
}

#[test]
fn a_subscription_to_everything_delivers_only_what_the_subscriber_may_read() {
    let dir = TempDir::new();
    let broker = acl_broker(&dir);
    for version in VERSIONS {
        let mut bob = login(&broker, version, "bob", "bob-c");
        // Retained before alice subscribes: she gets only those she may read.
        for topic in RETAINED {
            bob.send(&retained(topic, topic));
        }
        bob.send(&Packet::PingReq);
        assert_eq!(bob.recv(), Some(Packet::PingResp));
        let mut alice = login(&broker, version, "alice", "alice-c");
        alice.subscribe("#", QoS::AtMostOnce);
        let live = [
            "secret/x",
            "alice/x",
            "bob/x",
            "public/x",
            "clients/alice-c/x",
            "clients/bob-c/x",
            "users/alice/inbox",
            "users/bob/inbox",
            "public/end",
        ];
        for topic in live {
            bob.send(&publish(topic, QoS::AtMostOnce, topic));
        }
        let mut received = Vec::new();
        while received.last().map(String::as_str) != Some("public/end") {
            match alice.recv() {
                Some(Packet::Publish(message)) => received.push(message.topic.to_string()),
                other => panic!("expected PUBLISH, got {other:?} after {received:?}"),
            }
        }
        received[..2].sort();
        assert_eq!(
            received,
            ["alice/r", "public/r", "alice/x", "public/x", "clients/alice-c/x", "users/alice/inbox", "public/end"],
            "{version}"
        );
        // An empty retained message clears the topic, for the next version's round.
        for topic in RETAINED {
            bob.send(&retained(topic, ""));
        }
    }
}
