//! Running a scenario: the real client and broker state machines, wired through the
//! simulated network, driven step by step on the simulated clock. Wherever more than one
//! thing could happen next (which packet in flight arrives, which due timer fires, which end
//! of a cut hears of it first) the seed chooses.

use std::time::{Duration, Instant};

use bytes::Bytes;
use verimqtt_proto::broker::{AllowAll, Broker, BrokerOptions, ConnId as BrokerConn};
use verimqtt_proto::client::{Client, ClientOptions, CommandError, Event as ClientEvent};
use verimqtt_proto::codec::{MqttString, Properties, ProtocolVersion, Will};
use verimqtt_proto::testing::{BrokerDriver, MemoryStore};
use verimqtt_proto::trace::packet_info;
use verimqtt_spec::trace::{ConnId, Event, Fault, PacketKind, TraceEvent};

use super::command::command_of;
use super::inject;
use super::network::{Link, Segment};
use super::recorder::{Observed, SharedLog};
use super::rng::Rng;
use super::scenario::{ClientSpec, Injection, Scenario, SessionKind, Side, Step, TOPIC};
use super::{Refusal, SimError, Simulation};
use crate::SimulatedClock;

/// How many timers may fire at one instant before the run is declared stuck.
const MAX_TIMERS_PER_INSTANT: usize = 1000;

/// Whether packets in flight arrive while time passes.
#[derive(Debug, Clone, Copy)]
enum Network {
    Delivers,
    Stalls,
}

/// A cut armed by [`Step::CutAfter`].
#[derive(Debug, Clone, Copy)]
struct CutTrigger {
    client: usize,
    receiver: Side,
    packet: PacketKind,
}

pub(super) struct Run {
    version: ProtocolVersion,
    clock: SimulatedClock,
    tick: Duration,
    rng: Rng,
    log: SharedLog,
    /// The broker, driven as every test drives it; the run sets its clock before each input.
    broker: BrokerDriver<AllowAll>,
    broker_options: BrokerOptions,
    /// The broker's store, if the scenario restarts it: every change is durable as soon as
    /// the broker asks (a store that answers at once), so nothing waits for it.
    store: Option<MemoryStore>,
    clients: Vec<Client>,
    /// Every connection of the run; connection `n` is `links[n - 1]`.
    links: Vec<Link>,
    /// Per client, the index in `links` of the connection it uses.
    current: Vec<Option<usize>>,
    triggers: Vec<CutTrigger>,
    next_payload: usize,
    /// The number of the next injected PUBLISH (its payload `xN`).
    next_injected: usize,
    refusals: Vec<Refusal>,
}

