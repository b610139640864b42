//! Random scenarios for property tests, in the shape of the model's configurations: client
//! `c0` publishes to [`TOPIC`], retained or not (perhaps a retained message before anyone
//! subscribes); every other client subscribes to it, at one QoS chosen per
//! scenario so that copies may be downgraded (a single client subscribes and publishes to
//! itself); any client may disconnect (5.0: also with 0x04, asking for its will), a subscriber
//! may unsubscribe once; sessions are chosen per client, while keep
//! alive (at least a tick, as the model needs), wills and the 5.0 session expiry are the
//! same for every client. Cuts are mostly silent, found out through keep alive; some are
//! resets both ends see, or half-open connections only the client sees. Small bounds keep the model's state sets trackable: at most 3
//! clients, 4 messages (and up to 2 more where a publisher goes beyond the Receive Maximum,
//! see [`beyond_the_quota`]) and 3 cuts. [`arb_flow_controlled_scenario`] adds, in 5.0, a Receive
//! Maximum of 1 or 2 that every client and the broker announce, so that flow control binds
//! (such a scenario has no QoS 0 message, see [`without_qos0_messages`]).
//! [`arb_restarting_scenario`] adds a broker restart from its store to a third of them, with
//! wills at QoS 1.

use std::num::NonZeroU16;

use proptest::prelude::*;
use verimqtt_proto::codec::{ProtocolVersion, QoS, ReasonCode, RetainHandling};
use verimqtt_spec::trace::PacketKind;

use super::scenario::{ClientSpec, Injection, PayloadClaim, Scenario, SessionKind, Side, Step, TOPIC};

const MAX_CLIENTS: usize = 3;
const MAX_MESSAGES: usize = 4;
const MAX_CUTS: usize = 3;
const MAX_ACTIONS: usize = 14;
/// Ticks after which every cut connection has been given up: one and a half of the longest
/// keep alive, rounded up.
const DETECT_TICKS: u32 = 5;

fn arb_qos() -> impl Strategy<Value = QoS> {
    prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce), Just(QoS::ExactlyOnce)]
}

fn arb_session() -> impl Strategy<Value = SessionKind> {
    prop_oneof![Just(SessionKind::Clean), Just(SessionKind::Persistent)]
}

/// 5.0: a Receive Maximum small enough to bind (1 or 2, against up to 4 messages), or the
/// defaults.
fn arb_receive_maximum() -> impl Strategy<Value = Option<NonZeroU16>> {
    prop_oneof![Just(None), Just(NonZeroU16::new(1)), Just(NonZeroU16::new(2))]
}

/// The clients: a session kind each, and the keep alive, will (QoS 0) and session expiry they
/// share.
fn arb_clients() -> impl Strategy<Value = Vec<ClientSpec>> {
    let sessions = prop::collection::vec(arb_session(), 1..=MAX_CLIENTS);
    let session_expiry = prop_oneof![Just(u32::MAX), 1u32..=4];
    (sessions, 1u16..=3, any::<bool>(), session_expiry).prop_map(|(sessions, keep_alive, will, session_expiry)| {
        let will = will.then_some(QoS::AtMostOnce);
        sessions.into_iter().map(|session| ClientSpec { session, keep_alive, will, session_expiry }).collect()
    })
}

