//! The hub: fan-out of journaled events to many watchers, resumable by cursor.
//!
//! Contract (docs/design.md, "The slowest client never slows the radio side";
//! docs/dispatch.md §4.2):
//! - The driver calls [`Hub::publish`] with events it has **already committed** to the
//!   journal, in sequence order. `publish` never blocks on and never awaits a watcher: it
//!   pushes an `Arc` of each event into every watcher's bounded queue, and cuts any watcher
//!   whose queue cannot take the batch. Events are decoded once and shared by `Arc`.
//! - A cut watcher's queue is freed at once; its stream ends with
//!   [`WatchEnd::Lagged`]`{ resume_after }`, the cursor of the last event it actually received
//!   (the API maps it to `RESOURCE_EXHAUSTED` with that cursor). Resuming from it replays from
//!   the journal, so nothing, alarms least of all, is lost by a cut (the tokio-rs/console
//!   aggregator drops full watchers the same way, `retain_and_shrink`).
//! - Every cursor the hub takes or names is a [`Cursor`] of its journal ([`Hub::identity`]):
//!   a cursor of another journal (the file was re-created or replaced) fails the subscribe
//!   with [`CursorError::OtherJournal`] naming both journals, never a resume in unrelated
//!   history.
//! - [`Start::Live`] starts at the live tail. [`Start::After`]`(cursor)` replays the journal
//!   after `cursor`, then hands over to live events with no gap and no duplicate, even while
//!   publishes race the subscription. The scheme: under the hub lock (the same lock `publish`
//!   takes) the live queue is registered and the latest published seq `L` is noted; every
//!   event published later has `seq > L` and lands in the queue. The subscription then replays
//!   `(cursor, L]` from the journal (durable before publish, so it holds all of it) and, once
//!   done, drains the queue skipping `seq <= max(cursor, L)`.
//! - A cursor the journal no longer holds fails the subscribe with
//!   [`CursorError::OutOfRange`]`{ oldest_available }` (the API's `OUT_OF_RANGE`); if retention
//!   overtakes a replay in progress the stream ends with [`WatchEnd::OutOfRange`].
//! - Memory is bounded: each queue holds at most `queue_capacity` events, a replay holds one
//!   page, and at most `max_watchers` subscriptions exist.
//!
//! Heartbeats are the API's job; [`Hub::latest_cursor`] gives the cursor they carry.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::{Cursor, CursorError, JournalError, JournalId, JournalReader, Record};

/// An event that knows its journal sequence number.
pub trait Sequenced {
    /// The journal sequence number the event was stored under.
    fn seq(&self) -> u64;
}

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the live tail: only events published after the subscribe.
    Live,
    /// After this cursor (the last event the client saw; seq 0 for everything retained). It
    /// must be a cursor of this hub's journal.
    After(Cursor),
}

/// Why a subscription's stream ended. Every variant that can be resumed names the cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchEnd {
    /// The watcher's queue overflowed; resume after `resume_after`.
    #[error("watcher fell behind; resume after {resume_after}")]
    Lagged { resume_after: Cursor },
    /// Retention pruned records this replay still needed.
    #[error("journal pruned past the replay; oldest available cursor is {oldest_available}")]
    OutOfRange { oldest_available: Cursor },
    /// The hub shut down; resume after `resume_after` from the next process.
    #[error("hub closed; resume after {resume_after}")]
    Closed { resume_after: Cursor },
    /// Reading or decoding the journal failed during replay.
    #[error("replay failed after {resume_after}: {reason}")]
    Failed {
        resume_after: Cursor,
        reason: String,
    },
}

/// Why a subscribe was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// The cursor is older than retention, ahead of the journal, or of another journal.
    #[error(transparent)]
    Cursor(#[from] CursorError),
    /// The journal could not be read.
    #[error(transparent)]
    Journal(JournalError),
    /// `max_watchers` subscriptions exist already.
    #[error("too many watchers (at most {max})")]
    TooManyWatchers { max: usize },
    /// The hub is shut down.
    #[error("hub closed")]
    Closed,
}

impl From<JournalError> for SubscribeError {
    fn from(e: JournalError) -> SubscribeError {
        match e {
            JournalError::Cursor(c) => SubscribeError::Cursor(c),
            other => SubscribeError::Journal(other),
        }
    }
}

