//! The dispatch driver: one thread that owns the core and the journal writer.
//!
//! Contract (docs/design.md "The event log is the truth"; "The core and the async edges"):
//! - Everything the core reacts to (air inputs, link state, operator commands) arrives through
//!   one bounded channel. Read-only queries run on the same thread between batches, so they
//!   see a consistent state and no lock is ever shared with the API.
//! - A batch is whatever is queued when the thread wakes (at most `max_batch`): each input is
//!   handled, then **all** its events are appended in one journal commit (group commit), then
//!   published to the hub, then commands are answered, then transmissions are handed to the
//!   links. So an event is durable before any watcher, or the client that caused it, sees it,
//!   and nothing goes on the air for a decision that is not durable.
//! - **A journal that cannot be written stops the gateway acting** (an *outage*). When a
//!   commit fails, nothing of that batch is published, answered or transmitted: its commands
//!   get [`Unavailable::JournalUnwritable`] naming the cause, its transmissions are dropped
//!   (the operations that made them were never durable, so no one was told of them). The
//!   core is then **rebuilt from what is durable** (latest snapshot + replay), so its state
//!   never runs ahead of the journal, and the batch's non-command inputs are **held**, in
//!   order with their arrival times. While the outage lasts:
//!   - inputs from the air and the links are held in a bounded buffer (`held_limit`); when it
//!     is full an emergency alarm displaces the oldest held input that is not one, and
//!     anything else is dropped; every loss is counted with the arrival times of the first
//!     and the last input lost;
//!   - commands are refused at once with the cause; reads are served from the durable state;
//!   - health is NOT_SERVING (the `serving` watch is false), links stay up;
//!   - the cause is logged once when the outage starts and once when it ends.
//!
//!   Every `retry` (doubling up to `retry_max`), the held inputs are applied to a copy of the
//!   durable core, followed by an [`Input::InputsLost`] for anything dropped and an
//!   [`Input::JournalRecovered`] that records the outage (so every retry writes), and
//!   journaled in one commit. If that commit succeeds the copy becomes the core and everything is
//!   published and transmitted as usual: service resumes by itself. If not, the copy is
//!   discarded. Operation names and request ids are allocated by the core, so one that was
//!   allocated in a batch that failed is allocated again later; no one ever saw it.
//! - Inputs dropped because the driver's queue was full are not silent either: the driver
//!   journals an [`Input::InputsLost`] (reason `overloaded`) with their count and window.
//! - Time comes from the wall clock here and nowhere else; the core gets it as an argument.
//! - On start the core is rebuilt from the newest snapshot that reads (each carries a SHA-256
//!   of its image; a damaged one is reported and the next older one is tried) plus the replay
//!   of the later events. Then the configuration file's limits and timers
//!   ([`Input::Configure`], journaled when they differ: the file wins at every start), the
//!   configured directory and [`Core::recover`] (which resumes or fails the operations that
//!   were in flight) make the first batch, every step an event.
//! - A snapshot is saved every `snapshot_every` events, and no sooner than the events since
//!   the last one add up to as many bytes as that snapshot, so its cost, which grows with the
//!   state, stays amortised (benches/gateway.rs: registering a million radios with a snapshot
//!   every 10,000 events kept the driver serialising, and a third of the registrations were
//!   dropped). Retention prunes what is older than both the window and the oldest snapshot
//!   kept, so every kept snapshot can still be replayed from; audit entries are kept at least
//!   `audit_retention` (the journal's audit retention class).
//! - Every operator command is audited: its [`dispatch::AuditEntry`] (who, from where, what,
//!   why, the outcome) is journaled in the same commit as the command's events, before the
//!   command is answered. [`DriverHandle::record_audit`] journals other entries.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::sync::{oneshot, watch};

use crate::api::backend::JournaledEvent;
pub use crate::api::backend::Unavailable;
use crate::dispatch::{
    self, AirEvent, AuditEntry, Core, CoreSnapshot, DispatchError, Event, Input, LossReason,
    Output, Reply, Request, Timestamp,
};
use crate::journal::hub::{DecodeError, Hub, HubConfig};
use crate::journal::{
    Cursor, CursorError, Entry, Housekeeper, Journal, JournalError, JournalId, JournalReader,
    Record, Retention, RetentionClass, UnixMillis,
};

/// Decode a record of journal `journal` into an event (the hub's replay decoder).
pub fn decode_record(
    journal: JournalId,
    record: Record,
) -> Result<Option<JournaledEvent>, DecodeError> {
    match serde_json::from_slice::<Event>(&record.payload) {
        Ok(event) => Ok(Some(JournaledEvent::new(
            Cursor::new(journal, record.seq),
            event,
        ))),
        Err(e) => Err(format!("event at seq {}: {e}", record.seq).into()),
    }
}

/// Where a command's answer goes.
type ReplySender = oneshot::Sender<Result<Result<Reply, DispatchError>, Unavailable>>;

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
        reply: ReplySender,
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
    /// Events older than this (and than the oldest snapshot kept) are pruned.
    pub retention: Duration,
    /// Audit entries (`dispatch::audit::AUDIT_KINDS`) are kept at least this long, whatever
    /// `retention` says (the journal's audit retention class).
    pub audit_retention: Duration,
    /// Longest sleep between two ticks of the core.
    pub tick: Duration,
    /// Inputs handled per batch at most (one journal commit per batch).
    pub max_batch: usize,
    /// Shortest time between two journal commits. Zero commits as soon as the queue is
    /// drained. Longer gaps make bigger batches: fewer fsyncs and fewer, fuller writes to
    /// every watcher, for up to this much more latency while the driver is busy (an event
    /// after a quiet spell is committed at once).
    pub commit_gap: Duration,
    /// Inputs queued for the driver at most; more are dropped (counted, and journaled as an
    /// `inputs_lost` event).
    pub queue: usize,
    /// Inputs held at most while the journal cannot be written; more are lost (journaled as
    /// an `inputs_lost` event once writes succeed).
    pub held_limit: usize,
    /// First wait before retrying the journal after a failed commit; doubles per failure.
    pub retry: Duration,
    /// Longest wait between two retries.
    pub retry_max: Duration,
    /// The hub's settings.
    pub hub: HubConfig,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            snapshot_every: 10_000,
            retention: Duration::from_secs(30 * 86_400),
            audit_retention: Duration::from_secs(365 * 86_400),
            tick: Duration::from_millis(100),
            max_batch: 4096,
            commit_gap: Duration::ZERO,
            queue: 65_536,
            held_limit: 100_000,
            retry: Duration::from_millis(250),
            retry_max: Duration::from_secs(5),
            hub: HubConfig::default(),
        }
    }
}

