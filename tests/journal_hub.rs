//! The watcher hub over a real SQLite journal: live order, the replay/live handover under
//! racing publishes, slow-watcher cuts and bounded queues.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use trunkgate::journal::hub::{
    DecodeError, Hub, HubConfig, Sequenced, Start, Subscription, WatchEnd,
};
use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal, Synchronous};
use trunkgate::journal::{Entry, Journal, Record, UnixMillis};

#[derive(Debug)]
struct Ev {
    seq: u64,
    body: Bytes,
}

impl Sequenced for Ev {
    fn seq(&self) -> u64 {
        self.seq
    }
}

fn decode(r: Record) -> Result<Option<Ev>, DecodeError> {
    Ok(Some(Ev {
        seq: r.seq,
        body: r.payload,
    }))
}

/// The driver's two steps: journal durably, then publish what was committed.
fn append_publish(j: &mut SqliteJournal, hub: &Hub<Ev>, n: usize) -> Vec<Arc<Ev>> {
    let entries: Vec<Entry> = (0..n)
        .map(|i| Entry::new(UnixMillis(0), "ev", vec![i as u8; 100]))
        .collect();
    let range = j.append(&entries).unwrap();
    let events: Vec<Arc<Ev>> = range
        .iter()
        .zip(entries)
        .map(|(seq, e)| {
            Arc::new(Ev {
                seq,
                body: e.payload,
            })
        })
        .collect();
    hub.publish(&events);
    events
}

fn open(dir: &std::path::Path) -> SqliteJournal {
    // NORMAL: these tests are about the hub, not fsync.
    let config = SqliteConfig {
        synchronous: Synchronous::Normal,
        ..SqliteConfig::default()
    };
    SqliteJournal::open(dir, &config).unwrap()
}

fn hub_config(queue_capacity: usize) -> HubConfig {
    HubConfig {
        queue_capacity,
        max_watchers: 64,
        replay_page: 16,
    }
}

async fn next(sub: &mut Subscription<Ev>) -> Result<Arc<Ev>, WatchEnd> {
    tokio::time::timeout(Duration::from_secs(30), sub.next())
        .await
        .expect("event or end within the deadline")
}

/// Tiny deterministic generator (no RNG dependency needed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[tokio::test]
async fn live_subscriber_gets_every_event_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path());
    let hub = Hub::new(j.reader().unwrap(), decode, hub_config(4096)).unwrap();
    let mut sub = hub.subscribe(Start::Live).await.unwrap();
    let mut published = Vec::new();
    for n in [1, 5, 100, 3] {
        published.extend(append_publish(&mut j, &hub, n));
    }
    for want in &published {
        let got = next(&mut sub).await.unwrap();
        assert!(
            Arc::ptr_eq(&got, want),
            "the published Arc itself, not a copy"
        );
        assert_eq!(got.body.len(), 100);
    }
    assert_eq!(sub.queued(), 0);
}

