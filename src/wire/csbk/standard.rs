//! Bodies of the ETSI-standard (FID 0x00) CSBKs: ETSI TS 102 361-2/-4 layouts as read in
//! sdrtrunk, dmrgo, ok-dmrlib, dsd-fme and dvmhost (docs/air-interface.md §3.4 and 3.5). Positions are
//! absolute bits of the 96-bit block; every layout covers abs 16..=79, reserved bits included.

use serde::Serialize;

use super::layout::Field;
use crate::wire::bits;

open_enum! {
    /// Service kind of C_AHOY / C_RAND / C_ACKVIT (4 bits; sdrtrunk ServiceKind.java = dsd-fme,
    /// docs/air-interface.md §3.4). Code 12 is reserved and stays `Unknown(12)`.
    pub enum ServiceKind {
        IndividualVoice = 0,
        TalkgroupVoice = 1,
        IndividualPacketData = 2,
        TalkgroupPacketData = 3,
        IndividualUdtShortData = 4,
        TalkgroupUdtShortData = 5,
        UdtShortDataPolling = 6,
        StatusTransport = 7,
        CallDiversion = 8,
        CallAnswer = 9,
        FullDuplexVoice = 10,
        FullDuplexPacketData = 11,
        /// Stun, revive, kill and other supplementary services.
        SupplementaryService = 13,
        /// Registration, authentication or radio check.
        RegistrationAuthenticationCheck = 14,
        CancelCall = 15,
    }
}

open_enum! {
    /// C_ALOHA service function (2 bits, abs 29–30; ok-dmrlib via docs/air-interface.md §3.4).
    pub enum ServiceFunction {
        AllServices = 0,
        RegistrationAndPayloadGrants = 1,
        RegistrationNoGrants = 2,
        RegistrationOnly = 3,
    }
}

open_enum! {
    /// P_PROTECT kind (3 bits, abs 28–30; sdrtrunk Protect.java, dmrgo, dsd-fme).
    pub enum ProtectKind {
        DisablePtt = 0,
        EnablePtt = 1,
        IllegallyParked = 2,
        EnablePttOneMs = 3,
    }
}

open_enum! {
    /// UU_Ans_Rsp answer (8 bits, abs 24–31; ok-dmrlib, MMDVMHost).
    pub enum AnswerResponse {
        Proceed = 0x20,
        Deny = 0x21,
    }
}

open_enum! {
    /// Logical slot of a grant (abs 28): 0 = TS1, 1 = TS2.
    pub enum LogicalSlot {
        Ts1 = 0,
        Ts2 = 1,
    }
}

/// How the two top bits of a reason code classify it.
///
/// docs/air-interface.md §3.4 notes a conflict: sdrtrunk's `AcknowledgeType` enum is ordered ACK,
/// NACK, QUEUED, WAIT, but its own Reason table puts the refusals at 0x00–0x3F, the positive
/// answers at 0x40–0x7F, "queued" at 0xA0/0xAA and "wait" at 0xE0. We follow the value table,
/// which dvmhost's reason constants (`TS_DENY_RSN_*` = 0x20.., `TS_ACK_RSN_*` = 0x60..) agree
/// with: 00 = nack, 01 = ack, 10 = queued, 11 = wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonClass {
    /// Refused.
    Nack,
    /// Accepted.
    Ack,
    /// Queued.
    Queued,
    /// Wait.
    Wait,
}

/// An acknowledge / NACK reason code (8 bits), with its name and class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReasonCode(pub u8);

impl ReasonCode {
    /// The class from the two top bits (see [`ReasonClass`] for the choice made).
    pub const fn class(self) -> ReasonClass {
        match self.0 >> 6 {
            0 => ReasonClass::Nack,
            1 => ReasonClass::Ack,
            2 => ReasonClass::Queued,
            _ => ReasonClass::Wait,
        }
    }

