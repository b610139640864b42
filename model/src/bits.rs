//! A tiny set of small integers, used for message ids and packet ids.
//!
//! The model keeps sets in its state, and the checker hashes every state, so a set is one byte
//! rather than a collection: it is cheap to hash and has a single canonical form.

use std::fmt;

/// A set of integers in `0..8`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Bits(u8);

impl Bits {
    pub const EMPTY: Bits = Bits(0);

    /// The largest member a set can hold.
    pub const MAX: u8 = 7;

    pub fn contains(self, n: u8) -> bool {
        n <= Self::MAX && self.0 & (1 << n) != 0
    }

    pub fn insert(&mut self, n: u8) {
        debug_assert!(n <= Self::MAX, "{n} does not fit in a Bits set");
        self.0 |= 1 << n;
    }

    pub fn remove(&mut self, n: u8) {
        if n <= Self::MAX {
            self.0 &= !(1 << n);
        }
    }

    pub fn union(self, other: Bits) -> Bits {
        Bits(self.0 | other.0)
    }

    pub fn intersection(self, other: Bits) -> Bits {
        Bits(self.0 & other.0)
    }

    pub fn minus(self, other: Bits) -> Bits {
        Bits(self.0 & !other.0)
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn is_subset(self, other: Bits) -> bool {
        self.minus(other).is_empty()
    }

    pub fn iter(self) -> impl Iterator<Item = u8> {
        (0..=Self::MAX).filter(move |&n| self.contains(n))
    }
}

impl FromIterator<u8> for Bits {
    fn from_iter<I: IntoIterator<Item = u8>>(iter: I) -> Self {
        let mut bits = Bits::EMPTY;
        for n in iter {
            bits.insert(n);
        }
        bits
    }
}

impl fmt::Debug for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let a: Bits = [1, 3].into_iter().collect();
        let b: Bits = [3].into_iter().collect();
        assert!(a.contains(1) && a.contains(3) && !a.contains(2));
        assert!(b.is_subset(a) && !a.is_subset(b));
        assert_eq!(a.minus(b).iter().collect::<Vec<_>>(), vec![1]);
        assert_eq!(format!("{a:?}"), "{1, 3}");
        assert!(!a.contains(200));
    }
}