/// A step after the set-up, for one of `clients` clients of `version`.
fn arb_action(clients: usize, version: ProtocolVersion) -> impl Strategy<Value = Step> {
    let client = 0..clients;
    let subscriber = if clients == 1 { 0..1 } else { 1..clients };
    let packet = prop_oneof![
        Just(PacketKind::Publish),
        Just(PacketKind::Puback),
        Just(PacketKind::Pubrec),
        Just(PacketKind::Pubrel),
        Just(PacketKind::Pubcomp),
    ];
    let receiver = prop_oneof![Just(Side::Client), Just(Side::Broker)];
    prop_oneof![
        4 => (arb_qos(), any::<bool>()).prop_map(|(qos, retain)| Step::publish_with(0, qos, retain)),
        2 => client.clone().prop_map(|client| Step::Cut { client }),
        1 => client.clone().prop_map(|client| Step::Reset { client }),
        1 => client.clone().prop_map(|client| Step::HalfCut { client }),
        2 => (client.clone(), receiver, packet).prop_map(|(client, receiver, packet)| Step::CutAfter { client, receiver, packet }),
        2 => client.clone().prop_map(|client| Step::Connect { client }),
        // 5.0 lets a DISCONNECT ask for the will (0x04).
        1 => (client.clone(), any::<bool>()).prop_map(move |(client, with_will)| {
            if with_will && version == ProtocolVersion::V5 {
                Step::DisconnectWithWill { client }
            } else {
                Step::Disconnect { client }
            }
        }),
        1 => subscriber.prop_map(|client| Step::Unsubscribe { client, filter: TOPIC.to_string() }),
        3 => (1usize..=4).prop_map(Step::Deliver),
        3 => Just(Step::Settle),
        2 => (1u32..=4).prop_map(Step::Advance),
        1 => (1u32..=3).prop_map(Step::Stall),
    ]
}

/// Keeps of `actions` at most [`MAX_MESSAGES`] publishes in all (`published` came before),
/// [`MAX_CUTS`] cuts and one UNSUBSCRIBE, the UNSUBSCRIBE after a settle period (see
/// [`settled_unsubscribe`]).
fn within_bounds(actions: Vec<Step>, published: usize) -> Vec<Step> {
    let (mut messages, mut cuts, mut unsubscribes) = (published, 0, 0);
    let kept = actions
        .into_iter()
        .filter(|step| {
            let (count, max) = match step {
                Step::Publish { .. } => (&mut messages, MAX_MESSAGES),
                Step::Unsubscribe { .. } => (&mut unsubscribes, 1),
                Step::Cut { .. } | Step::Reset { .. } | Step::HalfCut { .. } | Step::CutAfter { .. } => {
                    (&mut cuts, MAX_CUTS)
                }
                _ => return true,
            };
            *count += 1;
            *count <= max
        })
        .collect();
    settled_unsubscribe(kept)
}

/// An UNSUBSCRIBE goes after a settle period. verimqtt's client may send a second UNSUBSCRIBE
/// before the first UNSUBACK, or one between a CONNACK and the QoS 0 message it queued while
/// connecting; the model's client has one request pending and sends what it queued on CONNACK,
/// so such traces would be rejected for the model's abstraction, not for a fault.
fn settled_unsubscribe(actions: Vec<Step>) -> Vec<Step> {
    actions
        .into_iter()
        .flat_map(|step| match step {
            Step::Unsubscribe { .. } => vec![Step::Settle, step],
            other => vec![other],
        })
        .collect()
}

/// The scenario without QoS 0 messages: its publishes made QoS 1, and no wills (drawn at
/// QoS 0). Under flow control verimqtt holds a QoS 0 message behind the QoS 1 and 2 messages
/// a quota holds back (5.0, 4.9 lets a sender at quota 0 suspend QoS 0 too), the client its
/// publishes and the broker its copies; the model sends it at once, so such traces would be
/// rejected for the model's abstraction, not for a fault.
fn without_qos0_messages(mut scenario: Scenario) -> Scenario {
    for client in &mut scenario.clients {
        client.will = None;
    }
    for step in &mut scenario.steps {
        match step {
            Step::Publish { qos: qos @ QoS::AtMostOnce, .. } => *qos = QoS::AtLeastOnce,
            Step::DisconnectWithWill { client } => *step = Step::Disconnect { client: *client },
            _ => {}
        }
    }
    scenario
}

