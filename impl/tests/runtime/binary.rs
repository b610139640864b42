//! The `verimqtt broker` command: it serves on the address given and stops cleanly on
//! Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use verimqtt::codec::{Disconnect, Packet, ProtocolVersion, ReasonCode};

use crate::client::RawClient;

#[test]
fn verimqtt_broker_serves_until_ctrl_c_then_disconnects_its_clients() {
    let mut broker = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .args(["broker", "--listen", "127.0.0.1:0", "--max-keep-alive", "30"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(broker.stderr.take().unwrap());
    let mut line = String::new();
    let addr: SocketAddr = loop {
        line.clear();
        assert_ne!(log.read_line(&mut line).unwrap(), 0, "the broker exited before listening");
        if let Some((_, address)) = line.split_once("address=") {
            break address.trim().parse().unwrap();
        }
    };
    let (mut client, connack) = RawClient::connect_with(
        addr,
        verimqtt::codec::Connect::new(ProtocolVersion::V5, verimqtt::codec::MqttString::try_from("c").unwrap()),
    );
    assert_eq!(connack.properties.server_keep_alive, Some(30), "the options reach the broker");
    let status = Command::new("kill").args(["-INT", &broker.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(client.until_closed(), [Packet::Disconnect(Disconnect::new(ReasonCode::ServerShuttingDown))]);
    assert!(broker.wait().unwrap().success());
    let rest: String = log.lines().map_while(Result::ok).collect::<Vec<_>>().join("\n");
    assert!(rest.contains("Ctrl-C"), "{rest}");
}
