//! `verimqtt sub` and `pub` with the rest of mosquitto_sub's and mosquitto_pub's flags: what
//! `sub` prints is compared byte for byte with what mosquitto_sub prints for the same messages
//! from the same mosquitto broker; the flags that filter, stop and clean up are run against
//! our broker over loopback; exit codes are mosquitto's.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;

use bytes::BytesMut;
use verimqtt::codec::{self, DecodeOptions, Packet, ProtocolVersion, ReasonCode, SubscriptionId};

use verimqtt::auth::FilePolicy;
use verimqtt::broker::BrokerOptions;
use verimqtt::runtime::EmbeddedBroker;

use crate::cli::{Mosquitto, Subscriber, at, failure, free_port, owned, publish, run};
use crate::files::TempDir;
use crate::process::tool;

/// `tool`'s output for `args`, which must succeed.
fn output_of(program: &std::path::Path, args: &[String]) -> Vec<u8> {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(output.status.success(), "{} {args:?}: {}", program.display(), String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// The time mosquitto_sub and we put in %j's "tst" differs by the microsecond: cut it out.
fn without_timestamps(printed: Vec<u8>) -> String {
    let text = String::from_utf8(printed).unwrap();
    text.split("\"tst\":")
        .enumerate()
        .map(|(index, part)| if index == 0 { part } else { part.split_once(',').unwrap().1 })
        .collect::<Vec<_>>()
        .join("")
}

/// `-D publish` flags for every PUBLISH property mosquitto's tools set.
fn publish_properties() -> Vec<&'static str> {
    // Not a Message Expiry Interval: the broker counts it down, so two subscribers a second
    // apart would print different values (the unit tests cover %E).
    let properties: [(&'static str, &[&'static str]); 5] = [
        ("user-property", &["a", "b"]),
        ("content-type", &["text/plain"]),
        ("response-topic", &["re/ply"]),
        ("correlation-data", &["42"]),
        ("payload-format-indicator", &["1"]),
    ];
    properties.iter().flat_map(|(name, values)| [&["-D", "publish", name][..], values].concat()).collect()
}

#[test]
fn sub_prints_what_mosquitto_sub_prints_for_every_format() {
    let (Some(broker), Some(mosquitto_sub), Some(_)) =
        (tool("mosquitto"), tool("mosquitto_sub"), tool("mosquitto_pub"))
    else {
        return;
    };
    let dir = TempDir::new();
    let port = free_port();
    let config = dir.path().join("mosquitto.conf");
    std::fs::write(&config, format!("log_dest stderr\nallow_anonymous true\nlistener {port} 127.0.0.1\n")).unwrap();
    let _mosquitto = Mosquitto::start(&broker, &config);
    let addr: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
    // Retained messages, so that each subscriber gets the same ones in the same order.
    let properties = publish_properties();
    let mosquitto_pub = |args: &[&str]| {
        let status = Command::new("mosquitto_pub").args(at(addr, args)).status().unwrap();
        assert!(status.success());
    };
    mosquitto_pub(
        &[&["-V", "5", "-q", "1", "-r", "-t", "f/props", "-m", "with \"properties\""][..], &properties].concat(),
    );
    mosquitto_pub(&["-q", "2", "-r", "-t", "f/bytes", "-m", "tab\there"]);
    mosquitto_pub(&["-q", "0", "-r", "-t", "f/long/topic/name", "-m", "0123456789abcdef"]);
    let formats: [&[&str]; 8] = [
        &[],
        &["-v"],
        &["-v", "-N"],
        &["-F", "%t|%p|%q|%r|%m|%l|%x|%X|%%"],
        &["-F", "[%22t|%-22t|%.4t|%20p|%-20p|%020p|%06l|%-4l|%4m|%-08l|%10.3t]"],
        &["-F", "%P|%C|%R|%D|%E|%F|%5E|%-5F|%5A|%5C|%S\\t\\\\@@"],
        &["-F", "%j"],
        &["-F", "%j", "--pretty"],
    ];
    for version in ["mqttv311", "mqttv5"] {
        for format in formats {
            // QoS 1: libmosquitto hands a QoS 2 message over at PUBREL, verimqtt at PUBLISH, which would
            // reorder it among the others.
            let args = at(addr, &[&["-V", version, "-q", "1", "-t", "f/#", "-C", "3"][..], format].concat());
            let theirs = without_timestamps(output_of(&mosquitto_sub, &args));
            let ours = without_timestamps(output_of(
                std::path::Path::new(env!("CARGO_BIN_EXE_verimqtt")),
                &[owned(&["sub"]), args].concat(),
            ));
            assert_eq!(ours, theirs, "verimqtt sub {version} {format:?}");
        }
    }
}

