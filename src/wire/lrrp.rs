//! LRRP, the location request/response protocol carried over UDP/IP packet data, in its binary
//! "MBXML" form.
//!
//! Sources (docs/air-interface.md §5.3): OK-DMR/ok-dmrlib motorola/lrrp.py and mbxml.py (document IDs,
//! token tables, uintvar / ufloatvar / sfloatvar encodings), DSheirer/sdrtrunk
//! ip/mototrbo/lrrp/token/*.java (token lengths, response codes), arancormonk/dsd-neo
//! test_dmr_lrrp_coordinate_formulas.c (latitude = int32 × 90/2³¹, longitude = int32 × 180/2³¹).
//! The vectors are ok-dmrlib's tests/dmrlib/motorola/test_lrrp.py (`okdmr-lrrp-*`).
//!
//! A document is `doc-id (uintvar) | length (uintvar) | [constant table, even IDs] | tokens`.
//! Token meanings depend on whether the document is a request (`0x34` periodic-trigger, `0x51`
//! ret-info) or an answer/report (`0x34` info-time, `0x51` circle-2d); [`Lrrp::parse`] follows
//! ok-dmrlib's split. Contract:
//! - parse never panics; a truncated document or token is [`WireError::Truncated`], a uintvar
//!   longer than 32 bits is [`WireError::Invalid`].
//! - A token this module does not know (or whose layout the sources do not pin down, e.g.
//!   circle-3d, point-3d, `0x39` operation-error) stops token parsing: it and everything after it
//!   are kept in [`Lrrp::trailing`] and re-emitted verbatim, so nothing is lost or misread.
//! - Response codes are read as uintvar (ok-dmrlib); sdrtrunk reads a 2-octet code slightly
//!   differently for values ≥ 128 (see its Response.java) — unverified which is right.
//! - The UDP port LRRP uses is not in the sources read (Motorola's 4001 is common practice).

use serde::Serialize;

use super::{Result, WireError};

const FRAME: &str = "lrrp";

/// Document types (ok-dmrlib mbxml.py `MBXMLDocumentIdentifier`). The ID's low bit set means
/// "no constant data table" (NCDT), the form radios send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    /// 0x04 / 0x05.
    ImmediateLocationRequest,
    /// 0x06 / 0x07.
    ImmediateLocationReport,
    /// 0x08 / 0x09.
    TriggeredLocationRequest,
    /// 0x0A / 0x0B.
    TriggeredLocationAnswer,
    /// 0x0C / 0x0D.
    TriggeredLocationReport,
    /// 0x0E / 0x0F.
    TriggeredLocationStopRequest,
    /// 0x10 / 0x11.
    TriggeredLocationStopAnswer,
    /// 0x12 / 0x13.
    UnsolicitedLocationReport,
    /// 0x14.
    LocationProtocolRequest,
    /// 0x15.
    LocationProtocolReport,
    /// Any other ID.
    Unknown,
}

impl DocType {
    /// The type of document ID `id`.
    pub const fn from_id(id: u32) -> DocType {
        match id {
            0x04 | 0x05 => DocType::ImmediateLocationRequest,
            0x06 | 0x07 => DocType::ImmediateLocationReport,
            0x08 | 0x09 => DocType::TriggeredLocationRequest,
            0x0A | 0x0B => DocType::TriggeredLocationAnswer,
            0x0C | 0x0D => DocType::TriggeredLocationReport,
            0x0E | 0x0F => DocType::TriggeredLocationStopRequest,
            0x10 | 0x11 => DocType::TriggeredLocationStopAnswer,
            0x12 | 0x13 => DocType::UnsolicitedLocationReport,
            0x14 => DocType::LocationProtocolRequest,
            0x15 => DocType::LocationProtocolReport,
            _ => DocType::Unknown,
        }
    }

    /// The NCDT document ID of this type.
    pub const fn ncdt_id(self) -> u32 {
        match self {
            DocType::ImmediateLocationRequest => 0x05,
            DocType::ImmediateLocationReport => 0x07,
            DocType::TriggeredLocationRequest => 0x09,
            DocType::TriggeredLocationAnswer => 0x0B,
            DocType::TriggeredLocationReport => 0x0D,
            DocType::TriggeredLocationStopRequest => 0x0F,
            DocType::TriggeredLocationStopAnswer => 0x11,
            DocType::UnsolicitedLocationReport => 0x13,
            DocType::LocationProtocolRequest => 0x14,
            DocType::LocationProtocolReport => 0x15,
            DocType::Unknown => 0x01,
        }
    }

