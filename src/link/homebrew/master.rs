//! The master side: accept configured peers, keep their logins, relay between them.
//!
//! [`MasterCore`] is synchronous and free of I/O: [`MasterCore::handle`] takes one datagram
//! with its source address, [`MasterCore::poll`] runs the timers, [`MasterCore::transmit`]
//! frames a burst from the gateway, and each returns [`MasterAction`]s for the edge.
//! [`Master`] is the tokio task around it.
//!
//! Login, as HBlink3's master does it (docs/transports.md §2.3, HBLink-org/hblink3 hblink.py):
//! RPTL from a configured ID → RPTACK with a fresh random salt; RPTK whose digest equals
//! SHA-256(salt ‖ passphrase) → RPTACK id, else MSTNAK and the attempt is dropped; RPTC →
//! RPTACK id and the peer is up; RPTO → RPTACK id. RPTL from an ID not in the configuration →
//! MSTNAK. Any login packet, ping or option out of step, or from an address other than the one
//! the login started from, gets MSTNAK, which tells the peer to log in again (DMRGateway
//! re-logs in on MSTNAK, docs/transports.md §2.5). Pings may come every 5 s (HBlink) or 10 s
//! (DMRGateway): the master does not care about the interval, only about silence: a peer with no
//! ping or DMRD for `ping_timeout` (60 s by default, DMRGateway's own dead time, docs/transports.md
//! 2.5) is dropped. RPTCL from the peer's address drops it at once; on shutdown every logged-in
//! peer gets MSTCL (2.7). DMRD from a peer that is not logged in is dropped and counted (HBlink
//! drops it silently).
//!
//! Peer IDs are not secret, so a login in progress never touches a logged-in peer. Unlike
//! HBlink3 (whose RPTL replaces the peer's entry before any digest check), logins in progress
//! are held apart from the logged-in peers, keyed by peer ID and source address: a logged-in
//! peer stays logged in, with its address, until a challenger completes the whole login (RPTL →
//! salt → RPTK with the right digest → RPTC) or the peer logs out (RPTCL) or falls silent. Only
//! then does the challenger's address replace the old one, so a real peer that restarted on a
//! new source port logs back in, while a forged RPTL costs nothing but a pending entry. (A real
//! peer speaks from one source port for its whole session: DMRGateway 2a3306d, recorded logging
//! into this master on loopback, completes RPTL → RPTC in three exchanges and keeps its port.)
//! Refusals go back to the address they came from, never to the logged-in peer, which would
//! take an MSTNAK as a reason to log in again (DMRGateway, docs/transports.md §2.5). Pending
//! logins are bounded per peer ID ([`MasterConfig::max_pending_per_peer`]), per source IP
//! address, all its ports together ([`MasterConfig::max_pending_per_address`]), and in total
//! ([`MasterConfig::max_pending`]); an RPTL past a bound gets MSTNAK. A pending login expires
//! `login_timeout` after its last step (20 s by default: DMRGateway repeats an unanswered login
//! step every 10 s, docs/transports.md §2.5). A UDP source address can be forged by anyone who never
//! needs the answer; such a sender can still make a peer's own address look out of step, which
//! nothing short of a cryptographic transport prevents.
//!
//! Every refusal is counted by its cause in [`HomebrewCounters`]: `unknown_peer`,
//! `bad_passphrase`, `login_timeouts`, `pending_full`, `wrong_address`, `not_logged_in`, and
//! `bad_frames` with its reasons; `link.login_failures` and `link.unauthenticated` keep their
//! meaning. Each cause is logged when it starts (with peer ID, address and reason) and when it
//! has been quiet for [`MasterConfig::failure_quiet`] (with the count), never once per packet.
//!
//! Relay (docs/transports.md §2.8, HBlink3 repeat mode), unless [`MasterConfig::relay`] turns it
//! off (then every peer's DMRD goes to the gateway alone): DMRD from peer A goes to the gateway and
//! to the other logged-in peers on the same slot, octets 11-14 rewritten to each receiver's ID.
//! Group traffic (and so group CSBKs and data) goes to every other peer; private calls and data
//! go to the peer where the called radio was last heard, when the master has heard it, and
//! otherwise to every other peer. An allow-list on either peer narrows this: a group frame
//! passes only where both peers allow its talkgroup on that slot; a private frame only where
//! both leave the slot open. Each peer's slot carries one stream at a time (its own radios'
//! stream counts, since the repeater is busy repeating it): another
//! stream waits until the current one ended (terminator, or `stream_timeout` of silence, HBlink's
//! 360 ms `STREAM_TO`) and then `hang_time` more, unless it is for the same destination (HBlink's
//! group hang time). The gateway's own transmissions go through the link's [`Pacer`] (one
//! queue per site and slot, bursts at the air rate, a fresh stream ID each) and then
//! ([`MasterCore::transmit`]) to the peers of their site without this arbitration, on the
//! peer's configured slot where [`MasterConfig::tx_slots`] names one; each is reported
//! [`Sent`](crate::link::Sent) once its last burst has left.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::packet::{
    CallType, ConfigBlock, Dmrd, Packet, PeerId, Short, login_digest, short_dmra, short_dmrg,
};
use super::peer::{RECV_BUF, deliver, report, transient};
use super::{HomebrewCounters, SplitMix, TxFraming, received};
use crate::link::pacer::Paced;
use crate::link::{
    Aux, AuxKind, LinkCounters, LinkState, Pacer, Pacing, Received, SiteName, Slot, Transmission,
    Transmit,
};

/// What a peer may pass on one slot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotAllow {
    /// Everything.
    All,
    /// Nothing.
    Closed,
    /// Group traffic to these talkgroups, and private traffic.
    Talkgroups(Vec<u32>),
}

impl SlotAllow {
    fn admits(&self, d: &Dmrd) -> bool {
        match self {
            SlotAllow::All => true,
            SlotAllow::Closed => false,
            SlotAllow::Talkgroups(tgs) => {
                d.call == CallType::Private || tgs.contains(&d.destination)
            }
        }
    }
}

/// A peer's allow-list, per slot (HBlink's TGID_TS1_ACL / TGID_TS2_ACL, docs/transports.md §2.8).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Allow {
    pub ts1: SlotAllow,
    pub ts2: SlotAllow,
}

impl Allow {
    fn admits(&self, d: &Dmrd) -> bool {
        match d.slot {
            Slot::One => self.ts1.admits(d),
            Slot::Two => self.ts2.admits(d),
        }
    }
}

/// One configured peer.
#[derive(Debug, Clone)]
pub struct PeerEntry {
    pub id: PeerId,
    pub passphrase: String,
    /// The site this peer's traffic is tagged with, and the site the gateway names to send to it.
    pub site: SiteName,
    /// Narrows the relay to and from this peer; `None` relays everything.
    pub allow: Option<Allow>,
    /// The source addresses this peer may send from; `None` accepts any. A datagram naming
    /// this peer from elsewhere is dropped unanswered and counted (`source_refused`).
    pub allowed_sources: Option<Vec<IpAddr>>,
}

/// Configuration of a master link.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// Link name in [`LinkState`] events.
    pub name: String,
    /// Address to listen on (port 0 for an ephemeral port).
    pub bind: SocketAddr,
    /// The peers allowed to log in.
    pub peers: Vec<PeerEntry>,
    /// Silence after which a peer is dropped (60 s by default).
    pub ping_timeout: Duration,
    /// Silence that ends a relayed stream (HBlink `STREAM_TO`, 360 ms).
    pub stream_timeout: Duration,
    /// How long a receiving slot stays reserved for the last destination after a stream ends.
    pub hang_time: Duration,
    /// Radios remembered for routing private calls (bounded: the table is cleared when full).
    pub last_heard_capacity: usize,
    /// How long a login in progress waits for its next step before it is dropped (20 s).
    pub login_timeout: Duration,
    /// Logins in progress for one peer ID at most, from all addresses together (8).
    pub max_pending_per_peer: usize,
    /// Logins in progress from one source IP address at most, all its ports together (4).
    /// Below the per-peer bound, so one address alone cannot take every slot of a peer ID.
    pub max_pending_per_address: usize,
    /// Logins in progress at most, all peers and addresses together (256).
    pub max_pending: usize,
    /// How long a failure cause must stay quiet before its log says it stopped (30 s).
    pub failure_quiet: Duration,
    /// How the gateway's own transmissions are spaced (the air rate by default).
    pub pacing: Pacing,
    /// Bursts queued per site and slot for transmit at most.
    pub tx_queue_bursts: usize,
    /// Peers whose gateway transmissions go on another slot than the one asked for (one master
    /// serving repeaters with different command slots at one site, e.g. a simplex hotspot
    /// that only carries TS2, docs/transports.md §1.7).
    pub tx_slots: HashMap<PeerId, Slot>,
    /// Relay DMRD between peers (true by default); false hands every peer's traffic to the
    /// gateway alone, so what a site receives is what the gateway sends it.
    pub relay: bool,
}

