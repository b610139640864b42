//! Abstract MQTT control packets: only the fields the modelled properties depend on.
//!
//! Topics, payloads and properties do not exist. An application message is an index into the
//! configuration; a will is named by the client whose will it is.

use crate::config::{Qos, Version};
use crate::routing::Subscribed;
use std::fmt;
use verimqtt_spec::trace::PacketKind;

/// A packet identifier; 0 means "none" (a QoS 0 PUBLISH carries none).
pub type PacketId = u8;

/// What a PUBLISH carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// Application message `n` of the publisher's script.
    App(u8),
    /// The will of client `c`, published by the broker at QoS 0.
    Will(u8),
    /// The copy of retained application message `message` the broker sends a new
    /// subscription (RETAIN=1), at `qos`: the message's QoS lowered to the filter's grant (a
    /// subscriber whose filters overlap gets one per filter, each at its own QoS).
    Retained { message: u8, qos: Qos },
}

/// Fills the unused slots of the state's inline lists ([`crate::inline`]), which no
/// comparison or hash looks at.
impl Default for Message {
    fn default() -> Message {
        Message::App(0)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Packet {
    Connect {
        clean_start: bool,
        will: bool,
        /// 5.0: the client's Receive Maximum, which bounds the broker's unacknowledged QoS 1/2
        /// PUBLISHes to it [MQTT-3.3.4-9]; none in 3.1.1.
        receive_maximum: Option<u8>,
    },
    ConnAck {
        session_present: bool,
        /// 5.0: the broker's Receive Maximum, which bounds the client's unacknowledged QoS 1/2
        /// PUBLISHes [MQTT-3.3.4-7]; none in 3.1.1.
        receive_maximum: Option<u8>,
    },
    Publish {
        id: PacketId,
        message: Message,
        qos: Qos,
        dup: bool,
        /// The RETAIN flag: a publisher's as its application published the message; the
        /// broker's 1 on a retained copy for a new subscription, and on a forwarded copy only
        /// if it was published with 1 and a matching subscription asks for Retain As
        /// Published (5.0).
        retain: bool,
    },
    /// A QoS 1 or 2 PUBLISH a hostile client writes beyond the broker's Receive Maximum (see
    /// [`crate::quota`]): its message is none the publishers' applications hand over, and its
    /// id, [`crate::quota::BEYOND_QUOTA_ID`], none a sender allocates.
    PublishBeyondQuota {
        qos: Qos,
    },
    PubAck(PacketId),
    PubRec(PacketId),
    /// 5.0: a PUBREC with reason 0x80 (Unspecified error), refusing the message. Only a
    /// hostile client sends one in the model (see [`crate::config::Config::hostile_pubrecs`]).
    PubRecRefused(PacketId),
    PubRel(PacketId),
    PubComp(PacketId),
    /// SUBSCRIBE, and what the session holds once it is granted: the subscriber's first
    /// SUBSCRIBE ([`Subscribed::First`], all its filters) or the one that adds filters.
    Subscribe(PacketId, Subscribed),
    /// SUBACK of the SUBSCRIBE with the same id and kind, every filter granted as asked.
    SubAck(PacketId, Subscribed),
    /// UNSUBSCRIBE from every filter the client subscribes to.
    Unsubscribe(PacketId),
    /// UNSUBACK; `existed`: the session had the subscription (5.0 reason 0x00, else 0x11).
    UnsubAck {
        id: PacketId,
        existed: bool,
    },
    #[default]
    PingReq,
    PingResp,
    /// DISCONNECT: from a client, reason 0x00 (normal disconnection); from the broker, the
    /// reason it announces.
    Disconnect,
    /// 5.0: a client's DISCONNECT with reason 0x04, Disconnect with Will Message.
    DisconnectWithWill,
}

/// 5.0 reason codes the model's packets carry besides success (0x00).
pub mod reason {
    /// PUBACK / PUBREC: the message was accepted, but nobody subscribes to it.
    pub const NO_MATCHING_SUBSCRIBERS: u8 = 0x10;
    /// PUBACK / PUBREC: refused, the payload is not the UTF-8 its Payload Format Indicator says.
    pub const PAYLOAD_FORMAT_INVALID: u8 = 0x99;
    /// DISCONNECT from a client: close normally, but publish the will (5.0).
    pub const DISCONNECT_WITH_WILL: u8 = 0x04;
    /// DISCONNECT from the broker: nothing was received for 1.5 x keep alive.
    pub const KEEP_ALIVE_TIMEOUT: u8 = 0x8d;
    /// DISCONNECT from the broker: another connection took the session over.
    pub const SESSION_TAKEN_OVER: u8 = 0x8e;
    /// UNSUBACK: the session had no such subscription.
    pub const NO_SUBSCRIPTION_EXISTED: u8 = 0x11;
    /// DISCONNECT from the broker: the client sent a QoS 1/2 PUBLISH beyond its Receive
    /// Maximum (5.0 section 3.3.4).
    pub const RECEIVE_MAXIMUM_EXCEEDED: u8 = 0x93;
    /// PUBREL: the PUBREC's id has no flight; PUBCOMP: the PUBREL's id was not awaiting
    /// release.
    pub const PACKET_ID_NOT_FOUND: u8 = 0x92;
    /// PUBREC: the receiver refuses the message and does not say why.
    pub const UNSPECIFIED_ERROR: u8 = 0x80;
}

impl Packet {
    /// The PUBCOMP answering a PUBREL of `id`, with its reason code: a receiver answers every
    /// PUBREL, and 5.0 says when it did not know the id (section 3.7.2.1).
    pub fn completion(id: PacketId, known: bool, version: Version) -> (Packet, Option<u8>) {
        (Packet::PubComp(id), id_reason(known, version))
    }

    /// The PUBREL with which verimqtt's sender answers an accepted PUBREC of `id` for which it
    /// has no flight: 5.0 says the id was not found (section 3.6.2.1).
    pub fn release_of_unknown(id: PacketId, version: Version) -> (Packet, Option<u8>) {
        (Packet::PubRel(id), id_reason(false, version))
    }
}

/// The reason code of a PUBREL or PUBCOMP for an id the sender knew or not: 5.0 only.
fn id_reason(known: bool, version: Version) -> Option<u8> {
    let code = if known { 0 } else { reason::PACKET_ID_NOT_FOUND };
    (version == Version::V5_0).then_some(code)
}

impl Packet {
    /// The packet's type, as a trace names it.
    pub fn kind(&self) -> PacketKind {
        match self {
            Packet::Connect { .. } => PacketKind::Connect,
            Packet::ConnAck { .. } => PacketKind::Connack,
            Packet::Publish { .. } | Packet::PublishBeyondQuota { .. } => PacketKind::Publish,
            Packet::PubAck(_) => PacketKind::Puback,
            Packet::PubRec(_) | Packet::PubRecRefused(_) => PacketKind::Pubrec,
            Packet::PubRel(_) => PacketKind::Pubrel,
            Packet::PubComp(_) => PacketKind::Pubcomp,
            Packet::Subscribe(..) => PacketKind::Subscribe,
            Packet::SubAck(..) => PacketKind::Suback,
            Packet::Unsubscribe(_) => PacketKind::Unsubscribe,
            Packet::UnsubAck { .. } => PacketKind::Unsuback,
            Packet::PingReq => PacketKind::Pingreq,
            Packet::PingResp => PacketKind::Pingresp,
            Packet::Disconnect | Packet::DisconnectWithWill => PacketKind::Disconnect,
        }
    }

    /// The reason code a sender puts in this packet when nothing calls for another: 0x00 in
    /// every 5.0 acknowledgement and DISCONNECT, and in CONNACK in both versions (3.1.1's
    /// return code 0, "accepted"); `None` for a packet without one.
    pub fn success_code(&self, version: Version) -> Option<u8> {
        match self {
            Packet::ConnAck { .. } => Some(0),
            Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubRel(_) | Packet::PubComp(_) | Packet::Disconnect => {
                (version == Version::V5_0).then_some(0)
            }
            Packet::DisconnectWithWill => Some(reason::DISCONNECT_WITH_WILL),
            Packet::PubRecRefused(_) => Some(reason::UNSPECIFIED_ERROR),
            _ => None,
        }
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::App(n) => write!(f, "m{n}"),
            Message::Will(c) => write!(f, "will of c{c}"),
            Message::Retained { message, .. } => write!(f, "retained m{message}"),
        }
    }
}

impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Packet::Connect { clean_start, will, receive_maximum } => {
                let will = if *will { ", will" } else { "" };
                write!(f, "CONNECT(clean={}{will}{})", u8::from(*clean_start), receive_maximum_suffix(*receive_maximum))
            }
            Packet::ConnAck { session_present, receive_maximum } => {
                let present = u8::from(*session_present);
                write!(f, "CONNACK(session present={present}{})", receive_maximum_suffix(*receive_maximum))
            }
            Packet::Publish { id, message, qos, dup, retain } => {
                write!(f, "PUBLISH({message}, qos {}", qos.level())?;
                if *id != 0 {
                    write!(f, ", id {id}")?;
                }
                write!(f, ", dup={}{})", u8::from(*dup), if *retain { ", retain=1" } else { "" })
            }
            Packet::PublishBeyondQuota { qos } => write!(f, "PUBLISH(beyond the quota, qos {})", qos.level()),
            Packet::PubAck(id) => write!(f, "PUBACK({id})"),
            Packet::PubRec(id) => write!(f, "PUBREC({id})"),
            Packet::PubRecRefused(id) => write!(f, "PUBREC({id}, refused)"),
            Packet::PubRel(id) => write!(f, "PUBREL({id})"),
            Packet::PubComp(id) => write!(f, "PUBCOMP({id})"),
            Packet::Subscribe(id, subscribed) => write!(f, "SUBSCRIBE({id}{})", added_suffix(*subscribed)),
            Packet::SubAck(id, subscribed) => write!(f, "SUBACK({id}{})", added_suffix(*subscribed)),
            Packet::Unsubscribe(id) => write!(f, "UNSUBSCRIBE({id})"),
            Packet::UnsubAck { id, existed } => {
                write!(f, "UNSUBACK({id}{})", if *existed { "" } else { ", no subscription existed" })
            }
            Packet::PingReq => write!(f, "PINGREQ"),
            Packet::PingResp => write!(f, "PINGRESP"),
            Packet::Disconnect => write!(f, "DISCONNECT"),
            Packet::DisconnectWithWill => write!(f, "DISCONNECT(0x04, with will)"),
        }
    }
}

