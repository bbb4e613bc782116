//! Housekeeping at a large state: what the driver thread spends on a snapshot and on
//! retention, i.e. the longest pause ingest can see from housekeeping.
//!
//! Builds a core with `HOUSEKEEPING_RADIOS` radios (default 1,000,000 under `cargo bench`,
//! 1,000 when `cargo test` runs it as a smoke test), each registered and
//! named, journals their events in a real SQLite journal in a temporary directory, then
//! measures, three times over, what the driver does: copy the state on its own thread (the
//! only housekeeping step left there), then keep appending batches of 100 events every
//! millisecond while the housekeeping thread encodes the copy, saves it in chunks and
//! prunes in chunks on its own connection. The longest append in that time is the pause
//! ingest sees from housekeeping.
//!
//! `cargo bench --bench housekeeping` prints the figures; the measured ones are in
//! docs/operations.md.

use std::time::{Duration, Instant};

use trunkgate::app::driver::encode_snapshot;
use trunkgate::dispatch::{
    AirEvent, AirInput, Config, Core, Directory, DirectoryRadio, Input, RadioId, SiteId, Timestamp,
};
use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal};
use trunkgate::journal::{Entry, Journal, UnixMillis};
use trunkgate::link::Slot;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this as a smoke test
    // (a thousand radios) so the suite stays quick.
    let benching = std::env::args().any(|a| a == "--bench");
    let radios: u32 = std::env::var("HOUSEKEEPING_RADIOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 1_000_000 } else { 1_000 });
    let dir = tempfile::tempdir().unwrap();
    let mut journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    let mut core = Core::new(Config::default());
    let site = SiteId::new("county-town");
    let mut out = Vec::new();
    let started = Instant::now();
    let directory = Directory {
        radios: (0..radios)
            .map(|i| DirectoryRadio {
                id: RadioId::new(0x10_0000 + i).unwrap(),
                name: Some(format!("队员{i:07}")),
            })
            .collect(),
        ..Directory::default()
    };
    core.handle(Timestamp(1), Input::Directory(directory), &mut out);
    let mut pending = Vec::new();
    let flush = |events: &mut Vec<trunkgate::dispatch::Output>, journal: &mut SqliteJournal| {
        let entries: Vec<Entry> = events
            .drain(..)
            .filter_map(|o| match o {
                trunkgate::dispatch::Output::Event(e) => Some(Entry::new(
                    UnixMillis(e.at.0 as i64),
                    e.kind.name(),
                    serde_json::to_vec(&e).unwrap(),
                )),
                _ => None,
            })
            .collect();
        journal.append(&entries).unwrap();
    };
    flush(&mut out, &mut journal);
    for i in 0..radios {
        let input = Input::Air(AirInput {
            site: site.clone(),
            slot: Slot::One,
            rssi_dbm: Some(-80),
            event: AirEvent::Registered {
                radio: RadioId::new(0x10_0000 + i).unwrap(),
            },
        });
        core.handle(Timestamp(2 + u64::from(i)), input, &mut pending);
        if pending.len() >= 8192 {
            flush(&mut pending, &mut journal);
        }
    }
    flush(&mut pending, &mut journal);
    println!(
        "state: {radios} radios registered, {} events journaled, in {:.1} s",
        journal.latest_seq(),
        started.elapsed().as_secs_f64()
    );

    // Small events to append while housekeeping runs, as the driver would.
    let batch: Vec<Entry> = (0..100)
        .map(|i| {
            Entry::new(
                UnixMillis(20_000_000),
                "radio_heard",
                vec![b'x'; 120 + i % 7],
            )
        })
        .collect();
    let mut worst_clone = Duration::ZERO;
    let mut worst_wait = Duration::ZERO;
    for round in 0..3u32 {
        // On the driver thread: the copy of the state.
        let t = Instant::now();
        let image = core.snapshot();
        let clone = t.elapsed();
        // On the housekeeping thread: encode, save in chunks, prune in chunks...
        let seq = journal.latest_seq();
        let mut housekeeper = journal.housekeeper().unwrap();
        let worker = std::thread::spawn(move || {
            let t = Instant::now();
            let data = encode_snapshot(&image).unwrap();
            let encode = t.elapsed();
            drop(image);
            let t = Instant::now();
            housekeeper.save_snapshot(seq, &data).unwrap();
            let save = t.elapsed();
            let t = Instant::now();
            let pruned = housekeeper
                .prune(UnixMillis(i64::MAX), Duration::ZERO)
                .unwrap();
            (encode, save, t.elapsed(), data.len(), pruned.deleted)
        });
        // ...while the driver keeps appending: the longest append is the pause ingest sees.
        let (mut appends, mut longest) = (0u64, Duration::ZERO);
        while !worker.is_finished() {
            let t = Instant::now();
            journal.append(&batch).unwrap();
            longest = longest.max(t.elapsed());
            appends += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        let (encode, save, prune, bytes, deleted) = worker.join().unwrap();
        println!(
            "round {round}: on the driver thread: clone {:.1} ms; beside it: encode {:.0} ms \
             ({:.0} MB), save {:.0} ms, prune {:.0} ms ({deleted} records); meanwhile {appends} \
             appends of 100 events, the longest {:.1} ms",
            ms(clone),
            ms(encode),
            bytes as f64 / 1e6,
            ms(save),
            ms(prune),
            ms(longest),
        );
        worst_clone = worst_clone.max(clone);
        worst_wait = worst_wait.max(longest);
        // More state changes so the next round has work.
        for i in 0..radios.min(50_000) {
            let input = Input::Air(AirInput {
                site: site.clone(),
                slot: Slot::Two,
                rssi_dbm: Some(-70),
                event: AirEvent::Registered {
                    radio: RadioId::new(0x10_0000 + (i * 7 + round) % radios).unwrap(),
                },
            });
            core.handle(Timestamp(10_000_000 + u64::from(i)), input, &mut pending);
        }
        flush(&mut pending, &mut journal);
    }
    println!(
        "longest pause of ingest: the state copy {:.1} ms on the driver thread; the longest \
         append while housekeeping ran {:.1} ms",
        ms(worst_clone),
        ms(worst_wait)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
