//! DISCONNECT (section 3.14) and AUTH (section 3.15, MQTT 5 only): a reason code and
//! properties, both optional on the wire.

use super::tail::{self, PropertyLength};
use super::{Body, PacketType, properties_in};
use crate::codec::error::Violation;
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reader::Reader;
use crate::codec::reason::ReasonCode;
use crate::codec::version::ProtocolVersion;
use crate::codec::writer::Sink;

/// DISCONNECT. In 3.1.1 it has no body: the reason is always a normal disconnection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disconnect {
    /// Why the sender disconnects; 0x00 Normal disconnection (the only reason in 3.1.1) discards the will, 0x04 publishes it.
    pub reason_code: ReasonCode,
    /// MQTT 5 properties: Session Expiry Interval (client only), Reason String, User Properties, Server Reference. Empty in 3.1.1.
    pub properties: Properties,
}

impl Disconnect {
    /// A DISCONNECT without properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Disconnect { reason_code, properties: Properties::default() }
    }

    pub(super) fn decode(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        let (reason_code, properties) =
            tail::decode(reader, PacketType::Disconnect, version, PropertyLength::Optional)?;
        Ok(Disconnect { reason_code, properties })
    }
}

impl Body for Disconnect {
    fn v5_only_content(&self) -> Option<&'static str> {
        properties_in(&[&self.properties])
            .or_else(|| (self.reason_code != ReasonCode::Success).then_some("a reason code"))
    }

    fn check(&self, _packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        if version.is_v5() {
            self.reason_code.check_allowed(PacketType::Disconnect, version)?;
        }
        self.properties.check(PropertyContext::Disconnect)
    }

    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        tail::write(self.reason_code, &self.properties, version, PropertyLength::Optional, sink);
    }
}

/// AUTH, the exchange of enhanced authentication (MQTT 5 only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// 0x00 Success, 0x18 Continue authentication or 0x19 Re-authenticate.
    pub reason_code: ReasonCode,
    /// Authentication Method and Data, Reason String and User Properties.
    pub properties: Properties,
}

impl Auth {
    pub(super) fn decode(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        let (reason_code, properties) = tail::decode(reader, PacketType::Auth, version, PropertyLength::Required)?;
        Ok(Auth { reason_code, properties })
    }
}

impl Body for Auth {
    fn v5_only_content(&self) -> Option<&'static str> {
        Some("AUTH")
    }

    fn check(&self, _packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        self.reason_code.check_allowed(PacketType::Auth, version)?;
        self.properties.check(PropertyContext::Auth)
    }

    /// AUTH exists only in 5.0; the encoder refuses it in 3.1.1 before writing.
    fn write_body(&self, _version: ProtocolVersion, sink: &mut impl Sink) {
        tail::write(self.reason_code, &self.properties, ProtocolVersion::V5, PropertyLength::Required, sink);
    }
}
