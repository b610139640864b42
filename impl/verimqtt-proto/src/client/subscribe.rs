//! SUBSCRIBE and UNSUBSCRIBE (sections 3.8 to 3.11): the commands, which take a packet
//! identifier only once they are accepted, and what SUBACK and UNSUBACK mean.

use std::time::Instant;

use super::Client;
use super::error::{CommandError, ProtocolViolation};
use super::event::Event;
use super::requests::Request;
use super::transmit::MEASURING_ID;
use crate::codec::{
    MqttString, PacketId, PacketType, Properties, SubAck, Subscribe, Subscription, UnsubAck, Unsubscribe,
};

impl Client {
    /// Asks for subscriptions; the SUBACK comes as [`Event::SubAck`]
    /// with the returned packet identifier. The request lives as long as the connection.
    pub fn subscribe(
        &mut self,
        now: Instant,
        subscriptions: Vec<Subscription>,
        properties: Properties,
    ) -> Result<PacketId, CommandError> {
        self.submit(now, Request::Subscribe(Subscribe { packet_id: MEASURING_ID, properties, subscriptions }))
    }

    /// Asks to end subscriptions; the UNSUBACK comes as
    /// [`Event::UnsubAck`] with the returned packet identifier.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: Vec<MqttString>,
        properties: Properties,
    ) -> Result<PacketId, CommandError> {
        self.submit(now, Request::Unsubscribe(Unsubscribe { packet_id: MEASURING_ID, properties, filters }))
    }

    fn submit(&mut self, now: Instant, mut request: Request) -> Result<PacketId, CommandError> {
        let size = self.measure(&request.to_packet())?;
        let connection = self.connection.as_mut().ok_or(CommandError::NoConnection)?;
        connection.advance(now);
        connection.limits.check_request(&request, self.options.protocol_version)?;
        connection.limits.check_size(size)?;
        if self.requests.is_full() {
            return Err(CommandError::TooManyPendingRequests { max: self.requests.max() });
        }
        let packet_id = self.packet_ids.allocate().ok_or(CommandError::PacketIdsExhausted)?;
        request.set_packet_id(packet_id);
        self.requests.push(request);
        Ok(packet_id)
    }

    pub(super) fn on_suback(&mut self, suback: SubAck) -> Result<(), ProtocolViolation> {
        let filters = self.acknowledge_request(PacketType::SubAck, suback.packet_id)?;
        check_reason_code_count(PacketType::SubAck, filters, suback.reason_codes.len())?;
        self.events.push(Event::SubAck(suback));
        Ok(())
    }

    pub(super) fn on_unsuback(&mut self, unsuback: UnsubAck) -> Result<(), ProtocolViolation> {
        let filters = self.acknowledge_request(PacketType::UnsubAck, unsuback.packet_id)?;
        // A 3.1.1 UNSUBACK has no reason codes.
        if self.options.protocol_version.is_v5() {
            check_reason_code_count(PacketType::UnsubAck, filters, unsuback.reason_codes.len())?;
        }
        self.events.push(Event::UnsubAck(unsuback));
        Ok(())
    }

    /// Ends the request `packet` acknowledges and frees its identifier; returns how many
    /// topic filters it had.
    fn acknowledge_request(&mut self, packet: PacketType, packet_id: PacketId) -> Result<usize, ProtocolViolation> {
        let request = self
            .requests
            .acknowledge(packet_id, packet)
            .ok_or(ProtocolViolation::UnknownPacketId { packet, packet_id })?;
        self.packet_ids.release(packet_id);
        Ok(request.filter_count())
    }
}

/// An acknowledgement has one reason code per topic filter of its request.
fn check_reason_code_count(packet: PacketType, expected: usize, received: usize) -> Result<(), ProtocolViolation> {
    if expected != received {
        return Err(ProtocolViolation::ReasonCodeCountMismatch { packet, expected, received });
    }
    Ok(())
}
