//! The properties the model is checked against, each with the normative statements it covers.
//!
//! Safety properties are `always`. Liveness is stated as `always` under a quiescence condition
//! ("nothing left to do and every connection up ⇒ delivered") because retransmission and ping
//! loops make cycles, on which stateright's `eventually` is unsound. `sometimes` properties show
//! that the interesting paths are reached at all.

use crate::bits::Bits;
use crate::client::client_expiry_due;
use crate::config::{Config, Qos, SessionKind, Version};
use crate::ghost::Breach;
use crate::model::MqttModel;
use crate::network::BrokerEnd;
use crate::packet::{Message, Packet};
use crate::routing;
use crate::state::State;

/// Property names, shared with the seeded bugs and the tests.
pub mod names {
    pub const QOS0_AT_MOST_ONCE: &str = "qos0_at_most_once";
    pub const QOS2_NOT_DUPLICATED: &str = "qos2_not_duplicated";
    pub const SESSION_MESSAGES_KEPT: &str = "session_messages_kept";
    pub const PACKET_IDS_UNIQUE: &str = "packet_ids_unique";
    pub const DUP_MARKS_RESENDS: &str = "dup_marks_resends";
    pub const ORDER_PRESERVED: &str = "order_preserved";
    pub const ORDER_ACROSS_QOS: &str = "order_across_qos";
    pub const ONE_PING_OUTSTANDING: &str = "one_ping_outstanding";
    pub const KEEPALIVE_NOT_EARLY: &str = "keep_alive_not_early";
    pub const WILL_IFF_ABNORMAL: &str = "will_iff_abnormal";
    pub const SESSION_PRESENT_IFF_SESSION: &str = "session_present_iff_session";
    pub const RECEIVE_MAXIMUM_RESPECTED: &str = "receive_maximum_respected";
    pub const DELIVERED_WHEN_QUIET: &str = "delivered_when_quiet";
    pub const SILENT_CONNECTION_CLOSED: &str = "silent_connection_closed";
    pub const NO_STALE_RESUME: &str = "no_stale_resume";
    pub const KEEPALIVE_DUTY: &str = "keep_alive_duty";
    pub const RESEND_ONLY_ON_RESUMPTION: &str = "resend_only_on_resumption";
    pub const NO_PUBLISH_AFTER_PUBREL: &str = "no_publish_after_pubrel";
    pub const REDELIVERY_AFTER_CUT: &str = "redelivery_after_cut";
    pub const QOS2_DUPLICATE_SUPPRESSED: &str = "qos2_duplicate_suppressed";
    pub const WILL_PUBLISHED: &str = "will_published";
    pub const KEEPALIVE_TIMEOUT_REACHED: &str = "keep_alive_timeout_reached";
    pub const SESSION_RESUMED: &str = "session_resumed";
    pub const QUEUED_WHILE_OFFLINE: &str = "queued_while_offline";
    pub const SESSION_EXPIRED: &str = "session_expired";
    pub const CLIENT_SESSION_EXPIRED: &str = "client_session_expired";
    pub const QUIET_AFTER_DELIVERY: &str = "quiet_after_delivery";
    pub const RESTORED_DELIVERED: &str = "restored_delivered";
    pub const QOS1_WILL_DELIVERED: &str = "qos1_will_delivered";
    pub const ROUTED_TO_SUBSCRIBERS: &str = "routed_to_subscribers";
    pub const COPY_AT_GRANTED_QOS: &str = "copy_at_granted_qos";
    pub const ORDER_ACROSS_TOPICS: &str = "order_across_topics";
    pub const OVERLAPPING_COPY: &str = "overlapping_copy";
    pub const COPY_DOWNGRADED: &str = "copy_downgraded";
    pub const MESSAGE_NOT_MATCHED: &str = "message_not_matched";
    pub const DISCONNECT_WITH_WILL_SENT: &str = "disconnect_with_will_sent";
    pub const UNSUBSCRIBED: &str = "unsubscribed";
    pub const RETAINED_IS_LATEST: &str = "retained_is_latest";
    pub const RETAINED_DELIVERED: &str = "retained_delivered";
    pub const RETAINED_AS_HANDLED: &str = "retained_as_handled";
    pub const RETAIN_FLAG_CORRECT: &str = "retain_flag_correct";
    pub const PUBACKS_IN_ORDER: &str = "pubacks_in_order";
    pub const PUBRECS_IN_ORDER: &str = "pubrecs_in_order";
    pub const PUBRELS_IN_ORDER: &str = "pubrels_in_order";
    pub const NO_PUBREL_AFTER_REFUSAL: &str = "no_pubrel_after_refusal";
    pub const PUBACKS_IN_TRANSIT_TOGETHER: &str = "pubacks_in_transit_together";
    pub const PUBRECS_IN_TRANSIT_TOGETHER: &str = "pubrecs_in_transit_together";
    pub const PUBRELS_IN_TRANSIT_TOGETHER: &str = "pubrels_in_transit_together";
    pub const INTEGRITY: &str = "integrity";
    pub const BOUNDED_RESPONSE: &str = "bounded_response";
    pub const QUIET_ON_THE_CLOCK: &str = "quiet_on_the_clock";
    pub const BEYOND_QUOTA_REFUSED: &str = "beyond_quota_refused";
    pub const BEYOND_QUOTA_REACHED: &str = "beyond_quota_reached";
}
use names::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Holds in every reachable state.
    Always,
    /// Holds in at least one reachable state: the path is exercised.
    Sometimes,
}

