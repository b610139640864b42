//! The sans-IO broker served by a hand-written loop over `std::net`, with no async runtime:
//! the whole contract of the broker in one place. Every turn it accepts, reads, and then does
//! what the broker asks: write bytes, close connections with their last bytes, stop or resume
//! reading, run checks of credentials, and wake it at its next deadline.
//!
//! Run: `cargo run -p verimqtt-proto --example broker_loop -- 127.0.0.1:1883`, then point any
//! MQTT client at it. (Single-threaded and polling: a demonstration, not a server; the tokio
//! runtime of the crate `verimqtt` is the one to deploy.)

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use verimqtt_proto::broker::{AllowAll, Broker, BrokerOptions, Closing, ConnId, Event};

/// One client's socket and what the broker has not taken from it yet.
struct Connection {
    stream: TcpStream,
    unread: BytesMut,
    /// The broker holds this connection back (backpressure): read nothing more from it.
    paused: bool,
}

fn main() -> std::io::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:1883".to_owned());
    let listener = TcpListener::bind(&address)?;
    listener.set_nonblocking(true)?;
    println!("listening on {address}");
    let mut broker = Broker::new(BrokerOptions::default(), AllowAll);
    let mut connections: HashMap<ConnId, Connection> = HashMap::new();
    let mut next_id = 0;
    let mut buffer = [0; 16 * 1024];
    loop {
        let now = Instant::now();
        // A new connection: the owner names it and tells the broker.
        while let Ok((stream, peer)) = listener.accept() {
            next_id += 1;
            let conn = ConnId(next_id);
            stream.set_nonblocking(true)?;
            match broker.handle_connected(now, conn) {
                Ok(()) => {
                    connections.insert(conn, Connection { stream, unread: BytesMut::new(), paused: false });
                }
                Err(refused) => println!("{peer} refused: {refused}"),
            }
        }
        // Bytes in: offered after what the broker did not take, which it takes once it reads
        // the connection again.
        let mut gone = Vec::new();
        for (&conn, connection) in &mut connections {
            if connection.paused {
                continue;
            }
            match connection.stream.read(&mut buffer) {
                Ok(0) => gone.push(conn),
                Ok(read) => connection.unread.extend_from_slice(&buffer[..read]),
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(_) => gone.push(conn),
            }
            if !connection.unread.is_empty() {
                let taken = broker.handle_bytes(now, conn, &connection.unread);
                connection.unread.advance(taken);
            }
        }
        // A peer that closed: what it sent is read first, held back or not.
        for conn in gone {
            if let Some(connection) = connections.remove(&conn) {
                broker.handle_closing(now, conn);
                broker.handle_bytes(now, conn, &connection.unread);
            }
            broker.handle_closed(now, conn);
        }
        if broker.poll_timeout().is_some_and(|deadline| deadline <= now) {
            broker.handle_timeout(now);
        }
        carry_out(&mut broker, &mut connections, now);
        // Nothing is urgent: wait a little (a real server waits on its sockets instead).
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Does what the broker decided, until it decides nothing more.
fn carry_out(broker: &mut Broker<AllowAll>, connections: &mut HashMap<ConnId, Connection>, now: Instant) {
    loop {
        let mut moved = false;
        while let Some(conn) = broker.poll_transmit_ready() {
            while let Some(bytes) = broker.poll_transmit(conn) {
                // Blocking here keeps the example short; a server would keep what the socket
                // did not take and wait until it can.
                if let Some(connection) = connections.get_mut(&conn) {
                    let _ = write_all(&mut connection.stream, &bytes);
                }
                // Written: the broker may now move queued messages into the room it left.
                broker.handle_written(now, conn);
                moved = true;
            }
        }
        while let Some(Closing { conn, reason, last_bytes }) = broker.poll_close() {
            if let Some(mut connection) = connections.remove(&conn) {
                let _ = write_all(&mut connection.stream, &last_bytes.unwrap_or_default());
                let _ = connection.stream.shutdown(Shutdown::Both);
            }
            println!("{conn} closed: {reason}");
            broker.handle_closed(now, conn);
            moved = true;
        }
        while let Some((conn, reading)) = broker.poll_reading() {
            if let Some(connection) = connections.get_mut(&conn) {
                connection.paused = !reading;
                if reading && !connection.unread.is_empty() {
                    let taken = broker.handle_bytes(now, conn, &connection.unread);
                    connection.unread.advance(taken);
                    moved = true;
                }
            }
        }
        // Password checks are slow; a server runs them on another thread. Here they run now.
        while let Some((conn, verification)) = broker.poll_verification() {
            broker.handle_verified(now, conn, verification.run());
            moved = true;
        }
        while let Some(event) = broker.poll_event() {
            if let Event::Connected { conn, client_id, version, .. } = event {
                println!("{conn}: {client_id} connected ({version})");
            }
        }
        if !moved {
            return;
        }
    }
}

/// Writes all of `bytes` to a non-blocking socket, waiting while it is full.
fn write_all(stream: &mut TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
