//! MMDVM modem frames: typed commands (host → modem) and replies (modem → host), parse and emit.
//!
//! Framing (docs/transports.md §1.1; g4klx/MMDVMHost:Modem.cpp `getResponse`, g4klx/MMDVM:SerialPort.cpp):
//!
//! ```text
//! short: E0 | LEN (3..=255, whole frame incl. E0) | TYPE | payload[LEN-3]
//! long : E0 | 00 | L2 | TYPE | payload[...]          total length = L2 + 255
//! ```
//!
//! There is no checksum and no escaping; the receiver hunts for `0xE0` and trusts the length.
//! All multi-byte integers are little-endian except the RSSI after a DMR burst (big-endian).
//!
//! The codes and payload layouts follow docs/transports.md §1.2-1.6 and g4klx/MMDVMHost:Modem.cpp
//! (`setConfig1`, `setConfig2`, `setFrequency`, `readVersion`). The same type code means
//! different things in the two directions (GET_VERSION is empty one way and a version report the
//! other, DMR_DATA carries RSSI only towards the host), so parsing takes a [`Direction`]; the
//! GET_STATUS and SET_CONFIG layouts differ between protocol versions 1 and 2, so they carry a
//! [`ProtocolVersion`].
//!
//! Contract (as in `wire`): `parse` never panics, whatever the input, and returns a
//! [`WireError`] naming the frame and the field; `emit` writes exactly `buffer_len()` octets. A
//! type code this module does not model is kept as `Other { kind, payload }`, not an error.

use crate::link::{BURST_LEN, Burst, Slot};
use crate::wire::{Result, WireError};

/// First octet of every frame (docs/transports.md §1.1; g4klx/MMDVMHost:Modem.cpp `MMDVM_FRAME_START`).
pub const FRAME_START: u8 = 0xE0;
/// Shortest frame: E0, LEN, TYPE (docs/transports.md §1.1: LEN is 3..255).
pub const MIN_FRAME_LEN: usize = 3;
/// Longest short frame (LEN is one octet).
pub const MAX_SHORT_LEN: usize = 255;
/// A long frame's total length is L2 + 255 (docs/transports.md §1.1), so at most 255 + 255.
pub const MAX_FRAME_LEN: usize = 255 + 255;
/// Header of a short frame: E0 LEN TYPE.
const SHORT_HEADER: usize = 3;
/// Header of a long frame: E0 00 L2 TYPE.
const LONG_HEADER: usize = 4;
/// Largest payload a frame can carry (a long frame of [`MAX_FRAME_LEN`]).
pub const MAX_PAYLOAD: usize = MAX_FRAME_LEN - LONG_HEADER;

/// Frame type codes (docs/transports.md §1.2; g4klx/MMDVMHost:Modem.cpp `MMDVM_*` constants).
pub mod kind {
    pub const GET_VERSION: u8 = 0x00;
    pub const GET_STATUS: u8 = 0x01;
    pub const SET_CONFIG: u8 = 0x02;
    pub const SET_MODE: u8 = 0x03;
    pub const SET_FREQ: u8 = 0x04;
    pub const CAL_DATA: u8 = 0x08;
    pub const RSSI_DATA: u8 = 0x09;
    pub const SEND_CWID: u8 = 0x0A;
    /// 2026 trunking firmware (g4klx/MMDVM a696fd4; docs/transports.md §1.10).
    pub const DMR_ALOHA: u8 = 0x17;
    pub const DMR_DATA1: u8 = 0x18;
    pub const DMR_LOST1: u8 = 0x19;
    pub const DMR_DATA2: u8 = 0x1A;
    pub const DMR_LOST2: u8 = 0x1B;
    pub const DMR_SHORTLC: u8 = 0x1C;
    pub const DMR_START: u8 = 0x1D;
    pub const DMR_ABORT: u8 = 0x1E;
    pub const ACK: u8 = 0x70;
    pub const NAK: u8 = 0x7F;
    pub const SERIAL_DATA: u8 = 0x80;
    pub const TRANSPARENT: u8 = 0x90;
    pub const QSO_INFO: u8 = 0x91;
    pub const DEBUG1: u8 = 0xF1;
    pub const DEBUG5: u8 = 0xF5;
    pub const DEBUG_DUMP: u8 = 0xFA;

    /// Is `k` a code some MMDVM firmware or host sends (docs/transports.md §1.2, including the other
    /// modes' codes listed under the table)? Frames with such a code are kept as `Other`; any
    /// other code marks a false frame start.
    pub const fn is_known(k: u8) -> bool {
        matches!(k,
            0x00..=0x04 | 0x08..=0x0A          // control, calibration, CW id
            | 0x10..=0x13                      // D-Star
            | 0x17..=0x1E                      // DMR
            | 0x20..=0x21                      // YSF
            | 0x30..=0x32                      // P25
            | 0x40..=0x41 | 0x45..=0x49        // NXDN, M17
            | 0x50 | 0x60..=0x68               // POCSAG, FM
            | 0x70 | 0x7F                      // ACK, NAK
            | 0x80 | 0x90 | 0x91               // serial pass-through, transparent, QSO info
            | 0xF1..=0xF5 | 0xFA) // debug
    }

    /// Name used in logs and errors.
    pub const fn name(k: u8) -> &'static str {
        match k {
            GET_VERSION => "GET_VERSION",
            GET_STATUS => "GET_STATUS",
            SET_CONFIG => "SET_CONFIG",
            SET_MODE => "SET_MODE",
            SET_FREQ => "SET_FREQ",
            CAL_DATA => "CAL_DATA",
            RSSI_DATA => "RSSI_DATA",
            SEND_CWID => "SEND_CWID",
            DMR_ALOHA => "DMR_ALOHA",
            DMR_DATA1 => "DMR_DATA1",
            DMR_LOST1 => "DMR_LOST1",
            DMR_DATA2 => "DMR_DATA2",
            DMR_LOST2 => "DMR_LOST2",
            DMR_SHORTLC => "DMR_SHORTLC",
            DMR_START => "DMR_START",
            DMR_ABORT => "DMR_ABORT",
            ACK => "ACK",
            NAK => "NAK",
            SERIAL_DATA => "SERIAL_DATA",
            TRANSPARENT => "TRANSPARENT",
            QSO_INFO => "QSO_INFO",
            0xF1..=0xF5 => "DEBUG",
            DEBUG_DUMP => "DEBUG_DUMP",
            _ => "unknown",
        }
    }
}

/// Which way a frame travels; the same code means different things each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Host → modem: [`Command`]s.
    ToModem,
    /// Modem → host: [`Reply`]s.
    ToHost,
}

/// MMDVM serial protocol version, from the GET_VERSION reply (docs/transports.md §1.4, 1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ProtocolVersion {
    /// MMDVM_HS and older firmware.
    V1,
    /// g4klx/MMDVM firmware.
    V2,
}

impl ProtocolVersion {
    /// The number on the wire.
    pub const fn number(self) -> u8 {
        match self {
            ProtocolVersion::V1 => 1,
            ProtocolVersion::V2 => 2,
        }
    }
}

/// Modem operating mode for SET_MODE and GET_STATUS (docs/transports.md §1.2, SET_MODE row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Idle,
    DStar,
    Dmr,
    Ysf,
    P25,
    Nxdn,
    Pocsag,
    Fm,
    /// Calibration and anything else, kept as sent.
    Other(u8),
}

