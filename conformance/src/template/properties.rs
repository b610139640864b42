//! MQTT 5 properties in a template, by the codec's field names (`topic_alias`,
//! `session_expiry_interval`, ...). Sent: every property given is set. Expected: only the
//! properties given are checked (a broker may add others), each as a value, `"absent"` or
//! `"present"`.

use std::num::{NonZeroU16, NonZeroU32};

use serde::Deserialize;
use verimqtt::codec::{Binary, MqttString, PayloadFormat, Properties, PropertyValues, QoS, SubscriptionId};

use super::fields::{Context, Items, Matcher, Num, Payload, Prop, TemplateError, Text};

/// A numeric property's codec type, to and from the number a scenario writes.
trait AsNumber: Sized {
    fn from_number(number: u64) -> Option<Self>;
    fn number(&self) -> u64;
}

macro_rules! as_number {
    ($($type:ty: |$n:ident| $from:expr, |$v:ident| $to:expr;)*) => {
        $(impl AsNumber for $type {
            fn from_number($n: u64) -> Option<Self> {
                $from
            }
            fn number(&self) -> u64 {
                let $v = self;
                $to
            }
        })*
    };
}

as_number! {
    u16: |n| u16::try_from(n).ok(), |v| u64::from(*v);
    u32: |n| u32::try_from(n).ok(), |v| u64::from(*v);
    NonZeroU16: |n| u16::try_from(n).ok().and_then(NonZeroU16::new), |v| u64::from(v.get());
    NonZeroU32: |n| u32::try_from(n).ok().and_then(NonZeroU32::new), |v| u64::from(v.get());
    QoS: |n| u8::try_from(n).ok().and_then(QoS::from_u8), |v| *v as u64;
    PayloadFormat: |n| match n { 0 => Some(PayloadFormat::Unspecified), 1 => Some(PayloadFormat::Utf8), _ => None },
        |v| *v as u64;
}

fn value<'a, T>(field: &str, prop: &'a Prop<T>) -> Result<Option<&'a T>, TemplateError> {
    match prop {
        Prop::Value(value) => Ok(Some(value)),
        Prop::Marker(_) => {
            Err(TemplateError::invalid(field, "\"absent\" and \"present\" only make sense in expectations"))
        }
    }
}

