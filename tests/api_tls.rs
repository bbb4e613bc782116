//! TLS and client certificates on a real `trunkgate serve` process, with certificates made
//! here (rcgen): a client certificate mapped in `[access]` is an identity; an expired one,
//! none at all (when required), or an unmapped one are refused; SIGHUP (the real signal)
//! swaps the server certificate and the mappings while a WatchEvents stream stays open; a
//! reload of a file that does not parse is refused and the access in force stays.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, date_time_ymd,
};
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use trunkgate::api::pb;

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_tcp() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn free_udp() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A PEM certificate and its key.
struct Pem {
    cert: String,
    key: String,
    der: Vec<u8>,
}

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "trunkgate test CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

fn leaf(ca: &Ca, dns: &str, server: bool, expired: bool) -> Pem {
    let mut params = CertificateParams::new(vec![dns.to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, dns);
    if server {
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
    }
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The gateway's configuration: TLS from `server_cert` (relative to the file), client
/// certificates required, and the given `[[access.client]]` mappings.
fn config(api: SocketAddr, homebrew: SocketAddr, server_cert: &str, clients: &[&str]) -> String {
    let mut text = format!(
        r#"
[api]
listen = "{api}"
heartbeat_secs = 1

[[site]]
name = "county"

[homebrew_master]
bind = "{homebrew}"

[[homebrew_master.peer]]
id = 310001
passphrase = "passw0rd"
site = "county"

[access]
tls_cert = "{server_cert}.pem"
tls_key = "{server_cert}.key"
client_ca = "ca.pem"
require_client_cert = true
"#
    );
    for dns in clients {
        text.push_str(&format!(
            "\n[[access.client]]\ndns_name = \"{dns}\"\nidentity = \"{dns}\"\nroles = [\"dispatcher\"]\n"
        ));
    }
    text
}

async fn channel(
    api: SocketAddr,
    ca: &str,
    client: Option<&Pem>,
) -> Result<tonic::transport::Channel, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some(c) = client {
        tls = tls.identity(Identity::from_pem(&c.cert, &c.key));
    }
    Endpoint::from_shared(format!("https://{api}"))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))
}

/// ListSites on a fresh connection: Ok, or the gRPC code (Unknown for a transport failure).
async fn list(api: SocketAddr, ca: &str, client: Option<&Pem>) -> Result<(), Code> {
    let Ok(ch) = channel(api, ca, client).await else {
        return Err(Code::Unknown);
    };
    pb::directory_service_client::DirectoryServiceClient::new(ch)
        .list_sites(pb::ListSitesRequest::default())
        .await
        .map(|_| ())
        .map_err(|s| s.code())
}

async fn until(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The certificate the server presents to a new connection.
async fn server_cert(api: SocketAddr, ca: &str, client: &Pem) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(client.cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(client.key.as_bytes()).unwrap(),
        )
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(api).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn hangup(gw: &Proc) {
    let status = Command::new("kill")
        .args(["-HUP", &gw.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_and_a_reload_on_sighup_under_an_open_watch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = ca();
    let server_a = leaf(&ca, "localhost", true, false);
    let server_b = leaf(&ca, "localhost", true, false);
    let console = leaf(&ca, "console.example", false, false);
    let expired = leaf(&ca, "console.example", false, true);
    let ops2 = leaf(&ca, "ops2.example", false, false);
    write(d, "ca.pem", &ca.pem);
    write(d, "server-a.pem", &server_a.cert);
    write(d, "server-a.key", &server_a.key);
    write(d, "server-b.pem", &server_b.cert);
    write(d, "server-b.key", &server_b.key);
    let (api, homebrew) = (free_tcp(), free_udp());
    let file = write(
        d,
        "gateway.toml",
        &config(api, homebrew, "server-a", &["console.example"]),
    );
    let log_path = d.join("gateway.log");
    let gw = Proc(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&file)
            .arg("--data-dir")
            .arg(d.join("data"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("trunkgate serve starts"),
    );
    let ca_pem = ca.pem.clone();

    // The mapped client certificate is an identity: no token needed.
    until("the gateway answers over TLS", 60, async || {
        list(api, &ca_pem, Some(&console)).await.is_ok()
    })
    .await;
    assert_eq!(server_cert(api, &ca_pem, &console).await, server_a.der);
    // Expired, absent (required) and unmapped certificates are refused.
    assert!(list(api, &ca_pem, Some(&expired)).await.is_err());
    assert!(list(api, &ca_pem, None).await.is_err());
    assert_eq!(
        list(api, &ca_pem, Some(&ops2)).await,
        Err(Code::Unauthenticated)
    );

    // A watch on the console's connection.
    let ch = channel(api, &ca_pem, Some(&console)).await.unwrap();
    let mut watch = pb::event_service_client::EventServiceClient::new(ch)
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .expect("watch opens")
        .into_inner();
    tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("a heartbeat in time")
        .expect("the stream is healthy")
        .expect("a message");

    // New server certificate and a new mapping; the real SIGHUP.
    write(
        d,
        "gateway.toml",
        &config(
            api,
            homebrew,
            "server-b",
            &["console.example", "ops2.example"],
        ),
    );
    hangup(&gw);
    until("the reload maps ops2", 20, async || {
        list(api, &ca_pem, Some(&ops2)).await.is_ok()
    })
    .await;
    assert_eq!(server_cert(api, &ca_pem, &console).await, server_b.der);
    // The watch opened before the reload still streams.
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(10), watch.message())
            .await
            .expect("a heartbeat in time after the reload")
            .expect("the stream survived the reload")
            .expect("a message");
    }

    // A file that does not parse: refused, logged, the access in force stays.
    write(d, "gateway.toml", "[access\nnot toml at all");
    hangup(&gw);
    until("the refusal is logged", 20, async || {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains("access reload refused")
    })
    .await;
    assert!(list(api, &ca_pem, Some(&ops2)).await.is_ok());
    assert_eq!(server_cert(api, &ca_pem, &console).await, server_b.der);
    tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("a heartbeat in time")
        .expect("the stream is healthy")
        .expect("a message");
    drop(gw);
}
