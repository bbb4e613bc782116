//! Who may call what, end to end: real gRPC calls over 127.0.0.1 against `api::serve` and a
//! real dispatch core, with bearer tokens for every role.
//!
//! - Every RPC of every trunkgate.v1 service (read from the compiled descriptor set, so a
//!   method added to the proto without a role decision fails here) × {no token, bad token,
//!   expired token, viewer, dispatcher, supervisor, admin}.
//! - The operator recorded is the authenticated identity.
//! - The per-identity command rate limit, with its retry hint.
//! - A reload from a configuration file that does not parse keeps the access in force.

mod api_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use api_support::access::{Bearer, with_token};
use api_support::{Server, TestBackend, a, config};
use bytes::{Buf, BufMut};
use prost::Message;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::service::interceptor::InterceptedService;
use tonic_types::StatusExt;
use trunkgate::api::access::{
    Access, AccessEvent, AccessHook, AccessSet, METHODS, RateLimit, Role, TokenEntry, hash_token,
    log_hook,
};
use trunkgate::api::pb;

const DEADLINE: Duration = Duration::from_secs(10);

/// One token per role, plus an expired one.
const VIEWER: &str = "tg_1111111111111111111111111111111111111111111111111111111111111111";
const DISPATCHER: &str = "tg_2222222222222222222222222222222222222222222222222222222222222222";
const SUPERVISOR: &str = "tg_3333333333333333333333333333333333333333333333333333333333333333";
const ADMIN: &str = "tg_4444444444444444444444444444444444444444444444444444444444444444";
const EXPIRED: &str = "tg_5555555555555555555555555555555555555555555555555555555555555555";

fn entry(identity: &str, role: Role, token: &str) -> TokenEntry {
    TokenEntry::for_token(identity, vec![role], token).unwrap()
}

fn role_set(rate: RateLimit) -> AccessSet {
    let expired = TokenEntry::from_hash(
        "gone",
        vec![Role::Supervisor],
        &hash_token(EXPIRED).unwrap(),
        Some(SystemTime::now() - Duration::from_secs(60)),
    )
    .unwrap();
    AccessSet {
        tokens: vec![
            entry("viewer1", Role::Viewer, VIEWER),
            entry("ops1", Role::Dispatcher, DISPATCHER),
            entry("sup1", Role::Supervisor, SUPERVISOR),
            entry("admin1", Role::Admin, ADMIN),
            expired,
        ],
        certs: Vec::new(),
        rate,
    }
}

async fn server_with(access: Arc<Access>) -> Server {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    Server::start(
        backend,
        trunkgate::api::ApiConfig {
            access: Some(access),
            ..config()
        },
    )
    .await
}

/// Bodies as they are: the access layer decides before any decoding.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let v = src.chunk().to_vec();
        src.advance(v.len());
        Ok(Some(v))
    }
}

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