    /// The name of the code (sdrtrunk Reason.java, dvmhost DMRDefines.h; docs/air-interface.md §3.4).
    ///
    /// ok-dmrlib names 0x21 "MS does not support this feature or service"; sdrtrunk and dvmhost
    /// name it the TS refusal "not permitted" (`TS_DENY_RSN_PERM_USER_REFUSED`): two sources
    /// against one, so the TS meaning is used.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "ms_service_not_supported",
            0x11 => "ms_line_not_supported",
            0x12 => "ms_stack_full",
            0x13 => "ms_equipment_busy",
            0x14 => "ms_refused_by_recipient",
            0x15 => "ms_custom_refusal",
            0x16 => "ms_duplex_not_supported",
            0x1F => "ms_unknown",
            0x20 => "ts_service_not_supported",
            0x21 => "ts_not_permitted",
            0x22 => "ts_temporarily_unavailable",
            0x23 => "ts_unavailable",
            0x24 => "called_radio_not_registered",
            0x25 => "called_radio_offline",
            0x26 => "call_diversion",
            0x27 => "network_congestion",
            0x28 => "network_not_ready",
            0x29 => "cannot_cancel_call",
            0x2A => "registration_refused",
            0x2B => "registration_denied",
            0x2C => "ip_connection_failed",
            0x2D => "radio_not_registered",
            0x2E => "called_party_busy",
            0x2F => "talkgroup_not_allowed",
            0x30 => "udt_crc_error",
            0x31 => "duplex_congestion",
            0x3F => "ts_unknown",
            0x44 => "ms_message_accepted",
            0x45 => "ms_callback",
            0x46 => "ms_alerting",
            0x47 => "ms_accepted_for_status_polling",
            0x48 => "ms_authentication_response",
            0x60 => "message_accepted",
            0x61 => "store_and_forward",
            0x62 => "registration_accepted",
            0x63 => "accepted_for_status_polling",
            0x64 => "authentication_response",
            0x65 => "subscription_registration_accepted",
            0xA0 => "queued_for_resource",
            0xAA => "queued_busy_radio",
            0xE0 => "wait",
            _ => return None,
        })
    }
}

impl Field for ReasonCode {
    fn from_raw(raw: u64) -> Self {
        // The reason field is 8 bits wide.
        ReasonCode(raw as u8)
    }
    fn to_raw(&self) -> u64 {
        u64::from(self.0)
    }
}

impl Serialize for ReasonCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ReasonCode", 3)?;
        st.serialize_field("code", &self.0)?;
        st.serialize_field("name", &self.name())?;
        st.serialize_field("class", &self.class())?;
        st.end()
    }
}

/// System Identity Code model (2 bits): how NET and SITE split the remaining bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemModel {
    /// NET 9 bits, SITE 3 bits.
    Tiny,
    /// NET 7 bits, SITE 5 bits.
    Small,
    /// NET 4 bits, SITE 8 bits.
    Large,
    /// NET 2 bits, SITE 10 bits.
    Huge,
}

impl SystemModel {
    /// Width of the NET field (the SITE field takes 12 minus this).
    pub const fn net_bits(self) -> u32 {
        match self {
            SystemModel::Tiny => 9,
            SystemModel::Small => 7,
            SystemModel::Large => 4,
            SystemModel::Huge => 2,
        }
    }
}

/// The 16-bit System Identity Code: model(2) | NET | SITE | PAR(2) (sdrtrunk
/// SystemIdentityCode.java, dsd-fme `dmr_decode_syscode`; docs/air-interface.md §3.4).
///
/// `raw` is what goes on air; the other fields are decoded from it. NET and SITE are the raw
/// values (dsd-fme prints them plus one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SystemIdentityCode {
    /// The 16 bits as received.
    pub raw: u16,
    /// Model, the two top bits.
    pub model: SystemModel,
    /// Network identity.
    pub net: u16,
    /// Site identity.
    pub site: u16,
    /// PAR (2 bits): 1 = category A, 2 = category B, 3 = both, 0 reserved.
    pub par: u8,
}

impl SystemIdentityCode {
    /// Decode a 16-bit code.
    pub const fn from_raw(raw: u16) -> Self {
        let model = match raw >> 14 {
            0 => SystemModel::Tiny,
            1 => SystemModel::Small,
            2 => SystemModel::Large,
            _ => SystemModel::Huge,
        };
        let net_bits = model.net_bits();
        let site_bits = 12 - net_bits;
        let twelve = (raw >> 2) & 0x0FFF;
        SystemIdentityCode {
            raw,
            model,
            net: twelve >> site_bits,
            site: twelve & ((1 << site_bits) - 1),
            par: (raw & 3) as u8,
        }
    }

