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
}

impl Link {
    pub fn new(client: usize) -> Self {
        Link { client, to_broker: VecDeque::new(), to_client: VecDeque::new(), client_open: true, broker_open: true }
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
        let sender = match receiver {
            Side::Client => Side::Broker,
            Side::Broker => Side::Client,
        };
        if !self.is_open(sender) {
            return;
        }
        while let Some(length) = frame_len(&bytes) {
            self.pipe(receiver).push_back(Segment::Packet(bytes.split_to(length)));
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
    fn a_closed_end_sends_nothing() {
        let mut link = Link::new(0);
        link.send(Side::Broker, Bytes::from_static(&[0xc0, 0x00, 0xc0, 0x00]));
        assert_eq!(link.to_broker.len(), 2);
        link.client_open = false;
        link.send(Side::Broker, Bytes::from_static(&[0xc0, 0x00]));
        assert_eq!(link.to_broker.len(), 2);
    }
}
