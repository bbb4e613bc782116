//! Short data as a dispatcher sees it: text, status, location, UDT short data, binary —
//! decoded from a reassembled [`DataPdu`], and encoded into payloads for the emitters of
//! [`super::data`].
//!
//! What is decoded, and from where:
//!
//! | PDU | decoded as | source |
//! |---|---|---|
//! | DPF 13 defined short data | text in the defined data format (7-bit, ISO 8859-x, UTF-8/16/32) or BCD digits; binary otherwise | docs/air-interface.md §5.1 (ok-dmrlib defined_data_formats.py) |
//! | DPF 14 with no appended blocks | status / precoded value (10 bits) | docs/air-interface.md §5.1 |
//! | DPF 0 UDT | by UDT format: NMEA → location, BCD, ISO 7/8-bit, 16-bit Unicode, address | docs/air-interface.md §5.1 |
//! | SAP 3 (compressed UDP/IPv4, 5 octets `00 00 02 01 01`), DPID 1 | PDT SMS: UTF-16BE text | docs/pdt.md §3 (Hytera ccl_dl.c; ok-dmrlib udp_port_identifier.py) |
//! | SAP 3, DPID 116, LP opcode `A002` | PDT GPS report (32 octets) | docs/pdt.md §4.1 |
//! | SAP 4 IPv4/UDP to or from port 4001 | LRRP ([`super::lrrp`]) | docs/air-interface.md §5.3; the port is common practice, not in a source |
//! | UDP port 4007 (SAP 4, or SAP 3 with a 16-bit port) | Motorola TMS: simple text (UTF-16LE) → text; TMS ack → [`Message::TextAck`] | docs/ip-data.md (OK-DMR/ok-dmrlib test_tms.py, OpenGD77 dmrData.c, TMS patent US8023973) |
//! | UDP port 4005 | Motorola ARS device registration / deregistration → [`Message::Registration`] | docs/ip-data.md (ok-dmrlib automatic_registration_service.py and test_ars.py; TRBO::ARS) |
//! | UDP port 5016 | text: a leading CR LF in either byte order dropped, UTF-16 by the byte order its code units show (big-endian when they show none) | docs/ip-data.md (OpenGD77 "ETSI text" port; ok-dmrlib port ID 1 "UTF-16BE text"; the dmrgo `d-sms` capture is little-endian) |
//! | Hytera HDAP in UDP (checked by its checksum and end octet, any port) | TMP text / ack, RRS registration / going offline | docs/ip-data.md (ok-dmrlib hytera/pdu/*.py and their tests) |
//! | DPF 13 declaring BCD with digits > 9 | the UTF-16 text it turns out to hold, flagged as `utf_16le_declared_bcd`; otherwise binary, never invented digits | the dmrgo `h-sms` capture (Hytera) |
//!
//! Text: Chinese text must survive. docs/pdt.md §3 finds **no** source using GBK/GB 2312 for PDT
//! SMS (three sources use UTF-16), so nothing here guesses GBK; ISO 8859-x goes through
//! `encoding_rs` (8859-1 is mapped by hand, WHATWG aliases it to windows-1252). UTF-16 without a
//! byte-order mark is read big-endian. The defaults for sending are the PDT SMS form (UTF-16BE
//! behind the compressed UDP header, [`pdt_sms_payload`]) and, for defined short data,
//! UTF-16BE ([`DefinedFormat::Utf16Be`]): both carry every CJK character in two octets.
//! 7-bit text is packed MSB first with no gaps (an assumption: no vector was found).
//!
//! Limits, stated rather than guessed:
//! - UDT format 5 is read as an ASCII NMEA 0183 sentence (RMC, GGA, GLL); the bit-packed NMEA
//!   coding of TS 102 361-4 was not available, so such a payload comes out as `Udt` with its raw
//!   octets. A UDT carries at most 46 octets, so the report emitter writes GLL ([`nmea_gll`]).
//! - PDT GPS report: the coordinate words are read big-endian with the hemisphere flag in bit 31
//!   (the source reads them into a C bit-field, so the on-air byte order is unconfirmed, C); the
//!   time, date, speed and direction encodings are not described, so they are not decoded.

use serde::Serialize;

use super::data::DataPdu;
use super::data_header::{Body, DataHeader, DefinedFormat, udt_format};
use super::lrrp::{self, Lrrp};
use super::{Result, WireError};

const FRAME: &str = "sdata";

/// Compressed UDP/IPv4 header of a PDT SMS: IPv4 ident 0, SAID 0, DAID 2, SPID 1, DPID 1
/// (docs/pdt.md §3).
pub const PDT_SMS_HEADER: [u8; 5] = [0x00, 0x00, 0x02, 0x01, 0x01];
/// UDP port ID 1: UTF-16BE text message (ok-dmrlib udp_port_identifier.py, TS 102 361-3 7.2.4.3).
pub const PORT_ID_TEXT: u8 = 1;
/// Port ID 116: the Hytera LP manufacturer port of the PDT GPS poll (docs/pdt.md §4.1).
pub const PORT_ID_HYTERA_LP: u8 = 116;
/// LP opcode "standard location immediate request" (docs/pdt.md §4.1).
pub const LP_REQUEST: u16 = 0xA001;
/// LP opcode of the PDT answer.
pub const LP_REPORT: u16 = 0xA002;
/// LRRP's customary UDP port (Motorola practice; unverified, see module doc).
pub const LRRP_PORT: u16 = 4001;
/// Motorola ARS (automatic registration service) UDP port (ok-dmrlib, OpenGD77 dmrData.h
/// `DMR_UDP_PORT_ARS`).
pub const ARS_PORT: u16 = 4005;
/// Motorola TMS (text messaging service) UDP port (OpenGD77 dmrData.h `DMR_UDP_PORT_TMS`).
pub const TMS_PORT: u16 = 4007;
/// The text port of the dmrgo `d-sms` capture; OpenGD77 names it the ETSI text port and maps
/// compressed port ID 1 to it (dmrData.c `DMR_UDP_PORT_ETSI_TEXT`).
pub const TEXT_PORT: u16 = 5016;
/// TMS first header: more headers follow (bit 7), acknowledgement requested (bit 6), the PDU
/// type in bits 4–0 (ok-dmrlib text_messaging_service.py; OpenGD77 `dmrDataDecodeTMS`).
const TMS_EXT: u8 = 0x80;
const TMS_ACK_REQUESTED: u8 = 0x40;
/// Bit 5 of the first header: set in every TMS PDU the captures and vectors show (0xA0, 0xE0,
/// 0xBF); kept as it is.
const TMS_BIT5: u8 = 0x20;
const TMS_TYPE_MASK: u8 = 0x1F;
/// TMS PDU type 0: simple text message.
const TMS_SIMPLE_TEXT: u8 = 0x00;
/// TMS PDU type 0x1F: TMS acknowledgement.
const TMS_ACK: u8 = 0x1F;
/// TMS encoding 4: UCS-2 little-endian (ok-dmrlib `TMSEncoding.UCS2_LE`).
const TMS_UCS2_LE: u8 = 0x04;
/// ARS PDU types (low 4 bits of the first header; ok-dmrlib `ARSPDUType`).
const ARS_DEVICE_REGISTRATION: u8 = 0x0;
const ARS_DEVICE_DEREGISTRATION: u8 = 0x1;
const ARS_QUERY_RESPONSE: u8 = 0xF;

/// Where a location came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationSource {
    /// An NMEA 0183 sentence (UDT format 5).
    Nmea,
    /// LRRP over IP.
    Lrrp,
    /// The PDT (Hytera LP) binary GPS report.
    PdtGps,
}

/// A decoded position report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    pub source: LocationSource,
    /// Degrees, north positive.
    pub latitude: f64,
    /// Degrees, east positive.
    pub longitude: f64,
    /// UTC time of fix, `hh:mm:ss` (NMEA) or `YYYY-MM-DDThh:mm:ss` (LRRP).
    pub time: Option<String>,
    /// Speed over ground in knots (NMEA) or the protocol's unit (LRRP speed-hor).
    pub speed: Option<f64>,
    /// Course in degrees.
    pub course: Option<f64>,
    /// Radius of uncertainty (LRRP circle).
    pub radius: Option<f64>,
    /// The fix is valid (NMEA status A / GGA quality > 0; LRRP result success or absent).
    pub valid: bool,
    /// Request ID the report answers (LRRP, PDT GPS), hex.
    pub request_id: Option<String>,
}

