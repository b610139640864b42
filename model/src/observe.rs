//! What an outside observer of the real system would see a step do: the events an action
//! produces, in the vocabulary of `verimqtt_spec::trace`, with the model's abstract values
//! (client indices, connection positions, message and packet ids) in place of the concrete
//! ones a trace carries. The trace checker matches these against recorded traces.
//!
//! One action can produce several events (the broker reads a PUBLISH, routes it and answers
//! PUBACK); they are listed in the order the step produces them.

use crate::config::Qos;
use crate::packet::{Message, Packet};
use std::fmt;
use verimqtt_spec::trace::{CloseReason, Fault, Timer};

/// Who observes an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    Client(usize),
    Broker,
    /// The network, whose faults are observable: a trace logs every fault injected.
    Network,
}

/// A connection: the `link`-th of `client`'s links in the state the step started from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkRef {
    pub client: usize,
    pub link: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Observation {
    Opened {
        actor: Actor,
        link: LinkRef,
    },
    Closed {
        actor: Actor,
        link: LinkRef,
        reason: CloseReason,
    },
    Sent {
        actor: Actor,
        link: LinkRef,
        packet: Packet,
        /// The reason code the sender puts in the packet, for packets that carry one.
        reason: Option<u8>,
    },
    Received {
        actor: Actor,
        link: LinkRef,
        packet: Packet,
    },
    /// The application of `client` asks to publish application message `message`.
    PublishRequested {
        client: usize,
        message: u8,
        qos: Qos,
    },
    /// The client gives application message `message` back to its application, never to
    /// send it (again): a QoS 0 message whose connection closed before it went, a QoS 1/2
    /// flight of a session the client discards.
    Abandoned {
        client: usize,
        message: u8,
        qos: Qos,
    },
    /// A message reaches the application of `client`, with the RETAIN flag of its PUBLISH.
    Delivered {
        client: usize,
        message: Message,
        qos: Qos,
        retain: bool,
    },
    TimerFired {
        actor: Actor,
        timer: Timer,
    },
    /// The network fails under a connection.
    Fault {
        link: LinkRef,
        fault: Fault,
    },
    /// A packet the client did not send is written on its connection toward the broker,
    /// with its reason code, by whoever plays the hostile client (logged like a fault): a
    /// PUBLISH beyond the broker's Receive Maximum ([`crate::quota`]) or a PUBREC for an id
    /// no flight uses ([`crate::hostile`]).
    Injected {
        link: LinkRef,
        packet: Packet,
        reason: Option<u8>,
    },
    /// The broker process dies and starts again: as observable as a fault, since whoever
    /// restarts it logs it.
    Restarted,
}

impl Observation {
    pub fn actor(&self) -> Actor {
        match *self {
            Observation::Opened { actor, .. }
            | Observation::Closed { actor, .. }
            | Observation::Sent { actor, .. }
            | Observation::Received { actor, .. }
            | Observation::TimerFired { actor, .. } => actor,
            Observation::PublishRequested { client, .. }
            | Observation::Abandoned { client, .. }
            | Observation::Delivered { client, .. } => Actor::Client(client),
            Observation::Fault { .. } | Observation::Injected { .. } => Actor::Network,
            Observation::Restarted => Actor::Broker,
        }
    }

    /// The connection the event happens on, if any.
    pub fn link(&self) -> Option<LinkRef> {
        match *self {
            Observation::Opened { link, .. }
            | Observation::Closed { link, .. }
            | Observation::Sent { link, .. }
            | Observation::Received { link, .. }
            | Observation::Fault { link, .. }
            | Observation::Injected { link, .. } => Some(link),
            Observation::PublishRequested { .. }
            | Observation::Abandoned { .. }
            | Observation::Delivered { .. }
            | Observation::TimerFired { .. }
            | Observation::Restarted => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Client(c) => write!(f, "c{c}"),
            Actor::Broker => f.write_str("broker"),
            Actor::Network => f.write_str("network"),
        }
    }
}

impl fmt::Display for LinkRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}#{}", self.client, self.link)
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observation::Opened { actor, link } => write!(f, "{actor} opens {link}"),
            Observation::Closed { actor, link, reason } => write!(f, "{actor} closes {link} ({reason:?})"),
            Observation::Sent { actor, link, packet, reason: None } => write!(f, "{actor} sends {packet} on {link}"),
            Observation::Sent { actor, link, packet, reason: Some(code) } => {
                write!(f, "{actor} sends {packet} (reason {code:#04x}) on {link}")
            }
            Observation::Received { actor, link, packet } => write!(f, "{actor} receives {packet} on {link}"),
            Observation::PublishRequested { client, message, qos } => {
                write!(f, "c{client} application publishes m{message} at qos {}", qos.level())
            }
            Observation::Abandoned { client, message, qos } => {
                write!(f, "c{client} application gets m{message} at qos {} back", qos.level())
            }
            Observation::Delivered { client, message, qos, retain } => {
                write!(f, "c{client} application receives {message} at qos {}", qos.level())?;
                if *retain { f.write_str(" with retain=1") } else { Ok(()) }
            }
            Observation::TimerFired { actor, timer } => write!(f, "{actor} timer {timer:?} fires"),
            Observation::Fault { link, fault } => write!(f, "network fault {fault:?} under {link}"),
            Observation::Injected { link, packet, reason } => {
                write!(f, "network injects {packet} (reason {reason:?}) towards the broker on {link}")
            }
            Observation::Restarted => f.write_str("the broker restarts"),
        }
    }
}
