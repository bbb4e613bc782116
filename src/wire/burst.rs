//! The 264-bit burst: sync, slot type, EMB and the info or voice bits around them
//! (TS 102 361-1 §6.1, §9.1.1–9.1.3; docs/air-interface.md §1.1–1.3).
//!
//! ```text
//! bits   0 ..  97  info bits, first half (98)       | voice bits 0..97
//!       98 .. 107  slot type, first 10 bits         | voice bits 98..107
//!      108 .. 155  48-bit sync                      | sync (voice A) or EMB 8 + fragment 32 + EMB 8 (B–F)
//!      156 .. 165  slot type, last 10 bits          | voice bits 108..117
//!      166 .. 263  info bits, second half (98)      | voice bits 118..215
//! ```
//!
//! Bit 0 is the first bit on air, the MSB of octet 0. The slot type is Golay(20,8)-coded
//! colour code (4) and data type (4); the EMB is QR(16,7)-coded colour code (4), PI (1) and
//! LCSS (2) (layouts from g4klx/MMDVMHost DMRSlotType.cpp and DMREMB.cpp, OK-DMR/ok-dmrlib
//! layer2/burst.py).
//!
//! Contract:
//! - [`BurstRepr::parse`] takes any `&[u8]`, never panics, and keeps every field from the air:
//!   a data or control burst keeps its 196 info bits and its slot type, a voice burst its 216
//!   voice bits and its sync or EMB + embedded fragment, and a burst with the RC or reserved
//!   sync its 216 outer bits. Sync and FEC corrections are reported (`sync_errors`,
//!   `*_corrected`) for link-quality counters.
//! - Classification without context goes by the centre: a data sync (within
//!   [`MAX_SYNC_ERRORS`]) means a data burst, a voice sync voice burst A, no sync voice
//!   bursts B–F with an EMB. A data burst whose sync is more than 4 bits off therefore reads
//!   as a voice burst if its centre happens to pass QR(16,7); callers that know the burst type
//!   from the transport (Homebrew frame type) use the field functions directly.
//! - `emit` and the `set_*` functions write exactly their bits; every other bit of the burst
//!   is left as it was, so a burst built field by field into a dirty buffer equals one built
//!   into zeros.

use super::fec::{bptc, golay, qr};
use super::{Result, WireError};

const FRAME: &str = "burst";

/// Length of a burst in octets (264 bits).
pub const LEN: usize = 33;
/// The 196 info bits (first 98 + last 98 bits of the burst), packed MSB-first; last 4 bits 0.
pub const INFO_LEN: usize = bptc::INFO_LEN;
/// The 216 voice bits of a voice burst (3 AMBE+2 frames), packed MSB-first.
pub const VOICE_LEN: usize = 27;
/// The 24 octets of a rate 1 data block.
pub const RATE_ONE_LEN: usize = 24;

/// Largest number of wrong bits accepted in a 48-bit sync.
///
/// The ten patterns are at least 10 bits apart (checked in the tests), so a word within 4
/// bits of one pattern is at least 6 bits from every other: acceptance stays unique and far
/// from the confusion distance, while the one-bit-off syncs seen in real captures
/// (docs/air-interface.md §1.2) pass. A random 48-bit centre (EMB + embedded data) falls within 4
/// bits of one of the ten patterns with probability about 8·10⁻⁹.
pub const MAX_SYNC_ERRORS: u32 = 4;

const MASK48: u64 = (1 << 48) - 1;

/// The 48-bit sync patterns (TS 102 361-1 §9.1.1 Table 9.2, as listed in OK-DMR/ok-dmrlib
/// sync_patterns.py and g4klx/MMDVMHost DMRDefines.h; docs/air-interface.md §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncPattern {
    /// BS sourced voice.
    BsVoice,
    /// BS sourced data.
    BsData,
    /// MS sourced voice.
    MsVoice,
    /// MS sourced data.
    MsData,
    /// MS sourced reverse channel.
    MsRc,
    /// TDMA direct mode, timeslot 1, voice.
    Ts1Voice,
    /// TDMA direct mode, timeslot 1, data.
    Ts1Data,
    /// TDMA direct mode, timeslot 2, voice.
    Ts2Voice,
    /// TDMA direct mode, timeslot 2, data.
    Ts2Data,
    /// Reserved for future use.
    Reserved,
}

impl SyncPattern {
    /// Every pattern, in table order.
    pub const ALL: [SyncPattern; 10] = [
        SyncPattern::BsVoice,
        SyncPattern::BsData,
        SyncPattern::MsVoice,
        SyncPattern::MsData,
        SyncPattern::MsRc,
        SyncPattern::Ts1Voice,
        SyncPattern::Ts1Data,
        SyncPattern::Ts2Voice,
        SyncPattern::Ts2Data,
        SyncPattern::Reserved,
    ];

    /// The 48-bit pattern, first bit on air in bit 47 (docs/air-interface.md §1.2).
    pub const fn pattern(self) -> u64 {
        match self {
            SyncPattern::BsVoice => 0x755F_D7DF_75F7,
            SyncPattern::BsData => 0xDFF5_7D75_DF5D,
            SyncPattern::MsVoice => 0x7F7D_5DD5_7DFD,
            SyncPattern::MsData => 0xD5D7_F77F_D757,
            SyncPattern::MsRc => 0x77D5_5F7D_FD77,
            SyncPattern::Ts1Voice => 0x5D57_7F77_57FF,
            SyncPattern::Ts1Data => 0xF7FD_D5DD_FD55,
            SyncPattern::Ts2Voice => 0x7DFF_D5F5_5D5F,
            SyncPattern::Ts2Data => 0xD755_7F5F_F7F5,
            SyncPattern::Reserved => 0xDD7F_F5D7_57DD,
        }
    }

