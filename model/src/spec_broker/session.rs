//! The specification broker's session for one client: its subscription, the copies of
//! messages it owes or may send, and the QoS 2 ids it received.
//!
//! Unlike the design broker's session, a copy here is a *permission*: the choices MQTT leaves
//! open are kept open for as long as the wire has not decided them (a QoS 0 copy may be sent
//! or dropped, an extra copy for an overlapping subscription may be sent or not), so one spec
//! state stands for every broker that made either choice so far.

use crate::config::{Config, Qos};
use crate::packet::{Message, PacketId};
use crate::retained::RetainedStore;
use crate::routing::Subscribed;

/// The order MQTT keeps: a server sends the PUBLISHes of one topic and QoS in the order it
/// received them from each client ([MQTT-4.6.0-6] in 3.1.1, [MQTT-4.6.0-5] in 5.0). Which QoS
/// the rule means is not said for a downgraded copy, so the key holds both, the weaker
/// reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderKey {
    pub publisher: u8,
    pub topic: u8,
    pub published: Qos,
    pub copy: Qos,
}

/// A QoS 1/2 copy whose PUBLISH went out with a packet id: it lives until PUBACK / PUBCOMP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flight {
    pub id: PacketId,
    /// PUBREC received: only PUBREL may go out for it now [MQTT-4.3.3-1] / [MQTT-4.3.3-6].
    pub released: bool,
    /// Its PUBLISH (or PUBREL, once released) went out on the session's current connection;
    /// until then, after a resumption, it may be resent once [MQTT-4.4.0-1].
    pub sent_on_connection: bool,
}

/// One copy of a message for this session, in the order the broker took the messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Copy {
    pub message: Message,
    pub qos: Qos,
    /// None for a retained copy sent to a new subscription: MQTT orders what a server
    /// forwards from a publisher, not those.
    pub key: Option<OrderKey>,
    /// The broker may drop it instead of sending it: QoS 0 ([MQTT-4.3.1-1] at most once; 3.1.1
    /// [MQTT-3.1.2-5] and 5.0 §4.1 leave keeping QoS 0 for an offline session optional), an
    /// extra copy for an overlapping subscription, or a copy not yet started when its
    /// subscription was deleted ([MQTT-3.10.4-3] binds only deliveries already started).
    pub optional: bool,
    /// An extra copy for an additional matching subscription (3.1.1 §3.3.5 and 5.0 §3.3.4
    /// allow one per subscription, each at its own QoS).
    pub extra: bool,
    /// Routed while the session had no connection.
    pub routed_offline: bool,
    pub flight: Option<Flight>,
}

impl Copy {
    /// An earlier copy of the same order key that must go out before this one: a copy not
    /// yet sent that the broker may not drop, or a flight whose PUBLISH is due again on this
    /// connection. A released flight no longer blocks: its PUBLISH was received.
    fn blocks_later(&self) -> bool {
        match self.flight {
            None => !self.optional,
            Some(f) => !f.released && !f.sent_on_connection,
        }
    }
}

/// How the broker took a QoS 2 PUBLISH it has not yet seen the PUBREL of (5.0 §4.3.3, figure
/// 4.3; 3.1.1 figure 4.3): MQTT allows either method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Inbound {
    /// Method A: the message is stored and routed on PUBREL.
    Stored { message: u8 },
    /// Method B: the message was routed on PUBLISH; the id is kept until PUBREL so a resent
    /// PUBLISH is not routed again [MQTT-4.3.3-2] / [MQTT-4.3.3-10].
    Routed,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Session {
    /// The session outlives its connection (3.1.1 CleanSession=0; 5.0 a non-zero Session
    /// Expiry Interval in the CONNECT).
    pub persistent: bool,
    /// The client's SUBSCRIBEs read since the last UNSUBSCRIBE: the session holds their
    /// filters. A copy's QoS is fixed when it is routed (it is a field of [`Copy`]).
    pub subscribed: Subscribed,
    pub copies: Vec<Copy>,
    pub inbound: Vec<(PacketId, Inbound)>,
    /// 5.0 with a Session Expiry Interval: ticks since the session lost its connection.
    pub offline_ticks: Option<u8>,
    /// 5.0 with a Will Delay Interval: ticks the will of the connection the session lost has
    /// waited so far.
    pub waiting_will: Option<u8>,
}

