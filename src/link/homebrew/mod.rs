//! The Homebrew repeater protocol (HBP, the "MMDVM" network protocol) over UDP: master and peer.
//!
//! Contract:
//! - [`packet`] parses and emits every datagram of the protocol byte-exactly and never panics
//!   on input (docs/transports.md §2.1-2.4).
//! - [`peer`] logs into a master (RPTL → RPTACK salt → RPTK SHA-256(salt ‖ passphrase) → RPTC
//!   302-octet config → RPTACK, optional RPTO), keeps the login alive with RPTPING / MSTPONG,
//!   logs in again after missed pongs, MSTNAK or MSTCL with capped exponential backoff, and
//!   carries DMRD both ways (docs/transports.md §2.3, 2.5, 2.7; g4klx/DMRGateway:DMRNetwork.cpp,
//!   HBLink-org/hblink3:hblink.py). Its failures (MSTNAK to RPTL, i.e. an ID the master does
//!   not take; MSTNAK to RPTK, a wrong passphrase; a login step with no answer; keepalive lost;
//!   datagrams from another address or malformed) are counted and logged once per cause when
//!   they start and once when they stop ([`crate::link::FailureEpisodes`]).
//! - [`master`] accepts the configured peers by ID and passphrase; logins in progress are held
//!   apart from the logged-in peers and bounded (per peer ID, per source address, in total), so
//!   a logged-in peer stays until a challenger completes the whole login; refusals are counted
//!   per cause and logged once when a cause starts and once when it stops. It drops peers after
//!   a configurable silence, and relays DMRD between its peers the
//!   way HBlink3's repeat mode does (repeater ID rewritten to the receiving peer, docs/transports.md
//!   2.8), narrowed by per-peer allow-lists and one stream per slot with a hang time. Everything
//!   it receives from a logged-in peer also goes to the gateway tagged with the peer's site:
//!   DMRD as [`Received`], DMRA / DMRG (19/18 octets, and the older 15/14 in both the
//!   MMDVMHost form and DMRGateway's cut form, see [`packet::short_dmra`]) as
//!   [`crate::link::Aux`] on the channel given to [`Master::with_aux`].
//!
//! Each side is a synchronous, I/O-free state machine (`handle(now, …)`, `poll(now, …)`) with a
//! thin tokio task at the edge (`run`). The edge never awaits the gateway: received bursts go
//! out with `try_send`, and a full queue costs a counted drop ([`HomebrewCounters::rx_dropped`]),
//! because stalling the socket would stall keepalives and every other peer.
//! Bad input costs a counter, never the link (docs/design.md).

pub mod master;
pub mod packet;
pub mod peer;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

pub use master::{Allow, Master, MasterAction, MasterConfig, MasterCore, PeerEntry, SlotAllow};
pub use packet::{
    CallType, ConfigBlock, Dmra, Dmrd, Dmrg, FrameType, HomebrewError, Packet, PeerId,
    RepeaterInfo, Short, login_digest, parse_dmrd, short_dmra, short_dmrg,
};
pub use peer::{Peer, PeerAction, PeerConfig, PeerPhase, PeerSession};

use super::{Burst, LinkCounters, Received, SiteName, Slot, Transmit};

/// Counters of one Homebrew link: the shared [`LinkCounters`] plus the reasons behind them.
#[derive(Debug, Default)]
pub struct HomebrewCounters {
    /// The counters every link has (frames in/out, bad frames, unauthenticated, reconnects,
    /// login failures, transmit drops).
    pub link: Arc<LinkCounters>,
    /// Bad frames: shorter or longer than their packet.
    pub bad_length: AtomicU64,
    /// Bad frames: no known command.
    pub unknown_command: AtomicU64,
    /// Bad frames: a field value the packet cannot carry.
    pub bad_field: AtomicU64,
    /// Datagrams from an address other than the one the peer logged in from (master) or the
    /// master's (peer).
    pub wrong_address: AtomicU64,
    /// Logins with a peer ID that is not configured (master); MSTNAKs to our RPTL (peer).
    pub unknown_peer: AtomicU64,
    /// Logins with a wrong passphrase digest (master); MSTNAKs to our RPTK (peer).
    pub bad_passphrase: AtomicU64,
    /// Logins that started (RPTL answered with a salt) but were not completed within the
    /// login timeout (master); login steps the master did not answer in time (peer).
    pub login_timeouts: AtomicU64,
    /// RPTLs refused because a bound on pending logins (per peer ID, per source address, in
    /// total) was reached (master).
    pub pending_full: AtomicU64,
    /// Packets that do not fit the login state (DMRD or ping before login, ...).
    pub not_logged_in: AtomicU64,
    /// Packets that carry another peer's ID (peer side).
    pub wrong_id: AtomicU64,
    /// Well-formed packets that only travel the other way, or that this link does not use
    /// (RPTG, RPTSBKN; DMRA and DMRG on the peer side).
    pub ignored: AtomicU64,
    /// Received bursts dropped because the gateway's queue was full.
    pub rx_dropped: AtomicU64,
    /// Link state events dropped because the supervisor's queue was full.
    pub state_dropped: AtomicU64,
    /// DMRD relayed from one peer to another (master).
    pub relayed: AtomicU64,
    /// Relays withheld by an allow-list (master).
    pub relay_denied: AtomicU64,
    /// Relays withheld because the receiving peer's slot carried another stream (master).
    pub relay_busy: AtomicU64,
    /// Pings sent without an answer when the peer gave the login up (peer).
    pub missed_pongs: AtomicU64,
    /// Peers dropped after the ping timeout (master).
    pub peer_timeouts: AtomicU64,
    /// MSTNAKs received (peer) or sent (master).
    pub naks: AtomicU64,
    /// DMRA / DMRG handed to the gateway (master).
    pub aux_in: AtomicU64,
    /// Short DMRA / DMRG whose payload DMRGateway cut to 3 of 7 octets, dropped (master).
    pub aux_cut: AtomicU64,
    /// Datagrams naming a peer pinned to `allowed_sources` from another address, dropped
    /// unanswered (master).
    pub source_refused: AtomicU64,
}

