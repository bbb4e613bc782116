//! The journal: trunkgate's durable, append-only event log, and the fan-out to watchers.
//!
//! "The event log is the truth" (docs/design.md): the driver that owns the core appends
//! every event here **before** anyone sees it, one durable commit per batch (group commit),
//! then hands the same events to the [`hub::Hub`], which fans them out to API watchers.
//!
//! Contract of every [`Journal`]:
//! - Payloads are opaque. The journal stores `(at, kind, payload)` and never interprets them;
//!   `kind` is a short tag so ad-hoc SQL (`WHERE kind = 'alarm.raised'`) can filter, and
//!   [`JournalReader::read_kind`] selects by kind and stamp (indexed) for history queries
//!   (e.g. a radio's track) whose caller decodes and filters the payloads.
//! - [`Journal::append`] is all-or-nothing: a batch gets contiguous sequence numbers and is
//!   committed in one transaction. Sequence numbers start at 1 and are never reused, not even
//!   after [`Journal::prune`] deleted the records that carried them.
//! - Every journal has an **identity** ([`JournalId`], 128 random bits) created with it and
//!   kept for its whole life ([`Journal::identity`], [`JournalReader::identity`]). Sequence
//!   numbers mean something only within one journal: an empty or replaced journal file is a
//!   new journal with a new identity, even though its sequence numbers start at 1 again.
//! - A **cursor** is the position of the last record a reader has seen: the journal's
//!   identity and a sequence number ([`Cursor`], written `<journal>.<seq>`); sequence `0`
//!   means "from the beginning". Within a journal, [`JournalReader::read_after`] takes the
//!   sequence number; whoever hands cursors outside (the hub, the API) hands out [`Cursor`]s
//!   and checks a presented one with [`Cursor::seq_in`], which refuses a cursor of another
//!   journal with [`CursorError::OtherJournal`]: never a silent resume in unrelated history.
//!   A cursor whose next record has been pruned is refused with [`CursorError::OutOfRange`],
//!   which names the oldest cursor still accepted, so the API can answer `OUT_OF_RANGE` with
//!   it (docs/dispatch.md §4.2: etcd `compact_revision`, Kubernetes `410 Gone`).
//! - Retention deletes only a *prefix* of the log, and only records older than both the
//!   retention window and the oldest snapshot kept (state = snapshot + replay of what
//!   follows; any kept snapshot can be replayed from, so a damaged newest one is not fatal), so
//!   the retained records stay contiguous.
//! - **Retention classes** ([`Retention`]): the journal may read a record's kind to give it
//!   a longer life. A record of a class (the audit trail) younger than its class's window is
//!   never removed by ordinary retention: when the prefix around it goes, it stays behind as
//!   an *island* below the oldest cursor (`pruned_through`), served by
//!   [`JournalReader::read_kind`] (history queries) but never by cursors (no replay or watch
//!   needs it), and removed by a later prune once it is older than its class's window.
//! - Readers ([`JournalReader`]) are `Send + Sync` and never block the writer (SQLite WAL).
//!
//! Implementations: [`sqlite::SqliteJournal`] (the real one; settings measured in
//! docs/performance.md §2d) and [`memory::MemoryJournal`] for unit tests of the core.
//!
//! The driver and the API together, in short:
//! ```no_run
//! use std::sync::Arc;
//! use trunkgate::journal::hub::{DecodeError, Hub, HubConfig, Sequenced, Start};
//! use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal};
//! use trunkgate::journal::{Entry, Journal, Record, UnixMillis};
//!
//! struct Event { seq: u64, unit: String }
//! impl Sequenced for Event { fn seq(&self) -> u64 { self.seq } }
//! fn decode(r: Record) -> Result<Option<Event>, DecodeError> {
//!     Ok(Some(Event { seq: r.seq, unit: String::from_utf8(r.payload.to_vec())? }))
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mut journal = SqliteJournal::open("/var/lib/trunkgate".as_ref(), &SqliteConfig::default())?;
//! let hub = Hub::new(journal.reader()?, decode, HubConfig::default())?;
//! // Driver: journal first (one durable commit per batch), publish second.
//! let seqs = journal.append(&[Entry::new(UnixMillis::now(), "unit.registered", "1001")])?;
//! let events: Vec<Arc<Event>> =
//!     seqs.iter().map(|seq| Arc::new(Event { seq, unit: "1001".into() })).collect();
//! hub.publish(&events);
//! // API: a watcher resuming after its cursor; the end reason names the next cursor.
//! let mut sub = hub.subscribe(Start::After(0)).await?;
//! while let Ok(ev) = sub.next().await {
//!     println!("{} {}", ev.seq, ev.unit);
//! }
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub mod hub;
pub mod memory;
pub mod sqlite;

