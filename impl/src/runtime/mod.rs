//! The tokio runtime around the sans-IO [`Broker`](crate::broker::Broker): TCP sockets,
//! timers and logs.
//!
//! One task per connection does the socket I/O; one driver task owns the broker, so no lock
//! is ever held across an await; the broker's next deadline (`poll_timeout`) is the driver's
//! only timer. [`serve`] runs a broker on a listener until a future completes (the
//! `verimqtt broker` command passes Ctrl-C); [`EmbeddedBroker`] runs one in-process on an
//! ephemeral loopback port for tests and the conformance suite.
//!
//! Logs go through `tracing`: connections at `info`, protocol violations at `warn` with the
//! statement they break.

mod embedded;
mod log;
mod server;
mod socket;

pub use embedded::EmbeddedBroker;
pub use server::serve;
