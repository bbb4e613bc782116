//! `EventService.WatchEvents`: the journaled events as a server stream with resume cursors
//! (DESIGN.md "The slowest client never slows the radio side"; dispatch-features.md §4.2).
//!
//! - Without a cursor the stream starts at the live tail: the server reads the latest cursor
//!   and watches after it. With a cursor it replays after it, then goes live. With
//!   `snapshot` (and no cursor) it first sends the current state from one consistent read,
//!   then `SnapshotComplete` with that read's cursor, then the events after it (Kubernetes
//!   list+watch; Firestore CURRENT).
//! - While idle for `ApiConfig::heartbeat`, a `Heartbeat` carries the cursor of the last
//!   event delivered or filtered out (etcd progress notify): resuming after it loses nothing.
//! - Each stream has a bounded queue (`ApiConfig::watch_buffer`). A client that does not
//!   read fills it; the forwarder then stops pulling, the backend's bounded subscription
//!   overflows, and the stream ends with RESOURCE_EXHAUSTED naming the cursor to resume
//!   from (console's slow-client policy). The core never waits for a watcher.
//! - Streams end with UNAVAILABLE (reason SHUTTING_DOWN, with `resume_cursor`) when the
//!   server drains, and quietly when the client goes away.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::backend::{Backend, WatchStart};
use super::convert;
use super::pb;
use super::service::{Api, Shared, drained, draining};
use super::status::{invalid_argument, status};
use crate::dispatch::{AlarmFilter, AlarmState, CallFilter, Core, RadioFilter};

/// Longest filter accepted, in bytes, and most terms.
const MAX_FILTER_LEN: usize = 1024;
const MAX_FILTER_TERMS: usize = 32;

/// An event type filter: `type=NAME` or `type=PREFIX*` terms, any of which may match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    terms: Vec<(String, bool)>,
}

impl EventFilter {
    /// Parse the `filter` field (see events.proto).
    pub fn parse(s: &str) -> Result<EventFilter, Status> {
        if s.len() > MAX_FILTER_LEN {
            return Err(invalid_argument("filter", "too long"));
        }
        let mut terms = Vec::new();
        for word in s.split_whitespace().filter(|w| *w != "OR") {
            let Some(v) = word.strip_prefix("type=") else {
                return Err(invalid_argument(
                    "filter",
                    format!("expected type=NAME or type=PREFIX*, got {word:?}"),
                ));
            };
            let (name, prefix) = match v.strip_suffix('*') {
                Some(p) => (p, true),
                None => (v, false),
            };
            if name.is_empty() && !prefix
                || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                return Err(invalid_argument("filter", format!("bad event type {v:?}")));
            }
            terms.push((name.to_string(), prefix));
            if terms.len() > MAX_FILTER_TERMS {
                return Err(invalid_argument("filter", "too many terms"));
            }
        }
        Ok(EventFilter { terms })
    }

    /// Whether an event of this type passes.
    pub fn matches(&self, type_name: &str) -> bool {
        self.terms.is_empty()
            || self.terms.iter().any(|(n, prefix)| {
                if *prefix {
                    type_name.starts_with(n.as_str())
                } else {
                    type_name == n
                }
            })
    }
}

type Item = Result<pb::WatchEventsResponse, Status>;

fn resp(kind: pb::watch_events_response::Kind) -> Item {
    Ok(pb::WatchEventsResponse { kind: Some(kind) })
}

/// The snapshot as one read on the driver: domain clones only (converted to proto off the
/// driver), every list walked by its paginated query.
fn snapshot(core: &Core) -> Vec<pb::SnapshotItem> {
    use pb::snapshot_item::Resource as R;
    let mut out: Vec<R> = Vec::new();
    out.extend(core.sites().map(|s| R::Site(convert::site(s))));
    out.extend(core.teams().iter().map(|t| R::Team(convert::team(t))));
    let mut after = None;
    loop {
        let p = core.talkgroups(after, usize::MAX);
        out.extend(p.items.iter().map(|t| R::Talkgroup(convert::talkgroup(t))));
        match p.next_after {
            Some(k) => after = Some(k),
            None => break,
        }
    }
    let mut after = None;
    loop {
        let p = core.radios(&RadioFilter::default(), after, usize::MAX);
        out.extend(p.items.iter().map(|r| R::Radio(convert::radio(r))));
        match p.next_after {
            Some(k) => after = Some(k),
            None => break,
        }
    }
    let mut after = None;
    loop {
        let p = core.calls(CallFilter::Active, after, usize::MAX);
        out.extend(p.items.iter().map(|c| R::Call(convert::call(c))));
        match p.next_after {
            Some(k) => after = Some(k),
            None => break,
        }
    }
    for state in [AlarmState::Raised, AlarmState::Acknowledged] {
        let mut after = None;
        loop {
            let p = core.alarms(AlarmFilter { state: Some(state) }, after, usize::MAX);
            out.extend(p.items.iter().map(|a| R::Alarm(convert::alarm(a))));
            match p.next_after {
                Some(k) => after = Some(k),
                None => break,
            }
        }
    }
    let mut after = None;
    loop {
        let p = core.operations(after, usize::MAX);
        out.extend(
            p.items
                .iter()
                .filter(|o| !o.state.is_final())
                .map(|o| R::Operation(convert::operation(o))),
        );
        match p.next_after {
            Some(k) => after = Some(k),
            None => break,
        }
    }
    out.into_iter()
        .map(|r| pb::SnapshotItem { resource: Some(r) })
        .collect()
}

