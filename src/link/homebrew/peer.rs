//! The peer (repeater) side: log into a master, keep the login alive, carry DMRD.
//!
//! [`PeerSession`] is the login state machine, synchronous and free of I/O: feed it packets
//! from the master with [`PeerSession::handle`], call [`PeerSession::poll`] when
//! [`PeerSession::next_deadline`] passes, and perform the [`PeerAction`]s it returns. The flow
//! and timers follow docs/transports.md §2.3 and 2.5 (g4klx/DMRGateway:DMRNetwork.cpp,
//! HBLink-org/hblink3:hblink.py PEER):
//!
//! ```text
//! Waiting ─(backoff over)→ RPTL → Login ─RPTACK salt→ RPTK → Key ─RPTACK→ RPTC → Config
//!   Config ─RPTACK→ [RPTO → Options ─RPTACK→] Connected: RPTPING every ping_interval
//!   Connected ─ max_missed pings unanswered / MSTNAK / MSTCL → Waiting (re-login)
//!   any login step ─ MSTNAK / no answer within login_timeout → Waiting (login failure)
//! ```
//! The wait before a login doubles after each failed attempt, from `backoff_min` up to
//! `backoff_max`, and returns to `backoff_min` once a login succeeds.
//! [`Peer`] is the tokio task around it; it accepts datagrams only from the master's address
//! (as DMRGateway does) and hands received DMRD to its caller tagged with its site. The
//! gateway's transmissions go through its [`Pacer`] (a queue per slot, bursts at the air rate,
//! a fresh stream ID each, [`PeerConfig::pacing`]) and are reported sent once their last burst
//! has left. Every RPTC field comes from [`PeerConfig::info`] (docs/transports.md §2.4).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::packet::{ConfigBlock, Dmrd, Packet, PeerId, RepeaterInfo, login_digest};
use super::{HomebrewCounters, SplitMix, TxFraming, received};
use crate::link::pacer::Paced;
use crate::link::{
    FailureEpisodes, LinkCounters, LinkState, Pacer, Pacing, Received, Sent, SiteName,
    Transmission, Transmit,
};

/// Configuration of one peer link.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Link name in [`LinkState`] events.
    pub name: String,
    /// The master's address.
    pub master: SocketAddr,
    /// Local address to bind (port 0 for an ephemeral port).
    pub bind: SocketAddr,
    /// This repeater's ID.
    pub id: PeerId,
    /// Passphrase shared with the master.
    pub passphrase: String,
    /// The site what this link receives is tagged with.
    pub site: SiteName,
    /// The RPTC configuration fields.
    pub info: RepeaterInfo,
    /// RPTO options text, sent after RPTC when set (docs/transports.md §2.1).
    pub options: Option<String>,
    /// Interval between pings: HBlink peers use 5 s, DMRGateway 10 s (docs/transports.md §2.5).
    pub ping_interval: Duration,
    /// Pings outstanding before the login is given up (HBlink `MAX_MISSED` 3).
    pub max_missed: u32,
    /// Time to wait for the master's answer to each login step.
    pub login_timeout: Duration,
    /// First wait before a login attempt after a failure or loss.
    pub backoff_min: Duration,
    /// Cap of the doubling wait.
    pub backoff_max: Duration,
    /// How the gateway's own transmissions are spaced (the air rate by default).
    pub pacing: Pacing,
    /// Bursts queued per slot for transmit at most.
    pub tx_queue_bursts: usize,
    /// How long a failure cause must stay quiet before its log says it stopped (30 s); a
    /// login that succeeds ends the login causes at once.
    pub failure_quiet: Duration,
}

