//! What the server accepts, as its MQTT 5 CONNACK says (section 3.2.2.3), and the checks a
//! request must pass before it is sent. Until a CONNACK says otherwise, and always in 3.1.1,
//! the protocol's defaults apply: everything is allowed.

use super::error::CommandError;
use super::requests::Request;
use crate::codec::{self, Properties, ProtocolVersion, Publish, QoS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerLimits {
    /// QoS 1 and 2 publishes the server accepts unacknowledged [MQTT-3.3.4-7].
    pub receive_maximum: usize,
    pub maximum_qos: QoS,
    pub retain_available: bool,
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: u16,
    pub wildcard_subscriptions: bool,
    pub subscription_identifiers: bool,
    pub shared_subscriptions: bool,
}

impl ServerLimits {
    pub(super) const DEFAULT: ServerLimits = ServerLimits {
        receive_maximum: u16::MAX as usize,
        maximum_qos: QoS::ExactlyOnce,
        retain_available: true,
        maximum_packet_size: None,
        topic_alias_maximum: 0,
        wildcard_subscriptions: true,
        subscription_identifiers: true,
        shared_subscriptions: true,
    };

    pub(super) fn from_connack(properties: &Properties) -> Self {
        let default = Self::DEFAULT;
        ServerLimits {
            receive_maximum: properties.receive_maximum.map_or(default.receive_maximum, |max| usize::from(max.get())),
            maximum_qos: properties.maximum_qos.unwrap_or(default.maximum_qos),
            retain_available: properties.retain_available.unwrap_or(default.retain_available),
            maximum_packet_size: properties.maximum_packet_size.map(|max| max.get()),
            topic_alias_maximum: properties.topic_alias_maximum.unwrap_or(default.topic_alias_maximum),
            wildcard_subscriptions: properties.wildcard_subscription_available.unwrap_or(true),
            subscription_identifiers: properties.subscription_identifier_available.unwrap_or(true),
            shared_subscriptions: properties.shared_subscription_available.unwrap_or(true),
        }
    }

    /// A packet of `size` bytes may go [MQTT-3.2.2-15].
    pub(super) fn check_size(&self, size: usize) -> Result<(), CommandError> {
        match self.maximum_packet_size {
            Some(max) if size > max as usize => Err(CommandError::PacketTooLarge { size, max }),
            _ => Ok(()),
        }
    }

    /// The server takes this QoS and retain flag ([MQTT-3.2.2-11], [MQTT-3.2.2-14]).
    pub(super) fn check_publish(&self, publish: &Publish) -> Result<(), CommandError> {
        if publish.qos > self.maximum_qos {
            return Err(CommandError::QosNotSupported { requested: publish.qos, maximum: self.maximum_qos });
        }
        if publish.retain && !self.retain_available {
            return Err(CommandError::RetainNotSupported);
        }
        Ok(())
    }

    /// The server supports what a SUBSCRIBE asks for; one that does not would close the
    /// connection (reason codes 0xA1, 0x9E, 0xA2 of section 3.14.2.1).
    pub(super) fn check_request(&self, request: &Request, version: ProtocolVersion) -> Result<(), CommandError> {
        let Request::Subscribe(subscribe) = request else { return Ok(()) };
        if !self.subscription_identifiers && !subscribe.properties.subscription_identifiers.is_empty() {
            return Err(CommandError::SubscriptionIdentifiersNotSupported);
        }
        for subscription in &subscribe.subscriptions {
            let shared = codec::shared_subscription(&subscription.filter, version);
            if !self.shared_subscriptions && shared.is_some() {
                return Err(CommandError::SharedSubscriptionsNotSupported);
            }
            let filter = match shared {
                Some(Ok(shared)) => shared.filter,
                _ => subscription.filter.as_str(),
            };
            if !self.wildcard_subscriptions && filter.contains(['+', '#']) {
                return Err(CommandError::WildcardSubscriptionsNotSupported);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{MqttString, PacketId, PropertyValues, Subscribe, Subscription, SubscriptionOptions};
    use std::num::{NonZeroU16, NonZeroU32};

    fn subscribe(filter: &'static str) -> Request {
        let subscription =
            Subscription { filter: MqttString::from_static(filter).unwrap(), options: SubscriptionOptions::default() };
        Request::Subscribe(Subscribe {
            packet_id: PacketId::new(1).unwrap(),
            properties: Properties::default(),
            subscriptions: vec![subscription],
        })
    }

    #[test]
    fn connack_properties_set_the_limits_and_absent_ones_keep_the_defaults() {
        let properties: Properties = PropertyValues {
            receive_maximum: NonZeroU16::new(3),
            maximum_qos: Some(QoS::AtLeastOnce),
            maximum_packet_size: NonZeroU32::new(100),
            ..PropertyValues::default()
        }
        .into();
        let limits = ServerLimits::from_connack(&properties);
        assert_eq!(limits.receive_maximum, 3);
        assert_eq!(limits.maximum_qos, QoS::AtLeastOnce);
        assert_eq!(limits.maximum_packet_size, Some(100));
        assert!(limits.retain_available);
        assert_eq!(ServerLimits::from_connack(&Properties::default()), ServerLimits::DEFAULT);
    }

    #[test]
    fn wildcards_are_checked_in_the_filter_of_a_shared_subscription() {
        let limits = ServerLimits { wildcard_subscriptions: false, ..ServerLimits::DEFAULT };
        let v5 = ProtocolVersion::V5;
        assert_eq!(limits.check_request(&subscribe("$share/g/a/b"), v5), Ok(()));
        assert_eq!(
            limits.check_request(&subscribe("$share/g/a/+"), v5),
            Err(CommandError::WildcardSubscriptionsNotSupported)
        );
        let limits = ServerLimits { shared_subscriptions: false, ..ServerLimits::DEFAULT };
        assert_eq!(
            limits.check_request(&subscribe("$share/g/a"), v5),
            Err(CommandError::SharedSubscriptionsNotSupported)
        );
    }
}
