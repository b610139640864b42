//! What a run of the model looks like: protocol version, clients, their scripts, timing, faults.
//!
//! Clients `0..publishers` publish (by default only client 0): message `n` is published by
//! client `n % publishers`, on topic `topics[n]` (cycled; by default every message on topic 0),
//! each publisher's messages in order. Every other client subscribes, with the filters
//! `subscriptions` gives it (cycled over the subscribers; by default the one topic at QoS 2,
//! which also matches the wills), and then, if `added_subscriptions` gives it any, adds
//! filters with a second SUBSCRIBE. With a single client, it subscribes and then publishes to
//! itself.

use crate::bits::Bits;
use crate::bugs::Bug;
use crate::packet::{Message, PacketId};
use crate::routing::{self, Filter, FilterQos, RetainHandling, RetainOptions, Subscribed, TOPICS, WILL_TOPIC};
use std::collections::BTreeSet;
use std::fmt;

/// The protocol version every client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    V3_1_1,
    V5_0,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V3_1_1 => "3.1.1",
            Version::V5_0 => "5.0",
        })
    }
}

/// The most clients a configuration has (the state keeps per-client data inline).
pub const MAX_CLIENTS: usize = 4;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Qos {
    #[default]
    AtMostOnce,
    AtLeastOnce,
    ExactlyOnce,
}

impl Qos {
    pub fn from_level(level: u8) -> Option<Qos> {
        match level {
            0 => Some(Qos::AtMostOnce),
            1 => Some(Qos::AtLeastOnce),
            2 => Some(Qos::ExactlyOnce),
            _ => None,
        }
    }

    pub fn level(self) -> u8 {
        self as u8
    }
}

/// Whether a client's session outlives its network connection.
///
/// 3.1.1: CleanSession=1 / CleanSession=0. 5.0: Clean Start=1 with Session Expiry Interval 0 /
/// Clean Start=0 with a non-zero Session Expiry Interval (see [`Config::session_expiry`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKind {
    Clean,
    Persistent,
}

/// How long (5.0) the broker keeps a persistent session once its connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expiry {
    Never,
    AfterTicks(u8),
}

/// The order in which a sender resends its unfinished flights on a resumed session. MQTT fixes
/// the order of the PUBLISHes among themselves [MQTT-4.6.0-1] and of the PUBRELs among
/// themselves [MQTT-4.6.0-4], not how the two interleave, so each is a correct choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResendOrder {
    /// Every flight in the order of its first transmission.
    FirstTransmission,
    /// Every flight in the order of its last step: a flight moves behind the others when its
    /// PUBREC arrives (verimqtt's client).
    LastStep,
    /// Every PUBREL first, then every PUBLISH, each in the order of first transmission
    /// (verimqtt's broker).
    ReleasesFirst,
}