/// `verimqtt sub` with `args` run to its end: exit code, stdout, stderr.
fn sub(args: &[String]) -> (Option<i32>, String, String) {
    let output = run(&[owned(&["sub"]), args.to_vec()].concat(), b"");
    (output.status.code(), String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
}

/// mosquitto_sub's exit code when -W's time is up.
const TIMED_OUT: i32 = 27;

#[test]
fn sub_skips_filters_out_and_clears_retained_messages_and_times_out_with_27() {
    let broker = EmbeddedBroker::start().unwrap();
    let addr = broker.addr();
    publish(&at(addr, &["-t", "r/kept", "-m", "old", "-r"]), b"");
    publish(&at(addr, &["-t", "r/hidden", "-m", "hidden", "-r"]), b"");
    let (code, printed, _) = sub(&at(addr, &["-t", "r/#", "-v", "-W", "1"]));
    assert_eq!((code, printed.lines().count()), (Some(TIMED_OUT), 2), "both retained messages: {printed}");
    let (code, printed, stderr) = sub(&at(addr, &["-t", "r/#", "-v", "-W", "1", "-R"]));
    assert_eq!((code, printed.as_str()), (Some(TIMED_OUT), ""), "-R prints no retained message");
    assert_eq!(stderr, "verimqtt sub: timed out\n");
    let (_, printed, _) = sub(&at(addr, &["-t", "r/#", "-v", "-W", "1", "-T", "r/hidden"]));
    assert_eq!(printed, "r/kept old\n", "-T filters r/hidden out");
    let (code, printed, stderr) = sub(&at(addr, &["-t", "r/#", "-E", "--quiet", "-W", "5"]));
    assert_eq!((code, printed.as_str(), stderr.as_str()), (Some(0), "", ""), "-E exits once subscribed");
    let (_, printed, _) = sub(&at(addr, &["-t", "r/#", "-v", "-W", "1", "-T", "r/hidden", "--remove-retained"]));
    // The empty message that clears it comes back as mosquitto_sub's does.
    assert_eq!(printed, "r/kept old\nr/kept (null)\n");
    let (_, printed, stderr) = sub(&at(addr, &["-t", "r/#", "-v", "-W", "1", "--quiet"]));
    assert_eq!(printed, "r/hidden hidden\n", "--remove-retained cleared r/kept only");
    assert_eq!(stderr, "", "--quiet says nothing, not even that the time is up");
}

#[test]
fn retained_only_prints_the_retained_messages_and_exits_at_the_first_live_one() {
    let broker = EmbeddedBroker::start().unwrap();
    let addr = broker.addr();
    publish(&at(addr, &["-t", "o/kept", "-m", "old", "-r"]), b"");
    let mut subscriber = Subscriber::start(&at(addr, &["-t", "o/#", "-v", "--retained-only"]));
    assert_eq!(subscriber.line(), "o/kept old");
    publish(&at(addr, &["-t", "o/live", "-m", "new"]), b"");
    assert!(subscriber.exit_status().success(), "exits 0 at the first message that is not retained");
    let both = run(&[owned(&["sub", "-R", "--retained-only"]), at(addr, &["-t", "o/#"])].concat(), b"");
    assert!(String::from_utf8(both.stderr).unwrap().contains("cannot be used with"));
}

#[test]
fn a_refused_filter_is_reported_and_the_granted_ones_keep_running() {
    let acl = verimqtt::auth::Acl::parse("topic read open/#\ntopic write open/#\n").unwrap();
    let broker = EmbeddedBroker::start_with(BrokerOptions::default(), FilePolicy::new(true).with_acl(acl)).unwrap();
    let addr = broker.addr();
    for version in ["mqttv311", "mqttv5"] {
        let args = at(addr, &["-V", version, "-t", "open/a", "-t", "secret/b", "-v", "-W", "3", "-C", "1"]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
            .arg("sub")
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The refusal line says the subscription is in place; then a message on the granted filter.
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(line.contains("refused the subscription to secret/b"), "{version}: {line}");
        publish(&at(addr, &["-V", version, "-t", "open/a", "-m", "still here"]), b"");
        let output = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), "open/a still here\n", "{version}");
        assert!(output.status.success());
    }
    let (code, _, stderr) = sub(&at(addr, &["-t", "secret/#", "--quiet"]));
    assert_eq!((code, stderr.as_str()), (Some(1), ""), "every filter refused: a failure, silent with --quiet");
}

