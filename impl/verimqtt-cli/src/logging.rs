//! How `verimqtt broker` logs: which lines (`-v`, else `RUST_LOG`, else the `[log] level`
//! of the configuration, else info), as text or one JSON object per line, to stderr or
//! appended to a file that SIGHUP reopens (as mosquitto does, for logrotate).
//!
//! A level that does not parse is an error at start that names it and where it came from:
//! `RUST_LOG=debg` would otherwise select a target named `debg` and silence the broker.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use clap::Args;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use verimqtt::runtime::config::{LogConfig, LogFormat};

/// The levels a directive without a target may name.
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// What the command line says about the logs; each overrides the configuration's [log].
#[derive(Debug, Clone, Default, Args)]
pub struct LogFlags {
    /// Verbose, as mosquitto's -v: log at debug level (every connection, subscription and
    /// packet), whatever RUST_LOG or the configuration say.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// "text", or "json": one JSON object per line (time, level, target, fields: the message,
    /// the peer address, user name and client id).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Append the log to FILE (created if missing) instead of stderr; SIGHUP reopens it, so
    /// that logrotate can move it away.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// Which lines to log, and where that choice came from (for its error).
#[derive(Debug, PartialEq, Eq)]
struct Level {
    directives: String,
    source: &'static str,
}

impl Level {
    /// `-v` first, then `RUST_LOG` (if set and not empty), then the configuration's level.
    fn choose(verbose: bool, env: Option<String>, configured: Option<&str>) -> Level {
        let (directives, source) = if verbose {
            ("debug".to_owned(), "-v")
        } else if let Some(env) = env.filter(|env| !env.trim().is_empty()) {
            (env, "RUST_LOG")
        } else if let Some(level) = configured {
            (level.to_owned(), "the [log] level of the configuration")
        } else {
            ("info".to_owned(), "the default")
        };
        Level { directives, source }
    }

    /// The filter, or why the directives are not one. A directive without `=` must be a
    /// level: tracing would take any other word for a target.
    fn filter(&self) -> Result<EnvFilter, String> {
        let invalid = |why: String| format!("invalid log level {:?} in {}: {why}", self.directives, self.source);
        for directive in self.directives.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            if !directive.contains(['=', '[']) && !LEVELS.iter().any(|level| level.eq_ignore_ascii_case(directive)) {
                return Err(invalid(format!(
                    "{directive:?} is not a level ({}); a target takes one, as in \"verimqtt::packets=debug\"",
                    LEVELS.join(", ")
                )));
            }
        }
        EnvFilter::builder().parse(&self.directives).map_err(|error| invalid(error.to_string()))
    }
}

/// A log file, appended to; [`LogFile::reopen`] opens the path again, so that a file
/// renamed by logrotate is left for a new one.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl LogFile {
    fn open(path: &Path) -> io::Result<LogFile> {
        Ok(LogFile { path: path.to_owned(), file: Mutex::new(append(path)?) })
    }

    /// Opens the path again; on failure the file in use stays.
    pub fn reopen(&self) -> io::Result<()> {
        *self.lock() = append(&self.path)?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, File> {
        self.file.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Each line is written whole under the lock, so lines of several threads do not mix.
impl Write for &LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.lock().write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().flush()
    }
}

/// Sets up the logs as the flags and the configuration say; returns the log file, if
/// any, for SIGHUP to reopen.
pub fn start(flags: &LogFlags, config: &LogConfig) -> Result<Option<Arc<LogFile>>, String> {
    let level = Level::choose(flags.verbose, std::env::var("RUST_LOG").ok(), config.level.as_deref());
    let filter = level.filter()?;
    let format = flags.log_format.or(config.format).unwrap_or_default();
    let file = match flags.log_file.as_ref().or(config.file.as_ref()) {
        Some(path) => {
            let file =
                LogFile::open(path).map_err(|error| format!("cannot open the log file {}: {error}", path.display()))?;
            Some(Arc::new(file))
        }
        None => None,
    };
    let (writer, terminal) = match &file {
        Some(file) => (BoxMakeWriter::new(Arc::clone(file)), false),
        None => (BoxMakeWriter::new(io::stderr), io::stderr().is_terminal()),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.with_ansi(terminal).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    installed.map_err(|error| format!("cannot set up the logs: {error}"))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(verbose: bool, env: Option<&str>, configured: Option<&str>) -> Level {
        Level::choose(verbose, env.map(str::to_owned), configured)
    }

    #[test]
    fn the_flag_comes_before_rust_log_which_comes_before_the_file() {
        assert_eq!(level(true, Some("warn"), Some("error")).directives, "debug");
        assert_eq!(level(false, Some("warn"), Some("error")).directives, "warn");
        assert_eq!(level(false, Some(" "), Some("error")).directives, "error", "an empty RUST_LOG is unset");
        assert_eq!(level(false, None, None).directives, "info");
    }

    #[test]
    fn levels_and_targets_with_levels_are_filters() {
        for directives in ["debug", "INFO", "info,verimqtt::packets=debug", "warn,tokio=off", "verimqtt[conn]=trace"] {
            assert!(level(false, Some(directives), None).filter().is_ok(), "{directives}");
        }
    }

    #[test]
    fn a_word_that_is_not_a_level_or_a_bad_level_is_an_error_naming_it_and_its_source() {
        let error = level(false, Some("debg"), None).filter().unwrap_err();
        assert!(error.contains("\"debg\" is not a level") && error.contains("RUST_LOG"), "{error}");
        let error = level(false, None, Some("info,verimqtt=loud")).filter().unwrap_err();
        assert!(error.contains("\"info,verimqtt=loud\"") && error.contains("[log] level"), "{error}");
    }

    #[test]
    fn a_reopened_log_file_is_the_one_at_the_path_now() {
        let dir = std::env::temp_dir().join(format!("verimqtt-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (path, rotated) = (dir.join("broker.log"), dir.join("broker.log.1"));
        let log = LogFile::open(&path).unwrap();
        (&log).write_all(b"before\n").unwrap();
        std::fs::rename(&path, &rotated).unwrap();
        (&log).write_all(b"still the old file\n").unwrap();
        log.reopen().unwrap();
        (&log).write_all(b"after\n").unwrap();
        assert_eq!(std::fs::read_to_string(&rotated).unwrap(), "before\nstill the old file\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
