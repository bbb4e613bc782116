//! Ingest: bursts a link received → the core's [`Input::Air`] values, by the table of
//! docs/air-commands.md (§9 inbound events, §2–§8 answers, §0 answer classes).
//!
//! One [`Ingest`] serves one site; it keeps per-slot receivers for what spans bursts (packet
//! data reassembly, MBC, embedded LC, talker alias). Each burst goes through
//! [`wire::pipeline::decode_burst`] (sync → slot type → BPTC / trellis / rate 1 → CRC with the
//! site's dialect, or both) and the PDU is mapped:
//!
//! | PDU | event | source |
//! |---|---|---|
//! | C_ACKD reason 0x62 (registration accepted) | `Registered { target }` | AI §3.4, §3.8 `gophertrunk-ackd` |
//! | C_RAND service kind 14, option bit 0 set (with a talkgroup target) / clear | `Affiliated { source, target }` / `Deregistered { source }` | derived (air-commands.md §9: "layout per dvmhost"), unverified |
//! | TV/BTV/PV_GRANT (CSBK or MBC header) | `VoiceGrant` (+ `EmergencyAlarm` when the emergency bit is set) | AI §3.4, air-commands.md §8 |
//! | P_CLEAR, P_MAINT kind 0 | `CallCleared` | AI §3.4 |
//! | voice LC header, late-entry embedded LC (FLCO 0 / 3) | `VoiceLc` (+ `EmergencyAlarm` once per transmission) | AI §4.3 |
//! | terminator with LC | `VoiceTerminator` | AI §4.4 |
//! | talker alias LCs (FLCO 4–7), GPS info LC (FLCO 8) | `TalkerAlias`, `Position { EmbeddedLc }` | AI §4.3 |
//! | DMRA emergency 0x27, PDT alarm 0x37 | `EmergencyAlarm` | AI §3.3, §3.9 |
//! | C_ACKU, NACK_Rsp, DMRA call alert ack / radio check answer, PDT SUPS answer 0x2C, Hytera DMR-mode SUPS ack | `Answer` | air-commands.md §2–§4 |
//! | packet data: text, status, LRRP / PDT GPS / NMEA positions, response headers | `Text`, `Status`, `Position`, `Answer` | air-commands.md §5–§7 |
//! | IP data: Motorola TMS text / TMS ack (UDP 4007), ARS registration / deregistration (4005), text on 5016 | `Text`, `Answer { Text }`, `Registered`, `Deregistered` | docs/ip-data.md |
//! | any other packet data, UDT without text | `DataReceived` (raw, with ports; the sender counts as heard) | docs/ip-data.md |
//!
//! Queued and wait answers are not passed on (air-commands.md §0). What fails is counted per
//! stage in [`IngestCounters`] and dropped; nothing here panics or grows with the input: the
//! per-slot state is fixed-size except the data assembler, which `wire` bounds at 127 blocks.

use crate::dispatch::{
    Addressee, AirEvent, AirInput, Answer, Input, MAX_RECEIVED_DATA, Position, PositionSource,
    RadioId, ReceivedData, Refusal, Service, SiteId, TalkgroupId,
};
use crate::link::{Aux, AuxKind, Received, Slot};
use crate::wire::csbk::mbc::MbcAssembler;
use crate::wire::csbk::{
    Channel, Csbk, CsbkBody, FID_HYTERA, ReasonClass, ReasonCode, ServiceKind, Sso,
};
use crate::wire::data::{BlockKind, DataAssembler, DataPdu};
use crate::wire::data_header::{Body, Response};
use crate::wire::embedded::{EmbeddedLcAssembler, Lcss, TalkerAliasAssembler};
use crate::wire::lc::{FullLc, LcBody, LcKind};
use crate::wire::lrrp::{self, Lrrp};
use crate::wire::pipeline::{DecodedBurst, Pdu, Stage, decode_burst};
use crate::wire::sdata::{self, LocationSource, Message};
use crate::wire::{Dialect, DialectChoice};

use super::egress::{HYTERA_DMR_SUPS_OPCODE, KILLI, REGI, TSI};

/// Reason 0x62: registration accepted (AI §3.4 reason table; vector `gophertrunk-ackd`).
pub const REASON_REGISTRATION_ACCEPTED: u8 = 0x62;
/// C_RAND service option bit marking a registration (with talkgroup attachment) rather than a
/// deregistration (derived, module doc).
pub const RAND_REGISTER_OPTION: u8 = 0x01;
/// Data-level NACKs map to `0x80 | type` (air-commands.md §0, our mapping).
pub const DATA_NACK_BASE: u8 = 0x80;

/// What was dropped or produced, per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestCounters {
    /// Bursts fed.
    pub bursts: u64,
    /// Wrong length, no sync and no EMB.
    pub sync: u64,
    /// Slot type uncorrectable.
    pub slot_type: u64,
    /// BPTC / trellis uncorrectable.
    pub fec: u64,
    /// CRC / RS check failed under every dialect tried.
    pub crc: u64,
    /// Fields unreadable after a passing check.
    pub parse: u64,
    /// Decoded PDUs that map to no event (unknown opcode, idle, queued answers, ...).
    pub unknown_pdu: u64,
    /// Data blocks or headers the assembler dropped (bad CRC-9 / CRC-32, orphans, ...).
    pub data_errors: u64,
    /// MBCs that failed to assemble.
    pub mbc_errors: u64,
    /// Bits corrected by FEC over all bursts.
    pub bits_corrected: u64,
    /// Inputs produced.
    pub inputs: u64,
}

/// Per-slot receive state.
#[derive(Debug)]
struct SlotState {
    data: DataAssembler,
    mbc: MbcAssembler,
    embedded: EmbeddedLcAssembler,
    alias: TalkerAliasAssembler,
    /// The dialect heard last on this slot (decides how embedded GPS reads).
    dialect: Dialect,
    /// The call whose voice is on the slot: (source, target).
    call: Option<(RadioId, Addressee)>,
    /// An emergency alarm was already raised for the current transmission.
    alarmed: bool,
}

