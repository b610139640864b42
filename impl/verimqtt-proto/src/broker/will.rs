//! The will message: deposited by CONNECT, published when the connection ends any way but
//! DISCONNECT 0x00, after its Will Delay Interval unless the session resumes first.

use std::time::Instant;

use crate::codec::{MqttString, PropertyId, ProtocolVersion, Will};

use super::listener::ListenerId;
use super::message::Message;
use super::policy::ClientInfo;

/// A will as the connection (and then its session) holds it, with who deposited it and on
/// which listener, so the policy can be asked about it when it is published. Its topic is
/// stored with the listener's mount point.
#[derive(Debug, Clone)]
pub(crate) struct StoredWill {
    pub(crate) will: Will,
    pub(crate) client_id: MqttString,
    pub(crate) username: Option<MqttString>,
    pub(crate) version: ProtocolVersion,
    pub(crate) listener: ListenerId,
}

impl StoredWill {
    /// Seconds to wait after the connection ends (MQTT 5 Will Delay Interval; 0 in 3.1.1).
    pub(crate) fn delay(&self) -> u32 {
        self.will.properties.will_delay_interval.unwrap_or(0)
    }

    pub(crate) fn client(&self) -> ClientInfo<'_> {
        ClientInfo {
            client_id: &self.client_id,
            username: self.username.as_deref(),
            version: self.version,
            listener: self.listener,
        }
    }

    /// The message to publish at `now`. Its Message Expiry Interval counts from now: it is
    /// the lifetime of the published message (MQTT 5 section 3.1.3.2). The Will Delay
    /// Interval has done its work and is not forwarded.
    pub(crate) fn message(&self, now: Instant) -> Message {
        let mut properties = self.will.properties.clone();
        properties.remove(PropertyId::WillDelayInterval);
        Message::new(
            self.will.topic.clone(),
            self.will.payload.as_bytes().clone(),
            self.will.qos,
            self.will.retain,
            properties,
            Some(self.client_id.clone()),
            now,
        )
    }
}