/// A plain copy of [`HomebrewCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HomebrewCountersSnapshot {
    pub link: crate::link::LinkCountersSnapshot,
    pub bad_length: u64,
    pub unknown_command: u64,
    pub bad_field: u64,
    pub wrong_address: u64,
    pub unknown_peer: u64,
    pub bad_passphrase: u64,
    pub login_timeouts: u64,
    pub pending_full: u64,
    pub not_logged_in: u64,
    pub wrong_id: u64,
    pub ignored: u64,
    pub rx_dropped: u64,
    pub state_dropped: u64,
    pub relayed: u64,
    pub relay_denied: u64,
    pub relay_busy: u64,
    pub missed_pongs: u64,
    pub peer_timeouts: u64,
    pub naks: u64,
    pub aux_in: u64,
    pub aux_cut: u64,
    pub source_refused: u64,
}

impl HomebrewCounters {
    /// Counters that report the shared part into `link`.
    pub fn new(link: Arc<LinkCounters>) -> HomebrewCounters {
        HomebrewCounters {
            link,
            ..HomebrewCounters::default()
        }
    }

    /// Count a datagram that did not parse, under its reason.
    pub fn bad_frame(&self, e: &HomebrewError) {
        LinkCounters::bump(&self.link.bad_frames);
        LinkCounters::bump(match e {
            HomebrewError::Truncated { .. } | HomebrewError::TooLong { .. } => &self.bad_length,
            HomebrewError::UnknownCommand { .. } => &self.unknown_command,
            HomebrewError::Invalid { .. } => &self.bad_field,
        });
    }

    /// A plain copy of every counter.
    pub fn snapshot(&self) -> HomebrewCountersSnapshot {
        let g = |c: &AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        HomebrewCountersSnapshot {
            link: self.link.snapshot(),
            bad_length: g(&self.bad_length),
            unknown_command: g(&self.unknown_command),
            bad_field: g(&self.bad_field),
            wrong_address: g(&self.wrong_address),
            unknown_peer: g(&self.unknown_peer),
            bad_passphrase: g(&self.bad_passphrase),
            login_timeouts: g(&self.login_timeouts),
            pending_full: g(&self.pending_full),
            not_logged_in: g(&self.not_logged_in),
            wrong_id: g(&self.wrong_id),
            ignored: g(&self.ignored),
            rx_dropped: g(&self.rx_dropped),
            state_dropped: g(&self.state_dropped),
            relayed: g(&self.relayed),
            relay_denied: g(&self.relay_denied),
            relay_busy: g(&self.relay_busy),
            missed_pongs: g(&self.missed_pongs),
            peer_timeouts: g(&self.peer_timeouts),
            naks: g(&self.naks),
            aux_in: g(&self.aux_in),
            aux_cut: g(&self.aux_cut),
            source_refused: g(&self.source_refused),
        }
    }
}

/// What the gateway gets for a DMRD: the burst tagged with site and slot, RSSI and BER from
/// octets 54 and 53 (0 means unknown there, so it maps to `None`; BER is the corrected-bit count
/// over the 141 bits MMDVMHost counts per burst, docs/transports.md §2.2), addressing as [`FrameMeta`].
///
/// [`FrameMeta`]: crate::link::FrameMeta
pub fn received(site: &SiteName, d: &Dmrd, at: Instant) -> Received {
    Received {
        site: site.clone(),
        slot: d.slot,
        burst: d.burst,
        rssi_dbm: (d.rssi != 0).then(|| -i16::from(d.rssi)),
        ber_percent: (d.ber != 0).then(|| f32::from(d.ber) * 100.0 / 141.0),
        meta: Some(d.meta()),
        at,
    }
}

