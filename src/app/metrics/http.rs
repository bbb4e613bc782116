//! `GET /metrics` over HTTP/1.1 on `[metrics] listen` (hyper, already in tonic's tree).
//!
//! Each scrape encodes the registry on a blocking thread (reading the journal's oldest
//! sequence number and file sizes touches the disk) in the Prometheus text format 0.0.4.
//! Any other path is 404, any other method 405. Connections are bounded
//! ([`MAX_CONNECTIONS`]); one over the bound is closed at once (logged when that starts and
//! when it stops), and a connection that sends
//! no complete request head within [`HEADER_TIMEOUT`] is closed. Accept failures (out of
//! file handles) are logged once per episode and retried after a pause. Listening beyond
//! loopback logs a warning at start: the endpoint has no authentication. On shutdown the
//! listener closes and open scrapes are cut.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Scrape connections open at once (Prometheus keeps one per target).
pub const MAX_CONNECTIONS: usize = 16;
/// Time a connection has to send a request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after an accept failure.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(200);

/// Serve `registry` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, registry: Registry, shutdown: CancellationToken) {
    let registry = Arc::new(registry);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    if let Ok(local) = listener.local_addr()
        && !local.ip().is_loopback()
    {
        tracing::warn!(
            %local,
            "the metrics endpoint listens beyond this host and has no authentication: keep {local} on a management network"
        );
    }
    let mut failing = false;
    // Set while connections over MAX_CONNECTIONS are being closed: (closed so far).
    let mut refusing: Option<u64> = None;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("metrics endpoint accepts connections again");
                }
                a
            }
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(error = %e, "metrics endpoint cannot accept connections");
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            match &mut refusing {
                Some(n) => *n += 1,
                None => {
                    tracing::warn!(
                        %peer,
                        max = MAX_CONNECTIONS,
                        "metrics endpoint: too many scrape connections open, closing new ones"
                    );
                    refusing = Some(1);
                }
            }
            continue;
        };
        if let Some(closed) = refusing.take() {
            tracing::info!(closed, "metrics endpoint accepts scrape connections again");
        }
        let registry = Arc::clone(&registry);
        let token = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| answer(req, registry.clone()));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "metrics connection ended");
                },
                _ = token.cancelled() => {}
            }
        });
    }
}

async fn answer(
    req: Request<Incoming>,
    registry: Arc<Registry>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |code: StatusCode, body: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *r.status_mut() = code;
        r
    };
    if req.uri().path() != "/metrics" {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n",
        ));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "use GET\n"));
    }
    let encoded = tokio::task::spawn_blocking(move || {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &registry).map(|()| out)
    })
    .await;
    match encoded {
        Ok(Ok(text)) => {
            let mut r = Response::new(Full::new(Bytes::from(text)));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
            );
            Ok(r)
        }
        _ => {
            tracing::warn!("metrics: encoding the registry failed");
            Ok(reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding failed\n",
            ))
        }
    }
}

/// Bind `addr` for [`serve`].
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
