//! `-D COMMAND IDENTIFIER VALUE`: MQTT 5 properties of the CONNECT, the will and the PUBLISH,
//! named as mosquitto_pub and mosquitto_sub name them (`-D connect session-expiry-interval
//! 60`, `-D publish user-property name value`).

use std::num::{NonZeroU16, NonZeroU32};

use verimqtt::client::ClientOptions;
use verimqtt::codec::{Binary, MqttString, PayloadFormat, Properties};

/// The properties the `-D` flags set, by the packet they go in.
#[derive(Debug, Clone, Default)]
pub struct PropertyFlags {
    connect: Vec<ConnectProperty>,
    pub will: Properties,
    pub publish: Properties,
}

#[derive(Debug, Clone)]
enum ConnectProperty {
    SessionExpiryInterval(u32),
    ReceiveMaximum(NonZeroU16),
    MaximumPacketSize(NonZeroU32),
    TopicAliasMaximum(u16),
    RequestResponseInformation(bool),
    RequestProblemInformation(bool),
    UserProperty(MqttString, MqttString),
}

impl PropertyFlags {
    /// Reads the values of the `-D` flags one after the other, each `command identifier
    /// value` or, for a user property, `command user-property name value`; `publish` says
    /// whether PUBLISH properties make sense (`pub`) or not (`sub`).
    pub fn parse(values: &[String], publish: bool) -> Result<PropertyFlags, String> {
        let mut parsed = PropertyFlags::default();
        let mut rest = values;
        while !rest.is_empty() {
            let length = if rest.get(1).is_some_and(|identifier| identifier == "user-property") { 4 } else { 3 };
            let (flag, after) = rest.split_at(length.min(rest.len()));
            rest = after;
            let (command, identifier, values) = match flag {
                [command, identifier, values @ ..] => (command.as_str(), identifier.as_str(), values),
                _ => return Err("-D takes a command, a property and its value".into()),
            };
            let context = || format!("-D {command} {identifier}");
            let value = || match values {
                [value] => Ok(value.as_str()),
                _ => Err(format!("{}: one value expected", context())),
            };
            match command {
                "connect" => parsed
                    .connect
                    .push(connect_property(identifier, values, value).map_err(|why| format!("{}: {why}", context()))?),
                "will" => message_property(&mut parsed.will, identifier, values, value)
                    .map_err(|why| format!("{}: {why}", context()))?,
                "publish" if publish => message_property(&mut parsed.publish, identifier, values, value)
                    .map_err(|why| format!("{}: {why}", context()))?,
                "publish" | "subscribe" | "unsubscribe" | "disconnect" | "auth" => {
                    return Err(format!("{}: verimqtt does not set properties of {command} here", context()));
                }
                other => return Err(format!("-D: unknown command {other:?} (connect, will, publish)")),
            }
        }
        Ok(parsed)
    }

    /// Whether any `-D` was given: they need MQTT 5.
    pub fn is_empty(&self) -> bool {
        self.connect.is_empty() && self.will.is_empty() && self.publish.is_empty()
    }

    /// Sets the CONNECT's properties in `options`.
    pub fn apply_to_connect(&self, options: &mut ClientOptions) {
        for property in &self.connect {
            match property.clone() {
                ConnectProperty::SessionExpiryInterval(seconds) => options.session_expiry_interval = seconds,
                ConnectProperty::ReceiveMaximum(maximum) => options.receive_maximum = maximum,
                ConnectProperty::MaximumPacketSize(size) => options.maximum_packet_size = Some(size),
                ConnectProperty::TopicAliasMaximum(maximum) => options.topic_alias_maximum = maximum,
                ConnectProperty::RequestResponseInformation(on) => options.request_response_information = on,
                ConnectProperty::RequestProblemInformation(on) => options.request_problem_information = on,
                ConnectProperty::UserProperty(name, value) => options.user_properties.push((name, value)),
            }
        }
    }
}

