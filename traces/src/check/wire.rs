//! What the network may do, checked on the trace alone: each direction of a connection is a
//! FIFO, so a packet received is, field for field, the oldest one its peer sent that has not
//! arrived yet; a logged fault loses what is in flight and everything sent on the connection
//! afterwards; while the network stalls, nothing arrives. This covers the fields of received
//! packets that the model's packets do not carry (reason codes, topics...).

use std::collections::{HashMap, HashSet, VecDeque};

use verimqtt_spec::trace::{ConnId, Event, TraceEvent};

use super::failure::Rule;

/// The index of the first event the network cannot have produced, and the rule it breaks.
pub fn check(events: &[TraceEvent]) -> Option<(usize, Rule)> {
    // Per direction (connection, whether the broker sends), the indices of packets in flight.
    let mut in_flight: HashMap<(ConnId, bool), VecDeque<usize>> = HashMap::new();
    let mut faulted: HashSet<ConnId> = HashSet::new();
    let mut stalled_until = None;
    for (index, event) in events.iter().enumerate() {
        match &event.event {
            Event::FaultInjected { conn, .. } => {
                faulted.insert(*conn);
                in_flight.remove(&(*conn, true));
                in_flight.remove(&(*conn, false));
            }
            Event::NetworkStalled { duration_ms } => stalled_until = Some(event.time_ms + duration_ms),
            Event::PacketSent { conn, .. } if !faulted.contains(conn) => {
                in_flight.entry((*conn, event.node.is_broker())).or_default().push_back(index);
            }
            // Written on the client's end, behind what the client wrote, towards the broker.
            Event::PacketInjected { conn, .. } if !faulted.contains(conn) => {
                in_flight.entry((*conn, false)).or_default().push_back(index);
            }
            Event::PacketReceived { conn, packet } => {
                if stalled_until.is_some_and(|until| event.time_ms < until) {
                    return Some((index, Rule::ReceivedDuringStall));
                }
                let sender_is_broker = !event.node.is_broker();
                let Some(sent) = in_flight.get_mut(&(*conn, sender_is_broker)).and_then(VecDeque::pop_front) else {
                    return Some((index, Rule::ReceivedUnsent { conn: *conn }));
                };
                if let Event::PacketSent { packet: original, .. } | Event::PacketInjected { packet: original, .. } =
                    &events[sent].event
                {
                    if original != packet {
                        let sent_as = original.to_string();
                        return Some((index, Rule::ReceivedAltered { sent_step: sent + 1, sent_as }));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use verimqtt_spec::trace::{Fault, Node, PacketInfo, PacketKind};

    fn at(time_ms: u64, node: Node, event: Event) -> TraceEvent {
        TraceEvent { time_ms, node, event }
    }

    fn publish(retain: bool) -> PacketInfo {
        PacketInfo { retain: Some(retain), ..PacketInfo::new(PacketKind::Publish) }
    }

    fn sent(retain: bool) -> TraceEvent {
        at(0, Node::client("c0"), Event::PacketSent { conn: 1, packet: publish(retain) })
    }

    fn received(time_ms: u64, retain: bool) -> TraceEvent {
        at(time_ms, Node::broker(), Event::PacketReceived { conn: 1, packet: publish(retain) })
    }

    #[test]
    fn a_packet_arrives_as_it_was_sent() {
        assert_eq!(check(&[sent(false), received(0, false)]), None);
        let altered = check(&[sent(false), received(0, true)]);
        assert!(matches!(altered, Some((1, Rule::ReceivedAltered { sent_step: 1, .. }))), "{altered:?}");
    }

    #[test]
    fn nothing_arrives_that_was_not_sent_or_was_lost_in_a_fault() {
        assert_eq!(check(&[received(0, false)]), Some((0, Rule::ReceivedUnsent { conn: 1 })));
        let fault = at(0, Node::network(), Event::FaultInjected { conn: 1, fault: Fault::Cut });
        assert_eq!(check(&[sent(false), fault, received(0, false)]), Some((2, Rule::ReceivedUnsent { conn: 1 })));
    }

    #[test]
    fn an_injected_packet_arrives_behind_what_the_client_wrote_before_it() {
        let injected = at(0, Node::network(), Event::PacketInjected { conn: 1, packet: publish(true) });
        assert_eq!(check(&[sent(false), injected.clone(), received(0, false), received(0, true)]), None);
        let overtaking = check(&[sent(false), injected, received(0, true)]);
        assert!(matches!(overtaking, Some((2, Rule::ReceivedAltered { sent_step: 1, .. }))), "{overtaking:?}");
    }

    #[test]
    fn nothing_arrives_during_a_stall() {
        let stall = at(0, Node::network(), Event::NetworkStalled { duration_ms: 1000 });
        assert_eq!(check(&[sent(false), stall.clone(), received(999, false)]), Some((2, Rule::ReceivedDuringStall)));
        assert_eq!(check(&[sent(false), stall, received(1000, false)]), None);
    }
}
