//! One simulated site as a deterministic state machine: its radios' traffic and its site
//! controller's control-channel traffic out, the gateway's commands in.
//!
//! Time is milliseconds since the start of the run, passed in (`poll(now_ms)`,
//! `receive(now_ms, ..)`), and every random choice comes from one seeded [`SplitMix`], so the
//! same seed and the same inputs give the same bursts. Nothing here does I/O; the tokio edge
//! in [`super::run`] feeds it.
//!
//! Everything sent is built with `wire` builders (CSBK, full LC, embedded LC fragments, data
//! header + blocks through `data::emit_packet`, `sdata` / `lrrp` payloads, BPTC / trellis,
//! slot type with the site's colour code, BS-sourced syncs: a repeater forwards what it hears
//! as its downlink); everything received is decoded with `wire::pipeline::decode_burst` and a
//! per-slot `DataAssembler`. Commands are answered by docs/air-commands.md:
//!
//! | heard (to one of this site's radios) | answer after 300–2,500 ms |
//! |---|---|
//! | C_AHOY SK 14 (radio check) | C_ACKU reason 0x44 to the AHOY's source (TSI) |
//! | C_AHOY SK 13 from STUNI / KILLI | C_ACKU 0x44 to STUNI / KILLI; options bit 16 = revive |
//! | DMRA radio check request, DMRA call alert | DMRA radio check answer, DMRA call alert ack |
//! | PDT SUPS 0x29 (call alert, stun, revive) | SUPS answer 0x2C echoing the SSO |
//! | Hytera DMR-mode SUPS 0x24 SSO 0x7F / 0x7E | the same CSBK with SSO 0xFF / 0xFE |
//! | confirmed packet data (text, LRRP, PDT GPS poll) | response header ACK; then an LRRP report / PDT GPS answer for location requests |
//! | status with A = 1 | C_ACKU 0x44 to SDMI when sent from SDMI (Tier III), else a response header ACK |
//!
//! Radios out of coverage send nothing and answer nothing; a stunned radio answers only a
//! revive; a killed one nothing at all. Queues are bounded ([`MAX_PENDING`] scheduled actions,
//! [`MAX_SLOT_QUEUE`] bursts per slot); what does not fit is counted and dropped.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use crate::link::homebrew::SplitMix;
use crate::link::{Burst, FrameMeta, Received, SiteName, Slot, Transmit};
use crate::wire::burst::{self, DataType, Emb, SyncPattern};
use crate::wire::csbk::{
    Aloha, Csbk, CsbkBody, DmraAddressed, FID_HYTERA, LogicalSlot, PdtAlarm, RadioCheck, Rand,
    ReasonCode, ServiceFunction, ServiceKind, Sso, SystemIdentityCode, SystemModel,
};
use crate::wire::data::{self, BlockKind, DataAssembler, DataPdu, Rate};
use crate::wire::data_header::{Body, DataHeader, Dpf, PacketInfo, ResponseInfo};
use crate::wire::embedded::{self, Lcss};
use crate::wire::lc::{FullLc, GpsInfo, LcBody, LcKind, ServiceOptions, TalkerAliasFormat};
use crate::wire::lrrp::{self, DocType, Lrrp};
use crate::wire::pipeline::{Pdu, bptc_burst, data_block_burst, decode_burst};
use crate::wire::{Dialect, sdata};

/// Scheduled actions kept at most.
pub const MAX_PENDING: usize = 65_536;
/// Bursts queued per slot at most.
pub const MAX_SLOT_QUEUE: usize = 8_192;
/// One burst per 60 ms per slot (TS 102 361-1 §4.2: 30 ms bursts, two slots).
pub const BURST_MS: u64 = 60;
/// Reserved identities the radios answer (docs/air-interface.md §3.7).
const SDMI: u32 = 0xFF_FEC5;
const REGI: u32 = 0xFF_FEC6;
const STUNI: u32 = 0xFF_FECC;
const KILLI: u32 = 0xFF_FECF;
/// Reason 0x44, message accepted (docs/air-interface.md §3.4 reason table).
const ACCEPTED: u8 = 0x44;
/// Reason 0x62, registration accepted (docs/air-interface.md §3.4).
const REGISTRATION_ACCEPTED: u8 = 0x62;
/// C_RAND registration option (the one ingest reads, dispatch::ingest).
const RAND_REGISTER: u8 = 0x01;
/// AHOY option bit 16 = revive (air-commands.md §4).
const AHOY_REVIVE: u8 = 0x40;
/// Hytera DMR-mode SUPS opcode (air-commands.md §4).
const HYTERA_DMR_SUPS: u8 = 0x24;
/// PDT LP: message header 0x08 and opcode 0xA001 of the GPS poll (docs/pdt.md §4.1).
const LP_SERVICE: u8 = 0x08;