/// Counters of the driver.
#[derive(Debug, Default)]
pub struct DriverStats {
    /// Air inputs dropped because the channel was full.
    pub dropped_inputs: AtomicU64,
    /// Unix ms of the first drop not yet journaled as lost (0: none).
    first_drop_ms: AtomicU64,
    /// Unix ms of the latest drop.
    last_drop_ms: AtomicU64,
    /// Events journaled.
    pub events: AtomicU64,
    /// Journal commits.
    pub commits: AtomicU64,
    /// Journal commits that failed.
    pub failed_commits: AtomicU64,
    /// Inputs held now because the journal cannot be written.
    pub held_inputs: AtomicU64,
    /// Inputs lost because the journal could not be written and the held buffer was full.
    pub lost_inputs: AtomicU64,
    /// Outages so far (periods in which the journal could not be written).
    pub outages: AtomicU64,
    /// Snapshots saved.
    pub snapshots: AtomicU64,
    /// The sequence number the latest saved snapshot covers.
    pub snapshot_seq: AtomicU64,
    /// Snapshots that could not be saved.
    pub snapshot_failures: AtomicU64,
    /// Unix ms when the latest snapshot was saved (0: none by this process).
    pub snapshot_at_ms: AtomicU64,
    /// Time each journal append took (commit latency, failed ones included).
    pub commit_seconds: super::metrics::Histogram,
    /// Operations by kind and outcome, counted as their events are journaled.
    pub operations: super::metrics::OperationCounts,
    /// Call-outs by state, recounted when a call-out event is journaled.
    pub callouts: super::metrics::CalloutCounts,
    /// Turns of the driver loop: it advances at least every `tick` while the driver is
    /// alive (the systemd watchdog is fed only while it does).
    pub turns: AtomicU64,
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
    serving: watch::Receiver<bool>,
    /// Why the journal cannot be written, while it cannot.
    outage: watch::Receiver<Option<Arc<str>>>,
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
        let at = now().0;
        let _ =
            self.stats
                .first_drop_ms
                .compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed);
        self.stats.last_drop_ms.fetch_max(at, Ordering::Relaxed);
        self.stats
            .dropped_inputs
            .fetch_add(n as u64, Ordering::Relaxed);
        false
    }

    /// Run an operator command; resolves once its events are durable. Refused at once while
    /// the journal cannot be written.
    pub async fn command(
        &self,
        request: Request,
    ) -> Result<Result<Reply, DispatchError>, Unavailable> {
        if let Some(reason) = self.outage.borrow().as_deref() {
            return Err(Unavailable::JournalUnwritable {
                reason: reason.to_owned(),
            });
        }
        let (reply, rx) = oneshot::channel();
        self.send(DriverRequest::Command { request, reply })?;
        rx.await.map_err(|_| Unavailable::Stopped)?
    }

    /// Journal an audit entry (refusals for lack of rights, access reloads, ...) without
    /// waiting: handed to the core like an air input, so it is held while the journal cannot
    /// be written, and a drop for a full queue is counted and journaled as `inputs_lost`.
    /// `false` when it was dropped.
    pub fn record_audit(&self, entry: AuditEntry) -> bool {
        self.submit(Input::Audit(entry))
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

    /// A reader of the journal (history queries; never blocks the writer).
    pub fn reader(&self) -> Arc<dyn JournalReader> {
        Arc::clone(&self.reader)
    }

    /// The event fan-out.
    pub fn hub(&self) -> &Hub<JournaledEvent> {
        &self.hub
    }

    /// Whether the gateway serves: some link is up, as the core sees it, and the journal
    /// can be written.
    pub fn serving(&self) -> watch::Receiver<bool> {
        self.serving.clone()
    }

    /// Why the journal cannot be written, while it cannot (`None` when it can).
    pub fn outage(&self) -> Option<Arc<str>> {
        self.outage.borrow().clone()
    }

    /// The driver's counters.
    pub fn stats(&self) -> &DriverStats {
        &self.stats
    }

    /// Inputs sent and not yet taken by the driver.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
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
    /// A stored event could not be read back.
    #[error(
        "journal record {what} cannot be read: {reason}. The journal file is damaged: stop the \
         gateway, keep the file for analysis and restore the data directory from a backup"
    )]
    Decode { what: String, reason: String },
    /// No kept snapshot reads, and the events before them were pruned, so the state cannot
    /// be rebuilt.
    #[error(
        "no usable snapshot: {found}; the events before them were pruned (retention), so the \
         state cannot be rebuilt. Restore the data directory from a backup, or move the \
         journal file aside to start with an empty one"
    )]
    NoUsableSnapshot { found: String },
    /// The thread could not be spawned.
    #[error("driver thread: {0}")]
    Thread(std::io::Error),
}

/// Count a journaled operation event by kind and outcome, and log how the operation ended
/// (its ID and request ID as fields: the metrics carry no identities, the log does).
fn count_operation(core: &Core, counts: &super::metrics::OperationCounts, event: &Event) {
    use super::metrics::Outcome;
    use dispatch::EventKind as K;
    let (id, outcome) = match &event.kind {
        K::OperationCreated { operation } => {
            counts.count(operation.command.service(), Outcome::Created);
            return;
        }
        K::OperationSucceeded { operation, .. } => (*operation, Outcome::Succeeded),
        K::OperationRefused { operation, .. } => (*operation, Outcome::Refused),
        K::OperationTimedOut { operation, .. } => (*operation, Outcome::TimedOut),
        K::OperationFailed { operation, .. } => (*operation, Outcome::Failed),
        K::OperationCancelled { operation, .. } => (*operation, Outcome::Cancelled),
        K::OperationRejected { operation, .. } => (*operation, Outcome::Rejected),
        K::OperationExpired { operation } => (*operation, Outcome::Expired),
        _ => return,
    };
    // The core applied the event before it was journaled, so the operation is there.
    let Some(op) = core.operation(id) else { return };
    counts.count(op.command.service(), outcome);
    tracing::info!(
        operation = %id,
        request_id = op.request_id.as_deref().unwrap_or(""),
        kind = ?op.command.service(),
        outcome = ?outcome,
        attempts = op.attempts,
        "operation finished"
    );
}

/// One log line when a call-out starts, escalates and finishes, carrying its ID (and the
/// client's request ID at the start), so a log store can follow one call-out.
fn log_callout(event: &Event) {
    use dispatch::EventKind as K;
    match &event.kind {
        K::CalloutStarted { callout } => tracing::info!(
            callout = %callout.id,
            request_id = callout.request_id.as_deref().unwrap_or(""),
            members = callout.members.len(),
            "call-out started"
        ),
        K::CalloutEscalated {
            callout,
            teams,
            members,
            left_out,
        } => {
            tracing::info!(
                callout = %callout,
                teams = ?teams,
                members = members.len(),
                "call-out escalated to backup teams"
            );
            if *left_out > 0 {
                tracing::warn!(
                    callout = %callout,
                    left_out,
                    bound = dispatch::callout::MAX_MEMBERS,
                    "backup members left out: the call-out reached its member bound"
                );
            }
        }
        K::CalloutFinished {
            callout,
            state,
            operator,
        } => tracing::info!(
            callout = %callout,
            state = ?state,
            operator = operator.as_deref().unwrap_or(""),
            "call-out finished"
        ),
        _ => {}
    }
}

/// Wall-clock now as the core's timestamp.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// A snapshot image as stored: `MAGIC`, the SHA-256 of the JSON, the JSON. Images written
/// before the digest (plain JSON, starting with `{`) still read.
const SNAPSHOT_MAGIC: &[u8; 4] = b"TGS1";

/// Encode a core snapshot for the journal, with its digest.
pub fn encode_snapshot(snapshot: &CoreSnapshot) -> Result<Vec<u8>, serde_json::Error> {
    let json = serde_json::to_vec(snapshot)?;
    let mut data = Vec::with_capacity(4 + 32 + json.len());
    data.extend_from_slice(SNAPSHOT_MAGIC);
    data.extend_from_slice(&Sha256::digest(&json));
    data.extend_from_slice(&json);
    Ok(data)
}

/// Decode a snapshot image; the error says what is wrong with it.
pub fn decode_snapshot(data: &[u8]) -> Result<CoreSnapshot, String> {
    let json = match data.strip_prefix(SNAPSHOT_MAGIC) {
        Some(rest) => {
            let Some((digest, json)) = rest.split_first_chunk::<32>() else {
                return Err(format!("image of {} bytes is truncated", data.len()));
            };
            if Sha256::digest(json).as_slice() != digest {
                return Err("image does not match its SHA-256 digest".into());
            }
            json
        }
        None if data.first() == Some(&b'{') => data,
        None => return Err("image has no snapshot header".into()),
    };
    serde_json::from_slice(json).map_err(|e| format!("image does not parse: {e}"))
}

