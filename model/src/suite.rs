//! The configurations `cargo test` checks exhaustively, per version.
//!
//! They live in the library so that the trace checker can show that every option it turns on
//! is checked exhaustively here in at least one configuration (`traces/tests/options.rs`).

use crate::config::{Config, Expiry, Qos, ResendOrder, SessionKind, Version};
use crate::routing::{Filter, FilterQos, RetainHandling, RetainOptions};
use SessionKind::{Clean, Persistent};

/// A configuration in the command line's vocabulary: QoS levels and session kinds are given per
/// message and per client, cycled.
pub fn configuration(version: Version, clients: usize, qos: &[u8], sessions: &[SessionKind]) -> Config {
    let mut config = Config::new(version, clients, qos.len());
    config.messages = qos.iter().filter_map(|&q| Qos::from_level(q)).collect();
    config.sessions = sessions.iter().copied().cycle().take(clients).collect();
    config
}

pub fn with_cuts(mut config: Config, cuts: u8) -> Config {
    config.cuts = cuts;
    config
}

pub fn with_expiry(mut config: Config, ticks: u8) -> Config {
    config.session_expiry = Expiry::AfterTicks(ticks);
    config
}

/// Up to `restarts` broker restarts, from a durable store or not.
pub fn with_restarts(mut config: Config, restarts: u8, durable: bool) -> Config {
    config.restarts = restarts;
    config.durable = durable;
    config
}

/// The broker announces Receive Maximum 1, and a hostile client may write one PUBLISH beyond
/// it (5.0, see [`crate::quota`]).
pub fn with_beyond_quota(mut config: Config) -> Config {
    config.broker_receive_maximum = 1;
    config.beyond_quota = 1;
    config
}

/// Routing on two topics: message `n` goes on `topics[n]` (cycled), the first subscriber
/// subscribes to both topics with a wildcard at QoS 1 and to topic 0 at QoS 2 (overlapping),
/// the second to topic 1 at QoS 0 (downgrade; topic 0 matches none of its filters).
pub fn with_routing(mut config: Config, topics: &[u8]) -> Config {
    let filter = |filter, qos| FilterQos::new(filter, qos);
    config.topics = topics.to_vec();
    config.subscriptions = vec![
        vec![filter(Filter::Wildcard, Qos::AtLeastOnce), filter(Filter::Topic(0), Qos::ExactlyOnce)],
        vec![filter(Filter::Topic(1), Qos::AtMostOnce)],
    ];
    config
}

/// A second SUBSCRIBE that adds a filter: every subscriber first subscribes to both topics
/// with a wildcard at QoS 1, then adds topic 0 at QoS 2, which overlaps the wildcard and raises
/// the QoS of the copies on topic 0 from then on. Messages go on `topics[n]` (cycled).
pub fn with_added_subscription(mut config: Config, topics: &[u8]) -> Config {
    config.topics = topics.to_vec();
    config.subscriptions = vec![vec![FilterQos::new(Filter::Wildcard, Qos::AtLeastOnce)]];
    config.added_subscriptions = vec![vec![FilterQos::new(Filter::Topic(0), Qos::ExactlyOnce)]];
    config
}

/// `filter` at `qos` with Retain Handling `handling` and Retain As Published `as_published`.
pub fn with_retain_options(filter: Filter, qos: Qos, handling: RetainHandling, as_published: bool) -> FilterQos {
    FilterQos { retain: RetainOptions { handling, as_published }, ..FilterQos::new(filter, qos) }
}

/// The 5.0 retain options, for a subscriber that unsubscribes once and subscribes again:
/// every message is published retained, on `topics[n]` (cycled); the first SUBSCRIBE asks
/// for both topics with a wildcard at QoS 1 and for topic 1 at QoS 0 with Retain Handling 2
/// (never any retained message); the second replaces the wildcard with one at QoS 2. Both
/// wildcards have Retain Handling 1 and Retain As Published: the first's gets the retained
/// messages (after the UNSUBSCRIBE, when there are some), the second's never (the session
/// always has the first's), and forwarded copies keep their RETAIN=1.
pub fn with_retain_handling(config: Config, topics: &[u8]) -> Config {
    let mut config = with_retained(config, &[]);
    config.topics = topics.to_vec();
    config.subscriptions = vec![vec![
        with_retain_options(Filter::Wildcard, Qos::AtLeastOnce, RetainHandling::IfNew, true),
        with_retain_options(Filter::Topic(1), Qos::AtMostOnce, RetainHandling::Never, false),
    ]];
    config.added_subscriptions =
        vec![vec![with_retain_options(Filter::Wildcard, Qos::ExactlyOnce, RetainHandling::IfNew, true)]];
    config.unsubscribes = 1;
    config
}