    /// Build a code; NET, SITE and PAR are cut to their widths.
    pub const fn new(model: SystemModel, net: u16, site: u16, par: u8) -> Self {
        let net_bits = model.net_bits();
        let site_bits = 12 - net_bits;
        let model_bits = match model {
            SystemModel::Tiny => 0u16,
            SystemModel::Small => 1,
            SystemModel::Large => 2,
            SystemModel::Huge => 3,
        };
        let twelve = ((net & ((1 << net_bits) - 1)) << site_bits) | (site & ((1 << site_bits) - 1));
        Self::from_raw((model_bits << 14) | (twelve << 2) | (par as u16 & 3))
    }
}

impl Field for SystemIdentityCode {
    fn from_raw(raw: u64) -> Self {
        // The field is 16 bits wide.
        SystemIdentityCode::from_raw(raw as u16)
    }
    fn to_raw(&self) -> u64 {
        u64::from(self.raw)
    }
}

layout! {
    /// C_ALOHA (0x19): TSCC beacon and random-access parameters (docs/air-interface.md §3.4).
    ///
    /// Abs 17 is TSCCAS support per ok-dmrlib and dmrgo, reserved per sdrtrunk (§9.4); it is
    /// decoded as ok-dmrlib does and kept either way.
    pub struct Aloha {
        #[serde(skip)]
        reserved: bool = [16, 1],
        /// TSCC all-site support (abs 17).
        tsccas: bool = [17, 1],
        /// Site timeslot synchronisation.
        site_ts_sync: bool = [18, 1],
        /// Document version (3 bits).
        version: u8 = [19, 3],
        /// Site timing: false aligned, true offset.
        offset_timing: bool = [22, 1],
        /// Active network connection.
        active_connection: bool = [23, 1],
        /// MS ID mask for random access (5 bits).
        mask: u8 = [24, 5],
        /// Service function.
        service_function: ServiceFunction = [29, 2],
        /// NRand_Wait (4 bits).
        nrand_wait: u8 = [31, 4],
        /// Registration required.
        reg_required: bool = [35, 1],
        /// Backoff number (4 bits).
        backoff: u8 = [36, 4],
        /// System Identity Code of this site.
        system_code: SystemIdentityCode = [40, 16],
        /// MS address acknowledged by this beacon, 0 for none.
        ms_address: u32 = [56, 24],
    }
}

layout! {
    /// C_AHOY / P_AHOY (0x1C): an enquiry that demands a response (docs/air-interface.md §3.4).
    pub struct Ahoy {
        /// Service options mirror (7 bits).
        service_options: u8 = [16, 7],
        /// Service-kind flag.
        service_kind_flag: bool = [23, 1],
        /// Ambient listening service.
        ambient_listening: bool = [24, 1],
        /// G/I: true when the target is a talkgroup.
        group: bool = [25, 1],
        /// Appended blocks (UDT) or status, by service kind (§9.8).
        appended_blocks: u8 = [26, 2],
        /// Service kind.
        service_kind: ServiceKind = [28, 4],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address (often a gateway identity, §3.7).
        source: u32 = [56, 24],
    }
}