/// What a dispatcher sees of one short-data PDU.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// A text message.
    Text {
        /// snake_case name of the encoding read.
        encoding: &'static str,
        text: String,
    },
    /// A status / precoded message (DPF 14, no appended blocks).
    Status {
        status: u16,
        source_port: u8,
        destination_port: u8,
    },
    /// A position.
    Location(Location),
    /// UDT short data other than location.
    Udt {
        format: u8,
        format_name: &'static str,
        text: Option<String>,
        address: Option<u32>,
        #[serde(serialize_with = "hex_vec")]
        data: Vec<u8>,
    },
    /// A Motorola TMS acknowledgement of the text with this sequence number.
    TextAck { sequence: u8 },
    /// A Motorola ARS device registration (`registered`) or deregistration; `device` is the
    /// device identifier the radio sent (its ID in decimal, by practice).
    Registration {
        registered: bool,
        device: Option<String>,
    },
    /// Anything else: the payload as is.
    Binary {
        sap: u8,
        source_port: Option<u16>,
        destination_port: Option<u16>,
        #[serde(serialize_with = "hex_vec")]
        data: Vec<u8>,
    },
}

fn hex_vec<S: serde::Serializer>(v: &[u8], s: S) -> core::result::Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

/// Name of a UDT format.
pub const fn udt_format_name(format: u8) -> &'static str {
    match format {
        udt_format::BINARY => "binary",
        udt_format::ADDRESS => "address",
        udt_format::BCD => "bcd",
        udt_format::ISO7 => "iso7",
        udt_format::ISO8 => "iso8",
        udt_format::NMEA => "nmea",
        udt_format::IP_ADDRESS => "ip_address",
        udt_format::UNICODE => "unicode",
        8 | 9 => "manufacturer",
        udt_format::MIXED => "mixed_address_unicode",
        _ => "reserved",
    }
}

/// Decode a completed PDU into what a dispatcher sees. Never panics; what it cannot read is
/// `Binary` (or `Udt` with raw octets).
pub fn decode(pdu: &DataPdu) -> Message {
    let h = &pdu.header;
    let data = pdu.payload.as_slice();
    let binary = |sp, dp, data: &[u8]| Message::Binary {
        sap: h.sap,
        source_port: sp,
        destination_port: dp,
        data: data.to_vec(),
    };
    match h.body {
        Body::DefinedShort(d) if d.defined_format() == DefinedFormat::Bcd => {
            let bits = (data.len() * 8).saturating_sub(usize::from(d.bit_padding % 8));
            decode_declared_bcd(data, bits / 4).unwrap_or_else(|| binary(None, None, data))
        }
        Body::DefinedShort(d) => {
            let bits = (data.len() * 8).saturating_sub(usize::from(d.bit_padding % 8));
            match decode_defined(d.defined_format(), data, bits) {
                Some((encoding, text)) => Message::Text { encoding, text },
                None => binary(None, None, data),
            }
        }
        Body::RawShort(r) if r.appended_blocks == 0 => Message::Status {
            status: r.status(),
            source_port: r.source_port,
            destination_port: r.destination_port,
        },
        Body::Udt(u) => decode_udt(u.format, u.pad_nibbles % 2 == 1, data),
        Body::Packet(_) if h.sap == 3 => decode_compressed_udp(h.sap, data),
        Body::Packet(_) if h.sap == 4 => decode_ip(h.sap, data),
        _ => binary(None, None, data),
    }
}

/// Text of a defined data format over `bits` valid bits of `data`.
fn decode_defined(
    format: DefinedFormat,
    data: &[u8],
    bits: usize,
) -> Option<(&'static str, String)> {
    Some(match format {
        DefinedFormat::Bcd => ("bcd", bcd_digits(data, bits / 4)),
        DefinedFormat::SevenBit => ("seven_bit", unpack_7bit(data, bits / 7)),
        DefinedFormat::Iso8859(part) => ("iso_8859", decode_iso8859(part, data)?),
        DefinedFormat::Utf8 => ("utf_8", String::from_utf8_lossy(data).into_owned()),
        DefinedFormat::Utf16 => ("utf_16", decode_utf16_bom(data)),
        DefinedFormat::Utf16Be => ("utf_16be", decode_utf16(data, true)),
        DefinedFormat::Utf16Le => ("utf_16le", decode_utf16(data, false)),
        DefinedFormat::Utf32 | DefinedFormat::Utf32Be => ("utf_32be", decode_utf32(data, true)),
        DefinedFormat::Utf32Le => ("utf_32le", decode_utf32(data, false)),
        DefinedFormat::Binary | DefinedFormat::Unknown(_) => return None,
    })
}

fn decode_udt(format: u8, odd_pad_nibble: bool, data: &[u8]) -> Message {
    let mut text = None;
    let mut address = None;
    match format {
        udt_format::NMEA => {
            if let Some(loc) = core::str::from_utf8(data).ok().and_then(parse_nmea) {
                return Message::Location(loc);
            }
        }
        udt_format::BCD => {
            let nibbles = (data.len() * 2).saturating_sub(usize::from(odd_pad_nibble));
            text = Some(bcd_digits(data, nibbles));
        }
        udt_format::ISO7 => {
            let t = unpack_7bit(data, data.len() * 8 / 7);
            text = Some(t.trim_end_matches('\0').to_owned());
        }
        udt_format::ISO8 => text = decode_iso8859(1, data),
        udt_format::UNICODE => text = Some(decode_utf16(data, true)),
        udt_format::ADDRESS if data.len() >= 3 => {
            address = Some(u32::from_be_bytes([0, data[0], data[1], data[2]]));
        }
        _ => {}
    }
    Message::Udt {
        format,
        format_name: udt_format_name(format),
        text,
        address,
        data: data.to_vec(),
    }
}

/// SAP 3: ETSI compressed UDP/IPv4 header (TS 102 361-3 7.2.4, ok-dmrlib
/// udp_ipv4_compressed_header.py): ident(16) SAID(4) DAID(4) 0 SPID(7) 0 DPID(7), then a 16-bit
/// port for each port ID 0.
fn decode_compressed_udp(sap: u8, data: &[u8]) -> Message {
    let binary = |sp, dp, d: &[u8]| Message::Binary {
        sap,
        source_port: sp,
        destination_port: dp,
        data: d.to_vec(),
    };
    if data.len() < 5 {
        return binary(None, None, data);
    }
    let spid = data[3] & 0x7F;
    let dpid = data[4] & 0x7F;
    let mut at = 5;
    let mut port = |id: u8| -> Option<u16> {
        if id != 0 {
            return Some(u16::from(id));
        }
        let p = data
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]));
        at += 2;
        p
    };
    let (sp, dp) = (port(spid), port(dpid));
    let Some(user) = data.get(at..) else {
        return binary(None, None, data);
    };
    if dpid == PORT_ID_TEXT {
        return Message::Text {
            encoding: "utf_16be",
            text: decode_utf16(user, true),
        };
    }
    if dpid == PORT_ID_HYTERA_LP
        && let Some(loc) = parse_pdt_gps_report(data)
    {
        return Message::Location(loc);
    }
    if let (Some(s), Some(d)) = (sp, dp)
        && let Some(m) = decode_udp_application(s, d, user)
    {
        return m;
    }
    binary(sp, dp, user)
}

/// SAP 4: IPv4 + UDP; LRRP to or from [`LRRP_PORT`] becomes a location when it is a report.
fn decode_ip(sap: u8, data: &[u8]) -> Message {
    let binary = |sp, dp, d: &[u8]| Message::Binary {
        sap,
        source_port: sp,
        destination_port: dp,
        data: d.to_vec(),
    };
    let ihl = data.first().map_or(0, |b| usize::from(b & 0x0F) * 4);
    let is_udp = data.first().is_some_and(|b| b >> 4 == 4) && ihl >= 20 && data.get(9) == Some(&17);
    let Some(udp) = data.get(ihl..ihl + 8).filter(|_| is_udp) else {
        return binary(None, None, data);
    };
    let sp = u16::from_be_bytes([udp[0], udp[1]]);
    let dp = u16::from_be_bytes([udp[2], udp[3]]);
    let mut user = &data[ihl + 8..];
    // The blocks may carry pad octets past the datagram: trust the UDP length when it is
    // shorter (RFC 768).
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if udp_len >= 8 && udp_len - 8 < user.len() {
        user = &user[..udp_len - 8];
    }
    if let Some(m) = decode_udp_application(sp, dp, user) {
        return m;
    }
    if (sp == LRRP_PORT || dp == LRRP_PORT)
        && let Ok(l) = Lrrp::parse(user)
        && let Some(loc) = lrrp_location(&l)
    {
        return Message::Location(loc);
    }
    binary(Some(sp), Some(dp), user)
}

/// The application a well-known port names, for either direction (a reply comes from the
/// port the request went to). `None`: not one of them, or not readable as it.
fn decode_udp_application(sp: u16, dp: u16, user: &[u8]) -> Option<Message> {
    let port = |p: u16| sp == p || dp == p;
    if port(TMS_PORT) {
        return decode_tms(user);
    }
    if port(ARS_PORT) {
        return decode_ars(user);
    }
    if port(TEXT_PORT) {
        return decode_port_text(user);
    }
    decode_hdap(user)
}