impl SlotState {
    fn new(choice: DialectChoice) -> SlotState {
        let dialect = match choice {
            DialectChoice::Dmr | DialectChoice::Auto => Dialect::Dmr,
            DialectChoice::Pdt => Dialect::Pdt,
        };
        SlotState {
            data: DataAssembler::new(choice),
            mbc: MbcAssembler::new(choice, Channel::Conventional),
            embedded: EmbeddedLcAssembler::new(dialect),
            alias: TalkerAliasAssembler::new(),
            dialect,
            call: None,
            alarmed: false,
        }
    }

    fn set_dialect(&mut self, d: Dialect) {
        if d != self.dialect {
            self.dialect = d;
            self.embedded = EmbeddedLcAssembler::new(d);
        }
    }
}

/// The receiver of one site (module doc).
#[derive(Debug)]
pub struct Ingest {
    site: SiteId,
    choice: DialectChoice,
    slots: [SlotState; 2],
    /// Talker alias assembly of DMRA packets, by source radio; at most [`MAX_AUX_ALIASES`].
    aux_aliases: std::collections::HashMap<u32, TalkerAliasAssembler>,
    counters: IngestCounters,
}

/// Bound on the talker aliases assembled from DMRA at once; past it the oldest half-built
/// ones are forgotten (a radio sends its alias blocks within a second or so).
pub const MAX_AUX_ALIASES: usize = 256;

/// FLCO of the talker alias header; blocks 1–3 follow as 5–7 (TS 102 361-2 7.1.1.2;
/// g4klx/MMDVMHost DMRDefines.h `FLCO_TALKER_ALIAS_HEADER`).
const FLCO_TALKER_ALIAS_HEADER: u8 = 4;
/// FLCO of the GPS info LC (TS 102 361-2 7.1.1.3; MMDVMHost DMRDefines.h `FLCO_GPS_INFO`).
const FLCO_GPS_INFO: u8 = 8;

fn radio(id: u32) -> Option<RadioId> {
    RadioId::new(id).ok()
}

fn addressee(id: u32, group: bool) -> Option<Addressee> {
    if group {
        TalkgroupId::new(id).ok().map(Addressee::Talkgroup)
    } else {
        radio(id).map(Addressee::Radio)
    }
}

/// The answer an acknowledge / NACK reason carries; queued and wait give none (§0).
fn answer_of(reason: ReasonCode) -> Option<Answer> {
    match reason.class() {
        ReasonClass::Ack => Some(Answer::Accepted),
        ReasonClass::Nack => Some(Answer::Refused(Refusal { code: reason.0 })),
        ReasonClass::Queued | ReasonClass::Wait => None,
    }
}

/// The service an answer addressed to a gateway identity is for (air-commands.md §0, §2, §4):
/// TSI → radio check, KILLI → kill; STUNI covers stun and revive, so it names neither.
fn service_of_identity(id: u32) -> Option<Service> {
    match id {
        TSI => Some(Service::RadioCheck),
        KILLI => Some(Service::Kill),
        _ => None,
    }
}

/// Accuracy bound of a GPS info LC position error (air-commands.md §7: 0 < 2 m … 5 < 200 km;
/// 6, 7 none).
fn accuracy_of(position_error: u8) -> Option<f32> {
    match position_error {
        e @ 0..=5 => Some(2.0 * 10f32.powi(i32::from(e))),
        _ => None,
    }
}

impl Ingest {
    /// A receiver for `site` decoding with the dialect(s) of `choice`.
    pub fn new(site: SiteId, choice: DialectChoice) -> Ingest {
        Ingest {
            site,
            choice,
            slots: [SlotState::new(choice), SlotState::new(choice)],
            aux_aliases: std::collections::HashMap::new(),
            counters: IngestCounters::default(),
        }
    }

    /// The site.
    pub fn site(&self) -> &SiteId {
        &self.site
    }

    /// What was counted so far.
    pub fn counters(&self) -> IngestCounters {
        self.counters
    }

    /// Take one DMRA / DMRG a link received ([`Aux`]); push what it completes onto `out`: a
    /// talker alias once its blocks are in, a position at once. The LC octets are read as the
    /// embedded LC of the same FLCO would be (FID 0), in the site's dialect for GPS.
    pub fn aux(&mut self, a: &Aux, out: &mut Vec<Input>) {
        let Some(radio) = radio(a.source) else {
            self.counters.parse += 1;
            return;
        };
        let (flco, data) = match a.kind {
            AuxKind::TalkerAlias { block, data } if block <= 3 => {
                (FLCO_TALKER_ALIAS_HEADER + block, data)
            }
            AuxKind::Gps { data } => (FLCO_GPS_INFO, data),
            AuxKind::TalkerAlias { .. } => {
                self.counters.parse += 1;
                return;
            }
        };
        let mut lc = [0u8; 9];
        lc[0] = flco;
        lc[2..].copy_from_slice(&data);
        let dialect = self.slots[0].dialect;
        let Ok(lc) = FullLc::parse9_in(&lc, dialect) else {
            self.counters.parse += 1;
            return;
        };
        let event = match lc.body {
            LcBody::GpsInfo(g) => AirEvent::Position {
                radio,
                position: Position {
                    latitude: g.latitude_deg,
                    longitude: g.longitude_deg,
                    accuracy_m: accuracy_of(g.position_error),
                    speed_kmh: None,
                    heading_deg: None,
                    fix_time: None,
                    source: PositionSource::EmbeddedLc,
                    altitude_m: None,
                },
            },
            _ => {
                if !self.aux_aliases.contains_key(&a.source)
                    && self.aux_aliases.len() >= MAX_AUX_ALIASES
                {
                    self.aux_aliases.clear();
                }
                let asm = self.aux_aliases.entry(a.source).or_default();
                let Some(alias) = asm.feed(&lc) else {
                    return;
                };
                self.aux_aliases.remove(&a.source);
                AirEvent::TalkerAlias { radio, alias }
            }
        };
        self.counters.inputs += 1;
        out.push(Input::Air(AirInput {
            site: self.site.clone(),
            // DMRA / DMRG name no slot; the site's first is recorded.
            slot: Slot::One,
            rssi_dbm: None,
            event,
        }));
    }

