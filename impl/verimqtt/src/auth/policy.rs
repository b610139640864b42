//! The broker's [`Policy`] from its configuration: whether anonymous clients are let in, a
//! password file, and an ACL.

use crate::broker::{Authentication, ClientInfo, ListenerId, Policy, Verification};
use crate::codec::{Connect, ReasonCode, shared_subscription};

use super::acl::Acl;
use super::password::{NEW_HASH_ITERATIONS, PasswordHash};
use super::password_file::PasswordFile;

/// The topics under which the broker publishes its own state; no client may publish there.
const SYS_PREFIX: &str = "$SYS";

/// Who may connect, publish, subscribe and receive, from a password file and an ACL.
///
/// - A CONNECT without a username is anonymous: accepted if `allow_anonymous`, otherwise
///   refused with Not authorized (3.1.1 return code 5, MQTT 5 0x87).
/// - A CONNECT with a username, when there is a password file, must name a user of the file
///   and carry that user's password; otherwise it is refused with Bad user name or password
///   (3.1.1 return code 4, MQTT 5 0x86). Without a password file usernames are taken on
///   trust, as in mosquitto, so ACL rules for users mean something only with one.
/// - Without an ACL every client may publish, subscribe and receive anywhere; with one, the
///   ACL decides (see [`Acl`]).
/// - No client may publish on `$SYS` topics, which are the broker's own.
///
/// Passwords are checked by a [`Verification`] that the runtime runs off the broker's task,
/// a few at a time (see [`NEW_HASH_ITERATIONS`] for what one costs).
#[derive(Debug, Clone)]
pub struct FilePolicy {
    allow_anonymous: bool,
    passwords: Option<PasswordFile>,
    acl: Option<Acl>,
    /// Checked for usernames the file does not list, so that a refusal takes as long
    /// whether or not the user exists.
    decoy: PasswordHash,
}

impl FilePolicy {
    /// Lets anonymous clients in or not, with no password file and no ACL.
    pub fn new(allow_anonymous: bool) -> Self {
        FilePolicy {
            allow_anonymous,
            passwords: None,
            acl: None,
            decoy: PasswordHash::Pbkdf2Sha512 { iterations: NEW_HASH_ITERATIONS, salt: vec![0; 12], hash: [0; 64] },
        }
    }

    /// This policy with a password file: a CONNECT with a username must carry that user's password.
    pub fn with_passwords(self, passwords: PasswordFile) -> Self {
        FilePolicy { passwords: Some(passwords), ..self }
    }

    /// This policy with an ACL, which then decides who may publish, subscribe and receive where.
    pub fn with_acl(self, acl: Acl) -> Self {
        FilePolicy { acl: Some(acl), ..self }
    }

    /// What differs from `before`, in words for the log of a reload; empty if nothing.
    pub fn changes_since(&self, before: &FilePolicy) -> Vec<String> {
        let mut changes = Vec::new();
        if self.allow_anonymous != before.allow_anonymous {
            changes.push(format!("allow_anonymous is now {}", self.allow_anonymous));
        }
        match (&before.passwords, &self.passwords) {
            (None, Some(passwords)) => changes.push(format!("password file in use: {} users", passwords.len())),
            (Some(_), None) => changes.push("no password file any more".to_string()),
            (Some(old), Some(new)) if old != new => changes.push(format!("users {}", new.changes_since(old))),
            _ => {}
        }
        match (&before.acl, &self.acl) {
            (None, Some(_)) => changes.push("ACL file in use".to_string()),
            (Some(_), None) => changes.push("no ACL file any more".to_string()),
            (Some(old), Some(new)) if old != new => changes.push("ACL rules changed".to_string()),
            _ => {}
        }
        changes
    }
}

impl Policy for FilePolicy {
    /// A username checked against the password file is a [`Verification`]: a hash costs
    /// milliseconds, and the broker runs it off the task that serves every client.
    fn authenticate(&mut self, connect: &Connect, _listener: ListenerId) -> Authentication {
        let (Some(user), Some(passwords)) = (&connect.username, &self.passwords) else {
            let anonymous = connect.username.is_none();
            return if anonymous && !self.allow_anonymous {
                Authentication::refused(ReasonCode::NotAuthorized)
            } else {
                Authentication::ACCEPTED
            };
        };
        let password = connect.password.as_ref().map(|password| password.as_bytes().clone());
        let (hash, known) = match passwords.get(user) {
            Some(hash) => (hash.clone(), true),
            None => (self.decoy.clone(), false),
        };
        Authentication::Deferred(Verification::new(move || {
            // An unknown user costs a hash too, so that a refusal takes as long either way.
            let matches = hash.verify(password.as_deref().unwrap_or_default());
            if known && password.is_some() && matches { Ok(()) } else { Err(ReasonCode::BadUserNameOrPassword) }
        }))
    }