/// Wall-clock time as milliseconds since the Unix epoch (negative before 1970).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// The current wall-clock time.
    pub fn now() -> UnixMillis {
        UnixMillis::from(SystemTime::now())
    }

    /// `self - d`, saturating at `i64::MIN`.
    pub fn saturating_sub(self, d: Duration) -> UnixMillis {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        UnixMillis(self.0.saturating_sub(ms))
    }
}

impl From<SystemTime> for UnixMillis {
    fn from(t: SystemTime) -> UnixMillis {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => UnixMillis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Err(before) => {
                UnixMillis(-i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX))
            }
        }
    }
}

/// A journal's identity: 128 random bits drawn when the journal is created, written as 32
/// lowercase hex digits. Two journals share one with probability about 2^-64 even among
/// billions of journals (birthday bound), so a cursor names the journal it came from.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JournalId([u8; 16]);

impl JournalId {
    /// Characters of the written form.
    pub const TEXT_LEN: usize = 32;

    /// A new identity from the operating system's random source.
    pub fn random() -> Result<JournalId> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| JournalError::Identity {
            reason: format!("no random identity from the OS: {e}"),
        })?;
        Ok(JournalId(b))
    }

    /// The identity with these bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> JournalId {
        JournalId(bytes)
    }

    /// The identity's bytes.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl fmt::Display for JournalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for JournalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JournalId({self})")
    }
}

impl FromStr for JournalId {
    type Err = CursorParseError;

    /// Exactly 32 lowercase hex digits (the form [`fmt::Display`] writes).
    fn from_str(s: &str) -> core::result::Result<JournalId, CursorParseError> {
        let ok = s.len() == JournalId::TEXT_LEN
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(CursorParseError::Journal);
        }
        let mut b = [0u8; 16];
        hex::decode_to_slice(s, &mut b).map_err(|_| CursorParseError::Journal)?;
        Ok(JournalId(b))
    }
}

/// A position in one journal: the journal's identity and the sequence number of the last
/// record seen (0: before the first). Written `<journal>.<seq>`: the identity's 32 lowercase
/// hex digits, a dot, and the sequence number in decimal without sign or leading zeros, e.g.
/// `3f9c0d6e1b2a4c5d8e7f60718293a4b5.1042`. Clients treat it as opaque and hand it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// The journal the position is in.
    pub journal: JournalId,
    /// Sequence number of the last record seen, 0 for none.
    pub seq: u64,
}

impl Cursor {
    /// Longest written form: 32 + 1 + 20 (`u64::MAX` has 20 digits).
    pub const MAX_TEXT_LEN: usize = JournalId::TEXT_LEN + 1 + 20;

    /// The position `seq` in `journal`.
    pub const fn new(journal: JournalId, seq: u64) -> Cursor {
        Cursor { journal, seq }
    }

    /// The sequence number, if this cursor belongs to `journal`; a cursor of another journal
    /// is refused with [`CursorError::OtherJournal`].
    pub fn seq_in(self, journal: JournalId) -> core::result::Result<u64, CursorError> {
        if self.journal == journal {
            Ok(self.seq)
        } else {
            Err(CursorError::OtherJournal {
                cursor_journal: self.journal,
                journal,
            })
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.journal, self.seq)
    }
}

impl FromStr for Cursor {
    type Err = CursorParseError;

