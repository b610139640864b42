//! Authentication over loopback TCP, in both versions: password files written by
//! `verimqtt passwd`'s code and by mosquitto_passwd, right and wrong passwords, anonymous
//! clients allowed or not, and the CONNACK codes of each refusal on the wire.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use verimqtt::codec::{Binary, Connect, Packet, ProtocolVersion};
use verimqtt::runtime::EmbeddedBroker;
use verimqtt::runtime::passwd::set_password;

use crate::client::{RawClient, mqtt_string};
use crate::config::serve;
use crate::files::TempDir;
use crate::mosquitto::tool;

pub const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

/// A CONNECT from `client_id`, with these credentials.
pub fn connect(version: ProtocolVersion, client_id: &str, username: Option<&str>, password: Option<&str>) -> Connect {
    let mut connect = Connect::new(version, mqtt_string(client_id));
    connect.username = username.map(mqtt_string);
    connect.password = password.map(|password| Binary::try_from(password.as_bytes()).unwrap());
    connect
}

/// What refusing a CONNECT looks like on the wire: `[0x20, 2, 0, code]` in 3.1.1, the MQTT 5
/// reason code in the third byte in 5.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// 3.1.1 return code 4, MQTT 5 0x86.
    BadUserNameOrPassword,
    /// 3.1.1 return code 5, MQTT 5 0x87.
    NotAuthorized,
}

impl Answer {
    fn code(self, version: ProtocolVersion) -> u8 {
        match (self, version) {
            (Answer::Accepted, _) => 0,
            (Answer::BadUserNameOrPassword, ProtocolVersion::V311) => 0x04,
            (Answer::BadUserNameOrPassword, ProtocolVersion::V5) => 0x86,
            (Answer::NotAuthorized, ProtocolVersion::V311) => 0x05,
            (Answer::NotAuthorized, ProtocolVersion::V5) => 0x87,
        }
    }
}

/// Connects and checks the CONNACK's code byte; a refused connection must then be closed.
pub fn assert_answer_at(addr: SocketAddr, connect: Connect, expected: Answer) {
    let version = connect.protocol_version;
    let what = format!("{version} {:?}/{:?}", connect.username, connect.password.as_ref().map(|_| "…"));
    let mut client = RawClient::open(addr, version);
    client.send(&Packet::Connect(Box::new(connect)));
    let Some((Packet::ConnAck(_), wire)) = client.recv_wire() else { panic!("{what}: no CONNACK") };
    // Byte 0: CONNACK; byte 3: the return code (3.1.1) or reason code (5.0).
    assert_eq!((wire[0], wire[3]), (0x20, expected.code(version)), "{what}: {wire:?}");
    if expected != Answer::Accepted {
        assert_eq!(client.until_closed(), [], "{what}: closed after a refusal");
    }
}

fn broker_with(dir: &TempDir, passwords: &Path, allow_anonymous: bool) -> EmbeddedBroker {
    let text = format!(
        "[[listener]]\nbind = \"127.0.0.1:0\"\n[auth]\nallow_anonymous = {allow_anonymous}\npassword_file = {:?}\n",
        passwords.display().to_string()
    );
    serve(dir.path(), &text)
}

#[test]
fn users_of_a_file_written_by_verimqtt_passwd_need_their_password_in_both_versions() {
    let dir = TempDir::new();
    let passwords = dir.path().join("passwd");
    set_password(&passwords, "alice", "wonderland").unwrap();
    set_password(&passwords, "bob", "builder").unwrap();
    let broker = broker_with(&dir, &passwords, true);
    for version in VERSIONS {
        let cases = [
            (Some("alice"), Some("wonderland"), Answer::Accepted),
            (Some("bob"), Some("builder"), Answer::Accepted),
            (Some("alice"), Some("builder"), Answer::BadUserNameOrPassword),
            (Some("alice"), Some("Wonderland"), Answer::BadUserNameOrPassword),
            (Some("alice"), None, Answer::BadUserNameOrPassword),
            (Some("mallory"), Some("wonderland"), Answer::BadUserNameOrPassword),
            (None, None, Answer::Accepted),
        ];
        for (username, password, answer) in cases {
            assert_answer_at(broker.addr(), connect(version, "c", username, password), answer);
        }
    }
}

#[test]
fn anonymous_clients_are_refused_as_not_authorized_unless_allowed() {
    let dir = TempDir::new();
    let passwords = dir.path().join("passwd");
    set_password(&passwords, "alice", "wonderland").unwrap();
    let closed = broker_with(&dir, &passwords, false);
    let open = broker_with(&dir, &passwords, true);
    for version in VERSIONS {
        assert_answer_at(closed.addr(), connect(version, "anonymous", None, None), Answer::NotAuthorized);
        assert_answer_at(closed.addr(), connect(version, "alice", Some("alice"), Some("wonderland")), Answer::Accepted);
        assert_answer_at(open.addr(), connect(version, "anonymous", None, None), Answer::Accepted);
    }
}

#[test]
fn a_password_file_written_by_mosquitto_passwd_is_read_as_it_is() {
    let dir = TempDir::new();
    // The committed file: both of mosquitto's hash schemes.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runtime/fixtures/mosquitto.passwd");
    let mut files = vec![(fixture, [("pbkdf2-user", "pbkdf2-secret"), ("sha512-user", "sha512-secret")])];
    // And one written now, by the mosquitto_passwd installed here.
    if let Some(mosquitto_passwd) = tool("mosquitto_passwd") {
        let written = dir.path().join("mosquitto.passwd");
        for (scheme, user, password) in
            [("sha512-pbkdf2", "pbkdf2-user", "new-pbkdf2"), ("sha512", "sha512-user", "new-sha512")]
        {
            let mut command = Command::new(&mosquitto_passwd);
            command.args(["-H", scheme]);
            if !written.exists() {
                command.arg("-c");
            }
            let status = command.arg("-b").arg(&written).args([user, password]).status().unwrap();
            assert!(status.success());
        }
        files.push((written, [("pbkdf2-user", "new-pbkdf2"), ("sha512-user", "new-sha512")]));
    }
    for (file, users) in files {
        let broker = broker_with(&dir, &file, false);
        for version in VERSIONS {
            for (user, password) in users {
                assert_answer_at(broker.addr(), connect(version, "c", Some(user), Some(password)), Answer::Accepted);
                let wrong = format!("{password}!");
                assert_answer_at(
                    broker.addr(),
                    connect(version, "c", Some(user), Some(&wrong)),
                    Answer::BadUserNameOrPassword,
                );
            }
        }
    }
}