impl MasterConfig {
    /// A configuration with the defaults above and a 5 s hang time (HBlink `GROUP_HANGTIME`,
    /// docs/transports.md §4.1).
    pub fn new(bind: SocketAddr, peers: Vec<PeerEntry>) -> MasterConfig {
        MasterConfig {
            name: String::from("homebrew-master"),
            bind,
            peers,
            ping_timeout: Duration::from_secs(60),
            stream_timeout: Duration::from_millis(360),
            hang_time: Duration::from_secs(5),
            last_heard_capacity: 65_536,
            login_timeout: Duration::from_secs(20),
            max_pending_per_peer: 8,
            max_pending_per_address: 4,
            max_pending: 256,
            failure_quiet: Duration::from_secs(30),
            pacing: Pacing::default(),
            tx_queue_bursts: 1024,
            tx_slots: HashMap::new(),
            relay: true,
        }
    }
}

/// What the core asks its edge to do.
#[derive(Debug, Clone, PartialEq)]
pub enum MasterAction {
    /// Send this packet to this address.
    Send { to: SocketAddr, packet: Packet },
    /// Hand this burst to the gateway.
    Deliver(Received),
    /// Report a peer going up or down.
    State(LinkState),
    /// Hand a talker alias / GPS LC (DMRA, DMRG) to the gateway.
    Aux(Aux),
}

/// A login in progress, held apart from the logged-in peers until it completes.
#[derive(Debug, Clone, Copy)]
struct Pending {
    salt: [u8; 4],
    /// The digest matched; RPTC completes the login.
    authenticated: bool,
    /// The last login step; the login expires `login_timeout` after it.
    last_step: Instant,
}

/// A logged-in peer.
#[derive(Debug)]
struct Conn {
    addr: SocketAddr,
    last_heard: Instant,
    config: Option<Box<ConfigBlock>>,
    framing: TxFraming,
    /// The stream each slot carries toward this peer (index 0 = TS1).
    slots: [Option<SlotOwner>; 2],
}

#[derive(Debug, Clone, Copy)]
struct SlotOwner {
    stream_id: u32,
    destination: u32,
    call: CallType,
    last: Instant,
    ended: bool,
}

/// Why the master refused something; one log episode per cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    UnknownPeer,
    BadPassphrase,
    LoginTimeout,
    PendingFull,
    WrongAddress,
    NotLoggedIn,
    Malformed,
    AuxCut,
    SourceRefused,
}

impl Failure {
    const ALL: [Failure; 9] = [
        Failure::UnknownPeer,
        Failure::BadPassphrase,
        Failure::LoginTimeout,
        Failure::PendingFull,
        Failure::WrongAddress,
        Failure::NotLoggedIn,
        Failure::Malformed,
        Failure::AuxCut,
        Failure::SourceRefused,
    ];

    /// The cause as logged; the same word as its counter.
    fn name(self) -> &'static str {
        match self {
            Failure::UnknownPeer => "unknown_peer",
            Failure::BadPassphrase => "bad_passphrase",
            Failure::LoginTimeout => "login_timeouts",
            Failure::PendingFull => "pending_full",
            Failure::WrongAddress => "wrong_address",
            Failure::NotLoggedIn => "not_logged_in",
            Failure::Malformed => "bad_frames",
            Failure::AuxCut => "aux_cut",
            Failure::SourceRefused => "source_refused",
        }
    }
}

/// One cause's log episode: it started at the first failure and stops after a quiet spell.
#[derive(Debug, Clone, Copy, Default)]
struct Episode {
    /// `Some(last failure)` while the cause is active.
    last: Option<Instant>,
    count: u64,
    /// Who the last failure came from.
    last_peer: Option<PeerId>,
    last_from: Option<SocketAddr>,
}

fn peer_label(peer: Option<PeerId>) -> String {
    peer.map_or_else(|| String::from("none"), |p| p.0.to_string())
}

/// Rate-limited logging of refusals: one line when a cause starts, one when it stops.
#[derive(Debug)]
struct FailureLog {
    quiet: Duration,
    episodes: [Episode; Failure::ALL.len()],
}

impl FailureLog {
    fn note(
        &mut self,
        link: &str,
        now: Instant,
        cause: Failure,
        peer: Option<PeerId>,
        from: SocketAddr,
        reason: &dyn std::fmt::Display,
    ) -> bool {
        let e = &mut self.episodes[cause as usize];
        let started = e.last.is_none();
        if started {
            let peer = peer_label(peer);
            tracing::warn!(%link, cause = cause.name(), %peer, %from, %reason,
                "Homebrew master: refusals started (further ones are counted, not logged)");
            e.count = 0;
        }
        e.last = Some(now);
        e.count += 1;
        e.last_peer = peer;
        e.last_from = Some(from);
        started
    }

    fn poll(&mut self, link: &str, now: Instant) {
        for cause in Failure::ALL {
            let e = &mut self.episodes[cause as usize];
            if let Some(last) = e.last
                && now.saturating_duration_since(last) >= self.quiet
            {
                let last_peer = peer_label(e.last_peer);
                let last_from = e.last_from.map_or_else(String::new, |a| a.to_string());
                tracing::info!(%link, cause = cause.name(), count = e.count, %last_peer,
                    %last_from, quiet = ?self.quiet, "Homebrew master: refusals stopped");
                *e = Episode::default();
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.episodes
            .iter()
            .filter_map(|e| e.last)
            .min()
            .map(|last| last + self.quiet)
    }
}

/// Which bound on logins in progress an RPTL met, with the bound.
#[derive(Debug, Clone, Copy)]
enum PendingBound {
    PerAddress(IpAddr, usize),
    PerPeer(usize),
    Total(usize),
}

impl std::fmt::Display for PendingBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PendingBound::PerAddress(ip, n) => write!(
                f,
                "logins in progress from {ip} at their bound of {n} (max_pending_per_address)"
            ),
            PendingBound::PerPeer(n) => write!(
                f,
                "logins in progress for this peer ID at their bound of {n} (max_pending_per_peer)"
            ),
            PendingBound::Total(n) => {
                write!(f, "logins in progress at their bound of {n} (max_pending)")
            }
        }
    }
}

/// The peer a datagram from a peer names (its login steps, keepalives, closes and the
/// repeater ID of its traffic); `None` for packets only a master sends.
fn claimed_peer(p: &Packet) -> Option<PeerId> {
    match p {
        Packet::Rptl(id)
        | Packet::Rptk { id, .. }
        | Packet::Rptc { id, .. }
        | Packet::Rpto { id, .. }
        | Packet::RptPing(id)
        | Packet::RptCl(id)
        | Packet::Rptg { id, .. } => Some(*id),
        Packet::Dmrd(d) => Some(d.repeater),
        Packet::Dmra(a) => Some(a.repeater),
        Packet::Dmrg(g) => Some(g.repeater),
        Packet::RptAck(_)
        | Packet::MstPong(_)
        | Packet::MstNak(_)
        | Packet::MstCl(_)
        | Packet::RptSbkn(_)
        | Packet::DmraShort(_)
        | Packet::DmrgShort(_) => None,
    }
}

/// The master state machine (module doc).
#[derive(Debug)]
pub struct MasterCore {
    name: String,
    entries: HashMap<PeerId, PeerEntry>,
    /// Logged-in peers only; a login in progress never touches this map.
    conns: HashMap<PeerId, Conn>,
    /// Logins in progress, by peer ID and the address they come from.
    pending: HashMap<(PeerId, SocketAddr), Pending>,
    /// `pending` counted per peer ID and per source IP, kept in step with it.
    pending_per_peer: HashMap<PeerId, usize>,
    pending_per_address: HashMap<IpAddr, usize>,
    heard: HashMap<u32, PeerId>,
    ping_timeout: Duration,
    stream_timeout: Duration,
    hang_time: Duration,
    heard_capacity: usize,
    login_timeout: Duration,
    max_pending_per_peer: usize,
    max_pending_per_address: usize,
    max_pending: usize,
    failures: FailureLog,
    tx_slots: HashMap<PeerId, Slot>,
    relay: bool,
    rng: SplitMix,
    counters: Arc<HomebrewCounters>,
}

fn slot_index(s: Slot) -> usize {
    usize::from(s == Slot::Two)
}

impl MasterCore {
    /// A core for `config`, drawing salts and stream IDs from `rng`.
    pub fn new(
        config: &MasterConfig,
        rng: SplitMix,
        counters: Arc<HomebrewCounters>,
    ) -> MasterCore {
        MasterCore {
            name: config.name.clone(),
            entries: config.peers.iter().map(|p| (p.id, p.clone())).collect(),
            conns: HashMap::new(),
            pending: HashMap::new(),
            pending_per_peer: HashMap::new(),
            pending_per_address: HashMap::new(),
            heard: HashMap::new(),
            ping_timeout: config.ping_timeout,
            stream_timeout: config.stream_timeout,
            hang_time: config.hang_time,
            heard_capacity: config.last_heard_capacity.max(1),
            login_timeout: config.login_timeout,
            max_pending_per_peer: config.max_pending_per_peer,
            max_pending_per_address: config.max_pending_per_address,
            max_pending: config.max_pending,
            failures: FailureLog {
                quiet: config.failure_quiet,
                episodes: Default::default(),
            },
            tx_slots: config.tx_slots.clone(),
            relay: config.relay,
            rng,
            counters,
        }
    }

