//! The state of one network connection: everything here starts afresh with the transport and
//! is gone with it, unlike the session.

use std::collections::VecDeque;
use std::time::Instant;

use super::State;
use super::keep_alive::KeepAlive;
use super::limits::ServerLimits;
use super::options::ClientOptions;
use crate::codec::{DecodeOptions, MAX_PACKET_SIZE, Packet};
use crate::session::framer::Framer;
use crate::session::receiver::Unanswered;
use crate::session::topic_alias::{InboundAliases, OutboundAliases};

/// Where a MQTT 5 enhanced authentication exchange stands (section 4.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthExchange {
    /// Nothing under way.
    Idle,
    /// The client spoke last (CONNECT or AUTH): the server answers with AUTH or CONNACK.
    AwaitingServer,
    /// The server sent AUTH 0x18: the client owes it an AUTH 0x18.
    AwaitingClient,
}

#[derive(Debug)]
pub(crate) struct Connection {
    /// Never [`State::Disconnected`].
    pub state: State,
    /// The latest time the user gave; packets written by `poll_transmit` are sent then.
    pub now: Instant,
    /// Bytes received and not yet a whole packet.
    pub framer: Framer,
    /// Packets to write before any request or publish: CONNECT, AUTH, acknowledgements,
    /// PUBREL, PINGREQ. In order, so acknowledgements follow the order of receipt
    /// [MQTT-4.6.0-2] [MQTT-4.6.0-3] [MQTT-4.6.0-4].
    pub control: VecDeque<Packet>,
    pub keep_alive: KeepAlive,
    /// Known once the CONNACK is in.
    pub limits: ServerLimits,
    pub inbound_aliases: InboundAliases,
    pub outbound_aliases: OutboundAliases,
    pub unanswered: Unanswered,
    pub auth: AuthExchange,
    pub connack_deadline: Option<Instant>,
    /// The CONNECT was written: only then may a DISCONNECT follow [MQTT-3.1.0-1].
    pub connect_written: bool,
    /// The CONNECT asked for a clean start, so a Session Present 1 cannot be right.
    pub clean_start_sent: bool,
}

impl Connection {
    pub(super) fn new(now: Instant, options: &ClientOptions) -> Self {
        let version = options.protocol_version;
        let max_packet_size = options.maximum_packet_size.map_or(MAX_PACKET_SIZE, |max| max.get());
        Connection {
            state: State::TransportReady,
            now,
            framer: Framer::new(DecodeOptions::new(version).with_max_packet_size(max_packet_size)),
            control: VecDeque::new(),
            keep_alive: KeepAlive::new(now),
            limits: ServerLimits::DEFAULT,
            inbound_aliases: InboundAliases::new(options.topic_alias_maximum),
            outbound_aliases: OutboundAliases::new(0),
            unanswered: Unanswered::new(version.is_v5().then_some(options.receive_maximum.get())),
            auth: AuthExchange::Idle,
            connack_deadline: None,
            connect_written: false,
            clean_start_sent: false,
        }
    }

    /// Time never goes back, whatever the caller passes.
    pub(super) fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }
}
