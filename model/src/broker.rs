//! The broker: sessions, routing, the QoS receiver and sender roles, keep alive, wills, expiry.

use crate::bits::Bits;
use crate::bugs::Bug;
use crate::config::{Config, Qos, Version};
use crate::ghost::{Breach, Direction};
use crate::network::BrokerEnd;
use crate::observe::{Actor, LinkRef, Observation};
use crate::outbound::{Header, Limits, Outbound};
use crate::packet::{Message, Packet, PacketId, reason as code};
use crate::routing::{RetainHandling, RoutedUnder, Subscribed};
use crate::state::State;
use crate::step::Step;
use crate::symmetry::Permutation;
use verimqtt_spec::trace::{self, Timer};

/// The broker's session for one client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Session {
    /// The client's SUBSCRIBEs the session holds.
    pub subscribed: Subscribed,
    /// What the session held when each copy in it was routed: it keeps that QoS.
    pub routed_under: RoutedUnder,
    /// QoS 1/2 messages for the client: unacknowledged or waiting to be sent.
    pub outbound: Outbound,
    /// Ids of QoS 2 PUBLISH from the client whose PUBREL has not come yet.
    pub awaiting_pubrel: Bits,
    /// 5.0 with a finite expiry: ticks since the session lost its connection.
    pub offline_ticks: Option<u8>,
}

impl Session {
    /// The same with the clients renamed (see [`crate::symmetry`]).
    pub fn permuted(&self, p: &Permutation) -> Session {
        Session { outbound: p.outbound(&self.outbound), routed_under: self.routed_under.permuted(p), ..*self }
    }
}

/// An acknowledgement the broker owes for a PUBLISH it read: `ack` for application message
/// `message`, `matched` to a subscriber or not.
struct Answer {
    ack: Packet,
    message: u8,
    matched: bool,
}

/// Why the broker closes a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The client sent DISCONNECT (0x00): the only close that deletes the will unpublished.
    Disconnect,
    /// The client sent DISCONNECT 0x04 (5.0): a normal close that publishes the will.
    DisconnectWithWill,
    /// The client's end closed (FIN) without DISCONNECT.
    ConnectionLost,
    KeepAlive,
    /// A new connection for the same client id took over [MQTT-3.1.4-2] / [MQTT-3.1.4-3].
    TakenOver,
    /// The client sent a QoS 1/2 PUBLISH beyond the broker's Receive Maximum (5.0 section
    /// 3.3.4, see [`crate::quota`]).
    ReceiveMaximumExceeded,
}

impl CloseReason {
    /// The reason as a trace names it.
    fn observed(self) -> trace::CloseReason {
        match self {
            CloseReason::Disconnect | CloseReason::DisconnectWithWill => trace::CloseReason::PeerDisconnected,
            CloseReason::ConnectionLost => trace::CloseReason::ConnectionLost,
            CloseReason::KeepAlive => trace::CloseReason::KeepAliveTimeout,
            CloseReason::TakenOver => trace::CloseReason::SessionTakenOver,
            CloseReason::ReceiveMaximumExceeded => trace::CloseReason::ProtocolViolation,
        }
    }

    /// A 5.0 broker tells the client why it closes with a DISCONNECT first, and its reason
    /// code (0x8D keep alive timeout, 0x8E session taken over [MQTT-3.1.4-3], 0x93 Receive
    /// Maximum exceeded); a client that
    /// sent DISCONNECT, or whose connection is gone, is told nothing.
    fn announced(self, version: Version) -> Option<u8> {
        match self {
            _ if version != Version::V5_0 => None,
            CloseReason::KeepAlive => Some(code::KEEP_ALIVE_TIMEOUT),
            CloseReason::TakenOver => Some(code::SESSION_TAKEN_OVER),
            CloseReason::ReceiveMaximumExceeded => Some(code::RECEIVE_MAXIMUM_EXCEEDED),
            CloseReason::Disconnect | CloseReason::DisconnectWithWill | CloseReason::ConnectionLost => None,
        }
    }
}

