//! Clear answers to bad requests and bounded connections, end to end: real tonic clients and
//! raw TCP sockets over 127.0.0.1 against `api::serve` and a real dispatch core driven by the
//! in-test backend (tests/api_support).
//!
//! - A request that is not a valid protobuf message, or has a string that is not UTF-8, is
//!   INVALID_ARGUMENT (tonic alone says INTERNAL); one over the size limit is
//!   RESOURCE_EXHAUSTED (tonic alone says OUT_OF_RANGE); on the generated services and on the
//!   hand-written EventService alike.
//! - Names parse strictly, identifiers with control characters are refused, and every
//!   duration and count is bounded, each with INVALID_ARGUMENT naming the field and the bound.
//! - Connections that never send the HTTP/2 preface are closed after the handshake timeout,
//!   connections over the per-client bound are closed at once, and a drain does not wait for
//!   idle connections.

mod api_support;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use api_support::{Server, TestBackend, config};
use bytes::{Buf, BufMut};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic_types::StatusExt;
use trunkgate::api::{ApiConfig, pb};

const DEADLINE: Duration = Duration::from_secs(20);

/// Sends the given bytes as the request message; reads the answer's bytes.
#[derive(Clone, Copy)]
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
        let mut v = vec![0; src.remaining()];
        src.copy_to_slice(&mut v);
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

async fn unary_raw(srv: &Server, path: &'static str, body: Vec<u8>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(srv.channel.clone());
    grpc.ready().await.expect("ready");
    let r = tokio::time::timeout(
        DEADLINE,
        grpc.unary::<_, Vec<u8>, _>(
            tonic::Request::new(body),
            PathAndQuery::from_static(path),
            Raw,
        ),
    )
    .await
    .expect("answered in time");
    r.expect_err("a bad request fails")
}

async fn streaming_raw(srv: &Server, path: &'static str, body: Vec<u8>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(srv.channel.clone());
    grpc.ready().await.expect("ready");
    let r = tokio::time::timeout(
        DEADLINE,
        grpc.server_streaming::<_, Vec<u8>, _>(
            tonic::Request::new(body),
            PathAndQuery::from_static(path),
            Raw,
        ),
    )
    .await
    .expect("answered in time");
    match r {
        Err(s) => s,
        Ok(mut stream) => tokio::time::timeout(DEADLINE, stream.get_mut().message())
            .await
            .expect("answered in time")
            .expect_err("a bad request fails"),
    }
}

async fn server() -> Server {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    Server::start(backend, config()).await
}

fn invalid(s: &tonic::Status, field: &str, message: &str) {
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert_eq!(s.message(), message);
    let br = s.get_details_bad_request().expect("BadRequest details");
    assert_eq!(br.field_violations[0].field, field);
}

const GET_RADIO: &str = "/trunkgate.v1.RadioService/GetRadio";
const WATCH: &str = "/trunkgate.v1.EventService/WatchEvents";

#[tokio::test]
async fn undecodable_requests_are_invalid_argument() {
    let srv = server().await;
    // Field 1 with wire type 7, which does not exist.
    let s = unary_raw(&srv, GET_RADIO, vec![0x0f, 0x01]).await;
    invalid(
        &s,
        "request",
        "invalid request: failed to decode Protobuf message: invalid wire type value: 7",
    );
    // GetRadioRequest.name (field 1, length-delimited) holding bytes that are not UTF-8.
    let s = unary_raw(&srv, GET_RADIO, vec![0x0a, 0x02, 0xff, 0xfe]).await;
    invalid(
        &s,
        "request",
        "invalid request: failed to decode Protobuf message: GetRadioRequest.name: invalid string value: data is not UTF-8 encoded",
    );
    // The hand-written EventService answers the same: WatchEventsRequest.filter is field 2.
    let s = streaming_raw(&srv, WATCH, vec![0x12, 0x01, 0xc3]).await;
    invalid(
        &s,
        "request",
        "invalid request: failed to decode Protobuf message: WatchEventsRequest.filter: invalid string value: data is not UTF-8 encoded",
    );
    // Truncated: a length that runs past the end.
    let s = streaming_raw(&srv, WATCH, vec![0x12, 0x05, b'a']).await;
    invalid(
        &s,
        "request",
        "invalid request: failed to decode Protobuf message: WatchEventsRequest.filter: buffer underflow",
    );
}

