//! The design broker refines the specification broker (`src/spec_broker`): every behaviour
//! of verimqtt's broker, as seen on the wire, is one a broker following MQTT could show. And
//! the check is not vacuous: seeded design bugs that break the specification are rejected,
//! design choices MQTT leaves open are not, and the spec broker reaches behaviours the design
//! broker never shows.

mod common;

use common::{VERSIONS, check_exhaustively, config};
use verimqtt_model::SessionKind::{Clean, Persistent};
use verimqtt_model::spec_broker::refinement::{
    Refinement, RefinementOutcome, SPEC_MAY_FORWARD_AFTER_PUBREL, SPEC_MAY_SEND_EXTRA_OVERLAPPING_COPY,
    SPEC_MAY_SEND_QOS0_KEPT_OFFLINE, check_refinement, render_rejection,
};
use verimqtt_model::suite::{
    as_the_trace_checker_runs, with_cuts, with_expiry, with_retain_handling, with_retained, with_routing,
};
use verimqtt_model::{Bug, Config, Version};

/// The design broker matches the spec broker on the wire, under faults, every reachable
/// state: 1 = the tolerance of the keep alive close the spec broker allows (the design closes
/// exactly at 1.5 x keep alive, so this is only room, not a need).
fn check(config: &Config) -> (Refinement, RefinementOutcome) {
    let refinement = Refinement::new(config.clone(), 1).unwrap_or_else(|e| panic!("{config}: {e}"));
    let outcome = check_refinement(refinement.clone(), 2);
    eprintln!(
        "{config}: refinement {} states, {} unique, depth {}, {:.2}s; witnessed {:?}",
        outcome.states,
        outcome.unique_states,
        outcome.max_depth,
        outcome.elapsed.as_secs_f64(),
        outcome.witnessed
    );
    assert!(outcome.bound_reached.is_none(), "{config}: a structural bound was reached");
    (refinement, outcome)
}

fn refines(config: &Config) -> Vec<&'static str> {
    let (refinement, outcome) = check(config);
    if let Some(path) = &outcome.rejection {
        panic!("{config}: the design broker did what no spec broker can:\n{}", render_rejection(&refinement, path));
    }
    outcome.witnessed
}

fn rejected(config: &Config) {
    let (refinement, outcome) = check(config);
    let path = outcome.rejection.unwrap_or_else(|| panic!("{config}: the spec broker accepted the bug"));
    eprintln!("{}", render_rejection(&refinement, &path));
}

fn with_bug(mut config: Config, bug: Bug) -> Config {
    config.bug = Some(bug);
    config
}

fn one_cut(version: Version, clients: usize, qos: &[u8]) -> Config {
    with_cuts(config(version, clients, qos, &[Persistent]), 1)
}

fn quiet(version: Version, clients: usize, qos: &[u8]) -> Config {
    with_cuts(config(version, clients, qos, &[Persistent]), 0)
}

#[test]
fn the_design_broker_refines_the_spec_broker_through_a_cut() {
    for version in VERSIONS {
        let config = one_cut(version, 2, &[1, 2, 0]);
        // The refinement explores the design's states once each (the spec set is a function
        // of them here), and sometimes more: where the design broker dropped what the spec
        // broker may still send, the sets differ.
        let design = check_exhaustively(&config);
        let (_, outcome) = check(&config);
        assert!(outcome.rejection.is_none());
        assert!(outcome.unique_states >= design.unique_states);
    }
}

#[test]
fn the_design_broker_refines_the_spec_broker_with_a_clean_session_and_disconnects() {
    for version in VERSIONS {
        let mut config = with_cuts(config(version, 2, &[2, 0], &[Persistent, Clean]), 1);
        config.disconnects = 1;
        config.disconnect_with_will = version == Version::V5_0;
        refines(&config);
    }
}