pub struct PropertySpec {
    pub name: &'static str,
    pub expect: Expect,
    pub summary: &'static str,
    /// Normative statements covered, per version (the same id means different things in 3.1.1
    /// and 5.0).
    pub statements: &'static [(Version, &'static str)],
    /// Whether the property is meaningful for a configuration (e.g. Receive Maximum exists in
    /// 5.0 only; a path that needs a cut cannot be reached without one).
    pub applies: fn(&Config) -> bool,
    pub holds: fn(&MqttModel, &State) -> bool,
}

const V3: Version = Version::V3_1_1;
const V5: Version = Version::V5_0;

pub const CATALOGUE: &[PropertySpec] = &[
    PropertySpec {
        name: QOS0_AT_MOST_ONCE,
        expect: Expect::Always,
        summary: "a QoS 0 message reaches each subscriber's application at most once",
        statements: &[(V3, "MQTT-4.3.1-1"), (V5, "MQTT-4.3.1-1")],
        applies: always,
        holds: |m, s| no_duplicate_at(m, s, Qos::AtMostOnce),
    },
    PropertySpec {
        name: QOS2_NOT_DUPLICATED,
        expect: Expect::Always,
        summary: "a QoS 2 message never reaches a subscriber's application twice",
        statements: &[(V3, "MQTT-4.3.3-2"), (V5, "MQTT-4.3.3-10")],
        applies: always,
        holds: |m, s| s.ghost.diverged || no_duplicate_at(m, s, Qos::ExactlyOnce),
    },
    PropertySpec {
        name: SESSION_MESSAGES_KEPT,
        expect: Expect::Always,
        summary: "while a session lives, each of its QoS 1/2 messages is delivered, in flight \
                  or queued",
        statements: &[
            (V3, "MQTT-3.1.2-4"),
            (V3, "MQTT-3.1.2-5"),
            (V3, "MQTT-4.1.0-1"),
            (V3, "MQTT-4.5.0-1"),
            (V5, "MQTT-3.1.2-5"),
            (V5, "MQTT-3.1.2-23"),
            (V5, "MQTT-4.1.0-1"),
            (V5, "MQTT-4.5.0-1"),
        ],
        applies: always,
        holds: session_messages_kept,
    },
    PropertySpec {
        name: PACKET_IDS_UNIQUE,
        expect: Expect::Always,
        summary: "packet ids in use by a sender are non-zero and distinct",
        statements: &[
            (V3, "MQTT-2.3.1-1"),
            (V3, "MQTT-2.3.1-2"),
            (V3, "MQTT-2.3.1-3"),
            (V3, "MQTT-2.3.1-4"),
            (V5, "MQTT-2.2.1-3"),
            (V5, "MQTT-2.2.1-4"),
        ],
        applies: always,
        holds: packet_ids_unique,
    },
    PropertySpec {
        name: DUP_MARKS_RESENDS,
        expect: Expect::Always,
        summary: "the first transmission of a PUBLISH has DUP=0 and a retransmission DUP=1",
        statements: &[
            (V3, "MQTT-3.3.1-1"),
            (V3, "MQTT-3.3.1-2"),
            (V3, "MQTT-3.3.1-3"),
            (V3, "MQTT-4.3.1-1"),
            (V3, "MQTT-4.3.2-1"),
            (V3, "MQTT-4.3.3-1"),
            (V5, "MQTT-3.3.1-1"),
            (V5, "MQTT-3.3.1-2"),
            (V5, "MQTT-3.3.1-3"),
            (V5, "MQTT-4.3.1-1"),
            (V5, "MQTT-4.3.2-2"),
            (V5, "MQTT-4.3.3-2"),
        ],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::DupFlag),
    },
    PropertySpec {
        name: ORDER_PRESERVED,
        expect: Expect::Always,
        summary: "QoS 1/2 messages of a publisher reach each subscriber in publish order, per topic \
                  and QoS",
        statements: &[
            (V3, "MQTT-4.6.0-1"),
            (V3, "MQTT-4.6.0-5"),
            (V3, "MQTT-4.6.0-6"),
            (V5, "MQTT-4.6.0-1"),
            (V5, "MQTT-4.6.0-5"),
            (V5, "MQTT-4.6.0-6"),
        ],
        applies: always,
        holds: |_, s| s.ghost.diverged || !s.ghost.breached(Breach::OutOfOrder),
    },
    PropertySpec {
        name: ORDER_ACROSS_QOS,
        expect: Expect::Always,
        summary: "design (verimqtt): QoS 1 and QoS 2 messages of a publisher on one topic reach \
                  each subscriber in publish order across the two levels, stronger than MQTT's \
                  per-QoS order",
        statements: &[(V3, "MQTT-4.6.0-6"), (V5, "MQTT-4.6.0-5")],
        applies: always,
        holds: |_, s| s.ghost.diverged || !s.ghost.order_across_qos_broken,
    },
    PropertySpec {
        name: ONE_PING_OUTSTANDING,
        expect: Expect::Always,
        summary: "design (verimqtt): a client has at most one unanswered PINGREQ on a connection \
                  (the server answers each one); the keep_alive duty is keep_alive_duty",
        statements: &[(V3, "MQTT-3.12.4-1"), (V5, "MQTT-3.12.4-1")],
        applies: always,
        holds: |_, s| s.all_links().all(|(_, l)| l.unanswered_pings <= 1),
    },
    PropertySpec {
        name: KEEPALIVE_NOT_EARLY,
        expect: Expect::Always,
        summary: "the broker never closes for keep alive before 1.5 x keep alive of silence",
        statements: &[(V3, "MQTT-3.1.2-24"), (V5, "MQTT-3.1.2-22")],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::KeepAliveTooEarly),
    },
    PropertySpec {
        name: WILL_IFF_ABNORMAL,
        expect: Expect::Always,
        summary: "the will is published if and only if the connection closed without a \
                  DISCONNECT 0x00 (5.0: 0x04 asks for it); with a Will Delay Interval (5.0) once \
                  the delay passes or the session ends, whichever is first, and never if a new \
                  connection resumes the session before",
        statements: &[
            (V3, "MQTT-3.1.2-8"),
            (V3, "MQTT-3.1.2-10"),
            (V3, "MQTT-3.14.4-3"),
            (V5, "MQTT-3.1.2-8"),
            (V5, "MQTT-3.1.2-10"),
            (V5, "MQTT-3.1.3-9"),
            (V5, "MQTT-3.14.4-3"),
        ],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::WillMismatch),
    },
    PropertySpec {
        name: SESSION_PRESENT_IFF_SESSION,
        expect: Expect::Always,
        summary: "CONNACK's Session Present is 1 if and only if the broker resumes a session",
        statements: &[
            (V3, "MQTT-3.2.2-1"),
            (V3, "MQTT-3.2.2-2"),
            (V3, "MQTT-3.2.2-3"),
            (V5, "MQTT-3.2.2-2"),
            (V5, "MQTT-3.2.2-3"),
        ],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::SessionPresent),
    },
    PropertySpec {
        name: RECEIVE_MAXIMUM_RESPECTED,
        expect: Expect::Always,
        summary: "no sender has more unacknowledged QoS 1/2 PUBLISH than the Receive Maximum",
        statements: &[(V5, "MQTT-3.3.4-7"), (V5, "MQTT-3.3.4-9"), (V5, "MQTT-4.9.0-2")],
        applies: |c| c.version == Version::V5_0,
        holds: receive_maximum_respected,
    },
    PropertySpec {
        name: DELIVERED_WHEN_QUIET,
        expect: Expect::Always,
        summary: "once faults stop and all is quiet, every QoS 1/2 message is delivered to \
                  every subscriber whose session it was routed to, and every QoS 1/2 retained \
                  copy a SUBACK called for",
        statements: &[
            (V3, "MQTT-3.1.2-5"),
            (V3, "MQTT-4.3.2-1"),
            (V3, "MQTT-4.3.3-1"),
            (V3, "MQTT-4.4.0-1"),
            (V3, "MQTT-3.3.1-6"),
            (V5, "MQTT-4.3.2-3"),
            (V5, "MQTT-4.3.3-3"),
            (V5, "MQTT-4.3.3-5"),
            (V5, "MQTT-4.4.0-1"),
            (V5, "MQTT-3.3.1-9"),
        ],
        applies: always,
        holds: delivered_when_quiet,
    },
    PropertySpec {
        name: SILENT_CONNECTION_CLOSED,
        expect: Expect::Always,
        summary: "the broker closes a connection within a tick of 1.5 x keep alive of silence",
        statements: &[(V3, "MQTT-3.1.2-24"), (V5, "MQTT-3.1.2-22")],
        applies: always,
        holds: silent_connection_closed,
    },
    PropertySpec {
        name: RESEND_ONLY_ON_RESUMPTION,
        expect: Expect::Always,
        summary: "a PUBLISH is retransmitted only in reply to a resumed session (5.0)",
        statements: &[(V5, "MQTT-4.4.0-1")],
        applies: |c| c.version == Version::V5_0,
        holds: |_, s| !s.ghost.breached(Breach::ResendOutsideResumption),
    },
    PropertySpec {
        name: NO_PUBLISH_AFTER_PUBREL,
        expect: Expect::Always,
        summary: "a QoS 2 sender never sends the PUBLISH again once it has sent its PUBREL",
        statements: &[(V3, "MQTT-4.3.3-1"), (V5, "MQTT-4.3.3-6")],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::PublishAfterPubRel),
    },
    PropertySpec {
        name: KEEPALIVE_DUTY,
        expect: Expect::Always,
        summary: "a connected client sends a packet within each keep alive",
        statements: &[(V3, "MQTT-3.1.2-23"), (V5, "MQTT-3.1.2-20")],
        // A client that waits longer than a keep alive for its PINGRESP before it gives up (as
        // verimqtt's does, 1.5 x keep alive, and the model by default) has one PINGREQ
        // outstanding and sends nothing more: it cannot meet the duty (see README).
        applies: |c| c.abort_after <= c.keep_alive,
        holds: |_, s| !s.ghost.breached(Breach::KeepAliveDutyMissed),
    },
    PropertySpec {
        name: NO_STALE_RESUME,
        expect: Expect::Always,
        summary: "design (verimqtt): a client never resumes session state the broker has \
                  discarded (its expiry clock runs out first), which exactly-once across \
                  expiry needs",
        statements: &[(V5, "MQTT-3.2.2-5"), (V5, "MQTT-4.1.0-2"), (V5, "MQTT-4.3.3-10")],
        // On a slow network a CONNACK with Session Present=1 can arrive after the broker closed
        // that connection and expired the session, which this ghost counts as a stale resume
        // (see README): the property is stated for a network that delivers within a tick.
        applies: |c| c.expiry_ticks().is_some() && !c.slow_network,
        holds: |_, s| !s.ghost.diverged,
    },
    PropertySpec {
        name: ORDER_ACROSS_TOPICS,
        expect: Expect::Always,
        summary: "design (verimqtt): QoS 1/2 messages of a publisher reach each subscriber in \
                  publish order across topics (one queue per session), stronger than MQTT's \
                  per-topic order",
        statements: &[(V3, "MQTT-4.6.0-6"), (V5, "MQTT-4.6.0-5")],
        applies: several_topics,
        holds: |_, s| s.ghost.diverged || !s.ghost.order_across_topics_broken,
    },
    PropertySpec {
        name: ROUTED_TO_SUBSCRIBERS,
        expect: Expect::Always,
        summary: "the broker sends a client a message only if a subscription granted in its \
                  session (a SUBACK it sent, no UNSUBACK since) matches the topic",
        statements: &[(V3, "MQTT-3.3.2-3"), (V3, "MQTT-3.10.4-2"), (V5, "MQTT-3.3.2-3"), (V5, "MQTT-3.10.4-2")],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::NotSubscribed),
    },
    PropertySpec {
        name: COPY_AT_GRANTED_QOS,
        expect: Expect::Always,
        summary: "a subscriber's copy goes out at the published QoS lowered to the highest QoS \
                  granted among its matching subscriptions",
        statements: &[(V3, "MQTT-3.3.5-1"), (V3, "MQTT-3.8.4-6"), (V5, "MQTT-3.3.4-2"), (V5, "MQTT-3.8.4-8")],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::CopyQos),
    },
    PropertySpec {
        name: REDELIVERY_AFTER_CUT,
        expect: Expect::Sometimes,
        summary: "a PUBLISH is retransmitted (DUP=1) on a resumed session",
        statements: &[(V3, "MQTT-4.4.0-1"), (V5, "MQTT-4.4.0-1")],
        applies: |c| c.cuts > 0 && any_reliable(c) && any_persistent(c),
        holds: |_, s| in_flight(s).any(|p| matches!(p, Packet::Publish { dup: true, .. })),
    },
    PropertySpec {
        name: QOS2_DUPLICATE_SUPPRESSED,
        expect: Expect::Sometimes,
        summary: "a retransmitted QoS 2 PUBLISH reaches a receiver that already has its id",
        statements: &[(V3, "MQTT-4.3.3-2"), (V5, "MQTT-4.3.3-10")],
        applies: |c| c.cuts > 0 && c.messages.contains(&Qos::ExactlyOnce) && any_persistent(c),
        holds: qos2_duplicate_suppressed,
    },
    PropertySpec {
        name: WILL_PUBLISHED,
        expect: Expect::Sometimes,
        summary: "a will reaches a subscriber",
        statements: &[(V3, "MQTT-3.1.2-8"), (V5, "MQTT-3.1.2-8")],
        applies: |c| c.will && c.cuts > 0 && c.clients > 1,
        holds: |_, s| in_flight(s).any(|p| matches!(p, Packet::Publish { message: Message::Will(_), .. })),
    },
    PropertySpec {
        name: KEEPALIVE_TIMEOUT_REACHED,
        expect: Expect::Sometimes,
        summary: "a connection stays silent for 1.5 x keep alive",
        statements: &[(V3, "MQTT-3.1.2-24"), (V5, "MQTT-3.1.2-22")],
        applies: |c| c.cuts > 0,
        holds: |m, s| {
            s.all_links().any(|(_, l)| match l.broker {
                BrokerEnd::Open { silence, .. } => m.config.grace_over(silence),
                _ => false,
            })
        },
    },
    PropertySpec {
        name: SESSION_RESUMED,
        expect: Expect::Sometimes,
        summary: "a client resumes its session (Session Present=1)",
        statements: &[(V3, "MQTT-3.2.2-2"), (V5, "MQTT-3.2.2-3")],
        applies: |c| any_persistent(c) && (c.cuts > 0 || c.graceful_disconnect),
        holds: |_, s| in_flight(s).any(|p| matches!(p, Packet::ConnAck { session_present: true, .. })),
    },
    PropertySpec {
        name: QUEUED_WHILE_OFFLINE,
        expect: Expect::Sometimes,
        summary: "the broker holds messages for a subscriber whose connection is down",
        statements: &[(V3, "MQTT-3.1.2-5"), (V5, "MQTT-3.1.2-23")],
        applies: |c| {
            c.cuts > 0
                && any_reliable(c)
                && c.subscribers().any(|s| !c.is_publisher(s) && c.session_outlives_connection(s))
        },
        holds: |_, s| {
            (0..s.clients.len()).any(|c| {
                s.broker_link(c).is_none() && s.sessions[c].as_ref().is_some_and(|session| !session.outbound.is_idle())
            })
        },
    },
    PropertySpec {
        name: SESSION_EXPIRED,
        expect: Expect::Sometimes,
        summary: "a persistent session expires while its client is away (5.0)",
        statements: &[(V5, "MQTT-4.1.0-2"), (V5, "MQTT-3.2.2-5")],
        applies: |c| c.expiry_ticks().is_some() && any_persistent(c) && c.cuts > 0,
        holds: |m, s| {
            (0..s.clients.len()).any(|c| {
                m.config.session_outlives_connection(c) && s.sessions[c].is_none() && s.ghost.holds_stale_state[c]
            })
        },
    },
    PropertySpec {
        name: CLIENT_SESSION_EXPIRED,
        expect: Expect::Sometimes,
        summary: "a client's own session expiry clock runs out while it is away (5.0)",
        statements: &[(V5, "MQTT-3.1.2-23")],
        applies: |c| c.expiry_ticks().is_some() && any_persistent(c) && c.cuts > 0,
        holds: |m, s| (0..s.clients.len()).any(|c| client_expiry_due(&m.config, s, c)),
    },
    PropertySpec {
        name: QUIET_AFTER_DELIVERY,
        expect: Expect::Sometimes,
        summary: "witness for delivered_when_quiet: a quiet state is reached after the publisher \
                  finished its script and a QoS 1/2 message was delivered",
        statements: &[(V3, "MQTT-4.4.0-1"), (V5, "MQTT-4.4.0-1")],
        applies: |c| any_reliable(c) && c.clients > 1,
        holds: quiet_after_delivery,
    },
    PropertySpec {
        name: RESTORED_DELIVERED,
        expect: Expect::Sometimes,
        summary: "after a restart from the durable store, a resumed session delivers a QoS 1/2 \
                  message that was owed to it before the restart",
        statements: &[(V3, "MQTT-4.4.0-1"), (V5, "MQTT-4.4.0-1")],
        applies: |c| c.keeps_store() && any_reliable(c) && c.subscribers().any(|s| c.session_outlives_connection(s)),
        holds: restored_delivered,
    },
    PropertySpec {
        name: QOS1_WILL_DELIVERED,
        expect: Expect::Sometimes,
        summary: "a will at QoS 1 reaches a subscriber's application",
        statements: &[(V3, "MQTT-3.1.2-8"), (V5, "MQTT-3.1.2-8")],
        applies: |c| {
            c.will_qos == Qos::AtLeastOnce
                && c.will
                && c.cuts > 0
                && c.subscribers().any(|s| c.reliable_copy(s, c.will_message(0)))
        },
        holds: |m, s| {
            let wills: Bits = (0..m.config.clients as u8).map(|c| m.config.will_message(c)).collect();
            s.ghost.delivered.iter().any(|delivered| !delivered.intersection(wills).is_empty())
        },
    },
    PropertySpec {
        name: OVERLAPPING_COPY,
        expect: Expect::Sometimes,
        summary: "a copy of a message goes to a subscriber with several subscriptions matching it",
        statements: &[(V3, "MQTT-3.3.5-1"), (V5, "MQTT-3.3.4-2")],
        applies: |c| {
            routed_copies(c).any(|(s, n)| routing::matching(&c.held_filters(s, c.fully_subscribed(s)), c.topic(n)) > 1)
        },
        holds: |m, s| {
            copies_in_flight(s).any(|(c, n)| {
                let held = m.config.held_filters(c, s.ghost.routed_under[c].subscribed(n));
                routing::matching(&held, m.config.topic(n)) > 1
            })
        },
    },
    PropertySpec {
        name: COPY_DOWNGRADED,
        expect: Expect::Sometimes,
        summary: "a copy of a message goes out at a lower QoS than it was published with",
        statements: &[(V3, "MQTT-3.8.4-6"), (V5, "MQTT-3.8.4-8")],
        applies: |c| routed_copies(c).any(|(s, n)| c.copy_qos(s, n) < Some(c.qos(n))),
        holds: |m, s| {
            s.all_links().any(|(_, l)| {
                l.to_client.packets.iter().any(|p| match *p {
                    Packet::Publish { message: Message::App(n), qos, .. } => qos < m.config.qos(n),
                    _ => false,
                })
            })
        },
    },
    PropertySpec {
        name: MESSAGE_NOT_MATCHED,
        expect: Expect::Sometimes,
        summary: "the broker takes a message that a subscribed client's subscriptions do not match",
        statements: &[(V3, "MQTT-3.3.2-3"), (V5, "MQTT-3.3.2-3")],
        applies: |c| c.subscribers().any(|s| (0..c.messages.len() as u8).any(|n| c.copy_qos(s, n).is_none())),
        holds: |m, s| {
            (0..m.config.clients).any(|c| {
                s.ghost.subscribed[c].any() && s.ghost.accepted.iter().any(|n| m.config.copy_qos(c, n).is_none())
            })
        },
    },
    PropertySpec {
        name: DISCONNECT_WITH_WILL_SENT,
        expect: Expect::Sometimes,
        summary: "a client sends DISCONNECT 0x04, Disconnect with Will Message (5.0)",
        statements: &[(V5, "MQTT-3.1.2-8")],
        applies: |c| c.may_disconnect_with_will() && c.will,
        holds: |_, s| in_flight(s).any(|p| *p == Packet::DisconnectWithWill),
    },
    PropertySpec {
        name: UNSUBSCRIBED,
        expect: Expect::Sometimes,
        summary: "the broker deletes a subscription on UNSUBSCRIBE and says so in its UNSUBACK",
        statements: &[(V3, "MQTT-3.10.4-4"), (V5, "MQTT-3.10.4-4")],
        applies: |c| c.unsubscribes > 0,
        holds: |_, s| in_flight(s).any(|p| matches!(p, Packet::UnsubAck { existed: true, .. })),
    },
    PropertySpec {
        name: RETAINED_IS_LATEST,
        expect: Expect::Always,
        summary: "a new subscription gets, of each topic its filter matches, only the latest retained \
                  publication (none once an empty one deleted it)",
        statements: &[
            (V3, "MQTT-3.3.1-5"),
            (V3, "MQTT-3.3.1-6"),
            (V3, "MQTT-3.3.1-10"),
            (V3, "MQTT-3.3.1-11"),
            (V5, "MQTT-3.3.1-5"),
            (V5, "MQTT-3.3.1-6"),
            (V5, "MQTT-3.3.1-7"),
            (V5, "MQTT-3.3.1-9"),
        ],
        applies: |c| !c.retained.is_empty(),
        holds: |_, s| !s.ghost.breached(Breach::RetainedNotLatest),
    },
    PropertySpec {
        name: RETAINED_AS_HANDLED,
        expect: Expect::Always,
        summary: "a SUBSCRIBE's filter gets the retained messages as its Retain Handling says: 0 always, \
                  1 only if the session had no identical subscription (as the SUBACKs and UNSUBACKs \
                  sent say), 2 never (5.0)",
        statements: &[(V5, "MQTT-3.3.1-9"), (V5, "MQTT-3.3.1-10"), (V5, "MQTT-3.3.1-11")],
        applies: |c| !c.retained.is_empty() && c.has_retain_handling(),
        holds: |_, s| !s.ghost.breached(Breach::RetainedAgainstHandling),
    },
    PropertySpec {
        name: RETAIN_FLAG_CORRECT,
        expect: Expect::Always,
        summary: "the broker's RETAIN flag is 1 on a retained copy for a new subscription, and on a \
                  forwarded copy only if it was published with 1 and a matching subscription asks for \
                  Retain As Published (5.0); 0 otherwise",
        statements: &[(V3, "MQTT-3.3.1-8"), (V3, "MQTT-3.3.1-9"), (V5, "MQTT-3.3.1-12"), (V5, "MQTT-3.3.1-13")],
        applies: |c| !c.retained.is_empty(),
        holds: |_, s| !s.ghost.breached(Breach::RetainFlag),
    },
    PropertySpec {
        name: RETAINED_DELIVERED,
        expect: Expect::Sometimes,
        summary: "a retained message reaches a subscription made after it was published",
        statements: &[(V3, "MQTT-3.3.1-6"), (V5, "MQTT-3.3.1-9")],
        applies: |c| !c.retained.minus(c.empty).is_empty(),
        holds: |_, s| s.ghost.delivered_retained.iter().any(|d| !d.is_empty()),
    },
    PropertySpec {
        name: PUBACKS_IN_ORDER,
        expect: Expect::Always,
        summary: "PUBACKs go out in the order their QoS 1 PUBLISHes were read on the connection \
                  (binds the client; the broker is held to it too, as verimqtt's is)",
        statements: &[(V3, "MQTT-4.6.0-2"), (V5, "MQTT-4.6.0-2")],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::PubAckOrder),
    },
    PropertySpec {
        name: PUBRECS_IN_ORDER,
        expect: Expect::Always,
        summary: "PUBRECs go out in the order their QoS 2 PUBLISHes were read on the connection \
                  (binds the client; the broker is held to it too)",
        statements: &[(V3, "MQTT-4.6.0-3"), (V5, "MQTT-4.6.0-3")],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::PubRecOrder),
    },
    PropertySpec {
        name: PUBRELS_IN_ORDER,
        expect: Expect::Always,
        summary: "PUBRELs go out in the order their PUBRECs were read, those resent on a resumed \
                  session included (binds the client; the broker is held to it too)",
        statements: &[(V3, "MQTT-4.6.0-4"), (V5, "MQTT-4.6.0-4")],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::PubRelOrder),
    },
    PropertySpec {
        name: NO_PUBREL_AFTER_REFUSAL,
        expect: Expect::Always,
        summary: "no PUBREC of 0x80 or more is answered with a PUBREL: a PUBREL answers a PUBREC \
                  below 0x80, and a refused PUBLISH counts as acknowledged, its flow over; judged \
                  on the broker's refusals of invalid payloads at QoS 2 and on hostile clients' \
                  PUBRECs for an id no flight uses (the broker's answer there is verimqtt's \
                  reading)",
        statements: &[(V5, "MQTT-4.3.3-4"), (V5, "MQTT-4.4.0-2")],
        applies: |c| c.version == Version::V5_0,
        holds: |_, s| !s.ghost.breached(Breach::PubRelAfterRefusal),
    },
    PropertySpec {
        name: INTEGRITY,
        expect: Expect::Always,
        summary: "every message an application receives was published: handed over by its \
                  publisher's application (and not refused by the broker for a payload that is \
                  not the UTF-8 it claims), or a retained copy of a retained message the broker \
                  accepted; and the broker publishes only the will of a client whose connection \
                  ends without a normal DISCONNECT, or whose will waits by the specification's \
                  rules (a delay, a restart from a store)",
        statements: &[
            (V3, "MQTT-4.5.0-1"),
            (V3, "MQTT-3.1.2-8"),
            (V3, "MQTT-3.14.4-3"),
            (V5, "MQTT-4.5.0-1"),
            (V5, "MQTT-3.1.2-8"),
            (V5, "MQTT-3.14.4-3"),
        ],
        applies: always,
        holds: |_, s| !s.ghost.breached(Breach::NotPublished),
    },
    PropertySpec {
        name: BEYOND_QUOTA_REFUSED,
        expect: Expect::Always,
        summary: "the broker never acknowledges a QoS 1/2 PUBLISH a client sends beyond its Receive \
                  Maximum: 5.0 section 3.3.4 has it close the connection with DISCONNECT 0x93 \
                  (checked against the trace), so nothing of it is taken; counting a client's QoS \
                  2 messages awaiting PUBREL across its connections is verimqtt's design",
        statements: &[(V5, "MQTT-3.3.4-7")],
        applies: |c| c.beyond_quota > 0,
        holds: |_, s| !s.ghost.breached(Breach::TakenBeyondQuota),
    },
    PropertySpec {
        name: BEYOND_QUOTA_REACHED,
        expect: Expect::Sometimes,
        summary: "witness for beyond_quota_refused: a PUBLISH beyond the broker's Receive Maximum \
                  is on its way to the broker",
        statements: &[(V5, "MQTT-3.3.4-7")],
        applies: |c| c.beyond_quota > 0,
        holds: |_, s| in_flight(s).any(|p| matches!(p, Packet::PublishBeyondQuota { .. })),
    },
    PropertySpec {
        name: BOUNDED_RESPONSE,
        expect: Expect::Always,
        summary: "liveness on the clock: the bound's ticks after the last fault (a cut, a \
                  restart, a client's chosen DISCONNECT or UNSUBSCRIBE) every script has \
                  finished and every QoS 1/2 message and retained copy owed is delivered",
        statements: &[
            (V3, "MQTT-3.1.2-5"),
            (V3, "MQTT-4.3.2-1"),
            (V3, "MQTT-4.3.3-1"),
            (V3, "MQTT-4.4.0-1"),
            (V5, "MQTT-4.3.2-3"),
            (V5, "MQTT-4.3.3-3"),
            (V5, "MQTT-4.3.3-5"),
            (V5, "MQTT-4.4.0-1"),
        ],
        applies: on_the_clock,
        holds: bounded_response,
    },
    PropertySpec {
        name: QUIET_ON_THE_CLOCK,
        expect: Expect::Sometimes,
        summary: "witness for bounded_response: the bound's ticks pass after the last fault, \
                  with the scripts finished and a QoS 1/2 message delivered",
        statements: &[(V3, "MQTT-4.4.0-1"), (V5, "MQTT-4.4.0-1")],
        applies: |c| on_the_clock(c) && any_reliable(c) && c.clients > 1,
        holds: |m, s| calm_for_the_bound(m, s) && scripts_done_and_delivered(m, s),
    },
    PropertySpec {
        name: PUBACKS_IN_TRANSIT_TOGETHER,
        expect: Expect::Sometimes,
        summary: "witness for pubacks_in_order: two PUBACKs travel on one connection at once",
        statements: &[(V3, "MQTT-4.6.0-2"), (V5, "MQTT-4.6.0-2")],
        applies: |c| two_flights_at(c, Qos::AtLeastOnce),
        holds: |_, s| two_in_transit(s, |p| matches!(p, Packet::PubAck(_))),
    },
    PropertySpec {
        name: PUBRECS_IN_TRANSIT_TOGETHER,
        expect: Expect::Sometimes,
        summary: "witness for pubrecs_in_order: two PUBRECs travel on one connection at once",
        statements: &[(V3, "MQTT-4.6.0-3"), (V5, "MQTT-4.6.0-3")],
        applies: |c| two_flights_at(c, Qos::ExactlyOnce),
        holds: |_, s| two_in_transit(s, |p| matches!(p, Packet::PubRec(_))),
    },
    PropertySpec {
        name: PUBRELS_IN_TRANSIT_TOGETHER,
        expect: Expect::Sometimes,
        summary: "witness for pubrels_in_order: two PUBRELs travel on one connection at once",
        statements: &[(V3, "MQTT-4.6.0-4"), (V5, "MQTT-4.6.0-4")],
        applies: |c| two_flights_at(c, Qos::ExactlyOnce),
        holds: |_, s| two_in_transit(s, |p| matches!(p, Packet::PubRel(_))),
    },
];

