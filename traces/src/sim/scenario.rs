//! What a simulated run does: the clients, their sessions, and the steps of the run in order.

use std::num::NonZeroU16;

use bytes::Bytes;
use verimqtt_proto::codec::{PacketId, PayloadFormat, ProtocolVersion, QoS, ReasonCode, RetainHandling};
use verimqtt_spec::trace::{Fault, PacketKind};

/// The default length of a tick of simulated time.
pub const DEFAULT_TICK_MS: u64 = 1000;

/// The topic the named scenarios and the generated ones publish to.
pub const TOPIC: &str = "t";

/// A run: clients `c0`, `c1`, ... (each `clients[i]`) and one broker, all speaking `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub version: ProtocolVersion,
    /// Milliseconds per tick: `Advance` and `Stall` move time in ticks (timers fire at their
    /// exact deadlines in between).
    pub tick_ms: u64,
    /// 5.0: the Receive Maximum every client announces in CONNECT and the broker in CONNACK
    /// (one value for both sides here; the model takes each side's from its own packets), and
    /// the local limit the broker and the odd clients put on their own flights
    /// (`max_inflight`, `max_in_flight`), which then binds with it. `None`: each keeps its
    /// defaults.
    pub receive_maximum: Option<NonZeroU16>,
    /// 5.0, with a Receive Maximum: the broker's own limit on its flights when it is to be
    /// lower than the Receive Maximum, so that it binds alone (the trace carries each node's
    /// own limit in `connection_opened`, and the checker holds the broker to it).
    pub broker_max_inflight: Option<NonZeroU16>,
    /// 5.0: the clients replace topics by Topic Aliases on the way out, as far as the broker
    /// allows (`ClientOptions::outbound_topic_aliases`; verimqtt's broker allows 64).
    pub topic_aliases: bool,
    pub clients: Vec<ClientSpec>,
    pub steps: Vec<Step>,
}

/// Whether a client's session outlives its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// 3.1.1 CleanSession 1; 5.0 Clean Start 1 and Session Expiry Interval 0.
    Clean,
    /// 3.1.1 CleanSession 0; 5.0 Clean Start 0 and the client's `session_expiry`.
    Persistent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    pub session: SessionKind,
    /// Seconds; 0 turns keep alive off.
    pub keep_alive: u16,
    /// The QoS of the client's will, if it connects with one: on [`TOPIC`], payload
    /// `will-cN`, not retained.
    pub will: Option<QoS>,
    /// 5.0, persistent sessions: the Session Expiry Interval in seconds.
    pub session_expiry: u32,
}

impl ClientSpec {
    /// A client with a session of `kind`, keep alive off, no will, and (5.0) a session that
    /// never expires.
    pub fn new(session: SessionKind) -> Self {
        ClientSpec { session, keep_alive: 0, will: None, session_expiry: u32::MAX }
    }

    pub fn keep_alive(mut self, seconds: u16) -> Self {
        self.keep_alive = seconds;
        self
    }

    /// A will at QoS 0.
    pub fn with_will(self) -> Self {
        self.with_will_at(QoS::AtMostOnce)
    }

    pub fn with_will_at(mut self, qos: QoS) -> Self {
        self.will = Some(qos);
        self
    }

    pub fn session_expiry(mut self, seconds: u32) -> Self {
        self.session_expiry = seconds;
        self
    }
}

/// 5.0: what a published message's Payload Format Indicator says of its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadClaim {
    /// No indicator: the payload is bytes (`m3`).
    Unstated,
    /// Indicator 1, and the payload is the UTF-8 text it claims (`m3`).
    Utf8,
    /// Indicator 1, but the payload is not UTF-8 (`m3` and a byte 0xff): a broker may refuse
    /// it (section 3.3.2.3.2; verimqtt answers PUBACK or PUBREC 0x99).
    FalselyUtf8,
}

impl PayloadClaim {
    /// The Payload Format Indicator the PUBLISH carries.
    pub fn indicator(self) -> Option<PayloadFormat> {
        match self {
            PayloadClaim::Unstated => None,
            PayloadClaim::Utf8 | PayloadClaim::FalselyUtf8 => Some(PayloadFormat::Utf8),
        }
    }

