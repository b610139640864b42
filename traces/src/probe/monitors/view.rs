//! A probe's trace digested for the monitors: per connection, its client, the CONNECT and
//! CONNACK the proxy passed, how it ended and when the broker could have known.

use std::collections::BTreeMap;

use verimqtt_spec::trace::{CloseReason, ConnId, End, Event, Fault, Node, PacketInfo, PacketKind, TraceEvent};

/// One connection as the proxy and its client saw it. Times are the trace's milliseconds;
/// `usize` fields are indices of trace events.
#[derive(Debug, Clone)]
pub(in crate::probe) struct Conn {
    pub id: ConnId,
    pub client: Node,
    pub opened: usize,
    /// The CONNECT passed to the broker.
    pub connect: Option<(usize, PacketInfo)>,
    /// The CONNACK passed to the client.
    pub connack: Option<(usize, PacketInfo)>,
    pub fault: Option<(usize, Fault)>,
    /// A DISCONNECT the proxy passed to the broker.
    pub disconnect: Option<(usize, PacketInfo)>,
    /// The proxy saw the broker close the connection.
    pub broker_closed: Option<usize>,
    /// The client stopped using the connection, and why.
    pub client_closed: Option<(usize, CloseReason)>,
}

impl Conn {
    /// The client id of the CONNECT.
    pub fn client_id(&self) -> Option<&str> {
        self.connect.as_ref().and_then(|(_, connect)| connect.client_id.as_deref())
    }

    /// The CONNACK accepted the connection.
    pub fn accepted(&self) -> bool {
        self.connack.as_ref().is_some_and(|(_, connack)| connack.reason_code.unwrap_or(0) < 0x80)
    }

    /// The keep alive in force, in seconds: the CONNACK's Server Keep Alive, else the CONNECT's.
    pub fn keep_alive(&self) -> Option<u16> {
        let server = self.connack.as_ref().and_then(|(_, connack)| connack.server_keep_alive);
        server.or_else(|| self.connect.as_ref().and_then(|(_, connect)| connect.keep_alive))
    }

    /// The connection ended with a normal DISCONNECT passed to the broker.
    pub fn normal_disconnect(&self) -> bool {
        self.disconnect.as_ref().is_some_and(|(_, disconnect)| disconnect.reason_code.unwrap_or(0) == 0)
    }
}

#[derive(Debug)]
pub(in crate::probe) struct View<'a> {
    pub trace: &'a [TraceEvent],
    pub conns: BTreeMap<ConnId, Conn>,
    pub v5: bool,
    /// When the proxy stopped watching (the last event if the trace does not say).
    pub ended: u64,
}

impl<'a> View<'a> {
    pub fn of(trace: &'a [TraceEvent]) -> Self {
        let mut conns: BTreeMap<ConnId, Conn> = BTreeMap::new();
        let mut v5 = false;
        for (index, event) in trace.iter().enumerate() {
            match &event.event {
                Event::ConnectionOpened { conn, .. } if !event.node.is_network() => {
                    conns.insert(
                        *conn,
                        Conn {
                            id: *conn,
                            client: event.node.clone(),
                            opened: index,
                            connect: None,
                            connack: None,
                            fault: None,
                            disconnect: None,
                            broker_closed: None,
                            client_closed: None,
                        },
                    );
                }
                Event::ConnectionClosed { conn, reason } => {
                    if let Some(c) = conns.get_mut(conn) {
                        c.client_closed.get_or_insert((index, *reason));
                    }
                }
                Event::Forwarded { conn, to, packet } => {
                    let Some(c) = conns.get_mut(conn) else { continue };
                    match (to, packet.kind) {
                        (End::Broker, PacketKind::Connect) => {
                            v5 |= packet.protocol_level == Some(5);
                            c.connect = Some((index, packet.clone()));
                        }
                        (End::Broker, PacketKind::Disconnect) => c.disconnect = Some((index, packet.clone())),
                        (End::Broker, _) => {}
                        (End::Client, PacketKind::Connack) => c.connack = Some((index, packet.clone())),
                        (End::Client, _) => {}
                    }
                }
                Event::FaultInjected { conn, fault } => {
                    if let Some(c) = conns.get_mut(conn) {
                        c.fault.get_or_insert((index, *fault));
                    }
                }
                Event::BrokerClosed { conn } => {
                    if let Some(c) = conns.get_mut(conn) {
                        c.broker_closed.get_or_insert(index);
                    }
                }
                _ => {}
            }
        }
        let ended = trace
            .iter()
            .find(|event| matches!(event.event, Event::ProbeEnded))
            .or(trace.last())
            .map_or(0, |event| event.time_ms);
        View { trace, conns, v5, ended }
    }