impl From<u8> for Mode {
    fn from(v: u8) -> Mode {
        match v {
            0 => Mode::Idle,
            1 => Mode::DStar,
            2 => Mode::Dmr,
            3 => Mode::Ysf,
            4 => Mode::P25,
            5 => Mode::Nxdn,
            6 => Mode::Pocsag,
            10 => Mode::Fm,
            other => Mode::Other(other),
        }
    }
}

impl From<Mode> for u8 {
    fn from(m: Mode) -> u8 {
        match m {
            Mode::Idle => 0,
            Mode::DStar => 1,
            Mode::Dmr => 2,
            Mode::Ysf => 3,
            Mode::P25 => 4,
            Mode::Nxdn => 5,
            Mode::Pocsag => 6,
            Mode::Fm => 10,
            Mode::Other(v) => v,
        }
    }
}

/// Why a modem refused a command (docs/transports.md §1.2 NAK reasons; g4klx/MMDVM:SerialPort.cpp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NakReason {
    /// 1: the firmware does not know the command.
    UnknownCommand,
    /// 2: wrong mode, or the mode is not enabled (DMR_DATA1 in simplex).
    WrongMode,
    /// 4: bad length or bad parameter.
    BadParameter,
    /// 5: no buffer space, or busy.
    NoSpace,
    /// Any other code, kept as sent.
    Other(u8),
}

impl From<u8> for NakReason {
    fn from(v: u8) -> NakReason {
        match v {
            1 => NakReason::UnknownCommand,
            2 => NakReason::WrongMode,
            4 => NakReason::BadParameter,
            5 => NakReason::NoSpace,
            other => NakReason::Other(other),
        }
    }
}

impl From<NakReason> for u8 {
    fn from(r: NakReason) -> u8 {
        match r {
            NakReason::UnknownCommand => 1,
            NakReason::WrongMode => 2,
            NakReason::BadParameter => 4,
            NakReason::NoSpace => 5,
            NakReason::Other(v) => v,
        }
    }
}

impl core::fmt::Display for NakReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NakReason::UnknownCommand => f.write_str("unknown command (1)"),
            NakReason::WrongMode => f.write_str("wrong mode or mode not enabled (2)"),
            NakReason::BadParameter => f.write_str("bad length or parameter (4)"),
            NakReason::NoSpace => f.write_str("no buffer space (5)"),
            NakReason::Other(v) => write!(f, "reason {v}"),
        }
    }
}

/// SET_CONFIG flag bits, byte 3 of the frame in both versions (docs/transports.md §1.6).
pub mod config_flag {
    pub const RX_INVERT: u8 = 0x01;
    pub const TX_INVERT: u8 = 0x02;
    pub const PTT_INVERT: u8 = 0x04;
    pub const YSF_LO_DEV: u8 = 0x08;
    pub const DEBUG: u8 = 0x10;
    pub const COS_AS_LOCKOUT: u8 = 0x20;
    /// Set when `Duplex=0` (g4klx/MMDVMHost:Modem.cpp `if (!m_duplex) buffer[3U] |= 0x80U`).
    pub const SIMPLEX: u8 = 0x80;
}

/// SET_CONFIG enabled-modes bits, byte 4 (docs/transports.md §1.6).
pub mod config_mode {
    pub const DSTAR: u8 = 0x01;
    pub const DMR: u8 = 0x02;
    pub const YSF: u8 = 0x04;
    pub const P25: u8 = 0x08;
    pub const NXDN: u8 = 0x10;
}

/// v2 SET_CONFIG byte 28, bit 7: DMR trunking (g4klx/MMDVM a696fd4; docs/transports.md §1.10).
pub const CONFIG_DMR_TRUNKING: u8 = 0x80;

/// Transmit levels in SET_CONFIG, each 0-255 for 0-100 % (g4klx/MMDVMHost:Modem.cpp
/// `level * 2.55 + 0.5`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxLevels {
    pub cw: u8,
    pub dstar: u8,
    pub dmr: u8,
    pub ysf: u8,
    pub p25: u8,
    pub nxdn: u8,
    pub m17: u8,
    pub pocsag: u8,
    pub fm: u8,
    /// v2 only.
    pub ax25: u8,
}

/// SET_CONFIG contents. The two layouts (v1 26-octet frame, v2 40-octet frame) carry mostly the
/// same fields at different offsets (docs/transports.md §1.6; g4klx/MMDVMHost:Modem.cpp `setConfig1`,
/// `setConfig2`). Fields a layout lacks are emitted nowhere and parse as 0; reserved octets are
/// emitted as 0 (v1 octet 11, the former oscillator offset, as 128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModemConfig {
    /// Which layout.
    pub version: ProtocolVersion,
    /// [`config_flag`] bits.
    pub flags: u8,
    /// [`config_mode`] bits (v1 also 0x20 POCSAG, 0x40 M17; v2 0x20 FM, 0x40 M17).
    pub modes: u8,
    /// v2 only: 0x01 POCSAG, 0x02 AX.25.
    pub modes2: u8,
    /// Transmitter key-up delay in 10 ms units (the firmware NAKs > 50).
    pub tx_delay: u8,
    /// Initial modem state (0 = idle).
    pub initial_state: u8,
    /// Signed DC offsets, sent as value + 128.
    pub tx_dc_offset: i8,
    pub rx_dc_offset: i8,
    /// Receive level 0-255.
    pub rx_level: u8,
    pub tx_levels: TxLevels,
    /// TX hang times in seconds.
    pub ysf_hang: u8,
    pub p25_hang: u8,
    pub nxdn_hang: u8,
    pub m17_hang: u8,
    /// v2 byte 28: bit 7 = DMR trunking ([`CONFIG_DMR_TRUNKING`]).
    pub dmr_options: u8,
    /// DMR colour code 0-15 (the firmware NAKs > 15).
    pub colour_code: u8,
    /// DMR receive delay.
    pub dmr_delay: u8,
    /// v2 only: AX.25 receive twist (sent + 128), TX delay and slot time (10 ms units),
    /// p-persistence.
    pub ax25_rx_twist: i8,
    pub ax25_tx_delay: u8,
    pub ax25_slot_time: u8,
    pub ax25_p_persist: u8,
}

impl ModemConfig {
    /// A DMR-only configuration with everything else zero.
    pub fn dmr(version: ProtocolVersion, colour_code: u8, duplex: bool) -> ModemConfig {
        ModemConfig {
            version,
            flags: if duplex { 0 } else { config_flag::SIMPLEX },
            modes: config_mode::DMR,
            modes2: 0,
            tx_delay: 0,
            initial_state: 0,
            tx_dc_offset: 0,
            rx_dc_offset: 0,
            rx_level: 0,
            tx_levels: TxLevels::default(),
            ysf_hang: 0,
            p25_hang: 0,
            nxdn_hang: 0,
            m17_hang: 0,
            dmr_options: 0,
            colour_code,
            dmr_delay: 0,
            ax25_rx_twist: 0,
            ax25_tx_delay: 0,
            ax25_slot_time: 0,
            ax25_p_persist: 0,
        }
    }

    /// Payload length of each layout (frame 26 / 40 octets, docs/transports.md §1.6).
    const fn payload_len(version: ProtocolVersion) -> usize {
        match version {
            ProtocolVersion::V1 => 23,
            ProtocolVersion::V2 => 37,
        }
    }

