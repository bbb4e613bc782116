//! Admission of API connections: the gateway's own accept loop in front of tonic.
//!
//! # Contract
//!
//! - **Accept failures back off.** When `accept` fails for lack of file handles or memory
//!   (EMFILE, ENFILE, ENOBUFS, ENOMEM, or any error that is not about one connection) the loop
//!   sleeps, doubling from [`BACKOFF_MIN`] to [`BACKOFF_MAX`], instead of spinning on the
//!   still-readable listener. The cause is logged once when it starts and once when accepting
//!   works again after [`EPISODE_QUIET`] without a failure (with the number of failures),
//!   never per attempt.
//! - **Connections are bounded** in total ([`Limits::max_connections`]) and per client IP
//!   address ([`Limits::max_connections_per_client`]). A connection over either bound is
//!   accepted and closed at once (the client sees the close rather than a silent hang);
//!   refusals are logged once when they start and once when admissions have gone
//!   [`EPISODE_QUIET`] without one, with the count.
//! - **A connection must open within [`Limits::handshake_timeout`]:** the HTTP/2 client
//!   connection preface and the header of the first frame (RFC 9113 §3.4, §4.1) must have
//!   arrived by then, or the connection is closed. After that, HTTP/2 keepalive pings
//!   (configured on the tonic server) close a connection whose peer stops answering.
//!   Streams per connection are bounded by HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS.
//! - **On drain** a connection that has not opened is closed at once; an opened one is closed
//!   as soon as no request handler is running on it and it has moved no bytes for
//!   [`DRAIN_QUIET`] (an idle connection, or a stream its client does not read). A client that
//!   reads gets its streams' UNAVAILABLE and the server's GOAWAY before that.
//! - **TLS** ([`super::tls`]): when a TLS configuration is in force, each new connection
//!   takes the current one and its TLS handshake runs inside the connection's first reads and
//!   writes, so a slow handshake holds up no other connection; the handshake timeout covers
//!   the TLS handshake and the HTTP/2 preface together. A failed handshake (an expired or
//!   unknown client certificate) closes the connection and is logged once per episode. The
//!   verified client certificate's DNS names reach the access layer through [`ClientInfo`].
//! - [`raise_file_limit`] raises the soft RLIMIT_NOFILE at start to what the limits need, up
//!   to the hard limit, and says at start when it cannot.
//!
//! [`Guard`] is the tower layer that bounds the calls (HTTP/2 streams) open at once from one
//! client IP address (a call over the bound is RESOURCE_EXHAUSTED, reason
//! `TOO_MANY_STREAMS`; its slot is held until the response body is dropped), counts the
//! running handlers per connection, and gives decode failures their gRPC codes: a request
//! that is not a valid protobuf message (or has a string field that is not UTF-8) is
//! INVALID_ARGUMENT, not tonic's INTERNAL; one over the size limit is RESOURCE_EXHAUSTED,
//! not OUT_OF_RANGE (gRPC status-code guide: RESOURCE_EXHAUSTED for a message larger than
//! the server accepts).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::codegen::http;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::{Code, Status};

use super::status::{invalid_argument, status};

/// First pause after a failed accept.
pub const BACKOFF_MIN: Duration = Duration::from_millis(20);
/// Longest pause between accept attempts while they fail.
pub const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// An episode of accept failures, refusals or handshake timeouts ends after this long
/// without one (logged at the next success after it).
pub const EPISODE_QUIET: Duration = Duration::from_secs(5);
/// While draining, an opened connection with no running handler is closed after moving no
/// bytes for this long.
pub const DRAIN_QUIET: Duration = Duration::from_millis(300);
/// File handles the gateway needs besides API connections: the journal's files, link
/// sockets and serial ports, the runtime's own descriptors, with room to spare.
pub const FILE_RESERVE: u64 = 256;

/// > The client connection preface starts with a sequence of 24 octets [...] This sequence
/// > MUST be followed by a SETTINGS frame (RFC 9113 §3.4); every frame starts with a
/// > 9-octet header (§4.1).
const OPENING_LEN: usize = 24 + 9;

/// The bounds applied to every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at once.
    pub max_connections: usize,
    /// Open connections at once from one client IP address.
    pub max_connections_per_client: usize,
    /// Time from accept to the end of the client's HTTP/2 preface and first frame header.
    pub handshake_timeout: Duration,
}