impl PeerConfig {
    /// A configuration with HBlink's timers (5 s pings, 3 missed) and 1 s → 60 s backoff.
    pub fn new(
        master: SocketAddr,
        id: PeerId,
        passphrase: impl Into<String>,
        site: SiteName,
    ) -> PeerConfig {
        PeerConfig {
            name: format!("homebrew-peer-{}", id.0),
            master,
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
            id,
            passphrase: passphrase.into(),
            site,
            info: RepeaterInfo::default(),
            options: None,
            ping_interval: Duration::from_secs(5),
            max_missed: 3,
            login_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            pacing: Pacing::default(),
            tx_queue_bursts: 1024,
            failure_quiet: Duration::from_secs(30),
        }
    }
}

/// The peer's failure causes that a completed login ends.
const LOGIN_CAUSES: [&str; 6] = [
    "refused_login",
    "bad_passphrase",
    "config_refused",
    "login_timeouts",
    "nak",
    "missed_pongs",
];

/// Where the login stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerPhase {
    /// Waiting to start a login at `until`.
    Waiting { until: Instant },
    /// RPTL sent; waiting for the salt.
    Login { sent: Instant },
    /// RPTK sent; waiting for RPTACK.
    Key { sent: Instant },
    /// RPTC sent; waiting for RPTACK.
    Config { sent: Instant },
    /// RPTO sent; waiting for RPTACK.
    Options { sent: Instant },
    /// Logged in.
    Connected {
        next_ping: Instant,
        outstanding: u32,
    },
}

/// What the session asks its edge to do.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerAction {
    /// Send this packet to the master.
    Send(Packet),
    /// Hand this DMRD to the caller.
    Deliver(Dmrd),
    /// The login completed.
    Up,
    /// The login was lost, with the reason.
    Down(&'static str),
}

/// The peer login state machine (module doc).
#[derive(Debug)]
pub struct PeerSession {
    id: PeerId,
    passphrase: Vec<u8>,
    config: Box<ConfigBlock>,
    options: Option<Vec<u8>>,
    ping_interval: Duration,
    max_missed: u32,
    login_timeout: Duration,
    backoff_min: Duration,
    backoff_max: Duration,
    backoff: Duration,
    phase: PeerPhase,
    was_connected: bool,
    failures: FailureEpisodes,
    counters: Arc<HomebrewCounters>,
}

impl PeerSession {
    /// A session that sends its first RPTL at `now`.
    pub fn new(cfg: &PeerConfig, now: Instant, counters: Arc<HomebrewCounters>) -> PeerSession {
        PeerSession {
            id: cfg.id,
            passphrase: cfg.passphrase.as_bytes().to_vec(),
            config: Box::new(ConfigBlock::from_info(&cfg.info)),
            options: cfg.options.as_ref().map(|o| o.as_bytes().to_vec()),
            ping_interval: cfg.ping_interval,
            max_missed: cfg.max_missed.max(1),
            login_timeout: cfg.login_timeout,
            backoff_min: cfg.backoff_min,
            backoff_max: cfg.backoff_max.max(cfg.backoff_min),
            backoff: cfg.backoff_min,
            phase: PeerPhase::Waiting { until: now },
            was_connected: false,
            failures: FailureEpisodes::new(
                cfg.name.clone(),
                "Homebrew peer",
                cfg.failure_quiet,
                counters.link.clone(),
            ),
            counters,
        }
    }

    /// Count and log (once per episode) a failure the edge saw: a datagram from another
    /// address than the master's, or one that does not parse.
    pub fn note_failure(
        &mut self,
        now: Instant,
        cause: &'static str,
        detail: &dyn std::fmt::Display,
    ) {
        self.failures.note(now, cause, detail);
    }

    /// The current phase.
    pub fn phase(&self) -> PeerPhase {
        self.phase
    }

    /// True once logged in.
    pub fn is_connected(&self) -> bool {
        matches!(self.phase, PeerPhase::Connected { .. })
    }

    /// The RPTC config block this session sends.
    pub fn config_block(&self) -> &ConfigBlock {
        &self.config
    }

    /// When [`PeerSession::poll`] has work next.
    pub fn next_deadline(&self) -> Instant {
        let phase = self.phase_deadline();
        self.failures
            .next_deadline()
            .map_or(phase, |f| f.min(phase))
    }

