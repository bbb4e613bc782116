//! API calls counted by method and gRPC status code, and a log span per call.
//!
//! [`CountLayer`] sits outermost in the server's stack, so it sees every call, refused ones
//! included. A call's code is the `grpc-status` of its response headers (a trailers-only
//! answer: most errors) or of its trailers (the normal end); a response body dropped before
//! either (the client went away) counts as `CANCELLED`. The method label is the gRPC path
//! (`trunkgate.v1.RadioService/ListRadios`) when the server serves it, else `other`, so a
//! client sending made-up paths cannot grow the label set. Counters are atomics in a table
//! built once at start: no lock on a call.
//!
//! Each call runs in a `rpc` span with `method` and `request_id` fields: the client's
//! `x-request-id` metadata when it sends a short printable one, else `r` and a number the
//! gateway counts up from 1 at start. Log lines written while the call is handled carry both,
//! and so does the debug line (target `trunkgate::api::requests`) saying how it ended.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tonic::codegen::http;
use tracing::Instrument;

/// gRPC status codes by number (grpc/doc/statuscodes.md), as labels.
pub const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];
const CANCELLED: usize = 1;
const UNKNOWN: usize = 2;

/// Longest `x-request-id` taken from a client.
const REQUEST_ID_MAX: usize = 64;

/// The method label of a path the server does not serve.
pub const OTHER_METHOD: &str = "other";

type Row = [AtomicU64; CODES.len()];

/// Calls per method and code (module doc).
#[derive(Debug)]
pub struct ApiRequests {
    /// By method (`package.Service/Method`); the `other` row last.
    rows: HashMap<String, Row>,
    other: Row,
    next_id: AtomicU64,
}

impl Default for ApiRequests {
    fn default() -> Self {
        ApiRequests::new(served_methods())
    }
}

/// Every method of trunkgate.v1, grpc.health.v1 and server reflection (v1, v1alpha).
pub fn served_methods() -> Vec<String> {
    let mut out = Vec::new();
    for set in [
        super::pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ] {
        // Both sets are compiled in and decode (api::event_server reads the first the same
        // way); an error would leave the methods under `other`, not stop the server.
        if let Ok(pool) = prost_reflect::DescriptorPool::decode(set) {
            for service in pool.services() {
                for method in service.methods() {
                    out.push(format!("{}/{}", service.full_name(), method.name()));
                }
            }
        }
    }
    for v in ["v1", "v1alpha"] {
        out.push(format!(
            "grpc.reflection.{v}.ServerReflection/ServerReflectionInfo"
        ));
    }
    out
}

impl ApiRequests {
    /// A table for these methods.
    pub fn new(methods: impl IntoIterator<Item = String>) -> ApiRequests {
        ApiRequests {
            rows: methods.into_iter().map(|m| (m, Row::default())).collect(),
            other: Row::default(),
            next_id: AtomicU64::new(1),
        }
    }

    fn row(&self, method: &str) -> &Row {
        self.rows.get(method).unwrap_or(&self.other)
    }

    /// Count one call of `method` ending with `code` (a number outside 0..=16 counts as
    /// UNKNOWN).
    pub fn count(&self, method: &str, code: usize) {
        let i = if code < CODES.len() { code } else { UNKNOWN };
        self.row(method)[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Every (method, code, calls) with at least one call, methods sorted.
    pub fn snapshot(&self) -> Vec<(&str, &'static str, u64)> {
        let mut out = Vec::new();
        let mut methods: Vec<&String> = self.rows.keys().collect();
        methods.sort();
        let rows = methods
            .into_iter()
            .map(|m| (m.as_str(), &self.rows[m]))
            .chain(std::iter::once((OTHER_METHOD, &self.other)));
        for (method, row) in rows {
            for (i, c) in row.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    out.push((method, CODES[i], n));
                }
            }
        }
        out
    }

    fn label<'a>(&self, path: &'a str) -> &'a str {
        let m = path.strip_prefix('/').unwrap_or(path);
        if self.rows.contains_key(m) {
            m
        } else {
            OTHER_METHOD
        }
    }
}

/// The tower layer that counts calls (module doc).
#[derive(Debug, Clone)]
pub struct CountLayer {
    requests: Arc<ApiRequests>,
}