/// One thing the publisher's application does, in script order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScriptStep {
    /// Publish application message `n` (its QoS is `Config::messages[n]`).
    Publish(u8),
    /// Send DISCONNECT and close the connection; the client reconnects afterwards.
    Disconnect,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    pub version: Version,
    /// Number of clients, 1 to 3.
    pub clients: usize,
    /// The QoS of each application message the publisher sends, in publish order.
    pub messages: Vec<Qos>,
    /// Session kind per client.
    pub sessions: Vec<SessionKind>,
    /// 5.0 only: expiry of persistent sessions. 3.1.1 sessions never expire.
    pub session_expiry: Expiry,
    /// 5.0 only: Receive Maximum every client announces in its CONNECT.
    pub receive_maximum: u8,
    /// 5.0 only: Receive Maximum the broker announces in its CONNACK.
    pub broker_receive_maximum: u8,
    /// Packet ids available to each sender (1..=packet_ids), so allocation and reuse happen.
    pub packet_ids: u8,
    /// Keep Alive, in ticks.
    pub keep_alive: u8,
    /// Ticks without receiving anything (CONNACK included) after which a client gives up on
    /// its connection.
    pub abort_after: u8,
    /// Ticks a connecting client waits for CONNACK before giving up; `None`: `abort_after`.
    pub connack_timeout: Option<u8>,
    /// Ticks the broker waits for CONNECT on a connection it accepted before closing it;
    /// `None`: it forgets a connection whose client left before its CONNECT arrived.
    pub broker_connect_timeout: Option<u8>,
    /// Number of network cuts the environment may inject.
    pub cuts: u8,
    /// Besides silent cuts (each end finds out through keep alive), cuts may be reported: the
    /// client's end hears its connection is lost, and the broker's too or not (a reset seen by
    /// both, or a half-open connection). The trace checker uses them, as verimqtt's simulator
    /// cuts that way.
    pub reported_cuts: bool,
    /// Packets may stay in transit while time passes (a congested or stalled network).
    /// Otherwise a packet arrives within the tick it was sent, so a healthy connection never
    /// times out. The trace checker uses it: verimqtt's simulator stalls the network.
    pub slow_network: bool,
    /// The publisher disconnects gracefully (and reconnects) after its first publish.
    pub graceful_disconnect: bool,
    /// Every client connects with a will message (except those in `without_will`).
    pub will: bool,
    /// Clients that connect without a will even when `will` is set.
    pub without_will: Bits,
    /// The applications take their steps when they like: time may pass before the next one.
    /// Otherwise an application acts as soon as it can, which keeps the state space small.
    pub paced_application: bool,
    pub client_resend_order: ResendOrder,
    pub broker_resend_order: ResendOrder,
    /// A classic bug seeded into the model, to show a property can fail.
    pub bug: Option<Bug>,
    /// Broker restarts the environment may inject: the broker process dies and starts again.
    /// Every connection ends (the operating system closes its sockets, so each client reads
    /// the end of its connection) and the broker's state is lost, unless `durable`.
    pub restarts: u8,
    /// The broker keeps a store that survives a restart, as verimqtt's persistence does (see
    /// [`crate::store`]): persistent sessions as of the store's last commit.
    pub durable: bool,
    /// 5.0 only: the Will Delay Interval of every will, in ticks (0: published at once).
    pub will_delay: u8,
    /// The QoS of every will: 0, or 1 (routed like a QoS 1 message, queued for offline
    /// persistent subscribers). A will at QoS 1 is message `messages.len() + client` in the
    /// sessions' queues (see [`Config::will_message`]).
    pub will_qos: Qos,
    /// Clients `0..publishers` publish; message `n` is client `n % publishers`'s.
    pub publishers: usize,
    /// The topic of each message, cycled over the messages.
    pub topics: Vec<u8>,
    /// The filters each subscriber subscribes to, cycled over the subscribers.
    pub subscriptions: Vec<Vec<FilterQos>>,
    /// The filters each subscriber adds with a second SUBSCRIBE once its first is granted,
    /// cycled over the subscribers (an empty list: that subscriber sends none). Empty by
    /// default: nobody sends a second SUBSCRIBE.
    pub added_subscriptions: Vec<Vec<FilterQos>>,
    /// DISCONNECTs the clients may send, each by any client at any time it is connected,
    /// besides the publisher's scripted one (`graceful_disconnect`).
    pub disconnects: u8,
    /// 5.0: such a DISCONNECT may also carry reason 0x04, Disconnect with Will Message.
    pub disconnect_with_will: bool,
    /// UNSUBSCRIBEs the subscribers may send, each by any subscriber with an active
    /// subscription at any time (it subscribes again afterwards, at once unless paced).
    pub unsubscribes: u8,
    /// Messages published with RETAIN=1 (see [`crate::retained`]).
    pub retained: Bits,
    /// Retained messages with an empty payload: they delete their topic's retained message.
    pub empty: Bits,
    /// 5.0: messages whose payload is not the UTF-8 their Payload Format Indicator says. The
    /// broker refuses them (section 3.3.2.3.2 lets a receiver check the payload and answer
    /// 0x99 Payload format invalid): it routes and retains nothing, and acknowledges a QoS 1
    /// one with PUBACK 0x99 and a QoS 2 one with PUBREC 0x99, which ends its flow (no PUBREL,
    /// no id kept), as verimqtt does.
    pub invalid_payloads: Bits,
    /// 5.0: PUBLISHes a hostile client may write beyond the broker's Receive Maximum (see
    /// [`crate::quota`]), each at a moment when it reaches the broker beyond it. 0 (none) by
    /// default.
    pub beyond_quota: u8,
    /// Bounded response on an explicit clock: an offline client reconnects at once (within the
    /// tick its connection is lost), the ghost counts the ticks since the last fault, and
    /// `bounded_response` requires everything owed delivered once this many have passed (see
    /// [`Config::response_bound`]).
    pub bounded_response: Option<u8>,
    /// PUBRECs hostile clients may write on their connections, each for a packet id no
    /// flight of the broker uses ([`Config::unknown_id`]): 0x00 or (5.0) 0x80. A budget like
    /// `cuts`; 0 (the default) adds nothing to the state space.
    pub hostile_pubrecs: u8,
}

/// Why a configuration cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

pub const PUBLISHER: usize = 0;

impl Config {
    /// A small configuration: `clients` persistent clients, `messages` messages whose QoS cycles
    /// through 1, 2, 0, keep alive 2 (clients give up after 3 silent ticks), one cut, wills on.
    pub fn new(version: Version, clients: usize, messages: usize) -> Config {
        let qos_cycle = [Qos::AtLeastOnce, Qos::ExactlyOnce, Qos::AtMostOnce];
        Config {
            version,
            clients,
            messages: qos_cycle.iter().copied().cycle().take(messages).collect(),
            sessions: vec![SessionKind::Persistent; clients],
            session_expiry: Expiry::Never,
            receive_maximum: 2,
            broker_receive_maximum: 2,
            packet_ids: 2,
            keep_alive: 2,
            abort_after: 3,
            connack_timeout: None,
            broker_connect_timeout: None,
            cuts: 1,
            reported_cuts: false,
            slow_network: false,
            graceful_disconnect: false,
            will: true,
            without_will: Bits::EMPTY,
            paced_application: false,
            client_resend_order: ResendOrder::FirstTransmission,
            broker_resend_order: ResendOrder::FirstTransmission,
            bug: None,
            restarts: 0,
            durable: false,
            will_delay: 0,
            will_qos: Qos::AtMostOnce,
            publishers: 1,
            topics: vec![0],
            subscriptions: routing::one_topic_at_qos2(),
            added_subscriptions: Vec::new(),
            disconnects: 0,
            disconnect_with_will: false,
            unsubscribes: 0,
            retained: Bits::EMPTY,
            empty: Bits::EMPTY,
            invalid_payloads: Bits::EMPTY,
            beyond_quota: 0,
            bounded_response: None,
            hostile_pubrecs: 0,
        }
    }