#[test]
fn a_refused_connection_exits_with_the_connack_code_as_mosquitto_does() {
    let broker = EmbeddedBroker::start_with(BrokerOptions::default(), FilePolicy::new(false)).unwrap();
    for (version, code, shown) in [("mqttv311", 5, "return code 5"), ("mqttv5", 0x87, "0x87 Not authorized")] {
        for command in ["sub", "pub"] {
            let args = [owned(&[command]), at(broker.addr(), &["-V", version, "-t", "t", "-m", "x"])].concat();
            let args: Vec<String> = if command == "sub" {
                args.into_iter().filter(|arg| arg != "-m" && arg != "x").collect()
            } else {
                args
            };
            let output = run(&args, b"");
            let stderr = String::from_utf8(output.stderr).unwrap();
            assert_eq!(output.status.code(), Some(code), "{command} {version}: {stderr}");
            assert!(stderr.contains(shown), "{stderr}");
        }
    }
}

#[test]
fn unsubscribe_removes_a_filter_a_persistent_session_kept() {
    let broker = EmbeddedBroker::start().unwrap();
    let addr = broker.addr();
    for id in ["keeps", "drops"] {
        let (code, _, stderr) = sub(&at(addr, &["-c", "-i", id, "-q", "1", "-t", "u/x", "-E"]));
        assert_eq!(code, Some(0), "{stderr}");
    }
    let (code, _, stderr) = sub(&at(addr, &["-c", "-i", "drops", "-U", "u/x", "-E"]));
    assert_eq!(code, Some(0), "{stderr}");
    publish(&at(addr, &["-t", "u/x", "-m", "queued", "-q", "1"]), b"");
    // Resumed with the same filter: a session that kept it delivers the queued message, a new
    // subscription gets nothing published before it.
    let resume = |id: &str| sub(&at(addr, &["-c", "-i", id, "-q", "1", "-t", "u/x", "-v", "-W", "1"])).1;
    assert_eq!(resume("keeps"), "u/x queued\n", "the session kept the subscription and the message");
    assert_eq!(resume("drops"), "", "-U removed it from the session");
}

#[test]
fn a_resumed_session_prints_the_messages_of_filters_from_an_earlier_run() {
    let broker = EmbeddedBroker::start().unwrap();
    let addr = broker.addr();
    let (code, _, stderr) = sub(&at(addr, &["-c", "-i", "resumes", "-q", "1", "-t", "earlier/x", "-E"]));
    assert_eq!(code, Some(0), "{stderr}");
    publish(&at(addr, &["-t", "earlier/x", "-m", "queued", "-q", "1"]), b"");
    let (code, printed, stderr) =
        sub(&at(addr, &["-c", "-i", "resumes", "-q", "1", "-t", "now/y", "-v", "-C", "1", "-W", "5"]));
    assert_eq!((code, printed.as_str()), (Some(0), "earlier/x queued\n"), "{stderr}");
}

#[test]
fn session_expiry_flag_sets_how_long_the_broker_keeps_the_session() {
    let broker = EmbeddedBroker::start().unwrap();
    let addr = broker.addr();
    for (id, expiry) in [("short", "1"), ("forever", "-1")] {
        let (code, _, stderr) =
            sub(&at(addr, &["-V", "mqttv5", "-c", "-i", id, "-x", expiry, "-q", "1", "-t", "x/t", "-E"]));
        assert_eq!(code, Some(0), "{stderr}");
    }
    publish(&at(addr, &["-t", "x/t", "-m", "queued", "-q", "1"]), b"");
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    let resume =
        |id: &str| sub(&at(addr, &["-V", "mqttv5", "-c", "-i", id, "-q", "1", "-t", "x/t", "-v", "-W", "1"])).1;
    assert_eq!(resume("forever"), "x/t queued\n");
    assert_eq!(resume("short"), "", "a session of 1 s is gone after 2.5 s");
    assert!(failure(&[owned(&["sub"]), at(addr, &["-x", "10", "-t", "t"])].concat()).contains("-x needs MQTT 5"));
}