/// Hub settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// Events a watcher may have queued before it is cut.
    pub queue_capacity: usize,
    /// Subscriptions allowed at once.
    pub max_watchers: usize,
    /// Records read from the journal per replay step.
    pub replay_page: usize,
}

impl Default for HubConfig {
    fn default() -> HubConfig {
        HubConfig {
            queue_capacity: 4096,
            max_watchers: 1024,
            replay_page: 512,
        }
    }
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HubStats {
    /// Subscriptions now registered.
    pub watchers: usize,
    /// Subscriptions ever accepted.
    pub subscribed_total: u64,
    /// Watchers cut for lagging.
    pub cut_total: u64,
    /// Events accepted by `publish`.
    pub published_total: u64,
    /// Events `publish` ignored because their seq was not above the latest (a driver bug).
    pub stale_total: u64,
}

/// Error a decoder returns for a record it cannot turn into an event.
pub type DecodeError = Box<dyn std::error::Error + Send + Sync>;

/// Turns a replayed record into the event published live under the same seq; `Ok(None)` for
/// records that are journaled but never published to watchers.
pub type Decoder<T> = Arc<dyn Fn(Record) -> Result<Option<T>, DecodeError> + Send + Sync>;

// Every critical section below finishes its mutation before anything that could panic, so a
// poisoned lock still guards consistent data.
fn lock<S>(m: &Mutex<S>) -> MutexGuard<'_, S> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct QueueState<T> {
    items: VecDeque<Arc<T>>,
    /// Seq of the last event handed to the client (replayed or live); the resume cursor.
    last_delivered: u64,
    /// Set once; after it nothing more is delivered and `items` stays empty.
    end: Option<WatchEnd>,
    /// Most events ever queued at once.
    high_water: usize,
}

/// One watcher's bounded queue, shared by the publisher (push) and the subscription (pop).
struct Queue<T> {
    state: Mutex<QueueState<T>>,
    notify: Notify,
}

impl<T> Queue<T> {
    /// End the stream: free the queue and record why, naming the resume cursor.
    fn end_with(s: &mut QueueState<T>, end: impl FnOnce(u64) -> WatchEnd) {
        if s.end.is_none() {
            s.end = Some(end(s.last_delivered));
        }
        s.items = VecDeque::new();
    }
}

struct HubState<T> {
    /// Seq of the newest event published (or in the journal when the hub was created).
    latest_seq: u64,
    watchers: HashMap<u64, Arc<Queue<T>>>,
    next_id: u64,
    closed: bool,
}

struct Shared<T> {
    config: HubConfig,
    reader: Arc<dyn JournalReader>,
    /// The reader's journal identity, part of every cursor.
    identity: JournalId,
    decode: Decoder<T>,
    /// Why one lock over the watcher map and `latest_seq`: `subscribe` must register its
    /// queue and read `latest_seq` atomically with respect to `publish`, which is what makes
    /// the replay/live handover gap-free. Critical sections never await or do I/O.
    state: Mutex<HubState<T>>,
    subscribed_total: AtomicU64,
    cut_total: AtomicU64,
    published_total: AtomicU64,
    stale_total: AtomicU64,
}

