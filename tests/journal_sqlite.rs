//! The SQLite journal on real files: round trip, contiguous seqs across reopen, all-or-nothing
//! batches, snapshots and retention, cursors, readers beside the writer, the journal's
//! identity (kept across reopen, given to a schema-1 file on open, checked by readers).

use std::time::Duration;

use bytes::Bytes;
use trunkgate::journal::sqlite::{
    FILE_NAME, SCHEMA_VERSION, SqliteConfig, SqliteJournal, SqliteReader,
};
use trunkgate::journal::{
    CursorError, Entry, Journal, JournalError, JournalId, JournalReader, Record, SeqRange,
    UnixMillis,
};

fn cfg() -> SqliteConfig {
    SqliteConfig::default()
}

fn entry(at: i64, kind: &'static str, payload: &[u8]) -> Entry {
    Entry::new(UnixMillis(at), kind, payload.to_vec())
}

/// `n` entries stamped `at`, payload = (batch tag, index).
fn batch(n: usize, tag: u8, at: i64) -> Vec<Entry> {
    (0..n).map(|i| entry(at, "ev", &[tag, i as u8])).collect()
}

fn seqs(records: &[Record]) -> Vec<u64> {
    records.iter().map(|r| r.seq).collect()
}

fn all(r: &dyn JournalReader) -> Vec<Record> {
    r.read_after(r.oldest_seq().unwrap().map_or(0, |s| s - 1), usize::MAX)
        .unwrap()
}

#[test]
fn append_read_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    assert!(dir.path().join(FILE_NAME).exists());
    let big = vec![0x5a; 64 * 1024];
    let entries = vec![
        entry(1_700_000_000_000, "call.started", b"\x01\x02\x03"),
        entry(1_700_000_000_001, "alarm.raised", b""),
        entry(-5, "odd.time", &big),
        entry(i64::MAX, "\u{7d27}\u{6025}", b"\xff\x00"),
    ];
    assert_eq!(j.append(&entries).unwrap(), SeqRange { start: 1, end: 5 });
    let r = j.reader().unwrap();
    let got = r.read_after(0, 100).unwrap();
    assert_eq!(seqs(&got), vec![1, 2, 3, 4]);
    for (rec, e) in got.iter().zip(&entries) {
        assert_eq!(rec.at, e.at);
        assert_eq!(rec.kind, e.kind);
        assert_eq!(rec.payload, e.payload);
    }
    assert_eq!(seqs(&r.read_after(1, 2).unwrap()), vec![2, 3]);
    assert_eq!(r.read_after(4, 10).unwrap(), vec![]);
    assert_eq!(r.read_after(2, 0).unwrap(), vec![]);
    assert_eq!(r.latest_seq().unwrap(), 4);
    assert_eq!(r.oldest_seq().unwrap(), Some(1));
    // The writer's own read path agrees.
    assert_eq!(j.read_after(0, 100).unwrap(), got);
}

#[test]
fn seqs_contiguous_across_reopen_and_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    assert_eq!(j.latest_seq(), 0);
    j.append(&batch(3, 1, 10)).unwrap();
    j.append(&batch(2, 2, 10)).unwrap();
    drop(j);

    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    assert_eq!(j.latest_seq(), 5);
    assert_eq!(
        j.append(&batch(4, 3, 10)).unwrap(),
        SeqRange { start: 6, end: 10 }
    );
    assert_eq!(
        seqs(&j.read_after(0, 100).unwrap()),
        (1..=9).collect::<Vec<_>>()
    );

    // Retention empties the table; the numbering still continues after reopen.
    j.save_snapshot(9, b"state at 9").unwrap();
    let out = j.prune(UnixMillis(1_000_000), Duration::ZERO).unwrap();
    assert_eq!((out.deleted, out.oldest_available), (9, 9));
    assert_eq!(j.oldest_seq().unwrap(), None);
    drop(j);
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    assert_eq!(j.latest_seq(), 9);
    assert_eq!(j.append(&batch(1, 4, 10)).unwrap().start, 10);
    assert_eq!(j.append(&[]).unwrap(), SeqRange { start: 11, end: 11 });
}

