//! `EventService.WatchEvents`: the journaled events as a server stream with resume cursors
//! (docs/design.md "The slowest client never slows the radio side"; docs/dispatch.md §4.2).
//!
//! - Cursors are strings `<journal>.<seq>` ([`Cursor`], events.proto): every position the
//!   stream hands out names the journal it is in. A request cursor that does not parse is
//!   INVALID_ARGUMENT (field `cursor`); one of another journal than the backend's is
//!   FAILED_PRECONDITION `JOURNAL_MISMATCH` naming both journals, before any stream starts;
//!   the numeric `legacy_cursor` of earlier versions is INVALID_ARGUMENT (field
//!   `legacy_cursor`), never read as "no cursor".
//! - Without a cursor the stream starts at the live tail: the server reads the latest cursor
//!   and watches after it. With a cursor it replays after it, then goes live. With
//!   `snapshot` (and no cursor) it first sends the current state from one consistent read,
//!   then `SnapshotComplete` with that read's cursor, then the events after it (Kubernetes
//!   list+watch; Firestore CURRENT).
//! - When a whole `ApiConfig::heartbeat` period passed without a message (so after one to
//!   two periods of quiet), a `Heartbeat` carries the cursor of the last event delivered or
//!   filtered out (etcd progress notify): resuming after it loses nothing.
//! - The stream is polled by the HTTP/2 response itself, straight from the backend's bounded
//!   subscription: a client that does not read closes its flow-control window, the stream
//!   is no longer polled, the subscription overflows, and the stream ends with
//!   RESOURCE_EXHAUSTED naming the cursor to resume from (console's slow-client policy).
//!   The core never waits for a watcher.
//! - Each event is converted and encoded once, by the first stream that sends it, and the
//!   bytes are shared by every other stream ([`WatchFrame::Encoded`], sent by the codec of
//!   `super::event_server`). Events ready together leave in one HTTP/2 DATA frame (tonic
//!   gathers what the stream yields without waiting).
//! - Streams end with UNAVAILABLE (reason SHUTTING_DOWN, with `resume_cursor`) when the
//!   server drains, and quietly when the client goes away. A drain while the snapshot is
//!   still being sent names no cursor: none would resume correctly, so the client takes a
//!   new snapshot.

use std::sync::Arc;

use futures::StreamExt;
use tonic::Status;

use super::backend::WatchError;
use super::backend::{Backend, EventStream, WatchStart};
use super::convert;
use super::pb;
use super::service::{Api, Shared, drained, draining};
use super::status::{invalid_argument, status};
use crate::dispatch::{
    Alarm, AlarmFilter, AlarmState, Call, CallFilter, Core, Operation, Page, Radio, RadioFilter,
    Site, Talkgroup, Team,
};
use crate::journal::Cursor;

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

/// One message of the stream: an event already encoded (shared by every stream) or any
/// other message, encoded by the codec.
pub(crate) enum WatchFrame {
    /// A `WatchEventsResponse` on the wire.
    Encoded(bytes::Bytes),
    /// A message encoded when sent (heartbeats, snapshot items): rare, so boxed to keep
    /// the frames of the event path small.
    Message(Box<pb::WatchEventsResponse>),
}

pub(crate) type Item = Result<WatchFrame, Status>;

