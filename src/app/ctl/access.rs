//! How `ctl` proves who it is: the bearer token it sends and the TLS it speaks.
//!
//! The token is the first of: `--token`, `$TRUNKGATE_TOKEN`, the file `--token-file`,
//! the file `$TRUNKGATE_TOKEN_FILE`, and the demo's file ([`DEMO_TOKEN_PATH`], which
//! `serve --demo` writes), so the README walkthrough needs no extra step. With none, calls go
//! out without one and the gateway answers UNAUTHENTICATED. TLS is used for an `https://`
//! server or when `--ca` is given; `--cert` and `--key` present a client certificate.

use std::path::{Path, PathBuf};

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use super::{CtlError, exit};

/// Where `serve --demo` writes its token, relative to the directory the demo runs in
/// (`[gateway] data_dir` of config/demo.toml, plus `demo.token`).
pub const DEMO_TOKEN_PATH: &str = "data/demo/demo.token";
/// Environment variable holding a token.
pub const TOKEN_ENV: &str = "TRUNKGATE_TOKEN";
/// Environment variable naming a file holding a token.
pub const TOKEN_FILE_ENV: &str = "TRUNKGATE_TOKEN_FILE";

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Debug, Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

fn read_token(path: &Path, from: &str) -> Result<String, CtlError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CtlError::new(
            exit::USAGE,
            format!("{from} {}: cannot read: {e}", path.display()),
        )
    })?;
    Ok(text.trim().to_string())
}

/// The token to send, found as the module doc says.
pub fn token(flag: Option<&str>, file: Option<&Path>) -> Result<Option<String>, CtlError> {
    if let Some(t) = flag {
        return Ok(Some(t.trim().to_string()));
    }
    if let Ok(t) = std::env::var(TOKEN_ENV)
        && !t.trim().is_empty()
    {
        return Ok(Some(t.trim().to_string()));
    }
    if let Some(path) = file {
        return read_token(path, "--token-file").map(Some);
    }
    if let Some(path) = std::env::var_os(TOKEN_FILE_ENV).filter(|p| !p.is_empty()) {
        return read_token(&PathBuf::from(path), TOKEN_FILE_ENV).map(Some);
    }
    let demo = Path::new(DEMO_TOKEN_PATH);
    if demo.is_file() {
        return read_token(demo, "the demo's token").map(Some);
    }
    Ok(None)
}

/// The interceptor for `token`; a token that cannot be metadata is a usage error.
pub fn bearer(token: Option<String>) -> Result<Bearer, CtlError> {
    match token {
        None => Ok(Bearer(None)),
        Some(t) => format!("Bearer {t}")
            .parse()
            .map(|v| Bearer(Some(v)))
            .map_err(|_| {
                CtlError::new(
                    exit::USAGE,
                    "the token has characters a header cannot carry",
                )
            }),
    }
}

/// TLS files given on the command line.
#[derive(Debug, Clone, Default)]
pub struct TlsArgs {
    /// CA certificate(s) the server's certificate is checked against (PEM).
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM).
    pub cert: Option<PathBuf>,
    /// Client key (PEM).
    pub key: Option<PathBuf>,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, CtlError> {
    std::fs::read(path).map_err(|e| {
        CtlError::new(
            exit::USAGE,
            format!("{what} {}: cannot read: {e}", path.display()),
        )
    })
}

/// `endpoint` with TLS when the URI is `https://` or a CA is given.
pub fn with_tls(endpoint: Endpoint, uri: &str, tls: &TlsArgs) -> Result<Endpoint, CtlError> {
    if !uri.starts_with("https://") && tls.ca.is_none() {
        return Ok(endpoint);
    }
    let mut config = ClientTlsConfig::new();
    if let Some(ca) = &tls.ca {
        config = config.ca_certificate(Certificate::from_pem(read(ca, "--ca")?));
    }
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            config = config.identity(tonic::transport::Identity::from_pem(
                read(cert, "--cert")?,
                read(key, "--key")?,
            ));
        }
        (None, None) => {}
        _ => {
            return Err(CtlError::new(exit::USAGE, "--cert and --key go together"));
        }
    }
    endpoint
        .tls_config(config)
        .map_err(|e| CtlError::new(exit::USAGE, format!("TLS: {e}")))
}
