//! The broker inside a tokio application: a policy of the application's own, its hooks on the
//! broker's events, and a client of the same process talking to it.
//!
//! Run: `cargo run -p verimqtt --example embedded_broker`

use std::net::{Ipv4Addr, SocketAddr};

use futures_util::StreamExt;
use tokio::sync::broadcast;
use verimqtt::broker::{Authentication, BrokerOptions, ClientInfo, Event, Policy};
use verimqtt::client::ClientOptions;
use verimqtt::codec::{Connect, MqttString, ProtocolVersion, QoS};
use verimqtt::runtime::client::{AsyncClient, AsyncClientOptions};
use verimqtt::runtime::{Listener, Server, Transport};

/// Everyone may connect and read; only clients named `sensor-...` may publish, and only under
/// `sensors/`.
struct SensorsOnly;

impl Policy for SensorsOnly {
    fn authenticate(&mut self, _connect: &Connect, _listener: verimqtt::broker::ListenerId) -> Authentication {
        Authentication::ACCEPTED
    }

    fn may_publish(&mut self, client: ClientInfo<'_>, topic: &str) -> bool {
        client.client_id.starts_with("sensor-") && topic.starts_with("sensors/")
    }

    fn may_subscribe(&mut self, _client: ClientInfo<'_>, _filter: &str) -> bool {
        true
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The hooks: every event of the broker, on a bounded channel it never waits for.
    let (events, mut received) = broadcast::channel(1024);
    let hooks = tokio::spawn(async move {
        while let Ok(event) = received.recv().await {
            match event {
                Event::Connected { client_id, version, .. } => println!("hook: {client_id} connected ({version})"),
                Event::Subscribed { client_id, filter, qos } => {
                    println!("hook: {client_id} subscribed to {filter} ({qos:?})")
                }
                Event::MessagePublished { client_id, topic, sessions, .. } => {
                    println!("hook: {client_id} published on {topic}, for {sessions} session(s)")
                }
                Event::MessageDelivered { client_id, topic, .. } => println!("hook: {topic} reached {client_id}"),
                Event::PublishDenied { client_id, topic } => println!("hook: {client_id} may not publish on {topic}"),
                Event::Closed { client_id, reason, .. } => println!("hook: {client_id:?} left: {reason}"),
                _ => {}
            }
        }
    });

    let listener = Listener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), Transport::Tcp)?;
    let url = format!("mqtt://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Message events are off by default: one or more per message.
    let options = BrokerOptions { message_events: true, ..BrokerOptions::default() };
    let server = Server::new(options, SensorsOnly).listener(listener).events(events);
    let broker = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let client_options = |id: &str| -> Result<AsyncClientOptions, Box<dyn std::error::Error>> {
        Ok(AsyncClientOptions::new(ClientOptions::new(ProtocolVersion::V5, MqttString::try_from(id)?)))
    };
    let dashboard = AsyncClient::connect(&url, client_options("dashboard")?).await?;
    let mut readings = dashboard.subscribe("sensors/#", QoS::AtLeastOnce).await?;

    let sensor = AsyncClient::connect(&url, client_options("sensor-1")?).await?;
    sensor.publish("sensors/kitchen", "21.5", QoS::AtLeastOnce, false).await?;
    if let Some(message) = readings.next().await {
        println!("dashboard got {} = {:?}", message.topic, message.payload);
    }
    // The policy refuses this one: MQTT 5 answers PUBACK 0x87, which the client reports.
    let refused = dashboard.publish("sensors/kitchen", "0", QoS::AtLeastOnce, false).await;
    println!("dashboard's own publish: {refused:?}");

    sensor.disconnect().await;
    dashboard.disconnect().await;
    let _ = stop.send(());
    broker.await??;
    hooks.await?;
    Ok(())
}