    /// Requests use the query token table; everything else the answer/report table.
    pub const fn is_request(self) -> bool {
        matches!(
            self,
            DocType::ImmediateLocationRequest
                | DocType::TriggeredLocationRequest
                | DocType::TriggeredLocationStopRequest
                | DocType::LocationProtocolRequest
        )
    }
}

/// Token IDs (ok-dmrlib lrrp.py tables).
mod token {
    pub const REQUEST_ID: u8 = 0x22;
    pub const REQUEST_ID_1: u8 = 0x23;
    pub const INTERVAL: u8 = 0x31;
    pub const PERIODIC_TRIGGER: u8 = 0x34; // request table
    pub const INFO_TIME: u8 = 0x34; // answer table, 5 octets
    pub const PROTOCOL_VERSION: u8 = 0x36;
    pub const RESULT: u8 = 0x37;
    pub const RESULT_OK: u8 = 0x38;
    pub const CIRCLE_2D: u8 = 0x51;
    pub const DIRECTION_HOR: u8 = 0x56;
    pub const LEV_CONF: u8 = 0x65;
    pub const POINT_2D: u8 = 0x66;
    pub const SPEED_HOR: u8 = 0x6C;
    pub const SPEED_VRT: u8 = 0x70;
    /// Request tokens with no value (trigger kinds, ret-info, request-*/require-* flags).
    pub const REQUEST_FLAGS: &[u8] = &[
        0x33, 0x50, 0x51, 0x52, 0x53, 0x54, 0x57, 0x62, 0x64, 0x66, 0x69, 0x74, 0x76,
    ];
    /// Request tokens with a uintvar value.
    pub const REQUEST_UINTVAR: &[u8] = &[0x3F, 0x42, 0x4A, 0x55, 0x5F, 0x67, 0x71];
    /// Request tokens with one octet.
    pub const REQUEST_UINT8: &[u8] = &[0x61, 0x73];
}

/// Result code 0: success (sdrtrunk ResponseCode.java, from pboyd04/Moto.Net).
pub const RESULT_SUCCESS: u32 = 0x00;
/// Result code 0x0A: invalid command.
pub const RESULT_INVALID_COMMAND: u32 = 0x0A;
/// Result code 0x10: no GPS.
pub const RESULT_NO_GPS: u32 = 0x10;
/// Result code 0x16: duplicate request.
pub const RESULT_DUPLICATE_REQUEST: u32 = 0x16;
/// Result code 0x200: GPS initialising.
pub const RESULT_GPS_INITIALIZING: u32 = 0x200;

/// info-time: 14-bit year, 4 month, 5 day, 5 hour, 6 minute, 6 second (40 bits; checked against
/// `okdmr-lrrp-071A` → 20030630073000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InfoTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl InfoTime {
    fn parse(b: &[u8; 5]) -> InfoTime {
        let v = b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
        InfoTime {
            year: (v >> 26) as u16 & 0x3FFF,
            month: (v >> 22) as u8 & 0x0F,
            day: (v >> 17) as u8 & 0x1F,
            hour: (v >> 12) as u8 & 0x1F,
            minute: (v >> 6) as u8 & 0x3F,
            second: v as u8 & 0x3F,
        }
    }

    fn emit(&self) -> [u8; 5] {
        let v = (u64::from(self.year & 0x3FFF) << 26)
            | (u64::from(self.month & 0x0F) << 22)
            | (u64::from(self.day & 0x1F) << 17)
            | (u64::from(self.hour & 0x1F) << 12)
            | (u64::from(self.minute & 0x3F) << 6)
            | u64::from(self.second & 0x3F);
        let b = v.to_be_bytes();
        [b[3], b[4], b[5], b[6], b[7]]
    }
}

/// A position: point-2d, or circle-2d when `radius` is set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Position {
    /// Degrees north, from int32 × 90/2³¹.
    pub latitude: f64,
    /// Degrees east, from int32 × 180/2³¹.
    pub longitude: f64,
    /// Radius of uncertainty (circle-2d), ufloatvar.
    pub radius: Option<f64>,
}

