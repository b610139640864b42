//! The named situations of the corpus, each a scenario and a seed, so that every corpus
//! trace can be recorded again.

use std::num::NonZeroU16;

use verimqtt_proto::codec::{ProtocolVersion, QoS, ReasonCode};
use verimqtt_spec::trace::PacketKind;

use super::scenario::{ClientSpec, PayloadClaim, Scenario, SessionKind, Side, Step, TOPIC};
use super::strategy::beyond_the_quota;

/// A situation worth keeping a trace of.
#[derive(Debug, Clone)]
pub struct NamedScenario {
    /// The corpus file is `traces/corpus/{name}.jsonl`.
    pub name: &'static str,
    pub scenario: Scenario,
    pub seed: u64,
}

const PUBLISHER: usize = 0;
const SUBSCRIBER: usize = 1;
const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// Every client's keep alive, in seconds (ticks): the model's clients all have one.
const KEEP_ALIVE: u16 = 2;
/// Ticks until both ends of a cut connection have given it up: one and a half keep alives.
const DETECT_CUT: Step = Step::Advance(3);

fn clean() -> ClientSpec {
    ClientSpec::new(SessionKind::Clean).keep_alive(KEEP_ALIVE)
}

fn persistent() -> ClientSpec {
    ClientSpec::new(SessionKind::Persistent).keep_alive(KEEP_ALIVE)
}

/// Two clients, publisher `c0` and subscriber `c1`: both connect, and the subscriber subscribes
/// to the topic at `qos`.
pub fn connected(version: ProtocolVersion, publisher: ClientSpec, subscriber: ClientSpec, qos: QoS) -> Scenario {
    Scenario::new(version).client(publisher).client(subscriber).steps([
        Step::Connect { client: PUBLISHER },
        Step::Connect { client: SUBSCRIBER },
        Step::Settle,
        Step::subscribe(SUBSCRIBER, qos),
        Step::Settle,
    ])
}

/// One message at `qos` from the publisher to the subscriber, nothing going wrong.
fn happy_path(version: ProtocolVersion, qos: QoS) -> Scenario {
    connected(version, clean(), clean(), qos).steps([Step::publish(PUBLISHER, qos), Step::Settle])
}

/// One message at `qos` from the publisher, with `client`'s connection cut once `receiver`
/// gets `packet`; the cut is found out and `client` connects again, resuming its session.
fn cut_after(scenario: Scenario, client: usize, receiver: Side, packet: PacketKind, qos: QoS) -> Scenario {
    scenario.steps([
        Step::CutAfter { client, receiver, packet },
        Step::publish(PUBLISHER, qos),
        Step::Settle,
        DETECT_CUT,
        Step::Connect { client },
        Step::Settle,
    ])
}

/// A QoS 2 message whose publisher's connection is cut once `receiver` gets `packet`; the
/// publisher reconnects and finishes the exchange.
fn qos2_cut_after(receiver: Side, packet: PacketKind) -> Scenario {
    let qos = QoS::ExactlyOnce;
    cut_after(connected(V311, persistent(), persistent(), qos), PUBLISHER, receiver, packet, qos)
}

/// The subscriber disconnects, messages at `qos` are published, and it connects again.
fn published_while_away(subscriber: ClientSpec, qos: impl IntoIterator<Item = QoS>) -> Scenario {
    connected(V311, clean(), subscriber, QoS::AtLeastOnce)
        .steps([Step::Disconnect { client: SUBSCRIBER }, Step::Settle])
        .steps(qos.into_iter().map(|qos| Step::publish(PUBLISHER, qos)))
        .steps([Step::Settle, Step::Connect { client: SUBSCRIBER }, Step::Settle])
}

