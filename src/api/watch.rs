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

use super::backend::{Backend, EventStream, JournaledEvent, WatchStart};
use super::convert;
use super::pb;
use super::service::{Api, Shared, drained, draining};
use super::status::{invalid_argument, status};
use crate::dispatch::{
    Alarm, AlarmFilter, AlarmState, Call, CallFilter, Core, Operation, Page, Radio, RadioFilter,
    Site, Talkgroup, Team,
};

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

/// Conversions kept by [`Converted`]: a few batches of the driver's worth.
const CONVERTED_KEEP: usize = 4096;

/// The proto form of recent events, shared by every stream: each live event is converted
/// (its JSON included) once, not once per watcher. Measured with 100 watchers
/// (benches/gateway.rs) the per-watcher conversion was most of the fan-out's cost.
/// Bounded to [`CONVERTED_KEEP`] events in seq order; a replay of older events converts
/// them without caching.
#[derive(Default)]
pub(crate) struct Converted {
    recent: std::sync::Mutex<std::collections::VecDeque<(u64, Arc<pb::Event>)>>,
}

impl Converted {
    fn event(&self, e: &JournaledEvent) -> pb::Event {
        // A poisoned lock still holds a consistent deque: nothing below panics mid-update.
        let lock = || self.recent.lock().unwrap_or_else(|p| p.into_inner());
        {
            let recent = lock();
            if let Ok(i) = recent.binary_search_by_key(&e.seq, |(seq, _)| *seq) {
                return (*recent[i].1).clone();
            }
        }
        let ev = convert::event(e.seq, &e.event);
        let mut recent = lock();
        if recent.back().is_none_or(|(seq, _)| *seq < e.seq) {
            recent.push_back((e.seq, Arc::new(ev.clone())));
            if recent.len() > CONVERTED_KEEP {
                recent.pop_front();
            }
        }
        ev
    }
}

fn resp(kind: pb::watch_events_response::Kind) -> Item {
    Ok(pb::WatchEventsResponse { kind: Some(kind) })
}

/// The current state, cloned on the driver in one read (so it is consistent with one
/// cursor) and converted to proto off the driver. Every list is walked by its paginated
/// query. The cost is one clone of every radio: fine for thousands of radios, a pause of the
/// driver for a million.
#[derive(Default)]
struct Snapshot {
    sites: Vec<Site>,
    teams: Vec<Team>,
    talkgroups: Vec<Talkgroup>,
    radios: Vec<Radio>,
    calls: Vec<Call>,
    alarms: Vec<Alarm>,
    operations: Vec<Operation>,
}

/// Walk a paginated query to its end.
fn all<K: Copy, T>(mut page: impl FnMut(Option<K>) -> Page<K, T>, out: &mut Vec<T>) {
    let mut after = None;
    loop {
        let p = page(after);
        out.extend(p.items);
        match p.next_after {
            Some(k) => after = Some(k),
            None => break,
        }
    }
}

impl Snapshot {
    fn read(core: &Core) -> Snapshot {
        let mut s = Snapshot {
            sites: core.sites().cloned().collect(),
            teams: core.teams().to_vec(),
            ..Snapshot::default()
        };
        all(|a| core.talkgroups(a, usize::MAX), &mut s.talkgroups);
        all(
            |a| core.radios(&RadioFilter::default(), a, usize::MAX),
            &mut s.radios,
        );
        all(
            |a| core.calls(CallFilter::Active, a, usize::MAX),
            &mut s.calls,
        );
        for state in [AlarmState::Raised, AlarmState::Acknowledged] {
            let filter = AlarmFilter { state: Some(state) };
            all(|a| core.alarms(filter, a, usize::MAX), &mut s.alarms);
        }
        s.alarms.sort_by_key(|a| a.id);
        let mut after = None;
        loop {
            let p = core.operations(after, usize::MAX);
            s.operations
                .extend(p.items.into_iter().filter(|o| !o.state.is_final()));
            match p.next_after {
                Some(k) => after = Some(k),
                None => break,
            }
        }
        s
    }

    fn items(self) -> impl Iterator<Item = pb::SnapshotItem> {
        use pb::snapshot_item::Resource as R;
        let Snapshot {
            sites,
            teams,
            talkgroups,
            radios,
            calls,
            alarms,
            operations,
        } = self;
        sites
            .into_iter()
            .map(|x| R::Site(convert::site(&x)))
            .chain(teams.into_iter().map(|x| R::Team(convert::team(&x))))
            .chain(
                talkgroups
                    .into_iter()
                    .map(|x| R::Talkgroup(convert::talkgroup(&x))),
            )
            .chain(radios.into_iter().map(|x| R::Radio(convert::radio(&x))))
            .chain(calls.into_iter().map(|x| R::Call(convert::call(&x))))
            .chain(alarms.into_iter().map(|x| R::Alarm(convert::alarm(&x))))
            .chain(
                operations
                    .into_iter()
                    .map(|x| R::Operation(convert::operation(&x))),
            )
            .map(|r| pb::SnapshotItem { resource: Some(r) })
    }
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
    resumed: Option<EventStream>,
    tx: mpsc::Sender<Item>,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let mut drain = shared.draining.clone();
    // Where to start: the client's cursor, or the cursor of a read (tail or snapshot).
    let mut last = match req.cursor {
        Some(c) => c,
        None if req.snapshot => {
            let read = shared
                .backend
                .read(|core, c| (Snapshot::read(core), c))
                .await;
            let (items, c) = match read {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            for item in items.items() {
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
    let mut events = match resumed {
        Some(s) => s,
        None => match shared.backend.watch(WatchStart::After(last)) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Err(e.into())).await;
                return;
            }
        },
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
                let ev = shared.converted.event(&e);
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
        // Subscribe before answering, so OUT_OF_RANGE is the call's own status.
        let resumed = match req.cursor {
            Some(c) => Some(self.shared.backend.watch(WatchStart::After(c))?),
            None => None,
        };
        let (tx, rx) = mpsc::channel(self.shared.config.watch_buffer.max(1));
        tokio::spawn(forward(
            self.shared.clone(),
            req,
            filter,
            resumed,
            tx,
            permit,
        ));
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

    fn site_event(seq: u64) -> JournaledEvent {
        JournaledEvent {
            seq,
            event: crate::dispatch::Event {
                at: crate::dispatch::Timestamp(1_000 + seq),
                kind: crate::dispatch::EventKind::SiteLinkChanged {
                    site: crate::dispatch::SiteId::new(&format!("s{seq}")),
                    up: seq.is_multiple_of(2),
                },
            },
        }
    }

    #[test]
    fn conversions_are_shared_bounded_and_equal_to_converting() {
        let c = Converted::default();
        for seq in 1..=CONVERTED_KEEP as u64 + 10 {
            let e = site_event(seq);
            assert_eq!(c.event(&e), convert::event(seq, &e.event));
            // the second stream gets the cached conversion, equal to a fresh one
            assert_eq!(c.event(&e), convert::event(seq, &e.event));
        }
        let recent = c.recent.lock().unwrap();
        assert_eq!(recent.len(), CONVERTED_KEEP);
        assert_eq!(recent.front().map(|r| r.0), Some(11));
        drop(recent);
        // a replayed old event is converted, not cached
        let old = site_event(3);
        assert_eq!(c.event(&old), convert::event(3, &old.event));
        assert_eq!(c.recent.lock().unwrap().front().map(|r| r.0), Some(11));
    }
}
