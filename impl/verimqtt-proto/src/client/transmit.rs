//! The send path: which packet goes next, and what writing it changes.
//!
//! Packets are chosen and encoded only when `poll_transmit` asks, so a publish is in flight
//! exactly when its bytes have been handed out: a transport that cannot take more simply
//! stops polling, and nothing is ever written twice on one connection.
//!
//! The order: control packets (CONNECT, AUTH, acknowledgements, PUBREL, PINGREQ), then
//! SUBSCRIBE and UNSUBSCRIBE, then the publishes of a resumed session written again, then new
//! publishes. Only publishes wait for room in flight; everything else goes regardless
//! ([MQTT-3.3.4-8], [MQTT-4.9.0-3]).

use bytes::{Bytes, BytesMut};

use super::connection::Connection;
use super::error::CommandError;
use super::event::DropReason;
use super::limits::ServerLimits;
use super::{Client, DisconnectReason, Farewell, State};
use crate::codec::{self, Packet, PacketId, ProtocolVersion, Publish, PublishAck};
use crate::session::sender::Awaiting;
use crate::session::topic_alias::NewAlias;

/// Encodes `packet` as the server accepts it: valid in `version` and within its Maximum
/// Packet Size [MQTT-3.2.2-15].
pub(super) fn encode(packet: &Packet, version: ProtocolVersion, limits: &ServerLimits) -> Result<Bytes, CommandError> {
    let mut bytes = BytesMut::new();
    codec::encode(packet, version, &mut bytes).map_err(CommandError::Invalid)?;
    limits.check_size(bytes.len())?;
    Ok(bytes.freeze())
}

/// A PUBLISH as it goes on this connection, with a topic alias if one applies, and the alias
/// it introduces.
fn wire_publish(
    connection: &Connection,
    publish: Publish,
    version: ProtocolVersion,
) -> Result<(Packet, Bytes, Option<NewAlias>), CommandError> {
    let mut aliased = publish.clone();
    let new_alias = connection.outbound_aliases.apply(&mut aliased);
    let aliased = Packet::Publish(aliased);
    match encode(&aliased, version, &connection.limits) {
        Ok(bytes) => Ok((aliased, bytes, new_alias)),
        // Introducing an alias adds it to the full topic; without it the packet may fit.
        Err(CommandError::PacketTooLarge { .. }) if new_alias.is_some() => {
            let plain = Packet::Publish(publish);
            let bytes = encode(&plain, version, &connection.limits)?;
            Ok((plain, bytes, None))
        }
        Err(error) => Err(error),
    }
}

/// Every identifier takes two bytes, so a packet is measured with this one before its own is
/// allocated.
pub(super) const MEASURING_ID: PacketId = match PacketId::new(u16::MAX) {
    Some(id) => id,
    None => panic!("u16::MAX is not 0"),
};

impl Client {
    /// The encoded size of a packet, or why the version refuses it.
    pub(super) fn measure(&self, packet: &Packet) -> Result<usize, CommandError> {
        codec::encoded_len(packet, self.options.protocol_version).map_err(CommandError::Invalid)
    }

    /// Chooses and encodes the next packet, committing what writing it means.
    pub(super) fn next_transmit(&mut self) -> Option<(Packet, Bytes)> {
        let version = self.options.protocol_version;
        let connection = self.connection.as_mut()?;
        if let Some(packet) = connection.control.pop_front() {
            return match encode(&packet, version, &connection.limits) {
                Ok(bytes) => Some((packet, bytes)),
                Err(error) => {
                    let now = connection.now;
                    self.close(now, DisconnectReason::CannotSend(error), Farewell::Silent);
                    None
                }
            };
        }
        if connection.state != State::Connected {
            return None;
        }
        self.next_request().or_else(|| self.next_resend()).or_else(|| self.next_publish())
    }

    /// The next SUBSCRIBE or UNSUBSCRIBE. One the server turns out not to accept is dropped.
    fn next_request(&mut self) -> Option<(Packet, Bytes)> {
        let version = self.options.protocol_version;
        loop {
            let connection = self.connection.as_ref()?;
            let request = self.requests.next_unsent()?;
            let packet = request.to_packet();
            let encoded = connection
                .limits
                .check_request(request, version)
                .and_then(|()| encode(&packet, version, &connection.limits));
            match encoded {
                Ok(bytes) => {
                    self.requests.mark_sent();
                    return Some((packet, bytes));
                }
                Err(error) => {
                    if let Some(request) = self.requests.pop_unsent() {
                        self.packet_ids.release(request.packet_id());
                        self.events.dropped(DropReason::Unsendable(error), vec![request.into()]);
                    }
                }
            }
        }
    }

