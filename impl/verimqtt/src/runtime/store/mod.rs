//! The broker's store on disk: the persistent sessions, their messages and the retained
//! messages the sans-IO broker asks to keep ([`StoreOp`](crate::broker::StoreOp)), in one SQLite file, written by a
//! thread of its own in group commits, so that a broker restarted — after a clean stop or a
//! `kill -9` — takes them back.
//!
//! Why SQLite (through `rusqlite`, built from source): its write-ahead log lets a commit
//! reach the operating system without an `fsync`, and `synchronous` chooses per commit
//! whether to wait for the disk. That is exactly the line between the [`SyncPolicy`]s: in
//! every policy a commit is written before the broker acknowledges what it holds, so a
//! crash of the broker's process loses nothing acknowledged; the policies differ only on a
//! crash of the machine. redb, the pure-Rust alternative, keeps non-durable commits in
//! process memory (lost with the process), so every acknowledgement would cost an `fsync`.
//! A log of our own would have to reinvent recovery from torn writes and compaction. The
//! cost is a C library compiled into the binary and, with the log, each change written
//! twice (log, then checkpoint).

mod sqlite;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use sqlite::Store;
pub(crate) use writer::StoreWriter;

/// When a commit waits for the disk. Whatever the policy, nothing is acknowledged before it
/// is committed, and a commit survives the broker's process being killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Every commit waits for the disk: an acknowledged message survives a power loss too.
    Always,
    /// A commit waits for the disk when the last one that did is this long ago: a power
    /// loss loses at most what was acknowledged in the last interval.
    Interval(Duration),
    /// No commit waits for the disk; the operating system writes when it likes: a power
    /// loss can lose anything not yet written back (seconds, usually).
    Never,
}

impl std::str::FromStr for SyncPolicy {
    type Err = String;

    /// `always`, `never`, or `interval` and milliseconds (`interval 100ms`).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text {
            "always" => return Ok(SyncPolicy::Always),
            "never" => return Ok(SyncPolicy::Never),
            _ => {}
        }
        let millis = text
            .strip_prefix("interval")
            .map(|rest| rest.trim().trim_end_matches("ms").trim())
            .and_then(|number| number.parse::<u64>().ok())
            .filter(|&millis| millis > 0);
        millis.map(|millis| SyncPolicy::Interval(Duration::from_millis(millis))).ok_or_else(|| {
            format!(
                "{text:?} is not a sync policy: \"always\", \"never\" or \"interval N ms\" (e.g. \"interval 100ms\")"
            )
        })
    }
}

/// Why the store cannot be used. The broker does not start on a store it cannot read: it
/// never starts empty in its place, which would lose what it holds without a word.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite could not open, read or write the file.
    #[error("{}: {source}{}", path.display(), recovery(path))]
    Sqlite {
        /// The store's file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file is an SQLite database, but not one this broker wrote, or one it damaged.
    #[error("{}: {what}{}", path.display(), recovery(path))]
    Corrupt {
        /// The store's file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// The file was written by a verimqtt whose store format this one does not read.
    #[error(
        "{}: store format {found}, this verimqtt reads format {expected}; run the verimqtt that wrote it, or{}",
        path.display(), recovery(path)
    )]
    Incompatible {
        /// The store's file.
        path: PathBuf,
        /// The format the file says it has.
        found: String,
        /// The format this verimqtt reads.
        expected: u32,
    },
}

/// How to get a broker going again, at the cost of what the store holds.
fn recovery(path: &Path) -> String {
    format!(
        " (to start with an empty store, losing its sessions and retained messages, move {} and its -wal and -shm files away)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_policies_are_read_as_the_configuration_writes_them() {
        assert_eq!("always".parse(), Ok(SyncPolicy::Always));
        assert_eq!(" never ".parse(), Ok(SyncPolicy::Never));
        assert_eq!("interval 100ms".parse(), Ok(SyncPolicy::Interval(Duration::from_millis(100))));
        assert_eq!("interval 5 ms".parse(), Ok(SyncPolicy::Interval(Duration::from_millis(5))));
        for wrong in ["sometimes", "interval", "interval 0ms", "interval -1ms", "100"] {
            assert!(wrong.parse::<SyncPolicy>().is_err(), "{wrong}");
        }
    }
}