    pub fn time(&self, index: usize) -> u64 {
        self.trace[index].time_ms
    }

    /// When the broker surely knew the connection was over (it was told, or it closed it);
    /// `None` if it may not know to the end of the trace.
    pub fn broker_knows_end(&self, conn: &Conn) -> Option<usize> {
        let told = self.broker_told_of_end(conn);
        [told, conn.disconnect.as_ref().map(|(index, _)| *index), conn.broker_closed].into_iter().flatten().min()
    }

    /// When the broker's end was told the connection was over by a reset, or by the proxy
    /// closing it after its client closed with no fault between. From then on the proxy no
    /// longer reads what the broker writes on it.
    pub fn broker_told_of_end(&self, conn: &Conn) -> Option<usize> {
        match conn.fault {
            Some((index, Fault::Reset)) => Some(index),
            Some(_) => None,
            None => conn.client_closed.map(|(index, _)| index),
        }
    }

    /// The first moment the connection was over for anyone (a fault, a close, a DISCONNECT).
    pub fn first_end(&self, conn: &Conn) -> Option<usize> {
        [
            conn.fault.map(|(index, _)| index),
            conn.disconnect.as_ref().map(|(index, _)| *index),
            conn.broker_closed,
            conn.client_closed.map(|(index, _)| index),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The connections of a client id, in order.
    pub fn conns_of_id<'s>(&'s self, client_id: &'s str) -> impl Iterator<Item = &'s Conn> + 's {
        self.conns.values().filter(move |conn| conn.client_id() == Some(client_id))
    }

    /// Whether `node` held a subscription at event `at` (see [`View::granted_qos`]).
    pub fn subscribed(&self, node: &Node, at: usize) -> bool {
        self.granted_qos(node, at).is_some()
    }

    /// The QoS granted to the subscription `node` held at event `at`: the last SUBACK passed
    /// to it before granted one (a probe's client subscribes to one filter, so a later SUBACK
    /// replaces the grant [MQTT-3.8.4-3]), unless since an UNSUBSCRIBE reached the broker (which
    /// may stop sending from then on, whether its UNSUBACK reaches the client or not) or a
    /// CONNACK said the session was not present.
    pub fn granted_qos(&self, node: &Node, at: usize) -> Option<u8> {
        let mut granted = None;
        for event in self.trace.iter().take(at) {
            let Event::Forwarded { conn, to, packet } = &event.event else { continue };
            if self.conns.get(conn).is_none_or(|c| &c.client != node) {
                continue;
            }
            match (to, packet.kind) {
                (End::Client, PacketKind::Suback) => {
                    granted = packet.reason_codes.iter().flatten().copied().filter(|&code| code < 0x80).max();
                }
                (End::Broker, PacketKind::Unsubscribe) => granted = None,
                (End::Client, PacketKind::Connack) if packet.session_present != Some(true) => granted = None,
                _ => {}
            }
        }
        granted
    }

    /// The connection `node` uses at the end of the trace, if it is up, was accepted and no
    /// fault hit it.
    pub fn up_at_end(&self, node: &Node) -> Option<&Conn> {
        let last = self.conns.values().filter(|conn| &conn.client == node).max_by_key(|conn| conn.opened)?;
        let up =
            last.accepted() && last.fault.is_none() && last.client_closed.is_none() && last.broker_closed.is_none();
        up.then_some(last)
    }

    /// The clients of the trace.
    pub fn clients(&self) -> Vec<Node> {
        let mut clients: Vec<Node> = self.conns.values().map(|conn| conn.client.clone()).collect();
        clients.sort();
        clients.dedup();
        clients
    }
}
