//! The commands a scenario's steps give a client's application (subscribe, unsubscribe,
//! publish, disconnect with or without the will), shared by the simulator and the probe, which differ only in the
//! network the client's packets cross.

use std::time::Instant;

use verimqtt_proto::client::{Client, CommandError};
use verimqtt_proto::codec::{Disconnect, Properties, ReasonCode, Subscription, SubscriptionOptions};

use super::SimError;
use super::run::mqtt_string;
use super::scenario::Step;

type Give = Box<dyn FnOnce(&mut Client, Instant) -> Result<(), CommandError>>;

/// A step's command, ready to give its client.
pub(crate) struct Command {
    pub client: usize,
    /// The command publishes the run's next message (its payload is then taken).
    pub publishes: bool,
    give: Give,
}

impl Command {
    /// Gives the command to `client` at `now`.
    pub fn give(self, client: &mut Client, now: Instant) -> Result<(), CommandError> {
        (self.give)(client, now)
    }
}

/// The command of `step`, if it is one: topics and filters named through `topic`, a publish
/// carrying the run's `next_payload`-th payload.
pub(crate) fn command_of(
    step: &Step,
    topic: impl Fn(&str) -> String,
    next_payload: usize,
) -> Result<Option<Command>, SimError> {
    let (client, publishes, give): (usize, bool, Give) = match step {
        Step::Subscribe { client, filter, qos, retain_handling, retain_as_published } => {
            let (qos, retain_handling, retain_as_published) = (*qos, *retain_handling, *retain_as_published);
            let options = SubscriptionOptions { qos, retain_handling, retain_as_published, ..Default::default() };
            let subscription = Subscription { filter: mqtt_string(&topic(filter))?, options };
            let give = move |c: &mut Client, now| c.subscribe(now, vec![subscription], Properties::default()).map(drop);
            (*client, false, Box::new(give))
        }
        Step::Unsubscribe { client, filter } => {
            let filter = mqtt_string(&topic(filter))?;
            let give = move |c: &mut Client, now| c.unsubscribe(now, vec![filter], Properties::default()).map(drop);
            (*client, false, Box::new(give))
        }
        Step::Publish { client, topic: name, qos, retain, claim } => {
            let (name, payload, qos, retain) = (mqtt_string(&topic(name))?, claim.payload(next_payload), *qos, *retain);
            let mut properties = Properties::default();
            properties.payload_format_indicator = claim.indicator();
            let give = move |c: &mut Client, now| c.publish(now, name, payload, qos, retain, properties).map(drop);
            (*client, true, Box::new(give))
        }
        Step::Disconnect { client } | Step::DisconnectWithWill { client } => {
            let reason = match step {
                Step::DisconnectWithWill { .. } => ReasonCode::DisconnectWithWillMessage,
                _ => ReasonCode::Success,
            };
            let give = move |c: &mut Client, now| c.disconnect(now, Disconnect::new(reason)).map(drop);
            (*client, false, Box::new(give))
        }
        _ => return Ok(None),
    };
    Ok(Some(Command { client, publishes, give }))
}
