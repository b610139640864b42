//! A stateright model of MQTT client/broker QoS delivery, sessions and keepalive.
//!
//! Placeholder: the model lands with issue 5.