/// Hytera HDAP service types (ok-dmrlib hytera/pdu/hdap.py `HyteraServiceType`): the low
/// seven bits of the first octet; bit 7 marks "reliable".
const HDAP_TMP: u8 = 0x09;
const HDAP_RRS: u8 = 0x11;
/// HDAP end octet (ok-dmrlib `HDAP.MSG_END`).
const HDAP_END: u8 = 0x03;

/// A Hytera HDAP PDU, recognised by its own framing whatever the port: service, opcode(16),
/// payload length(16), payload, checksum over opcode..payload ([`hdap_checksum`]), 0x03. The
/// checksum and the end octet must hold, so other data is not misread. Read here:
/// - TMP (0x09) private / group message (opcode 0xA1 / 0xB1): request ID, destination and
///   source radio IP, UTF-16LE text (an option field, flag 0x40, is skipped) → text;
///   their acknowledgements (0xA2 / 0xB2) with result 0 → [`Message::TextAck`]
///   (ok-dmrlib hytera/pdu/text_message_protocol.py, test_tmp.py);
/// - RRS (0x11) registration (opcode 0x0003) / going offline (0x0001), with the radio IP →
///   [`Message::Registration`] (OK-DMR/dmr-kaitai radio_registration_service.ksy,
///   ok-dmrlib test_rrs.py).
///
/// Anything else `None`.
pub fn decode_hdap(d: &[u8]) -> Option<Message> {
    if d.len() < 7 || d.last() != Some(&HDAP_END) {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([d[3], d[4]]));
    if d.len() != 7 + len || hdap_checksum(&d[1..5 + len]) != d[5 + len] {
        return None;
    }
    let payload = &d[5..5 + len];
    let ip_id = |b: &[u8]| {
        b.get(1..4)
            .map(|x| u32::from_be_bytes([0, x[0], x[1], x[2]]))
    };
    match (d[0] & 0x7F, d[1], d[2]) {
        (HDAP_TMP, flags, op @ (0xA1 | 0xB1 | 0xA2 | 0xB2)) => {
            let (option_len, body) = if flags & 0x40 != 0 {
                let n = usize::from(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
                (n, &payload[2..])
            } else {
                (0, payload)
            };
            let body = &body[..body.len().checked_sub(option_len)?];
            match op {
                0xA1 | 0xB1 => Some(Message::Text {
                    encoding: "hytera_tmp_utf_16le",
                    text: clean_text(&decode_utf16(body.get(12..)?, false)),
                }),
                // the result follows request ID, destination (and source for private acks)
                _ => {
                    let at = if op == 0xA2 { 12 } else { 8 };
                    (*body.get(at)? == 0).then_some(Message::TextAck { sequence: 0 })
                }
            }
        }
        (HDAP_RRS, 0x00, kind @ (0x01 | 0x03)) => Some(Message::Registration {
            registered: kind == 0x03,
            device: ip_id(payload).map(|id| id.to_string()),
        }),
        _ => None,
    }
}

/// A TMS PDU: length(16) first-header [address-length address] [extension headers] text.
/// Simple text → [`Message::Text`] (UTF-16LE, a leading CR LF and trailing NULs dropped); an
/// acknowledgement → [`Message::TextAck`]; anything else → `None`.
pub fn decode_tms(payload: &[u8]) -> Option<Message> {
    let len = usize::from(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
    let end = (len + 2).min(payload.len());
    let first = *payload.get(2)?;
    let address_len = usize::from(*payload.get(3)?);
    let mut at = 4 + address_len;
    if at > end {
        return None;
    }
    // Extension headers: each octet has bit 7 "another follows"; the first holds the low five
    // sequence bits, the second bits 6–5 the high two and bits 4–0 the encoding.
    let mut ext = Vec::new();
    if first & TMS_EXT != 0 {
        while at < end {
            let b = payload[at];
            at += 1;
            ext.push(b);
            if b & 0x80 == 0 || ext.len() >= 4 {
                break;
            }
        }
    }
    let sequence = ext.first().map_or(0, |b| b & 0x1F) | ext.get(1).map_or(0, |b| b & 0x60);
    match first & TMS_TYPE_MASK {
        TMS_ACK => Some(Message::TextAck { sequence }),
        TMS_SIMPLE_TEXT => {
            let encoding = ext.get(1).map_or(TMS_UCS2_LE, |b| b & 0x1F);
            if encoding != TMS_UCS2_LE {
                return None;
            }
            Some(Message::Text {
                encoding: "tms_utf_16le",
                text: clean_text(&decode_utf16(&payload[at..end], false)),
            })
        }
        _ => None,
    }
}

/// The TMS simple text PDU the gateway sends: first header 0xA0 (0xE0 when `ack` asks for a
/// TMS acknowledgement), no address, sequence number in two extension octets, encoding 4
/// (UCS-2 LE), then the text. The layout of the OpenGD77 `dmrDataBuildTMS` output and of the
/// dmrgo `m-sms` capture.
pub fn tms_text(text: &str, sequence: u8, ack: bool) -> Vec<u8> {
    let mut out = vec![0, 0];
    out.push(TMS_EXT | TMS_BIT5 | if ack { TMS_ACK_REQUESTED } else { 0 } | TMS_SIMPLE_TEXT);
    out.push(0); // address length
    out.push(0x80 | (sequence & 0x1F));
    out.push((sequence & 0x60) | TMS_UCS2_LE);
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let len = (out.len() - 2).min(usize::from(u16::MAX)) as u16;
    out[..2].copy_from_slice(&len.to_be_bytes());
    out
}

/// A TMS acknowledgement of `sequence` (ok-dmrlib test_tms.py `009F0095 20` layout).
pub fn tms_ack(sequence: u8) -> Vec<u8> {
    vec![
        0x00,
        0x04,
        TMS_EXT | TMS_ACK,
        0x00,
        0x80 | (sequence & 0x1F),
        sequence & 0x60,
    ]
}

/// An ARS PDU: length(16) first-header (ext, ack, priority, control, type(4)) then, for a
/// device registration, an optional event/encoding octet and the device identifier as a
/// length-prefixed UTF-8 string. Registration and deregistration become
/// [`Message::Registration`]; other types `None`.
pub fn decode_ars(payload: &[u8]) -> Option<Message> {
    let first = *payload.get(2)?;
    match first & 0x0F {
        ARS_DEVICE_REGISTRATION => {
            let mut at = 3 + usize::from(first & 0x80 != 0);
            let device = payload.get(at).and_then(|&n| {
                at += 1;
                let id = payload.get(at..at + usize::from(n))?;
                core::str::from_utf8(id)
                    .ok()
                    .map(|s| s.trim_matches(char::from(0)).to_owned())
                    .filter(|s| !s.is_empty())
            });
            Some(Message::Registration {
                registered: true,
                device,
            })
        }
        ARS_DEVICE_DEREGISTRATION => Some(Message::Registration {
            registered: false,
            device: None,
        }),
        _ => None,
    }
}

/// The ARS answer to a device registration: success with a refresh time in 30-minute steps
/// (ok-dmrlib test_ars.py: `0002BF01`, one step).
pub fn ars_registration_ack(refresh_steps: u8) -> Vec<u8> {
    vec![
        0x00,
        0x02,
        0x80 | 0x30 | ARS_QUERY_RESPONSE,
        refresh_steps & 0x7F,
    ]
}

/// An ARS device registration from `device` (ok-dmrlib test_ars.py `0007F020023131 0000`
/// layout: ack, priority and control set, event "initial", UTF-8, empty user and password).
pub fn ars_registration(device: &str) -> Vec<u8> {
    let id = &device.as_bytes()[..device.len().min(255)];
    let mut out = vec![0, 0, 0xF0 | ARS_DEVICE_REGISTRATION, 0x20, id.len() as u8];
    out.extend_from_slice(id);
    out.extend_from_slice(&[0, 0]);
    let len = (out.len() - 2) as u16;
    out[..2].copy_from_slice(&len.to_be_bytes());
    out
}

/// Text on [`TEXT_PORT`]: UTF-16, a leading CR LF in either byte order dropped; the byte order
/// is the one under which more code units fall in U+0001..U+00FF (Latin text shows it),
/// big-endian on a tie (ok-dmrlib's "UTF-16BE text").
fn decode_port_text(payload: &[u8]) -> Option<Message> {
    let body = payload
        .strip_prefix(&[0x00, 0x0D, 0x00, 0x0A])
        .or_else(|| payload.strip_prefix(&[0x0D, 0x00, 0x0A, 0x00]))
        .unwrap_or(payload);
    let latin = |be: bool| {
        body.chunks_exact(2)
            .filter(|p| {
                let (hi, lo) = if be { (p[0], p[1]) } else { (p[1], p[0]) };
                hi == 0 && lo != 0
            })
            .count()
    };
    let big_endian = latin(true) >= latin(false);
    let text = clean_text(&decode_utf16(body, big_endian));
    (!text.is_empty()).then_some(Message::Text {
        encoding: if big_endian { "utf_16be" } else { "utf_16le" },
        text,
    })
}

/// Defined short data that declares BCD. Nibbles 0–9 are the digits. A nibble above 9 is not
/// a digit: such a payload is read as UTF-16 (LE, then BE) when that gives plausible text
/// (Latin-1, CJK; [`plausible_text_char`]), as
/// in the Hytera `h-sms` capture whose header says BCD over UTF-16LE text, and flagged by its
/// encoding name; otherwise `None` (the caller keeps it binary), never invented digits.
fn decode_declared_bcd(data: &[u8], nibbles: usize) -> Option<Message> {
    let digits: Vec<u8> = data
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .take(nibbles)
        .collect();
    if digits.iter().all(|&d| d <= 9) {
        return Some(Message::Text {
            encoding: "bcd",
            text: digits.iter().map(|&d| char::from(b'0' + d)).collect(),
        });
    }
    let even = &data[..data.len() & !1];
    for (big_endian, encoding) in [
        (false, "utf_16le_declared_bcd"),
        (true, "utf_16be_declared_bcd"),
    ] {
        let text = clean_text(&decode_utf16(even, big_endian));
        if !text.is_empty() && text.chars().all(plausible_text_char) {
            return Some(Message::Text { encoding, text });
        }
    }
    None
}

/// A character a dispatch text plausibly holds: printable Latin-1, CJK ideographs and
/// punctuation, fullwidth forms. Keeps a binary payload from reading as random text when a
/// header's declared format is wrong.
fn plausible_text_char(c: char) -> bool {
    matches!(c, ' '..='~' | '\u{A0}'..='\u{FF}' | '\u{3000}'..='\u{303F}'
        | '\u{4E00}'..='\u{9FFF}' | '\u{FF00}'..='\u{FFEF}' | '\n' | '\r')
}

/// Text as a dispatcher reads it: NULs, a leading CR LF and trailing whitespace gone.
fn clean_text(text: &str) -> String {
    text.trim_matches(char::from(0))
        .trim_start_matches(['\r', '\n'])
        .trim_end()
        .trim_matches(char::from(0))
        .to_owned()
}

/// The Motorola CAI address of a radio (12.x.y.z) or a talkgroup (225.x.y.z), as MOTOTRBO
/// IP data uses them (OpenGD77 dmrData.c `CAI_NETWORK_INDIVIDUAL` / `CAI_NETWORK_GROUP`).
pub fn cai_ip(id: u32, group: bool) -> [u8; 4] {
    let b = id.to_be_bytes();
    [if group { 225 } else { 12 }, b[1], b[2], b[3]]
}

/// The location an LRRP report carries, if any.
pub fn lrrp_location(l: &Lrrp) -> Option<Location> {
    let p = l.position?;
    Some(Location {
        source: LocationSource::Lrrp,
        latitude: p.latitude,
        longitude: p.longitude,
        time: l.info_time.map(|t| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year, t.month, t.day, t.hour, t.minute, t.second
            )
        }),
        speed: l.speed_hor,
        course: l.direction_hor.map(|d| f64::from(d) * 2.0),
        radius: p.radius,
        valid: l.result.is_none_or(|r| r == lrrp::RESULT_SUCCESS),
        request_id: l.request_id.as_ref().map(hex::encode),
    })
}

