//! Authentication and authorization: the questions the broker asks, and who answers them.

use std::collections::HashMap;
use std::fmt;

use super::listener::ListenerId;
use crate::codec::{Connect, ProtocolVersion, ReasonCode};

/// Who is asking, once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo<'a> {
    /// The client identifier, as sent or as assigned by the broker.
    pub client_id: &'a str,
    /// The User Name of the CONNECT; `None` if it had none.
    pub username: Option<&'a str>,
    /// The protocol version the client speaks.
    pub version: ProtocolVersion,
    /// The listener its connection came in on (for an offline session, its last
    /// connection's): a policy with rules per listener applies that listener's.
    pub listener: ListenerId,
}

/// What a policy says about the credentials of a CONNECT.
#[derive(Debug)]
pub enum Authentication {
    /// Decided at once: `Ok` lets the client in, `Err` refuses it with this CONNACK code.
    Decided(Result<(), ReasonCode>),
    /// Decided by work too slow for the task that owns the broker, such as checking a
    /// password hash: every other client would wait while it ran. The broker hands it to
    /// its owner ([`Broker::poll_verification`](super::Broker::poll_verification)), which
    /// runs it elsewhere and gives the result back
    /// ([`Broker::handle_verified`](super::Broker::handle_verified)).
    Deferred(Verification),
}

impl Authentication {
    /// Lets the client in.
    pub const ACCEPTED: Authentication = Authentication::Decided(Ok(()));

    /// Refuses the client with the CONNACK reason `code` (e.g. 0x86 Bad User Name or Password), written as the nearest return code to a 3.1.1 client.
    pub fn refused(code: ReasonCode) -> Self {
        Authentication::Decided(Err(code))
    }
}

/// The slow part of checking a CONNECT's credentials, to run on any thread.
pub struct Verification(Box<dyn FnOnce() -> Result<(), ReasonCode> + Send>);

impl Verification {
    /// The work `check` to run later, off the broker's task; it returns what [`Authentication::Decided`] would hold.
    pub fn new(check: impl FnOnce() -> Result<(), ReasonCode> + Send + 'static) -> Self {
        Verification(Box::new(check))
    }

    /// Does the work: `Ok` lets the client in, `Err` refuses it with this CONNACK code.
    pub fn run(self) -> Result<(), ReasonCode> {
        (self.0)()
    }
}

impl fmt::Debug for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verification")
    }
}

/// Decides who may connect, publish and subscribe. The broker asks it and never caches the
/// answer, so a policy may change its mind between two questions.
pub trait Policy {
    /// Whether a CONNECT may open a session, now or after a [`Verification`]. A refusal is
    /// a CONNACK reason code of 0x80 or above, typically 0x86 Bad User Name or Password,
    /// 0x87 Not authorized or 0x8A Banned. A 3.1.1 client, whose CONNACK has fewer codes, is
    /// sent the nearest it has: 0x86 and 0x87 are its return codes 4 and 5, 0x85 is 2 and
    /// 0x88 is 3; codes about the server's capacity (0x89 Server busy, 0x97 Quota exceeded)
    /// become 3, Server unavailable, and any other becomes 5, Not authorized.
    ///
    /// `listener` is the one the CONNECT came in on. A CONNECT that takes over a session
    /// from a connection on another listener is judged by this listener's rules, as any
    /// other.
    fn authenticate(&mut self, connect: &Connect, listener: ListenerId) -> Authentication;

    /// Whether `client` may publish on `topic`. A refused QoS 1 or 2 PUBLISH is acknowledged
    /// (MQTT 5: with 0x87 Not authorized) and dropped, as [MQTT-3.3.5-2] allows in 3.1.1; a
    /// refused will is dropped.
    fn may_publish(&mut self, client: ClientInfo<'_>, topic: &str) -> bool;

    /// Whether `client` may subscribe to `filter` (a shared subscription's filter is passed
    /// whole, `$share/group/...`). A refused filter gets the failure code in SUBACK (MQTT 5:
    /// 0x87 Not authorized; 3.1.1: 0x80).
    fn may_subscribe(&mut self, client: ClientInfo<'_>, filter: &str) -> bool;

    /// Whether `client` may receive a message published on `topic`. Asked for each session a
    /// message is about to be queued for, retained messages included, so a subscription
    /// whose filter has wildcards never delivers a message on a topic the client may not
    /// read; a share group passes the message to a member that may. Asked for offline
    /// sessions too, with the username of their last connection. Everyone may, unless a
    /// policy says otherwise.
    fn may_receive(&mut self, client: ClientInfo<'_>, topic: &str) -> bool {
        let _ = (client, topic);
        true
    }
}

/// Lets everyone connect, publish and subscribe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllowAll;

impl Policy for AllowAll {
    fn authenticate(&mut self, _connect: &Connect, _listener: ListenerId) -> Authentication {
        Authentication::ACCEPTED
    }

    fn may_publish(&mut self, _client: ClientInfo<'_>, _topic: &str) -> bool {
        true
    }

    fn may_subscribe(&mut self, _client: ClientInfo<'_>, _filter: &str) -> bool {
        true
    }
}

/// A policy per listener: each listener named here is judged by its own policy, every other
/// by the default one (mosquitto's `per_listener_settings true`, with the global settings
/// for listeners that have none of their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerListener<P> {
    default: P,
    listeners: HashMap<ListenerId, P>,
}

impl<P: Policy> PerListener<P> {
    /// Every listener judged by `default`, until [`with`](Self::with) says otherwise.
    pub fn new(default: P) -> Self {
        PerListener { default, listeners: HashMap::new() }
    }

