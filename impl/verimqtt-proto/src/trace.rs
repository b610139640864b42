//! Recording what the client and the broker do, for trace validation against the model.
//!
//! A [`Client`](crate::client::Client) or [`Broker`](crate::broker::Broker) with an
//! [`Observer`] installed tells it every observable step, in the order it takes them, as
//! events of the shared vocabulary [`verimqtt_spec::trace`]: connections opened and closed
//! (and why), packets sent and received, publishes the application asked for, messages
//! delivered to it, timers fired. Each comes with the `now` of the input that caused it.
//!
//! Connections are numbered by the node: the broker uses its [`ConnId`](crate::broker::ConnId)s,
//! a client counts its transports from 1. A recorder that watches several nodes maps these
//! to one numbering.
//!
//! With no observer installed nothing is built: each step checks an `Option` and moves on.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

pub use verimqtt_spec::trace::{CloseReason, ConnId, Event, FilterInfo, PacketInfo, PacketKind, Timer, payload_text};

use crate::codec::{Packet, ProtocolVersion};

/// Told every observable step of a client or a broker.
pub trait Observer: Send {
    /// Records `event`, which happened at `now`.
    fn observe(&mut self, now: Instant, event: Event);
}

/// An observer that keeps every event with its time; its clones share them, so one stays
/// with the caller while another is installed.
#[derive(Debug, Clone, Default)]
pub struct Recording(Arc<Mutex<Vec<(Instant, Event)>>>);

impl Recording {
    /// The events recorded since the last call.
    pub fn take(&self) -> Vec<(Instant, Event)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The events recorded since the last call, one [`describe`]d line each.
    pub fn take_lines(&self) -> Vec<String> {
        self.take().iter().map(|(_, event)| describe(event)).collect()
    }
}

impl Observer for Recording {
    fn observe(&mut self, now: Instant, event: Event) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push((now, event));
    }
}

/// One line per event, for tests and logs: `sent 1 PUBLISH("t", qos 1, id 1)`.
pub fn describe(event: &Event) -> String {
    match event {
        Event::ConnectionOpened { conn } => format!("opened {conn}"),
        Event::ConnectionClosed { conn, reason } => format!("closed {conn} {reason:?}"),
        Event::PacketSent { conn, packet } => format!("sent {conn} {packet}"),
        Event::PacketReceived { conn, packet } => format!("received {conn} {packet}"),
        Event::PublishRequested { payload, qos, .. } => format!("requested {payload} qos {qos}"),
        Event::PublishAbandoned { payload, qos, .. } => format!("abandoned {payload} qos {qos}"),
        Event::MessageDelivered { payload, qos, .. } => format!("delivered {payload} qos {qos}"),
        Event::TimerFired { timer } => format!("timer {timer:?}"),
        Event::FaultInjected { conn, fault } => format!("fault {conn} {fault:?}"),
        Event::PacketInjected { conn, packet } => format!("injected {conn} {packet}"),
        Event::NetworkStalled { duration_ms } => format!("stall {duration_ms} ms"),
        Event::BrokerRestarted => "broker restarted".to_string(),
        Event::Forwarded { conn, to, packet } => format!("forwarded {conn} to {to:?} {packet}"),
        Event::BrokerClosed { conn } => format!("broker closed {conn}"),
        Event::Dropped { conn, to, packet } => format!("dropped {conn} to {to:?} {packet}"),
        Event::ProbeEnded => "probe ended".to_string(),
    }
}

/// The observer of a state machine, if one is installed.
#[derive(Default)]
pub(crate) struct Tracer {
    observer: Option<Box<dyn Observer>>,
}

impl Tracer {
    pub(crate) fn set(&mut self, observer: Option<Box<dyn Observer>>) {
        self.observer = observer;
    }

    pub(crate) fn is_on(&self) -> bool {
        self.observer.is_some()
    }

    /// Builds the event and reports it, only if someone is observing.
    #[inline]
    pub(crate) fn emit(&mut self, now: Instant, event: impl FnOnce() -> Event) {
        if let Some(observer) = self.observer.as_mut() {
            observer.observe(now, event());
        }
    }

    pub(crate) fn sent(&mut self, now: Instant, conn: ConnId, packet: &Packet, version: ProtocolVersion) {
        self.emit(now, || Event::PacketSent { conn, packet: packet_info(packet, version) });
    }

    pub(crate) fn received(&mut self, now: Instant, conn: ConnId, packet: &Packet, version: ProtocolVersion) {
        self.emit(now, || Event::PacketReceived { conn, packet: packet_info(packet, version) });
    }

    pub(crate) fn timer(&mut self, now: Instant, timer: Timer) {
        self.emit(now, || Event::TimerFired { timer });
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_on() { "Tracer(on)" } else { "Tracer(off)" })
    }
}