/// The durable state: the newest snapshot that reads, plus the replay of the events after
/// it. A damaged snapshot is logged with what is wrong and the next older one is tried.
pub fn rebuild(reader: &dyn JournalReader, config: &dispatch::Config) -> Result<Core, StartError> {
    let mut found = Vec::new();
    for seq in reader.snapshots()? {
        let Some(snapshot) = reader.snapshot(seq)? else {
            continue; // trimmed since it was listed
        };
        let image = match decode_snapshot(&snapshot.data) {
            Ok(image) => image,
            Err(reason) => {
                tracing::error!(
                    seq,
                    %reason,
                    "snapshot is damaged; trying the next older one"
                );
                found.push(format!("snapshot at seq {seq}: {reason}"));
                continue;
            }
        };
        let mut core = Core::restore(image);
        match replay(&mut core, reader, seq) {
            Ok(()) => {
                if !found.is_empty() {
                    tracing::warn!(
                        seq,
                        damaged = found.len(),
                        "state rebuilt from an older snapshot; the damaged ones are replaced \
                         by the next snapshot saved"
                    );
                }
                return Ok(core);
            }
            Err(StartError::Journal(JournalError::Cursor(CursorError::OutOfRange { .. }))) => {
                found.push(format!(
                    "snapshot at seq {seq}: the events after it were pruned"
                ));
            }
            Err(e) => return Err(e),
        }
    }
    let mut core = Core::new(config.clone());
    match replay(&mut core, reader, 0) {
        Ok(()) => Ok(core),
        Err(StartError::Journal(JournalError::Cursor(CursorError::OutOfRange { .. }))) => {
            Err(StartError::NoUsableSnapshot {
                found: if found.is_empty() {
                    "the journal holds none".into()
                } else {
                    found.join("; ")
                },
            })
        }
        Err(e) => Err(e),
    }
}