    /// When the login state machine has work next.
    fn phase_deadline(&self) -> Instant {
        match self.phase {
            PeerPhase::Waiting { until } => until,
            PeerPhase::Login { sent }
            | PeerPhase::Key { sent }
            | PeerPhase::Config { sent }
            | PeerPhase::Options { sent } => sent + self.login_timeout,
            PeerPhase::Connected { next_ping, .. } => next_ping,
        }
    }

    /// Give the login up and wait for the backoff; `failure` marks a failed login attempt
    /// (counted, and doubling the next wait) as opposed to the loss of an established login.
    fn restart(
        &mut self,
        now: Instant,
        reason: &'static str,
        failure: bool,
        out: &mut Vec<PeerAction>,
    ) {
        let link = &self.counters.link;
        if self.is_connected() {
            out.push(PeerAction::Down(reason));
            self.backoff = self.backoff_min;
        } else if failure {
            LinkCounters::bump(&link.login_failures);
        }
        self.phase = PeerPhase::Waiting {
            until: now + self.backoff,
        };
        if failure {
            self.backoff = (self.backoff * 2).min(self.backoff_max);
        }
    }

    /// Run the timers due at `now`.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<PeerAction>) {
        self.failures.poll(now);
        if now < self.phase_deadline() {
            return;
        }
        match self.phase {
            PeerPhase::Waiting { .. } => {
                if self.was_connected {
                    LinkCounters::bump(&self.counters.link.reconnects);
                }
                out.push(PeerAction::Send(Packet::Rptl(self.id)));
                self.phase = PeerPhase::Login { sent: now };
            }
            PeerPhase::Login { .. }
            | PeerPhase::Key { .. }
            | PeerPhase::Config { .. }
            | PeerPhase::Options { .. } => {
                let step = match self.phase {
                    PeerPhase::Login { .. } => "RPTL",
                    PeerPhase::Key { .. } => "RPTK",
                    PeerPhase::Config { .. } => "RPTC",
                    _ => "RPTO",
                };
                LinkCounters::bump(&self.counters.login_timeouts);
                let timeout = self.login_timeout;
                self.failures.note(
                    now,
                    "login_timeouts",
                    &format_args!("no answer to {step} within {timeout:?}; logging in again"),
                );
                self.restart(now, "login timed out", true, out)
            }
            PeerPhase::Connected { outstanding, .. } => {
                if outstanding >= self.max_missed {
                    for _ in 0..outstanding {
                        LinkCounters::bump(&self.counters.missed_pongs);
                    }
                    self.failures.note(
                        now,
                        "missed_pongs",
                        &format_args!("{outstanding} pings unanswered; logging in again"),
                    );
                    self.restart(now, "keepalive lost: pings unanswered", false, out);
                } else {
                    out.push(PeerAction::Send(Packet::RptPing(self.id)));
                    self.phase = PeerPhase::Connected {
                        next_ping: now + self.ping_interval,
                        outstanding: outstanding + 1,
                    };
                }
            }
        }
    }

    fn connected(&mut self, now: Instant, out: &mut Vec<PeerAction>) {
        self.phase = PeerPhase::Connected {
            next_ping: now + self.ping_interval,
            outstanding: 0,
        };
        self.backoff = self.backoff_min;
        self.was_connected = true;
        self.failures.clear(&LOGIN_CAUSES);
        out.push(PeerAction::Up);
    }

    /// Handle one packet from the master.
    pub fn handle(&mut self, now: Instant, packet: Packet, out: &mut Vec<PeerAction>) {
        let c = &self.counters;
        let own = |p: PeerId| {
            let ok = p == self.id;
            if !ok {
                LinkCounters::bump(&c.wrong_id);
            }
            ok
        };
        match (self.phase, packet) {
            (PeerPhase::Login { .. }, Packet::RptAck(salt)) => {
                // > sha256(salt[4] ‖ password) (docs/transports.md §2.3)
                let digest = login_digest(salt, &self.passphrase);
                out.push(PeerAction::Send(Packet::Rptk {
                    id: self.id,
                    digest,
                }));
                self.phase = PeerPhase::Key { sent: now };
            }
            (PeerPhase::Key { .. }, Packet::RptAck(v)) => {
                if own(PeerId(u32::from_be_bytes(v))) {
                    out.push(PeerAction::Send(Packet::Rptc {
                        id: self.id,
                        config: self.config.clone(),
                    }));
                    self.phase = PeerPhase::Config { sent: now };
                }
            }
            (PeerPhase::Config { .. }, Packet::RptAck(v)) => {
                if own(PeerId(u32::from_be_bytes(v))) {
                    match &self.options {
                        Some(options) => {
                            out.push(PeerAction::Send(Packet::Rpto {
                                id: self.id,
                                options: options.clone(),
                            }));
                            self.phase = PeerPhase::Options { sent: now };
                        }
                        None => self.connected(now, out),
                    }
                }
            }
            (PeerPhase::Options { .. }, Packet::RptAck(v)) => {
                if own(PeerId(u32::from_be_bytes(v))) {
                    self.connected(now, out);
                }
            }
            (PeerPhase::Connected { next_ping, .. }, Packet::MstPong(p)) => {
                if own(p) {
                    self.phase = PeerPhase::Connected {
                        next_ping,
                        outstanding: 0,
                    };
                }
            }
            (PeerPhase::Waiting { .. }, Packet::MstNak(p) | Packet::MstCl(p)) => {
                // Already starting over; nothing more to undo.
                if own(p) {
                    LinkCounters::bump(&c.naks);
                }
            }
            (phase, Packet::MstNak(p)) => {
                if own(p) {
                    LinkCounters::bump(&c.naks);
                    let id = self.id.0;
                    let (cause, detail) = match phase {
                        PeerPhase::Login { .. } => {
                            LinkCounters::bump(&c.unknown_peer);
                            (
                                "refused_login",
                                format!(
                                    "MSTNAK to RPTL: the master does not take peer ID {id} \
                                     (not configured there, or too many logins in progress)"
                                ),
                            )
                        }
                        PeerPhase::Key { .. } => {
                            LinkCounters::bump(&c.bad_passphrase);
                            (
                                "bad_passphrase",
                                format!(
                                    "MSTNAK to RPTK: the master refused the passphrase of \
                                     peer ID {id}"
                                ),
                            )
                        }
                        PeerPhase::Config { .. } | PeerPhase::Options { .. } => (
                            "config_refused",
                            format!("MSTNAK to RPTC/RPTO for peer ID {id}"),
                        ),
                        _ => (
                            "nak",
                            format!("MSTNAK while logged in as {id}: the master dropped the login"),
                        ),
                    };
                    self.failures.note(now, cause, &detail);
                    let failure = !self.is_connected();
                    self.restart(now, "refused by master (MSTNAK)", failure, out);
                }
            }
            (_, Packet::MstCl(p)) => {
                if own(p) {
                    self.restart(now, "master closed (MSTCL)", false, out);
                }
            }
            (PeerPhase::Connected { .. }, Packet::Dmrd(d)) => {
                LinkCounters::bump(&c.link.frames_in);
                out.push(PeerAction::Deliver(d));
            }
            (_, Packet::Dmrd(_)) => LinkCounters::bump(&c.not_logged_in),
            (_, Packet::RptAck(_) | Packet::MstPong(_)) => LinkCounters::bump(&c.not_logged_in),
            (_, _) => LinkCounters::bump(&c.ignored),
        }
    }

    /// Frame a burst for the master, or count it dropped when not logged in.
    pub fn transmit(
        &mut self,
        now: Instant,
        t: &Transmit,
        framing: &mut TxFraming,
        rng: &mut SplitMix,
        out: &mut Vec<PeerAction>,
    ) {
        if self.is_connected() {
            let d = framing.frame(now, t, self.id, rng);
            out.push(PeerAction::Send(Packet::Dmrd(d)));
        } else {
            LinkCounters::bump(&self.counters.link.tx_dropped);
        }
    }

    /// Close the login (on shutdown): RPTCL if logged in (docs/transports.md §2.7).
    pub fn close(&mut self, now: Instant, out: &mut Vec<PeerAction>) {
        if self.is_connected() {
            out.push(PeerAction::Send(Packet::RptCl(self.id)));
            out.push(PeerAction::Down("closed"));
        }
        self.phase = PeerPhase::Waiting {
            until: now + self.backoff_max,
        };
    }
}

