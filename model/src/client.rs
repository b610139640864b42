//! The client: its session state, its application script and its keepalive.

use crate::bits::Bits;
use crate::bugs::Bug;
use crate::config::{Config, Qos, ScriptStep};
use crate::ghost::Direction;
use crate::network::Link;
use crate::outbound::{Limits, Outbound};
use crate::packet::{Message, Packet, PacketId};
use crate::state::State;
use crate::step::Step;

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
    Requested(PacketId),
    Active,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Client {
    pub status: Status,
    /// How many steps of its script the application has taken.
    pub steps_done: u8,
    /// Session state: QoS 1/2 messages not yet acknowledged by the broker, or not yet sent.
    pub outbound: Outbound,
    /// Session state: ids of QoS 2 PUBLISH received whose PUBREL has not come yet.
    pub awaiting_pubrel: Bits,
    /// Session state, as far as the client knows it.
    pub subscription: Subscription,
    /// Ticks since the client last sent a packet.
    pub idle: u8,
    /// Ticks since a CONNECT or PINGREQ that is still unanswered.
    pub awaiting_reply: Option<u8>,
}

/// What the application does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Subscribe(PacketId),
    Script(ScriptStep),
}

fn limits(config: &Config, state: &State, c: usize) -> Limits {
    let client = &state.clients[c];
    Limits {
        packet_ids: config.packet_ids,
        quota: config.receive_maximum(),
        reserved: match client.subscription {
            Subscription::Requested(id) => Some(id),
            _ => None,
        },
        free_id_at_pubrec: config.has(Bug::PacketIdReusedInFlight),
    }
}

fn next_act(config: &Config, state: &State, c: usize) -> Option<Act> {
    let client = &state.clients[c];
    if client.status != Status::Connected {
        return None;
    }
    if config.is_subscriber(c) && client.subscription == Subscription::None {
        let id = client.outbound.free_id(&limits(config, state, c))?;
        return Some(Act::Subscribe(id));
    }
    let script = config.script(c);
    let step = *script.get(usize::from(client.steps_done))?;
    // The publisher starts once every subscriber has subscribed, so that what it publishes is
    // owed to someone; later it no longer waits (a subscriber may have lost its session).
    let subscribers_ready = config.subscribers().all(|s| state.clients[s].subscription == Subscription::Active);
    (client.steps_done > 0 || subscribers_ready).then_some(Act::Script(step))
}

pub fn application_can_act(config: &Config, state: &State, c: usize) -> bool {
    next_act(config, state, c).is_some()
}

/// The client has been silent for a keepalive and must send PINGREQ [MQTT-3.1.2-23] (3.1.1) /
/// [MQTT-3.1.2-20] (5.0).
pub fn ping_due(config: &Config, state: &State, c: usize) -> bool {
    let client = &state.clients[c];
    client.status == Status::Connected
        && client.idle >= config.keepalive
        && (client.awaiting_reply.is_none() || config.has(Bug::PingWithoutWaiting))
}

/// The CONNACK or PINGRESP did not come within the abort period.
pub fn abort_due(config: &Config, state: &State, c: usize) -> bool {
    state.clients[c].awaiting_reply.is_some_and(|waited| waited >= config.abort_after)
}