    /// The name used in logs, the CLI and the API.
    pub const fn name(self) -> &'static str {
        match self {
            SyncPattern::BsVoice => "bs_voice",
            SyncPattern::BsData => "bs_data",
            SyncPattern::MsVoice => "ms_voice",
            SyncPattern::MsData => "ms_data",
            SyncPattern::MsRc => "ms_rc",
            SyncPattern::Ts1Voice => "ts1_voice",
            SyncPattern::Ts1Data => "ts1_data",
            SyncPattern::Ts2Voice => "ts2_voice",
            SyncPattern::Ts2Data => "ts2_data",
            SyncPattern::Reserved => "reserved",
        }
    }

    /// True for the four data / control syncs (the burst carries a slot type).
    pub const fn is_data(self) -> bool {
        matches!(
            self,
            SyncPattern::BsData | SyncPattern::MsData | SyncPattern::Ts1Data | SyncPattern::Ts2Data
        )
    }

    /// True for the four voice syncs (voice burst A).
    pub const fn is_voice(self) -> bool {
        matches!(
            self,
            SyncPattern::BsVoice
                | SyncPattern::MsVoice
                | SyncPattern::Ts1Voice
                | SyncPattern::Ts2Voice
        )
    }
}

/// Data type of a data or control burst: the DT field of the slot type (4 bits; TS 102 361-1
/// §9.3.6 Table 9.30; docs/air-interface.md §1.3 from ok-dmrlib data_types.py, MMDVMHost
/// DMRDefines.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// 0: privacy indicator header.
    PiHeader,
    /// 1: voice LC header.
    VoiceLcHeader,
    /// 2: terminator with LC.
    TerminatorWithLc,
    /// 3: control signalling block.
    Csbk,
    /// 4: multi-block control header.
    MbcHeader,
    /// 5: multi-block control continuation.
    MbcContinuation,
    /// 6: data header.
    DataHeader,
    /// 7: rate ½ data continuation.
    RateHalfData,
    /// 8: rate ¾ data continuation.
    RateThreeQuarterData,
    /// 9: idle.
    Idle,
    /// 10: rate 1 data continuation.
    RateOneData,
    /// 11: unified single block data.
    Usbd,
    /// 12–15: reserved; the raw value is kept.
    Reserved(u8),
}

impl DataType {
    /// The data type of a 4-bit DT value (higher bits ignored).
    pub const fn from_bits(dt: u8) -> DataType {
        match dt & 0x0F {
            0 => DataType::PiHeader,
            1 => DataType::VoiceLcHeader,
            2 => DataType::TerminatorWithLc,
            3 => DataType::Csbk,
            4 => DataType::MbcHeader,
            5 => DataType::MbcContinuation,
            6 => DataType::DataHeader,
            7 => DataType::RateHalfData,
            8 => DataType::RateThreeQuarterData,
            9 => DataType::Idle,
            10 => DataType::RateOneData,
            11 => DataType::Usbd,
            other => DataType::Reserved(other),
        }
    }

    /// The 4-bit DT value.
    pub const fn bits(self) -> u8 {
        match self {
            DataType::PiHeader => 0,
            DataType::VoiceLcHeader => 1,
            DataType::TerminatorWithLc => 2,
            DataType::Csbk => 3,
            DataType::MbcHeader => 4,
            DataType::MbcContinuation => 5,
            DataType::DataHeader => 6,
            DataType::RateHalfData => 7,
            DataType::RateThreeQuarterData => 8,
            DataType::Idle => 9,
            DataType::RateOneData => 10,
            DataType::Usbd => 11,
            DataType::Reserved(v) => v & 0x0F,
        }
    }

    /// The name used in logs, the CLI and the API.
    pub const fn name(self) -> &'static str {
        match self {
            DataType::PiHeader => "pi_header",
            DataType::VoiceLcHeader => "voice_lc_header",
            DataType::TerminatorWithLc => "terminator_with_lc",
            DataType::Csbk => "csbk",
            DataType::MbcHeader => "mbc_header",
            DataType::MbcContinuation => "mbc_continuation",
            DataType::DataHeader => "data_header",
            DataType::RateHalfData => "rate_half_data",
            DataType::RateThreeQuarterData => "rate_three_quarter_data",
            DataType::Idle => "idle",
            DataType::RateOneData => "rate_one_data",
            DataType::Usbd => "usbd",
            DataType::Reserved(_) => "reserved",
        }
    }
}

/// The slot type of a data or control burst (TS 102 361-1 §9.1.3): colour code and data type,
/// Golay(20,8)-coded in bits 98–107 and 156–165.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlotType {
    /// Colour code, 4 bits (higher bits are not sent).
    pub colour_code: u8,
    /// Data type, 4 bits.
    pub data_type: DataType,
}

impl SlotType {
    /// The 20-bit Golay codeword (CC | DT | parity).
    pub fn codeword(&self) -> u32 {
        golay::encode(((self.colour_code & 0x0F) << 4) | self.data_type.bits())
    }

    /// Decode a 20-bit codeword: (slot type, bits corrected), `None` if uncorrectable.
    pub fn from_codeword(word: u32) -> Option<(SlotType, usize)> {
        golay::decode(word).map(|(data, fixed)| {
            let slot_type = SlotType {
                colour_code: data >> 4,
                data_type: DataType::from_bits(data),
            };
            (slot_type, fixed)
        })
    }

    /// Decode the slot type of `burst`: (slot type, bits corrected), `None` if uncorrectable.
    pub fn decode(burst: &[u8; LEN]) -> Option<(SlotType, usize)> {
        SlotType::from_codeword(slot_type_bits(burst))
    }

    /// Write the coded slot type into bits 98–107 and 156–165 of `burst`.
    pub fn emit(&self, burst: &mut [u8; LEN]) {
        set_slot_type_bits(burst, self.codeword());
    }
}

/// Link control start / stop (LCSS, 2 bits) of the EMB and CACH (TS 102 361-1 §9.3.3;
/// ok-dmrlib lcss.py).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lcss {
    /// 0: single fragment LC or CSBK (or no embedded signalling).
    SingleFragment,
    /// 1: first fragment of an LC.
    FirstFragment,
    /// 2: last fragment of an LC or CSBK.
    LastFragment,
    /// 3: continuation fragment.
    Continuation,
}

impl Lcss {
    /// The LCSS of a 2-bit value (higher bits ignored).
    pub const fn from_bits(v: u8) -> Lcss {
        match v & 0x03 {
            0 => Lcss::SingleFragment,
            1 => Lcss::FirstFragment,
            2 => Lcss::LastFragment,
            _ => Lcss::Continuation,
        }
    }

