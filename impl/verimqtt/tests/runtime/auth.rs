//! Authentication over loopback TCP, in both versions: password files written by
//! `verimqtt passwd`'s code and by mosquitto_passwd, right and wrong passwords, anonymous
//! clients allowed or not, and the CONNACK codes of each refusal on the wire.

use std::path::Path;
use std::process::Command;

use verimqtt::runtime::EmbeddedBroker;
use verimqtt::runtime::passwd::set_password;

use crate::client::{Answer, VERSIONS, assert_answer_at, connect};
use crate::config::serve;
use crate::files::TempDir;
use crate::process::tool;

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
