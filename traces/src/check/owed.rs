//! End-of-trace obligations. A trace ends after its faults have healed and a settle period
//! has passed (the simulator's scenarios end so), so by then nothing may be owed: every
//! QoS 1/2 message handed over is taken by the broker and delivered to every subscriber whose
//! session it was routed to, every QoS 1/2 retained copy a SUBACK called for is delivered, no
//! exchange is in flight, and no packet is still travelling. This
//! is the model's `delivered_when_quiet` judged at the end of the trace, whether or not every
//! client is connected then.

use verimqtt_model::MqttModel;
use verimqtt_model::state::State;

/// What `state`, the model state at the end of a trace, still owes; empty if nothing.
pub fn owed(model: &MqttModel, state: &State) -> Vec<String> {
    // A client that resumed a session the broker had discarded: MQTT's guarantees end there
    // (a finding of the model, see its README), so nothing is owed.
    if state.ghost.diverged {
        return Vec::new();
    }
    let config = &model.config;
    let ghost = &state.ghost;
    let mut owed = Vec::new();
    for m in state.guaranteed_publications(config).iter().filter(|&m| config.reliable(m) && !ghost.accepted.contains(m))
    {
        owed.push(format!("the broker never took m{m}"));
    }
    for c in 0..config.clients {
        for m in ghost.owed[c].minus(ghost.delivered[c]).iter() {
            owed.push(format!("m{m} is not delivered to c{c}"));
        }
        for m in ghost.owed_retained[c].minus(ghost.delivered_retained[c]).iter() {
            owed.push(format!("the retained m{m} is not delivered to c{c}"));
        }
        let client = &state.clients[c];
        if !client.outbound.flights.is_empty() || !client.awaiting_pubrel.is_empty() {
            owed.push(format!("c{c} has exchanges in flight"));
        }
        if let Some(session) = &state.sessions[c] {
            if !session.outbound.is_idle() || !session.awaiting_pubrel.is_empty() {
                owed.push(format!("the broker has exchanges in flight or queued for c{c}"));
            }
        }
        for (l, link) in state.links[c].iter().enumerate().filter(|(_, link)| !link.cut) {
            if !link.to_broker.is_empty() || !link.to_client.is_empty() {
                owed.push(format!("packets still travel on c{c}#{l}"));
            }
        }
    }
    owed
}
