//! The async client: subscribe, read the messages as a stream, and ride out a broker that
//! goes away and comes back. The example starts its own broker in-process, so it runs
//! anywhere; point the clients at any broker's URL to use them for real.
//!
//! Run: `cargo run -p verimqtt --example async_client`

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;
use verimqtt::client::ClientOptions;
use verimqtt::codec::{MqttString, ProtocolVersion, QoS};
use verimqtt::runtime::client::{AsyncClient, AsyncClientOptions, Reconnect, Subscription};
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};

/// A broker on `addr` (port 0: any free port), letting everyone in.
fn start_broker(addr: SocketAddr) -> std::io::Result<EmbeddedBroker> {
    let listener = Listener::bind(addr, Transport::Tcp)?;
    EmbeddedBroker::serve(Server::new(Default::default(), verimqtt::broker::AllowAll).listener(listener))
}

fn options(client_id: &str) -> Result<AsyncClientOptions, Box<dyn Error>> {
    let mut options =
        AsyncClientOptions::new(ClientOptions::new(ProtocolVersion::V5, MqttString::try_from(client_id)?));
    // Try again 100 ms after a connection is lost, then 200 ms, 400 ms... up to 1 s, forever.
    options.reconnect =
        Reconnect { initial_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1), max_retries: None };
    Ok(options)
}

/// The payloads of the next `count` messages of a subscription.
async fn read(count: usize, readings: &mut Subscription) -> Vec<String> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let Some(message) = readings.next().await else { break };
        seen.push(String::from_utf8_lossy(&message.payload).into_owned());
    }
    seen
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let broker = start_broker(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    let addr = broker.addr();
    let url = format!("mqtt://{addr}");

    let dashboard = AsyncClient::connect(&url, options("dashboard")?).await?;
    // A stream of the messages matching the filter; dropping it unsubscribes.
    let mut readings = dashboard.subscribe("sensors/+/temperature", QoS::AtLeastOnce).await?;

    // A sensor publishing a reading every 100 ms. `publish` resolves once the broker has
    // acknowledged the message (PUBACK); while the broker is away, it waits for the client
    // to reconnect and sends the message then.
    let sensor = AsyncClient::connect(&url, options("sensor-1")?).await?;
    let publishing = tokio::spawn(async move {
        for reading in 0u32.. {
            let payload = format!("{}.5", 20 + reading % 5);
            if let Err(error) = sensor.publish("sensors/1/temperature", payload, QoS::AtLeastOnce, false).await {
                println!("sensor: {error}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    let limit = Duration::from_secs(20);
    println!("dashboard read {:?}", tokio::time::timeout(limit, read(3, &mut readings)).await?);

    // The broker goes away: both clients lose their connection and try again, with backoff.
    tokio::task::spawn_blocking(move || broker.shutdown()).await??;
    println!("broker stopped");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let broker = start_broker(addr)?;
    println!("broker started again on {addr}");

    // This broker knows nothing of the dashboard's subscription (it kept no session): the
    // client sees Session Present 0 and subscribes again by itself. Readings published
    // before it did went to nobody; a broker that keeps sessions would have queued them.
    println!("dashboard read {:?} after the restart", tokio::time::timeout(limit, read(3, &mut readings)).await?);

    dashboard.disconnect().await;
    publishing.abort();
    tokio::task::spawn_blocking(move || broker.shutdown()).await??;
    Ok(())
}
