//! Who may connect, publish, subscribe and receive, from files an operator writes:
//!
//! - [`PasswordFile`]: users and password hashes in mosquitto's format (`$6$` and `$7$`
//!   entries), so files written by `mosquitto_passwd` can be used as they are;
//!   [`PasswordHash::new`] and [`with_entry`] write entries (`verimqtt passwd`);
//! - [`Acl`]: topic rules in the format of mosquitto's `acl_file`;
//! - [`FilePolicy`]: the broker [`Policy`](crate::broker::Policy) made of both.
//!
//! Parsing is pure (text in, rules out); reading the files is the runtime's job. A line that
//! cannot be read is a [`LineError`] with its number and the reason.

mod acl;
mod password;
mod password_file;
mod policy;

use std::fmt;

pub use acl::{Access, Acl, RuleError};
pub use password::{HashError, NEW_HASH_ITERATIONS, PasswordHash};
pub use password_file::{EntryError, PasswordFile, UserChanges, with_entry};
pub use policy::FilePolicy;

/// A line of a file that cannot be read: its number (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LineError<R: fmt::Display + fmt::Debug> {
    /// The line's number, from 1.
    pub line: usize,
    /// Why it cannot be read.
    pub reason: R,
}