/// Latitude in degrees → the int32 on air.
pub fn latitude_to_raw(deg: f64) -> i32 {
    (deg * 2f64.powi(31) / 90.0)
        .round()
        .clamp(i32::MIN as f64, i32::MAX as f64) as i32
}

/// Longitude in degrees → the int32 on air.
pub fn longitude_to_raw(deg: f64) -> i32 {
    (deg * 2f64.powi(31) / 180.0)
        .round()
        .clamp(i32::MIN as f64, i32::MAX as f64) as i32
}

/// A request parameter token kept as read (flags have no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RequestParam {
    pub token: u8,
    pub value: Option<u32>,
}

/// One LRRP document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lrrp {
    /// Document ID as received.
    pub doc_id: u32,
    /// Its type.
    pub doc: DocType,
    /// Constant data table of even (CDT) documents, raw.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "hex_vec")]
    pub constants: Vec<u8>,
    /// request-id (opaque octets).
    #[serde(serialize_with = "hex_opt")]
    pub request_id: Option<Vec<u8>>,
    /// Requests: periodic trigger interval in seconds (`0x34` then `0x31`).
    pub periodic_interval: Option<u32>,
    /// Requests: the other parameter tokens, in order.
    pub request_params: Vec<RequestParam>,
    /// Answers: result code (`0x37` uintvar, `0x38` = success).
    pub result: Option<u32>,
    /// Answers: info-time.
    pub info_time: Option<InfoTime>,
    /// Answers: position.
    pub position: Option<Position>,
    /// Answers: horizontal speed (ufloatvar; m/s per the protocol's convention, unverified).
    pub speed_hor: Option<f64>,
    /// Answers: vertical speed (sfloatvar).
    pub speed_vrt: Option<f64>,
    /// Answers: horizontal direction (one octet).
    pub direction_hor: Option<u8>,
    /// Answers: level of confidence (one octet).
    pub lev_conf: Option<u8>,
    /// Answers: protocol version.
    pub protocol_version: Option<u32>,
    /// The first token this module does not decode, and all after it, verbatim.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "hex_vec")]
    pub trailing: Vec<u8>,
}

fn hex_vec<S: serde::Serializer>(v: &[u8], s: S) -> core::result::Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

fn hex_opt<S: serde::Serializer>(
    v: &Option<Vec<u8>>,
    s: S,
) -> core::result::Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&hex::encode(v)),
        None => s.serialize_none(),
    }
}

