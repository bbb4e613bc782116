//! What the gateway shows of itself: Prometheus metrics on `[metrics] listen` ([`http`]) and
//! the status `trunkgate ctl status` prints ([`Observed::status`]).
//!
//! Contract:
//! - Nothing here keeps a second copy of a count. The links' counters ([`LinkCounters`],
//!   `HomebrewCounters`, through [`LinkRegistry`]), the driver's ([`DriverStats`]), the hub's
//!   and the API's ([`ApiRequests`]) are read when Prometheus scrapes; the only state added
//!   on the hot paths is atomics: the decode and commit latency [`Histogram`]s, the
//!   per-site decoder counts the ingest task stores once per batch ([`IngestStats`]), and
//!   the operations by kind and outcome the driver counts as it journals ([`OperationCounts`]).
//! - Labels name links, link kinds, sites, reasons, stages, methods and codes: sets fixed by
//!   the configuration or the code. No radio, talkgroup or operator identity is ever a label.
//! - Names follow the Prometheus conventions: the `trunkgate_` prefix, base units in the name
//!   (`_seconds`, `_bytes`), `_total` on counters (added by the encoder); the process metrics
//!   use the standard `process_` names. docs/metrics.md lists every series; a test scrapes a
//!   running gateway and checks each listed series is there.
//! - Call-outs by state are the driver's count of the call-outs the core holds (its bounded
//!   history included), refreshed whenever a call-out event is journaled ([`CalloutCounts`]).
//!
//! [`LinkCounters`]: crate::link::LinkCounters
//! [`DriverStats`]: super::driver::DriverStats

pub mod histogram;
pub mod http;
mod process;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use tokio::sync::mpsc;

pub use histogram::Histogram;

use super::driver::DriverHandle;
use super::links::LinkRegistry;
use crate::api::backend::Unavailable;
use crate::api::requests::ApiRequests;
use crate::api::status_service::{
    DriverStatus, GatewayStatus, JournalStatus, SiteQueues, SlotQueue, WatcherStatus,
};
use crate::dispatch::Service;
use crate::dispatch::ingest::IngestCounters;
use crate::link::Transmission;

/// Operation kinds, as the `kind` label names them (the command's service).
pub const OPERATION_KINDS: [&str; 9] = [
    "radio_check",
    "call_alert",
    "stun",
    "revive",
    "kill",
    "text",
    "status",
    "location",
    "emergency_ack",
];

fn kind_index(s: Service) -> usize {
    match s {
        Service::RadioCheck => 0,
        Service::CallAlert => 1,
        Service::Stun => 2,
        Service::Revive => 3,
        Service::Kill => 4,
        Service::Text => 5,
        Service::Status => 6,
        Service::Location => 7,
        Service::EmergencyAck => 8,
    }
}

/// How an operation ended, or `created`; the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted and journaled.
    Created,
    /// Succeeded (at whatever delivery level).
    Succeeded,
    /// The radio or the network refused it.
    Refused,
    /// No answer after the last attempt.
    TimedOut,
    /// Failed (no link, queue limit, ...).
    Failed,
    /// Cancelled by an operator.
    Cancelled,
    /// A kill a second supervisor rejected.
    Rejected,
    /// A kill nobody approved within the approval window.
    Expired,
}

/// The `outcome` label values, in [`Outcome`] order.
pub const OUTCOMES: [&str; 8] = [
    "created",
    "succeeded",
    "refused",
    "timed_out",
    "failed",
    "cancelled",
    "rejected",
    "expired",
];

/// The `state` label values of call-outs, in [`crate::dispatch::CalloutState`] order.
pub const CALLOUT_STATES: [&str; 5] = ["running", "escalated", "satisfied", "expired", "cancelled"];

/// Call-outs by state, as the driver last counted them in the core.
#[derive(Debug, Default)]
pub struct CalloutCounts {
    counts: [AtomicU64; CALLOUT_STATES.len()],
}

impl CalloutCounts {
    /// Store the numbers of call-outs the core holds in each state.
    pub fn store(&self, states: impl Iterator<Item = crate::dispatch::CalloutState>) {
        let mut n = [0u64; CALLOUT_STATES.len()];
        for s in states {
            n[s as usize] += 1;
        }
        for (c, v) in self.counts.iter().zip(n) {
            c.store(v, Ordering::Relaxed);
        }
    }