impl CountLayer {
    /// Count into `requests`.
    pub fn new(requests: Arc<ApiRequests>) -> CountLayer {
        CountLayer { requests }
    }
}

impl<S> tower::Layer<S> for CountLayer {
    type Service = Count<S>;
    fn layer(&self, inner: S) -> Count<S> {
        Count {
            inner,
            requests: Arc::clone(&self.requests),
        }
    }
}

/// See [`CountLayer`].
#[derive(Debug, Clone)]
pub struct Count<S> {
    inner: S,
    requests: Arc<ApiRequests>,
}

/// Records a call's code once: from the headers, the trailers, or on drop.
struct Outcome {
    requests: Arc<ApiRequests>,
    method: String,
    done: bool,
    /// The call's span: the debug line saying how it ended is written in it.
    span: tracing::Span,
}

impl Outcome {
    fn record(&mut self, code: usize) {
        if !self.done {
            self.done = true;
            self.requests.count(&self.method, code);
            let code = CODES.get(code).copied().unwrap_or(CODES[UNKNOWN]);
            self.span
                .in_scope(|| tracing::debug!(code, "API call ended"));
        }
    }

    fn record_headers(&mut self, headers: &http::HeaderMap) {
        if let Some(v) = headers.get("grpc-status") {
            let code = v
                .to_str()
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(UNKNOWN);
            self.record(code);
        }
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        self.record(CANCELLED);
    }
}

/// A response body that records its call's code from the trailers.
pub struct Counted<B> {
    inner: Pin<Box<B>>,
    outcome: Outcome,
}

impl<B> std::fmt::Debug for Counted<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counted")
            .field("method", &self.outcome.method)
            .finish_non_exhaustive()
    }
}

impl<B: http_body::Body> http_body::Body for Counted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    self.outcome.record_headers(trailers);
                }
            }
            Poll::Ready(Some(Err(_))) => self.outcome.record(UNKNOWN),
            Poll::Ready(None) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The request ID of a call (module doc).
fn request_id<B>(requests: &ApiRequests, req: &http::Request<B>) -> String {
    if let Some(id) = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            !s.is_empty() && s.len() <= REQUEST_ID_MAX && s.chars().all(|c| c.is_ascii_graphic())
        })
    {
        return id.to_owned();
    }
    format!("r{}", requests.next_id.fetch_add(1, Ordering::Relaxed))
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for Count<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = http::Response<Counted<ResBody>>;
    type Error = S::Error;
    type Future = Pin<
        Box<
            dyn Future<Output = Result<http::Response<Counted<ResBody>>, S::Error>>
                + Send
                + 'static,
        >,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let method = self.requests.label(req.uri().path()).to_owned();
        let id = request_id(&self.requests, &req);
        let span = tracing::info_span!("rpc", method = %method, request_id = %id);
        let mut outcome = Outcome {
            requests: Arc::clone(&self.requests),
            method,
            done: false,
            span: span.clone(),
        };
        let fut = self.inner.call(req).instrument(span);
        Box::pin(async move {
            let response = match fut.await {
                Ok(r) => r,
                Err(e) => {
                    outcome.record(UNKNOWN);
                    return Err(e);
                }
            };
            outcome.record_headers(response.headers());
            Ok(response.map(|b| Counted {
                inner: Box::pin(b),
                outcome,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_share_one_label_and_codes_are_bounded() {
        let r = ApiRequests::default();
        assert_eq!(
            r.label("/trunkgate.v1.RadioService/ListRadios"),
            "trunkgate.v1.RadioService/ListRadios"
        );
        assert_eq!(
            r.label("/grpc.health.v1.Health/Check"),
            "grpc.health.v1.Health/Check"
        );
        assert_eq!(r.label("/made.Up/Path"), OTHER_METHOD);
        r.count("trunkgate.v1.RadioService/ListRadios", 0);
        r.count(OTHER_METHOD, 99);
        assert_eq!(
            r.snapshot(),
            vec![
                ("trunkgate.v1.RadioService/ListRadios", "OK", 1),
                (OTHER_METHOD, "UNKNOWN", 1)
            ]
        );
    }
}