/// A bound peer link, ready to run.
#[derive(Debug)]
pub struct Peer {
    config: PeerConfig,
    socket: UdpSocket,
    counters: Arc<HomebrewCounters>,
}

/// Send a state event without waiting; a full queue costs a counted drop.
pub(super) fn report(state: &mpsc::Sender<LinkState>, counters: &HomebrewCounters, s: LinkState) {
    if state.try_send(s).is_err() {
        LinkCounters::bump(&counters.state_dropped);
    }
}

/// Hand a received burst to the gateway without waiting; a full queue costs a counted drop.
pub(super) fn deliver(rx: &mpsc::Sender<Received>, counters: &HomebrewCounters, r: Received) {
    if rx.try_send(r).is_err() {
        LinkCounters::bump(&counters.rx_dropped);
    }
}

/// Receive buffer: larger than the longest datagram, so an oversized one is seen as such.
pub(super) const RECV_BUF: usize = super::packet::MAX_DATAGRAM_LEN + 1024;

/// True for receive errors that a UDP socket reports for an earlier send (an ICMP error) and
/// that leave the socket usable.
pub(super) fn transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionReset | Interrupted | WouldBlock
    )
}

impl Peer {
    /// Bind the local socket.
    pub async fn bind(
        config: PeerConfig,
        counters: Arc<HomebrewCounters>,
    ) -> std::io::Result<Peer> {
        let socket = UdpSocket::bind(config.bind).await?;
        Ok(Peer {
            config,
            socket,
            counters,
        })
    }