    /// The 2-bit value.
    pub const fn bits(self) -> u8 {
        match self {
            Lcss::SingleFragment => 0,
            Lcss::FirstFragment => 1,
            Lcss::LastFragment => 2,
            Lcss::Continuation => 3,
        }
    }
}

/// Embedded signalling field of voice bursts B–F (TS 102 361-1 §9.1.2): QR(16,7)-coded in bits
/// 108–115 and 148–155.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Emb {
    /// Colour code, 4 bits (higher bits are not sent).
    pub colour_code: u8,
    /// Privacy indicator.
    pub pi: bool,
    /// Which fragment of the embedded LC the burst carries.
    pub lcss: Lcss,
}

impl Emb {
    /// The 16-bit QR codeword (CC | PI | LCSS | parity).
    pub fn codeword(&self) -> u16 {
        let data = ((self.colour_code & 0x0F) << 3) | (u8::from(self.pi) << 2) | self.lcss.bits();
        qr::encode(data)
    }

    /// Decode a 16-bit codeword: (EMB, bits corrected), `None` if uncorrectable.
    pub fn from_codeword(word: u16) -> Option<(Emb, usize)> {
        qr::decode(word).map(|(data, fixed)| {
            let emb = Emb {
                colour_code: data >> 3,
                pi: data & 0x04 != 0,
                lcss: Lcss::from_bits(data),
            };
            (emb, fixed)
        })
    }

    /// Decode the EMB of `burst`: (EMB, bits corrected), `None` if uncorrectable.
    pub fn decode(burst: &[u8; LEN]) -> Option<(Emb, usize)> {
        Emb::from_codeword(emb_bits(burst))
    }

    /// Write the coded EMB into bits 108–115 and 148–155 of `burst`.
    pub fn emit(&self, burst: &mut [u8; LEN]) {
        set_emb_bits(burst, self.codeword());
    }
}

/// Octets 12–19 (burst bits 96–159) as one word, bit 96 in bit 63; the sync, EMB and
/// fragment sit in its low 56 bits (bit p of the burst in bit `159 - p`).
fn centre(burst: &[u8; LEN]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&burst[12..20]);
    u64::from_be_bytes(word)
}

fn set_centre(burst: &mut [u8; LEN], v: u64) {
    burst[12..20].copy_from_slice(&v.to_be_bytes());
}

/// Replace the bits of `mask` in the centre with those of `value`.
fn put_centre(burst: &mut [u8; LEN], mask: u64, value: u64) {
    let v = centre(burst);
    set_centre(burst, (v & !mask) | (value & mask));
}

/// The 48 bits in the sync position (108–155), first on air in bit 47.
pub fn sync_bits(burst: &[u8; LEN]) -> u64 {
    (centre(burst) >> 4) & MASK48
}

/// Write 48 bits into the sync position.
pub fn set_sync_bits(burst: &mut [u8; LEN], bits: u64) {
    put_centre(burst, MASK48 << 4, bits << 4);
}

/// Write a sync pattern into the centre of `burst`.
pub fn set_sync(burst: &mut [u8; LEN], sync: SyncPattern) {
    set_sync_bits(burst, sync.pattern());
}

/// The sync pattern within [`MAX_SYNC_ERRORS`] bits of the centre, with the number of bits
/// that differ; `None` when no pattern is that close (voice bursts B–F, or a damaged sync).
pub fn detect_sync(burst: &[u8; LEN]) -> Option<(SyncPattern, u32)> {
    let bits = sync_bits(burst);
    if let Some(&exact) = SyncPattern::ALL.iter().find(|p| p.pattern() == bits) {
        return Some((exact, 0));
    }
    SyncPattern::ALL
        .iter()
        .map(|&p| (p, (p.pattern() ^ bits).count_ones()))
        .find(|&(_, distance)| distance <= MAX_SYNC_ERRORS)
}

/// The 20 slot-type bits (98–107 then 156–165) as a Golay codeword, first on air in bit 19.
pub fn slot_type_bits(burst: &[u8; LEN]) -> u32 {
    let first = (u32::from(burst[12] & 0x3F) << 4) | u32::from(burst[13] >> 4);
    let last = (u32::from(burst[19] & 0x0F) << 6) | u32::from(burst[20] >> 2);
    (first << 10) | last
}

/// Write 20 slot-type bits.
pub fn set_slot_type_bits(burst: &mut [u8; LEN], word: u32) {
    let first = (word >> 10) & 0x3FF;
    let last = word & 0x3FF;
    burst[12] = (burst[12] & 0xC0) | (first >> 4) as u8;
    burst[13] = (burst[13] & 0x0F) | ((first & 0x0F) << 4) as u8;
    burst[19] = (burst[19] & 0xF0) | (last >> 6) as u8;
    burst[20] = (burst[20] & 0x03) | ((last & 0x3F) << 2) as u8;
}

/// The 16 EMB bits (108–115 then 148–155) as a QR codeword, first on air in bit 15.
pub fn emb_bits(burst: &[u8; LEN]) -> u16 {
    let v = centre(burst);
    ((((v >> 44) & 0xFF) << 8) | ((v >> 4) & 0xFF)) as u16
}

/// Write 16 EMB bits.
pub fn set_emb_bits(burst: &mut [u8; LEN], word: u16) {
    let value = (u64::from(word >> 8) << 44) | (u64::from(word & 0xFF) << 4);
    put_centre(burst, (0xFF << 44) | (0xFF << 4), value);
}

/// The 32-bit embedded signalling fragment of voice bursts B–F (bits 116–147).
pub fn embedded_fragment(burst: &[u8; LEN]) -> u32 {
    (centre(burst) >> 12) as u32
}

/// Write the 32-bit embedded signalling fragment.
pub fn set_embedded_fragment(burst: &mut [u8; LEN], fragment: u32) {
    put_centre(burst, 0xFFFF_FFFF << 12, u64::from(fragment) << 12);
}