/// Retained messages, replaced and deleted, sent to a subscription made again after an
/// UNSUBSCRIBE.
#[test]
fn the_design_broker_refines_the_spec_broker_with_retained_messages() {
    for version in VERSIONS {
        let mut config = with_retained(one_cut(version, 2, &[2, 1]), &[1]);
        config.unsubscribes = 1;
        refines(&config);
    }
}

/// 5.0 Retain Handling 1 and 2 and Retain As Published: the spec broker owes the retained
/// copies each filter's Retain Handling calls for and allows no other, so a broker that
/// ignores Retain Handling 1 or 2 does what no spec broker can. (The spec broker does not
/// judge the RETAIN flag: `retain-as-published-ignored` is the properties' to catch.)
#[test]
fn the_design_broker_refines_the_spec_broker_with_retain_handling() {
    let config = with_retain_handling(quiet(Version::V5_0, 2, &[1, 2]), &[0, 1]);
    refines(&config);
    for bug in [Bug::RetainHandling1Ignored, Bug::RetainHandling2Ignored] {
        rejected(&with_bug(config.clone(), bug));
    }
}

/// 5.0 session expiry: the design discards an offline session the moment its interval
/// passes; the spec broker keeps it until then and may keep it a tick longer.
#[test]
fn the_design_broker_refines_the_spec_broker_with_session_expiry() {
    refines(&with_expiry(with_cuts(config(Version::V5_0, 2, &[1, 2], &[Persistent]), 2), 1));
}

/// 5.0 wills with a delay: published once it passes or the session ends, cancelled by a
/// resumed session; with an expiry shorter than the delay, at QoS 1.
#[test]
fn the_design_broker_refines_the_spec_broker_with_will_delays() {
    let mut delayed = one_cut(Version::V5_0, 2, &[1]);
    delayed.will_delay = 2;
    refines(&delayed);
    let mut expiring = with_expiry(with_cuts(config(Version::V5_0, 2, &[1], &[Persistent]), 2), 1);
    expiring.will_delay = 2;
    expiring.will_qos = verimqtt_model::Qos::AtLeastOnce;
    refines(&expiring);
}

#[test]
fn the_design_broker_refines_the_spec_broker_routing_on_two_topics_with_unsubscribe() {
    for version in VERSIONS {
        let mut config = with_routing(one_cut(version, 2, &[2, 0]), &[0, 1]);
        config.unsubscribes = 1;
        refines(&config);
    }
}

#[test]
fn the_design_broker_refines_the_spec_broker_with_one_packet_id_and_a_receive_maximum_of_one() {
    for version in VERSIONS {
        let mut config = one_cut(version, 2, &[2, 1]);
        config.packet_ids = 1;
        config.receive_maximum = 1;
        config.broker_receive_maximum = 1;
        refines(&config);
    }
}

#[test]
fn the_design_broker_refines_the_spec_broker_as_the_trace_checker_runs_it() {
    for version in VERSIONS {
        refines(&as_the_trace_checker_runs(one_cut(version, 2, &[1, 0])));
    }
}

/// Behaviours MQTT allows and verimqtt's broker never shows, reached in the spec broker.
#[test]
fn the_spec_broker_allows_what_the_design_broker_never_does() {
    for version in VERSIONS {
        // A QoS 0 message routed while the subscriber is offline, which the spec broker may
        // keep and send on its return.
        let mut offline = one_cut(version, 2, &[0]);
        offline.paced_application = true;
        assert!(refines(&offline).contains(&SPEC_MAY_SEND_QOS0_KEPT_OFFLINE), "{offline}");
        // A QoS 2 message taken by method A, not forwarded before its PUBREL.
        let mut method_a = one_cut(version, 2, &[2]);
        method_a.paced_application = true;
        assert!(refines(&method_a).contains(&SPEC_MAY_FORWARD_AFTER_PUBREL), "{method_a}");
        // Overlapping subscriptions (t/+ at QoS 1, t/0 at QoS 2): a second copy.
        let overlapping = with_routing(quiet(version, 2, &[2]), &[0]);
        assert!(refines(&overlapping).contains(&SPEC_MAY_SEND_EXTRA_OVERLAPPING_COPY), "{overlapping}");
    }
}