#[test]
fn sigterm_disconnects_sub_normally_so_its_will_is_not_published() {
    let broker = EmbeddedBroker::start().unwrap();
    let addr = broker.addr();
    publish(&at(addr, &["-t", "w/ready", "-m", "ready", "-r"]), b"");
    let will = ["--will-topic", "w/will", "--will-payload", "gone"];
    let mut leaving = Subscriber::start(&at(addr, &[&["-t", "w/ready", "-v"][..], &will].concat()));
    assert_eq!(leaving.line(), "w/ready ready", "subscribed");
    let watcher = Subscriber::start(&at(addr, &["-t", "w/#", "-v", "-W", "2"]));
    assert_eq!(watcher.line(), "w/ready ready", "the watcher is subscribed");
    leaving.terminate();
    assert!(leaving.exit_status().success(), "SIGTERM ends sub with exit code 0");
    let (_, printed, _) = sub(&at(addr, &["-t", "w/will", "-v", "-W", "1"]));
    assert_eq!(printed, "", "no will after a normal DISCONNECT");
    drop(watcher);
}

#[test]
fn pub_repeats_a_message_with_a_delay() {
    let broker = EmbeddedBroker::start().unwrap();
    let addr = broker.addr();
    publish(&at(addr, &["-t", "rep/ready", "-m", "ready", "-r"]), b"");
    let mut subscriber = Subscriber::start(&at(addr, &["-t", "rep/#", "-C", "4"]));
    assert_eq!(subscriber.line(), "ready");
    publish(&at(addr, &["-t", "rep/x", "-m", "again", "-q", "1", "--repeat", "3", "--repeat-delay", "0.05"]), b"");
    let lines: Vec<String> = (0..3).map(|_| subscriber.line()).collect();
    assert_eq!(lines, ["again"; 3]);
    assert!(subscriber.exit_status().success());
}

#[test]
fn id_prefix_makes_a_client_id_a_broker_limiting_prefixes_accepts() {
    let Some(broker) = tool("mosquitto") else { return };
    let dir = TempDir::new();
    let port = free_port();
    let config = dir.path().join("mosquitto.conf");
    let settings =
        format!("log_dest stderr\nallow_anonymous true\nclientid_prefixes dev-\nlistener {port} 127.0.0.1\n");
    std::fs::write(&config, settings).unwrap();
    let _mosquitto = Mosquitto::start(&broker, &config);
    let addr: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
    let (code, _, stderr) = sub(&at(addr, &["-I", "dev-", "-t", "t", "-E"]));
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = sub(&at(addr, &["-t", "t", "-E"]));
    assert_eq!(code, Some(5), "mosquitto refuses the default id, without the prefix, as not authorised: {stderr}");
}

#[test]
fn properties_of_d_flags_reach_the_subscriber() {
    let broker = EmbeddedBroker::start().unwrap();
    let addr = broker.addr();
    publish(&at(addr, &["-t", "p/ready", "-m", "ready", "-r"]), b"");
    let subscriber = Subscriber::start(&at(addr, &["-V", "mqttv5", "-t", "p/#", "-F", "%t %P|%C|%R|%D|%F", "-C", "2"]));
    assert_eq!(subscriber.line(), "p/ready ||||", "subscribed; no properties, so nothing printed for them");
    let properties = [publish_properties(), vec!["-D", "connect", "user-property", "who", "me"]].concat();
    publish(&at(addr, &[&["-V", "mqttv5", "-t", "p/x", "-m", "x"][..], &properties].concat()), b"");
    assert_eq!(subscriber.line(), "p/x a:b|text/plain|re/ply|42|1");
    let v311 =
        failure(&[owned(&["pub"]), at(addr, &["-t", "p/x", "-m", "x", "-D", "publish", "content-type", "t"])].concat());
    assert!(v311.contains("add -V mqttv5"), "{v311}");
    let sub = failure(
        &[owned(&["sub"]), at(addr, &["-V", "mqttv5", "-t", "p/x", "-D", "publish", "content-type", "t"])].concat(),
    );
    assert!(sub.contains("this command sends no PUBLISH"), "{sub}");
}

