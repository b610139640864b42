//! Child processes of tests: mosquitto's tools and the `verimqtt` binary.

use std::ops::{Deref, DerefMut};
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