    /// The payload of the run's `n`-th published message.
    pub fn payload(self, n: usize) -> Bytes {
        let text = format!("m{n}");
        match self {
            PayloadClaim::Unstated | PayloadClaim::Utf8 => Bytes::from(text),
            PayloadClaim::FalselyUtf8 => Bytes::from([text.as_bytes(), &[0xff]].concat()),
        }
    }
}

/// The packet id of the packets the simulator injects (a PUBLISH's own, or the id a PUBREC
/// names): the last one, which verimqtt's client and broker reach only after 65,534 others,
/// so no flight of a run uses it.
pub const INJECTED_PACKET_ID: PacketId = match PacketId::new(u16::MAX) {
    Some(id) => id,
    None => panic!("65,535 is a packet identifier"),
};

/// A packet a client's state machine never writes, which the simulator writes on its
/// connection as a hostile or broken client would (see [`Step::Inject`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Injection {
    /// A QoS 1 or 2 PUBLISH to [`TOPIC`] that no application asked for, with packet id
    /// [`INJECTED_PACKET_ID`] and payload `x0`, `x1`, ... (in run order). The generated
    /// scenarios write it where it is beyond the broker's Receive Maximum, which the broker
    /// answers with DISCONNECT 0x93 (5.0 section 3.3.4).
    Publish { qos: QoS },
    /// A PUBREC of `packet_id` with reason `code` (5.0; 3.1.1's PUBREC has none, so only
    /// `Success` there).
    PubRec { packet_id: PacketId, code: ReasonCode },
}

/// Which end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Client,
    Broker,
}

/// One step of a run. Commands put packets on the network; only `Deliver`, `Settle` and
/// `Advance` carry them across.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The client opens a connection and sends CONNECT.
    Connect {
        client: usize,
    },
    Subscribe {
        client: usize,
        filter: String,
        qos: QoS,
        /// 5.0's Retain Handling and Retain As Published (3.1.1 sends neither).
        retain_handling: RetainHandling,
        retain_as_published: bool,
    },
    Unsubscribe {
        client: usize,
        filter: String,
    },
    /// The application publishes the next message: payloads are `m0`, `m1`, ... in run order,
    /// as `claim` says (5.0).
    Publish {
        client: usize,
        topic: String,
        qos: QoS,
        retain: bool,
        claim: PayloadClaim,
    },
    /// The client sends DISCONNECT and closes.
    Disconnect {
        client: usize,
    },
    /// 5.0: the client sends DISCONNECT 0x04, Disconnect with Will Message, and closes: the
    /// broker publishes its will all the same.
    DisconnectWithWill {
        client: usize,
    },
    /// The network fails on the client's connection, as when a cable is pulled (and as the
    /// model's cuts do): what is in flight is lost, what is sent later vanishes, and neither
    /// end is told; each finds out through its keep alive.
    Cut {
        client: usize,
    },
    /// The network fails and both ends see the connection lost at once (a reset).
    Reset {
        client: usize,
    },
    /// The network fails and only the client sees it: the broker's end stays open (a
    /// half-open connection) until its keep alive or a takeover closes it.
    HalfCut {
        client: usize,
    },
    /// Arms a [`Step::Cut`] of the client's connection right after `receiver` receives a
    /// `packet` on it: what that packet's receipt put in flight is lost.
    CutAfter {
        client: usize,
        receiver: Side,
        packet: PacketKind,
    },
    /// The broker process dies and starts again from its store: every connection ends (each
    /// client reads the end of its connection after what was on its way to it; what was on
    /// its way to the broker is lost), and the new broker restores what the old one made
    /// durable. A scenario with a restart runs its broker with persistence on and a
    /// `MemoryStore` that makes every change durable as soon as the broker asks.
    Restart,
    /// Faults stop: cuts armed by [`Step::CutAfter`] that have not happened are disarmed.
    Heal,
    /// The simulator writes `packet` on the client's connection towards the broker, after
    /// whatever the client wrote, and logs it (`packet_injected`, node `network`); nothing if
    /// the client has no connection. The client knows nothing of it.
    Inject {
        client: usize,
        packet: Injection,
    },
    /// Up to this many packets (or closes) in flight arrive, chosen by the seed.
    Deliver(usize),
    /// Everything in flight arrives, in an order the seed chooses.
    Settle,
    /// Time moves on tick by tick, stopping at each timer's exact deadline on the way: the
    /// timers due fire and the network settles.
    Advance(u32),
    /// Time moves on tick by tick (and to each timer's deadline) with nothing arriving: a
    /// network that stalls.
    Stall(u32),
}

