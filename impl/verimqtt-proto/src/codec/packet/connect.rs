//! CONNECT (section 3.1): the packet that names the protocol version the client speaks.

use std::fmt;

use super::{Body, PacketType, QoS, properties_in};
use crate::codec::error::{DecodeError, EncodeError, QosField, Violation};
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reader::Reader;
use crate::codec::string::{Binary, MqttString};
use crate::codec::topic::check_topic_name_string;
use crate::codec::version::ProtocolVersion;
use crate::codec::writer::Sink;

const PROTOCOL_NAME: &str = "MQTT";
/// The name MQTT 3.1 (protocol level 3) used.
const PROTOCOL_NAME_V31: &str = "MQIsdp";

mod flag {
    pub(super) const RESERVED: u8 = 0x01;
    pub(super) const CLEAN_START: u8 = 0x02;
    pub(super) const WILL: u8 = 0x04;
    pub(super) const WILL_QOS_SHIFT: u8 = 3;
    pub(super) const WILL_QOS_MASK: u8 = 0x18;
    pub(super) const WILL_RETAIN: u8 = 0x20;
    pub(super) const PASSWORD: u8 = 0x40;
    pub(super) const USERNAME: u8 = 0x80;
}

/// CONNECT. Its `Debug` output hides the password, so logging a packet leaks no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Connect {
    /// The version the client asks for; the packet is written in it.
    pub protocol_version: ProtocolVersion,
    /// Clean Session (3.1.1) or Clean Start (5.0).
    pub clean_start: bool,
    /// Seconds; 0 turns keep alive off.
    pub keep_alive: u16,
    /// MQTT 5 properties: what the client asks for and allows (Session Expiry Interval, Receive Maximum, Maximum Packet Size, Topic Alias Maximum, Authentication Method, ...). Empty in 3.1.1.
    pub properties: Properties,
    /// May be empty: the server then assigns one (with rules in 3.1.1, section 3.1.3.1).
    pub client_id: MqttString,
    /// The will message, published by the server if the connection ends without a DISCONNECT; `None` for no will.
    pub will: Option<Will>,
    /// The User Name, for the server's authentication; `None` for none.
    pub username: Option<MqttString>,
    /// The Password; `None` for none. In 3.1.1 it needs a [`username`](Self::username) [MQTT-3.1.2-22].
    pub password: Option<Binary>,
}

impl Connect {
    /// A CONNECT with a clean session, keep alive off and nothing optional.
    pub fn new(protocol_version: ProtocolVersion, client_id: MqttString) -> Self {
        Connect {
            protocol_version,
            clean_start: true,
            keep_alive: 0,
            properties: Properties::default(),
            client_id,
            will: None,
            username: None,
            password: None,
        }
    }
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("protocol_version", &self.protocol_version)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("properties", &self.properties)
            .field("client_id", &self.client_id)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|password| Redacted(password.len())))
            .finish()
    }
}

/// Stands in for a secret in `Debug` output: only its length shows.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0)
    }
}

/// The will message a CONNECT deposits with the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// The Will Topic the message is published to; a topic name, without wildcards.
    pub topic: MqttString,
    /// The Will Payload (Will Message in 3.1.1), any bytes.
    pub payload: Binary,
    /// The QoS the will is published with.
    pub qos: QoS,
    /// Whether the will is published as a retained message.
    pub retain: bool,
    /// MQTT 5 only.
    pub properties: Properties,
}