/// BCD digits, high nibble first; nibbles 10–15 shown as `*#ABCD`... hex letters (the UDT BCD
/// table beyond 0–9 was not in a source).
fn bcd_digits(data: &[u8], nibbles: usize) -> String {
    data.iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .take(nibbles)
        .map(|n| char::from_digit(u32::from(n), 16).map_or('?', |c| c.to_ascii_uppercase()))
        .collect()
}

/// Unpack `count` 7-bit characters packed MSB first.
fn unpack_7bit(data: &[u8], count: usize) -> String {
    (0..count)
        .map(|i| char::from(super::bits::get(data, i * 7, 7) as u8))
        .collect()
}

/// Pack ASCII text as 7-bit characters, MSB first; returns the octets and the pad bits.
pub fn pack_7bit(text: &str) -> Result<(Vec<u8>, u8)> {
    let chars: Vec<u8> = text.bytes().collect();
    if let Some(&c) = chars.iter().find(|&&c| c > 0x7F) {
        return Err(WireError::Invalid {
            frame: FRAME,
            field: "seven_bit_char",
            value: u32::from(c),
        });
    }
    let bits = chars.len() * 7;
    let mut out = vec![0u8; bits.div_ceil(8)];
    for (i, &c) in chars.iter().enumerate() {
        super::bits::put(&mut out, i * 7, 7, u64::from(c));
    }
    Ok((out, ((8 - bits % 8) % 8) as u8))
}

fn iso8859_encoding(part: u8) -> Option<&'static encoding_rs::Encoding> {
    use encoding_rs::*;
    Some(match part {
        2 => ISO_8859_2,
        3 => ISO_8859_3,
        4 => ISO_8859_4,
        5 => ISO_8859_5,
        6 => ISO_8859_6,
        7 => ISO_8859_7,
        8 => ISO_8859_8,
        9 => WINDOWS_1254, // WHATWG maps ISO 8859-9 to its superset windows-1254
        10 => ISO_8859_10,
        11 => WINDOWS_874, // likewise ISO 8859-11 (TIS-620)
        13 => ISO_8859_13,
        14 => ISO_8859_14,
        15 => ISO_8859_15,
        16 => ISO_8859_16,
        _ => return None,
    })
}

fn decode_iso8859(part: u8, data: &[u8]) -> Option<String> {
    if part == 1 {
        return Some(data.iter().map(|&b| char::from(b)).collect());
    }
    let (text, _) = iso8859_encoding(part)?.decode_without_bom_handling(data);
    Some(text.into_owned())
}

