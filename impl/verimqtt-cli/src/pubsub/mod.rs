//! `verimqtt pub` and `verimqtt sub`: the async client with mosquitto_pub's and
//! mosquitto_sub's flags, so habits carry over.

pub mod connection;
pub mod publish;
pub mod subscribe;