/// A small deterministic generator (SplitMix64) for salts and stream IDs; seeded from the OS
/// via std's randomly keyed hasher at the edge, fixed in tests. Salts need to be unpredictable
/// to an observer, not cryptographically strong: HBlink3 uses Python's `randint`.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    /// A generator seeded from the process's random hasher keys and the clock.
    pub fn from_entropy() -> SplitMix {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        SplitMix(h.finish())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

/// 48-bit sync patterns at burst bits 108-155 (docs/air-interface.md §1.2: ok-dmrlib
/// sync_patterns.py, MMDVMHost DMRDefines.h).
const VOICE_SYNCS: [u64; 4] = [
    0x755F_D7DF_75F7, // BS sourced voice
    0x7F7D_5DD5_7DFD, // MS sourced voice
    0x5D57_7F77_57FF, // TDMA direct TS1 voice
    0x7DFF_D5F5_5D5F, // TDMA direct TS2 voice
];
const DATA_SYNCS: [u64; 4] = [
    0xDFF5_7D75_DF5D, // BS sourced data
    0xD5D7_F77F_D757, // MS sourced data
    0xF7FD_D5DD_FD55, // TDMA direct TS1 data
    0xD755_7F5F_F7F5, // TDMA direct TS2 data
];
/// Sync bit errors still accepted (docs/air-interface.md §1.2: real captures carry sync words a bit
/// or so off; 4 of 48 stays far from every other pattern).
const SYNC_TOLERANCE: u32 = 4;

/// The DMRD frame type a burst calls for, read from its sync and slot type, so a [`Transmit`]
/// (which carries only the burst) can be framed: data sync → the data type in the slot type's
/// DT bits 102-105 (docs/air-interface.md §1.1); voice sync → burst A; anything else → a voice burst
/// B-F. This is framing, not decoding: the Golay parity is not checked.
pub fn classify_burst(burst: &Burst) -> (FrameType, Option<u8>) {
    let sync = crate::wire::bits::get(burst, 108, 48);
    let near = |p: &u64| (sync ^ p).count_ones() <= SYNC_TOLERANCE;
    if DATA_SYNCS.iter().any(near) {
        let dt = crate::wire::bits::get(burst, 102, 4) as u8;
        (FrameType::DataSync, Some(dt))
    } else if VOICE_SYNCS.iter().any(near) {
        (FrameType::VoiceSync, None)
    } else {
        (FrameType::Voice, None)
    }
}

/// Per-slot transmit framing toward one peer: sequence numbers, stream IDs and voice burst
/// letters for bursts the gateway sends.
#[derive(Debug, Clone, Default)]
pub struct TxFraming {
    slots: [Option<TxStream>; 2],
}

#[derive(Debug, Clone, Copy)]
struct TxStream {
    stream_id: u32,
    seq: u8,
    voice_n: u8,
    last: Instant,
    ended: bool,
}

/// Silence after which a transmit without a stream ID in its meta starts a new stream (HBlink's
/// `STREAM_TO`, docs/transports.md §2.5).
pub const TX_STREAM_GAP: Duration = Duration::from_millis(360);

impl TxFraming {
    /// Frame `t` as a DMRD from or to `repeater`.
    pub fn frame(
        &mut self,
        now: Instant,
        t: &Transmit,
        repeater: PeerId,
        rng: &mut SplitMix,
    ) -> Dmrd {
        let (frame, dt) = classify_burst(&t.burst);
        let idx = usize::from(t.slot == Slot::Two);
        let wanted = t.meta.map(|m| m.stream_id);
        let fresh = match (&self.slots[idx], wanted) {
            (None, _) => true,
            (Some(s), Some(id)) => s.stream_id != id,
            (Some(s), None) => s.ended || now.saturating_duration_since(s.last) > TX_STREAM_GAP,
        };
        if fresh {
            self.slots[idx] = Some(TxStream {
                stream_id: wanted.unwrap_or_else(|| rng.next_u32()),
                seq: 0,
                voice_n: 0,
                last: now,
                ended: false,
            });
        }
        let s = self.slots[idx].get_or_insert(TxStream {
            stream_id: 0,
            seq: 0,
            voice_n: 0,
            last: now,
            ended: false,
        });
        let data_type = match frame {
            FrameType::DataSync => dt.unwrap_or(0),
            FrameType::VoiceSync => {
                s.voice_n = 0;
                0
            }
            _ => {
                // Bursts B..F follow A as 1..5 (docs/transports.md §2.2).
                s.voice_n = s.voice_n % 5 + 1;
                s.voice_n
            }
        };
        let d = Dmrd {
            seq: s.seq,
            source: t.meta.map_or(0, |m| m.source),
            destination: t.meta.map_or(0, |m| m.destination),
            repeater,
            slot: t.slot,
            call: if t.meta.is_some_and(|m| m.private) {
                CallType::Private
            } else {
                CallType::Group
            },
            frame,
            data_type,
            stream_id: s.stream_id,
            burst: t.burst,
            ber: 0,
            rssi: 0,
        };
        s.seq = s.seq.wrapping_add(1);
        s.last = now;
        s.ended = d.is_terminator();
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::FrameMeta;

    // Measured DMRD from MMDVMHost (docs/transports.md §5): voice LC header (flags a1), voice sync
    // burst A (flags 90), terminator (flags a2); here only their bursts.
    const HEADER: &str = "03aa146c339c3978bb4099e1846d5d7f77fd757e32d803905f90f7213a831a8061";
    const VSYNC: &str = "2c142225fab0c6265829010743d7f7d5dd57dfd948b34e956b4262079a12172e2b";
    const TERM: &str = "03c514b8332c3900bb30994184ad5d7f77fd757967cc00a858f0fb613283038052";

    fn burst(h: &str) -> Burst {
        let mut b = [0u8; 33];
        hex::decode_to_slice(h, &mut b).unwrap();
        b
    }

    #[test]
    fn measured_bursts_classify_as_their_flags_say() {
        assert_eq!(
            classify_burst(&burst(HEADER)),
            (FrameType::DataSync, Some(1))
        );
        assert_eq!(classify_burst(&burst(VSYNC)), (FrameType::VoiceSync, None));
        assert_eq!(classify_burst(&burst(TERM)), (FrameType::DataSync, Some(2)));
        // A sync a few bits off is still a sync; a voice burst B-F has none.
        let mut noisy = burst(HEADER);
        noisy[15] ^= 0x11;
        assert_eq!(classify_burst(&noisy).0, FrameType::DataSync);
        assert_eq!(classify_burst(&[0u8; 33]).0, FrameType::Voice);
    }

    #[test]
    fn framing_numbers_a_voice_stream_like_mmdvmhost() {
        let t = Instant::now();
        let mut f = TxFraming::default();
        let mut rng = SplitMix::new(1);
        let tx = |b: Burst| Transmit {
            site: Arc::from("north"),
            slot: Slot::Two,
            burst: b,
            meta: Some(FrameMeta {
                source: 4_600_123,
                destination: 46_001,
                private: false,
                stream_id: 0xc918_f949,
            }),
        };
        let mut flags = Vec::new();
        let mut seqs = Vec::new();
        let mut bursts = vec![burst(HEADER), burst(VSYNC)];
        bursts.extend([[0u8; 33]; 5]);
        bursts.push(burst(VSYNC));
        bursts.push([0u8; 33]);
        bursts.push(burst(TERM));
        for b in bursts {
            let d = f.frame(t, &tx(b), PeerId(4_600_001), &mut rng);
            assert_eq!(d.stream_id, 0xc918_f949);
            flags.push(d.flags());
            seqs.push(d.seq);
        }
        assert_eq!(
            flags,
            vec![0xa1, 0x90, 0x81, 0x82, 0x83, 0x84, 0x85, 0x90, 0x81, 0xa2]
        );
        assert_eq!(seqs, (0..10).collect::<Vec<u8>>());
        // Without meta: a new random stream after a terminator.
        let bare = Transmit {
            meta: None,
            ..tx(burst(HEADER))
        };
        let a = f.frame(t, &bare, PeerId(1), &mut rng);
        let b = f.frame(
            t,
            &Transmit {
                burst: burst(TERM),
                ..bare.clone()
            },
            PeerId(1),
            &mut rng,
        );
        let c = f.frame(t, &bare, PeerId(1), &mut rng);
        assert_eq!(a.stream_id, b.stream_id);
        assert_ne!(b.stream_id, c.stream_id);
        assert_eq!((b.seq, c.seq), (1, 0));
    }

    #[test]
    fn received_maps_rssi_and_ber() {
        let bytes = hex::decode(packet::tests::HEADER).unwrap();
        let mut d = Dmrd::parse(&bytes).unwrap();
        let site: SiteName = Arc::from("north");
        let r = received(&site, &d, Instant::now());
        assert_eq!((r.rssi_dbm, r.ber_percent), (None, None));
        d.rssi = 0x2f;
        d.ber = 141;
        let r = received(&site, &d, Instant::now());
        assert_eq!((r.rssi_dbm, r.ber_percent), (Some(-47), Some(100.0)));
        assert_eq!(r.meta, Some(d.meta()));
    }
}