/// The catalogue entry of a property.
pub fn spec(name: &str) -> Option<&'static PropertySpec> {
    CATALOGUE.iter().find(|p| p.name == name)
}

fn always(_: &Config) -> bool {
    true
}

fn any_reliable(config: &Config) -> bool {
    config.messages.iter().any(|&q| q > Qos::AtMostOnce)
}

fn several_topics(config: &Config) -> bool {
    config.options_on().contains("several topics")
}

/// Every (subscriber, message) pair where the subscriber's subscriptions match the message.
fn routed_copies(config: &Config) -> impl Iterator<Item = (usize, u8)> + '_ {
    config
        .subscribers()
        .flat_map(move |s| (0..config.messages.len() as u8).map(move |n| (s, n)))
        .filter(|&(s, n)| config.copy_qos(s, n).is_some())
}

/// Every application message travelling to a client, with the client.
fn copies_in_flight(state: &State) -> impl Iterator<Item = (usize, u8)> + '_ {
    state.all_links().flat_map(|(c, l)| {
        l.to_client.packets.iter().filter_map(move |p| match *p {
            Packet::Publish { message: Message::App(n), .. } => Some((c, n)),
            _ => None,
        })
    })
}

/// A publisher may have two flights at `qos` at once: two of its QoS 1/2 messages at that QoS
/// fit in one window of as many consecutive ones as the packet ids and the broker's Receive
/// Maximum let it have in flight.
fn two_flights_at(config: &Config, qos: Qos) -> bool {
    let room = usize::from(config.broker_receive_maximum().map_or(config.packet_ids, |r| r.min(config.packet_ids)));
    config.publishers().any(|p| {
        let reliable: Vec<Qos> = (0..config.messages.len() as u8)
            .filter(|&n| config.publisher_of(n) == p && config.reliable(n))
            .map(|n| config.qos(n))
            .collect();
        reliable.windows(room.max(1)).any(|window| window.iter().filter(|&&q| q == qos).count() >= 2)
    })
}

