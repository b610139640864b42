//! Counterexamples as a readable message sequence: one line per step, saying which actor did
//! what, which packets moved and what changed.

use crate::client::Status;
use crate::model::MqttModel;
use crate::network::BrokerEnd;
use crate::state::State;
use crate::step::Action;
use stateright::Path;
use std::fmt::Write;

pub fn render(model: &MqttModel, path: &Path<State, Action>) -> String {
    let mut out = String::new();
    for (number, (state, action)) in path.clone().into_vec().into_iter().enumerate() {
        let Some(action) = action else {
            let _ = writeln!(out, "  final state: {}", summarize(&state));
            continue;
        };
        let (_, notes) = model.narrated_step(&state, action);
        let _ = writeln!(out, "{:>4}. {}", number + 1, notes.join("; "));
    }
    out
}

/// A one-line account of who is connected, what is in flight and what was delivered.
pub fn summarize(state: &State) -> String {
    let mut parts = Vec::new();
    for (c, client) in state.clients.iter().enumerate() {
        let status = match client.status {
            Status::Offline => "offline",
            Status::Connecting => "connecting",
            Status::Connected => "connected",
        };
        parts.push(format!(
            "c{c} {status}, unacked {:?}, delivered {:?}",
            client.outbound.flights, state.ghost.delivered[c]
        ));
    }
    for (c, session) in state.sessions.iter().enumerate() {
        if let Some(session) = session {
            parts.push(format!(
                "broker session c{c}: queue {:?}, in flight {:?}",
                session.outbound.queue, session.outbound.flights
            ));
        }
    }
    for (c, link) in state.all_links() {
        let broker = match link.broker {
            BrokerEnd::AwaitingConnect { .. } => "awaiting CONNECT".to_string(),
            BrokerEnd::Open { silence, .. } => format!("open, silent {silence}"),
            BrokerEnd::Closed => "closed".to_string(),
        };
        parts.push(format!("link c{c}: {}broker {broker}", if link.cut { "cut, " } else { "" }));
    }
    parts.join(" | ")
}