/// Nothing has arrived on the connection within 1.5 x keep alive: the broker must close it
/// [MQTT-3.1.2-24] (3.1.1) / [MQTT-3.1.2-22] (5.0).
pub fn keep_alive_close_due(config: &Config, state: &State, c: usize, link: usize) -> bool {
    let BrokerEnd::Open { silence, .. } = state.links[c][link].broker else {
        return false;
    };
    match config.bug {
        Some(Bug::KeepAliveCloseAtOneK) => silence >= config.keep_alive,
        Some(Bug::KeepAliveNotEnforced) => false,
        _ => config.grace_over(silence),
    }
}

/// The broker has waited for a CONNECT on the connection as long as it waits.
pub fn connect_timeout_due(config: &Config, state: &State, c: usize, link: usize) -> bool {
    let BrokerEnd::AwaitingConnect { waited } = state.links[c][link].broker else {
        return false;
    };
    config.broker_connect_timeout.is_some_and(|timeout| waited >= timeout)
}

/// An offline session has outlived its expiry interval (5.0) [MQTT-4.1.0-2].
pub fn session_expiry_due(config: &Config, state: &State, c: usize) -> bool {
    let offline = state.sessions[c].as_ref().and_then(|s| s.offline_ticks);
    matches!((offline, config.expiry_ticks()), (Some(t), Some(limit)) if t >= limit)
}

/// The QoS of the copy of `message` that subscriber `s`'s session gets while it holds the
/// SUBSCRIBEs `subscribed`, if its subscriptions match it (see [`crate::routing`]); wills go
/// to the subscriptions matching [`crate::routing::WILL_TOPIC`].
fn copy_qos(config: &Config, s: usize, message: Message, subscribed: Subscribed) -> Option<Qos> {
    let n = match message {
        Message::Will(w) => return config.copy_qos_under(s, config.will_message(w), subscribed),
        Message::Retained { qos, .. } => return Some(qos),
        Message::App(n) => n,
    };
    let granted = config.copy_qos_under(s, n, subscribed);
    match config.bug {
        Some(Bug::TopicIgnored) => Some(granted.unwrap_or(config.qos(n))),
        Some(Bug::CopyQosNotLowered) => granted.map(|_| config.qos(n)),
        Some(Bug::CopyQosOfFirstMatch) => {
            let held = config.held_filters(s, subscribed);
            let first = held.iter().find(|f| f.filter.matches(config.topic(n)))?;
            Some(first.qos.min(config.qos(n)))
        }
        _ => granted,
    }
}

/// The RETAIN flag of the copy of `message` the broker sends `s`, routed while its session
/// held `subscribed` (see [`Config::copy_retain_under`]).
fn copy_retain(config: &Config, s: usize, message: Message, subscribed: Subscribed) -> bool {
    let forwarded = matches!(message, Message::App(_));
    !(forwarded && config.has(Bug::RetainAsPublishedIgnored)) && config.copy_retain_under(s, message, subscribed)
}

/// The QoS and RETAIN flag with which the broker sends `s` a message it queued for it in
/// `session`: those fixed when the copy was routed (`routed_under`).
fn queued_copy_header<'a>(config: &'a Config, s: usize, session: &Session) -> impl Fn(Message) -> Header + use<'a> {
    let (routed_under, now) = (session.routed_under, session.subscribed);
    move |m| {
        let routed = config.copy_id(m).map_or(Subscribed::First, |id| routed_under.subscribed(id));
        let subscribed = if config.has(Bug::QueuedCopyRegranted) && now.any() { now } else { routed };
        let qos = copy_qos(config, s, m, subscribed).unwrap_or(config.published_qos(m));
        Header { qos, retain: copy_retain(config, s, m, routed) }
    }
}

