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

/// Longest token file read: a token is [`crate::api::access::TOKEN_PREFIX`] and 64 hex
/// digits; anything much longer (or a device such as `/dev/zero`) is not a token file.
const MAX_TOKEN_FILE: u64 = 4096;

fn read_token(path: &Path, from: &str) -> Result<String, CtlError> {
    use std::io::Read;
    let usage =
        |what: String| CtlError::new(exit::USAGE, format!("{from} {}: {what}", path.display()));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TOKEN_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| usage(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_TOKEN_FILE {
        return Err(usage(format!(
            "longer than {MAX_TOKEN_FILE} bytes, so not a token file; it should hold the one line `trunkgate access new-token` printed"
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| usage("is not UTF-8 text, so not a token file".into()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(usage(
            "is empty; it should hold the token `trunkgate access new-token` printed".into(),
        ));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(usage(
            "holds more than one word; it should hold the token alone, on one line".into(),
        ));
    }
    Ok(token.to_string())
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
        // Longer than any token file may be: the gateway's header limit would answer with a
        // bare HTTP status.
        Some(t) if t.len() as u64 > MAX_TOKEN_FILE => Err(CtlError::new(
            exit::USAGE,
            format!(
                "the token is {} bytes, not a token (`trunkgate access new-token` prints one of 67)",
                t.len()
            ),
        )),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_that_holds_no_token_is_named_and_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let refused = |p: &Path| {
            let e = token(None, Some(p)).unwrap_err();
            assert_eq!(e.code, exit::USAGE, "{}", e.message);
            assert!(e.message.starts_with("--token-file "), "{}", e.message);
            assert!(
                e.message.contains(&p.display().to_string()),
                "{}",
                e.message
            );
            e.message
        };
        assert!(refused(&file("empty", b"\n  \n")).contains("is empty"));
        assert!(refused(&file("two", b"tg_abc\nsha256:00:11\n")).contains("more than one word"));
        assert!(refused(&file("big", &vec![b'a'; 100_000])).contains("longer than 4096 bytes"));
        assert!(refused(&file("bin", &[0xff, 0xfe, 0x00])).contains("not UTF-8"));
        assert!(refused(&dir.path().join("missing")).contains("cannot read"));
        let huge = bearer(Some("a".repeat(50_000))).unwrap_err();
        assert_eq!(huge.code, exit::USAGE);
        assert!(huge.message.contains("50000 bytes"), "{}", huge.message);
        let good = file("good", b"tg_0123\n");
        assert_eq!(
            token(None, Some(&good)).unwrap().as_deref(),
            Some("tg_0123")
        );
    }
}