/// A recurring cause, logged when it starts and when it clears.
#[derive(Debug)]
struct Episode {
    count: u64,
    last: Instant,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
    refused: Option<Episode>,
    no_handshake: Option<Episode>,
    tls_failed: Option<Episode>,
}

/// Who is connected; shared by the accept loop and every connection's slot.
#[derive(Debug, Default)]
pub(crate) struct Admission {
    counts: Mutex<Counts>,
}

impl Admission {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The lock guards plain counters; a panic while holding it cannot leave them torn
        // worse than off by one, so a poisoned lock is used as it is.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a connection from `ip`, or why not.
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Result<Slot, &'static str> {
        let mut c = self.counts();
        let now = Instant::now();
        let from_client = c.per_client.get(&ip).copied().unwrap_or(0);
        let refusal = if c.total >= limits.max_connections {
            Some("api.max_connections")
        } else if from_client >= limits.max_connections_per_client {
            Some("api.max_connections_per_client")
        } else {
            None
        };
        if let Some(bound) = refusal {
            match &mut c.refused {
                Some(e) => {
                    e.count += 1;
                    e.last = now;
                }
                None => {
                    tracing::warn!(
                        client = %ip,
                        bound,
                        open = c.total,
                        "refusing API connections: a connection limit is reached"
                    );
                    c.refused = Some(Episode {
                        count: 1,
                        last: now,
                    });
                }
            }
            return Err(bound);
        }
        if let Some(e) = c
            .refused
            .take_if(|e| now.duration_since(e.last) >= EPISODE_QUIET)
        {
            tracing::info!(refused = e.count, "admitting API connections again");
        }
        c.total += 1;
        *c.per_client.entry(ip).or_insert(0) += 1;
        Ok(Slot {
            admission: Arc::clone(self),
            ip,
        })
    }

    fn handshake(&self, opened: bool) {
        let mut c = self.counts();
        let now = Instant::now();
        if opened {
            if let Some(e) = c
                .no_handshake
                .take_if(|e| now.duration_since(e.last) >= EPISODE_QUIET)
            {
                tracing::info!(
                    closed = e.count,
                    "API connections open their HTTP/2 session in time again"
                );
            }
            return;
        }
        match &mut c.no_handshake {
            Some(e) => {
                e.count += 1;
                e.last = now;
            }
            None => {
                tracing::warn!(
                    "closing API connections that send no HTTP/2 preface within api.handshake_timeout_secs"
                );
                c.no_handshake = Some(Episode {
                    count: 1,
                    last: now,
                });
            }
        }
    }

    fn tls_failed(&self, error: &io::Error) {
        let mut c = self.counts();
        let now = Instant::now();
        match &mut c.tls_failed {
            Some(e) if now.duration_since(e.last) < EPISODE_QUIET => {
                e.count += 1;
                e.last = now;
            }
            episode => {
                if let Some(e) = episode.take() {
                    tracing::info!(failed = e.count, "episode of failed TLS handshakes ended");
                }
                tracing::warn!(%error, "API TLS handshakes fail (logged once per episode)");
                *episode = Some(Episode {
                    count: 1,
                    last: now,
                });
            }
        }
    }

    #[cfg(test)]
    fn open(&self) -> usize {
        self.counts().total
    }
}

/// One admitted connection's place; given back on drop.
#[derive(Debug)]
struct Slot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.admission.counts();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_client.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_client.remove(&self.ip);
            }
        }
    }
}

/// Accept errors that concern one connection only: retry at once.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The accept loop: admits connections under [`Limits`] and backs off when accept fails.
pub(crate) struct Acceptor {
    listener: TcpListener,
    tls: Arc<super::tls::Tls>,
    limits: Limits,
    admission: Arc<Admission>,
    drain: CancellationToken,
    backoff: Duration,
    /// Accept failures in the current episode.
    failing: Option<Episode>,
}

impl Acceptor {
    pub(crate) fn new(
        listener: TcpListener,
        tls: Arc<super::tls::Tls>,
        limits: Limits,
        admission: Arc<Admission>,
        drain: CancellationToken,
    ) -> Acceptor {
        Acceptor {
            listener,
            tls,
            limits,
            admission,
            drain,
            backoff: BACKOFF_MIN,
            failing: None,
        }
    }