macro_rules! properties_template {
    (
        numbers: $($number:ident),*;
        flags: $($flag:ident),*;
        texts: $($text:ident),*;
        binaries: $($binary:ident),*;
    ) => {
        /// The properties of a packet template.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct PropertiesTemplate {
            $(#[serde(default)] pub $number: Option<Prop<Num>>,)*
            $(#[serde(default)] pub $flag: Option<Prop<bool>>,)*
            $(#[serde(default)] pub $text: Option<Prop<Text>>,)*
            $(#[serde(default)] pub $binary: Option<Prop<Payload>>,)*
            /// Compared as a whole list, in order (the order is part of the message).
            #[serde(default)]
            pub user_properties: Option<Items<(Text, Text)>>,
            /// Compared as a whole list, in order; `[]` expects none.
            #[serde(default)]
            pub subscription_identifiers: Option<Vec<Num>>,
        }

        impl PropertiesTemplate {
            pub fn build(&self, context: &Context) -> Result<Properties, TemplateError> {
                let mut values = PropertyValues::default();
                $(if let Some(prop) = &self.$number {
                    if let Some(number) = value(stringify!($number), prop)? {
                        let number = number.resolve(context)?;
                        values.$number = Some(AsNumber::from_number(number).ok_or_else(|| {
                            TemplateError::invalid(stringify!($number), format!("{number} is out of range"))
                        })?);
                    }
                })*
                $(if let Some(prop) = &self.$flag {
                    values.$flag = value(stringify!($flag), prop)?.copied();
                })*
                $(if let Some(prop) = &self.$text {
                    if let Some(text) = value(stringify!($text), prop)? {
                        values.$text = Some(mqtt_string(stringify!($text), text.resolve(context)?)?);
                    }
                })*
                $(if let Some(prop) = &self.$binary {
                    if let Some(payload) = value(stringify!($binary), prop)? {
                        values.$binary = Some(binary(stringify!($binary), payload.bytes()?)?);
                    }
                })*
                if let Some(user_properties) = &self.user_properties {
                    values.user_properties = user_properties.map(context, |(name, value), context| {
                        Ok((
                            mqtt_string("user_properties", name.resolve(context)?)?,
                            mqtt_string("user_properties", value.resolve(context)?)?,
                        ))
                    })?;
                }
                for id in self.subscription_identifiers.iter().flatten() {
                    let id = id.resolve(context)?;
                    values.subscription_identifiers.push(
                        u32::try_from(id).ok().and_then(SubscriptionId::new).ok_or_else(|| {
                            TemplateError::invalid("subscription_identifiers", format!("{id} is out of range"))
                        })?,
                    );
                }
                Ok(values.into())
            }

            pub fn check(&self, matcher: &mut Matcher<'_>, packet: &str, actual: &Properties) {
                $(matcher.prop(&format!("{packet}.properties.{}", stringify!($number)), self.$number.as_ref(),
                    actual.$number.as_ref().map(AsNumber::number),
                    |m, field, expected, actual| m.num(field, Some(expected), actual));)*
                $(matcher.prop(&format!("{packet}.properties.{}", stringify!($flag)), self.$flag.as_ref(),
                    actual.$flag, |m, field, expected, actual| m.flag(field, Some(*expected), actual));)*
                $(matcher.prop(&format!("{packet}.properties.{}", stringify!($text)), self.$text.as_ref(),
                    actual.$text.as_deref(), |m, field, expected, actual| m.text(field, Some(expected), actual));)*
                $(matcher.prop(&format!("{packet}.properties.{}", stringify!($binary)), self.$binary.as_ref(),
                    actual.$binary.as_deref(), |m, field, expected, actual| m.bytes(field, Some(expected), actual));)*
                if let Some(expected) = &self.user_properties {
                    let field = format!("{packet}.properties.user_properties");
                    let expected: Result<Vec<(String, String)>, TemplateError> = expected
                        .map(matcher.context(), |(name, value), context| Ok((name.resolve(context)?, value.resolve(context)?)));
                    let actual: Vec<(String, String)> =
                        actual.user_properties.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
                    match expected {
                        Ok(expected) if expected != actual => matcher.differ(&field, show_list(&expected), show_list(&actual)),
                        Ok(_) => {}
                        Err(error) => matcher.error(&field, error),
                    }
                }
                if let Some(expected) = &self.subscription_identifiers {
                    let field = format!("{packet}.properties.subscription_identifiers");
                    let actual = &actual.subscription_identifiers;
                    if expected.len() != actual.len() {
                        let actual: Vec<u32> = actual.iter().map(|id| id.get()).collect();
                        matcher.differ(&field, format!("{} identifiers", expected.len()), format!("{actual:?}"));
                    } else {
                        for (index, (expected, actual)) in expected.iter().zip(actual).enumerate() {
                            matcher.num(&format!("{field}[{index}]"), Some(expected), u64::from(actual.get()));
                        }
                    }
                }
            }
        }
    };
}

properties_template! {
    numbers: payload_format_indicator, message_expiry_interval, session_expiry_interval, server_keep_alive,
        will_delay_interval, receive_maximum, topic_alias_maximum, topic_alias, maximum_qos, maximum_packet_size;
    flags: request_problem_information, request_response_information, retain_available,
        wildcard_subscription_available, subscription_identifier_available, shared_subscription_available;
    texts: content_type, response_topic, assigned_client_identifier, authentication_method, response_information,
        server_reference, reason_string;
    binaries: correlation_data, authentication_data;
}

/// A list as it is, or its length and first items when it is long.
fn show_list<T: std::fmt::Debug>(items: &[T]) -> String {
    const SHOWN: usize = 8;
    if items.len() <= SHOWN {
        format!("{items:?}")
    } else {
        format!("{} items: {:?} ...", items.len(), &items[..SHOWN])
    }
}

pub fn mqtt_string(field: &str, text: String) -> Result<MqttString, TemplateError> {
    MqttString::try_from(text).map_err(|error| TemplateError::invalid(field, error))
}

pub fn binary(field: &str, bytes: Vec<u8>) -> Result<Binary, TemplateError> {
    Binary::new(bytes.into()).map_err(|error| TemplateError::invalid(field, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context::new("p".to_string(), "c".to_string())
    }

    #[test]
    fn a_template_builds_the_properties_it_names() {
        let template: PropertiesTemplate = serde_json::from_str(
            r#"{"topic_alias": 3, "response_topic": "{prefix}/reply", "correlation_data": {"hex": "01 02"},
                "user_properties": [["k", "v"]], "payload_format_indicator": 1}"#,
        )
        .unwrap();
        let properties = template.build(&context()).unwrap();
        assert_eq!(properties.topic_alias, NonZeroU16::new(3));
        assert_eq!(properties.response_topic.as_deref(), Some("vmq/p/reply"));
        assert_eq!(properties.correlation_data.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(properties.payload_format_indicator, Some(PayloadFormat::Utf8));
        assert_eq!(properties.user_properties.len(), 1);
    }

    #[test]
    fn out_of_range_values_are_template_errors() {
        let template: PropertiesTemplate = serde_json::from_str(r#"{"topic_alias": 0}"#).unwrap();
        assert!(template.build(&context()).is_err());
        let template: PropertiesTemplate = serde_json::from_str(r#"{"maximum_qos": 3}"#).unwrap();
        assert!(template.build(&context()).is_err());
    }

    #[test]
    fn unknown_property_names_are_rejected_when_the_scenario_loads() {
        assert!(serde_json::from_str::<PropertiesTemplate>(r#"{"topic_alais": 1}"#).is_err());
    }

    #[test]
    fn expectations_check_only_what_they_name() {
        let sent: PropertiesTemplate =
            serde_json::from_str(r#"{"topic_alias": 3, "reason_string": "why", "user_properties": [["a", "1"]]}"#)
                .unwrap();
        let actual = sent.build(&context()).unwrap();
        let expected: PropertiesTemplate =
            serde_json::from_str(r#"{"topic_alias": "present", "message_expiry_interval": "absent"}"#).unwrap();
        let mut context = context();
        let mut matcher = Matcher::new(&mut context);
        expected.check(&mut matcher, "publish", &actual);
        assert_eq!(matcher.finish(), Ok(()));

        let expected: PropertiesTemplate =
            serde_json::from_str(r#"{"topic_alias": 4, "user_properties": [["a", "2"]]}"#).unwrap();
        let mut context = super::super::fields::Context::new("p".into(), "c".into());
        let mut matcher = Matcher::new(&mut context);
        expected.check(&mut matcher, "publish", &actual);
        assert_eq!(matcher.finish().unwrap_err().len(), 2);
    }
}
