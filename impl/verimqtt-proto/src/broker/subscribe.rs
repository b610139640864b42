//! SUBSCRIBE and UNSUBSCRIBE (sections 3.8 to 3.11), and the retained messages a new
//! subscription receives.

use std::sync::Arc;
use std::time::Instant;

use crate::codec::{
    MqttString, Packet, ProtocolVersion, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, Subscription,
    SubscriptionOptions, UnsubAck, Unsubscribe, topic_levels,
};

use super::ConnId;
use super::core::Broker;
use super::event::Event;
use super::explanation::Explanation;
use super::listener::{MountPoint, visible};
use super::message::Delivery;
use super::policy::Policy;
use super::router::Enqueued;
use super::session::{Route, SessionId, SessionSubscription, Subscriber};
use super::store::NOT_STORED;

/// Why one filter of a SUBSCRIBE was refused: the MQTT 5 code, and the words that say
/// which rule or limit, for the SUBACK's Reason String.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Refusal {
    code: ReasonCode,
    why: &'static str,
}

/// A subscription made, and whether its retained messages are to be sent.
struct Granted {
    qos: QoS,
    send_retained: bool,
}

impl<P: Policy> Broker<P> {
    /// Each filter is handled as if it came in a SUBSCRIBE of its own, and the answers go
    /// in one SUBACK, in order ([MQTT-3.8.4-4], [MQTT-3.9.3-1] in 3.1.1; [MQTT-3.8.4-5],
    /// [MQTT-3.9.3-1] in 5.0) with the SUBSCRIBE's identifier ([MQTT-3.8.4-2]). Retained
    /// messages follow the SUBACK.
    pub(super) fn handle_subscribe(&mut self, conn: ConnId, session: SessionId, subscribe: Subscribe, now: Instant) {
        let Some(version) = self.connections.get(&conn).map(|connection| connection.version) else { return };
        let id = subscribe.properties.subscription_identifiers.first().copied();
        let mut reason_codes = Vec::with_capacity(subscribe.subscriptions.len());
        let mut refusals = Explanation::default();
        let mut first_refusal = None;
        let mut retained = Vec::new();
        let client_id = self.sessions.get(&session).map(|state| state.client_id.clone()).unwrap_or_default();
        let mount_point = self.connections.get(&conn).and_then(|connection| connection.mount_point.clone());
        for Subscription { filter, options } in subscribe.subscriptions {
            // The filter as stored, under the listener's mount point (mosquitto's
            // `handle__subscribe`); the policy judges that one.
            let Some(filter) = mounted(mount_point.as_ref(), &filter, version) else {
                let why = "the filter is too long with the listener's mount point";
                refusals.add(&filter, why);
                first_refusal.get_or_insert((filter, why));
                reason_codes.push(failure_code(version, ReasonCode::TopicFilterInvalid));
                continue;
            };
            let code = match self.subscribe_one(conn, session, &filter, options, id, version) {
                Ok(Granted { qos, send_retained }) => {
                    self.events.push(Event::Subscribed {
                        client_id: client_id.clone(),
                        filter: filter.detached(),
                        qos,
                    });
                    if send_retained {
                        retained.push((filter, qos));
                    }
                    granted_code(qos)
                }
                Err(refusal) => {
                    refusals.add(&filter, refusal.why);
                    first_refusal.get_or_insert((filter, refusal.why));
                    failure_code(version, refusal.code)
                }
            };
            reason_codes.push(code);
        }
        if let Some((filter, why)) = first_refusal {
            let count = reason_codes.iter().filter(|code| code.is_failure()).count();
            self.events.push(Event::SubscribeRefused { client_id, count, filter: filter.detached(), why });
        }
        let mut suback = SubAck { packet_id: subscribe.packet_id, properties: Default::default(), reason_codes };
        if version.is_v5() {
            suback.properties.reason_string = refusals.finish();
        }
        self.store_session(session);
        self.send(conn, Packet::SubAck(suback), now);
        for (filter, granted) in retained {
            if !self.send_retained(conn, session, &filter, granted, id, now) {
                break;
            }
        }
    }