/// A 5.0 CONNECT's or CONNACK's Receive Maximum, as a packet prints it.
fn receive_maximum_suffix(receive_maximum: Option<u8>) -> String {
    receive_maximum.map_or_else(String::new, |r| format!(", receive maximum {r}"))
}

/// How a SUBSCRIBE or SUBACK that adds filters prints apart from a first one.
fn added_suffix(subscribed: Subscribed) -> &'static str {
    if subscribed == Subscribed::Added { ", adds filters" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_5_0_s_but_connack_s() {
        assert_eq!(Packet::PubAck(1).success_code(Version::V5_0), Some(0));
        assert_eq!(Packet::PubAck(1).success_code(Version::V3_1_1), None);
        let connack = Packet::ConnAck { session_present: false, receive_maximum: None };
        assert_eq!(connack.success_code(Version::V3_1_1), Some(0));
        assert_eq!(Packet::PingReq.success_code(Version::V5_0), None);
    }

    #[test]
    fn a_pubrel_for_an_unknown_id_is_completed_with_0x92_in_5_0() {
        assert_eq!(Packet::completion(3, false, Version::V5_0), (Packet::PubComp(3), Some(0x92)));
        assert_eq!(Packet::completion(3, true, Version::V5_0), (Packet::PubComp(3), Some(0)));
        assert_eq!(Packet::completion(3, false, Version::V3_1_1), (Packet::PubComp(3), None));
        assert_eq!(Packet::release_of_unknown(3, Version::V5_0), (Packet::PubRel(3), Some(0x92)));
        assert_eq!(Packet::release_of_unknown(3, Version::V3_1_1), (Packet::PubRel(3), None));
    }
}
