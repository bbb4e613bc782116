//! MMDVM modem link: the gateway as MMDVM *host*, over a serial line or MMDVMHost's UDP modem
//! transport.
//!
//! Sources: docs/transports.md §1 (framing, codes, layouts, host behaviour, all read from
//! g4klx/MMDVMHost:Modem.cpp and g4klx/MMDVM:SerialPort.cpp), 4.3 (MMDVMHost on a pty), 6
//! (tokio-serial). The link behaves as MMDVMHost does towards the firmware:
//!
//! 1. **Handshake** (`CModem::open`): GET_VERSION, retried ([`MmdvmConfig::version_attempts`]
//!    tries, each waiting [`MmdvmConfig::reply_timeout`]); the reply picks protocol v1 or v2,
//!    anything else is refused. Then SET_FREQ (if configured), SET_CONFIG in the version's
//!    layout with the configured colour code, duplex flag, TX delay and levels, SET_MODE DMR
//!    and, in duplex, DMR_START on. A NAK to any of these fails the handshake; no answer at all
//!    within the reply timeout is accepted with a warning (MMDVMHost's quirk, docs/transports.md §1.6).
//! 2. **Keepalive and flow control**: GET_STATUS every [`MmdvmConfig::status_interval`]
//!    (250 ms). Each status reply gives the free DMR buffer per slot; a queued burst is written
//!    only while that slot's space is > 1 and at least [`MmdvmConfig::tx_spacing`] (10 ms)
//!    after the previous write, and each write takes one from the local count until the next
//!    status (MMDVMHost `CModem::clock`, docs/transports.md §1.5).
//! 3. **Receive**: DMR_DATA1/2 become [`Received`] with the slot, the 33-octet burst and, when
//!    the firmware appends RSSI, `rssi_dbm` through the configured RSSI map (MMDVMHost's
//!    `RSSIMappingFile` interpolation; no map, no value). The receiver is fed with `try_send`:
//!    a full channel drops the burst and counts it in `rx_dropped`, so the modem is read at line
//!    rate whatever the consumer does.
//! 4. **Faults**: a NAK is counted and logged (naming the command and the reason) once per
//!    episode ([`FailureEpisodes`]: a line when the cause starts, one when it has been quiet
//!    for 30 s); the link stays up. A link going down is logged once per reason until it is
//!    up again, not once per retry. Malformed input is counted per reason and skipped (see [`decoder`]). No status
//!    reply for [`MmdvmConfig::silence_timeout`] (2 s), an I/O error or a closed port take the
//!    link down ([`LinkState::Down`]); it reopens the port and redoes the whole handshake after
//!    a capped exponential backoff ([`MmdvmConfig::backoff_min`] doubling to `backoff_max`).
//! 5. **Transmit queue**: one bounded queue per slot ([`MmdvmConfig::tx_queue_len`] bursts),
//!    kept while the link is down; a [`Transmission`] that does not fit is dropped whole and
//!    counted in `tx_dropped`. Bursts of one slot are written at most one per
//!    [`MmdvmConfig::pacing`] interval (the air rate, 60 ms, by default), so the modem's buffer
//!    stays shallow and the write time of the last burst is close to when it goes on the air;
//!    the slots are independent. Once a transmission's last burst is written it is reported
//!    [`Sent`].
//! 6. **Wake-up** ([`MmdvmConfig::wake_up`]): before the first transmission after the link
//!    comes up, and after the link has sent nothing for [`MmdvmConfig::wake_idle`], a
//!    BS_Dwn_Act CSBK (MS-sourced data sync, the site's colour code) is written on TS1 ahead of
//!    it. A duplex MMDVMHost repeater that hears our transmitter ignores everything while idle
//!    until such a wake-up arrives, and looks for it on TS1 only
//!    (g4klx/MMDVMHost:DMRControl.cpp `processWakeup`: "Wakeups always come in on slot 1",
//!    CSBKO_BSDWNACT; ETSI TS 102 361-2 BS outbound activation). The modem itself (DMR_START
//!    in duplex) needs no such burst, so this is a per-link choice.
//!
//! The link makes no decisions about radios (docs/design.md): it neither filters nor rewrites
//! bursts, and ignores [`Transmission::site`] (the caller routes bursts to the right site's
//! link).

