//! `verimqtt sub -F %j` and `%J`: a message as one JSON object, with mosquitto_sub's keys in
//! its order (`tst`, `topic`, `qos`, `retain`, `payloadlen`, `mid` at QoS 1 and 2, MQTT 5
//! `properties`, `payload`), compact or, with --pretty, indented with tabs as mosquitto_sub
//! (cJSON) indents.

use std::io;

use chrono::{DateTime, Local};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::ser::Formatter;
use serde_json::value::RawValue;
use verimqtt::codec::Properties;
use verimqtt::runtime::client::Message;

/// How the payload goes into the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// `%j`: as a JSON string (UTF-8 text), or an array of its bytes (anything else).
    Escaped,
    /// `%J`: as the JSON value it is; a payload that is not JSON is an error.
    Embedded,
}

#[derive(Serialize)]
struct Object<'a> {
    tst: String,
    topic: &'a str,
    qos: u8,
    retain: u8,
    payloadlen: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    mid: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<PropertiesObject<'a>>,
    payload: PayloadValue<'a>,
}

enum PayloadValue<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
    Json(&'a RawValue),
    Null,
}

impl Serialize for PayloadValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PayloadValue::Text(text) => serializer.serialize_str(text),
            PayloadValue::Bytes(bytes) => serializer.collect_seq(bytes.iter()),
            PayloadValue::Json(json) => json.serialize(serializer),
            PayloadValue::Null => serializer.serialize_unit(),
        }
    }
}

/// The PUBLISH properties, in the order mosquitto's broker sends them and mosquitto_sub prints
/// them.
struct PropertiesObject<'a>(&'a Properties);

impl Serialize for PropertiesObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let properties = self.0;
        let mut map = serializer.serialize_map(None)?;
        if !properties.user_properties.is_empty() {
            map.serialize_entry("user-properties", &UserProperties(properties))?;
        }
        if let Some(content_type) = &properties.content_type {
            map.serialize_entry("content-type", content_type.as_str())?;
        }
        if let Some(topic) = &properties.response_topic {
            map.serialize_entry("response-topic", topic.as_str())?;
        }
        if let Some(data) = &properties.correlation_data {
            map.serialize_entry("correlation-data", &String::from_utf8_lossy(data))?;
        }
        if let Some(format) = properties.payload_format_indicator {
            map.serialize_entry("payload-format-indicator", &(format as u8))?;
        }
        if let Some(interval) = properties.message_expiry_interval {
            map.serialize_entry("message-expiry-interval", &interval)?;
        }
        for id in &properties.subscription_identifiers {
            map.serialize_entry("subscription-identifier", &id.get())?;
        }
        if let Some(alias) = properties.topic_alias {
            map.serialize_entry("topic-alias", &alias.get())?;
        }
        map.end()
    }
}

/// User properties as an object, in their order, a name repeated as often as it comes.
struct UserProperties<'a>(&'a Properties);

impl Serialize for UserProperties<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.user_properties.len()))?;
        for (name, value) in &self.0.user_properties {
            map.serialize_entry(name.as_str(), value.as_str())?;
        }
        map.end()
    }
}

/// `message`, received at `now`, as a JSON object; an error names why `%J` cannot embed the
/// payload.
pub fn message(message: &Message, now: DateTime<Local>, payload: Payload, pretty: bool) -> Result<Vec<u8>, String> {
    let embedded;
    let value = match payload {
        _ if message.payload.is_empty() => PayloadValue::Null,
        Payload::Escaped => match std::str::from_utf8(&message.payload) {
            Ok(text) => PayloadValue::Text(text),
            Err(_) => PayloadValue::Bytes(&message.payload),
        },
        Payload::Embedded => {
            let not_json = || format!("the payload of a message on {} is not valid JSON (-F %J)", message.topic);
            let text = std::str::from_utf8(&message.payload).map_err(|_| not_json())?;
            embedded = serde_json::from_str::<&RawValue>(text).map_err(|_| not_json())?;
            PayloadValue::Json(embedded)
        }
    };
    let object = Object {
        // mosquitto_sub's timestamp: microseconds, a Z, then the offset (its own quirk).
        tst: now.format("%Y-%m-%dT%H:%M:%S%.6fZ%z").to_string(),
        topic: &message.topic,
        qos: message.qos as u8,
        retain: u8::from(message.retain),
        payloadlen: message.payload.len(),
        mid: message.packet_id.map(|id| id.get()),
        properties: (!message.properties.is_empty()).then_some(PropertiesObject(&message.properties)),
        payload: value,
    };
    let mut out = Vec::new();
    let written = if pretty {
        object.serialize(&mut serde_json::Serializer::with_formatter(&mut out, Tabs::default()))
    } else {
        object.serialize(&mut serde_json::Serializer::new(&mut out))
    };
    written.map_err(|error| format!("cannot write a message as JSON: {error}"))?;
    Ok(out)
}

