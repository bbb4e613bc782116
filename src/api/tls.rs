//! TLS for the API: a server certificate and key from PEM files and, optionally, client
//! certificates verified against a CA bundle (mutual TLS), with rustls and the `ring`
//! provider.
//!
//! # Contract
//!
//! - [`TlsFiles::load`] reads and checks everything before anything changes: a file that
//!   cannot be read or parsed, a key that does not match, or a CA bundle with no usable
//!   certificate is an error naming the file, and nothing is replaced.
//! - [`Tls`] holds the configuration in force behind an `Arc` swap: the accept loop takes
//!   the current one for each new connection, so a reload ([`Tls::replace`]) applies to new
//!   connections and leaves open ones (and their streams) alone.
//! - A client certificate is verified by rustls (chain to the CA bundle, validity period, key
//!   usage for client authentication): an expired or unknown certificate fails the handshake.
//!   With `require_client_cert` false a client without a certificate is admitted and must
//!   authenticate with a bearer token. The DNS subjectAltNames of a verified certificate
//!   ([`client_cert_names`]) are what `[[access.client]]` entries map to identities.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// Where the TLS material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM, leaf first).
    pub cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) that client certificates are verified against; none: no
    /// client certificates are asked for.
    pub client_ca: Option<PathBuf>,
    /// Refuse clients that present no certificate (needs `client_ca`).
    pub require_client_cert: bool,
}

/// Why TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct TlsError {
    /// The file at fault.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

fn err(path: &Path, message: impl Into<String>) -> TlsError {
    TlsError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The crypto provider: ring, which builds with a C compiler alone (aws-lc-rs would need
/// cmake and nasm). rustls marks it deprecated for lacking post-quantum key exchange; the
/// classical suites it has are what gRPC clients negotiate today.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsFiles {
    /// Read the files and build a server configuration (ALPN h2, as gRPC needs).
    pub fn load(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| err(&self.cert, format!("cannot read certificates: {e}")))?
            .collect::<Result<_, _>>()
            .map_err(|e| err(&self.cert, format!("not a PEM certificate chain: {e}")))?;
        if certs.is_empty() {
            return Err(err(&self.cert, "holds no certificate"));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| err(&self.key, format!("no usable private key: {e}")))?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| err(&self.cert, e.to_string()))?;
        let builder = match &self.client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(ca)
                    .map_err(|e| err(ca, format!("cannot read CA certificates: {e}")))?
                {
                    let c = c.map_err(|e| err(ca, format!("not a PEM certificate: {e}")))?;
                    roots
                        .add(c)
                        .map_err(|e| err(ca, format!("unusable CA certificate: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(err(ca, "holds no CA certificate"));
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
                let verifier = if self.require_client_cert {
                    verifier
                } else {
                    verifier.allow_unauthenticated()
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| err(ca, format!("cannot verify clients with it: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
            None if self.require_client_cert => {
                return Err(err(
                    &self.cert,
                    "require_client_cert needs client_ca (the CA bundle client certificates are checked against)",
                ));
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| err(&self.key, format!("does not fit the certificate: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The TLS configuration in force; `None` serves plain HTTP/2.
#[derive(Debug, Default)]
pub struct Tls {
    config: RwLock<Option<Arc<rustls::ServerConfig>>>,
}

impl Tls {
    /// Serve with `config` (or plain).
    pub fn new(config: Option<Arc<rustls::ServerConfig>>) -> Arc<Tls> {
        Arc::new(Tls {
            config: RwLock::new(config),
        })
    }

    /// The configuration for a new connection.
    pub fn current(&self) -> Option<Arc<rustls::ServerConfig>> {
        // Only an Arc is swapped under this lock; a poisoned lock still holds a whole one.
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Use `config` for new connections.
    pub fn replace(&self, config: Option<Arc<rustls::ServerConfig>>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }
}

/// The DNS subjectAltNames of a (verified) client certificate; empty if it has none or does
/// not parse.
pub fn client_cert_names(cert: &CertificateDer<'_>) -> Vec<String> {
    match webpki::EndEntityCert::try_from(cert) {
        Ok(c) => c.valid_dns_names().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    }
}
