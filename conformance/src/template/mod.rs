//! Packets written as JSON: built into codec packets to send, and matched against the packets a
//! broker sends.
//!
//! ```json
//! {"publish": {"topic": "{prefix}/a", "qos": 1, "packet_id": "$pid", "payload": "hello"}}
//! ```
//!
//! Sent, a missing field takes its default (QoS 0, no flags, packet identifier 1, no
//! properties). Expected, a missing field is not checked: the broker chooses it.

mod fields;
mod properties;
#[cfg(test)]
mod wire_tests;

use bytes::Bytes;
use serde::Deserialize;
use verimqtt::codec::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS, ReasonCode,
    RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};

pub use fields::{
    Context, Items, Matcher, Num, Payload, Reason, TOPIC_ROOT, TemplateError, Text, hex, parse_hex, show_bytes,
};
pub use properties::PropertiesTemplate;

use properties::{binary, mqtt_string};

/// A packet of any type, as a scenario writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PacketTemplate {
    Connect(ConnectTemplate),
    Connack(ConnackTemplate),
    Publish(PublishTemplate),
    Puback(PublishAckTemplate),
    Pubrec(PublishAckTemplate),
    Pubrel(PublishAckTemplate),
    Pubcomp(PublishAckTemplate),
    Subscribe(SubscribeTemplate),
    Suback(AckTemplate),
    Unsubscribe(UnsubscribeTemplate),
    Unsuback(AckTemplate),
    Pingreq,
    Pingresp,
    Disconnect(ReasonTemplate),
    Auth(ReasonTemplate),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectTemplate {
    /// Sent: defaults to `{client}-` and the connection's name.
    pub client_id: Option<Text>,
    /// Sent: defaults to true.
    pub clean_start: Option<bool>,
    /// Sent: defaults to 60 seconds.
    pub keep_alive: Option<Num>,
    pub username: Option<Text>,
    pub password: Option<Payload>,
    /// Sent with the second user's credentials (the scenario needs the feature `second_user`).
    #[serde(default)]
    pub second_user: bool,
    pub will: Option<WillTemplate>,
    pub properties: Option<Box<PropertiesTemplate>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WillTemplate {
    pub topic: Text,
    pub payload: Option<Payload>,
    pub qos: Option<Num>,
    pub retain: Option<bool>,
    pub properties: Option<Box<PropertiesTemplate>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnackTemplate {
    pub session_present: Option<bool>,
    pub reason_code: Option<Reason>,
    pub properties: Option<Box<PropertiesTemplate>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishTemplate {
    pub topic: Option<Text>,
    pub qos: Option<Num>,
    pub dup: Option<bool>,
    pub retain: Option<bool>,
    /// Sent at QoS 1 or 2: defaults to 1.
    pub packet_id: Option<Num>,
    pub payload: Option<Payload>,
    pub properties: Option<Box<PropertiesTemplate>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishAckTemplate {
    pub packet_id: Option<Num>,
    pub reason_code: Option<Reason>,
    pub properties: Option<Box<PropertiesTemplate>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeTemplate {
    pub packet_id: Option<Num>,
    pub subscriptions: Items<SubscriptionTemplate>,
    pub properties: Option<Box<PropertiesTemplate>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionTemplate {
    pub filter: Text,
    pub qos: Option<Num>,
    pub no_local: Option<bool>,
    pub retain_as_published: Option<bool>,
    pub retain_handling: Option<Num>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeTemplate {
    pub packet_id: Option<Num>,
    pub filters: Items<Text>,
    pub properties: Option<Box<PropertiesTemplate>>,
}

/// SUBACK and UNSUBACK.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckTemplate {
    pub packet_id: Option<Num>,
    /// Expected, each may be a list of the codes accepted.
    pub reason_codes: Option<Items<Reason>>,
    pub properties: Option<Box<PropertiesTemplate>>,
}

/// DISCONNECT and AUTH.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonTemplate {
    pub reason_code: Option<Reason>,
    pub properties: Option<Box<PropertiesTemplate>>,
}

fn packet_id(field: &str, template: Option<&Num>, context: &Context) -> Result<PacketId, TemplateError> {
    let id = template.map_or(Ok(1), |id| id.resolve(context))?;
    u16::try_from(id)
        .ok()
        .and_then(PacketId::new)
        .ok_or_else(|| TemplateError::invalid(field, format!("{id} is no packet identifier")))
}

fn qos(field: &str, template: Option<&Num>, context: &Context) -> Result<QoS, TemplateError> {
    let qos = template.map_or(Ok(0), |qos| qos.resolve(context))?;
    u8::try_from(qos)
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| TemplateError::invalid(field, format!("{qos} is no QoS")))
}

fn properties(
    template: Option<&PropertiesTemplate>,
    context: &Context,
) -> Result<verimqtt::codec::Properties, TemplateError> {
    template.map_or_else(|| Ok(Default::default()), |template| template.build(context))
}

fn reason(template: Option<&Reason>) -> Result<ReasonCode, TemplateError> {
    template.map_or(Ok(ReasonCode::Success), Reason::code)
}

fn reason_codes(template: Option<&Items<Reason>>) -> Result<Vec<ReasonCode>, TemplateError> {
    template.map_or(Ok(Vec::new()), |codes| codes.iter().map(Reason::code).collect())
}

impl PacketTemplate {
    /// The packet to send, for `version`; `default_client_id` names a CONNECT that names no one.
    pub fn build(
        &self,
        version: ProtocolVersion,
        default_client_id: &str,
        context: &Context,
    ) -> Result<Packet, TemplateError> {
        Ok(match self {
            PacketTemplate::Connect(template) => {
                Packet::Connect(Box::new(template.build(version, default_client_id, context)?))
            }
            PacketTemplate::Connack(template) => Packet::ConnAck(ConnAck {
                session_present: template.session_present.unwrap_or(false),
                reason_code: reason(template.reason_code.as_ref())?,
                properties: properties(template.properties.as_deref(), context)?,
            }),
            PacketTemplate::Publish(template) => Packet::Publish(template.build(context)?),
            PacketTemplate::Puback(template) => Packet::PubAck(template.build(context)?),
            PacketTemplate::Pubrec(template) => Packet::PubRec(template.build(context)?),
            PacketTemplate::Pubrel(template) => Packet::PubRel(template.build(context)?),
            PacketTemplate::Pubcomp(template) => Packet::PubComp(template.build(context)?),
            PacketTemplate::Subscribe(template) => Packet::Subscribe(Subscribe {
                packet_id: packet_id("subscribe.packet_id", template.packet_id.as_ref(), context)?,
                properties: properties(template.properties.as_deref(), context)?,
                subscriptions: template.subscriptions.map(context, SubscriptionTemplate::build)?,
            }),
            PacketTemplate::Suback(template) => Packet::SubAck(SubAck {
                packet_id: packet_id("suback.packet_id", template.packet_id.as_ref(), context)?,
                properties: properties(template.properties.as_deref(), context)?,
                reason_codes: reason_codes(template.reason_codes.as_ref())?,
            }),
            PacketTemplate::Unsubscribe(template) => Packet::Unsubscribe(Unsubscribe {
                packet_id: packet_id("unsubscribe.packet_id", template.packet_id.as_ref(), context)?,
                properties: properties(template.properties.as_deref(), context)?,
                filters: template
                    .filters
                    .map(context, |filter, context| mqtt_string("unsubscribe.filters", filter.resolve(context)?))?,
            }),
            PacketTemplate::Unsuback(template) => Packet::UnsubAck(UnsubAck {
                packet_id: packet_id("unsuback.packet_id", template.packet_id.as_ref(), context)?,
                properties: properties(template.properties.as_deref(), context)?,
                reason_codes: reason_codes(template.reason_codes.as_ref())?,
            }),
            PacketTemplate::Pingreq => Packet::PingReq,
            PacketTemplate::Pingresp => Packet::PingResp,
            PacketTemplate::Disconnect(template) => Packet::Disconnect(Disconnect {
                reason_code: reason(template.reason_code.as_ref())?,
                properties: properties(template.properties.as_deref(), context)?,
            }),
            PacketTemplate::Auth(template) => Packet::Auth(Auth {
                reason_code: reason(template.reason_code.as_ref())?,
                properties: properties(template.properties.as_deref(), context)?,
            }),
        })
    }

    /// Compares a received packet with the template, noting every difference.
    pub fn check(&self, packet: &Packet, matcher: &mut Matcher<'_>) {
        match (self, packet) {
            (PacketTemplate::Connect(template), Packet::Connect(connect)) => template.check(connect, matcher),
            (PacketTemplate::Connack(template), Packet::ConnAck(connack)) => {
                matcher.flag("connack.session_present", template.session_present, connack.session_present);
                matcher.reason("connack.reason_code", template.reason_code.as_ref(), connack.reason_code);
                check_properties(template.properties.as_deref(), matcher, "connack", &connack.properties);
            }
            (PacketTemplate::Publish(template), Packet::Publish(publish)) => template.check(publish, matcher),
            (PacketTemplate::Puback(template), Packet::PubAck(ack)) => template.check("puback", ack, matcher),
            (PacketTemplate::Pubrec(template), Packet::PubRec(ack)) => template.check("pubrec", ack, matcher),
            (PacketTemplate::Pubrel(template), Packet::PubRel(ack)) => template.check("pubrel", ack, matcher),
            (PacketTemplate::Pubcomp(template), Packet::PubComp(ack)) => template.check("pubcomp", ack, matcher),
            (PacketTemplate::Subscribe(template), Packet::Subscribe(subscribe)) => {
                matcher.num("subscribe.packet_id", template.packet_id.as_ref(), u64::from(subscribe.packet_id.get()));
                check_properties(template.properties.as_deref(), matcher, "subscribe", &subscribe.properties);
                if template.subscriptions.len() != subscribe.subscriptions.len() {
                    matcher.differ(
                        "subscribe.subscriptions",
                        template.subscriptions.len(),
                        subscribe.subscriptions.len(),
                    );
                }
                for (template, subscription) in template.subscriptions.iter().zip(&subscribe.subscriptions) {
                    template.check(subscription, matcher);
                }
            }
            (PacketTemplate::Suback(template), Packet::SubAck(suback)) => {
                template.check("suback", suback.packet_id, &suback.reason_codes, &suback.properties, matcher)
            }
            (PacketTemplate::Unsubscribe(template), Packet::Unsubscribe(unsubscribe)) => {
                matcher.num(
                    "unsubscribe.packet_id",
                    template.packet_id.as_ref(),
                    u64::from(unsubscribe.packet_id.get()),
                );
                check_properties(template.properties.as_deref(), matcher, "unsubscribe", &unsubscribe.properties);
                if template.filters.len() != unsubscribe.filters.len() {
                    matcher.differ("unsubscribe.filters", template.filters.len(), unsubscribe.filters.len());
                }
                for (template, filter) in template.filters.iter().zip(&unsubscribe.filters) {
                    matcher.text("unsubscribe.filters", Some(template), filter);
                }
            }
            (PacketTemplate::Unsuback(template), Packet::UnsubAck(unsuback)) => {
                template.check("unsuback", unsuback.packet_id, &unsuback.reason_codes, &unsuback.properties, matcher)
            }
            (PacketTemplate::Pingreq, Packet::PingReq) | (PacketTemplate::Pingresp, Packet::PingResp) => {}
            (PacketTemplate::Disconnect(template), Packet::Disconnect(disconnect)) => {
                template.check("disconnect", disconnect.reason_code, &disconnect.properties, matcher)
            }
            (PacketTemplate::Auth(template), Packet::Auth(auth)) => {
                template.check("auth", auth.reason_code, &auth.properties, matcher)
            }
            (template, packet) => matcher.differ("packet", template.name(), packet.packet_type()),
        }
    }

    /// The packet type's name, as the specification writes it.
    pub fn name(&self) -> &'static str {
        match self {
            PacketTemplate::Connect(_) => "CONNECT",
            PacketTemplate::Connack(_) => "CONNACK",
            PacketTemplate::Publish(_) => "PUBLISH",
            PacketTemplate::Puback(_) => "PUBACK",
            PacketTemplate::Pubrec(_) => "PUBREC",
            PacketTemplate::Pubrel(_) => "PUBREL",
            PacketTemplate::Pubcomp(_) => "PUBCOMP",
            PacketTemplate::Subscribe(_) => "SUBSCRIBE",
            PacketTemplate::Suback(_) => "SUBACK",
            PacketTemplate::Unsubscribe(_) => "UNSUBSCRIBE",
            PacketTemplate::Unsuback(_) => "UNSUBACK",
            PacketTemplate::Pingreq => "PINGREQ",
            PacketTemplate::Pingresp => "PINGRESP",
            PacketTemplate::Disconnect(_) => "DISCONNECT",
            PacketTemplate::Auth(_) => "AUTH",
        }
    }
}

fn check_properties(
    template: Option<&PropertiesTemplate>,
    matcher: &mut Matcher<'_>,
    packet: &str,
    actual: &verimqtt::codec::Properties,
) {
    if let Some(template) = template {
        template.check(matcher, packet, actual);
    }
}

impl ConnectTemplate {
    pub fn build(
        &self,
        version: ProtocolVersion,
        default_client_id: &str,
        context: &Context,
    ) -> Result<Connect, TemplateError> {
        let client_id = match &self.client_id {
            Some(client_id) => client_id.resolve(context)?,
            None => context.expand(default_client_id),
        };
        let mut connect = Connect::new(version, mqtt_string("connect.client_id", client_id)?);
        connect.clean_start = self.clean_start.unwrap_or(true);
        let keep_alive = self.keep_alive.as_ref().map_or(Ok(60), |keep_alive| keep_alive.resolve(context))?;
        connect.keep_alive =
            u16::try_from(keep_alive).map_err(|_| TemplateError::invalid("connect.keep_alive", keep_alive))?;
        connect.properties = properties(self.properties.as_deref(), context)?;
        connect.username =
            self.username.as_ref().map(|name| mqtt_string("connect.username", name.resolve(context)?)).transpose()?;
        connect.password =
            self.password.as_ref().map(|password| binary("connect.password", password.bytes()?)).transpose()?;
        if self.second_user {
            crate::credentials::apply_second(&mut connect)
                .map_err(|error| TemplateError::invalid("connect.second_user", error))?;
        }
        connect.will = self.will.as_ref().map(|will| will.build(context)).transpose()?;
        Ok(connect)
    }

    fn check(&self, connect: &Connect, matcher: &mut Matcher<'_>) {
        matcher.text("connect.client_id", self.client_id.as_ref(), &connect.client_id);
        matcher.flag("connect.clean_start", self.clean_start, connect.clean_start);
        matcher.num("connect.keep_alive", self.keep_alive.as_ref(), u64::from(connect.keep_alive));
        check_properties(self.properties.as_deref(), matcher, "connect", &connect.properties);
    }
}

impl WillTemplate {
    fn build(&self, context: &Context) -> Result<Will, TemplateError> {
        Ok(Will {
            topic: mqtt_string("will.topic", self.topic.resolve(context)?)?,
            payload: binary("will.payload", self.payload.as_ref().map_or(Ok(Vec::new()), Payload::bytes)?)?,
            qos: qos("will.qos", self.qos.as_ref(), context)?,
            retain: self.retain.unwrap_or(false),
            properties: properties(self.properties.as_deref(), context)?,
        })
    }
}

impl PublishTemplate {
    fn build(&self, context: &Context) -> Result<Publish, TemplateError> {
        let topic = self.topic.as_ref().map_or(Ok(String::new()), |topic| topic.resolve(context))?;
        let qos = qos("publish.qos", self.qos.as_ref(), context)?;
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce | QoS::ExactlyOnce => {
                Some(packet_id("publish.packet_id", self.packet_id.as_ref(), context)?)
            }
        };
        let payload = self.payload.as_ref().map_or(Ok(Vec::new()), Payload::bytes)?;
        Ok(Publish {
            dup: self.dup.unwrap_or(false),
            qos,
            retain: self.retain.unwrap_or(false),
            topic: mqtt_string("publish.topic", topic)?,
            packet_id,
            properties: properties(self.properties.as_deref(), context)?,
            payload: Bytes::from(payload),
        })
    }

    fn check(&self, publish: &Publish, matcher: &mut Matcher<'_>) {
        matcher.text("publish.topic", self.topic.as_ref(), &publish.topic);
        matcher.num("publish.qos", self.qos.as_ref(), publish.qos as u64);
        matcher.flag("publish.dup", self.dup, publish.dup);
        matcher.flag("publish.retain", self.retain, publish.retain);
        match (self.packet_id.as_ref(), publish.packet_id) {
            (Some(expected), Some(actual)) => matcher.num("publish.packet_id", Some(expected), u64::from(actual.get())),
            (Some(_), None) => matcher.differ("publish.packet_id", "an identifier", "none"),
            (None, _) => {}
        }
        matcher.bytes("publish.payload", self.payload.as_ref(), &publish.payload);
        check_properties(self.properties.as_deref(), matcher, "publish", &publish.properties);
    }
}

impl PublishAckTemplate {
    fn build(&self, context: &Context) -> Result<PublishAck, TemplateError> {
        Ok(PublishAck {
            packet_id: packet_id("packet_id", self.packet_id.as_ref(), context)?,
            reason_code: reason(self.reason_code.as_ref())?,
            properties: properties(self.properties.as_deref(), context)?,
        })
    }

    fn check(&self, name: &str, ack: &PublishAck, matcher: &mut Matcher<'_>) {
        matcher.num(&format!("{name}.packet_id"), self.packet_id.as_ref(), u64::from(ack.packet_id.get()));
        matcher.reason(&format!("{name}.reason_code"), self.reason_code.as_ref(), ack.reason_code);
        check_properties(self.properties.as_deref(), matcher, name, &ack.properties);
    }
}

impl SubscriptionTemplate {
    fn build(&self, context: &Context) -> Result<Subscription, TemplateError> {
        let retain_handling = match self.retain_handling.as_ref().map_or(Ok(0), |handling| handling.resolve(context))? {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNewSubscription,
            2 => RetainHandling::DoNotSend,
            other => return Err(TemplateError::invalid("subscription.retain_handling", other)),
        };
        Ok(Subscription {
            filter: mqtt_string("subscription.filter", self.filter.resolve(context)?)?,
            options: SubscriptionOptions {
                qos: qos("subscription.qos", self.qos.as_ref(), context)?,
                no_local: self.no_local.unwrap_or(false),
                retain_as_published: self.retain_as_published.unwrap_or(false),
                retain_handling,
            },
        })
    }

    fn check(&self, subscription: &Subscription, matcher: &mut Matcher<'_>) {
        let options = &subscription.options;
        matcher.text("subscription.filter", Some(&self.filter), &subscription.filter);
        matcher.num("subscription.qos", self.qos.as_ref(), options.qos as u64);
        matcher.flag("subscription.no_local", self.no_local, options.no_local);
        matcher.flag("subscription.retain_as_published", self.retain_as_published, options.retain_as_published);
        matcher.num("subscription.retain_handling", self.retain_handling.as_ref(), options.retain_handling as u64);
    }
}

impl AckTemplate {
    fn check(
        &self,
        name: &str,
        packet_id: PacketId,
        codes: &[ReasonCode],
        actual_properties: &verimqtt::codec::Properties,
        matcher: &mut Matcher<'_>,
    ) {
        matcher.num(&format!("{name}.packet_id"), self.packet_id.as_ref(), u64::from(packet_id.get()));
        if let Some(expected) = &self.reason_codes {
            let field = format!("{name}.reason_codes");
            if expected.len() != codes.len() {
                matcher.differ(&field, format!("{} codes", expected.len()), format!("{codes:?}"));
            } else {
                for (index, (expected, actual)) in expected.iter().zip(codes).enumerate() {
                    matcher.reason(&format!("{field}[{index}]"), Some(expected), *actual);
                }
            }
        }
        check_properties(self.properties.as_deref(), matcher, name, actual_properties);
    }
}

impl ReasonTemplate {
    fn check(
        &self,
        name: &str,
        code: ReasonCode,
        actual_properties: &verimqtt::codec::Properties,
        matcher: &mut Matcher<'_>,
    ) {
        matcher.reason(&format!("{name}.reason_code"), self.reason_code.as_ref(), code);
        check_properties(self.properties.as_deref(), matcher, name, actual_properties);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(json: &str) -> PacketTemplate {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_publish_template_builds_with_defaults() {
        let context = Context::new("p".into(), "c".into());
        let packet = template(r#"{"publish": {"topic": "{prefix}/a", "qos": 1, "payload": "x"}}"#)
            .build(ProtocolVersion::V311, "{client}-a", &context)
            .unwrap();
        let Packet::Publish(publish) = packet else { panic!("{packet:?}") };
        assert_eq!(publish.topic, "vmq/p/a");
        assert_eq!(publish.packet_id, PacketId::new(1));
        assert!(!publish.retain && !publish.dup);
    }

    #[test]
    fn a_connect_without_client_id_gets_the_default() {
        let context = Context::new("p".into(), "c7".into());
        let packet =
            template(r#"{"connect": {"keep_alive": 5}}"#).build(ProtocolVersion::V5, "{client}-sub", &context).unwrap();
        let Packet::Connect(connect) = packet else { panic!("{packet:?}") };
        assert_eq!(connect.client_id, "c7-sub");
        assert_eq!(connect.keep_alive, 5);
        assert!(connect.clean_start);
    }

    #[test]
    fn matching_reports_each_difference_and_captures_the_broker_s_choices() {
        let mut context = Context::new("p".into(), "c".into());
        let sent = Context::new("p".into(), "c".into());
        let received = template(r#"{"publish": {"topic": "vmq/p/a", "qos": 1, "packet_id": 9, "payload": "x"}}"#)
            .build(ProtocolVersion::V5, "", &sent)
            .unwrap();
        let expected =
            template(r#"{"publish": {"topic": "{prefix}/a", "qos": 1, "packet_id": "$pid", "retain": true}}"#);
        let mut matcher = Matcher::new(&mut context);
        expected.check(&received, &mut matcher);
        assert_eq!(matcher.finish(), Err(vec!["publish.retain: expected true, received false".to_string()]));
        assert_eq!(Num::Var("pid".into()).resolve(&context), Ok(9));
    }

    #[test]
    fn a_packet_of_another_type_is_a_difference() {
        let mut context = Context::new("p".into(), "c".into());
        let mut matcher = Matcher::new(&mut context);
        template(r#"{"puback": {}}"#).check(&Packet::PingResp, &mut matcher);
        assert_eq!(matcher.finish(), Err(vec!["packet: expected PUBACK, received PINGRESP".to_string()]));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<PacketTemplate>(r#"{"publish": {"topik": "a"}}"#).is_err());
        assert!(serde_json::from_str::<PacketTemplate>(r#"{"publsh": {}}"#).is_err());
    }
}
