//! The receive path: which handler each packet from the server goes to in the state it finds
//! the client in (the handlers live with their packet flows, in `connect`, `publish` and
//! `subscribe`, as the broker's do). A packet the state does not allow is a protocol
//! violation that closes the connection.

use std::time::Instant;

use super::error::ProtocolViolation;
use super::{Client, DisconnectReason, Farewell, State};
use crate::codec::{Packet, PacketType};

impl Client {
    /// The one place where packets from the server come in.
    pub(super) fn receive(&mut self, now: Instant, packet: Packet) {
        let Some(state) = self.connection.as_ref().map(|connection| connection.state) else { return };
        self.tracer.received(now, self.transports, &packet, self.options.protocol_version);
        let outcome = match (state, packet) {
            (State::AwaitingConnAck, Packet::ConnAck(connack)) => self.on_connack(now, connack),
            (State::AwaitingConnAck | State::Connected, Packet::Auth(auth)) => self.on_auth(auth),
            (State::Connected, Packet::Publish(publish)) => self.on_publish(now, publish),
            (State::Connected, Packet::PubAck(ack)) => self.on_puback(ack),
            (State::Connected, Packet::PubRec(ack)) => self.on_pubrec(ack),
            (State::Connected, Packet::PubComp(ack)) => self.on_pubcomp(ack),
            (State::Connected, Packet::PubRel(ack)) => self.on_pubrel(ack),
            (State::Connected, Packet::SubAck(suback)) => self.on_suback(suback),
            (State::Connected, Packet::UnsubAck(unsuback)) => self.on_unsuback(unsuback),
            (State::Connected, Packet::PingResp) => self.on_pingresp(now),
            // Only MQTT 5 servers send DISCONNECT, and only after a successful CONNACK
            // [MQTT-3.14.0-1].
            (State::Connected, Packet::Disconnect(disconnect)) if self.options.protocol_version.is_v5() => {
                let reason = DisconnectReason::ByServer {
                    reason_code: disconnect.reason_code,
                    properties: disconnect.properties,
                };
                self.close(now, reason, Farewell::Silent);
                Ok(())
            }
            (state, packet) => Err(ProtocolViolation::UnexpectedPacket {
                packet: packet.packet_type(),
                connected: state == State::Connected,
            }),
        };
        if let Err(violation) = outcome {
            self.close_for_violation(now, violation);
        }
    }

    /// PINGRESP answers the one PINGREQ outstanding. If it came late the next ping is
    /// already due, and goes at once.
    fn on_pingresp(&mut self, now: Instant) -> Result<(), ProtocolViolation> {
        let Some(connection) = self.connection.as_mut() else { return Ok(()) };
        if !connection.keep_alive.on_pingresp() {
            return Err(ProtocolViolation::UnexpectedPacket { packet: PacketType::PingResp, connected: true });
        }
        self.run_keep_alive(now);
        Ok(())
    }
}