    /// The packet id of a hostile client's PUBREC: one past the broker's, so no flight of the
    /// broker ever uses it (the trace checker binds the trace's id to it).
    pub fn unknown_id(&self) -> PacketId {
        self.packet_ids + 1
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |why: String| Err(ConfigError(why));
        if !(1..=MAX_CLIENTS).contains(&self.clients) {
            return fail(format!("clients must be 1 to {MAX_CLIENTS}, not {}", self.clients));
        }
        if self.publishers == 0 || (self.clients > 1 && self.publishers >= self.clients) {
            return fail("at least one publisher, and a subscriber besides the publishers".into());
        }
        if self.messages.len() > usize::from(Bits::MAX) + 1 {
            return fail(format!("at most {} messages", Bits::MAX + 1));
        }
        if self.sessions.len() != self.clients {
            return fail("one session kind per client".into());
        }
        if !(1..=Bits::MAX).contains(&self.packet_ids) {
            return fail(format!("packet ids must be 1 to {}", Bits::MAX));
        }
        if self.hostile_pubrecs > 0 && self.packet_ids == Bits::MAX {
            return fail(format!(
                "with hostile PUBRECs, packet ids must be 1 to {}: one more is theirs",
                Bits::MAX - 1
            ));
        }
        if self.keep_alive == 0 || self.abort_after == 0 || self.connack_timeout == Some(0) {
            return fail("keep alive and abort period must be at least one tick".into());
        }
        if self.receive_maximum == 0 || self.broker_receive_maximum == 0 {
            return fail("Receive Maximum must be at least 1".into());
        }
        if self.topics.is_empty() || self.topics.iter().any(|&t| t >= TOPICS) {
            return fail(format!("topics are 0 to {}, at least one", TOPICS - 1));
        }
        let filter_topics_valid =
            self.subscriptions.iter().chain(&self.added_subscriptions).flatten().all(|f| match f.filter {
                Filter::Topic(t) => t < TOPICS,
                Filter::Wildcard => true,
            });
        if self.subscriptions.is_empty() || self.subscriptions.iter().any(Vec::is_empty) || !filter_topics_valid {
            return fail("every subscriber subscribes to at least one filter of a topic the model has".into());
        }
        let messages: Bits = (0..self.messages.len() as u8).collect();
        if !self.retained.minus(messages).is_empty() || !self.empty.minus(self.retained).is_empty() {
            return fail("retained messages are messages of the configuration, and only they may be empty".into());
        }
        if !self.invalid_payloads.is_empty() && self.version != Version::V5_0 {
            return fail("a Payload Format Indicator exists in 5.0 only".into());
        }
        if !self.invalid_payloads.minus(messages).is_empty() {
            return fail("messages with an invalid payload are messages of the configuration".into());
        }
        if self.version != Version::V5_0 && self.all_filters().any(|f| f.retain != RetainOptions::DEFAULT) {
            return fail("Retain Handling and Retain As Published exist in 5.0 only".into());
        }
        let mixed = |s: usize| {
            let first = self.filters(s);
            let added = self.added_filters(s);
            let replaces = added.iter().filter(|a| first.iter().any(|f| f.filter == a.filter)).count();
            replaces > 0 && replaces < added.len()
        };
        if self.subscribers().any(mixed) {
            return fail("an added SUBSCRIBE either only replaces filters of the first or only adds new ones".into());
        }
        if self.adds_subscriptions() && (self.restarts > 0 || self.expiry_ticks().is_some()) {
            // The ghost's account of a restart keeps whether a subscription was committed, not
            // which SUBSCRIBEs; and only a stale resume after expiry lets a client add filters
            // to a session that never got its first SUBSCRIBE.
            return fail("added subscriptions are not modelled together with restarts or session expiry".into());
        }
        if self.session_expiry == Expiry::AfterTicks(0) {
            return fail("a persistent session expires after at least one tick".into());
        }
        if self.will_delay > 0 && self.version != Version::V5_0 {
            return fail("a Will Delay Interval exists in 5.0 only".into());
        }
        if self.will_qos == Qos::ExactlyOnce {
            return fail("wills at QoS 2 are not modelled".into());
        }
        if self.will_qos > Qos::AtMostOnce && self.messages.len() + self.clients > usize::from(Bits::MAX) + 1 {
            return fail(format!("with wills at QoS 1, at most {} messages and clients together", Bits::MAX + 1));
        }
        if self.beyond_quota > 0 && self.version != Version::V5_0 {
            return fail("a Receive Maximum exists in 5.0 only".into());
        }
        if self.restarts > 0 && !self.durable && self.expiry_ticks().is_some() {
            // A broker that loses its sessions is the stale resume of session expiry again
            // (see README), without the client's clock to guard against it.
            return fail(
                "broker restarts without a durable store are not modelled together with session expiry".into(),
            );
        }
        Ok(())
    }