/// The fan-out point; cheap to clone (all clones share one hub).
pub struct Hub<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Hub<T> {
    fn clone(&self) -> Hub<T> {
        Hub {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Sequenced + Send + Sync + 'static> Hub<T> {
    /// A hub over `reader`'s journal; everything already in it counts as published (one
    /// blocking read: call it at startup). `decode` turns replayed records into events.
    pub fn new(
        reader: Arc<dyn JournalReader>,
        decode: impl Fn(Record) -> Result<Option<T>, DecodeError> + Send + Sync + 'static,
        config: HubConfig,
    ) -> Result<Hub<T>, JournalError> {
        let latest_seq = reader.latest_seq()?;
        Ok(Hub {
            shared: Arc::new(Shared {
                config,
                identity: reader.identity(),
                reader,
                decode: Arc::new(decode),
                state: Mutex::new(HubState {
                    latest_seq,
                    watchers: HashMap::new(),
                    next_id: 0,
                    closed: false,
                }),
                subscribed_total: AtomicU64::new(0),
                cut_total: AtomicU64::new(0),
                published_total: AtomicU64::new(0),
                stale_total: AtomicU64::new(0),
            }),
        })
    }

    /// Hand committed events to every watcher. Never blocks on a watcher: one whose queue
    /// cannot take the whole batch is cut. Events must come in increasing seq order; any with
    /// a seq not above the latest published one is ignored and counted in `stale_total`.
    pub fn publish(&self, items: &[Arc<T>]) {
        let shared = &*self.shared;
        let mut st = lock(&shared.state);
        if st.closed {
            return;
        }
        let mut fresh = Vec::with_capacity(items.len());
        for item in items {
            if item.seq() > st.latest_seq {
                st.latest_seq = item.seq();
                fresh.push(Arc::clone(item));
            } else {
                shared.stale_total.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    seq = item.seq(),
                    latest = st.latest_seq,
                    "hub: stale event ignored"
                );
            }
        }
        shared
            .published_total
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        if fresh.is_empty() {
            return;
        }
        let capacity = shared.config.queue_capacity;
        let journal = shared.identity;
        st.watchers.retain(|_, q| {
            let mut s = lock(&q.state);
            let kept = if s.end.is_some() {
                false
            } else if s.items.len() + fresh.len() > capacity {
                Queue::end_with(&mut s, |seq| WatchEnd::Lagged {
                    resume_after: Cursor::new(journal, seq),
                });
                shared.cut_total.fetch_add(1, Ordering::Relaxed);
                false
            } else {
                s.items.extend(fresh.iter().cloned());
                s.high_water = s.high_water.max(s.items.len());
                true
            };
            drop(s);
            q.notify.notify_one();
            kept
        });
    }

    /// Subscribe from the live tail or after a cursor. Checks the cursor's journal, then the
    /// cursor against the journal (one small read, run off the async threads).
    pub async fn subscribe(&self, start: Start) -> Result<Subscription<T>, SubscribeError> {
        let cursor = match start {
            Start::Live => None,
            Start::After(c) => {
                let c = c.seq_in(self.shared.identity)?;
                let reader = Arc::clone(&self.shared.reader);
                tokio::task::spawn_blocking(move || reader.check_cursor(c))
                    .await
                    // The read task fails only when the runtime is shutting down.
                    .map_err(|_| SubscribeError::Closed)??;
                Some(c)
            }
        };
        let shared = &*self.shared;
        let mut st = lock(&shared.state);
        if st.closed {
            return Err(SubscribeError::Closed);
        }
        if st.watchers.len() >= shared.config.max_watchers {
            return Err(SubscribeError::TooManyWatchers {
                max: shared.config.max_watchers,
            });
        }
        let latest = st.latest_seq;
        let id = st.next_id;
        st.next_id += 1;
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                last_delivered: cursor.unwrap_or(latest),
                end: None,
                high_water: 0,
            }),
            notify: Notify::new(),
        });
        st.watchers.insert(id, Arc::clone(&queue));
        drop(st);
        shared.subscribed_total.fetch_add(1, Ordering::Relaxed);
        let from = cursor.unwrap_or(latest);
        Ok(Subscription {
            shared: Arc::clone(&self.shared),
            id,
            queue,
            replay_cursor: from,
            replay_until: latest,
            replayed: VecDeque::new(),
            skip_through: from.max(latest),
        })
    }

    /// Seq of the newest event published.
    pub fn latest_seq(&self) -> u64 {
        lock(&self.shared.state).latest_seq
    }

    /// Cursor of the newest event published (what a heartbeat carries).
    pub fn latest_cursor(&self) -> Cursor {
        self.cursor(self.latest_seq())
    }

    /// The identity of the hub's journal, part of every cursor it takes or names.
    pub fn identity(&self) -> JournalId {
        self.shared.identity
    }

    /// The cursor of `seq` in the hub's journal.
    pub fn cursor(&self, seq: u64) -> Cursor {
        Cursor::new(self.shared.identity, seq)
    }

    /// Counters for metrics.
    pub fn stats(&self) -> HubStats {
        let s = &*self.shared;
        HubStats {
            watchers: lock(&s.state).watchers.len(),
            subscribed_total: s.subscribed_total.load(Ordering::Relaxed),
            cut_total: s.cut_total.load(Ordering::Relaxed),
            published_total: s.published_total.load(Ordering::Relaxed),
            stale_total: s.stale_total.load(Ordering::Relaxed),
        }
    }

    /// Shut down: every stream ends with [`WatchEnd::Closed`] naming its resume cursor, and
    /// later subscribes are refused.
    pub fn close(&self) {
        let journal = self.shared.identity;
        let mut st = lock(&self.shared.state);
        st.closed = true;
        for (_, q) in st.watchers.drain() {
            Queue::end_with(&mut lock(&q.state), |seq| WatchEnd::Closed {
                resume_after: Cursor::new(journal, seq),
            });
            q.notify.notify_one();
        }
    }
}

