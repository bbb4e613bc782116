//! The dispatch driver: one thread that owns the core and the journal writer.
//!
//! Contract (../shared/DESIGN.md "The event log is the truth"; STYLE.md "The core and the
//! async edges"):
//! - Everything the core reacts to (air inputs, link state, operator commands) arrives through
//!   one bounded channel. Read-only queries run on the same thread between batches, so they
//!   see a consistent state and no lock is ever shared with the API.
//! - A batch is whatever is queued when the thread wakes (at most `max_batch`): each input is
//!   handled, then **all** its events are appended in one journal commit (group commit), then
//!   published to the hub, then commands are answered, then transmissions are handed to the
//!   links. So an event is durable before any watcher, or the client that caused it, sees it.
//! - Time comes from the wall clock here and nowhere else; the core gets it as an argument.
//! - On start the core is the latest snapshot plus the replay of the later events; the
//!   configured directory is then applied and [`Core::recover`] resumes or fails the
//!   operations that were in flight, every step an event.
//! - A snapshot is saved every `snapshot_every` events, and no sooner than the events since
//!   the last one add up to as many bytes as that snapshot, so its cost, which grows with the
//!   state, stays amortised (benches/gateway.rs: registering a million radios with a snapshot
//!   every 10,000 events kept the driver serialising, and a third of the registrations were
//!   dropped). Retention prunes what is older than both the window and that snapshot.
//! - A full input channel drops air inputs (counted); a command gets `Unavailable`. The
//!   radio side never waits for the core.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{oneshot, watch};

use crate::api::backend::JournaledEvent;
use crate::dispatch::{
    self, Core, CoreSnapshot, DispatchError, Event, Input, Output, Reply, Request, Timestamp,
};
use crate::journal::hub::{DecodeError, Hub, HubConfig};
use crate::journal::{
    CursorError, Entry, Journal, JournalError, JournalReader, Record, UnixMillis,
};

/// Decode a journal record into an event (the hub's replay decoder).
pub fn decode_record(record: Record) -> Result<Option<JournaledEvent>, DecodeError> {
    match serde_json::from_slice::<Event>(&record.payload) {
        Ok(event) => Ok(Some(JournaledEvent::new(record.seq, event))),
        Err(e) => Err(format!("event at seq {}: {e}", record.seq).into()),
    }
}

/// Where a command's answer goes.
type ReplySender = oneshot::Sender<Result<Reply, DispatchError>>;

/// A read-only query run on the driver thread: the core and the latest journaled cursor.
pub type ReadFn = Box<dyn FnOnce(&Core, u64) + Send>;

/// What the driver thread takes.
pub enum DriverRequest {
    /// Something for the core (air, link state, directory).
    Input(Input),
    /// Several inputs at once, in order (what an ingest pass decoded).
    Inputs(Vec<Input>),
    /// An operator command; answered after its events are durable.
    Command {
        request: Request,
        reply: oneshot::Sender<Result<Reply, DispatchError>>,
    },
    /// A query against a consistent view.
    Read(ReadFn),
    /// Save a final snapshot and stop.
    Shutdown,
}

/// Driver settings.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Events between snapshots.
    pub snapshot_every: u64,
    /// Events older than this (and than the latest snapshot) are pruned.
    pub retention: Duration,
    /// Longest sleep between two ticks of the core.
    pub tick: Duration,
    /// Inputs handled per batch at most (one journal commit per batch).
    pub max_batch: usize,
    /// Shortest time between two journal commits. Zero commits as soon as the queue is
    /// drained. Longer gaps make bigger batches: fewer fsyncs and fewer, fuller writes to
    /// every watcher, for up to this much more latency while the driver is busy (an event
    /// after a quiet spell is committed at once).
    pub commit_gap: Duration,
    /// Inputs queued for the driver at most; more are dropped (counted).
    pub queue: usize,
    /// The hub's settings.
    pub hub: HubConfig,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            snapshot_every: 10_000,
            retention: Duration::from_secs(30 * 86_400),
            tick: Duration::from_millis(100),
            max_batch: 4096,
            commit_gap: Duration::ZERO,
            queue: 65_536,
            hub: HubConfig::default(),
        }
    }
}