fn connect_property<'a>(
    identifier: &str,
    values: &'a [String],
    value: impl Fn() -> Result<&'a str, String>,
) -> Result<ConnectProperty, String> {
    Ok(match identifier {
        "session-expiry-interval" => ConnectProperty::SessionExpiryInterval(number(value()?)?),
        "receive-maximum" => ConnectProperty::ReceiveMaximum(number(value()?)?),
        "maximum-packet-size" => ConnectProperty::MaximumPacketSize(number(value()?)?),
        "topic-alias-maximum" => ConnectProperty::TopicAliasMaximum(number(value()?)?),
        "request-response-information" => ConnectProperty::RequestResponseInformation(flag(value()?)?),
        "request-problem-information" => ConnectProperty::RequestProblemInformation(flag(value()?)?),
        "user-property" => {
            let (name, value) = pair(values)?;
            ConnectProperty::UserProperty(name, value)
        }
        other => return Err(format!("{other:?} is not a CONNECT property verimqtt sets")),
    })
}

/// A property of an application message: a will's or a PUBLISH's.
fn message_property<'a>(
    properties: &mut Properties,
    identifier: &str,
    values: &'a [String],
    value: impl Fn() -> Result<&'a str, String>,
) -> Result<(), String> {
    match identifier {
        "payload-format-indicator" => {
            properties.payload_format_indicator =
                Some(if flag(value()?)? { PayloadFormat::Utf8 } else { PayloadFormat::Unspecified });
        }
        "message-expiry-interval" => properties.message_expiry_interval = Some(number(value()?)?),
        "content-type" => properties.content_type = Some(text(value()?)?),
        "response-topic" => properties.response_topic = Some(text(value()?)?),
        "correlation-data" => {
            properties.correlation_data =
                Some(Binary::try_from(value()?.as_bytes()).map_err(|error| error.to_string())?);
        }
        "will-delay-interval" => properties.will_delay_interval = Some(number(value()?)?),
        "user-property" => properties.user_properties.push(pair(values)?),
        other => return Err(format!("{other:?} is not a property verimqtt sets here")),
    }
    Ok(())
}

fn number<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{value:?} is not a valid number for it"))
}

fn flag(value: &str) -> Result<bool, String> {
    match value {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(format!("{other:?} is not 0 or 1")),
    }
}

fn text(value: &str) -> Result<MqttString, String> {
    MqttString::try_from(value).map_err(|error| error.to_string())
}

fn pair(values: &[String]) -> Result<(MqttString, MqttString), String> {
    match values {
        [name, value] => Ok((text(name)?, text(value)?)),
        _ => Err("a name and a value expected".into()),
    }
}

#[cfg(test)]
mod tests {
    use verimqtt::codec::ProtocolVersion;

    use super::*;

    fn flags(list: &[&[&str]]) -> Vec<String> {
        list.iter().flat_map(|flag| flag.iter().map(|part| part.to_string())).collect()
    }

    #[test]
    fn properties_go_to_their_packet() {
        let parsed = PropertyFlags::parse(
            &flags(&[
                &["connect", "session-expiry-interval", "60"],
                &["connect", "user-property", "a", "b"],
                &["publish", "content-type", "text/plain"],
                &["publish", "user-property", "c", "d"],
                &["will", "will-delay-interval", "5"],
            ]),
            true,
        )
        .unwrap();
        let mut options = ClientOptions::new(ProtocolVersion::V5, MqttString::try_from("id").unwrap());
        parsed.apply_to_connect(&mut options);
        assert_eq!(options.session_expiry_interval, 60);
        assert_eq!(options.user_properties.len(), 1);
        assert_eq!(parsed.publish.content_type.as_deref(), Some("text/plain"));
        assert_eq!(parsed.publish.user_properties.len(), 1);
        assert_eq!(parsed.will.will_delay_interval, Some(5));
    }

    #[test]
    fn wrong_flags_are_named() {
        for (flag, publish, wanted) in [
            (&["connect", "receive-maximum", "0"][..], true, "not a valid number"),
            (&["connect", "content-type", "x"], true, "not a CONNECT property"),
            (&["publish", "content-type", "x"], false, "does not set properties of publish"),
            (&["subscribe", "user-property", "a", "b"], true, "does not set properties of subscribe"),
            (&["publish", "user-property", "a"], true, "a name and a value"),
            (&["bogus", "x", "y"], true, "unknown command"),
        ] {
            let error = PropertyFlags::parse(&flags(&[flag]), publish).unwrap_err();
            assert!(error.contains(wanted), "{flag:?}: {error}");
        }
    }
}
