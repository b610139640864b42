//! Child processes of tests: mosquitto's tools and the `verimqtt` binary.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::process::Child;

/// A child process killed (and reaped) when dropped, so that a failing test leaves none
/// running.
pub struct Process(pub Child);

impl Deref for Process {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Process {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The path of a mosquitto tool (in the PATH, or /usr/sbin where Debian puts the broker),
/// or `None` (after saying so) when it is not installed outside CI.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed; CI must install Debian's mosquitto and mosquitto-clients"
        );
        eprintln!("skipped: {name} is not installed (apt-get install mosquitto mosquitto-clients)");
    }
    found
}