/// Why the driver could not serve a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The input channel is full.
    #[error("the dispatch core is overloaded")]
    Overloaded,
    /// The driver has stopped.
    #[error("the dispatch core has stopped")]
    Stopped,
}

/// Counters of the driver.
#[derive(Debug, Default)]
pub struct DriverStats {
    /// Air inputs dropped because the channel was full.
    pub dropped_inputs: AtomicU64,
    /// Events journaled.
    pub events: AtomicU64,
    /// Journal commits.
    pub commits: AtomicU64,
}

/// The handle the rest of the gateway holds: cheap to clone.
#[derive(Clone)]
pub struct DriverHandle {
    tx: SyncSender<DriverRequest>,
    /// Inputs sent and not yet taken by the driver, against `DriverConfig::queue`.
    queued: Arc<AtomicUsize>,
    queue: usize,
    reader: Arc<dyn JournalReader>,
    hub: Hub<JournaledEvent>,
    links_up: watch::Receiver<bool>,
    stats: Arc<DriverStats>,
}

impl DriverHandle {
    /// Hand an input to the core without waiting; `false` (and counted) when it was dropped.
    pub fn submit(&self, input: Input) -> bool {
        self.submit_request(1, DriverRequest::Input(input))
    }

    /// Hand inputs to the core in one message (one wake of the driver for all of them)
    /// without waiting; `false` (and all counted) when they were dropped. Leaves `inputs`
    /// empty.
    pub fn submit_all(&self, inputs: &mut Vec<Input>) -> bool {
        match inputs.len() {
            0 => true,
            1 => self.submit(inputs.pop().expect("one input")),
            n => self.submit_request(n, DriverRequest::Inputs(std::mem::take(inputs))),
        }
    }

    fn submit_request(&self, n: usize, request: DriverRequest) -> bool {
        let queued = self.queued.fetch_add(n, Ordering::Relaxed);
        if queued + n <= self.queue && self.tx.try_send(request).is_ok() {
            return true;
        }
        self.queued.fetch_sub(n, Ordering::Relaxed);
        self.stats
            .dropped_inputs
            .fetch_add(n as u64, Ordering::Relaxed);
        false
    }

    /// Run an operator command; resolves once its events are durable.
    pub async fn command(
        &self,
        request: Request,
    ) -> Result<Result<Reply, DispatchError>, Unavailable> {
        let (reply, rx) = oneshot::channel();
        self.send(DriverRequest::Command { request, reply })?;
        rx.await.map_err(|_| Unavailable::Stopped)
    }

    /// Run `f` on the driver thread against the core and the latest journaled cursor.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Core, u64) -> R + Send + 'static,
    ) -> Result<R, Unavailable> {
        let (tx, rx) = oneshot::channel();
        let read: ReadFn = Box::new(move |core, seq| {
            let _ = tx.send(f(core, seq));
        });
        self.send(DriverRequest::Read(read))?;
        rx.await.map_err(|_| Unavailable::Stopped)
    }

    /// Whether the journal can serve `cursor` now: `Err(Some(..))` names why not,
    /// `Err(None)` means the journal could not be read.
    pub fn check_cursor(&self, cursor: u64) -> Result<(), Option<CursorError>> {
        self.reader.check_cursor(cursor).map_err(|e| e.cursor())
    }

    /// The event fan-out.
    pub fn hub(&self) -> &Hub<JournaledEvent> {
        &self.hub
    }

    /// Whether any link is up, as the core sees it.
    pub fn links_up(&self) -> watch::Receiver<bool> {
        self.links_up.clone()
    }

    /// The driver's counters.
    pub fn stats(&self) -> &DriverStats {
        &self.stats
    }

    /// Ask the driver to save a snapshot and stop.
    pub fn shutdown(&self) {
        let _ = self.tx.send(DriverRequest::Shutdown);
    }

    fn send(&self, request: DriverRequest) -> Result<(), Unavailable> {
        self.tx.try_send(request).map_err(|e| match e {
            TrySendError::Full(_) => Unavailable::Overloaded,
            TrySendError::Disconnected(_) => Unavailable::Stopped,
        })
    }
}

