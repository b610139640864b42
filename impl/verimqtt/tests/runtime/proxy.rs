//! A TCP proxy between a client and a broker, for tests that lose connections. It forwards
//! both ways and records what passed; it can swallow what goes one way (a network losing
//! everything in flight), cut every connection at once (the client then reconnects through
//! it) and stop listening (reconnecting then fails).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use verimqtt::codec::{self, DecodeOptions, Packet, ProtocolVersion};

use crate::client::PATIENCE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToBroker,
    ToClient,
}

/// One direction's state, shared by every connection.
#[derive(Default)]
struct Flow {
    swallowing: Mutex<bool>,
    /// Everything forwarded, connection by connection.
    forwarded: Mutex<Vec<Vec<u8>>>,
    /// Bytes forwarded and swallowed so far, to wait on.
    progress: watch::Sender<(usize, usize)>,
}

struct Shared {
    to_broker: Flow,
    to_client: Flow,
    /// Bumped to cut every open connection.
    cuts: watch::Sender<u64>,
}

impl Shared {
    fn flow(&self, direction: Direction) -> &Flow {
        match direction {
            Direction::ToBroker => &self.to_broker,
            Direction::ToClient => &self.to_client,
        }
    }
}

pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    /// Listens on an ephemeral loopback port and forwards to `broker`.
    pub async fn start(broker: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared =
            Arc::new(Shared { to_broker: Flow::default(), to_client: Flow::default(), cuts: watch::Sender::new(0) });
        let acceptor = tokio::spawn(accept(listener, broker, Arc::clone(&shared)));
        Proxy { addr, shared, acceptor }
    }

    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// From now on, drop what goes `direction` (or forward it again).
    pub fn swallow(&self, direction: Direction, swallowing: bool) {
        *self.shared.flow(direction).swallowing.lock().unwrap() = swallowing;
    }

    /// Closes every open connection; new ones are forwarded, nothing swallowed.
    pub fn cut(&self) {
        self.swallow(Direction::ToBroker, false);
        self.swallow(Direction::ToClient, false);
        self.shared.cuts.send_modify(|cuts| *cuts += 1);
    }

    /// Stops listening and closes every connection.
    pub fn stop(&self) {
        self.acceptor.abort();
        self.cut();
    }

    /// Waits until at least `bytes` going `direction` were swallowed.
    pub async fn swallowed(&self, direction: Direction, bytes: usize) {
        let mut progress = self.shared.flow(direction).progress.subscribe();
        let waited = tokio::time::timeout(PATIENCE, progress.wait_for(|(_, swallowed)| *swallowed >= bytes)).await;
        assert!(waited.is_ok(), "{bytes} bytes going {direction:?} were not swallowed in time");
    }

    /// The packets forwarded `direction` so far, decoded as `version`, one list per
    /// connection.
    pub fn connections(&self, direction: Direction, version: ProtocolVersion) -> Vec<Vec<Packet>> {
        let forwarded = self.shared.flow(direction).forwarded.lock().unwrap();
        forwarded.iter().map(|bytes| decode_all(bytes, version)).collect()
    }

    /// The packets forwarded `direction` so far, all connections in turn.
    pub fn packets(&self, direction: Direction, version: ProtocolVersion) -> Vec<Packet> {
        self.connections(direction, version).concat()
    }

    /// Waits until a packet forwarded `direction` satisfies `wanted`, and returns it.
    pub async fn wait_for_packet(
        &self,
        direction: Direction,
        version: ProtocolVersion,
        wanted: impl Fn(&Packet) -> bool,
    ) -> Packet {
        self.wait_until(direction, version, |connections| connections.iter().flatten().any(&wanted)).await;
        self.packets(direction, version).into_iter().find(wanted).unwrap()
    }

    /// Waits until the packets forwarded `direction`, one list per connection, satisfy
    /// `done`.
    pub async fn wait_until(
        &self,
        direction: Direction,
        version: ProtocolVersion,
        done: impl Fn(&[Vec<Packet>]) -> bool,
    ) {
        let mut progress = self.shared.flow(direction).progress.subscribe();
        let waited = tokio::time::timeout(PATIENCE, async {
            while !done(&self.connections(direction, version)) {
                progress.changed().await.unwrap();
            }
        })
        .await;
        assert!(waited.is_ok(), "not in time; went {direction:?}: {:?}", self.connections(direction, version));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn decode_all(bytes: &[u8], version: ProtocolVersion) -> Vec<Packet> {
    let mut buffer = BytesMut::from(bytes);
    let options = DecodeOptions::new(version);
    std::iter::from_fn(|| codec::decode(&mut buffer, &options).ok().flatten()).collect()
}

async fn accept(listener: TcpListener, broker: SocketAddr, shared: Arc<Shared>) {
    while let Ok((client, _)) = listener.accept().await {
        let Ok(upstream) = TcpStream::connect(broker).await else { continue };
        tokio::spawn(forward_connection(client, upstream, Arc::clone(&shared)));
    }
}

/// Forwards one connection both ways until either side closes or the proxy cuts it.
async fn forward_connection(client: TcpStream, broker: TcpStream, shared: Arc<Shared>) {
    let mut cuts = shared.cuts.subscribe();
    cuts.mark_unchanged();
    let (client_read, client_write) = client.into_split();
    let (broker_read, broker_write) = broker.into_split();
    let to_broker = shared.to_broker.open_connection();
    let to_client = shared.to_client.open_connection();
    tokio::select! {
        () = forward(client_read, broker_write, &shared.to_broker, to_broker) => {}
        () = forward(broker_read, client_write, &shared.to_client, to_client) => {}
        _ = cuts.changed() => {}
    }
}

impl Flow {
    /// Starts the record of a new connection; returns its index.
    fn open_connection(&self) -> usize {
        let mut forwarded = self.forwarded.lock().unwrap();
        forwarded.push(Vec::new());
        forwarded.len() - 1
    }
}

async fn forward(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    flow: &Flow,
    connection: usize,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        let bytes = &buffer[..read];
        let swallowing = *flow.swallowing.lock().unwrap();
        if !swallowing {
            flow.forwarded.lock().unwrap()[connection].extend_from_slice(bytes);
            if to.write_all(bytes).await.is_err() {
                return;
            }
        }
        flow.progress.send_modify(|(forwarded, swallowed)| match swallowing {
            true => *swallowed += read,
            false => *forwarded += read,
        });
    }
}
