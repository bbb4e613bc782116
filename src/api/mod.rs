//! The gRPC dispatch API: package `trunkgate.v1` (proto/trunkgate/v1), served with tonic.
//!
//! # Contract
//!
//! - The services ([`service`], [`watch`]) reach the gateway only through a [`Backend`]
//!   (docs/design.md: "`api` reaches the core only through a command channel and subscriptions,
//!   never a lock"); they hold no state of their own.
//! - Conventions follow Google's AIPs as docs/dispatch.md §4.1 lays them out: resource
//!   names, paginated lists with opaque tokens (default 50, max 1000, negative is
//!   INVALID_ARGUMENT), over-the-air verbs returning operations, `request_id` idempotency,
//!   `google.rpc` status details with domain `trunkgate.v1` ([`status`]).
//! - Calls, alarms, operations and radios list newest first (radios by name) with AIP-160
//!   filters and AIP-132 `order_by` ([`filter`], `list`), walked where the data lives with a
//!   bounded scan per page, and sealed page tokens.
//! - A kill waits for a second identity: `ApprovalService` approves or rejects it, and
//!   `AuditService` lists the audit trail, read-only ([`audit`]); the core decides and the
//!   driver journals, so neither keeps state here.
//! - Events stream from `EventService.WatchEvents` with cursors, heartbeats, snapshots, a
//!   slow-client cut and filters by type, radio, talkgroup, site and team ([`watch`],
//!   docs/dispatch.md §4.2). Each event has one schema: its typed payload.
//! - `grpc.health.v1.Health` (tonic-health) reports NOT_SERVING while no site link is up,
//!   while the journal cannot be written (the gateway does not act then), and from the start
//!   of shutdown, SERVING otherwise, for the server ("") and every
//!   trunkgate.v1 service; server reflection v1 and v1alpha (tonic-reflection) is on when
//!   configured, so grpcurl works (docs/dispatch.md §4.3).
//! - [`serve`] runs tonic on its own accept loop ([`conn`]): accept failures (out of file
//!   handles) back off and are logged once; connections are bounded in total and per client
//!   address, calls (streams) per client address and per connection, and watchers; a
//!   connection that sends no HTTP/2 preface within `ApiConfig::handshake_timeout` is
//!   closed, and HTTP/2 keepalive pings close connections whose peer stopped answering.
//!   Accepted sockets get TCP_NODELAY (docs/performance.md §1d: Nagle plus delayed ACK gave
//!   40 ms stalls). On shutdown, streams end with UNAVAILABLE naming their resume cursor, idle
//!   connections are closed at once, and the server stops after at most `ApiConfig::grace`.
//! - Every call is counted by method and gRPC status code and runs in an `rpc` log span with
//!   its method and request ID ([`requests`]); the gateway's metrics read the counts.
//!   `GatewayService.GetStatus` answers what the [`Backend`] reports of the gateway itself
//!   ([`status_service`]).
//! - A request that does not decode is INVALID_ARGUMENT (field `request`), one over the
//!   message size limit RESOURCE_EXHAUSTED (reason `REQUEST_TOO_LARGE`) ([`conn::GuardLayer`]).
//! - Every call but health and reflection is authenticated and authorized by one layer
//!   ([`access`]): bearer tokens or client certificates, roles from one table keyed by method
//!   path, a per-identity command rate limit. The identity reaches the services in the request
//!   extensions and is the operator recorded on commands. Without an [`ApiConfig::access`]
//!   every such call is UNAUTHENTICATED. TLS (and client certificates) come from
//!   [`ApiConfig::tls`] ([`tls`]); both swap on reload without touching open streams.
//! - Listening beyond loopback without TLS logs a warning at start: tokens travel in clear.
//! - No input from the network can panic the server: every field is validated into a
//!   precise INVALID_ARGUMENT naming the field and the bound; names parse strictly, names and
//!   tokens are length-bounded, and identifiers (names, `request_id`, the operator) with
//!   control characters are refused.

pub mod access;
pub mod audit;
pub mod backend;
pub mod callout;
pub mod conn;
pub mod convert;
mod event_server;
pub mod filter;
mod list;
pub mod requests;
pub mod service;
pub mod status;
pub mod status_service;
pub mod teams;
pub mod tls;
pub mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic_health::ServingStatus;

pub use backend::{
    Backend, EventStream, HistoryQuery, JournaledEvent, Unavailable, WatchEnd, WatchError,
    WatchStart,
};
pub use service::{Api, OPERATOR_METADATA, OPERATOR_METADATA_BIN};