    /// (state label, number) for every state.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        CALLOUT_STATES
            .iter()
            .zip(&self.counts)
            .map(|(s, c)| (*s, c.load(Ordering::Relaxed)))
            .collect()
    }
}

/// Operations by kind and outcome, counted by the driver as their events are journaled.
#[derive(Debug, Default)]
pub struct OperationCounts {
    counts: [[AtomicU64; OUTCOMES.len()]; OPERATION_KINDS.len()],
}

impl OperationCounts {
    /// Count one operation of `kind` reaching `outcome`.
    pub fn count(&self, kind: Service, outcome: Outcome) {
        self.counts[kind_index(kind)][outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Operations of `kind` (label value) with `outcome` (label value) so far.
    pub fn get(&self, kind: &str, outcome: &str) -> u64 {
        let k = OPERATION_KINDS.iter().position(|k| *k == kind);
        let o = OUTCOMES.iter().position(|o| *o == outcome);
        match (k, o) {
            (Some(k), Some(o)) => self.counts[k][o].load(Ordering::Relaxed),
            _ => 0,
        }
    }
}

/// One site's decoder counts, stored by the ingest task after each batch.
#[derive(Debug, Default)]
pub struct SiteIngest {
    /// Bursts fed to the decoder.
    pub bursts: AtomicU64,
    /// Bursts dropped per stage: sync, slot_type, fec, crc, parse (in [`STAGES`] order).
    pub undecodable: [AtomicU64; STAGES.len()],
    /// Data blocks or headers the assembler dropped.
    pub data_errors: AtomicU64,
    /// MBCs that failed to assemble.
    pub mbc_errors: AtomicU64,
    /// Bits corrected by FEC.
    pub bits_corrected: AtomicU64,
    /// Core inputs produced.
    pub inputs: AtomicU64,
}

/// The decode stages a burst can fail at; the `stage` label.
pub const STAGES: [&str; 5] = ["sync", "slot_type", "fec", "crc", "parse"];

/// Every configured site's decoder counts and the decode latency (module doc).
#[derive(Debug, Default)]
pub struct IngestStats {
    sites: Vec<(String, SiteIngest)>,
    /// Time to decode one burst (sync to PDU and inputs).
    pub decode: Histogram,
}

impl IngestStats {
    /// Counts for these sites (a site not listed is not counted).
    pub fn new(sites: impl IntoIterator<Item = String>) -> IngestStats {
        IngestStats {
            sites: sites
                .into_iter()
                .map(|s| (s, SiteIngest::default()))
                .collect(),
            decode: Histogram::default(),
        }
    }

    /// Store a site's decoder counts (they only grow: plain stores).
    pub fn store(&self, site: &str, c: &IngestCounters) {
        let Some((_, s)) = self.sites.iter().find(|(name, _)| name == site) else {
            return;
        };
        let set = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
        set(&s.bursts, c.bursts);
        for (a, v) in s
            .undecodable
            .iter()
            .zip([c.sync, c.slot_type, c.fec, c.crc, c.parse])
        {
            set(a, v);
        }
        set(&s.data_errors, c.data_errors);
        set(&s.mbc_errors, c.mbc_errors);
        set(&s.bits_corrected, c.bits_corrected);
        set(&s.inputs, c.inputs);
    }
}

/// Where call-outs by state are read from: (state, number).
pub type CalloutSource = Arc<dyn Fn() -> Vec<(&'static str, u64)> + Send + Sync>;

/// A configured site's transmit route, for its queue depth.
#[derive(Debug, Clone)]
pub struct SiteRoute {
    /// Configured name.
    pub site: String,
    /// The link's transmit queue, if the site has a link.
    pub link: Option<mpsc::Sender<Transmission>>,
    /// The configured command slot (1 or 2).
    pub command_slot: u8,
}

/// Everything the metrics and the status read: handles to the rooms' own counters.
#[derive(Clone)]
pub struct Observed {
    /// The links.
    pub links: Arc<LinkRegistry>,
    /// The driver (its stats, hub and journal reader).
    pub driver: DriverHandle,
    /// Decoder counts per site.
    pub ingest: Arc<IngestStats>,
    /// API calls by method and code.
    pub requests: Arc<ApiRequests>,
    /// The journal's directory (its files' sizes).
    pub journal_dir: PathBuf,
    /// Sites in configuration order with their transmit queues.
    pub sites: Vec<SiteRoute>,
    /// Transmit bursts dropped (a full link queue, or no link).
    pub tx_dropped: Arc<AtomicU64>,
    /// When the gateway started.
    pub started: SystemTime,
    /// Call-outs by state (pending: module doc).
    pub callouts: Option<CalloutSource>,
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed")
            .field("journal_dir", &self.journal_dir)
            .finish_non_exhaustive()
    }
}

/// Bytes the files in `dir` take (the journal's database, WAL and shared memory).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Observed {
    /// The journal's figures (reads the journal: call off the async threads).
    fn journal(&self) -> JournalStatus {
        let stats = self.driver.stats();
        let hub = self.driver.hub();
        let newest = hub.latest_seq();
        let oldest = match self.driver.reader().oldest_seq() {
            Ok(seq) => seq.unwrap_or(0),
            Err(e) => {
                tracing::debug!(error = %e, "metrics: cannot read the journal's oldest seq");
                0
            }
        };
        let snapshot_ms = stats.snapshot_at_ms.load(Ordering::Relaxed);
        JournalStatus {
            size_bytes: dir_bytes(&self.journal_dir),
            oldest_seq: oldest,
            newest_seq: newest,
            newest_cursor: hub.cursor(newest).to_string(),
            snapshot_seq: stats.snapshot_seq.load(Ordering::Relaxed),
            snapshot_time: (snapshot_ms != 0)
                .then(|| UNIX_EPOCH + Duration::from_millis(snapshot_ms)),
            commits: stats.commits.load(Ordering::Relaxed),
            failed_commits: stats.failed_commits.load(Ordering::Relaxed),
            events: stats.events.load(Ordering::Relaxed),
        }
    }

    fn driver_status(&self) -> DriverStatus {
        let s = self.driver.stats();
        DriverStatus {
            queued_inputs: self.driver.queued() as u64,
            dropped_inputs: s.dropped_inputs.load(Ordering::Relaxed),
            held_inputs: s.held_inputs.load(Ordering::Relaxed),
            lost_inputs: s.lost_inputs.load(Ordering::Relaxed),
            transmit_dropped: self.tx_dropped.load(Ordering::Relaxed),
        }
    }

    /// Everything `ctl status` shows (GatewayService.GetStatus).
    pub async fn status(&self) -> Result<GatewayStatus, Unavailable> {
        // The core's per-site queues, through the driver like every read.
        let sites = self
            .driver
            .read(|core, _| {
                core.sites()
                    .map(|s| {
                        let busy = s
                            .busy_until
                            .map(|t| (t.0 != 0).then(|| UNIX_EPOCH + Duration::from_millis(t.0)));
                        (s.id.to_string(), s.link_up, s.queue.len(), busy)
                    })
                    .collect::<Vec<_>>()
            })
            .await?;
        let this = self.clone();
        let journal = tokio::task::spawn_blocking(move || this.journal())
            .await
            .unwrap_or_default();
        let hub = self.driver.hub().stats();
        let sites = self
            .sites
            .iter()
            .map(|route| {
                let core = sites.iter().find(|(id, ..)| *id == route.site);
                let (used, capacity) = route.link.as_ref().map_or((0, 0), |l| {
                    (l.max_capacity() - l.capacity(), l.max_capacity())
                });
                SiteQueues {
                    site: route.site.clone(),
                    link_up: core.is_some_and(|c| c.1),
                    queued_operations: core.map_or(0, |c| c.2),
                    link_queue: used,
                    link_queue_capacity: capacity,
                    slots: (1..=2u8)
                        .map(|slot| SlotQueue {
                            slot,
                            command_slot: slot == route.command_slot,
                            busy_until: core.and_then(|c| c.3[usize::from(slot - 1)]),
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(GatewayStatus {
            start_time: Some(self.started),
            serving: *self.driver.serving().borrow(),
            journal_outage: self.driver.outage().map(|r| r.to_string()),
            journal,
            watchers: WatcherStatus {
                watchers: hub.watchers as u64,
                subscribed_total: hub.subscribed_total,
                cut_total: hub.cut_total,
            },
            links: self.links.statuses(),
            sites,
            driver: self.driver_status(),
        })
    }

    /// The registry `/metrics` encodes: the gateway's series under `trunkgate_`, the
    /// process's under their standard names.
    pub fn registry(self) -> Registry {
        let mut root = Registry::default();
        root.register_collector(Box::new(process::ProcessCollector::new(self.started)));
        root.sub_registry_with_prefix("trunkgate")
            .register_collector(Box::new(GatewayCollector(self)));
        root
    }
}

/// Reads every gateway counter at scrape time (module doc).
#[derive(Debug)]
struct GatewayCollector(Observed);

/// Encode one series family: `f` is called with a closure that writes one labelled value.
fn family<'a, L, V>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    ty: MetricType,
    rows: impl IntoIterator<Item = (L, V)>,
) -> Result<(), std::fmt::Error>
where
    L: prometheus_client::encoding::EncodeLabelSet + 'a,
    V: Into<Value>,
{
    let mut m = enc.encode_descriptor(name, help, unit, ty)?;
    for (labels, v) in rows {
        let fam = m.encode_family(&labels)?;
        match (ty, v.into()) {
            (MetricType::Counter, Value::U(v)) => ConstCounter::new(v).encode(fam)?,
            (MetricType::Counter, Value::F(v)) => ConstCounter::new(v).encode(fam)?,
            (_, Value::U(v)) => {
                ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX)).encode(fam)?
            }
            (_, Value::F(v)) => ConstGauge::new(v).encode(fam)?,
        }
    }
    Ok(())
}

/// A sample value.
enum Value {
    U(u64),
    F(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::U(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::F(v)
    }
}

type NoLabels = [(&'static str, &'static str); 0];
const NONE: NoLabels = [];

impl Collector for GatewayCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use MetricType::{Counter, Gauge};
        let o = &self.0;
        let e = &mut enc;

        family(
            e,
            "build_info",
            "The gateway's version (always 1).",
            None,
            Gauge,
            [([("version", env!("CARGO_PKG_VERSION"))], 1u64)],
        )?;

        // Links.
        let links = o.links.counts();
        let ups = links.iter().flat_map(|l| {
            l.sites.iter().map(move |(site, up, _)| {
                (
                    [
                        ("link", l.name.as_str()),
                        ("kind", l.kind),
                        ("site", site.as_str()),
                    ],
                    u64::from(*up),
                )
            })
        });
        family(
            e,
            "link_up",
            "Whether the link carries the site now (1) or not (0).",
            None,
            Gauge,
            ups,
        )?;
        let logins = links.iter().flat_map(|l| {
            l.sites.iter().map(move |(site, _, n)| {
                (
                    [
                        ("link", l.name.as_str()),
                        ("kind", l.kind),
                        ("site", site.as_str()),
                    ],
                    *n,
                )
            })
        });
        family(
            e,
            "link_logins",
            "Times the link came up on the site (a completed login, for Homebrew).",
            None,
            Counter,
            logins,
        )?;
        let per_link = |key: &'static str| {
            links.iter().map(move |l| {
                (
                    [("link", l.name.as_str()), ("kind", l.kind)],
                    l.counters.get(key).copied().unwrap_or(0),
                )
            })
        };
        family(
            e,
            "link_frames_received",
            "Frames received and handed on.",
            None,
            Counter,
            per_link("frames_in"),
        )?;
        family(
            e,
            "link_frames_sent",
            "Frames sent.",
            None,
            Counter,
            per_link("frames_out"),
        )?;
        family(
            e,
            "link_skipped",
            "Bytes skipped while hunting for a frame start (serial links).",
            Some(&Unit::Bytes),
            Counter,
            per_link("skipped_octets"),
        )?;
        family(
            e,
            "link_unauthenticated_frames",
            "Datagrams from peers that are not logged in, or unknown peers.",
            None,
            Counter,
            per_link("unauthenticated"),
        )?;
        family(
            e,
            "link_reconnects",
            "Reconnects or re-logins of the link.",
            None,
            Counter,
            per_link("reconnects"),
        )?;
        family(
            e,
            "link_naks",
            "NAKs received from a modem or master, or sent to a peer.",
            None,
            Counter,
            per_link("naks"),
        )?;
        let last_failure = links.iter().map(|l| {
            (
                [("link", l.name.as_str()), ("kind", l.kind)],
                l.last_failure.map_or(0.0, unix_secs),
            )
        });
        family(
            e,
            "link_last_failure_timestamp_seconds",
            "When the link's latest failure of any cause happened (0: none yet).",
            None,
            Gauge,
            last_failure,
        )?;
        let reasons = |keys: &'static [(&'static str, &'static str)]| {
            links.iter().flat_map(move |l| {
                keys.iter()
                    .filter(|(k, _)| l.counters.contains_key(*k))
                    .map(move |(k, reason)| {
                        (
                            [
                                ("link", l.name.as_str()),
                                ("kind", l.kind),
                                ("reason", *reason),
                            ],
                            l.counters[*k],
                        )
                    })
            })
        };
        family(
            e,
            "link_bad_frames",
            "Frames or datagrams dropped as malformed, by reason.",
            None,
            Counter,
            reasons(&[
                ("bad_length", "bad_length"),
                ("bad_type", "bad_type"),
                ("unknown_command", "unknown_command"),
                ("bad_field", "bad_field"),
            ]),
        )?;
        family(
            e,
            "link_login_failures",
            "Failed Homebrew logins, by reason.",
            None,
            Counter,
            reasons(&[
                ("unknown_peer", "unknown_peer"),
                ("bad_passphrase", "bad_passphrase"),
                ("login_timeouts", "timeout"),
                ("pending_full", "pending_full"),
            ]),
        )?;
        family(
            e,
            "link_dropped",
            "Frames, reports or state changes a link dropped because a queue was full.",
            None,
            Counter,
            reasons(&[
                ("rx_dropped", "receive"),
                ("tx_dropped", "transmit"),
                ("reports_dropped", "sent_report"),
                ("state_dropped", "state"),
            ]),
        )?;

        // Decoding.
        let sites = || o.ingest.sites.iter();
        family(
            e,
            "bursts_received",
            "Bursts fed to a site's decoder.",
            None,
            Counter,
            sites().map(|(s, c)| ([("site", s.as_str())], c.bursts.load(Ordering::Relaxed))),
        )?;
        family(
            e,
            "bursts_undecodable",
            "Bursts dropped by the decoder, by the stage that failed.",
            None,
            Counter,
            sites().flat_map(|(s, c)| {
                STAGES.iter().zip(&c.undecodable).map(move |(stage, n)| {
                    (
                        [("site", s.as_str()), ("stage", *stage)],
                        n.load(Ordering::Relaxed),
                    )
                })
            }),
        )?;
        family(
            e,
            "data_blocks_dropped",
            "Data blocks, headers or multi-block control blocks that did not assemble.",
            None,
            Counter,
            sites().flat_map(|(s, c)| {
                [
                    (
                        [("site", s.as_str()), ("what", "data")],
                        c.data_errors.load(Ordering::Relaxed),
                    ),
                    (
                        [("site", s.as_str()), ("what", "mbc")],
                        c.mbc_errors.load(Ordering::Relaxed),
                    ),
                ]
            }),
        )?;
        family(
            e,
            "fec_corrected_bits",
            "Bits corrected by forward error correction on a site's bursts.",
            None,
            Counter,
            sites().map(|(s, c)| {
                (
                    [("site", s.as_str())],
                    c.bits_corrected.load(Ordering::Relaxed),
                )
            }),
        )?;
        family(
            e,
            "air_inputs",
            "Inputs the decoder handed to the dispatch core.",
            None,
            Counter,
            sites().map(|(s, c)| ([("site", s.as_str())], c.inputs.load(Ordering::Relaxed))),
        )?;
        histogram(
            e,
            "decode_duration_seconds",
            "Time to decode one burst, from sync to the core's inputs.",
            &o.ingest.decode,
        )?;

        // The driver and the journal.
        let stats = o.driver.stats();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        histogram(
            e,
            "journal_commit_duration_seconds",
            "Time to append one batch of events to the journal durably.",
            &stats.commit_seconds,
        )?;
        family(
            e,
            "journal_commits",
            "Journal commits.",
            None,
            Counter,
            [(NONE, load(&stats.commits))],
        )?;
        family(
            e,
            "journal_commit_failures",
            "Journal commits that failed.",
            None,
            Counter,
            [(NONE, load(&stats.failed_commits))],
        )?;
        family(
            e,
            "journal_events",
            "Events journaled.",
            None,
            Counter,
            [(NONE, load(&stats.events))],
        )?;
        family(
            e,
            "journal_outages",
            "Periods in which the journal could not be written.",
            None,
            Counter,
            [(NONE, load(&stats.outages))],
        )?;
        family(
            e,
            "journal_writable",
            "Whether the journal can be written (0 during an outage: the gateway does not act).",
            None,
            Gauge,
            [(NONE, u64::from(o.driver.outage().is_none()))],
        )?;
        let j = o.journal();
        family(
            e,
            "journal_size_bytes",
            "Bytes the journal's files take on disk.",
            None,
            Gauge,
            [(NONE, j.size_bytes)],
        )?;
        family(
            e,
            "journal_oldest_seq",
            "The oldest sequence number kept (0: empty).",
            None,
            Gauge,
            [(NONE, j.oldest_seq)],
        )?;
        family(
            e,
            "journal_newest_seq",
            "The newest sequence number journaled.",
            None,
            Gauge,
            [(NONE, j.newest_seq)],
        )?;
        family(
            e,
            "journal_snapshots",
            "State snapshots saved.",
            None,
            Counter,
            [(NONE, load(&stats.snapshots))],
        )?;
        family(
            e,
            "journal_snapshot_failures",
            "State snapshots that could not be saved.",
            None,
            Counter,
            [(NONE, load(&stats.snapshot_failures))],
        )?;
        family(
            e,
            "journal_snapshot_seq",
            "The sequence number the latest saved snapshot covers (0: none yet).",
            None,
            Gauge,
            [(NONE, j.snapshot_seq)],
        )?;
        let age = j.snapshot_time.map_or(-1.0, |t| {
            SystemTime::now()
                .duration_since(t)
                .map_or(0.0, |d| d.as_secs_f64())
        });
        family(
            e,
            "journal_snapshot_age_seconds",
            "Seconds since this process last saved a snapshot (-1: none yet).",
            None,
            Gauge,
            [(NONE, age)],
        )?;
        let d = o.driver_status();
        family(
            e,
            "dispatch_queued_inputs",
            "Inputs waiting for the dispatch core.",
            None,
            Gauge,
            [(NONE, d.queued_inputs)],
        )?;
        family(
            e,
            "dispatch_dropped_inputs",
            "Inputs dropped because the dispatch core's queue was full (each loss is journaled).",
            None,
            Counter,
            [(NONE, d.dropped_inputs)],
        )?;
        family(
            e,
            "dispatch_held_inputs",
            "Inputs held while the journal cannot be written.",
            None,
            Gauge,
            [(NONE, d.held_inputs)],
        )?;
        family(
            e,
            "dispatch_lost_inputs",
            "Inputs lost because the journal could not be written and the held buffer was full.",
            None,
            Counter,
            [(NONE, d.lost_inputs)],
        )?;
        family(
            e,
            "transmit_dropped_bursts",
            "Transmit bursts dropped: a link's queue was full or the site has no link.",
            None,
            Counter,
            [(NONE, d.transmit_dropped)],
        )?;
        let ops = &stats.operations;
        family(
            e,
            "operations",
            "Over-the-air operations by kind, created and by how they ended.",
            None,
            Counter,
            OPERATION_KINDS.iter().flat_map(|k| {
                OUTCOMES
                    .iter()
                    .map(move |out| ([("kind", *k), ("outcome", *out)], ops.get(k, out)))
            }),
        )?;

        // Watchers.
        let hub = o.driver.hub().stats();
        family(
            e,
            "watchers",
            "Event streams open now.",
            None,
            Gauge,
            [(NONE, hub.watchers as u64)],
        )?;
        family(
            e,
            "watchers_subscribed",
            "Event streams accepted.",
            None,
            Counter,
            [(NONE, hub.subscribed_total)],
        )?;
        family(
            e,
            "watcher_cuts",
            "Event streams cut for falling behind.",
            None,
            Counter,
            [(NONE, hub.cut_total)],
        )?;

        // The API.
        family(
            e,
            "api_requests",
            "API calls by method and gRPC status code.",
            None,
            Counter,
            o.requests
                .snapshot()
                .into_iter()
                .map(|(m, c, n)| ([("method", m), ("code", c)], n)),
        )?;

        // Call-outs by state.
        if let Some(callouts) = &o.callouts {
            family(
                e,
                "callouts",
                "Call-outs by state.",
                None,
                Gauge,
                callouts().into_iter().map(|(s, n)| ([("state", s)], n)),
            )?;
        }
        Ok(())
    }
}

/// Encode a [`Histogram`] without labels.
fn histogram(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    h: &Histogram,
) -> Result<(), std::fmt::Error> {
    let (sum, count, buckets) = h.read();
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(sum, count, &buckets, None)
}