/// The 196 info bits of a data or control burst (bits 0–97 then 166–263), the input of
/// BPTC(196,96), trellis ¾ or rate 1.
pub fn info_bits(burst: &[u8; LEN]) -> [u8; INFO_LEN] {
    let mut info = [0u8; INFO_LEN];
    info[..12].copy_from_slice(&burst[..12]);
    // info bit k ≥ 98 is burst bit k + 68: octets 20–32 shifted up by 4 bits
    let mut tail = [0u8; 16];
    tail.copy_from_slice(&burst[17..33]);
    let shifted = (u128::from_be_bytes(tail) << 4).to_be_bytes();
    info[12..].copy_from_slice(&shifted[3..]);
    info[12] = (burst[12] & 0xC0) | (info[12] & 0x3F);
    info
}

/// Write 196 info bits (the last 4 bits of `info` are ignored).
pub fn set_info_bits(burst: &mut [u8; LEN], info: &[u8; INFO_LEN]) {
    burst[..12].copy_from_slice(&info[..12]);
    burst[12] = (burst[12] & 0x3F) | (info[12] & 0xC0);
    // burst bit p ≥ 166 is info bit p - 68
    burst[20] = (burst[20] & 0xFC) | ((info[12] >> 4) & 0x03);
    for b in 21..LEN {
        burst[b] = (info[b - 9] << 4) | (info[b - 8] >> 4);
    }
}

/// The 216 voice bits of a voice burst (bits 0–107 then 156–263).
pub fn voice_bits(burst: &[u8; LEN]) -> [u8; VOICE_LEN] {
    let mut voice = [0u8; VOICE_LEN];
    voice[..13].copy_from_slice(&burst[..13]);
    // voice bit k ≥ 108 is burst bit k + 48: exactly 6 octets on
    voice[13] = (burst[13] & 0xF0) | (burst[19] & 0x0F);
    voice[14..].copy_from_slice(&burst[20..]);
    voice
}

/// Write 216 voice bits.
pub fn set_voice_bits(burst: &mut [u8; LEN], voice: &[u8; VOICE_LEN]) {
    burst[..13].copy_from_slice(&voice[..13]);
    burst[13] = (burst[13] & 0x0F) | (voice[13] & 0xF0);
    burst[19] = (burst[19] & 0xF0) | (voice[13] & 0x0F);
    burst[20..].copy_from_slice(&voice[14..]);
}

/// The 24 octets of a rate 1 data block: info bits 0–95 and 100–195, bits 96–99 ignored
/// (TS 102 361-1 Table B.10B as read by ok-dmrlib layer2/burst.py; docs/air-interface.md §2.8).
pub fn rate_one_payload(info: &[u8; INFO_LEN]) -> [u8; RATE_ONE_LEN] {
    let mut out = [0u8; RATE_ONE_LEN];
    out[..12].copy_from_slice(&info[..12]);
    // payload octet 12 + i starts at info bit 100 + 8 i: octet 12, 4 bits in
    for i in 0..12 {
        out[12 + i] = (info[12 + i] << 4) | (info[13 + i] >> 4);
    }
    out
}

/// The info bits of a rate 1 data block (the 4 ignored bits 96–99 are sent as 0).
pub fn rate_one_info(payload: &[u8; RATE_ONE_LEN]) -> [u8; INFO_LEN] {
    let mut info = [0u8; INFO_LEN];
    info[..12].copy_from_slice(&payload[..12]);
    info[12] = payload[12] >> 4;
    for i in 1..12 {
        info[12 + i] = (payload[11 + i] << 4) | (payload[12 + i] >> 4);
    }
    info[24] = payload[23] << 4;
    info
}

/// A data or control burst: data sync, slot type and the 196 info bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataBurst {
    /// The sync detected (or to send).
    pub sync: SyncPattern,
    /// Bits by which the received sync differed from the pattern (0 when building).
    pub sync_errors: u32,
    /// Colour code and data type.
    pub slot_type: SlotType,
    /// Bits Golay corrected in the slot type (0 when building).
    pub slot_type_corrected: usize,
    /// The 196 info bits, undecoded (BPTC, trellis or rate 1 according to the data type).
    pub info: [u8; INFO_LEN],
}

impl DataBurst {
    /// A burst to send.
    pub fn new(
        sync: SyncPattern,
        colour_code: u8,
        data_type: DataType,
        info: [u8; INFO_LEN],
    ) -> DataBurst {
        DataBurst {
            sync,
            sync_errors: 0,
            slot_type: SlotType {
                colour_code,
                data_type,
            },
            slot_type_corrected: 0,
            info,
        }
    }

    /// Write every bit of the burst.
    pub fn emit(&self, burst: &mut [u8; LEN]) {
        set_info_bits(burst, &self.info);
        self.slot_type.emit(burst);
        set_sync(burst, self.sync);
    }
}

/// What the centre of a voice burst carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceCentre {
    /// Voice burst A: a voice sync.
    Sync {
        /// The sync detected (or to send).
        sync: SyncPattern,
        /// Bits by which the received sync differed from the pattern.
        errors: u32,
    },
    /// Voice bursts B–F: EMB and a 32-bit embedded signalling fragment.
    Embedded {
        /// The decoded EMB.
        emb: Emb,
        /// Bits QR corrected in the EMB.
        corrected: usize,
        /// Bits 116–147, as received.
        fragment: u32,
    },
}

/// A voice burst: 216 voice bits around a sync or EMB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceBurst {
    /// The centre.
    pub centre: VoiceCentre,
    /// The three AMBE+2 frames as they stand on air (bits 0–107, 156–263).
    pub voice: [u8; VOICE_LEN],
}

impl VoiceBurst {
    /// Voice burst A to send.
    pub fn with_sync(sync: SyncPattern, voice: [u8; VOICE_LEN]) -> VoiceBurst {
        VoiceBurst {
            centre: VoiceCentre::Sync { sync, errors: 0 },
            voice,
        }
    }

    /// Voice burst B–F to send.
    pub fn with_emb(emb: Emb, fragment: u32, voice: [u8; VOICE_LEN]) -> VoiceBurst {
        VoiceBurst {
            centre: VoiceCentre::Embedded {
                emb,
                corrected: 0,
                fragment,
            },
            voice,
        }
    }

    /// Write every bit of the burst.
    pub fn emit(&self, burst: &mut [u8; LEN]) {
        set_voice_bits(burst, &self.voice);
        match self.centre {
            VoiceCentre::Sync { sync, .. } => set_sync(burst, sync),
            VoiceCentre::Embedded { emb, fragment, .. } => {
                emb.emit(burst);
                set_embedded_fragment(burst, fragment);
            }
        }
    }
}