    /// The next admitted connection.
    pub(crate) async fn next(&mut self) -> Conn {
        loop {
            let (stream, remote) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) if per_connection(&e) => continue,
                Err(e) => {
                    let now = Instant::now();
                    match &mut self.failing {
                        Some(episode) => {
                            episode.count += 1;
                            episode.last = now;
                        }
                        None => {
                            tracing::warn!(
                                error = %e,
                                "cannot accept API connections; backing off until it works again"
                            );
                            self.failing = Some(Episode {
                                count: 1,
                                last: now,
                            });
                        }
                    }
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            };
            let now = Instant::now();
            if let Some(e) = self
                .failing
                .take_if(|e| now.duration_since(e.last) >= EPISODE_QUIET)
            {
                tracing::info!(failures = e.count, "accepting API connections again");
            }
            self.backoff = BACKOFF_MIN;
            let Ok(slot) = self.admission.admit(remote.ip(), &self.limits) else {
                // Dropping the stream closes it.
                continue;
            };
            let Ok(local) = stream.local_addr() else {
                continue;
            };
            // docs/performance.md §1d: Nagle plus delayed ACK gave 40 ms stalls.
            let _ = stream.set_nodelay(true);
            let io = match self.tls.current() {
                Some(config) => Io::Accepting(Box::new(
                    tokio_rustls::TlsAcceptor::from(config).accept(stream),
                )),
                None => Io::Plain(stream),
            };
            return Conn::new(
                io,
                ClientInfo {
                    remote,
                    local,
                    busy: Arc::new(AtomicUsize::new(0)),
                    cert_names: Arc::new(OnceLock::new()),
                },
                slot,
                self.limits.handshake_timeout,
                self.drain.clone(),
            );
        }
    }

    /// The accept loop as the stream tonic serves from.
    pub(crate) fn into_stream(self) -> impl Stream<Item = Result<Conn, Infallible>> + Send {
        futures::stream::unfold(self, |mut a| async move {
            let conn = a.next().await;
            Some((Ok(conn), a))
        })
    }
}

/// What a request knows of its connection (tonic puts it in the request extensions).
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The client's address.
    pub remote: SocketAddr,
    /// The server's address on this connection.
    pub local: SocketAddr,
    /// Request handlers running on this connection (see [`Guard`]).
    busy: Arc<AtomicUsize>,
    /// The DNS names of the client's verified certificate, set when the TLS handshake
    /// completes (before any request can arrive); unset on a plain connection or without a
    /// client certificate.
    cert_names: Arc<OnceLock<Vec<String>>>,
}

impl ClientInfo {
    /// The DNS subjectAltNames of the client's verified certificate, if it presented one.
    pub fn client_cert_names(&self) -> Option<Vec<String>> {
        self.cert_names.get().cloned()
    }
}

/// A connection's byte stream: plain TCP, or TLS (the handshake runs in the first reads
/// and writes).
enum Io {
    Plain(TcpStream),
    Accepting(Box<tokio_rustls::Accept<TcpStream>>),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// The handshake failed; every use is an error.
    Failed,
}

/// An admitted connection: the TCP stream with its slot, handshake deadline and drain rule.
pub struct Conn {
    io: Io,
    info: ClientInfo,
    slot: Slot,
    /// Octets of the client's opening still to arrive.
    opening: usize,
    /// Until the opening has arrived.
    handshake: Option<Pin<Box<Sleep>>>,
    drain: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Once draining: restarted by every byte moved.
    quiet: Option<Pin<Box<Sleep>>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("remote", &self.info.remote)
            .field("opening", &self.opening)
            .finish_non_exhaustive()
    }
}

impl Conn {
    fn new(
        io: Io,
        info: ClientInfo,
        slot: Slot,
        handshake_timeout: Duration,
        drain: CancellationToken,
    ) -> Conn {
        Conn {
            io,
            info,
            slot,
            opening: OPENING_LEN,
            handshake: Some(Box::pin(tokio::time::sleep(handshake_timeout))),
            drain: Box::pin(drain.cancelled_owned()),
            quiet: None,
        }
    }

