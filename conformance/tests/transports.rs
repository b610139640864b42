//! The whole suite over TLS (with a client certificate) and over WebSocket over TLS, against
//! verimqtt's own listeners, whose certificates are generated at run time, with a password
//! every CONNECT must carry: every run passes, as every run passes over plain TCP
//! (`tests/scenarios.rs`), but for the two that send a valid CONNECT as raw bytes, which
//! cannot carry the password. Raw bytes and malformed packets go inside the TLS stream and
//! the WebSocket messages unchanged, so their verdicts are the same.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The runtime suite's files and test PKI, shared by path; this test uses part of them.
#[path = "../../impl/verimqtt/tests/runtime/files.rs"]
#[allow(dead_code)]
mod files;

use std::net::Ipv4Addr;

use files::{Pki, acceptor};
use verimqtt::auth::{Acl, FilePolicy, PasswordFile, PasswordHash};
use verimqtt::broker::{AllowAll, BrokerOptions};
use verimqtt::runtime::client::TlsSettings;
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};
use verimqtt_conformance::profile::User;
use verimqtt_conformance::suite::{self, InstanceResult};
use verimqtt_conformance::{Feature, Outcome, Profile, Scenario, scenarios_dir};
use verimqtt_spec::catalogue::SpecVersion;

const USER: &str = "conformance";
const PASSWORD: &str = "s3cret:with@signs";
/// The second user, for the scenarios about two.
const OTHER: &str = "conformance-2";

/// A broker with a TLS listener that requires a client certificate, a WebSocket over TLS
/// listener that does not, a plain WebSocket listener, and a password file that lets only
/// [`USER`] and [`OTHER`] in.
fn broker(pki: &Pki) -> EmbeddedBroker {
    let hash = PasswordHash::new(PASSWORD.as_bytes()).unwrap();
    let passwords = PasswordFile::parse(&format!("{USER}:{hash}\n{OTHER}:{hash}\n")).unwrap();
    let policy = FilePolicy::new(false).with_passwords(passwords);
    let listen = |transport| Listener::bind((Ipv4Addr::LOCALHOST, 0).into(), transport).unwrap();
    let server = Server::new(Default::default(), policy)
        .listener(listen(Transport::Tls(acceptor(pki, true))))
        .listener(listen(Transport::SecureWebSocket(acceptor(pki, false))))
        .listener(listen(Transport::WebSocket));
    EmbeddedBroker::serve(server).unwrap()
}

/// Every scenario in every version against the broker `profile` names.
fn run_suite(profile: &Profile) -> Vec<InstanceResult> {
    run_area(profile, "")
}

/// The scenarios whose id starts with `area`, in every version, against the broker `profile`
/// names.
fn run_area(profile: &Profile, area: &str) -> Vec<InstanceResult> {
    let mut instances = suite::instances(Scenario::load_all(&scenarios_dir()).unwrap());
    instances.retain(|instance| instance.scenario.id.starts_with(area));
    let (_broker, settings) = profile.open(SpecVersion::V3_1_1).unwrap();
    suite::run_all(&instances, &settings, 16, &|_| {})
}

/// The runs whose outcome is not the one they have over plain TCP (`tests/scenarios.rs`), where
/// every run passes but those about two users, skipped for want of a second. The same here,
/// except that runs may be skipped for what the account allows: those that send a valid CONNECT
/// as raw bytes, which cannot carry the password, and those whose topics leave the prefix.
fn different_from_plain_tcp(results: &[InstanceResult]) -> Vec<String> {
    results
        .iter()
        .filter(|result| match &result.outcome {
            Outcome::Passed => false,
            Outcome::Skipped(_) => {
                let features = &result.instance.scenario.features;
                let of_the_account = [Feature::Anonymous, Feature::AnyTopic, Feature::SecondUser];
                !features.iter().any(|feature| of_the_account.contains(feature))
            }
            _ => true,
        })
        .map(|result| format!("{}: {:?}", result.instance.name(), result.outcome))
        .collect()
}

#[test]
fn the_suite_passes_over_tls_and_secure_websocket_with_credentials() {
    let pki = Pki::generate();
    let broker = broker(&pki);
    let (tls, wss) = (broker.addrs()[0], broker.addrs()[1]);
    let trust = TlsSettings { cafile: Some(pki.path("ca.crt")), ..TlsSettings::default() };
    let with_certificate =
        TlsSettings { cert: Some(pki.path("client.crt")), key: Some(pki.path("client.key")), ..trust.clone() };

    // The credentials from the profile here, from the URL (percent-encoded) below; the
    // process keeps the first it is given, which are the same.
    let over_tls = Profile {
        url: Some(format!("mqtts://127.0.0.1:{}", tls.port())),
        username: Some(USER.into()),
        password: Some(PASSWORD.into()),
        second: User { username: Some(OTHER.into()), password: Some(PASSWORD.into()) },
        tls: with_certificate,
        ..Profile::default()
    };
    let results = run_suite(&over_tls);
    assert!(results.len() > 300, "{} runs", results.len());
    assert_eq!(different_from_plain_tcp(&results), Vec::<String>::new(), "over TLS");
    // The scenarios about two users, skipped over plain TCP (no second user there), run here.
    let two_users: Vec<&InstanceResult> =
        results.iter().filter(|result| result.instance.scenario.features.contains(&Feature::SecondUser)).collect();
    assert_eq!(two_users.len(), 2);
    assert!(two_users.iter().all(|result| result.outcome == Outcome::Passed), "{two_users:?}");

    let over_wss = Profile {
        url: Some(format!("wss://{USER}:s3cret%3Awith%40signs@localhost:{}/mqtt", wss.port())),
        second: User { username: Some(OTHER.into()), password: Some(PASSWORD.into()) },
        tls: trust,
        ..Profile::default()
    };
    assert_eq!(different_from_plain_tcp(&run_suite(&over_wss)), Vec::<String>::new(), "over WebSocket over TLS");
}

