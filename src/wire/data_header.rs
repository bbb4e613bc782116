//! Packet-data header (data type 6): the 96-bit block that opens every packet-data transfer.
//!
//! ETSI TS 102 361-1 §9.2.6–9.2.13 and TS 102 361-4 (UDT), as laid out in
//! docs/air-interface.md §5.1 (OK-DMR/ok-dmrlib data_header.py, DSheirer/sdrtrunk
//! header/*.java, g4klx/MMDVMHost DMRDataHeader.cpp, pd0mz/go-dmr dataheader.go) and the PDT
//! variant of docs/pdt.md §2.1 (zhoudayuan/Epack_Alarm protocol/dll.h, dll_odp.c, dll_idp.c).
//!
//! Contract:
//! - [`DataHeader::parse`] reads the fields of a 12-octet FEC-decoded block; it does not look at
//!   the CRC. [`DataHeader::check`] tells which dialect's mask (`CCCC` DMR, `785E` PDT) makes the
//!   CRC-CCITT of octets 10–11 check. Neither panics on any input.
//! - [`DataHeader::emit`] writes all 96 bits, CRC included, for the dialect asked.
//! - Every data packet format (DPF) has a typed [`Body`]; an unknown DPF keeps its 10 octets.
//! - The header is parsed the same way in both dialects. The one field whose meaning differs is
//!   the 5-bit DMR pad-octet count of DPF 2/3 (octet 0 bit 3, octet 1 bits 3–0): PDT keeps octet 0
//!   bit 3 and octet 1 bits 3–2 reserved and puts the 2-bit DEI (data end indicator) in octet 1
//!   bits 1–0. [`PacketInfo::pad_octets`] holds the raw 5 bits, [`DataHeader::end_of_data`] reads
//!   them for a dialect.
//! - DPF 4 (PDT end-to-end encryption header) and DPF 15 (proprietary) put SAP(4)·DPF(4) in octet
//!   0 and have no addresses: for them `group`, `response_requested`, `destination` and `source`
//!   are zero and ignored by `emit` (docs/pdt.md §2.1 table; docs/air-interface.md §5.1 "bits 0–3 SAP
//!   (sic)").

use serde::Serialize;

use super::bits;
use super::crc;
use super::{Dialect, DialectChoice, Result, WireError};

const FRAME: &str = "data_header";
/// Octets of a data header block: 10 data + CRC-CCITT.
pub const LEN: usize = 12;

/// Data packet format (4 bits, octet 0 bits 3–0). docs/air-interface.md §5.1; DPF 4, 6, 7 are PDT
/// (`DPF_*` in zhoudayuan/Epack_Alarm protocol/dll.h, docs/air-interface.md §3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dpf {
    /// 0: unified data transport header (TS 102 361-4).
    Udt,
    /// 1: response packet header.
    Response,
    /// 2: unconfirmed data.
    Unconfirmed,
    /// 3: confirmed data.
    Confirmed,
    /// 4: PDT end-to-end encryption header.
    PdtEncryption,
    /// 6: PDT E2E NVOC unconfirmed data.
    PdtNvocUnconfirmed,
    /// 7: PDT E2E NVOC confirmed data.
    PdtNvocConfirmed,
    /// 13: defined short data.
    DefinedShortData,
    /// 14: raw or status/precoded short data.
    RawShortData,
    /// 15: proprietary data header.
    Proprietary,
    /// Any other value, kept.
    Unknown(u8),
}

impl Dpf {
    /// From the 4-bit field.
    pub const fn from_bits(v: u8) -> Dpf {
        match v & 0x0F {
            0 => Dpf::Udt,
            1 => Dpf::Response,
            2 => Dpf::Unconfirmed,
            3 => Dpf::Confirmed,
            4 => Dpf::PdtEncryption,
            6 => Dpf::PdtNvocUnconfirmed,
            7 => Dpf::PdtNvocConfirmed,
            13 => Dpf::DefinedShortData,
            14 => Dpf::RawShortData,
            15 => Dpf::Proprietary,
            other => Dpf::Unknown(other),
        }
    }

    /// The 4-bit field value.
    pub const fn bits(self) -> u8 {
        match self {
            Dpf::Udt => 0,
            Dpf::Response => 1,
            Dpf::Unconfirmed => 2,
            Dpf::Confirmed => 3,
            Dpf::PdtEncryption => 4,
            Dpf::PdtNvocUnconfirmed => 6,
            Dpf::PdtNvocConfirmed => 7,
            Dpf::DefinedShortData => 13,
            Dpf::RawShortData => 14,
            Dpf::Proprietary => 15,
            Dpf::Unknown(v) => v & 0x0F,
        }
    }

    /// snake_case name, as serialised.
    pub const fn name(self) -> &'static str {
        match self {
            Dpf::Udt => "udt",
            Dpf::Response => "response",
            Dpf::Unconfirmed => "unconfirmed",
            Dpf::Confirmed => "confirmed",
            Dpf::PdtEncryption => "pdt_encryption",
            Dpf::PdtNvocUnconfirmed => "pdt_nvoc_unconfirmed",
            Dpf::PdtNvocConfirmed => "pdt_nvoc_confirmed",
            Dpf::DefinedShortData => "defined_short_data",
            Dpf::RawShortData => "raw_short_data",
            Dpf::Proprietary => "proprietary",
            Dpf::Unknown(_) => "unknown",
        }
    }

    /// Whether blocks after this header carry DBSN + CRC-9 (confirmed delivery).
    pub const fn is_confirmed(self) -> bool {
        matches!(self, Dpf::Confirmed | Dpf::PdtNvocConfirmed)
    }
}