/// A scenario in the model's shape: set-up (everyone connects, the subscribers subscribe),
/// random actions, then the faults stop (armed cuts are disarmed), time runs on until every
/// cut is found out, every client reconnects, and a settle period lets what can finish
/// finish: the checker then requires that nothing is owed.
pub fn arb_scenario() -> impl Strategy<Value = Scenario> {
    let version = prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)];
    let retained_first = prop::option::of(arb_qos());
    (version, arb_clients(), arb_qos(), retained_first).prop_flat_map(|(version, clients, subscription, retained)| {
        let count = clients.len();
        prop::collection::vec(arb_action(count, version), 0..=MAX_ACTIONS).prop_map(move |actions| {
            let subscribers: Vec<usize> = if count == 1 { vec![0] } else { (1..count).collect() };
            let connect = (0..count).map(|client| Step::Connect { client });
            let subscribe = subscribers.iter().map(|&client| Step::subscribe(client, subscription));
            // A retained message published before anyone subscribes goes to each subscriber
            // on its SUBSCRIBE.
            let early = retained.map(|qos| Step::publish_with(0, qos, true));
            Scenario::new(version)
                .steps(connect.clone().chain(early).chain([Step::Settle]))
                .steps(subscribe.chain([Step::Settle]))
                .steps(within_bounds(actions, usize::from(retained.is_some())))
                .steps([Step::Heal, Step::Advance(DETECT_TICKS)])
                .steps(connect.chain([Step::Settle, Step::Advance(2)]))
                .with_clients(clients.clone())
        })
    })
}

/// [`arb_scenario`], and in 5.0 a Receive Maximum of 1 or 2 (a third each) that every client
/// and the broker announce, so that flow control binds; then, in a quarter of the scenarios
/// where the model expresses it, a second SUBSCRIBE of every subscriber right after the
/// first (see [`with_added_subscription`]). Drawn after the scenario, so a seed gives the
/// scenario it gave before (the probe's seeds keep naming the same runs).
pub fn arb_flow_controlled_scenario() -> impl Strategy<Value = Scenario> {
    let added = prop::option::weighted(0.25, (any::<bool>(), arb_qos()));
    (arb_scenario(), arb_receive_maximum(), added).prop_map(|(scenario, receive_maximum, added)| {
        let scenario = match receive_maximum.filter(|_| scenario.version.is_v5()) {
            Some(maximum) => Scenario { receive_maximum: Some(maximum), ..without_qos0_messages(scenario) },
            None => scenario,
        };
        match added {
            Some((replaces, qos)) => with_added_subscription(scenario, replaces, qos),
            None => scenario,
        }
    })
}

/// After the set-up's SUBSCRIBEs have settled, each subscriber sends a second one at `qos`:
/// of the same filter (`replaces`, which replaces the first's QoS [MQTT-3.8.4-3]) or of `#`,
/// which overlaps it. Only where the model expresses it: not with an UNSUBSCRIBE (the
/// model's drops every filter, the scenario's names one) nor with 5.0 session expiry.
fn with_added_subscription(mut scenario: Scenario, replaces: bool, qos: QoS) -> Scenario {
    let unsubscribes = scenario.steps.iter().any(|step| matches!(step, Step::Unsubscribe { .. }));
    let expires = scenario.version.is_v5()
        && scenario.clients.iter().any(|c| c.session == SessionKind::Persistent && c.session_expiry != u32::MAX);
    let subscribed = scenario.steps.iter().position(|step| matches!(step, Step::Subscribe { .. }));
    let Some(first) = subscribed.filter(|_| !unsubscribes && !expires) else {
        return scenario;
    };
    let subscribes = scenario.steps[first..].iter().take_while(|step| matches!(step, Step::Subscribe { .. })).count();
    let filter = if replaces { TOPIC.to_string() } else { "#".to_string() };
    // A SUBSCRIBE that repeats the first is no second one (the model's client sends none).
    let added: Vec<Step> = scenario.steps[first..first + subscribes]
        .iter()
        .filter_map(|step| match step {
            Step::Subscribe { client, filter: first, qos: first_qos, .. } if (first, *first_qos) != (&filter, qos) => {
                Some(Step::subscribe_to(*client, &filter, qos))
            }
            _ => None,
        })
        .collect();
    if added.is_empty() {
        return scenario;
    }
    // The set-up's SUBSCRIBEs are followed by a settle period; the second ones go after it.
    let at = first + subscribes + 1;
    scenario.steps.splice(at..at, added.into_iter().chain([Step::Settle]));
    scenario
}

