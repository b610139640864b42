//! TLS for the `tls` and `wss` listeners, with rustls and its `ring` provider (pure Rust and
//! assembly: it builds with a C compiler alone). The server presents a certificate chain and
//! may ask clients for certificates, verified against a CA of the operator's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

/// Whether a listener asks clients for a certificate.
#[derive(Debug, Clone, Default)]
pub enum ClientCertificates {
    /// Not asked for.
    #[default]
    Ignored,
    /// Asked for; a client may send none, but one it sends must chain to these roots.
    Optional(Vec<CertificateDer<'static>>),
    /// A client without a certificate chaining to these roots cannot connect.
    Required(Vec<CertificateDer<'static>>),
}

/// Why a TLS listener cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file cannot be read as PEM.
    #[error("cannot read {what}: {error}")]
    Pem {
        /// The file, in words (e.g. "the certificate file").
        what: &'static str,
        /// The PEM error.
        error: rustls::pki_types::pem::Error,
    },
    /// The file (named in words) holds no PEM certificate.
    #[error("no PEM certificate in {0}")]
    NoCertificate(&'static str),
    /// What is wrong with a file a client's TLS settings name.
    #[error("{}: {error}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        error: Box<TlsError>,
    },
    /// A directory of certificates cannot be listed (why carried).
    #[error("cannot read the directory: {0}")]
    Directory(String),
    /// The operating system's store holds no CA certificate rustls can use.
    #[error("no trusted CA certificate in the operating system's store ({0}); name a CA file instead")]
    NoSystemRoots(String),
    /// A client certificate without its key, or a key without its certificate.
    #[error("a client certificate needs its private key, and a key its certificate")]
    IncompleteIdentity,
    /// rustls refused the certificate chain or the key (e.g. a key that does not go with the certificate).
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// The client CA's certificates cannot verify clients.
    #[error("the client CA: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
}

/// The acceptor of a TLS listener presenting `chain` (the server's certificate first) with
/// `key`.
pub fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    clients: ClientCertificates,
) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let roots = |certificates: Vec<CertificateDer<'static>>| -> Result<Arc<rustls::RootCertStore>, TlsError> {
        let mut store = rustls::RootCertStore::empty();
        for certificate in certificates {
            store.add(certificate)?;
        }
        Ok(Arc::new(store))
    };
    let builder = match clients {
        ClientCertificates::Ignored => builder.with_no_client_auth(),
        ClientCertificates::Optional(certificates) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots(certificates)?, provider)
                .allow_unauthenticated()
                .build()?,
        ),
        ClientCertificates::Required(certificates) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots(certificates)?, provider).build()?,
        ),
    };
    Ok(TlsAcceptor::from(Arc::new(builder.with_single_cert(chain, key)?)))
}

/// The certificates of a PEM file, in order; `what` names the file in errors.
pub fn read_certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| TlsError::Pem { what, error })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate(what));
    }
    Ok(certificates)
}

/// The first private key of a PEM file (PKCS #8, PKCS #1 or SEC1).
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| TlsError::Pem { what: "the private key file", error })
}