/// Some channel carries two packets `is_kind` at once.
fn two_in_transit(state: &State, is_kind: fn(&Packet) -> bool) -> bool {
    state.all_links().any(|(_, l)| {
        [&l.to_broker.packets, &l.to_client.packets]
            .into_iter()
            .any(|packets| packets.iter().filter(|p| is_kind(p)).count() >= 2)
    })
}

fn any_persistent(config: &Config) -> bool {
    config.sessions.contains(&SessionKind::Persistent)
}

/// Every packet on the wire, in both directions.
fn in_flight(state: &State) -> impl Iterator<Item = &Packet> {
    state.all_links().flat_map(|(_, l)| l.to_broker.packets.iter().chain(&l.to_client.packets))
}

/// No message whose copy for a subscriber is at `qos` reached that subscriber twice.
fn no_duplicate_at(model: &MqttModel, state: &State, qos: Qos) -> bool {
    let config = &model.config;
    let ghost = &state.ghost;
    (0..config.clients).all(|s| ghost.duplicated[s].iter().all(|m| ghost.copy_qos_of(config, s, m) != Some(qos)))
}

fn session_messages_kept(model: &MqttModel, state: &State) -> bool {
    let config = &model.config;
    let ghost = &state.ghost;
    if ghost.diverged {
        return true;
    }
    let publisher_keeps = state
        .guaranteed_publications(config)
        .minus(ghost.accepted)
        .iter()
        .filter(|&m| config.reliable(m))
        .all(|m| state.clients[config.publisher_of(m)].outbound.messages(config).contains(m));
    let broker_keeps = (0..config.clients).all(|s| {
        let held = state.sessions[s].as_ref().map(|session| session.outbound.messages(config)).unwrap_or_default();
        ghost.owed[s].minus(ghost.delivered[s]).is_subset(held)
    });
    publisher_keeps && broker_keeps
}