fn decode_utf16(data: &[u8], big_endian: bool) -> String {
    let units = data.chunks_exact(2).map(|p| {
        if big_endian {
            u16::from_be_bytes([p[0], p[1]])
        } else {
            u16::from_le_bytes([p[0], p[1]])
        }
    });
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

fn decode_utf16_bom(data: &[u8]) -> String {
    match data {
        [0xFF, 0xFE, rest @ ..] => decode_utf16(rest, false),
        [0xFE, 0xFF, rest @ ..] => decode_utf16(rest, true),
        _ => decode_utf16(data, true),
    }
}

fn decode_utf32(data: &[u8], big_endian: bool) -> String {
    data.chunks_exact(4)
        .map(|q| {
            let v = if big_endian {
                u32::from_be_bytes([q[0], q[1], q[2], q[3]])
            } else {
                u32::from_le_bytes([q[0], q[1], q[2], q[3]])
            };
            char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect()
}

/// Encode `text` in a defined data format. Returns the octets and the pad bits to put in the
/// header's bit padding (non-zero only for 7-bit and BCD). Characters a format cannot carry are
/// an error, never silently replaced.
pub fn encode_defined(text: &str, format: DefinedFormat) -> Result<(Vec<u8>, u8)> {
    let unrepresentable = |c: u32| WireError::Invalid {
        frame: FRAME,
        field: "text",
        value: c,
    };
    Ok(match format {
        DefinedFormat::SevenBit => pack_7bit(text)?,
        DefinedFormat::Bcd => encode_bcd(text)?,
        DefinedFormat::Iso8859(1) => {
            let mut out = Vec::with_capacity(text.len());
            for c in text.chars() {
                out.push(u8::try_from(u32::from(c)).map_err(|_| unrepresentable(u32::from(c)))?);
            }
            (out, 0)
        }
        DefinedFormat::Iso8859(part) => {
            let enc = iso8859_encoding(part).ok_or(WireError::Invalid {
                frame: FRAME,
                field: "iso_8859_part",
                value: u32::from(part),
            })?;
            let (bytes, _, bad) = enc.encode(text);
            if bad {
                return Err(unrepresentable(0));
            }
            (bytes.into_owned(), 0)
        }
        DefinedFormat::Utf8 => (text.as_bytes().to_vec(), 0),
        DefinedFormat::Utf16 | DefinedFormat::Utf16Be => {
            (text.encode_utf16().flat_map(u16::to_be_bytes).collect(), 0)
        }
        DefinedFormat::Utf16Le => (text.encode_utf16().flat_map(u16::to_le_bytes).collect(), 0),
        DefinedFormat::Utf32 | DefinedFormat::Utf32Be => (
            text.chars()
                .flat_map(|c| u32::from(c).to_be_bytes())
                .collect(),
            0,
        ),
        DefinedFormat::Utf32Le => (
            text.chars()
                .flat_map(|c| u32::from(c).to_le_bytes())
                .collect(),
            0,
        ),
        DefinedFormat::Binary | DefinedFormat::Unknown(_) => {
            return Err(WireError::Invalid {
                frame: FRAME,
                field: "defined_format",
                value: u32::from(format.bits()),
            });
        }
    })
}

fn encode_bcd(digits: &str) -> Result<(Vec<u8>, u8)> {
    let mut nibbles = Vec::with_capacity(digits.len());
    for c in digits.chars() {
        let d = c.to_digit(16).ok_or(WireError::Invalid {
            frame: FRAME,
            field: "bcd_digit",
            value: u32::from(c),
        })?;
        nibbles.push(d as u8);
    }
    let pad = if nibbles.len() % 2 == 1 { 4 } else { 0 };
    let out = nibbles
        .chunks(2)
        .map(|p| (p[0] << 4) | p.get(1).copied().unwrap_or(0))
        .collect();
    Ok((out, pad))
}

/// Default text coding for defined short data: ISO 8859-1 when every character fits it, else
/// UTF-16BE (so Chinese text always goes as UTF-16, docs/pdt.md §3). Returns the format, the
/// octets and the pad bits for the header.
pub fn defined_text(text: &str) -> (DefinedFormat, Vec<u8>, u8) {
    if let Ok((data, pad)) = encode_defined(text, DefinedFormat::Iso8859(1)) {
        return (DefinedFormat::Iso8859(1), data, pad);
    }
    let data = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    (DefinedFormat::Utf16Be, data, 0)
}

/// A status / precoded short-data header (DPF 14, SAP 10 short data, no appended blocks): the
/// 10-bit `status` rides in bits 70–79 (docs/air-interface.md §5.1). Send it with
/// [`DataHeader::emit`]; it is a whole PDU by itself.
pub fn status_header(
    destination: u32,
    source: u32,
    group: bool,
    status: u16,
    source_port: u8,
    destination_port: u8,
) -> DataHeader {
    DataHeader {
        group,
        response_requested: false,
        dpf: super::data_header::Dpf::RawShortData,
        sap: 10,
        destination,
        source,
        body: Body::RawShort(super::data_header::RawShortInfo {
            appended_blocks: 0,
            source_port: source_port & 7,
            destination_port: destination_port & 7,
            sarq: status & 0x200 != 0,
            full_message: status & 0x100 != 0,
            bit_padding: status as u8,
        }),
    }
}

/// The PDT SMS payload: the compressed UDP/IPv4 header then UTF-16BE text (docs/pdt.md §3), for
/// [`super::data::emit_packet`] with DPF 2, SAP 3.
pub fn pdt_sms_payload(text: &str) -> Vec<u8> {
    let mut out = PDT_SMS_HEADER.to_vec();
    out.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    out
}

/// UDT short data as a payload for [`super::data::emit_udt`]: (format, octets, pad nibbles to
/// add beyond whole octets — 1 for an odd number of BCD digits).
pub fn udt_text_payload(text: &str, format: u8) -> Result<(u8, Vec<u8>, u8)> {
    let (data, pad_bits) = match format {
        udt_format::BCD => encode_bcd(text)?,
        udt_format::ISO7 => pack_7bit(text)?,
        udt_format::ISO8 => encode_defined(text, DefinedFormat::Iso8859(1))?,
        udt_format::UNICODE => encode_defined(text, DefinedFormat::Utf16Be)?,
        udt_format::NMEA => (text.as_bytes().to_vec(), 0),
        other => {
            return Err(WireError::Invalid {
                frame: FRAME,
                field: "udt_format",
                value: u32::from(other),
            });
        }
    };
    Ok((format, data, pad_bits / 4))
}

fn nmea_checksum(body: &str) -> u8 {
    body.bytes().fold(0, |a, b| a ^ b)
}

fn nmea_deg_min(v: f64, width: usize) -> String {
    let a = v.abs();
    let deg = a.trunc();
    let min = (a - deg) * 60.0;
    format!("{:0width$}{:07.4}", deg as u32, min, width = width)
}

/// An NMEA 0183 `$GPRMC` sentence (position, time, speed, course). At 60+ octets it does not fit
/// a UDT (at most 46 octets); send it as packet data, or use [`nmea_gll`] over UDT. `time` is
/// `hhmmss`, `date` `ddmmyy`.
pub fn nmea_rmc(
    latitude: f64,
    longitude: f64,
    time: &str,
    date: &str,
    speed_knots: f64,
    course: f64,
) -> String {
    let body = format!(
        "GPRMC,{time},A,{},{},{},{},{speed_knots:.1},{course:.1},{date},,",
        nmea_deg_min(latitude, 2),
        if latitude < 0.0 { 'S' } else { 'N' },
        nmea_deg_min(longitude, 3),
        if longitude < 0.0 { 'W' } else { 'E' },
    );
    format!("${body}*{:02X}", nmea_checksum(&body))
}

/// An NMEA 0183 `$GPGLL` sentence (position and time, 43 octets): the location report that fits
/// a UDT (format 5). `time` is `hhmmss`.
pub fn nmea_gll(latitude: f64, longitude: f64, time: &str) -> String {
    let body = format!(
        "GPGLL,{},{},{},{},{time},A",
        nmea_deg_min(latitude, 2),
        if latitude < 0.0 { 'S' } else { 'N' },
        nmea_deg_min(longitude, 3),
        if longitude < 0.0 { 'W' } else { 'E' },
    );
    format!("${body}*{:02X}", nmea_checksum(&body))
}

fn nmea_coord(value: &str, hemi: &str) -> Option<f64> {
    let v: f64 = value.parse().ok()?;
    let deg = (v / 100.0).trunc();
    let d = deg + (v - deg * 100.0) / 60.0;
    match hemi {
        "N" | "E" => Some(d),
        "S" | "W" => Some(-d),
        _ => None,
    }
}

fn nmea_time(t: &str) -> Option<String> {
    let t = t.get(..6)?;
    t.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| format!("{}:{}:{}", &t[..2], &t[2..4], &t[4..6]))
}

/// Parse an NMEA 0183 RMC, GGA or GLL sentence (checksum checked when present).
pub fn parse_nmea(text: &str) -> Option<Location> {
    let start = text.find('$')?;
    let s = text[start + 1..].trim_end_matches(['\r', '\n', '\0']);
    let body = match s.split_once('*') {
        Some((body, sum)) => {
            let want = u8::from_str_radix(sum.get(..2)?, 16).ok()?;
            (nmea_checksum(body) == want).then_some(body)?
        }
        None => s,
    };
    let f: Vec<&str> = body.split(',').collect();
    let kind = f.first()?.get(2..)?;
    let get = |i: usize| f.get(i).copied().unwrap_or("");
    let num = |i: usize| get(i).parse::<f64>().ok();
    let (lat, lon, time, valid, speed, course) = match kind {
        "RMC" => (
            nmea_coord(get(3), get(4))?,
            nmea_coord(get(5), get(6))?,
            get(1),
            get(2) == "A",
            num(7),
            num(8),
        ),
        "GGA" => (
            nmea_coord(get(2), get(3))?,
            nmea_coord(get(4), get(5))?,
            get(1),
            num(6).is_some_and(|q| q > 0.0),
            None,
            None,
        ),
        "GLL" => (
            nmea_coord(get(1), get(2))?,
            nmea_coord(get(3), get(4))?,
            get(5),
            get(6) == "A",
            None,
            None,
        ),
        _ => return None,
    };
    Some(Location {
        source: LocationSource::Nmea,
        latitude: lat,
        longitude: lon,
        time: nmea_time(time),
        speed,
        course,
        radius: None,
        valid,
        request_id: None,
    })
}

/// Hytera HDAP checksum: ((NOT of the byte sum) + 0x33) & 0xFF (docs/pdt.md §4.1, ok-dmrlib
/// `get_hdap_checksum`).
fn hdap_checksum(bytes: &[u8]) -> u8 {
    (!bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b))).wrapping_add(0x33)
}

/// The PDT conventional GPS poll payload (docs/pdt.md §4.1), for [`super::data::emit_packet`]
/// with DPF 3, SAP 3, rate ¾, FSN 8. `ident` is the IPv4 identification (0x022A PDT plain,
/// 0x0098 PDT encrypted, 0x009C DMR); the radio IP is 10.x.y.z from its 24-bit ID.
pub fn pdt_gps_request(ident: u16, request_id: u32, radio_id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    out.extend_from_slice(&ident.to_be_bytes());
    out.extend_from_slice(&[0x10, PORT_ID_HYTERA_LP, PORT_ID_HYTERA_LP, 0x08]);
    let start = out.len();
    out.extend_from_slice(&LP_REQUEST.to_be_bytes());
    out.extend_from_slice(&8u16.to_be_bytes());
    out.extend_from_slice(&request_id.to_be_bytes());
    out.push(10);
    out.extend_from_slice(&radio_id.to_be_bytes()[1..]);
    let sum = hdap_checksum(&out[start..]);
    out.extend_from_slice(&[sum, 0x03]);
    out
}