/// Reads the protocol name and level that open a CONNECT and says which version the rest of
/// the packet is in. A level the codec does not speak is reported with the version whose
/// CONNACK the client can read: 3.1.1's for the older levels, 5.0's for newer ones
/// [MQTT-3.1.2-2].
pub(crate) fn read_protocol_version(
    reader: &mut Reader,
    fallback: ProtocolVersion,
) -> Result<ProtocolVersion, DecodeError> {
    let name = reader.string().map_err(|violation| DecodeError::new(violation, fallback))?;
    let level = reader.u8().map_err(|violation| DecodeError::new(violation, fallback))?;
    if name != PROTOCOL_NAME && name != PROTOCOL_NAME_V31 {
        return Err(DecodeError::new(Violation::InvalidProtocolName, fallback));
    }
    match ProtocolVersion::from_level(level) {
        Some(version) if name == PROTOCOL_NAME => Ok(version),
        _ => {
            let answer_in =
                if level > ProtocolVersion::V5.level() { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
            Err(DecodeError::new(Violation::UnsupportedProtocolVersion { level }, answer_in))
        }
    }
}

impl Connect {
    /// Reads what follows the protocol name and level.
    pub(super) fn decode(reader: &mut Reader, version: ProtocolVersion) -> Result<Self, Violation> {
        let flags = reader.u8()?;
        if flags & flag::RESERVED != 0 {
            return Err(Violation::ConnectReservedFlag);
        }
        let has_will = flags & flag::WILL != 0;
        let will_qos = (flags & flag::WILL_QOS_MASK) >> flag::WILL_QOS_SHIFT;
        let will_retain = flags & flag::WILL_RETAIN != 0;
        if !has_will && will_qos != 0 {
            return Err(Violation::WillQosWithoutWill);
        }
        if !has_will && will_retain {
            return Err(Violation::WillRetainWithoutWill);
        }
        let will_qos = QoS::from_u8(will_qos).ok_or(Violation::QosThree(QosField::Will))?;
        let keep_alive = reader.u16()?;
        let properties = Properties::decode_for(reader, version)?;
        let client_id = reader.string()?;
        let will = if has_will {
            let properties = Properties::decode_for(reader, version)?;
            Some(Will {
                topic: reader.string()?,
                payload: reader.binary()?,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if flags & flag::USERNAME != 0 { Some(reader.string()?) } else { None };
        let password = if flags & flag::PASSWORD != 0 { Some(reader.binary()?) } else { None };
        Ok(Connect {
            protocol_version: version,
            clean_start: flags & flag::CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.clean_start {
            flags |= flag::CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= flag::WILL | ((will.qos as u8) << flag::WILL_QOS_SHIFT);
            if will.retain {
                flags |= flag::WILL_RETAIN;
            }
        }
        if self.password.is_some() {
            flags |= flag::PASSWORD;
        }
        if self.username.is_some() {
            flags |= flag::USERNAME;
        }
        flags
    }
}

impl Body for Connect {
    fn v5_only_content(&self) -> Option<&'static str> {
        match &self.will {
            Some(will) => properties_in(&[&self.properties, &will.properties]),
            None => properties_in(&[&self.properties]),
        }
    }

    /// A CONNECT is written in the version it asks for.
    fn check_fits(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if self.protocol_version != version {
            return Err(EncodeError::VersionMismatch { connect: self.protocol_version, version });
        }
        Ok(())
    }

    fn check(&self, _packet: PacketType, version: ProtocolVersion) -> Result<(), Violation> {
        self.properties.check(PropertyContext::Connect)?;
        if let Some(will) = &self.will {
            check_topic_name_string(&will.topic)?;
            will.properties.check(PropertyContext::Will)?;
        }
        if !version.is_v5() && self.password.is_some() && self.username.is_none() {
            return Err(Violation::PasswordWithoutUsername);
        }
        Ok(())
    }

    fn write_body(&self, version: ProtocolVersion, sink: &mut impl Sink) {
        sink.prefixed(PROTOCOL_NAME.as_bytes());
        sink.u8(version.level());
        sink.u8(self.flags());
        sink.u16(self.keep_alive);
        self.properties.encode_for(version, sink);
        sink.string(&self.client_id);
        if let Some(will) = &self.will {
            will.properties.encode_for(version, sink);
            sink.string(&will.topic);
            sink.binary(&will.payload);
        }
        if let Some(username) = &self.username {
            sink.string(username);
        }
        if let Some(password) = &self.password {
            sink.binary(password);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn protocol(bytes: &'static [u8]) -> Result<ProtocolVersion, DecodeError> {
        read_protocol_version(&mut Reader::new(Bytes::from_static(bytes)), ProtocolVersion::V311)
    }

    #[test]
    fn protocol_name_and_level_pick_the_version() {
        assert_eq!(protocol(b"\x00\x04MQTT\x04"), Ok(ProtocolVersion::V311));
        assert_eq!(protocol(b"\x00\x04MQTT\x05"), Ok(ProtocolVersion::V5));
    }

    #[test]
    fn mqtt_3_1_is_an_unsupported_version_answered_in_3_1_1() {
        let error = protocol(b"\x00\x06MQIsdp\x03").unwrap_err();
        assert_eq!(error.unsupported_protocol_level(), Some(3));
        assert_eq!(error.version(), ProtocolVersion::V311);
    }

    #[test]
    fn a_future_level_is_answered_in_5_0() {
        let error = protocol(b"\x00\x04MQTT\x06").unwrap_err();
        assert_eq!(error.unsupported_protocol_level(), Some(6));
        assert_eq!(error.version(), ProtocolVersion::V5);
    }

    #[test]
    fn debug_output_hides_the_password() {
        let mut connect = Connect::new(ProtocolVersion::V5, MqttString::from_static("c").unwrap());
        connect.username = Some(MqttString::from_static("alice").unwrap());
        connect.password = Some(Binary::from_static(b"hunter2").unwrap());
        let shown = format!("{connect:?}");
        assert!(shown.contains("<7 bytes redacted>"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("104, 117"), "{shown}");
    }

    #[test]
    fn another_protocol_name_is_rejected() {
        let error = protocol(b"\x00\x04HTTP\x04").unwrap_err();
        assert_eq!(error.violation(), &Violation::InvalidProtocolName);
    }
}
