//! The sans-IO broker driven by arbitrary inputs on three connection slots, with its
//! invariants checked after every step. What the broker's options are and what its clients
//! send is up to each target's [`Traffic`]; the steps and the checks are the same for all.

mod hostile;
mod small;
mod stack;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use arbitrary::{Result, Unstructured};
use bytes::BytesMut;
use verimqtt_proto::broker::{AllowAll, Broker, BrokerOptions, CloseReason, ConnId, Event};
use verimqtt_proto::codec::{self, DecodeOptions, Packet, ProtocolVersion};
use verimqtt_proto::testing::{BrokerDriver, MemoryStore};

pub use hostile::Hostile;
pub use small::SmallLimits;

const SLOTS: usize = 3;

/// What the clients of one run may send in all: several packets of the largest size a
/// target makes, few enough that a run takes well under a second and that what the broker
/// may rightly hold (retained messages, queues) stays far below libFuzzer's memory limit.
/// Past it a client sends nothing more.
const MAX_BYTES_PER_RUN: usize = 32 * 1024 * 1024;

/// What one broker target is about: the broker it runs and what its clients send.
pub trait Traffic {
    /// The broker's options for one run, read from the front of the input.
    fn options(u: &mut Unstructured) -> Result<BrokerOptions>;

    /// The bytes a client of `version` sends next (nothing, once it has a connection, is
    /// fine: the step then only checks the invariants again).
    fn client_sends(u: &mut Unstructured, version: ProtocolVersion) -> Result<BytesMut>;
}

/// Runs one fuzz input: the broker `T` configures, then steps until the input is used up,
/// all on the stack a deployed broker has.
pub fn fuzz_broker<T: Traffic>(data: &[u8]) {
    stack::on_broker_stack(|| {
        let mut u = Unstructured::new(data);
        let Ok(options) = T::options(&mut u) else { return };
        let mut harness = BrokerHarness::new(options);
        while !u.is_empty() && harness.step::<T>(&mut u).is_ok() {}
    });
}

/// `packet` as a client of `version` writes it; nothing if the encoder refuses it.
fn encode(packet: &Packet, version: ProtocolVersion) -> BytesMut {
    let mut bytes = BytesMut::new();
    // A refused packet leaves nothing behind, as the roundtrip target checks.
    let _ = codec::encode(packet, version, &mut bytes);
    bytes
}

/// One connection as its client sees it.
struct Peer {
    conn: ConnId,
    /// Known once the broker accepted a CONNECT.
    version: Option<ProtocolVersion>,
    /// What the broker sent and we have not decoded yet.
    received: BytesMut,
}

/// The broker under the one driver of `verimqtt_proto::testing`, with the peers' view of it.
struct BrokerHarness {
    driver: BrokerDriver<AllowAll>,
    peers: [Option<Peer>; SLOTS],
    next_conn: u64,
    bytes_sent: usize,
    /// Connections the broker holds back (a congested subscriber): their input still to
    /// be read may close them when they are let go, by whatever input let them go.
    held: BTreeSet<ConnId>,
    /// With persistence, what the broker stored: applying its changes checks they make
    /// sense (a flight of a message never stored panics), and a restart restores from it.
    store: MemoryStore,
}

/// What caused a step, to judge the closes it produced.
enum Cause {
    /// Input on this connection.
    Input(ConnId),
    /// Time passing.
    Time,
    /// A new connection.
    Accept,
}

impl BrokerHarness {
    fn new(options: BrokerOptions) -> Self {
        BrokerHarness {
            driver: BrokerDriver::new(Broker::new(options, AllowAll), Instant::now()),
            peers: Default::default(),
            next_conn: 1,
            bytes_sent: 0,
            held: BTreeSet::new(),
            store: MemoryStore::default(),
        }
    }

    /// Applies one arbitrary input, then checks the invariants.
    fn step<T: Traffic>(&mut self, u: &mut Unstructured) -> Result<()> {
        let slot = usize::from(u.int_in_range(0..=(SLOTS - 1) as u8)?);
        let cause = match u.int_in_range(0..=5u8)? {
            0 if self.driver.broker.options().persistence && u.ratio(1, 8)? => self.restart(),
            0 => self.accept(slot),
            1 => self.close(slot),
            2 => {
                self.driver.advance(Duration::from_millis(u64::from(u.arbitrary::<u16>()?)));
                Cause::Time
            }
            _ => {
                let version = self.version_for(u, slot)?;
                let bytes = T::client_sends(u, version)?;
                self.input(slot, &bytes)
            }
        };
        self.drain(cause);
        self.check_limits();
        Ok(())
    }

    /// The broker stops, every connection with it, and another starts on what was stored.
    fn restart(&mut self) -> Cause {
        let options = self.driver.broker.options().clone();
        let now = self.driver.now;
        let mut broker = Broker::new(options, AllowAll);
        broker.restore(now, self.store.restart());
        self.driver = BrokerDriver::new(broker, now);
        self.peers = Default::default();
        self.held.clear();
        Cause::Time
    }