/// DDMMmmmm / DDDMMmmmm decimal in the low 31 bits → degrees (sign applied by the caller).
fn ddmm(word: u32) -> f64 {
    let v = word & 0x7FFF_FFFF;
    f64::from(v / 1_000_000) + f64::from(v % 1_000_000) / 10_000.0 / 60.0
}

/// The PDT GPS answer (docs/pdt.md §4.1): exactly 32 octets, message header 0x01, opcode 0xA002.
pub fn parse_pdt_gps_report(data: &[u8]) -> Option<Location> {
    let d: &[u8; 32] = data.try_into().ok()?;
    if d[5] != 0x01 || u16::from_be_bytes([d[6], d[7]]) != LP_REPORT {
        return None;
    }
    let lat_w = u32::from_be_bytes([d[20], d[21], d[22], d[23]]);
    let lon_w = u32::from_be_bytes([d[24], d[25], d[26], d[27]]);
    // > latitude: 31-bit decimal number DDMMmmmm plus an N/S bit (1 = north);
    // > longitude: 31-bit DDDMMmmmm plus an E/W bit (0 = east)
    let lat = if lat_w >> 31 == 1 {
        ddmm(lat_w)
    } else {
        -ddmm(lat_w)
    };
    let lon = if lon_w >> 31 == 0 {
        ddmm(lon_w)
    } else {
        -ddmm(lon_w)
    };
    Some(Location {
        source: LocationSource::PdtGps,
        latitude: lat,
        longitude: lon,
        time: None,
        speed: None,
        course: None,
        radius: None,
        valid: u16::from_be_bytes([d[12], d[13]]) == 0,
        request_id: Some(hex::encode(&d[8..12])),
    })
}