/// One watcher's stream. Dropping it unregisters the watcher.
pub struct Subscription<T> {
    shared: Arc<Shared<T>>,
    id: u64,
    queue: Arc<Queue<T>>,
    /// Replay progress: the last seq read from the journal.
    replay_cursor: u64,
    /// Replay reads up to this seq (the latest published when subscribing), then live.
    replay_until: u64,
    /// The page read but not yet handed out (at most `replay_page` events).
    replayed: VecDeque<Arc<T>>,
    /// Live events up to this seq were (or will be) covered by the replay or the cursor.
    skip_through: u64,
}

impl<T: Sequenced + Send + Sync + 'static> Subscription<T> {
    /// The next event, in seq order, or why the stream ended (returned again on every later
    /// call). Cancel-safe: dropping the future loses nothing.
    pub async fn next(&mut self) -> Result<Arc<T>, WatchEnd> {
        loop {
            if let Some(item) = self.replayed.pop_front() {
                // Under the queue lock, so a cut sees either this delivery or none after it.
                let mut s = lock(&self.queue.state);
                if let Some(end) = &s.end {
                    return Err(end.clone());
                }
                s.last_delivered = item.seq();
                return Ok(item);
            }
            if self.replay_cursor < self.replay_until {
                if let Some(end) = &lock(&self.queue.state).end {
                    return Err(end.clone());
                }
                self.read_page().await?;
                continue;
            }
            {
                let mut s = lock(&self.queue.state);
                while let Some(item) = s.items.pop_front() {
                    if item.seq() <= self.skip_through {
                        continue;
                    }
                    s.last_delivered = item.seq();
                    return Ok(item);
                }
                if let Some(end) = &s.end {
                    return Err(end.clone());
                }
            }
            // `notify_one` stores a permit if we are not waiting yet, so a push between the
            // check above and this await is not missed.
            self.queue.notify.notified().await;
        }
    }

    /// Read and decode the next replay page off the async threads.
    async fn read_page(&mut self) -> Result<(), WatchEnd> {
        let reader = Arc::clone(&self.shared.reader);
        let decode = Arc::clone(&self.shared.decode);
        let cursor = self.replay_cursor;
        let want = (self.replay_until - cursor).min(self.shared.config.replay_page.max(1) as u64);
        let page = tokio::task::spawn_blocking(move || -> Result<_, ReplayError> {
            let records = reader.read_after(cursor, want as usize)?;
            let mut last = cursor;
            let mut out = Vec::with_capacity(records.len());
            for r in records {
                last = r.seq;
                if let Some(t) = decode(r).map_err(|e| ReplayError::Decode(last, e))? {
                    if t.seq() != last {
                        return Err(ReplayError::SeqMismatch(last, t.seq()));
                    }
                    out.push(Arc::new(t));
                }
            }
            Ok((out, last))
        })
        .await;
        let journal = self.shared.identity;
        let failed = |reason: String| WatchEnd::Failed {
            resume_after: Cursor::new(journal, cursor),
            reason,
        };
        let result = match page {
            Err(join) => Err(failed(format!("replay task: {join}"))),
            Ok(Err(ReplayError::Journal(JournalError::Cursor(CursorError::OutOfRange {
                oldest_available,
                ..
            })))) => Err(WatchEnd::OutOfRange {
                oldest_available: Cursor::new(journal, oldest_available),
            }),
            Ok(Err(e)) => Err(failed(e.to_string())),
            // The journal holds everything published; an empty page means it does not.
            Ok(Ok((_, last))) if last == cursor => Err(failed(format!(
                "journal ends before published seq {}",
                self.replay_until
            ))),
            Ok(Ok(page)) => Ok(page),
        };
        match result {
            Ok((items, last)) => {
                self.replay_cursor = last;
                self.replayed.extend(items);
                Ok(())
            }
            Err(end) => {
                self.finish(end.clone());
                Err(end)
            }
        }
    }

    /// End the stream for a reason of the subscription's own, freeing its queue.
    fn finish(&self, end: WatchEnd) {
        lock(&self.shared.state).watchers.remove(&self.id);
        Queue::end_with(&mut lock(&self.queue.state), |_| end);
    }

    /// Seq of the last event handed out (the cursor to resume from is
    /// [`Hub::cursor`] of it).
    pub fn last_delivered(&self) -> u64 {
        lock(&self.queue.state).last_delivered
    }

    /// Live events queued now.
    pub fn queued(&self) -> usize {
        lock(&self.queue.state).items.len()
    }

    /// Most live events ever queued at once (never above `queue_capacity`).
    pub fn high_water(&self) -> usize {
        lock(&self.queue.state).high_water
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        lock(&self.shared.state).watchers.remove(&self.id);
    }
}