#[tokio::test]
async fn oversize_requests_are_resource_exhausted() {
    let srv = server().await;
    // tonic's default decoding limit is 4 MiB.
    let big = vec![0u8; 4 * 1024 * 1024 + 1];
    for path in [GET_RADIO, WATCH] {
        let s = if path == WATCH {
            streaming_raw(&srv, path, big.clone()).await
        } else {
            unary_raw(&srv, path, big.clone()).await
        };
        assert_eq!(s.code(), Code::ResourceExhausted, "{path}: {s:?}");
        assert_eq!(
            s.message(),
            "request too large: found 4194305 bytes, the limit is: 4194304 bytes"
        );
        assert_eq!(
            s.get_details_error_info().expect("ErrorInfo").reason,
            "REQUEST_TOO_LARGE"
        );
    }
    // The server is still there.
    srv.radios()
        .get_radio(pb::GetRadioRequest {
            name: "radios/80020200".into(),
        })
        .await
        .expect("still answers");
}

#[tokio::test]
async fn names_identifiers_durations_and_counts_are_checked() {
    let srv = server().await;
    // A leading space in a name.
    let s = srv
        .radios()
        .get_radio(pb::GetRadioRequest {
            name: "radios/ 57120201".into(),
        })
        .await
        .unwrap_err();
    invalid(
        &s,
        "name",
        "invalid name: expected radios/{id}, got \"radios/ 57120201\"",
    );
    let s = srv
        .radios()
        .get_radio(pb::GetRadioRequest {
            name: "radios/+57120201".into(),
        })
        .await
        .unwrap_err();
    invalid(
        &s,
        "name",
        "invalid name: \"+57120201\": not an identity: expected 8 dial digits, 0x<hex>, #<decimal>, or a decimal DMR ID of at most 7 digits",
    );

    // An operator name with a newline and an escape sequence (binary metadata carries it).
    let mut req = tonic::Request::new(pb::RadioCommandRequest {
        name: "radios/80020200".into(),
        request_id: String::new(),
        reason: String::new(),
    });
    req.metadata_mut().insert_bin(
        "trunkgate-operator-bin",
        tonic::metadata::MetadataValue::from_bytes("duty\n\u{1b}[2J".as_bytes()),
    );
    let s = srv.commands().check_radio(req).await.unwrap_err();
    invalid(
        &s,
        "operator",
        "invalid operator: must not contain control characters (found '\\n')",
    );
    // A tab is the one control character ASCII metadata can carry.
    let mut req = tonic::Request::new(pb::RadioCommandRequest {
        name: "radios/80020200".into(),
        request_id: String::new(),
        reason: String::new(),
    });
    req.metadata_mut()
        .insert("trunkgate-operator", "duty\tofficer".parse().unwrap());
    let s = srv.commands().check_radio(req).await.unwrap_err();
    invalid(
        &s,
        "operator",
        "invalid operator: must not contain control characters (found '\\t')",
    );

    // A request id with an escape.
    let s = srv
        .commands()
        .check_radio(pb::RadioCommandRequest {
            name: "radios/80020200".into(),
            request_id: "retry-\u{1b}[31m".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    invalid(
        &s,
        "request_id",
        "invalid request_id: must not contain control characters (found '\\u{1b}')",
    );

    // A poll interval of 10,000 years, and too many polls.
    let location = |seconds: i64, nanos: i32, polls: u32| pb::RequestLocationRequest {
        name: "radios/80020200".into(),
        interval: Some(prost_types::Duration { seconds, nanos }),
        polls,
        request_id: String::new(),
    };
    let s = srv
        .commands()
        .request_location(location(10_000 * 31_557_600, 0, 2))
        .await
        .unwrap_err();
    invalid(&s, "interval", "invalid interval: must be 10s-86400s");
    let s = srv
        .commands()
        .request_location(location(60, 1_500_000_000, 2))
        .await
        .unwrap_err();
    invalid(
        &s,
        "interval.nanos",
        "invalid interval.nanos: must be 0-999999999",
    );
    let s = srv
        .commands()
        .request_location(location(60, 0, 5_000))
        .await
        .unwrap_err();
    invalid(&s, "polls", "invalid polls: must be 1-1000");

    // A status above the 10-bit field.
    let s = srv
        .commands()
        .send_status(pb::SendStatusRequest {
            name: "radios/80020200".into(),
            status: 4096,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    invalid(
        &s,
        "status",
        "invalid status: must be 0-1023 (a 10-bit air field)",
    );

    // A wait timeout whose nanos would carry past u64 seconds.
    let s = srv
        .operations()
        .wait_operation(pb::WaitOperationRequest {
            name: "operations/1".into(),
            timeout: Some(prost_types::Duration {
                seconds: i64::MAX,
                nanos: 1_999_999_999,
            }),
        })
        .await
        .unwrap_err();
    invalid(
        &s,
        "timeout.nanos",
        "invalid timeout.nanos: must be 0-999999999",
    );

    // A control character in a site filter.
    let s = srv
        .radios()
        .list_radios(pb::ListRadiosRequest {
            site: "sites/north\u{7}".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    invalid(
        &s,
        "site",
        "invalid site: must not contain control characters (found '\\u{7}')",
    );
}

fn with_connections(handshake: Duration, per_client: usize) -> ApiConfig {
    ApiConfig {
        handshake_timeout: handshake,
        max_connections_per_client: per_client,
        ..config()
    }
}

/// Read from `s` until the server closes it; panics if it is still open at `deadline`.
/// Returns the bytes the server sent first (its SETTINGS, when it served the connection).
fn until_closed(mut s: TcpStream, deadline: Instant) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the server kept the connection open");
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the server kept the connection open")
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_a_preface_are_closed_after_the_timeout() {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    let srv = Server::start(backend, with_connections(Duration::from_millis(500), 1_000)).await;
    let addr = srv.addr;
    let idle: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // One sends a partial preface and stops.
    let mut partial = TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut partial, b"PRI * HTTP/2.0\r\n").unwrap();
    let closed = tokio::task::spawn_blocking(move || {
        for s in idle {
            until_closed(s, Instant::now() + DEADLINE);
        }
        until_closed(partial, Instant::now() + DEADLINE);
    });
    tokio::time::timeout(DEADLINE * 2, closed)
        .await
        .expect("closed in time")
        .expect("every idle connection was closed");
    // A real client still gets in (the harness's own connection completed its handshake).
    srv.radios()
        .get_radio(pb::GetRadioRequest {
            name: "radios/80020200".into(),
        })
        .await
        .expect("answered");
    let fresh = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    pb::radio_service_client::RadioServiceClient::new(api_support::access::authed(fresh))
        .get_radio(pb::GetRadioRequest {
            name: "radios/80020200".into(),
        })
        .await
        .expect("a new client is answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_client_bound_are_closed_at_once() {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    // The harness's channel holds one of the three.
    let srv = Server::start(backend, with_connections(Duration::from_secs(600), 3)).await;
    let addr = srv.addr;
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // The next is closed without a byte from the server, long before the handshake timeout.
    let over = TcpStream::connect(addr).unwrap();
    let got = tokio::task::spawn_blocking(move || until_closed(over, Instant::now() + DEADLINE))
        .await
        .unwrap();
    assert!(
        got.is_empty(),
        "the server served a connection over the bound"
    );
    // The admitted connections stay open and the server's SETTINGS reached them.
    for s in &held {
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut buf = [0u8; 9];
        (&*s).read_exact(&mut buf).expect("SETTINGS frame header");
        assert_eq!(buf[3], 0x4, "frame type SETTINGS (RFC 9113 §6.5)");
    }
    srv.radios()
        .get_radio(pb::GetRadioRequest {
            name: "radios/80020200".into(),
        })
        .await
        .expect("the admitted client is answered");
    // Once one closes, a new connection is admitted (and sent SETTINGS).
    drop(held);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 9];
        if (&s).read_exact(&mut buf).is_ok() {
            assert_eq!(buf[3], 0x4);
            break;
        }
        assert!(Instant::now() < deadline, "never admitted again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_does_not_wait_for_idle_connections() {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    // A grace far longer than the deadline below: the drain must end by the connections
    // closing, not by the grace running out.
    let grace = Duration::from_secs(600);
    let mut srv = Server::start(
        backend,
        ApiConfig {
            grace,
            handshake_timeout: Duration::from_secs(600),
            ..config()
        },
    )
    .await;
    // The harness's channel made a call and is now idle; a second client holds a watch
    // stream it never reads; raw sockets never send the preface.
    srv.radios()
        .get_radio(pb::GetRadioRequest {
            name: "radios/80020200".into(),
        })
        .await
        .unwrap();
    // Its stream window is 0: the server can send the snapshot's headers but no data until
    // the client reads, which it never does.
    let other = tonic::transport::Endpoint::from_shared(format!("http://{}", srv.addr))
        .unwrap()
        .initial_stream_window_size(0)
        .connect()
        .await
        .unwrap();
    let unread =
        pb::event_service_client::EventServiceClient::new(api_support::access::authed(other))
            .watch_events(pb::WatchEventsRequest {
                snapshot: true,
                ..Default::default()
            })
            .await
            .expect("watch")
            .into_inner();
    let mut raw: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(srv.addr).unwrap())
        .collect();
    // And one opens its HTTP/2 session (preface and an empty SETTINGS frame, RFC 9113 §3.4,
    // §6.5) and then answers nothing: not the server's SETTINGS, not its GOAWAY ping.
    let mut silent = TcpStream::connect(srv.addr).unwrap();
    std::io::Write::write_all(
        &mut silent,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
    )
    .unwrap();
    raw.push(silent);
    tokio::time::sleep(Duration::from_millis(300)).await;
    srv.stop().await;
    let ended = tokio::time::timeout(DEADLINE, &mut srv.task)
        .await
        .expect("the drain ended well before the grace")
        .expect("task");
    assert!(ended.is_ok(), "{ended:?}");
    drop((unread, raw));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_the_per_client_bound_are_resource_exhausted() {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    let srv = Server::start(
        backend,
        ApiConfig {
            max_streams_per_client: 2,
            ..config()
        },
    )
    .await;
    let watch = || {
        let mut events = srv.events();
        async move {
            events
                .watch_events(pb::WatchEventsRequest::default())
                .await
                .expect("watch")
                .into_inner()
        }
    };
    let first = watch().await;
    let _second = watch().await;
    // Two calls are open: a third is refused, on this connection or a new one.
    let s = srv
        .radios()
        .get_radio(pb::GetRadioRequest {
            name: "radios/80020200".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    assert_eq!(
        s.message(),
        "too many calls open at once from this client address (api.max_streams_per_client = 2)"
    );
    assert_eq!(
        s.get_details_error_info().expect("ErrorInfo").reason,
        "TOO_MANY_STREAMS"
    );
    let other = tonic::transport::Endpoint::from_shared(format!("http://{}", srv.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let s = pb::radio_service_client::RadioServiceClient::new(api_support::access::authed(other))
        .get_radio(pb::GetRadioRequest {
            name: "radios/80020200".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    // Once a stream ends, calls are admitted again.
    drop(first);
    let deadline = Instant::now() + DEADLINE;
    loop {
        match srv
            .radios()
            .get_radio(pb::GetRadioRequest {
                name: "radios/80020200".into(),
            })
            .await
        {
            Ok(_) => break,
            Err(s) => {
                assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
                assert!(Instant::now() < deadline, "never admitted again");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
