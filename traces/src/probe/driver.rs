//! Running a scenario against a real broker: the real sans-IO clients of `verimqtt-proto`,
//! each connection passed through the fault proxy ([`ProxyLink`]) to the broker over TCP, on
//! the machine's monotonic clock. Steps mean what they mean in the simulator, with real
//! time: `Advance` waits, `Deliver` and `Settle` wait until that many packets passed or the
//! connections fall quiet, a cut is injected by the proxy.

use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::thread;
use std::time::{Duration, Instant};

use verimqtt_proto::client::{Client, CommandError, Event as ClientEvent};
use verimqtt_spec::trace::{ConnId, End, Event, Fault, PacketInfo, PacketKind};

use super::ProbeError;
use super::frames::Frame;
use super::monitors::TOLERANCE_MS;
use super::proxy::{ProxyLink, ReadOutcome};
use crate::sim::command::command_of;
use crate::sim::recorder::{Observed, SharedLog};
use crate::sim::run::{client_options, mqtt_string};
use crate::sim::{Refusal, Scenario, Side, Step};

/// The Receive Maximum the probe's 5.0 clients announce: small, so that a broker's flow
/// control is exercised by a handful of messages.
pub const RECEIVE_MAXIMUM: u16 = 2;
/// Nothing moved for this long: the connections are quiet (`Settle`, `Deliver`).
const QUIET: Duration = Duration::from_millis(250);
/// `Settle` and `Deliver` wait at most this long.
const MAX_SETTLE: Duration = Duration::from_secs(10);
/// How long the proxy sleeps when nothing moved.
const IDLE: Duration = Duration::from_millis(1);
/// The longest the probe waits at the end.
const MAX_END_WAIT: Duration = Duration::from_secs(30);

/// A cut armed by [`Step::CutAfter`].
#[derive(Debug, Clone, Copy)]
struct CutTrigger {
    client: usize,
    receiver: Side,
    packet: PacketKind,
}

pub(super) struct Driver {
    broker: SocketAddr,
    scenario: Scenario,
    /// Prefixes the clients' ids and the topics, so runs on one broker do not meet.
    namespace: String,
    log: SharedLog,
    clients: Vec<Client>,
    /// Every connection of the run; connection `n` is `links[n - 1]`.
    links: Vec<ProxyLink>,
    current: Vec<Option<usize>>,
    triggers: Vec<CutTrigger>,
    stalled_until: Option<Instant>,
    next_payload: usize,
    /// Packets the proxy passed on so far.
    passed: usize,
    pub refusals: Vec<Refusal>,
}

