//! Links: the docs/transports.md between the radio network and the gateway.
//!
//! A link turns bytes on a serial line or a UDP socket into [`Received`] bursts and sends the
//! [`Transmit`] bursts the core asks for. Links do framing, handshakes, keepalives, reconnects
//! and (for the Homebrew master) the configured relay between peers; they make no decisions
//! about radios, calls or commands (docs/design.md). Bad input costs a counter in
//! [`LinkCounters`], never the link; every failure cause is also logged, once when it starts
//! and once when it stops ([`FailureEpisodes`]), and the last one is kept for the API.
//!
//! The gateway's own commands arrive as [`Transmission`]s. Each link keeps a queue per site and
//! slot ([`Pacer`]) and sends a transmission's bursts one per [`AIR_BURST_INTERVAL`] per slot
//! (the air rate; [`Pacing::AtOnce`] only as an explicit choice), so a long transmission on one
//! slot never delays the other; draws a fresh stream ID for every transmission; and reports
//! [`Sent`] once its last burst has left, which the gateway feeds back to the core (answer
//! timeouts start there).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub mod homebrew;
pub mod mmdvm;
pub mod pacer;

pub use pacer::{AIR_BURST_INTERVAL, Pacer, Pacing};

/// Length of a DMR / PDT burst in octets (264 bits).
pub const BURST_LEN: usize = 33;

/// One 264-bit burst as it stands on the air.
pub type Burst = [u8; BURST_LEN];

/// TDMA timeslot.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Slot {
    /// Timeslot 1.
    One,
    /// Timeslot 2.
    Two,
}

impl Slot {
    /// 1 or 2.
    pub const fn number(self) -> u8 {
        match self {
            Slot::One => 1,
            Slot::Two => 2,
        }
    }
}

/// Site name as written in the configuration; every received burst carries the site it came
/// from.
pub type SiteName = Arc<str>;

/// What a link hands to the gateway for every burst it receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The configured site the burst came from.
    pub site: SiteName,
    /// The timeslot it was received on.
    pub slot: Slot,
    /// The 33-octet burst.
    pub burst: Burst,
    /// Received signal strength in dBm, where the transport reports it.
    pub rssi_dbm: Option<i16>,
    /// Bit error rate in percent, where the transport reports it.
    pub ber_percent: Option<f32>,
    /// Link-level hints from the transport header (Homebrew DMRD addressing), where known.
    pub meta: Option<FrameMeta>,
    /// Arrival time at the gateway.
    pub at: Instant,
}

/// Addressing a transport header carries beside the burst (Homebrew DMRD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    /// Source radio ID (24 bits).
    pub source: u32,
    /// Destination radio or talkgroup ID (24 bits).
    pub destination: u32,
    /// True for a private (unit-to-unit) call.
    pub private: bool,
    /// Stream ID of the transmission.
    pub stream_id: u32,
}

/// What a transport carries beside bursts: the talker alias and GPS LCs that MMDVMHost sends
/// as Homebrew `DMRA` / `DMRG` packets (g4klx/MMDVMHost `CDMRNetwork::writeTalkerAlias` /
/// `writePosition`, g4klx/DMRGateway `DMRNetwork.cpp`; docs/ip-data.md). MMDVMHost sends the embedded
/// LC a superframe late, so a GPS LC in a call's last, partial superframe reaches the network
/// only this way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aux {
    /// The configured site it came from.
    pub site: SiteName,
    /// Source radio (24 bits).
    pub source: u32,
    /// What it carries.
    pub kind: AuxKind,
    /// Arrival time at the gateway.
    pub at: Instant,
}

/// The payload of an [`Aux`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuxKind {
    /// Talker alias LC octets 2–8: `block` 0 is the header (FLCO 4), 1–3 the blocks (FLCO 5–7).
    TalkerAlias { block: u8, data: [u8; 7] },
    /// GPS info LC (FLCO 8) octets 2–8.
    Gps { data: [u8; 7] },
}

/// A burst the gateway wants a link to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Transmit {
    /// The site to send on.
    pub site: SiteName,
    /// The timeslot to send on.
    pub slot: Slot,
    /// The 33-octet burst.
    pub burst: Burst,
    /// Link-level addressing for transports that carry it (Homebrew DMRD).
    pub meta: Option<FrameMeta>,
}

/// One transmission: bursts that leave as one stream on one site and slot, back to back at
/// the air rate (docs/design.md, the data path: a transmit queue per site and slot, bursts
/// paced at the air rate, a fresh stream ID per transmission, "sent at" fed back to the core).
#[derive(Debug, Clone)]
pub struct Transmission {
    /// The site to send on.
    pub site: SiteName,
    /// The timeslot to send on.
    pub slot: Slot,
    /// The bursts, in order.
    pub bursts: Vec<Burst>,
    /// Link-level addressing for transports that carry it (Homebrew DMRD).
    pub meta: Option<FrameMeta>,
    /// True: the link draws a fresh, unpredictable stream ID for this transmission (never the
    /// previous one on the slot), whatever `meta.stream_id` holds. False: `meta.stream_id` is
    /// kept (a relay or a simulated radio continuing its own stream).
    pub fresh_stream: bool,
    /// Where to report once the last burst has left, if anywhere.
    pub report: Option<SentReport>,
}

