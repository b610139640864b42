//! The one allocator of packet identifiers for PUBLISH, SUBSCRIBE and UNSUBSCRIBE: never 0,
//! never one in use ([MQTT-2.3.1-1], [MQTT-2.3.1-2] in 3.1.1; [MQTT-2.2.1-3] in 5.0).

use crate::codec::PacketId;

const WORDS: usize = 1 << 16 >> 6;

/// A bit per identifier. Allocation goes round from the last one handed out, so an identifier
/// just released is the last to come back: a late acknowledgement of an old exchange then
/// cannot be mistaken for one of the next.
#[derive(Debug)]
pub(crate) struct PacketIds {
    in_use: Box<[u64; WORDS]>,
    count: usize,
    /// Where the next search starts.
    next: u16,
}

impl PacketIds {
    pub const CAPACITY: usize = u16::MAX as usize;

    pub fn new() -> Self {
        let mut in_use = Box::new([0; WORDS]);
        // 0 is never an identifier: mark it taken for good.
        in_use[0] = 1;
        PacketIds { in_use, count: 0, next: 1 }
    }

    /// A free identifier, now taken; `None` when all 65535 are in use.
    pub fn allocate(&mut self) -> Option<PacketId> {
        if self.count == Self::CAPACITY {
            return None;
        }
        let start = usize::from(self.next);
        let mut word = start / 64;
        let mut mask = !0u64 << (start % 64);
        // One more word than there are, to come back to the bits below `start`.
        for _ in 0..=WORDS {
            let free = !self.in_use[word] & mask;
            if free != 0 {
                let bit = free.trailing_zeros() as usize;
                self.in_use[word] |= 1 << bit;
                self.count += 1;
                let id = (word * 64 + bit) as u16;
                self.next = id.wrapping_add(1);
                return PacketId::new(id);
            }
            word = (word + 1) % WORDS;
            mask = !0;
        }
        None
    }

    pub fn release(&mut self, id: PacketId) {
        let (word, bit) = Self::position(id);
        debug_assert!(self.in_use[word] & bit != 0, "packet identifier {id} released twice");
        if self.in_use[word] & bit != 0 {
            self.in_use[word] &= !bit;
            self.count -= 1;
        }
    }

    /// The identifiers in use, in increasing order. Visits only the set bits of non-empty
    /// words, and stops at the last identifier in use.
    pub fn iter(&self) -> impl Iterator<Item = PacketId> + '_ {
        let set_bits = |bits: u64| {
            std::iter::successors(Some(bits), |&rest| Some(rest & rest.wrapping_sub(1)))
                .take_while(|&rest| rest != 0)
                .map(|rest| rest.trailing_zeros() as usize)
        };
        self.in_use
            .iter()
            .enumerate()
            .filter(|(_, bits)| **bits != 0)
            .flat_map(move |(word, &bits)| set_bits(bits).map(move |bit| word * 64 + bit))
            .filter_map(|id| PacketId::new(id as u16))
            .take(self.count)
    }

    fn position(id: PacketId) -> (usize, u64) {
        let id = usize::from(id.get());
        (id / 64, 1 << (id % 64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_start_at_1_and_go_round_skipping_0() {
        let mut ids = PacketIds::new();
        assert_eq!(ids.allocate(), PacketId::new(1));
        assert_eq!(ids.allocate(), PacketId::new(2));
        ids.release(PacketId::new(1).unwrap());
        // The released one is not handed out again before the others.
        assert_eq!(ids.allocate(), PacketId::new(3));
    }

    #[test]
    fn exhaustion_is_none_and_a_release_makes_room() {
        let mut ids = PacketIds::new();
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
        let mut ids = PacketIds::new();
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
        let mut ids = PacketIds::new();
        let taken: Vec<_> = (0..130).filter_map(|_| ids.allocate()).collect();
        for id in taken.iter().step_by(3) {
            ids.release(*id);
        }
        let expected: Vec<_> = taken.iter().enumerate().filter(|(i, _)| i % 3 != 0).map(|(_, id)| *id).collect();
        assert_eq!(ids.iter().collect::<Vec<_>>(), expected);
    }
}