/// A simulated radio as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct RadioSpec {
    /// 24-bit radio ID.
    pub id: u32,
    /// Talkgroup it starts on.
    pub talkgroup: u32,
    /// Latitude, degrees.
    pub latitude: f64,
    /// Longitude, degrees.
    pub longitude: f64,
    /// Talker alias (Chinese allowed).
    pub alias: String,
    /// Out of coverage: never transmits, never answers.
    pub out_of_coverage: bool,
    /// How the radio's user answers a call-out (a text or status from the dispatcher, to the
    /// radio or to its talkgroup): `None` never answers.
    pub reply: Option<SimReply>,
}

/// A user's answer to a call-out: a status number sent this long after the radio received
/// the call-out (once per call-out: receptions within [`REPLY_QUIET_MS`] of a reply do not
/// trigger another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimReply {
    /// The status number (e.g. 1 received, 2 on my way, 9 unavailable in the demo).
    pub status: u16,
    /// Milliseconds from reception to the reply.
    pub delay_ms: u64,
}

/// After replying, a radio does not reply again to what it receives for this long, ms (one
/// answer per call-out, whether it heard the group alert, the follow-up or both).
pub const REPLY_QUIET_MS: u64 = 120_000;

/// How one site behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSpec {
    /// Site name (what the gateway tags its bursts with).
    pub name: SiteName,
    /// Colour code, 0–15.
    pub colour_code: u8,
    /// Dialect of the masks.
    pub dialect: Dialect,
    /// The dispatcher identity radios send texts, statuses and reports to.
    pub dispatcher: u32,
    /// Talkgroups radios move between.
    pub talkgroups: Vec<u32>,
    /// Activity multiplier: 1.0 is about one spontaneous action per radio per 30 s.
    pub rate: f64,
    /// Milliseconds between bursts on one slot (60 on the air; 0 for load generation, paced
    /// by the caller).
    pub burst_ms: u64,
}

/// An action due at `at`; ties go in scheduling order (`seq`), so runs repeat exactly.
#[derive(Debug)]
struct Scheduled {
    at: u64,
    seq: u64,
    action: Action,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Debug, Clone)]
struct Radio {
    spec: RadioSpec,
    talkgroup: u32,
    stunned: bool,
    killed: bool,
    alarm_seq: u8,
    /// When the radio last replied to a call-out.
    replied_at: Option<u64>,
}

/// Something to do at a time.
#[derive(Debug, Clone)]
enum Action {
    Aloha,
    Register(usize),
    Activity(usize),
    Send(Slot, Vec<(Burst, FrameMeta)>),
}

/// What the site did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SimCounters {
    /// Bursts handed out for sending.
    pub bursts_sent: u64,
    /// Bursts received from the gateway.
    pub bursts_received: u64,
    /// Received bursts that did not decode.
    pub decode_errors: u64,
    /// Commands answered (answers scheduled).
    pub answers: u64,
    /// Actions or bursts dropped because a queue was full.
    pub dropped: u64,
    /// Texts received by radios.
    pub texts_received: u64,
    /// Texts to a talkgroup received, counted once per radio of the site on that talkgroup
    /// (in coverage, not stunned or killed).
    pub group_texts_received: u64,
    /// Group texts and statuses received (each counted once per transmission).
    pub group_received: u64,
    /// Replies to call-outs scheduled.
    pub replies: u64,
}

/// One simulated site (module doc).
#[derive(Debug)]
pub struct SimSite {
    spec: SiteSpec,
    radios: Vec<Radio>,
    by_id: BTreeMap<u32, usize>,
    rng: SplitMix,
    pending: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    slots: [(VecDeque<(Burst, FrameMeta)>, u64); 2],
    rx: [DataAssembler; 2],
    counters: SimCounters,
}

fn slot_index(slot: Slot) -> usize {
    usize::from(slot == Slot::Two)
}

const TEXTS: [&str; 6] = [
    "已到达现场，正在处置",
    "山体滑坡预警",
    "请求增援",
    "道路中断，绕行中",
    "人员已疏散",
    "收到，立即执行",
];

impl SimSite {
    /// A site with `radios`, seeded with `seed`. Radios in coverage register within the first
    /// two seconds; the control channel beacons C_ALOHA every 5 s.
    pub fn new(spec: SiteSpec, radios: Vec<RadioSpec>, seed: u64) -> SimSite {
        let by_id = radios.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        let radios: Vec<Radio> = radios
            .into_iter()
            .map(|spec| Radio {
                talkgroup: spec.talkgroup,
                spec,
                stunned: false,
                killed: false,
                alarm_seq: 0,
                replied_at: None,
            })
            .collect();
        let mut site = SimSite {
            spec,
            by_id,
            rng: SplitMix::new(seed),
            pending: BinaryHeap::new(),
            seq: 0,
            slots: [(VecDeque::new(), 0), (VecDeque::new(), 0)],
            rx: [
                DataAssembler::new(crate::wire::DialectChoice::Auto),
                DataAssembler::new(crate::wire::DialectChoice::Auto),
            ],
            counters: SimCounters::default(),
            radios,
        };
        site.schedule(0, Action::Aloha);
        for i in 0..site.radios.len() {
            if !site.radios[i].spec.out_of_coverage {
                let at = site.rng.next_u64() % 2_000;
                site.schedule(at, Action::Register(i));
            }
        }
        site
    }