    /// Take one received burst; push the inputs it completes onto `out`.
    pub fn feed(&mut self, r: &Received, out: &mut Vec<Input>) {
        self.counters.bursts += 1;
        let decoded = match decode_burst(&r.burst, self.choice) {
            Ok(d) => d,
            Err(e) => {
                let c = &mut self.counters;
                match e.stage {
                    Stage::Sync => c.sync += 1,
                    Stage::SlotType => c.slot_type += 1,
                    Stage::Fec => c.fec += 1,
                    Stage::Crc => c.crc += 1,
                    Stage::Parse => c.parse += 1,
                }
                return;
            }
        };
        self.counters.bits_corrected += decoded.fec_corrected as u64;
        let mut events = Vec::new();
        self.events(r.slot, &decoded, &mut events);
        if events.is_empty() && matches!(decoded.pdu, Pdu::Csbk(_) | Pdu::Other { .. }) {
            self.counters.unknown_pdu += 1;
        }
        for event in events {
            self.counters.inputs += 1;
            out.push(Input::Air(AirInput {
                site: self.site.clone(),
                slot: r.slot,
                rssi_dbm: r.rssi_dbm,
                event,
            }));
        }
    }

    fn events(&mut self, slot: Slot, d: &DecodedBurst, out: &mut Vec<AirEvent>) {
        let st = &mut self.slots[usize::from(slot == Slot::Two)];
        if let Some(dialect) = d.dialect {
            st.set_dialect(dialect);
        }
        match d.pdu {
            Pdu::Csbk(c) => csbk_events(&c, out),
            Pdu::MbcHeader(block) => {
                if st.mbc.feed_header(&block).is_err() {
                    self.counters.mbc_errors += 1;
                }
            }
            Pdu::MbcContinuation(block) => match st.mbc.feed_continuation(&block) {
                // the header carries the grant's addresses; the channel is not needed here
                Ok(Some((mbc, _))) => csbk_events(&mbc.header, out),
                Ok(None) => {}
                Err(_) => self.counters.mbc_errors += 1,
            },
            Pdu::FullLc(lc) => {
                st.embedded.reset();
                match lc.kind {
                    LcKind::Header => {
                        st.alias.reset();
                        st.alarmed = false;
                        voice_lc(st, &lc.lc, true, out);
                    }
                    LcKind::Terminator => {
                        if let Some((source, target)) = lc_call(&lc.lc) {
                            out.push(AirEvent::VoiceTerminator { source, target });
                        }
                        st.call = None;
                        st.alarmed = false;
                        st.alias.reset();
                    }
                }
            }
            Pdu::Voice { emb, fragment } => {
                let Some(emb) = emb else { return };
                // by value, so this holds whether `embedded` keeps its own LCSS type or
                // re-uses the burst's
                let lcss = Lcss::from_bits(emb.lcss.bits());
                if let Some(lc) = st.embedded.feed(lcss, fragment) {
                    embedded_lc(st, &lc, out);
                }
            }
            Pdu::DataHeader { block, .. } => {
                let r = st.data.feed(BlockKind::Header, &block);
                self.data_result(r, out);
            }
            Pdu::DataBlock { rate, octets } => {
                let r = st
                    .data
                    .feed(BlockKind::Data(rate), &octets[..rate.block_len()]);
                self.data_result(r, out);
            }
            Pdu::PiHeader(_) | Pdu::Idle | Pdu::Other { .. } | Pdu::Reserved => {}
        }
    }

    fn data_result(&mut self, r: crate::wire::Result<Option<DataPdu>>, out: &mut Vec<AirEvent>) {
        match r {
            Ok(Some(pdu)) => data_events(&pdu, out),
            Ok(None) => {}
            Err(_) => self.counters.data_errors += 1,
        }
    }
}

fn push_answer(
    out: &mut Vec<AirEvent>,
    radio_id: u32,
    service: Option<Service>,
    a: Option<Answer>,
) {
    if let (Some(radio), Some(answer)) = (radio(radio_id), a) {
        out.push(AirEvent::Answer {
            radio,
            service,
            answer,
        });
    }
}

fn csbk_events(c: &Csbk, out: &mut Vec<AirEvent>) {
    match c.body {
        CsbkBody::CAckd(a) if a.reason.0 == REASON_REGISTRATION_ACCEPTED => {
            out.extend(radio(a.target).map(|radio| AirEvent::Registered { radio }));
        }
        CsbkBody::CRand(r) if r.service_kind == ServiceKind::RegistrationAuthenticationCheck => {
            let Some(radio) = radio(r.source) else { return };
            if r.service_options & RAND_REGISTER_OPTION != 0 {
                // the registration itself is accepted by C_ACKD 0x62; this names the group
                if let Ok(talkgroup) = TalkgroupId::new(r.target)
                    && r.target != 0
                    && r.target != REGI
                {
                    out.push(AirEvent::Affiliated { radio, talkgroup });
                }
            } else {
                out.push(AirEvent::Deregistered { radio });
            }
        }
        CsbkBody::CAcku(a) => {
            push_answer(
                out,
                a.source,
                service_of_identity(a.target),
                answer_of(a.reason),
            );
        }
        CsbkBody::NackRsp(n) => {
            // a refusal, whatever the reason's top bits say
            let service = service_of_identity(n.target);
            let answer = Some(Answer::Refused(Refusal { code: n.reason.0 }));
            push_answer(out, n.source, service, answer);
        }
        CsbkBody::TvGrant(g) | CsbkBody::BtvGrant(g) | CsbkBody::PvGrant(g) => {
            let group = !matches!(c.body, CsbkBody::PvGrant(_));
            if let (Some(source), Some(target)) = (radio(g.source), addressee(g.target, group)) {
                out.push(AirEvent::VoiceGrant {
                    source,
                    target,
                    emergency: g.emergency,
                });
                if g.emergency {
                    out.push(AirEvent::EmergencyAlarm {
                        radio: source,
                        talkgroup: group.then(|| TalkgroupId::new(g.target).ok()).flatten(),
                    });
                }
            }
        }
        CsbkBody::PClear(cl) => {
            out.extend(
                addressee(cl.target, cl.group).map(|target| AirEvent::CallCleared { target }),
            );
        }
        CsbkBody::PMaint(m) if m.kind == 0 => {
            // P_MAINT carries no G/I: the target is taken as a talkgroup (the usual case).
            out.extend(addressee(m.target, true).map(|target| AirEvent::CallCleared { target }));
        }
        CsbkBody::DmraEmergency(e) => {
            if let Some(radio) = radio(e.source) {
                out.push(AirEvent::EmergencyAlarm {
                    radio,
                    talkgroup: TalkgroupId::new(e.target).ok().filter(|_| e.target != 0),
                });
            }
        }
        CsbkBody::HytAlarm(a) | CsbkBody::PdtAlarm(a) => {
            out.extend(radio(a.source).map(|radio| AirEvent::EmergencyAlarm {
                radio,
                talkgroup: None,
            }));
        }
        CsbkBody::DmraCallAlertAck(a) => {
            push_answer(
                out,
                a.source,
                Some(Service::CallAlert),
                Some(Answer::Accepted),
            );
        }
        CsbkBody::DmraRadioCheck(rc) if !rc.is_request() => {
            push_answer(
                out,
                rc.source,
                Some(Service::RadioCheck),
                Some(Answer::Accepted),
            );
        }
        CsbkBody::HytSupsAns(s) | CsbkBody::PdtSupsAns(s) => {
            let (service, answer) = match s.sso {
                Sso::CallAlert => (Some(Service::CallAlert), Answer::Accepted),
                Sso::RadioDisable => (Some(Service::Stun), Answer::Accepted),
                Sso::RadioEnable => (Some(Service::Revive), Answer::Accepted),
                // our own emergency acknowledgement (SSO 0x0F) heard back: not an answer
                Sso::DigitalAlarm => return,
                other => (
                    None,
                    Answer::Refused(Refusal {
                        code: u8::from(other),
                    }),
                ),
            };
            push_answer(out, s.source, service, Some(answer));
        }
        CsbkBody::Raw { data }
            if !c.protect && (c.fid, c.opcode) == (FID_HYTERA, HYTERA_DMR_SUPS_OPCODE) =>
        {
            // Hytera DMR-mode SUPS ack: SSO | reserved | target | source (air-commands.md §4)
            let source = u32::from_be_bytes([0, data[5], data[6], data[7]]);
            let service = match Sso::from(data[0]) {
                Sso::DmrRadioDisableAck => Service::Stun,
                Sso::DmrRadioEnableAck => Service::Revive,
                _ => return,
            };
            push_answer(out, source, Some(service), Some(Answer::Accepted));
        }
        _ => {}
    }
}