#[test]
fn uncommitted_transaction_leaves_contiguous_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    j.append(&batch(3, 1, 0)).unwrap();
    j.append(&batch(3, 2, 0)).unwrap();
    drop(j);

    // A batch written the way `append` writes it, never committed: the connection goes away
    // mid-transaction, as a crashing writer's would.
    let raw = rusqlite::Connection::open(dir.path().join(FILE_NAME)).unwrap();
    raw.execute_batch("BEGIN IMMEDIATE").unwrap();
    for seq in 7..=9 {
        raw.execute(
            "INSERT INTO events (seq, at_ms, kind, payload) VALUES (?1, 0, 'ev', x'03')",
            [seq],
        )
        .unwrap();
    }
    raw.execute("UPDATE journal_state SET latest_seq = 9", [])
        .unwrap();
    drop(raw);

    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    assert_eq!(j.latest_seq(), 6);
    let recs = j.read_after(0, 100).unwrap();
    assert_eq!(seqs(&recs), (1..=6).collect::<Vec<_>>());
    assert!(recs.iter().all(|r| r.payload[0] != 3));
    assert_eq!(j.append(&batch(1, 4, 0)).unwrap().start, 7);
}

#[test]
fn snapshot_and_prune_keep_everything_newer_than_either_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    // seq i (1..=20) stamped at i * 1000 ms.
    for i in 1..=20i64 {
        j.append(&[entry(i * 1000, "ev", &[i as u8])]).unwrap();
    }
    let r = j.reader().unwrap();

    // No snapshot: nothing goes, whatever the window.
    let out = j.prune(UnixMillis(1_000_000), Duration::ZERO).unwrap();
    assert_eq!(out.deleted, 0);
    assert_eq!(r.oldest_seq().unwrap(), Some(1));

    j.save_snapshot(12, b"state at 12").unwrap();
    assert_eq!(r.latest_snapshot().unwrap().unwrap().seq, 12);

    // Window bound is tighter: keep at >= 25_000 - 20_000 = 5_000, i.e. seq >= 5.
    let out = j
        .prune(UnixMillis(25_000), Duration::from_secs(20))
        .unwrap();
    assert_eq!((out.deleted, out.oldest_available), (4, 4));
    assert_eq!(seqs(&all(&*r)), (5..=20).collect::<Vec<_>>());

    // Snapshot bound is tighter: window would allow everything up to 19.
    let out = j.prune(UnixMillis(20_000), Duration::ZERO).unwrap();
    assert_eq!((out.deleted, out.oldest_available), (8, 12));
    assert_eq!(seqs(&all(&*r)), (13..=20).collect::<Vec<_>>());

    // Newer snapshot; a few kept, the newest wins; snapshot beyond the log refused.
    for s in [14, 15, 16, 17] {
        j.save_snapshot(s, format!("state at {s}").as_bytes())
            .unwrap();
    }
    assert!(j.save_snapshot(21, b"x").is_err());
    let snap = r.latest_snapshot().unwrap().unwrap();
    assert_eq!(
        (snap.seq, snap.data),
        (17, Bytes::from_static(b"state at 17"))
    );
    let raw = rusqlite::Connection::open(dir.path().join(FILE_NAME)).unwrap();
    let kept: i64 = raw
        .query_row("SELECT COUNT(*) FROM snapshots", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, cfg().snapshots_kept as i64);
}

#[test]
fn prune_deletes_only_a_prefix_when_the_clock_stepped_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    // seq 3 is stamped later than its neighbours (clock stepped back after it).
    for at in [1000, 2000, 9000, 3000, 4000] {
        j.append(&[entry(at, "ev", b"")]).unwrap();
    }
    j.save_snapshot(5, b"s").unwrap();
    let out = j.prune(UnixMillis(5000), Duration::ZERO).unwrap();
    assert_eq!((out.deleted, out.oldest_available), (2, 2));
    assert_eq!(seqs(&j.read_after(2, 10).unwrap()), vec![3, 4, 5]);
}