    /// The site's name.
    pub fn name(&self) -> &SiteName {
        &self.spec.name
    }

    /// Counters so far.
    pub fn counters(&self) -> SimCounters {
        self.counters
    }

    /// The earliest time `poll` has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        let action = self.pending.peek().map(|Reverse(s)| s.at);
        let slots = self
            .slots
            .iter()
            .filter(|(q, _)| !q.is_empty())
            .map(|(_, free)| *free);
        action.into_iter().chain(slots).min()
    }

    fn schedule(&mut self, at: u64, action: Action) {
        if self.pending.len() >= MAX_PENDING {
            self.counters.dropped += 1;
            return;
        }
        self.seq += 1;
        self.pending.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            action,
        }));
    }

    fn rand(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.rng.next_u64() % n }
    }

    /// Mean pause between one radio's spontaneous actions, ms.
    fn activity_gap(&mut self) -> u64 {
        let mean = (30_000.0 / self.spec.rate.max(1e-3)) as u64;
        mean / 2 + self.rand(mean.max(1))
    }

    /// Run everything due by `now_ms`; push the bursts to send onto `out`.
    pub fn poll(&mut self, now_ms: u64, out: &mut Vec<Transmit>) {
        while self.pending.peek().is_some_and(|Reverse(s)| s.at <= now_ms) {
            let Some(Reverse(s)) = self.pending.pop() else {
                break;
            };
            self.run_action(s.at, s.action);
        }
        for i in 0..2 {
            let slot = if i == 0 { Slot::One } else { Slot::Two };
            loop {
                let (queue, free) = &mut self.slots[i];
                if queue.is_empty() {
                    *free = (*free).max(now_ms);
                    break;
                }
                if *free > now_ms {
                    break;
                }
                let Some((burst, meta)) = queue.pop_front() else {
                    break;
                };
                *free += self.spec.burst_ms;
                self.counters.bursts_sent += 1;
                out.push(Transmit {
                    site: self.spec.name.clone(),
                    slot,
                    burst,
                    meta: Some(meta),
                });
                if self.spec.burst_ms == 0 && out.len() >= MAX_SLOT_QUEUE {
                    break;
                }
            }
        }
    }

    fn enqueue(&mut self, slot: Slot, bursts: Vec<(Burst, FrameMeta)>) {
        let (queue, _) = &mut self.slots[slot_index(slot)];
        for b in bursts {
            if queue.len() >= MAX_SLOT_QUEUE {
                self.counters.dropped += 1;
            } else {
                queue.push_back(b);
            }
        }
    }

    fn run_action(&mut self, now: u64, action: Action) {
        match action {
            Action::Aloha => {
                let bursts = self.aloha();
                self.enqueue(Slot::One, bursts);
                self.schedule(now + 5_000, Action::Aloha);
            }
            Action::Register(i) => {
                let bursts = self.registration(i);
                self.enqueue(Slot::One, bursts);
                let gap = self.activity_gap();
                self.schedule(now + gap, Action::Activity(i));
            }
            Action::Activity(i) => {
                if !self.radios[i].killed && !self.radios[i].stunned {
                    self.activity(i);
                }
                let gap = self.activity_gap();
                self.schedule(now + gap, Action::Activity(i));
            }
            Action::Send(slot, bursts) => self.enqueue(slot, bursts),
        }
    }

    // -- building bursts -------------------------------------------------------------------

    fn meta(&mut self, source: u32, destination: u32, private: bool) -> FrameMeta {
        FrameMeta {
            source,
            destination,
            private,
            stream_id: self.rng.next_u32() | 1,
        }
    }

    fn csbk(&self, c: &Csbk) -> Burst {
        bptc_burst(
            SyncPattern::BsData,
            self.spec.colour_code,
            DataType::Csbk,
            &c.to_bytes(self.spec.dialect),
        )
    }

    fn single(&mut self, c: &Csbk) -> Vec<(Burst, FrameMeta)> {
        let meta = self.meta(c.source().unwrap_or(0), c.target().unwrap_or(0), true);
        vec![(self.csbk(c), meta)]
    }

    fn aloha(&mut self) -> Vec<(Burst, FrameMeta)> {
        let c = Csbk::new(CsbkBody::CAloha(Aloha {
            reserved: false,
            tsccas: false,
            site_ts_sync: true,
            version: 0,
            offset_timing: false,
            active_connection: true,
            mask: 0,
            service_function: ServiceFunction::AllServices,
            nrand_wait: 5,
            reg_required: true,
            backoff: 2,
            system_code: SystemIdentityCode::new(SystemModel::Small, 1, 1, 0),
            ms_address: 0,
        }));
        c.map(|c| self.single(&c)).unwrap_or_default()
    }

    /// Radio: C_RAND SK 14 with the registration option and its talkgroup; controller:
    /// C_ACKD 0x62 from REGI.
    fn registration(&mut self, i: usize) -> Vec<(Burst, FrameMeta)> {
        let (id, tg) = (self.radios[i].spec.id, self.radios[i].talkgroup);
        let rand = Csbk::new(CsbkBody::CRand(Rand {
            service_options: RAND_REGISTER,
            proxy: false,
            service_extras: 0,
            service_kind: ServiceKind::RegistrationAuthenticationCheck,
            target: tg,
            source: id,
        }));
        let mut v = rand.map(|c| self.single(&c)).unwrap_or_default();
        v.extend(self.single(&Csbk::ackd(id, REGI, ReasonCode(REGISTRATION_ACCEPTED))));
        v
    }

    fn activity(&mut self, i: usize) {
        let roll = self.rand(100);
        let id = self.radios[i].spec.id;
        match roll {
            0..=34 => {
                let tg = self.radios[i].talkgroup;
                self.voice_call(i, tg, true, false);
            }
            35..=44 => {
                let n = self.radios.len() as u64;
                let j = self.rand(n) as usize;
                let target = self.radios[j].spec.id;
                if target != id {
                    self.voice_call(i, target, false, false);
                }
            }
            45..=54 => {
                let k = self.rand(TEXTS.len() as u64) as usize;
                self.send_text(i, TEXTS[k]);
            }
            55..=64 => {
                let status = self.rand(16) as u16 + 1;
                self.send_status(i, status);
            }
            65..=84 => self.send_position(i, None),
            85..=96 => {
                let n = self.spec.talkgroups.len() as u64;
                if n > 0 {
                    let k = self.rand(n) as usize;
                    let tg = self.spec.talkgroups[k];
                    self.radios[i].talkgroup = tg;
                    let bursts = self.registration(i);
                    self.enqueue(Slot::One, bursts);
                }
            }
            _ => self.emergency(i),
        }
    }

    fn emergency(&mut self, i: usize) {
        let id = self.radios[i].spec.id;
        let tg = self.radios[i].talkgroup;
        match self.spec.dialect {
            // PDT digital alarm 0x37, rolling counter below 0x0F (docs/pdt.md §2.3)
            Dialect::Pdt => {
                let seq = self.radios[i].alarm_seq;
                self.radios[i].alarm_seq = (seq + 1) % 0x0F;
                let c = Csbk::new(CsbkBody::HytAlarm(PdtAlarm {
                    sequence: seq,
                    reserved: 0,
                    target: self.spec.dispatcher,
                    source: id,
                }));
                let v = c.map(|c| self.single(&c)).unwrap_or_default();
                self.enqueue(Slot::One, v);
            }
            // DMR: an emergency group call (service options bit 7, docs/air-interface.md §4.3)
            Dialect::Dmr => self.voice_call(i, tg, true, true),
        }
    }

    /// Grant on the control slot, then LC header, superframes with embedded LC (call LC,
    /// talker alias, GPS), terminator on slot 2, then P_CLEAR.
    fn voice_call(&mut self, i: usize, target: u32, group: bool, emergency: bool) {
        let id = self.radios[i].spec.id;
        let grant = if group {
            Csbk::tv_grant(1, LogicalSlot::Ts2, target, id)
        } else {
            Csbk::pv_grant(1, LogicalSlot::Ts2, target, id)
        };
        let grant = self.with_emergency(grant, emergency);
        let v = self.single(&grant);
        self.enqueue(Slot::One, v);

        let options = ServiceOptions {
            emergency,
            priority: if emergency { 3 } else { 0 },
            ..ServiceOptions::default()
        };
        let call = FullLc {
            protect: false,
            reserved: false,
            flco: if group { 0 } else { 3 },
            fid: 0,
            body: if group {
                LcBody::GroupVoice {
                    service_options: options,
                    group: target,
                    source: id,
                }
            } else {
                LcBody::UnitToUnitVoice {
                    service_options: options,
                    target,
                    source: id,
                }
            },
        };
        let meta = self.meta(id, target, !group);
        let cc = self.spec.colour_code;
        let dialect = self.spec.dialect;
        let mut bursts = Vec::new();
        let mut block = [0u8; 12];
        call.emit_full(LcKind::Header, dialect, &mut block);
        bursts.push(bptc_burst(
            SyncPattern::BsData,
            cc,
            DataType::VoiceLcHeader,
            &block,
        ));
        let mut lcs = vec![call];
        lcs.extend(alias_lcs(&self.radios[i].spec.alias));
        let (lat, lon) = (self.radios[i].spec.latitude, self.radios[i].spec.longitude);
        lcs.push(FullLc {
            protect: false,
            reserved: false,
            flco: 8,
            fid: 0,
            body: LcBody::GpsInfo(GpsInfo::from_degrees(lon, lat, 1, dialect)),
        });
        lcs.push(call);
        let extra = self.rand(3) as usize;
        lcs.extend(std::iter::repeat_n(call, extra));
        for lc in &lcs {
            let mut voice = [0u8; burst::VOICE_LEN];
            for v in voice.iter_mut() {
                *v = self.rng.next_u32() as u8;
            }
            bursts.push(burst::voice_sync_burst(SyncPattern::BsVoice, &voice));
            // burst F carries a null fragment (LCSS 0); LCSS by value (see ingest)
            let frags = embedded::fragments(lc);
            for (lcss, fragment) in frags.into_iter().chain([(Lcss::from_bits(0), 0)]) {
                let emb = Emb {
                    colour_code: cc,
                    pi: false,
                    lcss: burst::Lcss::from_bits(lcss.bits()),
                };
                bursts.push(burst::voice_embedded_burst(emb, fragment, &voice));
            }
        }
        call.emit_full(LcKind::Terminator, dialect, &mut block);
        bursts.push(bptc_burst(
            SyncPattern::BsData,
            cc,
            DataType::TerminatorWithLc,
            &block,
        ));
        let v: Vec<_> = bursts.into_iter().map(|b| (b, meta)).collect();
        self.enqueue(Slot::Two, v);
        let clear = Csbk::p_clear(1, group, target, id);
        let v = self.single(&clear);
        self.enqueue(Slot::Two, v);
    }

    fn with_emergency(&self, mut c: Csbk, emergency: bool) -> Csbk {
        if let CsbkBody::TvGrant(g) | CsbkBody::PvGrant(g) = &mut c.body {
            g.emergency = emergency;
        }
        c
    }

    fn packet(
        &mut self,
        header: DataHeader,
        payload: &[u8],
        rate: Rate,
    ) -> Vec<(Burst, FrameMeta)> {
        let cc = self.spec.colour_code;
        let Ok(out) = data::emit_packet(header, payload, rate, self.spec.dialect) else {
            self.counters.dropped += 1;
            return Vec::new();
        };
        let meta = self.meta(header.source, header.destination, !header.group);
        let mut v = vec![(
            bptc_burst(
                SyncPattern::BsData,
                cc,
                DataType::DataHeader,
                &out.header_block,
            ),
            meta,
        )];
        for b in &out.blocks {
            match data_block_burst(SyncPattern::BsData, cc, out.rate, b) {
                Ok(burst) => v.push((burst, meta)),
                Err(_) => self.counters.dropped += 1,
            }
        }
        v
    }

    fn unconfirmed(&self, source: u32, destination: u32, sap: u8) -> DataHeader {
        DataHeader {
            group: false,
            response_requested: false,
            dpf: Dpf::Unconfirmed,
            sap,
            destination,
            source,
            body: Body::Packet(PacketInfo {
                header_compression: false,
                pad_octets: 0,
                full_message: true,
                blocks_to_follow: 0,
                resync: false,
                send_seq: 0,
                fsn: if self.spec.dialect == Dialect::Pdt {
                    8
                } else {
                    0
                },
            }),
        }
    }

    fn send_text(&mut self, i: usize, text: &str) {
        let h = self.unconfirmed(self.radios[i].spec.id, self.spec.dispatcher, 3);
        let v = self.packet(h, &sdata::pdt_sms_payload(text), Rate::Half);
        self.enqueue(Slot::One, v);
    }

    fn send_status(&mut self, i: usize, status: u16) {
        let v = self.status_bursts(i, status);
        self.enqueue(Slot::One, v);
    }

    /// The user answers a call-out it just received, if it answers at all and has not just
    /// answered one.
    fn call_out_received(&mut self, now: u64, i: usize) {
        let r = &self.radios[i];
        let Some(reply) = r.spec.reply else { return };
        if r.stunned || r.replied_at.is_some_and(|t| now < t + REPLY_QUIET_MS) {
            return;
        }
        self.radios[i].replied_at = Some(now);
        self.counters.replies += 1;
        let bursts = self.status_bursts(i, reply.status);
        self.schedule(now + reply.delay_ms, Action::Send(Slot::One, bursts));
    }

    fn status_bursts(&mut self, i: usize, status: u16) -> Vec<(Burst, FrameMeta)> {
        let h = sdata::status_header(
            self.spec.dispatcher,
            self.radios[i].spec.id,
            false,
            status,
            0,
            0,
        );
        let mut block = [0u8; 12];
        h.emit(self.spec.dialect, &mut block);
        let meta = self.meta(h.source, h.destination, true);
        let b = bptc_burst(
            SyncPattern::BsData,
            self.spec.colour_code,
            DataType::DataHeader,
            &block,
        );
        vec![(b, meta)]
    }

    /// A position report to `to` (the dispatcher when unsolicited): the PDT GPS answer in the
    /// PDT dialect, an LRRP report over IPv4/UDP in DMR.
    fn position_bursts(
        &mut self,
        i: usize,
        to: u32,
        request: Option<Vec<u8>>,
    ) -> Vec<(Burst, FrameMeta)> {
        let r = &self.radios[i].spec;
        let (id, lat, lon) = (r.id, r.latitude, r.longitude);
        // a little movement
        let jitter = (self.rand(200) as f64 - 100.0) * 1e-5;
        let (lat, lon) = (lat + jitter, lon - jitter);
        match (self.spec.dialect, request) {
            (Dialect::Pdt, req) => {
                let req = req
                    .and_then(|r| <[u8; 4]>::try_from(r.as_slice()).ok())
                    .map_or(0, u32::from_be_bytes);
                let payload = sdata::pdt_gps_report(req, 0, lat, lon);
                let h = self.unconfirmed(id, to, 3);
                self.packet(h, &payload, Rate::Half)
            }
            (Dialect::Dmr, req) => {
                let doc = if req.is_some() {
                    DocType::ImmediateLocationReport
                } else {
                    DocType::UnsolicitedLocationReport
                };
                let report = Lrrp::report(
                    doc,
                    &req.unwrap_or_default(),
                    Some(lrrp::Position {
                        latitude: lat,
                        longitude: lon,
                        radius: Some(10.0),
                    }),
                    None,
                    Some(1.5),
                )
                .to_bytes();
                let ip = sdata::ipv4_udp(
                    sdata::radio_ip(id),
                    sdata::radio_ip(to),
                    sdata::LRRP_PORT,
                    sdata::LRRP_PORT,
                    &report,
                );
                let h = self.unconfirmed(id, to, 4);
                self.packet(h, &ip, Rate::Half)
            }
        }
    }

    fn send_position(&mut self, i: usize, request: Option<Vec<u8>>) {
        let to = self.spec.dispatcher;
        let v = self.position_bursts(i, to, request);
        self.enqueue(Slot::One, v);
    }

    // -- receiving -------------------------------------------------------------------------

    /// Take a burst the gateway sent to this site.
    pub fn receive(&mut self, now_ms: u64, r: &Received) {
        self.counters.bursts_received += 1;
        let choice = match self.spec.dialect {
            Dialect::Dmr => crate::wire::DialectChoice::Dmr,
            Dialect::Pdt => crate::wire::DialectChoice::Pdt,
        };
        let d = match decode_burst(&r.burst, choice) {
            Ok(d) => d,
            Err(_) => {
                self.counters.decode_errors += 1;
                return;
            }
        };
        let asm = &mut self.rx[slot_index(r.slot)];
        match d.pdu {
            Pdu::Csbk(c) => self.command(now_ms, &c),
            Pdu::DataHeader { block, .. } => {
                if let Ok(Some(pdu)) = asm.feed(BlockKind::Header, &block) {
                    self.data(now_ms, &pdu);
                }
            }
            Pdu::DataBlock { rate, octets } => {
                match asm.feed(BlockKind::Data(rate), &octets[..rate.block_len()]) {
                    Ok(Some(pdu)) => self.data(now_ms, &pdu),
                    Ok(None) => {}
                    Err(_) => self.counters.decode_errors += 1,
                }
            }
            _ => {}
        }
    }

    /// The radio addressed, if it is here, in coverage and alive.
    fn addressed(&self, id: u32) -> Option<usize> {
        let i = *self.by_id.get(&id)?;
        let r = &self.radios[i];
        (!r.spec.out_of_coverage && !r.killed).then_some(i)
    }

    fn answer_later(&mut self, now: u64, bursts: Vec<(Burst, FrameMeta)>) {
        if bursts.is_empty() {
            return;
        }
        self.counters.answers += 1;
        let delay = 300 + self.rand(2_200);
        self.schedule(now + delay, Action::Send(Slot::One, bursts));
    }

    fn acku(&mut self, to: u32, radio: u32) -> Vec<(Burst, FrameMeta)> {
        let c = Csbk::new(CsbkBody::CAcku(crate::wire::csbk::Ack {
            response_info: 0,
            reason: ReasonCode(ACCEPTED),
            reserved: false,
            target: to,
            source: radio,
        }));
        c.map(|c| self.single(&c)).unwrap_or_default()
    }

    fn command(&mut self, now: u64, c: &Csbk) {
        let Some(target) = c.target() else {
            if (c.fid, c.opcode) == (FID_HYTERA, HYTERA_DMR_SUPS)
                && let CsbkBody::Raw { data } = c.body
            {
                self.hytera_dmr_sups(now, data);
            }
            return;
        };
        let Some(i) = self.addressed(target) else {
            return;
        };
        let id = self.radios[i].spec.id;
        let stunned = self.radios[i].stunned;
        let answer = match c.body {
            CsbkBody::CAhoy(a)
                if a.service_kind == ServiceKind::RegistrationAuthenticationCheck =>
            {
                if stunned {
                    return;
                }
                self.acku(a.source, id)
            }
            CsbkBody::CAhoy(a) if a.service_kind == ServiceKind::SupplementaryService => {
                let revive = a.service_options & AHOY_REVIVE != 0;
                match a.source {
                    STUNI if revive => self.radios[i].stunned = false,
                    STUNI if stunned => return,
                    STUNI => self.radios[i].stunned = true,
                    KILLI if stunned => return,
                    KILLI => {}
                    _ => return,
                }
                let v = self.acku(a.source, id);
                if a.source == KILLI {
                    self.radios[i].killed = true;
                }
                v
            }
            CsbkBody::DmraRadioCheck(rc) if rc.is_request() && !stunned => {
                let c = Csbk::new(CsbkBody::DmraRadioCheck(RadioCheck {
                    reserved: 0,
                    function: 0,
                    target: rc.source,
                    source: id,
                }));
                c.map(|c| self.single(&c)).unwrap_or_default()
            }
            CsbkBody::DmraCallAlert(ca) if !stunned => {
                let c = Csbk::new(CsbkBody::DmraCallAlertAck(DmraAddressed {
                    reserved: 0,
                    target: ca.source,
                    source: id,
                }));
                c.map(|c| self.single(&c)).unwrap_or_default()
            }
            CsbkBody::HytSupsReq(s) | CsbkBody::PdtSupsReq(s) => {
                match s.sso {
                    Sso::RadioEnable => self.radios[i].stunned = false,
                    _ if stunned => return,
                    Sso::RadioDisable => self.radios[i].stunned = true,
                    Sso::CallAlert => {}
                    _ => return,
                }
                self.single(&Csbk::pdt_sups_answer(s.sso, s.source, id))
            }
            _ => return,
        };
        self.answer_later(now, answer);
    }

    fn hytera_dmr_sups(&mut self, now: u64, data: [u8; 8]) {
        let target = u32::from_be_bytes([0, data[2], data[3], data[4]]);
        let source = [data[5], data[6], data[7]];
        let Some(i) = self.addressed(target) else {
            return;
        };
        let ack = match Sso::from(data[0]) {
            Sso::DmrRadioDisable if !self.radios[i].stunned => {
                self.radios[i].stunned = true;
                Sso::DmrRadioDisableAck
            }
            Sso::DmrRadioEnable => {
                self.radios[i].stunned = false;
                Sso::DmrRadioEnableAck
            }
            _ => return,
        };
        let id = self.radios[i].spec.id.to_be_bytes();
        let c = Csbk {
            last_block: true,
            protect: false,
            fid: FID_HYTERA,
            opcode: HYTERA_DMR_SUPS,
            body: CsbkBody::Raw {
                data: [
                    u8::from(ack),
                    0,
                    source[0],
                    source[1],
                    source[2],
                    id[1],
                    id[2],
                    id[3],
                ],
            },
        };
        let v = self.single(&c);
        self.answer_later(now, v);
    }

    fn response_ack(&mut self, to: u32, radio: u32, send_seq: u8) -> Vec<(Burst, FrameMeta)> {
        let h = DataHeader {
            group: false,
            response_requested: false,
            dpf: Dpf::Response,
            sap: 0,
            destination: to,
            source: radio,
            body: Body::Response(ResponseInfo {
                blocks_to_follow: 0,
                class: 0,
                kind: 1,
                status: send_seq & 7,
            }),
        };
        let mut block = [0u8; 12];
        h.emit(self.spec.dialect, &mut block);
        let meta = self.meta(radio, to, true);
        vec![(
            bptc_burst(
                SyncPattern::BsData,
                self.spec.colour_code,
                DataType::DataHeader,
                &block,
            ),
            meta,
        )]
    }

    fn data(&mut self, now: u64, pdu: &DataPdu) {
        let h = pdu.header;
        if h.group {
            // Group traffic: every radio here on that talkgroup hears it. A text to a
            // talkgroup is counted once per radio listening (in coverage, not stunned or
            // killed); a text or status from the gateway (not from one of the radios) is a
            // call-out its users may answer.
            let message = sdata::decode(pdu);
            let from_dispatcher = !self.by_id.contains_key(&h.source);
            self.counters.group_received += 1;
            if let sdata::Message::Text { .. } = message {
                let members = self
                    .radios
                    .iter()
                    .filter(|r| {
                        r.talkgroup == h.destination
                            && !r.spec.out_of_coverage
                            && !r.stunned
                            && !r.killed
                    })
                    .count();
                self.counters.group_texts_received += members as u64;
            }
            let hearers: Vec<usize> = (0..self.radios.len())
                .filter(|&i| {
                    let r = &self.radios[i];
                    r.talkgroup == h.destination && !r.spec.out_of_coverage && !r.killed
                })
                .collect();
            if from_dispatcher
                && matches!(
                    message,
                    sdata::Message::Text { .. } | sdata::Message::Status { .. }
                )
            {
                for i in hearers {
                    self.call_out_received(now, i);
                }
            }
            return;
        }
        let Some(i) = self.addressed(h.destination) else {
            return;
        };
        if self.radios[i].stunned {
            return;
        }
        let id = self.radios[i].spec.id;
        let send_seq = match h.body {
            Body::Packet(p) => p.send_seq,
            _ => 0,
        };
        let msg = sdata::decode(pdu);
        let mut answer = Vec::new();
        if h.response_requested {
            answer = match (&msg, h.source) {
                (sdata::Message::Status { .. }, SDMI) => self.acku(SDMI, id),
                _ => self.response_ack(h.source, id, send_seq),
            };
        }
        if matches!(
            msg,
            sdata::Message::Text { .. } | sdata::Message::Status { .. }
        ) {
            self.call_out_received(now, i);
        }
        match msg {
            sdata::Message::Text { .. } => self.counters.texts_received += 1,
            sdata::Message::Binary {
                sap: 4, data: user, ..
            } => {
                if let Ok(l) = Lrrp::parse(&user)
                    && l.doc == DocType::ImmediateLocationRequest
                {
                    let req = l.request_id.unwrap_or_default();
                    answer.extend(self.position_bursts(i, h.source, Some(req)));
                }
            }
            sdata::Message::Binary {
                sap: 3,
                destination_port: Some(116),
                ..
            } => {
                // the LP poll: message header 0x08, opcode 0xA001, length, request id
                let p = &pdu.payload;
                if p.get(5) == Some(&LP_SERVICE)
                    && p.get(6..8) == Some(&sdata::LP_REQUEST.to_be_bytes()[..])
                    && let Some(req) = p.get(10..14)
                {
                    answer.extend(self.position_bursts(i, h.source, Some(req.to_vec())));
                }
            }
            _ => {}
        }
        self.answer_later(now, answer);
    }
}