impl From<Transmit> for Transmission {
    /// A single burst that keeps the stream ID its meta names.
    fn from(t: Transmit) -> Transmission {
        Transmission {
            site: t.site,
            slot: t.slot,
            bursts: vec![t.burst],
            meta: t.meta,
            fresh_stream: false,
            report: None,
        }
    }
}

/// Where a link reports a transmission that has left, with the caller's tag.
#[derive(Debug, Clone)]
pub struct SentReport {
    /// The channel; reports go with `try_send`, a full channel costs a counted drop
    /// ([`LinkCounters::reports_dropped`]).
    pub to: tokio::sync::mpsc::Sender<Sent>,
    /// The caller's tag, echoed in [`Sent::tag`].
    pub tag: u64,
}

/// A transmission whose last burst has been handed to the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The caller's tag.
    pub tag: u64,
    /// The site.
    pub site: SiteName,
    /// The timeslot.
    pub slot: Slot,
    /// The stream ID used (0 where the transport has none, e.g. MMDVM serial).
    pub stream_id: u32,
    /// Bursts sent.
    pub bursts: usize,
    /// When the last burst left (wall clock, so the core can take it as a timestamp).
    pub at: std::time::SystemTime,
}

impl SentReport {
    /// Report `sent`, without waiting.
    pub fn send(&self, sent: Sent, counters: &LinkCounters) {
        if self.to.try_send(sent).is_err() {
            LinkCounters::bump(&counters.reports_dropped);
        }
    }
}

/// Link state changes reported to the supervisor and to the health service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// The link is up (modem handshake done, or logged in / a peer logged in).
    Up {
        link: String,
        site: Option<SiteName>,
    },
    /// The link is down, with the reason.
    Down {
        link: String,
        site: Option<SiteName>,
        reason: String,
    },
}

/// Counters per link (each link has its own), read by the API; relaxed atomics, never a lock
/// on the receive path (the one mutex, [`LinkCounters::last_failure`], is taken only when a
/// failure episode starts, which [`FailureEpisodes`] limits to once per cause and episode).
#[derive(Debug, Default)]
pub struct LinkCounters {
    /// Frames received and handed on.
    pub frames_in: AtomicU64,
    /// Frames sent.
    pub frames_out: AtomicU64,
    /// Frames or datagrams dropped as malformed.
    pub bad_frames: AtomicU64,
    /// Octets skipped while hunting for a frame start.
    pub skipped_octets: AtomicU64,
    /// Datagrams from peers that are not logged in, or unknown peers.
    pub unauthenticated: AtomicU64,
    /// Reconnects or re-logins.
    pub reconnects: AtomicU64,
    /// Failed logins (wrong passphrase, refused, timed out).
    pub login_failures: AtomicU64,
    /// NAKs received from a modem.
    pub naks: AtomicU64,
    /// Transmit frames dropped because the queue was full while the link was down.
    pub tx_dropped: AtomicU64,
    /// Of `bad_frames`: wrong length (impossible length octet, payload too short or long).
    pub bad_length: AtomicU64,
    /// Of `bad_frames`: a type code no peer sends.
    pub bad_type: AtomicU64,
    /// Of `bad_frames`: a field value the frame cannot carry.
    pub bad_field: AtomicU64,
    /// Received frames dropped because the consumer's channel was full.
    pub rx_dropped: AtomicU64,
    /// "Sent" reports dropped because the gateway's channel was full (the operation then
    /// times out on its handover deadline instead).
    pub reports_dropped: AtomicU64,
    /// Unix milliseconds of the latest failure of any cause (0: none yet).
    pub last_failure_ms: AtomicU64,
    /// The cause and detail of the failure episode that started last. Written only when an
    /// episode starts (rate-limited by [`FailureEpisodes`]), never per packet.
    pub last_failure: Mutex<Option<String>>,
}

