//! Process-crash safety of the SQLite journal: a writer appending batches in a loop is
//! SIGKILLed, and the reopened journal must hold a contiguous prefix of whole batches
//! (docs/performance.md §2d ran the same experiment on the store choice).
//!
//! The writer is this test binary itself, re-executed with [`CHILD_ENV`] set so that only
//! [`crash_child_writer`] does any work.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal, SqliteReader};
use trunkgate::journal::{Entry, Journal, JournalReader, UnixMillis};

/// Set to the data dir in the child process; unset, the child test is a no-op.
const CHILD_ENV: &str = "TRUNKGATE_JOURNAL_CRASH_DIR";
/// Entries per batch; each payload is ~100 bytes.
const BATCH: usize = 100;
const PAYLOAD_LEN: usize = 100;

/// Payload: first seq of the batch (8 octets BE), index in batch (4), batch length (4), fill.
fn payload(first: u64, index: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(PAYLOAD_LEN);
    p.extend_from_slice(&first.to_be_bytes());
    p.extend_from_slice(&(index as u32).to_be_bytes());
    p.extend_from_slice(&(BATCH as u32).to_be_bytes());
    p.resize(PAYLOAD_LEN, 0xa5);
    p
}

/// The writer the crash test runs in a child process and kills. Without [`CHILD_ENV`] it
/// returns at once.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut j = SqliteJournal::open(Path::new(&dir), &SqliteConfig::default()).unwrap();
    // Bounded even if the parent dies without killing us.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let first = j.latest_seq() + 1;
        let entries: Vec<Entry> = (0..BATCH)
            .map(|i| Entry::new(UnixMillis::now(), "crash.test", payload(first, i)))
            .collect();
        let range = j.append(&entries).unwrap();
        assert_eq!(range.start, first);
    }
}

/// Check the whole journal in pages: seqs 1..=latest contiguous, each record where its batch
/// says it belongs, and only whole batches. Returns the latest seq.
fn verify(dir: &Path) -> u64 {
    let j = SqliteJournal::open(dir, &SqliteConfig::default()).unwrap();
    let latest = j.latest_seq();
    let mut cursor = 0;
    loop {
        let page = j.read_after(cursor, 10_000).unwrap();
        if page.is_empty() {
            break;
        }
        for r in page {
            assert_eq!(r.seq, cursor + 1, "contiguous");
            assert_eq!(r.payload.len(), PAYLOAD_LEN);
            let first = u64::from_be_bytes(r.payload[..8].try_into().unwrap());
            let index = u32::from_be_bytes(r.payload[8..12].try_into().unwrap()) as u64;
            let len = u32::from_be_bytes(r.payload[12..16].try_into().unwrap()) as u64;
            assert_eq!(
                (first + index, len),
                (r.seq, BATCH as u64),
                "record in its batch"
            );
            cursor = r.seq;
        }
    }
    assert_eq!(cursor, latest, "latest_seq matches the records");
    assert_eq!(latest % BATCH as u64, 0, "only whole batches survive");
    latest
}

#[cfg(unix)]
#[test]
fn sigkilled_writer_leaves_a_prefix_of_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut survived = 0;
    for round in 0..3u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child_writer", "--test-threads", "1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the child has committed a few batches of its own.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let latest = SqliteReader::open(dir.path(), &SqliteConfig::default())
                .and_then(|r| r.latest_seq())
                .unwrap_or(0);
            if latest >= survived + 3 * BATCH as u64 {
                break;
            }
            assert!(child.try_wait().unwrap().is_none(), "writer exited early");
            assert!(Instant::now() < deadline, "writer made no progress");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Kill at a different point of the append loop each round.
        std::thread::sleep(Duration::from_millis(30 + 41 * round));
        assert!(child.try_wait().unwrap().is_none(), "writer still running");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let latest = verify(dir.path());
        eprintln!("round {round}: {latest} records survived SIGKILL");
        assert!(
            latest >= survived + 3 * BATCH as u64,
            "committed batches kept"
        );
        survived = latest;
    }
    // The journal is still writable and numbering continues after the crashes.
    let mut j = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    let entries: Vec<Entry> = (0..BATCH)
        .map(|i| Entry::new(UnixMillis::now(), "crash.test", payload(survived + 1, i)))
        .collect();
    assert_eq!(j.append(&entries).unwrap().start, survived + 1);
    drop(j);
    verify(dir.path());
}