/// (source, target) of a voice LC.
fn lc_call(lc: &FullLc) -> Option<(RadioId, Addressee)> {
    match lc.body {
        LcBody::GroupVoice { group, source, .. } => Some((radio(source)?, addressee(group, true)?)),
        LcBody::UnitToUnitVoice { target, source, .. } => {
            Some((radio(source)?, addressee(target, false)?))
        }
        _ => None,
    }
}

fn voice_lc(st: &mut SlotState, lc: &FullLc, from_header: bool, out: &mut Vec<AirEvent>) {
    let (
        Some((source, target)),
        LcBody::GroupVoice {
            service_options, ..
        }
        | LcBody::UnitToUnitVoice {
            service_options, ..
        },
    ) = (lc_call(lc), lc.body)
    else {
        return;
    };
    let same = st.call == Some((source, target));
    st.call = Some((source, target));
    if from_header || !same {
        out.push(AirEvent::VoiceLc {
            source,
            target,
            emergency: service_options.emergency,
            privacy: service_options.privacy,
        });
    }
    if service_options.emergency && !st.alarmed {
        st.alarmed = true;
        out.push(AirEvent::EmergencyAlarm {
            radio: source,
            talkgroup: match target {
                Addressee::Talkgroup(g) => Some(g),
                Addressee::Radio(_) => None,
            },
        });
    }
}

fn embedded_lc(st: &mut SlotState, lc: &FullLc, out: &mut Vec<AirEvent>) {
    match lc.body {
        LcBody::GroupVoice { .. } | LcBody::UnitToUnitVoice { .. } => voice_lc(st, lc, false, out),
        LcBody::TalkerAliasHeader { .. } | LcBody::TalkerAliasBlock { .. } => {
            if let (Some(alias), Some((radio, _))) = (st.alias.feed(lc), st.call) {
                out.push(AirEvent::TalkerAlias { radio, alias });
            }
        }
        LcBody::GpsInfo(g) => {
            if let Some((radio, _)) = st.call {
                out.push(AirEvent::Position {
                    radio,
                    position: Position {
                        latitude: g.latitude_deg,
                        longitude: g.longitude_deg,
                        accuracy_m: accuracy_of(g.position_error),
                        speed_kmh: None,
                        heading_deg: None,
                        altitude_m: None,
                        fix_time: None,
                        source: PositionSource::EmbeddedLc,
                    },
                });
            }
        }
        _ => {}
    }
}