    fn accept(&mut self, slot: usize) -> Cause {
        if self.peers[slot].is_none() {
            let conn = ConnId(self.next_conn);
            self.next_conn += 1;
            if self.driver.open(conn).is_ok() {
                self.peers[slot] = Some(Peer { conn, version: None, received: BytesMut::new() });
            }
        }
        Cause::Accept
    }

    /// The client closes its connection.
    fn close(&mut self, slot: usize) -> Cause {
        match self.peers[slot].take() {
            Some(peer) => {
                self.driver.close(peer.conn);
                Cause::Input(peer.conn)
            }
            None => Cause::Time,
        }
    }

    /// The connection's version if the broker accepted its CONNECT, else either.
    fn version_for(&self, u: &mut Unstructured, slot: usize) -> Result<ProtocolVersion> {
        match self.peers[slot].as_ref().and_then(|peer| peer.version) {
            Some(version) => Ok(version),
            None => Ok(if u.arbitrary()? { ProtocolVersion::V5 } else { ProtocolVersion::V311 }),
        }
    }

    fn input(&mut self, slot: usize, bytes: &[u8]) -> Cause {
        match &self.peers[slot] {
            Some(peer) if self.bytes_sent + bytes.len() <= MAX_BYTES_PER_RUN => {
                self.bytes_sent += bytes.len();
                let conn = peer.conn;
                self.driver.send(conn, bytes);
                Cause::Input(conn)
            }
            _ => Cause::Time,
        }
    }

    /// Takes everything the broker has to say, checking it.
    fn drain(&mut self, cause: Cause) {
        // Durable at once: what waited for it goes out now.
        let now = self.driver.now;
        self.store.sync(&mut self.driver.broker, now);
        for event in self.driver.take_events() {
            if let Event::Connected { conn, version, .. } = event
                && let Some(peer) = self.peer_mut(conn)
            {
                peer.version = Some(version);
            }
        }
        let was_held = self.held.clone();
        for (conn, reading) in self.driver.take_reading_changes() {
            if reading {
                self.held.remove(&conn);
            } else {
                self.held.insert(conn);
            }
        }
        for (conn, reason) in self.driver.take_closed() {
            if !was_held.contains(&conn) {
                check_close_cause(&cause, conn, &reason);
            }
            self.held.remove(&conn);
            self.receive(conn);
            for peer in &mut self.peers {
                if peer.as_ref().is_some_and(|peer| peer.conn == conn) {
                    *peer = None;
                }
            }
        }
        let open: Vec<ConnId> = self.peers.iter().flatten().map(|peer| peer.conn).collect();
        for conn in open {
            self.receive(conn);
        }
    }

    /// What the broker sent on `conn` must be valid packets of the connection's version.
    fn receive(&mut self, conn: ConnId) {
        let bytes = self.driver.output(conn);
        if bytes.is_empty() {
            return;
        }
        let Some(peer) = self.peer_mut(conn) else { return };
        peer.received.extend_from_slice(&bytes);
        // Before the CONNECT is accepted, only a refusing CONNACK goes out, in a version we
        // cannot know; after, everything is judged.
        let Some(version) = peer.version else { return };
        let options = DecodeOptions::new(version);
        loop {
            match codec::decode(&mut peer.received, &options) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => panic!("the broker sent {conn} an invalid MQTT {version} packet: {error}"),
            }
        }
    }

    fn peer_mut(&mut self, conn: ConnId) -> Option<&mut Peer> {
        self.peers.iter_mut().flatten().find(|peer| peer.conn == conn)
    }

    fn check_limits(&self) {
        let stats = self.driver.broker.stats();
        let limits = self.driver.broker.options();
        assert!(stats.connections <= limits.max_connections, "{stats:?}");
        // max_sessions bounds the persistent sessions; the others end with their connection.
        assert!(stats.sessions_persistent <= limits.max_sessions, "{stats:?}");
        let sessions = limits.max_sessions + limits.max_connections;
        assert!(stats.sessions <= sessions, "{stats:?}");
        assert!(stats.retained_messages <= limits.max_retained_messages, "{stats:?}");
        assert!(stats.subscriptions <= sessions * limits.max_subscriptions_per_session, "{stats:?}");
        for peer in self.peers.iter().flatten() {
            // An undecoded remainder is at most one partial packet of the client's limit.
            assert!(peer.received.len() <= limits.max_transmit_buffer * 2, "{} bytes pending", peer.received.len());
        }
    }
}

/// A connection may be closed by its own input, by the takeover its CONNECT caused, or by time;
/// never by another connection's bad input.
fn check_close_cause(cause: &Cause, conn: ConnId, reason: &CloseReason) {
    match (cause, reason) {
        (Cause::Input(input), CloseReason::SessionTakenOver { by }) => {
            assert_eq!(by, input, "{conn} taken over by {by} after input on {input}")
        }
        (Cause::Input(input), _) => assert_eq!(*input, conn, "{conn} closed ({reason}) by input on {input}"),
        (Cause::Time, CloseReason::KeepAliveTimeout | CloseReason::ConnectTimeout) => {}
        (Cause::Time | Cause::Accept, _) => panic!("{conn} closed ({reason}) without input of its own"),
    }
}