/// [`arb_flow_controlled_scenario`], and in a third of them (bar those with a second SUBSCRIBE,
/// which the model does not combine with restarts) one broker restart from its store
/// ([`Step::Restart`]) somewhere among the random actions, with wills at QoS 1 (see
/// [`with_wills_at`]). Drawn after the scenario, so a seed gives the scenario it gave before,
/// bar the restart and its wills' QoS (which draws nothing). Such a scenario's sessions never expire:
/// `MemoryStore` gives sessions back as if no time had passed since each was written, so the
/// expiry of a session offline at the restart would start again there, where verimqtt's file
/// store and the model count on from when the session went offline.
///
/// Then, drawn last for the same reason, half of the 5.0 scenarios that publish a retained
/// message subscribe with a Retain Handling and a Retain As Published of their own (see
/// [`with_retain_options`]).
pub fn arb_restarting_scenario() -> impl Strategy<Value = Scenario> {
    let restart = prop::option::weighted(1.0 / 3.0, any::<prop::sample::Index>());
    let retain_options = prop::option::weighted(0.5, (arb_retain_handling(), any::<bool>()));
    (arb_flow_controlled_scenario(), restart, retain_options).prop_map(|(scenario, restart, retain_options)| {
        let scenario = match restart {
            Some(at) if !subscribes_twice(&scenario) => with_wills_at(with_restart(scenario, at), QoS::AtLeastOnce),
            _ => scenario,
        };
        match retain_options {
            Some(options) => with_retain_options(scenario, options),
            None => scenario,
        }
    })
}

/// [`arb_restarting_scenario`], and in 5.0: in a quarter of them, one publish at QoS 0 or 1
/// whose Payload Format Indicator says its payload is UTF-8, truly, or (half of them) falsely,
/// which the broker refuses (section 3.3.2.3.2: verimqtt answers PUBACK 0x99 and routes
/// nothing); and in half of them, clients that send Topic Aliases, which the broker must
/// resolve. Then, in 5.0, a quarter of them get the same for one of their QoS 2 publishes
/// (a false claim refused with PUBREC 0x99, which ends the flow: no PUBREL); in both
/// versions a quarter of them a hostile PUBREC (see [`with_hostile_pubrec`]); in half of the
/// 5.0 ones with a Receive Maximum, a publisher that goes beyond it ([`beyond_the_quota`]);
/// and in half of those with a Receive Maximum of 2, a broker that limits itself to 1 flight
/// per session ([`with_lower_broker_limit`]). Drawn after the scenario, each after the one
/// before, so a seed gives the scenario it gave before.
pub fn arb_hostile_scenario() -> impl Strategy<Value = Scenario> {
    let claim = || prop_oneof![Just(PayloadClaim::Utf8), Just(PayloadClaim::FalselyUtf8)];
    let claimed = prop::option::weighted(0.25, (any::<prop::sample::Index>(), claim()));
    let qos2_claimed = prop::option::weighted(0.25, (any::<prop::sample::Index>(), claim()));
    let hostile_pubrec = prop::option::weighted(0.25, (any::<prop::sample::Index>(), 0..MAX_CLIENTS, any::<bool>()));
    let strategy =
        (arb_restarting_scenario(), claimed, any::<bool>(), qos2_claimed, hostile_pubrec, any::<bool>(), any::<bool>());
    strategy.prop_map(|(scenario, claimed, topic_aliases, qos2_claimed, hostile_pubrec, overrun, lower_limit)| {
        let scenario = if scenario.version.is_v5() {
            let scenario = Scenario { topic_aliases, ..scenario };
            let scenario = with_payload_claim(scenario, claimed, &[QoS::AtMostOnce, QoS::AtLeastOnce]);
            with_payload_claim(scenario, qos2_claimed, &[QoS::ExactlyOnce])
        } else {
            scenario
        };
        let scenario = match hostile_pubrec {
            Some((at, client, refusing)) => with_hostile_pubrec(scenario, at, client, refusing),
            None => scenario,
        };
        let scenario = if overrun { beyond_the_quota(scenario) } else { scenario };
        if lower_limit { with_lower_broker_limit(scenario) } else { scenario }
    })
}

