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
//! - Events stream from `EventService.WatchEvents` with cursors, heartbeats, snapshots and a
//!   slow-client cut ([`watch`], docs/dispatch.md §4.2).
//! - `grpc.health.v1.Health` (tonic-health) reports NOT_SERVING while no site link is up,
//!   while the journal cannot be written (the gateway does not act then), and from the start
//!   of shutdown, SERVING otherwise, for the server ("") and every
//!   trunkgate.v1 service; server reflection v1 and v1alpha (tonic-reflection) is on when
//!   configured, so grpcurl works (docs/dispatch.md §4.3).
//! - [`serve`] accepts with TCP_NODELAY (docs/performance.md §1d: Nagle plus delayed ACK gave
//!   40 ms stalls), keeps HTTP/2 keepalives on long streams, and bounds concurrent streams
//!   and watchers. On shutdown, streams end with UNAVAILABLE naming their resume cursor and
//!   the server stops after at most `ApiConfig::grace`.
//! - No input from the network can panic the server: every field is validated into a
//!   precise INVALID_ARGUMENT naming the field, and names and tokens are length-bounded.

pub mod backend;
pub mod convert;
mod event_server;
pub mod service;
pub mod status;
pub mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

pub use backend::{
    Backend, EventStream, JournaledEvent, Unavailable, WatchEnd, WatchError, WatchStart,
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
pub const SERVICE_NAMES: [&str; 8] = [
    pb::radio_service_server::SERVICE_NAME,
    pb::talkgroup_service_server::SERVICE_NAME,
    pb::directory_service_server::SERVICE_NAME,
    pb::call_service_server::SERVICE_NAME,
    pb::alarm_service_server::SERVICE_NAME,
    pb::command_service_server::SERVICE_NAME,
    pb::operation_service_server::SERVICE_NAME,
    pb::event_service_server::SERVICE_NAME,
];

/// API settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
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
    /// After the shutdown signal, how long open calls may take to finish.
    pub grace: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            reflection: true,
            heartbeat: Duration::from_secs(10),
            default_page_size: 50,
            // The core's own cap: dispatch/query.rs MAX_PAGE_SIZE.
            max_page_size: 1_000,
            max_watchers: 256,
            default_wait: Duration::from_secs(10),
            max_wait: Duration::from_secs(60),
            max_concurrent_streams: 512,
            grace: Duration::from_secs(5),
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
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));

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
            let _ = stop_tx.send(());
        }
    };
    let router = Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .max_concurrent_streams(Some(config.max_concurrent_streams))
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