/// Rebuild the core from `journal` (see [`rebuild`]), then, as the first batch, apply the
/// configuration's limits, `directory` and recovery of in-flight operations, and start the
/// driver thread. `transmit` gets every `Output::Transmit`, after its events are durable, on
/// the driver thread: it must not block.
pub fn start<J: Journal + 'static>(
    journal: J,
    core_config: dispatch::Config,
    directory: Option<dispatch::Directory>,
    config: DriverConfig,
    transmit: impl FnMut(Output) + Send + 'static,
) -> Result<(DriverHandle, JoinHandle<()>), StartError> {
    let reader = journal.reader()?;
    let core = rebuild(&*reader, &core_config)?;
    let journal_id = reader.identity();
    let hub = Hub::new(
        Arc::clone(&reader),
        move |r| decode_record(journal_id, r),
        config.hub.clone(),
    )?;
    let (serving_tx, serving) = watch::channel(false);
    let (outage_tx, outage) = watch::channel(None);
    // Bounded twice: by inputs (`queued` against `queue`, checked by the senders) and by
    // messages, so commands and reads cannot grow the channel without bound either.
    let (tx, rx) = sync_channel(config.queue);
    let queued = Arc::new(AtomicUsize::new(0));
    let queue = config.queue;
    let stats = Arc::new(DriverStats::default());
    let housekeeping = Housekeeping::start(journal.housekeeper()?, Arc::clone(&stats))
        .map_err(StartError::Thread)?;

    let mut driver = Driver {
        core,
        core_config: core_config.clone(),
        journal,
        reader: Arc::clone(&reader),
        hub: hub.clone(),
        serving_tx,
        outage_tx,
        stats: Arc::clone(&stats),
        config,
        transmit: Box::new(transmit),
        since_snapshot: 0,
        since_snapshot_bytes: 0,
        housekeeping,
        replies: Vec::new(),
        queued: Arc::clone(&queued),
        batch: Vec::new(),
        outage: None,
        lost_reported: 0,
        dropping: None,
    };
    // The first batch: the file's limits, the directory, recovery (decided before the
    // thread takes requests; held like any other batch if the journal cannot take it).
    let mut outputs = Vec::new();
    let at = now();
    driver.step(at, Step::Input(Input::Configure(core_config)), &mut outputs);
    if let Some(directory) = directory {
        driver.step(at, Step::Input(Input::Directory(directory)), &mut outputs);
    }
    driver.step(at, Step::Recover, &mut outputs);
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
            serving,
            outage,
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

/// One thing the core does in a batch: kept until the batch is durable, so that a batch
/// whose commit failed can be applied again to the durable state.
#[derive(Debug, Clone)]
enum Step {
    /// An input (never a command: commands are answered, not held).
    Input(Input),
    /// Recovery after a restart ([`Core::recover`]).
    Recover,
}

impl Step {
    fn is_emergency(&self) -> bool {
        matches!(
            self,
            Step::Input(Input::Air(air)) if matches!(air.event, AirEvent::EmergencyAlarm { .. })
        )
    }
}

/// Inputs lost to an outage: how many, and when the first and the last of them arrived.
#[derive(Debug, Clone, Copy)]
struct Lost {
    count: u64,
    from: Timestamp,
    to: Timestamp,
}

impl Lost {
    fn add(this: &mut Option<Lost>, at: Timestamp) {
        let lost = this.get_or_insert(Lost {
            count: 0,
            from: at,
            to: at,
        });
        lost.count += 1;
        lost.from = lost.from.min(at);
        lost.to = lost.to.max(at);
    }
}

/// The journal cannot be written: what the driver holds until it can.
struct Outage {
    /// The error of the latest failed commit.
    reason: String,
    since: Instant,
    /// When the first commit failed.
    since_at: Timestamp,
    /// What arrived meanwhile, in order, with arrival times; bounded by `held_limit`.
    held: VecDeque<(Timestamp, Step)>,
    lost: Option<Lost>,
    retry_at: Instant,
    backoff: Duration,
    /// Whether `core` is the durable state; false only if rebuilding it failed.
    core_durable: bool,
}

struct Driver<J> {
    core: Core,
    /// The configuration file's limits (used when the journal holds no state yet).
    core_config: dispatch::Config,
    journal: J,
    reader: Arc<dyn JournalReader>,
    hub: Hub<JournaledEvent>,
    serving_tx: watch::Sender<bool>,
    outage_tx: watch::Sender<Option<Arc<str>>>,
    stats: Arc<DriverStats>,
    config: DriverConfig,
    transmit: Box<dyn FnMut(Output) + Send>,
    since_snapshot: u64,
    /// Payload bytes journaled since the last snapshot.
    since_snapshot_bytes: u64,
    /// The thread that saves snapshots and applies retention.
    housekeeping: Housekeeping,
    /// Replies waiting for their batch's commit.
    replies: Vec<(ReplySender, Result<Reply, DispatchError>)>,
    /// Inputs sent and not yet taken (shared with the handles).
    queued: Arc<AtomicUsize>,
    /// The steps of the batch not yet committed (to hold them if the commit fails).
    batch: Vec<(Timestamp, Step)>,
    /// Set while the journal cannot be written.
    outage: Option<Outage>,
    /// Queue drops already journaled as lost.
    lost_reported: u64,
    /// An episode of queue drops: when it started, the latest drop, how many so far (logged
    /// when it starts and when it ends, not per batch).
    dropping: Option<(Instant, Instant, u64)>,
}

/// Queue drops further apart than this are separate episodes in the log.
const DROP_QUIET: Duration = Duration::from_secs(5);

impl<J: Journal> Driver<J> {
    fn run(mut self, rx: Receiver<DriverRequest>) {
        // The call-outs the journal brought back, counted before the first event.
        self.stats
            .callouts
            .store(self.core.callouts(None).map(|c| c.state));
        let mut outputs = Vec::new();
        let mut next_token = 0u64;
        let mut pending: Vec<(u64, ReplySender)> = Vec::new();
        let mut stop = false;
        // When the last commit that carried anything was: with `commit_gap`, output waits
        // until that long after it.
        let mut committed_at = Instant::now();
        while !stop {
            self.stats.turns.fetch_add(1, Ordering::Relaxed);
            let wait = match &self.outage {
                Some(outage) => outage
                    .retry_at
                    .saturating_duration_since(Instant::now())
                    .min(self.config.tick),
                None if outputs.is_empty() => self.sleep_for(),
                None => (committed_at + self.config.commit_gap)
                    .saturating_duration_since(Instant::now()),
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
                        self.step(at, Step::Input(input), &mut outputs);
                    }
                    DriverRequest::Inputs(inputs) => {
                        taken += inputs.len().saturating_sub(1);
                        self.queued.fetch_sub(inputs.len(), Ordering::Relaxed);
                        for input in inputs {
                            self.step(at, Step::Input(input), &mut outputs);
                        }
                    }
                    DriverRequest::Command { request, reply } => {
                        if let Some(outage) = &self.outage {
                            let _ = reply.send(Err(Unavailable::JournalUnwritable {
                                reason: outage.reason.clone(),
                            }));
                            continue;
                        }
                        next_token += 1;
                        pending.push((next_token, reply));
                        self.command(at, next_token, request, &mut outputs);
                    }
                    DriverRequest::Read(read) => {
                        // Reads see the state as of the last commit plus this batch so far:
                        // commit first so the cursor they get matches the state.
                        if !outputs.is_empty() {
                            self.commit_with_replies(std::mem::take(&mut outputs), &mut pending);
                            committed_at = Instant::now();
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
            self.note_drops(at, &mut outputs);
            if self.outage.is_some() {
                if self
                    .outage
                    .as_ref()
                    .is_some_and(|o| Instant::now() >= o.retry_at)
                {
                    self.retry();
                }
                continue;
            }
            self.core.handle(at, Input::Tick, &mut outputs);
            let now = Instant::now();
            if !outputs.is_empty()
                && (taken >= self.config.max_batch
                    || now.saturating_duration_since(committed_at) >= self.config.commit_gap)
            {
                self.commit_with_replies(std::mem::take(&mut outputs), &mut pending);
                committed_at = now;
            }
        }
        self.commit_with_replies(std::mem::take(&mut outputs), &mut pending);
        if self.outage.is_some() {
            // One last try, so held inputs are not lost if the journal came back.
            self.retry();
        }
        if let Some(outage) = &self.outage {
            tracing::error!(
                reason = %outage.reason,
                held = outage.held.len(),
                lost = outage.lost.map_or(0, |l| l.count),
                "stopping while the journal cannot be written: the held inputs are lost"
            );
        } else {
            self.final_snapshot();
        }
        self.hub.close();
        tracing::info!("dispatch driver stopped");
    }

    /// Run an operator command on the core, then record its audit entry (who, from where,
    /// what, why, the outcome) in the same batch, so the two are durable together and
    /// before the command is answered.
    fn command(&mut self, at: Timestamp, token: u64, request: Request, outputs: &mut Vec<Output>) {
        let audit = request.clone();
        let from = outputs.len();
        self.core
            .handle(at, Input::Command { token, request }, outputs);
        let entry = outputs[from..].iter().find_map(|o| match o {
            Output::Reply { token: t, result } if *t == token => {
                Some(AuditEntry::for_command(&audit, result))
            }
            _ => None,
        });
        if let Some(entry) = entry {
            self.core.handle(at, Input::Audit(entry), outputs);
        }
    }

    /// Apply one step to the core, keeping it until the batch is durable; during an
    /// outage, hold it instead.
    fn step(&mut self, at: Timestamp, step: Step, outputs: &mut Vec<Output>) {
        if let Some(outage) = &mut self.outage {
            hold(outage, &self.stats, self.config.held_limit, at, step);
            return;
        }
        match &step {
            Step::Input(input) => self.core.handle(at, input.clone(), outputs),
            Step::Recover => self.core.recover(at, outputs),
        }
        self.batch.push((at, step));
    }

    /// Journal the queue drops seen since the last call as one `inputs_lost` event.
    fn note_drops(&mut self, at: Timestamp, outputs: &mut Vec<Output>) {
        let total = self.stats.dropped_inputs.load(Ordering::Relaxed);
        if total <= self.lost_reported {
            // An episode of drops ends after a quiet spell: logged once, like its start.
            if let Some((since, last, count)) = self.dropping
                && last.elapsed() >= DROP_QUIET
            {
                tracing::info!(
                    count,
                    after_ms = since.elapsed().as_millis() as u64,
                    "the dispatch core's input queue takes inputs again"
                );
                self.dropping = None;
            }
            return;
        }
        let count = total - self.lost_reported;
        self.lost_reported = total;
        let from = match self.stats.first_drop_ms.swap(0, Ordering::Relaxed) {
            0 => at,
            ms => Timestamp(ms),
        };
        let to = Timestamp(self.stats.last_drop_ms.load(Ordering::Relaxed)).max(from);
        match &mut self.dropping {
            Some((_, last, n)) => {
                *last = Instant::now();
                *n += count;
            }
            None => {
                tracing::warn!(
                    count,
                    "the dispatch core's input queue is full: inputs dropped (each loss is \
                     journaled as inputs_lost)"
                );
                self.dropping = Some((Instant::now(), Instant::now(), count));
            }
        }
        let input = Input::InputsLost {
            count,
            from,
            to,
            reason: LossReason::Overloaded,
        };
        self.step(at, Step::Input(input), outputs);
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

    /// Journal the batch's events in one commit, then publish them, answer, and transmit;
    /// if the commit fails, do none of that and start an outage.
    fn commit(&mut self, outputs: Vec<Output>) {
        let (events, transmits) = split(outputs);
        if let Err(error) = self.journal_and_publish(events) {
            self.start_outage(&error);
            return;
        }
        self.batch.clear();
        for (reply, result) in self.replies.drain(..) {
            let _ = reply.send(Ok(result));
        }
        self.update_serving();
        for transmit in transmits {
            (self.transmit)(transmit);
        }
        if self.since_snapshot >= self.config.snapshot_every
            && self.since_snapshot_bytes >= self.housekeeping.last_bytes.load(Ordering::Relaxed)
        {
            self.request_snapshot();
        }
    }

    /// Append `events` in one commit and publish them.
    fn journal_and_publish(&mut self, events: Vec<Event>) -> Result<(), JournalError> {
        if events.is_empty() {
            return Ok(());
        }
        let entries: Vec<Entry> = events
            .iter()
            .map(|e| {
                // Events are plain data (strings, numbers, maps with string keys): they
                // always serialise.
                let payload = serde_json::to_vec(e).unwrap_or_default();
                let at = UnixMillis(i64::try_from(e.at.0).unwrap_or(i64::MAX));
                Entry::new(at, e.kind.name(), payload)
            })
            .collect();
        let bytes: u64 = entries.iter().map(|e| e.payload.len() as u64).sum();
        let started = Instant::now();
        let appended = self.journal.append(&entries);
        self.stats.commit_seconds.observe(started.elapsed());
        let range = match appended {
            Ok(range) => range,
            Err(e) => {
                self.stats.failed_commits.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let published: Vec<Arc<JournaledEvent>> = range
            .iter()
            .zip(events)
            .map(|(seq, event)| {
                let cursor = Cursor::new(self.journal.identity(), seq);
                Arc::new(JournaledEvent::new(cursor, event))
            })
            .collect();
        self.stats.events.fetch_add(range.len(), Ordering::Relaxed);
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        let mut callouts_changed = false;
        for e in &published {
            count_operation(&self.core, &self.stats.operations, &e.event);
            log_callout(&e.event);
            callouts_changed |= matches!(
                e.event.kind,
                dispatch::EventKind::CalloutStarted { .. }
                    | dispatch::EventKind::CalloutEscalated { .. }
                    | dispatch::EventKind::CalloutFinished { .. }
            );
        }
        if callouts_changed {
            self.stats
                .callouts
                .store(self.core.callouts(None).map(|c| c.state));
        }
        self.hub.publish(&published);
        self.since_snapshot += range.len();
        self.since_snapshot_bytes += bytes;
        Ok(())
    }

    /// A commit failed: refuse its commands, drop its transmissions, rebuild the core from
    /// what is durable and hold the batch's inputs (module doc).
    fn start_outage(&mut self, error: &JournalError) {
        let reason = error.to_string();
        let replies = std::mem::take(&mut self.replies);
        let steps = std::mem::take(&mut self.batch);
        tracing::error!(
            error = %reason,
            inputs = steps.len(),
            "journal commit failed: the gateway stops acting (commands refused, nothing \
             transmitted or published) and holds what it receives until writes succeed"
        );
        self.stats.outages.fetch_add(1, Ordering::Relaxed);
        let core_durable = self.restore_durable();
        let mut outage = Outage {
            reason: reason.clone(),
            since: Instant::now(),
            since_at: now(),
            held: VecDeque::new(),
            lost: None,
            retry_at: Instant::now() + self.config.retry,
            backoff: self.config.retry,
            core_durable,
        };
        for (at, step) in steps {
            hold(&mut outage, &self.stats, self.config.held_limit, at, step);
        }
        self.outage = Some(outage);
        // Health and the handle's fast refusal first, so a client told "unavailable" finds
        // health saying so too.
        self.outage_tx
            .send_replace(Some(Arc::from(reason.as_str())));
        self.update_serving();
        for (reply, _) in replies {
            let _ = reply.send(Err(Unavailable::JournalUnwritable {
                reason: reason.clone(),
            }));
        }
    }

    /// Replace the core with the durable state; `false` (logged) if it cannot be rebuilt.
    fn restore_durable(&mut self) -> bool {
        match rebuild(&*self.reader, &self.core_config) {
            Ok(core) => {
                self.core = core;
                true
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    "cannot rebuild the durable state; reads may show undurable changes \
                     until the journal is writable"
                );
                false
            }
        }
    }

    /// Apply what was held to a copy of the durable core and journal it in one commit; on
    /// success that copy becomes the core and the outage ends.
    fn retry(&mut self) {
        let Some(mut outage) = self.outage.take() else {
            return;
        };
        if !outage.core_durable {
            outage.core_durable = self.restore_durable();
        }
        let at = now();
        let mut trial = self.core.clone();
        let mut outputs = Vec::new();
        for (at, step) in &outage.held {
            match step {
                Step::Input(input) => trial.handle(*at, input.clone(), &mut outputs),
                Step::Recover => trial.recover(*at, &mut outputs),
            }
        }
        if let Some(lost) = outage.lost {
            let input = Input::InputsLost {
                count: lost.count,
                from: lost.from,
                to: lost.to,
                reason: LossReason::JournalUnwritable,
            };
            trial.handle(at, input, &mut outputs);
        }
        // Always something to write, so a success proves the journal takes writes again,
        // and the record shows the outage.
        let recovered = Input::JournalRecovered {
            from: outage.since_at,
            to: at,
            reason: outage.reason.clone(),
            held: outage.held.len() as u64,
        };
        trial.handle(at, recovered, &mut outputs);
        trial.handle(at, Input::Tick, &mut outputs);
        let (events, transmits) = split(outputs);
        let durable = std::mem::replace(&mut self.core, trial);
        match self.journal_and_publish(events) {
            Ok(()) => {
                drop(durable);
                tracing::warn!(
                    after_ms = outage.since.elapsed().as_millis() as u64,
                    held = outage.held.len(),
                    lost = outage.lost.map_or(0, |l| l.count),
                    "the journal is writable again: held inputs journaled, the gateway acts again"
                );
                self.stats.held_inputs.store(0, Ordering::Relaxed);
                self.outage_tx.send_replace(None);
                self.update_serving();
                for transmit in transmits {
                    (self.transmit)(transmit);
                }
            }
            Err(e) => {
                self.core = durable;
                outage.reason = e.to_string();
                outage.backoff = (outage.backoff * 2).min(self.config.retry_max);
                outage.retry_at = Instant::now() + outage.backoff;
                self.outage = Some(outage);
            }
        }
    }

    fn update_serving(&self) {
        let serving = self.outage.is_none() && self.core.any_link_up();
        self.serving_tx
            .send_if_modified(|s| std::mem::replace(s, serving) != serving);
    }

    /// Hand a copy of the state to the housekeeping thread, which encodes and saves it and
    /// then applies retention; unless it is still busy with the last one (then the next
    /// commit asks again). The copy is the only part of a snapshot on this thread.
    fn request_snapshot(&mut self) {
        let seq = self.journal.latest_seq();
        if seq == 0 || self.outage.is_some() || self.housekeeping.busy.load(Ordering::Acquire) {
            return;
        }
        self.housekeeping.busy.store(true, Ordering::Release);
        let job = Job {
            seq,
            image: Box::new(self.core.snapshot()),
            retention: Retention {
                window: self.config.retention,
                classes: vec![RetentionClass {
                    kinds: dispatch::audit::AUDIT_KINDS
                        .iter()
                        .map(|k| std::borrow::Cow::Borrowed(*k))
                        .collect(),
                    window: self.config.audit_retention,
                }],
            },
        };
        if self.housekeeping.tx.try_send(job).is_err() {
            // Only if the housekeeping thread died; it logged why.
            self.housekeeping.busy.store(false, Ordering::Release);
            return;
        }
        self.since_snapshot = 0;
        self.since_snapshot_bytes = 0;
    }

    /// At shutdown: a last snapshot, saved before returning.
    fn final_snapshot(&mut self) {
        let alive = |h: &Housekeeping| h.thread.as_ref().is_some_and(|t| !t.is_finished());
        while self.housekeeping.busy.load(Ordering::Acquire) && alive(&self.housekeeping) {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.request_snapshot();
        let (tx, _) = sync_channel(1);
        drop(std::mem::replace(&mut self.housekeeping.tx, tx));
        if let Some(thread) = self.housekeeping.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A snapshot for the housekeeping thread to save, then retention to apply.
struct Job {
    seq: u64,
    image: Box<CoreSnapshot>,
    retention: Retention,
}

/// The driver's side of the housekeeping thread.
struct Housekeeping {
    tx: SyncSender<Job>,
    /// Set by the driver when it hands over a job, cleared by the thread when it is done.
    busy: Arc<AtomicBool>,
    /// Size of the last image saved: the next snapshot waits until the events since the
    /// last one add up to it (module doc).
    last_bytes: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Housekeeping {
    /// Start the thread on `housekeeper` (a connection of its own, module doc).
    fn start(
        mut housekeeper: Box<dyn Housekeeper>,
        stats: Arc<DriverStats>,
    ) -> std::io::Result<Housekeeping> {
        let (tx, rx) = sync_channel::<Job>(1);
        let busy = Arc::new(AtomicBool::new(false));
        let last_bytes = Arc::new(AtomicU64::new(0));
        let (done, size) = (Arc::clone(&busy), Arc::clone(&last_bytes));
        let thread = std::thread::Builder::new()
            .name("journal-housekeeping".into())
            .spawn(move || {
                // Whether the last save failed: a failure is logged when it starts and when
                // it clears, not at every snapshot.
                let mut failing = false;
                for job in rx {
                    let started = Instant::now();
                    let saved = encode_snapshot(&job.image)
                        .map_err(|e| format!("snapshot serialisation: {e}"))
                        .and_then(|data| {
                            drop(job.image);
                            housekeeper
                                .save_snapshot(job.seq, &data)
                                .map(|()| data.len())
                                .map_err(|e| e.to_string())
                        });
                    match saved {
                        Ok(bytes) => {
                            size.store(bytes as u64, Ordering::Relaxed);
                            stats.snapshots.fetch_add(1, Ordering::Relaxed);
                            stats.snapshot_seq.store(job.seq, Ordering::Relaxed);
                            stats.snapshot_at_ms.store(now().0, Ordering::Relaxed);
                            if std::mem::take(&mut failing) {
                                tracing::warn!(seq = job.seq, "snapshots are saved again");
                            }
                            tracing::debug!(
                                seq = job.seq,
                                bytes,
                                elapsed_ms = started.elapsed().as_millis() as u64,
                                "snapshot saved"
                            );
                            match housekeeper.prune_retention(UnixMillis::now(), &job.retention) {
                                Ok(outcome) if outcome.deleted > 0 => tracing::info!(
                                    deleted = outcome.deleted,
                                    oldest = outcome.oldest_available,
                                    "journal pruned"
                                ),
                                Ok(_) => {}
                                Err(e) => tracing::warn!(error = %e, "journal prune failed"),
                            }
                        }
                        Err(error) => {
                            stats.snapshot_failures.fetch_add(1, Ordering::Relaxed);
                            if !std::mem::replace(&mut failing, true) {
                                tracing::error!(
                                    seq = job.seq,
                                    %error,
                                    "snapshot save failed; retention waits for the next one"
                                );
                            }
                        }
                    }
                    done.store(false, Ordering::Release);
                }
            })?;
        Ok(Housekeeping {
            tx,
            busy,
            last_bytes,
            thread: Some(thread),
        })
    }
}

/// Hold `step` during an outage: bounded; a full buffer makes room for an emergency by
/// dropping the oldest held step that is not one, and drops anything else.
fn hold(outage: &mut Outage, stats: &DriverStats, limit: usize, at: Timestamp, step: Step) {
    if outage.held.len() >= limit {
        let victim = if step.is_emergency() {
            outage.held.iter().position(|(_, s)| !s.is_emergency())
        } else {
            None
        };
        match victim.and_then(|i| outage.held.remove(i)) {
            Some((lost_at, _)) => Lost::add(&mut outage.lost, lost_at),
            None => {
                Lost::add(&mut outage.lost, at);
                stats.lost_inputs.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        stats.lost_inputs.fetch_add(1, Ordering::Relaxed);
    }
    outage.held.push_back((at, step));
    stats
        .held_inputs
        .store(outage.held.len() as u64, Ordering::Relaxed);
}

/// The events and the transmissions of a batch (replies were taken out before).
fn split(outputs: Vec<Output>) -> (Vec<Event>, Vec<Output>) {
    let mut events = Vec::new();
    let mut transmits = Vec::new();
    for output in outputs {
        match output {
            Output::Event(event) => events.push(event),
            transmit @ Output::Transmit { .. } => transmits.push(transmit),
            Output::Reply { .. } => {}
        }
    }
    (events, transmits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{
        AirInput, Command, Directory, DirectoryRadio, DirectorySite, EventKind, OperationId,
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
            reason: None,
            client: None,
            command: Command::Ota(OtaCommand::RadioCheck { radio }),
        }
    }

    /// A real SQLite journal whose file can be capped (`max_page_count`) while the driver
    /// owns it: appends then fail for real with "database or disk is full".
    struct Capped {
        inner: SqliteJournal,
        /// A cap to apply before the next append: `Some(Some(1))` caps at the current size,
        /// `Some(None)` lifts the cap.
        pending: Arc<std::sync::Mutex<Option<Option<u64>>>>,
    }

    impl Journal for Capped {
        fn append(
            &mut self,
            entries: &[Entry],
        ) -> crate::journal::Result<crate::journal::SeqRange> {
            if let Some(cap) = self.pending.lock().unwrap().take() {
                self.inner.set_max_page_count(cap).unwrap();
            }
            self.inner.append(entries)
        }
        fn latest_seq(&self) -> u64 {
            self.inner.latest_seq()
        }
        fn identity(&self) -> crate::journal::JournalId {
            self.inner.identity()
        }
        fn save_snapshot(&mut self, seq: u64, data: &[u8]) -> crate::journal::Result<()> {
            self.inner.save_snapshot(seq, data)
        }
        fn prune_retention(
            &mut self,
            now: UnixMillis,
            retention: &crate::journal::Retention,
        ) -> crate::journal::Result<crate::journal::PruneOutcome> {
            self.inner.prune_retention(now, retention)
        }
        fn reader(&self) -> crate::journal::Result<Arc<dyn JournalReader>> {
            self.inner.reader()
        }
        fn housekeeper(&self) -> crate::journal::Result<Box<dyn Housekeeper>> {
            self.inner.housekeeper()
        }
    }

    type Cap = Arc<std::sync::Mutex<Option<Option<u64>>>>;

    fn capped(dir: &std::path::Path) -> (Capped, Cap) {
        let cap: Cap = Arc::default();
        let inner = SqliteJournal::open(dir, &SqliteConfig::default()).unwrap();
        (
            Capped {
                inner,
                pending: Arc::clone(&cap),
            },
            cap,
        )
    }

    fn alarm(radio: RadioId) -> Input {
        Input::Air(AirInput {
            site: SiteId::new("qingshan"),
            slot: Slot::One,
            rssi_dbm: None,
            event: AirEvent::EmergencyAlarm {
                radio,
                talkgroup: None,
            },
        })
    }

    async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Events from `sub` until one matches `stop` (which is returned last).
    async fn events_until(
        sub: &mut crate::journal::hub::Subscription<JournaledEvent>,
        stop: impl Fn(&EventKind) -> bool,
    ) -> Vec<Arc<JournaledEvent>> {
        let mut seen = Vec::new();
        loop {
            let e = tokio::time::timeout(Duration::from_secs(20), sub.next())
                .await
                .expect("the awaited event")
                .unwrap();
            let done = stop(&e.event.kind);
            seen.push(e);
            if done {
                return seen;
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_journal_that_cannot_be_written_stops_the_gateway_acting_until_it_can() {
        let dir = tempfile::tempdir().unwrap();
        let radio = RadioId::new(0x898001).unwrap();
        let (journal, cap) = capped(dir.path());
        let reader = journal.reader().unwrap();
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
        let mut sub = driver.hub().subscribe(Start::Live).await.unwrap();
        assert!(driver.submit(Input::SiteUp {
            site: SiteId::new("qingshan")
        }));
        assert!(driver.submit(heard(radio)));
        let serving = driver.serving();
        wait_until("serving", || *serving.borrow()).await;

        // The file is capped at its size (a full disk): commits fail as soon as one needs a
        // new page. Commands until then succeed; the one whose commit fails is refused, its
        // transmission never leaves and nothing of it is published.
        *cap.lock().unwrap() = Some(Some(1));
        let mut accepted = Vec::new();
        let reason = loop {
            assert!(accepted.len() < 500, "the capped journal never filled");
            let request_id = format!("fill-{}", accepted.len());
            match driver.command(check(radio, &request_id)).await {
                Ok(Ok(Reply::Operation(op))) => accepted.push(op.id),
                Err(Unavailable::JournalUnwritable { reason }) => break reason,
                other => panic!("{other:?}"),
            }
        };
        let refused_request = format!("fill-{}", accepted.len());
        assert!(reason.contains("full"), "{reason}");
        assert!(!*driver.serving().borrow(), "health must say NOT_SERVING");
        assert!(driver.outage().is_some());
        let before = driver.read(|_, seq| seq).await.unwrap();
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(50), sub.next()).await {}
        // Commands are refused at once while it lasts; inputs are held.
        let again = driver.command(check(radio, "during-2")).await;
        assert!(
            matches!(again, Err(Unavailable::JournalUnwritable { .. })),
            "{again:?}"
        );
        assert!(driver.submit(alarm(radio)));
        for i in 0..5 {
            assert!(driver.submit(heard(RadioId::new(0x20_0000 + i).unwrap())));
        }
        wait_until("inputs held", || {
            driver.stats().held_inputs.load(Ordering::Relaxed) >= 6
        })
        .await;
        // The core never runs ahead of the journal: reads see the durable state only.
        let next_op = OperationId(accepted.len() as u64);
        let (seq, alarms, op) = driver
            .read(move |core, seq| {
                (
                    seq,
                    core.alarms(Default::default(), None, 10).items.len(),
                    core.operation(next_op).is_some(),
                )
            })
            .await
            .unwrap();
        assert_eq!((seq, alarms, op), (before, 0, false));
        assert_eq!(reader.latest_seq().unwrap(), before);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), sub.next())
                .await
                .is_err(),
            "a watcher saw something that is not durable"
        );
        // Every transmission so far belongs to an operation the journal holds.
        let sent: Vec<OperationId> = sent_rx
            .try_iter()
            .filter_map(|o| match o {
                Output::Transmit { operation, .. } => Some(operation),
                _ => None,
            })
            .collect();
        assert!(
            sent.iter().all(|op| accepted.contains(op)),
            "transmitted for an operation that is not durable: {sent:?} vs {accepted:?}"
        );

        // Space returns: the held inputs are journaled in order, the emergency first, and the
        // outage is on record; the gateway serves again.
        *cap.lock().unwrap() = Some(None);
        let seen = events_until(&mut sub, |k| {
            matches!(k, EventKind::JournalRecovered { .. })
        })
        .await;
        assert!(
            seen.iter().any(
                |e| matches!(&e.event.kind, EventKind::AlarmRaised { radio: r, .. } if *r == radio)
            ),
            "the held emergency was journaled"
        );
        let registered = seen
            .iter()
            .filter(|e| matches!(e.event.kind, EventKind::RadioRegistered { .. }))
            .count();
        assert_eq!(registered, 5);
        let Some(EventKind::JournalRecovered { held, reason, .. }) =
            seen.last().map(|e| &e.event.kind)
        else {
            unreachable!()
        };
        assert_eq!(*held, 6);
        assert!(reason.contains("full"), "{reason}");
        assert!(
            !seen
                .iter()
                .any(|e| matches!(e.event.kind, EventKind::OperationCreated { .. })),
            "the refused command left no trace"
        );
        wait_until("serving again", || *serving.borrow()).await;
        assert!(driver.outage().is_none());
        // The request id refused during the outage was never used: it makes a new operation,
        // under a name no one was told of before.
        let Reply::Operation(op) = driver
            .command(check(radio, &refused_request))
            .await
            .unwrap()
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(op.id, next_op);
        assert!(!accepted.contains(&op.id));
        // An accepted request id still names its own operation.
        let Reply::Operation(first) = driver
            .command(check(radio, "fill-0"))
            .await
            .unwrap()
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(first.id, accepted[0]);
        driver.shutdown();
        thread.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_held_buffer_loses_the_oldest_ordinary_inputs_on_record_and_keeps_emergencies() {
        let dir = tempfile::tempdir().unwrap();
        let radio = RadioId::new(0x898001).unwrap();
        let (journal, cap) = capped(dir.path());
        let config = DriverConfig {
            held_limit: 4,
            ..DriverConfig::default()
        };
        let (driver, thread) = start(
            journal,
            dispatch::Config::default(),
            Some(directory(radio)),
            config,
            |_| {},
        )
        .unwrap();
        let mut sub = driver.hub().subscribe(Start::Live).await.unwrap();
        // One input a batch until a commit fails: that input is the first one held.
        *cap.lock().unwrap() = Some(Some(1));
        let mut n = 0;
        while driver.outage().is_none() {
            assert!(n < 5_000, "the capped journal never filled");
            assert!(driver.submit(heard(RadioId::new(0x10_0000 + n).unwrap())));
            driver.read(|_, _| ()).await.unwrap();
            n += 1;
        }
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(50), sub.next()).await {}
        for i in 1..8 {
            assert!(driver.submit(heard(RadioId::new(0x20_0000 + i).unwrap())));
        }
        assert!(driver.submit(alarm(radio)));
        driver.read(|_, _| ()).await.unwrap();
        assert_eq!(driver.stats().lost_inputs.load(Ordering::Relaxed), 5);
        *cap.lock().unwrap() = Some(None);
        let seen = events_until(&mut sub, |k| {
            matches!(k, EventKind::JournalRecovered { .. })
        })
        .await;
        let kinds: Vec<&str> = seen.iter().map(|e| e.event.kind.name()).collect();
        // Held: the input whose commit failed, then 0x200001..3; 0x200004..7 found the
        // buffer full, and the emergency displaced the oldest held input.
        let registered: Vec<u32> = seen
            .iter()
            .filter_map(|e| match e.event.kind {
                EventKind::RadioRegistered { radio, .. } => Some(radio.air() - 0x20_0000),
                _ => None,
            })
            .collect();
        assert_eq!(registered, vec![1, 2, 3], "{kinds:?}");
        assert!(kinds.contains(&"alarm_raised"), "{kinds:?}");
        let lost = seen.iter().find_map(|e| match e.event.kind {
            EventKind::InputsLost {
                count,
                from,
                to,
                reason,
            } => Some((count, from <= to, reason)),
            _ => None,
        });
        assert_eq!(lost, Some((5, true, LossReason::JournalUnwritable)));
        driver.shutdown();
        thread.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_journal_full_at_start_holds_the_first_batch_until_it_takes_writes() {
        let dir = tempfile::tempdir().unwrap();
        let radio = RadioId::new(0x898001).unwrap();
        let (journal, cap) = capped(dir.path());
        *cap.lock().unwrap() = Some(Some(1));
        // A directory large enough that its event needs new pages.
        let mut big = directory(radio);
        big.radios.extend((0..2_000).map(|i| DirectoryRadio {
            id: RadioId::new(0x10_0000 + i).unwrap(),
            name: Some(format!("队员{i:05}")),
        }));
        let (driver, thread) = start(
            journal,
            dispatch::Config::default(),
            Some(big),
            DriverConfig::default(),
            |_| {},
        )
        .unwrap();
        assert!(driver.outage().is_some());
        let refused = driver.command(check(radio, "x")).await;
        assert!(
            matches!(refused, Err(Unavailable::JournalUnwritable { .. })),
            "{refused:?}"
        );
        let mut sub = driver
            .hub()
            .subscribe(Start::After(driver.hub().cursor(0)))
            .await
            .unwrap();
        *cap.lock().unwrap() = Some(None);
        let seen = events_until(&mut sub, |k| {
            matches!(k, EventKind::JournalRecovered { .. })
        })
        .await;
        let kinds: Vec<&str> = seen.iter().map(|e| e.event.kind.name()).collect();
        assert_eq!(
            kinds,
            ["directory_loaded", "gateway_restarted", "journal_recovered"]
        );
        let name = driver
            .read(move |core, _| core.radio(radio).and_then(|r| r.name.clone()))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("张伟"));
        driver.shutdown();
        thread.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queue_drops_are_journaled_as_lost_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        let config = DriverConfig {
            queue: 2,
            ..DriverConfig::default()
        };
        let (driver, thread) =
            start(journal, dispatch::Config::default(), None, config, |_| {}).unwrap();
        let mut sub = driver.hub().subscribe(Start::Live).await.unwrap();
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
        let taken = (0..5)
            .filter(|i| driver.submit(heard(RadioId::new(0x20_0000 + i).unwrap())))
            .count();
        assert_eq!(taken, 2);
        hold_tx.send(()).unwrap();
        held.await.unwrap().unwrap();
        let seen = events_until(&mut sub, |k| matches!(k, EventKind::InputsLost { .. })).await;
        let Some(EventKind::InputsLost { count, reason, .. }) = seen.last().map(|e| &e.event.kind)
        else {
            unreachable!()
        };
        assert_eq!((*count, *reason), (3, LossReason::Overloaded));
        driver.shutdown();
        thread.join().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_configuration_file_wins_at_every_start_and_a_change_is_journaled() {
        let dir = tempfile::tempdir().unwrap();
        let run = |timeout_ms: u64| {
            let path = dir.path().to_path_buf();
            async move {
                let journal = SqliteJournal::open(&path, &SqliteConfig::default()).unwrap();
                let reader = journal.reader().unwrap();
                let config = dispatch::Config {
                    answer_timeout_ms: timeout_ms,
                    ..dispatch::Config::default()
                };
                let (driver, thread) =
                    start(journal, config, None, DriverConfig::default(), |_| {}).unwrap();
                let used = driver
                    .read(|core, _| core.config().answer_timeout_ms)
                    .await
                    .unwrap();
                driver.shutdown();
                thread.join().unwrap();
                let changes = reader
                    .read_after(0, 1000)
                    .unwrap()
                    .iter()
                    .filter(|r| r.kind == "config_changed")
                    .count();
                (used, changes)
            }
        };
        // The default needs no change event; each later change is one, and a snapshot
        // (taken at every shutdown) does not override the file.
        assert_eq!(run(4_000).await, (4_000, 0));
        assert_eq!(run(9_000).await, (9_000, 1));
        assert_eq!(run(9_000).await, (9_000, 1));
        assert_eq!(run(4_000).await, (4_000, 2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_damaged_newest_snapshot_falls_back_to_an_older_one() {
        let dir = tempfile::tempdir().unwrap();
        let radio = |i: u32| RadioId::new(0x20_0000 + i).unwrap();
        // Three runs, each ending with a snapshot: three snapshots kept.
        for run in 0..3 {
            let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
            let (driver, thread) = start(
                journal,
                dispatch::Config::default(),
                None,
                DriverConfig::default(),
                |_| {},
            )
            .unwrap();
            for i in 0..10 {
                assert!(driver.submit(heard(radio(run * 10 + i))));
            }
            driver.read(|_, _| ()).await.unwrap();
            driver.shutdown();
            thread.join().unwrap();
        }
        let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        let reader = journal.reader().unwrap();
        let snapshots = reader.snapshots().unwrap();
        assert_eq!(snapshots.len(), 3);
        drop(journal);
        // Flip one byte in the middle of the newest image: its digest no longer matches.
        let db = rusqlite::Connection::open(dir.path().join("journal.sqlite3")).unwrap();
        let newest = snapshots[0] as i64;
        let mut data: Vec<u8> = db
            .query_row(
                "SELECT data FROM snapshot_chunks WHERE seq = ?1 AND idx = 0",
                [newest],
                |r| r.get(0),
            )
            .unwrap();
        let mid = data.len() / 2;
        data[mid] ^= 0x01;
        db.execute(
            "UPDATE snapshot_chunks SET data = ?1 WHERE seq = ?2 AND idx = 0",
            rusqlite::params![data, newest],
        )
        .unwrap();
        drop(db);
        assert!(
            decode_snapshot(&reader.snapshot(snapshots[0]).unwrap().unwrap().data)
                .unwrap_err()
                .contains("digest")
        );
        // The start falls back to the next older snapshot and replays: nothing is missing.
        let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
        let (driver, thread) = start(
            journal,
            dispatch::Config::default(),
            None,
            DriverConfig::default(),
            |_| {},
        )
        .unwrap();
        let known = driver
            .read(move |core, _| (0..30).filter(|&i| core.radio(radio(i)).is_some()).count())
            .await
            .unwrap();
        assert_eq!(known, 30);
        driver.shutdown();
        thread.join().unwrap();
        // The shutdown saved a good snapshot again.
        let newest = reader.snapshots().unwrap()[0];
        decode_snapshot(&reader.snapshot(newest).unwrap().unwrap().data).unwrap();
    }

    #[test]
    fn no_usable_snapshot_and_pruned_events_stop_the_start_with_what_to_do() {
        use crate::journal::memory::MemoryJournal;
        let mut journal = MemoryJournal::new();
        let entry = |i: u64| {
            let e = Event {
                at: Timestamp(i),
                kind: EventKind::SiteAdded {
                    site: SiteId::new("s"),
                },
            };
            Entry::new(UnixMillis(0), "site_added", serde_json::to_vec(&e).unwrap())
        };
        journal.append(&[entry(1), entry(2)]).unwrap();
        journal.save_snapshot(2, b"TGS1 damaged").unwrap();
        journal.append(&[entry(3)]).unwrap();
        journal.prune(UnixMillis(1_000), Duration::ZERO).unwrap();
        let Err(e) = start(
            journal,
            dispatch::Config::default(),
            None,
            DriverConfig::default(),
            |_| {},
        ) else {
            panic!("started without a usable state")
        };
        let message = e.to_string();
        assert!(message.contains("snapshot at seq 2"), "{message}");
        assert!(message.contains("backup"), "{message}");
    }

    #[test]
    fn snapshot_images_carry_their_digest_and_older_plain_images_still_read() {
        let core = Core::new(dispatch::Config::default());
        let data = encode_snapshot(&core.snapshot()).unwrap();
        assert_eq!(&data[..4], b"TGS1");
        assert_eq!(decode_snapshot(&data).unwrap(), core.snapshot());
        let plain = serde_json::to_vec(&core.snapshot()).unwrap();
        assert_eq!(decode_snapshot(&plain).unwrap(), core.snapshot());
        assert!(
            decode_snapshot(&data[..20])
                .unwrap_err()
                .contains("truncated")
        );
        assert!(decode_snapshot(b"xyz").unwrap_err().contains("header"));
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
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let first = loop {
            if let Some(first) = reader.latest_snapshot().unwrap() {
                break first;
            }
            assert!(std::time::Instant::now() < deadline, "no first snapshot");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
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
        let mut watcher = driver
            .hub()
            .subscribe(Start::After(driver.hub().cursor(0)))
            .await
            .unwrap();
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