fn packet_ids_unique(_: &MqttModel, state: &State) -> bool {
    let distinct_non_zero =
        |ids: Vec<u8>| ids.iter().all(|&id| id != 0) && ids.iter().enumerate().all(|(i, id)| !ids[..i].contains(id));
    let clients_ok = state.clients.iter().all(|client| {
        let mut ids: Vec<u8> = client.outbound.flights.iter().map(|f| f.id).collect();
        ids.extend(client.subscription.pending_id());
        distinct_non_zero(ids)
    });
    let sessions_ok = state
        .sessions
        .iter()
        .flatten()
        .all(|session| distinct_non_zero(session.outbound.flights.iter().map(|f| f.id).collect()));
    clients_ok && sessions_ok
}

/// Each sender keeps at most the Receive Maximum its peer announced: a client the broker's
/// (CONNACK) [MQTT-3.3.4-7], the broker a client's (CONNECT) [MQTT-3.3.4-9]. Judged against
/// the configuration's values, which every CONNECT and CONNACK carries, not against what a
/// sender stored.
fn receive_maximum_respected(model: &MqttModel, state: &State) -> bool {
    let config = &model.config;
    let within = |flights: usize, maximum: Option<u8>| maximum.is_none_or(|m| flights <= usize::from(m));
    state.clients.iter().all(|c| within(c.outbound.flights.len(), config.broker_receive_maximum()))
        && state.sessions.iter().flatten().all(|s| within(s.outbound.flights.len(), config.receive_maximum()))
}