impl Step<'_> {
    fn broker_send(&mut self, c: usize, packet: Packet) {
        if let Some(link) = self.state.broker_link(c) {
            self.broker_send_on(c, link, packet);
        }
    }

    pub(crate) fn broker_send_on(&mut self, c: usize, link: usize, packet: Packet) {
        let reason = packet.success_code(self.config.version);
        self.broker_send_coded(c, link, packet, reason);
    }

    /// Sends `packet` with the 5.0 reason code `reason` (`None` in 3.1.1 acknowledgements).
    fn broker_send_coded(&mut self, c: usize, link: usize, packet: Packet, reason: Option<u8>) {
        let held = self.store_holds_back();
        self.broker_queue(c, link, packet, reason, held);
    }

    /// Queues `packet` for the client: on the wire now, or `held` until the store commits.
    fn broker_queue(&mut self, c: usize, link: usize, packet: Packet, reason: Option<u8>, held: bool) {
        let l = &mut self.state.links[c][link];
        if held {
            l.held.push_or_overflow(packet);
        } else {
            l.send_to_client(packet);
        }
        self.state.ghost.on_publish_sent(Direction::ToClient, c, &packet);
        self.state.ghost.on_sent_to_client(self.config, c, &packet);
        self.observe(|| Observation::Sent { actor: Actor::Broker, link: LinkRef { client: c, link }, packet, reason });
        self.note(|| format!("broker → c{c}: {packet}{}", if held { " (held for the store)" } else { "" }));
    }

    pub(crate) fn broker_receives(&mut self, c: usize, link: usize) {
        let endpoint = &mut self.state.links[c][link];
        let Some(packet) = endpoint.to_broker.packets.pop_front() else {
            self.note(|| format!("broker sees c{c}#{link} closed without DISCONNECT"));
            self.close(c, link, CloseReason::ConnectionLost);
            return;
        };
        if let BrokerEnd::Open { silence, .. } = &mut endpoint.broker {
            *silence = 0;
        }
        self.observe(|| Observation::Received { actor: Actor::Broker, link: LinkRef { client: c, link }, packet });
        self.note(|| format!("broker ← c{c}: {packet}"));
        match packet {
            Packet::Connect { clean_start, will, receive_maximum } => {
                self.on_connect(c, link, clean_start, will, receive_maximum)
            }
            Packet::Publish { id, message, qos, .. } => {
                if qos == Qos::ExactlyOnce {
                    self.count_unreleased(c, link, id, false);
                }
                let answer = self.broker_on_publish(c, id, message, qos);
                // Seeded bug: the PUBLISH behind, read in the same go, is answered first.
                if let Some((id, message)) = self.broker_reads_along(c, link, qos) {
                    let behind = self.broker_on_publish(c, id, message, qos);
                    self.broker_answer(c, behind);
                }
                self.broker_answer(c, answer);
            }
            Packet::PublishBeyondQuota { qos } => self.broker_reads_beyond_quota(c, link, qos),
            Packet::PubRel(id) => {
                self.count_unreleased(c, link, id, true);
                let known = self.state.sessions[c].as_mut().is_some_and(|session| {
                    let known = session.awaiting_pubrel.contains(id);
                    session.awaiting_pubrel.remove(id);
                    known
                });
                let (pubcomp, reason) = Packet::completion(id, known, self.config.version);
                self.broker_send_coded(c, link, pubcomp, reason);
            }
            Packet::PubAck(id) => {
                self.state.ghost.on_publish_acknowledged(Direction::ToClient, c, id);
                if let Some(session) = &mut self.state.sessions[c] {
                    session.outbound.on_puback(id);
                }
                self.broker_send_queued(c);
            }
            Packet::PubRec(id) => {
                self.state.ghost.on_publish_acknowledged(Direction::ToClient, c, id);
                let order = self.config.broker_resend_order;
                let Some(session) = &mut self.state.sessions[c] else {
                    return;
                };
                match session.outbound.on_pubrec(id, order) {
                    Some(pubrel) => {
                        self.state.ghost.ack_order.on_pubrec_read(Direction::ToClient, c, id);
                        self.broker_send(c, pubrel);
                    }
                    // No flight awaits a PUBREC of the id (only a hostile client's PUBREC has
                    // none): verimqtt answers that it does not know it.
                    None => self.release_unknown(c, link, id),
                }
            }
            // The broker reads a refusing PUBREC only from a hostile client (the model's clients
            // refuse nothing), for an id no flight uses: no PUBREL answers it ([MQTT-4.3.3-4]:
            // a PUBREL answers a PUBREC below 0x80).
            Packet::PubRecRefused(id) => {
                self.state.ghost.on_refusing_pubrec_read(Direction::ToClient, c, id);
                if self.config.has(Bug::RefusedPubRecReleased) {
                    self.release_unknown(c, link, id);
                }
            }
            Packet::PubComp(id) => {
                self.state.ghost.on_release_completed(Direction::ToClient, c, id);
                if let Some(session) = &mut self.state.sessions[c] {
                    session.outbound.on_pubcomp(id);
                }
                self.broker_send_queued(c);
            }
            Packet::Subscribe(id, request) => {
                let mut before = Subscribed::No;
                if let Some(session) = &mut self.state.sessions[c] {
                    before = session.subscribed;
                    if !(request == Subscribed::Added && self.config.has(Bug::AddedSubscriptionIgnored)) {
                        session.subscribed = self.config.after_subscribe(c, session.subscribed, request);
                    }
                    if self.config.has(Bug::RetainHandlingCheckedAfterSubscribe) {
                        before = session.subscribed;
                    }
                }
                self.broker_send(c, Packet::SubAck(id, request));
                if !self.config.has(Bug::RetainedNotSentOnSubscribe) {
                    self.send_retained(c, before, request);
                }
            }
            // [MQTT-3.10.4-1], [MQTT-3.10.4-2]: the subscription is deleted and no new message
            // is added for it; the queued and in-flight ones are still delivered
            // [MQTT-3.10.4-3] (the model keeps them all, as verimqtt does); an UNSUBACK answers
            // it even if there was none [MQTT-3.10.4-4], [MQTT-3.10.4-5].
            Packet::Unsubscribe(id) => {
                let ignored = self.config.has(Bug::UnsubscribeIgnored);
                let existed = self.state.sessions[c].as_mut().is_some_and(|session| {
                    let existed = session.subscribed.any();
                    if !ignored {
                        session.subscribed = Subscribed::No;
                    }
                    existed
                });
                self.broker_send(c, Packet::UnsubAck { id, existed });
            }
            Packet::PingReq => self.broker_send(c, Packet::PingResp),
            Packet::Disconnect => {
                // [MQTT-3.14.4-3]: a normal disconnect deletes the will unpublished.
                if let BrokerEnd::Open { will, .. } = &mut self.state.links[c][link].broker {
                    *will &= self.config.has(Bug::WillAfterCleanDisconnect);
                }
                self.close(c, link, CloseReason::Disconnect);
            }
            // [MQTT-3.1.2-8] (5.0): only 0x00 deletes the will; 0x04 asks for it.
            Packet::DisconnectWithWill => {
                if let BrokerEnd::Open { will, .. } = &mut self.state.links[c][link].broker {
                    *will &= !self.config.has(Bug::WillDroppedOnDisconnectWithWill);
                }
                self.close(c, link, CloseReason::DisconnectWithWill);
            }
            Packet::ConnAck { .. } | Packet::SubAck(..) | Packet::UnsubAck { .. } | Packet::PingResp => {
                unreachable!("a client never sends {packet}")
            }
        }
    }

    /// The PUBREL for a PUBREC of an id no flight uses (see [`Packet::release_of_unknown`]).
    fn release_unknown(&mut self, c: usize, link: usize, id: PacketId) {
        let (pubrel, reason) = Packet::release_of_unknown(id, self.config.version);
        self.broker_send_coded(c, link, pubrel, reason);
    }

    fn on_connect(&mut self, c: usize, link: usize, clean_start: bool, will: bool, receive_maximum: Option<u8>) {
        if let Some(old) = self.state.broker_link(c) {
            self.close(c, old, CloseReason::TakenOver);
        }
        let had_session = self.state.sessions[c].is_some();
        if clean_start {
            self.store_forgets(c);
            self.state.sessions[c] = None;
            self.state.ghost.on_session_ended(c);
            self.publish_pending_will(c);
        }
        let session_present = !clean_start && (had_session || self.config.has(Bug::SessionPresentWithoutSession));
        let resumes = !clean_start && self.state.ghost.session_alive[c];
        self.will_on_new_connection(c, resumes, session_present);
        // [MQTT-3.2.2-1..3] / [MQTT-3.2.2-2..3] (5.0), judged against the specification's
        // account of the session, not the broker's.
        if session_present != self.state.ghost.session_alive[c] {
            self.state.ghost.breach(Breach::SessionPresent);
        }
        self.state.ghost.session_alive[c] = true;
        let session = self.state.sessions[c].get_or_insert_with(Session::default);
        session.offline_ticks = None;
        if self.config.has(Bug::BrokerForgetsQos2Ids) {
            session.awaiting_pubrel = Bits::EMPTY;
        }
        if self.config.has(Bug::SubscriptionsForgottenOnResume) {
            session.subscribed = Subscribed::No;
        }
        let unreleased = Bits::EMPTY;
        self.state.links[c][link].broker = BrokerEnd::Open { silence: 0, will, receive_maximum, unreleased };
        self.state.ghost.ack_order.on_connection_opened(Direction::ToBroker, c);
        let receive_maximum = self.config.broker_receive_maximum();
        self.broker_send(c, Packet::ConnAck { session_present, receive_maximum });
        if session_present {
            self.resume(c);
        }
    }

    /// Resends what the resumed session left unacknowledged [MQTT-4.4.0-1], then what waited.
    fn resume(&mut self, c: usize) {
        let config = self.config;
        let Some(session) = &self.state.sessions[c] else {
            return;
        };
        let dup = !config.has(Bug::BrokerResendsWithoutDup);
        let mut resend =
            session.outbound.resend(queued_copy_header(config, c, session), dup, config.broker_resend_order);
        if config.has(Bug::BrokerResendsQos1First) {
            resend.sort_by_key(|p| !matches!(p, Packet::Publish { qos: Qos::AtLeastOnce, .. }));
        }
        if config.has(Bug::QueuedBeforeResend) {
            self.broker_send_queued(c);
        }
        if config.has(Bug::BrokerResendSkippedOnResume) {
            resend.clear();
        }
        for packet in resend {
            self.broker_send(c, packet);
        }
        self.broker_send_queued(c);
    }

    /// The broker reads a PUBLISH and routes it; the acknowledgement it owes, for
    /// [`Step::broker_answer`].
    fn broker_on_publish(&mut self, c: usize, id: PacketId, message: Message, qos: Qos) -> Option<Answer> {
        let Message::App(n) = message else {
            unreachable!("clients publish application messages only");
        };
        match qos {
            Qos::AtMostOnce => {
                if !self.refuses(n) {
                    self.route(message);
                }
                None
            }
            Qos::AtLeastOnce => {
                self.state.ghost.ack_order.on_publish_read(Direction::ToBroker, c, id, qos);
                let matched = !self.refuses(n) && self.route(message);
                Some(Answer { ack: Packet::PubAck(id), message: n, matched })
            }
            // Method B of the QoS 2 receiver: route on PUBLISH, remember the id until PUBREL.
            Qos::ExactlyOnce => {
                let refused = self.refuses(n);
                let session = self.state.sessions[c].as_mut()?;
                self.state.ghost.ack_order.on_publish_read(Direction::ToBroker, c, id, qos);
                // A resend of a message already taken answers as the first did, but counts no
                // subscribers again: success.
                if session.awaiting_pubrel.contains(id) {
                    self.note(|| format!("broker already has id {id} from c{c}: m{n} not routed"));
                    return Some(Answer { ack: Packet::PubRec(id), message: n, matched: true });
                }
                // A refusal ends the flow: the id is not kept [MQTT-4.3.3-9].
                if refused {
                    return Some(Answer { ack: Packet::PubRecRefused(id), message: n, matched: false });
                }
                session.awaiting_pubrel.insert(id);
                let matched = self.route(message);
                Some(Answer { ack: Packet::PubRec(id), message: n, matched })
            }
        }
    }

    /// Whether the broker refuses application message `n`: its payload is not the UTF-8 its
    /// Payload Format Indicator says (see [`Config::invalid_payloads`]), unless the seeded bug
    /// [`Bug::PayloadFormatUnchecked`] lets it through.
    fn refuses(&self, n: u8) -> bool {
        self.config.invalid_payloads.contains(n) && !self.config.has(Bug::PayloadFormatUnchecked)
    }

    fn broker_answer(&mut self, c: usize, answer: Option<Answer>) {
        if let Some(Answer { ack, message, matched }) = answer {
            self.broker_acknowledge(c, ack, message, matched);
        }
    }

    /// Seeded bug [`Bug::BrokerPubAcksReversedPerRead`]: having read a QoS 1 PUBLISH, the
    /// broker reads in the same go the QoS 1 PUBLISH waiting behind it.
    fn broker_reads_along(&mut self, c: usize, link: usize, qos: Qos) -> Option<(PacketId, Message)> {
        if !(qos == Qos::AtLeastOnce && self.config.has(Bug::BrokerPubAcksReversedPerRead)) {
            return None;
        }
        let channel = &mut self.state.links[c][link].to_broker;
        let Some(packet @ Packet::Publish { id, message, qos: Qos::AtLeastOnce, .. }) =
            channel.packets.first().copied()
        else {
            return None;
        };
        channel.packets.pop_front();
        self.observe(|| Observation::Received { actor: Actor::Broker, link: LinkRef { client: c, link }, packet });
        self.note(|| format!("broker ← c{c}, in the same read: {packet}"));
        Some((id, message))
    }

    /// PUBACK or PUBREC for `message`, `matched` to a subscriber or not. 5.0 lets the broker
    /// say which (0x10 No matching subscribers is one of the success codes of
    /// [MQTT-3.4.2-1] / [MQTT-3.5.2-1]); saying it is verimqtt's choice, as is 0x99 Payload
    /// format invalid for a message it refuses (section 3.3.2.3.2). With a durable store
    /// it waits until the message is stored for every persistent session it was routed to.
    fn broker_acknowledge(&mut self, c: usize, ack: Packet, message: u8, matched: bool) {
        let Some(link) = self.state.broker_link(c) else {
            return;
        };
        let refused = self.refuses(message);
        if refused {
            self.state.ghost.refused.insert(message);
        }
        let reason = match ack.success_code(self.config.version) {
            Some(_) if refused => Some(code::PAYLOAD_FORMAT_INVALID),
            Some(_) if !matched => Some(code::NO_MATCHING_SUBSCRIBERS),
            success => success,
        };
        let held = !self.config.has(Bug::AckBeforeStore) && self.store_holds_back();
        if self.config.keeps_store() {
            self.state.ghost.durability.on_ack_queued(message, held);
        }
        self.broker_queue(c, link, ack, reason, held);
    }

    /// Takes ownership of a message and adds a copy to the session of every client with a
    /// matching subscription [MQTT-4.5.0-1]; whether there was one.
    pub(crate) fn route(&mut self, message: Message) -> bool {
        let config = self.config;
        let copies: Vec<(usize, Qos, Subscribed)> = (0..config.clients)
            .filter_map(|s| Some((s, self.state.sessions[s].as_ref()?.subscribed)))
            .filter(|&(_, subscribed)| subscribed.any())
            .filter_map(|(s, subscribed)| copy_qos(config, s, message, subscribed).map(|qos| (s, qos, subscribed)))
            .collect();
        match message {
            Message::App(n) => {
                self.state.ghost.on_accepted(config, n);
                if config.retained.contains(n) {
                    self.retain(n);
                }
            }
            // Each abnormal close publishes the will anew.
            Message::Will(w) => self.state.ghost.on_will_published(config, w),
            Message::Retained { .. } => {}
        }
        let matched = !copies.is_empty();
        for (s, qos, subscribed) in copies {
            self.state.ghost.on_routed(config, s, message);
            if qos == Qos::AtMostOnce {
                // QoS 0 goes out now or never.
                let retain = copy_retain(config, s, message, subscribed);
                let packet = Packet::Publish { id: 0, message, qos, dup: false, retain };
                self.broker_send(s, packet);
            }
            let queued =
                qos > Qos::AtMostOnce || (matches!(message, Message::App(_)) && config.has(Bug::Qos0SentTwice));
            if let (true, Some(session)) = (queued, &mut self.state.sessions[s]) {
                if let Some(id) = config.copy_id(message) {
                    session.routed_under.record(id, session.subscribed);
                }
                session.outbound.queue.push(message);
                self.broker_send_queued(s);
            }
        }
        matched
    }

    /// A retained PUBLISH of application message `n` replaces its topic's retained message,
    /// or deletes it if its payload is empty (see [`crate::retained`]).
    fn retain(&mut self, n: u8) {
        let topic = self.config.topic(n);
        if self.config.has(Bug::RetainedKept) && self.state.retained.get(topic).is_some() {
            return;
        }
        self.state.retained.publish(topic, n, self.config.empty.contains(n));
    }

    /// After the SUBACK, the retained messages the filters of SUBSCRIBE `request` get by
    /// their Retain Handling, the session having held `before` (see
    /// [`Config::filters_sending_retained`]), with RETAIN=1: QoS 0 at once, QoS 1/2 through the
    /// session's queue.
    fn send_retained(&mut self, c: usize, before: Subscribed, request: Subscribed) {
        let config = self.config;
        let mut filters = config.filters_sending_retained(c, before, request);
        for f in config.requested_filters(c, request) {
            let ignored = match f.retain.handling {
                RetainHandling::AtSubscribe => false,
                RetainHandling::IfNew => config.has(Bug::RetainHandling1Ignored),
                RetainHandling::Never => config.has(Bug::RetainHandling2Ignored),
            };
            if ignored && !filters.contains(f) {
                filters.push(*f);
            }
        }
        for (n, qos) in self.state.retained.copies(&filters, |n| config.qos(n)) {
            let message = Message::Retained { message: n, qos };
            self.state.ghost.on_retained_copy(config, c, n, qos);
            if qos == Qos::AtMostOnce {
                let retain = copy_retain(config, c, message, before);
                self.broker_send(c, Packet::Publish { id: 0, message, qos, dup: false, retain });
            } else if let Some(session) = &mut self.state.sessions[c] {
                session.outbound.queue.push(message);
            }
        }
        self.broker_send_queued(c);
    }

    fn broker_send_queued(&mut self, c: usize) {
        let Some(link) = self.state.broker_link(c) else {
            return;
        };
        // The client's Receive Maximum, from the CONNECT of the connection it sends on.
        let BrokerEnd::Open { receive_maximum, .. } = self.state.links[c][link].broker else {
            return;
        };
        let config = self.config;
        let limits = Limits {
            packet_ids: config.packet_ids,
            quota: receive_maximum.filter(|_| !config.has(Bug::ReceiveMaximumIgnored)),
            reserved: None,
            free_id_at_pubrec: false,
        };
        let Some(session) = &mut self.state.sessions[c] else {
            return;
        };
        if config.has(Bug::QueuedByTopic) {
            // Only application messages and retained copies are ever queued.
            session.outbound.queue.sort_by_key(|&m| match m {
                Message::App(n) | Message::Retained { message: n, .. } => config.topic(n),
                Message::Will(_) => crate::routing::WILL_TOPIC,
            });
        }
        let packets = session.outbound.start_queued(queued_copy_header(config, c, session), &limits);
        for packet in packets {
            self.broker_send(c, packet);
        }
    }

    pub(crate) fn keep_alive_close(&mut self, c: usize, link: usize) {
        self.observe(|| Observation::TimerFired { actor: Actor::Broker, timer: Timer::KeepAliveClose });
        self.note(|| format!("broker: c{c}#{link} silent too long"));
        self.close(c, link, CloseReason::KeepAlive);
    }

    pub(crate) fn close(&mut self, c: usize, link: usize, reason: CloseReason) {
        let (silence, will) = match self.state.links[c][link].broker {
            BrokerEnd::Open { silence, will, .. } => (silence, will),
            // Accepted, but no CONNECT heard (a reported cut lost it): no session, no will,
            // only the close.
            BrokerEnd::AwaitingConnect { .. } => {
                self.state.links[c][link].close_broker_end();
                let at = LinkRef { client: c, link };
                self.observe(|| Observation::Closed { actor: Actor::Broker, link: at, reason: reason.observed() });
                return;
            }
            BrokerEnd::Closed => return,
        };
        if let Some(announced) = reason.announced(self.config.version) {
            self.broker_send_coded(c, link, Packet::Disconnect, Some(announced));
        }
        self.state.links[c][link].close_broker_end();
        let at = LinkRef { client: c, link };
        self.observe(|| Observation::Closed { actor: Actor::Broker, link: at, reason: reason.observed() });
        self.note(|| format!("broker closes c{c}#{link} ({reason:?})"));
        let config = self.config;
        // [MQTT-3.1.2-24] (3.1.1) / [MQTT-3.1.2-22] (5.0): not before 1.5 x keep alive.
        if reason == CloseReason::KeepAlive && config.within_grace(silence) {
            self.state.ghost.breach(Breach::KeepAliveTooEarly);
        }
        // Every close but a DISCONNECT 0x00 publishes the will.
        let publishes_will = reason != CloseReason::Disconnect;
        if will != (publishes_will && config.has_will(c)) {
            self.state.ghost.breach(Breach::WillMismatch);
        }
        if publishes_will && config.has_will(c) {
            self.state.ghost.wills_publishable.insert(c as u8);
        }
        if will {
            self.will_on_abnormal_close(c);
        }
        if !config.session_outlives_connection(c) {
            self.state.sessions[c] = None;
            self.state.ghost.on_session_ended(c);
            return;
        }
        if let Some(session) = &mut self.state.sessions[c] {
            if config.has(Bug::OfflineQueueDropped) {
                session.outbound.queue.clear();
            }
            session.offline_ticks = config.expiry_ticks().map(|_| 0);
        }
    }

    /// No CONNECT came in time on a connection the broker accepted: it closes it.
    pub(crate) fn connect_timeout(&mut self, c: usize, link: usize) {
        self.observe(|| Observation::TimerFired { actor: Actor::Broker, timer: Timer::ConnectTimeout });
        self.state.links[c][link].close_broker_end();
        let at = LinkRef { client: c, link };
        self.observe(|| Observation::Closed {
            actor: Actor::Broker,
            link: at,
            reason: trace::CloseReason::ConnectTimeout,
        });
        self.note(|| format!("broker: no CONNECT on c{c}#{link} in time"));
    }

    pub(crate) fn expire_session(&mut self, c: usize) {
        self.observe(|| Observation::TimerFired { actor: Actor::Broker, timer: Timer::SessionExpiry });
        self.state.sessions[c] = None;
        self.state.ghost.on_session_ended(c);
        self.note(|| format!("broker: session of c{c} expired and is discarded"));
        self.publish_pending_will(c);
    }
}