/// Service access point names (4 bits). ok-dmrlib sap_identifier.py; 9 and 11 per docs/pdt.md §2.1.
pub const fn sap_name(sap: u8) -> &'static str {
    match sap {
        0 => "udt",
        2 => "tcp_ip_header_compression",
        3 => "udp_ip_header_compression",
        4 => "ip_packet_data",
        5 => "arp",
        9 => "proprietary",
        10 => "short_data",
        11 => "pdt_e2e_encryption",
        _ => "reserved",
    }
}

/// The header's body: the fields that depend on the DPF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// DPF 0.
    Udt(UdtInfo),
    /// DPF 1.
    Response(ResponseInfo),
    /// DPF 2, 3, 6, 7.
    Packet(PacketInfo),
    /// DPF 4 (PDT).
    Encryption(EncryptionInfo),
    /// DPF 13.
    DefinedShort(DefinedShortInfo),
    /// DPF 14.
    RawShort(RawShortInfo),
    /// DPF 15.
    Proprietary(ProprietaryInfo),
    /// Any other DPF: octets 0–9 as received.
    Unknown(RawInfo),
}

/// UDT header fields (DPF 0). docs/air-interface.md §5.1 row 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UdtInfo {
    /// Bit 2: emergency.
    pub emergency: bool,
    /// Bit 3: UDT option flag.
    pub option_flag: bool,
    /// Bits 12–15: UDT format (see [`udt_format`]).
    pub format: u8,
    /// Bits 64–68: pad nibbles at the end of the appended data.
    pub pad_nibbles: u8,
    /// Appended blocks, 1–4 (bits 70–71 carry this minus one; MMDVMHost `(data[8] & 3) + 1`).
    pub appended_blocks: u8,
    /// Bit 72: supplementary flag (0 short data, 1 supplementary service).
    pub supplementary: bool,
    /// Bit 73: protect flag.
    pub protect: bool,
    /// Bits 74–79: UDT opcode (0x1A C_UDTHD outbound, 0x1B C_UDTHU inbound).
    pub opcode: u8,
}

/// UDT formats (4 bits). docs/air-interface.md §5.1 (ok-dmrlib, sdrtrunk, go-dmr).
pub mod udt_format {
    /// Binary.
    pub const BINARY: u8 = 0;
    /// MS or talkgroup address.
    pub const ADDRESS: u8 = 1;
    /// 4-bit BCD.
    pub const BCD: u8 = 2;
    /// ISO 7-bit characters.
    pub const ISO7: u8 = 3;
    /// ISO 8-bit characters.
    pub const ISO8: u8 = 4;
    /// NMEA location.
    pub const NMEA: u8 = 5;
    /// IP address.
    pub const IP_ADDRESS: u8 = 6;
    /// 16-bit Unicode.
    pub const UNICODE: u8 = 7;
    /// Mixed address + Unicode.
    pub const MIXED: u8 = 10;
}

/// Response header fields (DPF 1). docs/air-interface.md §5.1 row 1; names from go-dmr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResponseInfo {
    /// Bits 65–71.
    pub blocks_to_follow: u8,
    /// Bits 72–73.
    pub class: u8,
    /// Bits 74–76.
    #[serde(rename = "type")]
    pub kind: u8,
    /// Bits 77–79.
    pub status: u8,
}

impl ResponseInfo {
    /// The response named by class and type.
    pub const fn response(&self) -> Response {
        match (self.class, self.kind) {
            (0, 1) => Response::Ack,
            (1, 0) => Response::Nack(NackReason::IllegalFormat),
            (1, 1) => Response::Nack(NackReason::PacketCrc),
            (1, 2) => Response::Nack(NackReason::MemoryFull),
            (1, 3) => Response::Nack(NackReason::FsnOutOfSequence),
            (1, 4) => Response::Nack(NackReason::Undeliverable),
            (1, 5) => Response::Nack(NackReason::PacketOutOfSequence),
            (1, 6) => Response::Nack(NackReason::InvalidUser),
            (2, 0) => Response::Sack,
            (class, kind) => Response::Unknown { class, kind },
        }
    }
}

/// What a response header says. Class/type table of docs/air-interface.md §5.1 (go-dmr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Class 0, type 1: all blocks received.
    Ack,
    /// Class 1: negative acknowledgement.
    Nack(NackReason),
    /// Class 2, type 0: selective ACK (a bitmap block follows).
    Sack,
    /// Any other class/type pair.
    Unknown { class: u8, kind: u8 },
}

/// NACK types (class 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NackReason {
    /// 0: illegal format.
    IllegalFormat,
    /// 1: packet CRC-32 error.
    PacketCrc,
    /// 2: memory full.
    MemoryFull,
    /// 3: FSN out of sequence.
    FsnOutOfSequence,
    /// 4: undeliverable.
    Undeliverable,
    /// 5: packet out of sequence.
    PacketOutOfSequence,
    /// 6: invalid user / disallowed.
    InvalidUser,
}

