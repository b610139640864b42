//! The signals `verimqtt broker` answers. Ctrl-C (SIGINT) and SIGTERM stop it the same way:
//! wills are published, MQTT 5 clients are told 0x8B Server shutting down, and the process
//! exits 0, whether an operator pressed Ctrl-C or systemd, docker or Kubernetes asked it to
//! stop. SIGHUP reopens the log file and reads the password and ACL files again, as
//! mosquitto does.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::UnboundedSender;
use verimqtt::auth::FilePolicy;
use verimqtt::broker::BrokerOptions;
use verimqtt::broker::PerListener;
use verimqtt::runtime::BrokerConfig;
use verimqtt::runtime::config::Limits;

use crate::logging::LogFile;

/// Completes on Ctrl-C or SIGTERM. A signal that cannot be listened for is logged; with
/// neither, this never completes rather than stopping the broker at once.
pub async fn stop() {
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; stop the broker with Ctrl-C (SIGINT)");
                std::future::pending::<()>().await;
            }
        }
    };
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C (SIGINT); stop the broker with SIGTERM");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = terminate => tracing::info!("SIGTERM: stopping"),
        () = interrupt => tracing::info!("Ctrl-C: stopping"),
    }
}

/// What a reload reads and compares with.
pub struct Reload {
    /// The configuration file, if the broker was started with one.
    pub path: Option<PathBuf>,
    /// The limits given on the command line, which override the file's.
    pub limits: Limits,
    /// The log file, reopened on each SIGHUP; `None`: the logs go to stderr.
    pub log_file: Option<Arc<LogFile>>,
    /// The policies in use, listener by listener.
    pub policy: PerListener<FilePolicy>,
    /// The options in use.
    pub options: BrokerOptions,
}

/// On each SIGHUP, reopens the log file, reads the configuration file again and sends its
/// policy (password file, ACL, anonymous access) to the server. A file that cannot be read
/// or is wrong is logged with the reason, and the log file or the policy in use stays.
pub async fn reload_on_hangup(mut reload: Reload, updates: UnboundedSender<PerListener<FilePolicy>>) {
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            return tracing::warn!(%error, "cannot listen for SIGHUP: the password and ACL files will not be reloaded");
        }
    };
    while hangups.recv().await.is_some() {
        reload.reopen_log_file();
        if let Some(policy) = reload.read_again() {
            let _ = updates.send(policy);
        }
    }
}

impl Reload {
    fn reopen_log_file(&self) {
        let Some(file) = &self.log_file else { return };
        match file.reopen() {
            Ok(()) => tracing::info!(file = %file.path().display(), "SIGHUP: log file reopened"),
            Err(error) => {
                tracing::error!(file = %file.path().display(), %error, "SIGHUP: cannot reopen the log file; the one open is kept");
            }
        }
    }

    /// The policies of the configuration file as it is now, if it can be used; the changes
    /// are logged. The listeners are those bound at start: a listener added to the file or
    /// moved in it takes effect when the broker is started again.
    fn read_again(&mut self) -> Option<PerListener<FilePolicy>> {
        let Some(path) = &self.path else {
            tracing::info!("SIGHUP: no configuration file (-c) to read again");
            return None;
        };
        let config = match BrokerConfig::load(path) {
            Ok(config) => config,
            Err(error) => {
                tracing::error!("SIGHUP: {error}; the password and ACL files in use are kept");
                return None;
            }
        };
        let policies = config.policies();
        let changes = changes_between(&self.policy, &policies);
        if changes.is_empty() {
            tracing::info!("SIGHUP: password and ACL files read again; nothing changed");
        } else {
            tracing::info!("SIGHUP: password and ACL files read again: {}", changes.join("; "));
        }
        if self.limits.apply(config.options) != self.options {
            tracing::warn!(
                "SIGHUP: the [limits] of the file changed; they take effect when the broker is started again"
            );
        }
        self.policy = policies.clone();
        Some(policies)
    }
}

/// What differs between two sets of policies, in words for the log of a reload: the
/// `[auth]` table's changes, then each listener's, named.
fn changes_between(before: &PerListener<FilePolicy>, after: &PerListener<FilePolicy>) -> Vec<String> {
    let (default_before, own_before) = before.policies();
    let (default_after, own_after) = after.policies();
    let mut changes = default_after.changes_since(default_before);
    let own_after: Vec<_> = own_after.collect();
    for (listener, policy) in &own_after {
        let listener_changes = policy.changes_since(before.get(*listener));
        changes.extend(listener_changes.into_iter().map(|change| format!("{listener}: {change}")));
    }
    for (listener, _) in own_before.filter(|(listener, _)| own_after.iter().all(|(after, _)| after != listener)) {
        changes.push(format!("{listener}: the [auth] table's rules now"));
    }
    changes
}

#[cfg(test)]
mod tests {
    use verimqtt::broker::ListenerId;

    use super::*;

    #[test]
    fn a_reload_names_the_listener_whose_rules_changed() {
        let before = PerListener::new(FilePolicy::new(true)).with(ListenerId(1), FilePolicy::new(true));
        let after = PerListener::new(FilePolicy::new(true)).with(ListenerId(1), FilePolicy::new(false));
        assert_eq!(changes_between(&before, &after), ["listener 1: allow_anonymous is now false"]);
        let back_to_auth = PerListener::new(FilePolicy::new(false));
        assert_eq!(
            changes_between(&before, &back_to_auth),
            ["allow_anonymous is now false", "listener 1: the [auth] table's rules now"]
        );
        let added = PerListener::new(FilePolicy::new(true)).with(ListenerId(2), FilePolicy::new(false));
        assert_eq!(
            changes_between(&before, &added),
            ["listener 2: allow_anonymous is now false", "listener 1: the [auth] table's rules now"]
        );
        assert!(changes_between(&before, &before.clone()).is_empty());
    }
}
