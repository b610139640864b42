//! A broker running in-process on an ephemeral loopback port, for tests and for the
//! conformance suite.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::broker::{AllowAll, BrokerOptions, Policy};

use super::{Listener, Server, Transport};

/// A broker serving on a thread of its own (so it works from synchronous and asynchronous
/// code alike): by default on `127.0.0.1` on a TCP port the system picked, or any
/// [`Server`]. Dropping it, or calling [`EmbeddedBroker::shutdown`], stops it: clients are
/// disconnected and the ports are freed.
///
/// ```
/// use std::io::{Read, Write};
/// use verimqtt::runtime::EmbeddedBroker;
///
/// let broker = EmbeddedBroker::start()?;
/// let mut socket = std::net::TcpStream::connect(broker.addr())?;
/// // CONNECT, MQTT 3.1.1, clean session, keep alive 0, client id "a".
/// socket.write_all(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x00\x00\x01a")?;
/// let mut connack = [0; 4];
/// socket.read_exact(&mut connack)?;
/// assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);
/// broker.shutdown()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct EmbeddedBroker {
    addrs: Vec<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl EmbeddedBroker {
    /// Starts a broker with the default options, letting everyone in.
    pub fn start() -> io::Result<Self> {
        Self::start_with(BrokerOptions::default(), AllowAll)
    }

    /// Starts a broker with these options and this policy.
    pub fn start_with<P: Policy + Send + 'static>(options: BrokerOptions, policy: P) -> io::Result<Self> {
        let listener = Listener::bind((Ipv4Addr::LOCALHOST, 0).into(), Transport::Tcp)?;
        Self::serve(Server::new(options, policy).listener(listener))
    }

    /// Runs `server`, whose listeners are bound already.
    pub fn serve<P: Policy + Send + 'static>(server: Server<P>) -> io::Result<Self> {
        let addrs = server.local_addrs()?;
        let first = addrs.first().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no listener"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread =
            std::thread::Builder::new().name(format!("verimqtt-broker-{}", first.port())).spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(server.run(async {
                    // A dropped sender stops the broker as well.
                    let _ = stopped.await;
                }))
            })?;
        Ok(EmbeddedBroker { addrs, stop: Some(stop), thread: Some(thread) })
    }

    /// Where the broker's first listener listens.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Where each listener listens, in the order the server was given them.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The broker's first listener as an `mqtt://` URL, the form `MQTT_BROKER` takes.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr())
    }

    /// Stops the broker and waits until it has let its clients go.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| io::Error::other("the broker thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