#[test]
fn seeded_bugs_that_break_the_specification_are_rejected() {
    for version in VERSIONS {
        let mut bugs = vec![
            // A QoS 2 message routed again after the broker forgot its id (3.1.1) / a PUBCOMP
            // saying 0x92 for an id the session holds (5.0).
            with_bug(one_cut(version, 2, &[2]), Bug::BrokerForgetsQos2Ids),
            with_bug(one_cut(version, 2, &[1]), Bug::BrokerResendsWithoutDup),
            // The subscriber's wildcard grants QoS 1; the QoS 2 message on topic 1 goes at 2.
            with_bug(with_routing(quiet(version, 2, &[2]), &[1]), Bug::CopyQosNotLowered),
            with_bug(
                {
                    let mut c = one_cut(version, 2, &[1, 1]);
                    c.graceful_disconnect = true;
                    c
                },
                Bug::QueuedBeforeResend,
            ),
            // One packet id: m1 waits in the queue the close drops; m2, published later,
            // overtakes it (a loss alone is no safety violation: see the README).
            with_bug(
                {
                    let mut c = one_cut(version, 2, &[1, 1, 1]);
                    c.packet_ids = 1;
                    c.paced_application = true;
                    c
                },
                Bug::OfflineQueueDropped,
            ),
            with_bug(quiet(version, 1, &[1]), Bug::SessionPresentWithoutSession),
            with_bug(quiet(version, 1, &[1]), Bug::KeepAliveCloseAtOneK),
            with_bug(one_cut(version, 1, &[1]), Bug::KeepAliveNotEnforced),
            with_bug(quiet(version, 2, &[0]), Bug::Qos0SentTwice),
            with_bug(with_routing(quiet(version, 3, &[1]), &[0]), Bug::TopicIgnored),
            with_bug(
                {
                    let mut c = quiet(version, 2, &[1, 1]);
                    c.unsubscribes = 1;
                    c
                },
                Bug::UnsubscribeIgnored,
            ),
            with_bug(
                {
                    let mut c = quiet(version, 2, &[1, 1]);
                    c.graceful_disconnect = true;
                    c
                },
                Bug::WillAfterCleanDisconnect,
            ),
        ];
        // The first of two retained messages on a topic stays: a later subscription gets it.
        bugs.push(with_bug(
            {
                let mut c = with_retained(quiet(version, 2, &[1, 1]), &[]);
                c.unsubscribes = 1;
                c
            },
            Bug::RetainedKept,
        ));
        if version == Version::V5_0 {
            let mut c = quiet(version, 2, &[1, 1]);
            c.receive_maximum = 1;
            bugs.push(with_bug(c, Bug::ReceiveMaximumIgnored));
            // A subscriber back within its will's delay: the will goes out anyway.
            let mut c = one_cut(version, 2, &[1]);
            c.will_delay = 2;
            bugs.push(with_bug(c, Bug::WillNotCancelledOnResume));
        }
        for config in &bugs {
            rejected(config);
        }
    }
}

/// verimqtt's own orders, stronger than MQTT's, are design properties: breaking them is
/// still a broker MQTT allows.
#[test]
fn design_choices_mqtt_leaves_open_are_accepted() {
    for version in VERSIONS {
        refines(&with_bug(one_cut(version, 2, &[2, 1]), Bug::BrokerResendsQos1First));
        let mut by_topic = with_bug(quiet(version, 2, &[1, 1, 1]), Bug::QueuedByTopic);
        by_topic.packet_ids = 1;
        by_topic.topics = vec![1, 1, 0];
        by_topic.subscriptions = vec![vec![verimqtt_model::routing::FilterQos::new(
            verimqtt_model::routing::Filter::Wildcard,
            verimqtt_model::Qos::ExactlyOnce,
        )]];
        refines(&by_topic);
    }
}