/// A burst whose centre is the MS reverse-channel or the reserved sync: kept as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherBurst {
    /// The sync detected.
    pub sync: SyncPattern,
    /// Bits by which the received sync differed from the pattern.
    pub sync_errors: u32,
    /// The 216 bits outside the centre (same positions as voice bits).
    pub outer: [u8; VOICE_LEN],
}

/// A parsed burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurstRepr {
    /// Data or control burst.
    Data(DataBurst),
    /// Voice burst (A with sync, B–F with EMB).
    Voice(VoiceBurst),
    /// Reverse-channel or reserved sync.
    Other(OtherBurst),
}

impl BurstRepr {
    /// Parse 33 octets. Never panics.
    ///
    /// Errors: `Truncated` / `TooLong` when `input` is not 33 octets; `Uncorrectable` on
    /// field `slot_type` when a data sync is followed by a slot type Golay cannot repair, and
    /// on field `emb` when there is no sync and the centre is no QR-correctable EMB.
    pub fn parse(input: &[u8]) -> Result<BurstRepr> {
        let burst: &[u8; LEN] = match input.len() {
            n if n < LEN => {
                return Err(WireError::Truncated {
                    frame: FRAME,
                    need: LEN,
                    have: n,
                });
            }
            n if n > LEN => {
                return Err(WireError::TooLong {
                    frame: FRAME,
                    max: LEN,
                    have: n,
                });
            }
            // the length is exactly LEN here
            _ => input.try_into().map_err(|_| WireError::Truncated {
                frame: FRAME,
                need: LEN,
                have: input.len(),
            })?,
        };
        match detect_sync(burst) {
            Some((sync, sync_errors)) if sync.is_data() => {
                let (slot_type, slot_type_corrected) =
                    SlotType::decode(burst).ok_or(WireError::Uncorrectable {
                        frame: FRAME,
                        field: "slot_type",
                    })?;
                Ok(BurstRepr::Data(DataBurst {
                    sync,
                    sync_errors,
                    slot_type,
                    slot_type_corrected,
                    info: info_bits(burst),
                }))
            }
            Some((sync, errors)) if sync.is_voice() => Ok(BurstRepr::Voice(VoiceBurst {
                centre: VoiceCentre::Sync { sync, errors },
                voice: voice_bits(burst),
            })),
            Some((sync, sync_errors)) => Ok(BurstRepr::Other(OtherBurst {
                sync,
                sync_errors,
                outer: voice_bits(burst),
            })),
            None => {
                let (emb, corrected) = Emb::decode(burst).ok_or(WireError::Uncorrectable {
                    frame: FRAME,
                    field: "emb",
                })?;
                Ok(BurstRepr::Voice(VoiceBurst {
                    centre: VoiceCentre::Embedded {
                        emb,
                        corrected,
                        fragment: embedded_fragment(burst),
                    },
                    voice: voice_bits(burst),
                }))
            }
        }
    }

    /// The sync found and its bit errors (`None` for voice bursts B–F).
    pub fn sync(&self) -> Option<(SyncPattern, u32)> {
        match *self {
            BurstRepr::Data(d) => Some((d.sync, d.sync_errors)),
            BurstRepr::Voice(VoiceBurst {
                centre: VoiceCentre::Sync { sync, errors },
                ..
            }) => Some((sync, errors)),
            BurstRepr::Voice(_) => None,
            BurstRepr::Other(o) => Some((o.sync, o.sync_errors)),
        }
    }

    /// Octets `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        LEN
    }

    /// Write every bit of the burst (syncs and codes as they should be, so a burst received
    /// with errors comes out repaired).
    pub fn emit(&self, burst: &mut [u8; LEN]) {
        match self {
            BurstRepr::Data(d) => d.emit(burst),
            BurstRepr::Voice(v) => v.emit(burst),
            BurstRepr::Other(o) => {
                set_voice_bits(burst, &o.outer);
                set_sync(burst, o.sync);
            }
        }
    }
}

/// Build a data or control burst.
pub fn data_burst(
    sync: SyncPattern,
    colour_code: u8,
    data_type: DataType,
    info: &[u8; INFO_LEN],
) -> [u8; LEN] {
    let mut burst = [0u8; LEN];
    DataBurst::new(sync, colour_code, data_type, *info).emit(&mut burst);
    burst
}

/// Build voice burst A (voice sync).
pub fn voice_sync_burst(sync: SyncPattern, voice: &[u8; VOICE_LEN]) -> [u8; LEN] {
    let mut burst = [0u8; LEN];
    VoiceBurst::with_sync(sync, *voice).emit(&mut burst);
    burst
}

