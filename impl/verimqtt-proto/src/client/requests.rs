//! SUBSCRIBE and UNSUBSCRIBE requests from acceptance to acknowledgement. They belong to a
//! connection: unsent ones go once the CONNACK is in, and the connection's end drops them all.

use std::collections::VecDeque;

use super::event::DroppedRequest;
use crate::codec::{Packet, PacketId, PacketType, Subscribe, Unsubscribe};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    Subscribe(Subscribe),
    Unsubscribe(Unsubscribe),
}

impl Request {
    pub(crate) fn packet_id(&self) -> PacketId {
        match self {
            Request::Subscribe(subscribe) => subscribe.packet_id,
            Request::Unsubscribe(unsubscribe) => unsubscribe.packet_id,
        }
    }

    pub(crate) fn set_packet_id(&mut self, packet_id: PacketId) {
        match self {
            Request::Subscribe(subscribe) => subscribe.packet_id = packet_id,
            Request::Unsubscribe(unsubscribe) => unsubscribe.packet_id = packet_id,
        }
    }

    pub(crate) fn to_packet(&self) -> Packet {
        match self {
            Request::Subscribe(subscribe) => Packet::Subscribe(subscribe.clone()),
            Request::Unsubscribe(unsubscribe) => Packet::Unsubscribe(unsubscribe.clone()),
        }
    }

    /// How many reason codes its acknowledgement must carry: one per topic filter.
    pub(crate) fn filter_count(&self) -> usize {
        match self {
            Request::Subscribe(subscribe) => subscribe.subscriptions.len(),
            Request::Unsubscribe(unsubscribe) => unsubscribe.filters.len(),
        }
    }
}

impl From<Request> for DroppedRequest {
    fn from(request: Request) -> Self {
        match request {
            Request::Subscribe(subscribe) => DroppedRequest::Subscribe(subscribe),
            Request::Unsubscribe(unsubscribe) => DroppedRequest::Unsubscribe(unsubscribe),
        }
    }
}

/// The requests not yet acknowledged, unsent ones first, each in the order it was made.
#[derive(Debug)]
pub(crate) struct Requests {
    unsent: VecDeque<Request>,
    /// Written, waiting for SUBACK or UNSUBACK. Acknowledgements mostly come in order, so the
    /// one searched for is mostly at the front.
    awaiting: VecDeque<Request>,
    max: usize,
}

impl Requests {
    pub(super) fn new(max: usize) -> Self {
        Requests { unsent: VecDeque::new(), awaiting: VecDeque::new(), max }
    }

    pub(super) fn len(&self) -> usize {
        self.unsent.len() + self.awaiting.len()
    }

    pub(super) fn max(&self) -> usize {
        self.max
    }

    pub(super) fn is_full(&self) -> bool {
        self.len() >= self.max
    }

    pub(super) fn push(&mut self, request: Request) {
        self.unsent.push_back(request);
    }

    pub(super) fn next_unsent(&self) -> Option<&Request> {
        self.unsent.front()
    }

    /// The next unsent request was written.
    pub(super) fn mark_sent(&mut self) {
        if let Some(request) = self.unsent.pop_front() {
            self.awaiting.push_back(request);
        }
    }

    /// The next unsent request, given up.
    pub(super) fn pop_unsent(&mut self) -> Option<Request> {
        self.unsent.pop_front()
    }

    /// The written request that `acknowledgement` (SUBACK or UNSUBACK) with this identifier
    /// answers, now done.
    pub(super) fn acknowledge(&mut self, packet_id: PacketId, acknowledgement: PacketType) -> Option<Request> {
        let position = self.awaiting.iter().position(|request| {
            let answers = match request {
                Request::Subscribe(_) => PacketType::SubAck,
                Request::Unsubscribe(_) => PacketType::UnsubAck,
            };
            request.packet_id() == packet_id && answers == acknowledgement
        })?;
        self.awaiting.remove(position)
    }

    /// All requests, written ones first, each in the order it was made.
    pub(super) fn drain(&mut self) -> Vec<Request> {
        self.awaiting.drain(..).chain(self.unsent.drain(..)).collect()
    }
}