    /// IDs of the peers logged in now.
    pub fn connected(&self) -> Vec<PeerId> {
        let mut v: Vec<PeerId> = self.conns.keys().copied().collect();
        v.sort();
        v
    }

    /// The address a logged-in peer speaks from.
    pub fn peer_addr(&self, id: PeerId) -> Option<SocketAddr> {
        self.conns.get(&id).map(|c| c.addr)
    }

    /// Logins in progress now.
    pub fn pending_logins(&self) -> usize {
        self.pending.len()
    }

    /// The config block a logged-in peer sent.
    pub fn peer_config(&self, id: PeerId) -> Option<&ConfigBlock> {
        self.conns.get(&id).and_then(|c| c.config.as_deref())
    }

    /// When [`MasterCore::poll`] has work next (a peer's silence or a pending login running
    /// out, or a failure cause going quiet).
    pub fn next_deadline(&self, now: Instant) -> Instant {
        let conns = self
            .conns
            .values()
            .map(|c| c.last_heard + self.ping_timeout);
        let pending = self
            .pending
            .values()
            .map(|p| p.last_step + self.login_timeout);
        conns
            .chain(pending)
            .chain(self.failures.next_deadline())
            .min()
            .unwrap_or(now + self.ping_timeout)
    }

    fn state(&self, id: PeerId, up: bool, reason: &str) -> MasterAction {
        let site = self.entries.get(&id).map(|e| e.site.clone());
        MasterAction::State(if up {
            LinkState::Up {
                link: self.name.clone(),
                site,
            }
        } else {
            LinkState::Down {
                link: self.name.clone(),
                site,
                reason: format!("peer {}: {reason}", id.0),
            }
        })
    }

    fn nak(&self, to: SocketAddr, id: PeerId, out: &mut Vec<MasterAction>) {
        LinkCounters::bump(&self.counters.naks);
        out.push(MasterAction::Send {
            to,
            packet: Packet::MstNak(id),
        });
    }

    /// Count and log one refusal under its cause.
    fn refuse(
        &mut self,
        now: Instant,
        cause: Failure,
        peer: Option<PeerId>,
        from: SocketAddr,
        reason: &dyn std::fmt::Display,
    ) {
        let c = &self.counters;
        match cause {
            Failure::UnknownPeer => LinkCounters::bump(&c.unknown_peer),
            Failure::BadPassphrase => LinkCounters::bump(&c.bad_passphrase),
            Failure::LoginTimeout => LinkCounters::bump(&c.login_timeouts),
            Failure::PendingFull => LinkCounters::bump(&c.pending_full),
            Failure::WrongAddress => LinkCounters::bump(&c.wrong_address),
            Failure::NotLoggedIn => LinkCounters::bump(&c.not_logged_in),
            Failure::AuxCut => LinkCounters::bump(&c.aux_cut),
            Failure::SourceRefused => LinkCounters::bump(&c.source_refused),
            // `bad_frame` counted it under its reason already.
            Failure::Malformed => {}
        }
        match cause {
            Failure::UnknownPeer
            | Failure::BadPassphrase
            | Failure::LoginTimeout
            | Failure::PendingFull => LinkCounters::bump(&c.link.login_failures),
            Failure::WrongAddress | Failure::NotLoggedIn | Failure::SourceRefused => {
                LinkCounters::bump(&c.link.unauthenticated)
            }
            Failure::Malformed | Failure::AuxCut => {}
        }
        let started = self
            .failures
            .note(&self.name, now, cause, peer, from, reason);
        self.counters.link.note_failure(started.then(|| {
            format!(
                "{}: peer {} from {from}: {reason}",
                cause.name(),
                peer_label(peer)
            )
        }));
    }

    /// Count a packet from `from` for `id` that does not fit a login state: from another
    /// address than the peer's login, or with no login (or the wrong step of one) behind it.
    fn unauthenticated(&mut self, now: Instant, from: SocketAddr, id: PeerId, what: &str) {
        if self.conns.get(&id).is_some_and(|conn| conn.addr != from) {
            let reason = format_args!("{what} from an address the peer is not logged in from");
            self.refuse(now, Failure::WrongAddress, Some(id), from, &reason);
        } else {
            let reason = format_args!("{what} out of step with the login");
            self.refuse(now, Failure::NotLoggedIn, Some(id), from, &reason);
        }
    }

    /// Refuse a packet that does not fit the peer's login state or address: counted, and
    /// MSTNAK to the sender (HBlink3 answers MSTNAK to any packet out of step, docs/transports.md
    /// 2.3).
    fn out_of_step(
        &mut self,
        now: Instant,
        from: SocketAddr,
        id: PeerId,
        what: &str,
        out: &mut Vec<MasterAction>,
    ) {
        self.unauthenticated(now, from, id, what);
        self.nak(from, id, out);
    }

    /// Whether `id` is logged in from `from`.
    fn logged_in_from(&self, id: PeerId, from: SocketAddr) -> bool {
        self.conns.get(&id).is_some_and(|c| c.addr == from)
    }

    fn add_pending(&mut self, id: PeerId, from: SocketAddr, p: Pending) {
        if self.pending.insert((id, from), p).is_none() {
            *self.pending_per_peer.entry(id).or_default() += 1;
            *self.pending_per_address.entry(from.ip()).or_default() += 1;
        }
    }

    fn remove_pending(&mut self, id: PeerId, from: SocketAddr) -> Option<Pending> {
        let p = self.pending.remove(&(id, from))?;
        if let Some(n) = self.pending_per_peer.get_mut(&id) {
            *n -= 1;
            if *n == 0 {
                self.pending_per_peer.remove(&id);
            }
        }
        if let Some(n) = self.pending_per_address.get_mut(&from.ip()) {
            *n -= 1;
            if *n == 0 {
                self.pending_per_address.remove(&from.ip());
            }
        }
        Some(p)
    }

    /// The bound a new login from `from` for `id` would pass, if any.
    fn pending_bound(&self, id: PeerId, from: SocketAddr) -> Option<PendingBound> {
        let count = |n: Option<&usize>| n.copied().unwrap_or(0);
        let per_address = count(self.pending_per_address.get(&from.ip()));
        let per_peer = count(self.pending_per_peer.get(&id));
        if per_address >= self.max_pending_per_address {
            Some(PendingBound::PerAddress(
                from.ip(),
                self.max_pending_per_address,
            ))
        } else if per_peer >= self.max_pending_per_peer {
            Some(PendingBound::PerPeer(self.max_pending_per_peer))
        } else if self.pending.len() >= self.max_pending {
            Some(PendingBound::Total(self.max_pending))
        } else {
            None
        }
    }