/// Build voice burst B–F (EMB and embedded fragment).
pub fn voice_embedded_burst(emb: Emb, fragment: u32, voice: &[u8; VOICE_LEN]) -> [u8; LEN] {
    let mut burst = [0u8; LEN];
    VoiceBurst::with_emb(emb, fragment, *voice).emit(&mut burst);
    burst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::bits;
    use crate::wire::crc::crc16_ccitt;

    fn unhex<const N: usize>(s: &str) -> [u8; N] {
        hex::decode(s.replace(' ', "")).unwrap().try_into().unwrap()
    }

    /// A deterministic filler (xorshift) for dirty buffers and random content.
    fn noise(seed: u64, out: &mut [u8]) {
        let mut x = seed | 1;
        for b in out {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }

    /// Burst vectors (vectors.jsonl kind `burst`): hex, sync, CC, DT, BPTC payload, as
    /// computed by ok-dmrlib and the MMDVMHost harness (both agree on every field).
    const DATA_VECTORS: [(&str, SyncPattern, u8, u8, &str); 13] = [
        (
            "51dd0c4d8bb40ac413a86c5094fdff57d75df5dcadfa1268aaa87b82b9d8291910",
            SyncPattern::BsData,
            5,
            3,
            "bd0080180008fd23383bb2ed",
        ),
        (
            "403926a610d2265a1495c403c58dff57d75df5d33a1c1cd030b4254683460124b3",
            SyncPattern::BsData,
            1,
            6,
            "024600270630b43c86406c4b",
        ),
        (
            "53df0a83b7a8282c2509625014fdff57d75df5dcadde429028c87ae3341e24191c",
            SyncPattern::BsData,
            5,
            3,
            "bd00801d23386323383b5889",
        ),
        (
            "444b038724420cf015f00ca1c46dff57d75df5de31a835183f303d61385297865b",
            SyncPattern::BsData,
            1,
            1,
            "03000000270630b43c5dcfc1",
        ),
        (
            "117b3090722540f9233581a285ed5d7f77fd75709464602846c3022109c3050079",
            SyncPattern::MsData,
            1,
            7,
            "000501737311000100040a23",
        ),
        (
            "404327ca100623701081d463c58dff57d75df5d338301d8832c620428c4e1834ae",
            SyncPattern::BsData,
            1,
            6,
            "024000270630b43c85002b54",
        ),
        (
            "51cf0ded894c0dec1ff8fcf294fdff57d75df5dcae7a16d064197982bf5824914c",
            SyncPattern::BsData,
            5,
            3,
            "bd0080120008fd2337fed874",
        ),
        (
            "015149880ba01b3816406c80c46d5d7f77fd757e32990118206005a02341391033",
            SyncPattern::MsData,
            1,
            1,
            "00104000000928072220fdf9",
        ),
        // mmdvmhost-idle: slot type is a placeholder (CC 0, DT 0) that still decodes
        (
            "53c25eaba8671dc7383bd936000dff57d75df5d003f6e465171b48ca6d4fc610b4",
            SyncPattern::BsData,
            0,
            0,
            "ff83df1732094ed1e7cd8a91",
        ),
        (
            "3a1f36af232d7afda01bd78255bdff57d75df5d55c045c2e3361260e501f863363",
            SyncPattern::BsData,
            5,
            6,
            "4da12337fa2337fc05103e40",
        ),
        (
            "00e527076f2a4b0f03ed010115ddff57d75df5d6f145422817d6234b6e08802018",
            SyncPattern::BsData,
            5,
            7,
            "0fd6016161000cf020073233",
        ),
        (
            "167b90897c009bb941434301840d5d7f77fd757d9d6b51e02230cac7011f149419",
            SyncPattern::MsData,
            1,
            0,
            "211003d537d57a0000092b13",
        ),
        (
            "404626eb138523261229d643c58dff57d75df5d338b41c6a33a0232a9fc62d9473",
            SyncPattern::BsData,
            1,
            6,
            "0da300270630b43c05303afd",
        ),
    ];

    /// okdmr-burst-info-1: voice burst A, MS sourced voice sync.
    const VOICE_A: &str = "aded847205ae0062959308849047f7d5dd57dfd9537a101efe3ed4206e153827e7";
    /// okdmr-burst-info-2: voice burst with EMB CC 1, PI 0, LCSS 1 (ok-dmrlib and MMDVMHost).
    const VOICE_EMB: &str = "b9e881526173002a6bb9e8815261303000a0391173002a6bb9e881526173002a6b";

    /// docs/performance.md §1a: MMDVMHost-encoded CSBK bursts, CC 1, BS data sync.
    const GOLDEN_CLEAN: &str = "00b202f017cc79b41990e5c044cdff57d75df5dac814057040f85920eec23ba406";
    const GOLDEN_ONE_ERROR: &str =
        "03458696160c76b80e38e2f044cdff57d75df5dac966043041185fe0f082022568";

    fn data(repr: BurstRepr) -> DataBurst {
        match repr {
            BurstRepr::Data(d) => d,
            other => panic!("not a data burst: {other:?}"),
        }
    }

    #[test]
    fn every_data_vector_parses_decodes_and_round_trips() {
        for (hex, sync, cc, dt, payload) in DATA_VECTORS {
            let raw: [u8; LEN] = unhex(hex);
            let d = data(BurstRepr::parse(&raw).unwrap());
            assert_eq!((d.sync, d.sync_errors), (sync, 0), "{hex}");
            assert_eq!(d.slot_type.colour_code, cc, "{hex}");
            assert_eq!(d.slot_type.data_type, DataType::from_bits(dt), "{hex}");
            assert_eq!(d.slot_type_corrected, 0, "{hex}");
            let want: [u8; 12] = unhex(payload);
            assert_eq!(bptc::decode(&d.info), Some((want, 0)), "{hex}");
            let mut out = [0u8; LEN];
            BurstRepr::Data(d).emit(&mut out);
            assert_eq!(out, raw, "{hex}");
            assert_eq!(data_burst(sync, cc, DataType::from_bits(dt), &d.info), raw);
        }
    }

    #[test]
    fn mmdvmhost_golden_bursts() {
        let clean: [u8; LEN] = unhex(GOLDEN_CLEAN);
        let repr = BurstRepr::parse(&clean).unwrap();
        assert_eq!(repr.sync(), Some((SyncPattern::BsData, 0)));
        let d = data(repr);
        assert_eq!(d.slot_type_corrected, 0);
        assert_eq!(slot_type_bits(&clean), 0b0001_0011_0010_1011_0010);
        assert_eq!(
            d.slot_type,
            SlotType {
                colour_code: 1,
                data_type: DataType::Csbk
            }
        );
        let (pdu, fixed) = bptc::decode(&d.info).unwrap();
        assert_eq!(pdu, unhex::<12>("8400000046 30C04634A8195E"));
        assert_eq!(fixed, 0);
        assert_eq!(crc16_ccitt(&pdu[..10]) ^ 0xA5A5, 0x195E);

        let damaged: [u8; LEN] = unhex(GOLDEN_ONE_ERROR);
        let d = data(BurstRepr::parse(&damaged).unwrap());
        assert_eq!(d.slot_type.data_type, DataType::Csbk);
        let (pdu, fixed) = bptc::decode(&d.info).unwrap();
        assert_eq!(pdu, unhex::<12>("b8000000 4630c74634d96c20"));
        assert_eq!(fixed, 1);
        assert_eq!(crc16_ccitt(&pdu[..10]) ^ 0xA5A5, 0x6C20);
        // re-emitting repairs the flipped bit: exactly one bit differs from the capture
        let mut out = [0u8; LEN];
        let info = bptc::encode(&pdu);
        DataBurst::new(SyncPattern::BsData, 1, DataType::Csbk, info).emit(&mut out);
        let diff: u32 = out
            .iter()
            .zip(&damaged)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(diff, 1);
    }

    #[test]
    fn voice_vectors_parse_and_round_trip() {
        let a: [u8; LEN] = unhex(VOICE_A);
        let repr = BurstRepr::parse(&a).unwrap();
        let BurstRepr::Voice(v) = repr else {
            panic!("{repr:?}")
        };
        assert_eq!(
            v.centre,
            VoiceCentre::Sync {
                sync: SyncPattern::MsVoice,
                errors: 0
            }
        );
        let mut out = [0u8; LEN];
        repr.emit(&mut out);
        assert_eq!(out, a);
        assert_eq!(voice_sync_burst(SyncPattern::MsVoice, &v.voice), a);

        let b: [u8; LEN] = unhex(VOICE_EMB);
        let repr = BurstRepr::parse(&b).unwrap();
        let BurstRepr::Voice(v) = repr else {
            panic!("{repr:?}")
        };
        let emb = Emb {
            colour_code: 1,
            pi: false,
            lcss: Lcss::FirstFragment,
        };
        assert_eq!(
            v.centre,
            VoiceCentre::Embedded {
                emb,
                corrected: 0,
                fragment: embedded_fragment(&b)
            }
        );
        let mut out = [0u8; LEN];
        repr.emit(&mut out);
        assert_eq!(out, b);
        assert_eq!(
            voice_embedded_burst(emb, embedded_fragment(&b), &v.voice),
            b
        );
    }

    #[test]
    fn sync_patterns_are_far_apart_and_named() {
        let mut min = u32::MAX;
        for (i, a) in SyncPattern::ALL.iter().enumerate() {
            for b in &SyncPattern::ALL[i + 1..] {
                min = min.min((a.pattern() ^ b.pattern()).count_ones());
            }
        }
        assert_eq!(min, 10);
        assert!(2 * MAX_SYNC_ERRORS < min);
        let names: Vec<&str> = SyncPattern::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "bs_voice",
                "bs_data",
                "ms_voice",
                "ms_data",
                "ms_rc",
                "ts1_voice",
                "ts1_data",
                "ts2_voice",
                "ts2_data",
                "reserved"
            ]
        );
        // MMDVMHost DMRDefines.h keeps BS data sync burst-aligned as 0x0D,0xFF,0x57,...,0xD0
        let mut burst = [0u8; LEN];
        set_sync(&mut burst, SyncPattern::BsData);
        assert_eq!(burst[13..20], [0x0D, 0xFF, 0x57, 0xD7, 0x5D, 0xF5, 0xD0]);
    }

    #[test]
    fn sync_tolerates_up_to_four_wrong_bits() {
        let clean: [u8; LEN] = unhex(GOLDEN_CLEAN);
        for n in 1..=6u32 {
            let mut burst = clean;
            let bits = (0..n).fold(sync_bits(&burst), |s, i| s ^ (1 << (7 * i)));
            set_sync_bits(&mut burst, bits);
            let got = detect_sync(&burst);
            if n <= MAX_SYNC_ERRORS {
                assert_eq!(got, Some((SyncPattern::BsData, n)));
                assert_eq!(data(BurstRepr::parse(&burst).unwrap()).sync_errors, n);
            } else {
                assert_eq!(got, None);
            }
        }
    }

    #[test]
    fn slot_type_and_emb_corrections_are_counted() {
        let clean: [u8; LEN] = unhex(GOLDEN_CLEAN);
        let mut burst = clean;
        set_slot_type_bits(
            &mut burst,
            slot_type_bits(&clean) ^ 0b1000_0000_0100_0000_0001,
        );
        let d = data(BurstRepr::parse(&burst).unwrap());
        assert_eq!(d.slot_type.data_type, DataType::Csbk);
        assert_eq!(d.slot_type_corrected, 3);

        let b: [u8; LEN] = unhex(VOICE_EMB);
        let mut burst = b;
        set_emb_bits(&mut burst, emb_bits(&b) ^ 0x8001);
        let BurstRepr::Voice(v) = BurstRepr::parse(&burst).unwrap() else {
            panic!()
        };
        let VoiceCentre::Embedded { corrected, .. } = v.centre else {
            panic!()
        };
        assert_eq!(corrected, 2);
    }

    #[test]
    fn parse_rejections_name_the_field() {
        let clean: [u8; LEN] = unhex(GOLDEN_CLEAN);
        assert_eq!(
            BurstRepr::parse(&clean[..32]),
            Err(WireError::Truncated {
                frame: "burst",
                need: 33,
                have: 32
            })
        );
        let mut long = clean.to_vec();
        long.push(0);
        assert_eq!(
            BurstRepr::parse(&long),
            Err(WireError::TooLong {
                frame: "burst",
                max: 33,
                have: 34
            })
        );
        let mut burst = clean;
        set_slot_type_bits(&mut burst, slot_type_bits(&clean) ^ 0xF);
        assert_eq!(
            BurstRepr::parse(&burst),
            Err(WireError::Uncorrectable {
                frame: "burst",
                field: "slot_type"
            })
        );
        let b: [u8; LEN] = unhex(VOICE_EMB);
        let mut burst = b;
        set_emb_bits(&mut burst, emb_bits(&b) ^ 0x0007);
        assert_eq!(
            BurstRepr::parse(&burst),
            Err(WireError::Uncorrectable {
                frame: "burst",
                field: "emb"
            })
        );
    }

    #[test]
    fn parse_never_panics() {
        let mut buf = [0u8; 40];
        for seed in 0..3000u64 {
            noise(seed, &mut buf);
            let len = (seed % 41) as usize;
            let _ = BurstRepr::parse(&buf[..len]);
        }
        for fill in [0x00u8, 0xFF, 0xA5, 0x5A] {
            let _ = BurstRepr::parse(&[fill; LEN]);
        }
    }

    fn emitted(fill: u8, f: impl Fn(&mut [u8; LEN])) -> [u8; LEN] {
        let mut burst = [fill; LEN];
        f(&mut burst);
        burst
    }

    #[test]
    fn emit_into_dirty_buffer_equals_emit_into_zeros() {
        let mut info = [0u8; INFO_LEN];
        noise(7, &mut info);
        info[24] &= 0xF0;
        let mut voice = [0u8; VOICE_LEN];
        noise(11, &mut voice);
        let emb = Emb {
            colour_code: 9,
            pi: true,
            lcss: Lcss::Continuation,
        };
        let reprs = [
            BurstRepr::Data(DataBurst::new(
                SyncPattern::Ts2Data,
                7,
                DataType::Reserved(14),
                info,
            )),
            BurstRepr::Voice(VoiceBurst::with_sync(SyncPattern::BsVoice, voice)),
            BurstRepr::Voice(VoiceBurst::with_emb(emb, 0xDEAD_BEEF, voice)),
            BurstRepr::Other(OtherBurst {
                sync: SyncPattern::MsRc,
                sync_errors: 0,
                outer: voice,
            }),
        ];
        for repr in reprs {
            let dirty = emitted(0xA5, |b| repr.emit(b));
            assert_eq!(dirty, emitted(0x00, |b| repr.emit(b)), "{repr:?}");
            assert_eq!(dirty, emitted(0xFF, |b| repr.emit(b)), "{repr:?}");
            assert_eq!(BurstRepr::parse(&dirty), Ok(repr));
        }
    }

    type Setter<'a> = (&'a [usize], Box<dyn Fn(&mut [u8; LEN]) + 'a>);

    /// Reference bit positions of each field, from the layout table (docs/air-interface.md §1.1).
    fn positions(ranges: &[core::ops::Range<usize>]) -> Vec<usize> {
        ranges.iter().flat_map(|r| r.clone()).collect()
    }

    fn read(burst: &[u8], pos: &[usize]) -> Vec<bool> {
        pos.iter().map(|&p| bits::get_flag(burst, p)).collect()
    }

    fn pack(flags: &[bool], len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        for (i, &f) in flags.iter().enumerate() {
            bits::put_flag(&mut out, i, f);
        }
        out
    }

    #[test]
    fn field_accessors_match_the_layout_and_touch_nothing_else() {
        let info_pos = positions(&[0..98, 166..264]);
        let voice_pos = positions(&[0..108, 156..264]);
        let slot_pos = positions(&[98..108, 156..166]);
        let emb_pos = positions(&[108..116, 148..156]);
        let frag_pos: Vec<usize> = (116..148).collect();
        let sync_pos: Vec<usize> = (108..156).collect();
        for seed in 1..50u64 {
            let mut burst = [0u8; LEN];
            noise(seed, &mut burst);
            assert_eq!(
                info_bits(&burst).to_vec(),
                pack(&read(&burst, &info_pos), INFO_LEN)
            );
            assert_eq!(
                voice_bits(&burst).to_vec(),
                pack(&read(&burst, &voice_pos), VOICE_LEN)
            );
            assert_eq!(
                u64::from(slot_type_bits(&burst)),
                bits::get(&pack(&read(&burst, &slot_pos), 3), 0, 20)
            );
            assert_eq!(
                u64::from(emb_bits(&burst)),
                bits::get(&pack(&read(&burst, &emb_pos), 2), 0, 16)
            );
            assert_eq!(
                u64::from(embedded_fragment(&burst)),
                bits::get(&burst, 116, 32)
            );
            assert_eq!(sync_bits(&burst), bits::get(&burst, 108, 48));

            let mut other = [0u8; LEN];
            noise(seed + 1000, &mut other);
            let setters: [Setter<'_>; 6] = [
                (
                    &info_pos,
                    Box::new(|b| set_info_bits(b, &info_bits(&other))),
                ),
                (
                    &voice_pos,
                    Box::new(|b| set_voice_bits(b, &voice_bits(&other))),
                ),
                (
                    &slot_pos,
                    Box::new(|b| set_slot_type_bits(b, slot_type_bits(&other))),
                ),
                (&emb_pos, Box::new(|b| set_emb_bits(b, emb_bits(&other)))),
                (
                    &frag_pos,
                    Box::new(|b| set_embedded_fragment(b, embedded_fragment(&other))),
                ),
                (&sync_pos, Box::new(|b| set_sync_bits(b, sync_bits(&other)))),
            ];
            for (pos, set) in setters {
                let mut b = burst;
                set(&mut b);
                for p in 0..LEN * 8 {
                    let want = if pos.contains(&p) { &other } else { &burst };
                    assert_eq!(bits::get_flag(&b, p), bits::get_flag(want, p), "bit {p}");
                }
            }
        }
    }

    #[test]
    fn rate_one_octets_round_trip_and_skip_bits_96_to_99() {
        let mut payload = [0u8; RATE_ONE_LEN];
        noise(3, &mut payload);
        let info = rate_one_info(&payload);
        assert_eq!(rate_one_payload(&info), payload);
        assert_eq!(info[12] & 0xF0, 0, "bits 96-99 are sent as 0");
        assert_eq!(info[24] & 0x0F, 0, "pad");
        let mut dirty = info;
        dirty[12] |= 0xF0;
        dirty[24] |= 0x0F;
        assert_eq!(rate_one_payload(&dirty), payload);
        assert_eq!(bits::get(&info, 100, 8), u64::from(payload[12]));
        assert_eq!(bits::get(&info, 188, 8), u64::from(payload[23]));
    }

    #[test]
    fn data_types_and_lcss_cover_every_value() {
        let names = [
            "pi_header",
            "voice_lc_header",
            "terminator_with_lc",
            "csbk",
            "mbc_header",
            "mbc_continuation",
            "data_header",
            "rate_half_data",
            "rate_three_quarter_data",
            "idle",
            "rate_one_data",
            "usbd",
            "reserved",
            "reserved",
            "reserved",
            "reserved",
        ];
        for (v, name) in names.iter().enumerate() {
            let dt = DataType::from_bits(v as u8);
            assert_eq!(dt.bits(), v as u8);
            assert_eq!(dt.name(), *name);
            for cc in 0..16 {
                let st = SlotType {
                    colour_code: cc,
                    data_type: dt,
                };
                assert_eq!(SlotType::from_codeword(st.codeword()), Some((st, 0)));
            }
        }
        for v in 0..4u8 {
            assert_eq!(Lcss::from_bits(v).bits(), v);
        }
    }
}