    fn emit_payload(&self, p: &mut [u8]) {
        let off = |v: i8| (v as u8) ^ 0x80; // value + 128 in two's complement
        let l = &self.tx_levels;
        p.fill(0);
        match self.version {
            // g4klx/MMDVMHost:Modem.cpp setConfig1, frame offsets minus 3.
            ProtocolVersion::V1 => {
                p[0] = self.flags;
                p[1] = self.modes;
                p[2] = self.tx_delay;
                p[3] = self.initial_state;
                p[4] = self.rx_level;
                p[5] = l.cw;
                p[6] = self.colour_code;
                p[7] = self.dmr_delay;
                p[8] = 128; // "Was OscOffset"
                p[9] = l.dstar;
                p[10] = l.dmr;
                p[11] = l.ysf;
                p[12] = l.p25;
                p[13] = off(self.tx_dc_offset);
                p[14] = off(self.rx_dc_offset);
                p[15] = l.nxdn;
                p[16] = self.ysf_hang;
                p[17] = l.pocsag;
                p[18] = l.fm;
                p[19] = self.p25_hang;
                p[20] = self.nxdn_hang;
                p[21] = l.m17;
                p[22] = self.m17_hang;
            }
            // g4klx/MMDVMHost:Modem.cpp setConfig2, frame offsets minus 3.
            ProtocolVersion::V2 => {
                p[0] = self.flags;
                p[1] = self.modes;
                p[2] = self.modes2;
                p[3] = self.tx_delay;
                p[4] = self.initial_state;
                p[5] = off(self.tx_dc_offset);
                p[6] = off(self.rx_dc_offset);
                p[7] = self.rx_level;
                p[8..18].copy_from_slice(&[
                    l.cw, l.dstar, l.dmr, l.ysf, l.p25, l.nxdn, l.m17, l.pocsag, l.fm, l.ax25,
                ]);
                p[20] = self.ysf_hang;
                p[21] = self.p25_hang;
                p[22] = self.nxdn_hang;
                p[23] = self.m17_hang;
                p[25] = self.dmr_options;
                p[26] = self.colour_code;
                p[27] = self.dmr_delay;
                p[28] = off(self.ax25_rx_twist);
                p[29] = self.ax25_tx_delay;
                p[30] = self.ax25_slot_time;
                p[31] = self.ax25_p_persist;
            }
        }
    }

    fn parse_payload(p: &[u8]) -> Result<ModemConfig> {
        let version = match p.len() {
            23 => ProtocolVersion::V1,
            37 => ProtocolVersion::V2,
            have => {
                return Err(WireError::Invalid {
                    frame: "mmdvm SET_CONFIG",
                    field: "length",
                    value: have as u32,
                });
            }
        };
        let off = |v: u8| (v ^ 0x80) as i8;
        let mut c = ModemConfig::dmr(version, 0, true);
        c.flags = p[0];
        c.modes = p[1];
        match version {
            ProtocolVersion::V1 => {
                c.tx_delay = p[2];
                c.initial_state = p[3];
                c.rx_level = p[4];
                c.tx_levels.cw = p[5];
                c.colour_code = p[6];
                c.dmr_delay = p[7];
                c.tx_levels.dstar = p[9];
                c.tx_levels.dmr = p[10];
                c.tx_levels.ysf = p[11];
                c.tx_levels.p25 = p[12];
                c.tx_dc_offset = off(p[13]);
                c.rx_dc_offset = off(p[14]);
                c.tx_levels.nxdn = p[15];
                c.ysf_hang = p[16];
                c.tx_levels.pocsag = p[17];
                c.tx_levels.fm = p[18];
                c.p25_hang = p[19];
                c.nxdn_hang = p[20];
                c.tx_levels.m17 = p[21];
                c.m17_hang = p[22];
            }
            ProtocolVersion::V2 => {
                c.modes2 = p[2];
                c.tx_delay = p[3];
                c.initial_state = p[4];
                c.tx_dc_offset = off(p[5]);
                c.rx_dc_offset = off(p[6]);
                c.rx_level = p[7];
                let l = &mut c.tx_levels;
                [
                    l.cw, l.dstar, l.dmr, l.ysf, l.p25, l.nxdn, l.m17, l.pocsag, l.fm, l.ax25,
                ] = [
                    p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17],
                ];
                c.ysf_hang = p[20];
                c.p25_hang = p[21];
                c.nxdn_hang = p[22];
                c.m17_hang = p[23];
                c.dmr_options = p[25];
                c.colour_code = p[26];
                c.dmr_delay = p[27];
                c.ax25_rx_twist = off(p[28]);
                c.ax25_tx_delay = p[29];
                c.ax25_slot_time = p[30];
                c.ax25_p_persist = p[31];
            }
        }
        Ok(c)
    }
}

/// SET_FREQ (docs/transports.md §1.2; g4klx/MMDVMHost:Modem.cpp `setFrequency`): `00`, RX Hz LE32,
/// TX Hz LE32, then (not for DVMEGA, 12-octet frame) RF level and POCSAG Hz LE32 (17 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetFreq {
    pub rx_hz: u32,
    pub tx_hz: u32,
    /// RF power 0-255 and POCSAG frequency; `None` for the short DVMEGA form.
    pub rf_level_pocsag: Option<(u8, u32)>,
}

/// A command, host → modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    GetVersion,
    GetStatus,
    SetConfig(ModemConfig),
    SetMode(Mode),
    SetFreq(SetFreq),
    /// DMR_DATA1/2: control byte (ignored by the firmware; MMDVMHost sends 0) and a burst.
    DmrData {
        slot: Slot,
        control: u8,
        burst: Burst,
    },
    /// Short LC, already Hamming-encoded (9 octets, docs/transports.md §1.2).
    DmrShortLc([u8; 9]),
    /// DMR_START: transmitter on / off (duplex only).
    DmrStart(bool),
    /// DMR_ABORT: drop the slot's queued frames.
    DmrAbort(Slot),
    /// DMR_ALOHA: the CSBK the trunking firmware sends in idle TS1 bursts (docs/transports.md §1.10).
    DmrAloha(Burst),
    /// Any other code, kept as sent (payload at most [`MAX_PAYLOAD`] octets are emitted).
    Other {
        kind: u8,
        payload: Vec<u8>,
    },
}

/// GET_VERSION reply (docs/transports.md §1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// `E0 LEN 00 01 description…` (MMDVM_HS).
    V1 { description: Vec<u8> },
    /// `E0 LEN 00 02 CAP1 CAP2 CPU UDID[16] description…` (g4klx/MMDVM).
    V2 {
        capabilities1: u8,
        capabilities2: u8,
        cpu: u8,
        udid: [u8; 16],
        description: Vec<u8>,
    },
    /// A protocol version the host does not speak (MMDVMHost rejects anything but 1 and 2).
    Unsupported { protocol: u8, rest: Vec<u8> },
}

/// GET_VERSION v2 capability bit for DMR (docs/transports.md §1.4, CAP1).
pub const CAP1_DMR: u8 = 0x02;

impl Version {
    /// The protocol version, if supported.
    pub fn protocol(&self) -> Option<ProtocolVersion> {
        match self {
            Version::V1 { .. } => Some(ProtocolVersion::V1),
            Version::V2 { .. } => Some(ProtocolVersion::V2),
            Version::Unsupported { .. } => None,
        }
    }

    /// The description text (lossy UTF-8, up to the first NUL: HS appends `\0` + UDID).
    pub fn description(&self) -> String {
        let d = match self {
            Version::V1 { description } | Version::V2 { description, .. } => description,
            Version::Unsupported { rest, .. } => rest,
        };
        let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
        String::from_utf8_lossy(&d[..end]).into_owned()
    }

    /// Does the modem say it can do DMR? (v1 implies every mode, g4klx/MMDVMHost:Modem.cpp.)
    pub fn has_dmr(&self) -> bool {
        match self {
            Version::V1 { .. } => true,
            Version::V2 { capabilities1, .. } => capabilities1 & CAP1_DMR != 0,
            Version::Unsupported { .. } => false,
        }
    }
}