/// Subscribers with cursors near the live tail, racing a publisher on another thread, each
/// see every seq from their cursor to the end exactly once. A small queue makes some of them
/// get cut; they resume from the cursor the cut names, which must lose nothing either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_cursor_racing_publishes_sees_every_seq_exactly_once() {
    const ITERATIONS: u64 = 12;
    const SUBSCRIBERS: u64 = 6;
    const BATCHES: usize = 300;
    let mut cuts = 0;
    for iteration in 0..ITERATIONS {
        let dir = tempfile::tempdir().unwrap();
        let mut j = open(dir.path());
        let hub = Hub::new(j.reader().unwrap(), decode, hub_config(64)).unwrap();
        append_publish(&mut j, &hub, 50);
        let mut rng = Lcg(iteration);
        let sizes: Vec<usize> = (0..BATCHES).map(|_| 1 + rng.below(8) as usize).collect();
        let total = 50 + sizes.iter().sum::<usize>() as u64;

        let publisher = {
            let hub = hub.clone();
            std::thread::spawn(move || {
                for (i, n) in sizes.into_iter().enumerate() {
                    append_publish(&mut j, &hub, n);
                    if i % 4 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        };

        let mut tasks = Vec::new();
        for k in 0..SUBSCRIBERS {
            let hub = hub.clone();
            let offset = if k == 1 { 0 } else { rng.below(40) };
            tasks.push(tokio::spawn(async move {
                // Start at staggered points of the publishing.
                let deadline = Instant::now() + Duration::from_secs(30);
                while hub.latest_seq() < 50 + (total - 50) * k / SUBSCRIBERS {
                    assert!(Instant::now() < deadline, "publisher stalled");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let mut cursor = hub.latest_seq().saturating_sub(offset);
                let mut cuts = 0;
                let mut sub = hub
                    .subscribe(Start::After(hub.cursor(cursor)))
                    .await
                    .unwrap();
                while cursor < total {
                    match next(&mut sub).await {
                        Ok(ev) => {
                            assert_eq!(ev.seq, cursor + 1, "no gap, no duplicate");
                            cursor = ev.seq;
                        }
                        Err(WatchEnd::Lagged { resume_after }) => {
                            assert_eq!(
                                resume_after,
                                hub.cursor(cursor),
                                "cut names the last delivered"
                            );
                            cuts += 1;
                            sub = hub.subscribe(Start::After(resume_after)).await.unwrap();
                        }
                        Err(end) => panic!("unexpected end {end:?}"),
                    }
                }
                cuts
            }));
        }
        for t in tasks {
            cuts += t.await.unwrap();
        }
        publisher.join().unwrap();
        assert_eq!(hub.latest_seq(), total);
    }
    eprintln!("racing subscribers were cut and resumed {cuts} times");
}

/// A watcher that never reads is cut with the cursor of the last event it took, and freed;
/// a watcher that keeps up, on the same hub, gets everything and is never cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_watcher_is_cut_while_fast_one_keeps_everything() {
    const CAPACITY: usize = 32;
    const BATCHES: u64 = 20;
    const BATCH: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path());
    let hub = Hub::new(j.reader().unwrap(), decode, hub_config(CAPACITY)).unwrap();
    let total = BATCHES * BATCH as u64;

    let mut slow = hub.subscribe(Start::Live).await.unwrap();
    let mut fast = hub.subscribe(Start::Live).await.unwrap();
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0u64);
    let fast_task = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() < total as usize {
            let ev = next(&mut fast).await.expect("fast watcher is never cut");
            seen.push(ev.seq);
            progress_tx.send_replace(ev.seq);
        }
        seen
    });

    append_publish(&mut j, &hub, BATCH);
    for want in 1..=5 {
        assert_eq!(next(&mut slow).await.unwrap().seq, want);
    }
    // From here the slow watcher never reads. Publishing never waits for it; it waits only
    // for the fast one, so that one cannot overflow whatever the scheduling.
    for b in 1..BATCHES {
        tokio::time::timeout(
            Duration::from_secs(30),
            progress.wait_for(|s| *s == b * BATCH as u64),
        )
        .await
        .expect("fast watcher keeps up")
        .unwrap();
        append_publish(&mut j, &hub, BATCH);
        assert!(slow.queued() <= CAPACITY, "queue bounded");
    }
    let seen = tokio::time::timeout(Duration::from_secs(30), fast_task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());

    assert_eq!(slow.queued(), 0, "cut watcher's queue freed");
    assert!(slow.high_water() <= CAPACITY);
    assert_eq!(
        next(&mut slow).await.unwrap_err(),
        WatchEnd::Lagged {
            resume_after: hub.cursor(5)
        }
    );
    assert_eq!(hub.stats().cut_total, 1);

    // The resume cursor loses nothing: replay 6.. from the journal, then live.
    let mut resumed = hub.subscribe(Start::After(hub.cursor(5))).await.unwrap();
    append_publish(&mut j, &hub, 1);
    for want in 6..=total + 1 {
        assert_eq!(next(&mut resumed).await.unwrap().seq, want);
    }
}

#[tokio::test]
async fn queue_never_exceeds_its_bound() {
    const CAPACITY: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path());
    let hub = Hub::new(j.reader().unwrap(), decode, hub_config(CAPACITY)).unwrap();
    let idle = hub.subscribe(Start::Live).await.unwrap();
    let mut kept = Vec::new();
    for _ in 0..100 {
        kept.extend(append_publish(&mut j, &hub, 3));
        assert!(idle.queued() <= CAPACITY);
    }
    assert_eq!(idle.high_water(), 15, "5 batches of 3 fit, the 6th cut it");
    assert!(
        kept.iter().all(|e| Arc::strong_count(e) == 1),
        "nothing retained for the cut watcher"
    );
    // One batch larger than the whole queue cuts at once.
    let mut small = hub.subscribe(Start::Live).await.unwrap();
    append_publish(&mut j, &hub, CAPACITY + 1);
    assert_eq!(
        next(&mut small).await.unwrap_err(),
        WatchEnd::Lagged {
            resume_after: hub.cursor(300)
        }
    );
    assert_eq!(hub.stats().watchers, 0);
}