fn delivered_when_quiet(model: &MqttModel, state: &State) -> bool {
    // The quiescence test enumerates the state's actions: it comes after the cheap test of
    // what is owed.
    state.ghost.diverged || everything_owed_delivered(model, state) || !model.is_quiescent(state)
}

/// A bounded response is judged where applications and the network act within a tick (a paced
/// application or a slow network may wait as long as it likes).
fn on_the_clock(config: &Config) -> bool {
    config.bounded_response.is_some() && !config.paced_application && !config.slow_network
}

/// The bound's ticks have passed since the last fault.
fn calm_for_the_bound(model: &MqttModel, state: &State) -> bool {
    model.config.bounded_response.is_some_and(|bound| state.ghost.calm >= bound)
}

fn bounded_response(model: &MqttModel, state: &State) -> bool {
    let config = &model.config;
    state.ghost.diverged
        || !calm_for_the_bound(model, state)
        || (state.scripts_done(config) && everything_owed_delivered(model, state))
}

/// Every QoS 1/2 message handed over is accepted, and every one owed to a subscriber, and every
/// QoS 1/2 retained copy a SUBACK called for, delivered.
fn everything_owed_delivered(model: &MqttModel, state: &State) -> bool {
    let config = &model.config;
    let ghost = &state.ghost;
    let all_accepted = state
        .guaranteed_publications(config)
        .iter()
        .filter(|&m| config.reliable(m))
        .all(|m| ghost.accepted.contains(m));
    let all_delivered = (0..config.clients).all(|s| {
        ghost.owed[s].is_subset(ghost.delivered[s]) && ghost.owed_retained[s].is_subset(ghost.delivered_retained[s])
    });
    all_accepted && all_delivered
}