    /// Whether the connection must close now; registers the wakeups that say when.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if let Some(deadline) = &mut self.handshake
            && deadline.as_mut().poll(cx).is_ready()
        {
            self.handshake = None;
            self.slot.admission.handshake(false);
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no HTTP/2 preface within api.handshake_timeout_secs",
            ));
        }
        if self.quiet.is_none() && self.drain.as_mut().poll(cx).is_ready() {
            if self.opening > 0 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the server is draining",
                ));
            }
            self.quiet = Some(Box::pin(tokio::time::sleep(DRAIN_QUIET)));
        }
        if let Some(quiet) = &mut self.quiet {
            while quiet.as_mut().poll(cx).is_ready() {
                if self.info.busy.load(Ordering::Acquire) == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the server is draining and the connection is idle",
                    ));
                }
                // A handler is still running: look again later.
                quiet.as_mut().reset(Instant::now() + DRAIN_QUIET);
            }
        }
        Ok(())
    }

    fn moved(&mut self, read: usize, written: usize) {
        if read > 0 && self.opening > 0 {
            self.opening = self.opening.saturating_sub(read);
            if self.opening == 0 {
                self.handshake = None;
                self.slot.admission.handshake(true);
            }
        }
        if read + written > 0
            && let Some(quiet) = &mut self.quiet
        {
            quiet.as_mut().reset(Instant::now() + DRAIN_QUIET);
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = ClientInfo;
    fn connect_info(&self) -> ClientInfo {
        self.info.clone()
    }
}

impl Conn {
    /// Drive a TLS handshake to its end; `Ready(Ok)` once the stream is usable.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Io::Accepting(accept) = &mut self.io {
            match Pin::new(accept.as_mut()).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(tls)) => {
                    let names = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(super::tls::client_cert_names);
                    if let Some(names) = names {
                        let _ = self.info.cert_names.set(names);
                    }
                    self.io = Io::Tls(Box::new(tls));
                }
                Poll::Ready(Err(e)) => {
                    self.slot.admission.tls_failed(&e);
                    self.io = Io::Failed;
                    return Poll::Ready(Err(e));
                }
            }
        }
        if let Io::Failed = self.io {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the TLS handshake failed",
            )));
        }
        Poll::Ready(Ok(()))
    }
}

/// Call `$method` on whichever stream the connection has (after the handshake).
macro_rules! on_stream {
    ($this:expr, $cx:expr, $method:ident ( $($arg:expr),* )) => {
        match &mut $this.io {
            Io::Plain(s) => Pin::new(s).$method($cx, $($arg),*),
            Io::Tls(s) => Pin::new(s.as_mut()).$method($cx, $($arg),*),
            Io::Accepting(_) | Io::Failed => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the TLS handshake has not completed",
            ))),
        }
    };
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        std::task::ready!(this.poll_io(cx))?;
        let before = buf.filled().len();
        let r = on_stream!(this, cx, poll_read(buf));
        if let Poll::Ready(Ok(())) = r {
            let n = buf.filled().len() - before;
            this.moved(n, 0);
        }
        r
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        std::task::ready!(this.poll_io(cx))?;
        let r = on_stream!(this, cx, poll_write(buf));
        if let Poll::Ready(Ok(n)) = r {
            this.moved(0, n);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        std::task::ready!(this.poll_io(cx))?;
        on_stream!(this, cx, poll_flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Io::Accepting(_) | Io::Failed => Poll::Ready(Ok(())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        std::task::ready!(this.poll_io(cx))?;
        let r = on_stream!(this, cx, poll_write_vectored(bufs));
        if let Poll::Ready(Ok(n)) = r {
            this.moved(0, n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
            Io::Accepting(_) | Io::Failed => false,
        }
    }
}

/// Raise the soft RLIMIT_NOFILE to `needed` (up to the hard limit); log what was done or
/// why it could not be. Returns the soft limit in force afterwards, if known.
pub fn raise_file_limit(needed: u64) -> Option<u64> {
    #[cfg(unix)]
    {
        use rlimit::Resource;
        let (soft, hard) = match Resource::NOFILE.get() {
            Ok(limits) => limits,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the file-handle limit (RLIMIT_NOFILE)");
                return None;
            }
        };
        if soft >= needed {
            return Some(soft);
        }
        let target = needed.min(hard);
        if target > soft
            && let Err(e) = Resource::NOFILE.set(target, hard)
        {
            tracing::warn!(
                soft,
                hard,
                needed,
                error = %e,
                "cannot raise the file-handle limit; with every handle in use, accepting API connections backs off until some close"
            );
            return Some(soft);
        }
        if target < needed {
            tracing::warn!(
                soft = target,
                hard,
                needed,
                "the hard file-handle limit is below what [api] max_connections needs; with every handle in use, accepting API connections backs off until some close"
            );
        } else {
            tracing::info!(from = soft, to = target, "raised the file-handle limit");
        }
        Some(target)
    }
    #[cfg(not(unix))]
    {
        let _ = needed;
        None
    }
}

/// The tower layer around every request: bounds the calls (HTTP/2 streams) open at once
/// from one client address, counts running handlers on the connection, makes tonic's client
/// address available (`Request::remote_addr`), and maps decode failures to their gRPC codes
/// (module doc).
#[derive(Debug, Clone)]
pub struct GuardLayer {
    streams: Arc<Streams>,
}

impl GuardLayer {
    /// At most `max_streams_per_client` calls open at once from one client IP address; a
    /// call over it is RESOURCE_EXHAUSTED (reason `TOO_MANY_STREAMS`).
    pub fn new(max_streams_per_client: usize) -> GuardLayer {
        GuardLayer {
            streams: Arc::new(Streams {
                max_per_client: max_streams_per_client.max(1),
                counts: Mutex::default(),
            }),
        }
    }
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            streams: Arc::clone(&self.streams),
        }
    }
}

