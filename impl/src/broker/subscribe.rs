//! SUBSCRIBE and UNSUBSCRIBE (sections 3.8 to 3.11), and the retained messages a new
//! subscription receives.

use std::sync::Arc;
use std::time::Instant;

use crate::codec::{
    MqttString, Packet, ProtocolVersion, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, Subscription,
    SubscriptionOptions, UnsubAck, Unsubscribe,
};

use super::ConnId;
use super::core::Broker;
use super::message::{Delivery, Message};
use super::policy::Policy;
use super::session::{Route, SessionId, SessionSubscription, Subscriber};

impl<P: Policy> Broker<P> {
    /// Each filter is handled as if it came in a SUBSCRIBE of its own, and the answers go
    /// in one SUBACK, in order ([MQTT-3.8.4-4], [MQTT-3.9.3-1] in 3.1.1; [MQTT-3.8.4-5],
    /// [MQTT-3.9.3-1] in 5.0) with the SUBSCRIBE's identifier ([MQTT-3.8.4-2]). Retained
    /// messages follow the SUBACK.
    pub(super) fn handle_subscribe(&mut self, conn: ConnId, session: SessionId, subscribe: Subscribe, now: Instant) {
        let Some(version) = self.connections.get(&conn).map(|connection| connection.version) else { return };
        let id = subscribe.properties.subscription_identifiers.first().copied();
        let mut reason_codes = Vec::with_capacity(subscribe.subscriptions.len());
        let mut refusals = Vec::new();
        let mut retained = Vec::new();
        for Subscription { filter, options } in subscribe.subscriptions {
            let code = match self.subscribe_one(conn, session, filter.clone(), options, id, version) {
                Ok((granted, send_retained)) => {
                    if send_retained {
                        retained.extend(self.retained_for(conn, &filter, granted, id, now));
                    }
                    granted_code(granted)
                }
                Err(code) => {
                    refusals.push(format!("{filter}: {}", code.name()));
                    failure_code(version, code)
                }
            };
            reason_codes.push(code);
        }
        let mut suback = SubAck { packet_id: subscribe.packet_id, properties: Default::default(), reason_codes };
        if version.is_v5() && !refusals.is_empty() {
            suback.properties.reason_string = MqttString::try_from(refusals.join("; ")).ok();
        }
        self.send(conn, Packet::SubAck(suback), now);
        for delivery in retained {
            self.enqueue(session, delivery);
        }
    }

    /// Makes or replaces one subscription. Returns the QoS granted and whether retained
    /// messages go out for it, or the MQTT 5 failure code.
    fn subscribe_one(
        &mut self,
        conn: ConnId,
        session: SessionId,
        filter: MqttString,
        options: SubscriptionOptions,
        id: Option<crate::codec::SubscriptionId>,
        version: ProtocolVersion,
    ) -> Result<(QoS, bool), ReasonCode> {
        let Some(connection) = self.connections.get(&conn) else { return Err(ReasonCode::UnspecifiedError) };
        if !self.policy.may_subscribe(Self::client_info(connection), &filter) {
            return Err(ReasonCode::NotAuthorized);
        }
        let Some(state) = self.sessions.get_mut(&session) else { return Err(ReasonCode::UnspecifiedError) };
        let existed = state.subscriptions.contains_key(&filter);
        if !existed && state.subscriptions.len() >= self.options.max_subscriptions_per_session {
            return Err(ReasonCode::QuotaExceeded);
        }
        // A broker below QoS 2 still accepts the subscription, at its own maximum
        // ([MQTT-3.2.2-10]).
        let granted = options.qos.min(self.options.maximum_qos);
        let subscriber = Subscriber { options: SubscriptionOptions { qos: granted, ..options }, id };
        let route = Route::of(&filter, version);
        let shared = route.is_shared();
        // An identical filter replaces the subscription ([MQTT-3.8.4-3]).
        if let Some(previous) =
            state.subscriptions.insert(filter, SessionSubscription { route: route.clone(), subscriber })
        {
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
        Ok((granted, send_retained))
    }

    /// The retained messages a subscription receives: with RETAIN set ([MQTT-3.3.1-8] in
    /// 3.1.1), at most at the granted QoS, on topics the client may receive.
    fn retained_for(
        &mut self,
        conn: ConnId,
        filter: &str,
        granted: QoS,
        id: Option<crate::codec::SubscriptionId>,
        now: Instant,
    ) -> Vec<Delivery> {
        let Broker { connections, retained, policy, .. } = self;
        let Some(connection) = connections.get(&conn) else { return Vec::new() };
        let client = Self::client_info(connection);
        let messages: Vec<Arc<Message>> = retained.matching(filter, now);
        messages
            .into_iter()
            .filter(|message| policy.may_receive(client, &message.topic))
            .map(|message| Delivery {
                qos: message.qos.min(granted),
                retain: true,
                subscription_ids: id.into_iter().collect(),
                message,
            })
            .collect()
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
        let Some(version) = self.connections.get(&conn).map(|connection| connection.version) else { return };
        let Some(state) = self.sessions.get_mut(&session) else { return };
        let mut reason_codes = Vec::new();
        for filter in &unsubscribe.filters {
            let code = match state.subscriptions.remove(filter) {
                Some(removed) => {
                    self.subscriptions.remove(&removed.route, session);
                    ReasonCode::Success
                }
                None => ReasonCode::NoSubscriptionExisted,
            };
            if version.is_v5() {
                reason_codes.push(code);
            }
        }
        let unsuback = UnsubAck { packet_id: unsubscribe.packet_id, properties: Default::default(), reason_codes };
        self.send(conn, Packet::UnsubAck(unsuback), now);
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