pub mod decoder;
pub mod frame;
mod transport;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

pub use decoder::FrameDecoder;
pub use frame::{
    Command, Direction, DmrData, Frame, Mode, ModemConfig, NakReason, ProtocolVersion, Reply,
    SetFreq, Status, TxLevels, Version,
};
pub use transport::PortSpec;
use transport::Transport;

use crate::link::{
    Burst, FailureEpisodes, LinkCounters, LinkState, Pacing, Received, Sent, SentReport, SiteName,
    Slot, Transmission,
};
use crate::wire::WireError;

/// Link configuration. [`MmdvmConfig::new`] gives MMDVMHost's timings.
#[derive(Debug, Clone)]
pub struct MmdvmConfig {
    /// Link name for [`LinkState`] and logs.
    pub name: String,
    /// Where the modem is.
    pub port: PortSpec,
    /// The site every received burst is tagged with.
    pub site: SiteName,
    /// DMR colour code 0-15 for SET_CONFIG.
    pub colour_code: u8,
    /// Duplex (base station) or simplex (DMO, TS2 only).
    pub duplex: bool,
    /// Transmitter key-up delay; sent in 10 ms units, at most 500 ms (the firmware NAKs more).
    pub tx_delay: Duration,
    /// Receive level, 0-255 for 0-100 %.
    pub rx_level: u8,
    /// DMR transmit level, 0-255.
    pub dmr_tx_level: u8,
    /// CW id transmit level, 0-255.
    pub cw_tx_level: u8,
    /// DMR receive delay (SET_CONFIG `dmrDelay`).
    pub dmr_delay: u8,
    /// Set the v2 trunking bit (2026 trunking firmware, docs/transports.md §1.10).
    pub trunking: bool,
    /// Frequencies for SET_FREQ; `None` sends no SET_FREQ.
    pub frequencies: Option<SetFreq>,
    /// Raw RSSI → dBm points, sorted by raw value; empty reports no RSSI.
    pub rssi_map: Vec<(u16, i16)>,
    /// GET_STATUS period (MMDVMHost: 250 ms).
    pub status_interval: Duration,
    /// No status reply for this long takes the link down (MMDVMHost: 2 s).
    pub silence_timeout: Duration,
    /// How long to wait for a reply to each handshake command.
    pub reply_timeout: Duration,
    /// GET_VERSION tries per handshake (MMDVMHost: 6).
    pub version_attempts: u32,
    /// First reconnect delay, doubled after every failed attempt up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Bursts queued per slot for transmit.
    pub tx_queue_len: usize,
    /// Least time between two burst writes (MMDVMHost playout timer: 10 ms).
    pub tx_spacing: Duration,
    /// A frame start whose remainder has not arrived after this long is given up.
    pub partial_frame_timeout: Duration,
    /// How the bursts of one slot are spaced (the air rate by default).
    pub pacing: Pacing,
    /// Write a BS_Dwn_Act wake-up on TS1 before transmitting (module doc, item 6): the BS
    /// address and the source ID it carries.
    pub wake_up: Option<WakeUp>,
    /// After this long without a transmission the next one is preceded by a wake-up again
    /// (MMDVMHost's default DMR mode hang, `[General] RFModeHang=10`).
    pub wake_idle: Duration,
}

/// The identities a BS_Dwn_Act carries (ETSI TS 102 361-2; docs/air-interface.md §3.1: BS address
/// at bits 32-55, source at 56-79).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WakeUp {
    /// The repeater's ID.
    pub bs_address: u32,
    /// Who wakes it (the gateway's identity on the air).
    pub source: u32,
}