    /// Handle one datagram from `from`.
    pub fn handle(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        out: &mut Vec<MasterAction>,
    ) {
        let packet = match Packet::parse(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.counters.bad_frame(&e);
                self.refuse(now, Failure::Malformed, None, from, &e);
                return;
            }
        };
        if let Some(id) = claimed_peer(&packet)
            && let Some(allowed) = self
                .entries
                .get(&id)
                .and_then(|e| e.allowed_sources.as_ref())
            && !allowed.contains(&from.ip())
        {
            // Dropped unanswered: a MSTNAK would tell a stranger the peer ID exists.
            self.refuse(
                now,
                Failure::SourceRefused,
                Some(id),
                from,
                &"from an address outside the peer's allowed_sources",
            );
            return;
        }
        let c = self.counters.clone();
        match packet {
            Packet::Rptl(id) => self.rptl(now, from, id, out),
            Packet::Rptk { id, digest } => {
                match self.pending.get(&(id, from)).copied() {
                    Some(Pending {
                        salt,
                        authenticated: false,
                        ..
                    }) => {
                        let want = self
                            .entries
                            .get(&id)
                            .map(|e| login_digest(salt, e.passphrase.as_bytes()));
                        if want == Some(digest) {
                            if let Some(p) = self.pending.get_mut(&(id, from)) {
                                p.authenticated = true;
                                p.last_step = now;
                            }
                            out.push(MasterAction::Send {
                                to: from,
                                packet: Packet::RptAck(id.0.to_be_bytes()),
                            });
                        } else {
                            // > RPTK with a wrong hash → MSTNAK and the peer entry is deleted
                            // (docs/transports.md §2.3). Only the attempt is deleted here: a peer
                            // logged in from elsewhere stays.
                            self.remove_pending(id, from);
                            self.refuse(
                                now,
                                Failure::BadPassphrase,
                                Some(id),
                                from,
                                &"RPTK digest is not SHA-256(salt ‖ passphrase)",
                            );
                            self.nak(from, id, out);
                        }
                    }
                    _ => self.out_of_step(now, from, id, "RPTK", out),
                }
            }
            Packet::Rptc { id, config } => match self.pending.get(&(id, from)) {
                Some(p) if p.authenticated => self.complete_login(now, from, id, config, out),
                _ => self.out_of_step(now, from, id, "RPTC", out),
            },
            Packet::Rpto { id, .. } => {
                if self.logged_in_from(id, from) {
                    out.push(MasterAction::Send {
                        to: from,
                        packet: Packet::RptAck(id.0.to_be_bytes()),
                    })
                } else {
                    self.out_of_step(now, from, id, "RPTO", out)
                }
            }
            Packet::RptPing(id) => {
                if let Some(conn) = self.conns.get_mut(&id).filter(|c| c.addr == from) {
                    conn.last_heard = now;
                    out.push(MasterAction::Send {
                        to: from,
                        packet: Packet::MstPong(id),
                    });
                } else {
                    self.out_of_step(now, from, id, "RPTPING", out)
                }
            }
            Packet::RptCl(id) => {
                if self.logged_in_from(id, from) {
                    self.conns.remove(&id);
                    out.push(self.state(id, false, "closed (RPTCL)"));
                } else if self.remove_pending(id, from).is_none() {
                    self.unauthenticated(now, from, id, "RPTCL");
                }
            }
            Packet::Dmrd(d) => {
                if self.logged_in_from(d.repeater, from) {
                    self.relay(now, d, out)
                } else {
                    // HBlink drops it silently; it is counted here, without an answer.
                    self.unauthenticated(now, from, d.repeater, "DMRD");
                }
            }
            Packet::Dmra(a) => {
                let kind = AuxKind::TalkerAlias {
                    block: a.kind,
                    data: a.alias,
                };
                self.aux(now, from, a.repeater, a.source, kind, out);
            }
            Packet::Dmrg(g) => {
                let kind = AuxKind::Gps { data: g.gps };
                self.aux(now, from, g.repeater, g.source, kind, out);
            }
            Packet::DmraShort(body) => match self.sender(from) {
                Some(id) => match short_dmra(&body, id) {
                    Short::Whole(a) => {
                        let kind = AuxKind::TalkerAlias {
                            block: a.kind,
                            data: a.alias,
                        };
                        self.aux(now, from, id, a.source, kind, out);
                    }
                    Short::Cut { source } => self.aux_cut(now, from, id, "DMRA", source),
                },
                None => self.unauthenticated(now, from, PeerId(0), "DMRA"),
            },
            Packet::DmrgShort(body) => match self.sender(from) {
                Some(id) => match short_dmrg(&body, id) {
                    Short::Whole(g) => {
                        let kind = AuxKind::Gps { data: g.gps };
                        self.aux(now, from, id, g.source, kind, out);
                    }
                    Short::Cut { source } => self.aux_cut(now, from, id, "DMRG", source),
                },
                None => self.unauthenticated(now, from, PeerId(0), "DMRG"),
            },
            Packet::Rptg { .. } => LinkCounters::bump(&c.ignored),
            Packet::RptAck(_)
            | Packet::MstPong(_)
            | Packet::MstNak(_)
            | Packet::MstCl(_)
            | Packet::RptSbkn(_) => LinkCounters::bump(&c.ignored),
        }
    }

    /// The logged-in peer speaking from `from`, if any.
    fn sender(&self, from: SocketAddr) -> Option<PeerId> {
        self.conns
            .iter()
            .find(|(_, c)| c.addr == from)
            .map(|(&id, _)| id)
    }

    /// A DMRA / DMRG from a logged-in peer goes to the gateway tagged with the peer's site.
    fn aux(
        &mut self,
        now: Instant,
        from: SocketAddr,
        id: PeerId,
        source: u32,
        kind: AuxKind,
        out: &mut Vec<MasterAction>,
    ) {
        if !self.logged_in_from(id, from) {
            return self.unauthenticated(now, from, id, "DMRA/DMRG");
        }
        let (Some(conn), Some(entry)) = (self.conns.get_mut(&id), self.entries.get(&id)) else {
            return;
        };
        conn.last_heard = now;
        LinkCounters::bump(&self.counters.aux_in);
        out.push(MasterAction::Aux(Aux {
            site: entry.site.clone(),
            source,
            kind,
            at: now,
        }));
    }

    /// A short DMRA / DMRG whose payload DMRGateway cut on the way: nothing to decode; counted
    /// and logged once per episode.
    fn aux_cut(&mut self, now: Instant, from: SocketAddr, id: PeerId, what: &str, source: u32) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.last_heard = now;
        }
        self.refuse(
            now,
            Failure::AuxCut,
            Some(id),
            from,
            &format_args!(
                "{what} from radio {source} is the 15/14-octet form with the repeater ID, so \
                 only 3 of its 7 LC octets arrived (DMRGateway cuts it); dropped"
            ),
        );
    }

    /// RPTL: a fresh salt for a configured ID within the bounds, else MSTNAK. A logged-in peer
    /// of that ID is left alone.
    fn rptl(&mut self, now: Instant, from: SocketAddr, id: PeerId, out: &mut Vec<MasterAction>) {
        if !self.entries.contains_key(&id) {
            self.refuse(
                now,
                Failure::UnknownPeer,
                Some(id),
                from,
                &"RPTL with a peer ID that is not configured",
            );
            self.nak(from, id, out);
            return;
        }
        // A repeated RPTL from the same address restarts that attempt (a peer that restarted
        // on the same port, or lost the salt); it takes no new room.
        if !self.pending.contains_key(&(id, from))
            && let Some(bound) = self.pending_bound(id, from)
        {
            self.refuse(now, Failure::PendingFull, Some(id), from, &bound);
            self.nak(from, id, out);
            return;
        }
        let mut salt = [0u8; 4];
        salt.copy_from_slice(&self.rng.next_u32().to_be_bytes());
        self.add_pending(
            id,
            from,
            Pending {
                salt,
                authenticated: false,
                last_step: now,
            },
        );
        out.push(MasterAction::Send {
            to: from,
            packet: Packet::RptAck(salt),
        });
    }

    /// RPTC after a good digest: the login is complete and the peer is up from `from`,
    /// replacing a login of the same ID from elsewhere (a peer that restarted).
    fn complete_login(
        &mut self,
        now: Instant,
        from: SocketAddr,
        id: PeerId,
        config: Box<ConfigBlock>,
        out: &mut Vec<MasterAction>,
    ) {
        self.remove_pending(id, from);
        let conn = Conn {
            addr: from,
            last_heard: now,
            config: Some(config),
            framing: TxFraming::default(),
            slots: [None, None],
        };
        if let Some(old) = self.conns.insert(id, conn) {
            LinkCounters::bump(&self.counters.link.reconnects);
            tracing::info!(link = %self.name, peer = id.0, old = %old.addr, new = %from,
                "Homebrew master: peer logged in again; the new login replaces the old one");
        }
        out.push(MasterAction::Send {
            to: from,
            packet: Packet::RptAck(id.0.to_be_bytes()),
        });
        out.push(self.state(id, true, ""));
    }

    /// Deliver a DMRD from a logged-in peer to the gateway and relay it to the other peers.
    fn relay(&mut self, now: Instant, d: Dmrd, out: &mut Vec<MasterAction>) {
        let from = d.repeater;
        let c = self.counters.clone();
        LinkCounters::bump(&c.link.frames_in);
        let Some(entry) = self.entries.get(&from) else {
            return;
        };
        if let Some(conn) = self.conns.get_mut(&from) {
            conn.last_heard = now;
            // The sender's own slot carries this stream on its air: nothing is relayed into it
            // meanwhile.
            conn.slots[slot_index(d.slot)] = Some(SlotOwner {
                stream_id: d.stream_id,
                destination: d.destination,
                call: d.call,
                last: now,
                ended: d.is_terminator(),
            });
        }
        out.push(MasterAction::Deliver(received(&entry.site, &d, now)));
        if !self.relay {
            return;
        }
        let sender_allow = entry.allow.clone();

        // Remember where the source radio is, for private calls to it.
        if self.heard.len() >= self.heard_capacity && !self.heard.contains_key(&d.source) {
            self.heard.clear();
        }
        self.heard.insert(d.source, from);

        let routed = match d.call {
            CallType::Private => self.heard.get(&d.destination).copied(),
            CallType::Group => None,
        };
        let mut targets: Vec<PeerId> = match routed {
            Some(p) if p == from => Vec::new(),
            Some(p) if self.conns.contains_key(&p) => vec![p],
            _ => self
                .conns
                .keys()
                .filter(|id| **id != from)
                .copied()
                .collect(),
        };
        targets.sort();
        for to in targets {
            let receiver_allow = self.entries.get(&to).and_then(|e| e.allow.as_ref());
            let allowed = sender_allow.as_ref().is_none_or(|a| a.admits(&d))
                && receiver_allow.is_none_or(|a| a.admits(&d));
            if !allowed {
                LinkCounters::bump(&c.relay_denied);
                continue;
            }
            let (stream_timeout, hang_time) = (self.stream_timeout, self.hang_time);
            let Some(conn) = self.conns.get_mut(&to) else {
                continue;
            };
            if !take_slot(
                &mut conn.slots[slot_index(d.slot)],
                &d,
                now,
                stream_timeout,
                hang_time,
            ) {
                LinkCounters::bump(&c.relay_busy);
                continue;
            }
            let addr = conn.addr;
            LinkCounters::bump(&c.relayed);
            LinkCounters::bump(&c.link.frames_out);
            out.push(MasterAction::Send {
                to: addr,
                packet: Packet::Dmrd(Dmrd { repeater: to, ..d }),
            });
        }
    }

    /// Run the timers due at `now`: drop peers silent for `ping_timeout` and logins in progress
    /// idle for `login_timeout`, and log the failure causes that went quiet.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<MasterAction>) {
        let timeout = self.ping_timeout;
        let mut dead: Vec<PeerId> = self
            .conns
            .iter()
            .filter(|(_, c)| now.saturating_duration_since(c.last_heard) >= timeout)
            .map(|(id, _)| *id)
            .collect();
        dead.sort();
        for id in dead {
            self.conns.remove(&id);
            LinkCounters::bump(&self.counters.peer_timeouts);
            out.push(self.state(id, false, "ping timeout"));
        }
        let login_timeout = self.login_timeout;
        let mut stale: Vec<(PeerId, SocketAddr, bool)> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last_step) >= login_timeout)
            .map(|((id, from), p)| (*id, *from, p.authenticated))
            .collect();
        stale.sort();
        for (id, from, authenticated) in stale {
            self.remove_pending(id, from);
            let reason = format!(
                "login not completed within {login_timeout:?} (waiting for {})",
                if authenticated { "RPTC" } else { "RPTK" }
            );
            self.refuse(now, Failure::LoginTimeout, Some(id), from, &reason);
        }
        self.failures.poll(&self.name, now);
    }

    /// Frame a burst from the gateway for every logged-in peer of its site.
    pub fn transmit(&mut self, now: Instant, t: &Transmit, out: &mut Vec<MasterAction>) {
        let mut sent = false;
        let mut ids: Vec<PeerId> = self.conns.keys().copied().collect();
        ids.sort();
        for id in ids {
            let at_site = self.entries.get(&id).is_some_and(|e| e.site == t.site);
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            if !at_site {
                continue;
            }
            let d = match self.tx_slots.get(&id) {
                Some(&slot) if slot != t.slot => {
                    let moved = Transmit { slot, ..t.clone() };
                    conn.framing.frame(now, &moved, id, &mut self.rng)
                }
                _ => conn.framing.frame(now, t, id, &mut self.rng),
            };
            LinkCounters::bump(&self.counters.link.frames_out);
            out.push(MasterAction::Send {
                to: conn.addr,
                packet: Packet::Dmrd(d),
            });
            sent = true;
        }
        if !sent {
            LinkCounters::bump(&self.counters.link.tx_dropped);
        }
    }

    /// Close every login (on shutdown): MSTCL to each logged-in peer (docs/transports.md §2.7).
    pub fn close(&mut self, out: &mut Vec<MasterAction>) {
        let mut conns: Vec<(PeerId, Conn)> = self.conns.drain().collect();
        conns.sort_by_key(|(id, _)| *id);
        for (id, conn) in conns {
            out.push(MasterAction::Send {
                to: conn.addr,
                packet: Packet::MstCl(id),
            });
            out.push(self.state(id, false, "master closing"));
        }
        self.pending.clear();
        self.pending_per_peer.clear();
        self.pending_per_address.clear();
    }
}