    /// The next packet of a resumed session: a PUBLISH again, with DUP 1 [MQTT-3.3.1-1], or a
    /// PUBREL again, never the PUBLISH after its PUBREL ([MQTT-4.4.0-1]; [MQTT-2.3.1-3] and
    /// [MQTT-4.3.3-1] in 3.1.1, [MQTT-4.3.3-6] in 5.0). A PUBLISH counts against the server's
    /// Receive Maximum as a new one does; one the server's new limits forbid is dropped.
    fn next_resend(&mut self) -> Option<(Packet, Bytes)> {
        let version = self.options.protocol_version;
        loop {
            let connection = self.connection.as_mut()?;
            if self.session.in_flight.written_on_connection() >= connection.limits.receive_maximum {
                return None;
            }
            let (packet_id, outgoing, flight) = self.session.in_flight.resend_next()?;
            let attempt = match flight {
                Awaiting::PubAck | Awaiting::PubRec => {
                    let mut publish = outgoing.publish.clone();
                    publish.dup = true;
                    connection.limits.check_publish(&publish).and_then(|()| wire_publish(connection, publish, version))
                }
                Awaiting::PubComp => {
                    let pubrel = Packet::PubRel(PublishAck::new(packet_id));
                    encode(&pubrel, version, &connection.limits).map(|bytes| (pubrel, bytes, None))
                }
            };
            match attempt {
                Ok((packet, bytes, new_alias)) => {
                    if let Some(new_alias) = new_alias {
                        connection.outbound_aliases.record(new_alias);
                    }
                    return Some((packet, bytes));
                }
                Err(error) => {
                    if let Some(outgoing) = self.session.in_flight.remove(packet_id) {
                        self.packet_ids.release(packet_id);
                        self.events.dropped(DropReason::Unsendable(error), vec![outgoing.into()]);
                    }
                }
            }
        }
    }

    /// The next new publish, once a resumed session's have all gone again. A QoS 1 or 2
    /// publish waits for room in flight: below `max_in_flight` and the server's Receive
    /// Maximum [MQTT-3.3.4-7] [MQTT-4.9.0-2]. One the server's limits forbid is dropped.
    fn next_publish(&mut self) -> Option<(Packet, Bytes)> {
        let version = self.options.protocol_version;
        loop {
            if self.session.in_flight.has_resend_pending() {
                return None;
            }
            let connection = self.connection.as_mut()?;
            let publish = &self.queue.front()?.publish;
            let in_flight = &self.session.in_flight;
            let room = in_flight.len() < self.options.max_in_flight
                && in_flight.written_on_connection() < connection.limits.receive_maximum;
            if publish.packet_id.is_some() && !room {
                return None;
            }
            let attempt = connection
                .limits
                .check_publish(publish)
                .and_then(|()| wire_publish(connection, publish.clone(), version));
            let outgoing = self.queue.pop_front()?;
            match attempt {
                Ok((packet, bytes, new_alias)) => {
                    if let Some(new_alias) = new_alias {
                        connection.outbound_aliases.record(new_alias);
                    }
                    if let Some(packet_id) = outgoing.publish.packet_id {
                        let qos = outgoing.publish.qos;
                        self.session.in_flight.insert_written(packet_id, qos, outgoing);
                    }
                    return Some((packet, bytes));
                }
                Err(error) => {
                    if let Some(packet_id) = outgoing.publish.packet_id {
                        self.packet_ids.release(packet_id);
                    }
                    self.events.dropped(DropReason::Unsendable(error), vec![outgoing.into()]);
                }
            }
        }
    }

    /// A packet was handed out for writing: the one place where packets leave the client.
    pub(super) fn on_sent(&mut self, packet: &Packet) {
        let Some(connection) = self.connection.as_mut() else { return };
        self.tracer.sent(connection.now, self.transports, packet, self.options.protocol_version);
        connection.keep_alive.on_sent(connection.now);
        match packet {
            Packet::Connect(_) => connection.connect_written = true,
            Packet::PubAck(ack) | Packet::PubComp(ack) => connection.unanswered.answered(ack.packet_id),
            _ => {}
        }
    }
}
