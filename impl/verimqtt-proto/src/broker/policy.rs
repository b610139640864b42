//! Authentication and authorization: the questions the broker asks, and who answers them.

use std::fmt;

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
    fn authenticate(&mut self, connect: &Connect) -> Authentication;

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
    fn authenticate(&mut self, _connect: &Connect) -> Authentication {
        Authentication::ACCEPTED
    }

    fn may_publish(&mut self, _client: ClientInfo<'_>, _topic: &str) -> bool {
        true
    }

    fn may_subscribe(&mut self, _client: ClientInfo<'_>, _filter: &str) -> bool {
        true
    }
}