/// Unconfirmed / confirmed data header fields (DPF 2, 3 and PDT 6, 7). docs/air-interface.md §5.1,
/// docs/pdt.md §2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PacketInfo {
    /// Bit 2: header compression (HC).
    pub header_compression: bool,
    /// DMR pad-octet count, 5 bits (bit 3 = bit 4 of the count, bits 12–15 = bits 3–0). In PDT
    /// these bits are reserved(3)·DEI(2): see [`PacketInfo::dei`].
    pub pad_octets: u8,
    /// Bit 64: F, full message (first try to complete the packet).
    pub full_message: bool,
    /// Bits 65–71.
    pub blocks_to_follow: u8,
    /// Bit 72: S, resynchronise (confirmed; reserved in unconfirmed, kept).
    pub resync: bool,
    /// Bits 73–75: N(S), send sequence number (confirmed; reserved in unconfirmed, kept).
    pub send_seq: u8,
    /// Bits 76–79: fragment sequence number. PDT: top bit = final fragment (docs/pdt.md §2.1).
    pub fsn: u8,
}

impl PacketInfo {
    /// The PDT data end indicator: the low two bits of the pad field (octet 1 bits 1–0).
    pub const fn dei(&self) -> Dei {
        Dei::from_bits(self.pad_octets)
    }
}

/// PDT data end indicator (2 bits). docs/pdt.md §2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dei {
    /// 0: last block holds no user data; the second-to-last block ends with the end pattern.
    EndsInPreviousBlock,
    /// 1: the last block is not full and ends with the end pattern.
    EndsWithPattern,
    /// 2: the second-to-last block is full and the data end there; the last block is zero-filled.
    PreviousBlockFull,
    /// 3: the last block is exactly full.
    LastBlockFull,
}

impl Dei {
    /// From the low two bits of `v`.
    pub const fn from_bits(v: u8) -> Dei {
        match v & 3 {
            0 => Dei::EndsInPreviousBlock,
            1 => Dei::EndsWithPattern,
            2 => Dei::PreviousBlockFull,
            _ => Dei::LastBlockFull,
        }
    }

    /// The 2-bit value.
    pub const fn bits(self) -> u8 {
        match self {
            Dei::EndsInPreviousBlock => 0,
            Dei::EndsWithPattern => 1,
            Dei::PreviousBlockFull => 2,
            Dei::LastBlockFull => 3,
        }
    }
}

/// How the end of user data is marked, per dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndOfData {
    /// DMR: this many pad octets precede the CRC-32.
    PadOctets(u8),
    /// PDT: data end indicator and end pattern.
    Dei(Dei),
}

/// PDT end-to-end encryption header (DPF 4). docs/pdt.md §2.1 table "PDT E2E encryption header".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EncryptionInfo {
    /// Octet 1: feature set ID.
    pub fid: u8,
    /// Octet 2 bits 7–4.
    pub opcode: u8,
    /// Octet 2 bits 3–0.
    pub encryption_type: u8,
    /// Octet 3.
    pub key_id: u8,
    /// Octets 4–8: initialisation vector (40 bits).
    #[serde(serialize_with = "hex_ser")]
    pub iv: [u8; 5],
    /// Octet 9: reserved, kept.
    pub reserved: u8,
}

/// Defined short data header fields (DPF 13). docs/air-interface.md §5.1 row 13.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DefinedShortInfo {
    /// Bits 2–3 and 12–15: appended blocks (6 bits; MMDVMHost `(d[0] & 0x30) + (d[1] & 0x0F)`).
    pub appended_blocks: u8,
    /// Bits 64–69: defined data format (see [`DefinedFormat`]).
    pub format: u8,
    /// Bit 70: SARQ, selective automatic repeat request.
    pub sarq: bool,
    /// Bit 71: F, full message.
    pub full_message: bool,
    /// Bits 72–79: pad bits at the end of the data.
    pub bit_padding: u8,
}

impl DefinedShortInfo {
    /// The defined data format, named.
    pub const fn defined_format(&self) -> DefinedFormat {
        DefinedFormat::from_bits(self.format)
    }
}

/// Defined data formats (6 bits). ok-dmrlib defined_data_formats.py; dsd-fme dmr_pdu.c names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefinedFormat {
    /// 0.
    Binary,
    /// 1.
    Bcd,
    /// 2: 7-bit characters.
    SevenBit,
    /// 3–17: ISO 8859-1 … -16 (the part number; 8859-12 does not exist and maps as the table).
    Iso8859(u8),
    /// 18.
    Utf8,
    /// 19: UTF-16 with byte-order mark (big-endian without one).
    Utf16,
    /// 20.
    Utf16Be,
    /// 21.
    Utf16Le,
    /// 22.
    Utf32,
    /// 23.
    Utf32Be,
    /// 24.
    Utf32Le,
    /// Anything else.
    Unknown(u8),
}

impl DefinedFormat {
    /// From the 6-bit field. ISO values: 3 → 8859-1 … 11 → 8859-9, 12 → 8859-10, 13 → 8859-11,
    /// 14 → 8859-13, 15 → 8859-14, 16 → 8859-15, 17 → 8859-16 (dsd-fme: "there is no 8859-12").
    pub const fn from_bits(v: u8) -> DefinedFormat {
        match v & 0x3F {
            0 => DefinedFormat::Binary,
            1 => DefinedFormat::Bcd,
            2 => DefinedFormat::SevenBit,
            v @ 3..=13 => DefinedFormat::Iso8859(v - 2),
            v @ 14..=17 => DefinedFormat::Iso8859(v - 1),
            18 => DefinedFormat::Utf8,
            19 => DefinedFormat::Utf16,
            20 => DefinedFormat::Utf16Be,
            21 => DefinedFormat::Utf16Le,
            22 => DefinedFormat::Utf32,
            23 => DefinedFormat::Utf32Be,
            24 => DefinedFormat::Utf32Le,
            v => DefinedFormat::Unknown(v),
        }
    }