    fn may_publish(&mut self, client: ClientInfo<'_>, topic: &str) -> bool {
        let reserved = topic == SYS_PREFIX || topic.starts_with("$SYS/");
        !reserved && self.acl.as_ref().is_none_or(|acl| acl.may_write(client, topic))
    }

    fn may_subscribe(&mut self, client: ClientInfo<'_>, filter: &str) -> bool {
        let Some(acl) = &self.acl else { return true };
        // A share group receives what its filter matches: that is what the ACL judges.
        let filter = match shared_subscription(filter, client.version) {
            Some(Ok(shared)) => shared.filter,
            _ => filter,
        };
        acl.may_subscribe(client, filter)
    }

    fn may_receive(&mut self, client: ClientInfo<'_>, topic: &str) -> bool {
        self.acl.as_ref().is_none_or(|acl| acl.may_read(client, topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Binary, MqttString, ProtocolVersion};

    const BOB: &str = "bob:$6$8wREk+rfp/dW3RrN$eDi2Dusb8BEJUsEhC0K45SadcAmfmoNcVz5MRVqkxI4IfEcyNtKGKgIGFVYf8BaCx4i1EJrGmpfo3NuTWdCyaQ==";

    fn connect(username: Option<&'static str>, password: Option<&'static [u8]>) -> Connect {
        let mut connect = Connect::new(ProtocolVersion::V5, MqttString::from_static("c").unwrap());
        connect.username = username.map(|name| MqttString::from_static(name).unwrap());
        connect.password = password.map(|password| Binary::from_static(password).unwrap());
        connect
    }

    /// The policy's decision, with any verification run here.
    fn decide(policy: &mut FilePolicy, connect: &Connect) -> Result<(), ReasonCode> {
        match policy.authenticate(connect, ListenerId::DEFAULT) {
            Authentication::Decided(result) => result,
            Authentication::Deferred(verification) => verification.run(),
        }
    }

    #[test]
    fn anonymous_clients_are_let_in_only_when_allowed() {
        assert_eq!(decide(&mut FilePolicy::new(true), &connect(None, None)), Ok(()));
        assert_eq!(decide(&mut FilePolicy::new(false), &connect(None, None)), Err(ReasonCode::NotAuthorized));
        let mut policy = FilePolicy::new(false).with_passwords(PasswordFile::parse(BOB).unwrap());
        assert_eq!(decide(&mut policy, &connect(None, Some(b"hunter2"))), Err(ReasonCode::NotAuthorized));
    }

    #[test]
    fn a_username_needs_its_password_when_there_is_a_password_file() {
        let mut policy = FilePolicy::new(true).with_passwords(PasswordFile::parse(BOB).unwrap());
        assert_eq!(decide(&mut policy, &connect(Some("bob"), Some(b"hunter2"))), Ok(()));
        let bad = Err(ReasonCode::BadUserNameOrPassword);
        assert_eq!(decide(&mut policy, &connect(Some("bob"), Some(b"hunter3"))), bad);
        assert_eq!(decide(&mut policy, &connect(Some("bob"), None)), bad);
        assert_eq!(decide(&mut policy, &connect(Some("eve"), Some(b"hunter2"))), bad);
        assert_eq!(decide(&mut policy, &connect(None, None)), Ok(()), "anonymous clients are allowed here");
        let mut on_trust = FilePolicy::new(false);
        assert_eq!(decide(&mut on_trust, &connect(Some("eve"), None)), Ok(()), "no file: usernames on trust");
    }

    #[test]
    fn nobody_publishes_on_sys_topics() {
        let client =
            ClientInfo { client_id: "c", username: None, version: ProtocolVersion::V5, listener: ListenerId::DEFAULT };
        let mut policy = FilePolicy::new(true);
        assert!(!policy.may_publish(client, "$SYS/broker/uptime"));
        assert!(!policy.may_publish(client, "$SYS"));
        assert!(policy.may_publish(client, "$SYSTEM/x"));
        assert!(policy.may_publish(client, "a/$SYS"));
    }

    #[test]
    fn the_acl_judges_the_filter_of_a_shared_subscription() {
        let mut policy = FilePolicy::new(true).with_acl(Acl::parse("topic read jobs/#").unwrap());
        let v5 =
            ClientInfo { client_id: "c", username: None, version: ProtocolVersion::V5, listener: ListenerId::DEFAULT };
        assert!(policy.may_subscribe(v5, "$share/workers/jobs/+"));
        assert!(!policy.may_subscribe(v5, "$share/workers/other"));
        let v311 = ClientInfo { version: ProtocolVersion::V311, ..v5 };
        assert!(!policy.may_subscribe(v311, "$share/workers/jobs/+"), "in 3.1.1 it is a plain filter");
        assert!(policy.may_receive(v5, "jobs/1") && !policy.may_receive(v5, "other"));
    }
}