/// Every named situation, in corpus order.
pub fn named_scenarios() -> Vec<NamedScenario> {
    let named = |name, scenario| NamedScenario { name, scenario, seed: 1 };
    vec![
        named("qos0_v311", happy_path(V311, QoS::AtMostOnce)),
        named("qos1_v311", happy_path(V311, QoS::AtLeastOnce)),
        named("qos2_v311", happy_path(V311, QoS::ExactlyOnce)),
        named("qos0_v5", happy_path(V5, QoS::AtMostOnce)),
        named("qos1_v5", happy_path(V5, QoS::AtLeastOnce)),
        named("qos2_v5", happy_path(V5, QoS::ExactlyOnce)),
        named(
            "qos1_resend_with_dup_after_cut",
            cut_after(
                connected(V311, persistent(), clean(), QoS::AtLeastOnce),
                PUBLISHER,
                Side::Broker,
                PacketKind::Publish,
                QoS::AtLeastOnce,
            ),
        ),
        named("qos2_cut_after_publish", qos2_cut_after(Side::Broker, PacketKind::Publish)),
        named("qos2_cut_after_pubrec", qos2_cut_after(Side::Client, PacketKind::Pubrec)),
        named("qos2_cut_after_pubrel", qos2_cut_after(Side::Broker, PacketKind::Pubrel)),
        named("qos2_cut_after_pubcomp", qos2_cut_after(Side::Client, PacketKind::Pubcomp)),
        named(
            "qos2_redelivery_to_subscriber_after_cut",
            cut_after(
                connected(V5, clean(), persistent(), QoS::ExactlyOnce),
                SUBSCRIBER,
                Side::Client,
                PacketKind::Publish,
                QoS::ExactlyOnce,
            ),
        ),
        named(
            "session_takeover",
            // The broker heard from c0 a tick after c0 last heard from it, so after the cut
            // c0 gives up (and reconnects) a tick before the broker would.
            connected(V5, persistent(), clean(), QoS::AtLeastOnce).steps([
                Step::Advance(1),
                Step::publish(PUBLISHER, QoS::AtMostOnce),
                Step::Settle,
                Step::Cut { client: PUBLISHER },
                Step::Advance(2),
                Step::Connect { client: PUBLISHER },
                Step::Settle,
                Step::publish(PUBLISHER, QoS::AtLeastOnce),
                Step::Settle,
            ]),
        ),
        named(
            "connection_reset_seen_by_both_ends",
            connected(V311, persistent(), clean(), QoS::AtLeastOnce).steps([
                Step::publish(PUBLISHER, QoS::AtLeastOnce),
                Step::Deliver(1),
                Step::Reset { client: PUBLISHER },
                Step::Connect { client: PUBLISHER },
                Step::Settle,
            ]),
        ),
        named(
            "half_open_connection_closed_by_the_broker",
            connected(V311, clean().with_will(), clean(), QoS::AtMostOnce)
                .steps([Step::HalfCut { client: PUBLISHER }, Step::Advance(4)]),
        ),
        named(
            "persistent_session_resumed_with_queued_messages",
            published_while_away(persistent(), [QoS::AtLeastOnce, QoS::ExactlyOnce]),
        ),
        named("clean_session_discards", published_while_away(clean(), [QoS::AtLeastOnce])),
        named(
            "will_on_keep_alive_expiry",
            connected(V311, clean().with_will(), clean(), QoS::AtMostOnce)
                .steps([Step::Cut { client: PUBLISHER }, Step::Advance(4)]),
        ),
        named(
            "broker_keep_alive_close_v5",
            Scenario::new(V5).client(clean()).steps([
                Step::Connect { client: 0 },
                Step::Settle,
                Step::Cut { client: 0 },
                DETECT_CUT,
            ]),
        ),
        named(
            "will_on_cut_v5",
            connected(V5, persistent().with_will(), clean(), QoS::AtMostOnce)
                .steps([Step::Cut { client: PUBLISHER }, DETECT_CUT]),
        ),
        named(
            "will_not_sent_on_disconnect",
            connected(V5, clean().with_will(), clean(), QoS::AtMostOnce)
                .steps([Step::Disconnect { client: PUBLISHER }, Step::Settle]),
        ),
        named(
            "keep_alive_ping_pingresp",
            Scenario::new(V311).client(clean()).steps([Step::Connect { client: 0 }, Step::Settle, Step::Advance(5)]),
        ),
        named(
            "keep_alive_abort_when_the_network_stalls",
            Scenario::new(V5).client(clean()).steps([
                Step::Connect { client: 0 },
                Step::Settle,
                Step::Stall(4),
                Step::Settle,
            ]),
        ),
        named(
            "connack_timeout_when_the_network_stalls",
            Scenario::new(V311).client(clean()).steps([Step::Connect { client: 0 }, Step::Stall(4), Step::Settle]),
        ),
        named(
            "retained_message_to_late_subscriber",
            Scenario::new(V311).client(clean()).client(clean()).steps([
                Step::Connect { client: PUBLISHER },
                Step::Settle,
                Step::publish_with(PUBLISHER, QoS::AtLeastOnce, true),
                Step::Settle,
                Step::Connect { client: SUBSCRIBER },
                Step::Settle,
                Step::subscribe(SUBSCRIBER, QoS::AtLeastOnce),
                Step::Settle,
            ]),
        ),
        named(
            "overlapping_subscriptions",
            connected(V5, clean(), clean(), QoS::AtLeastOnce).steps([
                Step::subscribe_to(SUBSCRIBER, "#", QoS::ExactlyOnce),
                Step::Settle,
                Step::publish(PUBLISHER, QoS::ExactlyOnce),
                Step::Settle,
            ]),
        ),
        named(
            "unsubscribe",
            connected(V311, clean(), clean(), QoS::AtLeastOnce).steps([
                Step::publish(PUBLISHER, QoS::AtLeastOnce),
                Step::Settle,
                Step::Unsubscribe { client: SUBSCRIBER, filter: "t".into() },
                Step::Settle,
                Step::publish(PUBLISHER, QoS::AtLeastOnce),
                Step::Settle,
            ]),
        ),
        named(
            "v5_session_expiry",
            connected(V5, clean(), persistent().session_expiry(2), QoS::AtLeastOnce).steps([
                Step::Disconnect { client: SUBSCRIBER },
                Step::Settle,
                Step::Advance(3),
                Step::publish(PUBLISHER, QoS::AtLeastOnce),
                Step::Settle,
                Step::Connect { client: SUBSCRIBER },
                Step::Settle,
            ]),
        ),
        named(
            "qos1_subscriber_redelivery_after_cut",
            cut_after(
                connected(V311, clean(), persistent(), QoS::AtLeastOnce),
                SUBSCRIBER,
                Side::Client,
                PacketKind::Publish,
                QoS::AtLeastOnce,
            ),
        ),
        named(
            "publish_to_self",
            Scenario::new(V5).client(clean()).steps([
                Step::Connect { client: 0 },
                Step::Settle,
                Step::subscribe(0, QoS::ExactlyOnce),
                Step::Settle,
                Step::publish(0, QoS::AtLeastOnce),
                Step::publish(0, QoS::ExactlyOnce),
                Step::Settle,
            ]),
        ),
        named(
            // The broker's PUBCOMP is lost: the publisher sends PUBREL again on its next
            // connection, for an id the broker has released, which 5.0 answers with PUBCOMP
            // 0x92 (Packet Identifier not found).
            "qos2_pubrel_again_after_pubcomp_lost_v5",
            cut_after(
                connected(V5, persistent(), clean(), QoS::ExactlyOnce),
                PUBLISHER,
                Side::Broker,
                PacketKind::Pubrel,
                QoS::ExactlyOnce,
            ),
        ),
        named(
            // A clean subscriber's connection is cut before the PUBREL of a QoS 2 message:
            // it forgets the id with its session, so the next QoS 2 message, which a new
            // session numbers with the same id, is delivered and not taken for a repeat.
            "qos2_clean_subscriber_forgets_ids_with_its_session",
            cut_after(
                connected(V311, clean(), clean(), QoS::ExactlyOnce),
                SUBSCRIBER,
                Side::Client,
                PacketKind::Publish,
                QoS::ExactlyOnce,
            )
            .steps([Step::subscribe(SUBSCRIBER, QoS::ExactlyOnce), Step::Settle])
            .steps([Step::publish(PUBLISHER, QoS::ExactlyOnce), Step::Settle]),
        ),
        named(
            // Both cuts leave a QoS 2 exchange half done when the broker restarts: the
            // publisher's PUBREL and the broker's PUBREL to the subscriber are lost. The
            // restarted broker has both from its store: it answers the publisher's PUBREL
            // again with PUBCOMP 0x00 (not 0x92) and sends the subscriber its PUBREL again.
            "qos2_exchanges_resumed_after_broker_restart_v5",
            connected(V5, persistent(), persistent(), QoS::ExactlyOnce).steps([
                Step::CutAfter { client: PUBLISHER, receiver: Side::Client, packet: PacketKind::Pubrec },
                Step::CutAfter { client: SUBSCRIBER, receiver: Side::Broker, packet: PacketKind::Pubrec },
                Step::publish(PUBLISHER, QoS::ExactlyOnce),
                Step::Settle,
                Step::Restart,
                DETECT_CUT,
                Step::Connect { client: PUBLISHER },
                Step::Connect { client: SUBSCRIBER },
                Step::Settle,
            ]),
        ),
        named(
            // The broker announces Receive Maximum 1; the simulator, playing a hostile
            // client, writes a QoS 1 PUBLISH behind the publisher's QoS 2 message, and a QoS 2
            // one behind its next CONNECT while that message still awaits its PUBREL: the
            // broker answers each with DISCONNECT 0x93 and takes nothing of them (see
            // `beyond_the_quota`).
            "receive_maximum_exceeded_v5",
            beyond_the_quota(Scenario {
                receive_maximum: NonZeroU16::new(1),
                ..connected(V5, persistent(), clean(), QoS::ExactlyOnce)
            }),
        ),
        named(
            // The broker restarts with a QoS 1 message queued for the persistent subscriber,
            // which is offline, while the publisher is connected: the publisher reads the end
            // of its connection, and the subscriber gets the message from the store once it
            // is back.
            "qos1_resumed_after_broker_restart",
            connected(V311, clean(), persistent(), QoS::AtLeastOnce).steps([
                Step::Disconnect { client: SUBSCRIBER },
                Step::Settle,
                Step::publish(PUBLISHER, QoS::AtLeastOnce),
                Step::Settle,
                Step::Restart,
                Step::Settle,
                Step::Connect { client: PUBLISHER },
                Step::Connect { client: SUBSCRIBER },
                Step::Settle,
            ]),
        ),
        named(
            // A hostile subscriber writes PUBRECs for an id the broker never used, while a QoS
            // 2 message is on its way to it: the broker answers the accepting one with PUBREL
            // 0x92 (Packet Identifier not found), which the subscriber completes with PUBCOMP
            // 0x92, and the refusing one (0x80) with nothing; the real exchange goes on.
            "hostile_pubrecs_for_an_unknown_id_v5",
            hostile_pubrecs(V5, &[ReasonCode::Success, ReasonCode::UnspecifiedError]),
        ),
        named(
            // A QoS 2 message whose payload is not the UTF-8 its Payload Format Indicator
            // claims: the broker refuses it with PUBREC 0x99, which ends the flow (the
            // publisher sends no PUBREL), and routes nothing; the next QoS 2 message goes
            // through.
            "qos2_refused_for_an_invalid_payload_v5",
            connected(V5, clean(), clean(), QoS::ExactlyOnce).steps([
                Step::Publish {
                    client: PUBLISHER,
                    topic: TOPIC.to_string(),
                    qos: QoS::ExactlyOnce,
                    retain: false,
                    claim: PayloadClaim::FalselyUtf8,
                },
                Step::Settle,
                Step::publish(PUBLISHER, QoS::ExactlyOnce),
                Step::Settle,
            ]),
        ),
        named(
            // 3.1.1's PUBREC has no reason code: the broker answers with a plain PUBREL.
            "hostile_pubrec_for_an_unknown_id_v311",
            hostile_pubrecs(V311, &[ReasonCode::Success]),
        ),
    ]
}

/// A QoS 2 message reaches the broker, which forwards it; before the subscriber reads it,
/// hostile PUBRECs with `codes` are written on the subscriber's connection.
fn hostile_pubrecs(version: ProtocolVersion, codes: &[ReasonCode]) -> Scenario {
    connected(version, clean(), clean(), QoS::ExactlyOnce)
        .steps([Step::publish(PUBLISHER, QoS::ExactlyOnce), Step::Deliver(1)])
        .steps(codes.iter().map(|&code| Step::hostile_pubrec(SUBSCRIBER, code)))
        .steps([Step::Settle])
}