impl MmdvmConfig {
    /// Defaults from MMDVMHost (docs/transports.md §1.4-1.7) and the issue: 250 ms status, 2 s
    /// silence, 1.5 s per GET_VERSION try × 6, 0.5 s → 30 s backoff, 64 bursts per slot.
    pub fn new(name: impl Into<String>, port: PortSpec, site: SiteName) -> MmdvmConfig {
        MmdvmConfig {
            name: name.into(),
            port,
            site,
            colour_code: 1,
            duplex: true,
            tx_delay: Duration::from_millis(100),
            rx_level: 128,
            dmr_tx_level: 128,
            cw_tx_level: 128,
            dmr_delay: 0,
            trunking: false,
            frequencies: None,
            rssi_map: Vec::new(),
            status_interval: Duration::from_millis(250),
            silence_timeout: Duration::from_secs(2),
            reply_timeout: Duration::from_millis(1500),
            version_attempts: 6,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            tx_queue_len: 64,
            tx_spacing: Duration::from_millis(10),
            partial_frame_timeout: Duration::from_millis(500),
            pacing: Pacing::default(),
            wake_up: None,
            wake_idle: Duration::from_secs(10),
        }
    }

    /// The SET_CONFIG contents for `version`.
    pub fn modem_config(&self, version: ProtocolVersion) -> ModemConfig {
        let mut c = ModemConfig::dmr(version, self.colour_code, self.duplex);
        // g4klx/MMDVMHost:Modem.cpp: `m_txDelay / 10U // In 10ms units`; firmware limit 50.
        c.tx_delay = (self.tx_delay.as_millis() / 10).min(50) as u8;
        c.rx_level = self.rx_level;
        c.tx_levels.dmr = self.dmr_tx_level;
        c.tx_levels.cw = self.cw_tx_level;
        c.dmr_delay = self.dmr_delay;
        if self.trunking {
            c.dmr_options |= frame::CONFIG_DMR_TRUNKING;
        }
        c
    }

    /// Raw RSSI to dBm by linear interpolation in [`rssi_map`](Self::rssi_map), clamped to its
    /// ends (as MMDVMHost's `CRSSIInterpolator`).
    pub fn rssi_dbm(&self, raw: u16) -> Option<i16> {
        let map = &self.rssi_map;
        let (first, last) = (map.first()?, map.last()?);
        if raw <= first.0 {
            return Some(first.1);
        }
        if raw >= last.0 {
            return Some(last.1);
        }
        let i = map.iter().position(|&(r, _)| r >= raw)?;
        let (r0, d0) = map[i - 1];
        let (r1, d1) = map[i];
        if r1 == r0 {
            return Some(d1);
        }
        let t = f64::from(raw - r0) / f64::from(r1 - r0);
        Some((f64::from(d0) + t * f64::from(d1 - d0)).round() as i16)
    }
}

/// Why a session ended.
enum End {
    Shutdown,
    /// The consumer of received bursts is gone.
    ReceiverGone,
    Failed(String),
}

/// The MMDVM host link task.
pub struct MmdvmLink {
    cfg: MmdvmConfig,
    rx: mpsc::Sender<Received>,
    tx: mpsc::Receiver<Transmission>,
    /// False once every [`Transmission`] sender is gone; the link keeps receiving.
    tx_open: bool,
    state: watch::Sender<LinkState>,
    counters: Arc<LinkCounters>,
    shutdown: CancellationToken,
    decoder: FrameDecoder,
    /// Decoder skip count already added to `counters.skipped_octets`.
    skipped_reported: u64,
    /// Bursts waiting per slot (index 0 = TS1). Why bounded and kept across reconnects: the
    /// core may keep sending while the modem is away; the queue keeps the first
    /// `tx_queue_len` bursts in order and counts each later one it cannot hold as dropped, so
    /// it never grows without limit and never reorders what it sends.
    queues: [VecDeque<Queued>; 2],
    /// Free modem buffer per slot from the last status, minus writes since.
    space: [u8; 2],
    last_write: Option<Instant>,
    /// The last write per slot (air-rate pacing).
    slot_written: [Option<Instant>; 2],
    /// The last transmission written (wake-up after `wake_idle`); `None` after the link came
    /// up.
    last_transmission: Option<Instant>,
    last_slot_written: usize,
    last_status: Instant,
    partial_since: Option<Instant>,
    /// Failures logged once per cause and episode: `link_down`, `nak`, `bad_frames`.
    failures: FailureEpisodes,
}

