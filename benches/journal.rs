//! Journal throughput: group-commit appends of ~100-byte events in batches of 1, 100 and 1000
//! (one durable commit per batch), and the resume scan a reconnecting watcher does (read the
//! second half of a 100 k-event journal in pages). Same workload shape as
//! docs/performance.md §2d, so the figures compare with its table.
//!
//! `cargo bench --bench journal` (short: 10 samples, 2 s each).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal, Synchronous};
use trunkgate::journal::{Entry, Journal, UnixMillis};

const PAYLOAD_LEN: usize = 100;

fn entries(n: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            Entry::new(
                UnixMillis(1_700_000_000_000),
                "bench.event",
                vec![i as u8; PAYLOAD_LEN],
            )
        })
        .collect()
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal_append");
    for (sync, name) in [(Synchronous::Full, "full"), (Synchronous::Normal, "normal")] {
        for batch in [1usize, 100, 1000] {
            if sync == Synchronous::Normal && batch != 1000 {
                continue;
            }
            let dir = tempfile::tempdir().expect("temp dir");
            let config = SqliteConfig {
                synchronous: sync,
                ..SqliteConfig::default()
            };
            let mut j = SqliteJournal::open(dir.path(), &config).expect("open journal");
            let batch_entries = entries(batch);
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(BenchmarkId::new(name, batch), &batch_entries, |b, e| {
                b.iter(|| j.append(black_box(e)).expect("append"))
            });
        }
    }
    group.finish();
}

fn resume_scan(c: &mut Criterion) {
    const TOTAL: u64 = 100_000;
    const PAGE: usize = 1000;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut j = SqliteJournal::open(dir.path(), &SqliteConfig::default()).expect("open journal");
    let batch = entries(1000);
    while j.latest_seq() < TOTAL {
        j.append(&batch).expect("prefill");
    }
    drop(j);
    // Reopen as a watcher's reader would find it after a restart.
    let j = SqliteJournal::open(dir.path(), &SqliteConfig::default()).expect("reopen");
    let reader = j.reader().expect("reader");
    let mut group = c.benchmark_group("journal_resume_scan");
    group.throughput(Throughput::Elements(TOTAL / 2));
    group.bench_function("from_50k_pages_of_1000", |b| {
        b.iter(|| {
            let mut cursor = TOTAL / 2;
            loop {
                let page = reader.read_after(cursor, PAGE).expect("read");
                match page.last() {
                    Some(r) => cursor = r.seq,
                    None => break,
                }
                black_box(&page);
            }
            cursor
        })
    });
    // Baseline under the same machine load: the bare rowid range scan, no `Record`s built.
    let raw = rusqlite::Connection::open_with_flags(
        dir.path().join(trunkgate::journal::sqlite::FILE_NAME),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("raw reader");
    group.bench_function("raw_sqlite_baseline", |b| {
        b.iter(|| {
            let mut stmt = raw
                .prepare_cached("SELECT seq, payload FROM events WHERE seq > ?1")
                .expect("prepare");
            let mut rows = stmt.query([TOTAL as i64 / 2]).expect("query");
            let mut bytes = 0;
            while let Some(row) = rows.next().expect("row") {
                bytes += row
                    .get_ref(1)
                    .expect("payload")
                    .as_blob()
                    .expect("blob")
                    .len();
            }
            bytes
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = append, resume_scan
}
criterion_main!(benches);
