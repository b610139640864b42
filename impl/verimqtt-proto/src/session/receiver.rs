//! The QoS 1 and 2 receiver both roles share: QoS 2 messages delivered and not yet released
//! (session state), and the QoS 1 and 2 messages of this connection not yet answered, which
//! our Receive Maximum bounds.

use std::collections::BTreeSet;

use super::ProtocolViolation;
use crate::codec::PacketId;

/// QoS 2 messages delivered whose PUBREL has not come: a PUBLISH with one of these
/// identifiers is a repeat, answered but not delivered again ([MQTT-4.3.3-2] in 3.1.1,
/// [MQTT-4.3.3-10] in 5.0).
#[derive(Debug, Default)]
pub(crate) struct AwaitingRelease {
    packet_ids: BTreeSet<PacketId>,
}

impl AwaitingRelease {
    /// Whether a QoS 2 message with this identifier was delivered and not released.
    pub(crate) fn contains(&self, packet_id: PacketId) -> bool {
        self.packet_ids.contains(&packet_id)
    }

    /// Records a QoS 2 message; `false` if it is a repeat of one already delivered.
    pub(crate) fn insert(&mut self, packet_id: PacketId) -> bool {
        self.packet_ids.insert(packet_id)
    }

    /// PUBREL came; `false` if the identifier was not waiting for it.
    pub(crate) fn release(&mut self, packet_id: PacketId) -> bool {
        self.packet_ids.remove(&packet_id)
    }

    pub(crate) fn len(&self) -> usize {
        self.packet_ids.len()
    }

    /// The identifiers awaiting PUBREL, in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = PacketId> + '_ {
        self.packet_ids.iter().copied()
    }

    pub(crate) fn clear(&mut self) {
        self.packet_ids.clear();
    }
}

/// The QoS 1 and 2 PUBLISHes received on this connection for which we have not yet written
/// the PUBACK or PUBCOMP (nor a refusing PUBREC): the count the peer must keep within our
/// Receive Maximum ([MQTT-3.3.4-9] for a server, [MQTT-3.3.4-7] for a client). A message is
/// counted until its final answer is *written*, as the peer cannot know of it sooner.
#[derive(Debug)]
pub(crate) struct Unanswered {
    packet_ids: BTreeSet<PacketId>,
    /// `None`: no limit (a 3.1.1 client has no Receive Maximum).
    maximum: Option<u16>,
}

impl Unanswered {
    pub(crate) fn new(maximum: Option<u16>) -> Self {
        Unanswered { packet_ids: BTreeSet::new(), maximum }
    }

    /// A QoS 1 or 2 PUBLISH arrived. A repeat of one still counted is the same message.
    pub(crate) fn received(&mut self, packet_id: PacketId) -> Result<(), ProtocolViolation> {
        if self.packet_ids.contains(&packet_id) {
            return Ok(());
        }
        if let Some(maximum) = self.maximum.filter(|&maximum| self.packet_ids.len() >= usize::from(maximum)) {
            return Err(ProtocolViolation::ReceiveMaximumExceeded { maximum });
        }
        self.packet_ids.insert(packet_id);
        Ok(())
    }

    /// The PUBACK or PUBCOMP (or a refusing PUBREC) for this identifier was written.
    pub(crate) fn answered(&mut self, packet_id: PacketId) {
        self.packet_ids.remove(&packet_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: u16) -> PacketId {
        PacketId::new(value).unwrap()
    }

    #[test]
    fn receive_maximum_counts_distinct_unanswered_messages() {
        let mut unanswered = Unanswered::new(Some(2));
        unanswered.received(id(1)).unwrap();
        unanswered.received(id(2)).unwrap();
        unanswered.received(id(2)).unwrap();
        assert_eq!(unanswered.received(id(3)), Err(ProtocolViolation::ReceiveMaximumExceeded { maximum: 2 }));
        unanswered.answered(id(1));
        assert_eq!(unanswered.received(id(3)), Ok(()));
    }

    #[test]
    fn without_a_receive_maximum_nothing_is_refused() {
        let mut unanswered = Unanswered::new(None);
        for value in 1..=1000 {
            unanswered.received(id(value)).unwrap();
        }
    }

    #[test]
    fn a_repeat_is_recognised_until_released() {
        let mut awaiting = AwaitingRelease::default();
        assert!(awaiting.insert(id(7)));
        assert!(!awaiting.insert(id(7)));
        assert!(awaiting.release(id(7)));
        assert!(!awaiting.release(id(7)));
        assert!(awaiting.insert(id(7)));
    }
}