#[derive(Debug, thiserror::Error)]
enum ReplayError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("decode seq {0}: {1}")]
    Decode(u64, DecodeError),
    #[error("decoder gave seq {1} for record {0}")]
    SeqMismatch(u64, u64),
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::journal::memory::MemoryJournal;
    use crate::journal::{Entry, Journal, UnixMillis};

    #[derive(Debug, PartialEq, Eq)]
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

    fn config(queue_capacity: usize) -> HubConfig {
        HubConfig {
            queue_capacity,
            max_watchers: 4,
            replay_page: 3,
        }
    }

    /// Append `n` events and return them as the driver would publish them.
    fn append(j: &mut MemoryJournal, n: usize) -> Vec<Arc<Ev>> {
        let entries: Vec<Entry> = (0..n)
            .map(|i| Entry::new(UnixMillis(0), "ev", vec![i as u8]))
            .collect();
        let range = j.append(&entries).unwrap();
        range
            .iter()
            .zip(entries)
            .map(|(seq, e)| {
                Arc::new(Ev {
                    seq,
                    body: e.payload,
                })
            })
            .collect()
    }

    fn hub(j: &MemoryJournal, cap: usize) -> Hub<Ev> {
        Hub::new(j.reader().unwrap(), decode, config(cap)).unwrap()
    }

    async fn take(sub: &mut Subscription<Ev>, n: usize) -> Vec<u64> {
        let mut out = Vec::new();
        for _ in 0..n {
            let item = tokio::time::timeout(Duration::from_secs(10), sub.next())
                .await
                .expect("item within deadline")
                .expect("stream open");
            out.push(item.seq);
        }
        out
    }

    #[tokio::test]
    async fn live_gets_every_event_once_in_order() {
        let mut j = MemoryJournal::new();
        append(&mut j, 5); // before the hub: not live
        let h = hub(&j, 16);
        let mut sub = h.subscribe(Start::Live).await.unwrap();
        for n in [1, 4, 2] {
            h.publish(&append(&mut j, n));
        }
        assert_eq!(take(&mut sub, 7).await, (6..=12).collect::<Vec<_>>());
        assert_eq!(sub.queued(), 0);
        assert_eq!(h.latest_seq(), 12);
    }

    #[tokio::test]
    async fn after_cursor_replays_then_goes_live() {
        let mut j = MemoryJournal::new();
        append(&mut j, 10);
        let h = hub(&j, 16);
        let mut sub = h.subscribe(Start::After(h.cursor(3))).await.unwrap();
        h.publish(&append(&mut j, 5));
        assert_eq!(take(&mut sub, 12).await, (4..=15).collect::<Vec<_>>());
        h.publish(&append(&mut j, 1));
        assert_eq!(take(&mut sub, 1).await, vec![16]);
    }

    #[tokio::test]
    async fn cursor_between_published_and_journaled_skips_what_it_has() {
        let mut j = MemoryJournal::new();
        append(&mut j, 5);
        let h = hub(&j, 16);
        // Journaled, not yet published (the driver is between its two steps).
        let pending = append(&mut j, 5);
        let mut sub = h.subscribe(Start::After(h.cursor(7))).await.unwrap();
        h.publish(&pending);
        assert_eq!(take(&mut sub, 3).await, vec![8, 9, 10]);
    }

    #[tokio::test]
    async fn stale_publish_ignored_and_counted() {
        let mut j = MemoryJournal::new();
        let first = append(&mut j, 3);
        let h = hub(&j, 16);
        let mut sub = h.subscribe(Start::Live).await.unwrap();
        h.publish(&first); // already covered by the journal at hub creation
        h.publish(&append(&mut j, 1));
        assert_eq!(take(&mut sub, 1).await, vec![4]);
        assert_eq!(h.stats().stale_total, 3);
        assert_eq!(h.stats().published_total, 1);
    }

    #[tokio::test]
    async fn full_queue_cuts_with_last_delivered_and_frees_it() {
        let mut j = MemoryJournal::new();
        let h = hub(&j, 4);
        let mut sub = h.subscribe(Start::Live).await.unwrap();
        h.publish(&append(&mut j, 3));
        assert_eq!(take(&mut sub, 2).await, vec![1, 2]);
        let batch = append(&mut j, 3); // 1 queued + 3 = 4: fits
        h.publish(&batch);
        assert_eq!(sub.queued(), 4);
        let over = append(&mut j, 1);
        h.publish(&over);
        assert_eq!(sub.queued(), 0, "queue freed on cut");
        assert_eq!(Arc::strong_count(&over[0]), 1, "no watcher holds the event");
        assert_eq!(Arc::strong_count(&batch[0]), 1);
        assert_eq!(sub.high_water(), 4);
        let end = WatchEnd::Lagged {
            resume_after: h.cursor(2),
        };
        assert_eq!(sub.next().await.unwrap_err(), end);
        assert_eq!(sub.next().await.unwrap_err(), end, "end is sticky");
        let stats = h.stats();
        assert_eq!((stats.watchers, stats.cut_total), (0, 1));
        // Resuming from the cursor misses nothing.
        let mut again = h.subscribe(Start::After(h.cursor(2))).await.unwrap();
        assert_eq!(take(&mut again, 5).await, vec![3, 4, 5, 6, 7]);
    }

    #[tokio::test]
    async fn cut_during_replay_names_replay_progress() {
        let mut j = MemoryJournal::new();
        append(&mut j, 10);
        let h = hub(&j, 2);
        let mut sub = h.subscribe(Start::After(h.cursor(0))).await.unwrap();
        assert_eq!(take(&mut sub, 4).await, vec![1, 2, 3, 4]);
        h.publish(&append(&mut j, 3));
        assert_eq!(
            sub.next().await.unwrap_err(),
            WatchEnd::Lagged {
                resume_after: h.cursor(4)
            }
        );
    }

    #[tokio::test]
    async fn out_of_range_cursor_refused_with_oldest() {
        let mut j = MemoryJournal::new();
        append(&mut j, 10);
        j.save_snapshot(6, b"s").unwrap();
        j.prune(UnixMillis(1), Duration::ZERO).unwrap();
        let h = hub(&j, 8);
        match h.subscribe(Start::After(h.cursor(2))).await {
            Err(SubscribeError::Cursor(CursorError::OutOfRange {
                cursor: 2,
                oldest_available: 6,
            })) => {}
            Err(e) => panic!("want OutOfRange, got {e:?}"),
            Ok(_) => panic!("want OutOfRange, got a subscription"),
        }
        assert!(matches!(
            h.subscribe(Start::After(h.cursor(11))).await,
            Err(SubscribeError::Cursor(CursorError::Ahead { .. }))
        ));
        let mut sub = h.subscribe(Start::After(h.cursor(6))).await.unwrap();
        assert_eq!(take(&mut sub, 4).await, vec![7, 8, 9, 10]);
    }

    #[tokio::test]
    async fn a_cursor_of_another_journal_is_refused_naming_both() {
        let mut j = MemoryJournal::new();
        append(&mut j, 5);
        let h = hub(&j, 8);
        assert_eq!(h.identity(), j.identity());
        assert_eq!(h.latest_cursor(), Cursor::new(j.identity(), 5));
        // Same seqs, another journal (re-created or replaced): refused, even in range.
        let other = MemoryJournal::new().identity();
        match h.subscribe(Start::After(Cursor::new(other, 2))).await {
            Err(SubscribeError::Cursor(CursorError::OtherJournal {
                cursor_journal,
                journal,
            })) => assert_eq!((cursor_journal, journal), (other, j.identity())),
            Err(e) => panic!("want OtherJournal, got {e:?}"),
            Ok(_) => panic!("want OtherJournal, got a subscription"),
        }
        assert_eq!(h.stats().subscribed_total, 0);
        let mut sub = h.subscribe(Start::After(h.cursor(2))).await.unwrap();
        assert_eq!(take(&mut sub, 3).await, vec![3, 4, 5]);
    }

    #[tokio::test]
    async fn prune_overtaking_replay_ends_stream() {
        let mut j = MemoryJournal::new();
        append(&mut j, 10);
        let h = hub(&j, 8);
        let mut sub = h.subscribe(Start::After(h.cursor(0))).await.unwrap();
        assert_eq!(take(&mut sub, 3).await, vec![1, 2, 3]); // one page
        j.save_snapshot(8, b"s").unwrap();
        j.prune(UnixMillis(1), Duration::ZERO).unwrap();
        assert_eq!(
            sub.next().await.unwrap_err(),
            WatchEnd::OutOfRange {
                oldest_available: h.cursor(8)
            }
        );
        assert_eq!(h.stats().watchers, 0);
    }

    #[tokio::test]
    async fn decoder_failure_ends_stream_with_cursor() {
        let mut j = MemoryJournal::new();
        append(&mut j, 5);
        let h: Hub<Ev> = Hub::new(
            j.reader().unwrap(),
            |r: Record| {
                if r.seq == 5 {
                    Err("bad payload".into())
                } else {
                    decode(r)
                }
            },
            config(8),
        )
        .unwrap();
        let mut sub = h.subscribe(Start::After(h.cursor(0))).await.unwrap();
        assert_eq!(take(&mut sub, 3).await, vec![1, 2, 3]);
        match sub.next().await.unwrap_err() {
            WatchEnd::Failed {
                resume_after,
                reason,
            } if resume_after == h.cursor(3) => assert!(reason.contains("seq 5")),
            other => panic!("want Failed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn decoder_may_hide_records() {
        let mut j = MemoryJournal::new();
        append(&mut j, 6);
        let h: Hub<Ev> = Hub::new(
            j.reader().unwrap(),
            |r: Record| {
                if r.seq.is_multiple_of(2) {
                    decode(r)
                } else {
                    Ok(None)
                }
            },
            config(8),
        )
        .unwrap();
        let mut sub = h.subscribe(Start::After(h.cursor(0))).await.unwrap();
        assert_eq!(take(&mut sub, 3).await, vec![2, 4, 6]);
    }

    #[tokio::test]
    async fn close_ends_every_stream_and_refuses_new() {
        let mut j = MemoryJournal::new();
        let h = hub(&j, 8);
        let mut sub = h.subscribe(Start::Live).await.unwrap();
        h.publish(&append(&mut j, 2));
        assert_eq!(take(&mut sub, 2).await, vec![1, 2]);
        let waiter = tokio::spawn(async move { sub.next().await });
        tokio::task::yield_now().await; // let it park (the end is reported either way)
        h.close();
        let end = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            end.unwrap_err(),
            WatchEnd::Closed {
                resume_after: h.cursor(2)
            }
        );
        assert!(matches!(
            h.subscribe(Start::Live).await,
            Err(SubscribeError::Closed)
        ));
    }

    #[tokio::test]
    async fn watcher_limit_and_drop_unregisters() {
        let j = MemoryJournal::new();
        let h = hub(&j, 8);
        let mut subs = Vec::new();
        for _ in 0..4 {
            subs.push(h.subscribe(Start::Live).await.unwrap());
        }
        assert!(matches!(
            h.subscribe(Start::Live).await,
            Err(SubscribeError::TooManyWatchers { max: 4 })
        ));
        subs.pop();
        assert_eq!(h.stats().watchers, 3);
        assert!(h.subscribe(Start::Live).await.is_ok());
        assert_eq!(h.stats().subscribed_total, 5);
    }
}
