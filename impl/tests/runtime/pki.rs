//! Certificates made at run time for the TLS tests: a CA, and a certificate for localhost
//! and 127.0.0.1 signed by it, for the broker.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;
use verimqtt::runtime::client::tls_config_from;
use verimqtt::runtime::tls::{ClientCertificates, acceptor};

pub struct Pki {
    ca: CertificateDer<'static>,
    ca_pem: String,
    server: CertificateDer<'static>,
    server_pem: String,
    server_key: KeyPair,
}

impl Pki {
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let server = server_params.signed_by(&server_key, &ca, &ca_key).unwrap();
        Pki {
            ca: ca.der().clone(),
            ca_pem: ca.pem(),
            server: server.der().clone(),
            server_pem: server.pem(),
            server_key,
        }
    }

    /// The broker's side: presents the server certificate, asks clients for none.
    pub fn acceptor(&self) -> TlsAcceptor {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.serialize_der()));
        acceptor(vec![self.server.clone()], key, ClientCertificates::Ignored).unwrap()
    }

    /// The client's side: trusts the CA.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        tls_config_from(vec![self.ca.clone()], None).unwrap()
    }

    /// Writes the CA certificate (PEM) into `dir` and returns its path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }

    /// Writes the server certificate and key (PEM) into `dir`: for mosquitto.
    pub fn write_server(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
        std::fs::write(&cert, &self.server_pem).unwrap();
        std::fs::write(&key, self.server_key.serialize_pem()).unwrap();
        (cert, key)
    }
}

/// A fresh directory for a test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("verimqtt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