/// Why the driver could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A stored snapshot or event could not be read back.
    #[error("journal record {what}: {reason}")]
    Decode { what: String, reason: String },
    /// The thread could not be spawned.
    #[error("driver thread: {0}")]
    Thread(std::io::Error),
}

/// Wall-clock now as the core's timestamp.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Rebuild the core from `journal` (latest snapshot + replay), apply `directory`, recover
/// in-flight operations, and start the driver thread. `transmit` gets every
/// `Output::Transmit`, after its events are durable, on the driver thread: it must not block.
pub fn start<J: Journal + 'static>(
    journal: J,
    core_config: dispatch::Config,
    directory: Option<dispatch::Directory>,
    config: DriverConfig,
    transmit: impl FnMut(Output) + Send + 'static,
) -> Result<(DriverHandle, JoinHandle<()>), StartError> {
    let reader = journal.reader()?;
    let mut core = match reader.latest_snapshot()? {
        Some(snapshot) => {
            let image: CoreSnapshot =
                serde_json::from_slice(&snapshot.data).map_err(|e| StartError::Decode {
                    what: format!("snapshot at seq {}", snapshot.seq),
                    reason: e.to_string(),
                })?;
            let mut core = Core::restore(image);
            replay(&mut core, &*reader, snapshot.seq)?;
            core
        }
        None => {
            let mut core = Core::new(core_config);
            replay(&mut core, &*reader, 0)?;
            core
        }
    };
    let hub = Hub::new(Arc::clone(&reader), decode_record, config.hub.clone())?;
    let (links_tx, links_up) = watch::channel(core.any_link_up());
    // Bounded twice: by inputs (`queued` against `queue`, checked by the senders) and by
    // messages, so commands and reads cannot grow the channel without bound either.
    let (tx, rx) = sync_channel(config.queue);
    let queued = Arc::new(AtomicUsize::new(0));
    let queue = config.queue;
    let stats = Arc::new(DriverStats::default());

    // Directory and recovery are decided before the thread takes requests.
    let mut outputs = Vec::new();
    let at = now();
    if let Some(directory) = directory {
        core.handle(at, Input::Directory(directory), &mut outputs);
    }
    core.recover(at, &mut outputs);

    let mut driver = Driver {
        core,
        journal,
        hub: hub.clone(),
        links_tx,
        stats: Arc::clone(&stats),
        config,
        transmit: Box::new(transmit),
        since_snapshot: 0,
        since_snapshot_bytes: 0,
        snapshot_bytes: 0,
        replies: Vec::new(),
        queued: Arc::clone(&queued),
    };
    driver.commit(outputs);
    let thread = std::thread::Builder::new()
        .name("dispatch-driver".into())
        .spawn(move || driver.run(rx))
        .map_err(StartError::Thread)?;
    Ok((
        DriverHandle {
            tx,
            queued,
            queue,
            reader,
            hub,
            links_up,
            stats,
        },
        thread,
    ))
}

fn replay(core: &mut Core, reader: &dyn JournalReader, after: u64) -> Result<(), StartError> {
    let mut cursor = after;
    loop {
        let page = reader.read_after(cursor, 4096)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        cursor = last.seq;
        for record in page {
            let event: Event =
                serde_json::from_slice(&record.payload).map_err(|e| StartError::Decode {
                    what: format!("event at seq {}", record.seq),
                    reason: e.to_string(),
                })?;
            core.apply(&event);
        }
    }
}

struct Driver<J> {
    core: Core,
    journal: J,
    hub: Hub<JournaledEvent>,
    links_tx: watch::Sender<bool>,
    stats: Arc<DriverStats>,
    config: DriverConfig,
    transmit: Box<dyn FnMut(Output) + Send>,
    since_snapshot: u64,
    /// Payload bytes journaled since the last snapshot.
    since_snapshot_bytes: u64,
    /// Size of the last snapshot saved.
    snapshot_bytes: u64,
    /// Replies waiting for their batch's commit.
    replies: Vec<(ReplySender, Result<Reply, DispatchError>)>,
    /// Inputs sent and not yet taken (shared with the handles).
    queued: Arc<AtomicUsize>,
}