/// The packets a `verimqtt` run with `args` sends to the broker at `broker`, read by a proxy
/// in between that passes every byte on both ways.
fn packets_sent_through_a_proxy(broker: SocketAddr, args: &[&str]) -> Vec<Packet> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let proxy = listener.local_addr().unwrap();
    let runs = std::thread::spawn({
        let args = [owned(args), at(proxy, &[])].concat();
        move || run(&args, b"")
    });
    let (mut client, _) = listener.accept().unwrap();
    let mut upstream = TcpStream::connect(broker).unwrap();
    let mut downstream = (upstream.try_clone().unwrap(), client.try_clone().unwrap());
    let answers = std::thread::spawn(move || std::io::copy(&mut downstream.0, &mut downstream.1));
    let mut sent = Vec::new();
    let mut chunk = [0; 16 * 1024];
    while let Ok(read @ 1..) = client.read(&mut chunk) {
        sent.extend_from_slice(&chunk[..read]);
        upstream.write_all(&chunk[..read]).unwrap();
    }
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = answers.join();
    let output = runs.join().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    let mut bytes = BytesMut::from(&sent[..]);
    let options = DecodeOptions::new(ProtocolVersion::V5);
    std::iter::from_fn(|| codec::decode(&mut bytes, &options).unwrap()).collect()
}

#[test]
fn d_flags_set_the_properties_of_subscribe_unsubscribe_and_disconnect() {
    let broker = EmbeddedBroker::start().unwrap();
    let flags = [
        "sub",
        "-V",
        "mqttv5",
        "-c",
        "-i",
        "props",
        "-x",
        "60",
        "-q",
        "1",
        "-t",
        "s/x",
        "-U",
        "s/y",
        "-E",
        "-D",
        "subscribe",
        "subscription-identifier",
        "7",
        "-D",
        "subscribe",
        "user-property",
        "a",
        "b",
        "-D",
        "unsubscribe",
        "user-property",
        "c",
        "d",
        "-D",
        "disconnect",
        "session-expiry-interval",
        "0",
    ];
    let sent = packets_sent_through_a_proxy(broker.addr(), &flags);
    let user_property = |name: &str, value: &str| vec![(name.try_into().unwrap(), value.try_into().unwrap())];
    let Some(Packet::Subscribe(subscribe)) = sent.iter().find(|packet| matches!(packet, Packet::Subscribe(_))) else {
        panic!("no SUBSCRIBE in {sent:?}")
    };
    assert_eq!(subscribe.properties.subscription_identifiers, [SubscriptionId::new(7).unwrap()]);
    assert_eq!(subscribe.properties.user_properties, user_property("a", "b"));
    let Some(Packet::Unsubscribe(unsubscribe)) = sent.iter().find(|packet| matches!(packet, Packet::Unsubscribe(_)))
    else {
        panic!("no UNSUBSCRIBE in {sent:?}")
    };
    assert_eq!(unsubscribe.properties.user_properties, user_property("c", "d"));
    let Some(Packet::Disconnect(disconnect)) = sent.last() else { panic!("no DISCONNECT last in {sent:?}") };
    assert_eq!(disconnect.reason_code, ReasonCode::Success, "a normal DISCONNECT: no will");
    assert_eq!(disconnect.properties.session_expiry_interval, Some(0));
    // The broker took the DISCONNECT's 0 over the CONNECT's 60 s: the session is gone.
    publish(&at(broker.addr(), &["-t", "s/x", "-m", "lost", "-q", "1"]), b"");
    let (_, printed, _) =
        sub(&at(broker.addr(), &["-V", "mqttv5", "-c", "-i", "props", "-q", "1", "-t", "s/x", "-W", "1"]));
    assert_eq!(printed, "", "the session ended with the connection");
    let kept = failure(
        &[
            owned(&["sub"]),
            at(broker.addr(), &["-V", "mqttv5", "-t", "t", "-D", "disconnect", "session-expiry-interval", "5"]),
        ]
        .concat(),
    );
    assert!(kept.contains("the DISCONNECT cannot keep it"), "{kept}");
}

