//! The client: its session state, its application script and its keep alive.
//!
//! Keep alive: the client pings when it has sent nothing for a keep alive [MQTT-3.1.2-23]
//! (3.1.1) / [MQTT-3.1.2-20] (5.0), or received nothing for a keep alive (so that a client
//! that only sends still hears from a dead broker in time), never with a ping outstanding;
//! it gives up on a connection from which nothing (CONNACK included) arrived for
//! `abort_after` ticks.

use crate::bits::Bits;
use crate::bugs::Bug;
use crate::config::{Config, Qos, ScriptStep};
use crate::ghost::Direction;
use crate::network::Link;
use crate::observe::{Actor, LinkRef, Observation};
use crate::outbound::{Header, Limits, Outbound};
use crate::packet::{Message, Packet, PacketId};
use crate::routing::Subscribed;
use crate::state::State;
use crate::step::Step;
use crate::symmetry::Permutation;
use verimqtt_spec::trace::{CloseReason, Timer};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Status {
    #[default]
    Offline,
    /// CONNECT sent, CONNACK not yet received.
    Connecting,
    Connected,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Subscription {
    #[default]
    None,
    /// SUBSCRIBE sent on the current connection, SUBACK not yet received. A request is not
    /// session state: it dies with its connection.
    Requested(PacketId),
    /// The first SUBSCRIBE is granted.
    Active,
    /// The second SUBSCRIBE, which adds filters, sent on the current connection and not yet
    /// granted; it dies with its connection, the first stays granted.
    Adding(PacketId),
    /// Both SUBSCRIBEs are granted.
    Added,
    /// UNSUBSCRIBE sent on the current connection, UNSUBACK not yet received; like a
    /// SUBSCRIBE, the request dies with its connection.
    Unsubscribing(PacketId),
}

impl Subscription {
    /// The packet id of a SUBSCRIBE or UNSUBSCRIBE awaiting its acknowledgement.
    pub fn pending_id(self) -> Option<PacketId> {
        match self {
            Subscription::Requested(id) | Subscription::Adding(id) | Subscription::Unsubscribing(id) => Some(id),
            Subscription::None | Subscription::Active | Subscription::Added => None,
        }
    }

    /// Every SUBSCRIBE `c` sends is granted, as far as it knows.
    pub fn complete(self, config: &Config, c: usize) -> bool {
        match config.fully_subscribed(c) {
            Subscribed::Added => self == Subscription::Added,
            Subscribed::First | Subscribed::No => self == Subscription::Active,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Client {
    pub status: Status,
    /// How many steps of its script the application has taken.
    pub steps_done: u8,
    /// QoS 1/2 messages not yet acknowledged by the broker (session state), and messages not
    /// yet sent (not session state: see [`Step::discard_client_session`]).
    pub outbound: Outbound,
    /// Session state: ids of QoS 2 PUBLISH received whose PUBREL has not come yet.
    pub awaiting_pubrel: Bits,
    /// Session state, as far as the client knows it.
    pub subscription: Subscription,
    /// Ticks since the client last sent a packet.
    pub idle: u8,
    /// Ticks since the client last received a packet (or opened its connection).
    pub silence: u8,
    /// A PINGREQ on the current connection is still unanswered.
    pub ping_outstanding: bool,
    /// 5.0: the Receive Maximum of the CONNACK of the current connection, which bounds the
    /// client's unacknowledged QoS 1/2 PUBLISHes [MQTT-3.3.4-7]; none before the CONNACK
    /// (and in 3.1.1). It is known exactly while the client is connected, so it adds no state.
    pub send_quota: Option<u8>,
    /// The client holds session state its next CONNECT asks to resume: Clean Start is
    /// `!resumable`, decided per connection as verimqtt's client does. A session becomes
    /// resumable on CONNACK and stops being so when the client discards it.
    pub resumable: bool,
    /// 5.0 with a finite expiry: ticks on the client's own session expiry clock, which runs
    /// from the close of the last connection that got a CONNACK (see [`client_expiry_due`]).
    pub expiry_age: Option<u8>,
}

impl Client {
    /// The same with the clients renamed (see [`crate::symmetry`]).
    pub fn permuted(&self, p: &Permutation) -> Client {
        Client { outbound: p.outbound(&self.outbound), ..*self }
    }
}

fn limits(config: &Config, state: &State, c: usize) -> Limits {
    let client = &state.clients[c];
    Limits {
        packet_ids: config.packet_ids,
        quota: if config.has(Bug::QuotaFromOwnReceiveMaximum) { config.receive_maximum() } else { client.send_quota },
        reserved: client.subscription.pending_id(),
        free_id_at_pubrec: config.has(Bug::PacketIdReusedInFlight),
    }
}

/// The SUBSCRIBE a subscriber sends next, if it can: its id, and the first (without a
/// subscription) or the one that adds filters (once the first is granted).
fn subscription_due(config: &Config, state: &State, c: usize) -> Option<(PacketId, Subscribed)> {
    let client = &state.clients[c];
    let next = match client.subscription {
        Subscription::None => Subscribed::First,
        Subscription::Active if !config.added_filters(c).is_empty() => Subscribed::Added,
        _ => return None,
    };
    let wanted = client.status == Status::Connected && config.is_subscriber(c);
    let id = wanted.then(|| client.outbound.free_id(&limits(config, state, c))).flatten()?;
    Some((id, next))
}

pub fn subscription_wanted(config: &Config, state: &State, c: usize) -> bool {
    subscription_due(config, state, c).is_some()
}

/// The packet id of the UNSUBSCRIBE a subscriber sends next, if it may send one: it is
/// connected, has no SUBSCRIBE pending, and the configuration leaves it an UNSUBSCRIBE. It need
/// not know of a subscription (after a clean start, say): the broker answers all the same.
fn unsubscription_due(config: &Config, state: &State, c: usize) -> Option<PacketId> {
    let client = &state.clients[c];
    let may = state.unsubscribes_left > 0
        && client.status == Status::Connected
        && config.is_subscriber(c)
        && matches!(client.subscription, Subscription::Active | Subscription::Added | Subscription::None);
    may.then(|| client.outbound.free_id(&limits(config, state, c))).flatten()
}

pub fn unsubscription_wanted(config: &Config, state: &State, c: usize) -> bool {
    unsubscription_due(config, state, c).is_some()
}

/// The script step the application takes next, if it can.
fn next_script_step(config: &Config, state: &State, c: usize) -> Option<ScriptStep> {
    let client = &state.clients[c];
    let connected = client.status == Status::Connected;
    // Unless paced, a subscriber without a subscription subscribes before anything else.
    if !config.paced_application && connected && config.is_subscriber(c) && client.subscription == Subscription::None {
        return None;
    }
    let script = config.script(c);
    let step = *script.get(usize::from(client.steps_done))?;
    // A paced application may also publish while its client is not connected: the message
    // waits until CONNACK (verimqtt's client queues it; a QoS 0 one it refuses when it has no
    // connection at all, so that is not modelled).
    let connecting = client.status == Status::Connecting;
    let may_act = connected
        || matches!(step, ScriptStep::Publish(n) if config.paced_application && (connecting || config.reliable(n)));
    // The publisher starts once every subscriber has subscribed, so that what it publishes is
    // owed to someone; later it no longer waits (a subscriber may have lost its session). A
    // paced application does not wait at all: a message routed to nobody is owed to nobody.
    let subscribers_ready = config.subscribers().all(|s| state.clients[s].subscription.complete(config, s));
    let may_start = client.steps_done > 0 || subscribers_ready || config.paced_application;
    (may_act && may_start).then_some(step)
}

/// Seeded bug [`Bug::PubRelsResentNewestFirst`]: the PUBRELs among `packets` in reverse order,
/// each other packet in its place.
fn reverse_releases(packets: &mut [Packet]) {
    let at: Vec<usize> = (0..packets.len()).filter(|&i| matches!(packets[i], Packet::PubRel(_))).collect();
    for k in 0..at.len() / 2 {
        packets.swap(at[k], at[at.len() - 1 - k]);
    }
}

pub fn application_can_act(config: &Config, state: &State, c: usize) -> bool {
    next_script_step(config, state, c).is_some()
}

/// The client has sent nothing, or received nothing, for a keep alive and sends PINGREQ
/// [MQTT-3.1.2-23] (3.1.1) / [MQTT-3.1.2-20] (5.0), unless one is outstanding.
pub fn ping_due(config: &Config, state: &State, c: usize) -> bool {
    let client = &state.clients[c];
    if client.status != Status::Connected {
        return false;
    }
    if config.has(Bug::PingWithoutWaiting) {
        return client.idle >= config.keep_alive;
    }
    if config.has(Bug::PingOnlyWhenSilent) {
        return !client.ping_outstanding && client.silence >= config.keep_alive;
    }
    !client.ping_outstanding && (client.idle >= config.keep_alive || client.silence >= config.keep_alive)
}

/// The client's own session expiry clock has run out while it has no connection carrying the
/// session, so it discards its state and its next CONNECT starts clean.
///
/// The clock starts when a connection that got a CONNACK closes; a connection that never got
/// one does not restart it, because the broker may have closed its end of the last accepted
/// connection, and started its own clock, long before (the conservative rule; verimqtt's
/// client restarted it on every close before issue 16, seeded as
/// [`Bug::ClientExpiryFromEveryClose`]). While a CONNECT awaits its CONNACK the client does not
/// expire, as verimqtt's does not.
pub fn client_expiry_due(config: &Config, state: &State, c: usize) -> bool {
    let client = &state.clients[c];
    let age = client.expiry_age;
    client.status == Status::Offline && matches!((age, config.expiry_ticks()), (Some(t), Some(limit)) if t >= limit)
}

/// Nothing (no CONNACK, no PINGRESP, nothing at all) came within the abort period.
pub fn abort_due(config: &Config, state: &State, c: usize) -> bool {
    let client = &state.clients[c];
    let limit = match client.status {
        Status::Connecting => config.connack_ticks(),
        Status::Connected | Status::Offline => config.abort_after,
    };
    client.status != Status::Offline && client.silence >= limit
}

impl Step<'_> {
    /// An accepting PUBREC: the flight awaiting it goes on to PUBREL.
    fn client_on_pubrec(&mut self, c: usize, id: PacketId) {
        self.state.ghost.on_publish_acknowledged(Direction::ToBroker, c, id);
        let order = self.config.client_resend_order;
        if let Some(pubrel) = self.state.clients[c].outbound.on_pubrec(id, order) {
            self.state.ghost.ack_order.on_pubrec_read(Direction::ToBroker, c, id);
            self.client_send(c, pubrel);
        }
    }

    /// Sends on the client's connection; over a cut connection the packet is lost.
    fn client_send(&mut self, c: usize, packet: Packet) {
        let reason = packet.success_code(self.config.version);
        self.client_send_coded(c, packet, reason);
    }

    /// Sends `packet` with the reason code `reason` (`None` for packets without one).
    fn client_send_coded(&mut self, c: usize, packet: Packet, reason: Option<u8>) {
        if let Some(link) = self.state.client_link(c) {
            self.state.links[c][link].send_to_broker(packet);
            let link = LinkRef { client: c, link };
            self.observe(|| Observation::Sent { actor: Actor::Client(c), link, packet, reason });
        }
        self.state.clients[c].idle = 0;
        self.state.ghost.on_publish_sent(Direction::ToBroker, c, &packet);
        self.note(|| format!("c{c} → broker: {packet}"));
    }

    /// Drops the client's session state: unacknowledged flights, QoS 2 ids awaiting PUBREL,
    /// the subscription. Messages never sent stay queued and go out in the next session, as
    /// verimqtt's client does. That is no deviation in either version: section 4.1 of 3.1.1 and
    /// of 5.0 lists, as the client's session state, QoS 1/2 messages *sent* and not completely
    /// acknowledged; messages pending transmission are session state only on the server.
    fn discard_client_session(&mut self, c: usize) {
        let client = &mut self.state.clients[c];
        let had_state = !client.outbound.flights.is_empty()
            || !client.awaiting_pubrel.is_empty()
            || client.subscription != Subscription::None;
        let flights = client.outbound.flights;
        client.outbound.flights.clear();
        client.awaiting_pubrel = Bits::EMPTY;
        client.subscription = Subscription::None;
        client.resumable = false;
        client.expiry_age = None;
        let steps_done = client.steps_done;
        self.state.ghost.on_client_session_discarded(self.config, c, steps_done);
        // Its flights go back to the application, in the order of their last step.
        for flight in flights.iter() {
            self.observe_abandoned(c, flight.message);
        }
        if had_state {
            self.note(|| format!("c{c} discards its session state"));
        }
    }

    /// The client gives `message` back to its application.
    fn observe_abandoned(&mut self, c: usize, message: Message) {
        if let Message::App(message) = message {
            let qos = self.config.qos(message);
            self.observe(|| Observation::Abandoned { client: c, message, qos });
        }
    }

    pub(crate) fn connect(&mut self, c: usize) {
        let clean_start = !self.state.clients[c].resumable;
        let receive_maximum = self.config.receive_maximum();
        let connect = Packet::Connect { clean_start, will: self.config.has_will(c), receive_maximum };
        let link = LinkRef { client: c, link: self.state.links[c].len() };
        self.state.links[c].push(Link::opened_with(connect));
        let client = &mut self.state.clients[c];
        client.status = Status::Connecting;
        client.idle = 0;
        client.silence = 0;
        client.ping_outstanding = false;
        self.state.ghost.ack_order.on_connection_opened(Direction::ToClient, c);
        self.observe(|| Observation::Opened { actor: Actor::Client(c), link });
        self.observe(|| Observation::Opened { actor: Actor::Broker, link });
        self.observe(|| Observation::Sent { actor: Actor::Client(c), link, packet: connect, reason: None });
        self.note(|| format!("c{c} opens a connection → broker: {connect}"));
    }

    pub(crate) fn subscribe(&mut self, c: usize) {
        if let Some((id, subscribed)) = subscription_due(self.config, &self.state, c) {
            self.state.clients[c].subscription = match subscribed {
                Subscribed::Added => Subscription::Adding(id),
                Subscribed::First | Subscribed::No => Subscription::Requested(id),
            };
            self.client_send(c, Packet::Subscribe(id, subscribed));
        }
    }

    /// The subscriber unsubscribes from all its filters; unless its application is paced, it
    /// subscribes again as soon as the UNSUBACK comes (a re-SUBSCRIBE).
    pub(crate) fn unsubscribe(&mut self, c: usize) {
        if let Some(id) = unsubscription_due(self.config, &self.state, c) {
            self.state.unsubscribes_left -= 1;
            self.state.clients[c].subscription = Subscription::Unsubscribing(id);
            self.client_send(c, Packet::Unsubscribe(id));
        }
    }

    pub(crate) fn application_step(&mut self, c: usize) {
        let Some(step) = next_script_step(self.config, &self.state, c) else {
            return;
        };
        self.state.clients[c].steps_done += 1;
        match step {
            ScriptStep::Publish(n) => self.publish(c, n),
            ScriptStep::Disconnect => self.disconnect(c, Packet::Disconnect),
        }
    }

    fn publish(&mut self, c: usize, n: u8) {
        let qos = self.config.qos(n);
        self.observe(|| Observation::PublishRequested { client: c, message: n, qos });
        self.note(|| format!("c{c} application publishes m{n} at qos {}", qos.level()));
        if qos == Qos::AtMostOnce && self.state.clients[c].status == Status::Connected {
            let retain = self.config.retained.contains(n);
            let packet = Packet::Publish { id: 0, message: Message::App(n), qos, dup: false, retain };
            self.client_send(c, packet);
        } else {
            // Until CONNACK, even a QoS 0 message waits.
            self.state.clients[c].outbound.queue.push(Message::App(n));
            self.client_send_queued(c);
        }
    }

    /// A DISCONNECT the client chose to send now (not a script step): 0x00, or (5.0) 0x04 to
    /// have its will published all the same.
    pub(crate) fn chosen_disconnect(&mut self, c: usize, with_will: bool) {
        self.state.disconnects_left -= 1;
        self.disconnect(c, if with_will { Packet::DisconnectWithWill } else { Packet::Disconnect });
    }

    /// The client writes its DISCONNECT and then closes the connection [MQTT-3.14.4-1], so an
    /// observer sees the packet before the close.
    fn disconnect(&mut self, c: usize, disconnect: Packet) {
        self.client_send(c, disconnect);
        self.observe_close(c, CloseReason::Disconnected);
        self.close_client_connection(c);
        self.note(|| format!("c{c} closes its connection after DISCONNECT"));
    }

    fn observe_close(&mut self, c: usize, reason: CloseReason) {
        if let Some(link) = self.state.client_link(c) {
            self.observe(|| Observation::Closed { actor: Actor::Client(c), link: LinkRef { client: c, link }, reason });
        }
    }

    fn close_client_connection(&mut self, c: usize) {
        if let Some(link) = self.state.client_link(c) {
            self.state.links[c][link].close_client_end();
        }
        self.start_client_expiry_clock(c);
        let client = &mut self.state.clients[c];
        client.status = Status::Offline;
        client.ping_outstanding = false;
        client.send_quota = None;
        // A request not yet acknowledged dies with its connection: the client no longer knows
        // its subscription, and subscribes again (which replaces one the broker kept). A
        // SUBSCRIBE that adds filters leaves the first granted: it is sent again.
        client.subscription = match client.subscription {
            Subscription::Adding(_) => Subscription::Active,
            Subscription::Requested(_) | Subscription::Unsubscribing(_) => Subscription::None,
            kept => kept,
        };
        // A QoS 0 message waiting for CONNACK goes with its connection, given back to the
        // application (as verimqtt does).
        let config = self.config;
        let queue = client.outbound.queue;
        client.outbound.queue.retain(|&m| config.published_qos(m) > Qos::AtMostOnce);
        for &message in queue.iter().filter(|&&m| config.published_qos(m) == Qos::AtMostOnce) {
            self.observe_abandoned(c, message);
        }
        // A clean session lasts as long as its connection [MQTT-3.1.2-6] (3.1.1) /
        // [MQTT-3.1.2-4] (5.0); what the application publishes while the client is offline
        // belongs to the next one.
        if self.config.clean_start(c) {
            self.discard_client_session(c);
        }
    }

    /// A connection closes: the client's expiry clock starts if the connection carried the
    /// session (it got a CONNACK), or with the seeded bug on every close of a resumable session.
    fn start_client_expiry_clock(&mut self, c: usize) {
        let config = self.config;
        let client = &mut self.state.clients[c];
        let carried_session = client.status == Status::Connected;
        let restarts = carried_session || (client.resumable && config.has(Bug::ClientExpiryFromEveryClose));
        if config.expiry_ticks().is_some() && config.session_outlives_connection(c) && restarts {
            client.expiry_age = Some(0);
        }
    }

    /// The client's expiry clock ran out: it discards its session state.
    pub(crate) fn client_expire_session(&mut self, c: usize) {
        self.observe(|| Observation::TimerFired { actor: Actor::Client(c), timer: Timer::SessionExpiry });
        self.discard_client_session(c);
        self.note(|| format!("c{c}: its session expired, its state is discarded"));
    }

    fn client_send_queued(&mut self, c: usize) {
        if self.state.clients[c].status != Status::Connected {
            return;
        }
        let limits = limits(self.config, &self.state, c);
        let config = self.config;
        let packets = self.state.clients[c].outbound.start_queued(client_header(config), &limits);
        for packet in packets {
            self.client_send(c, packet);
        }
    }

    pub(crate) fn ping(&mut self, c: usize) {
        self.observe(|| Observation::TimerFired { actor: Actor::Client(c), timer: Timer::KeepAlivePing });
        if self.config.has(Bug::ResendOnPing) {
            self.resend(c);
        }
        self.client_send(c, Packet::PingReq);
        if let Some(link) = self.state.client_link(c) {
            let pings = &mut self.state.links[c][link].unanswered_pings;
            *pings = (*pings + 1).min(2);
        }
        self.state.clients[c].ping_outstanding = true;
    }

    pub(crate) fn abort(&mut self, c: usize) {
        let (timer, reason) = match self.state.clients[c].status {
            Status::Connecting => (Timer::ConnackTimeout, CloseReason::ConnackTimeout),
            Status::Connected | Status::Offline => (Timer::KeepAliveAbort, CloseReason::KeepAliveTimeout),
        };
        self.observe(|| Observation::TimerFired { actor: Actor::Client(c), timer });
        self.observe_close(c, reason);
        self.close_client_connection(c);
        self.note(|| format!("c{c} heard nothing in time and closes its connection"));
    }

    pub(crate) fn client_receives(&mut self, c: usize, link: usize) {
        let channel = &mut self.state.links[c][link].to_client;
        let at = LinkRef { client: c, link };
        let Some(packet) = channel.packets.pop_front() else {
            self.observe(|| Observation::Closed {
                actor: Actor::Client(c),
                link: at,
                reason: CloseReason::ConnectionLost,
            });
            self.close_client_connection(c);
            self.note(|| format!("c{c} sees the broker close the connection"));
            return;
        };
        self.state.clients[c].silence = 0;
        self.observe(|| Observation::Received { actor: Actor::Client(c), link: at, packet });
        self.note(|| format!("c{c} ← broker: {packet}"));
        match packet {
            Packet::ConnAck { session_present, receive_maximum } => {
                self.state.clients[c].send_quota = receive_maximum;
                self.on_connack(c, session_present);
            }
            Packet::Publish { id, message, qos, retain, .. } => {
                let publish = Incoming { id, message, qos, retain };
                match self.read_along(c, link, qos) {
                    Some(behind) => self.client_on_publishes_answered_last_first(c, [publish, behind]),
                    None => self.client_on_publish(c, publish),
                }
            }
            Packet::PubAck(id) => {
                self.state.ghost.on_publish_acknowledged(Direction::ToBroker, c, id);
                self.state.clients[c].outbound.on_puback(id);
                self.client_send_queued(c);
            }
            Packet::PubRec(id) => self.client_on_pubrec(c, id),
            // The broker refused the message (5.0: its payload is not the UTF-8 it claims):
            // the flow ends here, with no PUBREL [MQTT-4.3.3-4], [MQTT-4.4.0-2].
            Packet::PubRecRefused(id) => {
                self.state.ghost.on_refusing_pubrec_read(Direction::ToBroker, c, id);
                if self.config.has(Bug::RefusedPubRecReleased) {
                    self.client_on_pubrec(c, id);
                } else {
                    self.state.ghost.on_publish_acknowledged(Direction::ToBroker, c, id);
                    self.state.clients[c].outbound.on_pubrec_refused(id);
                    self.client_send_queued(c);
                }
            }
            Packet::PubComp(id) => {
                self.state.ghost.on_release_completed(Direction::ToBroker, c, id);
                self.state.clients[c].outbound.on_pubcomp(id);
                self.client_send_queued(c);
            }
            Packet::PubRel(id) => {
                let known = self.state.clients[c].awaiting_pubrel.contains(id);
                self.state.clients[c].awaiting_pubrel.remove(id);
                let (pubcomp, reason) = Packet::completion(id, known, self.config.version);
                self.client_send_coded(c, pubcomp, reason);
            }
            Packet::SubAck(id, _) => {
                let subscription = &mut self.state.clients[c].subscription;
                *subscription = match *subscription {
                    Subscription::Requested(pending) if pending == id => Subscription::Active,
                    Subscription::Adding(pending) if pending == id => Subscription::Added,
                    unchanged => unchanged,
                };
            }
            Packet::UnsubAck { id, .. } => {
                let subscription = &mut self.state.clients[c].subscription;
                if *subscription == Subscription::Unsubscribing(id) {
                    *subscription = Subscription::None;
                }
            }
            Packet::PingResp => {
                self.state.clients[c].ping_outstanding = false;
                let pings = &mut self.state.links[c][link].unanswered_pings;
                *pings = pings.saturating_sub(1);
            }
            // 5.0: the broker says why it closes (keep alive, takeover); its FIN follows.
            Packet::Disconnect => {
                self.observe(|| Observation::Closed {
                    actor: Actor::Client(c),
                    link: at,
                    reason: CloseReason::PeerDisconnected,
                });
                self.close_client_connection(c);
            }
            Packet::Connect { .. }
            | Packet::PublishBeyondQuota { .. }
            | Packet::Subscribe(..)
            | Packet::Unsubscribe(_)
            | Packet::PingReq
            | Packet::DisconnectWithWill => {
                unreachable!("the broker never sends {packet}")
            }
        }
    }

    fn on_connack(&mut self, c: usize, session_present: bool) {
        let client = &mut self.state.clients[c];
        client.status = Status::Connected;
        client.expiry_age = None;
        if !session_present {
            // [MQTT-3.2.2-5] (5.0): a client holding state it cannot resume discards it; what
            // it never sent goes out in the new session.
            self.discard_client_session(c);
        } else {
            self.state.ghost.on_client_session_resumed(c);
            self.resend(c);
        }
        self.state.clients[c].resumable = true;
        self.state.ghost.on_client_attached(c);
        self.client_send_queued(c);
    }

    /// Resends what the resumed session left unacknowledged, in the client's resend order.
    fn resend(&mut self, c: usize) {
        if self.config.has(Bug::ResendSkippedAfterReconnect) {
            return;
        }
        let config = self.config;
        let dup = !config.has(Bug::ClientResendsWithoutDup);
        let outbound = &self.state.clients[c].outbound;
        let mut resend = outbound.resend(client_header(config), dup, config.client_resend_order);
        if config.has(Bug::PublishResentAfterPubRel) {
            resend = resend
                .into_iter()
                .map(|p| outbound.publish_in_place_of_release(p, client_header(config), dup))
                .collect();
        }
        if config.has(Bug::PubRelsResentNewestFirst) {
            reverse_releases(&mut resend);
        }
        for packet in resend {
            self.client_send(c, packet);
        }
    }

    /// The client reads a PUBLISH, acknowledges it and delivers it unless it is a QoS 2
    /// duplicate.
    fn client_on_publish(&mut self, c: usize, publish: Incoming) {
        let (ack, first_receipt) = self.client_receives_publish(c, publish.id, publish.qos);
        if let Some(ack) = ack {
            self.client_send(c, ack);
        }
        self.client_delivers(c, publish, first_receipt);
    }

    /// The receiver's bookkeeping of a PUBLISH: its acknowledgement, and whether it is the first
    /// receipt of the message.
    fn client_receives_publish(&mut self, c: usize, id: PacketId, qos: Qos) -> (Option<Packet>, bool) {
        self.state.ghost.ack_order.on_publish_read(Direction::ToClient, c, id, qos);
        match qos {
            Qos::AtMostOnce => (None, true),
            Qos::AtLeastOnce => (Some(Packet::PubAck(id)), true),
            // Method B of the QoS 2 receiver: deliver on PUBLISH, remember the id until PUBREL.
            Qos::ExactlyOnce => {
                let fresh = !self.state.clients[c].awaiting_pubrel.contains(id);
                self.state.clients[c].awaiting_pubrel.insert(id);
                (Some(Packet::PubRec(id)), fresh)
            }
        }
    }

    /// The client's application receives the message of a PUBLISH, on its first receipt.
    fn client_delivers(&mut self, c: usize, publish: Incoming, first_receipt: bool) {
        let Incoming { id, message, qos, retain } = publish;
        if !first_receipt {
            self.note(|| format!("c{c} already has id {id}: not delivered again"));
            return;
        }
        let handed_over = self.state.handed_over(self.config);
        self.state.ghost.on_application_receives(self.config, message, handed_over);
        match message {
            Message::App(n) => self.state.ghost.on_delivered(self.config, c, n, qos),
            Message::Retained { message: n, .. } => self.state.ghost.on_retained_delivered(c, n),
            Message::Will(w) if qos > Qos::AtMostOnce => {
                self.state.ghost.delivered[c].insert(self.config.will_message(w));
            }
            Message::Will(_) => {}
        }
        self.observe(|| Observation::Delivered { client: c, message, qos, retain });
        self.note(|| format!("c{c} application receives {message}"));
    }

    /// Seeded bugs [`Bug::PubAcksReversedPerRead`] and [`Bug::PubRecsReversedPerRead`]: two
    /// PUBLISHes read in one go, acknowledged last first, delivered in order.
    fn client_on_publishes_answered_last_first(&mut self, c: usize, publishes: [Incoming; 2]) {
        let received = publishes.map(|p| self.client_receives_publish(c, p.id, p.qos));
        for (ack, _) in received.iter().rev() {
            if let Some(ack) = *ack {
                self.client_send(c, ack);
            }
        }
        for (publish, (_, first_receipt)) in publishes.into_iter().zip(received) {
            self.client_delivers(c, publish, first_receipt);
        }
    }

    /// Seeded bugs [`Bug::PubAcksReversedPerRead`] and [`Bug::PubRecsReversedPerRead`]: having
    /// read a PUBLISH at `qos`, the client reads in the same go the PUBLISH at the same QoS
    /// waiting behind it.
    fn read_along(&mut self, c: usize, link: usize, qos: Qos) -> Option<Incoming> {
        let reversed = match qos {
            Qos::AtMostOnce => false,
            Qos::AtLeastOnce => self.config.has(Bug::PubAcksReversedPerRead),
            Qos::ExactlyOnce => self.config.has(Bug::PubRecsReversedPerRead),
        };
        let channel = &mut self.state.links[c][link].to_client;
        let next = channel.packets.first().copied().filter(|_| reversed);
        let Some(packet @ Packet::Publish { id, message, qos: behind, retain, .. }) = next else {
            return None;
        };
        if behind != qos {
            return None;
        }
        channel.packets.pop_front();
        let at = LinkRef { client: c, link };
        self.observe(|| Observation::Received { actor: Actor::Client(c), link: at, packet });
        self.note(|| format!("c{c} ← broker, in the same read: {packet}"));
        Some(Incoming { id, message, qos, retain })
    }
}

/// What the client reads from a PUBLISH the broker sent.
#[derive(Clone, Copy)]
struct Incoming {
    id: PacketId,
    message: Message,
    qos: Qos,
    retain: bool,
}
/// What the client's PUBLISH of `message` carries: the QoS and RETAIN flag its application
/// published it with (a client queues only application messages).
fn client_header(config: &Config) -> impl Fn(Message) -> Header + '_ {
    move |m| Header {
        qos: config.published_qos(m),
        retain: matches!(m, Message::App(n) if config.retained.contains(n)),
    }
}