/// A burst waiting to be written; the last of a transmission carries its report.
#[derive(Debug)]
struct Queued {
    burst: Burst,
    /// First burst of a transmission (a wake-up may go before it).
    first: bool,
    sent: Option<(SentReport, Sent)>,
}

/// Quiet time after which a failure cause of a modem link is logged as stopped.
const FAILURE_QUIET: Duration = Duration::from_secs(30);

fn slot_index(slot: Slot) -> usize {
    match slot {
        Slot::One => 0,
        Slot::Two => 1,
    }
}

const SLOTS: [Slot; 2] = [Slot::One, Slot::Two];

impl MmdvmLink {
    /// Run the link until `shutdown` fires (or the `rx` receiver is dropped): connect,
    /// handshake, relay bursts both ways, reconnect with backoff on failure. Every state change
    /// is published on `state`.
    pub async fn run(
        config: MmdvmConfig,
        rx: mpsc::Sender<Received>,
        tx: mpsc::Receiver<Transmission>,
        state: watch::Sender<LinkState>,
        counters: Arc<LinkCounters>,
        shutdown: CancellationToken,
    ) {
        let failures = FailureEpisodes::new(
            config.name.clone(),
            "MMDVM link",
            FAILURE_QUIET,
            counters.clone(),
        );
        let mut link = MmdvmLink {
            failures,
            cfg: config,
            rx,
            tx,
            tx_open: true,
            state,
            counters,
            shutdown,
            decoder: FrameDecoder::new(Direction::ToHost),
            skipped_reported: 0,
            queues: [VecDeque::new(), VecDeque::new()],
            space: [0, 0],
            last_write: None,
            slot_written: [None, None],
            last_transmission: None,
            last_slot_written: 1,
            last_status: Instant::now(),
            partial_since: None,
        };
        link.supervise().await;
    }

    async fn supervise(&mut self) {
        let mut backoff = self.cfg.backoff_min;
        let mut ever_up = false;
        loop {
            let mut was_up = false;
            let end = self.session(&mut was_up, ever_up).await;
            ever_up |= was_up;
            let reason = match end {
                End::Shutdown => return self.set_down("shutdown"),
                End::ReceiverGone => return self.set_down("receiver closed"),
                End::Failed(reason) => reason,
            };
            self.set_down(&reason);
            // One line when the link goes down (and for each new reason), not one per retry.
            self.failures.note(
                std::time::Instant::now(),
                "link_down",
                &format_args!("{reason}; retrying with backoff from {backoff:?}"),
            );
            if was_up {
                backoff = self.cfg.backoff_min;
            }
            // Sleep the backoff while still taking transmit requests into the bounded queues.
            let until = Instant::now() + backoff;
            loop {
                tokio::select! {
                    _ = self.shutdown.cancelled() => {
                        self.set_down("shutdown");
                        return;
                    }
                    _ = tokio::time::sleep_until(until) => break,
                    t = self.tx.recv(), if self.tx_open => self.accept(t),
                }
            }
            backoff = (backoff * 2).min(self.cfg.backoff_max);
        }
    }

    fn set_down(&self, reason: &str) {
        self.state.send_replace(LinkState::Down {
            link: self.cfg.name.clone(),
            site: Some(self.cfg.site.clone()),
            reason: reason.to_string(),
        });
    }

    /// Take one transmission into its slot's queue, or count it dropped (whole).
    fn accept(&mut self, t: Option<Transmission>) {
        let Some(t) = t else {
            self.tx_open = false;
            return;
        };
        let q = &mut self.queues[slot_index(t.slot)];
        if q.len() + t.bursts.len() > self.cfg.tx_queue_len {
            LinkCounters::bump(&self.counters.tx_dropped);
            return;
        }
        let n = t.bursts.len();
        for (i, burst) in t.bursts.iter().enumerate() {
            let sent = (i + 1 == n).then_some(()).and(t.report.clone()).map(|r| {
                let sent = Sent {
                    tag: r.tag,
                    site: t.site.clone(),
                    slot: t.slot,
                    stream_id: 0,
                    bursts: n,
                    at: std::time::SystemTime::now(),
                };
                (r, sent)
            });
            q.push_back(Queued {
                burst: *burst,
                first: i == 0,
                sent,
            });
        }
    }

