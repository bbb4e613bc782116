//! The SQLite journal: one file under the data directory, WAL mode, one transaction per batch.
//!
//! Settings (measured in docs/performance.md §2d, rusqlite 0.43 `bundled`):
//! - `journal_mode=WAL`: readers on their own connections never block the writer, and the
//!   writer never blocks them; a reader sees every batch committed before its read began.
//! - `synchronous=FULL` (default, [`Synchronous::Full`]): every commit fsyncs the WAL, so a
//!   batch the driver was told is committed survives a power loss. [`Synchronous::Normal`]
//!   fsyncs only at checkpoints: still safe against a *process* crash (the WAL is in the OS
//!   page cache), but the last batches before a power loss or kernel panic can vanish. It buys
//!   about a third more throughput at batch 1000 (1.75 M/s vs 1.31 M/s on the reference
//!   machine). The fsync per commit is why group commit is mandatory: batch 1 does ~7 k
//!   events/s there and 100-1,000/s on an SSD without power-loss protection.
//! - Crash behaviour (2d, kill -9 test): a reopened file holds a contiguous prefix of whole
//!   batches; `tests/journal_crash.rs` re-checks this on every CI run.
//!
//! Schema (version [`SCHEMA_VERSION`] in table `schema_version`):
//! ```sql
//! events(seq INTEGER PRIMARY KEY, at_ms INTEGER, kind TEXT, payload BLOB)   -- the log
//! journal_state(id = 1, latest_seq, pruned_through)    -- seqs are never reused, even when
//!                                                      -- retention emptied `events`
//! snapshots(seq INTEGER PRIMARY KEY, data BLOB)        -- the newest few state images
//! journal_identity(id = 1, journal_id TEXT, created_ms) -- the journal's identity (schema 2)
//! ```
//! Identity: a new file gets a random [`JournalId`] in the same transaction that creates its
//! schema, so a file that exists has one; it never changes after. A file of schema 1 (before
//! identities) is upgraded on open, in one transaction: it is given an identity (`created_ms`
//! is then the time of the upgrade), keeps every event, snapshot and sequence number, and is
//! marked schema 2; builds that read only schema 1 then refuse it, as they refuse any newer
//! schema. A schema-2 file without an identity row is refused ([`JournalError::Identity`]),
//! never silently given a new one. Each reader connection checks that the file it opened
//! still has the writer's identity, so a file replaced under a running gateway is refused
//! rather than served as if it were the same journal.
//! `seq` is the rowid, so the resume scan is a B-tree range scan. Ad-hoc queries work on a live
//! file: `sqlite3 journal.sqlite3 "SELECT seq, kind FROM events WHERE kind LIKE 'alarm.%'"`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::{
    Entry, Housekeeper, Journal, JournalError, JournalId, JournalReader, KindQuery, PruneOutcome,
    Record, Result, Retention, SeqRange, Snapshot, UnixMillis, cursor_in_range,
};

/// Name of the journal file inside the data directory.
pub const FILE_NAME: &str = "journal.sqlite3";

/// Schema version this build writes and reads. 2 added `journal_identity`; a version-1 file
/// is upgraded on open (module doc).
pub const SCHEMA_VERSION: i64 = 2;

/// The schema before journal identities, upgraded on open.
const SCHEMA_V1: i64 = 1;

/// How hard each commit is pushed to disk (SQLite `PRAGMA synchronous`, see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// fsync the WAL on every commit: durable against power loss.
    #[default]
    Full,
    /// fsync only at checkpoints: durable against a process crash, not a power loss.
    Normal,
}