/// GET_STATUS flag bits (docs/transports.md §1.5).
pub mod status_flag {
    pub const TX: u8 = 0x01;
    pub const ADC_OVERFLOW: u8 = 0x02;
    pub const RX_OVERFLOW: u8 = 0x04;
    pub const TX_OVERFLOW: u8 = 0x08;
    pub const LOCKOUT: u8 = 0x10;
    pub const DAC_OVERFLOW: u8 = 0x20;
    pub const CARRIER: u8 = 0x40;
}

/// GET_STATUS reply (docs/transports.md §1.5). Buffer spaces are in frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Which layout: v2 20-octet frame, v1 14-octet frame.
    pub version: ProtocolVersion,
    /// v1 only: enabled-modes bitmap (0 in v2).
    pub modes: u8,
    /// Modem state (the current [`Mode`] code).
    pub state: u8,
    /// [`status_flag`] bits.
    pub flags: u8,
    pub dstar_space: u8,
    /// Free DMR transmit buffer per slot, in frames: index 0 = TS1, 1 = TS2.
    pub dmr_space: [u8; 2],
    pub ysf_space: u8,
    pub p25_space: u8,
    pub nxdn_space: u8,
    pub m17_space: u8,
    pub pocsag_space: u8,
    pub fm_space: u8,
}

impl Status {
    /// Free DMR frames for `slot`.
    pub const fn dmr_space(&self, slot: Slot) -> u8 {
        match slot {
            Slot::One => self.dmr_space[0],
            Slot::Two => self.dmr_space[1],
        }
    }

    /// Transmitter keyed.
    pub const fn tx(&self) -> bool {
        self.flags & status_flag::TX != 0
    }

    /// Payload octets of each layout: 20-octet (v2) and 14-octet (v1) frames (docs/transports.md §1.5).
    const fn payload_len(version: ProtocolVersion) -> usize {
        match version {
            ProtocolVersion::V1 => 11,
            ProtocolVersion::V2 => 17,
        }
    }

    /// Payload octets up to the DMR TS2 space: the least a status must carry.
    const MIN_PAYLOAD: usize = 6;

    fn parse_payload(version: ProtocolVersion, p: &[u8]) -> Result<Status> {
        if p.len() < Self::MIN_PAYLOAD {
            return Err(WireError::Truncated {
                frame: "mmdvm GET_STATUS reply",
                need: Self::MIN_PAYLOAD + SHORT_HEADER,
                have: p.len() + SHORT_HEADER,
            });
        }
        // Real v1 boards may omit the trailing spaces (docs/transports.md §7.6): absent reads as 0.
        let at = |i: usize| p.get(i).copied().unwrap_or(0);
        let (modes, state, flags) = match version {
            ProtocolVersion::V1 => (at(0), at(1), at(2)),
            ProtocolVersion::V2 => (0, at(0), at(1)),
        };
        let (m17, pocsag, fm) = match version {
            ProtocolVersion::V1 => (at(10), at(9), 0),
            ProtocolVersion::V2 => (at(9), at(11), at(10)),
        };
        Ok(Status {
            version,
            modes,
            state,
            flags,
            dstar_space: at(3),
            dmr_space: [at(4), at(5)],
            ysf_space: at(6),
            p25_space: at(7),
            nxdn_space: at(8),
            m17_space: m17,
            pocsag_space: pocsag,
            fm_space: fm,
        })
    }

    fn emit_payload(&self, p: &mut [u8]) {
        p.fill(0);
        match self.version {
            ProtocolVersion::V1 => {
                p[0] = self.modes;
                p[1] = self.state;
                p[2] = self.flags;
                p[9] = self.pocsag_space;
                p[10] = self.m17_space;
            }
            ProtocolVersion::V2 => {
                p[0] = self.state;
                p[1] = self.flags;
                p[9] = self.m17_space;
                p[10] = self.fm_space;
                p[11] = self.pocsag_space;
            }
        }
        p[3] = self.dstar_space;
        p[4] = self.dmr_space[0];
        p[5] = self.dmr_space[1];
        p[6] = self.ysf_space;
        p[7] = self.p25_space;
        p[8] = self.nxdn_space;
    }
}

/// A DMR burst from the modem (docs/transports.md §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmrData {
    pub slot: Slot,
    /// Control byte: 0x80 idle RX, 0x40 data sync + data type, 0x20 voice sync, 1-5 voice B-F.
    pub control: u8,
    pub burst: Burst,
    /// Raw RSSI (big-endian), present when the firmware is built with SEND_RSSI_DATA.
    pub rssi: Option<u16>,
}

/// A reply or unsolicited report, modem → host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Version(Version),
    Status(Status),
    DmrData(DmrData),
    /// DMR_LOST1/2: sync lost on the slot.
    DmrLost(Slot),
    Ack {
        command: u8,
    },
    Nak {
        command: u8,
        reason: NakReason,
    },
    /// DEBUG1..5: text followed by 0..4 big-endian int16 values (DEBUGn carries n-1 values).
    Debug {
        text: Vec<u8>,
        values: Vec<i16>,
    },
    /// DEBUG_DUMP: raw octets.
    DebugDump(Vec<u8>),
    /// Any other known code (other modes, serial pass-through), kept as sent.
    Other {
        kind: u8,
        payload: Vec<u8>,
    },
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Command(Command),
    Reply(Reply),
}

/// Total frame length for a payload, and whether the long form is needed.
const fn frame_len(payload: usize) -> usize {
    let p = if payload > MAX_PAYLOAD {
        MAX_PAYLOAD
    } else {
        payload
    };
    if p + SHORT_HEADER <= MAX_SHORT_LEN {
        p + SHORT_HEADER
    } else {
        p + LONG_HEADER
    }
}

/// Write the header for a frame of `kind` whose total length is `total` (from [`frame_len`]);
/// returns the payload slice.
fn emit_header(out: &mut [u8], kind: u8, total: usize) -> &mut [u8] {
    out[0] = FRAME_START;
    if total <= MAX_SHORT_LEN {
        out[1] = total as u8;
        out[2] = kind;
        &mut out[SHORT_HEADER..total]
    } else {
        out[1] = 0;
        out[2] = (total - 255) as u8;
        out[3] = kind;
        &mut out[LONG_HEADER..total]
    }
}

fn slot_data_kind(slot: Slot) -> u8 {
    match slot {
        Slot::One => kind::DMR_DATA1,
        Slot::Two => kind::DMR_DATA2,
    }
}

fn want_len(frame: &'static str, p: &[u8], want: usize) -> Result<()> {
    if p.len() < want {
        Err(WireError::Truncated {
            frame,
            need: want + SHORT_HEADER,
            have: p.len() + SHORT_HEADER,
        })
    } else if p.len() > want {
        Err(WireError::TooLong {
            frame,
            max: want + SHORT_HEADER,
            have: p.len() + SHORT_HEADER,
        })
    } else {
        Ok(())
    }
}

fn burst_of(p: &[u8]) -> Burst {
    let mut b = [0u8; BURST_LEN];
    b.copy_from_slice(&p[..BURST_LEN]);
    b
}

/// Octets of a DMR_DATA payload: control + burst (docs/transports.md §1.3).
const DMR_PAYLOAD: usize = 1 + BURST_LEN;
/// ... plus two RSSI octets (modem → host only).
const DMR_PAYLOAD_RSSI: usize = DMR_PAYLOAD + 2;