    /// The bound local address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Run the link until `shutdown`: received DMRD go to `rx`; transmissions from `tx` are
    /// queued per slot, paced ([`PeerConfig::pacing`]) and go to the master, each reported
    /// once its last burst has left; login changes go to `state`. Ends with `Err` only on a
    /// socket failure.
    pub async fn run(
        self,
        rx: mpsc::Sender<Received>,
        mut tx: mpsc::Receiver<Transmission>,
        state: mpsc::Sender<LinkState>,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let Peer {
            config,
            socket,
            counters,
        } = self;
        let mut session = PeerSession::new(&config, Instant::now(), counters.clone());
        let mut framing = TxFraming::default();
        let mut rng = SplitMix::from_entropy();
        let mut pacer = Pacer::new(
            config.pacing,
            config.tx_queue_bursts,
            SplitMix::from_entropy(),
        );
        let mut paced: Vec<Paced> = Vec::new();
        let mut buf = vec![0u8; RECV_BUF];
        let mut out = Vec::new();
        let mut tx_open = true;
        loop {
            let deadline = tokio::time::Instant::from_std(session.next_deadline());
            tokio::select! {
                _ = shutdown.cancelled() => {
                    session.close(Instant::now(), &mut out);
                    flush(&config, &socket, &counters, &rx, &state, &mut out).await?;
                    return Ok(());
                }
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => {
                        if from != config.master {
                            LinkCounters::bump(&counters.wrong_address);
                            LinkCounters::bump(&counters.link.unauthenticated);
                            let master = config.master;
                            session.note_failure(Instant::now(), "wrong_address", &format_args!(
                                "datagram from {from}, not the master {master}; dropped"));
                        } else {
                            match Packet::parse(&buf[..n]) {
                                Ok(p) => session.handle(Instant::now(), p, &mut out),
                                Err(e) => {
                                    counters.bad_frame(&e);
                                    session.note_failure(Instant::now(), "bad_frames",
                                        &format_args!("from the master {from}: {e}"));
                                }
                            }
                        }
                    }
                    Err(e) if transient(&e) => {}
                    Err(e) => return Err(e),
                },
                t = tx.recv(), if tx_open => match t {
                    Some(t) => {
                        if !pacer.push(t) {
                            LinkCounters::bump(&counters.link.tx_dropped);
                        }
                    }
                    None => tx_open = false,
                },
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(
                        pacer.next_due(Instant::now()).unwrap_or_else(Instant::now))),
                    if pacer.queued() > 0 => {}
                _ = tokio::time::sleep_until(deadline) => session.poll(Instant::now(), &mut out),
            }
            flush(&config, &socket, &counters, &rx, &state, &mut out).await?;
            // Bursts due now: framed, sent, then their transmissions reported.
            pacer.poll(Instant::now(), &mut paced);
            for p in paced.drain(..) {
                session.transmit(
                    Instant::now(),
                    &p.transmit,
                    &mut framing,
                    &mut rng,
                    &mut out,
                );
                flush(&config, &socket, &counters, &rx, &state, &mut out).await?;
                if let Some((report, sent)) = p.sent {
                    let at = std::time::SystemTime::now();
                    report.send(Sent { at, ..sent }, &counters.link);
                }
            }
        }
    }
}

