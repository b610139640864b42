//! The sans-IO client over a plain `std::net::TcpStream`, in one loop, with no async runtime:
//! connect with keep alive, publish one message at QoS 1, wait for its PUBACK, disconnect.
//! The loop is the whole contract of the client: write what `poll_transmit` gives, handle
//! what `poll_event` gives, read until `poll_timeout`'s deadline, and tell the client what
//! happened with `now` first.
//!
//! Run against any broker: `cargo run -p verimqtt-proto --example blocking_client -- 127.0.0.1:1883`

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use verimqtt_proto::client::{Client, ClientOptions, Event};
use verimqtt_proto::codec::{Disconnect, MqttString, Properties, ProtocolVersion, QoS};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:1883".to_owned());
    let mut stream = TcpStream::connect(&address)?;

    let mut options = ClientOptions::new(ProtocolVersion::V5, MqttString::try_from("verimqtt-blocking-example")?);
    options.keep_alive = 5;
    let mut client = Client::new(options)?;
    client.handle_connected(Instant::now());
    client.connect(Instant::now())?;

    let mut unread = BytesMut::new();
    let mut buffer = [0; 4096];
    let mut sent = None;
    loop {
        // Offer what was read and not yet taken: the client takes less while its events wait.
        if !unread.is_empty() {
            let taken = client.handle_bytes(Instant::now(), &unread);
            unread.advance(taken);
        }
        while let Some(bytes) = client.poll_transmit() {
            stream.write_all(&bytes)?;
        }
        while let Some(event) = client.poll_event() {
            match event {
                Event::Connected { session_present, .. } => {
                    println!("connected to {address} (session present: {session_present})");
                    let topic = MqttString::try_from("verimqtt/example")?;
                    let payload = Bytes::from_static(b"hello");
                    let ticket = client.publish(
                        Instant::now(),
                        topic,
                        payload,
                        QoS::AtLeastOnce,
                        false,
                        Properties::default(),
                    )?;
                    sent = Some(ticket);
                }
                Event::PubAck { ticket, ack } if Some(ticket) == sent => {
                    println!("PUBACK, reason {:?}", ack.reason_code);
                    client.disconnect(Instant::now(), Disconnect::default())?;
                }
                Event::Disconnected { reason, last_bytes } => {
                    // The last packets (here the DISCONNECT) come with the event.
                    stream.write_all(&last_bytes.unwrap_or_default())?;
                    println!("disconnected: {reason:?}");
                    return Ok(());
                }
                _ => {}
            }
        }
        // Read until the client's next deadline (a PINGREQ to send, a silent server to give
        // up on), then run its timers.
        let wait = client.poll_timeout().map(|deadline| deadline.saturating_duration_since(Instant::now()));
        stream.set_read_timeout(Some(wait.unwrap_or(Duration::from_secs(60)).max(Duration::from_millis(1))))?;
        match stream.read(&mut buffer) {
            Ok(0) => client.handle_closed(Instant::now()),
            Ok(read) => unread.extend_from_slice(&buffer[..read]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(error) => return Err(error.into()),
        }
        if client.poll_timeout().is_some_and(|deadline| deadline <= Instant::now()) {
            client.handle_timeout(Instant::now());
        }
    }
}