impl Session {
    pub fn new(persistent: bool) -> Session {
        Session {
            persistent,
            subscribed: Subscribed::No,
            copies: Vec::new(),
            inbound: Vec::new(),
            offline_ticks: None,
            waiting_will: None,
        }
    }

    /// Adds the copies a message published by `publisher` on `topic` at `qos` gets in this
    /// session of `client`: one at the highest grant among the matching filters
    /// ([MQTT-3.3.5-1] / [MQTT-3.3.4-2]), lowered to the published QoS ([MQTT-3.8.4-6] /
    /// [MQTT-3.8.4-8]), and an optional extra one per further matching filter, at its own.
    pub fn route(&mut self, config: &Config, client: usize, message: Message, publisher: usize, offline: bool) {
        if !self.subscribed.any() {
            return;
        }
        let (topic, qos) = match message {
            Message::App(n) => (config.topic(n), config.qos(n)),
            Message::Will(_) => (crate::routing::WILL_TOPIC, config.will_qos),
            Message::Retained { .. } => unreachable!("the spec broker does not cover retained messages"),
        };
        let mut grants: Vec<Qos> = config
            .held_filters(client, self.subscribed)
            .iter()
            .filter(|f| f.filter.matches(topic))
            .map(|f| f.qos.min(qos))
            .collect();
        grants.sort_unstable_by(|a, b| b.cmp(a));
        for (n, &copy_qos) in grants.iter().enumerate() {
            let key = Some(OrderKey { publisher: publisher as u8, topic, published: qos, copy: copy_qos });
            self.copies.push(Copy {
                message,
                qos: copy_qos,
                key,
                optional: n > 0 || copy_qos == Qos::AtMostOnce,
                extra: n > 0,
                routed_offline: offline,
                flight: None,
            });
        }
    }

    /// After SUBSCRIBE `request` read by a session that held `before`, each of its filters that
    /// gets retained messages by its Retain Handling gets the retained message of every topic
    /// it matches, at the message's QoS lowered to the filter's grant ([MQTT-3.3.1-6],
    /// [MQTT-3.8.4-3] in 3.1.1; [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11] in 5.0), a
    /// SUBSCRIBE with several filters being a series of SUBSCRIBEs ([MQTT-3.8.4-4] /
    /// [MQTT-3.8.4-5]).
    pub fn add_retained(
        &mut self,
        config: &Config,
        client: usize,
        before: Subscribed,
        request: Subscribed,
        retained: &RetainedStore,
        offline: bool,
    ) {
        let filters = config.filters_sending_retained(client, before, request);
        for (message, qos) in retained.copies(&filters, |n| config.qos(n)) {
            self.copies.push(Copy {
                message: Message::Retained { message, qos },
                qos,
                key: None,
                optional: qos == Qos::AtMostOnce,
                extra: false,
                routed_offline: offline,
                flight: None,
            });
        }
    }

    /// Whether copy `i` may go out now without overtaking an earlier copy of its order key.
    pub fn in_order(&self, i: usize) -> bool {
        let Some(key) = self.copies[i].key else {
            return true;
        };
        self.copies[..i].iter().all(|earlier| earlier.key != Some(key) || !earlier.blocks_later())
    }

    /// Copy `i` goes out: the earlier optional copies of its key that never did are dropped
    /// (a broker that sent them later would break the order). Returns where copy `i` is now.
    pub fn drop_overtaken(&mut self, i: usize) -> usize {
        let Some(key) = self.copies[i].key else {
            return i;
        };
        let overtaken = |copy: &Copy| copy.key == Some(key) && copy.flight.is_none();
        let dropped = self.copies[..i].iter().filter(|c| overtaken(c)).count();
        let mut index = 0;
        self.copies.retain(|copy| {
            let keep = index >= i || !overtaken(copy);
            index += 1;
            keep
        });
        i - dropped
    }

