//! `verimqtt passwd`: sets a user's password in a password file of mosquitto's format,
//! creating the file if needed and keeping every other line as it was.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::auth::{PasswordHash, with_entry};

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswdError {
    /// The username (carried) is empty, holds `:` or a line break, or has surrounding blanks.
    #[error("{0:?} cannot be a username here: it must be non-empty, without ':', line breaks or surrounding blanks")]
    BadUsername(String),
    /// The password is empty.
    #[error("the password is empty")]
    EmptyPassword,
    /// The system gave no random bytes for the salt.
    #[error("no random salt: {0}")]
    Random(getrandom::Error),
    /// The password file exists but cannot be read.
    #[error("cannot read {path}: {error}", path = .path.display())]
    Read {
        /// The password file.
        path: PathBuf,
        /// Why it cannot be read.
        error: io::Error,
    },
    /// The password file cannot be written.
    #[error("cannot write {path}: {error}", path = .path.display())]
    Write {
        /// The password file.
        path: PathBuf,
        /// Why it cannot be written.
        error: io::Error,
    },
}

/// Sets `user`'s password in `file` to a new salted hash of `password` (see
/// [`PasswordHash::new`]).
pub fn set_password(file: &Path, user: &str, password: &str) -> Result<(), PasswdError> {
    // A password file line is `user:hash`, trimmed.
    if user.is_empty() || user.contains([':', '\n', '\r']) || user.trim() != user {
        return Err(PasswdError::BadUsername(user.to_owned()));
    }
    if password.is_empty() {
        return Err(PasswdError::EmptyPassword);
    }
    let hash = PasswordHash::new(password.as_bytes()).map_err(PasswdError::Random)?;
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(PasswdError::Read { path: file.to_owned(), error }),
    };
    replace_file(file, &with_entry(&text, user, &hash))
        .map_err(|error| PasswdError::Write { path: file.to_owned(), error })
}

/// Writes `path` whole or not at all: a new file beside it, renamed over it. A new password
/// file is readable by its owner only; an existing one keeps its permissions.
fn replace_file(path: &Path, text: &str) -> io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut file = options.open(&temporary)?;
        if let Ok(existing) = std::fs::metadata(path) {
            file.set_permissions(existing.permissions())?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::PasswordFile;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("verimqtt-passwd-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("passwd")
    }

    #[test]
    fn set_password_creates_the_file_then_changes_one_entry_and_keeps_the_rest() {
        let file = scratch("entries");
        set_password(&file, "alice", "first").unwrap();
        set_password(&file, "bob", "second").unwrap();
        set_password(&file, "alice", "third").unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.lines().map(|line| line.split(':').next().unwrap()).collect::<Vec<_>>(), ["alice", "bob"]);
        assert!(text.lines().all(|line| line.contains(":$7$")), "{text}");
        let passwords = PasswordFile::parse(&text).unwrap();
        assert!(passwords.get("alice").unwrap().verify(b"third"));
        assert!(!passwords.get("alice").unwrap().verify(b"first"));
        assert!(passwords.get("bob").unwrap().verify(b"second"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }

    #[test]
    fn bad_usernames_and_empty_passwords_are_refused_and_nothing_is_written() {
        let file = scratch("refusals");
        for user in ["", "a:b", "a\nb", " a"] {
            assert!(matches!(set_password(&file, user, "x"), Err(PasswdError::BadUsername(_))), "{user:?}");
        }
        assert!(matches!(set_password(&file, "alice", ""), Err(PasswdError::EmptyPassword)));
        assert!(!file.exists());
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }
}
