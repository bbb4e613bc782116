//! `trunkgate.v1.EventService` over a codec that sends shared, pre-encoded events.
//!
//! The generated `EventServiceServer` encodes every message of every stream with prost, so
//! with N watchers each event would be converted and encoded N times. This server is the
//! generated one with one difference: its codec takes [`WatchFrame`]s, whose events arrive
//! already encoded (once, shared by `Arc` across streams, `JournaledEvent::wire`) and are
//! copied into the HTTP/2 buffer as they are. On the wire nothing changes: every client,
//! generated or not, reads ordinary `WatchEventsResponse` messages, and the method's path,
//! service name (health, reflection) and status handling are those of the generated code.

use std::convert::Infallible;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::codegen::{Body, Service, StdError, http};
use tonic::server::{Grpc, NamedService, ServerStreamingService};

use super::backend::Backend;
use super::pb;
use super::service::Api;
use super::watch::{Item, WatchFrame};

/// The method's HTTP/2 path, as the generated server routes it.
const WATCH_EVENTS_PATH: &str = "/trunkgate.v1.EventService/WatchEvents";

/// Encodes [`WatchFrame`]s (pre-encoded bytes go out as they are) and decodes requests with
/// prost.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WatchCodec;

/// The encoder half of [`WatchCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WatchEncoder;

impl Codec for WatchCodec {
    type Encode = WatchFrame;
    type Decode = pb::WatchEventsRequest;
    type Encoder = WatchEncoder;
    /// Requests decode as the generated server decodes them.
    type Decoder = tonic_prost::ProstDecoder<pb::WatchEventsRequest>;

    fn encoder(&mut self) -> WatchEncoder {
        WatchEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::default()
    }
}

impl Encoder for WatchEncoder {
    type Item = WatchFrame;
    type Error = Status;

    fn encode(&mut self, item: WatchFrame, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        use bytes::BufMut;
        match item {
            WatchFrame::Encoded(bytes) => buf.put_slice(&bytes),
            WatchFrame::Message(m) => m
                .encode(buf)
                // EncodeBuf grows as needed, so prost never runs out of room.
                .map_err(|e| Status::internal(format!("encoding a watch message: {e}")))?,
        }
        Ok(())
    }
}

/// The EventService server (register it with `Server::add_service`).
pub(crate) struct EventServiceServer<B> {
    api: Api<B>,
}

impl<B> EventServiceServer<B> {
    /// Serve `WatchEvents` of `api`.
    pub fn new(api: Api<B>) -> Self {
        EventServiceServer { api }
    }
}

impl<B> Clone for EventServiceServer<B> {
    fn clone(&self) -> Self {
        EventServiceServer {
            api: self.api.clone(),
        }
    }
}

impl<B> NamedService for EventServiceServer<B> {
    const NAME: &'static str = pb::event_service_server::SERVICE_NAME;
}

/// `WatchEvents` as tonic's server-streaming handler.
struct WatchEvents<B>(Api<B>);

impl<B: Backend> ServerStreamingService<pb::WatchEventsRequest> for WatchEvents<B> {
    type Response = WatchFrame;
    type ResponseStream = futures::stream::BoxStream<'static, Item>;
    type Future = BoxFuture<'static, Result<tonic::Response<Self::ResponseStream>, Status>>;

    fn call(&mut self, request: tonic::Request<pb::WatchEventsRequest>) -> Self::Future {
        let api = self.0.clone();
        Box::pin(async move {
            let stream = api.watch_events(request.into_inner())?;
            Ok(tonic::Response::new(
                Box::pin(stream) as futures::stream::BoxStream<'static, Item>
            ))
        })
    }
}

impl<B, R> Service<http::Request<R>> for EventServiceServer<B>
where
    B: Backend,
    R: Body + Send + 'static,
    R::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<R>) -> Self::Future {
        if req.uri().path() != WATCH_EVENTS_PATH {
            // As the generated server answers an unknown method.
            return Box::pin(async {
                Ok(
                    Status::unimplemented("unknown method of trunkgate.v1.EventService")
                        .into_http(),
                )
            });
        }
        let method = WatchEvents(self.api.clone());
        Box::pin(async move { Ok(Grpc::new(WatchCodec).server_streaming(method, req).await) })
    }
}