layout! {
    /// C_RAND (0x1F): random-access service request (dmrgo, dvmhost; docs/air-interface.md §3.4).
    pub struct Rand {
        /// Service options (7 bits).
        service_options: u8 = [16, 7],
        /// Proxy flag.
        proxy: bool = [23, 1],
        /// Reserved, or "service extras" by service kind in dvmhost (§9.8).
        service_extras: u8 = [24, 4],
        /// Service kind.
        service_kind: ServiceKind = [28, 4],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// C_ACKVIT (0x1E): ackvitation (dmrgo; docs/air-interface.md §3.4).
    pub struct Ackvit {
        /// Service options mirror (7 bits).
        service_options: u8 = [16, 7],
        /// Service-kind flag.
        service_kind_flag: bool = [23, 1],
        #[serde(skip)]
        reserved: u8 = [24, 2],
        /// Appended blocks (UAB).
        appended_blocks: u8 = [26, 2],
        /// Service kind.
        service_kind: ServiceKind = [28, 4],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// C_ACKD / C_ACKU / P_ACKD / P_ACKU (0x20–0x23): acknowledge (sdrtrunk Acknowledge.java,
    /// dmrgo, dsd-fme; docs/air-interface.md §3.4).
    pub struct Ack {
        /// Response info (7 bits; sdrtrunk reads abs 16 as target G/I for some reasons).
        response_info: u8 = [16, 7],
        /// Reason code.
        reason: ReasonCode = [23, 8],
        #[serde(skip)]
        reserved: bool = [31, 1],
        /// Target address.
        target: u32 = [32, 24],
        /// Additional info or source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// NACK_Rsp (0x26): negative acknowledge. Source and target are **reversed** compared with
    /// the other PDUs (ok-dmrlib, dmrgo, dvmhost, MMDVMHost; docs/air-interface.md §3.4).
    pub struct NackRsp {
        /// Additional-info flag (always 1).
        additional_info: bool = [16, 1],
        /// Source type: true when MS sourced.
        ms_sourced: bool = [17, 1],
        /// Opcode of the refused request (6 bits).
        service_type: u8 = [18, 6],
        /// Reason code.
        reason: ReasonCode = [24, 8],
        /// Source address (abs 32–55).
        source: u32 = [32, 24],
        /// Target address (abs 56–79).
        target: u32 = [56, 24],
    }
}

layout! {
    /// Channel grants 0x30–0x38 (PV/TV/BTV/PD/TD, _DX, _MI; sdrtrunk ChannelGrant.java, dmrgo,
    /// dsd-fme, dvmhost CSBK_TV_GRANT.cpp; docs/air-interface.md §3.4). LPCN 0xFFF means absolute
    /// channel parameters follow in an MBC continuation block (see [`super::mbc`]).
    pub struct Grant {
        /// Logical physical channel number (12 bits); 0xFFF = see MBC, 0 invalid.
        lpcn: u16 = [16, 12],
        /// Logical slot.
        slot: LogicalSlot = [28, 1],
        /// TV/BTV: late entry; PD/TD: hi-rate; PV: reserved.
        late_entry_hi_rate: bool = [29, 1],
        /// Emergency.
        emergency: bool = [30, 1],
        /// Offset site timing; call direction for the _DX grants.
        offset_direction: bool = [31, 1],
        /// Target (talkgroup for TV/BTV/TD, MS for PV/PD).
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// P_CLEAR (0x2E): clear the payload channel (sdrtrunk Clear.java, dmrgo, dvmhost).
    pub struct Clear {
        /// LPCN to return to (12 bits; 0xFFF = see MBC).
        lpcn: u16 = [16, 12],
        #[serde(skip)]
        reserved: u8 = [28, 3],
        /// G/I: true when the target is a talkgroup.
        group: bool = [31, 1],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// P_PROTECT (0x2F): PTT control on a payload channel (sdrtrunk Protect.java, dmrgo, dsd-fme).
    pub struct Protect {
        #[serde(skip)]
        reserved: u16 = [16, 12],
        /// Protect kind.
        kind: ProtectKind = [28, 3],
        /// G/I: true when the target is a talkgroup.
        group: bool = [31, 1],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// P_MAINT (0x2A): call maintenance (dmrgo, dsd-fme).
    pub struct Maint {
        #[serde(skip)]
        reserved: u16 = [16, 12],
        /// Maintenance kind (3 bits; 0 = disconnect).
        kind: u8 = [28, 3],
        #[serde(skip)]
        reserved2: bool = [31, 1],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// C_MOVE (0x39): move to another TSCC (sdrtrunk MoveTSCC.java, dmrgo).
    pub struct Move {
        #[serde(skip)]
        reserved: u16 = [16, 9],
        /// MS ID mask (5 bits).
        mask: u8 = [25, 5],
        #[serde(skip)]
        reserved2: u8 = [30, 5],
        /// Registration required.
        reg_required: bool = [35, 1],
        /// Backoff number (4 bits).
        backoff: u8 = [36, 4],
        #[serde(skip)]
        reserved3: u8 = [40, 4],
        /// LPCN of the new TSCC (12 bits; 0xFFF = see MBC).
        lpcn: u16 = [44, 12],
        /// MS address.
        ms_address: u32 = [56, 24],
    }
}

layout! {
    /// Pre_CSBK (0x3D): preamble announcing CSBKs or data to follow (all sources).
    pub struct Preamble {
        /// DC: true when data follows, false when CSBKs follow.
        data_follows: bool = [16, 1],
        /// G/I: true when the target is a talkgroup.
        group: bool = [17, 1],
        /// Reserved; Hytera uses abs 23 as a GPS flag (docs/air-interface.md §3.4).
        reserved: u8 = [18, 6],
        /// CSBK blocks to follow.
        blocks_to_follow: u8 = [24, 8],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// UU_V_Req (0x04): unit-to-unit voice service request.
    pub struct UuVReq {
        /// Service options (8 bits).
        service_options: u8 = [16, 8],
        #[serde(skip)]
        reserved: u8 = [24, 8],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// UU_Ans_Rsp (0x05): unit-to-unit answer response.
    pub struct UuAnsRsp {
        /// Service options (8 bits).
        service_options: u8 = [16, 8],
        /// Answer.
        answer: AnswerResponse = [24, 8],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// CT_CSBK (0x07): channel timing (ok-dmrlib, dmr-kaitai dmr_csbk.ksy, dmrgo).
    /// The 2-bit channel-timing opcode is split over abs 55 and 79:
    /// see [`ChannelTiming::opcode`].
    pub struct ChannelTiming {
        /// Sync age in units of 500 ms (11 bits).
        sync_age: u16 = [16, 11],
        /// Generation (5 bits).
        generation: u8 = [27, 5],
        /// Leader identifier (20 bits).
        leader: u32 = [32, 20],
        /// New leader.
        new_leader: bool = [52, 1],
        /// Leader dynamic identifier (2 bits).
        leader_dynamic: u8 = [53, 2],
        /// Channel-timing opcode bit 1.
        opcode_bit1: bool = [55, 1],
        /// Source identifier (20 bits).
        source_identifier: u32 = [56, 20],
        #[serde(skip)]
        reserved: bool = [76, 1],
        /// Source dynamic identifier (2 bits).
        source_dynamic: u8 = [77, 2],
        /// Channel-timing opcode bit 0.
        opcode_bit0: bool = [79, 1],
    }
}

impl ChannelTiming {
    /// The 2-bit channel-timing opcode.
    pub const fn opcode(&self) -> u8 {
        (self.opcode_bit1 as u8) << 1 | self.opcode_bit0 as u8
    }
}

layout! {
    /// BS_Dwn_Act (0x38 outside a trunked control channel): BS outbound activation (Tier II).
    pub struct BsDwnAct {
        #[serde(skip)]
        reserved: u16 = [16, 16],
        /// BS address.
        bs_address: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// Data bits of C_UDTHD / C_UDTHU / C_DGNAHD / C_DGNAHU as CSBK opcodes.
    ///
    /// These opcodes name UDT headers, which travel as data headers (DT 6, DPF 0, the opcode at
    /// abs 74–79; docs/air-interface.md §5.1) and belong to `wire::data_header`. No source gives a
    /// CSBK layout for them, so here the 64 data bits are kept as they are.
    pub struct UdtHeaderRef {
        /// The 64 data bits, MSB first.
        data: u64 = [16, 64],
    }
}

// ---------------------------------------------------------------------------------------------
// C_BCAST (0x28)

layout! {
    /// Ann_WD_TSCC (type 0): announce or withdraw TSCCs.
    pub struct AnnWdTscc {
        #[serde(skip)]
        reserved: u8 = [21, 4],
        /// Colour code of channel 1.
        colour_code1: u8 = [25, 4],
        /// Colour code of channel 2.
        colour_code2: u8 = [29, 4],
        /// Add (true) or withdraw channel 1.
        add1: bool = [33, 1],
        /// Add (true) or withdraw channel 2.
        add2: bool = [34, 1],
        /// LPCN of channel 1.
        lpcn1: u16 = [56, 12],
        /// LPCN of channel 2.
        lpcn2: u16 = [68, 12],
    }
}

layout! {
    /// CallTimer_Parms (type 1).
    pub struct CallTimerParms {
        /// Emergency call timer (9 bits).
        emergency_timer: u16 = [21, 9],
        /// Packet timer (5 bits).
        packet_timer: u8 = [30, 5],
        /// MS-MS call timer (12 bits).
        ms_ms_timer: u16 = [56, 12],
        /// MS-line call timer (12 bits).
        ms_line_timer: u16 = [68, 12],
    }
}

layout! {
    /// Vote_Now (type 2): vote for another site.
    pub struct VoteNow {
        /// 14-bit SYS code (System Identity Code without PAR) of the voted site.
        voted_sys_code: u16 = [21, 14],
        /// Connection information available.
        connection_info: bool = [56, 1],
        /// Active connection.
        active_connection: bool = [57, 1],
        /// Confirmed-channel priority (3 bits).
        confirmed_priority: u8 = [58, 3],
        /// Adjacent-channel priority (3 bits).
        adjacent_priority: u8 = [61, 3],
        #[serde(skip)]
        reserved: u8 = [64, 4],
        /// Voted LPCN (0xFFF = see MBC).
        voted_lpcn: u16 = [68, 12],
    }
}

layout! {
    /// Local_Time (type 3; sdrtrunk LocalTime.java).
    pub struct LocalTime {
        /// Day of month (5 bits).
        day: u8 = [21, 5],
        /// Month (4 bits).
        month: u8 = [26, 4],
        /// UTC offset, hours (5 bits).
        utc_offset: u8 = [30, 5],
        /// Hour (5 bits).
        hour: u8 = [56, 5],
        /// Minute (6 bits).
        minute: u8 = [61, 6],
        /// Second (6 bits).
        second: u8 = [67, 6],
        /// Day of week (3 bits).
        day_of_week: u8 = [73, 3],
        /// UTC offset fraction (2 bits).
        utc_offset_fraction: u8 = [76, 2],
        #[serde(skip)]
        reserved: u8 = [78, 2],
    }
}

layout! {
    /// MassReg (type 4): broadcast mass registration.
    pub struct MassReg {
        #[serde(skip)]
        reserved: u8 = [21, 5],
        /// Registration window (4 bits).
        reg_window: u8 = [26, 4],
        /// Aloha mask (5 bits).
        aloha_mask: u8 = [30, 5],
        /// MS address.
        ms_address: u32 = [56, 24],
    }
}

layout! {
    /// Chan_Freq (type 5): logical/physical channel relationship; the frequencies follow in
    /// an MBC continuation block. Only the channel number's place is known (dsd-fme, §9.7).
    pub struct ChanFreq {
        /// Broadcast parameters 1, undecoded (14 bits).
        params1: u16 = [21, 14],
        /// Broadcast parameters 2 before the channel number, undecoded (12 bits).
        params2: u16 = [56, 12],
        /// Logical channel number.
        lpcn: u16 = [68, 12],
    }
}

layout! {
    /// Adjacent_Site (type 6): a neighbour site.
    pub struct AdjacentSite {
        /// 14-bit SYS code of the neighbour.
        neighbour_sys_code: u16 = [21, 14],
        /// Connection information available.
        connection_info: bool = [56, 1],
        /// Active connection.
        active_connection: bool = [57, 1],
        /// Confirmed-channel priority (3 bits).
        confirmed_priority: u8 = [58, 3],
        /// Adjacent-channel priority (3 bits).
        adjacent_priority: u8 = [61, 3],
        #[serde(skip)]
        reserved: u8 = [64, 4],
        /// Neighbour LPCN (0xFFF = see MBC).
        neighbour_lpcn: u16 = [68, 12],
    }
}

layout! {
    /// Gen_Site_Params (type 7) and announcement types this decoder does not know: the two
    /// parameter fields as received. For type 7 the flag positions conflict (hibernation at
    /// abs 22 per dsd-fme, abs 57 per dvmhost; §9.7), so no flag is decoded.
    pub struct BcastParams {
        /// Broadcast parameters 1 (14 bits, abs 21–34).
        params1: u16 = [21, 14],
        /// Broadcast parameters 2 (24 bits, abs 56–79).
        params2: u32 = [56, 24],
    }
}

/// A C_BCAST announcement, by type (abs 16–20; docs/air-interface.md §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "announcement", rename_all = "snake_case")]
pub enum Announcement {
    /// Type 0.
    AnnWdTscc(AnnWdTscc),
    /// Type 1.
    CallTimerParms(CallTimerParms),
    /// Type 2.
    VoteNow(VoteNow),
    /// Type 3.
    LocalTime(LocalTime),
    /// Type 4.
    MassReg(MassReg),
    /// Type 5.
    ChanFreq(ChanFreq),
    /// Type 6.
    AdjacentSite(AdjacentSite),
    /// Type 7.
    GenSiteParams(BcastParams),
    /// Types 8–31 (reserved or manufacturer specific), parameters kept raw.
    Other {
        /// The announcement type (5 bits).
        kind: u8,
        /// The parameters as received.
        #[serde(flatten)]
        params: BcastParams,
    },
}

impl Announcement {
    /// The 5-bit announcement type.
    pub const fn kind(&self) -> u8 {
        match self {
            Announcement::AnnWdTscc(_) => 0,
            Announcement::CallTimerParms(_) => 1,
            Announcement::VoteNow(_) => 2,
            Announcement::LocalTime(_) => 3,
            Announcement::MassReg(_) => 4,
            Announcement::ChanFreq(_) => 5,
            Announcement::AdjacentSite(_) => 6,
            Announcement::GenSiteParams(_) => 7,
            Announcement::Other { kind, .. } => *kind,
        }
    }
}

/// C_BCAST (0x28): announcements (sdrtrunk Announcement*.java, ok-dmrlib, dmrgo, dsd-fme).
/// Abs 16–20 type · 21–34 parameters 1 · 35 registration required · 36–39 backoff ·
/// 40–55 System Identity Code · 56–79 parameters 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bcast {
    /// Registration required.
    pub reg_required: bool,
    /// Backoff number (4 bits).
    pub backoff: u8,
    /// System Identity Code of this site.
    pub system_code: SystemIdentityCode,
    /// The announcement and its parameters.
    #[serde(flatten)]
    pub announcement: Announcement,
}

impl Bcast {
    #[cfg(test)]
    pub(crate) const FIELDS: &'static [(usize, usize)] = &[(16, 5), (35, 1), (36, 4), (40, 16)];

    pub(crate) fn read(block: &[u8]) -> Self {
        let kind = bits::get(block, 16, 5) as u8;
        let announcement = match kind {
            0 => Announcement::AnnWdTscc(AnnWdTscc::read(block)),
            1 => Announcement::CallTimerParms(CallTimerParms::read(block)),
            2 => Announcement::VoteNow(VoteNow::read(block)),
            3 => Announcement::LocalTime(LocalTime::read(block)),
            4 => Announcement::MassReg(MassReg::read(block)),
            5 => Announcement::ChanFreq(ChanFreq::read(block)),
            6 => Announcement::AdjacentSite(AdjacentSite::read(block)),
            7 => Announcement::GenSiteParams(BcastParams::read(block)),
            kind => Announcement::Other {
                kind,
                params: BcastParams::read(block),
            },
        };
        Bcast {
            reg_required: bits::get_flag(block, 35),
            backoff: bits::get(block, 36, 4) as u8,
            system_code: SystemIdentityCode::from_raw(bits::get(block, 40, 16) as u16),
            announcement,
        }
    }

    pub(crate) fn write(&self, block: &mut [u8]) {
        bits::put(block, 16, 5, u64::from(self.announcement.kind()));
        bits::put_flag(block, 35, self.reg_required);
        bits::put(block, 36, 4, u64::from(self.backoff));
        bits::put(block, 40, 16, u64::from(self.system_code.raw));
        match &self.announcement {
            Announcement::AnnWdTscc(a) => a.write(block),
            Announcement::CallTimerParms(a) => a.write(block),
            Announcement::VoteNow(a) => a.write(block),
            Announcement::LocalTime(a) => a.write(block),
            Announcement::MassReg(a) => a.write(block),
            Announcement::ChanFreq(a) => a.write(block),
            Announcement::AdjacentSite(a) => a.write(block),
            Announcement::GenSiteParams(a) => a.write(block),
            Announcement::Other { params, .. } => params.write(block),
        }
    }
}

/// The layouts of the announcement types, for the coverage test.
#[cfg(test)]
pub(crate) const ANNOUNCEMENT_FIELDS: &[&[(usize, usize)]] = &[
    AnnWdTscc::FIELDS,
    CallTimerParms::FIELDS,
    VoteNow::FIELDS,
    LocalTime::FIELDS,
    MassReg::FIELDS,
    ChanFreq::FIELDS,
    AdjacentSite::FIELDS,
    BcastParams::FIELDS,
];
