//! The specification broker's view of one network connection: what it read on it and what
//! it owes the client there.

use crate::packet::Packet;

/// A response the broker owes on the connection it read the request on, with whether the
/// request's packet id was known (a PUBREL's: 5.0's PUBCOMP says 0x92 if not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Owed {
    pub packet: Packet,
    pub id_known: bool,
}

/// A connection whose CONNECT the broker read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Open {
    /// Session Present the CONNACK must carry, until it is sent ([MQTT-3.2.2-1], [MQTT-3.2.2-2],
    /// [MQTT-3.2.2-3] in 3.1.1; [MQTT-3.2.2-2], [MQTT-3.2.2-3] in 5.0).
    pub connack_owed: Option<bool>,
    /// Responses owed, in the order their requests arrived. MQTT orders PUBACKs and PUBRECs
    /// only for the client ([MQTT-4.6.0-2], [MQTT-4.6.0-3] bind the client), so the broker
    /// may send them in any order.
    pub owed: Vec<Owed>,
    /// Ticks since the broker last read a packet here.
    pub silence: u8,
    /// The CONNECT carried a will that no DISCONNECT 0x00 deleted [MQTT-3.14.4-3].
    pub will: bool,
    /// The client's end closed (the broker read the FIN).
    pub fin_read: bool,
    /// The client sent DISCONNECT (either reason).
    pub disconnect_read: bool,
    /// A later CONNECT for the same client took the session over (resuming it, or not): the
    /// broker must close this connection ([MQTT-3.1.4-2] in 3.1.1, [MQTT-3.1.4-3] in 5.0) and
    /// send it nothing else.
    pub taken_over: Option<bool>,
    /// The broker sent DISCONNECT (5.0): it may only close now [MQTT-3.14.4-1].
    pub announced: bool,
}

impl Open {
    pub fn new(session_present: bool, will: bool) -> Open {
        Open {
            connack_owed: Some(session_present),
            owed: Vec::new(),
            silence: 0,
            will,
            fin_read: false,
            disconnect_read: false,
            taken_over: None,
            announced: false,
        }
    }

    /// The connection is the session's, and the CONNACK went out first [MQTT-3.2.0-1]: session
    /// packets may go out on it.
    pub fn carries_session(&self) -> bool {
        self.connack_owed.is_none() && self.taken_over.is_none() && !self.announced
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Conn {
    /// The broker accepted the connection but has read no CONNECT on it.
    Accepted {
        fin_read: bool,
    },
    Open(Open),
    Closed,
}