/// cJSON's formatted output: a tab per level, `"key":<tab>value`, one member per line.
#[derive(Default)]
struct Tabs {
    depth: usize,
}

impl Tabs {
    fn indent<W: ?Sized + io::Write>(&self, writer: &mut W) -> io::Result<()> {
        writer.write_all(&b"\t".repeat(self.depth))
    }
}

impl Formatter for Tabs {
    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth += 1;
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        writer.write_all(b"\n")?;
        self.indent(writer)?;
        writer.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        writer.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(writer)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b":\t")
    }

    fn begin_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        writer.write_all(if first { b"" } else { b", " })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::TimeZone;
    use verimqtt::codec::{MqttString, PacketId, QoS};

    use super::*;

    fn message(payload: &'static [u8], qos: QoS) -> Message {
        Message {
            topic: MqttString::try_from("a/b").unwrap(),
            payload: Bytes::from_static(payload),
            qos,
            retain: false,
            properties: Properties::default(),
            packet_id: (qos != QoS::AtMostOnce).then(|| PacketId::new(3).unwrap()),
        }
    }

    fn json(message: &Message, payload: Payload, pretty: bool) -> String {
        let now = Local.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        String::from_utf8(super::message(message, now, payload, pretty).unwrap()).unwrap()
    }

    fn tst() -> String {
        Local.timestamp_opt(1_700_000_000, 0).unwrap().format("%Y-%m-%dT%H:%M:%S.123456Z%z").to_string()
    }

    #[test]
    fn keys_in_mosquitto_subs_order_with_the_mid_only_at_qos_1_and_2() {
        let at_most_once = json(&message(b"a\"b\\c\x01", QoS::AtMostOnce), Payload::Escaped, false);
        let tst = tst();
        assert_eq!(
            at_most_once,
            format!(r#"{{"tst":"{tst}","topic":"a/b","qos":0,"retain":0,"payloadlen":6,"payload":"a\"b\\c\u0001"}}"#)
        );
        let at_least_once = json(&message(b"x", QoS::AtLeastOnce), Payload::Escaped, false);
        assert!(at_least_once.contains(r#""payloadlen":1,"mid":3,"payload":"x"}"#), "{at_least_once}");
    }

    #[test]
    fn bytes_that_are_not_text_are_an_array_and_an_empty_payload_is_null() {
        assert!(
            json(&message(b"\xff\x00", QoS::AtMostOnce), Payload::Escaped, false).ends_with(r#""payload":[255,0]}"#)
        );
        assert!(json(&message(b"", QoS::AtMostOnce), Payload::Escaped, false).ends_with(r#""payload":null}"#));
    }

    #[test]
    fn embedded_json_is_kept_as_it_is_and_anything_else_is_an_error() {
        let embedded = json(&message(br#"{"b":1,"a":[2]}"#, QoS::AtMostOnce), Payload::Embedded, false);
        assert!(embedded.ends_with(r#""payload":{"b":1,"a":[2]}}"#), "{embedded}");
        let now = Local.timestamp_opt(0, 0).unwrap();
        let error = super::message(&message(b"{oops", QoS::AtMostOnce), now, Payload::Embedded, false).unwrap_err();
        assert!(error.contains("not valid JSON") && error.contains("a/b"), "{error}");
    }

    #[test]
    fn properties_in_mosquittos_order() {
        let mut with = message(b"x", QoS::AtMostOnce);
        with.properties.content_type = Some(MqttString::try_from("ct").unwrap());
        with.properties.user_properties =
            vec![(MqttString::try_from("a").unwrap(), MqttString::try_from("b").unwrap())];
        with.properties.message_expiry_interval = Some(100);
        let printed = json(&with, Payload::Escaped, false);
        assert!(
            printed.contains(
                r#""payloadlen":1,"properties":{"user-properties":{"a":"b"},"content-type":"ct","message-expiry-interval":100},"payload""#
            ),
            "{printed}"
        );
    }

    #[test]
    fn pretty_is_indented_with_tabs_as_cjson_does() {
        let printed = json(&message(b"hi", QoS::AtMostOnce), Payload::Escaped, true);
        let tst = tst();
        assert_eq!(
            printed,
            format!(
                "{{\n\t\"tst\":\t\"{tst}\",\n\t\"topic\":\t\"a/b\",\n\t\"qos\":\t0,\n\t\"retain\":\t0,\n\t\"payloadlen\":\t2,\n\t\"payload\":\t\"hi\"\n}}"
            )
        );
    }
}
