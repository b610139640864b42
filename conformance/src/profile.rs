//! A broker profile: everything the suite must know to measure one broker as it runs in
//! production, in a small TOML file (`--profile FILE`, or `MQTT_PROFILE` for `cargo test`):
//!
//! ```toml
//! url = "mqtts://broker.example:8883"   # mqtt://, mqtts://, ws://, wss://
//! username = "conformance"              # applied to every CONNECT that names no user
//! password = "..."                      # or MQTT_PASSWORD, kept out of the file
//! second = { username = "conformance-2", password = "..." }   # for scenarios about two users
//! without = ["shared_subscriptions"]    # features it lacks: their scenarios are skipped
//! topic_prefix = "tenants/test"         # the only topics it allows: {prefix} goes under it
//! max_packet_size = 65536               # runs that would send more are skipped
//! jobs = 1                              # scenario runs at once (rate-limited brokers)
//!
//! [tls]                                 # for mqtts:// and wss://; paths from the file's directory
//! cafile = "ca.pem"                     # default: the operating system's trust store
//! cert = "client.pem"                   # a client certificate, with its key
//! key = "client.key"
//! insecure = false                      # true: the certificate is NOT checked (test brokers only)
//! ```
//!
//! Environment variables override the file (`MQTT_BROKER`, `MQTT_USERNAME`, `MQTT_PASSWORD`,
//! `MQTT_USERNAME2`, `MQTT_PASSWORD2`,
//! `MQTT_CAFILE`, `MQTT_CERT`, `MQTT_KEY`, `MQTT_INSECURE=1`, `MQTT_WITHOUT=a,b`,
//! `MQTT_TOPIC_PREFIX`, `MQTT_MAX_PACKET_SIZE`), and the binary's flags override both. A user
//! and password in the URL count when no other names them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use verimqtt::runtime::client::{BrokerUrl, INSECURE_WARNING, TlsSettings};
use verimqtt_spec::catalogue::SpecVersion;

use crate::runner::Settings;
use crate::scenario::Feature;
use crate::target::{BROKER_VARIABLE, TargetBroker};
use crate::template::TOPIC_ROOT;

/// The environment variable that names a profile.
pub const PROFILE_VARIABLE: &str = "MQTT_PROFILE";

/// What the suite knows of the broker under test; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The broker; none: the embedded broker.
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// A second user, for the scenarios about two (feature `second_user`).
    #[serde(default)]
    pub second: User,
    #[serde(default)]
    pub tls: TlsSettings,
    /// Features the broker lacks.
    #[serde(default)]
    pub without: Vec<Feature>,
    /// The topic levels under which the broker lets the test account publish and subscribe.
    pub topic_prefix: Option<String>,
    /// The largest packet the broker accepts, in bytes.
    pub max_packet_size: Option<usize>,
    /// Scenario runs at once.
    pub jobs: Option<usize>,
}

/// A user the suite logs in as.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Profile {
    /// Reads a profile; the TLS files it names are taken from the file's directory.
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
        let mut profile: Profile = toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for file in [&mut profile.tls.cafile, &mut profile.tls.cert, &mut profile.tls.key].into_iter().flatten() {
            *file = base.join(&*file);
        }
        Ok(profile)
    }

    /// The profile `path` names (else the one `MQTT_PROFILE` names, else an empty one), with
    /// what the environment variables say over it.
    pub fn from_env(path: Option<&Path>) -> Result<Profile, String> {
        let named = path.map(Path::to_path_buf).or_else(|| variable(PROFILE_VARIABLE).map(PathBuf::from));
        let mut profile = named.as_deref().map(Profile::load).transpose()?.unwrap_or_default();
        from_variable(&mut profile.url, BROKER_VARIABLE);
        from_variable(&mut profile.username, "MQTT_USERNAME");
        from_variable(&mut profile.password, "MQTT_PASSWORD");
        from_variable(&mut profile.second.username, "MQTT_USERNAME2");
        from_variable(&mut profile.second.password, "MQTT_PASSWORD2");
        from_variable(&mut profile.topic_prefix, "MQTT_TOPIC_PREFIX");
        from_variable(&mut profile.tls.cafile, "MQTT_CAFILE");
        from_variable(&mut profile.tls.cert, "MQTT_CERT");
        from_variable(&mut profile.tls.key, "MQTT_KEY");
        if let Some(insecure) = variable("MQTT_INSECURE") {
            profile.tls.insecure = matches!(insecure.as_str(), "1" | "true" | "yes");
        }
        if let Some(size) = variable("MQTT_MAX_PACKET_SIZE") {
            profile.max_packet_size =
                Some(size.parse().map_err(|_| format!("MQTT_MAX_PACKET_SIZE={size:?} is not a number of bytes"))?);
        }
        for name in
            variable("MQTT_WITHOUT").unwrap_or_default().split(',').map(str::trim).filter(|name| !name.is_empty())
        {
            profile.without.push(Feature::from_name(name).ok_or_else(|| format!("MQTT_WITHOUT: no feature {name:?}"))?);
        }
        Ok(profile)
    }

    /// Starts what the profile names: the credentials, the broker (the embedded one when it
    /// names none) and the run's settings, with its sentinel connected in `sentinel_version`.
    pub fn open(&self, sentinel_version: SpecVersion) -> Result<(TargetBroker, Settings), String> {
        let url = self
            .url
            .as_deref()
            .map(|url| url.parse::<BrokerUrl>().map_err(|error| format!("the broker {url:?}: {error}")))
            .transpose()?;
        let (url_username, url_password) =
            url.as_ref().map_or((None, None), |url| (url.username.clone(), url.password.clone()));
        let username = self.username.clone().or(url_username);
        let password = self.password.clone().or(url_password);
        let mut unsupported = self.without.iter().copied().collect::<BTreeSet<_>>();
        match (&username, &password) {
            (Some(username), password) => {
                crate::credentials::set(username, password.as_deref())?;
                // A broker that asks for credentials is taken to refuse clients without them.
                unsupported.insert(Feature::Anonymous);
            }
            (None, Some(_)) => return Err("a password without a user name".into()),
            (None, None) => {}
        }
        match &self.second {
            User { username: Some(username), password } => {
                crate::credentials::set_second(username, password.as_deref())?;
            }
            User { username: None, password: Some(_) } => {
                return Err("a second password without a second user name".into());
            }
            User { username: None, password: None } => {
                unsupported.insert(Feature::SecondUser);
            }
        }
        let tls = match &url {
            Some(url) if url.scheme.is_tls() => {
                if self.tls.insecure {
                    eprintln!("verimqtt-conformance: {INSECURE_WARNING}");
                }
                Some(self.tls.client_config().map_err(|error| format!("TLS for {url}: {error}"))?)
            }
            _ => None,
        };
        let insecure = self.tls.insecure && tls.is_some();
        let broker = TargetBroker::start(url, tls)?;
        let broker = if insecure { broker.insecure() } else { broker };
        let mut settings = Settings::new(broker.endpoint().clone());
        settings.unsupported = unsupported;
        settings.max_packet_size = self.max_packet_size;
        if let Some(prefix) = &self.topic_prefix {
            let prefix = prefix.trim_end_matches('/');
            if prefix.is_empty() || prefix.contains(['+', '#']) {
                return Err(format!("topic_prefix {prefix:?}: a prefix is topic levels, without wildcards"));
            }
            settings.topic_root = format!("{prefix}/{TOPIC_ROOT}");
            settings.unsupported.insert(Feature::AnyTopic);
        }
        settings.open_sentinel(sentinel_version)?;
        Ok((broker, settings))
    }
}