/// IPv4 + UDP around `payload` (RFC 791 / RFC 768: version 4, IHL 5, TTL 64, protocol 17,
/// header checksum; UDP checksum 0, "no checksum", allowed over IPv4), as SAP 4 packet data
/// carries LRRP (docs/air-interface.md §5.3). Addresses are IPv4 octets.
pub fn ipv4_udp(
    source: [u8; 4],
    destination: [u8; 4],
    source_port: u16,
    destination_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&[0x45, 0x00]);
    out.extend_from_slice(&(total as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0]);
    out.extend_from_slice(&source);
    out.extend_from_slice(&destination);
    let sum = out
        .chunks(2)
        .fold(0u32, |a, w| a + u32::from(u16::from_be_bytes([w[0], w[1]])));
    let folded = (sum & 0xFFFF) + (sum >> 16);
    let checksum = !(((folded & 0xFFFF) + (folded >> 16)) as u16);
    out[10..12].copy_from_slice(&checksum.to_be_bytes());
    out.extend_from_slice(&source_port.to_be_bytes());
    out.extend_from_slice(&destination_port.to_be_bytes());
    out.extend_from_slice(&(udp_len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    out
}

/// The 10.x.y.z address of a 24-bit radio ID (docs/pdt.md §4.1: "radio IP 10.x.y.z = 10 +
/// 24-bit id").
pub fn radio_ip(id: u32) -> [u8; 4] {
    let b = id.to_be_bytes();
    [10, b[1], b[2], b[3]]
}

/// The PDT GPS answer a radio sends (docs/pdt.md §4.1, the layout [`parse_pdt_gps_report`]
/// reads): compressed header `02 2A 01 74 74` (the request's, address IDs swapped: derived),
/// message header 0x01, opcode 0xA002, request ID, `result`, time and date left zero (their
/// coding is not described), latitude DDMMmmmm with N bit 31, longitude DDDMMmmmm with W bit 31,
/// speed and direction zero. 32 octets.
pub fn pdt_gps_report(request_id: u32, result: u16, latitude: f64, longitude: f64) -> Vec<u8> {
    fn to_ddmm(deg: f64) -> u32 {
        let d = deg.abs().min(180.0);
        let whole = d.trunc() as u32;
        let minutes = ((d - d.trunc()) * 60.0 * 10_000.0).round() as u32;
        (whole * 1_000_000 + minutes.min(599_999)) & 0x7FFF_FFFF
    }
    let mut out = vec![0x02, 0x2A, 0x01, PORT_ID_HYTERA_LP, PORT_ID_HYTERA_LP, 0x01];
    out.extend_from_slice(&LP_REPORT.to_be_bytes());
    out.extend_from_slice(&request_id.to_be_bytes());
    out.extend_from_slice(&result.to_be_bytes());
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&(to_ddmm(latitude) | u32::from(latitude >= 0.0) << 31).to_be_bytes());
    out.extend_from_slice(&(to_ddmm(longitude) | u32::from(longitude < 0.0) << 31).to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::data::{self, BlockKind, DataAssembler, Rate};
    use crate::wire::data_header::{
        DataHeader, DefinedShortInfo, Dpf, PacketInfo, RawShortInfo, UdtInfo,
    };
    use crate::wire::{Dialect, DialectChoice};

    const WARNING: &str = "山体滑坡预警";

    fn through_air(out: &data::Outbound) -> DataPdu {
        let mut asm = DataAssembler::new(DialectChoice::Auto);
        let mut pdu = asm.feed(BlockKind::Header, &out.header_block).unwrap();
        for b in &out.blocks {
            pdu = asm.feed(BlockKind::Data(out.rate), b).unwrap();
        }
        pdu.unwrap()
    }

    fn defined_header(format: DefinedFormat, pad_bits: u8) -> DataHeader {
        DataHeader {
            group: true,
            response_requested: false,
            dpf: Dpf::DefinedShortData,
            sap: 10,
            destination: 0xFC0100,
            source: 0xFC0001,
            body: Body::DefinedShort(DefinedShortInfo {
                appended_blocks: 0,
                format: format.bits(),
                sarq: false,
                full_message: true,
                bit_padding: pad_bits,
            }),
        }
    }

    fn packet_header(sap: u8, dpf: Dpf) -> DataHeader {
        DataHeader {
            group: false,
            response_requested: false,
            dpf,
            sap,
            destination: 0xFC0002,
            source: 0xFC0001,
            body: Body::Packet(PacketInfo {
                header_compression: false,
                pad_octets: 0,
                full_message: true,
                blocks_to_follow: 0,
                resync: false,
                send_seq: 0,
                fsn: 0,
            }),
        }
    }

    #[test]
    fn text_round_trips_in_every_defined_format() {
        let cases: &[(DefinedFormat, &str)] = &[
            (DefinedFormat::SevenBit, "Landslide warning, sector 7!"),
            (DefinedFormat::Iso8859(1), "Café déjà vu"),
            (DefinedFormat::Iso8859(5), "Привет"),
            (DefinedFormat::Iso8859(7), "Καλημέρα"),
            (DefinedFormat::Iso8859(15), "€uro"),
            (DefinedFormat::Utf8, WARNING),
            (DefinedFormat::Utf16, WARNING),
            (DefinedFormat::Utf16Be, WARNING),
            (DefinedFormat::Utf16Le, WARNING),
            (DefinedFormat::Utf32Be, WARNING),
            (DefinedFormat::Utf32Le, "山体 OK"),
            (DefinedFormat::Bcd, "0123456789"),
            (DefinedFormat::Bcd, "110"),
        ];
        for dialect in [Dialect::Dmr, Dialect::Pdt] {
            for &(format, text) in cases {
                let (payload, pad) = encode_defined(text, format).unwrap();
                let out = data::emit_short_data(
                    defined_header(format, pad),
                    &payload,
                    Rate::Half,
                    dialect,
                )
                .unwrap();
                let msg = decode(&through_air(&out));
                let Message::Text { text: got, .. } = msg else {
                    panic!("{format:?}: {msg:?}")
                };
                assert_eq!(got, text, "{format:?} {dialect:?}");
            }
        }
        assert!(encode_defined(WARNING, DefinedFormat::Iso8859(1)).is_err());
        assert!(encode_defined(WARNING, DefinedFormat::SevenBit).is_err());
        assert!(encode_defined(WARNING, DefinedFormat::Iso8859(2)).is_err());
    }

    #[test]
    fn chinese_utf16_octets_are_exact() {
        let (b, _) = encode_defined("山体", DefinedFormat::Utf16Be).unwrap();
        assert_eq!(b, [0x5C, 0x71, 0x4F, 0x53]);
        let (b, _) = encode_defined("山体", DefinedFormat::Utf16Le).unwrap();
        assert_eq!(b, [0x71, 0x5C, 0x53, 0x4F]);
        assert_eq!(decode_utf16_bom(&[0xFF, 0xFE, 0x71, 0x5C]), "山");
    }

    #[test]
    fn pdt_sms_round_trip_and_pdt_facts_example() {
        // docs/pdt.md §3: "测试" → 00 00 02 01 01 6D 4B 8B D5.
        assert_eq!(
            pdt_sms_payload("测试"),
            hex::decode("00000201016d4b8bd5").unwrap()
        );
        for dialect in [Dialect::Pdt, Dialect::Dmr] {
            let payload = pdt_sms_payload(WARNING);
            let out = data::emit_packet(
                packet_header(3, Dpf::Unconfirmed),
                &payload,
                Rate::Half,
                dialect,
            )
            .unwrap();
            let msg = decode(&through_air(&out));
            assert_eq!(
                msg,
                Message::Text {
                    encoding: "utf_16be",
                    text: WARNING.to_owned()
                }
            );
        }
    }

    #[test]
    fn default_text_coding() {
        assert_eq!(defined_text("Café").0, DefinedFormat::Iso8859(1));
        let (f, data, pad) = defined_text(WARNING);
        assert_eq!((f, pad, data.len()), (DefinedFormat::Utf16Be, 0, 12));
        let out =
            data::emit_short_data(defined_header(f, pad), &data, Rate::Half, Dialect::Pdt).unwrap();
        assert_eq!(
            decode(&through_air(&out)),
            Message::Text {
                encoding: "utf_16be",
                text: WARNING.to_owned()
            }
        );
    }

    #[test]
    fn status_message() {
        let h = status_header(1, 2, false, 0x22A, 3, 4);
        assert_eq!(
            h.body,
            Body::RawShort(RawShortInfo {
                appended_blocks: 0,
                source_port: 3,
                destination_port: 4,
                sarq: true,
                full_message: false,
                bit_padding: 0x2A,
            })
        );
        let mut b = [0u8; 12];
        h.emit(Dialect::Pdt, &mut b);
        let pdu = DataAssembler::new(DialectChoice::Auto)
            .feed(BlockKind::Header, &b)
            .unwrap()
            .unwrap();
        let msg = decode(&pdu);
        assert_eq!(
            msg,
            Message::Status {
                status: 0x22A,
                source_port: 3,
                destination_port: 4
            }
        );
        let v = serde_json::to_value(&msg).unwrap();
        assert_eq!(v["kind"], "status");
        assert_eq!(v["status"], 0x22A);
    }

    fn udt_header(format: u8, pad_nibbles: u8) -> DataHeader {
        DataHeader {
            group: false,
            response_requested: false,
            dpf: Dpf::Udt,
            sap: 0,
            destination: 262,
            source: 2620647,
            body: Body::Udt(UdtInfo {
                emergency: false,
                option_flag: false,
                format,
                pad_nibbles,
                appended_blocks: 1,
                supplementary: false,
                protect: false,
                opcode: 0x1B,
            }),
        }
    }

    #[test]
    fn udt_nmea_location_report_round_trip() {
        let s = nmea_gll(30.5925, 114.305556, "073000");
        assert!(
            s.starts_with("$GPGLL,3035.5500,N,11418.3334,E,073000,A*"),
            "{s}"
        );
        let (format, payload, pad) = udt_text_payload(&s, udt_format::NMEA).unwrap();
        let out = data::emit_udt(udt_header(format, pad), &payload, Dialect::Pdt).unwrap();
        assert_eq!(out.blocks.len(), 4);
        let Message::Location(loc) = decode(&through_air(&out)) else {
            panic!()
        };
        assert_eq!(loc.source, LocationSource::Nmea);
        assert!((loc.latitude - 30.5925).abs() < 1e-6);
        assert!((loc.longitude - 114.305556).abs() < 1e-6);
        assert_eq!((loc.time.as_deref(), loc.valid), (Some("07:30:00"), true));
        // RMC (too long for UDT) parses with speed and course.
        let loc = parse_nmea(&nmea_rmc(
            -30.5925,
            -114.305556,
            "073000",
            "281126",
            12.5,
            270.0,
        ))
        .unwrap();
        assert!((loc.latitude + 30.5925).abs() < 1e-6 && (loc.longitude + 114.305556).abs() < 1e-6);
        assert_eq!(
            (loc.speed, loc.course, loc.valid),
            (Some(12.5), Some(270.0), true)
        );
    }

    #[test]
    fn nmea_variants_and_bad_checksum() {
        let gga = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47";
        let loc = parse_nmea(gga).unwrap();
        assert!((loc.latitude - 48.1173).abs() < 1e-4 && (loc.longitude - 11.516_666).abs() < 1e-4);
        assert!(loc.valid);
        assert_eq!(loc.time.as_deref(), Some("12:35:19"));
        assert!(parse_nmea(&gga.replace("*47", "*48")).is_none());
        let gll = "$GPGLL,3751.65,S,14507.36,W,225444,A";
        let loc = parse_nmea(gll).unwrap();
        assert!(loc.latitude < -37.0 && loc.longitude < -145.0);
        assert!(parse_nmea("$GPXYZ,1,2").is_none());
        assert!(parse_nmea("garbage").is_none());
        assert!(parse_nmea("$GPRMC,,,,").is_none());
    }

    #[test]
    fn udt_text_bcd_and_address() {
        for (format, text) in [
            (udt_format::ISO8, "Evacuate now"),
            (udt_format::ISO7, "Evacuate"),
            (udt_format::UNICODE, WARNING),
            (udt_format::BCD, "13800138000"),
        ] {
            let (f, payload, pad) = udt_text_payload(text, format).unwrap();
            let out = data::emit_udt(udt_header(f, pad), &payload, Dialect::Dmr).unwrap();
            let msg = decode(&through_air(&out));
            let Message::Udt {
                text: Some(got),
                format_name,
                ..
            } = msg
            else {
                panic!("{msg:?}")
            };
            assert_eq!(got, text, "{format_name}");
        }
        let out = data::emit_udt(
            udt_header(udt_format::ADDRESS, 0),
            &[0xFC, 0x00, 0x02],
            Dialect::Dmr,
        )
        .unwrap();
        let Message::Udt { address, .. } = decode(&through_air(&out)) else {
            panic!()
        };
        assert_eq!(address, Some(0xFC0002));
    }

    #[test]
    fn pdt_gps_request_matches_pdt_facts_example() {
        // docs/pdt.md §4.1 derived example: request ID 1, radio id 1, checksum 0x7D.
        assert_eq!(
            hex::encode(pdt_gps_request(0x022A, 1, 1)),
            "022a107474".to_owned() + "08a0010008000000010a0000017d03"
        );
        let out = data::emit_packet(
            packet_header(3, Dpf::Confirmed),
            &pdt_gps_request(0x022A, 7, 0xFC0002),
            Rate::ThreeQuarter,
            Dialect::Pdt,
        )
        .unwrap();
        assert_eq!(out.blocks.len(), 2);
        let pdu = through_air(&out);
        assert_eq!(pdu.payload.len(), 20);
    }

    #[test]
    fn pdt_gps_report_decodes_documented_fields() {
        let mut r = vec![
            0x02, 0x2A, 0x01, 0x74, 0x74, 0x01, 0xA0, 0x02, 0, 0, 0, 7, 0, 0,
        ];
        r.extend_from_slice(&[0; 6]); // time, date: not decoded
        r.extend_from_slice(&(0x8000_0000u32 | 30_351_234).to_be_bytes()); // N 30°35.1234'
        r.extend_from_slice(&114_183_334u32.to_be_bytes()); // E 114°18.3334'
        r.extend_from_slice(&[0; 4]);
        let loc = parse_pdt_gps_report(&r).unwrap();
        assert!((loc.latitude - (30.0 + 35.1234 / 60.0)).abs() < 1e-9);
        assert!((loc.longitude - (114.0 + 18.3334 / 60.0)).abs() < 1e-9);
        assert_eq!(loc.request_id.as_deref(), Some("00000007"));
        let Message::Location(l2) = decode_compressed_udp(3, &r) else {
            panic!()
        };
        assert_eq!(l2, loc);
        assert!(parse_pdt_gps_report(&r[..31]).is_none());
    }

    #[test]
    fn lrrp_over_ip_becomes_a_location() {
        let lrrp = hex::decode("071a22042468ace0341f4dbc778051118ecd8d118ad47b00636c0006").unwrap();
        let mut ip = hex::decode("4500003800000000401100000c23380b0d0008fd").unwrap();
        ip.extend_from_slice(&[0x0F, 0xA1, 0x0F, 0xA1, 0x00, 0x24, 0x00, 0x00]);
        ip.extend_from_slice(&lrrp);
        let out = data::emit_packet(
            packet_header(4, Dpf::Unconfirmed),
            &ip,
            Rate::Half,
            Dialect::Dmr,
        )
        .unwrap();
        let Message::Location(loc) = decode(&through_air(&out)) else {
            panic!()
        };
        assert_eq!(loc.source, LocationSource::Lrrp);
        assert_eq!(
            format!("{:.6},{:.6}", loc.latitude, loc.longitude),
            "12.345345,24.668866"
        );
        assert_eq!(loc.time.as_deref(), Some("2003-06-30T07:30:00"));
        assert_eq!(loc.request_id.as_deref(), Some("2468ace0"));
        // Other ports stay binary.
        ip[20] = 0x10;
        ip[22] = 0x10;
        let out = data::emit_packet(
            packet_header(4, Dpf::Unconfirmed),
            &ip,
            Rate::Half,
            Dialect::Dmr,
        )
        .unwrap();
        assert!(matches!(
            decode(&through_air(&out)),
            Message::Binary {
                source_port: Some(0x10A1),
                ..
            }
        ));
    }

    #[test]
    fn garbage_payloads_decode_without_panic() {
        let mut x = 0xDEAD_BEEFu32;
        for i in 0..500usize {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let payload: Vec<u8> = (0..i % 60).map(|k| (x >> (k % 24)) as u8).collect();
            for (sap, dpf) in [
                (3, Dpf::Unconfirmed),
                (4, Dpf::Unconfirmed),
                (10, Dpf::DefinedShortData),
            ] {
                let header = if dpf == Dpf::DefinedShortData {
                    defined_header(DefinedFormat::from_bits((x % 64) as u8), (x >> 8) as u8)
                } else {
                    packet_header(sap, dpf)
                };
                let pdu = DataPdu {
                    header,
                    secondary_header: None,
                    payload: payload.clone(),
                    crc_ok: true,
                    dialect: Dialect::Dmr,
                    rate: None,
                };
                let _ = decode(&pdu);
            }
            let pdu = DataPdu {
                header: udt_header((x % 16) as u8, (x % 32) as u8),
                secondary_header: None,
                payload: payload.clone(),
                crc_ok: true,
                dialect: Dialect::Dmr,
                rate: None,
            };
            let _ = serde_json::to_string(&decode(&pdu)).unwrap();
        }
    }

    #[test]
    fn pdt_gps_report_and_ip_framing_read_back() {
        let r = pdt_gps_report(0x0102_0304, 0, 23.1291, 113.2644);
        let loc = parse_pdt_gps_report(&r).unwrap();
        assert!((loc.latitude - 23.1291).abs() < 1e-4 && (loc.longitude - 113.2644).abs() < 1e-4);
        assert_eq!(loc.request_id.as_deref(), Some("01020304"));
        assert!(loc.valid);
        assert!(
            !parse_pdt_gps_report(&pdt_gps_report(1, 0x10, -1.5, -2.5))
                .unwrap()
                .valid
        );
        let ip = ipv4_udp(radio_ip(5), [10, 0, 0, 1], LRRP_PORT, LRRP_PORT, b"xy");
        assert_eq!(ip.len(), 30);
        // the header checksum verifies: the one's complement sum of the header is 0xFFFF
        let sum = ip[..20]
            .chunks(2)
            .fold(0u32, |a, w| a + u32::from(u16::from_be_bytes([w[0], w[1]])));
        assert_eq!((sum & 0xFFFF) + (sum >> 16), 0xFFFF);
        assert_eq!(&ip[12..16], &[10, 0, 0, 5]);
    }

    #[test]
    fn hytera_hdap_tmp_and_rrs_vectors() {
        // ok-dmrlib test_tmp.py: private message "OLIVER TEST", request 1.
        let tmp = hex::decode(
            "0980a10022000000010a01b2070a03640e4f004c004900560045005200200054004500530054007a03",
        )
        .unwrap();
        assert_eq!(
            decode_hdap(&tmp),
            Some(Message::Text {
                encoding: "hytera_tmp_utf_16le",
                text: "OLIVER TEST".into()
            })
        );
        // the same with one octet changed fails the checksum: not HDAP
        let mut bad = tmp.clone();
        bad[20] ^= 1;
        assert_eq!(decode_hdap(&bad), None);
        // ok-dmrlib test_tmp.py: its acknowledgement, result OK; and with an option field.
        let ack = hex::decode("0980a2000D000000010a01b2070a030000003103").unwrap();
        assert_eq!(decode_hdap(&ack), Some(Message::TextAck { sequence: 0 }));
        let ack_opt = hex::decode("09c0a200120003000000020a01b2070a03000000010203e203").unwrap();
        assert_eq!(
            decode_hdap(&ack_opt),
            Some(Message::TextAck { sequence: 0 })
        );
        // RRS registration of 10.0.0.80 (dmr-kaitai radio_registration_service.ksy layout,
        // checksum by ok-dmrlib get_hdap_checksum), then going offline.
        for (kind, registered) in [(0x03u8, true), (0x01, false)] {
            let mut rrs = vec![0x11, 0x00, kind, 0x00, 0x04, 10, 0, 0, 80];
            rrs.push(hdap_checksum(&rrs[1..]));
            rrs.push(0x03);
            assert_eq!(
                decode_hdap(&rrs),
                Some(Message::Registration {
                    registered,
                    device: Some("80".into())
                })
            );
        }
        // Through the IP layer, on a port of its own.
        let ip = ipv4_udp(radio_ip(5), radio_ip(1), 5017, 5017, &tmp);
        let out = data::emit_packet(
            packet_header(4, Dpf::Unconfirmed),
            &ip,
            Rate::Half,
            Dialect::Dmr,
        )
        .unwrap();
        assert!(
            matches!(decode(&through_air(&out)), Message::Text { text, .. } if text == "OLIVER TEST")
        );
    }

    #[test]
    fn tms_ars_and_port_text_parse_and_round_trip() {
        // ok-dmrlib test_tms.py `test_message` and the gateway's own form read back.
        let m = hex::decode("000de001019544610068006f006a00").unwrap();
        assert_eq!(
            decode_tms(&m),
            Some(Message::Text {
                encoding: "tms_utf_16le",
                text: "ahoj".into()
            })
        );
        for seq in [0u8, 5, 85, 127] {
            let t = tms_text("山体 warning", seq, seq % 2 == 0);
            assert_eq!(
                decode_tms(&t),
                Some(Message::Text {
                    encoding: "tms_utf_16le",
                    text: "山体 warning".into()
                })
            );
            assert_eq!(
                decode_tms(&tms_ack(seq)),
                Some(Message::TextAck { sequence: seq })
            );
        }
        // the captured TMS header: length 0x20, A0, no address, sequence 5, UCS-2 LE
        assert_eq!(&tms_text("x", 5, false)[2..6], &[0xA0, 0x00, 0x85, 0x04]);
        // ok-dmrlib test_ars.py vectors; the gateway's registration form read back
        assert_eq!(
            decode_ars(&hex::decode("0007f0200231310000").unwrap()),
            Some(Message::Registration {
                registered: true,
                device: Some("11".into())
            })
        );
        assert_eq!(
            ars_registration("11"),
            hex::decode("0007f0200231310000").unwrap()
        );
        assert_eq!(ars_registration_ack(1), hex::decode("0002bf01").unwrap());
        assert_eq!(
            decode_ars(&[0, 1, 0x31]),
            Some(Message::Registration {
                registered: false,
                device: None
            })
        );
        assert_eq!(decode_ars(&[0, 1, 0x74]), None); // a query is not a registration
        // truncated input never panics
        for n in 0..12 {
            let _ = decode_tms(&m[..n.min(m.len())]);
            let _ = decode_ars(&[0, 7, 0xF0, 0x20, 9][..n.min(5)]);
            let _ = decode_hdap(&[0x09, 0x80, 0xA1, 0, 0x22, 3][..n.min(6)]);
        }
        // port 5016: both byte orders, a leading CR LF dropped
        let le: Vec<u8> = [0x00, 0x0D, 0x00, 0x0A]
            .into_iter()
            .chain("TEST".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(
            decode_port_text(&le),
            Some(Message::Text {
                encoding: "utf_16le",
                text: "TEST".into()
            })
        );
        let be: Vec<u8> = "山体OK".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(
            decode_port_text(&be),
            Some(Message::Text {
                encoding: "utf_16be",
                text: "山体OK".into()
            })
        );
    }

    #[test]
    fn declared_bcd_never_prints_digits_that_are_not_there() {
        // Real BCD stays digits.
        assert_eq!(
            decode_declared_bcd(&[0x13, 0x80, 0x01, 0x38, 0x00, 0x00], 11),
            Some(Message::Text {
                encoding: "bcd",
                text: "13800138000".into()
            })
        );
        // The h-sms payload: UTF-16LE behind a BCD header.
        let h = hex::decode("0000540045005300540020004b004900350056004d0046000000").unwrap();
        assert_eq!(
            decode_declared_bcd(&h, h.len() * 2),
            Some(Message::Text {
                encoding: "utf_16le_declared_bcd",
                text: "TEST KI5VMF".into()
            })
        );
        // Neither: no text at all (the caller keeps it binary).
        assert_eq!(decode_declared_bcd(&[0xAB, 0x01, 0xFF], 6), None);
    }
}