impl Run {
    pub fn new(scenario: &Scenario, seed: u64) -> Result<Self, SimError> {
        let clock = SimulatedClock::new();
        let log = SharedLog::new(clock.now(), scenario.clients.len());
        let mut broker_options = BrokerOptions::default();
        if let Some(maximum) = scenario.announced_receive_maximum() {
            broker_options.receive_maximum = maximum;
            // The broker's own limit on its flights binds with the client's Receive Maximum,
            // or alone where the scenario sets it lower.
            broker_options.max_inflight = scenario.broker_max_inflight.unwrap_or(maximum);
        }
        broker_options.persistence = scenario.restarts();
        let broker = start_broker(&broker_options, &log, clock.now());
        let clients = scenario
            .clients
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                let mut client = Client::new(client_options(scenario, index, spec)?)
                    .map_err(|error| SimError::ClientOptions { client: index, error: error.to_string() })?;
                client.set_observer(Some(log.observer(Observed::Client(index))));
                Ok(client)
            })
            .collect::<Result<Vec<_>, SimError>>()?;
        Ok(Run {
            version: scenario.version,
            clock,
            tick: Duration::from_millis(scenario.tick_ms),
            rng: Rng::new(seed),
            log,
            broker,
            broker_options,
            store: scenario.restarts().then(MemoryStore::default),
            current: vec![None; clients.len()],
            clients,
            links: Vec::new(),
            triggers: Vec::new(),
            next_payload: 0,
            next_injected: 0,
            refusals: Vec::new(),
        })
    }

    pub fn run(mut self, steps: &[Step]) -> Result<Simulation, SimError> {
        for (index, step) in steps.iter().enumerate() {
            if step.client().is_some_and(|client| client >= self.clients.len()) {
                return Err(SimError::NoSuchClient { step: index, clients: self.clients.len() });
            }
            if let Err(reason) = self.step(step)? {
                self.refusals.push(Refusal { step: index, reason });
            }
        }
        let trace = std::mem::take(&mut self.log.lock().events);
        Ok(Simulation { trace, refusals: self.refusals })
    }

    /// Takes one step; `Ok(Err(reason))` when the client refused the command.
    fn step(&mut self, step: &Step) -> Result<Result<(), String>, SimError> {
        let now = self.clock.now();
        if let Some(command) = command_of(step, str::to_string, self.next_payload)? {
            let publishes = command.publishes;
            let result = self.command(command.client, |client| command.give(client, now));
            if publishes && result.is_ok() {
                self.next_payload += 1;
            }
            return Ok(result);
        }
        match step {
            Step::Connect { client } => return Ok(self.connect(*client)),
            // Given to the client above.
            Step::Subscribe { .. }
            | Step::Unsubscribe { .. }
            | Step::Publish { .. }
            | Step::Disconnect { .. }
            | Step::DisconnectWithWill { .. } => {}
            Step::Cut { .. } | Step::Reset { .. } | Step::HalfCut { .. } => {
                let Some((client, fault)) = step.fault() else { return Ok(Ok(())) };
                let Some(link) = self.current[client] else { return Ok(Err("no connection to cut".to_string())) };
                // A connection fails once: what a second fault would lose is lost already.
                if self.links[link].cut {
                    return Ok(Err("the connection is cut already".to_string()));
                }
                self.inject(link, fault);
                match fault {
                    Fault::Reset => self.reset(link),
                    Fault::HalfOpen => self.close_client_end(link),
                    Fault::Cut => {}
                }
            }
            Step::Restart => self.restart(),
            Step::Heal => self.triggers.clear(),
            Step::Inject { client, packet } => self.inject_packet(*client, *packet)?,
            Step::CutAfter { client, receiver, packet } => {
                self.triggers.push(CutTrigger { client: *client, receiver: *receiver, packet: *packet })
            }
            Step::Deliver(count) => {
                for _ in 0..*count {
                    if !self.deliver_one() {
                        break;
                    }
                }
            }
            Step::Settle => self.settle(),
            Step::Advance(ticks) => {
                for _ in 0..*ticks {
                    self.pass(self.tick, Network::Delivers)?;
                }
            }
            Step::Stall(ticks) => {
                let duration_ms = self.tick.as_millis() as u64 * u64::from(*ticks);
                self.log.network(self.clock.now(), Event::NetworkStalled { duration_ms });
                for _ in 0..*ticks {
                    self.pass(self.tick, Network::Stalls)?;
                }
            }
        }
        Ok(Ok(()))
    }

    /// Lets `duration` pass, stopping at each timer's exact deadline on the way to fire it
    /// (and, if the network delivers, to settle what it sent): a timer never fires late.
    fn pass(&mut self, duration: Duration, network: Network) -> Result<(), SimError> {
        let end = self.clock.now() + duration;
        loop {
            // Time never passes over a timer that is due (a packet delivered by an earlier
            // step can have made one due now), nor, unless the network stalls, over a packet
            // in flight: the checker lets time pass with packets in flight only in a stall.
            match network {
                Network::Delivers => self.fire_timers_and_settle()?,
                Network::Stalls => self.fire_timers()?,
            }
            let next = self.next_deadline().filter(|&deadline| deadline < end).unwrap_or(end);
            self.clock.advance_to(next);
            match network {
                Network::Delivers => self.fire_timers_and_settle()?,
                Network::Stalls => self.fire_timers()?,
            }
            if self.clock.now() >= end {
                return Ok(());
            }
        }
    }

    /// The earliest deadline of any node's timer.
    fn next_deadline(&self) -> Option<Instant> {
        let clients = self.clients.iter().filter_map(Client::poll_timeout);
        self.broker.broker.poll_timeout().into_iter().chain(clients).min()
    }

    /// The network fails under connection `link` (what is in flight is lost), and the trace
    /// says so.
    fn inject(&mut self, link: usize, fault: Fault) {
        self.links[link].cut();
        self.log.network(self.clock.now(), Event::FaultInjected { conn: link as ConnId + 1, fault });
    }

    /// Writes `injection` on the client's connection towards the broker, behind what the
    /// client wrote, and logs it; nothing if the client has no connection.
    fn inject_packet(&mut self, client: usize, injection: Injection) -> Result<(), SimError> {
        let Some(link) = self.current[client] else { return Ok(()) };
        let packet = inject::packet_of(injection, self.next_injected)?;
        let bytes = inject::encoded(&packet, self.version)?;
        if matches!(injection, Injection::Publish { .. }) {
            self.next_injected += 1;
        }
        self.links[link].send(Side::Broker, bytes);
        let info = packet_info(&packet, self.version);
        self.log.network(self.clock.now(), Event::PacketInjected { conn: link as ConnId + 1, packet: info });
        Ok(())
    }

    /// The broker process dies and a new one starts from the store: the trace says so
    /// first, then every connection ends at the broker's end.
    fn restart(&mut self) {
        let now = self.clock.now();
        self.log.broker_restarted(now);
        for link in &mut self.links {
            link.broker_dies();
        }
        let mut broker = start_broker(&self.broker_options, &self.log, now);
        if let Some(store) = &mut self.store {
            broker.broker.restore(now, store.restart());
        }
        self.broker = broker;
        self.pump_broker();
    }

    /// Gives a command to a client and sends what it puts out; `Err` if the client refused.
    fn command<T>(
        &mut self,
        client: usize,
        command: impl FnOnce(&mut Client) -> Result<T, CommandError>,
    ) -> Result<(), String> {
        let result = command(&mut self.clients[client]);
        self.pump_client(client);
        result.map(drop).map_err(|error| error.to_string())
    }

    /// Opens a new connection for the client and sends CONNECT on it.
    fn connect(&mut self, client: usize) -> Result<(), String> {
        if self.current[client].is_some() {
            return Err("already connected".to_string());
        }
        let now = self.clock.now();
        let conn = self.links.len() as ConnId + 1;
        self.broker.now = now;
        self.broker.open(BrokerConn(conn)).map_err(|error| error.to_string())?;
        self.links.push(Link::new(client));
        self.current[client] = Some(self.links.len() - 1);
        self.log.client_connects(client, conn);
        self.clients[client].handle_connected(now);
        let result = self.clients[client].connect(now).map_err(|error| error.to_string());
        self.pump_client(client);
        result
    }

    /// Moves what the client has to say onto the network; a connection it ended is closed
    /// once its last packets are on their way.
    fn pump_client(&mut self, client: usize) {
        let Some(link) = self.current[client] else { return };
        loop {
            while let Some(bytes) = self.clients[client].poll_transmit() {
                self.links[link].send(Side::Broker, bytes);
            }
            let Some(event) = self.clients[client].poll_event() else { return };
            if let ClientEvent::Disconnected { last_bytes, .. } = event {
                self.links[link].send(Side::Broker, last_bytes.unwrap_or_default());
                self.links[link].close(Side::Broker);
                self.current[client] = None;
                return;
            }
        }
    }

    /// Moves what the broker has to say onto the network, and closes the connections it
    /// decided to close once their last bytes are on their way.
    fn pump_broker(&mut self) {
        self.broker.now = self.clock.now();
        loop {
            // What waits for the store goes out once the store has it.
            if let Some(store) = &mut self.store {
                store.sync(&mut self.broker.broker, self.broker.now);
            }
            let mut moved = false;
            for (index, link) in self.links.iter_mut().enumerate() {
                // Each output is one write, which makes room for the messages waiting behind it.
                let bytes = self.broker.output(BrokerConn(index as ConnId + 1));
                if !bytes.is_empty() {
                    moved = true;
                    link.send(Side::Client, bytes);
                }
            }
            for (conn, _) in self.broker.take_closed() {
                let link = usize::try_from(conn.0).ok().and_then(|n| self.links.get_mut(n.wrapping_sub(1)));
                // A connection whose client end closed it is already closed at the broker's end.
                if let Some(link) = link.filter(|link| link.broker_open) {
                    moved = true;
                    link.send(Side::Client, self.broker.output(conn));
                    link.close(Side::Client);
                }
            }
            if !moved {
                break;
            }
        }
        self.broker.take_events();
    }

    /// Delivers everything in flight.
    fn settle(&mut self) {
        while self.deliver_one() {}
    }

    /// Delivers the first segment of one non-empty pipe, chosen by the seed; `false` if
    /// nothing is in flight.
    fn deliver_one(&mut self) -> bool {
        let pipes: Vec<(usize, Side)> = self
            .links
            .iter()
            .enumerate()
            .flat_map(|(index, link)| {
                let to_broker = (!link.to_broker.is_empty()).then_some((index, Side::Broker));
                let to_client = (!link.to_client.is_empty()).then_some((index, Side::Client));
                to_broker.into_iter().chain(to_client)
            })
            .collect();
        if pipes.is_empty() {
            return false;
        }
        let (link, receiver) = pipes[self.rng.below(pipes.len())];
        let Some(segment) = self.links[link].pipe(receiver).pop_front() else { return false };
        let seen = self.log.lock().events.len();
        self.arrive(link, receiver, segment);
        self.check_triggers(link, seen);
        true
    }

    /// A segment reaches `receiver` on connection `link`.
    fn arrive(&mut self, link: usize, receiver: Side, segment: Segment) {
        let now = self.clock.now();
        let conn = BrokerConn(link as ConnId + 1);
        let client = self.links[link].client;
        if !self.links[link].is_open(receiver) {
            return;
        }
        match (receiver, segment) {
            (Side::Broker, Segment::Packet(bytes)) => {
                self.broker.now = now;
                self.broker.send(conn, &bytes);
            }
            (Side::Broker, Segment::Close) => {
                self.links[link].broker_open = false;
                self.broker.now = now;
                self.broker.close(conn);
            }
            (Side::Client, Segment::Packet(bytes)) => {
                let mut offered = &bytes[..];
                while !offered.is_empty() && self.current[client] == Some(link) {
                    let taken = self.clients[client].handle_bytes(now, offered);
                    offered = &offered[taken..];
                    self.pump_client(client);
                }
            }
            (Side::Client, Segment::Close) => {
                self.clients[client].handle_closed(now);
                self.pump_client(client);
            }
        }
        self.pump_broker();
    }

    /// Cuts connection `link` if a trigger asks for it after the events from `seen` on.
    fn check_triggers(&mut self, link: usize, seen: usize) {
        let conn = link as ConnId + 1;
        let client = self.links[link].client;
        let fired = {
            let log = self.log.lock();
            let received = |trigger: &CutTrigger| {
                let node = match trigger.receiver {
                    Side::Broker => "broker".to_string(),
                    Side::Client => format!("c{client}"),
                };
                log.events[seen..].iter().any(|event| received_on(event, &node, conn, trigger.packet))
            };
            self.triggers.iter().position(|trigger| trigger.client == client && received(trigger))
        };
        if let Some(index) = fired {
            self.triggers.remove(index);
            self.inject(link, Fault::Cut);
        }
    }

    /// Both ends of the cut connection `link` that still use it hear it is lost, in an
    /// order the seed chooses.
    fn reset(&mut self, link: usize) {
        let broker_first = self.rng.below(2) == 0;
        for side in if broker_first { [Side::Broker, Side::Client] } else { [Side::Client, Side::Broker] } {
            if !self.links[link].is_open(side) {
                continue;
            }
            match side {
                Side::Broker => {
                    self.links[link].broker_open = false;
                    self.broker.now = self.clock.now();
                    self.broker.close(BrokerConn(link as ConnId + 1));
                    self.pump_broker();
                }
                Side::Client => self.close_client_end(link),
            }
        }
    }

    /// The client hears its connection is lost, and forgets it.
    fn close_client_end(&mut self, link: usize) {
        let client = self.links[link].client;
        self.links[link].client_open = false;
        self.clients[client].handle_closed(self.clock.now());
        self.current[client] = None;
        while self.clients[client].poll_event().is_some() {}
    }

    /// Fires what is due and delivers what is in flight until nothing is due any more: a
    /// packet that arrives can make a timer due at once (a CONNACK after a keep alive's worth
    /// of silence makes the first PINGREQ due), and a real runtime polls the timeout after
    /// every input.
    fn fire_timers_and_settle(&mut self) -> Result<(), SimError> {
        for _ in 0..MAX_TIMERS_PER_INSTANT {
            self.fire_timers()?;
            self.settle();
            if self.due_now().is_empty() {
                return Ok(());
            }
        }
        Err(SimError::TimersDoNotSettle { time_ms: self.clock.elapsed().as_millis() as u64 })
    }

    /// The nodes with a timer due now: `None` for the broker, `Some(index)` for a client.
    fn due_now(&self) -> Vec<Option<usize>> {
        let now = self.clock.now();
        let broker_due = self.broker.broker.poll_timeout().is_some_and(|deadline| deadline <= now);
        broker_due
            .then_some(None)
            .into_iter()
            .chain(
                (0..self.clients.len())
                    .filter(|&client| self.clients[client].poll_timeout().is_some_and(|deadline| deadline <= now))
                    .map(Some),
            )
            .collect()
    }

    /// Fires every timer due now, one node at a time in an order the seed chooses.
    fn fire_timers(&mut self) -> Result<(), SimError> {
        let now = self.clock.now();
        for _ in 0..MAX_TIMERS_PER_INSTANT {
            let due = self.due_now();
            if due.is_empty() {
                return Ok(());
            }
            match due[self.rng.below(due.len())] {
                None => {
                    self.broker.now = now;
                    self.broker.wake();
                    self.pump_broker();
                }
                Some(client) => {
                    self.clients[client].handle_timeout(now);
                    self.pump_client(client);
                }
            }
        }
        Err(SimError::TimersDoNotSettle { time_ms: self.clock.elapsed().as_millis() as u64 })
    }
}