/// Clients reconnect at once and everything owed must be delivered within the model's bound
/// after the last fault (see [`Config::response_bound`]).
pub fn with_bounded_response(mut config: Config) -> Config {
    config.bounded_response = Some(config.response_bound());
    config
}

/// Every message is published retained; those in `empty` have an empty payload.
pub fn with_retained(mut config: Config, empty: &[u8]) -> Config {
    config.retained = (0..config.messages.len() as u8).collect();
    config.empty = empty.iter().copied().collect();
    config
}

/// What the trace checker turns on besides paced applications: cuts reported to the client
/// (and to the broker or not), timeouts for CONNACK and for CONNECT, and verimqtt's resend
/// orders.
pub fn as_the_trace_checker_runs(mut config: Config) -> Config {
    config.paced_application = true;
    config.reported_cuts = true;
    config.connack_timeout = Some(2);
    config.broker_connect_timeout = Some(2);
    config.client_resend_order = ResendOrder::LastStep;
    config.broker_resend_order = ResendOrder::LastStep;
    config
}

/// The configurations `cargo test` checks exhaustively for `version`.
pub fn exhaustive_configurations(version: Version) -> Vec<Config> {
    let mut configs = vec![
        // One client publishing to itself through two cuts.
        with_cuts(configuration(version, 1, &[1, 2, 0], &[Persistent]), 2),
        // Publisher and subscriber, persistent, three cuts.
        with_cuts(configuration(version, 2, &[1, 2, 0], &[Persistent]), 3),
        // A clean subscriber, and a publisher that disconnects gracefully.
        {
            let mut c = configuration(version, 2, &[1, 2, 0], &[Persistent, Clean]);
            c.graceful_disconnect = true;
            with_cuts(c, 2)
        },
        // Clean sessions everywhere.
        with_cuts(configuration(version, 2, &[2, 1], &[Clean]), 2),
        // One packet id and Receive Maximum 1: queueing, id reuse, flow control.
        {
            let mut c = configuration(version, 2, &[2, 2, 1], &[Persistent]);
            c.packet_ids = 1;
            c.receive_maximum = 1;
            c.broker_receive_maximum = 1;
            c
        },
        // Two subscribers.
        configuration(version, 3, &[1, 2], &[Persistent]),
        // Four messages through two cuts.
        with_cuts(configuration(version, 2, &[1, 2, 0, 1], &[Persistent]), 2),
        // The trace checker's options, with a subscriber that has no will.
        {
            let mut c = as_the_trace_checker_runs(with_cuts(configuration(version, 2, &[2, 1], &[Persistent]), 1));
            c.without_will = [1].into_iter().collect();
            c
        },
        // The trace checker's options on a network that holds packets while time passes (one
        // client: with two, the stalls multiply the states past what a test can afford).
        {
            let mut c = as_the_trace_checker_runs(with_cuts(configuration(version, 1, &[2], &[Persistent]), 1));
            c.slow_network = true;
            c
        },
    ];
    // Two QoS 1 then two QoS 2 messages, each pair in flight together, so two PUBACKs, two
    // PUBRECs and two PUBRELs can travel at once (the acknowledgement order), with a cut.
    configs.push(with_cuts(configuration(version, 2, &[1, 1, 2, 2], &[Persistent]), 1));
    // A hostile client writes a PUBREC for an id no flight of the broker uses (5.0:
    // accepting or refusing) at any time, around a QoS 2 message, with a cut. (Two PUBRECs
    // with the trace checker's options: 17,100,660 unique states in 3.1.1, 28,247,819 in 5.0.)
    {
        let mut c = with_cuts(configuration(version, 2, &[2], &[Persistent]), 1);
        c.hostile_pubrecs = 1;
        configs.push(c);
    }
    // Bounded response on the clock, through two cuts, and through a restart from a durable
    // store with a cut.
    configs.push(with_bounded_response(with_cuts(configuration(version, 2, &[1, 2, 0], &[Persistent]), 2)));
    configs.push(with_bounded_response(with_restarts(
        with_cuts(configuration(version, 2, &[1, 2], &[Persistent]), 1),
        1,
        true,
    )));
    // Routing to two subscribers (overlapping, downgraded and non-matching subscriptions), with
    // a cut.
    configs.push(with_routing(with_cuts(configuration(version, 3, &[2, 1], &[Persistent]), 1), &[0, 1]));
    // Two publishers and two subscribers on two topics.
    {
        let mut c = with_routing(with_cuts(configuration(version, 4, &[2, 1], &[Persistent]), 0), &[0, 1]);
        c.publishers = 2;
        configs.push(c);
    }
    // A subscriber that adds a filter with a second SUBSCRIBE, unsubscribes once and subscribes
    // again, with a cut: copies routed before the second SUBACK keep their QoS.
    {
        let mut c = with_added_subscription(with_cuts(configuration(version, 2, &[2, 2], &[Persistent]), 1), &[0, 1]);
        c.unsubscribes = 1;
        configs.push(c);
    }
    // Either client disconnects when it likes, once (5.0: with reason 0x00 or 0x04), a
    // persistent publisher and a clean subscriber. (Twice: 266,508 unique states in 5.0.)
    {
        let mut c = with_cuts(configuration(version, 2, &[1, 2], &[Persistent, Clean]), 0);
        c.disconnects = 1;
        c.disconnect_with_will = true;
        configs.push(c);
    }
    // The subscriber unsubscribes once, whenever it likes, and subscribes again.
    {
        let mut c = with_cuts(configuration(version, 2, &[1, 2, 1], &[Persistent]), 0);
        c.unsubscribes = 1;
        configs.push(c);
    }
    // Retained messages on two topics, the one on topic 0 replaced and then deleted by an empty
    // one, for a clean subscriber with overlapping filters that subscribes again after each
    // connection, and a cut.
    configs.push(with_retained(
        with_routing(with_cuts(configuration(version, 2, &[2, 1, 0], &[Persistent, Clean]), 1), &[0, 1, 0]),
        &[2],
    ));
    // A client that gives up within a keep alive of silence, so the keep alive duty applies.
    {
        let mut c = with_cuts(configuration(version, 2, &[1, 2], &[Persistent]), 1);
        c.abort_after = c.keep_alive;
        configs.push(c);
    }
    // Wills at QoS 1, queued for a subscriber that is away.
    {
        let mut c = with_cuts(configuration(version, 2, &[1, 2], &[Persistent]), 2);
        c.will_qos = Qos::AtLeastOnce;
        configs.push(c);
    }
    // Broker restarts without a store: every session is lost.
    configs.push(with_restarts(with_cuts(configuration(version, 2, &[1, 2, 0], &[Persistent]), 1), 1, false));
    // Restarts from a durable store: one with a cut, two in a row, and one with a clean
    // subscriber, whose session is not stored. (Two restarts and a cut, or three clients, are
    // left to the command line: see README.)
    configs.push(with_restarts(with_cuts(configuration(version, 2, &[1, 2], &[Persistent]), 1), 1, true));
    configs.push(with_restarts(with_cuts(configuration(version, 2, &[1, 2], &[Persistent]), 0), 2, true));
    configs.push(with_restarts(with_cuts(configuration(version, 2, &[1, 2], &[Persistent, Clean]), 1), 1, true));
    // A restart from a durable store with retained messages (the second deletes the first's
    // topic's) and an UNSUBSCRIBE: the store keeps the retained messages, and a restart rolls
    // back a subscription change not yet committed.
    {
        let restarted = with_restarts(with_cuts(configuration(version, 2, &[1, 2], &[Persistent]), 0), 1, true);
        let mut c = with_retained(restarted, &[1]);
        c.unsubscribes = 1;
        configs.push(c);
    }
    // A clean client publishes a retained QoS 1 message to itself; the retained change holds
    // the PUBACK for the store, the connection is cut, the client gives the message up with its
    // session, and the broker restarts before the commit: the message is abandoned, not owed
    // (the trace checker found it on a generated trace).
    {
        let clean = with_cuts(configuration(version, 1, &[1], &[Clean]), 1);
        configs.push(as_the_trace_checker_runs(with_retained(with_restarts(clean, 1, true), &[])));
    }
    if version == Version::V5_0 {
        // The broker announces Receive Maximum 1 in its CONNACK and the clients 2 in their
        // CONNECTs: each sender's quota is the one its peer announced.
        let mut announced = with_cuts(configuration(version, 2, &[1, 2, 1], &[Persistent]), 1);
        announced.broker_receive_maximum = 1;
        configs.push(announced);
        // A QoS 0 and a QoS 1 message whose payloads are not the UTF-8 they claim, refused
        // (never routed; the QoS 1 one acknowledged with 0x99) between two that are routed,
        // with a cut.
        let mut refused = with_cuts(configuration(version, 2, &[1, 0, 1, 1], &[Persistent]), 1);
        refused.invalid_payloads = [1, 2].into_iter().collect();
        configs.push(refused);
        // A publisher to itself, under the broker's Receive Maximum of 1, whose hostile side
        // writes one PUBLISH beyond it: at QoS 1 or 2 behind its QoS 2 message, or at QoS 2
        // on a new connection (after a cut) while that message still awaits PUBREL. The broker
        // closes with 0x93 and takes nothing of it.
        configs.push(with_beyond_quota(with_cuts(configuration(version, 1, &[2, 1], &[Persistent]), 1)));
        // A QoS 2 message whose payload is not the UTF-8 it claims, refused with PUBREC 0x99
        // (no PUBREL follows, its id is free again), between two that are routed, with a cut.
        let mut refused = with_cuts(configuration(version, 2, &[2, 2, 2], &[Persistent]), 1);
        refused.invalid_payloads = [1].into_iter().collect();
        configs.push(refused);
        // Sessions that expire while their client is away.
        configs.push(with_expiry(with_cuts(configuration(version, 2, &[1, 2, 0], &[Persistent]), 2), 1));
        // Wills that wait out a delay (the first at QoS 1): cancelled by a resumed session,
        // published when the session expires before the delay passes, or (the clean subscriber's session aside)
        // once the delay passes.
        let mut delayed = with_expiry(with_cuts(configuration(version, 2, &[1, 2], &[Persistent]), 2), 1);
        delayed.will_delay = 2;
        delayed.will_qos = Qos::AtLeastOnce;
        configs.push(delayed);
        let mut delayed = with_cuts(configuration(version, 2, &[1, 2], &[Persistent, Clean]), 2);
        delayed.will_delay = 2;
        configs.push(delayed);
        // Sessions that expire, across a restart from a durable store: a session offline at the
        // restart expires on its clock, one whose connection the restart ended from the restart.
        configs.push(with_expiry(
            with_restarts(with_cuts(configuration(version, 2, &[1, 2], &[Persistent]), 1), 1, true),
            1,
        ));
        // Wills at QoS 1 with a delay across a restart from a durable store: one waiting when
        // the broker restarts waits on; one of a connection the restart ends waits from it.
        let mut restarted = with_restarts(with_cuts(configuration(version, 2, &[1], &[Persistent]), 1), 1, true);
        restarted.will_delay = 2;
        restarted.will_qos = Qos::AtLeastOnce;
        configs.push(restarted);
        // Retain Handling 0, 1 and 2 and Retain As Published on two topics, for a subscriber
        // that unsubscribes once and subscribes again (see `with_retain_handling`).
        configs.push(with_retain_handling(with_cuts(configuration(version, 2, &[1, 2], &[Persistent]), 0), &[0, 1]));
    }
    configs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configuration_is_valid() {
        for version in [Version::V3_1_1, Version::V5_0] {
            for config in exhaustive_configurations(version) {
                assert_eq!(config.validate(), Ok(()), "{config}");
            }
        }
    }
}