fn silent_connection_closed(model: &MqttModel, state: &State) -> bool {
    state.all_links().all(|(_, link)| match link.broker {
        BrokerEnd::Open { silence, .. } => silence <= model.config.longest_allowed_silence(),
        _ => true,
    })
}

fn qos2_duplicate_suppressed(_: &MqttModel, state: &State) -> bool {
    let is_qos2_resend = |p: &Packet| match *p {
        Packet::Publish { id, qos: Qos::ExactlyOnce, dup: true, .. } => Some(id),
        _ => None,
    };
    state.all_links().any(|(c, link)| {
        let at_broker = state.sessions[c].as_ref().is_some_and(|session| {
            link.broker_open()
                && link
                    .to_broker
                    .packets
                    .iter()
                    .filter_map(is_qos2_resend)
                    .any(|id| session.awaiting_pubrel.contains(id))
        });
        let at_client = link
            .to_client
            .packets
            .iter()
            .filter_map(is_qos2_resend)
            .any(|id| state.clients[c].awaiting_pubrel.contains(id));
        at_broker || at_client
    })
}

/// The quiescence `delivered_when_quiet` is judged in is reached, with something delivered, so
/// that property is not vacuous.
fn quiet_after_delivery(model: &MqttModel, state: &State) -> bool {
    scripts_done_and_delivered(model, state) && model.is_quiescent(state)
}

/// The publishers finished their scripts and a QoS 1/2 message was delivered.
fn scripts_done_and_delivered(model: &MqttModel, state: &State) -> bool {
    let config = &model.config;
    let reliable = |s: usize, m: u8| state.ghost.copy_qos_of(config, s, m) > Some(Qos::AtMostOnce);
    let delivered = config.subscribers().any(|s| state.ghost.delivered[s].iter().any(|m| reliable(s, m)));
    state.scripts_done(config) && delivered
}

/// A message owed to a subscriber when the broker restarted from its store is delivered after.
fn restored_delivered(_: &MqttModel, state: &State) -> bool {
    let ghost = &state.ghost;
    let restored = ghost.durability.restored.iter();
    restored.zip(&ghost.delivered).any(|(restored, delivered)| !restored.intersection(*delivered).is_empty())
}