impl Synchronous {
    const fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Journal settings (the `[journal]` table of the configuration).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteConfig {
    /// Durability of a commit.
    pub synchronous: Synchronous,
    /// How many of the newest snapshots to keep (at least 1).
    pub snapshots_kept: usize,
    /// How long a connection waits on a lock held by another before failing, in ms.
    pub busy_timeout_ms: u64,
    /// Read-only connections a [`SqliteReader`] keeps open between reads.
    pub idle_readers: usize,
}

impl Default for SqliteConfig {
    fn default() -> SqliteConfig {
        SqliteConfig {
            synchronous: Synchronous::Full,
            snapshots_kept: 3,
            busy_timeout_ms: 5_000,
            idle_readers: 4,
        }
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    latest_seq INTEGER NOT NULL,
    pruned_through INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_kind_at ON events (kind, at_ms, seq);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_chunks (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS snapshot_chunks_by_seq ON snapshot_chunks (seq, idx);
CREATE TABLE IF NOT EXISTS journal_identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    journal_id TEXT NOT NULL CHECK (length(journal_id) = 32),
    created_ms INTEGER NOT NULL
);
INSERT INTO journal_state (id, latest_seq, pruned_through)
    SELECT 1, 0, 0 WHERE NOT EXISTS (SELECT 1 FROM journal_state);
";

fn sql(op: &'static str) -> impl FnOnce(rusqlite::Error) -> JournalError {
    move |source| JournalError::Sqlite { op, source }
}

/// A sequence number or cursor as an SQLite INTEGER; saturates (no journal gets near 2^63).
fn to_sql(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn from_sql(field: &'static str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| JournalError::Corrupt { field, value })
}

/// `(latest_seq, pruned_through)`.
fn bounds(conn: &Connection) -> Result<(u64, u64)> {
    let (latest, pruned): (i64, i64) = conn
        .prepare_cached("SELECT latest_seq, pruned_through FROM journal_state WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(sql("read journal_state"))?;
    let latest = from_sql("latest_seq", latest)?;
    let pruned = from_sql("pruned_through", pruned)?;
    if pruned > latest {
        return Err(JournalError::Corrupt {
            field: "pruned_through",
            value: to_sql(pruned),
        });
    }
    Ok((latest, pruned))
}

/// The stored identity, `None` if the file has none (schema 1, before the upgrade).
fn identity_on(conn: &Connection) -> Result<Option<JournalId>> {
    let text: Option<String> = conn
        .query_row(
            "SELECT journal_id FROM journal_identity WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("read journal_identity"))?;
    text.map(|t| {
        t.parse().map_err(|_| JournalError::Identity {
            reason: format!("stored journal_id {t:?} is not 32 lowercase hex digits"),
        })
    })
    .transpose()
}

/// The identity of a file opened for writing: the stored one, or a new one for a file that
/// has none yet (new, or schema 1 being upgraded: `assign`); a schema-2 file without one is
/// refused.
fn ensure_identity(conn: &Connection, assign: bool) -> Result<JournalId> {
    if let Some(id) = identity_on(conn)? {
        return Ok(id);
    }
    if !assign {
        return Err(JournalError::Identity {
            reason: format!("schema {SCHEMA_VERSION} file has no journal_identity row"),
        });
    }
    let id = JournalId::random()?;
    conn.execute(
        "INSERT INTO journal_identity (id, journal_id, created_ms) VALUES (1, ?1, ?2)",
        params![id.to_string(), UnixMillis::now().0],
    )
    .map_err(sql("write journal_identity"))?;
    Ok(id)
}

fn read_after_on(conn: &Connection, cursor: u64, limit: usize) -> Result<Vec<Record>> {
    // One read transaction: the bounds and the rows come from the same WAL snapshot, so a
    // prune racing this read cannot produce a silent gap.
    let tx = conn.unchecked_transaction().map_err(sql("begin read"))?;
    let (latest, pruned) = bounds(&tx)?;
    cursor_in_range(cursor, latest, pruned)?;
    let mut stmt = tx
        .prepare_cached(
            "SELECT seq, at_ms, kind, payload FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(sql("prepare read_after"))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![to_sql(cursor), limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })
        .map_err(sql("read_after"))?;
    let mut out = Vec::new();
    let mut expect = cursor + 1;
    for row in rows {
        let (seq, at, kind, payload) = row.map_err(sql("read_after row"))?;
        // Every record between the bounds is retained; a hole means the file was edited.
        if from_sql("seq", seq)? != expect {
            return Err(JournalError::Corrupt {
                field: "seq",
                value: seq,
            });
        }
        expect += 1;
        out.push(Record {
            seq: expect - 1,
            at: UnixMillis(at),
            kind,
            payload: Bytes::from(payload),
        });
    }
    Ok(out)
}

fn read_kind_on(conn: &Connection, q: &KindQuery<'_>) -> Result<Vec<Record>> {
    // Served by the index `events_kind_at` (kind, at_ms, seq), newest first.
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, at_ms, kind, payload FROM events \
             WHERE kind = ?1 AND at_ms >= ?2 AND at_ms < ?3 AND (at_ms, seq) < (?4, ?5) \
             ORDER BY at_ms DESC, seq DESC LIMIT ?6",
        )
        .map_err(sql("prepare read_kind"))?;
    let (before_at, before_seq) = q
        .before
        .map_or((i64::MAX, i64::MAX), |(at, seq)| (at.0, to_sql(seq)));
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(
            params![q.kind, q.from.0, q.until.0, before_at, before_seq, limit],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            },
        )
        .map_err(sql("read_kind"))?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, at, kind, payload) = row.map_err(sql("read_kind row"))?;
        out.push(Record {
            seq: from_sql("seq", seq)?,
            at: UnixMillis(at),
            kind,
            payload: Bytes::from(payload),
        });
    }
    Ok(out)
}

fn oldest_seq_on(conn: &Connection) -> Result<Option<u64>> {
    let (_, pruned) = bounds(conn)?;
    // Islands of a retention class below the oldest cursor do not count.
    let min: Option<i64> = conn
        .query_row(
            "SELECT MIN(seq) FROM events WHERE seq > ?1",
            [to_sql(pruned)],
            |r| r.get(0),
        )
        .map_err(sql("oldest_seq"))?;
    min.map(|v| from_sql("seq", v)).transpose()
}

fn latest_snapshot_on(conn: &Connection) -> Result<Option<Snapshot>> {
    match snapshots_on(conn)?.first() {
        Some(&seq) => snapshot_on(conn, seq),
        None => Ok(None),
    }
}

/// How a snapshot stored in chunks is marked in `snapshots.data`: this tag, the chunk count
/// (u32 BE) and the image's length (u64 BE). Anything else there is the image itself (the
/// form written before chunking).
const CHUNKED: &[u8; 4] = b"TGCH";
const MARKER_LEN: usize = 16;
/// Octets of a snapshot written per transaction: each commit holds the write lock for about
/// as long as it takes to write and fsync one chunk, so appends never wait behind a whole
/// image (benches/housekeeping.rs).
const SNAPSHOT_CHUNK: usize = 1 << 20;
/// Records deleted per retention transaction, for the same reason.
const PRUNE_CHUNK: u64 = 20_000;

fn marker(chunks: u32, len: u64) -> [u8; MARKER_LEN] {
    let mut m = [0; MARKER_LEN];
    m[..4].copy_from_slice(CHUNKED);
    m[4..8].copy_from_slice(&chunks.to_be_bytes());
    m[8..].copy_from_slice(&len.to_be_bytes());
    m
}

/// Save `data` as the image at `seq` in chunks (each its own transaction), then mark it
/// complete in `snapshots` (readers list only marked ones), then trim to the newest `kept`.
fn save_snapshot_on(conn: &Connection, seq: u64, data: &[u8], kept: usize) -> Result<()> {
    let (latest, _) = bounds(conn)?;
    if seq > latest {
        return Err(JournalError::SnapshotAhead { seq, latest });
    }
    // Chunks of an image whose save was interrupted (never marked) are removed first.
    delete_chunks_where(
        conn,
        "seq NOT IN (SELECT seq FROM snapshots) OR seq = ?1",
        to_sql(seq),
    )?;
    let chunks = data.chunks(SNAPSHOT_CHUNK);
    let count = u32::try_from(chunks.len()).map_err(|_| JournalError::Corrupt {
        field: "snapshot chunks",
        value: i64::MAX,
    })?;
    for (idx, chunk) in chunks.enumerate() {
        let tx = conn
            .unchecked_transaction()
            .map_err(sql("begin snapshot chunk"))?;
        tx.execute(
            "INSERT INTO snapshot_chunks (seq, idx, data) VALUES (?1, ?2, ?3)",
            params![to_sql(seq), idx as i64, chunk],
        )
        .map_err(sql("write snapshot chunk"))?;
        tx.commit().map_err(sql("commit snapshot chunk"))?;
    }
    let tx = conn
        .unchecked_transaction()
        .map_err(sql("begin snapshot"))?;
    tx.execute(
        "INSERT OR REPLACE INTO snapshots (seq, data) VALUES (?1, ?2)",
        params![to_sql(seq), &marker(count, data.len() as u64)[..]],
    )
    .map_err(sql("write snapshot"))?;
    let kept = i64::try_from(kept.max(1)).unwrap_or(i64::MAX);
    tx.execute(
        "DELETE FROM snapshots WHERE seq NOT IN \
         (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)",
        [kept],
    )
    .map_err(sql("trim snapshots"))?;
    tx.commit().map_err(sql("commit snapshot"))?;
    // The chunks of trimmed images, a few per transaction.
    delete_chunks_where(
        conn,
        "seq NOT IN (SELECT seq FROM snapshots) AND ?1 = ?1",
        0,
    )
}

/// Delete snapshot chunks matching `condition` (with `?1` bound to `arg`), 16 a transaction.
fn delete_chunks_where(conn: &Connection, condition: &str, arg: i64) -> Result<()> {
    let statement = format!(
        "DELETE FROM snapshot_chunks WHERE id IN \
         (SELECT id FROM snapshot_chunks WHERE {condition} LIMIT 16)"
    );
    loop {
        let tx = conn
            .unchecked_transaction()
            .map_err(sql("begin trim chunks"))?;
        let n = tx
            .execute(&statement, [arg])
            .map_err(sql("trim snapshot chunks"))?;
        tx.commit().map_err(sql("commit trim chunks"))?;
        if n == 0 {
            return Ok(());
        }
    }
}

/// Delete the longest prefix of records older than `retention.window` and no newer than the
/// oldest snapshot kept, [`PRUNE_CHUNK`] records a transaction, leaving the records a
/// retention class keeps as islands; then delete the islands older than their class's window.
fn prune_on(conn: &Connection, now: UnixMillis, retention: &Retention) -> Result<PruneOutcome> {
    let cutoff = now.saturating_sub(retention.window);
    let (_, pruned) = bounds(conn)?;
    // `AND NOT (kind IN (..) AND at_ms >= ?)` per class: what a class still keeps.
    let mut keep = String::new();
    let mut keep_params: Vec<rusqlite::types::Value> = Vec::new();
    for class in &retention.classes {
        if class.kinds.is_empty() {
            continue;
        }
        let marks = vec!["?"; class.kinds.len()].join(", ");
        keep.push_str(&format!(" AND NOT (kind IN ({marks}) AND at_ms >= ?)"));
        keep_params.extend(class.kinds.iter().map(|k| k.to_string().into()));
        keep_params.push(now.saturating_sub(class.window).0.into());
    }
    // One chunk of the prefix: a rowid range, less what a class keeps.
    let delete = format!("DELETE FROM events WHERE seq > ? AND seq <= ?{keep}");
    let delete_range = |tx: &Connection, after: u64, upto: u64| -> Result<u64> {
        let mut params: Vec<rusqlite::types::Value> =
            vec![to_sql(after).into(), to_sql(upto).into()];
        params.extend(keep_params.iter().cloned());
        tx.execute(&delete, rusqlite::params_from_iter(params))
            .map(|n| n as u64)
            .map_err(sql("prune delete"))
    };
    // The oldest kept snapshot: every kept one can still be replayed from, so a damaged
    // newest one does not leave the state unrecoverable.
    let snap: Option<i64> = conn
        .query_row("SELECT MIN(seq) FROM snapshots", [], |r| r.get(0))
        .map_err(sql("prune snapshot bound"))?;
    let Some(snap) = snap else {
        return Ok(PruneOutcome {
            deleted: 0,
            oldest_available: pruned,
        });
    };
    // Only a prefix goes, so retained records stay contiguous even if the clock stepped
    // back: stop before the first record (up to the snapshot) inside the window. Records
    // up to `bound` stay old and the oldest snapshot only moves forward, so the bound holds
    // across the transactions below.
    let first_young: Option<i64> = conn
        .query_row(
            "SELECT MIN(seq) FROM events WHERE seq > ?1 AND seq <= ?2 AND at_ms >= ?3",
            params![to_sql(pruned), snap, cutoff.0],
            |r| r.get(0),
        )
        .map_err(sql("prune window bound"))?;
    let bound = from_sql("prune bound", first_young.map_or(snap, |s| s - 1))?;
    let mut deleted = 0u64;
    let mut through = pruned;
    while through < bound {
        let upto = bound.min(through + PRUNE_CHUNK);
        let tx = conn.unchecked_transaction().map_err(sql("begin prune"))?;
        deleted += delete_range(&tx, through, upto)?;
        tx.execute(
            "UPDATE journal_state SET pruned_through = ?1 WHERE id = 1 AND pruned_through < ?1",
            [to_sql(upto)],
        )
        .map_err(sql("prune pruned_through"))?;
        tx.commit().map_err(sql("commit prune"))?;
        through = upto;
    }
    // Islands a class kept before, now older than its window: found through the index on
    // (kind, at_ms), so the pass costs what it deletes, not the size of the trail. Without
    // classes, every island goes.
    if pruned > 0 {
        let tx = conn.unchecked_transaction().map_err(sql("begin prune"))?;
        if retention.classes.is_empty() {
            deleted += tx
                .execute("DELETE FROM events WHERE seq <= ?1", [to_sql(pruned)])
                .map_err(sql("prune islands"))? as u64;
        }
        for class in &retention.classes {
            let cut = now.saturating_sub(class.window).0;
            for kind in &class.kinds {
                deleted += tx
                    .execute(
                        "DELETE FROM events WHERE kind = ?1 AND at_ms < ?2 AND seq <= ?3",
                        params![kind.as_ref(), cut, to_sql(pruned)],
                    )
                    .map_err(sql("prune islands"))? as u64;
            }
        }
        tx.commit().map_err(sql("commit prune"))?;
    }
    Ok(PruneOutcome {
        deleted,
        oldest_available: through,
    })
}

/// SQLite's `PRAGMA quick_check` (every page and index entry is well formed; the checks of
/// `integrity_check` less the index-to-table cross-check, in O(N) time): a journal known to
/// be malformed is never served. The time it took is logged (for a 1 GB journal see
/// docs/operations.md).
fn check_integrity(conn: &Connection, path: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let findings: Vec<String> = conn
        .prepare("PRAGMA quick_check(20)")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(|source| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                JournalError::Malformed {
                    path: path.display().to_string(),
                    findings: source.to_string(),
                }
            }
            _ => JournalError::Sqlite {
                op: "quick_check",
                source,
            },
        })?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if findings.len() == 1 && findings[0] == "ok" {
        tracing::info!(path = %path.display(), elapsed_ms, "journal integrity checked");
        return Ok(());
    }
    Err(JournalError::Malformed {
        path: path.display().to_string(),
        findings: findings.join("; "),
    })
}

fn snapshots_on(conn: &Connection) -> Result<Vec<u64>> {
    let mut stmt = conn
        .prepare_cached("SELECT seq FROM snapshots ORDER BY seq DESC")
        .map_err(sql("prepare snapshots"))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, i64>(0))
        .map_err(sql("snapshots"))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(from_sql(
            "snapshot seq",
            row.map_err(sql("snapshots row"))?,
        )?);
    }
    Ok(out)
}