    /// Makes or replaces one subscription. Returns the QoS granted and whether retained
    /// messages go out for it, or why it was refused.
    fn subscribe_one(
        &mut self,
        conn: ConnId,
        session: SessionId,
        filter: &MqttString,
        options: SubscriptionOptions,
        id: Option<crate::codec::SubscriptionId>,
        version: ProtocolVersion,
    ) -> Result<Granted, Refusal> {
        let internal = Refusal { code: ReasonCode::UnspecifiedError, why: "the session is gone" };
        // Counted before anything walks the levels: the subscription tree holds a node per
        // level, so deep filters are what a client could grab memory with.
        if topic_levels(filter) > self.options.max_topic_levels {
            return Err(Refusal { code: ReasonCode::QuotaExceeded, why: "more topic levels than max_topic_levels" });
        }
        let Some(connection) = self.connections.get(&conn) else { return Err(internal) };
        if !self.policy.may_subscribe(Self::client_info(connection), filter) {
            return Err(Refusal { code: ReasonCode::NotAuthorized, why: "not authorized" });
        }
        let Some(state) = self.sessions.get_mut(&session) else { return Err(internal) };
        let existed = state.subscriptions.contains_key(filter);
        if !existed && state.subscriptions.len() >= self.options.max_subscriptions_per_session {
            let why = "the session holds max_subscriptions_per_session subscriptions";
            return Err(Refusal { code: ReasonCode::QuotaExceeded, why });
        }
        // A broker below QoS 2 still accepts the subscription, at its own maximum
        // ([MQTT-3.2.2-10]).
        let granted = options.qos.min(self.options.maximum_qos);
        let subscriber = Subscriber { options: SubscriptionOptions { qos: granted, ..options }, id };
        let route = Route::of(filter, version);
        let shared = route.is_shared();
        // An identical filter replaces the subscription ([MQTT-3.8.4-3]). The session keeps
        // a copy of the filter of its own, not a slice of the packet that brought it.
        let stored = SessionSubscription { route: route.clone(), subscriber };
        if let Some(previous) = state.subscriptions.insert(filter.detached(), stored) {
            if previous.route != route {
                self.subscriptions.remove(&previous.route, session);
            }
        }
        self.subscriptions.insert(&route, session, subscriber);
        // Retain Handling ([MQTT-3.3.1-9] to [MQTT-3.3.1-11]); 3.1.1 always sends them
        // ([MQTT-3.3.1-6]), also to a replaced subscription ([MQTT-3.8.4-3]). A shared
        // subscription gets none (MQTT 5 section 3.3.1.3 sends them to new non-shared ones).
        let send_retained = !shared
            && match options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendIfNewSubscription => !existed,
                RetainHandling::DoNotSend => false,
            };
        Ok(Granted { qos: granted, send_retained })
    }

    /// Queues the retained messages a subscription receives: with RETAIN set
    /// ([MQTT-3.3.1-8] in 3.1.1), at most at the granted QoS, on topics the client may
    /// receive. Stops at the first message the session's queue cannot take (reported as
    /// dropped, with the rest of them not counted) and returns false: a SUBSCRIBE costs at
    /// most what the queue has room for, however many retained messages its filters match.
    fn send_retained(
        &mut self,
        conn: ConnId,
        session: SessionId,
        filter: &str,
        granted: QoS,
        id: Option<crate::codec::SubscriptionId>,
        now: Instant,
    ) -> bool {
        // Taken out while it is searched, since each message found goes into a session's
        // queue through `self`; nothing on that path touches the retained store.
        let mut store = std::mem::take(&mut self.retained);
        let mut room = true;
        store.for_each_match(filter, now, |message| {
            let Some(connection) = self.connections.get(&conn) else { return false };
            // `a/#` matches `a` too: under the mount point `a/`, that one is not the client's.
            let visible = visible(connection.mount_point.as_ref(), &message.topic);
            if !visible || !self.policy.may_receive(Self::client_info(connection), &message.topic) {
                return true;
            }
            let delivery = Delivery {
                message: Arc::clone(message),
                qos: message.qos.min(granted),
                retain: true,
                subscription_ids: id.into_iter().collect(),
                entry: NOT_STORED,
            };
            room = self.enqueue(session, delivery) != Enqueued::QueueFull;
            room
        });
        self.retained = store;
        room
    }

    /// Deletes the subscriptions whose filters are identical to the ones named
    /// ([MQTT-3.10.4-1]); messages already queued or in flight for them still go
    /// ([MQTT-3.10.4-3]). UNSUBACK answers even when nothing was deleted ([MQTT-3.10.4-4],
    /// [MQTT-3.10.4-5]); in MQTT 5 it says per filter whether something was.
    pub(super) fn handle_unsubscribe(
        &mut self,
        conn: ConnId,
        session: SessionId,
        unsubscribe: Unsubscribe,
        now: Instant,
    ) {
        let Some(connection) = self.connections.get(&conn) else { return };
        let (version, mount_point) = (connection.version, connection.mount_point.clone());
        let Some(state) = self.sessions.get_mut(&session) else { return };
        let mut reason_codes = Vec::new();
        for filter in &unsubscribe.filters {
            // A filter too long with the mount point names no subscription.
            let removed = mounted(mount_point.as_ref(), filter, version)
                .and_then(|filter| Some((state.subscriptions.remove(&filter)?, filter)));
            let code = match removed {
                Some((removed, filter)) => {
                    self.subscriptions.remove(&removed.route, session);
                    let client_id = state.client_id.clone();
                    self.events.push(Event::Unsubscribed { client_id, filter: filter.detached() });
                    ReasonCode::Success
                }
                None => ReasonCode::NoSubscriptionExisted,
            };
            if version.is_v5() {
                reason_codes.push(code);
            }
        }
        let unsuback = UnsubAck { packet_id: unsubscribe.packet_id, properties: Default::default(), reason_codes };
        self.store_session(session);
        self.send(conn, Packet::UnsubAck(unsuback), now);
    }
}

/// A client's filter as stored: under `mount_point`, if its listener has one; `None` if it
/// is then too long.
fn mounted(mount_point: Option<&MountPoint>, filter: &MqttString, version: ProtocolVersion) -> Option<MqttString> {
    match mount_point {
        Some(mount_point) => mount_point.mount_filter(filter, version),
        None => Some(filter.clone()),
    }
}

/// The SUBACK code granting `qos` ([MQTT-3.8.4-5] in 3.1.1, [MQTT-3.8.4-7] in 5.0).
fn granted_code(qos: QoS) -> ReasonCode {
    match qos {
        QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
        QoS::AtLeastOnce => ReasonCode::GrantedQos1,
        QoS::ExactlyOnce => ReasonCode::GrantedQos2,
    }
}

/// 3.1.1 has one failure code, 0x80 ([MQTT-3.9.3-2]).
fn failure_code(version: ProtocolVersion, code: ReasonCode) -> ReasonCode {
    if version.is_v5() { code } else { ReasonCode::UnspecifiedError }
}