#[test]
fn cursor_out_of_range_names_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    j.append(&batch(10, 1, 0)).unwrap();
    j.save_snapshot(6, b"s").unwrap();
    j.prune(UnixMillis(1), Duration::ZERO).unwrap();
    let r = SqliteReader::open(dir.path(), &cfg()).unwrap();
    let want = CursorError::OutOfRange {
        cursor: 5,
        oldest_available: 6,
    };
    assert_eq!(r.check_cursor(5).unwrap_err().cursor(), Some(want));
    assert_eq!(r.read_after(5, 10).unwrap_err().cursor(), Some(want));
    assert_eq!(j.check_cursor(5).unwrap_err().cursor(), Some(want));
    r.check_cursor(6).unwrap();
    assert_eq!(seqs(&r.read_after(6, 10).unwrap()), vec![7, 8, 9, 10]);
    assert_eq!(
        r.check_cursor(11).unwrap_err().cursor(),
        Some(CursorError::Ahead {
            cursor: 11,
            latest: 10
        })
    );
    r.check_cursor(10).unwrap();
}

#[test]
fn an_open_reader_does_not_block_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    // A short busy timeout: if the reader's lock blocked commits, append would fail fast.
    let config = SqliteConfig {
        busy_timeout_ms: 200,
        ..cfg()
    };
    let mut j = SqliteJournal::open(dir.path(), &config).unwrap();
    j.append(&batch(5, 1, 0)).unwrap();
    let reader = rusqlite::Connection::open_with_flags(
        dir.path().join(FILE_NAME),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let before: i64 = reader
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    for tag in 2..12 {
        j.append(&batch(5, tag, 0)).unwrap();
    }
    // The open read transaction still sees its snapshot; a new read sees everything.
    let during: i64 = reader
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!((before, during), (5, 5));
    reader.execute_batch("COMMIT").unwrap();
    assert_eq!(j.reader().unwrap().latest_seq().unwrap(), 55);
}

#[test]
fn reader_on_another_thread_sees_only_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    let r = j.reader().unwrap();
    const BATCH: usize = 7;
    let watcher = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut cursor = 0;
        while cursor < 50 * BATCH as u64 && std::time::Instant::now() < deadline {
            let recs = r.read_after(cursor, usize::MAX).unwrap();
            for rec in &recs {
                assert_eq!(rec.seq, cursor + 1, "contiguous");
                cursor = rec.seq;
            }
            assert_eq!(
                cursor % BATCH as u64,
                0,
                "a batch is seen whole or not at all"
            );
        }
        cursor
    });
    for tag in 0..50 {
        j.append(&batch(BATCH, tag, 0)).unwrap();
    }
    assert_eq!(watcher.join().unwrap(), 50 * BATCH as u64);
}

#[test]
fn reader_opens_a_closed_journal_and_refuses_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    assert!(SqliteReader::open(dir.path(), &cfg()).is_err());
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    j.append(&batch(4, 1, 0)).unwrap();
    drop(j); // last connection closed: SQLite checkpoints and removes the WAL
    let r = SqliteReader::open(dir.path(), &cfg()).unwrap();
    assert_eq!(seqs(&r.read_after(0, 10).unwrap()), vec![1, 2, 3, 4]);
}

#[test]
fn identity_is_made_with_the_journal_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    let id = j.identity();
    j.append(&batch(3, 1, 0)).unwrap();
    assert_eq!(j.reader().unwrap().identity(), id);
    drop(j);
    let j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    assert_eq!(j.identity(), id, "same file, same identity");
    assert_eq!(
        SqliteReader::open(dir.path(), &cfg()).unwrap().identity(),
        id
    );
    // Stored where an operator can see it.
    let c = rusqlite::Connection::open(dir.path().join(FILE_NAME)).unwrap();
    let stored: String = c
        .query_row("SELECT journal_id FROM journal_identity", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, id.to_string());
    // Another file is another journal, as is the same directory once the file is gone.
    let other = tempfile::tempdir().unwrap();
    assert_ne!(
        SqliteJournal::open(other.path(), &cfg())
            .unwrap()
            .identity(),
        id
    );
    drop((j, c));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("{FILE_NAME}{suffix}")));
    }
    let again = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    assert_ne!(again.identity(), id, "a re-created file is a new journal");
    assert_eq!(again.latest_seq(), 0);
}

