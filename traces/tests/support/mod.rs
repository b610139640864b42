//! Hand-written traces of verimqtt-like runs, built event by event, for the checker's tests.

use verimqtt_spec::trace::{CloseReason, ConnId, Event, Fault, FilterInfo, Node, PacketInfo, PacketKind, TraceEvent};

pub const BROKER: &str = "broker";

/// A trace under construction; events are appended at the current time.
#[derive(Default)]
pub struct Trace {
    pub events: Vec<TraceEvent>,
    time_ms: u64,
}

impl Trace {
    pub fn at(&mut self, time_ms: u64) -> &mut Self {
        self.time_ms = time_ms;
        self
    }

    pub fn event(&mut self, node: &str, event: Event) -> &mut Self {
        let node = if node == BROKER { Node::broker() } else { Node::client(node) };
        self.events.push(TraceEvent { time_ms: self.time_ms, node, event });
        self
    }

    pub fn sent(&mut self, node: &str, conn: ConnId, packet: PacketInfo) -> &mut Self {
        self.event(node, Event::PacketSent { conn, packet })
    }

    pub fn received(&mut self, node: &str, conn: ConnId, packet: PacketInfo) -> &mut Self {
        self.event(node, Event::PacketReceived { conn, packet })
    }

    pub fn closed(&mut self, node: &str, conn: ConnId, reason: CloseReason) -> &mut Self {
        self.event(node, Event::ConnectionClosed { conn, reason })
    }

    pub fn timer(&mut self, node: &str, timer: verimqtt_spec::trace::Timer) -> &mut Self {
        self.event(node, Event::TimerFired { timer })
    }

    pub fn requested(&mut self, node: &str, payload: &str, qos: u8) -> &mut Self {
        let event = Event::PublishRequested { topic: "t".into(), qos, retain: false, payload: payload.into() };
        self.event(node, event)
    }

    pub fn delivered(&mut self, node: &str, payload: &str, qos: u8) -> &mut Self {
        let event = Event::MessageDelivered { topic: "t".into(), qos, retain: false, payload: payload.into() };
        self.event(node, event)
    }

    /// The client opens `conn` and sends `connect`; the broker accepts it. Neither sets a
    /// limit of its own on its flights.
    pub fn opens(&mut self, client: &str, conn: ConnId, connect: PacketInfo) -> &mut Self {
        self.event(client, Event::ConnectionOpened { conn, max_in_flight: u16::MAX });
        self.event(BROKER, Event::ConnectionOpened { conn, max_in_flight: u16::MAX });
        self.sent(client, conn, connect)
    }
}

pub fn packet(kind: PacketKind) -> PacketInfo {
    PacketInfo::new(kind)
}

pub fn with_id(kind: PacketKind, id: u16) -> PacketInfo {
    PacketInfo { packet_id: Some(id), ..packet(kind) }
}

/// CONNECT of `client_id` with Keep Alive 2 s at `protocol_level`, resuming a session (Clean
/// Start 0), with a will (QoS 0 on topic "t") whose payload is `will` if given.
pub fn connect(client_id: &str, protocol_level: u8, will: Option<&str>) -> PacketInfo {
    PacketInfo {
        clean_start: Some(false),
        keep_alive: Some(2),
        client_id: Some(client_id.into()),
        protocol_level: Some(protocol_level),
        session_expiry: (protocol_level == 5).then_some(u32::MAX),
        will: Some(will.is_some()),
        topic: will.map(|_| "t".to_string()),
        payload: will.map(str::to_string),
        qos: will.map(|_| 0),
        retain: will.map(|_| false),
        ..packet(PacketKind::Connect)
    }
}

pub fn connack(session_present: bool) -> PacketInfo {
    PacketInfo { session_present: Some(session_present), reason_code: Some(0), ..packet(PacketKind::Connack) }
}

/// An acknowledgement of `kind` for `id`: 5.0 ones carry reason code 0x00 (success).
pub fn ack(kind: PacketKind, id: u16, protocol_level: u8) -> PacketInfo {
    PacketInfo { reason_code: (protocol_level == 5).then_some(0), ..with_id(kind, id) }
}

fn subscribe(protocol_level: u8) -> PacketInfo {
    let v5 = protocol_level == 5;
    let filter = FilterInfo {
        filter: "t".into(),
        qos: Some(2),
        no_local: v5.then_some(false),
        retain_as_published: v5.then_some(false),
        retain_handling: v5.then_some(0),
    };
    PacketInfo { filters: Some(vec![filter]), ..with_id(PacketKind::Subscribe, 1) }
}