    /// The 6-bit value.
    pub const fn bits(self) -> u8 {
        match self {
            DefinedFormat::Binary => 0,
            DefinedFormat::Bcd => 1,
            DefinedFormat::SevenBit => 2,
            DefinedFormat::Iso8859(p @ 1..=11) => p + 2,
            DefinedFormat::Iso8859(p @ 13..=16) => p + 1,
            DefinedFormat::Iso8859(_) => 3,
            DefinedFormat::Utf8 => 18,
            DefinedFormat::Utf16 => 19,
            DefinedFormat::Utf16Be => 20,
            DefinedFormat::Utf16Le => 21,
            DefinedFormat::Utf32 => 22,
            DefinedFormat::Utf32Be => 23,
            DefinedFormat::Utf32Le => 24,
            DefinedFormat::Unknown(v) => v & 0x3F,
        }
    }
}

/// Raw or status/precoded short data header fields (DPF 14). docs/air-interface.md §5.1 row 14.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RawShortInfo {
    /// Bits 2–3 and 12–15: appended blocks (6 bits). 0 = status/precoded short data.
    pub appended_blocks: u8,
    /// Bits 64–66: source port.
    pub source_port: u8,
    /// Bits 67–69: destination port.
    pub destination_port: u8,
    /// Bit 70: SARQ (raw) / status bit 9.
    pub sarq: bool,
    /// Bit 71: F full message (raw) / status bit 8.
    pub full_message: bool,
    /// Bits 72–79: bit padding (raw) / status bits 7–0.
    pub bit_padding: u8,
}

impl RawShortInfo {
    /// The 10-bit status / precoded value (bits 70–79), for status short data.
    pub const fn status(&self) -> u16 {
        ((self.sarq as u16) << 9) | ((self.full_message as u16) << 8) | self.bit_padding as u16
    }
}

/// Proprietary header fields (DPF 15). docs/air-interface.md §5.1 row 15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProprietaryInfo {
    /// Octet 1: manufacturer ID.
    pub mfid: u8,
    /// Octets 2–9: vendor data.
    #[serde(serialize_with = "hex_ser")]
    pub data: [u8; 8],
}

/// An unknown DPF's octets 0–9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RawInfo {
    /// Octets 0–9 as received.
    #[serde(serialize_with = "hex_ser")]
    pub raw: [u8; 10],
}

fn hex_ser<S: serde::Serializer, const N: usize>(
    v: &[u8; N],
    s: S,
) -> core::result::Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

/// A packet-data header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    /// Bit 0: G/I, destination is a group.
    pub group: bool,
    /// Bit 1: A, response requested.
    pub response_requested: bool,
    /// Bits 4–7.
    pub dpf: Dpf,
    /// Bits 8–11 (DPF 4/15: bits 0–3).
    pub sap: u8,
    /// Bits 16–39: destination LLID (24 bits).
    pub destination: u32,
    /// Bits 40–63: source LLID (24 bits).
    pub source: u32,
    /// The DPF-specific fields.
    pub body: Body,
}

impl DataHeader {
    /// Parse the fields of a FEC-decoded header block (`LEN` octets; the CRC is not checked here,
    /// see [`DataHeader::check`]). Never panics.
    pub fn parse(block: &[u8]) -> Result<DataHeader> {
        if block.len() < LEN {
            return Err(WireError::Truncated {
                frame: FRAME,
                need: LEN,
                have: block.len(),
            });
        }
        if block.len() > LEN {
            return Err(WireError::TooLong {
                frame: FRAME,
                max: LEN,
                have: block.len(),
            });
        }
        let b = block;
        let g = |start, len| bits::get(b, start, len) as u8;
        let f = |bit| bits::get_flag(b, bit);
        let dpf = Dpf::from_bits(b[0] & 0x0F);
        let mut header = DataHeader {
            group: f(0),
            response_requested: f(1),
            dpf,
            sap: b[1] >> 4,
            destination: bits::get(b, 16, 24) as u32,
            source: bits::get(b, 40, 24) as u32,
            body: Body::Unknown(RawInfo { raw: [0; 10] }),
        };
        let appended6 = (g(2, 2) << 4) | g(12, 4);
        header.body = match dpf {
            Dpf::Udt => Body::Udt(UdtInfo {
                emergency: f(2),
                option_flag: f(3),
                format: g(12, 4),
                pad_nibbles: g(64, 5),
                appended_blocks: g(70, 2) + 1,
                supplementary: f(72),
                protect: f(73),
                opcode: g(74, 6),
            }),
            Dpf::Response => Body::Response(ResponseInfo {
                blocks_to_follow: g(65, 7),
                class: g(72, 2),
                kind: g(74, 3),
                status: g(77, 3),
            }),
            Dpf::Unconfirmed | Dpf::Confirmed | Dpf::PdtNvocUnconfirmed | Dpf::PdtNvocConfirmed => {
                Body::Packet(PacketInfo {
                    header_compression: f(2),
                    pad_octets: (g(3, 1) << 4) | g(12, 4),
                    full_message: f(64),
                    blocks_to_follow: g(65, 7),
                    resync: f(72),
                    send_seq: g(73, 3),
                    fsn: g(76, 4),
                })
            }
            Dpf::PdtEncryption | Dpf::Proprietary => {
                // Octet 0 is SAP(4)·DPF(4) here, and there are no addresses.
                header.group = false;
                header.response_requested = false;
                header.sap = b[0] >> 4;
                header.destination = 0;
                header.source = 0;
                if dpf == Dpf::Proprietary {
                    let mut data = [0u8; 8];
                    data.copy_from_slice(&b[2..10]);
                    Body::Proprietary(ProprietaryInfo { mfid: b[1], data })
                } else {
                    let mut iv = [0u8; 5];
                    iv.copy_from_slice(&b[4..9]);
                    Body::Encryption(EncryptionInfo {
                        fid: b[1],
                        opcode: b[2] >> 4,
                        encryption_type: b[2] & 0x0F,
                        key_id: b[3],
                        iv,
                        reserved: b[9],
                    })
                }
            }
            Dpf::DefinedShortData => Body::DefinedShort(DefinedShortInfo {
                appended_blocks: appended6,
                format: g(64, 6),
                sarq: f(70),
                full_message: f(71),
                bit_padding: b[9],
            }),
            Dpf::RawShortData => Body::RawShort(RawShortInfo {
                appended_blocks: appended6,
                source_port: g(64, 3),
                destination_port: g(67, 3),
                sarq: f(70),
                full_message: f(71),
                bit_padding: b[9],
            }),
            Dpf::Unknown(_) => {
                let mut raw = [0u8; 10];
                raw.copy_from_slice(&b[..10]);
                Body::Unknown(RawInfo { raw })
            }
        };
        Ok(header)
    }

