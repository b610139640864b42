//! Abstract MQTT control packets: only the fields the modelled properties depend on.
//!
//! Topics, payloads and properties do not exist. An application message is an index into the
//! configuration; a will is named by the client whose will it is.

use crate::config::Qos;
use std::fmt;

/// A packet identifier; 0 means "none" (a QoS 0 PUBLISH carries none).
pub type PacketId = u8;

/// What a PUBLISH carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// Application message `n` of the publisher's script.
    App(u8),
    /// The will of client `c`, published by the broker at QoS 0.
    Will(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Packet {
    Connect { clean_start: bool, will: bool },
    ConnAck { session_present: bool },
    Publish { id: PacketId, message: Message, qos: Qos, dup: bool },
    PubAck(PacketId),
    PubRec(PacketId),
    PubRel(PacketId),
    PubComp(PacketId),
    Subscribe(PacketId),
    SubAck(PacketId),
    PingReq,
    PingResp,
    Disconnect,
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::App(n) => write!(f, "m{n}"),
            Message::Will(c) => write!(f, "will of c{c}"),
        }
    }
}

impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Packet::Connect { clean_start, will } => {
                write!(f, "CONNECT(clean={}{})", u8::from(*clean_start), if *will { ", will" } else { "" })
            }
            Packet::ConnAck { session_present } => {
                write!(f, "CONNACK(session present={})", u8::from(*session_present))
            }
            Packet::Publish { id, message, qos, dup } => {
                write!(f, "PUBLISH({message}, qos {}", qos.level())?;
                if *id != 0 {
                    write!(f, ", id {id}")?;
                }
                write!(f, ", dup={})", u8::from(*dup))
            }
            Packet::PubAck(id) => write!(f, "PUBACK({id})"),
            Packet::PubRec(id) => write!(f, "PUBREC({id})"),
            Packet::PubRel(id) => write!(f, "PUBREL({id})"),
            Packet::PubComp(id) => write!(f, "PUBCOMP({id})"),
            Packet::Subscribe(id) => write!(f, "SUBSCRIBE({id})"),
            Packet::SubAck(id) => write!(f, "SUBACK({id})"),
            Packet::PingReq => write!(f, "PINGREQ"),
            Packet::PingResp => write!(f, "PINGRESP"),
            Packet::Disconnect => write!(f, "DISCONNECT"),
        }
    }
}