    pub fn is_publisher(&self, client: usize) -> bool {
        client < self.publishers
    }

    pub fn is_subscriber(&self, client: usize) -> bool {
        self.clients == 1 || !self.is_publisher(client)
    }

    pub fn publishers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.clients).filter(|&c| self.is_publisher(c))
    }

    pub fn subscribers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.clients).filter(|&c| self.is_subscriber(c))
    }

    /// The QoS of application message `message`, or of a will (ids past the messages).
    pub fn qos(&self, message: u8) -> Qos {
        self.messages.get(usize::from(message)).copied().unwrap_or(self.will_qos)
    }

    /// The id under which the will of `client` waits in a session's queue and is owed.
    pub fn will_message(&self, client: u8) -> u8 {
        self.messages.len() as u8 + client
    }

    /// The client whose will `message` is, if it is one.
    pub fn will_of(&self, message: u8) -> Option<u8> {
        message.checked_sub(self.messages.len() as u8)
    }

    pub fn reliable(&self, message: u8) -> bool {
        self.qos(message) > Qos::AtMostOnce
    }

    pub fn publisher_of(&self, message: u8) -> usize {
        usize::from(message) % self.publishers
    }

    /// The topic of application message `message`; a will (an id past the messages) is on
    /// [`WILL_TOPIC`].
    pub fn topic(&self, message: u8) -> u8 {
        match self.will_of(message) {
            Some(_) => WILL_TOPIC,
            None => self.topics[usize::from(message) % self.topics.len()],
        }
    }

    /// The filters `client` subscribes to; none for a client that only publishes.
    pub fn filters(&self, client: usize) -> &[FilterQos] {
        if !self.is_subscriber(client) {
            return &[];
        }
        let ordinal = client.saturating_sub(self.publishers);
        &self.subscriptions[ordinal % self.subscriptions.len()]
    }

    /// The filters `client` adds with its second SUBSCRIBE; none if it sends none.
    pub fn added_filters(&self, client: usize) -> &[FilterQos] {
        if !self.is_subscriber(client) || self.added_subscriptions.is_empty() {
            return &[];
        }
        let ordinal = client.saturating_sub(self.publishers);
        &self.added_subscriptions[ordinal % self.added_subscriptions.len()]
    }

    /// Some subscriber sends a second SUBSCRIBE.
    pub fn adds_subscriptions(&self) -> bool {
        self.subscribers().any(|s| !self.added_filters(s).is_empty())
    }

    /// What `subscriber`'s session holds once all its SUBSCRIBEs are granted.
    pub fn fully_subscribed(&self, subscriber: usize) -> Subscribed {
        if self.added_filters(subscriber).is_empty() { Subscribed::First } else { Subscribed::Added }
    }

    /// The filters of `subscriber`'s SUBSCRIBE `request`: its first, or the one that adds.
    pub fn requested_filters(&self, subscriber: usize, request: Subscribed) -> &[FilterQos] {
        match request {
            Subscribed::No => &[],
            Subscribed::First => self.filters(subscriber),
            Subscribed::Added => self.added_filters(subscriber),
        }
    }

    /// What a session of `subscriber` holding `current` holds once it grants `request`. A first
    /// SUBSCRIBE read again by a session that holds both (its client lost the UNSUBACK of an
    /// UNSUBSCRIBE the broker never read) replaces the filters it names [MQTT-3.8.4-3]: if the
    /// added SUBSCRIBE only replaced filters of the first, the session holds the first again;
    /// if it only added new ones, it keeps them (the configuration has no third kind).
    pub fn after_subscribe(&self, subscriber: usize, current: Subscribed, request: Subscribed) -> Subscribed {
        match (current, request) {
            (Subscribed::Added, Subscribed::First) if self.added_only_replaces(subscriber) => Subscribed::First,
            _ => current.max(request),
        }
    }

    /// Every filter `subscriber`'s added SUBSCRIBE names is one of its first SUBSCRIBE's.
    fn added_only_replaces(&self, subscriber: usize) -> bool {
        let first = self.filters(subscriber);
        self.added_filters(subscriber).iter().all(|a| first.iter().any(|f| f.filter == a.filter))
    }

    /// Every filter of every subscriber's SUBSCRIBEs.
    fn all_filters(&self) -> impl Iterator<Item = &FilterQos> + '_ {
        self.subscribers().flat_map(|s| self.filters(s).iter().chain(self.added_filters(s)))
    }

    /// The filters of `subscriber`'s SUBSCRIBE `request` that get the retained messages they
    /// match, read by a session that held `current` before it: by each filter's Retain
    /// Handling, an identical filter among those held being a subscription that existed
    /// ([MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11] in 5.0; 3.1.1 sends them always,
    /// [MQTT-3.3.1-6]).
    pub fn filters_sending_retained(
        &self,
        subscriber: usize,
        current: Subscribed,
        request: Subscribed,
    ) -> Vec<FilterQos> {
        routing::sending_retained(self.requested_filters(subscriber, request), &self.held_filters(subscriber, current))
    }

    /// The RETAIN flag of the broker's copy of `message` to `subscriber`, routed while its
    /// session held `subscribed`: 1 on a retained copy for a new subscription
    /// ([MQTT-3.3.1-8] in 3.1.1; 5.0 section 3.3.1.3), 0 on a will (wills are not retained in
    /// the model), and on a forwarded application message what
    /// [`routing::forwarded_retain`] says.
    pub fn copy_retain_under(&self, subscriber: usize, message: Message, subscribed: Subscribed) -> bool {
        match message {
            Message::Retained { .. } => true,
            Message::Will(_) => false,
            Message::App(n) => routing::forwarded_retain(
                &self.held_filters(subscriber, subscribed),
                self.topic(n),
                self.retained.contains(n),
            ),
        }
    }

    /// Some filter has Retain Handling 1 or 2 (5.0).
    pub fn has_retain_handling(&self) -> bool {
        self.all_filters().any(|f| f.retain.handling != RetainHandling::AtSubscribe)
    }

    /// Some filter asks for Retain As Published (5.0).
    pub fn has_retain_as_published(&self) -> bool {
        self.all_filters().any(|f| f.retain.as_published)
    }

    /// The id under which a QoS 1/2 copy of `message` is owed: an application message's
    /// index, a will's id (wills at QoS 1); none for a retained copy or a QoS 0 will.
    pub fn copy_id(&self, message: Message) -> Option<u8> {
        match message {
            Message::App(n) => Some(n),
            Message::Will(w) => (self.will_qos > Qos::AtMostOnce).then(|| self.will_message(w)),
            Message::Retained { .. } => None,
        }
    }

    /// The filters a session of `subscriber` holds after the SUBSCRIBEs `subscribed` says.
    pub fn held_filters(&self, subscriber: usize, subscribed: Subscribed) -> Vec<FilterQos> {
        routing::held(self.filters(subscriber), self.added_filters(subscriber), subscribed)
    }

    /// The QoS of the copy of application message `message` (or a will) that `subscriber`'s
    /// session gets while it holds the SUBSCRIBEs `subscribed`, if any (see
    /// [`routing::copy_qos`]).
    pub fn copy_qos_under(&self, subscriber: usize, message: u8, subscribed: Subscribed) -> Option<Qos> {
        routing::copy_qos(&self.held_filters(subscriber, subscribed), self.topic(message), self.qos(message))
    }

    /// The QoS of the copy of application message `message` that `subscriber`'s session gets
    /// once fully subscribed, if any.
    pub fn copy_qos(&self, subscriber: usize, message: u8) -> Option<Qos> {
        self.copy_qos_under(subscriber, message, self.fully_subscribed(subscriber))
    }

    /// The QoS a sender's queue gives `message`: an application message's own, a retained
    /// copy's (already lowered to its grant), a will's `will_qos`.
    pub fn published_qos(&self, message: Message) -> Qos {
        match message {
            Message::App(n) => self.qos(n),
            Message::Retained { qos, .. } => qos,
            Message::Will(_) => self.will_qos,
        }
    }

    /// Whether `subscriber` gets `message` as a QoS 1/2 copy, which its session must keep.
    pub fn reliable_copy(&self, subscriber: usize, message: u8) -> bool {
        self.copy_qos(subscriber, message).is_some_and(|qos| qos > Qos::AtMostOnce)
    }

    /// Whether a subscribed `subscriber` gets the wills (published on [`WILL_TOPIC`]).
    pub fn gets_wills(&self, subscriber: usize) -> bool {
        routing::matching(&self.held_filters(subscriber, self.fully_subscribed(subscriber)), WILL_TOPIC) > 0
    }

    /// The application steps of `client`, in order. Only publishers have any; subscribing is
    /// not a script step because a subscriber subscribes whenever its session has no
    /// subscription (first connect, or after its session was lost).
    pub fn script(&self, client: usize) -> Vec<ScriptStep> {
        let mut steps = Vec::new();
        for n in (0..self.messages.len() as u8).filter(|&n| self.is_publisher(client) && self.publisher_of(n) == client)
        {
            steps.push(ScriptStep::Publish(n));
            if n == 0 && self.graceful_disconnect {
                steps.push(ScriptStep::Disconnect);
            }
        }
        steps
    }

    /// Messages `client`'s application has handed over after `steps_done` script steps.
    pub fn published_by(&self, client: usize, steps_done: u8) -> Bits {
        self.script(client)
            .into_iter()
            .take(usize::from(steps_done))
            .filter_map(|step| match step {
                ScriptStep::Publish(n) => Some(n),
                ScriptStep::Disconnect => None,
            })
            .collect()
    }

    pub fn clean_start(&self, client: usize) -> bool {
        self.sessions[client] == SessionKind::Clean
    }

    /// Whether the broker keeps `client`'s session after its connection closes
    /// (3.1.1 CleanSession=0; 5.0 Session Expiry Interval > 0).
    pub fn session_outlives_connection(&self, client: usize) -> bool {
        self.sessions[client] == SessionKind::Persistent
    }

    /// Ticks an offline persistent session survives, if it expires at all.
    pub fn expiry_ticks(&self) -> Option<u8> {
        match (self.version, self.session_expiry) {
            (Version::V5_0, Expiry::AfterTicks(ticks)) => Some(ticks),
            _ => None,
        }
    }

    /// The Receive Maximum a client's CONNECT carries (5.0): the limit on the broker's
    /// unacknowledged QoS 1/2 PUBLISH packets to it.
    pub fn receive_maximum(&self) -> Option<u8> {
        (self.version == Version::V5_0).then_some(self.receive_maximum)
    }

    /// The Receive Maximum the broker's CONNACK carries (5.0): the limit on a client's
    /// unacknowledged QoS 1/2 PUBLISH packets.
    pub fn broker_receive_maximum(&self) -> Option<u8> {
        (self.version == Version::V5_0).then_some(self.broker_receive_maximum)
    }

    /// True once `silence` ticks reach one and a half times the keep alive: nothing has been
    /// received *within* that period, so the broker must close [MQTT-3.1.2-24] (3.1.1) /
    /// [MQTT-3.1.2-22] (5.0).
    pub fn grace_over(&self, silence: u8) -> bool {
        !self.within_grace(silence)
    }

    /// True while `silence` ticks are short of one and a half times the keep alive.
    pub fn within_grace(&self, silence: u8) -> bool {
        2 * u16::from(silence) < 3 * u16::from(self.keep_alive)
    }

    /// The longest silence a broker that honours the keep alive can let a connection reach: the
    /// first tick at or past 1.5 x keep alive, at which it must close.
    pub fn longest_allowed_silence(&self) -> u8 {
        (3 * self.keep_alive).div_ceil(2)
    }

    /// Silence counters stop one tick past the allowed maximum, so a broker that never closes
    /// is visible and the state space stays finite.
    pub fn silence_cap(&self) -> u8 {
        self.longest_allowed_silence() + 1
    }

    /// A client's silence matters up to the later of its two uses: pinging after a keep alive
    /// without receiving, and giving up after `abort_after`.
    pub fn client_silence_cap(&self) -> u8 {
        self.keep_alive.max(self.abort_after).max(self.connack_ticks())
    }

    /// Ticks a connecting client waits for CONNACK.
    pub fn connack_ticks(&self) -> u8 {
        self.connack_timeout.unwrap_or(self.abort_after)
    }

    /// Whether `client` connects with a will.
    pub fn has_will(&self, client: usize) -> bool {
        self.will && !self.without_will.contains(client as u8)
    }

    /// The Will Delay Interval, if the version has one and it is not 0.
    pub fn will_delay_ticks(&self) -> Option<u8> {
        (self.version == Version::V5_0 && self.will_delay > 0).then_some(self.will_delay)
    }

    /// Whether the broker writes a store whose commits a restart falls back to.
    pub fn keeps_store(&self) -> bool {
        self.durable && self.restarts > 0
    }

    /// Whether a client's DISCONNECT may carry 0x04, Disconnect with Will Message (5.0).
    pub fn may_disconnect_with_will(&self) -> bool {
        self.version == Version::V5_0 && self.disconnect_with_will && self.disconnects > 0
    }

    /// The least number of ticks after the last fault by which everything owed is delivered:
    /// a client hears of a lost connection within its abort period (or CONNACK timeout) and
    /// reconnects at once, everything else happens within that tick, and a will waits out
    /// its delay after the broker closed the connection; one tick more for the actions due
    /// at the last tick to run. The suite checks that it holds, and that one tick less fails.
    pub fn response_bound(&self) -> u8 {
        self.abort_after.max(self.connack_ticks()) + self.will_delay_ticks().unwrap_or(0) + 1
    }

    pub fn has(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    /// The behaviours this configuration turns on, by name, so that one configuration's can be
    /// compared with those of the configurations checked exhaustively (the trace checker's
    /// configuration must add none of its own).
    pub fn options_on(&self) -> BTreeSet<&'static str> {
        let mut on = BTreeSet::new();
        let mut turn_on = |name, condition: bool| {
            if condition {
                on.insert(name);
            }
        };
        turn_on("one client publishing to itself", self.clients == 1);
        turn_on("several subscribers", self.subscribers().count() > 1);
        turn_on("several publishers", self.publishers > 1);
        let topics_used: BTreeSet<u8> = (0..self.messages.len() as u8).map(|n| self.topic(n)).collect();
        turn_on("several topics", topics_used.len() > 1);
        turn_on("wildcard filter", self.all_filters().any(|f| f.filter == Filter::Wildcard));
        turn_on("retain handling", self.has_retain_handling());
        turn_on("retain as published", self.has_retain_as_published());
        turn_on("added subscription", self.adds_subscriptions());
        let copies = || self.subscribers().flat_map(|s| (0..self.messages.len() as u8).map(move |n| (s, n)));
        turn_on("qos downgrade", copies().any(|(s, n)| self.copy_qos(s, n).is_some_and(|q| q < self.qos(n))));
        turn_on(
            "overlapping subscriptions",
            copies()
                .any(|(s, n)| routing::matching(&self.held_filters(s, self.fully_subscribed(s)), self.topic(n)) > 1),
        );
        turn_on("message matching no subscriber", copies().any(|(s, n)| self.copy_qos(s, n).is_none()));
        turn_on("qos 0 message", self.messages.contains(&Qos::AtMostOnce));
        turn_on("qos 1 message", self.messages.contains(&Qos::AtLeastOnce));
        turn_on("qos 2 message", self.messages.contains(&Qos::ExactlyOnce));
        turn_on("clean session", self.sessions.contains(&SessionKind::Clean));
        turn_on("persistent session", self.sessions.contains(&SessionKind::Persistent));
        turn_on("session expiry", self.expiry_ticks().is_some());
        turn_on("receive maximum", self.receive_maximum().is_some());
        turn_on("cuts", self.cuts > 0);
        turn_on("reported cuts", self.reported_cuts && self.cuts > 0);
        turn_on("slow network", self.slow_network);
        turn_on("graceful disconnect", self.graceful_disconnect);
        turn_on("client disconnects", self.disconnects > 0);
        turn_on("disconnect with will", self.may_disconnect_with_will());
        turn_on("unsubscribe", self.unsubscribes > 0);
        turn_on("bounded response", self.bounded_response.is_some());
        turn_on("retained messages", !self.retained.is_empty());
        turn_on("retained message deleted", !self.empty.is_empty());
        turn_on("invalid payload", !self.invalid_payloads.is_empty());
        turn_on("publish beyond the quota", self.beyond_quota > 0);
        turn_on("hostile pubrecs", self.hostile_pubrecs > 0);
        let wills = (0..self.clients).filter(|&c| self.has_will(c)).count();
        turn_on("wills", wills > 0);
        turn_on("a client without a will", wills < self.clients);
        turn_on("paced application", self.paced_application);
        turn_on("CONNACK timeout", self.connack_timeout.is_some());
        turn_on("CONNECT timeout", self.broker_connect_timeout.is_some());
        turn_on("broker restarts", self.restarts > 0);
        turn_on("durable store", self.keeps_store());
        turn_on("will delay", self.will_delay_ticks().is_some());
        turn_on("will qos 1", self.will_qos == Qos::AtLeastOnce && self.will);
        let resend_options = [
            (ResendOrder::LastStep, "client resends by last step", "broker resends by last step"),
            (ResendOrder::ReleasesFirst, "client resends releases first", "broker resends releases first"),
        ];
        for (order, client, broker) in resend_options {
            turn_on(client, self.client_resend_order == order);
            turn_on(broker, self.broker_resend_order == order);
        }
        on
    }
}