    /// The BS_Dwn_Act wake-up burst (module doc, item 6).
    fn wake_up_burst(&self, w: WakeUp) -> Burst {
        use crate::wire::burst::{DataType, SyncPattern};
        use crate::wire::csbk::Csbk;
        let block = Csbk::bs_dwn_act(w.bs_address, w.source).to_bytes(crate::wire::Dialect::Dmr);
        crate::wire::pipeline::bptc_burst(
            SyncPattern::MsData,
            self.cfg.colour_code,
            DataType::Csbk,
            &block,
        )
    }

    async fn session(&mut self, was_up: &mut bool, reconnect: bool) -> End {
        let mut port = match Transport::open(&self.cfg.port).await {
            Ok(p) => p,
            Err(e) => return End::Failed(format!("cannot open {}: {e}", self.cfg.port)),
        };
        self.decoder.clear();
        self.partial_since = None;
        self.space = [0, 0];
        self.last_transmission = None;
        let version = match self.handshake(&mut port).await {
            Ok(v) => v,
            Err(end) => return end,
        };
        *was_up = true;
        if reconnect {
            LinkCounters::bump(&self.counters.reconnects);
        }
        self.failures.clear(&["link_down"]);
        tracing::info!(link = %self.cfg.name, port = %self.cfg.port, ?version, "MMDVM link up");
        self.state.send_replace(LinkState::Up {
            link: self.cfg.name.clone(),
            site: Some(self.cfg.site.clone()),
        });
        self.last_status = Instant::now();
        self.operate(&mut port).await
    }

    /// GET_VERSION with retries, then the configuration commands (docs/transports.md §1.6).
    async fn handshake(&mut self, port: &mut Transport) -> Result<ProtocolVersion, End> {
        let mut version = None;
        for attempt in 1..=self.cfg.version_attempts.max(1) {
            self.write(port, &Command::GetVersion).await?;
            let reply = self
                .await_reply(port, |r| matches!(r, Reply::Version(_)))
                .await?;
            if let Some(Reply::Version(v)) = reply {
                version = Some(v);
                break;
            }
            tracing::debug!(link = %self.cfg.name, attempt, "no GET_VERSION reply");
        }
        let Some(v) = version else {
            return Err(End::Failed(format!(
                "no reply to GET_VERSION after {} attempts",
                self.cfg.version_attempts.max(1)
            )));
        };
        let Some(protocol) = v.protocol() else {
            return Err(End::Failed(format!(
                "unsupported MMDVM protocol version in reply {v:?}"
            )));
        };
        if !v.has_dmr() {
            return Err(End::Failed("modem reports no DMR capability".into()));
        }
        tracing::info!(link = %self.cfg.name, protocol = protocol.number(),
            description = %v.description(), "MMDVM modem found");
        self.decoder.set_version(protocol);
        let mut steps = Vec::with_capacity(4);
        if let Some(f) = self.cfg.frequencies {
            steps.push(Command::SetFreq(f));
        }
        steps.push(Command::SetConfig(self.cfg.modem_config(protocol)));
        steps.push(Command::SetMode(Mode::Dmr));
        if self.cfg.duplex {
            steps.push(Command::DmrStart(true));
        }
        for cmd in steps {
            let k = cmd.kind();
            self.write(port, &cmd).await?;
            let reply = self
                .await_reply(port, |r| {
                    matches!(r, Reply::Ack { command } | Reply::Nak { command, .. } if *command == k)
                })
                .await?;
            match reply {
                Some(Reply::Nak { reason, .. }) => {
                    LinkCounters::bump(&self.counters.naks);
                    tracing::error!(link = %self.cfg.name, command = frame::kind::name(k),
                        %reason, "modem NAK to {} during the handshake: {reason}",
                        frame::kind::name(k));
                    return Err(End::Failed(format!(
                        "modem refused {}: {reason}",
                        frame::kind::name(k)
                    )));
                }
                Some(_) => {}
                None => tracing::warn!(link = %self.cfg.name, command = frame::kind::name(k),
                    "no reply to {}; going on as MMDVMHost does", frame::kind::name(k)),
            }
        }
        Ok(protocol)
    }