#[test]
fn malformed_packets_go_unchanged_over_plain_websocket_and_over_tls_unchecked() {
    let pki = Pki::generate();
    let broker = broker(&pki);
    let credentials = |url: String, tls| Profile {
        url: Some(url),
        username: Some(USER.into()),
        password: Some(PASSWORD.into()),
        tls,
        ..Profile::default()
    };
    let over_ws = credentials(format!("ws://127.0.0.1:{}/mqtt", broker.addrs()[2].port()), TlsSettings::default());
    let results = run_area(&over_ws, "malformed/");
    assert!(results.len() > 50, "{} runs", results.len());
    assert_eq!(different_from_plain_tcp(&results), Vec::<String>::new(), "over WebSocket");

    let unchecked = TlsSettings { insecure: true, ..TlsSettings::default() };
    let over_wss = credentials(format!("wss://127.0.0.1:{}/mqtt", broker.addrs()[1].port()), unchecked);
    assert_eq!(different_from_plain_tcp(&run_area(&over_wss, "malformed/")), Vec::<String>::new(), "unchecked");
    let (target, _) = over_wss.open(SpecVersion::V3_1_1).unwrap();
    assert!(target.name().contains("INSECURE"), "reports say the certificate was not checked: {}", target.name());
}

#[test]
fn a_broker_that_allows_only_a_topic_prefix_is_measured_without_false_failures() {
    let hash = PasswordHash::new(PASSWORD.as_bytes()).unwrap();
    let passwords = PasswordFile::parse(&format!("{USER}:{hash}\n")).unwrap();
    let acl = Acl::parse("pattern readwrite tenants/test/#\n").unwrap();
    let policy = FilePolicy::new(false).with_passwords(passwords).with_acl(acl);
    let broker = EmbeddedBroker::start_with(Default::default(), policy).unwrap();
    let profile = Profile {
        url: Some(broker.url()),
        username: Some(USER.into()),
        password: Some(PASSWORD.into()),
        topic_prefix: Some("tenants/test".into()),
        ..Profile::default()
    };
    let results = run_suite(&profile);
    let skipped_outside = results.iter().filter(|result| {
        result.instance.scenario.features.contains(&Feature::AnyTopic) && matches!(result.outcome, Outcome::Skipped(_))
    });
    assert_eq!(skipped_outside.count(), 2, "the $-topic scenario, in both versions");
    assert_eq!(different_from_plain_tcp(&results), Vec::<String>::new());
}

#[test]
fn a_broker_with_a_small_maximum_packet_size_is_measured_without_false_failures() {
    const LIMIT: u32 = 4096;
    let options = BrokerOptions { max_packet_size: LIMIT, ..BrokerOptions::default() };
    let broker = EmbeddedBroker::start_with(options, AllowAll).unwrap();
    let profile = Profile { url: Some(broker.url()), max_packet_size: Some(LIMIT as usize), ..Profile::default() };
    let results = run_suite(&profile);
    let (too_large, rest): (Vec<InstanceResult>, Vec<InstanceResult>) = results
        .into_iter()
        .partition(|result| matches!(&result.outcome, Outcome::Skipped(why) if why.contains("maximum packet size")));
    assert!(!too_large.is_empty(), "some runs send more than {LIMIT} bytes at once");
    assert_eq!(different_from_plain_tcp(&rest), Vec::<String>::new());
}

#[test]
fn a_broker_that_cannot_be_trusted_is_named_in_the_error() {
    let (pki, other) = (Pki::generate(), Pki::generate());
    let broker = broker(&pki);
    let profile = Profile {
        url: Some(format!("mqtts://127.0.0.1:{}", broker.addrs()[0].port())),
        tls: TlsSettings { cafile: Some(other.path("ca.crt")), ..TlsSettings::default() },
        ..Profile::default()
    };
    let error = profile.open(SpecVersion::V3_1_1).err().unwrap();
    let expected = format!("TLS handshake with mqtts://127.0.0.1:{} failed", broker.addrs()[0].port());
    assert!(error.contains(&expected) && error.contains("invalid peer certificate"), "{error}");
}