    /// The written form only (see [`Cursor`]); never panics, whatever `s` holds.
    fn from_str(s: &str) -> core::result::Result<Cursor, CursorParseError> {
        if s.len() > Cursor::MAX_TEXT_LEN {
            return Err(CursorParseError::TooLong { len: s.len() });
        }
        let Some((journal, seq)) = s.split_once('.') else {
            return Err(CursorParseError::Form);
        };
        let journal = journal.parse()?;
        let digits = !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit());
        if !digits || (seq.len() > 1 && seq.starts_with('0')) {
            return Err(CursorParseError::Seq);
        }
        let seq = seq.parse().map_err(|_| CursorParseError::Seq)?;
        Ok(Cursor { journal, seq })
    }
}

/// Why a string is not a cursor; the message says what the written form is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorParseError {
    /// Longer than any cursor.
    #[error("{len} characters, a cursor has at most {max}", max = Cursor::MAX_TEXT_LEN)]
    TooLong { len: usize },
    /// No `.` between journal and sequence number.
    #[error("expected <journal>.<seq> as handed out by the server")]
    Form,
    /// The journal part is not 32 lowercase hex digits.
    #[error("the journal part of <journal>.<seq> must be 32 lowercase hex digits")]
    Journal,
    /// The sequence part is not a decimal `u64` without sign or leading zeros.
    #[error(
        "the seq part of <journal>.<seq> must be a decimal number without sign or leading zeros"
    )]
    Seq,
}

/// One event to append: what the driver hands the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When the event happened (the core's wall-clock stamp).
    pub at: UnixMillis,
    /// Short tag for ad-hoc filtering, e.g. `"call.started"`; not interpreted.
    pub kind: Cow<'static, str>,
    /// The serialised event; not interpreted.
    pub payload: Bytes,
}

impl Entry {
    /// An entry with the given stamp, tag and payload.
    pub fn new(
        at: UnixMillis,
        kind: impl Into<Cow<'static, str>>,
        payload: impl Into<Bytes>,
    ) -> Entry {
        Entry {
            at,
            kind: kind.into(),
            payload: payload.into(),
        }
    }
}

/// One stored event, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sequence number: 1, 2, 3, ... in append order; the watchers' cursor.
    pub seq: u64,
    /// The entry's stamp.
    pub at: UnixMillis,
    /// The entry's tag.
    pub kind: String,
    /// The entry's payload.
    pub payload: Bytes,
}

/// The sequence numbers one [`Journal::append`] assigned: `start..end`, half-open, so an empty
/// batch gives an empty range starting after the latest record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    /// First sequence number of the batch.
    pub start: u64,
    /// One past the last sequence number of the batch.
    pub end: u64,
}

impl SeqRange {
    /// Number of records in the batch.
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True for an empty batch.
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Last sequence number of the batch, `None` for an empty batch.
    pub const fn last(&self) -> Option<u64> {
        if self.is_empty() {
            None
        } else {
            Some(self.end - 1)
        }
    }

    /// The sequence numbers, in order.
    pub fn iter(&self) -> std::ops::Range<u64> {
        self.start..self.end
    }
}

/// A saved state image: the state after applying every record with `seq <= self.seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last sequence number the image includes.
    pub seq: u64,
    /// The serialised state; not interpreted.
    pub data: Bytes,
}

/// What one [`Journal::prune`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneOutcome {
    /// Records deleted by this call.
    pub deleted: u64,
    /// The oldest cursor accepted after the call (every record after it is retained).
    pub oldest_available: u64,
}

/// How long records are kept: `window` for every record, longer for the kinds of a class.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Retention {
    /// A record older than this (and than the oldest snapshot kept) may be removed.
    pub window: Duration,
    /// Classes that outlive `window` (module doc: retention classes).
    pub classes: Vec<RetentionClass>,
}

/// Records of these kinds are kept at least `window`, whatever ordinary retention says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionClass {
    /// The record kinds of the class (e.g. `audit_recorded`).
    pub kinds: Vec<Cow<'static, str>>,
    /// How long they are kept at least.
    pub window: Duration,
}

impl Retention {
    /// Every record kept for `window`, no class apart.
    pub fn new(window: Duration) -> Retention {
        Retention {
            window,
            classes: Vec::new(),
        }
    }

    /// Whether a record of `kind` stamped `at` is still within its class's window at `now`
    /// (so ordinary retention must leave it).
    pub fn keeps(&self, now: UnixMillis, kind: &str, at: UnixMillis) -> bool {
        self.classes
            .iter()
            .any(|c| c.kinds.iter().any(|k| k == kind) && at >= now.saturating_sub(c.window))
    }
}