impl LinkCounters {
    /// Add one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Note a failure's time; with `started`, also what the new episode is (a lock, taken
    /// only when an episode starts).
    pub fn note_failure(&self, started: Option<String>) {
        let ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| {
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
            });
        self.last_failure_ms.store(ms, Ordering::Relaxed);
        if let Some(what) = started
            && let Ok(mut last) = self.last_failure.lock()
        {
            *last = Some(what);
        }
    }

    /// The last failure episode's description and the time of the latest failure.
    pub fn last_failure(&self) -> Option<(String, SystemTime)> {
        let ms = self.last_failure_ms.load(Ordering::Relaxed);
        let what = self.last_failure.lock().ok()?.clone()?;
        (ms != 0).then(|| (what, SystemTime::UNIX_EPOCH + Duration::from_millis(ms)))
    }

    /// A plain copy of every counter.
    pub fn snapshot(&self) -> LinkCountersSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LinkCountersSnapshot {
            frames_in: get(&self.frames_in),
            frames_out: get(&self.frames_out),
            bad_frames: get(&self.bad_frames),
            skipped_octets: get(&self.skipped_octets),
            unauthenticated: get(&self.unauthenticated),
            reconnects: get(&self.reconnects),
            login_failures: get(&self.login_failures),
            naks: get(&self.naks),
            tx_dropped: get(&self.tx_dropped),
            bad_length: get(&self.bad_length),
            bad_type: get(&self.bad_type),
            bad_field: get(&self.bad_field),
            rx_dropped: get(&self.rx_dropped),
            reports_dropped: get(&self.reports_dropped),
        }
    }
}

/// Rate-limited failure logging for one link (a recurring cause is logged once when
/// it starts and once when it stops, never a line per packet). Each cause is an episode: the
/// first failure logs a `warn` line with the cause and the detail (peer, address, reason) and
/// records it in the link's [`LinkCounters::last_failure`]; further failures of that cause are
/// only counted; once the cause stays quiet for `quiet`, or [`FailureEpisodes::clear`] ends it
/// (a login that then succeeds), one `info` line says it stopped, with the count.
#[derive(Debug)]
pub struct FailureEpisodes {
    link: String,
    what: &'static str,
    quiet: Duration,
    counters: Arc<LinkCounters>,
    /// Active episodes: cause, first and last failure, count, last detail.
    active: Vec<(&'static str, Instant, u64, String)>,
}

/// Causes one link keeps apart at most; more are folded into the oldest (bounded memory).
const MAX_CAUSES: usize = 32;

impl FailureEpisodes {
    /// Episodes of `link` (a `what` such as "Homebrew peer" names the side in the lines).
    pub fn new(
        link: impl Into<String>,
        what: &'static str,
        quiet: Duration,
        counters: Arc<LinkCounters>,
    ) -> FailureEpisodes {
        FailureEpisodes {
            link: link.into(),
            what,
            quiet,
            counters,
            active: Vec::new(),
        }
    }

    /// One failure of `cause` at `now`; `detail` is logged when this starts an episode.
    pub fn note(&mut self, now: Instant, cause: &'static str, detail: &dyn std::fmt::Display) {
        if let Some(e) = self.active.iter_mut().find(|e| e.0 == cause) {
            e.1 = now;
            e.2 += 1;
            self.counters.note_failure(None);
            return;
        }
        let detail = detail.to_string();
        tracing::warn!(link = %self.link, cause, %detail,
            "{}: failures started (further ones are counted, not logged)", self.what);
        self.counters
            .note_failure(Some(format!("{cause}: {detail}")));
        if self.active.len() >= MAX_CAUSES {
            self.active.remove(0);
        }
        self.active.push((cause, now, 1, detail));
    }

    /// End the episodes that have been quiet for the quiet time.
    pub fn poll(&mut self, now: Instant) {
        let quiet = self.quiet;
        let (link, what) = (&self.link, self.what);
        self.active.retain(|(cause, last, count, _)| {
            let over = now.saturating_duration_since(*last) >= quiet;
            if over {
                tracing::info!(%link, cause, count, ?quiet, "{what}: failures stopped");
            }
            !over
        });
    }

    /// End these causes' episodes now (the thing they prevented has succeeded).
    pub fn clear(&mut self, causes: &[&'static str]) {
        let (link, what) = (&self.link, self.what);
        self.active.retain(|(cause, _, count, _)| {
            let end = causes.contains(cause);
            if end {
                tracing::info!(%link, cause, count, "{what}: failures stopped (recovered)");
            }
            !end
        });
    }

    /// When [`FailureEpisodes::poll`] has work next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.active.iter().map(|e| e.1 + self.quiet).min()
    }

    /// Whether an episode of `cause` is running.
    pub fn is_active(&self, cause: &str) -> bool {
        self.active.iter().any(|e| e.0 == cause)
    }
}

/// A copy of [`LinkCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkCountersSnapshot {
    pub frames_in: u64,
    pub frames_out: u64,
    pub bad_frames: u64,
    pub skipped_octets: u64,
    pub unauthenticated: u64,
    pub reconnects: u64,
    pub login_failures: u64,
    pub naks: u64,
    pub tx_dropped: u64,
    pub bad_length: u64,
    pub bad_type: u64,
    pub bad_field: u64,
    pub rx_dropped: u64,
    pub reports_dropped: u64,
}