async fn flush(
    config: &PeerConfig,
    socket: &UdpSocket,
    counters: &HomebrewCounters,
    rx: &mpsc::Sender<Received>,
    state: &mpsc::Sender<LinkState>,
    out: &mut Vec<PeerAction>,
) -> std::io::Result<()> {
    for action in out.drain(..) {
        match action {
            PeerAction::Send(p) => {
                let is_dmrd = matches!(p, Packet::Dmrd(_));
                match socket.send_to(&p.to_vec(), config.master).await {
                    Ok(_) if is_dmrd => LinkCounters::bump(&counters.link.frames_out),
                    Ok(_) => {}
                    Err(e) if transient(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            PeerAction::Deliver(d) => {
                deliver(rx, counters, received(&config.site, &d, Instant::now()));
            }
            PeerAction::Up => report(
                state,
                counters,
                LinkState::Up {
                    link: config.name.clone(),
                    site: Some(config.site.clone()),
                },
            ),
            PeerAction::Down(reason) => report(
                state,
                counters,
                LinkState::Down {
                    link: config.name.clone(),
                    site: Some(config.site.clone()),
                    reason: reason.to_string(),
                },
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: PeerId = PeerId(4_600_001);
    const SALT: [u8; 4] = [0x74, 0xb1, 0x2e, 0x21];

    fn config() -> PeerConfig {
        let mut c = PeerConfig::new(
            SocketAddr::from(([127, 0, 0, 1], 62031)),
            ID,
            "passw0rd",
            Arc::from("north"),
        );
        c.backoff_min = Duration::from_secs(1);
        c.backoff_max = Duration::from_secs(4);
        c
    }

    fn session(cfg: &PeerConfig, t0: Instant) -> (PeerSession, Arc<HomebrewCounters>) {
        let counters = Arc::new(HomebrewCounters::default());
        (PeerSession::new(cfg, t0, counters.clone()), counters)
    }

    fn ack(id: PeerId) -> Packet {
        Packet::RptAck(id.0.to_be_bytes())
    }

    /// Drive a fresh session through the whole login; returns the actions of the last step.
    fn login(s: &mut PeerSession, t: Instant) -> Vec<PeerAction> {
        let mut out = Vec::new();
        s.poll(t, &mut out);
        assert_eq!(out, vec![PeerAction::Send(Packet::Rptl(ID))]);
        out.clear();
        s.handle(t, Packet::RptAck(SALT), &mut out);
        out.clear();
        s.handle(t, ack(ID), &mut out);
        out.clear();
        s.handle(t, ack(ID), &mut out);
        out
    }

    #[test]
    fn login_follows_the_measured_flow() {
        let t0 = Instant::now();
        let cfg = config();
        let (mut s, _) = session(&cfg, t0);
        let mut out = Vec::new();
        s.poll(t0, &mut out);
        assert_eq!(out, vec![PeerAction::Send(Packet::Rptl(ID))]);
        out.clear();
        s.handle(t0, Packet::RptAck(SALT), &mut out);
        let mut digest = [0u8; 32];
        hex::decode_to_slice(
            "3b8cda4b1da9f12f40fcc78e3c479d2f7fa2cea3921698ed93165d2afe254d0b",
            &mut digest,
        )
        .unwrap();
        assert_eq!(out, vec![PeerAction::Send(Packet::Rptk { id: ID, digest })]);
        out.clear();
        s.handle(t0, ack(ID), &mut out);
        assert_eq!(
            out,
            vec![PeerAction::Send(Packet::Rptc {
                id: ID,
                config: Box::new(ConfigBlock::from_info(&cfg.info)),
            })]
        );
        out.clear();
        s.handle(t0, ack(ID), &mut out);
        assert_eq!(out, vec![PeerAction::Up]);
        assert!(s.is_connected());
    }

    #[test]
    fn options_are_sent_when_configured() {
        let t0 = Instant::now();
        let mut cfg = config();
        cfg.options = Some("Type=HBlink;".into());
        let (mut s, _) = session(&cfg, t0);
        let out = login(&mut s, t0);
        assert_eq!(
            out,
            vec![PeerAction::Send(Packet::Rpto {
                id: ID,
                options: b"Type=HBlink;".to_vec()
            })]
        );
        let mut out = Vec::new();
        s.handle(t0, ack(ID), &mut out);
        assert_eq!(out, vec![PeerAction::Up]);
    }

    #[test]
    fn pings_and_missed_pongs() {
        let t0 = Instant::now();
        let cfg = config();
        let (mut s, counters) = session(&cfg, t0);
        login(&mut s, t0);
        let mut out = Vec::new();
        // First ping after one interval; a pong clears it.
        let t1 = t0 + cfg.ping_interval;
        assert_eq!(s.next_deadline(), t1);
        s.poll(t1, &mut out);
        assert_eq!(out, vec![PeerAction::Send(Packet::RptPing(ID))]);
        s.handle(t1, Packet::MstPong(ID), &mut out);
        // Then three pings without an answer, and the fourth deadline gives up.
        out.clear();
        let mut t = t1;
        for _ in 0..3 {
            t += cfg.ping_interval;
            s.poll(t, &mut out);
        }
        assert_eq!(out, vec![PeerAction::Send(Packet::RptPing(ID)); 3]);
        out.clear();
        t += cfg.ping_interval;
        s.poll(t, &mut out);
        assert_eq!(
            out,
            vec![PeerAction::Down("keepalive lost: pings unanswered")]
        );
        assert_eq!(
            s.phase(),
            PeerPhase::Waiting {
                until: t + cfg.backoff_min
            }
        );
        assert_eq!(counters.snapshot().missed_pongs, 3);
        // After the backoff it logs in again, counted as a reconnect.
        out.clear();
        s.poll(t + cfg.backoff_min, &mut out);
        assert_eq!(out, vec![PeerAction::Send(Packet::Rptl(ID))]);
        assert_eq!(counters.snapshot().link.reconnects, 1);
    }

    #[test]
    fn failed_logins_back_off_exponentially_up_to_the_cap() {
        let t0 = Instant::now();
        let cfg = config();
        let (mut s, counters) = session(&cfg, t0);
        let mut out = Vec::new();
        let mut t = t0;
        let mut waits = Vec::new();
        for _ in 0..5 {
            s.poll(t, &mut out);
            assert_eq!(out, vec![PeerAction::Send(Packet::Rptl(ID))]);
            out.clear();
            s.handle(t, Packet::MstNak(ID), &mut out);
            assert!(out.is_empty(), "no Down before the first login: {out:?}");
            let PeerPhase::Waiting { until } = s.phase() else {
                panic!("not waiting: {:?}", s.phase());
            };
            waits.push(until - t);
            t = until;
        }
        let secs = |n| Duration::from_secs(n);
        assert_eq!(waits, vec![secs(1), secs(2), secs(4), secs(4), secs(4)]);
        assert_eq!(counters.snapshot().link.login_failures, 5);
        assert_eq!(counters.snapshot().naks, 5);
        // A successful login resets the wait.
        login(&mut s, t);
        s.handle(t, Packet::MstNak(ID), &mut out);
        assert_eq!(s.phase(), PeerPhase::Waiting { until: t + secs(1) });
    }

    #[test]
    fn silent_login_steps_time_out() {
        let t0 = Instant::now();
        let cfg = config();
        let (mut s, counters) = session(&cfg, t0);
        let mut out = Vec::new();
        s.poll(t0, &mut out);
        s.handle(t0, Packet::RptAck(SALT), &mut out);
        out.clear();
        s.poll(t0 + cfg.login_timeout - Duration::from_millis(1), &mut out);
        assert!(out.is_empty());
        s.poll(t0 + cfg.login_timeout, &mut out);
        assert!(matches!(s.phase(), PeerPhase::Waiting { .. }));
        assert_eq!(counters.snapshot().link.login_failures, 1);
    }

    #[test]
    fn master_close_and_nak_while_connected_relogin() {
        let t0 = Instant::now();
        let cfg = config();
        for (packet, reason) in [
            (Packet::MstCl(ID), "master closed (MSTCL)"),
            (Packet::MstNak(ID), "refused by master (MSTNAK)"),
        ] {
            let (mut s, counters) = session(&cfg, t0);
            login(&mut s, t0);
            let mut out = Vec::new();
            s.handle(t0, packet, &mut out);
            assert_eq!(out, vec![PeerAction::Down(reason)]);
            assert_eq!(counters.snapshot().link.login_failures, 0);
        }
    }

    #[test]
    fn dmrd_only_when_logged_in_and_other_ids_ignored() {
        let t0 = Instant::now();
        let cfg = config();
        let (mut s, counters) = session(&cfg, t0);
        let bytes = hex::decode(super::super::packet::tests::HEADER).unwrap();
        let d = Dmrd::parse(&bytes).unwrap();
        let mut out = Vec::new();
        s.handle(t0, Packet::Dmrd(d), &mut out);
        assert!(out.is_empty());
        assert_eq!(counters.snapshot().not_logged_in, 1);
        login(&mut s, t0);
        out.clear();
        s.handle(t0, Packet::Dmrd(d), &mut out);
        assert_eq!(out, vec![PeerAction::Deliver(d)]);
        assert_eq!(counters.snapshot().link.frames_in, 1);
        out.clear();
        s.handle(t0, Packet::MstNak(PeerId(99)), &mut out);
        assert!(out.is_empty() && s.is_connected());
        assert_eq!(counters.snapshot().wrong_id, 1);
    }

    #[test]
    fn close_says_rptcl_when_logged_in() {
        let t0 = Instant::now();
        let cfg = config();
        let (mut idle, _) = session(&cfg, t0);
        let mut out = Vec::new();
        idle.close(t0, &mut out);
        assert!(out.is_empty());
        let (mut s, _) = session(&cfg, t0);
        login(&mut s, t0);
        s.close(t0, &mut out);
        assert_eq!(
            out,
            vec![
                PeerAction::Send(Packet::RptCl(ID)),
                PeerAction::Down("closed")
            ]
        );
    }
}