/// Why a cursor cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// The records after the cursor have been pruned; the client must resync (snapshot), then
    /// resume from `oldest_available` or later.
    #[error(
        "cursor {cursor} is older than retention; oldest available cursor is {oldest_available}"
    )]
    OutOfRange { cursor: u64, oldest_available: u64 },
    /// The cursor is beyond the newest record: it was not issued by this journal.
    #[error("cursor {cursor} is ahead of the latest sequence number {latest}")]
    Ahead { cursor: u64, latest: u64 },
    /// The cursor belongs to another journal (this one was re-created or replaced): its
    /// sequence numbers mean nothing here. The client must resync (snapshot) and use the
    /// cursors of `journal` from then on.
    #[error(
        "cursor belongs to journal {cursor_journal}, not to this journal {journal}; resync with a snapshot"
    )]
    OtherJournal {
        cursor_journal: JournalId,
        journal: JournalId,
    },
}

/// Why a journal operation failed. Each variant names the operation or the field.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The data directory could not be created.
    #[error("journal data dir {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused `op`.
    #[error("journal {op}: {source}")]
    Sqlite {
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The journal's identity could not be created, or the stored one is missing or invalid.
    #[error("journal identity: {reason}")]
    Identity { reason: String },
    /// The file was written by a newer schema than this build understands.
    #[error("journal schema version {found} is not supported (this build reads {supported})")]
    SchemaVersion { found: i64, supported: i64 },
    /// A setting did not take (e.g. WAL refused on this filesystem).
    #[error("journal setting {setting}: wanted {want}, got {got}")]
    Setting {
        setting: &'static str,
        want: &'static str,
        got: String,
    },
    /// The store holds a value no writer of this journal produces.
    #[error("journal corrupt: {field} = {value}")]
    Corrupt { field: &'static str, value: i64 },
    /// SQLite's integrity check found damage: the journal is not served.
    #[error(
        "journal {path} is damaged ({findings}). It is not served. Stop here: keep the file \
         for analysis, then restore the data directory from a backup, or salvage what reads \
         with `sqlite3 {path} .recover | sqlite3 recovered.sqlite3` and start on the salvaged \
         file only after checking it"
    )]
    Malformed { path: String, findings: String },
    /// A snapshot was offered for a sequence number that has not been appended.
    #[error("snapshot at seq {seq} is ahead of the latest sequence number {latest}")]
    SnapshotAhead { seq: u64, latest: u64 },
    /// The cursor cannot be served.
    #[error(transparent)]
    Cursor(#[from] CursorError),
}

impl JournalError {
    /// The cursor error inside, if this is one.
    pub fn cursor(&self) -> Option<CursorError> {
        match self {
            JournalError::Cursor(c) => Some(*c),
            _ => None,
        }
    }
}

/// Result of every journal operation.
pub type Result<T> = core::result::Result<T, JournalError>;

/// Decide whether `cursor` can be served given the retained bounds; shared by every
/// implementation so they agree on the edges.
///
/// `latest` is the newest sequence number ever assigned, `pruned_through` the newest one
/// deleted by retention (0 if none): the records `pruned_through + 1 ..= latest` are retained.
pub(crate) fn cursor_in_range(cursor: u64, latest: u64, pruned_through: u64) -> Result<()> {
    if cursor < pruned_through {
        Err(CursorError::OutOfRange {
            cursor,
            oldest_available: pruned_through,
        }
        .into())
    } else if cursor > latest {
        Err(CursorError::Ahead { cursor, latest }.into())
    } else {
        Ok(())
    }
}