impl<J: Journal> Driver<J> {
    fn run(mut self, rx: Receiver<DriverRequest>) {
        let mut outputs = Vec::new();
        let mut next_token = 0u64;
        let mut pending: Vec<(u64, ReplySender)> = Vec::new();
        let mut stop = false;
        // When the last commit that carried anything was: with `commit_gap`, output waits
        // until that long after it.
        let mut committed_at = std::time::Instant::now();
        while !stop {
            let wait = if outputs.is_empty() {
                self.sleep_for()
            } else {
                (committed_at + self.config.commit_gap)
                    .saturating_duration_since(std::time::Instant::now())
            };
            let first = match rx.recv_timeout(wait) {
                Ok(request) => Some(request),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let at = now();
            let mut batch = first
                .into_iter()
                .chain(std::iter::from_fn(|| rx.try_recv().ok()));
            let mut taken = 0;
            for request in batch.by_ref() {
                taken += 1;
                match request {
                    DriverRequest::Input(input) => {
                        self.queued.fetch_sub(1, Ordering::Relaxed);
                        self.core.handle(at, input, &mut outputs);
                    }
                    DriverRequest::Inputs(inputs) => {
                        taken += inputs.len().saturating_sub(1);
                        self.queued.fetch_sub(inputs.len(), Ordering::Relaxed);
                        for input in inputs {
                            self.core.handle(at, input, &mut outputs);
                        }
                    }
                    DriverRequest::Command { request, reply } => {
                        next_token += 1;
                        pending.push((next_token, reply));
                        let input = Input::Command {
                            token: next_token,
                            request,
                        };
                        self.core.handle(at, input, &mut outputs);
                    }
                    DriverRequest::Read(read) => {
                        // Reads see the state as of the last commit plus this batch so far:
                        // commit first so the cursor they get matches the state.
                        if !outputs.is_empty() {
                            self.commit_with_replies(std::mem::take(&mut outputs), &mut pending);
                            committed_at = std::time::Instant::now();
                        }
                        read(&self.core, self.journal.latest_seq());
                    }
                    DriverRequest::Shutdown => {
                        stop = true;
                        break;
                    }
                }
                if taken >= self.config.max_batch {
                    break;
                }
            }
            self.core.handle(at, Input::Tick, &mut outputs);
            let now = std::time::Instant::now();
            if !outputs.is_empty()
                && (taken >= self.config.max_batch
                    || now.saturating_duration_since(committed_at) >= self.config.commit_gap)
            {
                self.commit_with_replies(std::mem::take(&mut outputs), &mut pending);
                committed_at = now;
            }
        }
        self.commit_with_replies(std::mem::take(&mut outputs), &mut pending);
        self.save_snapshot();
        self.hub.close();
        tracing::info!("dispatch driver stopped");
    }

    fn sleep_for(&self) -> Duration {
        let tick = self.config.tick;
        match self.core.next_deadline() {
            Some(deadline) => {
                let now = now().0;
                Duration::from_millis(deadline.0.saturating_sub(now)).min(tick)
            }
            None => tick,
        }
    }

    fn commit_with_replies(&mut self, outputs: Vec<Output>, pending: &mut Vec<(u64, ReplySender)>) {
        let mut rest = Vec::with_capacity(outputs.len());
        for output in outputs {
            match output {
                Output::Reply { token, result } => {
                    if let Some(i) = pending.iter().position(|(t, _)| *t == token) {
                        let (_, reply) = pending.swap_remove(i);
                        self.replies.push((reply, result));
                    }
                }
                other => rest.push(other),
            }
        }
        self.commit(rest);
    }

    /// Journal the batch's events in one commit, publish them, answer, then transmit.
    fn commit(&mut self, outputs: Vec<Output>) {
        let mut events = Vec::new();
        let mut transmits = Vec::new();
        for output in outputs {
            match output {
                Output::Event(event) => events.push(event),
                transmit @ Output::Transmit { .. } => transmits.push(transmit),
                Output::Reply { .. } => {}
            }
        }
        if !events.is_empty() {
            let entries: Vec<Entry> = events
                .iter()
                .map(|e| {
                    let payload = serde_json::to_vec(e).unwrap_or_default();
                    let at = UnixMillis(i64::try_from(e.at.0).unwrap_or(i64::MAX));
                    Entry::new(at, e.kind.name(), payload)
                })
                .collect();
            let bytes: u64 = entries.iter().map(|e| e.payload.len() as u64).sum();
            match self.journal.append(&entries) {
                Ok(range) => {
                    let published: Vec<Arc<JournaledEvent>> = range
                        .iter()
                        .zip(events)
                        .map(|(seq, event)| Arc::new(JournaledEvent::new(seq, event)))
                        .collect();
                    self.stats.events.fetch_add(range.len(), Ordering::Relaxed);
                    self.stats.commits.fetch_add(1, Ordering::Relaxed);
                    self.hub.publish(&published);
                    self.since_snapshot += range.len();
                    self.since_snapshot_bytes += bytes;
                }
                Err(e) => {
                    // The state already moved on; a journal that cannot write is fatal for
                    // durability, so say so loudly. Watchers resync from the next snapshot.
                    tracing::error!(error = %e, events = events.len(), "journal append failed");
                }
            }
        }
        for (reply, result) in self.replies.drain(..) {
            let _ = reply.send(result);
        }
        self.links_tx.send_if_modified(|up| {
            let now_up = self.core.any_link_up();
            std::mem::replace(up, now_up) != now_up
        });
        for transmit in transmits {
            (self.transmit)(transmit);
        }
        if self.since_snapshot >= self.config.snapshot_every
            && self.since_snapshot_bytes >= self.snapshot_bytes
        {
            self.save_snapshot();
        }
    }

    fn save_snapshot(&mut self) {
        let seq = self.journal.latest_seq();
        if seq == 0 {
            return;
        }
        let data = match serde_json::to_vec(&self.core.snapshot()) {
            Ok(data) => data,
            Err(e) => {
                tracing::error!(error = %e, "snapshot serialisation failed");
                return;
            }
        };
        if let Err(e) = self.journal.save_snapshot(seq, &data) {
            tracing::error!(error = %e, seq, "snapshot save failed");
            return;
        }
        self.since_snapshot = 0;
        self.since_snapshot_bytes = 0;
        self.snapshot_bytes = data.len() as u64;
        match self.journal.prune(UnixMillis::now(), self.config.retention) {
            Ok(outcome) if outcome.deleted > 0 => {
                tracing::info!(
                    deleted = outcome.deleted,
                    oldest = outcome.oldest_available,
                    "journal pruned"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "journal prune failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{
        AirEvent, AirInput, Command, Directory, DirectoryRadio, DirectorySite, EventKind,
        OperationState, OtaCommand, RadioId, SiteId,
    };
    use crate::journal::hub::Start;
    use crate::journal::sqlite::{SqliteConfig, SqliteJournal};
    use crate::link::Slot;

    fn directory(radio: RadioId) -> Directory {
        Directory {
            radios: vec![DirectoryRadio {
                id: radio,
                name: Some("张伟".into()),
            }],
            sites: vec![DirectorySite {
                id: SiteId::new("qingshan"),
                display_name: None,
                profile: Default::default(),
                air: Default::default(),
            }],
            ..Directory::default()
        }
    }

    fn heard(radio: RadioId) -> Input {
        Input::Air(AirInput {
            site: SiteId::new("qingshan"),
            slot: Slot::One,
            rssi_dbm: Some(-80),
            event: AirEvent::Registered { radio },
        })
    }

    fn check(radio: RadioId, request_id: &str) -> Request {
        Request {
            request_id: Some(request_id.into()),
            operator: None,
            command: Command::Ota(OtaCommand::RadioCheck { radio }),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_inputs_are_handled_in_order_and_bounded_by_count() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        let config = DriverConfig {
            queue: 8,
            ..DriverConfig::default()
        };
        let (driver, thread) =
            start(journal, dispatch::Config::default(), None, config, |_| {}).unwrap();
        let radio = |i: u32| RadioId::new(0x20_0000 + i).unwrap();
        let mut sub = driver.hub().subscribe(Start::Live).await.unwrap();
        // Hold the driver inside a read so nothing is taken meanwhile.
        let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let d = driver.clone();
        let held = tokio::spawn(async move {
            d.read(move |_, _| {
                let _ = entered_tx.send(());
                let _ = hold_rx.recv_timeout(Duration::from_secs(10));
            })
            .await
        });
        tokio::task::spawn_blocking(move || entered_rx.recv_timeout(Duration::from_secs(10)))
            .await
            .unwrap()
            .expect("the driver runs the read");
        let mut five: Vec<Input> = (0..5).map(|i| heard(radio(i))).collect();
        assert!(driver.submit_all(&mut five));
        assert!(five.is_empty());
        // 5 + 4 inputs exceed the bound of 8: the batch is dropped whole, and counted.
        let mut four: Vec<Input> = (5..9).map(|i| heard(radio(i))).collect();
        assert!(!driver.submit_all(&mut four));
        assert_eq!(driver.stats().dropped_inputs.load(Ordering::Relaxed), 4);
        let mut three: Vec<Input> = (9..12).map(|i| heard(radio(i))).collect();
        assert!(driver.submit_all(&mut three));
        hold_tx.send(()).unwrap();
        held.await.unwrap().unwrap();
        // Radios 0–4 then 9–11 registered, in that order.
        let mut registered = Vec::new();
        while registered.len() < 8 {
            let e = tokio::time::timeout(Duration::from_secs(10), sub.next())
                .await
                .expect("events")
                .unwrap();
            if let EventKind::RadioRegistered { radio, .. } = &e.event.kind {
                registered.push(radio.air() - 0x20_0000);
            }
        }
        assert_eq!(registered, vec![0, 1, 2, 3, 4, 9, 10, 11]);
        assert_eq!(driver.queued.load(Ordering::Relaxed), 0);
        driver.shutdown();
        thread.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_gap_gathers_a_busy_stream_into_fewer_commits() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        let reader = journal.reader().unwrap();
        let config = DriverConfig {
            commit_gap: Duration::from_secs(1),
            ..DriverConfig::default()
        };
        let (driver, thread) =
            start(journal, dispatch::Config::default(), None, config, |_| {}).unwrap();
        let radio = |i: u32| RadioId::new(0x20_0000 + i).unwrap();
        let mut sub = driver.hub().subscribe(Start::Live).await.unwrap();
        let commits = || driver.stats().commits.load(Ordering::Relaxed);
        // After a quiet spell the first event is committed at once (well within the gap)...
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let before = commits();
        let sent = std::time::Instant::now();
        assert!(driver.submit(heard(radio(0))));
        tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .unwrap()
            .unwrap();
        let first = sent.elapsed();
        // ...and twenty more sent 10 ms apart (about 200 ms) share a commit or two.
        for i in 1..=20 {
            assert!(driver.submit(heard(radio(i))));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (mut registered, mut last_seen) = (0, 0);
        while registered < 20 {
            let e = tokio::time::timeout(Duration::from_secs(10), sub.next())
                .await
                .expect("events")
                .unwrap();
            last_seen = e.seq;
            if matches!(e.event.kind, EventKind::RadioRegistered { .. }) {
                registered += 1;
            }
        }
        let used = commits() - before;
        assert!(used <= 4, "{used} commits for 21 inputs with a 1 s gap");
        assert!(
            first < Duration::from_millis(700),
            "the first event after a quiet spell waited {first:?}"
        );
        // durable before published: every event the watcher saw is in the journal
        assert!(reader.latest_seq().unwrap() >= last_seen);
        driver.shutdown();
        thread.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshots_wait_until_the_journal_has_grown_by_their_size() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        let reader = journal.reader().unwrap();
        // A large state: 5,000 named radios, so a snapshot is hundreds of kB.
        let mut big = directory(RadioId::new(0x898001).unwrap());
        big.radios = (0..5_000)
            .map(|i| DirectoryRadio {
                id: RadioId::new(0x10_0000 + i).unwrap(),
                name: Some(format!("队员{i:05}")),
            })
            .collect();
        let config = DriverConfig {
            snapshot_every: 1,
            ..DriverConfig::default()
        };
        let (driver, thread) = start(
            journal,
            dispatch::Config::default(),
            Some(big),
            config,
            |_| {},
        )
        .unwrap();
        let radio = |i: u32| RadioId::new(0x20_0000 + i).unwrap();
        assert!(driver.submit(heard(radio(0))));
        driver.read(|_, _| ()).await.unwrap();
        let first = reader.latest_snapshot().unwrap().expect("a first snapshot");
        // A few small events do not pay for another snapshot of that size...
        for i in 1..20 {
            assert!(driver.submit(heard(radio(i))));
        }
        driver.read(|_, _| ()).await.unwrap();
        assert_eq!(reader.latest_snapshot().unwrap().unwrap().seq, first.seq);
        // ...but once the events since add up to its size, the next one is taken.
        let mut i = 20;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while reader.latest_snapshot().unwrap().unwrap().seq == first.seq {
            assert!(std::time::Instant::now() < deadline, "no second snapshot");
            for _ in 0..200 {
                assert!(driver.submit(heard(radio(i))));
                i += 1;
            }
            driver.read(|_, _| ()).await.unwrap();
        }
        let events = reader.latest_snapshot().unwrap().unwrap().seq - first.seq;
        assert!(
            events > 1_000,
            "snapshot of {} bytes after only {events} events",
            first.data.len()
        );
        driver.shutdown();
        thread.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commands_are_answered_after_their_events_are_journaled_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let radio = RadioId::new(0x898001).unwrap();
        let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        let (sent_tx, sent_rx) = std::sync::mpsc::channel();
        let (driver, thread) = start(
            journal,
            dispatch::Config::default(),
            Some(directory(radio)),
            DriverConfig::default(),
            move |out| {
                let _ = sent_tx.send(out);
            },
        )
        .unwrap();
        let mut watcher = driver.hub().subscribe(Start::After(0)).await.unwrap();
        assert!(driver.submit(Input::SiteUp {
            site: SiteId::new("qingshan")
        }));
        assert!(driver.submit(heard(radio)));
        let reply = driver
            .command(check(radio, "req-1"))
            .await
            .unwrap()
            .unwrap();
        let Reply::Operation(operation) = reply else {
            panic!("{reply:?}")
        };
        // The operation the client was told about is already journaled and published.
        let latest = driver.read(|_, seq| seq).await.unwrap();
        let mut seen = Vec::new();
        while seen
            .last()
            .is_none_or(|e: &Arc<JournaledEvent>| e.seq < latest)
        {
            seen.push(watcher.next().await.unwrap());
        }
        let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=latest).collect::<Vec<_>>(),
            "contiguous cursors from 1"
        );
        assert!(seen.iter().any(|e| matches!(
            &e.event.kind,
            EventKind::OperationCreated { operation: o } if o.id == operation.id
        )));
        // The check went to the air.
        let transmit = sent_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(matches!(transmit, Output::Transmit { .. }), "{transmit:?}");
        driver.shutdown();
        thread.join().unwrap();

        // Restart: snapshot + replay gives the same radio and the operation, recovered.
        let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        let (driver, thread) = start(
            journal,
            dispatch::Config::default(),
            Some(directory(radio)),
            DriverConfig::default(),
            |_| {},
        )
        .unwrap();
        let id = operation.id;
        let (name, state) = driver
            .read(move |core, _| {
                let name = core
                    .radio(radio)
                    .and_then(|r| r.name.as_deref().map(str::to_owned));
                (name, core.operation(id).map(|o| o.state))
            })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("张伟"));
        assert!(
            state.is_some_and(|s| s != OperationState::Succeeded),
            "{state:?}"
        );
        // Repeating the request returns the same operation.
        let again = driver
            .command(check(radio, "req-1"))
            .await
            .unwrap()
            .unwrap();
        let Reply::Operation(again) = again else {
            panic!()
        };
        assert_eq!(again.id, id);
        driver.shutdown();
        thread.join().unwrap();
    }
}