/// A broker with `options`, recording into `log`, its clock at `now`.
fn start_broker(options: &BrokerOptions, log: &SharedLog, now: Instant) -> BrokerDriver<AllowAll> {
    let mut broker = Broker::new(options.clone(), AllowAll);
    broker.set_observer(Some(log.observer(Observed::Broker)));
    BrokerDriver::new(broker, now)
}

fn received_on(event: &TraceEvent, node: &str, conn: ConnId, kind: PacketKind) -> bool {
    matches!(&event.event, Event::PacketReceived { conn: on, packet } if *on == conn && packet.kind == kind)
        && event.node.0 == node
}

pub(crate) fn mqtt_string(text: &str) -> Result<MqttString, SimError> {
    MqttString::try_from(text).map_err(|_| SimError::BadString(text.to_string()))
}

/// The options of client `index`: named `cN`, with the scenario's session, keep alive and will.
pub(crate) fn client_options(scenario: &Scenario, index: usize, spec: &ClientSpec) -> Result<ClientOptions, SimError> {
    let name = format!("c{index}");
    let mut options = ClientOptions::new(scenario.version, mqtt_string(&name)?);
    options.keep_alive = spec.keep_alive;
    // The model's clients give up on a silent server after the abort period (one and a half
    // keep alives) whether or not the CONNACK came; a client waits as long for it here.
    if spec.keep_alive != 0 {
        options.connack_timeout = Some(Duration::from_millis(u64::from(spec.keep_alive) * 1500));
    }
    options.clean_start = spec.session == SessionKind::Clean;
    options.outbound_topic_aliases = scenario.topic_aliases && scenario.version.is_v5();
    if let Some(maximum) = scenario.announced_receive_maximum() {
        options.receive_maximum = maximum;
        // Odd clients put their own limit on their flights at the broker's Receive Maximum,
        // so it binds with it; even ones keep the default (far above), so the Receive Maximum
        // binds alone: each of a sender's two bounds is exercised.
        if index % 2 == 1 {
            options.max_in_flight = usize::from(maximum.get());
        }
    }
    // 3.1.1 has no expiry: a persistent session lasts until a clean start.
    options.session_expiry_interval = match spec.session {
        SessionKind::Persistent if scenario.version.is_v5() => spec.session_expiry,
        _ => 0,
    };
    if let Some(qos) = spec.will {
        let payload = format!("will-{name}");
        options.will = Some(Will {
            topic: mqtt_string(TOPIC)?,
            payload: Bytes::from(payload).try_into().map_err(|_| SimError::BadString(name.clone()))?,
            qos,
            retain: false,
            properties: Properties::default(),
        });
    }
    Ok(options)
}