/// The writer side of a journal: exactly one per store, owned by the driver.
pub trait Journal: Send {
    /// Append `entries` as one all-or-nothing batch (one durable commit) and return the
    /// sequence numbers assigned, contiguous and following the latest one.
    fn append(&mut self, entries: &[Entry]) -> Result<SeqRange>;
    /// The newest sequence number assigned (0 for a new journal).
    fn latest_seq(&self) -> u64;
    /// The journal's identity, fixed for its life; part of every cursor handed out.
    fn identity(&self) -> JournalId;
    /// Save a state image covering every record up to `seq`; keeps the few newest images.
    fn save_snapshot(&mut self, seq: u64, data: &[u8]) -> Result<()>;
    /// Delete the longest prefix of records that are all older than `now - window` and no
    /// newer than the oldest snapshot kept. Without a snapshot nothing is deleted.
    fn prune(&mut self, now: UnixMillis, window: Duration) -> Result<PruneOutcome> {
        self.prune_retention(now, &Retention::new(window))
    }
    /// [`Journal::prune`] with retention classes: the prefix older than `retention.window`
    /// goes, except records a class keeps (they stay as islands); islands older than their
    /// class's window go too. `deleted` counts both.
    fn prune_retention(&mut self, now: UnixMillis, retention: &Retention) -> Result<PruneOutcome>;
    /// A reader usable from other threads while this writer appends.
    fn reader(&self) -> Result<Arc<dyn JournalReader>>;
    /// Snapshots and retention for another thread, beside this writer: its writes wait for
    /// the writer's at most one short transaction at a time, and the writer's for its.
    fn housekeeper(&self) -> Result<Box<dyn Housekeeper>>;
}

/// Snapshots and retention on a thread of their own (see [`Journal::housekeeper`]): the
/// same contract as [`Journal::save_snapshot`] and [`Journal::prune`].
pub trait Housekeeper: Send {
    /// Save a state image covering every record up to `seq`; keeps the few newest images.
    fn save_snapshot(&mut self, seq: u64, data: &[u8]) -> Result<()>;
    /// Delete the longest prefix of records that are all older than `now - window` and no
    /// newer than the oldest snapshot kept.
    fn prune(&mut self, now: UnixMillis, window: Duration) -> Result<PruneOutcome> {
        self.prune_retention(now, &Retention::new(window))
    }
    /// See [`Journal::prune_retention`].
    fn prune_retention(&mut self, now: UnixMillis, retention: &Retention) -> Result<PruneOutcome>;
}

/// A query over the journal's own columns (`kind` and the stamp), never its payloads: the
/// records of one kind stamped in `[from, until)`, newest first (by stamp, then sequence
/// number), continuing after `before` (the `(at, seq)` of the last record of the previous
/// page), at most `limit`. Whoever asks decodes the payloads and filters further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindQuery<'a> {
    /// The record kind (e.g. `position_reported`).
    pub kind: &'a str,
    /// Earliest stamp, inclusive.
    pub from: UnixMillis,
    /// Latest stamp, exclusive.
    pub until: UnixMillis,
    /// Only records before this `(at, seq)` in newest-first order.
    pub before: Option<(UnixMillis, u64)>,
    /// Most records returned.
    pub limit: usize,
}

impl KindQuery<'_> {
    /// Whether `r` is selected (for implementations that scan).
    pub fn selects(&self, r: &Record) -> bool {
        r.kind == self.kind
            && r.at >= self.from
            && r.at < self.until
            && self.before.is_none_or(|b| (r.at, r.seq) < b)
    }
}