fn data_events(pdu: &DataPdu, out: &mut Vec<AirEvent>) {
    let h = &pdu.header;
    let Some(source) = radio(h.source) else {
        return;
    };
    let to = addressee(h.destination, h.group);
    if let Body::Response(r) = h.body {
        let answer = match r.response() {
            Response::Ack => Answer::Accepted,
            Response::Nack(_) => Answer::Refused(Refusal {
                code: DATA_NACK_BASE | (r.kind & 0x07),
            }),
            Response::Sack | Response::Unknown { .. } => return,
        };
        out.push(AirEvent::Answer {
            radio: source,
            service: None,
            answer,
        });
        return;
    }
    match sdata::decode(pdu) {
        Message::Text { text, .. } => {
            if let Some(to) = to {
                out.push(AirEvent::Text { source, to, text });
            }
        }
        Message::Udt {
            text: Some(text), ..
        } => {
            if let Some(to) = to {
                out.push(AirEvent::Text { source, to, text });
            }
        }
        Message::Status { status, .. } => {
            if let Some(to) = to {
                out.push(AirEvent::Status { source, to, status });
            }
        }
        Message::Location(loc) => match loc.source {
            LocationSource::PdtGps if !loc.valid => {
                // result field, octets 12–13 of the answer (air-commands.md §7)
                let code = pdu.payload.get(13).copied().unwrap_or(0xFF);
                out.push(AirEvent::Answer {
                    radio: source,
                    service: Some(Service::Location),
                    answer: Answer::Refused(Refusal { code }),
                });
            }
            s => {
                let (source_kind, speed_kmh) = match s {
                    // LRRP speed-hor: m/s (lrrp.rs, unverified) → km/h
                    LocationSource::Lrrp => (PositionSource::Lrrp, loc.speed.map(|v| v * 3.6)),
                    // NMEA: knots → km/h
                    LocationSource::Nmea => (PositionSource::UdtNmea, loc.speed.map(|v| v * 1.852)),
                    LocationSource::PdtGps => (PositionSource::HyteraLp, None),
                };
                out.push(AirEvent::Position {
                    radio: source,
                    position: Position {
                        latitude: loc.latitude,
                        longitude: loc.longitude,
                        accuracy_m: loc.radius.map(|r| r as f32),
                        speed_kmh: speed_kmh.map(|v| v as f32),
                        heading_deg: loc.course.map(|c| c.rem_euclid(360.0) as u16),
                        altitude_m: None,
                        fix_time: None,
                        source: source_kind,
                    },
                });
            }
        },
        Message::TextAck { .. } => out.push(AirEvent::Answer {
            radio: source,
            service: Some(Service::Text),
            answer: Answer::Accepted,
        }),
        Message::Registration {
            registered: true, ..
        } => out.push(AirEvent::Registered { radio: source }),
        Message::Registration {
            registered: false, ..
        } => out.push(AirEvent::Deregistered { radio: source }),
        Message::Binary {
            sap,
            source_port,
            destination_port,
            data,
        } => {
            // an LRRP report without a position: a refusal when its result is not success
            if let Ok(l) = Lrrp::parse(&data)
                && !l.doc.is_request()
                && let Some(result) = l.result
                && result != lrrp::RESULT_SUCCESS
            {
                out.push(AirEvent::Answer {
                    radio: source,
                    service: Some(Service::Location),
                    answer: Answer::Refused(Refusal {
                        code: result.min(0xFF) as u8,
                    }),
                });
                return;
            }
            // Location requests are what a dispatcher sends to radios (the gateway's own, or
            // another console's): not data from a radio.
            let lp_request = sap == 3
                && destination_port == Some(u16::from(sdata::PORT_ID_HYTERA_LP))
                && data.get(1..3) == Some(&sdata::LP_REQUEST.to_be_bytes()[..]);
            let lrrp_port = [source_port, destination_port].contains(&Some(sdata::LRRP_PORT));
            let lrrp_request = lrrp_port && Lrrp::parse(&data).is_ok_and(|l| l.doc.is_request());
            if lp_request || lrrp_request {
                return;
            }
            out.push(received_data(
                source,
                h,
                (sap, source_port, destination_port),
                data,
            ));
        }
        Message::Udt { format, data, .. } => {
            // UDT without text (binary, manufacturer formats): kept raw; the format rides in
            // place of the SAP, which UDT does not carry.
            out.push(received_data(source, h, (format, None, None), data));
        }
    }
}

