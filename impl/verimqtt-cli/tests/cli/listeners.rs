//! The listeners of `verimqtt broker` without a configuration file, over real sockets:
//! `--listen` repeated, on IPv6 and by host name, mosquitto's `-p`; both refused with `-c`.

use std::net::{SocketAddr, TcpListener};
use std::process::Command;

use verimqtt::codec::{Connect, ProtocolVersion, ReasonCode};

use crate::binary::BrokerProcess;
use crate::client::{RawClient, mqtt_string};
use crate::files::TempDir;

/// A port of 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn listen_repeated_and_on_ipv6_and_p_each_serve_a_listener() {
    let port = free_port().to_string();
    let mut broker = BrokerProcess::spawn(&["--listen", "127.0.0.1:0", "--listen", "[::]:0", "-p", &port]);
    let v4 = broker.next_address();
    let any_v6 = broker.next_address();
    let p = broker.next_address();
    assert!(v4.ip().is_loopback() && any_v6.ip().is_unspecified() && any_v6.is_ipv6(), "{v4} {any_v6}");
    assert_eq!(p.to_string(), format!("127.0.0.1:{port}"), "-p listens on the loopback, as mosquitto 2's");
    let v6_loopback = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, any_v6.port()));
    // Linux is dual-stack by default: [::] takes IPv4 connections too.
    let dual_stack = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, any_v6.port()));
    for (n, addr) in [v4, v6_loopback, dual_stack, p].into_iter().enumerate() {
        let (_, connack) =
            RawClient::connect_with(addr, Connect::new(ProtocolVersion::V5, mqtt_string(&format!("c{n}"))));
        assert_eq!(connack.reason_code, ReasonCode::Success, "{addr}");
    }
}

#[test]
fn listen_and_p_are_refused_with_a_configuration_file() {
    let dir = TempDir::new();
    let config = dir.write("broker.toml", "[[listener]]\nbind = \"127.0.0.1:0\"\n");
    for flag in [["--listen", "127.0.0.1:0"], ["-p", "1884"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
            .args(["broker", "-c", config.to_str().unwrap()])
            .args(flag)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag:?}: {stderr}");
        assert!(stderr.contains("cannot be used with"), "{flag:?}: {stderr}");
    }
}

#[test]
fn a_listen_address_in_use_stops_the_broker_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .args(["broker", "--listen", "127.0.0.1:0", "--listen", &address])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("broker failed: cannot listen on {address}: ")), "{stderr}");

    // Logging to a file, the broker says it on stderr as well.
    let dir = TempDir::new();
    let log = dir.path().join("broker.log");
    let output = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .args(["broker", "--listen", &address, "--log-file", log.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on {address}: ")), "{stderr}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains(&format!("broker failed: cannot listen on {address}: ")), "{logged}");
}

#[test]
fn listen_takes_a_host_name_and_refuses_a_value_without_a_port() {
    let mut broker = BrokerProcess::spawn(&["--listen", "localhost:0"]);
    let addr = broker.next_address();
    assert!(addr.ip().is_loopback(), "{addr}");
    let (_, connack) = RawClient::connect_with(addr, Connect::new(ProtocolVersion::V311, mqtt_string("named")));
    assert_eq!(connack.reason_code, ReasonCode::Success);

    let output =
        Command::new(env!("CARGO_BIN_EXE_verimqtt")).args(["broker", "--listen", "localhost"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid value 'localhost' for '--listen <ADDRESS>': no port"), "{stderr}");
}
