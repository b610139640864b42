//! The simulated network: per connection, one FIFO pipe each way, carrying whole packets
//! and, last, the close of the transport.

use std::collections::VecDeque;

use bytes::Bytes;

use super::scenario::Side;

/// What travels in a pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// One whole MQTT packet.
    Packet(Bytes),
    /// The sender closed the transport: nothing follows.
    Close,
}

/// One connection between a client and the broker.
#[derive(Debug)]
pub(super) struct Link {
    pub client: usize,
    pub to_broker: VecDeque<Segment>,
    pub to_client: VecDeque<Segment>,
    /// Whether each end still uses the connection.
    pub client_open: bool,
    pub broker_open: bool,
    /// The network failed: what was in flight is lost and what is sent later vanishes.
    pub cut: bool,
}

impl Link {
    pub fn new(client: usize) -> Self {
        Link {
            client,
            to_broker: VecDeque::new(),
            to_client: VecDeque::new(),
            client_open: true,
            broker_open: true,
            cut: false,
        }
    }

    /// The pipe towards `receiver`.
    pub fn pipe(&mut self, receiver: Side) -> &mut VecDeque<Segment> {
        match receiver {
            Side::Client => &mut self.to_client,
            Side::Broker => &mut self.to_broker,
        }
    }

    /// Whether `side` still uses the connection.
    pub fn is_open(&self, side: Side) -> bool {
        match side {
            Side::Client => self.client_open,
            Side::Broker => self.broker_open,
        }
    }

    /// Sends `bytes` (one or more whole packets) from the end opposite `receiver`, one
    /// segment per packet, if that end still uses the connection.
    pub fn send(&mut self, receiver: Side, mut bytes: Bytes) {
        while let Some(length) = frame_len(&bytes) {
            let packet = Segment::Packet(bytes.split_to(length));
            self.put(receiver, packet);
        }
    }

    /// The end opposite `receiver` closes: it stops using the connection, and its close
    /// follows what it sent.
    pub fn close(&mut self, receiver: Side) {
        self.put(receiver, Segment::Close);
        match receiver {
            Side::Client => self.broker_open = false,
            Side::Broker => self.client_open = false,
        }
    }

    /// The network fails: what is in flight is lost, and what is sent later vanishes.
    pub fn cut(&mut self) {
        self.cut = true;
        self.to_broker.clear();
        self.to_client.clear();
    }

    /// The broker process dies: what was on its way to it is lost, and its end closes as
    /// when the operating system closes a dead process's sockets (the client reads the close
    /// after what was on its way to it).
    pub fn broker_dies(&mut self) {
        self.to_broker.clear();
        if self.broker_open {
            self.close(Side::Client);
        }
    }

    fn put(&mut self, receiver: Side, segment: Segment) {
        let sender = match receiver {
            Side::Client => Side::Broker,
            Side::Broker => Side::Client,
        };
        if self.is_open(sender) && !self.cut {
            self.pipe(receiver).push_back(segment);
        }
    }
}

/// The length of the whole packet `bytes` starts with: the fixed header's type byte, its
/// Remaining Length varint, and that many bytes; `None` if `bytes` holds no whole packet.
fn frame_len(bytes: &[u8]) -> Option<usize> {
    let mut remaining = 0usize;
    for (index, &byte) in bytes.iter().enumerate().skip(1).take(4) {
        remaining += usize::from(byte & 0x7f) << (7 * (index - 1));
        if byte & 0x80 == 0 {
            let length = index + 1 + remaining;
            return (length <= bytes.len()).then_some(length);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_split_at_their_remaining_length() {
        assert_eq!(frame_len(&[0xc0, 0x00, 0xd0, 0x00]), Some(2));
        assert_eq!(frame_len(&[0x30, 0x03, 1, 2, 3, 0xc0]), Some(5));
        assert_eq!(frame_len(&[0x30, 0x80, 0x01]), None);
        let mut long = vec![0x30, 0x80, 0x01];
        long.extend([0; 128]);
        assert_eq!(frame_len(&long), Some(131));
        assert_eq!(frame_len(&[]), None);
    }

    #[test]
    fn a_cut_loses_what_is_in_flight_and_what_comes_after() {
        let mut link = Link::new(0);
        link.send(Side::Client, Bytes::from_static(&[0xd0, 0x00]));
        link.cut();
        link.send(Side::Broker, Bytes::from_static(&[0xc0, 0x00]));
        link.close(Side::Client);
        assert!(link.to_broker.is_empty() && link.to_client.is_empty());
        assert!(!link.broker_open && link.client_open);
    }

    #[test]
    fn a_close_follows_what_was_sent_and_ends_the_sending() {
        let mut link = Link::new(0);
        link.send(Side::Broker, Bytes::from_static(&[0xc0, 0x00]));
        link.close(Side::Broker);
        link.send(Side::Broker, Bytes::from_static(&[0xc0, 0x00]));
        assert_eq!(link.to_broker, [Segment::Packet(Bytes::from_static(&[0xc0, 0x00])), Segment::Close]);
    }

    #[test]
    fn a_dead_broker_loses_what_was_on_its_way_and_closes_after_what_it_sent() {
        let mut link = Link::new(0);
        link.send(Side::Broker, Bytes::from_static(&[0xc0, 0x00]));
        link.send(Side::Client, Bytes::from_static(&[0xd0, 0x00]));
        link.broker_dies();
        assert!(link.to_broker.is_empty() && !link.broker_open);
        assert_eq!(link.to_client, [Segment::Packet(Bytes::from_static(&[0xd0, 0x00])), Segment::Close]);
    }

    #[test]
    fn a_closed_end_sends_nothing() {
        let mut link = Link::new(0);
        link.send(Side::Broker, Bytes::from_static(&[0xc0, 0x00, 0xc0, 0x00]));
        assert_eq!(link.to_broker.len(), 2);
        link.client_open = false;
        link.send(Side::Broker, Bytes::from_static(&[0xc0, 0x00]));
        assert_eq!(link.to_broker.len(), 2);
    }
}