    /// Which dialect's data-header mask makes the CRC check (DMR `CCCC` tried first under
    /// `Auto`); `None` when none does or the block is not `LEN` octets.
    pub fn check(block: &[u8], wanted: DialectChoice) -> Option<Dialect> {
        let block: &[u8; LEN] = block.try_into().ok()?;
        crc::which_ccitt_dialect(block, |m| m.data_header, wanted)
    }

    /// Check the CRC then parse: the common entry point for received headers.
    pub fn parse_checked(block: &[u8], wanted: DialectChoice) -> Result<(DataHeader, Dialect)> {
        let header = DataHeader::parse(block)?;
        match DataHeader::check(block, wanted) {
            Some(d) => Ok((header, d)),
            None => {
                let want =
                    crc::crc16_ccitt(&block[..10]) ^ wanted.candidates()[0].masks().data_header;
                Err(WireError::Crc {
                    frame: FRAME,
                    field: "crc",
                    got: u32::from(u16::from_be_bytes([block[10], block[11]])),
                    want: u32::from(want),
                })
            }
        }
    }

    /// Octets `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        LEN
    }

    /// Write all `LEN` octets, CRC-CCITT masked for `dialect` included.
    pub fn emit(&self, dialect: Dialect, out: &mut [u8; LEN]) {
        *out = [0; LEN];
        let o = &mut out[..];
        let p = |o: &mut [u8], start, len, v: u8| bits::put(o, start, len, u64::from(v));
        bits::put_flag(o, 0, self.group);
        bits::put_flag(o, 1, self.response_requested);
        p(o, 4, 4, self.dpf.bits());
        p(o, 8, 4, self.sap);
        bits::put(o, 16, 24, u64::from(self.destination & 0xFF_FFFF));
        bits::put(o, 40, 24, u64::from(self.source & 0xFF_FFFF));
        match &self.body {
            Body::Udt(u) => {
                bits::put_flag(o, 2, u.emergency);
                bits::put_flag(o, 3, u.option_flag);
                p(o, 12, 4, u.format);
                p(o, 64, 5, u.pad_nibbles);
                p(o, 70, 2, u.appended_blocks.saturating_sub(1));
                bits::put_flag(o, 72, u.supplementary);
                bits::put_flag(o, 73, u.protect);
                p(o, 74, 6, u.opcode);
            }
            Body::Response(r) => {
                p(o, 65, 7, r.blocks_to_follow);
                p(o, 72, 2, r.class);
                p(o, 74, 3, r.kind);
                p(o, 77, 3, r.status);
            }
            Body::Packet(k) => {
                bits::put_flag(o, 2, k.header_compression);
                p(o, 3, 1, k.pad_octets >> 4);
                p(o, 12, 4, k.pad_octets);
                bits::put_flag(o, 64, k.full_message);
                p(o, 65, 7, k.blocks_to_follow);
                bits::put_flag(o, 72, k.resync);
                p(o, 73, 3, k.send_seq);
                p(o, 76, 4, k.fsn);
            }
            Body::Encryption(e) => {
                o[0] = (self.sap << 4) | self.dpf.bits();
                o[1] = e.fid;
                o[2] = (e.opcode << 4) | (e.encryption_type & 0x0F);
                o[3] = e.key_id;
                o[4..9].copy_from_slice(&e.iv);
                o[9] = e.reserved;
            }
            Body::DefinedShort(d) => {
                p(o, 2, 2, d.appended_blocks >> 4);
                p(o, 12, 4, d.appended_blocks);
                p(o, 64, 6, d.format);
                bits::put_flag(o, 70, d.sarq);
                bits::put_flag(o, 71, d.full_message);
                o[9] = d.bit_padding;
            }
            Body::RawShort(r) => {
                p(o, 2, 2, r.appended_blocks >> 4);
                p(o, 12, 4, r.appended_blocks);
                p(o, 64, 3, r.source_port);
                p(o, 67, 3, r.destination_port);
                bits::put_flag(o, 70, r.sarq);
                bits::put_flag(o, 71, r.full_message);
                o[9] = r.bit_padding;
            }
            Body::Proprietary(x) => {
                o[0] = (self.sap << 4) | self.dpf.bits();
                o[1] = x.mfid;
                o[2..10].copy_from_slice(&x.data);
            }
            Body::Unknown(r) => o[..10].copy_from_slice(&r.raw),
        }
        crc::seal_ccitt_block(out, dialect.masks().data_header);
    }

    /// Blocks that follow this header and belong to it (MMDVMHost DMRDataHeader.cpp, quoted in
    /// docs/air-interface.md §5.1): BTF for DPF 1/2/3 (and PDT 6/7), appended blocks for DPF 13/14,
    /// UAB + 1 for UDT; 0 for DPF 4/15 and unknown DPFs (they are themselves blocks of a packet).
    pub const fn blocks_to_follow(&self) -> usize {
        match &self.body {
            Body::Udt(u) => u.appended_blocks as usize,
            Body::Response(r) => r.blocks_to_follow as usize,
            Body::Packet(k) => k.blocks_to_follow as usize,
            Body::DefinedShort(d) => d.appended_blocks as usize,
            Body::RawShort(r) => r.appended_blocks as usize,
            Body::Encryption(_) | Body::Proprietary(_) | Body::Unknown(_) => 0,
        }
    }

    /// How the end of user data is marked: DMR pad octets or the PDT DEI (docs/pdt.md §2.1).
    /// `None` for DPFs other than 2/3/6/7.
    pub const fn end_of_data(&self, dialect: Dialect) -> Option<EndOfData> {
        match (&self.body, dialect) {
            (Body::Packet(k), Dialect::Dmr) => Some(EndOfData::PadOctets(k.pad_octets)),
            (Body::Packet(k), Dialect::Pdt) => Some(EndOfData::Dei(k.dei())),
            _ => None,
        }
    }
}

