//! The boundary between the API and the gateway's driver.
//!
//! The services are generic over [`Backend`]; the driver that owns the dispatch [`Core`], the
//! journal and the event fan-out implements it (docs/design.md: the API reaches the core only
//! through a command channel and subscriptions, never a lock). Contract for implementors:
//!
//! - [`Backend::command`] runs one operator request on the core and resolves with its reply.
//! - [`Backend::journal`] is the identity of the journal behind the backend, fixed for its
//!   life; every [`Cursor`] the backend takes or names is of that journal.
//! - [`Backend::read`] runs a read-only closure on the driver against the core and passes
//!   the cursor of the last event journaled at that moment, so a read and a watch after that
//!   cursor together miss nothing and repeat nothing.
//! - [`Backend::watch`] subscribes to journaled events in sequence order, each once. From
//!   [`WatchStart::Tail`] it yields events journaled after the call; from
//!   [`WatchStart::After`]`(n)` it replays every event with `seq > n` and then goes live. The
//!   subscription is bounded: a subscriber that falls behind gets one
//!   `Err(`[`WatchEnd::Lagged`]`)` naming the last event it was given, and the stream ends.
//!   A cursor older than retention is [`WatchError::OutOfRange`] with the oldest cursor one
//!   can still resume after; a cursor of another journal is [`WatchError::OtherJournal`],
//!   never a resume.
//! - [`Backend::serving`] tells whether the gateway serves: some site link is up and the
//!   journal can be written (for grpc.health.v1).
//! - [`Backend::history`] reads journaled events of one kind in a time window from the
//!   journal itself (not the core), newest first, as [`HistoryQuery`] says; it must not block
//!   the async runtime (a real journal is read on a blocking thread).
//! - [`Backend::record_audit`] journals an audit entry without waiting (the driver holds it
//!   through a journal outage like an air input; a drop for a full queue is counted and
//!   journaled as lost). Operator commands are audited by the driver itself.
//! - [`Backend::links`] reports each link's state, counters and last failure per site, from
//!   the links' atomics (no lock on their receive path, no trip through the core).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::Stream;

use crate::dispatch::{AuditEntry, Core, DispatchError, Event, Reply, Request, Timestamp};
use crate::journal::{Cursor, JournalId};

/// Why the core cannot take a request now; the API answers UNAVAILABLE naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The driver is gone (shutting down or crashed).
    #[error("the dispatch core has stopped")]
    Stopped,
    /// The driver's queue is full.
    #[error("the dispatch core is overloaded; try again shortly")]
    Overloaded,
    /// The journal could not be read for a history query.
    #[error("the journal could not be read: {reason}")]
    JournalUnreadable {
        /// Why (the journal's error, or the record that does not decode).
        reason: String,
    },
    /// The journal cannot be written, so the gateway does not act (nothing is done that
    /// could not be recorded); it resumes by itself once writes succeed.
    #[error("the journal cannot be written ({reason}); commands are refused until it can")]
    JournalUnwritable {
        /// The error of the last failed commit.
        reason: String,
    },
}

/// An event as journaled: its position (the watch cursor) and the event.
#[derive(Debug, Clone)]
pub struct JournaledEvent {
    /// The journal it is stored in.
    pub journal: JournalId,
    /// Journal sequence number, gateway-wide, increasing by one per event.
    pub seq: u64,
    /// The event.
    pub event: Event,
    /// The event as a `WatchEventsResponse` message on the wire: encoded by the first stream
    /// that sends it, then shared by every other stream (one `Arc` of it reaches them all).
    wire: OnceLock<Bytes>,
}

impl JournaledEvent {
    /// The event journaled at `cursor`.
    pub fn new(cursor: Cursor, event: Event) -> JournaledEvent {
        JournaledEvent {
            journal: cursor.journal,
            seq: cursor.seq,
            event,
            wire: OnceLock::new(),
        }
    }

    /// Its position: the cursor a watcher resumes after.
    pub fn cursor(&self) -> Cursor {
        Cursor::new(self.journal, self.seq)
    }

    /// The encoded `WatchEventsResponse { event }`, made once.
    pub(crate) fn wire(&self) -> &Bytes {
        self.wire.get_or_init(|| {
            use prost::Message;
            let kind = super::pb::watch_events_response::Kind::Event(super::convert::event(
                self.cursor(),
                &self.event,
            ));
            let msg = super::pb::WatchEventsResponse { kind: Some(kind) };
            Bytes::from(msg.encode_to_vec())
        })
    }
}