impl Command {
    /// The type code.
    pub fn kind(&self) -> u8 {
        match self {
            Command::GetVersion => kind::GET_VERSION,
            Command::GetStatus => kind::GET_STATUS,
            Command::SetConfig(_) => kind::SET_CONFIG,
            Command::SetMode(_) => kind::SET_MODE,
            Command::SetFreq(_) => kind::SET_FREQ,
            Command::DmrData { slot, .. } => slot_data_kind(*slot),
            Command::DmrShortLc(_) => kind::DMR_SHORTLC,
            Command::DmrStart(_) => kind::DMR_START,
            Command::DmrAbort(_) => kind::DMR_ABORT,
            Command::DmrAloha(_) => kind::DMR_ALOHA,
            Command::Other { kind, .. } => *kind,
        }
    }

    fn payload_len(&self) -> usize {
        match self {
            Command::GetVersion | Command::GetStatus => 0,
            Command::SetConfig(c) => ModemConfig::payload_len(c.version),
            Command::SetMode(_) | Command::DmrStart(_) | Command::DmrAbort(_) => 1,
            Command::SetFreq(f) => {
                if f.rf_level_pocsag.is_some() {
                    14
                } else {
                    9
                }
            }
            Command::DmrData { .. } => DMR_PAYLOAD,
            Command::DmrShortLc(_) => 9,
            Command::DmrAloha(_) => BURST_LEN,
            Command::Other { payload, .. } => payload.len().min(MAX_PAYLOAD),
        }
    }

    /// Octets [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        frame_len(self.payload_len())
    }

    /// Write the whole frame into `out[..buffer_len()]`. Panics if `out` is shorter (a caller
    /// bug, never input-driven).
    pub fn emit(&self, out: &mut [u8]) {
        let total = self.buffer_len();
        let p = emit_header(out, self.kind(), total);
        match self {
            Command::GetVersion | Command::GetStatus => {}
            Command::SetConfig(c) => c.emit_payload(p),
            Command::SetMode(m) => p[0] = u8::from(*m),
            Command::SetFreq(f) => {
                p[0] = 0;
                p[1..5].copy_from_slice(&f.rx_hz.to_le_bytes());
                p[5..9].copy_from_slice(&f.tx_hz.to_le_bytes());
                if let Some((level, pocsag)) = f.rf_level_pocsag {
                    p[9] = level;
                    p[10..14].copy_from_slice(&pocsag.to_le_bytes());
                }
            }
            Command::DmrData { control, burst, .. } => {
                p[0] = *control;
                p[1..].copy_from_slice(burst);
            }
            Command::DmrShortLc(lc) => p.copy_from_slice(lc),
            Command::DmrStart(on) => p[0] = u8::from(*on),
            Command::DmrAbort(slot) => p[0] = slot.number(),
            Command::DmrAloha(burst) => p.copy_from_slice(burst),
            Command::Other { payload, .. } => p.copy_from_slice(&payload[..p.len()]),
        }
    }

    /// The frame as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v);
        v
    }

    /// Parse a command from its type code and payload.
    pub fn parse(kind: u8, p: &[u8]) -> Result<Command> {
        Ok(match kind {
            kind::GET_VERSION => {
                want_len("mmdvm GET_VERSION", p, 0)?;
                Command::GetVersion
            }
            kind::GET_STATUS => {
                want_len("mmdvm GET_STATUS", p, 0)?;
                Command::GetStatus
            }
            kind::SET_CONFIG => Command::SetConfig(ModemConfig::parse_payload(p)?),
            kind::SET_MODE => {
                want_len("mmdvm SET_MODE", p, 1)?;
                Command::SetMode(Mode::from(p[0]))
            }
            kind::SET_FREQ => {
                const FRAME: &str = "mmdvm SET_FREQ";
                if p.len() != 9 && p.len() != 14 {
                    return Err(WireError::Invalid {
                        frame: FRAME,
                        field: "length",
                        value: (p.len() + SHORT_HEADER) as u32,
                    });
                }
                let le = |r: core::ops::Range<usize>| {
                    let mut a = [0u8; 4];
                    a.copy_from_slice(&p[r]);
                    u32::from_le_bytes(a)
                };
                Command::SetFreq(SetFreq {
                    rx_hz: le(1..5),
                    tx_hz: le(5..9),
                    rf_level_pocsag: (p.len() == 14).then(|| (p[9], le(10..14))),
                })
            }
            kind::DMR_DATA1 | kind::DMR_DATA2 => {
                want_len("mmdvm DMR_DATA", p, DMR_PAYLOAD)?;
                Command::DmrData {
                    slot: if kind == kind::DMR_DATA1 {
                        Slot::One
                    } else {
                        Slot::Two
                    },
                    control: p[0],
                    burst: burst_of(&p[1..]),
                }
            }
            kind::DMR_SHORTLC => {
                want_len("mmdvm DMR_SHORTLC", p, 9)?;
                let mut lc = [0u8; 9];
                lc.copy_from_slice(p);
                Command::DmrShortLc(lc)
            }
            kind::DMR_START => {
                want_len("mmdvm DMR_START", p, 1)?;
                match p[0] {
                    0 => Command::DmrStart(false),
                    1 => Command::DmrStart(true),
                    v => {
                        return Err(WireError::Invalid {
                            frame: "mmdvm DMR_START",
                            field: "state",
                            value: v.into(),
                        });
                    }
                }
            }
            kind::DMR_ABORT => {
                want_len("mmdvm DMR_ABORT", p, 1)?;
                match p[0] {
                    1 => Command::DmrAbort(Slot::One),
                    2 => Command::DmrAbort(Slot::Two),
                    v => {
                        return Err(WireError::Invalid {
                            frame: "mmdvm DMR_ABORT",
                            field: "slot",
                            value: v.into(),
                        });
                    }
                }
            }
            kind::DMR_ALOHA => {
                want_len("mmdvm DMR_ALOHA", p, BURST_LEN)?;
                Command::DmrAloha(burst_of(p))
            }
            other => Command::Other {
                kind: other,
                payload: p.to_vec(),
            },
        })
    }
}

impl Reply {
    /// The type code.
    pub fn kind(&self) -> u8 {
        match self {
            Reply::Version(_) => kind::GET_VERSION,
            Reply::Status(_) => kind::GET_STATUS,
            Reply::DmrData(d) => slot_data_kind(d.slot),
            Reply::DmrLost(Slot::One) => kind::DMR_LOST1,
            Reply::DmrLost(Slot::Two) => kind::DMR_LOST2,
            Reply::Ack { .. } => kind::ACK,
            Reply::Nak { .. } => kind::NAK,
            // DEBUGn carries n-1 values; more than 4 values are not emitted.
            Reply::Debug { values, .. } => kind::DEBUG1 + values.len().min(4) as u8,
            Reply::DebugDump(_) => kind::DEBUG_DUMP,
            Reply::Other { kind, .. } => *kind,
        }
    }

    fn payload_len(&self) -> usize {
        let n = match self {
            Reply::Version(Version::V1 { description }) => 1 + description.len(),
            Reply::Version(Version::V2 { description, .. }) => 1 + 3 + 16 + description.len(),
            Reply::Version(Version::Unsupported { rest, .. }) => 1 + rest.len(),
            Reply::Status(s) => Status::payload_len(s.version),
            Reply::DmrData(d) => {
                if d.rssi.is_some() {
                    DMR_PAYLOAD_RSSI
                } else {
                    DMR_PAYLOAD
                }
            }
            Reply::DmrLost(_) => 0,
            Reply::Ack { .. } => 1,
            Reply::Nak { .. } => 2,
            Reply::Debug { text, values } => text.len() + 2 * values.len().min(4),
            Reply::DebugDump(data) => data.len(),
            Reply::Other { payload, .. } => payload.len(),
        };
        n.min(MAX_PAYLOAD)
    }

