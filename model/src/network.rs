//! TCP connections between a client and the broker.
//!
//! Each connection is two FIFO channels. A cut loses whatever is in flight in both directions
//! and silently drops everything sent afterwards: neither end is told, as when a cable is
//! pulled, so each end finds out through keep alive. Closing an end sends a FIN, which the peer
//! reads after the packets before it.

use crate::bits::Bits;
use crate::inline::Inline;
use crate::packet::Packet;
use crate::symmetry::Permutation;

/// Room for packets on one channel, and for those held back on a connection: past the
/// structural bound ([`crate::bounds::Bounds::packets_per_channel`], 12 by default), so a
/// channel that outgrows it is reported (its list overflows) rather than cut short silently.
pub const CHANNEL_CAPACITY: usize = 16;

pub type Packets = Inline<Packet, CHANNEL_CAPACITY>;

/// One direction of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Channel {
    pub packets: Packets,
    /// The sender closed its end; the receiver sees it after the packets.
    pub fin: bool,
}

impl Channel {
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty() && !self.fin
    }

    fn clear(&mut self) {
        self.packets.clear();
        self.fin = false;
    }
}

/// The broker's end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokerEnd {
    /// The broker has not yet read the CONNECT, and has waited for it this many ticks.
    AwaitingConnect {
        waited: u8,
    },
    Open {
        /// Ticks since the broker last received a packet on this connection.
        silence: u8,
        /// A will is stored for this connection.
        will: bool,
        /// 5.0: the Receive Maximum of the CONNECT, which bounds the broker's unacknowledged
        /// QoS 1/2 PUBLISHes on this connection [MQTT-3.3.4-9].
        receive_maximum: Option<u8>,
        /// Ids of the QoS 2 PUBLISHes read on this connection whose PUBREL has not come: what
        /// counts against the broker's Receive Maximum on it (a QoS 1 PUBLISH is answered at
        /// once). Kept only where a hostile client may exceed it ([`crate::quota`]), so that
        /// other configurations keep their states.
        unreleased: Bits,
    },
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Link {
    pub to_broker: Channel,
    pub to_client: Channel,
    pub cut: bool,
    pub client_open: bool,
    pub broker: BrokerEnd,
    /// Ghost: PINGREQs the client sent on this connection that no PINGRESP has answered yet.
    pub unanswered_pings: u8,
    /// Packets the broker queued for the client but holds back until the store commits the
    /// changes before them (see [`crate::store`]); lost if the connection or the broker ends.
    pub held: Packets,
}

impl Link {
    /// The same with the clients renamed (see [`crate::symmetry`]): wills in PUBLISHes.
    pub fn permuted(&self, p: &Permutation) -> Link {
        let packets = |packets: &Packets| {
            let mut moved = *packets;
            for packet in moved.iter_mut() {
                *packet = p.packet(*packet);
            }
            moved
        };
        let channel = |c: &Channel| Channel { packets: packets(&c.packets), fin: c.fin };
        Link {
            to_broker: channel(&self.to_broker),
            to_client: channel(&self.to_client),
            held: packets(&self.held),
            ..*self
        }
    }

    pub fn opened_with(connect: Packet) -> Link {
        Link {
            to_broker: Channel { packets: [connect].into_iter().collect(), fin: false },
            to_client: Channel::default(),
            cut: false,
            client_open: true,
            broker: BrokerEnd::AwaitingConnect { waited: 0 },
            unanswered_pings: 0,
            held: Packets::new(),
        }
    }

    pub fn broker_open(&self) -> bool {
        matches!(self.broker, BrokerEnd::Open { .. })
    }

    /// The network fails: in-flight data is lost and later sends vanish.
    pub fn cut(&mut self) {
        self.cut = true;
        self.to_broker.clear();
        self.to_client.clear();
    }

    /// The client sends; nothing arrives over a cut connection or at a closed broker end.
    pub fn send_to_broker(&mut self, packet: Packet) {
        if !self.cut && self.broker != BrokerEnd::Closed {
            self.to_broker.packets.push_or_overflow(packet);
        }
    }

    /// The broker sends; nothing arrives over a cut connection or at a closed client.
    pub fn send_to_client(&mut self, packet: Packet) {
        if !self.cut && self.client_open {
            self.to_client.packets.push_or_overflow(packet);
        }
    }

    /// The store committed what the held packets waited for: they go out, in order.
    pub fn release_held(&mut self) {
        while let Some(packet) = self.held.pop_front() {
            self.send_to_client(packet);
        }
    }

    pub fn close_client_end(&mut self) {
        self.client_open = false;
        self.to_client.clear();
        if !self.cut && self.broker != BrokerEnd::Closed {
            self.to_broker.fin = true;
        }
    }

    pub fn close_broker_end(&mut self) {
        self.broker = BrokerEnd::Closed;
        self.held.clear();
        self.to_broker.clear();
        if !self.cut && self.client_open {
            self.to_client.fin = true;
        }
    }

    /// Neither end will ever act on this connection again. A broker that `times_out_connect`
    /// holds an end that awaits CONNECT until its timeout.
    pub fn is_finished(&self, times_out_connect: bool) -> bool {
        !self.client_open
            && match self.broker {
                BrokerEnd::Open { .. } => false,
                BrokerEnd::Closed => true,
                // A CONNECT still in flight will open the broker's end; a FIN (of a reported
                // cut) will close it.
                BrokerEnd::AwaitingConnect { .. } => !times_out_connect && self.to_broker.is_empty(),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_loses_everything_in_flight_and_later_sends() {
        let mut link = Link::opened_with(Packet::PingReq);
        link.send_to_client(Packet::PingResp);
        link.cut();
        link.send_to_broker(Packet::PingReq);
        assert!(link.to_broker.is_empty() && link.to_client.is_empty());
        link.close_client_end();
        assert!(!link.to_broker.fin, "a FIN is lost on a cut connection too");
    }

    #[test]
    fn held_packets_go_out_in_order_at_the_commit_and_die_with_the_broker_end() {
        let mut link = Link::opened_with(Packet::PingReq);
        link.held.extend([Packet::PubAck(1), Packet::PingResp]);
        link.release_held();
        assert_eq!(*link.to_client.packets, [Packet::PubAck(1), Packet::PingResp]);
        link.held.push(Packet::PubAck(2));
        link.close_broker_end();
        assert!(link.held.is_empty(), "what was held is lost with the connection");
        assert_eq!(link.to_client.packets.len(), 2);
    }

    #[test]
    fn closing_sends_fin_after_pending_packets() {
        let mut link = Link::opened_with(Packet::Disconnect);
        link.close_client_end();
        assert_eq!(link.to_broker.packets.len(), 1);
        assert!(link.to_broker.fin);
        assert!(!link.is_finished(false), "the broker has yet to read the CONNECT");
    }
}