fn resp(kind: pb::watch_events_response::Kind) -> WatchFrame {
    WatchFrame::Message(Box::new(pb::WatchEventsResponse { kind: Some(kind) }))
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

/// Where a stream starts, resolved on its first poll.
enum Begin {
    /// Replay after this cursor (the subscription was made when the call was accepted).
    Resumed(EventStream),
    /// The current state first, then the events after it.
    Snapshot,
    /// The live tail.
    Tail,
}

/// The state of one WatchEvents stream. The stream is polled by the HTTP/2 response body
/// itself: no task or queue of its own sits between the hub's bounded queue and the
/// client's flow-control window, so a client that stops reading stops the polling, its hub
/// queue fills, and the hub cuts it.
struct Watch<B> {
    shared: Arc<Shared<B>>,
    filter: EventFilter,
    begin: Option<Begin>,
    /// Messages to send before any event (the snapshot).
    ahead: Option<Box<dyn Iterator<Item = WatchFrame> + Send>>,
    events: Option<EventStream>,
    /// The cursor of the last event delivered or filtered out (for a watch from the tail or
    /// a snapshot, set when the stream begins, before anything is sent).
    last: Cursor,
    heartbeat: tokio::time::Interval,
    /// Whether anything was sent since the last heartbeat tick: the tick then sends none.
    /// (A flag rather than resetting the timer at every event, which costs a timer-wheel
    /// update per event per stream.)
    sent_since_tick: bool,
    /// Resolves when the server starts draining (made once, polled for every message).
    drain: futures::future::BoxFuture<'static, ()>,
    /// Holds one of `ApiConfig::max_watchers` places while the stream lives.
    _permit: tokio::sync::OwnedSemaphorePermit,
    done: bool,
}

impl<B: Backend> Watch<B> {
    /// Resolve where the stream starts: the snapshot or tail read and the subscription.
    async fn begin(&mut self, begin: Begin) -> Result<(), Status> {
        let events = match begin {
            Begin::Resumed(events) => events,
            Begin::Snapshot => {
                let (snapshot, c) = self
                    .shared
                    .backend
                    .read(|core, c| (Snapshot::read(core), c))
                    .await?;
                let done = pb::SnapshotComplete {
                    cursor: c.to_string(),
                };
                let items = snapshot
                    .items()
                    .map(|item| resp(pb::watch_events_response::Kind::Snapshot(item)))
                    .chain(std::iter::once(resp(
                        pb::watch_events_response::Kind::SnapshotComplete(done),
                    )));
                self.ahead = Some(Box::new(items));
                self.last = c;
                self.shared.backend.watch(WatchStart::After(c))?
            }
            Begin::Tail => {
                let c = self.shared.backend.read(|_, c| c).await?;
                self.last = c;
                self.shared.backend.watch(WatchStart::After(c))?
            }
        };
        self.events = Some(events);
        Ok(())
    }

    /// The next message, or `None` once the stream has ended.
    async fn next(&mut self) -> Option<Item> {
        if self.done {
            return None;
        }
        if let Some(begin) = self.begin.take()
            && let Err(e) = self.begin(begin).await
        {
            self.done = true;
            return Some(Err(e));
        }
        if let Some(ahead) = &mut self.ahead {
            if *self.shared.draining.borrow() {
                // Mid-snapshot no cursor resumes correctly: the client takes a new snapshot.
                self.done = true;
                return Some(Err(status(
                    tonic::Code::Unavailable,
                    "SHUTTING_DOWN",
                    "the server is shutting down during the snapshot; watch again with a snapshot",
                    &[],
                )));
            }
            match ahead.next() {
                Some(frame) => return Some(Ok(frame)),
                None => self.ahead = None,
            }
        }
        let events = self.events.as_mut()?;
        loop {
            let next = tokio::select! {
                biased;
                _ = &mut self.drain => {
                    self.done = true;
                    return Some(Err(draining(Some(self.last))));
                }
                item = events.next() => item,
                _ = self.heartbeat.tick() => {
                    if std::mem::take(&mut self.sent_since_tick) {
                        continue;
                    }
                    let hb = pb::Heartbeat {
                        cursor: self.last.to_string(),
                        time: Some(convert::timestamp(crate::dispatch::Timestamp(now_ms()))),
                    };
                    return Some(Ok(resp(pb::watch_events_response::Kind::Heartbeat(hb))));
                }
            };
            match next {
                Some(Ok(e)) => {
                    self.last = e.cursor();
                    if self.filter.matches(e.event.kind.name()) {
                        self.sent_since_tick = true;
                        return Some(Ok(WatchFrame::Encoded(e.wire().clone())));
                    }
                }
                Some(Err(end)) => {
                    self.done = true;
                    return Some(Err(end.into()));
                }
                None => {
                    self.done = true;
                    return Some(Err(status(
                        tonic::Code::Unavailable,
                        "WATCH_ENDED",
                        format!("the event feed ended; resume after cursor {}", self.last),
                        &[("resume_cursor", self.last.to_string())],
                    )));
                }
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

impl<B: Backend> Api<B> {
    /// `WatchEvents`: validate, take a watcher place, subscribe when resuming (so
    /// OUT_OF_RANGE and JOURNAL_MISMATCH are the call's own status), and answer with the
    /// stream.
    pub(crate) fn watch_events(
        &self,
        req: pb::WatchEventsRequest,
    ) -> Result<impl futures::Stream<Item = Item> + Send + 'static, Status> {
        let filter = EventFilter::parse(&req.filter)?;
        let cursor = request_cursor(&req)?;
        let journal = self.shared.backend.journal();
        if let Some(c) = cursor
            && c.journal != journal
        {
            return Err(WatchError::OtherJournal { cursor: c, journal }.into());
        }
        if *self.shared.draining.borrow() {
            return Err(draining(cursor));
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
        let begin = match cursor {
            Some(c) => Begin::Resumed(self.shared.backend.watch(WatchStart::After(c))?),
            None if req.snapshot => Begin::Snapshot,
            None => Begin::Tail,
        };
        let period = self.shared.config.heartbeat;
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let watch = Watch {
            shared: self.shared.clone(),
            filter,
            begin: Some(begin),
            ahead: None,
            events: None,
            last: cursor.unwrap_or(Cursor::new(journal, 0)),
            heartbeat,
            sent_since_tick: false,
            drain: {
                let mut draining = self.shared.draining.clone();
                Box::pin(async move { drained(&mut draining).await })
            },
            _permit: permit,
            done: false,
        };
        Ok(futures::stream::unfold(watch, |mut w| async move {
            let item = w.next().await?;
            Some((item, w))
        }))
    }
}

/// The request's resume cursor: `None` for an empty `cursor`; INVALID_ARGUMENT naming the
/// field for a malformed one or for the numeric `legacy_cursor`.
fn request_cursor(req: &pb::WatchEventsRequest) -> Result<Option<Cursor>, Status> {
    if let Some(n) = req.legacy_cursor {
        return Err(invalid_argument(
            "legacy_cursor",
            format!(
                "numeric cursor {n} names no journal and is no longer accepted; resume with the \
                 string `cursor` the server handed out (`<journal>.<seq>`), or watch with a snapshot"
            ),
        ));
    }
    if req.cursor.is_empty() {
        return Ok(None);
    }
    req.cursor.parse().map(Some).map_err(|e| {
        // The value is echoed only when short enough to be a cursor.
        let shown = if req.cursor.len() <= Cursor::MAX_TEXT_LEN {
            format!("{:?}: ", req.cursor)
        } else {
            String::new()
        };
        invalid_argument("cursor", format!("{shown}{e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalId;

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

    fn site_event(seq: u64) -> crate::api::backend::JournaledEvent {
        crate::api::backend::JournaledEvent::new(
            Cursor::new(JournalId::from_bytes([5; 16]), seq),
            crate::dispatch::Event {
                at: crate::dispatch::Timestamp(1_000 + seq),
                kind: crate::dispatch::EventKind::SiteLinkChanged {
                    site: crate::dispatch::SiteId::new(&format!("s{seq}")),
                    up: seq.is_multiple_of(2),
                },
            },
        )
    }

    #[test]
    fn the_shared_wire_form_is_the_converted_event() {
        use prost::Message;
        let e = site_event(7);
        let bytes = e.wire().clone();
        let decoded = pb::WatchEventsResponse::decode(bytes.as_ref()).unwrap();
        let want = convert::event(e.cursor(), &e.event);
        // the filter reads the core's name; the client reads `type`: the same string
        assert_eq!(want.r#type, e.event.kind.name());
        assert_eq!(
            decoded.kind,
            Some(pb::watch_events_response::Kind::Event(want))
        );
        // made once: a second call (another stream) gets the same buffer
        assert_eq!(e.wire().as_ptr(), bytes.as_ptr());
    }
}