    /// Wait up to the reply timeout for a reply `want` accepts; other frames are handled as in
    /// normal operation. `Ok(None)` on timeout.
    async fn await_reply(
        &mut self,
        port: &mut Transport,
        mut want: impl FnMut(&Reply) -> bool,
    ) -> Result<Option<Reply>, End> {
        let deadline = Instant::now() + self.cfg.reply_timeout;
        let mut buf = [0u8; 1024];
        let mut found = None;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return Err(End::Shutdown),
                _ = tokio::time::sleep_until(deadline) => return Ok(None),
                t = self.tx.recv(), if self.tx_open => self.accept(t),
                r = port.read(&mut buf, &self.counters) => {
                    let n = r.map_err(|e| End::Failed(format!("read from the modem: {e}")))?;
                    self.ingest(&buf[..n], &mut |link, reply| {
                        if found.is_none() && want(&reply) {
                            found = Some(reply);
                            Ok(())
                        } else {
                            link.handle(reply)
                        }
                    })?;
                    if found.is_some() {
                        return Ok(found);
                    }
                }
            }
        }
    }

    /// Normal operation: status polling, receive, paced transmit.
    async fn operate(&mut self, port: &mut Transport) -> End {
        let mut buf = [0u8; 1024];
        let mut status = tokio::time::interval(self.cfg.status_interval);
        status.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let next_write = self.next_write();
            let result: Result<(), End> = tokio::select! {
                _ = self.shutdown.cancelled() => {
                    // Best effort: put the modem back to idle (the firmware would after 2 s).
                    let _ = port.write(&Command::SetMode(Mode::Idle).to_vec()).await;
                    return End::Shutdown;
                }
                r = port.read(&mut buf, &self.counters) => match r {
                    Ok(n) => self.ingest(&buf[..n], &mut |link, reply| link.handle(reply)),
                    Err(e) => Err(End::Failed(format!("read from the modem: {e}"))),
                },
                _ = status.tick() => {
                    self.failures.poll(std::time::Instant::now());
                    self.poll_status(port).await
                }
                t = self.tx.recv(), if self.tx_open => {
                    self.accept(t);
                    Ok(())
                }
                _ = tokio::time::sleep_until(next_write.unwrap_or_else(Instant::now)),
                    if next_write.is_some() => self.write_burst(port).await,
            };
            if let Err(end) = result {
                return end;
            }
        }
    }

    async fn poll_status(&mut self, port: &mut Transport) -> Result<(), End> {
        let silent = self.last_status.elapsed();
        if silent > self.cfg.silence_timeout {
            return Err(End::Failed(format!(
                "no status reply from the modem for {} ms",
                silent.as_millis()
            )));
        }
        if let Some(since) = self.partial_since
            && since.elapsed() > self.cfg.partial_frame_timeout
        {
            self.decoder.skip_partial();
            self.partial_since = None;
            self.ingest(&[], &mut |link, reply| link.handle(reply))?;
        }
        self.write(port, &Command::GetStatus).await
    }

    /// When slot `i` may be written next by the air-rate pacing.
    fn slot_due(&self, i: usize) -> Option<Instant> {
        match (self.cfg.pacing, self.slot_written[i]) {
            (Pacing::AirRate(interval), Some(t)) => Some(t + interval),
            _ => None,
        }
    }

    /// When the next burst may be written, if one is waiting and the modem has room.
    fn next_write(&self) -> Option<Instant> {
        let spacing = self.last_write.map(|t| t + self.cfg.tx_spacing);
        (0..2)
            .filter(|&i| !self.queues[i].is_empty() && self.space[i] > 1)
            .map(|i| {
                let due = self.slot_due(i).max(spacing);
                due.unwrap_or_else(Instant::now)
            })
            .min()
    }

    /// Write one burst, alternating between slots that are ready.
    async fn write_burst(&mut self, port: &mut Transport) -> Result<(), End> {
        let now = Instant::now();
        if self
            .last_write
            .is_some_and(|t| t + self.cfg.tx_spacing > now)
        {
            return Ok(());
        }
        let first = 1 - self.last_slot_written;
        let Some(i) = [first, 1 - first].into_iter().find(|&i| {
            !self.queues[i].is_empty()
                && self.space[i] > 1
                && self.slot_due(i).is_none_or(|t| t <= now)
        }) else {
            return Ok(());
        };
        // A wake-up on TS1 ahead of a transmission after the link came up or fell quiet.
        let starts = self.queues[i].front().is_some_and(|q| q.first);
        if let Some(w) = self.cfg.wake_up
            && starts
            && self
                .last_transmission
                .is_none_or(|t| now.saturating_duration_since(t) >= self.cfg.wake_idle)
            && self.space[0] > 1
        {
            let burst = self.wake_up_burst(w);
            self.last_transmission = Some(now);
            return self.write_data(port, 0, burst).await;
        }
        let Some(q) = self.queues[i].pop_front() else {
            return Ok(());
        };
        self.write_data(port, i, q.burst).await?;
        self.last_transmission = Some(Instant::now());
        if let Some((report, sent)) = q.sent {
            let at = std::time::SystemTime::now();
            report.send(Sent { at, ..sent }, &self.counters);
        }
        Ok(())
    }

    async fn write_data(
        &mut self,
        port: &mut Transport,
        i: usize,
        burst: Burst,
    ) -> Result<(), End> {
        let cmd = Command::DmrData {
            slot: SLOTS[i],
            // g4klx/MMDVM ignores the control byte on transmit; MMDVMHost sends 0 (docs/transports.md §1.3).
            control: 0,
            burst,
        };
        self.write(port, &cmd).await?;
        self.space[i] -= 1;
        let now = Instant::now();
        self.last_write = Some(now);
        self.slot_written[i] = Some(now);
        self.last_slot_written = i;
        LinkCounters::bump(&self.counters.frames_out);
        Ok(())
    }

    async fn write(&mut self, port: &mut Transport, cmd: &Command) -> Result<(), End> {
        let mut frame = [0u8; frame::MAX_FRAME_LEN];
        let n = cmd.buffer_len();
        cmd.emit(&mut frame[..n]);
        port.write(&frame[..n]).await.map_err(|e| {
            End::Failed(format!(
                "write {} to the modem: {e}",
                frame::kind::name(cmd.kind())
            ))
        })
    }

    /// Feed octets to the decoder and pass each reply to `on_reply`; count what is bad.
    fn ingest(
        &mut self,
        mut bytes: &[u8],
        on_reply: &mut dyn FnMut(&mut MmdvmLink, Reply) -> Result<(), End>,
    ) -> Result<(), End> {
        let mut progressed = false;
        loop {
            let n = self.decoder.feed(bytes);
            bytes = &bytes[n..];
            loop {
                match self.decoder.next_frame() {
                    Ok(Some(Frame::Reply(r))) => {
                        progressed = true;
                        // Counters first, so whoever sees the frame sees the counts before it.
                        self.sync_skipped();
                        on_reply(self, r)?;
                    }
                    // A host-side decoder only yields replies.
                    Ok(Some(Frame::Command(_))) => {}
                    Ok(None) => break,
                    Err(e) => self.count_bad(&e),
                }
            }
            if bytes.is_empty() {
                break;
            }
        }
        self.sync_skipped();
        if self.decoder.pending() == 0 || progressed {
            self.partial_since = None;
        }
        if self.decoder.pending() > 0 && self.partial_since.is_none() {
            self.partial_since = Some(Instant::now());
        }
        Ok(())
    }

    /// Add the decoder's newly skipped octets to the link counters.
    fn sync_skipped(&mut self) {
        let skipped = self.decoder.skipped_octets();
        self.counters
            .skipped_octets
            .fetch_add(skipped - self.skipped_reported, Ordering::Relaxed);
        self.skipped_reported = skipped;
    }

    fn count_bad(&mut self, e: &WireError) {
        let c = &self.counters;
        LinkCounters::bump(&c.bad_frames);
        let reason = match e {
            WireError::Invalid { field: "type", .. } => &c.bad_type,
            WireError::Invalid {
                field: "length", ..
            }
            | WireError::Truncated { .. }
            | WireError::TooLong { .. } => &c.bad_length,
            _ => &c.bad_field,
        };
        LinkCounters::bump(reason);
        tracing::debug!(link = %self.cfg.name, error = %e, "bad MMDVM frame skipped");
        self.failures.note(
            std::time::Instant::now(),
            "bad_frames",
            &format_args!("{e}; frame skipped"),
        );
    }

    /// A reply in normal operation.
    fn handle(&mut self, reply: Reply) -> Result<(), End> {
        match reply {
            Reply::Status(s) => {
                self.last_status = Instant::now();
                self.space = s.dmr_space;
            }
            Reply::DmrData(d) => {
                let received = Received {
                    site: self.cfg.site.clone(),
                    slot: d.slot,
                    burst: d.burst,
                    rssi_dbm: d.rssi.and_then(|raw| self.cfg.rssi_dbm(raw)),
                    ber_percent: None,
                    meta: None,
                    at: std::time::Instant::now(),
                };
                match self.rx.try_send(received) {
                    Ok(()) => LinkCounters::bump(&self.counters.frames_in),
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        LinkCounters::bump(&self.counters.rx_dropped)
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return Err(End::ReceiverGone),
                }
            }
            Reply::DmrLost(slot) => {
                tracing::debug!(link = %self.cfg.name, slot = slot.number(), "modem lost sync")
            }
            Reply::Nak { command, reason } => {
                LinkCounters::bump(&self.counters.naks);
                self.failures.note(
                    std::time::Instant::now(),
                    "nak",
                    &format_args!(
                        "modem NAK: {} (0x{command:02x}) refused: {reason}",
                        frame::kind::name(command)
                    ),
                );
            }
            Reply::Ack { .. } | Reply::Version(_) => {}
            Reply::Debug { text, values } => tracing::debug!(link = %self.cfg.name,
                text = %String::from_utf8_lossy(&text), ?values, "modem debug"),
            Reply::DebugDump(data) => tracing::debug!(link = %self.cfg.name,
                data = %hex::encode(&data), "modem debug dump"),
            Reply::Other { kind, payload } => tracing::debug!(link = %self.cfg.name,
                kind, len = payload.len(), "unhandled modem frame"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> MmdvmConfig {
        MmdvmConfig::new(
            "m",
            PortSpec::Serial {
                path: "/dev/null".into(),
                baud: 115_200,
            },
            Arc::from("site"),
        )
    }

    #[test]
    fn rssi_map_interpolates_and_clamps() {
        let mut c = cfg();
        assert_eq!(c.rssi_dbm(100), None);
        c.rssi_map = vec![(10, -120), (110, -20), (210, -20)];
        assert_eq!(c.rssi_dbm(0), Some(-120));
        assert_eq!(c.rssi_dbm(10), Some(-120));
        assert_eq!(c.rssi_dbm(60), Some(-70));
        assert_eq!(c.rssi_dbm(110), Some(-20));
        assert_eq!(c.rssi_dbm(1000), Some(-20));
    }

    #[test]
    fn modem_config_follows_settings() {
        let mut c = cfg();
        c.colour_code = 9;
        c.duplex = false;
        c.tx_delay = Duration::from_millis(2000);
        c.trunking = true;
        let m = c.modem_config(ProtocolVersion::V2);
        assert_eq!(m.colour_code, 9);
        assert_eq!(
            m.flags & frame::config_flag::SIMPLEX,
            frame::config_flag::SIMPLEX
        );
        assert_eq!(m.tx_delay, 50, "clamped to the firmware limit");
        assert_eq!(m.dmr_options, frame::CONFIG_DMR_TRUNKING);
        assert_eq!(m.modes, frame::config_mode::DMR);
    }
}
