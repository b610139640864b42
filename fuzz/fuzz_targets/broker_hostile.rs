//! Well-formed packets of both versions with fields as large, deep and numerous as MQTT lets
//! them be, on up to three connections into the sans-IO broker with a packet limit of 1 to
//! 4 MiB: the same steps and checks as broker_session, with hostile traffic. Nothing may
//! panic or overflow the broker's 2 MiB stack, and after every step:
//! - a connection is closed only by its own input, by a takeover its input caused, or by time;
//! - everything the broker sends a client decodes as valid packets of the client's version;
//! - the broker stays within its configured limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verimqtt_fuzz::{Hostile, fuzz_broker};

fuzz_target!(|data: &[u8]| fuzz_broker::<Hostile>(data));
