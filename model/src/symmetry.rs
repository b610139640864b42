//! Symmetry reduction for interchangeable subscribers (the depth-first checker's `symmetry_fn`).
//!
//! Two subscribers are interchangeable when the configuration treats them alike: neither
//! publishes, both have the same session kind, the same filters (those of a second SUBSCRIBE
//! too) and a will or not. Swapping
//! everything the state records of them (their clients, sessions, connections, the store's
//! and the ghost's records, and the will messages named after them) then gives a state that
//! behaves the same and satisfies the same properties. The checker visits one state per
//! class: the permutation of the state with the smallest hash.
//!
//! stateright passes the representative function nothing but the state, so the state carries
//! the configuration's [`Symmetry`] (the same in every state: it adds no states).

use crate::bits::Bits;
use crate::config::{Config, MAX_CLIENTS};
use crate::inline::PerClient;
use crate::outbound::Outbound;
use crate::packet::{Message, Packet};
use crate::state::State;
use std::hash::{Hash, Hasher};

/// Which clients are interchangeable: client `c` is in class `class[c]` (the first client of
/// its class). Off (`on` false) unless the checker reduces by symmetry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Symmetry {
    class: [u8; MAX_CLIENTS],
    /// The message id of client 0's will ([`Config::will_message`]).
    wills_from: u8,
    on: bool,
}

impl Symmetry {
    /// The interchangeable subscribers of `config`.
    pub fn of(config: &Config) -> Symmetry {
        let key = |c: usize| {
            (!config.is_publisher(c) && config.is_subscriber(c))
                .then(|| (config.sessions[c], config.filters(c), config.added_filters(c), config.has_will(c)))
        };
        // Clients past the configuration's are alone in their class.
        let class = std::array::from_fn(|c| {
            let first = (0..c).find(|&d| c < config.clients && key(c).is_some() && key(d) == key(c));
            first.unwrap_or(c) as u8
        });
        Symmetry { class, wills_from: config.will_message(0), on: true }
    }

    /// Some clients are interchangeable, so the reduction has something to reduce.
    pub fn reduces(&self) -> bool {
        self.permutations().len() > 1
    }

    /// Every permutation of the clients that maps each class onto itself.
    fn permutations(&self) -> Vec<Permutation> {
        let mut all = vec![Permutation { to: std::array::from_fn(|c| c), wills_from: self.wills_from }];
        for c in 0..MAX_CLIENTS {
            // At the first client of each class of two or more: every arrangement of the class.
            let class: Vec<usize> = (0..MAX_CLIENTS).filter(|&d| self.class[d] == self.class[c]).collect();
            if class[0] != c || class.len() < 2 {
                continue;
            }
            let orders = arrangements(&class);
            all = all.iter().flat_map(|p| orders.iter().map(|order| p.placing(&class, order))).collect();
        }
        all
    }
}

/// Every order of `items`.
fn arrangements(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    (0..items.len())
        .flat_map(|i| {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            arrangements(&rest).into_iter().map(move |mut order| {
                order.insert(0, first);
                order
            })
        })
        .collect()
}

/// The representative of `state`'s class: of its images under every permutation of
/// interchangeable clients, the one with the smallest hash (the same for every state of the
/// class, as the permutations form a group).
pub fn representative(state: &State) -> State {
    if !state.symmetry.on {
        return state.clone();
    }
    let hash = |s: &State| {
        let mut hasher = MixHasher(0);
        s.hash(&mut hasher);
        hasher.finish()
    };
    // The first permutation is the identity: its image is the state itself.
    let others = state.symmetry.permutations().into_iter().skip(1).map(|p| state.permuted(&p));
    std::iter::once(state.clone()).chain(others).min_by_key(hash).unwrap_or_else(|| state.clone())
}

/// A fast hasher for choosing the representative: the state is hashed once per permutation
/// for every state the checker generates. Any deterministic hash serves: a tie between
/// different images only costs reduction.
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        // A multiply-rotate step (as in FxHash).
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Client `c` becomes client `to[c]`.
#[derive(Clone, Copy, Debug)]
pub struct Permutation {
    to: [usize; MAX_CLIENTS],
    wills_from: u8,
}

impl Permutation {
    /// This permutation, then `class[i]` moved to `order[i]`.
    fn placing(self, class: &[usize], order: &[usize]) -> Permutation {
        let mut to = self.to;
        for (&from, &onto) in class.iter().zip(order) {
            to[from] = onto;
        }
        Permutation { to, ..self }
    }

    pub fn client(&self, c: usize) -> usize {
        self.to[c]
    }

    /// A list indexed by client, reindexed.
    pub fn per_client<T: Clone + Default>(&self, list: &PerClient<T>) -> PerClient<T> {
        let mut moved = list.clone();
        for (c, item) in list.iter().enumerate() {
            moved[self.to[c]] = item.clone();
        }
        moved
    }

    /// A set of clients.
    pub fn clients(&self, set: Bits) -> Bits {
        set.iter().map(|c| self.to[usize::from(c)] as u8).collect()
    }

    /// A set of message ids: a will is named after its client.
    pub fn messages(&self, set: Bits) -> Bits {
        set.iter()
            .map(|m| match m.checked_sub(self.wills_from) {
                Some(c) => self.wills_from + self.to[usize::from(c)] as u8,
                None => m,
            })
            .collect()
    }

    pub fn message(&self, message: Message) -> Message {
        match message {
            Message::Will(c) => Message::Will(self.to[usize::from(c)] as u8),
            other => other,
        }
    }

    pub fn packet(&self, packet: Packet) -> Packet {
        match packet {
            Packet::Publish { id, message, qos, dup, retain } => {
                Packet::Publish { id, message: self.message(message), qos, dup, retain }
            }
            other => other,
        }
    }

    pub fn outbound(&self, outbound: &Outbound) -> Outbound {
        let mut moved = *outbound;
        for flight in moved.flights.iter_mut() {
            flight.message = self.message(flight.message);
        }
        for message in moved.queue.iter_mut() {
            *message = self.message(*message);
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Version;

    #[test]
    fn only_subscribers_alike_are_interchangeable() {
        let config = Config::new(Version::V5_0, 4, 2);
        let symmetry = Symmetry::of(&config);
        assert_eq!(symmetry.class, [0, 1, 1, 1], "the publisher stays; three alike subscribers");
        assert_eq!(symmetry.permutations().len(), 6);
        let mut config = Config::new(Version::V5_0, 3, 2);
        config.without_will = [2].into_iter().collect();
        assert_eq!(Symmetry::of(&config).permutations().len(), 1, "one subscriber has no will");
    }

    #[test]
    fn a_swap_renames_wills_and_clients() {
        let config = Config::new(Version::V5_0, 3, 2);
        let swap = Symmetry::of(&config).permutations()[1];
        assert_eq!((swap.client(1), swap.client(2)), (2, 1));
        assert_eq!(swap.message(Message::Will(1)), Message::Will(2));
        let wills: Bits = [config.will_message(1), 0].into_iter().collect();
        assert_eq!(swap.messages(wills), [config.will_message(2), 0].into_iter().collect());
        assert_eq!(swap.clients([0, 1].into_iter().collect()), [0, 2].into_iter().collect());
    }
}