/// The fields of `packet` a trace keeps. A CONNECT's topic, payload, QoS and RETAIN are its
/// will's.
pub fn packet_info(packet: &Packet, version: ProtocolVersion) -> PacketInfo {
    let mut info = PacketInfo::new(kind(packet));
    info.packet_id = packet.packet_id().map(|id| id.get());
    match packet {
        Packet::Connect(connect) => {
            info.clean_start = Some(connect.clean_start);
            info.keep_alive = Some(connect.keep_alive);
            info.client_id = Some(connect.client_id.to_string());
            info.protocol_level = Some(connect.protocol_version.level());
            info.session_expiry = connect.properties.session_expiry_interval;
            info.receive_maximum = connect.properties.receive_maximum.map(|max| max.get());
            info.will = Some(connect.will.is_some());
            if let Some(will) = &connect.will {
                info.topic = Some(will.topic.to_string());
                info.payload = Some(payload_text(&will.payload));
                info.qos = Some(will.qos as u8);
                info.retain = Some(will.retain);
            }
        }
        Packet::ConnAck(connack) => {
            info.session_present = Some(connack.session_present);
            info.reason_code = Some(connack.reason_code.value());
            info.receive_maximum = connack.properties.receive_maximum.map(|max| max.get());
            info.server_keep_alive = connack.properties.server_keep_alive;
        }
        Packet::Publish(publish) => {
            info.qos = Some(publish.qos as u8);
            info.dup = Some(publish.dup);
            info.retain = Some(publish.retain);
            info.topic = Some(publish.topic.to_string());
            info.payload = Some(payload_text(&publish.payload));
            info.payload_format = publish.properties.payload_format_indicator.map(|format| format as u8);
            info.topic_alias = publish.properties.topic_alias.map(|alias| alias.get());
        }
        Packet::PubAck(ack) | Packet::PubRec(ack) | Packet::PubRel(ack) | Packet::PubComp(ack) => {
            info.reason_code = version.is_v5().then_some(ack.reason_code.value());
        }
        Packet::Subscribe(subscribe) => {
            let v5 = version.is_v5();
            let filter = |s: &crate::codec::Subscription| FilterInfo {
                filter: s.filter.to_string(),
                qos: Some(s.options.qos as u8),
                no_local: v5.then_some(s.options.no_local),
                retain_as_published: v5.then_some(s.options.retain_as_published),
                retain_handling: v5.then_some(s.options.retain_handling as u8),
            };
            info.filters = Some(subscribe.subscriptions.iter().map(filter).collect());
        }
        Packet::SubAck(suback) => info.reason_codes = Some(suback.reason_codes.iter().map(|c| c.value()).collect()),
        Packet::Unsubscribe(unsubscribe) => {
            let filter = |f: &crate::codec::MqttString| FilterInfo {
                filter: f.to_string(),
                qos: None,
                no_local: None,
                retain_as_published: None,
                retain_handling: None,
            };
            info.filters = Some(unsubscribe.filters.iter().map(filter).collect());
        }
        Packet::UnsubAck(unsuback) => {
            info.reason_codes = Some(unsuback.reason_codes.iter().map(|c| c.value()).collect())
        }
        Packet::Disconnect(disconnect) => {
            info.reason_code = version.is_v5().then_some(disconnect.reason_code.value());
            info.session_expiry = disconnect.properties.session_expiry_interval;
        }
        Packet::Auth(auth) => info.reason_code = Some(auth.reason_code.value()),
        Packet::PingReq | Packet::PingResp => {}
    }
    info
}

fn kind(packet: &Packet) -> PacketKind {
    match packet {
        Packet::Connect(_) => PacketKind::Connect,
        Packet::ConnAck(_) => PacketKind::Connack,
        Packet::Publish(_) => PacketKind::Publish,
        Packet::PubAck(_) => PacketKind::Puback,
        Packet::PubRec(_) => PacketKind::Pubrec,
        Packet::PubRel(_) => PacketKind::Pubrel,
        Packet::PubComp(_) => PacketKind::Pubcomp,
        Packet::Subscribe(_) => PacketKind::Subscribe,
        Packet::SubAck(_) => PacketKind::Suback,
        Packet::Unsubscribe(_) => PacketKind::Unsubscribe,
        Packet::UnsubAck(_) => PacketKind::Unsuback,
        Packet::PingReq => PacketKind::Pingreq,
        Packet::PingResp => PacketKind::Pingresp,
        Packet::Disconnect(_) => PacketKind::Disconnect,
        Packet::Auth(_) => PacketKind::Auth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Connect, MqttString, PacketId, Publish, QoS, Will};
    use bytes::Bytes;

    #[test]
    fn a_publish_keeps_its_delivery_fields() {
        let topic = MqttString::from_static("a/b").unwrap();
        let mut publish = Publish::new(topic, QoS::ExactlyOnce, PacketId::new(7), Bytes::from_static(b"m1"));
        publish.dup = true;
        let info = packet_info(&Packet::Publish(publish), ProtocolVersion::V311);
        assert_eq!(info.to_string(), r#"PUBLISH("a/b", payload "m1", qos 2, id 7, dup)"#);
    }

    #[test]
    fn a_connect_keeps_its_session_and_will() {
        let mut connect = Connect::new(ProtocolVersion::V5, MqttString::from_static("c0").unwrap());
        connect.clean_start = false;
        connect.keep_alive = 2;
        connect.properties.session_expiry_interval = Some(60);
        connect.will = Some(Will {
            topic: MqttString::from_static("wills/c0").unwrap(),
            payload: Bytes::from_static(b"gone").try_into().unwrap(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Default::default(),
        });
        let info = packet_info(&Packet::Connect(Box::new(connect)), ProtocolVersion::V5);
        assert_eq!(info.protocol_level, Some(5));
        assert_eq!(info.clean_start, Some(false));
        assert_eq!(info.keep_alive, Some(2));
        assert_eq!(info.session_expiry, Some(60));
        assert_eq!(info.will, Some(true));
        assert_eq!(info.topic.as_deref(), Some("wills/c0"));
        assert_eq!(info.payload.as_deref(), Some("gone"));
        assert_eq!(info.client_id.as_deref(), Some("c0"));
    }
}