/// In 5.0 with a Receive Maximum, after the scenario's settle period: the publisher `c0`
/// publishes as many QoS 2 messages as the Receive Maximum allows, and the simulator, playing
/// a hostile client, writes a QoS 1 PUBLISH right behind them on its connection, one beyond
/// the broker's Receive Maximum ([MQTT-3.3.4-7]), which verimqtt's broker answers with
/// DISCONNECT 0x93 (5.0 section 3.3.4) once it has read the QoS 2 ones, whose PUBRELs then
/// never reach it. The publisher connects again; a persistent one's QoS 2 messages still await
/// their PUBRELs at the broker, so a QoS 2 PUBLISH written right behind its CONNECT is beyond
/// the Receive Maximum too (verimqtt counts the messages awaiting PUBREL across connections),
/// and it connects a third time (its sessions then never expire: the model does not combine
/// expiry with it). A settle period follows.
pub(super) fn beyond_the_quota(mut scenario: Scenario) -> Scenario {
    let Some(maximum) = scenario.announced_receive_maximum() else {
        return scenario;
    };
    let beyond = |qos| Step::Inject { client: 0, packet: Injection::Publish { qos } };
    scenario.steps.extend((0..maximum.get()).map(|_| Step::publish(0, QoS::ExactlyOnce)));
    scenario.steps.extend([beyond(QoS::AtLeastOnce), Step::Settle, Step::Connect { client: 0 }]);
    if scenario.clients[0].session == SessionKind::Persistent {
        scenario.steps.extend([beyond(QoS::ExactlyOnce), Step::Settle, Step::Connect { client: 0 }]);
        for client in &mut scenario.clients {
            client.session_expiry = u32::MAX;
        }
    }
    scenario.steps.extend([Step::Settle, Step::Advance(2)]);
    scenario
}

/// `scenario`, if its Receive Maximum is 2, with a broker that keeps at most 1 flight per
/// session of its own accord: its own limit binds alone, which only a trace that carries it
/// lets the checker hold it to (a broker that counted its flights wrongly against its own
/// limit, and sent a second, would still be within the Receive Maximum).
fn with_lower_broker_limit(scenario: Scenario) -> Scenario {
    match scenario.receive_maximum {
        Some(maximum) if maximum.get() == 2 => Scenario { broker_max_inflight: NonZeroU16::new(1), ..scenario },
        _ => scenario,
    }
}

/// `scenario` with a PUBREC written on the connection of client `client` (modulo the
/// clients) at `at` among the places between the set-up and the healing (see
/// [`among_the_actions`]), for an id no flight uses ([`Step::hostile_pubrec`]): accepting
/// (0x00), or in 5.0 if `refusing`, refusing (0x80 Unspecified error). verimqtt's broker
/// answers the first with PUBREL (5.0: 0x92 Packet Identifier not found) and the second with
/// nothing.
fn with_hostile_pubrec(mut scenario: Scenario, at: prop::sample::Index, client: usize, refusing: bool) -> Scenario {
    let client = client % scenario.clients.len();
    let code = if refusing && scenario.version.is_v5() { ReasonCode::UnspecifiedError } else { ReasonCode::Success };
    let place = among_the_actions(&scenario, at);
    scenario.steps.insert(place, Step::hostile_pubrec(client, code));
    scenario
}

/// `scenario` with, if `claimed` says so, the publish at its index among the publishes at
/// one of `levels` (if it has any) making its claim of its payload.
fn with_payload_claim(
    mut scenario: Scenario,
    claimed: Option<(prop::sample::Index, PayloadClaim)>,
    levels: &[QoS],
) -> Scenario {
    let Some((at, claim)) = claimed else { return scenario };
    let mut publishes: Vec<&mut PayloadClaim> = scenario
        .steps
        .iter_mut()
        .filter_map(|step| match step {
            Step::Publish { qos, claim, .. } if levels.contains(qos) => Some(claim),
            _ => None,
        })
        .collect();
    if !publishes.is_empty() {
        let index = at.index(publishes.len());
        *publishes[index] = claim;
    }
    scenario
}

fn arb_retain_handling() -> impl Strategy<Value = RetainHandling> {
    prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendIfNewSubscription),
        Just(RetainHandling::DoNotSend)
    ]
}

