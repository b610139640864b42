//! One line per trace event, for reports.

use verimqtt_spec::trace::{Event, TraceEvent};

pub fn describe(event: &TraceEvent) -> String {
    let node = &event.node;
    let what = match &event.event {
        Event::ConnectionOpened { conn } => format!("{node} opens conn {conn}"),
        Event::ConnectionClosed { conn, reason } => format!("{node} closes conn {conn} ({reason:?})"),
        Event::PacketSent { conn, packet } => format!("{node} sends {packet} on conn {conn}"),
        Event::PacketReceived { conn, packet } => format!("{node} receives {packet} on conn {conn}"),
        Event::PublishRequested { qos, payload, .. } => {
            format!("{node} application publishes {payload:?} at qos {qos}")
        }
        Event::PublishAbandoned { qos, payload, .. } => {
            format!("{node} application gets {payload:?} at qos {qos} back")
        }
        Event::MessageDelivered { qos, payload, .. } => {
            format!("{node} application receives {payload:?} at qos {qos}")
        }
        Event::TimerFired { timer } => format!("{node} timer {timer:?} fires"),
        Event::FaultInjected { conn, fault } => format!("{node} injects {fault:?} under conn {conn}"),
        Event::PacketInjected { conn, packet } => format!("{node} writes {packet} on conn {conn} for its client"),
        Event::NetworkStalled { duration_ms } => format!("{node} stalls for {duration_ms} ms"),
        Event::BrokerRestarted => format!("{node} restarts from its store"),
        Event::Forwarded { conn, to, packet } => format!("{node} forwards {packet} to the {to:?} on conn {conn}"),
        Event::BrokerClosed { conn } => format!("{node} sees the broker close conn {conn}"),
        Event::Dropped { conn, to, packet } => format!("{node} drops {packet} for the {to:?} on conn {conn}"),
        Event::ProbeEnded => format!("{node} stops watching"),
    };
    format!("{} ms: {what}", event.time_ms)
}