impl Step<'_> {
    /// Sends on the client's connection; over a cut connection the packet is lost.
    fn client_send(&mut self, c: usize, packet: Packet) {
        if let Some(link) = self.state.client_link(c) {
            self.state.links[c][link].send_to_broker(packet);
        }
        self.state.clients[c].idle = 0;
        self.state.ghost.on_publish_sent(Direction::ToBroker, c, &packet);
        self.note(|| format!("c{c} → broker: {packet}"));
    }

    fn discard_client_session(&mut self, c: usize) {
        let client = &mut self.state.clients[c];
        let had_state = !client.outbound.is_idle()
            || !client.awaiting_pubrel.is_empty()
            || client.subscription != Subscription::None;
        client.outbound = Outbound::default();
        client.awaiting_pubrel = Bits::EMPTY;
        client.subscription = Subscription::None;
        let steps_done = client.steps_done;
        self.state.ghost.on_client_session_discarded(self.config, c, steps_done);
        if had_state {
            self.note(|| format!("c{c} discards its session state"));
        }
    }

    pub(crate) fn connect(&mut self, c: usize) {
        let clean_start = self.config.clean_start(c);
        if clean_start {
            self.discard_client_session(c);
        }
        let connect = Packet::Connect { clean_start, will: self.config.will };
        self.state.links[c].push(Link::opened_with(connect));
        let client = &mut self.state.clients[c];
        client.status = Status::Connecting;
        client.idle = 0;
        client.awaiting_reply = Some(0);
        self.note(|| format!("c{c} opens a connection → broker: {connect}"));
    }

    pub(crate) fn application_step(&mut self, c: usize) {
        let Some(act) = next_act(self.config, &self.state, c) else {
            return;
        };
        match act {
            Act::Subscribe(id) => {
                self.state.clients[c].subscription = Subscription::Requested(id);
                self.client_send(c, Packet::Subscribe(id));
            }
            Act::Script(step) => {
                self.state.clients[c].steps_done += 1;
                match step {
                    ScriptStep::Publish(n) => self.publish(c, n),
                    ScriptStep::Disconnect => self.disconnect(c),
                }
            }
        }
    }

    fn publish(&mut self, c: usize, n: u8) {
        let qos = self.config.qos(n);
        self.note(|| format!("c{c} application publishes m{n} at qos {}", qos.level()));
        if qos == Qos::AtMostOnce {
            let packet = Packet::Publish { id: 0, message: Message::App(n), qos, dup: false };
            self.client_send(c, packet);
        } else {
            self.state.clients[c].outbound.queue.push(n);
            self.client_send_queued(c);
        }
    }

    fn disconnect(&mut self, c: usize) {
        self.client_send(c, Packet::Disconnect);
        self.close_client_connection(c);
        self.note(|| format!("c{c} closes its connection after DISCONNECT"));
    }

    fn close_client_connection(&mut self, c: usize) {
        if let Some(link) = self.state.client_link(c) {
            self.state.links[c][link].close_client_end();
        }
        let client = &mut self.state.clients[c];
        client.status = Status::Offline;
        client.awaiting_reply = None;
    }

    fn client_send_queued(&mut self, c: usize) {
        if self.state.clients[c].status != Status::Connected {
            return;
        }
        let limits = limits(self.config, &self.state, c);
        let config = self.config;
        let packets = self.state.clients[c].outbound.start_queued(|m| config.qos(m), &limits);
        for packet in packets {
            self.client_send(c, packet);
        }
    }

    pub(crate) fn ping(&mut self, c: usize) {
        self.client_send(c, Packet::PingReq);
        if let Some(link) = self.state.client_link(c) {
            let pings = &mut self.state.links[c][link].unanswered_pings;
            *pings = (*pings + 1).min(2);
        }
        self.state.clients[c].awaiting_reply.get_or_insert(0);
    }

    pub(crate) fn abort(&mut self, c: usize) {
        self.close_client_connection(c);
        self.note(|| format!("c{c} got no reply in time and closes its connection"));
    }

    pub(crate) fn client_receives(&mut self, c: usize, link: usize) {
        let channel = &mut self.state.links[c][link].to_client;
        let Some(packet) = channel.packets.pop_front() else {
            self.close_client_connection(c);
            self.note(|| format!("c{c} sees the broker close the connection"));
            return;
        };
        self.note(|| format!("c{c} ← broker: {packet}"));
        match packet {
            Packet::ConnAck { session_present } => self.on_connack(c, session_present),
            Packet::Publish { id, message, qos, .. } => self.client_on_publish(c, id, message, qos),
            Packet::PubAck(id) => {
                self.state.ghost.on_publish_acknowledged(Direction::ToBroker, c, id);
                self.state.clients[c].outbound.on_puback(id);
                self.client_send_queued(c);
            }
            Packet::PubRec(id) => {
                self.state.ghost.on_publish_acknowledged(Direction::ToBroker, c, id);
                if let Some(pubrel) = self.state.clients[c].outbound.on_pubrec(id) {
                    self.client_send(c, pubrel);
                }
            }
            Packet::PubComp(id) => {
                self.state.clients[c].outbound.on_pubcomp(id);
                self.client_send_queued(c);
            }
            Packet::PubRel(id) => {
                self.state.clients[c].awaiting_pubrel.remove(id);
                self.client_send(c, Packet::PubComp(id));
            }
            Packet::SubAck(id) => {
                let subscription = &mut self.state.clients[c].subscription;
                if *subscription == Subscription::Requested(id) {
                    *subscription = Subscription::Active;
                }
            }
            Packet::PingResp => {
                self.state.clients[c].awaiting_reply = None;
                let pings = &mut self.state.links[c][link].unanswered_pings;
                *pings = pings.saturating_sub(1);
            }
            Packet::Connect { .. } | Packet::Subscribe(_) | Packet::PingReq | Packet::Disconnect => {
                unreachable!("the broker never sends {packet}")
            }
        }
    }

    fn on_connack(&mut self, c: usize, session_present: bool) {
        let client = &mut self.state.clients[c];
        client.status = Status::Connected;
        client.awaiting_reply = None;
        if !session_present {
            // [MQTT-3.2.2-5] (5.0): a client holding state it cannot resume discards it.
            self.discard_client_session(c);
            return;
        }
        self.state.ghost.on_client_session_resumed(c);
        if !self.config.has(Bug::ResendSkippedAfterReconnect) {
            let config = self.config;
            let dup = !config.has(Bug::ClientResendsWithoutDup);
            let resend = self.state.clients[c].outbound.resend(|m| config.qos(m), dup);
            for packet in resend {
                self.client_send(c, packet);
            }
        }
        self.client_send_queued(c);
    }

    fn client_on_publish(&mut self, c: usize, id: PacketId, message: Message, qos: Qos) {
        let first_receipt = match qos {
            Qos::AtMostOnce => true,
            Qos::AtLeastOnce => {
                self.client_send(c, Packet::PubAck(id));
                true
            }
            // Method B of the QoS 2 receiver: deliver on PUBLISH, remember the id until PUBREL.
            Qos::ExactlyOnce => {
                let fresh = !self.state.clients[c].awaiting_pubrel.contains(id);
                self.state.clients[c].awaiting_pubrel.insert(id);
                self.client_send(c, Packet::PubRec(id));
                fresh
            }
        };
        if !first_receipt {
            self.note(|| format!("c{c} already has id {id}: not delivered again"));
            return;
        }
        if let Message::App(n) = message {
            self.state.ghost.on_delivered(self.config, c, n);
        }
        self.note(|| format!("c{c} application receives {message}"));
    }
}
