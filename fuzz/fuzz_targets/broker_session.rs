//! Arbitrary inputs on up to three connections into the sans-IO broker: accepts, raw bytes,
//! well-formed packets, closes, and time passing. Nothing may panic, and after every step:
//! - a connection is closed only by its own input, by a takeover its input caused, or by time;
//! - everything the broker sends a client decodes as valid packets of the client's version;
//! - the broker stays within its configured limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verimqtt_fuzz::{SmallLimits, fuzz_broker};

fuzz_target!(|data: &[u8]| fuzz_broker::<SmallLimits>(data));