pub fn publish(payload: &str, qos: u8, id: u16, dup: bool) -> PacketInfo {
    PacketInfo {
        packet_id: (qos > 0).then_some(id),
        qos: Some(qos),
        dup: Some(dup),
        retain: Some(false),
        topic: Some("t".into()),
        payload: Some(payload.into()),
        ..packet(PacketKind::Publish)
    }
}

/// Both clients of the scenarios connect (the subscriber first, on conn 1, and subscribes;
/// the publisher on conn 2) at time 0.
fn connect_both(trace: &mut Trace, protocol_level: u8, wills: bool) {
    let will = |payload| wills.then_some(payload);
    let sub_connect = connect("sub", protocol_level, will("sub gone"));
    trace.at(0).opens("sub", 1, sub_connect.clone()).received(BROKER, 1, sub_connect).sent(BROKER, 1, connack(false));
    trace.received("sub", 1, connack(false));
    trace.sent("sub", 1, subscribe(protocol_level));
    let suback = PacketInfo { reason_codes: Some(vec![2]), ..with_id(PacketKind::Suback, 1) };
    trace.received(BROKER, 1, subscribe(protocol_level)).sent(BROKER, 1, suback.clone());
    trace.received("sub", 1, suback);
    let pub_connect = connect("pub", protocol_level, will("pub gone"));
    trace.opens("pub", 2, pub_connect.clone()).received(BROKER, 2, pub_connect).sent(BROKER, 2, connack(false));
    trace.received("pub", 2, connack(false));
}

/// Both clients ping at `time_ms` (nothing sent for a Keep Alive) and are answered.
fn ping(trace: &mut Trace, client: &str, conn: ConnId) {
    trace.timer(client, verimqtt_spec::trace::Timer::KeepAlivePing);
    trace.sent(client, conn, packet(PacketKind::Pingreq));
    trace.received(BROKER, conn, packet(PacketKind::Pingreq)).sent(BROKER, conn, packet(PacketKind::Pingresp));
    trace.received(client, conn, packet(PacketKind::Pingresp));
}

/// MQTT 3.1.1, persistent sessions, no wills. The publisher sends m0 (QoS 1), m1 (QoS 2) and,
/// while m1's PUBREL is unanswered, m2 (QoS 1, so packet id 2); the subscriber gets all three.
/// Both clients ping after a Keep Alive of silence.
pub fn three_messages() -> Trace {
    use PacketKind::*;
    let mut t = Trace::default();
    connect_both(&mut t, 4, false);
    t.requested("pub", "m0", 1).sent("pub", 2, publish("m0", 1, 1, false));
    t.received(BROKER, 2, publish("m0", 1, 1, false));
    t.sent(BROKER, 1, publish("m0", 1, 1, false)).sent(BROKER, 2, with_id(Puback, 1));
    t.received("pub", 2, with_id(Puback, 1));
    t.received("sub", 1, publish("m0", 1, 1, false)).sent("sub", 1, with_id(Puback, 1)).delivered("sub", "m0", 1);
    t.received(BROKER, 1, with_id(Puback, 1));

    t.requested("pub", "m1", 2).sent("pub", 2, publish("m1", 2, 1, false));
    t.received(BROKER, 2, publish("m1", 2, 1, false));
    t.sent(BROKER, 1, publish("m1", 2, 1, false)).sent(BROKER, 2, with_id(Pubrec, 1));
    t.received("pub", 2, with_id(Pubrec, 1)).sent("pub", 2, with_id(Pubrel, 1));
    t.requested("pub", "m2", 1).sent("pub", 2, publish("m2", 1, 2, false));
    t.received(BROKER, 2, with_id(Pubrel, 1)).sent(BROKER, 2, with_id(Pubcomp, 1));
    t.received(BROKER, 2, publish("m2", 1, 2, false));
    t.sent(BROKER, 1, publish("m2", 1, 2, false)).sent(BROKER, 2, with_id(Puback, 2));
    t.received("pub", 2, with_id(Pubcomp, 1)).received("pub", 2, with_id(Puback, 2));
    t.received("sub", 1, publish("m1", 2, 1, false)).sent("sub", 1, with_id(Pubrec, 1)).delivered("sub", "m1", 2);
    t.received("sub", 1, publish("m2", 1, 2, false)).sent("sub", 1, with_id(Puback, 2)).delivered("sub", "m2", 1);
    t.received(BROKER, 1, with_id(Pubrec, 1)).sent(BROKER, 1, with_id(Pubrel, 1));
    t.received(BROKER, 1, with_id(Puback, 2));
    t.received("sub", 1, with_id(Pubrel, 1)).sent("sub", 1, with_id(Pubcomp, 1));
    t.received(BROKER, 1, with_id(Pubcomp, 1));

    t.at(2000);
    ping(&mut t, "pub", 2);
    ping(&mut t, "sub", 1);
    t
}