impl Driver {
    pub fn new(broker: SocketAddr, scenario: &Scenario, namespace: String) -> Result<Self, ProbeError> {
        let origin = Instant::now();
        let log = SharedLog::new(origin, scenario.clients.len());
        let clients = scenario
            .clients
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                let mut options = client_options(scenario, index, spec).map_err(ProbeError::Scenario)?;
                options.client_id = mqtt_string(&format!("{namespace}-c{index}")).map_err(ProbeError::Scenario)?;
                if let Some(will) = &mut options.will {
                    will.topic = mqtt_string(&format!("{namespace}/{}", will.topic)).map_err(ProbeError::Scenario)?;
                }
                if scenario.version.is_v5() {
                    options.receive_maximum = NonZeroU16::new(RECEIVE_MAXIMUM).unwrap_or(NonZeroU16::MAX);
                }
                let mut client = Client::new(options)
                    .map_err(|error| ProbeError::Client { client: index, error: error.to_string() })?;
                client.set_observer(Some(log.observer(Observed::Client(index))));
                Ok(client)
            })
            .collect::<Result<Vec<_>, ProbeError>>()?;
        Ok(Driver {
            broker,
            scenario: scenario.clone(),
            namespace,
            log,
            current: vec![None; clients.len()],
            clients,
            links: Vec::new(),
            triggers: Vec::new(),
            stalled_until: None,
            next_payload: 0,
            passed: 0,
            refusals: Vec::new(),
        })
    }

    /// Runs every step, waits out the broker's keep alive on connections a fault left open,
    /// and returns the trace.
    pub fn run(mut self) -> Result<(Vec<verimqtt_spec::trace::TraceEvent>, Vec<Refusal>), ProbeError> {
        let steps = self.scenario.steps.clone();
        for (index, step) in steps.iter().enumerate() {
            if let Err(reason) = self.step(step)? {
                self.refusals.push(Refusal { step: index, reason });
            }
        }
        self.wait_for_keep_alive_closes();
        for link in &mut self.links {
            link.close();
        }
        self.log.network(Instant::now(), Event::ProbeEnded);
        let trace = std::mem::take(&mut self.log.lock().events);
        Ok((trace, self.refusals))
    }

    /// Takes one step; `Ok(Err(reason))` when the client refused the command.
    fn step(&mut self, step: &Step) -> Result<Result<(), String>, ProbeError> {
        let topic = |name: &str| format!("{}/{name}", self.namespace);
        if let Some(command) = command_of(step, topic, self.next_payload).map_err(ProbeError::Scenario)? {
            let publishes = command.publishes;
            let result = self.command(command.client, |client| command.give(client, Instant::now()));
            if publishes && result.is_ok() {
                self.next_payload += 1;
            }
            return Ok(result);
        }
        match step {
            Step::Connect { client } => return self.connect(*client),
            // Given to the client above.
            Step::Subscribe { .. }
            | Step::Unsubscribe { .. }
            | Step::Publish { .. }
            | Step::Disconnect { .. }
            | Step::DisconnectWithWill { .. } => {}
            Step::Cut { .. } | Step::Reset { .. } | Step::HalfCut { .. } => {
                let Some((client, fault)) = step.fault() else { return Ok(Ok(())) };
                let Some(link) = self.current[client] else { return Ok(Err("no connection to cut".to_string())) };
                if self.links[link].faulted {
                    return Ok(Err("the connection is cut already".to_string()));
                }
                self.inject(link, fault);
            }
            Step::Restart => return Ok(Err("the probe cannot restart a broker it does not run".to_string())),
            // Its monitors judge only what correct clients make of a broker.
            Step::Inject { .. } => return Ok(Err("the probe writes no hostile packets".to_string())),
            Step::Heal => self.triggers.clear(),
            Step::CutAfter { client, receiver, packet } => {
                self.triggers.push(CutTrigger { client: *client, receiver: *receiver, packet: *packet })
            }
            Step::Deliver(count) => self.run_until_quiet(Some(*count)),
            Step::Settle => self.run_until_quiet(None),
            Step::Advance(ticks) => self.run_for(self.ticks(*ticks)),
            Step::Stall(ticks) => {
                let duration = self.ticks(*ticks);
                let now = Instant::now();
                self.log.network(now, Event::NetworkStalled { duration_ms: duration.as_millis() as u64 });
                self.stalled_until = Some(now + duration);
                self.run_for(duration);
                self.stalled_until = None;
            }
        }
        Ok(Ok(()))
    }

    fn ticks(&self, ticks: u32) -> Duration {
        Duration::from_millis(self.scenario.tick_ms * u64::from(ticks))
    }

    /// Opens a connection through the proxy for the client and sends CONNECT on it.
    fn connect(&mut self, client: usize) -> Result<Result<(), String>, ProbeError> {
        if self.current[client].is_some() {
            return Ok(Err("already connected".to_string()));
        }
        let link = ProxyLink::connect(self.broker, client, self.scenario.version)
            .map_err(|error| ProbeError::Broker { broker: self.broker, error: error.to_string() })?;
        self.links.push(link);
        self.current[client] = Some(self.links.len() - 1);
        self.log.client_connects(client, self.links.len() as ConnId);
        let now = Instant::now();
        self.clients[client].handle_connected(now);
        let result = self.clients[client].connect(now).map_err(|error| error.to_string());
        self.pump_client(client);
        Ok(result)
    }

    /// Gives a command to a client and passes on what it puts out; `Err` if it refused.
    fn command<T>(
        &mut self,
        client: usize,
        command: impl FnOnce(&mut Client) -> Result<T, CommandError>,
    ) -> Result<(), String> {
        let result = command(&mut self.clients[client]);
        self.pump_client(client);
        result.map(drop).map_err(|error| error.to_string())
    }

    /// The network fails under connection `link`, and the trace says so first.
    fn inject(&mut self, link: usize, fault: Fault) {
        let now = Instant::now();
        self.log.network(now, Event::FaultInjected { conn: link as ConnId + 1, fault });
        self.links[link].faulted = true;
        match fault {
            Fault::Cut => {}
            Fault::Reset => {
                self.links[link].reset();
                self.close_client_end(link);
            }
            Fault::HalfOpen => self.close_client_end(link),
        }
    }

    /// The client hears its connection is lost.
    fn close_client_end(&mut self, link: usize) {
        let client = self.links[link].client;
        self.links[link].client_open = false;
        if self.current[client] == Some(link) {
            self.clients[client].handle_closed(Instant::now());
            self.current[client] = None;
            while self.clients[client].poll_event().is_some() {}
        }
    }

    /// Moves what the client has to say into the proxy and passes it on.
    fn pump_client(&mut self, client: usize) {
        let Some(link) = self.current[client] else { return };
        loop {
            while let Some(bytes) = self.clients[client].poll_transmit() {
                self.links[link].from_client.push(&bytes);
            }
            match self.clients[client].poll_event() {
                None => break,
                Some(ClientEvent::Disconnected { last_bytes, .. }) => {
                    self.links[link].from_client.push(&last_bytes.unwrap_or_default());
                    self.links[link].client_open = false;
                    self.links[link].client_closing = true;
                    self.current[client] = None;
                    break;
                }
                Some(_) => {}
            }
        }
        self.pass_to_broker(link);
    }

    fn stalled(&self) -> bool {
        self.stalled_until.is_some_and(|until| Instant::now() < until)
    }

    /// Passes on the client's whole packets (or drops them after a fault); closes the
    /// broker's end once a closing client's last packet is through.
    fn pass_to_broker(&mut self, link: usize) -> bool {
        if self.stalled() {
            return false;
        }
        let mut moved = false;
        while let Some(frame) = self.links[link].from_client.next_frame() {
            moved = true;
            // Lost in a fault, or too late: the broker closed its end.
            if self.links[link].faulted || !self.links[link].broker_open() {
                self.log_frame(link, End::Broker, frame, false);
                continue;
            }
            // Logged at the moment before the write, so that the broker cannot have received
            // it earlier than the trace says: a keep alive close that looks early is early.
            let at = Instant::now();
            self.links[link].write(&frame.bytes);
            self.links[link].last_to_broker = Some(at);
            self.passed += 1;
            let kind = frame.packet.as_ref().map(|packet| packet.kind);
            self.links[link].note_keep_alive(frame.packet.as_ref());
            self.log_frame_at(at, link, End::Broker, frame, true);
            self.check_triggers(link, Side::Broker, kind);
        }
        if self.links[link].client_closing && !self.links[link].faulted {
            self.links[link].client_closing = false;
            self.links[link].close();
        }
        moved
    }

    /// Reads what the broker sent on `link` and passes its whole packets to the client (or
    /// drops them); tells the client once the broker closed and everything before is through.
    fn pass_to_client(&mut self, link: usize) -> bool {
        let mut moved = match self.links[link].read() {
            ReadOutcome::Nothing => false,
            ReadOutcome::Bytes => true,
            ReadOutcome::Closed => {
                self.links[link].broker_closed = true;
                self.log.network(Instant::now(), Event::BrokerClosed { conn: link as ConnId + 1 });
                true
            }
        };
        if self.stalled() {
            return moved;
        }
        let client = self.links[link].client;
        while let Some(frame) = self.links[link].from_broker.next_frame() {
            moved = true;
            let delivers = !self.links[link].faulted && self.current[client] == Some(link);
            if !delivers {
                self.log_frame(link, End::Client, frame, false);
                continue;
            }
            let kind = frame.packet.as_ref().map(|packet| packet.kind);
            self.links[link].note_keep_alive(frame.packet.as_ref());
            self.log_frame(link, End::Client, frame.clone(), true);
            self.passed += 1;
            // A cut armed for this packet comes right after the client receives it: what it
            // answers is lost.
            self.check_triggers(link, Side::Client, kind);
            let now = Instant::now();
            let mut offered = &frame.bytes[..];
            while !offered.is_empty() && self.current[client] == Some(link) {
                let taken = self.clients[client].handle_bytes(now, offered);
                offered = &offered[taken..];
                self.pump_client(client);
                if taken == 0 {
                    break;
                }
            }
        }
        if self.links[link].broker_closed && !self.links[link].faulted && self.links[link].client_open {
            self.links[link].broker_closed = false;
            self.close_client_end(link);
            moved = true;
        }
        moved
    }

    fn log_frame(&self, link: usize, to: End, frame: Frame, passed: bool) {
        self.log_frame_at(Instant::now(), link, to, frame, passed);
    }

    /// Logs that the proxy passed on (or dropped) `frame` at `at`.
    fn log_frame_at(&self, at: Instant, link: usize, to: End, frame: Frame, passed: bool) {
        let Some(packet): Option<PacketInfo> = frame.packet else { return };
        let conn = link as ConnId + 1;
        let event = if passed { Event::Forwarded { conn, to, packet } } else { Event::Dropped { conn, to, packet } };
        self.log.network(at, event);
    }

    /// Cuts `link` if a trigger waits for this packet reaching this end.
    fn check_triggers(&mut self, link: usize, receiver: Side, kind: Option<PacketKind>) {
        let client = self.links[link].client;
        let Some(kind) = kind else { return };
        let fired = self.triggers.iter().position(|t| t.client == client && t.receiver == receiver && t.packet == kind);
        if let Some(index) = fired {
            self.triggers.remove(index);
            if !self.links[link].faulted {
                self.inject(link, Fault::Cut);
            }
        }
    }

    /// Fires the clients' due timers.
    fn fire_timers(&mut self) -> bool {
        let now = Instant::now();
        let mut moved = false;
        for client in 0..self.clients.len() {
            if self.clients[client].poll_timeout().is_some_and(|deadline| deadline <= now) {
                self.clients[client].handle_timeout(now);
                self.pump_client(client);
                moved = true;
            }
        }
        moved
    }

    /// One round of the proxy and the clients; whether anything moved.
    fn poll(&mut self) -> bool {
        let mut moved = self.fire_timers();
        for link in 0..self.links.len() {
            moved |= self.pass_to_broker(link);
            moved |= self.pass_to_client(link);
        }
        if !moved {
            thread::sleep(IDLE);
        }
        moved
    }

    fn run_for(&mut self, duration: Duration) {
        let end = Instant::now() + duration;
        while Instant::now() < end {
            self.poll();
        }
    }

    /// Runs until `count` packets passed (all there are, if `None`) or nothing moved for
    /// [`QUIET`].
    fn run_until_quiet(&mut self, count: Option<usize>) {
        let (started, target) = (Instant::now(), count.map(|count| self.passed + count));
        let mut last_move = started;
        while started.elapsed() < MAX_SETTLE && last_move.elapsed() < QUIET {
            if self.poll() {
                last_move = Instant::now();
            }
            if target.is_some_and(|target| self.passed >= target) {
                return;
            }
        }
    }

    /// Waits until the broker closed every connection a fault left open at its end, or 1.5 x
    /// its keep alive and the keep alive monitor's tolerance passed since its last packet: the
    /// monitor can then decide every such connection.
    fn wait_for_keep_alive_closes(&mut self) {
        let (started, tolerance) = (Instant::now(), Duration::from_millis(TOLERANCE_MS));
        loop {
            let now = Instant::now();
            let waiting = self.links.iter().any(|link| {
                link.faulted
                    && link.broker_open()
                    && link.keep_alive_deadline().is_some_and(|deadline| now < deadline + tolerance)
            });
            if !waiting || started.elapsed() > MAX_END_WAIT {
                return;
            }
            self.poll();
        }
    }
}
