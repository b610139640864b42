//! How a client trusts the broker's certificate and which certificate it presents, for
//! `mqtts://` and `wss://`: the settings every program that connects shares (the async
//! client's users, `verimqtt pub`, `sub` and `bench`, the conformance suite), as flags
//! (`--cafile`, `--cert`, `--key`, `--insecure`) or as a table of a configuration file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;

use crate::runtime::tls::{TlsError, read_certificates, read_private_key};

/// What `--insecure` prints, and what a report of a run made with it says.
pub const INSECURE_WARNING: &str =
    "WARNING: --insecure: the broker's certificate is NOT checked; anyone on the path can read and change the traffic";

/// Where trust in the broker comes from, and the client's own certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// CA certificates (PEM) to trust for mqtts:// and wss://, instead of the operating
    /// system's trust store.
    #[cfg_attr(feature = "clap", arg(long = "cafile", value_name = "FILE"))]
    pub cafile: Option<PathBuf>,
    /// A directory of CA certificates (PEM files) to trust, as --cafile (with it, both).
    #[cfg_attr(feature = "clap", arg(long = "capath", value_name = "DIR"))]
    #[serde(default)]
    pub capath: Option<PathBuf>,
    /// Speak only this TLS version: tlsv1.2 or tlsv1.3 (default: either).
    #[cfg_attr(feature = "clap", arg(long = "tls-version", value_name = "VERSION", value_parser = parse_tls_version))]
    #[serde(default, deserialize_with = "tls_version")]
    pub tls_version: Option<TlsVersion>,
    /// Client certificate chain (PEM) to present, with --key.
    #[cfg_attr(feature = "clap", arg(long = "cert", value_name = "FILE", requires = "key"))]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[cfg_attr(feature = "clap", arg(long = "key", value_name = "FILE", requires = "cert"))]
    pub key: Option<PathBuf>,
    /// INSECURE: accept any server certificate (for test brokers with self-signed
    /// certificates only).
    #[cfg_attr(feature = "clap", arg(long = "insecure", conflicts_with_all = ["cafile", "capath"]))]
    #[serde(default)]
    pub insecure: bool,
}

impl TlsSettings {
    /// The rustls configuration: the CA file's roots, else the operating system's (loaded
    /// now), else none checked with `insecure`; the client certificate if one is named.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let identity = match (&self.cert, &self.key) {
            (Some(chain), Some(key)) => Some((
                read_certificates(chain, "the client certificate").map_err(in_file(chain))?,
                read_private_key(key).map_err(in_file(key))?,
            )),
            (None, None) => None,
            _ => return Err(TlsError::IncompleteIdentity),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone());
        let builder = match self.tls_version {
            Some(TlsVersion::Tls12) => builder.with_protocol_versions(&[&rustls::version::TLS12])?,
            Some(TlsVersion::Tls13) => builder.with_protocol_versions(&[&rustls::version::TLS13])?,
            None => builder.with_safe_default_protocol_versions()?,
        };
        let builder = if self.insecure {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(TrustAnything(provider)))
        } else {
            let mut roots = match &self.cafile {
                Some(cafile) => read_certificates(cafile, "the CA file").map_err(in_file(cafile))?,
                None => Vec::new(),
            };
            if let Some(capath) = &self.capath {
                roots.extend(read_directory(capath)?);
            }
            if self.cafile.is_none() && self.capath.is_none() {
                roots = system_roots()?;
            }
            let mut store = rustls::RootCertStore::empty();
            for root in roots {
                store.add(root)?;
            }
            builder.with_root_certificates(store)
        };
        let config = match identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// A TLS version `--tls-version` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// `tlsv1.2` or `tlsv1.3`, as mosquitto's tools spell them.
fn parse_tls_version(text: &str) -> Result<TlsVersion, String> {
    match text {
        "tlsv1.2" => Ok(TlsVersion::Tls12),
        "tlsv1.3" => Ok(TlsVersion::Tls13),
        "tlsv1.1" | "tlsv1" => Err(format!("{text} is not offered: rustls speaks TLS 1.2 and 1.3 only")),
        other => Err(format!("{other:?} is not a TLS version: tlsv1.2 or tlsv1.3")),
    }
}

fn tls_version<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<TlsVersion>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_tls_version(&text).map(Some).map_err(serde::de::Error::custom)
}

/// The certificates of every PEM file in `directory` (files holding none, such as an
/// OpenSSL hash directory's other files, are passed over); none at all is an error.
fn read_directory(directory: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let unreadable = |error: std::io::Error| TlsError::File {
        path: directory.to_owned(),
        error: Box::new(TlsError::Directory(error.to_string())),
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(directory)
        .map_err(unreadable)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    entries.sort();
    let certificates: Vec<_> = entries
        .iter()
        .filter(|path| path.is_file())
        .filter_map(|path| read_certificates(path, "a CA file").ok())
        .flatten()
        .collect();
    if certificates.is_empty() {
        return Err(TlsError::File {
            path: directory.to_owned(),
            error: Box::new(TlsError::NoCertificate("the CA directory")),
        });
    }
    Ok(certificates)
}

/// Names the file an error is about.
fn in_file(path: &Path) -> impl FnOnce(TlsError) -> TlsError {
    let path = path.to_owned();
    move |error| TlsError::File { path, error: Box::new(error) }
}

/// The CA certificates the operating system trusts (on Linux, those `SSL_CERT_FILE` or the
/// distribution's bundle names). Certificates rustls cannot parse are left out, as browsers
/// do; an empty store is an error, since no broker could then be trusted.
fn system_roots() -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let why = found.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        return Err(TlsError::NoSystemRoots(if why.is_empty() { "it is empty".into() } else { why }));
    }
    Ok(found.certs)
}

/// Checks the handshake's signatures but trusts any certificate: `insecure`.
#[derive(Debug)]
struct TrustAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for TrustAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
