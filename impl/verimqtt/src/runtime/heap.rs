//! The heap the process uses, as its allocator tells it: `$SYS/broker/heap/current` and
//! `heap/maximum` (mosquitto's names) and the `verimqtt_heap_*` gauges of `/metrics`. The
//! library cannot know which allocator the program links, so the program gives a way to
//! read it ([`Server::heap`](super::Server::heap)); without one there are no heap topics
//! nor gauges.

/// Reads the bytes the process's allocator has handed out and not taken back, now; `None`
/// when it cannot tell.
pub type HeapReader = Box<dyn Fn() -> Option<u64> + Send>;

/// The heap as last read, and the most it was at any reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeapSample {
    pub(crate) current: u64,
    pub(crate) maximum: u64,
}

/// A reader and the most it read: mosquitto's `heap/maximum` is a peak its own allocation
/// wrapper tracks; here it is the largest value read at a `$SYS` update or a scrape, which
/// misses a peak between two of them.
pub(crate) struct Heap {
    read: HeapReader,
    maximum: u64,
}

impl Heap {
    pub(crate) fn new(read: HeapReader) -> Self {
        Heap { read, maximum: 0 }
    }

    /// Reads the heap now; `None` if the reader cannot tell.
    pub(crate) fn sample(&mut self) -> Option<HeapSample> {
        let current = (self.read)()?;
        self.maximum = self.maximum.max(current);
        Some(HeapSample { current, maximum: self.maximum })
    }
}

impl std::fmt::Debug for Heap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heap").field("maximum", &self.maximum).finish_non_exhaustive()
    }
}

/// Reads what `heap` can tell, if there is one.
pub(crate) fn sample(heap: &mut Option<Heap>) -> Option<HeapSample> {
    heap.as_mut().and_then(Heap::sample)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn the_maximum_is_the_largest_value_read() {
        let value = Arc::new(AtomicU64::new(100));
        let reader = Arc::clone(&value);
        let mut heap = Heap::new(Box::new(move || Some(reader.load(Ordering::Relaxed))));
        assert_eq!(heap.sample(), Some(HeapSample { current: 100, maximum: 100 }));
        value.store(300, Ordering::Relaxed);
        assert_eq!(heap.sample(), Some(HeapSample { current: 300, maximum: 300 }));
        value.store(200, Ordering::Relaxed);
        assert_eq!(heap.sample(), Some(HeapSample { current: 200, maximum: 300 }));
        let mut unknown = Heap::new(Box::new(|| None));
        assert_eq!(unknown.sample(), None);
        assert_eq!(sample(&mut None), None);
    }
}