/// Whether `d` may use a receiving peer's slot now; takes or refreshes the slot when it may.
fn take_slot(
    owner: &mut Option<SlotOwner>,
    d: &Dmrd,
    now: Instant,
    stream_timeout: Duration,
    hang_time: Duration,
) -> bool {
    let free = match owner {
        None => true,
        Some(o) if o.stream_id == d.stream_id => true,
        Some(o) => {
            let quiet = now.saturating_duration_since(o.last);
            let ended = o.ended || quiet >= stream_timeout;
            let same_call = o.destination == d.destination && o.call == d.call;
            ended && (same_call || quiet >= hang_time)
        }
    };
    if free {
        *owner = Some(SlotOwner {
            stream_id: d.stream_id,
            destination: d.destination,
            call: d.call,
            last: now,
            ended: d.is_terminator(),
        });
    }
    free
}

/// Datagrams taken from the socket per pass of the master's loop at most.
const RECV_BATCH: usize = 64;

/// Receive buffer asked of the kernel for the master's socket. Every site's traffic arrives
/// on this one socket: at 100,000 datagrams a second the default (net.core.rmem_default,
/// 208 KiB here, a few hundred datagrams of kernel bookkeeping) covers about 3 ms of
/// scheduling delay before datagrams are lost; 4 MiB covers tens of milliseconds. The kernel
/// caps the request at net.core.rmem_max (socket(7), SO_RCVBUF).
const RECV_BUFFER_BYTES: usize = 4 << 20;

/// Ask for [`RECV_BUFFER_BYTES`] of receive buffer; a refusal leaves the default (logged).
fn enlarge_receive_buffer(socket: &UdpSocket) {
    let sock = socket2::SockRef::from(socket);
    if let Err(e) = sock.set_recv_buffer_size(RECV_BUFFER_BYTES) {
        tracing::warn!(error = %e, "Homebrew master: cannot enlarge the receive buffer");
    }
}

/// A bound master link, ready to run.
#[derive(Debug)]
pub struct Master {
    config: MasterConfig,
    socket: UdpSocket,
    counters: Arc<HomebrewCounters>,
    aux: Option<mpsc::Sender<Aux>>,
}

impl Master {
    /// Bind the listening socket.
    pub async fn bind(
        config: MasterConfig,
        counters: Arc<HomebrewCounters>,
    ) -> std::io::Result<Master> {
        let socket = UdpSocket::bind(config.bind).await?;
        enlarge_receive_buffer(&socket);
        Ok(Master {
            config,
            socket,
            counters,
            aux: None,
        })
    }

    /// Hand DMRA / DMRG from the peers to `aux` (without it they are counted and dropped).
    pub fn with_aux(mut self, aux: mpsc::Sender<Aux>) -> Master {
        self.aux = Some(aux);
        self
    }

