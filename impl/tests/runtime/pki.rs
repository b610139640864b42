//! Certificates made at run time for the TLS tests: a CA, a certificate for localhost and
//! 127.0.0.1 signed by it for the broker, and one for a client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, Certificate, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;
use verimqtt::runtime::client::tls_config_from;
use verimqtt::runtime::tls::{ClientCertificates, acceptor};

/// A certificate the CA signed, and its key.
struct Issued {
    certificate: Certificate,
    key: KeyPair,
}

impl Issued {
    fn new(names: &[&str], usage: ExtendedKeyUsagePurpose, ca: &Certificate, ca_key: &KeyPair) -> Self {
        let mut params = CertificateParams::new(names.iter().map(|name| name.to_string()).collect::<Vec<_>>()).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, ca, ca_key).unwrap();
        Issued { certificate, key }
    }

    fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.certificate.der().clone()]
    }

    fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }

    /// Writes `NAME.pem` and `NAME.key` into `dir`.
    fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let (certificate, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
        std::fs::write(&certificate, self.certificate.pem()).unwrap();
        std::fs::write(&key, self.key.serialize_pem()).unwrap();
        (certificate, key)
    }
}

pub struct Pki {
    ca: Certificate,
    server: Issued,
    client: Issued,
}

impl Pki {
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let server = Issued::new(&["localhost", "127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth, &ca, &ca_key);
        let client = Issued::new(&[], ExtendedKeyUsagePurpose::ClientAuth, &ca, &ca_key);
        Pki { ca, server, client }
    }

    /// The broker's side: presents the server certificate, asks clients for none.
    pub fn acceptor(&self) -> TlsAcceptor {
        acceptor(self.server.chain(), self.server.private_key(), ClientCertificates::Ignored).unwrap()
    }

    /// The broker's side, admitting only clients with a certificate the CA signed.
    pub fn acceptor_requiring_client_certificates(&self) -> TlsAcceptor {
        let clients = ClientCertificates::Required(vec![self.ca.der().clone()]);
        acceptor(self.server.chain(), self.server.private_key(), clients).unwrap()
    }

    /// The client's side: trusts the CA; presents the client certificate if `identify`.
    pub fn client_config(&self, identify: bool) -> Arc<ClientConfig> {
        let identity = identify.then(|| (self.client.chain(), self.client.private_key()));
        tls_config_from(vec![self.ca.der().clone()], identity).unwrap()
    }

    /// Writes the CA certificate (PEM) into `dir` and returns its path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, self.ca.pem()).unwrap();
        path
    }

    /// Writes the server certificate and key (PEM) into `dir`: for mosquitto.
    pub fn write_server(&self, dir: &Path) -> (PathBuf, PathBuf) {
        self.server.write(dir, "server")
    }

    /// Writes the client certificate and key (PEM) into `dir`: for `--cert` and `--key`.
    pub fn write_client(&self, dir: &Path) -> (PathBuf, PathBuf) {
        self.client.write(dir, "client")
    }
}

/// A fresh directory for a test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("verimqtt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