    pub fn flights(&self) -> usize {
        self.copies.iter().filter(|c| c.flight.is_some()).count()
    }

    pub fn id_in_use(&self, id: PacketId) -> bool {
        self.copies.iter().any(|c| c.flight.is_some_and(|f| f.id == id))
    }

    pub fn flight_index(&self, id: PacketId) -> Option<usize> {
        self.copies.iter().position(|c| c.flight.is_some_and(|f| f.id == id))
    }

    /// A new connection resumed the session: every flight is due once more on it.
    pub fn resumed(&mut self) {
        for flight in self.copies.iter_mut().filter_map(|c| c.flight.as_mut()) {
            flight.sent_on_connection = false;
        }
    }

    /// The subscription is deleted: copies not yet started may be dropped.
    pub fn unsubscribed(&mut self) {
        self.subscribed = Subscribed::No;
        for copy in self.copies.iter_mut().filter(|c| c.flight.is_none()) {
            copy.optional = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Version;
    use crate::routing::{Filter, FilterQos};

    fn overlapping() -> Config {
        let mut config = Config::new(Version::V5_0, 2, 2);
        config.messages = vec![Qos::ExactlyOnce, Qos::AtMostOnce];
        config.subscriptions = vec![vec![
            FilterQos::new(Filter::Wildcard, Qos::AtLeastOnce),
            FilterQos::new(Filter::Topic(0), Qos::ExactlyOnce),
        ]];
        config
    }

    #[test]
    fn overlapping_filters_owe_one_copy_at_the_highest_grant_and_allow_one_more() {
        let config = overlapping();
        let mut session = Session::new(true);
        session.subscribed = Subscribed::First;
        session.route(&config, 1, Message::App(0), 0, false);
        let copies: Vec<(Qos, bool)> = session.copies.iter().map(|c| (c.qos, c.optional)).collect();
        assert_eq!(copies, vec![(Qos::ExactlyOnce, false), (Qos::AtLeastOnce, true)]);
    }

    #[test]
    fn an_unsubscribed_session_gets_no_copy_and_may_drop_what_it_had_not_started() {
        let config = overlapping();
        let mut session = Session::new(true);
        session.route(&config, 1, Message::App(0), 0, false);
        assert!(session.copies.is_empty());
        session.subscribed = Subscribed::First;
        session.route(&config, 1, Message::App(0), 0, false);
        session.unsubscribed();
        assert!(session.copies.iter().all(|c| c.optional));
    }

    #[test]
    fn a_copy_waits_for_earlier_required_copies_of_its_key_only() {
        let mut config = overlapping();
        config.messages = vec![Qos::AtLeastOnce, Qos::AtLeastOnce, Qos::AtMostOnce, Qos::AtMostOnce];
        let mut session = Session::new(true);
        session.subscribed = Subscribed::First;
        for n in 0..4 {
            session.route(&config, 1, Message::App(n), 0, false);
        }
        // m0, m1 at QoS 1 (plus optional extras at QoS 1 from the wildcard), m2, m3 at QoS 0.
        let main = |n| session.copies.iter().position(|c| c.message == Message::App(n) && !c.extra).unwrap();
        assert!(session.in_order(main(0)));
        assert!(!session.in_order(main(1)), "m1 may not overtake m0");
        assert!(session.in_order(main(3)), "a QoS 0 copy may overtake one the broker may drop");
        let m3 = main(3);
        let moved = session.drop_overtaken(m3);
        assert_eq!(session.copies[moved].message, Message::App(3));
        assert!(!session.copies.iter().any(|c| c.message == Message::App(2)), "m2 can no longer go out");
    }
}