#[test]
fn debug_shows_every_packet_sent_and_received() {
    let broker = EmbeddedBroker::start().unwrap();
    let (code, _, stderr) = sub(&at(broker.addr(), &["-d", "-q", "1", "-t", "d/x", "-E"]));
    assert_eq!(code, Some(0), "{stderr}");
    for wanted in ["sent 1 CONNECT", "received 1 CONNACK", "sent 1 SUBSCRIBE", "received 1 SUBACK", "sent 1 DISCONNECT"]
    {
        assert!(stderr.contains(wanted), "{wanted}: {stderr}");
    }
}

#[test]
fn unix_connects_through_mosquittos_unix_socket_listener() {
    let Some(broker) = tool("mosquitto") else { return };
    let dir = TempDir::new();
    let socket = dir.path().join("mosquitto.sock");
    let config = dir.path().join("mosquitto.conf");
    std::fs::write(
        &config,
        format!("log_dest stderr\nuser root\nallow_anonymous true\nlistener 0 {}\n", socket.display()),
    )
    .unwrap();
    let _mosquitto = Mosquitto::start(&broker, &config);
    let unix = ["--unix", socket.to_str().unwrap()];
    publish(&owned(&[&unix[..], &["-t", "u/ready", "-m", "over a unix socket", "-r"]].concat()), b"");
    let (code, printed, stderr) = sub(&owned(&[&unix[..], &["-t", "u/ready", "-v", "-C", "1"]].concat()));
    assert_eq!((code, printed.as_str()), (Some(0), "u/ready over a unix socket\n"), "{stderr}");
}

#[test]
fn bind_address_is_where_the_connection_leaves_from() {
    // A listener that only looks at who connects: the whole of 127/8 is loopback on Linux.
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_verimqtt"))
        .args(["pub", "-A", "127.0.0.2", "-h", "127.0.0.1", "-p", &port, "-t", "t", "-m", "x"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (_, peer) = listener.accept().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(peer.ip(), Ipv4Addr::new(127, 0, 0, 2));
}

#[test]
fn capath_trusts_a_directory_and_tls_version_holds_to_one_version() {
    let Some(broker) = tool("mosquitto") else { return };
    let dir = TempDir::new();
    let pki = crate::files::Pki::generate();
    let cas = dir.path().join("cas");
    std::fs::create_dir(&cas).unwrap();
    std::fs::copy(pki.path("ca.crt"), cas.join("ca.pem")).unwrap();
    std::fs::write(cas.join("README"), "not a certificate").unwrap();
    let port = free_port();
    let config = dir.path().join("mosquitto.conf");
    let settings = format!(
        "log_dest stderr\nallow_anonymous true\nlistener {port} 127.0.0.1\ncertfile {}\nkeyfile {}\ntls_version tlsv1.3\n",
        pki.path("server.crt").display(),
        pki.path("server.key").display()
    );
    std::fs::write(&config, settings).unwrap();
    let _mosquitto = Mosquitto::start(&broker, &config);
    let tls = |version: &str| {
        owned(&[
            "-h",
            "localhost",
            "-p",
            &port.to_string(),
            "--capath",
            cas.to_str().unwrap(),
            "--tls-version",
            version,
        ])
    };
    let (code, _, stderr) = sub(&[tls("tlsv1.3"), owned(&["-t", "t", "-E"])].concat());
    assert_eq!(code, Some(0), "TLS 1.3 with the CA from the directory: {stderr}");
    let (code, _, stderr) = sub(&[tls("tlsv1.2"), owned(&["-t", "t", "-E"])].concat());
    assert_eq!(code, Some(1), "mosquitto speaks TLS 1.3 only here: {stderr}");
    assert!(stderr.contains("TLS handshake"), "{stderr}");
    let (_, _, stderr) = sub(&[tls("tlsv1.1"), owned(&["-t", "t", "-E"])].concat());
    assert!(stderr.contains("TLS 1.2 and 1.3 only"), "{stderr}");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (_, _, stderr) =
        sub(&owned(&["-h", "localhost", "-p", &port.to_string(), "--capath", empty.to_str().unwrap(), "-t", "t"]));
    assert!(stderr.contains("no PEM certificate in the CA directory"), "{stderr}");
}