/// Equal when the position and the event are; the wire cache is derived from them.
impl PartialEq for JournaledEvent {
    fn eq(&self, other: &JournaledEvent) -> bool {
        self.cursor() == other.cursor() && self.event == other.event
    }
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStart {
    /// With the next event journaled.
    Tail,
    /// With the event after this cursor (of the backend's journal): replay, then live.
    After(Cursor),
}

/// Why a watch subscription ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WatchEnd {
    /// The subscriber fell behind the bounded queue; `resume_after` is the cursor of the
    /// last event it was given (or the start cursor if none).
    #[error("watcher fell behind; resume after cursor {resume_after}")]
    Lagged {
        /// Watch again after this cursor to miss nothing.
        resume_after: Cursor,
    },
}

/// Why a watch could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The cursor is older than the journal keeps; `oldest` is the oldest cursor one can
    /// still watch after.
    #[error("cursor is older than retention; oldest cursor is {oldest}")]
    OutOfRange {
        /// The oldest cursor still accepted.
        oldest: Cursor,
    },
    /// The cursor is beyond the last journaled event.
    #[error("cursor {cursor} is ahead of the journal (last seq {last})")]
    Ahead {
        /// What was asked.
        cursor: Cursor,
        /// The last journaled sequence number.
        last: u64,
    },
    /// The cursor belongs to another journal (this one was re-created or replaced): its
    /// positions mean nothing here, and the client must resync with a snapshot.
    #[error("cursor {cursor} belongs to journal {}, the server's journal is {journal}", cursor.journal)]
    OtherJournal {
        /// What was asked.
        cursor: Cursor,
        /// The journal the backend serves.
        journal: JournalId,
    },
    /// The driver is gone.
    #[error("the dispatch driver is not available")]
    Unavailable,
}

/// Journaled events of one kind, received in `[from, until)`, newest first (by time, then
/// sequence number), continuing after `before` (the time and sequence number of the last
/// event of the previous batch), at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// The event kind (`EventKind::name`, e.g. `position_reported`).
    pub kind: &'static str,
    /// Earliest time, inclusive.
    pub from: Timestamp,
    /// Latest time, exclusive.
    pub until: Timestamp,
    /// Continue after this `(time, seq)`.
    pub before: Option<(Timestamp, u64)>,
    /// Most events.
    pub limit: usize,
}

/// A subscription to journaled events.
pub type EventStream =
    Pin<Box<dyn Stream<Item = Result<Arc<JournaledEvent>, WatchEnd>> + Send + 'static>>;

/// One transport link as it stands now, for the `Site` resource (see `LinkStatus` in
/// resources.proto).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkStatus {
    /// Link name.
    pub name: String,
    /// `homebrew_master`, `homebrew_peer` or `mmdvm`.
    pub kind: String,
    /// The site this entry is for.
    pub site: String,
    /// Whether the link carries the site now.
    pub up: bool,
    /// Since when `up` has held.
    pub since: Option<std::time::SystemTime>,
    /// Why it went down.
    pub down_reason: String,
    /// Every counter by name.
    pub counters: std::collections::BTreeMap<String, u64>,
    /// The failure episode that started last, and the latest failure's time.
    pub last_failure: Option<(String, std::time::SystemTime)>,
}

/// What the API needs from the gateway's driver. See the module docs for the contract.
pub trait Backend: Send + Sync + 'static {
    /// Run an operator command on the core; resolves with the core's reply.
    fn command(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Result<Reply, DispatchError>, Unavailable>> + Send;

    /// Run a read-only closure on the driver against the core (a consistent view) and the
    /// cursor of the last journaled event at that moment.
    fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Core, Cursor) -> R + Send + 'static,
    ) -> impl Future<Output = Result<R, Unavailable>> + Send;

    /// The identity of the journal behind the backend (fixed for the backend's life).
    fn journal(&self) -> JournalId;

    /// Subscribe to journaled events: live tail, or replay after a cursor then live.
    fn watch(&self, start: WatchStart) -> Result<EventStream, WatchError>;

    /// Whether the gateway serves: some site link is up and the journal can be written.
    fn serving(&self) -> tokio::sync::watch::Receiver<bool>;

    /// Journaled events a [`HistoryQuery`] selects, read from the journal, newest first.
    fn history(
        &self,
        query: HistoryQuery,
    ) -> impl Future<Output = Result<Vec<JournaledEvent>, Unavailable>> + Send;
    /// Journal an audit entry (refusals for lack of rights, access reloads, ...) without
    /// waiting. See [`super::audit::record_audit`] for the short form.
    fn record_audit(&self, entry: AuditEntry);

    /// The links and their state, counters and last failure (one entry per link and site).
    /// Read from the links' own counters, never through the core. None by default.
    fn links(&self) -> Vec<LinkStatus> {
        Vec::new()
    }

    /// The gateway's own state for `GatewayService.GetStatus` (links, journal, watchers,
    /// queues). By default only the links, with everything else zero.
    fn status(
        &self,
    ) -> impl Future<Output = Result<super::status_service::GatewayStatus, Unavailable>> + Send
    {
        let links = self.links();
        async move {
            Ok(super::status_service::GatewayStatus {
                links,
                ..Default::default()
            })
        }
    }
}