    /// This with `listener` judged by `policy` (replacing the policy it had).
    pub fn with(mut self, listener: ListenerId, policy: P) -> Self {
        self.listeners.insert(listener, policy);
        self
    }

    /// The policy that judges `listener`'s clients.
    pub fn get(&self, listener: ListenerId) -> &P {
        self.listeners.get(&listener).unwrap_or(&self.default)
    }

    /// The default policy, and each listener's own, by listener.
    pub fn policies(&self) -> (&P, impl Iterator<Item = (ListenerId, &P)>) {
        let mut own: Vec<_> = self.listeners.iter().map(|(&listener, policy)| (listener, policy)).collect();
        own.sort_by_key(|(listener, _)| *listener);
        (&self.default, own.into_iter())
    }

    fn get_mut(&mut self, listener: ListenerId) -> &mut P {
        self.listeners.get_mut(&listener).unwrap_or(&mut self.default)
    }
}

impl<P: Policy> Policy for PerListener<P> {
    fn authenticate(&mut self, connect: &Connect, listener: ListenerId) -> Authentication {
        self.get_mut(listener).authenticate(connect, listener)
    }

    fn may_publish(&mut self, client: ClientInfo<'_>, topic: &str) -> bool {
        self.get_mut(client.listener).may_publish(client, topic)
    }

    fn may_subscribe(&mut self, client: ClientInfo<'_>, filter: &str) -> bool {
        self.get_mut(client.listener).may_subscribe(client, filter)
    }

    fn may_receive(&mut self, client: ClientInfo<'_>, topic: &str) -> bool {
        self.get_mut(client.listener).may_receive(client, topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::MqttString;

    /// Open, or letting in only clients with a User Name and letting them publish only
    /// under `only/`, subscribe and receive nowhere.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Rules {
        open: bool,
    }

    impl Policy for Rules {
        fn authenticate(&mut self, connect: &Connect, _listener: ListenerId) -> Authentication {
            match (self.open, &connect.username) {
                (true, _) | (false, Some(_)) => Authentication::ACCEPTED,
                (false, None) => Authentication::refused(ReasonCode::NotAuthorized),
            }
        }

        fn may_publish(&mut self, _client: ClientInfo<'_>, topic: &str) -> bool {
            self.open || topic.starts_with("only/")
        }

        fn may_subscribe(&mut self, _client: ClientInfo<'_>, _filter: &str) -> bool {
            self.open
        }

        fn may_receive(&mut self, _client: ClientInfo<'_>, _topic: &str) -> bool {
            self.open
        }
    }

    #[test]
    fn each_listener_is_judged_by_its_own_policy_and_the_others_by_the_default() {
        let strict = ListenerId(1);
        let mut policy = PerListener::new(Rules { open: true }).with(strict, Rules { open: false });
        let anonymous = Connect::new(ProtocolVersion::V5, MqttString::from_static("c").unwrap());
        let accepted = |auth: Authentication| matches!(auth, Authentication::Decided(Ok(())));
        assert!(accepted(policy.authenticate(&anonymous, ListenerId::DEFAULT)));
        assert!(accepted(policy.authenticate(&anonymous, ListenerId(2))), "no policy of its own: the default");
        assert!(!accepted(policy.authenticate(&anonymous, strict)));
        let on = |listener| ClientInfo { client_id: "c", username: None, version: ProtocolVersion::V5, listener };
        assert!(policy.may_publish(on(ListenerId::DEFAULT), "a") && !policy.may_publish(on(strict), "a"));
        assert!(policy.may_publish(on(strict), "only/a"));
        assert!(policy.may_subscribe(on(ListenerId::DEFAULT), "#") && !policy.may_subscribe(on(strict), "#"));
        assert!(policy.may_receive(on(ListenerId(2)), "a") && !policy.may_receive(on(strict), "a"));
        let (_, own) = policy.policies();
        assert_eq!(own.map(|(listener, _)| listener).collect::<Vec<_>>(), vec![strict]);
    }
}