    /// Octets [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        frame_len(self.payload_len())
    }

    /// Write the whole frame into `out[..buffer_len()]` (variable parts longer than
    /// [`MAX_PAYLOAD`] are cut). Panics if `out` is shorter (a caller bug).
    pub fn emit(&self, out: &mut [u8]) {
        let total = self.buffer_len();
        let p = emit_header(out, self.kind(), total);
        // Copy as much of `src` as fits from `at`.
        fn put(p: &mut [u8], at: usize, src: &[u8]) {
            if let Some(dst) = p.get_mut(at..) {
                let n = dst.len().min(src.len());
                dst[..n].copy_from_slice(&src[..n]);
            }
        }
        match self {
            Reply::Version(Version::V1 { description }) => {
                p[0] = 1;
                put(p, 1, description);
            }
            Reply::Version(Version::V2 {
                capabilities1,
                capabilities2,
                cpu,
                udid,
                description,
            }) => {
                p[0] = 2;
                p[1] = *capabilities1;
                p[2] = *capabilities2;
                p[3] = *cpu;
                p[4..20].copy_from_slice(udid);
                put(p, 20, description);
            }
            Reply::Version(Version::Unsupported { protocol, rest }) => {
                p[0] = *protocol;
                put(p, 1, rest);
            }
            Reply::Status(s) => s.emit_payload(p),
            Reply::DmrData(d) => {
                p[0] = d.control;
                p[1..DMR_PAYLOAD].copy_from_slice(&d.burst);
                if let Some(rssi) = d.rssi {
                    p[DMR_PAYLOAD..].copy_from_slice(&rssi.to_be_bytes());
                }
            }
            Reply::DmrLost(_) => {}
            Reply::Ack { command } => p[0] = *command,
            Reply::Nak { command, reason } => {
                p[0] = *command;
                p[1] = u8::from(*reason);
            }
            Reply::Debug { text, values } => {
                let n = values.len().min(4);
                let text_len = p.len() - 2 * n;
                put(&mut p[..text_len], 0, text);
                for (i, v) in values.iter().take(n).enumerate() {
                    let at = text_len + 2 * i;
                    p[at..at + 2].copy_from_slice(&v.to_be_bytes());
                }
            }
            Reply::DebugDump(data) => put(p, 0, data),
            Reply::Other { payload, .. } => put(p, 0, payload),
        }
    }

    /// The frame as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v);
        v
    }

    /// Parse a reply from its type code and payload; `version` picks the GET_STATUS layout.
    pub fn parse(kind: u8, p: &[u8], version: ProtocolVersion) -> Result<Reply> {
        Ok(match kind {
            kind::GET_VERSION => {
                const FRAME: &str = "mmdvm GET_VERSION reply";
                let Some((&protocol, rest)) = p.split_first() else {
                    return Err(WireError::Truncated {
                        frame: FRAME,
                        need: SHORT_HEADER + 1,
                        have: SHORT_HEADER,
                    });
                };
                Reply::Version(match protocol {
                    1 => Version::V1 {
                        description: rest.to_vec(),
                    },
                    2 => {
                        // CAP1 CAP2 CPU UDID[16] before the description.
                        if rest.len() < 19 {
                            return Err(WireError::Truncated {
                                frame: FRAME,
                                need: SHORT_HEADER + 20,
                                have: p.len() + SHORT_HEADER,
                            });
                        }
                        let mut udid = [0u8; 16];
                        udid.copy_from_slice(&rest[3..19]);
                        Version::V2 {
                            capabilities1: rest[0],
                            capabilities2: rest[1],
                            cpu: rest[2],
                            udid,
                            description: rest[19..].to_vec(),
                        }
                    }
                    other => Version::Unsupported {
                        protocol: other,
                        rest: rest.to_vec(),
                    },
                })
            }
            kind::GET_STATUS => Reply::Status(Status::parse_payload(version, p)?),
            kind::DMR_DATA1 | kind::DMR_DATA2 => {
                let slot = if kind == kind::DMR_DATA1 {
                    Slot::One
                } else {
                    Slot::Two
                };
                let rssi = match p.len() {
                    DMR_PAYLOAD => None,
                    DMR_PAYLOAD_RSSI => Some(u16::from_be_bytes([p[34], p[35]])),
                    have => {
                        return Err(WireError::Invalid {
                            frame: "mmdvm DMR_DATA reply",
                            field: "length",
                            value: (have + SHORT_HEADER) as u32,
                        });
                    }
                };
                Reply::DmrData(DmrData {
                    slot,
                    control: p[0],
                    burst: burst_of(&p[1..]),
                    rssi,
                })
            }
            kind::DMR_LOST1 | kind::DMR_LOST2 => {
                want_len("mmdvm DMR_LOST", p, 0)?;
                Reply::DmrLost(if kind == kind::DMR_LOST1 {
                    Slot::One
                } else {
                    Slot::Two
                })
            }
            kind::ACK => {
                // Old firmware may ACK with no payload; MMDVMHost ignores the octet.
                if p.len() > 1 {
                    return Err(WireError::TooLong {
                        frame: "mmdvm ACK",
                        max: SHORT_HEADER + 1,
                        have: p.len() + SHORT_HEADER,
                    });
                }
                Reply::Ack {
                    command: p.first().copied().unwrap_or(0),
                }
            }
            kind::NAK => {
                want_len("mmdvm NAK", p, 2)?;
                Reply::Nak {
                    command: p[0],
                    reason: NakReason::from(p[1]),
                }
            }
            kind::DEBUG1..=kind::DEBUG5 => {
                let n = usize::from(kind - kind::DEBUG1);
                if p.len() < 2 * n {
                    return Err(WireError::Truncated {
                        frame: "mmdvm DEBUG",
                        need: SHORT_HEADER + 2 * n,
                        have: SHORT_HEADER + p.len(),
                    });
                }
                let (text, nums) = p.split_at(p.len() - 2 * n);
                Reply::Debug {
                    text: text.to_vec(),
                    values: nums
                        .chunks_exact(2)
                        .map(|c| i16::from_be_bytes([c[0], c[1]]))
                        .collect(),
                }
            }
            kind::DEBUG_DUMP => Reply::DebugDump(p.to_vec()),
            other => Reply::Other {
                kind: other,
                payload: p.to_vec(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burst(seed: u8) -> Burst {
        core::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
    }

    fn split(frame: &[u8]) -> (u8, &[u8]) {
        assert_eq!(frame[0], FRAME_START);
        if frame[1] == 0 {
            assert_eq!(frame.len(), usize::from(frame[2]) + 255);
            (frame[3], &frame[4..])
        } else {
            assert_eq!(frame.len(), usize::from(frame[1]));
            (frame[2], &frame[3..])
        }
    }

    fn round_trip_command(c: Command) -> Vec<u8> {
        let mut out = vec![0xA5u8; c.buffer_len() + 4];
        c.emit(&mut out);
        assert!(out[c.buffer_len()..].iter().all(|&b| b == 0xA5), "{c:?}");
        let bytes = out[..c.buffer_len()].to_vec();
        assert_eq!(bytes, c.to_vec(), "dirty buffer changes nothing");
        let (k, p) = split(&bytes);
        assert_eq!(Command::parse(k, p).unwrap(), c);
        bytes
    }

    fn round_trip_reply(r: Reply, v: ProtocolVersion) -> Vec<u8> {
        let mut out = vec![0xA5u8; r.buffer_len()];
        r.emit(&mut out);
        assert_eq!(out, r.to_vec(), "dirty buffer changes nothing");
        let (k, p) = split(&out);
        assert_eq!(Reply::parse(k, p, v).unwrap(), r);
        out
    }

    #[test]
    fn simple_commands_are_byte_exact() {
        // docs/transports.md §1.6 measured startup sequence.
        assert_eq!(round_trip_command(Command::GetVersion), [0xE0, 0x03, 0x00]);
        assert_eq!(round_trip_command(Command::GetStatus), [0xE0, 0x03, 0x01]);
        assert_eq!(
            round_trip_command(Command::SetMode(Mode::Idle)),
            [0xE0, 0x04, 0x03, 0x00]
        );
        assert_eq!(
            round_trip_command(Command::SetMode(Mode::Dmr)),
            [0xE0, 0x04, 0x03, 0x02]
        );
        assert_eq!(
            round_trip_command(Command::SetMode(Mode::Other(99))),
            [0xE0, 0x04, 0x03, 99]
        );
        assert_eq!(
            round_trip_command(Command::DmrStart(true)),
            [0xE0, 0x04, 0x1D, 0x01]
        );
        assert_eq!(
            round_trip_command(Command::DmrStart(false)),
            [0xE0, 0x04, 0x1D, 0x00]
        );
        assert_eq!(
            round_trip_command(Command::DmrAbort(Slot::Two)),
            [0xE0, 0x04, 0x1E, 0x02]
        );
        assert_eq!(
            round_trip_command(Command::DmrAbort(Slot::One)),
            [0xE0, 0x04, 0x1E, 0x01]
        );
    }

    #[test]
    fn set_freq_matches_measured_frame() {
        // docs/transports.md §1.6: `E0 11 04 00 c0d5eb14 406c8415 ff 400ecf19`.
        let c = Command::SetFreq(SetFreq {
            rx_hz: 351_000_000,
            tx_hz: 361_000_000,
            rf_level_pocsag: Some((255, 433_000_000)),
        });
        let want = hex::decode("e01104 00 c0d5eb14 406c8415 ff 400ecf19".replace(' ', "")).unwrap();
        assert_eq!(round_trip_command(c), want);
        let short = Command::SetFreq(SetFreq {
            rx_hz: 1,
            tx_hz: 2,
            rf_level_pocsag: None,
        });
        assert_eq!(round_trip_command(short).len(), 12, "DVMEGA form");
    }

    #[test]
    fn set_config_v2_matches_measured_frame() {
        // docs/transports.md §1.6, measured: simplex, DMR only, CC1, TXDelay 100 ms, levels 50 %.
        let want = hex::decode(
            "e0280282 02000a00 80808080 80808080 80008080 00000004 05050000 00010080 \
             00000000 00000000"
                .replace(' ', ""),
        )
        .unwrap();
        let mut c = ModemConfig::dmr(ProtocolVersion::V2, 1, false);
        // The measured run had TXInvert=1: flags 0x82 = simplex | tx invert.
        c.flags |= config_flag::TX_INVERT;
        c.tx_delay = 10;
        c.rx_level = 0x80;
        c.tx_levels = TxLevels {
            cw: 0x80,
            dstar: 0x80,
            dmr: 0x80,
            ysf: 0x80,
            p25: 0x80,
            nxdn: 0x80,
            m17: 0,
            pocsag: 0x80,
            fm: 0x80,
            ax25: 0,
        };
        c.ysf_hang = 4;
        c.p25_hang = 5;
        c.nxdn_hang = 5;
        assert_eq!(round_trip_command(Command::SetConfig(c)), want);
    }

    #[test]
    fn set_config_v1_layout() {
        let mut c = ModemConfig::dmr(ProtocolVersion::V1, 7, true);
        c.tx_delay = 5;
        c.rx_level = 0x33;
        c.tx_levels.dmr = 0x44;
        c.tx_levels.cw = 0x11;
        c.tx_dc_offset = -3;
        c.rx_dc_offset = 4;
        c.dmr_delay = 2;
        let f = round_trip_command(Command::SetConfig(c));
        assert_eq!(f.len(), 26);
        assert_eq!(&f[..3], [0xE0, 26, 0x02]);
        assert_eq!(f[3], 0, "duplex: no simplex flag");
        assert_eq!(f[4], config_mode::DMR);
        assert_eq!(f[5], 5, "tx delay");
        assert_eq!(f[7], 0x33, "rx level");
        assert_eq!(f[8], 0x11, "cw level");
        assert_eq!(f[9], 7, "colour code at octet 9 in v1");
        assert_eq!(f[10], 2, "dmr delay");
        assert_eq!(f[11], 128, "former oscillator offset");
        assert_eq!(f[13], 0x44, "dmr level");
        assert_eq!(f[16], 125, "tx dc offset -3 + 128");
        assert_eq!(f[17], 132, "rx dc offset 4 + 128");
    }

    #[test]
    fn set_config_rejects_other_lengths() {
        assert_eq!(
            Command::parse(kind::SET_CONFIG, &[0; 30]),
            Err(WireError::Invalid {
                frame: "mmdvm SET_CONFIG",
                field: "length",
                value: 30
            })
        );
    }

    #[test]
    fn dmr_commands_round_trip() {
        for slot in [Slot::One, Slot::Two] {
            let f = round_trip_command(Command::DmrData {
                slot,
                control: 0,
                burst: burst(3),
            });
            assert_eq!(f.len(), 37);
            assert_eq!(f[1], 0x25);
            assert_eq!(f[2], if slot == Slot::One { 0x18 } else { 0x1A });
        }
        // docs/transports.md §1.7: `e0 0c 1c 33 39 90 03 05 50 c5 5f 30`.
        let lc = [0x33, 0x39, 0x90, 0x03, 0x05, 0x50, 0xc5, 0x5f, 0x30];
        assert_eq!(
            round_trip_command(Command::DmrShortLc(lc)),
            [
                0xE0, 0x0C, 0x1C, 0x33, 0x39, 0x90, 0x03, 0x05, 0x50, 0xC5, 0x5F, 0x30
            ]
        );
        let f = round_trip_command(Command::DmrAloha(burst(9)));
        assert_eq!(&f[..3], [0xE0, 36, 0x17]);
        round_trip_command(Command::Other {
            kind: 0x90,
            payload: vec![1, 2, 3],
        });
    }

    #[test]
    fn command_rejections_name_the_field() {
        assert!(matches!(
            Command::parse(kind::DMR_DATA1, &[0; 36]),
            Err(WireError::TooLong { .. })
        ));
        assert!(matches!(
            Command::parse(kind::DMR_DATA2, &[0; 10]),
            Err(WireError::Truncated { .. })
        ));
        assert_eq!(
            Command::parse(kind::DMR_START, &[2]),
            Err(WireError::Invalid {
                frame: "mmdvm DMR_START",
                field: "state",
                value: 2
            })
        );
        assert_eq!(
            Command::parse(kind::DMR_ABORT, &[3]),
            Err(WireError::Invalid {
                frame: "mmdvm DMR_ABORT",
                field: "slot",
                value: 3
            })
        );
        assert!(Command::parse(kind::SET_FREQ, &[0; 10]).is_err());
        assert!(Command::parse(kind::GET_STATUS, &[0]).is_err());
    }

    #[test]
    fn version_replies_round_trip() {
        let v1 = Reply::Version(Version::V1 {
            description: b"MMDVM_HS-v1.3.1 20180218 ADF7021".to_vec(),
        });
        let f = round_trip_reply(v1.clone(), ProtocolVersion::V2);
        assert_eq!(&f[2..4], [0x00, 0x01]);
        let Reply::Version(v) = v1 else {
            unreachable!()
        };
        assert_eq!(v.protocol(), Some(ProtocolVersion::V1));
        assert!(v.has_dmr());
        let v2 = Version::V2 {
            capabilities1: CAP1_DMR,
            capabilities2: 0,
            cpu: 2,
            udid: [7; 16],
            description: b"MMDVM 20260417\0junk".to_vec(),
        };
        let f = round_trip_reply(Reply::Version(v2.clone()), ProtocolVersion::V1);
        assert_eq!(&f[3..7], [0x02, CAP1_DMR, 0, 2]);
        assert_eq!(&f[23..29], b"MMDVM ", "description at octet 23 (MMDVMHost)");
        assert_eq!(v2.description(), "MMDVM 20260417");
        let v3 = Reply::Version(Version::Unsupported {
            protocol: 3,
            rest: vec![1, 2],
        });
        round_trip_reply(v3, ProtocolVersion::V2);
        assert!(Reply::parse(kind::GET_VERSION, &[], ProtocolVersion::V2).is_err());
        assert!(Reply::parse(kind::GET_VERSION, &[2, 0, 0], ProtocolVersion::V2).is_err());
    }

    fn status(version: ProtocolVersion) -> Status {
        Status {
            version,
            modes: if version == ProtocolVersion::V1 {
                0x02
            } else {
                0
            },
            state: 2,
            flags: status_flag::TX | status_flag::CARRIER,
            dstar_space: 1,
            dmr_space: [10, 3],
            ysf_space: 4,
            p25_space: 5,
            nxdn_space: 6,
            m17_space: 7,
            pocsag_space: 8,
            fm_space: if version == ProtocolVersion::V2 { 9 } else { 0 },
        }
    }

    #[test]
    fn status_replies_round_trip_in_both_layouts() {
        let f = round_trip_reply(
            Reply::Status(status(ProtocolVersion::V2)),
            ProtocolVersion::V2,
        );
        assert_eq!(f.len(), 20);
        assert_eq!((f[3], f[4], f[7], f[8]), (2, 0x41, 10, 3));
        assert_eq!((f[12], f[13], f[14]), (7, 9, 8), "m17, fm, pocsag");
        let f = round_trip_reply(
            Reply::Status(status(ProtocolVersion::V1)),
            ProtocolVersion::V1,
        );
        assert_eq!(f.len(), 14);
        assert_eq!((f[3], f[4], f[5], f[7], f[8]), (0x02, 2, 0x41, 10, 3));
        let s = status(ProtocolVersion::V1);
        assert_eq!(s.dmr_space(Slot::One), 10);
        assert_eq!(s.dmr_space(Slot::Two), 3);
        assert!(s.tx());
    }

    #[test]
    fn short_v1_status_is_tolerated_and_too_short_is_not() {
        let r = Reply::parse(kind::GET_STATUS, &[2, 2, 0, 0, 9, 8], ProtocolVersion::V1).unwrap();
        let Reply::Status(s) = r else { panic!("{r:?}") };
        assert_eq!(s.dmr_space, [9, 8]);
        assert_eq!(s.nxdn_space, 0);
        assert!(matches!(
            Reply::parse(kind::GET_STATUS, &[2, 2, 0, 0, 9], ProtocolVersion::V2),
            Err(WireError::Truncated {
                need: 9,
                have: 8,
                ..
            })
        ));
    }

    #[test]
    fn dmr_replies_round_trip_with_and_without_rssi() {
        let d = DmrData {
            slot: Slot::Two,
            control: 0x41,
            burst: burst(1),
            rssi: None,
        };
        let f = round_trip_reply(Reply::DmrData(d), ProtocolVersion::V2);
        assert_eq!(&f[..4], [0xE0, 0x25, 0x1A, 0x41]);
        let d = DmrData {
            slot: Slot::One,
            rssi: Some(0x0123),
            ..d
        };
        let f = round_trip_reply(Reply::DmrData(d), ProtocolVersion::V2);
        assert_eq!(&f[..3], [0xE0, 0x27, 0x18]);
        assert_eq!(&f[37..], [0x01, 0x23], "RSSI is big-endian");
        assert_eq!(
            Reply::parse(kind::DMR_DATA1, &[0; 35], ProtocolVersion::V2),
            Err(WireError::Invalid {
                frame: "mmdvm DMR_DATA reply",
                field: "length",
                value: 38
            })
        );
        round_trip_reply(Reply::DmrLost(Slot::One), ProtocolVersion::V2);
        assert_eq!(
            Reply::DmrLost(Slot::Two).to_vec(),
            [0xE0, 0x03, kind::DMR_LOST2]
        );
    }

    #[test]
    fn ack_nak_debug_round_trip() {
        assert_eq!(
            round_trip_reply(Reply::Ack { command: 0x02 }, ProtocolVersion::V2),
            [0xE0, 0x04, 0x70, 0x02]
        );
        let nak = Reply::Nak {
            command: 0x18,
            reason: NakReason::WrongMode,
        };
        assert_eq!(
            round_trip_reply(nak, ProtocolVersion::V2),
            [0xE0, 0x05, 0x7F, 0x18, 0x02]
        );
        assert_eq!(NakReason::from(9), NakReason::Other(9));
        assert!(Reply::parse(kind::NAK, &[1], ProtocolVersion::V2).is_err());
        for n in 0..=4usize {
            let r = Reply::Debug {
                text: b"dmr tx".to_vec(),
                values: (0..n as i16).map(|i| i * -300).collect(),
            };
            let f = round_trip_reply(r, ProtocolVersion::V2);
            assert_eq!(f[2], 0xF1 + n as u8);
        }
        assert!(Reply::parse(0xF5, &[0; 7], ProtocolVersion::V2).is_err());
        round_trip_reply(Reply::DebugDump(vec![0xE0; 40]), ProtocolVersion::V2);
        round_trip_reply(
            Reply::Other {
                kind: 0x80,
                payload: vec![1; 3],
            },
            ProtocolVersion::V2,
        );
    }

    #[test]
    fn long_frames_use_the_long_header() {
        let r = Reply::DebugDump(vec![0x5A; 300]);
        let f = round_trip_reply(r, ProtocolVersion::V2);
        assert_eq!(f.len(), 304);
        assert_eq!(&f[..4], [0xE0, 0x00, 49, 0xFA]);
        // The boundary: 252 payload octets still fit a short frame.
        assert_eq!(Reply::DebugDump(vec![0; 252]).to_vec()[1], 255);
        assert_eq!(Reply::DebugDump(vec![0; 253]).to_vec()[1], 0);
        // Oversized payloads are cut to the longest frame.
        assert_eq!(Reply::DebugDump(vec![0; 9000]).buffer_len(), MAX_FRAME_LEN);
        let c = Command::Other {
            kind: 0x80,
            payload: vec![1; 9000],
        };
        assert_eq!(c.to_vec().len(), MAX_FRAME_LEN);
    }

    #[test]
    fn known_codes_and_names() {
        assert!(kind::is_known(kind::DMR_DATA1));
        assert!(kind::is_known(0x80));
        assert!(!kind::is_known(0x55));
        assert!(!kind::is_known(0xE0));
        assert_eq!(kind::name(kind::DMR_DATA2), "DMR_DATA2");
        assert_eq!(kind::name(0x55), "unknown");
    }
}
