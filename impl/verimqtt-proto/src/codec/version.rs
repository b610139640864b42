//! The two protocol versions the codec speaks.

use std::fmt;

use verimqtt_spec::catalogue::SpecVersion;

/// An MQTT protocol version, by the protocol level byte a CONNECT carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1, protocol level 4.
    V311,
    /// MQTT 5.0, protocol level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of a CONNECT packet of this version.
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The version a protocol level byte names, if the codec speaks it.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            4 => Some(ProtocolVersion::V311),
            5 => Some(ProtocolVersion::V5),
            _ => None,
        }
    }

    /// Whether this version has properties, reason codes and AUTH.
    pub const fn is_v5(self) -> bool {
        matches!(self, ProtocolVersion::V5)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V311 => "3.1.1",
            ProtocolVersion::V5 => "5.0",
        })
    }
}

/// The catalogue's name of the version, to look statements up.
impl From<ProtocolVersion> for SpecVersion {
    fn from(version: ProtocolVersion) -> Self {
        match version {
            ProtocolVersion::V311 => SpecVersion::V3_1_1,
            ProtocolVersion::V5 => SpecVersion::V5_0,
        }
    }
}

impl From<SpecVersion> for ProtocolVersion {
    fn from(version: SpecVersion) -> Self {
        match version {
            SpecVersion::V3_1_1 => ProtocolVersion::V311,
            SpecVersion::V5_0 => ProtocolVersion::V5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_round_trips_and_rejects_other_levels() {
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            assert_eq!(ProtocolVersion::from_level(version.level()), Some(version));
            assert_eq!(ProtocolVersion::from(SpecVersion::from(version)), version);
        }
        for level in [0, 3, 6, 255] {
            assert_eq!(ProtocolVersion::from_level(level), None);
        }
    }
}