impl Step {
    /// A publish of the next message to [`TOPIC`].
    pub fn publish(client: usize, qos: QoS) -> Step {
        Step::publish_with(client, qos, false)
    }

    /// A publish of the next message to [`TOPIC`], retained or not, with no Payload Format
    /// Indicator.
    pub fn publish_with(client: usize, qos: QoS, retain: bool) -> Step {
        Step::Publish { client, topic: TOPIC.to_string(), qos, retain, claim: PayloadClaim::Unstated }
    }

    /// A SUBSCRIBE to [`TOPIC`] with the default retain options.
    pub fn subscribe(client: usize, qos: QoS) -> Step {
        Step::subscribe_to(client, TOPIC, qos)
    }

    /// A SUBSCRIBE to `filter` with the default retain options.
    pub fn subscribe_to(client: usize, filter: &str, qos: QoS) -> Step {
        let (retain_handling, retain_as_published) = (RetainHandling::SendAtSubscribe, false);
        Step::Subscribe { client, filter: filter.to_string(), qos, retain_handling, retain_as_published }
    }

    /// A hostile PUBREC of [`INJECTED_PACKET_ID`] with reason `code`, on `client`'s connection.
    pub fn hostile_pubrec(client: usize, code: ReasonCode) -> Step {
        Step::Inject { client, packet: Injection::PubRec { packet_id: INJECTED_PACKET_ID, code } }
    }

    /// The fault a `Cut`, `Reset` or `HalfCut` injects, and on whose connection.
    pub fn fault(&self) -> Option<(usize, Fault)> {
        match *self {
            Step::Cut { client } => Some((client, Fault::Cut)),
            Step::Reset { client } => Some((client, Fault::Reset)),
            Step::HalfCut { client } => Some((client, Fault::HalfOpen)),
            _ => None,
        }
    }

    /// The client the step acts for, if it names one.
    pub fn client(&self) -> Option<usize> {
        match self {
            Step::Connect { client }
            | Step::Subscribe { client, .. }
            | Step::Unsubscribe { client, .. }
            | Step::Publish { client, .. }
            | Step::Disconnect { client }
            | Step::DisconnectWithWill { client }
            | Step::Cut { client }
            | Step::Reset { client }
            | Step::HalfCut { client }
            | Step::CutAfter { client, .. }
            | Step::Inject { client, .. } => Some(*client),
            Step::Restart | Step::Heal | Step::Deliver(_) | Step::Settle | Step::Advance(_) | Step::Stall(_) => None,
        }
    }
}

impl Scenario {
    /// A run of `version` with no client and no step yet.
    pub fn new(version: ProtocolVersion) -> Self {
        Scenario {
            version,
            tick_ms: DEFAULT_TICK_MS,
            receive_maximum: None,
            broker_max_inflight: None,
            topic_aliases: false,
            clients: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// The Receive Maximum the clients and the broker announce: none in 3.1.1 (a probe may
    /// run a generated 5.0 scenario in 3.1.1).
    pub fn announced_receive_maximum(&self) -> Option<NonZeroU16> {
        self.receive_maximum.filter(|_| self.version.is_v5())
    }

    /// Whether the broker restarts, and so keeps a store.
    pub fn restarts(&self) -> bool {
        self.steps.contains(&Step::Restart)
    }

    pub fn client(mut self, spec: ClientSpec) -> Self {
        self.clients.push(spec);
        self
    }

    pub fn with_clients(mut self, clients: Vec<ClientSpec>) -> Self {
        self.clients = clients;
        self
    }

    pub fn steps(mut self, steps: impl IntoIterator<Item = Step>) -> Self {
        self.steps.extend(steps);
        self
    }
}