/// Packet data nothing decoded, as the core's [`AirEvent::DataReceived`].
fn received_data(
    source: RadioId,
    h: &crate::wire::data_header::DataHeader,
    (sap, source_port, destination_port): (u8, Option<u16>, Option<u16>),
    mut payload: Vec<u8>,
) -> AirEvent {
    let cut = payload.len().saturating_sub(MAX_RECEIVED_DATA);
    payload.truncate(MAX_RECEIVED_DATA);
    AirEvent::DataReceived {
        source,
        data: ReceivedData {
            destination: h.destination,
            group: h.group,
            sap,
            source_port,
            destination_port,
            payload,
            truncated: u32::try_from(cut).unwrap_or(u32::MAX),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::egress::{SDMI, STUNI};
    use crate::wire::burst::{self, DataType, Emb, SyncPattern};
    use crate::wire::csbk::{Ack, DmraAddressed, NackRsp, PdtAlarm, RadioCheck, Rand};
    use crate::wire::data::{self, Rate};
    use crate::wire::data_header::{DataHeader, Dpf, PacketInfo, ResponseInfo};
    use crate::wire::embedded;
    use crate::wire::lc::{GpsInfo, ServiceOptions};
    use crate::wire::pipeline::{bptc_burst, data_block_burst};
    use std::time::Instant;

    const RADIO: u32 = 0x10_0065;
    const GROUP: u32 = 0x10_0001;
    const GW: u32 = 0x00_2A01;

    fn rx(burst: [u8; 33], slot: Slot) -> Received {
        Received {
            site: "s1".into(),
            slot,
            burst,
            rssi_dbm: Some(-70),
            ber_percent: None,
            meta: None,
            at: Instant::now(),
        }
    }

    fn csbk(c: Csbk, d: Dialect) -> [u8; 33] {
        bptc_burst(SyncPattern::BsData, 1, DataType::Csbk, &c.to_bytes(d))
    }

    fn events(ing: &mut Ingest, bursts: &[[u8; 33]], slot: Slot) -> Vec<AirEvent> {
        let mut out = Vec::new();
        for b in bursts {
            ing.feed(&rx(*b, slot), &mut out);
        }
        out.into_iter()
            .map(|i| match i {
                Input::Air(a) => {
                    assert_eq!(
                        (a.site.as_str(), a.slot, a.rssi_dbm),
                        ("s1", slot, Some(-70))
                    );
                    a.event
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn r(id: u32) -> RadioId {
        RadioId::new(id).unwrap()
    }

    fn g(id: u32) -> TalkgroupId {
        TalkgroupId::new(id).unwrap()
    }

    fn answer(radio: u32, service: Option<Service>, answer: Answer) -> AirEvent {
        AirEvent::Answer {
            radio: r(radio),
            service,
            answer,
        }
    }

    #[test]
    fn registration_and_affiliation() {
        for d in [Dialect::Dmr, Dialect::Pdt] {
            let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Auto);
            let rand = Csbk::new(CsbkBody::CRand(Rand {
                service_options: RAND_REGISTER_OPTION,
                proxy: false,
                service_extras: 0,
                service_kind: ServiceKind::RegistrationAuthenticationCheck,
                target: GROUP,
                source: RADIO,
            }))
            .unwrap();
            let ack = Csbk::ackd(RADIO, REGI, ReasonCode(REASON_REGISTRATION_ACCEPTED));
            let mut dereg = rand;
            if let CsbkBody::CRand(x) = &mut dereg.body {
                x.service_options = 0;
            }
            let got = events(
                &mut ing,
                &[csbk(rand, d), csbk(ack, d), csbk(dereg, d)],
                Slot::One,
            );
            assert_eq!(
                got,
                vec![
                    AirEvent::Affiliated {
                        radio: r(RADIO),
                        talkgroup: g(GROUP)
                    },
                    AirEvent::Registered { radio: r(RADIO) },
                    AirEvent::Deregistered { radio: r(RADIO) },
                ]
            );
        }
    }

    fn group_lc(emergency: bool) -> FullLc {
        FullLc {
            protect: false,
            reserved: false,
            flco: 0,
            fid: 0,
            body: LcBody::GroupVoice {
                service_options: ServiceOptions {
                    emergency,
                    ..ServiceOptions::default()
                },
                group: GROUP,
                source: RADIO,
            },
        }
    }

    fn superframe(lc: &FullLc) -> Vec<[u8; 33]> {
        let voice = [0x5Au8; 27];
        let mut v = vec![burst::voice_sync_burst(SyncPattern::BsVoice, &voice)];
        for (lcss, f) in embedded::fragments(lc)
            .into_iter()
            .chain([(Lcss::from_bits(0), 0)])
        {
            let emb = Emb {
                colour_code: 1,
                pi: false,
                lcss: burst::Lcss::from_bits(lcss.bits()),
            };
            v.push(burst::voice_embedded_burst(emb, f, &voice));
        }
        v
    }

    #[test]
    fn group_call_header_embedded_lc_alias_gps_terminator() {
        let d = Dialect::Pdt;
        let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Pdt);
        let call = group_lc(true);
        let mut block = [0u8; 12];
        call.emit_full(LcKind::Header, d, &mut block);
        let mut bursts = vec![bptc_burst(
            SyncPattern::BsData,
            1,
            DataType::VoiceLcHeader,
            &block,
        )];
        bursts.extend(superframe(&call));
        let gps = FullLc {
            protect: false,
            reserved: false,
            flco: 8,
            fid: 0,
            body: LcBody::GpsInfo(GpsInfo::from_degrees(113.2644, 23.1291, 1, d)),
        };
        bursts.extend(superframe(&gps));
        call.emit_full(LcKind::Terminator, d, &mut block);
        bursts.push(bptc_burst(
            SyncPattern::BsData,
            1,
            DataType::TerminatorWithLc,
            &block,
        ));
        let got = events(&mut ing, &bursts, Slot::Two);
        let target = Addressee::Talkgroup(g(GROUP));
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(
            got[0],
            AirEvent::VoiceLc {
                source: r(RADIO),
                target,
                emergency: true,
                privacy: false
            }
        );
        assert_eq!(
            got[1],
            AirEvent::EmergencyAlarm {
                radio: r(RADIO),
                talkgroup: Some(g(GROUP))
            }
        );
        let AirEvent::Position { radio, position } = &got[2] else {
            panic!("{:?}", got[2])
        };
        assert_eq!(*radio, r(RADIO));
        assert!((position.latitude - 23.1291).abs() < 1e-4);
        assert!((position.longitude - 113.2644).abs() < 1e-4);
        assert_eq!(position.accuracy_m, Some(20.0));
        assert_eq!(position.source, PositionSource::EmbeddedLc);
        assert_eq!(
            got[3],
            AirEvent::VoiceTerminator {
                source: r(RADIO),
                target
            }
        );
        // late entry: embedded LC alone starts the call
        let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Pdt);
        let got = events(&mut ing, &superframe(&group_lc(false)), Slot::Two);
        assert_eq!(
            got,
            vec![AirEvent::VoiceLc {
                source: r(RADIO),
                target,
                emergency: false,
                privacy: false
            }]
        );
    }

    fn packet(
        d: Dialect,
        dst: u32,
        src: u32,
        sap: u8,
        payload: &[u8],
        rate: Rate,
    ) -> Vec<[u8; 33]> {
        let h = DataHeader {
            group: false,
            response_requested: false,
            dpf: Dpf::Unconfirmed,
            sap,
            destination: dst,
            source: src,
            body: Body::Packet(PacketInfo {
                header_compression: false,
                pad_octets: 0,
                full_message: true,
                blocks_to_follow: 0,
                resync: false,
                send_seq: 0,
                fsn: 8,
            }),
        };
        let out = data::emit_packet(h, payload, rate, d).unwrap();
        let mut v = vec![bptc_burst(
            SyncPattern::BsData,
            1,
            DataType::DataHeader,
            &out.header_block,
        )];
        for b in &out.blocks {
            v.push(data_block_burst(SyncPattern::BsData, 1, out.rate, b).unwrap());
        }
        v
    }

    #[test]
    fn chinese_text_and_status_and_positions_from_data() {
        for d in [Dialect::Dmr, Dialect::Pdt] {
            let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Auto);
            let mut bursts = packet(
                d,
                GW,
                RADIO,
                3,
                &sdata::pdt_sms_payload("山体滑坡预警"),
                Rate::Half,
            );
            let st = sdata::status_header(GW, RADIO, false, 513, 0, 0);
            let mut block = [0u8; 12];
            st.emit(d, &mut block);
            bursts.push(bptc_burst(
                SyncPattern::BsData,
                1,
                DataType::DataHeader,
                &block,
            ));
            let report = sdata::pdt_gps_report(7, 0, 23.5, 113.5);
            bursts.extend(packet(d, GW, RADIO, 3, &report, Rate::ThreeQuarter));
            let lrrp = Lrrp::report(
                lrrp::DocType::ImmediateLocationReport,
                &[0, 0, 0, 7],
                Some(lrrp::Position {
                    latitude: 12.5,
                    longitude: 24.25,
                    radius: Some(10.0),
                }),
                None,
                Some(2.0),
            )
            .to_bytes();
            let ip = sdata::ipv4_udp(sdata::radio_ip(RADIO), [10, 0, 0, 1], 4001, 4001, &lrrp);
            bursts.extend(packet(d, GW, RADIO, 4, &ip, Rate::Half));
            let got = events(&mut ing, &bursts, Slot::One);
            assert_eq!(got.len(), 4, "{got:?}");
            assert_eq!(
                got[0],
                AirEvent::Text {
                    source: r(RADIO),
                    to: Addressee::Radio(r(GW)),
                    text: "山体滑坡预警".into()
                }
            );
            assert_eq!(
                got[1],
                AirEvent::Status {
                    source: r(RADIO),
                    to: Addressee::Radio(r(GW)),
                    status: 513
                }
            );
            let AirEvent::Position { position: p, .. } = &got[2] else {
                panic!()
            };
            assert_eq!(p.source, PositionSource::HyteraLp);
            assert!((p.latitude - 23.5).abs() < 1e-4 && (p.longitude - 113.5).abs() < 1e-4);
            let AirEvent::Position { position: p, .. } = &got[3] else {
                panic!()
            };
            assert_eq!(p.source, PositionSource::Lrrp);
            assert!((p.latitude - 12.5).abs() < 1e-6 && (p.longitude - 24.25).abs() < 1e-6);
            assert_eq!(p.speed_kmh, Some(7.2));
            assert_eq!(ing.counters().data_errors, 0);
        }
    }

    #[test]
    fn every_answer_kind() {
        let d = Dialect::Dmr;
        let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Auto);
        let ack = |reason: u8, target: u32| {
            Csbk::new(CsbkBody::CAcku(Ack {
                response_info: 0,
                reason: ReasonCode(reason),
                reserved: false,
                target,
                source: RADIO,
            }))
            .unwrap()
        };
        let nack = Csbk::new(CsbkBody::NackRsp(NackRsp {
            additional_info: true,
            ms_sourced: true,
            service_type: 0x1C,
            reason: ReasonCode(0x13),
            source: RADIO,
            target: TSI,
        }))
        .unwrap();
        let call_alert_ack = Csbk::new(CsbkBody::DmraCallAlertAck(DmraAddressed {
            reserved: 0,
            target: GW,
            source: RADIO,
        }))
        .unwrap();
        let radio_check_ack = Csbk::new(CsbkBody::DmraRadioCheck(RadioCheck {
            reserved: 0,
            function: 0,
            target: GW,
            source: RADIO,
        }))
        .unwrap();
        let response = |class: u8, kind: u8| {
            let h = DataHeader {
                group: false,
                response_requested: false,
                dpf: Dpf::Response,
                sap: 0,
                destination: GW,
                source: RADIO,
                body: Body::Response(ResponseInfo {
                    blocks_to_follow: 0,
                    class,
                    kind,
                    status: 0,
                }),
            };
            let mut b = [0u8; 12];
            h.emit(d, &mut b);
            bptc_burst(SyncPattern::BsData, 1, DataType::DataHeader, &b)
        };
        let bursts = vec![
            csbk(ack(0x44, TSI), d),
            csbk(ack(0x44, STUNI), d),
            csbk(ack(0x44, KILLI), d),
            csbk(ack(0x25, SDMI), d),
            csbk(ack(0xA0, TSI), d), // queued: not passed on
            csbk(nack, d),
            csbk(call_alert_ack, d),
            csbk(radio_check_ack, d),
            response(0, 1),
            response(1, 4),
        ];
        let got = events(&mut ing, &bursts, Slot::One);
        let refused = |code| Answer::Refused(Refusal { code });
        assert_eq!(
            got,
            vec![
                answer(RADIO, Some(Service::RadioCheck), Answer::Accepted),
                answer(RADIO, None, Answer::Accepted),
                answer(RADIO, Some(Service::Kill), Answer::Accepted),
                answer(RADIO, None, refused(0x25)),
                answer(RADIO, Some(Service::RadioCheck), refused(0x13)),
                answer(RADIO, Some(Service::CallAlert), Answer::Accepted),
                answer(RADIO, Some(Service::RadioCheck), Answer::Accepted),
                answer(RADIO, None, Answer::Accepted),
                answer(RADIO, None, refused(0x84)),
            ]
        );

        // PDT: SUPS answers echo the SSO; another SSO is a refusal; alarms raise
        let p = Dialect::Pdt;
        let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Pdt);
        let alarm = Csbk::new(CsbkBody::HytAlarm(PdtAlarm {
            sequence: 3,
            reserved: 0,
            target: GW,
            source: RADIO,
        }))
        .unwrap();
        let bursts = vec![
            csbk(Csbk::pdt_sups_answer(Sso::CallAlert, GW, RADIO), p),
            csbk(Csbk::pdt_sups_answer(Sso::RadioDisable, GW, RADIO), p),
            csbk(Csbk::pdt_sups_answer(Sso::RadioEnable, GW, RADIO), p),
            csbk(Csbk::pdt_sups_answer(Sso::from(0x21), GW, RADIO), p),
            csbk(Csbk::pdt_sups_answer(Sso::DigitalAlarm, RADIO, GW), p),
            csbk(alarm, p),
        ];
        let got = events(&mut ing, &bursts, Slot::One);
        assert_eq!(
            got,
            vec![
                answer(RADIO, Some(Service::CallAlert), Answer::Accepted),
                answer(RADIO, Some(Service::Stun), Answer::Accepted),
                answer(RADIO, Some(Service::Revive), Answer::Accepted),
                answer(RADIO, None, refused(0x21)),
                AirEvent::EmergencyAlarm {
                    radio: r(RADIO),
                    talkgroup: None
                },
            ]
        );
        // PDT GPS answer with a non-zero result, and an LRRP report with a failing result
        let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Auto);
        let mut bursts = packet(
            p,
            GW,
            RADIO,
            3,
            &sdata::pdt_gps_report(9, 0x10, 1.0, 2.0),
            Rate::Half,
        );
        let mut l = Lrrp::report(
            lrrp::DocType::ImmediateLocationReport,
            &[9],
            None,
            None,
            None,
        );
        l.result = Some(lrrp::RESULT_NO_GPS);
        let ip = sdata::ipv4_udp(
            sdata::radio_ip(RADIO),
            [10, 0, 0, 1],
            4001,
            4001,
            &l.to_bytes(),
        );
        bursts.extend(packet(Dialect::Dmr, GW, RADIO, 4, &ip, Rate::Half));
        let got = events(&mut ing, &bursts, Slot::One);
        assert_eq!(
            got,
            vec![
                answer(RADIO, Some(Service::Location), refused(0x10)),
                answer(RADIO, Some(Service::Location), refused(0x10)),
            ]
        );
    }

    #[test]
    fn failures_are_counted_by_stage() {
        let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Pdt);
        let good = csbk(Csbk::ackd(RADIO, REGI, ReasonCode(0x62)), Dialect::Dmr);
        let mut out = Vec::new();
        ing.feed(&rx(good, Slot::One), &mut out); // DMR mask on a PDT-only site
        let mut slot_type = good;
        burst::set_slot_type_bits(&mut slot_type, burst::slot_type_bits(&good) ^ 0xF);
        ing.feed(&rx(slot_type, Slot::One), &mut out);
        let aloha = csbk(Csbk::preamble(1, 2, false, false, 3), Dialect::Pdt);
        ing.feed(&rx(aloha, Slot::One), &mut out);
        let c = ing.counters();
        assert!(out.is_empty());
        assert_eq!((c.bursts, c.crc, c.slot_type, c.unknown_pdu), (3, 1, 1, 1));
    }

    fn udp(dst: u32, src: u32, sp: u16, dp: u16, payload: &[u8]) -> Vec<[u8; 33]> {
        let ip = sdata::ipv4_udp(
            sdata::cai_ip(src, false),
            sdata::cai_ip(dst, false),
            sp,
            dp,
            payload,
        );
        packet(Dialect::Dmr, dst, src, 4, &ip, Rate::Half)
    }

    #[test]
    fn tms_ars_and_port_5016_become_text_answers_and_registrations() {
        let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Auto);
        // ok-dmrlib test_tms.py `test_message`: "ahoj", sequence 85, one address octet.
        let tms = hex::decode("000de001019544610068006f006a00").unwrap();
        let mut bursts = udp(GW, RADIO, sdata::TMS_PORT, sdata::TMS_PORT, &tms);
        // the gateway's own TMS form read back
        bursts.extend(udp(
            GW,
            RADIO,
            sdata::TMS_PORT,
            sdata::TMS_PORT,
            &sdata::tms_text("山体滑坡", 3, true),
        ));
        // ok-dmrlib test_tms.py `test_ack_message`: TMS ack of sequence 53
        bursts.extend(udp(
            GW,
            RADIO,
            sdata::TMS_PORT,
            sdata::TMS_PORT,
            &hex::decode("00049f009520").unwrap(),
        ));
        // ok-dmrlib test_ars.py: device registration "11", then deregistration
        bursts.extend(udp(
            GW,
            RADIO,
            sdata::ARS_PORT,
            sdata::ARS_PORT,
            &hex::decode("0007f0200231310000").unwrap(),
        ));
        bursts.extend(udp(
            GW,
            RADIO,
            sdata::ARS_PORT,
            sdata::ARS_PORT,
            &hex::decode("000131").unwrap(),
        ));
        let got = events(&mut ing, &bursts, Slot::One);
        let to = Addressee::Radio(r(GW));
        assert_eq!(
            got,
            vec![
                AirEvent::Text {
                    source: r(RADIO),
                    to,
                    text: "ahoj".into()
                },
                AirEvent::Text {
                    source: r(RADIO),
                    to,
                    text: "山体滑坡".into()
                },
                AirEvent::Answer {
                    radio: r(RADIO),
                    service: Some(Service::Text),
                    answer: Answer::Accepted
                },
                AirEvent::Registered { radio: r(RADIO) },
                AirEvent::Deregistered { radio: r(RADIO) },
            ]
        );
    }

    #[test]
    fn an_unknown_port_is_data_received_with_its_ports_and_payload() {
        let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Auto);
        let got = events(
            &mut ing,
            &udp(GW, RADIO, 40_000, 9_999, b"\x01\x02opaque"),
            Slot::One,
        );
        assert_eq!(
            got,
            vec![AirEvent::DataReceived {
                source: r(RADIO),
                data: ReceivedData {
                    destination: GW,
                    group: false,
                    sap: 4,
                    source_port: Some(40_000),
                    destination_port: Some(9_999),
                    payload: b"\x01\x02opaque".to_vec(),
                    truncated: 0,
                },
            }]
        );
        // an ARS PDU type the gateway does not take (query response) is kept raw too
        let got = events(
            &mut ing,
            &udp(GW, RADIO, sdata::ARS_PORT, sdata::ARS_PORT, &[0, 1, 0x3F]),
            Slot::One,
        );
        assert!(
            matches!(&got[..], [AirEvent::DataReceived { data, .. }] if data.destination_port == Some(sdata::ARS_PORT)),
            "{got:?}"
        );
    }

    fn aux(source: u32, kind: AuxKind) -> Aux {
        Aux {
            site: "s1".into(),
            source,
            kind,
            at: Instant::now(),
        }
    }

    #[test]
    fn dmra_and_dmrg_become_alias_and_position() {
        let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Dmr);
        let mut out = Vec::new();
        // fixtures/homebrew_dmra_dmrg_short.hex, MMDVMHost form: header "LBG0TST" = ISO 8-bit,
        // length 6, "BG0TST" from radio 0x46313b.
        ing.aux(
            &aux(
                0x46_313b,
                AuxKind::TalkerAlias {
                    block: 0,
                    data: *b"LBG0TST",
                },
            ),
            &mut out,
        );
        ing.aux(
            &aux(
                0x46_313b,
                AuxKind::Gps {
                    data: [0x04, 0xaa, 0xaa, 0xaa, 0x2a, 0xaa, 0xaa],
                },
            ),
            &mut out,
        );
        let ev: Vec<AirEvent> = out
            .into_iter()
            .map(|i| match i {
                Input::Air(a) => a.event,
                o => panic!("{o:?}"),
            })
            .collect();
        assert_eq!(
            ev[0],
            AirEvent::TalkerAlias {
                radio: r(0x46_313b),
                alias: "BG0TST".into()
            }
        );
        let AirEvent::Position { radio, position } = &ev[1] else {
            panic!("{ev:?}")
        };
        assert_eq!(*radio, r(0x46_313b));
        assert_eq!(position.accuracy_m, Some(200.0));
        // the same octets as a GPS info LC in embedded signalling read the same
        let mut lc = [0u8; 9];
        lc[0] = 8;
        lc[2..].copy_from_slice(&[0x04, 0xaa, 0xaa, 0xaa, 0x2a, 0xaa, 0xaa]);
        let LcBody::GpsInfo(g) = FullLc::parse9(&lc).unwrap().body else {
            panic!()
        };
        assert_eq!(
            (position.latitude, position.longitude),
            (g.latitude_deg, g.longitude_deg)
        );
        assert_eq!(ev.len(), 2);
    }
}