/// The environment variable's value over `field`, if it is set.
fn from_variable<T: From<String>>(field: &mut Option<T>, name: &str) {
    if let Some(value) = variable(name) {
        *field = Some(T::from(value));
    }
}

/// An environment variable's value, unless it is unset or blank.
fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|value| value.trim().to_string()).filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_a_profile_is_read_and_tls_files_are_found_beside_it() {
        let dir = std::env::temp_dir().join(format!("verimqtt-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broker.toml");
        std::fs::write(
            &path,
            r#"url = "wss://broker.example/mqtt"
               username = "tester"
               password = "secret"
               without = ["retain", "qos2"]
               topic_prefix = "tenant/a"
               max_packet_size = 1024
               jobs = 1
               second = { username = "other", password = "secret2" }
               [tls]
               cafile = "ca.pem"
            "#,
        )
        .unwrap();
        let profile = Profile::load(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(profile.url.as_deref(), Some("wss://broker.example/mqtt"));
        assert_eq!((profile.username.as_deref(), profile.password.as_deref()), (Some("tester"), Some("secret")));
        assert_eq!(profile.without, [Feature::Retain, Feature::Qos2]);
        assert_eq!(
            (profile.topic_prefix.as_deref(), profile.max_packet_size, profile.jobs),
            (Some("tenant/a"), Some(1024), Some(1))
        );
        assert_eq!(profile.tls.cafile, Some(dir.join("ca.pem")));
        assert_eq!(profile.second, User { username: Some("other".into()), password: Some("secret2".into()) });
    }

    #[test]
    fn the_profiles_of_the_matrix_brokers_read() {
        let brokers = concat!(env!("CARGO_MANIFEST_DIR"), "/brokers");
        let mut read = 0;
        for entry in std::fs::read_dir(brokers).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".profile.toml") {
                Profile::load(&path).unwrap_or_else(|error| panic!("{error}"));
                read += 1;
            }
        }
        assert_eq!(read, 9, "one per broker of the matrix");
    }

    #[test]
    fn a_topic_prefix_puts_every_prefix_under_it_and_skips_topics_outside() {
        let broker = verimqtt::runtime::EmbeddedBroker::start().unwrap();
        let profile =
            Profile { url: Some(broker.url()), topic_prefix: Some("tenants/test/".into()), ..Profile::default() };
        let (_target, settings) = profile.open(SpecVersion::V3_1_1).unwrap();
        assert_eq!(settings.topic_root, "tenants/test/vmq");
        assert!(settings.unsupported.contains(&Feature::AnyTopic));
        assert!(settings.unsupported.contains(&Feature::SecondUser), "no second user given");
    }

    #[test]
    fn a_mistyped_key_is_an_error_naming_the_file() {
        let path = std::env::temp_dir().join(format!("verimqtt-profile-typo-{}.toml", std::process::id()));
        std::fs::write(&path, "urll = \"mqtt://b\"\n").unwrap();
        let error = Profile::load(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains(&path.display().to_string()) && error.contains("urll"), "{error}");
    }

    #[test]
    fn bad_urls_and_missing_tls_files_are_clear_errors() {
        let profile = Profile { url: Some("http://broker".into()), ..Profile::default() };
        let error = profile.open(SpecVersion::V3_1_1).err().unwrap();
        assert!(error.contains("unknown scheme \"http\""), "{error}");
        let mut profile = Profile { url: Some("mqtts://127.0.0.1:1".into()), ..Profile::default() };
        profile.tls.cafile = Some("/nonexistent/ca.pem".into());
        let error = profile.open(SpecVersion::V3_1_1).err().unwrap();
        assert!(error.contains("/nonexistent/ca.pem") && error.contains("CA file"), "{error}");
    }
}