/// The schema this journal wrote before identities (version 1), verbatim.
const SCHEMA_V1: &str = "
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1);
CREATE TABLE journal_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    latest_seq INTEGER NOT NULL,
    pruned_through INTEGER NOT NULL
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE snapshots (
    seq INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
INSERT INTO journal_state (id, latest_seq, pruned_through) VALUES (1, 0, 0);
";

#[test]
fn a_schema_1_file_gains_an_identity_on_open_and_keeps_its_events() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = rusqlite::Connection::open(dir.path().join(FILE_NAME)).unwrap();
        c.execute_batch(SCHEMA_V1).unwrap();
        // Records 1..=3 pruned, 4..=6 kept, a snapshot at 5: as an old gateway left it.
        for seq in 4..=6i64 {
            c.execute(
                "INSERT INTO events (seq, at_ms, kind, payload) VALUES (?1, ?2, 'ev', ?3)",
                rusqlite::params![seq, seq * 10, vec![seq as u8]],
            )
            .unwrap();
        }
        c.execute(
            "UPDATE journal_state SET latest_seq = 6, pruned_through = 3",
            [],
        )
        .unwrap();
        c.execute("INSERT INTO snapshots (seq, data) VALUES (5, x'aa')", [])
            .unwrap();
    }
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    let id = j.identity();
    assert_eq!(j.latest_seq(), 6);
    let r = j.reader().unwrap();
    assert_eq!(r.identity(), id);
    let kept = r.read_after(3, 10).unwrap();
    assert_eq!(seqs(&kept), vec![4, 5, 6]);
    assert_eq!(kept[0].at, UnixMillis(40));
    assert_eq!(kept[2].payload, Bytes::from_static(&[6]));
    assert_eq!(
        r.check_cursor(2).unwrap_err().cursor(),
        Some(CursorError::OutOfRange {
            cursor: 2,
            oldest_available: 3
        })
    );
    assert_eq!(r.latest_snapshot().unwrap().unwrap().seq, 5);
    // Seqs continue; the file is now schema 2, and the identity stays on reopen.
    assert_eq!(j.append(&batch(1, 9, 70)).unwrap().start, 7);
    drop((j, r));
    let c = rusqlite::Connection::open(dir.path().join(FILE_NAME)).unwrap();
    let version: i64 = c
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 2);
    drop(c);
    let j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    assert_eq!(j.identity(), id);
    assert_eq!(j.latest_seq(), 7);
}

#[test]
fn a_schema_2_file_without_identity_is_refused_not_given_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteJournal::open(dir.path(), &cfg()).unwrap());
    let c = rusqlite::Connection::open(dir.path().join(FILE_NAME)).unwrap();
    c.execute("DELETE FROM journal_identity", []).unwrap();
    drop(c);
    match SqliteJournal::open(dir.path(), &cfg()) {
        Err(JournalError::Identity { reason }) => assert!(reason.contains("no journal_identity")),
        other => panic!("want Identity, got {other:?}"),
    }
}

#[test]
fn a_reader_refuses_a_file_replaced_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    // No idle connections kept: every read opens the file by its path again.
    let config = SqliteConfig {
        idle_readers: 0,
        ..cfg()
    };
    let mut j = SqliteJournal::open(dir.path(), &config).unwrap();
    j.append(&batch(3, 1, 0)).unwrap();
    let r = j.reader().unwrap();
    assert_eq!(r.read_after(0, 10).unwrap().len(), 3);
    let mut o = SqliteJournal::open(other.path(), &config).unwrap();
    o.append(&batch(5, 2, 0)).unwrap();
    let other_id: JournalId = o.identity();
    let id = j.identity();
    // Both closed (their WALs checkpointed away), then another journal moved into place.
    drop((o, j));
    std::fs::rename(other.path().join(FILE_NAME), dir.path().join(FILE_NAME)).unwrap();
    match r.read_after(0, 10) {
        Err(JournalError::Identity { reason }) => {
            assert!(reason.contains(&other_id.to_string()), "{reason}");
            assert!(reason.contains(&id.to_string()), "{reason}");
        }
        other => panic!("want Identity, got {other:?}"),
    }
}

