//! Arbitrary server bytes, server answers, commands, connection losses and time into the
//! sans-IO client. Nothing may panic, and after every step: every packet the client writes is
//! valid in its version (a CONNECT first on each connection), packet identifiers in use are
//! unique, and in-flight, queued and pending requests stay within the configured limits.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured) -> Result<()> {
    let mut harness = verimqtt_fuzz::ClientHarness::new(u)?;
    while !u.is_empty() {
        harness.step(u)?;
    }
    Ok(())
}