/// Send unless the client left or the server drains; false means stop.
async fn send(
    tx: &mpsc::Sender<Item>,
    item: Item,
    draining: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        r = tx.send(item) => r.is_ok(),
        _ = drained(draining) => false,
    }
}

async fn forward<B: Backend>(
    shared: Arc<Shared<B>>,
    req: pb::WatchEventsRequest,
    filter: EventFilter,
    tx: mpsc::Sender<Item>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let mut drain = shared.draining.clone();
    // Where to start: the client's cursor, or the cursor of a read (tail or snapshot).
    let mut last = match req.cursor {
        Some(c) => c,
        None if req.snapshot => {
            let read = shared.backend.read(|core, c| (snapshot(core), c)).await;
            let (items, c) = match read {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            for item in items {
                if !send(
                    &tx,
                    resp(pb::watch_events_response::Kind::Snapshot(item)),
                    &mut drain,
                )
                .await
                {
                    return;
                }
            }
            let done = pb::SnapshotComplete { cursor: c };
            if !send(
                &tx,
                resp(pb::watch_events_response::Kind::SnapshotComplete(done)),
                &mut drain,
            )
            .await
            {
                return;
            }
            c
        }
        None => match shared.backend.read(|_, c| c).await {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Err(e.into())).await;
                return;
            }
        },
    };
    let mut events = match shared.backend.watch(WatchStart::After(last)) {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Err(e.into())).await;
            return;
        }
    };
    let period = shared.config.heartbeat;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        enum Next<T> {
            Drain,
            Closed,
            Item(T),
            Heartbeat,
        }
        let next = tokio::select! {
            biased;
            _ = drained(&mut drain) => Next::Drain,
            _ = tx.closed() => Next::Closed,
            item = events.next() => Next::Item(item),
            _ = heartbeat.tick() => Next::Heartbeat,
        };
        let item = match next {
            Next::Drain => {
                // Best effort: a full queue means the client is not reading anyway.
                let _ = tx.try_send(Err(draining(last)));
                return;
            }
            Next::Closed => return,
            Next::Heartbeat => {
                let hb = pb::Heartbeat {
                    cursor: last,
                    time: Some(convert::timestamp(crate::dispatch::Timestamp(now_ms()))),
                };
                let hb = resp(pb::watch_events_response::Kind::Heartbeat(hb));
                if !send(&tx, hb, &mut drain).await {
                    return;
                }
                continue;
            }
            Next::Item(item) => item,
        };
        match item {
            Some(Ok(e)) => {
                last = e.seq;
                let ev = convert::event(e.seq, &e.event);
                if filter.matches(&ev.r#type) {
                    heartbeat.reset();
                    if !send(
                        &tx,
                        resp(pb::watch_events_response::Kind::Event(ev)),
                        &mut drain,
                    )
                    .await
                    {
                        return;
                    }
                }
            }
            Some(Err(end)) => {
                let _ = send(&tx, Err(end.into()), &mut drain).await;
                return;
            }
            None => {
                let s = status(
                    tonic::Code::Unavailable,
                    "WATCH_ENDED",
                    format!("the event feed ended; resume after cursor {last}"),
                    &[("resume_cursor", last.to_string())],
                );
                let _ = send(&tx, Err(s), &mut drain).await;
                return;
            }
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tonic::async_trait]
impl<B: Backend> pb::event_service_server::EventService for Api<B> {
    type WatchEventsStream = ReceiverStream<Item>;

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let req = req.into_inner();
        let filter = EventFilter::parse(&req.filter)?;
        if *self.shared.draining.borrow() {
            return Err(draining(req.cursor.unwrap_or(0)));
        }
        let permit = self
            .shared
            .watchers
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                status(
                    tonic::Code::ResourceExhausted,
                    "TOO_MANY_WATCHERS",
                    "too many event watchers",
                    &[("limit", self.shared.config.max_watchers.to_string())],
                )
            })?;
        // Check the cursor before answering, so OUT_OF_RANGE is the call's status.
        if let Some(c) = req.cursor {
            match self.shared.backend.watch(WatchStart::After(c)) {
                Ok(probe) => drop(probe),
                Err(e) => return Err(e.into()),
            }
        }
        let (tx, rx) = mpsc::channel(self.shared.config.watch_buffer.max(1));
        tokio::spawn(forward(self.shared.clone(), req, filter, tx, permit));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_names_and_prefixes() {
        let f = EventFilter::parse("type=alarm_* OR type=operation_succeeded").unwrap();
        assert!(f.matches("alarm_raised"));
        assert!(f.matches("operation_succeeded"));
        assert!(!f.matches("operation_refused"));
        assert!(!f.matches("radio_heard"));
        assert!(EventFilter::parse("").unwrap().matches("radio_heard"));
        assert!(EventFilter::parse("type=*").unwrap().matches("radio_heard"));
        for bad in ["site=x", "type=", "type=Alarm", "type=a b"] {
            let e = EventFilter::parse(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}");
        }
        let many = "type=a ".repeat(MAX_FILTER_TERMS + 1);
        assert!(EventFilter::parse(&many).is_err());
    }
}