/// Talker alias LCs (FLCO 4–7) for `alias` in UTF-16BE, at most 13 units (docs/air-interface.md
/// 4.3: 6 + 3 × 7 octets).
fn alias_lcs(alias: &str) -> Vec<FullLc> {
    let units: Vec<u16> = alias.encode_utf16().take(13).collect();
    if units.is_empty() {
        return Vec::new();
    }
    let mut data = [0u8; 27];
    for (k, u) in units.iter().enumerate() {
        data[2 * k..2 * k + 2].copy_from_slice(&u.to_be_bytes());
    }
    let blocks = (units.len() * 2).saturating_sub(6).div_ceil(7);
    let mut out = vec![FullLc {
        protect: false,
        reserved: false,
        flco: 4,
        fid: 0,
        body: LcBody::TalkerAliasHeader {
            format: TalkerAliasFormat::Utf16Be,
            length: units.len() as u8,
            msb: false,
            data: [data[0], data[1], data[2], data[3], data[4], data[5]],
        },
    }];
    for b in 0..blocks.min(3) {
        let at = 6 + 7 * b;
        let mut d = [0u8; 7];
        d.copy_from_slice(&data[at..at + 7]);
        out.push(FullLc {
            protect: false,
            reserved: false,
            flco: 5 + b as u8,
            fid: 0,
            body: LcBody::TalkerAliasBlock {
                index: b as u8 + 1,
                data: d,
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::embedded::TalkerAliasAssembler;

    fn spec(rate: f64) -> SiteSpec {
        SiteSpec {
            name: "s".into(),
            colour_code: 2,
            dialect: Dialect::Pdt,
            dispatcher: 0xFF_FECB,
            talkgroups: vec![1, 2],
            rate,
            burst_ms: BURST_MS,
        }
    }

    fn radio(id: u32, out: bool) -> RadioSpec {
        RadioSpec {
            id,
            talkgroup: 1,
            latitude: 23.0,
            longitude: 113.0,
            alias: "消防一中队".into(),
            out_of_coverage: out,
            reply: None,
        }
    }

    #[test]
    fn aliases_read_back_through_the_assembler() {
        for alias in ["消防一中队", "A", "应急救援队第十三号车辆"] {
            let mut asm = TalkerAliasAssembler::new();
            let got: Vec<String> = alias_lcs(alias)
                .iter()
                .filter_map(|lc| asm.feed(lc))
                .collect();
            assert_eq!(got, vec![alias.to_string()]);
        }
        assert!(alias_lcs("").is_empty());
    }

    #[test]
    fn bursts_are_paced_one_per_60_ms_per_slot() {
        let mut site = SimSite::new(spec(1.0), vec![radio(5, false)], 1);
        let mut out = Vec::new();
        site.poll(2_000, &mut out);
        // C_ALOHA at 0, then C_RAND + C_ACKD: one burst per 60 ms from t = 0
        let n = out.len();
        assert!((1..=2_000 / 60 + 1).contains(&n), "{n}");
        let before = out.len();
        site.poll(2_000, &mut out);
        assert_eq!(out.len(), before, "nothing more is due at the same instant");
        assert!(site.next_deadline().is_some());
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let mut site = SimSite::new(spec(1.0), vec![radio(5, false)], 1);
        let burst = (
            [0u8; 33],
            FrameMeta {
                source: 0,
                destination: 0,
                private: false,
                stream_id: 1,
            },
        );
        site.enqueue(Slot::Two, vec![burst; MAX_SLOT_QUEUE + 10]);
        assert_eq!(site.counters().dropped, 10);
    }

    #[test]
    fn out_of_coverage_radios_stay_silent() {
        let mut site = SimSite::new(spec(50.0), vec![radio(5, true)], 3);
        let mut out = Vec::new();
        for t in (0..120_000).step_by(60) {
            site.poll(t, &mut out);
        }
        // only the controller's C_ALOHA beacons, every 5 s on slot 1
        assert_eq!(out.len(), 120_000 / 5_000);
        assert!(
            out.iter()
                .all(|t| t.slot == Slot::One && t.meta.is_some_and(|m| m.source == 0))
        );
    }
}