/// Bytes of garbage over a whole page in the middle of the file (the journal closed, so its
/// WAL is checkpointed into the file first).
fn damage_page(path: &std::path::Path, page: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(page * 4096)).unwrap();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 37 % 251) as u8).collect();
    f.write_all(&garbage).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn a_damaged_page_is_found_at_open_and_the_journal_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
        for tag in 0..200u8 {
            j.append(&batch(20, tag, 1_000)).unwrap();
        }
        j.save_snapshot(4_000, &[7; 10_000]).unwrap();
    }
    let path = dir.path().join(FILE_NAME);
    let pages = std::fs::metadata(&path).unwrap().len() / 4096;
    assert!(pages > 20, "{pages} pages");
    damage_page(&path, pages / 2);
    let err = SqliteJournal::open(dir.path(), &cfg()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, trunkgate::journal::JournalError::Malformed { .. }),
        "{message}"
    );
    assert!(message.contains("is damaged"), "{message}");
    assert!(message.contains("backup"), "{message}");
    assert!(message.contains(".recover"), "{message}");
}

#[test]
fn retention_keeps_every_event_after_the_oldest_snapshot_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    for tag in 0..4u8 {
        j.append(&batch(10, tag, 1_000)).unwrap();
        j.save_snapshot(u64::from(tag + 1) * 10, b"image").unwrap();
    }
    // Three kept (20, 30, 40): everything after the oldest of them stays replayable.
    let r = j.reader().unwrap();
    assert_eq!(r.snapshots().unwrap(), vec![40, 30, 20]);
    let outcome = j.prune(UnixMillis(1_000_000), Duration::ZERO).unwrap();
    assert_eq!(outcome.oldest_available, 20);
    assert_eq!(r.read_after(20, 100).unwrap().len(), 20);
    assert_eq!(
        r.snapshot(30).unwrap().unwrap().data,
        Bytes::from_static(b"image")
    );
    assert_eq!(r.snapshot(10).unwrap(), None);
}

#[test]
fn a_large_snapshot_is_written_in_chunks_and_reads_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(dir.path(), &cfg()).unwrap();
    j.append(&batch(3, 1, 0)).unwrap();
    // 2.5 MiB: three chunks, the last a partial one.
    let image: Vec<u8> = (0..(5 << 19)).map(|i: u32| (i % 251) as u8).collect();
    j.save_snapshot(3, &image).unwrap();
    let r = j.reader().unwrap();
    assert_eq!(
        r.latest_snapshot().unwrap().unwrap().data,
        Bytes::from(image.clone())
    );
    // From another thread's connection (the driver's housekeeper), beside the writer.
    let mut hk = j.housekeeper().unwrap();
    let writer = std::thread::spawn(move || {
        hk.save_snapshot(3, &[9; 10]).unwrap();
    });
    j.append(&batch(2, 2, 0)).unwrap();
    writer.join().unwrap();
    assert_eq!(
        r.snapshot(3).unwrap().unwrap().data,
        Bytes::from_static(&[9; 10])
    );
    // Chunks of a save that never completed are invisible and cleaned by the next save.
    let db = rusqlite::Connection::open(dir.path().join(FILE_NAME)).unwrap();
    db.execute(
        "INSERT INTO snapshot_chunks (seq, idx, data) VALUES (5, 0, x'00')",
        [],
    )
    .unwrap();
    assert_eq!(r.snapshots().unwrap(), vec![3]);
    j.save_snapshot(4, b"four").unwrap();
    let orphans: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM snapshot_chunks WHERE seq = 5",
            [],
            |x| x.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    assert_eq!(r.snapshots().unwrap(), vec![4, 3]);
}