/// Open calls per client address.
#[derive(Debug)]
struct Streams {
    max_per_client: usize,
    counts: Mutex<StreamCounts>,
}

#[derive(Debug, Default)]
struct StreamCounts {
    per_client: HashMap<IpAddr, usize>,
    refused: Option<Episode>,
}

impl Streams {
    fn counts(&self) -> std::sync::MutexGuard<'_, StreamCounts> {
        // Plain counters: a poisoned lock is used as it is (see `Admission::counts`).
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open(self: &Arc<Self>, ip: IpAddr) -> Option<StreamSlot> {
        let mut c = self.counts();
        let now = Instant::now();
        let n = c.per_client.get(&ip).copied().unwrap_or(0);
        if n >= self.max_per_client {
            match &mut c.refused {
                Some(e) => {
                    e.count += 1;
                    e.last = now;
                }
                None => {
                    tracing::warn!(
                        client = %ip,
                        open = n,
                        "refusing API calls: api.max_streams_per_client is reached"
                    );
                    c.refused = Some(Episode {
                        count: 1,
                        last: now,
                    });
                }
            }
            return None;
        }
        if let Some(e) = c
            .refused
            .take_if(|e| now.duration_since(e.last) >= EPISODE_QUIET)
        {
            tracing::info!(refused = e.count, "admitting API calls again");
        }
        c.per_client.insert(ip, n + 1);
        Some(StreamSlot {
            streams: Arc::clone(self),
            ip,
        })
    }
}

/// One open call's place; given back when its response body is dropped.
#[derive(Debug)]
struct StreamSlot {
    streams: Arc<Streams>,
    ip: IpAddr,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut c = self.streams.counts();
        if let Some(n) = c.per_client.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_client.remove(&self.ip);
            }
        }
    }
}

/// A response body that holds its call's per-client slot until it is dropped (the stream
/// ended, or the client reset it).
pub struct Counted<B> {
    inner: Pin<Box<B>>,
    _slot: Option<StreamSlot>,
}

impl<B> std::fmt::Debug for Counted<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counted").finish_non_exhaustive()
    }
}

impl<B: http_body::Body> http_body::Body for Counted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        self.inner.as_mut().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// See [`GuardLayer`].
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    streams: Arc<Streams>,
}

/// Decrements a connection's running-handler count on drop.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(n: &Arc<AtomicUsize>) -> Busy {
        n.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(n))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The answer to a call over `api.max_streams_per_client`.