    /// The bound local address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Run until `shutdown`: bursts from peers go to `rx` (tagged with the peer's site) and
    /// are relayed; transmissions from `tx` are queued per site and slot, paced, and go to the
    /// peers of their site, each reported once its last burst has left; peers going up and
    /// down go to `state`. Ends with `Err` only on a socket failure.
    pub async fn run(
        self,
        rx: mpsc::Sender<Received>,
        mut tx: mpsc::Receiver<Transmission>,
        state: mpsc::Sender<LinkState>,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let Master {
            config,
            socket,
            counters,
            aux,
        } = self;
        let aux = aux.as_ref();
        let mut core = MasterCore::new(&config, SplitMix::from_entropy(), counters.clone());
        let mut pacer = Pacer::new(
            config.pacing,
            config.tx_queue_bursts,
            SplitMix::from_entropy(),
        );
        let mut paced: Vec<Paced> = Vec::new();
        let mut buf = vec![0u8; RECV_BUF];
        let mut out = Vec::new();
        let mut tx_open = true;
        let timer = tokio::time::sleep_until(tokio::time::Instant::now());
        tokio::pin!(timer);
        loop {
            let deadline = tokio::time::Instant::from_std(core.next_deadline(Instant::now()));
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            tokio::select! {
                _ = shutdown.cancelled() => {
                    core.close(&mut out);
                    flush(&socket, &counters, (&rx, aux), &state, &mut out).await?;
                    return Ok(());
                }
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => {
                        core.handle(Instant::now(), from, &buf[..n], &mut out);
                        // Take what else has arrived, so that a burst of datagrams is one
                        // pass of this loop and one wake of the ingest task.
                        for _ in 1..RECV_BATCH {
                            match socket.try_recv_from(&mut buf) {
                                Ok((n, from)) => {
                                    core.handle(Instant::now(), from, &buf[..n], &mut out);
                                }
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                                Err(e) if transient(&e) => {}
                                Err(e) => return Err(e),
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
                _ = &mut timer => core.poll(Instant::now(), &mut out),
            }
            flush(&socket, &counters, (&rx, aux), &state, &mut out).await?;
            // Bursts due now: framed, sent, then their transmissions reported.
            pacer.poll(Instant::now(), &mut paced);
            for p in paced.drain(..) {
                core.transmit(Instant::now(), &p.transmit, &mut out);
                flush(&socket, &counters, (&rx, aux), &state, &mut out).await?;
                if let Some((report, sent)) = p.sent {
                    report.send(
                        crate::link::Sent {
                            at: std::time::SystemTime::now(),
                            ..sent
                        },
                        &counters.link,
                    );
                }
            }
        }
    }
}

async fn flush(
    socket: &UdpSocket,
    counters: &HomebrewCounters,
    (rx, aux): (&mpsc::Sender<Received>, Option<&mpsc::Sender<Aux>>),
    state: &mpsc::Sender<LinkState>,
    out: &mut Vec<MasterAction>,
) -> std::io::Result<()> {
    for action in out.drain(..) {
        match action {
            MasterAction::Send { to, packet } => match socket.send_to(&packet.to_vec(), to).await {
                Ok(_) => {}
                Err(e) if transient(&e) => {}
                Err(e) => return Err(e),
            },
            MasterAction::Deliver(r) => deliver(rx, counters, r),
            MasterAction::State(s) => report(state, counters, s),
            MasterAction::Aux(a) => match aux {
                // Like bursts: never stall the socket for the gateway (module doc).
                Some(tx) if tx.try_send(a).is_ok() => {}
                _ => LinkCounters::bump(&counters.rx_dropped),
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::homebrew::packet::{FrameType, data_type};

    const A: PeerId = PeerId(4_600_001);
    const B: PeerId = PeerId(4_600_002);
    const C: PeerId = PeerId(4_600_003);

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn entry(id: PeerId, site: &str, allow: Option<Allow>) -> PeerEntry {
        PeerEntry {
            id,
            passphrase: format!("pass{}", id.0),
            site: Arc::from(site),
            allow,
            allowed_sources: None,
        }
    }

    fn core(peers: Vec<PeerEntry>) -> (MasterCore, Arc<HomebrewCounters>) {
        let counters = Arc::new(HomebrewCounters::default());
        let mut cfg = MasterConfig::new(addr(0), peers);
        cfg.hang_time = Duration::from_secs(2);
        (
            MasterCore::new(&cfg, SplitMix::new(7), counters.clone()),
            counters,
        )
    }

    fn sends(out: &[MasterAction]) -> Vec<(SocketAddr, Packet)> {
        out.iter()
            .filter_map(|a| match a {
                MasterAction::Send { to, packet } => Some((*to, packet.clone())),
                _ => None,
            })
            .collect()
    }

    /// Log `id` in from `from` with the right passphrase.
    fn login(m: &mut MasterCore, t: Instant, id: PeerId, from: SocketAddr) -> Vec<MasterAction> {
        let mut out = Vec::new();
        m.handle(t, from, &Packet::Rptl(id).to_vec(), &mut out);
        let [(to, Packet::RptAck(salt))] = sends(&out)[..] else {
            panic!("no salt: {out:?}");
        };
        assert_eq!(to, from);
        out.clear();
        let digest = login_digest(salt, format!("pass{}", id.0).as_bytes());
        m.handle(t, from, &Packet::Rptk { id, digest }.to_vec(), &mut out);
        assert_eq!(
            sends(&out),
            vec![(from, Packet::RptAck(id.0.to_be_bytes()))]
        );
        out.clear();
        let config = Box::new(ConfigBlock::from_info(&Default::default()));
        m.handle(t, from, &Packet::Rptc { id, config }.to_vec(), &mut out);
        out
    }

    fn dmrd(from: PeerId, slot: Slot, call: CallType, src: u32, dst: u32, stream: u32) -> Dmrd {
        let bytes = hex::decode(crate::link::homebrew::packet::tests::HEADER).unwrap();
        Dmrd {
            repeater: from,
            slot,
            call,
            source: src,
            destination: dst,
            stream_id: stream,
            ..Dmrd::parse(&bytes).unwrap()
        }
    }

    fn feed(m: &mut MasterCore, t: Instant, from: SocketAddr, d: Dmrd) -> Vec<MasterAction> {
        let mut out = Vec::new();
        m.handle(t, from, &Packet::Dmrd(d).to_vec(), &mut out);
        out
    }

    /// Relayed DMRD as (receiving peer, repeater ID in the packet).
    fn relayed(out: &[MasterAction]) -> Vec<(SocketAddr, PeerId)> {
        sends(out)
            .into_iter()
            .filter_map(|(to, p)| match p {
                Packet::Dmrd(d) => Some((to, d.repeater)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn login_brings_the_peer_up() {
        let t = Instant::now();
        let (mut m, _) = core(vec![entry(A, "north", None)]);
        let out = login(&mut m, t, A, addr(1));
        assert_eq!(
            out,
            vec![
                MasterAction::Send {
                    to: addr(1),
                    packet: Packet::RptAck(A.0.to_be_bytes())
                },
                MasterAction::State(LinkState::Up {
                    link: "homebrew-master".into(),
                    site: Some(Arc::from("north"))
                }),
            ]
        );
        assert_eq!(m.connected(), vec![A]);
        let mut out = Vec::new();
        m.handle(t, addr(1), &Packet::RptPing(A).to_vec(), &mut out);
        assert_eq!(sends(&out), vec![(addr(1), Packet::MstPong(A))]);
        out.clear();
        m.handle(
            t,
            addr(1),
            &Packet::Rpto {
                id: A,
                options: b"TS1=1;".to_vec(),
            }
            .to_vec(),
            &mut out,
        );
        assert_eq!(
            sends(&out),
            vec![(addr(1), Packet::RptAck(A.0.to_be_bytes()))]
        );
    }

    #[test]
    fn wrong_passphrase_unknown_peer_and_out_of_step_are_refused() {
        let t = Instant::now();
        let (mut m, counters) = core(vec![entry(A, "north", None)]);
        let mut out = Vec::new();
        m.handle(t, addr(1), &Packet::Rptl(A).to_vec(), &mut out);
        out.clear();
        m.handle(
            t,
            addr(1),
            &Packet::Rptk {
                id: A,
                digest: [0; 32],
            }
            .to_vec(),
            &mut out,
        );
        assert_eq!(sends(&out), vec![(addr(1), Packet::MstNak(A))]);
        assert!(m.connected().is_empty());
        out.clear();
        m.handle(t, addr(2), &Packet::Rptl(C).to_vec(), &mut out);
        assert_eq!(sends(&out), vec![(addr(2), Packet::MstNak(C))]);
        out.clear();
        m.handle(t, addr(1), &Packet::RptPing(A).to_vec(), &mut out);
        assert_eq!(sends(&out), vec![(addr(1), Packet::MstNak(A))]);
        let s = counters.snapshot();
        assert_eq!(s.bad_passphrase, 1);
        assert_eq!(s.unknown_peer, 1);
        assert_eq!(s.link.login_failures, 2);
        assert_eq!(s.not_logged_in, 1);
        assert_eq!(s.naks, 3);
    }

    #[test]
    fn packets_from_another_address_are_refused() {
        let t = Instant::now();
        let (mut m, counters) = core(vec![entry(A, "north", None), entry(B, "south", None)]);
        login(&mut m, t, A, addr(1));
        login(&mut m, t, B, addr(2));
        let mut out = Vec::new();
        m.handle(t, addr(9), &Packet::RptPing(A).to_vec(), &mut out);
        assert_eq!(sends(&out), vec![(addr(9), Packet::MstNak(A))]);
        let out = feed(
            &mut m,
            t,
            addr(9),
            dmrd(A, Slot::One, CallType::Group, 1, 9, 1),
        );
        assert!(out.is_empty());
        assert_eq!(counters.snapshot().wrong_address, 2);
        assert_eq!(counters.snapshot().link.unauthenticated, 2);
        assert_eq!(m.connected(), vec![A, B]);
    }

    #[test]
    fn with_the_relay_off_peers_traffic_goes_to_the_gateway_alone() {
        let t = Instant::now();
        let counters = Arc::new(HomebrewCounters::default());
        let mut cfg = MasterConfig::new(
            addr(0),
            vec![entry(A, "north", None), entry(B, "south", None)],
        );
        cfg.relay = false;
        let mut m = MasterCore::new(&cfg, SplitMix::new(7), counters.clone());
        for (id, port) in [(A, 1), (B, 2)] {
            login(&mut m, t, id, addr(port));
        }
        for call in [CallType::Group, CallType::Private] {
            let out = feed(
                &mut m,
                t,
                addr(1),
                dmrd(A, Slot::One, call, 4_600_123, 46_001, 10),
            );
            assert!(matches!(out[..], [MasterAction::Deliver(_)]), "{out:?}");
        }
        assert_eq!(counters.snapshot().relayed, 0);
    }

    #[test]
    fn group_traffic_is_delivered_and_relayed_with_the_id_rewritten() {
        let t = Instant::now();
        let (mut m, counters) = core(vec![
            entry(A, "north", None),
            entry(B, "south", None),
            entry(C, "east", None),
        ]);
        for (id, port) in [(A, 1), (B, 2), (C, 3)] {
            login(&mut m, t, id, addr(port));
        }
        let d = dmrd(A, Slot::Two, CallType::Group, 4_600_123, 46_001, 10);
        let out = feed(&mut m, t, addr(1), d);
        let MasterAction::Deliver(r) = &out[0] else {
            panic!("not delivered first: {out:?}");
        };
        assert_eq!(
            (&*r.site, r.slot, r.meta),
            ("north", Slot::Two, Some(d.meta()))
        );
        assert_eq!(relayed(&out), vec![(addr(2), B), (addr(3), C)]);
        assert_eq!(counters.snapshot().relayed, 2);
        assert_eq!(counters.snapshot().link.frames_in, 1);
        // Everything else in the packet is untouched.
        let [(_, Packet::Dmrd(sent)), ..] = &sends(&out)[..] else {
            panic!();
        };
        assert_eq!(*sent, Dmrd { repeater: B, ..d });
    }

    #[test]
    fn private_calls_follow_the_last_heard_site() {
        let t = Instant::now();
        let (mut m, _) = core(vec![
            entry(A, "north", None),
            entry(B, "south", None),
            entry(C, "east", None),
        ]);
        for (id, port) in [(A, 1), (B, 2), (C, 3)] {
            login(&mut m, t, id, addr(port));
        }
        // Radio 777 is unknown: the call goes everywhere.
        let out = feed(
            &mut m,
            t,
            addr(1),
            dmrd(A, Slot::One, CallType::Private, 111, 777, 1),
        );
        assert_eq!(relayed(&out).len(), 2);
        // 777 speaks at site C; a later call to it goes to C only.
        let t2 = t + Duration::from_secs(10);
        feed(
            &mut m,
            t2,
            addr(3),
            dmrd(C, Slot::One, CallType::Group, 777, 9, 2),
        );
        let t3 = t2 + Duration::from_secs(10);
        let out = feed(
            &mut m,
            t3,
            addr(1),
            dmrd(A, Slot::One, CallType::Private, 111, 777, 3),
        );
        assert_eq!(relayed(&out), vec![(addr(3), C)]);
        // A radio heard at the caller's own site needs no relay.
        let out = feed(
            &mut m,
            t3,
            addr(3),
            dmrd(C, Slot::Two, CallType::Private, 777, 778, 4),
        );
        assert_eq!(relayed(&out).len(), 2);
        feed(
            &mut m,
            t3,
            addr(3),
            dmrd(C, Slot::Two, CallType::Group, 778, 9, 5),
        );
        let t4 = t3 + Duration::from_secs(10);
        let out = feed(
            &mut m,
            t4,
            addr(3),
            dmrd(C, Slot::Two, CallType::Private, 777, 778, 6),
        );
        assert!(relayed(&out).is_empty());
        assert!(matches!(out[0], MasterAction::Deliver(_)));
    }

    #[test]
    fn allow_lists_narrow_the_relay() {
        let t = Instant::now();
        let only_tg9 = Allow {
            ts1: SlotAllow::Talkgroups(vec![9]),
            ts2: SlotAllow::Closed,
        };
        let (mut m, counters) = core(vec![
            entry(A, "north", None),
            entry(B, "south", Some(only_tg9)),
            entry(C, "east", None),
        ]);
        for (id, port) in [(A, 1), (B, 2), (C, 3)] {
            login(&mut m, t, id, addr(port));
        }
        let out = feed(
            &mut m,
            t,
            addr(1),
            dmrd(A, Slot::One, CallType::Group, 1, 9, 1),
        );
        assert_eq!(relayed(&out), vec![(addr(2), B), (addr(3), C)]);
        let out = feed(
            &mut m,
            t,
            addr(1),
            dmrd(A, Slot::Two, CallType::Group, 1, 9, 2),
        );
        assert_eq!(relayed(&out), vec![(addr(3), C)]);
        let t2 = t + Duration::from_secs(10);
        let out = feed(
            &mut m,
            t2,
            addr(1),
            dmrd(A, Slot::One, CallType::Group, 1, 10, 3),
        );
        assert_eq!(relayed(&out), vec![(addr(3), C)]);
        // B's own traffic outside its list reaches the gateway but no other peer.
        let t3 = t2 + Duration::from_secs(10);
        let out = feed(
            &mut m,
            t3,
            addr(2),
            dmrd(B, Slot::One, CallType::Group, 2, 10, 4),
        );
        assert!(matches!(out[0], MasterAction::Deliver(_)));
        assert!(relayed(&out).is_empty());
        assert_eq!(counters.snapshot().relay_denied, 4);
    }

    #[test]
    fn one_stream_per_slot_with_hang_time() {
        let t = Instant::now();
        let (mut m, counters) = core(vec![
            entry(A, "north", None),
            entry(B, "south", None),
            entry(C, "east", None),
        ]);
        for (id, port) in [(A, 1), (B, 2), (C, 3)] {
            login(&mut m, t, id, addr(port));
        }
        let ms = Duration::from_millis;
        // A talks to TG 9 on TS1; C's simultaneous call to TG 10 is not relayed to B.
        assert_eq!(
            relayed(&feed(
                &mut m,
                t,
                addr(1),
                dmrd(A, Slot::One, CallType::Group, 1, 9, 1)
            ))
            .len(),
            2
        );
        let out = feed(
            &mut m,
            t + ms(60),
            addr(3),
            dmrd(C, Slot::One, CallType::Group, 3, 10, 2),
        );
        assert_eq!(relayed(&out), vec![]);
        assert_eq!(counters.snapshot().relay_busy, 2);
        // The other slot is free.
        let out = feed(
            &mut m,
            t + ms(60),
            addr(3),
            dmrd(C, Slot::Two, CallType::Group, 3, 10, 3),
        );
        assert_eq!(relayed(&out), vec![(addr(1), A), (addr(2), B)]);
        // A's stream ends with a terminator; TG 10 must wait out the hang time, TG 9 need not.
        let mut term = dmrd(A, Slot::One, CallType::Group, 1, 9, 1);
        term.frame = FrameType::DataSync;
        term.data_type = data_type::TERMINATOR;
        // (C's own TS1 carried C's call meanwhile, so only B gets the terminator.)
        assert_eq!(
            relayed(&feed(&mut m, t + ms(120), addr(1), term)),
            vec![(addr(2), B)]
        );
        let out = feed(
            &mut m,
            t + ms(500),
            addr(3),
            dmrd(C, Slot::One, CallType::Group, 3, 10, 4),
        );
        assert_eq!(relayed(&out), vec![]);
        let out = feed(
            &mut m,
            t + ms(500),
            addr(3),
            dmrd(C, Slot::One, CallType::Group, 3, 9, 5),
        );
        assert_eq!(
            relayed(&out),
            vec![(addr(1), A), (addr(2), B)],
            "same TG within hang time"
        );
        let out = feed(
            &mut m,
            t + ms(3000),
            addr(1),
            dmrd(A, Slot::One, CallType::Group, 1, 11, 6),
        );
        assert_eq!(relayed(&out), vec![(addr(2), B), (addr(3), C)]);
    }

    #[test]
    fn silent_peers_are_dropped_and_closing_peers_leave() {
        let t = Instant::now();
        let (mut m, counters) = core(vec![entry(A, "north", None), entry(B, "south", None)]);
        login(&mut m, t, A, addr(1));
        login(&mut m, t, B, addr(2));
        let mut out = Vec::new();
        // B keeps pinging every 10 s (DMRGateway); A stays silent.
        for s in (10..=60).step_by(10) {
            m.handle(
                t + Duration::from_secs(s),
                addr(2),
                &Packet::RptPing(B).to_vec(),
                &mut out,
            );
        }
        out.clear();
        assert_eq!(m.next_deadline(t), t + Duration::from_secs(60));
        m.poll(t + Duration::from_secs(60), &mut out);
        assert_eq!(
            out,
            vec![MasterAction::State(LinkState::Down {
                link: "homebrew-master".into(),
                site: Some(Arc::from("north")),
                reason: format!("peer {}: ping timeout", A.0)
            })]
        );
        assert_eq!(m.connected(), vec![B]);
        assert_eq!(counters.snapshot().peer_timeouts, 1);
        out.clear();
        m.handle(t, addr(2), &Packet::RptCl(B).to_vec(), &mut out);
        assert!(matches!(
            out[..],
            [MasterAction::State(LinkState::Down { .. })]
        ));
        assert!(m.connected().is_empty());
    }

    #[test]
    fn gateway_bursts_go_to_the_peers_of_their_site() {
        let t = Instant::now();
        let (mut m, counters) = core(vec![entry(A, "north", None), entry(B, "south", None)]);
        login(&mut m, t, A, addr(1));
        login(&mut m, t, B, addr(2));
        let header = dmrd(A, Slot::Two, CallType::Group, 1, 9, 1);
        let mut out = Vec::new();
        let tx = Transmit {
            site: Arc::from("south"),
            slot: Slot::Two,
            burst: header.burst,
            meta: Some(crate::link::FrameMeta {
                source: 5,
                destination: 6,
                private: true,
                stream_id: 77,
            }),
        };
        m.transmit(t, &tx, &mut out);
        let [(to, Packet::Dmrd(d))] = &sends(&out)[..] else {
            panic!("{out:?}");
        };
        assert_eq!(*to, addr(2));
        assert_eq!(
            (d.repeater, d.source, d.destination, d.stream_id),
            (B, 5, 6, 77)
        );
        assert_eq!(
            (d.call, d.frame, d.data_type),
            (CallType::Private, FrameType::DataSync, 1)
        );
        out.clear();
        m.transmit(
            t,
            &Transmit {
                site: Arc::from("west"),
                ..tx
            },
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(counters.snapshot().link.tx_dropped, 1);
        m.close(&mut out);
        assert_eq!(
            sends(&out),
            vec![(addr(1), Packet::MstCl(A)), (addr(2), Packet::MstCl(B))]
        );
    }

    #[test]
    fn a_peer_with_its_own_command_slot_gets_gateway_bursts_there() {
        let t = Instant::now();
        let mut config = MasterConfig::new(
            addr(0),
            vec![entry(A, "north", None), entry(B, "north", None)],
        );
        config.tx_slots.insert(B, Slot::Two);
        let counters = Arc::new(HomebrewCounters::new(Arc::new(LinkCounters::default())));
        let mut m = MasterCore::new(&config, SplitMix::new(7), counters);
        login(&mut m, t, A, addr(1));
        login(&mut m, t, B, addr(2));
        let header = dmrd(A, Slot::One, CallType::Group, 1, 9, 1);
        let mut out = Vec::new();
        let tx = Transmit {
            site: Arc::from("north"),
            slot: Slot::One,
            burst: header.burst,
            meta: None,
        };
        m.transmit(t, &tx, &mut out);
        let slots: Vec<(SocketAddr, Slot)> = sends(&out)
            .into_iter()
            .map(|(to, p)| match p {
                Packet::Dmrd(d) => (to, d.slot),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(slots, vec![(addr(1), Slot::One), (addr(2), Slot::Two)]);
    }

    #[test]
    fn relogin_of_a_connected_peer_is_a_reconnect() {
        let t = Instant::now();
        let (mut m, counters) = core(vec![entry(A, "north", None)]);
        login(&mut m, t, A, addr(1));
        let out = login(&mut m, t, A, addr(5));
        assert!(matches!(out[1], MasterAction::State(LinkState::Up { .. })));
        assert_eq!(counters.snapshot().link.reconnects, 1);
        let mut out = Vec::new();
        m.handle(t, addr(1), &Packet::RptPing(A).to_vec(), &mut out);
        assert_eq!(sends(&out), vec![(addr(1), Packet::MstNak(A))]);
    }

    #[test]
    fn a_forged_rptl_leaves_the_logged_in_peer_alone() {
        let t = Instant::now();
        let (mut m, counters) = core(vec![entry(A, "north", None)]);
        login(&mut m, t, A, addr(1));
        let mut out = Vec::new();
        // Someone else claims A's ID: a salt goes to them, nothing changes for A.
        m.handle(t, addr(9), &Packet::Rptl(A).to_vec(), &mut out);
        assert!(matches!(sends(&out)[..], [(to, Packet::RptAck(_))] if to == addr(9)));
        assert_eq!(out.len(), 1, "no state change: {out:?}");
        assert_eq!(m.connected(), vec![A]);
        assert_eq!(m.peer_addr(A), Some(addr(1)));
        assert_eq!(m.pending_logins(), 1);
        out.clear();
        // A's traffic still flows, and its ping is answered.
        let got = feed(
            &mut m,
            t,
            addr(1),
            dmrd(A, Slot::One, CallType::Group, 1, 9, 1),
        );
        assert!(matches!(got[..], [MasterAction::Deliver(_)]));
        m.handle(t, addr(1), &Packet::RptPing(A).to_vec(), &mut out);
        assert_eq!(sends(&out), vec![(addr(1), Packet::MstPong(A))]);
        out.clear();
        // The challenger's wrong digest ends only the challenge.
        let digest = [0; 32];
        m.handle(
            t,
            addr(9),
            &Packet::Rptk { id: A, digest }.to_vec(),
            &mut out,
        );
        assert_eq!(sends(&out), vec![(addr(9), Packet::MstNak(A))]);
        assert_eq!((m.connected(), m.pending_logins()), (vec![A], 0));
        // Skipping the digest is out of step.
        out.clear();
        let config = Box::new(ConfigBlock::from_info(&Default::default()));
        m.handle(
            t,
            addr(9),
            &Packet::Rptc { id: A, config }.to_vec(),
            &mut out,
        );
        assert_eq!(sends(&out), vec![(addr(9), Packet::MstNak(A))]);
        assert_eq!(m.peer_addr(A), Some(addr(1)));
        let s = counters.snapshot();
        assert_eq!(
            (s.bad_passphrase, s.wrong_address, s.link.reconnects),
            (1, 1, 0)
        );
    }

    #[test]
    fn a_completed_login_from_a_new_port_takes_over() {
        let t = Instant::now();
        let (mut m, counters) = core(vec![entry(A, "north", None)]);
        login(&mut m, t, A, addr(1));
        // The same port logging in again keeps the peer up until it completes, too.
        let out = login(&mut m, t, A, addr(1));
        assert!(matches!(out[1], MasterAction::State(LinkState::Up { .. })));
        let out = login(&mut m, t, A, addr(5));
        assert!(matches!(out[1], MasterAction::State(LinkState::Up { .. })));
        assert!(
            !out.iter()
                .any(|a| matches!(a, MasterAction::State(LinkState::Down { .. })))
        );
        assert_eq!(m.peer_addr(A), Some(addr(5)));
        assert_eq!(counters.snapshot().link.reconnects, 2);
        // The old address is now the stranger.
        let got = feed(
            &mut m,
            t,
            addr(1),
            dmrd(A, Slot::One, CallType::Group, 1, 9, 1),
        );
        assert!(got.is_empty());
        assert_eq!(counters.snapshot().wrong_address, 1);
    }

    #[test]
    fn pending_logins_are_bounded_and_expire() {
        let t = Instant::now();
        let counters = Arc::new(HomebrewCounters::default());
        let mut cfg = MasterConfig::new(
            addr(0),
            vec![entry(A, "north", None), entry(B, "south", None)],
        );
        cfg.max_pending_per_address = 2;
        cfg.max_pending_per_peer = 3;
        cfg.max_pending = 4;
        cfg.login_timeout = Duration::from_secs(10);
        let mut m = MasterCore::new(&cfg, SplitMix::new(7), counters.clone());
        let at = |ip: u8, port: u16| SocketAddr::from(([127, 0, 0, ip], port));
        let rptl = |m: &mut MasterCore, now: Instant, id: PeerId, from: SocketAddr| {
            let mut out = Vec::new();
            m.handle(now, from, &Packet::Rptl(id).to_vec(), &mut out);
            match sends(&out)[..] {
                [(_, Packet::RptAck(_))] => true,
                [(_, Packet::MstNak(_))] => false,
                _ => panic!("{out:?}"),
            }
        };
        // Per address: two from 127.0.0.1, whatever the port; a repeat of one is no new room.
        assert!(rptl(&mut m, t, A, at(1, 1)));
        assert!(rptl(&mut m, t, A, at(1, 2)));
        assert!(rptl(&mut m, t, A, at(1, 2)));
        assert!(!rptl(&mut m, t, A, at(1, 3)));
        assert!(!rptl(&mut m, t, B, at(1, 3)));
        // Per peer ID: three for A.
        assert!(rptl(&mut m, t, A, at(2, 1)));
        assert!(!rptl(&mut m, t, A, at(3, 1)));
        // In total: four.
        assert!(rptl(&mut m, t, B, at(3, 1)));
        assert!(!rptl(&mut m, t, B, at(4, 1)));
        assert_eq!(m.pending_logins(), 4);
        assert_eq!(counters.snapshot().pending_full, 4);
        assert_eq!(counters.snapshot().link.login_failures, 4);
        // Expiry frees the room: each attempt is dropped and counted.
        let mut out = Vec::new();
        assert_eq!(m.next_deadline(t), t + Duration::from_secs(10));
        m.poll(t + Duration::from_secs(10), &mut out);
        assert!(out.is_empty());
        assert_eq!(m.pending_logins(), 0);
        assert_eq!(counters.snapshot().login_timeouts, 4);
        assert!(rptl(&mut m, t + Duration::from_secs(10), A, at(1, 3)));
        // A logout ends an attempt without a count.
        let mut out = Vec::new();
        m.handle(t, at(1, 3), &Packet::RptCl(A).to_vec(), &mut out);
        assert_eq!(m.pending_logins(), 0);
        assert_eq!(counters.snapshot().link.unauthenticated, 0);
    }

    #[test]
    fn mutated_datagrams_never_panic_the_core() {
        let t = Instant::now();
        let (mut m, _) = core(vec![entry(A, "north", None), entry(B, "south", None)]);
        login(&mut m, t, A, addr(1));
        login(&mut m, t, B, addr(2));
        let seeds = [
            Packet::Dmrd(dmrd(A, Slot::One, CallType::Private, 1, 2, 3)).to_vec(),
            Packet::RptPing(A).to_vec(),
            Packet::Rptl(B).to_vec(),
            Packet::Rptk {
                id: B,
                digest: [1; 32],
            }
            .to_vec(),
        ];
        let mut rng = SplitMix::new(3);
        let mut out = Vec::new();
        for i in 0..5_000u32 {
            let mut d = seeds[i as usize % seeds.len()].clone();
            for _ in 0..rng.next_u32() % 3 {
                let at = rng.next_u32() as usize % d.len();
                d[at] ^= rng.next_u32() as u8;
            }
            let from = addr(1 + (rng.next_u32() % 3) as u16);
            m.handle(t + Duration::from_millis(u64::from(i)), from, &d, &mut out);
            out.clear();
        }
    }

    #[test]
    fn garbage_is_counted_by_reason() {
        let t = Instant::now();
        let (mut m, counters) = core(vec![entry(A, "north", None)]);
        let mut out = Vec::new();
        m.handle(t, addr(1), b"xx", &mut out);
        m.handle(t, addr(1), b"HELLO WORLD", &mut out);
        m.handle(t, addr(1), b"DMRD\x01\x02", &mut out);
        assert!(out.is_empty());
        let s = counters.snapshot();
        assert_eq!(
            (s.link.bad_frames, s.bad_length, s.unknown_command),
            (3, 2, 1)
        );
    }
}
