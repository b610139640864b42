//! `-D COMMAND IDENTIFIER VALUE`: MQTT 5 properties of the CONNECT, the will, the PUBLISH,
//! the SUBSCRIBE, the UNSUBSCRIBE and the DISCONNECT, named as mosquitto_pub and mosquitto_sub
//! name them (`-D connect session-expiry-interval 60`, `-D publish user-property name value`).

use std::num::{NonZeroU16, NonZeroU32};

use verimqtt::client::ClientOptions;
use verimqtt::codec::{Binary, MqttString, PayloadFormat, Properties, SubscriptionId};

/// The properties the `-D` flags set, by the packet they go in.
#[derive(Debug, Clone, Default)]
pub struct PropertyFlags {
    connect: Vec<ConnectProperty>,
    pub will: Properties,
    pub publish: Properties,
    pub subscribe: Properties,
    pub unsubscribe: Properties,
    pub disconnect: Properties,
}

/// The command a `-D` flag is given to, which decides the packets it may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Pub,
    Sub,
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
    /// value` or, for a user property, `command user-property name value`. `pub` sets the
    /// PUBLISH's properties and `sub` the SUBSCRIBE's and the UNSUBSCRIBE's, as mosquitto's.
    pub fn parse(values: &[String], command: Command) -> Result<PropertyFlags, String> {
        let mut parsed = PropertyFlags::default();
        let mut rest = values;
        while !rest.is_empty() {
            let length = if rest.get(1).is_some_and(|identifier| identifier == "user-property") { 4 } else { 3 };
            let (flag, after) = rest.split_at(length.min(rest.len()));
            rest = after;
            let (packet, identifier, values) = match flag {
                [packet, identifier, values @ ..] => (packet.as_str(), identifier.as_str(), values),
                _ => return Err("-D takes a command, a property and its value".into()),
            };
            let context = || format!("-D {packet} {identifier}");
            let value = || match values {
                [value] => Ok(value.as_str()),
                _ => Err(format!("{}: one value expected", context())),
            };
            let set = match (packet, command) {
                ("connect", _) => {
                    connect_property(identifier, values, value).map(|property| parsed.connect.push(property))
                }
                ("will", _) => set_property(&mut parsed.will, packet, identifier, values),
                ("publish", Command::Pub) => set_property(&mut parsed.publish, packet, identifier, values),
                ("subscribe", Command::Sub) => set_property(&mut parsed.subscribe, packet, identifier, values),
                ("unsubscribe", Command::Sub) => set_property(&mut parsed.unsubscribe, packet, identifier, values),
                ("disconnect", _) => set_property(&mut parsed.disconnect, packet, identifier, values),
                ("publish" | "subscribe" | "unsubscribe", _) => {
                    Err(format!("this command sends no {}", packet.to_uppercase()))
                }
                ("auth", _) => Err("verimqtt's clients do not set AUTH properties".into()),
                (other, _) => {
                    return Err(format!(
                        "-D: unknown packet {other:?} (connect, will, publish, subscribe, unsubscribe, disconnect)"
                    ));
                }
            };
            set.map_err(|why| format!("{}: {why}", context()))?;
        }
        Ok(parsed)
    }

    /// Whether any `-D` was given: they need MQTT 5.
    pub fn is_empty(&self) -> bool {
        self.connect.is_empty()
            && [&self.will, &self.publish, &self.subscribe, &self.unsubscribe, &self.disconnect]
                .iter()
                .all(|properties| properties.is_empty())
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

/// Whether `-D` sets property `identifier` in `packet`, besides User Properties, which all
/// packets take.
fn settable(packet: &str, identifier: &str) -> bool {
    const MESSAGE: [&str; 5] =
        ["payload-format-indicator", "message-expiry-interval", "content-type", "response-topic", "correlation-data"];
    match packet {
        "publish" => MESSAGE.contains(&identifier),
        "will" => MESSAGE.contains(&identifier) || identifier == "will-delay-interval",
        "subscribe" => identifier == "subscription-identifier",
        "disconnect" => matches!(identifier, "session-expiry-interval" | "reason-string"),
        _ => false,
    }
}

/// Sets property `identifier` of `packet` (any but the CONNECT) from `values`.
fn set_property(properties: &mut Properties, packet: &str, identifier: &str, values: &[String]) -> Result<(), String> {
    if identifier == "user-property" {
        properties.user_properties.push(pair(values)?);
        return Ok(());
    }
    if !settable(packet, identifier) {
        return Err(format!("{identifier:?} is not a property verimqtt sets here"));
    }
    let [value] = values else { return Err("one value expected".into()) };
    match identifier {
        "payload-format-indicator" => {
            properties.payload_format_indicator =
                Some(if flag(value)? { PayloadFormat::Utf8 } else { PayloadFormat::Unspecified });
        }
        "message-expiry-interval" => properties.message_expiry_interval = Some(number(value)?),
        "content-type" => properties.content_type = Some(text(value)?),
        "response-topic" => properties.response_topic = Some(text(value)?),
        "correlation-data" => {
            properties.correlation_data = Some(Binary::try_from(value.as_bytes()).map_err(|error| error.to_string())?);
        }
        "will-delay-interval" => properties.will_delay_interval = Some(number(value)?),
        "subscription-identifier" => {
            let id: u32 = number(value)?;
            let id = SubscriptionId::new(id)
                .ok_or_else(|| format!("{id} is not a Subscription Identifier (1 to {})", SubscriptionId::MAX))?;
            properties.subscription_identifiers.push(id);
        }
        "session-expiry-interval" => properties.session_expiry_interval = Some(number(value)?),
        "reason-string" => properties.reason_string = Some(text(value)?),
        other => return Err(format!("{other:?} is listed as settable but not set: a bug in verimqtt")),
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
                &["disconnect", "session-expiry-interval", "0"],
                &["disconnect", "reason-string", "done"],
            ]),
            Command::Pub,
        )
        .unwrap();
        let mut options = ClientOptions::new(ProtocolVersion::V5, MqttString::try_from("id").unwrap());
        parsed.apply_to_connect(&mut options);
        assert_eq!(options.session_expiry_interval, 60);
        assert_eq!(options.user_properties.len(), 1);
        assert_eq!(parsed.publish.content_type.as_deref(), Some("text/plain"));
        assert_eq!(parsed.publish.user_properties.len(), 1);
        assert_eq!(parsed.will.will_delay_interval, Some(5));
        assert_eq!(parsed.disconnect.session_expiry_interval, Some(0));
        assert_eq!(parsed.disconnect.reason_string.as_deref(), Some("done"));
    }

    #[test]
    fn sub_sets_the_subscribe_and_the_unsubscribe() {
        let parsed = PropertyFlags::parse(
            &flags(&[
                &["subscribe", "subscription-identifier", "7"],
                &["subscribe", "user-property", "a", "b"],
                &["unsubscribe", "user-property", "c", "d"],
            ]),
            Command::Sub,
        )
        .unwrap();
        assert_eq!(parsed.subscribe.subscription_identifiers, vec![SubscriptionId::new(7).unwrap()]);
        assert_eq!(parsed.subscribe.user_properties.len(), 1);
        assert_eq!(parsed.unsubscribe.user_properties.len(), 1);
        assert!(!parsed.is_empty());
    }

    #[test]
    fn wrong_flags_are_named() {
        for (flag, command, wanted) in [
            (&["connect", "receive-maximum", "0"][..], Command::Pub, "not a valid number"),
            (&["connect", "content-type", "x"], Command::Pub, "not a CONNECT property"),
            (&["publish", "content-type", "x"], Command::Sub, "this command sends no PUBLISH"),
            (&["subscribe", "user-property", "a", "b"], Command::Pub, "this command sends no SUBSCRIBE"),
            (&["subscribe", "subscription-identifier", "0"], Command::Sub, "not a Subscription Identifier"),
            (&["subscribe", "subscription-identifier", "268435456"], Command::Sub, "not a Subscription Identifier"),
            (&["unsubscribe", "reason-string", "x"], Command::Sub, "not a property verimqtt sets here"),
            (&["disconnect", "content-type", "x"], Command::Sub, "not a property verimqtt sets here"),
            (&["publish", "will-delay-interval", "5"], Command::Pub, "not a property verimqtt sets here"),
            (&["auth", "user-property", "a", "b"], Command::Sub, "do not set AUTH properties"),
            (&["publish", "user-property", "a"], Command::Pub, "a name and a value"),
            (&["bogus", "x", "y"], Command::Pub, "unknown packet"),
        ] {
            let error = PropertyFlags::parse(&flags(&[flag]), command).unwrap_err();
            assert!(error.contains(wanted), "{flag:?}: {error}");
        }
    }
}
