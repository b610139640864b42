//! A broker running in-process on an ephemeral loopback port, for tests and for the
//! conformance suite.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::broker::{AllowAll, BrokerOptions, Policy};

use super::serve;

/// A broker serving on `127.0.0.1` on a port the system picked, on a thread of its own (so
/// it works from synchronous and asynchronous code alike). Dropping it, or calling
/// [`EmbeddedBroker::shutdown`], stops it: clients are disconnected and the port is freed.
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
    addr: SocketAddr,
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
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name(format!("verimqtt-broker-{}", addr.port())).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                serve(listener, options, policy, async {
                    // A dropped sender stops the broker as well.
                    let _ = stopped.await;
                })
                .await
            })
        })?;
        Ok(EmbeddedBroker { addr, stop: Some(stop), thread: Some(thread) })
    }

    /// Where the broker listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The broker as an `mqtt://` URL, the form `MQTT_BROKER` takes.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
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
