//! Structural bounds on the state: a guard that the model's state space is what its counters
//! say it is.
//!
//! Every counter in the state saturates, so the reachable states are finite by construction and
//! a correct model never comes near these bounds. Reaching one means the model (or a seeded
//! bug) grows something without limit. The checker does not prune there, which would make a
//! run look exhaustive when it is not: the bound is a property of its own
//! ([`WITHIN_BOUNDS`]), the search stops at the first state past it, and the run is reported as
//! not exhaustive, in every build profile.

use crate::config::Config;
use crate::state::State;

/// The name of the model-health property that fails when a bound is reached.
pub const WITHIN_BOUNDS: &str = "within_structural_bounds";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// A client has at most its current connection and one the broker still holds.
    pub links_per_client: usize,
    /// Packets on one channel, or held back on one connection for the store. No correct run
    /// comes near it; it keeps a seeded bug's state space finite. (A list that outgrows its
    /// inline room, [`crate::network::CHANNEL_CAPACITY`], is past it whatever its value.)
    pub packets_per_channel: usize,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds { links_per_client: 2, packets_per_channel: 12 }
    }
}

impl Bounds {
    /// The bounds for a configuration. A broker that waits for CONNECT on a connection it
    /// accepted, or a network that holds packets, keeps connections a client has given up on
    /// for longer, so a client can have two more. (Not derived: the guard is what shows a
    /// bound is not reached, and it failed with 2 and 3 in such configurations.) A client that
    /// sends DISCONNECT right after its CONNECT and connects again can leave one more
    /// connection the broker has not finished reading per DISCONNECT.
    pub fn for_config(config: &Config) -> Bounds {
        let slow_to_finish = config.slow_network || config.broker_connect_timeout.is_some();
        let links_per_client = if slow_to_finish { 4 } else { 2 } + usize::from(config.disconnects);
        Bounds { links_per_client, ..Bounds::default() }
    }

    /// Whether `state` lies within the bounds.
    pub fn admit(&self, state: &State) -> bool {
        state.links.iter().all(|links| {
            links.len() <= self.links_per_client
                && links.iter().all(|l| {
                    [&l.to_broker.packets, &l.to_client.packets, &l.held]
                        .iter()
                        .all(|packets| packets.len() <= self.packets_per_channel && !packets.overflowed())
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Version;
    use crate::network::Link;
    use crate::packet::Packet;

    #[test]
    fn a_channel_longer_than_the_bound_is_outside() {
        let mut state = State::initial(&Config::new(Version::V5_0, 1, 1));
        let bounds = Bounds { links_per_client: 2, packets_per_channel: 1 };
        state.links[0].push(Link::opened_with(Packet::PingReq));
        assert!(bounds.admit(&state));
        state.links[0][0].send_to_broker(Packet::PingReq);
        assert!(!bounds.admit(&state));
    }
}