/// Every method of every trunkgate.v1 service in the compiled descriptors: (path, server
/// streaming).
fn proto_methods() -> Vec<(String, bool)> {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = Vec::new();
    for file in set.file {
        if file.package() != "trunkgate.v1" {
            continue;
        }
        for service in &file.service {
            for m in &service.method {
                out.push((
                    format!("/trunkgate.v1.{}/{}", service.name(), m.name()),
                    m.server_streaming(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// The status of calling `path` with an empty request on `channel` (for a stream: the
/// status it opens with, or OK when it opens).
async fn call(
    channel: InterceptedService<tonic::transport::Channel, Bearer>,
    path: &str,
    streaming: bool,
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path = PathAndQuery::try_from(path.to_string()).unwrap();
    let r = if streaming {
        tokio::time::timeout(
            DEADLINE,
            grpc.server_streaming::<_, Vec<u8>, _>(tonic::Request::new(Vec::new()), path, Raw),
        )
        .await
        .expect("answered in time")
        .map(|_| ())
    } else {
        tokio::time::timeout(
            DEADLINE,
            grpc.unary::<_, Vec<u8>, _>(tonic::Request::new(Vec::new()), path, Raw),
        )
        .await
        .expect("answered in time")
        .map(|_| ())
    };
    r.err().unwrap_or_else(|| tonic::Status::ok(""))
}

#[test]
fn every_proto_method_has_exactly_one_role_decision() {
    let proto: Vec<String> = proto_methods().into_iter().map(|(p, _)| p).collect();
    assert!(proto.len() >= 30, "descriptor set read: {proto:?}");
    let mut table: Vec<String> = METHODS.iter().map(|(p, _)| p.to_string()).collect();
    table.sort();
    let before = table.len();
    table.dedup();
    assert_eq!(before, table.len(), "a method is in the role table twice");
    let undecided: Vec<&String> = proto.iter().filter(|p| !table.contains(p)).collect();
    let stale: Vec<&String> = table.iter().filter(|p| !proto.contains(p)).collect();
    assert!(
        undecided.is_empty(),
        "methods without a role decision in api::access::METHODS: {undecided:?}"
    );
    assert!(
        stale.is_empty(),
        "role decisions for methods the proto does not have: {stale:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_against_every_credential() {
    let srv = server_with(Access::new(
        role_set(api_support::access::unlimited()),
        log_hook(),
    ))
    .await;
    let creds: [(&str, Option<Role>, &str); 7] = [
        ("no token", None, ""),
        ("bad token", None, "tg_nope"),
        ("expired token", None, EXPIRED),
        ("viewer", Some(Role::Viewer), VIEWER),
        ("dispatcher", Some(Role::Dispatcher), DISPATCHER),
        ("supervisor", Some(Role::Supervisor), SUPERVISOR),
        ("admin", Some(Role::Admin), ADMIN),
    ];
    let mut checked = 0;
    for (path, streaming) in proto_methods() {
        let needed = METHODS
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, r)| *r)
            .unwrap_or_else(|| panic!("{path} has no role decision"));
        for (label, role, token) in creds {
            // An empty token sends no authorization metadata at all.
            let channel = with_token(srv.plain.clone(), token);
            let s = call(channel, &path, streaming).await;
            let what = format!("{path} with {label}: {:?} {}", s.code(), s.message());
            match role {
                None => {
                    assert_eq!(s.code(), Code::Unauthenticated, "{what}");
                    let reason = s.get_details_error_info().expect("ErrorInfo").reason;
                    let want = if label == "expired token" {
                        "TOKEN_EXPIRED"
                    } else {
                        "UNAUTHENTICATED"
                    };
                    assert_eq!(reason, want, "{what}");
                }
                Some(role) if role.grants(needed) => {
                    assert!(
                        !matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied),
                        "{what}: should pass the access layer"
                    );
                }
                Some(_) => {
                    assert_eq!(s.code(), Code::PermissionDenied, "{what}");
                    let info = s.get_details_error_info().expect("ErrorInfo");
                    assert_eq!(info.reason, "ROLE_REQUIRED", "{what}");
                    assert_eq!(info.metadata["role"], needed.as_str(), "{what}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 30 * 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_stay_open() {
    let srv = server_with(Access::new(role_set(RateLimit::default()), log_hook())).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(srv.plain.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health answers without credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_is_the_authenticated_identity() {
    let srv = server_with(Access::new(
        role_set(api_support::access::unlimited()),
        log_hook(),
    ))
    .await;
    let mut commands = pb::command_service_client::CommandServiceClient::new(with_token(
        srv.plain.clone(),
        DISPATCHER,
    ));
    // The client names itself "mallory": the identity recorded is still ops1, alone.
    let mut req = tonic::Request::new(pb::RadioCommandRequest {
        name: format!("radios/{}", a()),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("trunkgate-operator", "mallory".parse().unwrap());
    let op = commands.check_radio(req).await.unwrap().into_inner();
    assert_eq!(op.operator, "ops1");
    let op = commands
        .alert_radio(pb::RadioCommandRequest {
            name: format!("radios/{}", a()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(op.operator, "ops1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_rate_limited_per_identity_with_a_retry_hint() {
    let seen = Arc::new(AtomicUsize::new(0));
    let hook: AccessHook = {
        let seen = seen.clone();
        Arc::new(move |e: &AccessEvent| {
            if let AccessEvent::Refused { refusal, .. } = e
                && *refusal == trunkgate::api::access::Refusal::RateLimited
            {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let access = Access::new(
        role_set(RateLimit {
            burst: 3,
            per_sec: 0.05,
        }),
        hook,
    );
    let srv = server_with(access.clone()).await;
    let mut ops1 = pb::command_service_client::CommandServiceClient::new(with_token(
        srv.plain.clone(),
        DISPATCHER,
    ));
    let check = || pb::RadioCommandRequest {
        name: format!("radios/{}", a()),
        ..Default::default()
    };
    for i in 0..3 {
        ops1.check_radio(check())
            .await
            .unwrap_or_else(|s| panic!("command {i} within the burst: {s:?}"));
    }
    let s = ops1.check_radio(check()).await.unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    assert_eq!(s.get_details_error_info().unwrap().reason, "RATE_LIMITED");
    let delay = s
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo");
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(20),
        "{delay:?}"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(access.counts().rate_limited.load(Ordering::Relaxed), 1);
    // Reads are not limited, and another identity has its own bucket.
    let mut radios = pb::radio_service_client::RadioServiceClient::new(with_token(
        srv.plain.clone(),
        DISPATCHER,
    ));
    radios
        .list_radios(pb::ListRadiosRequest::default())
        .await
        .expect("reads pass");
    let mut sup1 = pb::command_service_client::CommandServiceClient::new(with_token(
        srv.plain.clone(),
        SUPERVISOR,
    ));
    sup1.check_radio(check()).await.expect("own bucket");
}

const GOOD: &str = "tg_6666666666666666666666666666666666666666666666666666666666666666";
const LATER: &str = "tg_7777777777777777777777777777777777777777777777777777777777777777";

fn file_with(token: &str, identity: &str) -> String {
    format!(
        "[[site]]\nname = \"county\"\n[homebrew_master]\nbind = \"127.0.0.1:0\"\n[[homebrew_master.peer]]\nid = 310001\npassphrase = \"passw0rd\"\nsite = \"county\"\n[access]\n[[access.token]]\nidentity = \"{identity}\"\nroles = [\"viewer\"]\nhash = \"{}\"\n",
        hash_token(token).unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_does_not_parse_keeps_the_access_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.toml");
    std::fs::write(&file, file_with(GOOD, "first")).unwrap();
    let events = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let hook: AccessHook = {
        let events = events.clone();
        Arc::new(move |e: &AccessEvent| {
            let what = match e {
                AccessEvent::Reloaded { .. } => "reloaded",
                AccessEvent::ReloadRefused { .. } => "refused",
                AccessEvent::Refused { .. } => "call refused",
            };
            events.lock().unwrap().push(what.into());
        })
    };
    let access = Access::new(AccessSet::default(), hook);
    let reloader = trunkgate::app::access::Reloader {
        path: Some(file.clone()),
        extra: Vec::new(),
        access: access.clone(),
        tls: trunkgate::api::tls::Tls::new(None),
    };
    reloader.reload().expect("the first file loads");
    let srv = server_with(access.clone()).await;
    let list = |token: &'static str| {
        let ch = with_token(srv.plain.clone(), token);
        async move {
            pb::directory_service_client::DirectoryServiceClient::new(ch)
                .list_sites(pb::ListSitesRequest::default())
                .await
        }
    };
    list(GOOD).await.expect("the loaded token works");

    // Not TOML at all; then TOML with a bad hash: both refused, the old set stays.
    std::fs::write(&file, "[access\nthis is not toml").unwrap();
    assert!(reloader.reload().is_err());
    let mut bad = file_with(LATER, "second");
    bad = bad.replace("sha256:", "sha1:");
    std::fs::write(&file, bad).unwrap();
    let err = reloader.reload().unwrap_err();
    assert!(err.contains("hash"), "{err}");
    list(GOOD).await.expect("the old token still works");
    assert_eq!(list(LATER).await.unwrap_err().code(), Code::Unauthenticated);

    // A good file replaces the set: the new token works, the old one no longer.
    std::fs::write(&file, file_with(LATER, "second")).unwrap();
    reloader.reload().expect("the new file loads");
    list(LATER).await.expect("the new token works");
    assert_eq!(list(GOOD).await.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(access.counts().reloads.load(Ordering::Relaxed), 2);
    assert_eq!(access.counts().reloads_refused.load(Ordering::Relaxed), 2);
    let events = events.lock().unwrap().clone();
    assert_eq!(
        events,
        vec![
            "reloaded",
            "refused",
            "refused",
            "call refused",
            "reloaded",
            "call refused"
        ]
    );
}