/// A cursor over the document octets; every read checks the length.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn truncated(&self, need: usize) -> WireError {
        WireError::Truncated {
            frame: FRAME,
            need: self.pos + need,
            have: self.buf.len(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(self.truncated(n))?;
        let s = self.buf.get(self.pos..end).ok_or(self.truncated(n))?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// uintvar: 7 bits an octet, MSB first, high bit = more follows (mbxml.py). At most 5
    /// octets (32 bits).
    fn uintvar(&mut self) -> Result<(u32, usize)> {
        let mut v: u64 = 0;
        for n in 1..=5 {
            let b = self.u8()?;
            v = (v << 7) | u64::from(b & 0x7F);
            if b & 0x80 == 0 {
                return u32::try_from(v)
                    .map(|v| (v, n))
                    .map_err(|_| WireError::Invalid {
                        frame: FRAME,
                        field: "uintvar",
                        value: u32::MAX,
                    });
            }
        }
        Err(WireError::Invalid {
            frame: FRAME,
            field: "uintvar",
            value: 5,
        })
    }

    /// ufloatvar: uintvar integer part, then uintvar fraction / 128^(its octets).
    fn ufloatvar(&mut self) -> Result<f64> {
        let (int, _) = self.uintvar()?;
        let (frac, n) = self.uintvar()?;
        Ok(f64::from(int) + f64::from(frac) / 128f64.powi(n as i32))
    }

    /// sfloatvar: like ufloatvar, the integer's first octet holds the sign in bit 6.
    fn sfloatvar(&mut self) -> Result<f64> {
        let first = *self.buf.get(self.pos).ok_or(self.truncated(1))?;
        let negative = first & 0x40 != 0;
        let mut int: u64 = u64::from(first & 0x3F);
        self.pos += 1;
        let mut more = first & 0x80 != 0;
        let mut n = 1;
        while more {
            n += 1;
            if n > 5 {
                return Err(WireError::Invalid {
                    frame: FRAME,
                    field: "sfloatvar",
                    value: n,
                });
            }
            let b = self.u8()?;
            int = (int << 7) | u64::from(b & 0x7F);
            more = b & 0x80 != 0;
        }
        let (frac, k) = self.uintvar()?;
        let v = int as f64 + f64::from(frac) / 128f64.powi(k as i32);
        Ok(if negative { -v } else { v })
    }

    fn i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn put_uintvar(out: &mut Vec<u8>, v: u32) {
    let mut groups = [0u8; 5];
    let mut n = 0;
    let mut x = v;
    loop {
        groups[n] = (x & 0x7F) as u8;
        n += 1;
        x >>= 7;
        if x == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(groups[i] | if i > 0 { 0x80 } else { 0 });
    }
}

/// ufloatvar with one fraction octet (1/128 resolution, as ok-dmrlib writes with precision 1).
fn put_ufloatvar(out: &mut Vec<u8>, v: f64) {
    let v = v.max(0.0);
    let mut int = v.trunc();
    let mut frac = ((v - int) * 128.0).round();
    if frac >= 128.0 {
        int += 1.0;
        frac = 0.0;
    }
    put_uintvar(out, int.min(f64::from(u32::MAX)) as u32);
    put_uintvar(out, frac as u32);
}

fn put_sfloatvar(out: &mut Vec<u8>, v: f64) {
    let start = out.len();
    put_ufloatvar(out, v.abs());
    // The integer part's first octet carries the sign in bit 6 (its value stays < 2^6 an octet
    // for |v| < 64 m/s; larger values lose their top bit, as in ok-dmrlib write_sintvar).
    if v < 0.0 {
        out[start] |= 0x40;
    }
}

impl Lrrp {
    fn empty(doc: DocType) -> Lrrp {
        Lrrp {
            doc_id: doc.ncdt_id(),
            doc,
            constants: Vec::new(),
            request_id: None,
            periodic_interval: None,
            request_params: Vec::new(),
            result: None,
            info_time: None,
            position: None,
            speed_hor: None,
            speed_vrt: None,
            direction_hor: None,
            lev_conf: None,
            protocol_version: None,
            trailing: Vec::new(),
        }
    }

    /// Immediate location request asking for position and time (`0x51` ret-info with
    /// accuracy/time attributes, as ok-dmrlib's request table lists) and horizontal speed (`0x62`).
    pub fn immediate_request(request_id: &[u8]) -> Lrrp {
        let mut l = Lrrp::empty(DocType::ImmediateLocationRequest);
        l.request_id = Some(request_id.to_vec());
        l.request_params = vec![
            RequestParam {
                token: 0x51,
                value: None,
            },
            RequestParam {
                token: 0x62,
                value: None,
            },
        ];
        l
    }

    /// Triggered (periodic) location request every `interval_s` seconds.
    pub fn triggered_request(request_id: &[u8], interval_s: u32) -> Lrrp {
        let mut l = Lrrp::empty(DocType::TriggeredLocationRequest);
        l.request_id = Some(request_id.to_vec());
        l.periodic_interval = Some(interval_s);
        l
    }

    /// Stop a triggered request.
    pub fn stop_request(request_id: &[u8]) -> Lrrp {
        let mut l = Lrrp::empty(DocType::TriggeredLocationStopRequest);
        l.request_id = Some(request_id.to_vec());
        l
    }

    /// A report or answer of type `doc` (as a simulated radio would send).
    pub fn report(
        doc: DocType,
        request_id: &[u8],
        position: Option<Position>,
        time: Option<InfoTime>,
        speed: Option<f64>,
    ) -> Lrrp {
        let mut l = Lrrp::empty(doc);
        l.request_id = Some(request_id.to_vec());
        l.position = position;
        l.info_time = time;
        l.speed_hor = speed;
        l
    }

    /// Parse the first document of `data`. Never panics.
    pub fn parse(data: &[u8]) -> Result<Lrrp> {
        let mut r = Reader { buf: data, pos: 0 };
        let (doc_id, _) = r.uintvar()?;
        let (len, _) = r.uintvar()?;
        let body = r.take(len as usize)?;
        let doc = DocType::from_id(doc_id);
        let mut l = Lrrp::empty(doc);
        l.doc_id = doc_id;
        let mut r = Reader { buf: body, pos: 0 };
        if doc_id & 1 == 0 {
            let (n, _) = r.uintvar()?;
            l.constants = r.take(n as usize)?.to_vec();
        }
        if doc == DocType::Unknown {
            // Token meanings are per document type: keep an unknown type's tokens raw.
            l.trailing = body[r.pos..].to_vec();
            return Ok(l);
        }
        let request = doc.is_request();
        while r.pos < body.len() {
            let start = r.pos;
            let t = r.u8()?;
            let known = if request {
                l.request_token(t, &mut r)?
            } else {
                l.answer_token(t, &mut r)?
            };
            if !known {
                l.trailing = body[start..].to_vec();
                break;
            }
        }
        Ok(l)
    }

    fn common_token(&mut self, t: u8, r: &mut Reader<'_>) -> Result<bool> {
        match t {
            token::REQUEST_ID => {
                let (n, _) = r.uintvar()?;
                self.request_id = Some(r.take(n as usize)?.to_vec());
            }
            token::REQUEST_ID_1 => self.request_id = Some(r.take(1)?.to_vec()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn request_token(&mut self, t: u8, r: &mut Reader<'_>) -> Result<bool> {
        if self.common_token(t, r)? {
            return Ok(true);
        }
        match t {
            token::PERIODIC_TRIGGER => {
                // > periodic-trigger (no value), then 0x31 interval (uintvar)
                if r.buf.get(r.pos) == Some(&token::INTERVAL) {
                    r.pos += 1;
                    self.periodic_interval = Some(r.uintvar()?.0);
                } else {
                    self.request_params.push(RequestParam {
                        token: t,
                        value: None,
                    });
                }
            }
            token::INTERVAL => self.periodic_interval = Some(r.uintvar()?.0),
            t if token::REQUEST_FLAGS.contains(&t) => self.request_params.push(RequestParam {
                token: t,
                value: None,
            }),
            t if token::REQUEST_UINTVAR.contains(&t) => {
                let v = r.uintvar()?.0;
                self.request_params.push(RequestParam {
                    token: t,
                    value: Some(v),
                });
            }
            t if token::REQUEST_UINT8.contains(&t) => {
                let v = r.u8()?;
                self.request_params.push(RequestParam {
                    token: t,
                    value: Some(u32::from(v)),
                });
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn answer_token(&mut self, t: u8, r: &mut Reader<'_>) -> Result<bool> {
        if self.common_token(t, r)? {
            return Ok(true);
        }
        match t {
            token::INFO_TIME => {
                let b = r.take(5)?;
                self.info_time = Some(InfoTime::parse(&[b[0], b[1], b[2], b[3], b[4]]));
            }
            token::CIRCLE_2D | token::POINT_2D => {
                let lat = r.i32()?;
                let lon = r.i32()?;
                let radius = if t == token::CIRCLE_2D {
                    Some(r.ufloatvar()?)
                } else {
                    None
                };
                self.position = Some(Position {
                    latitude: f64::from(lat) * 90.0 / 2f64.powi(31),
                    longitude: f64::from(lon) * 180.0 / 2f64.powi(31),
                    radius,
                });
            }
            token::SPEED_HOR => self.speed_hor = Some(r.ufloatvar()?),
            token::SPEED_VRT => self.speed_vrt = Some(r.sfloatvar()?),
            token::DIRECTION_HOR => self.direction_hor = Some(r.u8()?),
            token::LEV_CONF => self.lev_conf = Some(r.u8()?),
            token::PROTOCOL_VERSION => self.protocol_version = Some(r.uintvar()?.0),
            token::RESULT => self.result = Some(r.uintvar()?.0),
            token::RESULT_OK => self.result = Some(RESULT_SUCCESS),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Append the encoded document to `out`: doc ID, length, then the tokens in the order
    /// request-id, (request) trigger and parameters / (answer) result, info-time, position,
    /// speeds, direction, confidence, version, then `trailing` verbatim.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut body = Vec::new();
        if self.doc_id & 1 == 0 {
            put_uintvar(&mut body, self.constants.len() as u32);
            body.extend_from_slice(&self.constants);
        }
        if let Some(id) = &self.request_id {
            body.push(token::REQUEST_ID);
            put_uintvar(&mut body, id.len() as u32);
            body.extend_from_slice(id);
        }
        if self.doc.is_request() {
            if let Some(i) = self.periodic_interval {
                body.push(token::PERIODIC_TRIGGER);
                body.push(token::INTERVAL);
                put_uintvar(&mut body, i);
            }
            for p in &self.request_params {
                body.push(p.token);
                match p.value {
                    Some(v) if token::REQUEST_UINT8.contains(&p.token) => body.push(v as u8),
                    Some(v) => put_uintvar(&mut body, v),
                    None => {}
                }
            }
        } else {
            match self.result {
                Some(RESULT_SUCCESS) => body.push(token::RESULT_OK),
                Some(code) => {
                    body.push(token::RESULT);
                    put_uintvar(&mut body, code);
                }
                None => {}
            }
            if let Some(t) = &self.info_time {
                body.push(token::INFO_TIME);
                body.extend_from_slice(&t.emit());
            }
            if let Some(p) = &self.position {
                body.push(if p.radius.is_some() {
                    token::CIRCLE_2D
                } else {
                    token::POINT_2D
                });
                body.extend_from_slice(&latitude_to_raw(p.latitude).to_be_bytes());
                body.extend_from_slice(&longitude_to_raw(p.longitude).to_be_bytes());
                if let Some(radius) = p.radius {
                    put_ufloatvar(&mut body, radius);
                }
            }
            if let Some(s) = self.speed_hor {
                body.push(token::SPEED_HOR);
                put_ufloatvar(&mut body, s);
            }
            if let Some(s) = self.speed_vrt {
                body.push(token::SPEED_VRT);
                put_sfloatvar(&mut body, s);
            }
            if let Some(d) = self.direction_hor {
                body.extend_from_slice(&[token::DIRECTION_HOR, d]);
            }
            if let Some(c) = self.lev_conf {
                body.extend_from_slice(&[token::LEV_CONF, c]);
            }
            if let Some(v) = self.protocol_version {
                body.push(token::PROTOCOL_VERSION);
                put_uintvar(&mut body, v);
            }
        }
        body.extend_from_slice(&self.trailing);
        put_uintvar(out, self.doc_id);
        put_uintvar(out, body.len() as u32);
        out.extend_from_slice(&body);
    }

    /// The encoded document.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn okdmr_lrrp_071a_immediate_report() {
        let b = unhex("071a22042468ace0341f4dbc778051118ecd8d118ad47b00636c0006");
        let l = Lrrp::parse(&b).unwrap();
        assert_eq!(l.doc, DocType::ImmediateLocationReport);
        assert_eq!(l.doc_id, 0x07);
        assert_eq!(
            hex::encode_upper(l.request_id.as_ref().unwrap()),
            "2468ACE0"
        );
        let t = l.info_time.unwrap();
        assert_eq!(
            format!(
                "{:04}{:02}{:02}{:02}{:02}{:02}",
                t.year, t.month, t.day, t.hour, t.minute, t.second
            ),
            "20030630073000"
        );
        let p = l.position.unwrap();
        assert_eq!(format!("{:.6}", p.latitude), "12.345345");
        assert_eq!(format!("{:.6}", p.longitude), "24.668866");
        assert_eq!(format!("{:.2}", p.radius.unwrap()), "0.77");
        assert!((l.speed_hor.unwrap() - 0.04688).abs() < 1e-5);
        assert!(l.trailing.is_empty());
        assert_eq!(l.to_bytes(), b, "re-emits byte for byte");
    }

    #[test]
    fn okdmr_lrrp_0909_triggered_request() {
        let b = unhex("090922042468ace034313c");
        let l = Lrrp::parse(&b).unwrap();
        assert_eq!(l.doc, DocType::TriggeredLocationRequest);
        assert_eq!(l.request_id.as_deref(), Some(&[0x24, 0x68, 0xAC, 0xE0][..]));
        assert_eq!(l.periodic_interval, Some(60));
        assert_eq!(l.to_bytes(), b);
        assert_eq!(
            Lrrp::triggered_request(&[0x24, 0x68, 0xAC, 0xE0], 60).to_bytes(),
            b
        );
    }

    #[test]
    fn okdmr_lrrp_0d0f_triggered_report() {
        let b = unhex("0d0f22042468ace066118ecd8d118ad47b");
        let l = Lrrp::parse(&b).unwrap();
        assert_eq!(l.doc, DocType::TriggeredLocationReport);
        let p = l.position.unwrap();
        assert_eq!(
            format!("{:.6} {:.6}", p.latitude, p.longitude),
            "12.345345 24.668866"
        );
        assert_eq!(p.radius, None);
        assert_eq!(l.to_bytes(), b);
    }

    #[test]
    fn round_trips_requests_answers_and_results() {
        let reqs = [
            Lrrp::immediate_request(&[1, 2, 3]),
            Lrrp::triggered_request(&[9], 300),
            Lrrp::stop_request(&[0x24, 0x68]),
        ];
        for l in reqs {
            assert_eq!(Lrrp::parse(&l.to_bytes()).unwrap(), l);
        }
        let t = InfoTime {
            year: 2026,
            month: 11,
            day: 28,
            hour: 21,
            minute: 5,
            second: 59,
        };
        let p = Position {
            latitude: 30.5,
            longitude: 114.25,
            radius: Some(12.5),
        };
        let mut l = Lrrp::report(
            DocType::ImmediateLocationReport,
            &[7; 4],
            Some(p),
            Some(t),
            Some(3.0),
        );
        l.result = Some(RESULT_GPS_INITIALIZING);
        l.direction_hor = Some(45);
        l.speed_vrt = Some(-1.5);
        let back = Lrrp::parse(&l.to_bytes()).unwrap();
        assert_eq!(back.info_time, Some(t));
        assert_eq!(back.result, Some(0x200));
        assert_eq!(back.speed_vrt, Some(-1.5));
        let bp = back.position.unwrap();
        assert!((bp.latitude - 30.5).abs() < 1e-7 && (bp.longitude - 114.25).abs() < 1e-7);
        assert_eq!(bp.radius, Some(12.5));
        // Stop answer with success.
        let mut s = Lrrp::empty(DocType::TriggeredLocationStopAnswer);
        s.request_id = Some(vec![1]);
        s.result = Some(RESULT_SUCCESS);
        assert_eq!(s.to_bytes(), vec![0x11, 0x04, 0x22, 0x01, 0x01, 0x38]);
        assert_eq!(Lrrp::parse(&s.to_bytes()).unwrap(), s);
        // Southern/western hemispheres.
        let p = Position {
            latitude: -33.25,
            longitude: -70.5,
            radius: None,
        };
        let l = Lrrp::report(DocType::TriggeredLocationReport, &[1], Some(p), None, None);
        let bp = Lrrp::parse(&l.to_bytes()).unwrap().position.unwrap();
        assert!((bp.latitude + 33.25).abs() < 1e-7 && (bp.longitude + 70.5).abs() < 1e-7);
    }

    #[test]
    fn unknown_tokens_are_kept_verbatim() {
        // circle-3d (0x55) is not decoded: it and the rest stay in `trailing`.
        let b = unhex("070c22012a55010203040506073800");
        let l = Lrrp::parse(&b).unwrap();
        assert_eq!(l.request_id, Some(vec![0x2a]));
        assert_eq!(l.trailing, unhex("550102030405060738"));
        assert_eq!(l.to_bytes(), b[..14].to_vec());
        // A document of unknown type keeps its whole body.
        let l = Lrrp::parse(&unhex("7f03220100")).unwrap();
        assert_eq!(l.doc, DocType::Unknown);
        assert_eq!(l.to_bytes(), unhex("7f03220100"));
    }

    #[test]
    fn truncated_and_garbage_never_panic() {
        let b = unhex("071a22042468ace0341f4dbc778051118ecd8d118ad47b00636c0006");
        for n in 0..b.len() {
            assert!(Lrrp::parse(&b[..n]).is_err(), "prefix of {n} octets");
        }
        // Length byte says more than the token really has.
        let mut short_token = unhex("0d0622042468ace066");
        short_token[1] = 7;
        short_token.push(0x11);
        assert!(matches!(
            Lrrp::parse(&short_token),
            Err(WireError::Truncated { frame: "lrrp", .. })
        ));
        // A uintvar that never ends.
        assert!(matches!(
            Lrrp::parse(&[0xFF; 8]),
            Err(WireError::Invalid {
                field: "uintvar",
                ..
            })
        ));
        let mut x = 0x9E37_79B9u32;
        for len in 0..400usize {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut v: Vec<u8> = (0..len % 40).map(|k| (x >> (k % 25)) as u8).collect();
            if v.len() > 2 {
                v[0] = [0x05, 0x07, 0x09, 0x0D, 0x0F, 0x11, 0x06][len % 7];
                v[1] = (v.len() - 2) as u8;
            }
            let _ = Lrrp::parse(&v);
        }
    }
}
