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

#[test]
fn listen_unix_serves_mosquitto_sub_and_verimqtt_sub_on_a_unix_domain_socket() {
    let dir = TempDir::new();
    let socket = dir.path().join("verimqtt.sock");
    let socket = socket.to_str().unwrap();
    let mut broker = BrokerProcess::spawn(&["--listen", &format!("unix:{socket}"), "--listen", "127.0.0.1:0"]);
    let line = broker.log_line_with("MQTT broker listening");
    assert!(line.contains(&format!("address=unix:{socket}")) && line.contains("transport=\"unix\""), "{line}");
    let tcp = broker.next_address();
    // A retained message over TCP, read over the Unix domain socket by both tools.
    let (mut publisher, _) = RawClient::connect_with(tcp, Connect::new(ProtocolVersion::V311, mqtt_string("tcp")));
    let mut message = verimqtt::codec::Publish::new(
        mqtt_string("local/t"),
        verimqtt::codec::QoS::AtMostOnce,
        None,
        bytes::Bytes::from_static(b"hello"),
    );
    message.retain = true;
    publisher.send(&verimqtt::codec::Packet::Publish(message));
    let verimqtt = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .args(["sub", "--unix", socket, "-t", "local/t", "-C", "1", "-W", "5"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&verimqtt.stdout), "hello\n", "{}", String::from_utf8_lossy(&verimqtt.stderr));
    let connected = broker.log_line_with("peer=unix");
    assert!(connected.contains("client connected"), "{connected}");
    if let Some(mosquitto_sub) = crate::process::tool("mosquitto_sub") {
        let output = Command::new(mosquitto_sub)
            .args(["--unix", socket, "-t", "local/t", "-C", "1", "-W", "5"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\n", "{}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn mosquittos_clients_see_a_mount_point_and_a_listener_of_its_own_rules() {
    let (Some(mosquitto_sub), Some(mosquitto_pub)) =
        (crate::process::tool("mosquitto_sub"), crate::process::tool("mosquitto_pub"))
    else {
        return;
    };
    let dir = TempDir::new();
    let config = dir.write(
        "broker.toml",
        "[[listener]]\nbind = \"127.0.0.1:0\"\n\n[[listener]]\nbind = \"127.0.0.1:0\"\nmount_point = \"t1/\"\n\n\
         [[listener]]\nbind = \"127.0.0.1:0\"\nallow_anonymous = false\npassword_file = \"passwd\"\n",
    );
    let passwd = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .args(["passwd", "-b", dir.path().join("passwd").to_str().unwrap(), "alice", "secret"])
        .output()
        .unwrap();
    assert!(passwd.status.success());
    let mut broker = BrokerProcess::spawn(&["-c", config.to_str().unwrap()]);
    let [plain, mounted, guarded] = [(); 3].map(|()| broker.next_address().port().to_string());
    let run = |tool: &std::path::Path, port: &str, args: &[&str]| {
        let output = Command::new(tool).args(["-h", "127.0.0.1", "-p", port]).args(args).output().unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
    };

    // A retained message published under the mount point: the plain listener sees it with
    // the prefix, the mounted one without.
    assert_eq!(run(&mosquitto_pub, &mounted, &["-t", "sensors/1", "-m", "21.5", "-r"]).0, Some(0));
    let seen = run(&mosquitto_sub, &plain, &["-t", "t1/#", "-v", "-C", "1", "-W", "5"]);
    assert_eq!(seen, (Some(0), "t1/sensors/1 21.5\n".to_owned()));
    let seen = run(&mosquitto_sub, &mounted, &["-t", "#", "-v", "-C", "1", "-W", "5"]);
    assert_eq!(seen, (Some(0), "sensors/1 21.5\n".to_owned()));
    // Retained outside the mount point: a mounted `#` does not see it (mosquitto_sub -W
    // times out, exit code 27).
    assert_eq!(run(&mosquitto_pub, &plain, &["-t", "t2/x", "-m", "other", "-r"]).0, Some(0));
    let (code, out) = run(&mosquitto_sub, &mounted, &["-t", "t2/#", "-v", "-C", "1", "-W", "1"]);
    assert_eq!((code, out.as_str()), (Some(27), ""));

    // The guarded listener refuses anonymous clients (CONNACK 5), lets alice in.
    assert_eq!(run(&mosquitto_pub, &guarded, &["-t", "a", "-m", "x"]).0, Some(5));
    assert_eq!(run(&mosquitto_pub, &guarded, &["-t", "a", "-m", "x", "-u", "alice", "-P", "secret"]).0, Some(0));
    assert_eq!(run(&mosquitto_pub, &plain, &["-t", "a", "-m", "x"]).0, Some(0), "anonymous is fine elsewhere");
}
