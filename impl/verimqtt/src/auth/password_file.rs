//! A password file in mosquitto's format: one `username:hash` a line, `#` starting a comment
//! line, blank lines ignored. Hashes are read as [`PasswordHash`] reads them.
//!
//! Reading is strict where mosquitto skips: a line that is not an entry, a hash this broker
//! cannot check, or a user listed twice rejects the whole file, with the line, so an operator
//! learns at start rather than from a client that cannot log in.

use std::collections::HashMap;
use std::fmt;

use super::LineError;
use super::password::{HashError, PasswordHash};

/// Why a line of a password file is not an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The line is not `username:hash`.
    #[error("expected `username:hash`")]
    NotAnEntry,
    /// The line's username is empty.
    #[error("the username is empty")]
    EmptyUsername,
    /// The user (carried) is listed twice.
    #[error("user {0:?} is listed twice")]
    Duplicate(String),
    /// The user's hash cannot be read.
    #[error("user {user:?}: {error}")]
    Hash {
        /// The user whose hash it is.
        user: String,
        /// What is wrong with the hash.
        error: HashError,
    },
}

/// The users of a password file and their password hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordFile {
    users: HashMap<String, PasswordHash>,
}

impl PasswordFile {
    /// Reads a password file's text (mosquitto's `username:hash` lines, `#` comments), or says which line is wrong and why.
    pub fn parse(text: &str) -> Result<Self, LineError<EntryError>> {
        let mut users = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let fail = |reason| LineError { line: index + 1, reason };
            let Some((user, hash)) = entry(line).map_err(fail)? else { continue };
            let hash = hash.parse().map_err(|error| fail(EntryError::Hash { user: user.to_owned(), error }))?;
            if users.insert(user.to_owned(), hash).is_some() {
                return Err(fail(EntryError::Duplicate(user.to_owned())));
            }
        }
        Ok(PasswordFile { users })
    }

    /// The hash of `user`'s password, if the file lists the user.
    pub fn get(&self, user: &str) -> Option<&PasswordHash> {
        self.users.get(user)
    }

    /// The number of users in the file.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file lists no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// How this file differs from `before`: users added, removed, and whose password
    /// changed, each sorted by name.
    pub fn changes_since(&self, before: &PasswordFile) -> UserChanges {
        let mut changes = UserChanges::default();
        for (user, hash) in &self.users {
            match before.users.get(user) {
                None => changes.added.push(user.clone()),
                Some(old) if old != hash => changes.changed.push(user.clone()),
                Some(_) => {}
            }
        }
        changes.removed = before.users.keys().filter(|user| !self.users.contains_key(*user)).cloned().collect();
        for list in [&mut changes.added, &mut changes.removed, &mut changes.changed] {
            list.sort();
        }
        changes
    }
}

/// The users a new version of a password file adds, removes, and gives a new password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    /// Users in the new file only, sorted by name.
    pub added: Vec<String>,
    /// Users in the old file only, sorted by name.
    pub removed: Vec<String>,
    /// Users in both whose password hash changed, sorted by name.
    pub changed: Vec<String>,
}

impl UserChanges {
    /// Whether the files list the same users with the same hashes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// "added: bob, carol; removed: eve; new password: alice".
impl fmt::Display for UserChanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lists = [("added", &self.added), ("removed", &self.removed), ("new password", &self.changed)];
        let parts: Vec<String> = lists
            .iter()
            .filter(|(_, users)| !users.is_empty())
            .map(|(what, users)| format!("{what}: {}", users.join(", ")))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

/// The user and hash of a line, `None` for a comment or a blank line. Blanks around either
/// part are not part of it, as in mosquitto.
fn entry(line: &str) -> Result<Option<(&str, &str)>, EntryError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (user, hash) = line.split_once(':').ok_or(EntryError::NotAnEntry)?;
    let user = user.trim();
    if user.is_empty() {
        return Err(EntryError::EmptyUsername);
    }
    Ok(Some((user, hash.trim())))
}

/// `text` with `user`'s entry set to `hash`: the line that held it is replaced (or the entry
/// is appended), and every other line, comments included, is kept as it was.
pub fn with_entry(text: &str, user: &str, hash: &PasswordHash) -> String {
    let new_line = format!("{user}:{hash}");
    let mut replaced = false;
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| match entry(line) {
            Ok(Some((listed, _))) if listed == user => {
                replaced = true;
                new_line.clone()
            }
            _ => line.to_owned(),
        })
        .collect();
    if !replaced {
        lines.push(new_line);
    }
    lines.iter().map(|line| format!("{line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOB: &str =
        "$6$8wREk+rfp/dW3RrN$eDi2Dusb8BEJUsEhC0K45SadcAmfmoNcVz5MRVqkxI4IfEcyNtKGKgIGFVYf8BaCx4i1EJrGmpfo3NuTWdCyaQ==";

    #[test]
    fn entries_comments_and_blank_lines() {
        let file = PasswordFile::parse(&format!("# users\n\n bob : {BOB} \r\n")).unwrap();
        assert_eq!(file.len(), 1);
        assert!(file.get("bob").unwrap().verify(b"hunter2"));
        assert!(file.get("alice").is_none());
    }

    #[test]
    fn changes_name_the_users_added_removed_and_given_a_new_password() {
        let other = "$6$AAAA$eDi2Dusb8BEJUsEhC0K45SadcAmfmoNcVz5MRVqkxI4IfEcyNtKGKgIGFVYf8BaCx4i1EJrGmpfo3NuTWdCyaQ==";
        let before = PasswordFile::parse(&format!("bob:{BOB}\neve:{BOB}\nalice:{BOB}")).unwrap();
        let after = PasswordFile::parse(&format!("bob:{BOB}\ncarol:{BOB}\nalice:{other}\ndan:{BOB}")).unwrap();
        let changes = after.changes_since(&before);
        assert_eq!(changes.to_string(), "added: carol, dan; removed: eve; new password: alice");
        assert!(after.changes_since(&after).is_empty());
    }

    #[test]
    fn a_bad_line_names_its_number_and_the_reason() {
        let error = |text: &str| PasswordFile::parse(text).unwrap_err();
        assert_eq!(error("# x\nbob\n"), LineError { line: 2, reason: EntryError::NotAnEntry });
        assert_eq!(error(&format!(":{BOB}")), LineError { line: 1, reason: EntryError::EmptyUsername });
        assert_eq!(
            error(&format!("bob:{BOB}\nbob:{BOB}")),
            LineError { line: 2, reason: EntryError::Duplicate("bob".into()) }
        );
        assert_eq!(
            error("carol:plain"),
            LineError { line: 1, reason: EntryError::Hash { user: "carol".into(), error: HashError::NotHashed } }
        );
        assert_eq!(error("\n\nbob").to_string(), "line 3: expected `username:hash`");
    }

    #[test]
    fn with_entry_replaces_the_users_line_and_keeps_the_rest() {
        let hash: PasswordHash = BOB.parse().unwrap();
        let text = "# team\nalice:$6$x$y\nbob:old\n";
        assert_eq!(with_entry(text, "bob", &hash), format!("# team\nalice:$6$x$y\nbob:{BOB}\n"));
        assert_eq!(with_entry("alice:a", "bob", &hash), format!("alice:a\nbob:{BOB}\n"));
        assert_eq!(with_entry("", "bob", &hash), format!("bob:{BOB}\n"));
    }
}