/// The read side of a journal: shareable, never blocks the writer.
pub trait JournalReader: Send + Sync {
    /// Up to `limit` records with `seq > cursor`, in order, from one consistent read.
    /// Fails with [`CursorError`] if the cursor was pruned or is ahead of the journal.
    fn read_after(&self, cursor: u64, limit: usize) -> Result<Vec<Record>>;
    /// The newest sequence number assigned (0 for a new journal).
    fn latest_seq(&self) -> Result<u64>;
    /// The journal's identity (the same as its writer's).
    fn identity(&self) -> JournalId;
    /// The sequence number of the oldest retained record a cursor can reach (islands of a
    /// retention class below the oldest cursor do not count), `None` if none is retained.
    fn oldest_seq(&self) -> Result<Option<u64>>;
    /// `Ok` if [`JournalReader::read_after`] can serve `cursor` now.
    fn check_cursor(&self, cursor: u64) -> Result<()>;
    /// The newest saved state image.
    fn latest_snapshot(&self) -> Result<Option<Snapshot>>;
    /// The sequence numbers of the saved state images, newest first.
    fn snapshots(&self) -> Result<Vec<u64>>;
    /// The state image saved at `seq`, if it is still kept.
    fn snapshot(&self, seq: u64) -> Result<Option<Snapshot>>;
    /// The records a [`KindQuery`] selects, newest first, from one consistent read (the
    /// retained records only: pruned history is gone).
    fn read_kind(&self, query: &KindQuery<'_>) -> Result<Vec<Record>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_range_edges() {
        let r = SeqRange { start: 5, end: 8 };
        assert_eq!((r.len(), r.is_empty(), r.last()), (3, false, Some(7)));
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![5, 6, 7]);
        let e = SeqRange { start: 9, end: 9 };
        assert_eq!((e.len(), e.is_empty(), e.last()), (0, true, None));
    }

    #[test]
    fn cursor_bounds() {
        // retained 4..=10
        assert!(cursor_in_range(3, 10, 3).is_ok());
        assert!(cursor_in_range(10, 10, 3).is_ok());
        assert_eq!(
            cursor_in_range(2, 10, 3).unwrap_err().cursor(),
            Some(CursorError::OutOfRange {
                cursor: 2,
                oldest_available: 3
            })
        );
        assert_eq!(
            cursor_in_range(11, 10, 3).unwrap_err().cursor(),
            Some(CursorError::Ahead {
                cursor: 11,
                latest: 10
            })
        );
        assert!(cursor_in_range(0, 0, 0).is_ok());
    }

    #[test]
    fn cursors_round_trip_and_malformed_ones_are_named() {
        let id: JournalId = "3f9c0d6e1b2a4c5d8e7f60718293a4b5".parse().unwrap();
        assert_eq!(id.to_string(), "3f9c0d6e1b2a4c5d8e7f60718293a4b5");
        for seq in [0, 1, 1042, u64::MAX] {
            let c = Cursor::new(id, seq);
            assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
            assert!(c.to_string().len() <= Cursor::MAX_TEXT_LEN);
        }
        let j = "3f9c0d6e1b2a4c5d8e7f60718293a4b5";
        for (bad, want) in [
            ("", CursorParseError::Form),
            ("42", CursorParseError::Form),
            (".42", CursorParseError::Journal),
            (
                "3F9C0D6E1B2A4C5D8E7F60718293A4B5.1",
                CursorParseError::Journal,
            ),
            (
                "3f9c0d6e1b2a4c5d8e7f60718293a4b.1",
                CursorParseError::Journal,
            ),
            (
                "3f9c0d6e1b2a4c5d8e7f60718293a4bg.1",
                CursorParseError::Journal,
            ),
            (&format!("{j}."), CursorParseError::Seq),
            (&format!("{j}.+1"), CursorParseError::Seq),
            (&format!("{j}.-1"), CursorParseError::Seq),
            (&format!("{j}.01"), CursorParseError::Seq),
            (&format!("{j}.1.2"), CursorParseError::Seq),
            (&format!("{j}.18446744073709551616"), CursorParseError::Seq),
            (
                &format!("{j}.{}", "9".repeat(40)),
                CursorParseError::TooLong { len: 73 },
            ),
        ] {
            assert_eq!(bad.parse::<Cursor>(), Err(want), "{bad:?}");
        }
        // One byte of a multi-byte character at any split point is still just an error.
        assert!("é.é".parse::<Cursor>().is_err());
    }

    #[test]
    fn a_cursor_of_another_journal_is_refused() {
        let (a, b) = (JournalId::random().unwrap(), JournalId::random().unwrap());
        assert_ne!(a, b);
        assert_eq!(Cursor::new(a, 7).seq_in(a), Ok(7));
        assert_eq!(
            Cursor::new(a, 7).seq_in(b),
            Err(CursorError::OtherJournal {
                cursor_journal: a,
                journal: b
            })
        );
    }

    #[test]
    fn unix_millis_from_system_time() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(UnixMillis::from(t), UnixMillis(1_700_000_000_123));
        let before = UNIX_EPOCH - Duration::from_millis(5);
        assert_eq!(UnixMillis::from(before), UnixMillis(-5));
        assert_eq!(
            UnixMillis(1000).saturating_sub(Duration::from_secs(2)),
            UnixMillis(-1000)
        );
    }
}