fn too_many_streams(max: usize) -> Status {
    status(
        Code::ResourceExhausted,
        "TOO_MANY_STREAMS",
        format!(
            "too many calls open at once from this client address (api.max_streams_per_client = {max})"
        ),
        &[("limit", max.to_string())],
    )
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for Guard<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
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

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        let info = req.extensions().get::<ClientInfo>().cloned();
        let mut slot = None;
        let mut busy = None;
        if let Some(info) = info {
            slot = match self.streams.open(info.remote.ip()) {
                Some(slot) => Some(slot),
                None => {
                    let refusal = too_many_streams(self.streams.max_per_client)
                        .into_http::<ResBody>()
                        .map(|b| Counted {
                            inner: Box::pin(b),
                            _slot: None,
                        });
                    return Box::pin(async move { Ok(refusal) });
                }
            };
            busy = Some(Busy::enter(&info.busy));
            req.extensions_mut().insert(TcpConnectInfo {
                local_addr: Some(info.local),
                remote_addr: Some(info.remote),
            });
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let _busy = busy;
            let mut response = fut.await?;
            recode(response.headers_mut());
            Ok(response.map(|b| Counted {
                inner: Box::pin(b),
                _slot: slot,
            }))
        })
    }
}

/// tonic-prost's message for a request that does not decode (prost's `DecodeError`).
const DECODE_FAILED: &str = "failed to decode Protobuf message";
/// tonic's message for a request over the decoding size limit.
const TOO_LARGE: &str = "Error, decoded message length too large: ";

/// The status a decode failure should have had, if `status` is one.
pub(crate) fn recoded(status: &Status) -> Option<Status> {
    let message = status.message();
    match status.code() {
        Code::Internal if message.starts_with(DECODE_FAILED) => {
            Some(invalid_argument("request", message))
        }
        Code::OutOfRange if message.starts_with(TOO_LARGE) => Some(self::status(
            Code::ResourceExhausted,
            "REQUEST_TOO_LARGE",
            format!("request too large: {}", &message[TOO_LARGE.len()..]),
            &[],
        )),
        _ => None,
    }
}

/// Rewrite a trailers-only error response whose status is a decode failure.
fn recode(headers: &mut http::HeaderMap) {
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    let Some(better) = recoded(&status) else {
        return;
    };
    headers.remove("grpc-status");
    headers.remove("grpc-message");
    headers.remove("grpc-status-details-bin");
    if better.add_header(headers).is_err() {
        // Our own message and details always encode; keep the original if not.
        let _ = status.add_header(headers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_failures_get_their_codes() {
        let bad = Status::internal(
            "failed to decode Protobuf message: SendTextRequest.text: invalid string value: data is not UTF-8 encoded",
        );
        let s = recoded(&bad).expect("recoded");
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(
            s.message(),
            "invalid request: failed to decode Protobuf message: SendTextRequest.text: invalid string value: data is not UTF-8 encoded"
        );
        let big = Status::out_of_range(
            "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
        );
        let s = recoded(&big).expect("recoded");
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(
            s.message(),
            "request too large: found 5000000 bytes, the limit is: 4194304 bytes"
        );
        // Our own statuses stay as they are.
        assert!(recoded(&Status::out_of_range("cursor 5 is older than retention")).is_none());
        assert!(recoded(&Status::internal("the core answered")).is_none());
    }

    #[test]
    fn headers_are_rewritten_in_place() {
        let mut headers = http::HeaderMap::new();
        Status::internal("failed to decode Protobuf message: invalid wire type")
            .add_header(&mut headers)
            .unwrap();
        recode(&mut headers);
        let s = Status::from_header_map(&headers).unwrap();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(
            s.message(),
            "invalid request: failed to decode Protobuf message: invalid wire type"
        );
    }

    fn limits(total: usize, per_client: usize) -> Limits {
        Limits {
            max_connections: total,
            max_connections_per_client: per_client,
            handshake_timeout: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn slots_bound_clients_and_the_total() {
        let a = Arc::new(Admission::default());
        let one: IpAddr = [10, 0, 0, 1].into();
        let two: IpAddr = [10, 0, 0, 2].into();
        let l = limits(3, 2);
        let s1 = a.admit(one, &l).unwrap();
        let _s2 = a.admit(one, &l).unwrap();
        assert_eq!(
            a.admit(one, &l).unwrap_err(),
            "api.max_connections_per_client"
        );
        let _s3 = a.admit(two, &l).unwrap();
        assert_eq!(a.admit(two, &l).unwrap_err(), "api.max_connections");
        assert_eq!(a.open(), 3);
        drop(s1);
        assert_eq!(a.open(), 2);
        let _s4 = a.admit(one, &l).unwrap();
        assert_eq!(a.admit(two, &l).unwrap_err(), "api.max_connections");
    }
}
