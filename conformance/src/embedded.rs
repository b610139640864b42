//! The embedded broker, run in a child process under supervision.
//!
//! In-process, a broker that overflows its stack on hostile input would abort the suite with
//! it, and no check could report the crash. So the suite starts its own executable again as a
//! child that serves verimqtt's broker ([`serve_embedded_if_asked`], called first by every
//! `main` that runs the suite), and starts it again on the same port whenever it ends, as a
//! supervisor such as systemd would: the liveness check fails the scenarios tied to the crash
//! (see [`crate::liveness`]), and the scenarios after them find the broker serving again.

use std::io::{self, BufRead, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use verimqtt::broker::AllowAll;
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};

/// Set, to the address to listen on, in a child process of the suite that is to serve the
/// embedded broker rather than run scenarios.
const SERVE_VARIABLE: &str = "VERIMQTT_CONFORMANCE_SERVE";

/// How often the supervisor looks at the child.
const SUPERVISION_TICK: Duration = Duration::from_millis(20);

/// The first thing the `main` of every executable that runs the suite does: in the child
/// process the suite starts, it serves the embedded broker (on the address
/// `VERIMQTT_CONFORMANCE_SERVE` names, printed on standard output once it listens) until its
/// standard input closes, then exits. Elsewhere it returns at once.
pub fn serve_embedded_if_asked() {
    let Some(address) = std::env::var_os(SERVE_VARIABLE) else { return };
    let served = address
        .to_str()
        .and_then(|address| address.parse().ok())
        .ok_or_else(|| io::Error::other(format!("{SERVE_VARIABLE}={address:?} is not a socket address")))
        .and_then(|address| Listener::bind(address, Transport::Tcp))
        .and_then(|listener| EmbeddedBroker::serve(Server::new(Default::default(), AllowAll).listener(listener)));
    let broker = match served {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!("verimqtt-conformance: cannot serve the embedded broker: {error}");
            std::process::exit(2);
        }
    };
    let mut stdout = io::stdout();
    // If the suite is gone already, there is nobody to serve.
    if writeln!(stdout, "{}", broker.addr()).and_then(|()| stdout.flush()).is_ok() {
        let _ = io::stdin().read_to_end(&mut Vec::new());
    }
    // At once: a broker that hostile input left stuck must not keep the suite waiting.
    std::process::exit(0);
}

/// verimqtt's broker in a child process, started again on the same port whenever it ends.
pub(crate) struct SupervisedBroker {
    address: SocketAddr,
    child: Arc<Mutex<Child>>,
    stop: Arc<AtomicBool>,
    supervisor: Option<JoinHandle<()>>,
}

impl SupervisedBroker {
    pub(crate) fn start() -> io::Result<Self> {
        if std::env::var_os(SERVE_VARIABLE).is_some() {
            // This process was started to serve, and its main went on to run the suite.
            return Err(io::Error::other(format!(
                "{SERVE_VARIABLE} is set: the main of this executable must call serve_embedded_if_asked first"
            )));
        }
        let (child, address) = spawn((Ipv4Addr::LOCALHOST, 0).into())?;
        let child = Arc::new(Mutex::new(child));
        let stop = Arc::new(AtomicBool::new(false));
        let supervisor = {
            let (child, stop) = (Arc::clone(&child), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("conformance-supervisor".to_string())
                .spawn(move || supervise(&child, &stop, address))?
        };
        Ok(SupervisedBroker { address, child, stop, supervisor: Some(supervisor) })
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }
}

/// Starts a child process serving the embedded broker on `address`; returns it and the address
/// it listens on.
fn spawn(address: SocketAddr) -> io::Result<(Child, SocketAddr)> {
    let mut child = Command::new(std::env::current_exe()?)
        .env(SERVE_VARIABLE, address.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        io::BufReader::new(stdout).read_line(&mut line)?;
    }
    match line.trim().parse() {
        Ok(address) => Ok((child, address)),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait()?;
            Err(io::Error::other(format!("the broker process said {line:?} and ended ({status})")))
        }
    }
}

/// Starts the broker again whenever it ends, until told to stop.
fn supervise(child: &Mutex<Child>, stop: &AtomicBool, address: SocketAddr) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(SUPERVISION_TICK);
        let mut child = child.lock().unwrap_or_else(PoisonError::into_inner);
        let Ok(Some(status)) = child.try_wait() else { continue };
        if stop.load(Ordering::Relaxed) {
            return;
        }
        eprintln!("verimqtt-conformance: the embedded broker ended ({status}); starting it again on {address}");
        match spawn(address) {
            Ok((restarted, _)) => *child = restarted,
            // Tried again at the next tick; meanwhile every check fails, as it should.
            Err(error) => eprintln!("verimqtt-conformance: cannot start the embedded broker again: {error}"),
        }
    }
}

impl Drop for SupervisedBroker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.join();
        }
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        // Closing its standard input ends it; killing it ends one that hostile input left stuck.
        drop(child.stdin.take());
        let _ = child.kill();
        let _ = child.wait();
    }
}