/// Filter lists as `--subscriptions` takes them: `&` between filters, `,` between subscribers.
fn filter_lists(lists: &[Vec<FilterQos>]) -> String {
    let list = |filters: &Vec<FilterQos>| filters.iter().map(FilterQos::to_string).collect::<Vec<_>>().join("&");
    lists.iter().map(list).collect::<Vec<_>>().join(",")
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let qos: Vec<String> = self.messages.iter().map(|q| q.level().to_string()).collect();
        let sessions: Vec<&str> = self
            .sessions
            .iter()
            .map(|s| match s {
                SessionKind::Clean => "clean",
                SessionKind::Persistent => "persistent",
            })
            .collect();
        write!(
            f,
            "MQTT {} clients={} qos=[{}] sessions=[{}] keep_alive={} abort={} packet-ids={} cuts={}",
            self.version,
            self.clients,
            qos.join(","),
            sessions.join(","),
            self.keep_alive,
            self.abort_after,
            self.packet_ids,
            self.cuts,
        )?;
        if self.version == Version::V5_0 {
            write!(f, " receive-maximum={}", self.receive_maximum)?;
            if self.broker_receive_maximum != self.receive_maximum {
                write!(f, " broker-receive-maximum={}", self.broker_receive_maximum)?;
            }
            match self.session_expiry {
                Expiry::Never => write!(f, " session-expiry=never")?,
                Expiry::AfterTicks(t) => write!(f, " session-expiry={t}")?,
            }
        }
        if self.graceful_disconnect {
            write!(f, " graceful-disconnect")?;
        }
        if self.disconnects > 0 {
            write!(f, " disconnects={}", self.disconnects)?;
        }
        if self.may_disconnect_with_will() {
            write!(f, " disconnect-with-will")?;
        }
        if self.unsubscribes > 0 {
            write!(f, " unsubscribes={}", self.unsubscribes)?;
        }
        if let Some(bound) = self.bounded_response {
            write!(f, " bounded-response={bound}")?;
        }
        if self.hostile_pubrecs > 0 {
            write!(f, " hostile-pubrecs={}", self.hostile_pubrecs)?;
        }
        let list = |bits: Bits| bits.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",");
        if !self.retained.is_empty() {
            write!(f, " retained=[{}]", list(self.retained))?;
        }
        if !self.empty.is_empty() {
            write!(f, " empty=[{}]", list(self.empty))?;
        }
        if !self.invalid_payloads.is_empty() {
            write!(f, " invalid-payloads=[{}]", list(self.invalid_payloads))?;
        }
        if self.beyond_quota > 0 {
            write!(f, " beyond-quota={}", self.beyond_quota)?;
        }
        if self.paced_application {
            write!(f, " paced-application")?;
        }
        if let Some(ticks) = self.connack_timeout {
            write!(f, " connack-timeout={ticks}")?;
        }
        if let Some(ticks) = self.broker_connect_timeout {
            write!(f, " connect-timeout={ticks}")?;
        }
        if self.reported_cuts {
            write!(f, " reported-cuts")?;
        }
        if self.slow_network {
            write!(f, " slow-network")?;
        }
        for (side, order) in [("client", self.client_resend_order), ("broker", self.broker_resend_order)] {
            match order {
                ResendOrder::FirstTransmission => {}
                ResendOrder::LastStep => write!(f, " {side}-resends-by-last-step")?,
                ResendOrder::ReleasesFirst => write!(f, " {side}-resends-releases-first")?,
            }
        }
        if !self.will {
            write!(f, " no-will")?;
        }
        for c in (0..self.clients).filter(|&c| self.will && !self.has_will(c)) {
            write!(f, " no-will-c{c}")?;
        }
        if self.will_delay > 0 {
            write!(f, " will-delay={}", self.will_delay)?;
        }
        if self.will_qos != Qos::AtMostOnce {
            write!(f, " will-qos={}", self.will_qos.level())?;
        }
        if self.restarts > 0 {
            write!(f, " restarts={}{}", self.restarts, if self.durable { " durable" } else { "" })?;
        }
        if self.publishers > 1 {
            write!(f, " publishers={}", self.publishers)?;
        }
        if self.topics != [0] {
            let topics: Vec<String> = self.topics.iter().map(u8::to_string).collect();
            write!(f, " topics=[{}]", topics.join(","))?;
        }
        if self.subscriptions != routing::one_topic_at_qos2() {
            write!(f, " subscriptions=[{}]", filter_lists(&self.subscriptions))?;
        }
        if self.adds_subscriptions() {
            write!(f, " added-subscriptions=[{}]", filter_lists(&self.added_subscriptions))?;
        }
        if let Some(bug) = self.bug {
            write!(f, " bug={}", bug.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_is_one_and_a_half_keep_alives() {
        let config = Config::new(Version::V3_1_1, 2, 1);
        assert_eq!(config.keep_alive, 2);
        assert!(config.within_grace(2) && !config.grace_over(2));
        assert!(config.grace_over(3));
        assert_eq!(config.longest_allowed_silence(), 3);
        assert_eq!(config.silence_cap(), 4);
        let odd = Config { keep_alive: 3, ..config };
        assert!(!odd.grace_over(4) && odd.grace_over(5));
        assert_eq!(odd.longest_allowed_silence(), 5);
    }

    #[test]
    fn session_expiry_across_restarts_needs_a_durable_store() {
        let mut config = Config::new(Version::V5_0, 2, 1);
        config.session_expiry = Expiry::AfterTicks(1);
        config.restarts = 1;
        assert!(config.validate().is_err());
        config.durable = true;
        assert!(config.validate().is_ok());
    }

    #[test]
    fn publisher_script_publishes_in_order_with_optional_disconnect() {
        let mut config = Config::new(Version::V5_0, 2, 3);
        config.graceful_disconnect = true;
        assert_eq!(
            config.script(PUBLISHER),
            vec![ScriptStep::Publish(0), ScriptStep::Disconnect, ScriptStep::Publish(1), ScriptStep::Publish(2)]
        );
        assert!(config.script(1).is_empty());
        assert_eq!(config.published_by(PUBLISHER, 2), [0].into_iter().collect());
    }

    #[test]
    fn publishers_take_turns_and_subscribers_cycle_through_the_filter_lists() {
        let mut config = Config::new(Version::V5_0, 4, 4);
        config.publishers = 2;
        config.topics = vec![0, 1];
        let wildcard = FilterQos::new(Filter::Wildcard, Qos::AtLeastOnce);
        let topic1 = FilterQos::new(Filter::Topic(1), Qos::AtMostOnce);
        config.subscriptions = vec![vec![wildcard], vec![topic1]];
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.script(1), vec![ScriptStep::Publish(1), ScriptStep::Publish(3)]);
        assert!(config.is_publisher(1) && !config.is_subscriber(1) && config.is_subscriber(2));
        assert_eq!((config.filters(2), config.filters(3)), (&[wildcard][..], &[topic1][..]));
        assert_eq!(config.copy_qos(3, 0), None, "m0 is on topic 0");
        assert_eq!(config.copy_qos(3, 1), Some(Qos::AtMostOnce), "m1 (qos 2) downgraded");
        assert!(config.gets_wills(2) && !config.gets_wills(3));
        let on = config.options_on();
        for option in ["several publishers", "several topics", "wildcard filter", "qos downgrade"] {
            assert!(on.contains(option), "{option}");
        }
        config.publishers = 4;
        assert!(config.validate().is_err(), "no subscriber left");
    }

    #[test]
    fn options_on_names_what_a_configuration_adds() {
        let mut config = Config::new(Version::V3_1_1, 2, 1);
        assert!(!config.options_on().contains("slow network"));
        config.slow_network = true;
        config.without_will = [1].into_iter().collect();
        let on = config.options_on();
        assert!(on.contains("slow network") && on.contains("wills") && on.contains("a client without a will"));
        assert!(!on.contains("receive maximum"), "3.1.1 has none");
    }

    #[test]
    fn rejects_out_of_range_configurations() {
        let mut config = Config::new(Version::V5_0, 2, 3);
        assert_eq!(config.validate(), Ok(()));
        config.clients = 5;
        assert!(config.validate().is_err());
    }
}
