//! The allocator of packet identifiers both roles use, for PUBLISH, SUBSCRIBE and
//! UNSUBSCRIBE: never 0, never one in use ([MQTT-2.3.1-1], [MQTT-2.3.1-2] in 3.1.1;
//! [MQTT-2.2.1-3] in 5.0).

use std::collections::BTreeSet;

use crate::codec::PacketId;

/// The identifiers in use. Allocation goes round from the last one handed out, so an
/// identifier just released is the last to come back: a late acknowledgement of an old
/// exchange then cannot be mistaken for one of the next. Identifiers are released about in
/// the order they were taken, so the next one free is almost always the first tried; an
/// empty pool costs no allocation, which matters for a broker holding many sessions.
#[derive(Debug)]
pub(crate) struct PacketIds {
    in_use: BTreeSet<u16>,
    /// Where the next search starts.
    next: u16,
}

impl Default for PacketIds {
    fn default() -> Self {
        PacketIds { in_use: BTreeSet::new(), next: 1 }
    }
}

impl PacketIds {
    pub(crate) const CAPACITY: usize = u16::MAX as usize;

    /// A free identifier, now taken; `None` when all 65535 are in use.
    pub(crate) fn allocate(&mut self) -> Option<PacketId> {
        if self.in_use.len() == Self::CAPACITY {
            return None;
        }
        let mut candidate = self.next;
        loop {
            if candidate != 0 && self.in_use.insert(candidate) {
                self.next = candidate.wrapping_add(1);
                return PacketId::new(candidate);
            }
            candidate = candidate.wrapping_add(1);
        }
    }

    /// Takes an identifier a restored session had in use.
    pub(crate) fn take(&mut self, id: PacketId) {
        self.in_use.insert(id.get());
    }

    pub(crate) fn release(&mut self, id: PacketId) {
        let released = self.in_use.remove(&id.get());
        debug_assert!(released, "packet identifier {id} released twice");
    }

    /// The identifiers in use, in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = PacketId> + '_ {
        self.in_use.iter().filter_map(|&id| PacketId::new(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_start_at_1_and_go_round_skipping_0() {
        let mut ids = PacketIds::default();
        assert_eq!(ids.allocate(), PacketId::new(1));
        assert_eq!(ids.allocate(), PacketId::new(2));
        ids.release(PacketId::new(1).unwrap());
        // The released one is not handed out again before the others.
        assert_eq!(ids.allocate(), PacketId::new(3));
    }

    #[test]
    fn exhaustion_is_none_and_a_release_makes_room() {
        let mut ids = PacketIds::default();
        for expected in 1..=u16::MAX {
            assert_eq!(ids.allocate(), PacketId::new(expected));
        }
        assert_eq!(ids.iter().count(), PacketIds::CAPACITY);
        assert_eq!(ids.allocate(), None);
        let freed = PacketId::new(40_000).unwrap();
        ids.release(freed);
        assert_eq!(ids.allocate(), Some(freed));
        assert_eq!(ids.allocate(), None);
    }

    #[test]
    fn wrapping_search_finds_ids_below_the_start() {
        let mut ids = PacketIds::default();
        for _ in 1..=u16::MAX {
            ids.allocate();
        }
        ids.release(PacketId::new(5).unwrap());
        ids.release(PacketId::new(65_535).unwrap());
        // The search starts after 65535, wraps past 0 and finds 5 before coming back to 65535.
        assert_eq!(ids.allocate(), PacketId::new(5));
        assert_eq!(ids.allocate(), PacketId::new(65_535));
    }

    #[test]
    fn iter_lists_exactly_the_ids_in_use() {
        let mut ids = PacketIds::default();
        let taken: Vec<_> = (0..130).filter_map(|_| ids.allocate()).collect();
        for id in taken.iter().step_by(3) {
            ids.release(*id);
        }
        let expected: Vec<_> = taken.iter().enumerate().filter(|(i, _)| i % 3 != 0).map(|(_, id)| *id).collect();
        assert_eq!(ids.iter().collect::<Vec<_>>(), expected);
    }
}
