//! A short list stored inline, for the collections in the model's state.
//!
//! The checker clones every successor state and hashes it; with `Vec`s and `VecDeque`s each
//! clone costs an allocation per collection (dozens per state). Every collection of the state
//! has a small bound fixed by the model (at most four clients, seven packet ids, a structural
//! bound on channels), so it fits in a fixed-size array with a length. Equality and hashing
//! look only at the elements in use, as for a `Vec`, so two states are equal exactly when they
//! were before.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

/// One element per client.
pub type PerClient<T> = Inline<T, { crate::config::MAX_CLIENTS }>;

/// At most `N` elements, in order, in place.
#[derive(Clone, Copy)]
pub struct Inline<T, const N: usize> {
    len: u8,
    /// An element did not fit: the list is past its capacity (see [`Inline::push_or_overflow`]).
    overflowed: bool,
    items: [T; N],
}

impl<T: Clone + Default, const N: usize> Inline<T, N> {
    pub fn new() -> Self {
        Inline { len: 0, overflowed: false, items: std::array::from_fn(|_| T::default()) }
    }

    /// `len` copies of `value`.
    pub fn filled(value: T, len: usize) -> Self {
        assert!(len <= N, "{len} elements do not fit in an inline list of {N}");
        let mut list = Self::new();
        list.items[..len].fill(value);
        list.len = len as u8;
        list
    }

    /// Appends `value`; the model's bounds guarantee it fits (a panic here is a modelling
    /// error, never a pruned state).
    pub fn push(&mut self, value: T) {
        assert!(self.len() < N, "an inline list of {N} is full");
        self.items[self.len()] = value;
        self.len += 1;
    }

    /// Appends `value`, or, when the list is full, drops it and marks the list as overflowed,
    /// for collections whose length is a structural bound the checker reports (see
    /// [`crate::bounds`]).
    pub fn push_or_overflow(&mut self, value: T) {
        if self.len() < N {
            self.push(value);
        } else {
            self.overflowed = true;
        }
    }

    /// An element was dropped because the list was full.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    pub fn insert(&mut self, at: usize, value: T) {
        self.push(value);
        self[at..].rotate_right(1);
    }

    pub fn remove(&mut self, at: usize) -> T {
        let value = std::mem::take(&mut self[at]);
        self[at..].rotate_left(1);
        self.len -= 1;
        value
    }

    pub fn pop_front(&mut self) -> Option<T> {
        (!self.is_empty()).then(|| self.remove(0))
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut kept = Self::new();
        for item in self.iter().filter(|item| keep(item)) {
            kept.push(item.clone());
        }
        kept.overflowed = self.overflowed;
        *self = kept;
    }

    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

impl<T: Clone + Default, const N: usize> Default for Inline<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Deref for Inline<T, N> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.items[..usize::from(self.len)]
    }
}

impl<T, const N: usize> DerefMut for Inline<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items[..usize::from(self.len)]
    }
}

impl<T: PartialEq, const N: usize> PartialEq for Inline<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.overflowed == other.overflowed && **self == **other
    }
}

impl<T: Eq, const N: usize> Eq for Inline<T, N> {}

impl<T: Hash, const N: usize> Hash for Inline<T, N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
        self.overflowed.hash(state);
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for Inline<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()?;
        if self.overflowed { write!(f, " (overflowed)") } else { Ok(()) }
    }
}

impl<T: Clone + Default, const N: usize> FromIterator<T> for Inline<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut list = Self::new();
        for item in iter {
            list.push(item);
        }
        list
    }
}

impl<T: Clone + Default, const N: usize> Extend<T> for Inline<T, N> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for item in iter {
            self.push(item);
        }
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a Inline<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a mut Inline<T, N> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash(value: &impl Hash) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn behaves_as_a_vec() {
        let mut list: Inline<u8, 4> = [1, 2, 3].into_iter().collect();
        list.insert(1, 9);
        assert_eq!(*list, [1, 9, 2, 3]);
        assert_eq!(list.remove(1), 9);
        assert_eq!(list.pop_front(), Some(1));
        list.retain(|&n| n != 3);
        assert_eq!(*list, [2]);
        assert_eq!(format!("{list:?}"), "[2]");
    }

    /// Equality and hashing ignore what a removed element left behind: the same elements make
    /// the same list, however they got there.
    #[test]
    fn equal_contents_are_equal_lists() {
        let mut popped: Inline<u8, 4> = [7, 2].into_iter().collect();
        popped.pop_front();
        let pushed: Inline<u8, 4> = [2].into_iter().collect();
        assert_eq!(popped, pushed);
        assert_eq!(hash(&popped), hash(&pushed));
    }

    #[test]
    fn a_full_list_overflows_instead_of_growing() {
        let mut list: Inline<u8, 1> = Inline::new();
        list.push_or_overflow(1);
        assert!(!list.overflowed());
        list.push_or_overflow(2);
        assert!(list.overflowed());
        assert_eq!(*list, [1]);
        assert_ne!(list, [1].into_iter().collect());
    }
}