fn snapshot_on(conn: &Connection, seq: u64) -> Result<Option<Snapshot>> {
    // One read transaction: the marker and its chunks from the same WAL snapshot.
    let tx = conn
        .unchecked_transaction()
        .map_err(sql("begin snapshot read"))?;
    let data: Option<Vec<u8>> = tx
        .query_row(
            "SELECT data FROM snapshots WHERE seq = ?1",
            [to_sql(seq)],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("snapshot"))?;
    let Some(data) = data else {
        return Ok(None);
    };
    if data.len() != MARKER_LEN || !data.starts_with(CHUNKED) {
        return Ok(Some(Snapshot {
            seq,
            data: Bytes::from(data),
        }));
    }
    let count = u32::from_be_bytes(data[4..8].try_into().unwrap_or_default());
    let len = u64::from_be_bytes(data[8..].try_into().unwrap_or_default());
    let mut image = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(1 << 32));
    let mut stmt = tx
        .prepare_cached("SELECT idx, data FROM snapshot_chunks WHERE seq = ?1 ORDER BY idx")
        .map_err(sql("prepare snapshot chunks"))?;
    let rows = stmt
        .query_map([to_sql(seq)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(sql("snapshot chunks"))?;
    let mut expect = 0i64;
    for row in rows {
        let (idx, chunk) = row.map_err(sql("snapshot chunk row"))?;
        if idx != expect {
            return Err(JournalError::Corrupt {
                field: "snapshot chunk",
                value: idx,
            });
        }
        expect += 1;
        image.extend_from_slice(&chunk);
    }
    if expect != i64::from(count) || image.len() as u64 != len {
        return Err(JournalError::Corrupt {
            field: "snapshot chunks",
            value: expect,
        });
    }
    Ok(Some(Snapshot {
        seq,
        data: Bytes::from(image),
    }))
}

fn file_path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The writer: owns the only read-write connection. Not `Sync`; the driver owns it.
#[derive(Debug)]
pub struct SqliteJournal {
    conn: Connection,
    path: PathBuf,
    config: SqliteConfig,
    /// Latest committed seq, as of our last commit (the file is the authority: `append`
    /// re-reads it inside its transaction).
    latest: u64,
    /// The journal's identity, read (or assigned) at open; never changes.
    identity: JournalId,
    /// The cap set by [`SqliteJournal::set_max_page_count`], given to housekeepers too.
    max_page_count: Option<u64>,
    /// Test hook: fail `append` before inserting the entry at this index, leaving the
    /// transaction uncommitted.
    #[cfg(test)]
    fail_before: Option<usize>,
}

impl SqliteJournal {
    /// Open the journal in `dir` (created if missing), creating the file and schema if new.
    pub fn open(dir: &Path, config: &SqliteConfig) -> Result<SqliteJournal> {
        std::fs::create_dir_all(dir).map_err(|source| JournalError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let path = file_path(dir);
        let mut conn = Connection::open(&path).map_err(sql("open"))?;
        conn.busy_timeout(Duration::from_millis(config.busy_timeout_ms))
            .map_err(sql("busy_timeout"))?;
        check_integrity(&conn, &path)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(sql("journal_mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(JournalError::Setting {
                setting: "journal_mode",
                want: "wal",
                got: mode,
            });
        }
        conn.pragma_update(None, "synchronous", config.synchronous.pragma())
            .map_err(sql("synchronous"))?;

        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("begin schema"))?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")
            .map_err(sql("create schema_version"))?;
        let found: Option<i64> = tx
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
            .map_err(sql("read schema_version"))?;
        // Whether the file may be given an identity: a new file, or a schema-1 file upgraded.
        let assign = match found {
            None => {
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(sql("write schema_version"))?;
                true
            }
            Some(SCHEMA_VERSION) => false,
            Some(SCHEMA_V1) => {
                tx.execute("UPDATE schema_version SET version = ?1", [SCHEMA_VERSION])
                    .map_err(sql("upgrade schema_version"))?;
                true
            }
            Some(found) => {
                return Err(JournalError::SchemaVersion {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        };
        tx.execute_batch(SCHEMA).map_err(sql("create schema"))?;
        let identity = ensure_identity(&tx, assign)?;
        tx.commit().map_err(sql("commit schema"))?;
        if found == Some(SCHEMA_V1) {
            tracing::info!(
                journal = %identity,
                path = %path.display(),
                "journal upgraded from schema 1 to 2: identity assigned, events kept"
            );
        }
        let (latest, _) = bounds(&conn)?;
        Ok(SqliteJournal {
            conn,
            path,
            config: config.clone(),
            latest,
            identity,
            max_page_count: None,
            #[cfg(test)]
            fail_before: None,
        })
    }

    /// Cap the file at `pages` database pages (SQLite `max_page_count`; `None` lifts the
    /// cap to SQLite's own limit): a commit that would grow the file beyond it fails with
    /// "database or disk is full", as on a full disk. Returns the cap now in force.
    pub fn set_max_page_count(&mut self, pages: Option<u64>) -> Result<u64> {
        let want = pages.map_or(u32::MAX as i64 - 1, to_sql);
        let got = self
            .conn
            .pragma_update_and_check(None, "max_page_count", want, |r| r.get::<_, i64>(0))
            .map_err(sql("max_page_count"))
            .and_then(|n| from_sql("max_page_count", n))?;
        self.max_page_count = pages.map(|_| got);
        Ok(got)
    }

    /// The file's size in database pages.
    pub fn page_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(sql("page_count"))?;
        from_sql("page_count", n)
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A concrete reader (the trait's [`Journal::reader`] gives a shared one).
    pub fn sqlite_reader(&self) -> SqliteReader {
        SqliteReader {
            path: self.path.clone(),
            config: self.config.clone(),
            identity: self.identity,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// [`JournalReader::read_after`] on the writer's connection (startup replay).
    pub fn read_after(&self, cursor: u64, limit: usize) -> Result<Vec<Record>> {
        read_after_on(&self.conn, cursor, limit)
    }

    /// [`JournalReader::oldest_seq`] on the writer's connection.
    pub fn oldest_seq(&self) -> Result<Option<u64>> {
        oldest_seq_on(&self.conn)
    }

    /// [`JournalReader::check_cursor`] on the writer's connection.
    pub fn check_cursor(&self, cursor: u64) -> Result<()> {
        let (latest, pruned) = bounds(&self.conn)?;
        cursor_in_range(cursor, latest, pruned)
    }

    /// [`JournalReader::latest_snapshot`] on the writer's connection.
    pub fn latest_snapshot(&self) -> Result<Option<Snapshot>> {
        latest_snapshot_on(&self.conn)
    }
}

impl Journal for SqliteJournal {
    fn append(&mut self, entries: &[Entry]) -> Result<SeqRange> {
        if entries.is_empty() {
            return Ok(SeqRange {
                start: self.latest + 1,
                end: self.latest + 1,
            });
        }
        // IMMEDIATE takes the write lock now, so the latest seq read below cannot go stale.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("begin append"))?;
        let (latest, _) = bounds(&tx)?;
        let start = latest + 1;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO events (seq, at_ms, kind, payload) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sql("prepare append"))?;
            for (i, e) in entries.iter().enumerate() {
                #[cfg(test)]
                if self.fail_before == Some(i) {
                    return Err(JournalError::Setting {
                        setting: "test fail_before",
                        want: "",
                        got: i.to_string(),
                    });
                }
                insert
                    .execute(params![
                        to_sql(start + i as u64),
                        e.at.0,
                        &*e.kind,
                        &e.payload[..]
                    ])
                    .map_err(sql("append insert"))?;
            }
        }
        let end = start + entries.len() as u64;
        tx.execute(
            "UPDATE journal_state SET latest_seq = ?1 WHERE id = 1",
            [to_sql(end - 1)],
        )
        .map_err(sql("append latest_seq"))?;
        tx.commit().map_err(sql("commit append"))?;
        self.latest = end - 1;
        Ok(SeqRange { start, end })
    }

    fn latest_seq(&self) -> u64 {
        self.latest
    }

    fn identity(&self) -> JournalId {
        self.identity
    }

    fn save_snapshot(&mut self, seq: u64, data: &[u8]) -> Result<()> {
        save_snapshot_on(&self.conn, seq, data, self.config.snapshots_kept)
    }

    fn prune_retention(&mut self, now: UnixMillis, retention: &Retention) -> Result<PruneOutcome> {
        prune_on(&self.conn, now, retention)
    }

    fn housekeeper(&self) -> Result<Box<dyn Housekeeper>> {
        let conn = Connection::open(&self.path).map_err(sql("open housekeeper"))?;
        conn.busy_timeout(Duration::from_millis(self.config.busy_timeout_ms))
            .map_err(sql("busy_timeout"))?;
        conn.pragma_update(None, "synchronous", self.config.synchronous.pragma())
            .map_err(sql("synchronous"))?;
        if let Some(pages) = self.max_page_count {
            conn.pragma_update(None, "max_page_count", to_sql(pages))
                .map_err(sql("max_page_count"))?;
        }
        Ok(Box::new(SqliteHousekeeper {
            conn,
            kept: self.config.snapshots_kept,
        }))
    }

    fn reader(&self) -> Result<Arc<dyn JournalReader>> {
        Ok(Arc::new(self.sqlite_reader()))
    }
}

/// Snapshots and retention on a connection of their own, for a thread beside the driver's:
/// both write in short transactions ([`SNAPSHOT_CHUNK`], [`PRUNE_CHUNK`]), so the driver's
/// appends wait at most one such transaction, never a whole image or a whole prune.
#[derive(Debug)]
pub struct SqliteHousekeeper {
    conn: Connection,
    kept: usize,
}

impl Housekeeper for SqliteHousekeeper {
    fn save_snapshot(&mut self, seq: u64, data: &[u8]) -> Result<()> {
        save_snapshot_on(&self.conn, seq, data, self.kept)
    }

    fn prune_retention(&mut self, now: UnixMillis, retention: &Retention) -> Result<PruneOutcome> {
        prune_on(&self.conn, now, retention)
    }
}

/// A read-only handle, `Send + Sync`: each read borrows one of a few read-only connections
/// (opened on demand, up to `idle_readers` kept), so concurrent readers do not queue behind
/// each other and none of them blocks the writer (WAL).
#[derive(Debug)]
pub struct SqliteReader {
    path: PathBuf,
    config: SqliteConfig,
    /// The journal's identity; every connection checks the file still has it.
    identity: JournalId,
    /// Why a mutex: `rusqlite::Connection` is `Send` but not `Sync`; a connection is used by
    /// one reader at a time, and the lock is held only to take or return one.
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReader {
    /// A reader of the journal in `dir`, which a writer must have created.
    pub fn open(dir: &Path, config: &SqliteConfig) -> Result<SqliteReader> {
        let mut r = SqliteReader {
            path: file_path(dir),
            config: config.clone(),
            identity: JournalId::from_bytes([0; 16]),
            idle: Mutex::new(Vec::new()),
        };
        // Open one connection now so a wrong path fails here, not at the first read; it
        // tells the identity every later connection is checked against.
        let conn = r.open_conn()?;
        r.identity = identity_on(&conn)?.ok_or_else(|| JournalError::Identity {
            reason: format!(
                "{} has no identity (open it with a writer first)",
                r.path.display()
            ),
        })?;
        r.idle().push(conn);
        Ok(r)
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        // The guarded Vec is only pushed and popped; a panic elsewhere cannot corrupt it.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection that still reads this journal: a file replaced since (another
    /// identity, or none) is refused.
    fn connect(&self) -> Result<Connection> {
        let conn = self.open_conn()?;
        match identity_on(&conn)? {
            Some(id) if id == self.identity => Ok(conn),
            found => Err(JournalError::Identity {
                reason: format!(
                    "{} now holds journal {}, not {}: the file was replaced while open",
                    self.path.display(),
                    found.map_or_else(|| "without identity".to_string(), |i| i.to_string()),
                    self.identity
                ),
            }),
        }
    }

    fn open_conn(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql("open reader"))?;
        conn.busy_timeout(Duration::from_millis(self.config.busy_timeout_ms))
            .map_err(sql("reader busy_timeout"))?;
        Ok(conn)
    }

    fn with_conn<R>(&self, f: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        let pooled = self.idle().pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.connect()?,
        };
        let out = f(&conn);
        let mut idle = self.idle();
        if idle.len() < self.config.idle_readers {
            idle.push(conn);
        }
        out
    }
}

impl JournalReader for SqliteReader {
    fn read_after(&self, cursor: u64, limit: usize) -> Result<Vec<Record>> {
        self.with_conn(|c| read_after_on(c, cursor, limit))
    }

    fn latest_seq(&self) -> Result<u64> {
        self.with_conn(|c| bounds(c).map(|(latest, _)| latest))
    }

    fn identity(&self) -> JournalId {
        self.identity
    }

    fn oldest_seq(&self) -> Result<Option<u64>> {
        self.with_conn(oldest_seq_on)
    }

    fn check_cursor(&self, cursor: u64) -> Result<()> {
        self.with_conn(|c| {
            let (latest, pruned) = bounds(c)?;
            cursor_in_range(cursor, latest, pruned)
        })
    }

    fn latest_snapshot(&self) -> Result<Option<Snapshot>> {
        self.with_conn(latest_snapshot_on)
    }

    fn snapshots(&self) -> Result<Vec<u64>> {
        self.with_conn(snapshots_on)
    }

    fn snapshot(&self, seq: u64) -> Result<Option<Snapshot>> {
        self.with_conn(|c| snapshot_on(c, seq))
    }

    fn read_kind(&self, query: &KindQuery<'_>) -> Result<Vec<Record>> {
        self.with_conn(|c| read_kind_on(c, query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize, tag: u8) -> Vec<Entry> {
        (0..n)
            .map(|i| Entry::new(UnixMillis(i as i64), "t", vec![tag, i as u8]))
            .collect()
    }

    #[test]
    fn failed_batch_leaves_nothing_and_seqs_continue() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        j.append(&batch(3, 1)).unwrap();
        j.fail_before = Some(2);
        assert!(j.append(&batch(5, 2)).is_err());
        assert_eq!(j.latest_seq(), 3);
        j.fail_before = None;
        assert_eq!(
            j.append(&batch(2, 3)).unwrap(),
            SeqRange { start: 4, end: 6 }
        );
        drop(j);
        let j = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        let tags: Vec<u8> = j
            .read_after(0, 100)
            .unwrap()
            .iter()
            .map(|r| r.payload[0])
            .collect();
        assert_eq!(tags, vec![1, 1, 1, 3, 3]);
    }

    #[test]
    fn read_kind_selects_by_kind_and_stamp_newest_first_in_pages() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        // seq 1..=10: "p" at even stamps 0, 20, .., 80 (seqs 1,3,..,9), "q" in between;
        // seq 11 is another "p" with the same stamp as seq 9.
        let mut entries = Vec::new();
        for i in 0..10i64 {
            let kind = if i % 2 == 0 { "p" } else { "q" };
            entries.push(Entry::new(UnixMillis(i * 10), kind, vec![i as u8]));
        }
        entries.push(Entry::new(UnixMillis(80), "p", vec![10]));
        j.append(&entries).unwrap();
        drop(j);
        let reader = SqliteReader::open(dir.path(), &SqliteConfig::default()).unwrap();
        let q = |before, limit| KindQuery {
            kind: "p",
            from: UnixMillis(20),
            until: UnixMillis(90),
            before,
            limit,
        };
        let seqs = |rs: &[Record]| rs.iter().map(|r| r.seq).collect::<Vec<_>>();
        let all = reader.read_kind(&q(None, 100)).unwrap();
        assert_eq!(seqs(&all), vec![11, 9, 7, 5, 3]);
        let p1 = reader.read_kind(&q(None, 2)).unwrap();
        assert_eq!(seqs(&p1), vec![11, 9]);
        let last = p1.last().map(|r| (r.at, r.seq));
        let p2 = reader.read_kind(&q(last, 2)).unwrap();
        assert_eq!(seqs(&p2), vec![7, 5]);
        assert!(p2.iter().all(|r| r.kind == "p"));
        // The memory journal agrees.
        let mut m = crate::journal::memory::MemoryJournal::new();
        m.append(&entries).unwrap();
        let mr = m.reader().unwrap();
        assert_eq!(seqs(&mr.read_kind(&q(None, 100)).unwrap()), seqs(&all));
        assert_eq!(seqs(&mr.read_kind(&q(last, 2)).unwrap()), seqs(&p2));
    }

    #[test]
    fn newer_schema_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap());
        let c = Connection::open(file_path(dir.path())).unwrap();
        c.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        drop(c);
        match SqliteJournal::open(dir.path(), &SqliteConfig::default()) {
            Err(JournalError::SchemaVersion {
                found: 99,
                supported,
            }) => {
                assert_eq!(supported, SCHEMA_VERSION)
            }
            other => panic!("want SchemaVersion, got {other:?}"),
        }
    }

    #[test]
    fn hole_in_file_reported_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        j.append(&batch(5, 0)).unwrap();
        j.conn
            .execute("DELETE FROM events WHERE seq = 3", [])
            .unwrap();
        assert!(matches!(
            j.read_after(0, 10),
            Err(JournalError::Corrupt {
                field: "seq",
                value: 4
            })
        ));
    }

    #[test]
    fn pragmas_take() {
        let dir = tempfile::tempdir().unwrap();
        for (sync, want) in [(Synchronous::Full, 2), (Synchronous::Normal, 1)] {
            let config = SqliteConfig {
                synchronous: sync,
                ..SqliteConfig::default()
            };
            let j = SqliteJournal::open(dir.path(), &config).unwrap();
            let got: i64 = j
                .conn
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap();
            let mode: String = j
                .conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!((got, mode.as_str()), (want, "wal"));
        }
    }

    #[test]
    fn config_from_toml() {
        let c: SqliteConfig = toml::from_str("synchronous = \"normal\"").unwrap();
        assert_eq!(c.synchronous, Synchronous::Normal);
        assert_eq!(c.snapshots_kept, 3);
        assert!(toml::from_str::<SqliteConfig>("bogus = 1").is_err());
    }
}
