//! What tests write to disk: a temporary directory each, and the certificates of a test
//! PKI, generated at run time with rcgen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedKey, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;
use verimqtt::runtime::tls::{self, ClientCertificates, read_certificates, read_private_key};

/// A directory of its own under the system's temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("verimqtt-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `name` in the directory and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate authority, a server certificate it signed for 127.0.0.1 and localhost, and
/// a client certificate it signed, written as PEM files: `ca.crt`, `server.crt`,
/// `server.key`, `client.crt`, `client.key`.
pub struct Pki {
    pub dir: TempDir,
    ca: CertifiedKey,
    client: CertifiedKey,
}

impl Pki {
    pub fn generate() -> Self {
        let dir = TempDir::new();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name = name("verimqtt test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca = CertifiedKey { cert: ca_params.self_signed(&ca_key).unwrap(), key_pair: ca_key };
        let server = signed(&ca, vec!["127.0.0.1".into(), "localhost".into()], ExtendedKeyUsagePurpose::ServerAuth);
        let client = signed(&ca, Vec::new(), ExtendedKeyUsagePurpose::ClientAuth);
        dir.write("ca.crt", ca.cert.pem());
        dir.write("server.crt", server.cert.pem());
        dir.write("server.key", server.key_pair.serialize_pem());
        dir.write("client.crt", client.cert.pem());
        dir.write("client.key", client.key_pair.serialize_pem());
        Pki { dir, ca, client }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client trusting the CA, without a certificate of its own.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::new(self.client_builder().with_no_client_auth())
    }

    /// A client trusting the CA and presenting the client certificate.
    pub fn client_config_with_certificate(&self) -> Arc<ClientConfig> {
        self.client_config_for(self)
    }

    /// A client trusting the CA of `server` and presenting this PKI's client certificate.
    pub fn client_config_for(&self, server: &Pki) -> Arc<ClientConfig> {
        let chain = vec![self.client.cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client.key_pair.serialize_der()));
        Arc::new(server.client_builder().with_client_auth_cert(chain, key).unwrap())
    }

    fn client_builder(&self) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(self.ca.cert.der().to_vec())).unwrap();
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

fn signed(ca: &CertifiedKey, names: Vec<String>, usage: ExtendedKeyUsagePurpose) -> CertifiedKey {
    let mut params = CertificateParams::new(names).unwrap();
    params.distinguished_name = name("verimqtt test");
    params.extended_key_usages = vec![usage];
    let key_pair = KeyPair::generate().unwrap();
    CertifiedKey { cert: params.signed_by(&key_pair, &ca.cert, &ca.key_pair).unwrap(), key_pair }
}

/// A TLS acceptor presenting the server certificate of `pki`; if `require_client_certificates`,
/// admitting only clients with a certificate its CA signed.
pub fn acceptor(pki: &Pki, require_client_certificates: bool) -> TlsAcceptor {
    let chain = read_certificates(&pki.path("server.crt"), "the server certificate").unwrap();
    let key = read_private_key(&pki.path("server.key")).unwrap();
    let clients = match require_client_certificates {
        true => ClientCertificates::Required(read_certificates(&pki.path("ca.crt"), "the CA").unwrap()),
        false => ClientCertificates::Ignored,
    };
    tls::acceptor(chain, key, clients).unwrap()
}