/// Code generated from proto/trunkgate/v1 by build.rs (protox + tonic-prost-build).
pub mod pb {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("trunkgate.v1");
    /// Encoded descriptor set of proto/trunkgate/v1 (with imports), for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("trunkgate_v1_descriptor");
}

/// The gRPC service names health reports on (besides "" for the whole server).
pub const SERVICE_NAMES: [&str; 14] = [
    pb::radio_service_server::SERVICE_NAME,
    pb::talkgroup_service_server::SERVICE_NAME,
    pb::directory_service_server::SERVICE_NAME,
    pb::call_service_server::SERVICE_NAME,
    pb::alarm_service_server::SERVICE_NAME,
    pb::command_service_server::SERVICE_NAME,
    pb::operation_service_server::SERVICE_NAME,
    pb::event_service_server::SERVICE_NAME,
    pb::message_service_server::SERVICE_NAME,
    pb::gateway_service_server::SERVICE_NAME,
    pb::approval_service_server::SERVICE_NAME,
    pb::audit_service_server::SERVICE_NAME,
    pb::callout_service_server::SERVICE_NAME,
    pb::team_service_server::SERVICE_NAME,
];

/// API settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Who may call what ([`access`]); `None`: every call but health and reflection is
    /// UNAUTHENTICATED.
    pub access: Option<Arc<access::Access>>,
    /// TLS in force for new connections ([`tls`]); `None` (or a [`tls::Tls`] holding none):
    /// plain HTTP/2.
    pub tls: Option<Arc<tls::Tls>>,
    /// Serve grpc.reflection v1 and v1alpha.
    pub reflection: bool,
    /// Heartbeat period of an idle WatchEvents stream.
    pub heartbeat: Duration,
    /// Page size when a List request gives 0.
    pub default_page_size: usize,
    /// Largest page size; larger requests are coerced to it.
    pub max_page_size: usize,
    /// WatchEvents streams at once; more get RESOURCE_EXHAUSTED.
    pub max_watchers: usize,
    /// WaitOperation timeout when the request gives none.
    pub default_wait: Duration,
    /// Longest WaitOperation.
    pub max_wait: Duration,
    /// HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Open connections at once; more are closed on accept.
    pub max_connections: usize,
    /// Open connections at once from one client IP address.
    pub max_connections_per_client: usize,
    /// Calls (HTTP/2 streams) open at once from one client IP address, over all its
    /// connections; more are RESOURCE_EXHAUSTED.
    pub max_streams_per_client: usize,
    /// Time a new connection has to send the HTTP/2 preface.
    pub handshake_timeout: Duration,
    /// HTTP/2 keepalive: ping a connection after this long without a frame from it.
    pub keepalive_interval: Duration,
    /// HTTP/2 keepalive: close the connection when a ping is not answered within this.
    pub keepalive_timeout: Duration,
    /// After the shutdown signal, how long open calls may take to finish.
    pub grace: Duration,
    /// Where calls are counted by method and code ([`requests`]); the metrics read it.
    pub requests: RequestCounts,
}

/// A shared [`requests::ApiRequests`]; two are equal when they are the same table.
#[derive(Debug, Clone, Default)]
pub struct RequestCounts(pub Arc<requests::ApiRequests>);

impl PartialEq for RequestCounts {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for RequestCounts {}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            access: None,
            tls: None,
            reflection: true,
            heartbeat: Duration::from_secs(10),
            default_page_size: 50,
            // The core's own cap: dispatch/query.rs MAX_PAGE_SIZE.
            max_page_size: 1_000,
            max_watchers: 256,
            default_wait: Duration::from_secs(10),
            max_wait: Duration::from_secs(60),
            max_concurrent_streams: 128,
            max_connections: 512,
            max_connections_per_client: 64,
            max_streams_per_client: 512,
            handshake_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(5),
            requests: RequestCounts::default(),
        }
    }
}

/// Where to listen.
#[derive(Debug)]
pub enum Listen {
    /// Bind this address.
    Addr(SocketAddr),
    /// Use a bound listener (tests bind 127.0.0.1:0 and read the port first).
    Listener(TcpListener),
}

impl From<SocketAddr> for Listen {
    fn from(a: SocketAddr) -> Listen {
        Listen::Addr(a)
    }
}