/// MQTT 5.0, persistent sessions, wills. The publisher's connection is cut (logged, unseen by both ends) just
/// before it sends m0 at QoS 2; it pings in vain at 2 s and gives up at 3 s, when the broker
/// closes the silent connection at `broker_close_ms` (with DISCONNECT 0x8D, publishing the
/// will). The publisher reconnects, resumes its session and resends m0 with DUP=1.
pub fn qos2_resent_after_cut(broker_close_ms: u64) -> Trace {
    use PacketKind::*;
    let mut t = Trace::default();
    connect_both(&mut t, 5, true);
    t.event("network", Event::FaultInjected { conn: 2, fault: Fault::Cut });
    t.requested("pub", "m0", 2).sent("pub", 2, publish("m0", 2, 1, false));

    let broker_closes = |t: &mut Trace| {
        t.at(broker_close_ms).timer(BROKER, verimqtt_spec::trace::Timer::KeepAliveClose);
        t.sent(BROKER, 2, PacketInfo { reason_code: Some(0x8d), ..packet(Disconnect) });
        t.closed(BROKER, 2, CloseReason::KeepAliveTimeout);
        t.sent(BROKER, 1, PacketInfo { topic: Some("t".into()), ..publish("pub gone", 0, 0, false) });
        t.received("sub", 1, PacketInfo { topic: Some("t".into()), ..publish("pub gone", 0, 0, false) });
        t.delivered("sub", "pub gone", 0);
    };
    if broker_close_ms < 2000 {
        broker_closes(&mut t);
    }
    t.at(2000);
    t.timer("pub", verimqtt_spec::trace::Timer::KeepAlivePing).sent("pub", 2, packet(Pingreq));
    ping(&mut t, "sub", 1);
    if broker_close_ms >= 2000 {
        broker_closes(&mut t);
    }
    t.at(3000).timer("pub", verimqtt_spec::trace::Timer::KeepAliveAbort);
    t.closed("pub", 2, CloseReason::KeepAliveTimeout);

    let reconnect = connect("pub", 5, Some("pub gone"));
    t.opens("pub", 3, reconnect.clone()).received(BROKER, 3, reconnect).sent(BROKER, 3, connack(true));
    t.received("pub", 3, connack(true)).sent("pub", 3, publish("m0", 2, 1, true));
    t.received(BROKER, 3, publish("m0", 2, 1, true));
    t.sent(BROKER, 1, publish("m0", 2, 1, false)).sent(BROKER, 3, ack(Pubrec, 1, 5));
    t.received("pub", 3, ack(Pubrec, 1, 5)).sent("pub", 3, ack(Pubrel, 1, 5));
    t.received(BROKER, 3, ack(Pubrel, 1, 5)).sent(BROKER, 3, ack(Pubcomp, 1, 5));
    t.received("pub", 3, ack(Pubcomp, 1, 5));
    t.received("sub", 1, publish("m0", 2, 1, false)).sent("sub", 1, ack(Pubrec, 1, 5)).delivered("sub", "m0", 2);
    t.received(BROKER, 1, ack(Pubrec, 1, 5)).sent(BROKER, 1, ack(Pubrel, 1, 5));
    t.received("sub", 1, ack(Pubrel, 1, 5)).sent("sub", 1, ack(Pubcomp, 1, 5));
    t.received(BROKER, 1, ack(Pubcomp, 1, 5));
    t
}

/// The valid hand-written traces, by name.
pub fn valid_traces() -> Vec<(&'static str, Vec<TraceEvent>)> {
    vec![("three_messages", three_messages().events), ("qos2_resent_after_cut", qos2_resent_after_cut(3000).events)]
}