impl Serialize for DataHeader {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            dpf: u8,
            dpf_name: &'static str,
            sap: u8,
            sap_name: &'static str,
            source: u32,
            target: u32,
            group: bool,
            response_requested: bool,
            blocks_to_follow: usize,
            #[serde(flatten)]
            body: &'a Body,
        }
        Flat {
            dpf: self.dpf.bits(),
            dpf_name: self.dpf.name(),
            sap: self.sap,
            sap_name: sap_name(self.sap),
            source: self.source,
            target: self.destination,
            group: self.group,
            response_requested: self.response_requested,
            blocks_to_follow: self.blocks_to_follow(),
            body: &self.body,
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(h: &str) -> [u8; LEN] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    /// Parse, check the dialect, re-emit and compare every octet (dirty buffer).
    fn round_trip(h: &str, dialect: Dialect) -> DataHeader {
        let b = block(h);
        let (hd, d) = DataHeader::parse_checked(&b, DialectChoice::Auto).unwrap();
        assert_eq!(d, dialect);
        let mut out = [0xA5; LEN];
        hd.emit(d, &mut out);
        assert_eq!(hex::encode(out), h);
        hd
    }

    #[test]
    fn okdmr_dh_434e23_confirmed() {
        let h = round_trip("434e2337fe2337fc84781bd1", Dialect::Dmr);
        assert_eq!(h.dpf, Dpf::Confirmed);
        assert!(h.response_requested && !h.group);
        assert_eq!((h.sap, h.destination, h.source), (4, 2308094, 2308092));
        let Body::Packet(k) = h.body else {
            panic!("{h:?}")
        };
        assert!(!k.resync, "DoNotSync");
        assert_eq!(
            (k.pad_octets, k.blocks_to_follow, k.send_seq, k.fsn),
            (14, 4, 7, 8)
        );
        assert!(k.full_message);
        assert_eq!(h.blocks_to_follow(), 4);
        assert_eq!(h.end_of_data(Dialect::Dmr), Some(EndOfData::PadOctets(14)));
    }

    #[test]
    fn okdmr_dh_crc_confirmed() {
        let h = round_trip("434e23386323383b840818c1", Dialect::Dmr);
        assert_eq!(
            (h.destination, h.source, h.blocks_to_follow()),
            (2308195, 2308155, 4)
        );
        let Body::Packet(k) = h.body else {
            panic!("{h:?}")
        };
        assert_eq!((k.pad_octets, k.send_seq, k.fsn), (14, 0, 8));
    }

    #[test]
    fn okdmr_dh_4da123_defined_short_bcd() {
        let h = round_trip("4da123386323383b05005757", Dialect::Dmr);
        assert_eq!(h.dpf, Dpf::DefinedShortData);
        assert_eq!(sap_name(h.sap), "short_data");
        let Body::DefinedShort(d) = h.body else {
            panic!("{h:?}")
        };
        assert_eq!(d.defined_format(), DefinedFormat::Bcd);
        assert!(!d.sarq && d.full_message);
        assert_eq!((d.appended_blocks, d.bit_padding), (1, 0));
        assert_eq!((h.destination, h.source), (2308195, 2308155));
        assert!(h.response_requested);
    }

    #[test]
    fn okdmr_dh_800500_udt_nmea() {
        let h = round_trip("800500010627fce7001bacaf", Dialect::Dmr);
        assert_eq!(h.dpf, Dpf::Udt);
        assert_eq!(h.sap, 0);
        assert!(h.group);
        assert_eq!((h.destination, h.source), (262, 2620647));
        let Body::Udt(u) = h.body else {
            panic!("{h:?}")
        };
        assert_eq!(u.format, udt_format::NMEA);
        assert_eq!(u.opcode, 0x1B, "C_UDTHU, inbound header");
        assert!(!u.supplementary, "short data");
        assert!(!u.option_flag && !u.emergency);
        assert_eq!((u.pad_nibbles, u.appended_blocks), (0, 1));
        assert_eq!(h.blocks_to_follow(), 1, "MMDVMHost blocks = 1");
    }

    #[test]
    fn okdmr_dh_kairos_8da300_valid_and_8da000_crc_invalid() {
        let h = round_trip("8da300000100000101002b97", Dialect::Dmr);
        assert!(h.group);
        assert_eq!((h.destination, h.source), (1, 1));
        let Body::DefinedShort(d) = h.body else {
            panic!("{h:?}")
        };
        assert_eq!(d.defined_format(), DefinedFormat::Binary);
        assert_eq!(d.appended_blocks, 3);
        assert!(d.full_message && !d.sarq);
        assert_eq!(sap_name(h.sap), "short_data");

        let bad = block("8da000000100000101002b97");
        assert_eq!(DataHeader::check(&bad, DialectChoice::Auto), None);
        assert!(matches!(
            DataHeader::parse_checked(&bad, DialectChoice::Auto),
            Err(WireError::Crc {
                frame: "data_header",
                ..
            })
        ));
        // The fields still parse; the test comment lists them.
        let h = DataHeader::parse(&bad).unwrap();
        assert_eq!(h.dpf, Dpf::DefinedShortData);
        assert_eq!(sap_name(h.sap), "short_data");
        assert!(h.group && !h.response_requested);
        assert_eq!((h.destination, h.source), (1, 1));
        let Body::DefinedShort(d) = h.body else {
            panic!("{h:?}")
        };
        assert_eq!(d.defined_format(), DefinedFormat::Binary);
        assert!(!d.sarq && d.full_message);
        assert_eq!((d.appended_blocks, d.bit_padding), (0, 0));
    }

    #[test]
    fn burst_payload_headers_from_computed_entries() {
        // dmrgo-d-sms-5: unconfirmed, SAP 4, pad 0, BTF 5 (ok-dmrlib + MMDVMHost agree)
        let h = round_trip("024000270630b43c85002b54", Dialect::Dmr);
        assert_eq!(
            (h.dpf, h.sap, h.destination, h.source),
            (Dpf::Unconfirmed, 4, 9990, 3191868)
        );
        assert_eq!(h.blocks_to_follow(), 5);
        // dmrgo-m-sms-5: pad 6, BTF 6. ok-dmrlib reports crc_ok=false, MMDVMHost crc_ok=1;
        // CRC-CCITT ⊕ CCCC = 6C4B = the field, so MMDVMHost is right.
        let h = round_trip("024600270630b43c86406c4b", Dialect::Dmr);
        assert_eq!(h.end_of_data(Dialect::Dmr), Some(EndOfData::PadOctets(6)));
        assert_eq!(h.blocks_to_follow(), 6);
        // dmrgo-h-sms-5: defined short data, BCD, 3 appended blocks, bit padding 0b00110000
        let h = round_trip("0da300270630b43c05303afd", Dialect::Dmr);
        let Body::DefinedShort(d) = h.body else {
            panic!("{h:?}")
        };
        assert_eq!(
            (d.defined_format(), d.appended_blocks, d.bit_padding),
            (DefinedFormat::Bcd, 3, 0x30)
        );
        // okdmr-burst-asbits-3a1f36: defined short, 1 block, bit padding 0b00010000
        let h = round_trip("4da12337fa2337fc05103e40", Dialect::Dmr);
        assert_eq!(
            (h.destination, h.source, h.blocks_to_follow()),
            (2308090, 2308092, 1)
        );
        assert!(h.response_requested);
        let Body::DefinedShort(d) = h.body else {
            panic!("{h:?}")
        };
        assert_eq!(
            (d.defined_format(), d.bit_padding),
            (DefinedFormat::Bcd, 0x10)
        );
    }

    #[test]
    fn pdt_sms_header_of_pdt_facts_3() {
        // docs/pdt.md §3, derived: `02 30 FC 00 02 FC 00 01 82 00`, PDT CRC 84E4, DMR CRC 3076.
        let h = round_trip("0230fc0002fc0001820084e4", Dialect::Pdt);
        assert_eq!(
            h.end_of_data(Dialect::Pdt),
            Some(EndOfData::Dei(Dei::EndsInPreviousBlock))
        );
        assert_eq!(
            (h.destination, h.source, h.blocks_to_follow()),
            (0xFC0002, 0xFC0001, 2)
        );
        let mut out = [0u8; LEN];
        h.emit(Dialect::Dmr, &mut out);
        assert_eq!(&out[10..], &[0x30, 0x76]);
        assert_eq!(DataHeader::check(&out, DialectChoice::Pdt), None);
        assert_eq!(
            DataHeader::check(&out, DialectChoice::Dmr),
            Some(Dialect::Dmr)
        );
    }

    #[test]
    fn every_body_round_trips_in_both_dialects() {
        let bodies = [
            (
                Dpf::Response,
                Body::Response(ResponseInfo {
                    blocks_to_follow: 1,
                    class: 2,
                    kind: 0,
                    status: 5,
                }),
            ),
            (
                Dpf::Unconfirmed,
                Body::Packet(PacketInfo {
                    header_compression: true,
                    pad_octets: 0x1F,
                    full_message: true,
                    blocks_to_follow: 127,
                    resync: true,
                    send_seq: 5,
                    fsn: 0xF,
                }),
            ),
            (
                Dpf::PdtNvocConfirmed,
                Body::Packet(PacketInfo {
                    header_compression: false,
                    pad_octets: 3,
                    full_message: false,
                    blocks_to_follow: 9,
                    resync: false,
                    send_seq: 2,
                    fsn: 8,
                }),
            ),
            (
                Dpf::RawShortData,
                Body::RawShort(RawShortInfo {
                    appended_blocks: 63,
                    source_port: 5,
                    destination_port: 2,
                    sarq: true,
                    full_message: false,
                    bit_padding: 0x81,
                }),
            ),
            (
                Dpf::DefinedShortData,
                Body::DefinedShort(DefinedShortInfo {
                    appended_blocks: 33,
                    format: 21,
                    sarq: true,
                    full_message: true,
                    bit_padding: 7,
                }),
            ),
            (
                Dpf::Udt,
                Body::Udt(UdtInfo {
                    emergency: true,
                    option_flag: true,
                    format: 7,
                    pad_nibbles: 31,
                    appended_blocks: 4,
                    supplementary: true,
                    protect: true,
                    opcode: 0x1A,
                }),
            ),
            (
                Dpf::Unknown(9),
                Body::Unknown(RawInfo {
                    raw: [0x59, 1, 2, 3, 4, 5, 6, 7, 8, 9],
                }),
            ),
        ];
        for (dpf, body) in bodies {
            let h = DataHeader {
                group: true,
                response_requested: true,
                dpf,
                sap: 10,
                destination: 0xABCDEF,
                source: 0x123456,
                body,
            };
            for d in [Dialect::Dmr, Dialect::Pdt] {
                let mut clean = [0u8; LEN];
                let mut dirty = [0xFFu8; LEN];
                h.emit(d, &mut clean);
                h.emit(d, &mut dirty);
                assert_eq!(clean, dirty, "{dpf:?}");
                let (back, dd) = DataHeader::parse_checked(&clean, DialectChoice::Auto).unwrap();
                assert_eq!(dd, d);
                if let Body::Unknown(_) = body {
                    assert_eq!(back.body, h.body);
                } else {
                    assert_eq!(back, h, "{dpf:?} {d:?}");
                }
            }
        }
        // DPF 4 and 15 have no addresses.
        for (dpf, body) in [
            (
                Dpf::PdtEncryption,
                Body::Encryption(EncryptionInfo {
                    fid: 0x68,
                    opcode: 3,
                    encryption_type: 2,
                    key_id: 7,
                    iv: [1, 2, 3, 4, 5],
                    reserved: 0,
                }),
            ),
            (
                Dpf::Proprietary,
                Body::Proprietary(ProprietaryInfo {
                    mfid: 0x68,
                    data: [9; 8],
                }),
            ),
        ] {
            let h = DataHeader {
                group: false,
                response_requested: false,
                dpf,
                sap: 11,
                destination: 0,
                source: 0,
                body,
            };
            let mut out = [0x5A; LEN];
            h.emit(Dialect::Pdt, &mut out);
            assert_eq!(out[0], 0xB0 | dpf.bits());
            assert_eq!(
                DataHeader::parse_checked(&out, DialectChoice::Pdt)
                    .unwrap()
                    .0,
                h
            );
        }
    }

    #[test]
    fn response_names() {
        let r = |class, kind| {
            ResponseInfo {
                blocks_to_follow: 0,
                class,
                kind,
                status: 0,
            }
            .response()
        };
        assert_eq!(r(0, 1), Response::Ack);
        assert_eq!(r(1, 1), Response::Nack(NackReason::PacketCrc));
        assert_eq!(r(1, 6), Response::Nack(NackReason::InvalidUser));
        assert_eq!(r(2, 0), Response::Sack);
        assert_eq!(r(3, 7), Response::Unknown { class: 3, kind: 7 });
    }

    #[test]
    fn defined_format_codes_round_trip() {
        for v in 0..64u8 {
            assert_eq!(DefinedFormat::from_bits(v).bits(), v);
        }
        assert_eq!(DefinedFormat::from_bits(3), DefinedFormat::Iso8859(1));
        assert_eq!(DefinedFormat::from_bits(14), DefinedFormat::Iso8859(13));
        assert_eq!(DefinedFormat::from_bits(19), DefinedFormat::Utf16);
    }

    #[test]
    fn serialises_flat_with_names() {
        let h = DataHeader::parse(&block("024600270630b43c86406c4b")).unwrap();
        let v = serde_json::to_value(h).unwrap();
        assert_eq!(v["dpf"], 2);
        assert_eq!(v["dpf_name"], "unconfirmed");
        assert_eq!(v["sap"], 4);
        assert_eq!(v["source"], 3191868);
        assert_eq!(v["target"], 9990);
        assert_eq!(v["group"], false);
        assert_eq!(v["blocks_to_follow"], 6);
        assert_eq!(v["pad_octets"], 6);
    }

    #[test]
    fn rejects_wrong_lengths_without_panic() {
        assert!(matches!(
            DataHeader::parse(&[0; 11]),
            Err(WireError::Truncated {
                need: 12,
                have: 11,
                ..
            })
        ));
        assert!(matches!(
            DataHeader::parse(&[0; 13]),
            Err(WireError::TooLong { .. })
        ));
        assert_eq!(DataHeader::check(&[0; 5], DialectChoice::Auto), None);
        for n in 0..=255u8 {
            let _ = DataHeader::parse(&[n; LEN]);
        }
    }
}