impl From<TcpListener> for Listen {
    fn from(l: TcpListener) -> Listen {
        Listen::Listener(l)
    }
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding the address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The reflection service could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

async fn report(reporter: &tonic_health::server::HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in SERVICE_NAMES {
        reporter.set_service_status(name, status).await;
    }
}

/// Serve the API over `backend` until `shutdown` resolves (then drain, bounded by
/// `config.grace`).
pub async fn serve<B: Backend>(
    backend: Arc<B>,
    listen: impl Into<Listen>,
    config: ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = match listen.into() {
        Listen::Listener(l) => l,
        Listen::Addr(addr) => TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?,
    };
    let tls = config.tls.clone().unwrap_or_default();
    if let Ok(local) = listener.local_addr()
        && !local.ip().is_loopback()
        && tls.current().is_none()
    {
        tracing::warn!(
            %local,
            "the gRPC API listens beyond this host without TLS: bearer tokens and everything else travel in clear"
        );
    }
    let access = config
        .access
        .clone()
        .unwrap_or_else(|| access::Access::new(access::AccessSet::default(), access::log_hook()));
    let limits = conn::Limits {
        max_connections: config.max_connections.max(1),
        max_connections_per_client: config.max_connections_per_client.max(1),
        handshake_timeout: config.handshake_timeout,
    };
    let drain_conns = CancellationToken::new();
    let incoming = conn::Acceptor::new(
        listener,
        tls,
        limits,
        Arc::new(conn::Admission::default()),
        drain_conns.clone(),
    )
    .into_stream();

    let (drain_tx, drain_rx) = tokio::sync::watch::channel(false);
    let api = Api::new(backend.clone(), config.clone(), drain_rx);

    let (reporter, health) = tonic_health::server::health_reporter();
    let mut links = backend.serving();
    let up = *links.borrow_and_update();
    report(
        &reporter,
        if up {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        },
    )
    .await;
    let (reflection_v1, reflection_v1alpha) = if config.reflection {
        let v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        (Some(v1), Some(v1alpha))
    } else {
        (None, None)
    };

    // Health follows the links and the journal until shutdown starts, then stays NOT_SERVING.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let health_task = {
        let reporter = reporter.clone();
        let mut drain = drain_tx.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = service::drained(&mut drain) => break,
                    changed = links.changed() => {
                        if changed.is_err() {
                            // The driver dropped its sender: no link can be up.
                            report(&reporter, ServingStatus::NotServing).await;
                            service::drained(&mut drain).await;
                            break;
                        }
                        let up = *links.borrow_and_update();
                        report(&reporter, if up { ServingStatus::Serving } else { ServingStatus::NotServing }).await;
                    }
                }
            }
            report(&reporter, ServingStatus::NotServing).await;
        })
    };
    let signal = {
        let drain_tx = drain_tx.clone();
        async move {
            shutdown.await;
            let _ = drain_tx.send(true);
            drain_conns.cancel();
            let _ = stop_tx.send(());
        }
    };
    let router = Server::builder()
        .http2_keepalive_interval(Some(config.keepalive_interval))
        .http2_keepalive_timeout(Some(config.keepalive_timeout))
        .max_concurrent_streams(Some(config.max_concurrent_streams))
        .layer(requests::CountLayer::new(config.requests.0.clone()))
        .layer(conn::GuardLayer::new(config.max_streams_per_client))
        .layer(access::AccessLayer::new(access))
        .add_service(health)
        .add_optional_service(reflection_v1)
        .add_optional_service(reflection_v1alpha)
        .add_service(pb::radio_service_server::RadioServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::talkgroup_service_server::TalkgroupServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::directory_service_server::DirectoryServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::call_service_server::CallServiceServer::new(api.clone()))
        .add_service(pb::alarm_service_server::AlarmServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::command_service_server::CommandServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::operation_service_server::OperationServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::message_service_server::MessageServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::gateway_service_server::GatewayServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::approval_service_server::ApprovalServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::audit_service_server::AuditServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::callout_service_server::CalloutServiceServer::new(
            api.clone(),
        ))
        .add_service(pb::team_service_server::TeamServiceServer::new(api.clone()))
        .add_service(event_server::EventServiceServer::new(api));
    let server = router.serve_with_incoming_shutdown(incoming, signal);
    let grace = config.grace;
    let result = tokio::select! {
        r = server => r.map_err(ServeError::from),
        // Shutdown started; open streams (health watches too) get `grace` to finish.
        _ = async {
            let _ = stop_rx.await;
            tokio::time::sleep(grace).await;
        } => Ok(()),
    };
    let _ = drain_tx.send(true);
    let _ = health_task.await;
    result
}