/// In 5.0, where a retained message is published, every SUBSCRIBE of `scenario` (the first,
/// a second that adds or replaces, one again after an UNSUBSCRIBE) asks for Retain Handling
/// `handling` and Retain As Published `as_published`. 3.1.1 has no such options.
fn with_retain_options(mut scenario: Scenario, (handling, as_published): (RetainHandling, bool)) -> Scenario {
    let retained = scenario.steps.iter().any(|step| matches!(step, Step::Publish { retain: true, .. }));
    if !scenario.version.is_v5() || !retained {
        return scenario;
    }
    for step in &mut scenario.steps {
        if let Step::Subscribe { retain_handling, retain_as_published, .. } = step {
            (*retain_handling, *retain_as_published) = (handling, as_published);
        }
    }
    scenario
}

/// `scenario` with every will at `qos`. A QoS 1 will is queued for an offline persistent
/// subscriber, so it shows what a restart does with the will of a connection it ends: a
/// persistent session's is stored with the session and published after the restart, a clean
/// session's is lost with the session (not stored). A QoS 0 will, finding no connection just
/// after a restart, shows neither.
fn with_wills_at(mut scenario: Scenario, qos: QoS) -> Scenario {
    for will in scenario.clients.iter_mut().filter_map(|client| client.will.as_mut()) {
        *will = qos;
    }
    scenario
}

/// Whether a client of `scenario` sends a second SUBSCRIBE: the model does not combine a
/// SUBSCRIBE that adds a filter with restarts, so such a scenario does not restart.
fn subscribes_twice(scenario: &Scenario) -> bool {
    (0..scenario.clients.len()).any(|client| {
        scenario.steps.iter().filter(|step| matches!(step, Step::Subscribe { client: c, .. } if *c == client)).count()
            > 1
    })
}

/// `scenario` with a restart after its set-up and before its faults heal, at `at` among the
/// places in between (see [`among_the_actions`]); its sessions never expire.
fn with_restart(mut scenario: Scenario, at: prop::sample::Index) -> Scenario {
    let place = among_the_actions(&scenario, at);
    scenario.steps.insert(place, Step::Restart);
    for client in &mut scenario.clients {
        client.session_expiry = u32::MAX;
    }
    scenario
}

/// The place `at` among those after the set-up of `scenario` (its second settle period) and
/// before its faults heal, where a step can go among the random actions.
fn among_the_actions(scenario: &Scenario, at: prop::sample::Index) -> usize {
    let settles = scenario.steps.iter().enumerate().filter(|(_, step)| **step == Step::Settle);
    let set_up = settles.map(|(index, _)| index + 1).nth(1).unwrap_or(0);
    let heal = scenario.steps.iter().position(|step| *step == Step::Heal).unwrap_or(scenario.steps.len());
    set_up + at.index(heal - set_up + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_clients(steps: Vec<Step>) -> Scenario {
        let clean = ClientSpec::new(SessionKind::Clean);
        Scenario::new(ProtocolVersion::V5).client(clean.clone()).client(clean).steps(steps)
    }

    #[test]
    fn a_second_subscribe_follows_the_settled_first_where_the_model_expresses_it() {
        let steps = vec![
            Step::Connect { client: 1 },
            Step::Settle,
            Step::subscribe(1, QoS::AtLeastOnce),
            Step::Settle,
            Step::publish(0, QoS::ExactlyOnce),
        ];
        let added = with_added_subscription(two_clients(steps.clone()), false, QoS::ExactlyOnce);
        let second = Step::subscribe_to(1, "#", QoS::ExactlyOnce);
        assert_eq!(added.steps[4..6], [second, Step::Settle]);
        let repeat = with_added_subscription(two_clients(steps.clone()), true, QoS::AtLeastOnce);
        assert_eq!(repeat.steps, steps, "a repeat of the first is no second SUBSCRIBE");
        let mut unsubscribed = steps;
        unsubscribed.push(Step::Unsubscribe { client: 1, filter: TOPIC.to_string() });
        let kept = with_added_subscription(two_clients(unsubscribed.clone()), false, QoS::ExactlyOnce);
        assert_eq!(kept.steps, unsubscribed, "not with an UNSUBSCRIBE");
    }
}
