//! Homebrew repeater protocol datagrams: parse and emit, byte-exact.
//!
//! Contract: [`Packet::parse`] never panics, whatever the datagram holds; it returns a
//! [`HomebrewError`] naming the packet and the field where the input ran short or overran.
//! [`Packet::emit`] writes exactly [`Packet::buffer_len`] octets, every one of them, so a dirty
//! buffer yields the same datagram as a clean one. Layouts are those of the MMDVMHost variant
//! ("binary IDs") spoken by g4klx/DMRGateway:DMRNetwork.cpp and HBLink-org/hblink3:hblink.py,
//! as catalogued in docs/transports.md §2.1 (packets), 2.2 (DMRD), 2.4 (RPTC).
//! All integers are big-endian.
//!
//! `RPTACK` carries either the login salt or the peer ID (both 4 octets); which one depends on
//! the login step, so the parser keeps the 4 octets and the login state machines interpret them.
//! `RPTC` and `RPTCL` share a prefix: they are told apart by length (302 vs 9 octets), not by
//! the fifth octet, which in `RPTC` is the first octet of the peer ID.

use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u24, be_u32};
use sha2::{Digest, Sha256};

use crate::link::{BURST_LEN, Burst, FrameMeta, Slot};

/// A repeater / peer ID as carried in every Homebrew packet (32 bits, docs/transports.md §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

/// Why a datagram could not be parsed (or a packet not emitted). Never holds the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HomebrewError {
    /// The datagram ends inside `field`.
    #[error("{packet}: truncated in {field}, need {need} bytes, have {have}")]
    Truncated {
        packet: &'static str,
        field: &'static str,
        need: usize,
        have: usize,
    },
    /// The datagram is longer than the packet allows.
    #[error("{packet}: too long, at most {max} bytes, have {have}")]
    TooLong {
        packet: &'static str,
        max: usize,
        have: usize,
    },
    /// The datagram starts with no command this protocol knows.
    #[error("unknown command {prefix:02x?}")]
    UnknownCommand { prefix: [u8; 4] },
    /// A field holds a value the packet cannot carry.
    #[error("{packet}: invalid {field} = {value:#x}")]
    Invalid {
        packet: &'static str,
        field: &'static str,
        value: u32,
    },
}

/// Result of every parse here.
pub type Result<T> = core::result::Result<T, HomebrewError>;

// Command tags, docs/transports.md §2.1 (HBLink-org/hblink3:const.py, g4klx/DMRGateway:DMRNetwork.cpp).
const RPTL: &[u8] = b"RPTL";
const RPTK: &[u8] = b"RPTK";
const RPTC: &[u8] = b"RPTC";
const RPTCL: &[u8] = b"RPTCL";
const RPTACK: &[u8] = b"RPTACK";
const RPTO: &[u8] = b"RPTO";
const RPTPING: &[u8] = b"RPTPING";
const RPTSBKN: &[u8] = b"RPTSBKN";
const RPTG: &[u8] = b"RPTG";
const MSTNAK: &[u8] = b"MSTNAK";
const MSTPONG: &[u8] = b"MSTPONG";
const MSTCL: &[u8] = b"MSTCL";
const DMRD: &[u8] = b"DMRD";
const DMRA: &[u8] = b"DMRA";
const DMRG: &[u8] = b"DMRG";

/// `RPTC` total length: tag + ID + 294-octet config block (docs/transports.md §2.4).
pub const RPTC_LEN: usize = 302;
/// Length of the RPTC config block after tag and ID.
pub const CONFIG_LEN: usize = RPTC_LEN - 8;
/// `DMRD` length, always sent (docs/transports.md §2.2: "Always send 55 bytes").
pub const DMRD_LEN: usize = 55;
/// Shortest `DMRD` accepted: without the BER and RSSI octets (OpenBridge-style 53, docs/transports.md
/// 2.2 "55 (53 accepted by some)").
pub const DMRD_MIN_LEN: usize = 53;
/// `DMRA` as DMRGateway sends it: tag, repeater ID, source 24, type, 7 talker-alias octets
/// (docs/transports.md §2.1).
pub const DMRA_LEN: usize = 19;
/// `DMRG` as DMRGateway sends it: tag, repeater ID, source 24, 7 GPS-LC octets (docs/transports.md §2.1).
pub const DMRG_LEN: usize = 18;
/// The older, short `DMRA` (g4klx/MMDVMHost `CDMRNetwork::writeTalkerAlias`): 15 octets. MMDVMHost sends it to
/// DMRGateway as tag, source 24, type, 7 alias octets; DMRGateway 2a3306d forwards it to its
/// master at the same length with its repeater ID put in after the tag, so only 3 alias octets
/// survive (DMRGateway `CDMRNetwork::writeTalkerAlias` copies `length - 4` octets after its ID;
/// recorded in fixtures/homebrew_dmra_dmrg_short.hex). [`short_dmra`] tells the two apart.
pub const DMRA_SHORT_LEN: usize = 15;
/// The older, short `DMRG`: 14 octets, the same two readings as [`DMRA_SHORT_LEN`] (tag, source
/// 24, 7 GPS-LC octets; or tag, repeater ID, source 24, 3 GPS-LC octets).
pub const DMRG_SHORT_LEN: usize = 14;
/// `RPTG`: tag, ID, `%+08.4f%+09.4f` home position (17 ASCII octets) (docs/transports.md §2.1).
pub const RPTG_LEN: usize = 25;
/// Upper bound on the `RPTO` options text this parser accepts; real option strings are tens of
/// octets (g4klx/MMDVMHost:DMRplus_startup_options.md). Bounds what a datagram can allocate.
pub const MAX_OPTIONS_LEN: usize = 1000;
/// Longest datagram of the protocol (RPTO with the longest options).
pub const MAX_DATAGRAM_LEN: usize = 8 + MAX_OPTIONS_LEN;

/// One Homebrew datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `RPTL` id: login request, peer → master.
    Rptl(PeerId),
    /// `RPTACK` 4 octets, master → peer: the salt after RPTL, else the peer ID (ack of
    /// RPTK / RPTC / RPTO).
    RptAck([u8; 4]),
    /// `RPTK` id sha256(salt ‖ passphrase): login key, peer → master.
    Rptk { id: PeerId, digest: [u8; 32] },
    /// `RPTC` id config: repeater configuration, peer → master.
    Rptc {
        id: PeerId,
        config: Box<ConfigBlock>,
    },
    /// `RPTO` id options: `key=value;` options text, peer → master.
    Rpto { id: PeerId, options: Vec<u8> },
    /// `RPTPING` id: keepalive, peer → master.
    RptPing(PeerId),
    /// `MSTPONG` id: keepalive answer, master → peer.
    MstPong(PeerId),
    /// `MSTNAK` id: refusal or "not logged in", master → peer.
    MstNak(PeerId),
    /// `RPTCL` id: peer closing.
    RptCl(PeerId),
    /// `MSTCL` id: master closing.
    MstCl(PeerId),
    /// `RPTSBKN` id: master asks the repeater for a site beacon.
    RptSbkn(PeerId),
    /// `RPTG` id position: home position text, peer → master.
    Rptg { id: PeerId, position: [u8; 17] },
    /// `DMRD`: one burst with its header.
    Dmrd(Dmrd),
    /// `DMRA`: talker alias.
    Dmra(Dmra),
    /// `DMRG`: GPS information LC.
    Dmrg(Dmrg),
    /// A 15-octet `DMRA`: the 11 octets after the tag, read by [`short_dmra`].
    DmraShort([u8; DMRA_SHORT_LEN - 4]),
    /// A 14-octet `DMRG`: the 10 octets after the tag, read by [`short_dmrg`].
    DmrgShort([u8; DMRG_SHORT_LEN - 4]),
}

/// What a short DMRA / DMRG says, once the sender is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Short<T> {
    /// The MMDVMHost form: everything is there.
    Whole(T),
    /// The DMRGateway-forwarded form: the sender's repeater ID after the tag, the source,
    /// and only the first 3 of the 7 payload octets; the rest was cut on the way.
    Cut { source: u32 },
}

/// Read a 15-octet DMRA body from `sender`: when it starts with the sender's repeater ID it is
/// the cut DMRGateway form, else the MMDVMHost form (source 24, type, 7 alias octets).
pub fn short_dmra(body: &[u8; DMRA_SHORT_LEN - 4], sender: PeerId) -> Short<Dmra> {
    if u32::from_be_bytes([body[0], body[1], body[2], body[3]]) == sender.0 {
        return Short::Cut {
            source: u32::from_be_bytes([0, body[4], body[5], body[6]]),
        };
    }
    Short::Whole(Dmra {
        repeater: sender,
        source: u32::from_be_bytes([0, body[0], body[1], body[2]]),
        kind: body[3],
        alias: array(&body[4..11]),
    })
}

/// Read a 14-octet DMRG body from `sender` (as [`short_dmra`]).
pub fn short_dmrg(body: &[u8; DMRG_SHORT_LEN - 4], sender: PeerId) -> Short<Dmrg> {
    if u32::from_be_bytes([body[0], body[1], body[2], body[3]]) == sender.0 {
        return Short::Cut {
            source: u32::from_be_bytes([0, body[4], body[5], body[6]]),
        };
    }
    Short::Whole(Dmrg {
        repeater: sender,
        source: u32::from_be_bytes([0, body[0], body[1], body[2]]),
        gps: array(&body[3..10]),
    })
}

/// Call type, flags bit 6 (docs/transports.md §2.2; 1 = private, contrary to HBlink4's docs, 2.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallType {
    /// Group call (0).
    Group,
    /// Private / unit-to-unit call (1).
    Private,
}

/// Frame type, flags bits 5-4 (docs/transports.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// 00: voice burst B-F; the low nibble is the voice sequence 1..5.
    Voice,
    /// 01: voice sync (burst A).
    VoiceSync,
    /// 10: data sync; the low nibble is the data type.
    DataSync,
    /// 11: unused by the implementations, kept for a byte-exact round trip.
    Unused,
}

/// DMR data types in the low nibble of a data-sync DMRD (docs/transports.md §2.2; docs/air-interface.md §1.3).
pub mod data_type {
    /// PI header.
    pub const PI_HEADER: u8 = 0;
    /// Voice LC header.
    pub const VOICE_LC_HEADER: u8 = 1;
    /// Terminator with LC: ends a stream.
    pub const TERMINATOR: u8 = 2;
    /// CSBK.
    pub const CSBK: u8 = 3;
    /// Data header.
    pub const DATA_HEADER: u8 = 6;
}

/// The `DMRD` packet (docs/transports.md §2.2, docs/air-interface.md §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dmrd {
    /// Octet 4: sequence number within the stream (wraps).
    pub seq: u8,
    /// Octets 5-7: source radio ID (24 bits).
    pub source: u32,
    /// Octets 8-10: destination radio or talkgroup (24 bits).
    pub destination: u32,
    /// Octets 11-14: repeater ID; a master rewrites it to the receiving peer's ID.
    pub repeater: PeerId,
    /// Flags bit 7: timeslot.
    pub slot: Slot,
    /// Flags bit 6: call type.
    pub call: CallType,
    /// Flags bits 5-4: frame type.
    pub frame: FrameType,
    /// Flags bits 3-0: data type (data sync) or voice sequence (voice).
    pub data_type: u8,
    /// Octets 16-19: opaque stream ID, new per transmission.
    pub stream_id: u32,
    /// Octets 20-52: the 33-octet burst.
    pub burst: Burst,
    /// Octet 53: corrected bit errors in the burst; 0 if unknown (or absent in a 53-octet DMRD).
    pub ber: u8,
    /// Octet 54: RSSI as -dBm; 0 if unknown (or absent).
    pub rssi: u8,
}

/// `DMRA` talker alias (docs/transports.md §2.1, DMRGateway layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dmra {
    pub repeater: PeerId,
    /// Source radio (24 bits).
    pub source: u32,
    /// 0 header, 1-3 blocks.
    pub kind: u8,
    /// Talker-alias octets.
    pub alias: [u8; 7],
}

/// `DMRG` GPS information (docs/transports.md §2.1, DMRGateway layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dmrg {
    pub repeater: PeerId,
    /// Source radio (24 bits).
    pub source: u32,
    /// The 7 octets of the GPS information LC.
    pub gps: [u8; 7],
}

/// The 294-octet RPTC configuration block, kept as sent so it re-emits byte-exactly; the
/// accessors read its space-padded ASCII fields (docs/transports.md §2.4; offsets there count from the
/// start of the packet, here from the start of the block, i.e. 8 less).
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigBlock(pub [u8; CONFIG_LEN]);

mod config_field {
    use core::ops::Range;
    // docs/transports.md §2.4 (g4klx/DMRGateway:DMRNetwork.cpp writeConfig, hblink3 hblink.py), minus 8.
    pub const CALLSIGN: Range<usize> = 0..8;
    pub const RX_FREQ: Range<usize> = 8..17;
    pub const TX_FREQ: Range<usize> = 17..26;
    pub const TX_POWER: Range<usize> = 26..28;
    pub const COLOUR_CODE: Range<usize> = 28..30;
    pub const LATITUDE: Range<usize> = 30..38;
    pub const LONGITUDE: Range<usize> = 38..47;
    pub const HEIGHT: Range<usize> = 47..50;
    pub const LOCATION: Range<usize> = 50..70;
    pub const DESCRIPTION: Range<usize> = 70..89;
    pub const SLOTS: Range<usize> = 89..90;
    pub const URL: Range<usize> = 90..214;
    pub const SOFTWARE_ID: Range<usize> = 214..254;
    pub const PACKAGE_ID: Range<usize> = 254..294;
}

/// What a peer tells the master about itself in RPTC.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeaterInfo {
    pub callsign: String,
    pub rx_freq_hz: u32,
    pub tx_freq_hz: u32,
    /// dBm, 0..=99.
    pub tx_power_dbm: u8,
    /// 0..=15.
    pub colour_code: u8,
    pub latitude: f64,
    pub longitude: f64,
    /// Metres, -99..=999.
    pub height_m: i32,
    pub location: String,
    pub description: String,
    /// '1', '2', '3' (both) duplex timeslots, '4' simplex / DMO, '0' none (docs/transports.md §2.4).
    pub slots: u8,
    pub url: String,
    pub software_id: String,
    pub package_id: String,
}

impl Default for RepeaterInfo {
    fn default() -> Self {
        RepeaterInfo {
            callsign: String::new(),
            rx_freq_hz: 0,
            tx_freq_hz: 0,
            tx_power_dbm: 0,
            colour_code: 1,
            latitude: 0.0,
            longitude: 0.0,
            height_m: 0,
            location: String::new(),
            description: String::new(),
            slots: b'3',
            url: String::new(),
            software_id: String::from("trunkgate"),
            package_id: String::from("trunkgate"),
        }
    }
}

/// Write `text` left-justified, space-padded and cut to the field (`%-N.Ns`); octets outside
/// printable ASCII become '?' so a cut never splits a character.
fn put_text(out: &mut [u8], text: &str) {
    out.fill(b' ');
    for (o, b) in out.iter_mut().zip(text.bytes()) {
        *o = if (0x20..0x7f).contains(&b) { b } else { b'?' };
    }
}

impl ConfigBlock {
    /// Build the block the way DMRGateway formats it (docs/transports.md §2.4).
    pub fn from_info(info: &RepeaterInfo) -> ConfigBlock {
        use config_field as f;
        let mut b = [b' '; CONFIG_LEN];
        put_text(&mut b[f::CALLSIGN], &info.callsign);
        put_text(
            &mut b[f::RX_FREQ],
            &format!("{:09}", info.rx_freq_hz.min(999_999_999)),
        );
        put_text(
            &mut b[f::TX_FREQ],
            &format!("{:09}", info.tx_freq_hz.min(999_999_999)),
        );
        put_text(
            &mut b[f::TX_POWER],
            &format!("{:02}", info.tx_power_dbm.min(99)),
        );
        put_text(
            &mut b[f::COLOUR_CODE],
            &format!("{:02}", info.colour_code.min(15)),
        );
        // `%08f` / `%09f` then cut to the field width, as DMRGateway does.
        put_text(
            &mut b[f::LATITUDE],
            &format!("{:08.6}", info.latitude.clamp(-90.0, 90.0)),
        );
        put_text(
            &mut b[f::LONGITUDE],
            &format!("{:09.6}", info.longitude.clamp(-180.0, 180.0)),
        );
        put_text(
            &mut b[f::HEIGHT],
            &format!("{:03}", info.height_m.clamp(-99, 999)),
        );
        put_text(&mut b[f::LOCATION], &info.location);
        put_text(&mut b[f::DESCRIPTION], &info.description);
        b[f::SLOTS.start] = if (b'0'..=b'4').contains(&info.slots) {
            info.slots
        } else {
            b'3'
        };
        put_text(&mut b[f::URL], &info.url);
        put_text(&mut b[f::SOFTWARE_ID], &info.software_id);
        put_text(&mut b[f::PACKAGE_ID], &info.package_id);
        ConfigBlock(b)
    }

    fn text(&self, range: core::ops::Range<usize>) -> String {
        String::from_utf8_lossy(&self.0[range])
            .trim_matches(|c: char| c == ' ' || c == '\0')
            .to_string()
    }

    fn number<T: core::str::FromStr>(&self, range: core::ops::Range<usize>) -> Option<T> {
        self.text(range).parse().ok()
    }

    /// Read the fields back; numbers that do not parse read as 0. Lossy by nature (the block
    /// itself is what re-emits byte-exactly).
    pub fn info(&self) -> RepeaterInfo {
        use config_field as f;
        RepeaterInfo {
            callsign: self.text(f::CALLSIGN),
            rx_freq_hz: self.number(f::RX_FREQ).unwrap_or(0),
            tx_freq_hz: self.number(f::TX_FREQ).unwrap_or(0),
            tx_power_dbm: self.number(f::TX_POWER).unwrap_or(0),
            colour_code: self.number(f::COLOUR_CODE).unwrap_or(0),
            latitude: self.number(f::LATITUDE).unwrap_or(0.0),
            longitude: self.number(f::LONGITUDE).unwrap_or(0.0),
            height_m: self.number(f::HEIGHT).unwrap_or(0),
            location: self.text(f::LOCATION),
            description: self.text(f::DESCRIPTION),
            slots: self.0[f::SLOTS.start],
            url: self.text(f::URL),
            software_id: self.text(f::SOFTWARE_ID),
            package_id: self.text(f::PACKAGE_ID),
        }
    }
}

impl core::fmt::Debug for ConfigBlock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("ConfigBlock")
            .field(&String::from_utf8_lossy(&self.0))
            .finish()
    }
}

/// SHA-256(salt ‖ passphrase): the RPTK digest (docs/transports.md §2.3: the salt as its 4 raw octets,
/// then the passphrase octets).
pub fn login_digest(salt: [u8; 4], passphrase: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(passphrase);
    h.finalize().into()
}

/// The truncation error for `packet` whose fields end at the given offsets: names the first
/// field the datagram does not hold completely.
fn truncated(packet: &'static str, fields: &[(&'static str, usize)], have: usize) -> HomebrewError {
    let (field, need) = fields
        .iter()
        .copied()
        .find(|&(_, end)| end > have)
        .unwrap_or(("end", have + 1));
    HomebrewError::Truncated {
        packet,
        field,
        need,
        have,
    }
}

/// Check that `buf` is exactly as long as the last field end of `fields`.
fn exact(packet: &'static str, fields: &[(&'static str, usize)], buf: &[u8]) -> Result<()> {
    let len = fields.last().map_or(0, |&(_, end)| end);
    if buf.len() < len {
        Err(truncated(packet, fields, buf.len()))
    } else if buf.len() > len {
        Err(HomebrewError::TooLong {
            packet,
            max: len,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

type NomError<'a> = nom::error::Error<&'a [u8]>;

/// Run a byte parser over `input` after its length was checked; a failure can then only be
/// a short input, reported as truncation of `packet`.
fn run<'a, O>(
    packet: &'static str,
    mut parser: impl Parser<&'a [u8], Output = O, Error = NomError<'a>>,
    input: &'a [u8],
) -> Result<O> {
    parser
        .parse(input)
        .map(|(_, o)| o)
        .map_err(|_| HomebrewError::Truncated {
            packet,
            field: "body",
            need: input.len() + 1,
            have: input.len(),
        })
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let n = N.min(bytes.len());
    a[..n].copy_from_slice(&bytes[..n]);
    a
}

/// Parse a packet that is `tag` followed by one 4-octet value.
fn tag_and_id(packet: &'static str, tag: &'static [u8], buf: &[u8]) -> Result<[u8; 4]> {
    let t = tag.len();
    exact(packet, &[("command", t), ("id", t + 4)], buf)?;
    if &buf[..t] != tag {
        return Err(unknown(buf));
    }
    Ok(array(&buf[t..t + 4]))
}

fn unknown(buf: &[u8]) -> HomebrewError {
    HomebrewError::UnknownCommand {
        prefix: array(&buf[..buf.len().min(4)]),
    }
}

fn id(v: [u8; 4]) -> PeerId {
    PeerId(u32::from_be_bytes(v))
}

const DMRD_FIELDS: &[(&str, usize)] = &[
    ("command", 4),
    ("seq", 5),
    ("source", 8),
    ("destination", 11),
    ("repeater", 15),
    ("flags", 16),
    ("stream_id", 20),
    ("burst", 53),
    ("ber", 54),
    ("rssi", 55),
];

fn flags_byte(d: &Dmrd) -> u8 {
    let slot = match d.slot {
        Slot::One => 0,
        Slot::Two => 0x80,
    };
    let call = match d.call {
        CallType::Group => 0,
        CallType::Private => 0x40,
    };
    let frame = match d.frame {
        FrameType::Voice => 0x00,
        FrameType::VoiceSync => 0x10,
        FrameType::DataSync => 0x20,
        FrameType::Unused => 0x30,
    };
    slot | call | frame | (d.data_type & 0x0f)
}

impl Dmrd {
    /// Parse a `DMRD` datagram (55 octets, or 53 without BER and RSSI). This is the fast path
    /// for the receive loop and the benchmark.
    pub fn parse(buf: &[u8]) -> Result<Dmrd> {
        const P: &str = "dmrd";
        if buf.len() < DMRD_MIN_LEN {
            return Err(truncated(P, DMRD_FIELDS, buf.len()));
        }
        if buf.len() == DMRD_MIN_LEN + 1 {
            return Err(truncated(P, DMRD_FIELDS, buf.len()));
        }
        if buf.len() > DMRD_LEN {
            return Err(HomebrewError::TooLong {
                packet: P,
                max: DMRD_LEN,
                have: buf.len(),
            });
        }
        if &buf[..4] != DMRD {
            return Err(unknown(buf));
        }
        let (seq, source, destination, repeater, flags, stream_id, burst) = run(
            P,
            (
                be_u8,
                be_u24,
                be_u24,
                be_u32,
                be_u8,
                be_u32,
                take(BURST_LEN),
            ),
            &buf[4..],
        )?;
        let (ber, rssi) = match buf.get(53..55) {
            Some(&[b, r]) => (b, r),
            _ => (0, 0),
        };
        Ok(Dmrd {
            seq,
            source,
            destination,
            repeater: PeerId(repeater),
            slot: if flags & 0x80 != 0 {
                Slot::Two
            } else {
                Slot::One
            },
            call: if flags & 0x40 != 0 {
                CallType::Private
            } else {
                CallType::Group
            },
            frame: match (flags >> 4) & 0x03 {
                0 => FrameType::Voice,
                1 => FrameType::VoiceSync,
                2 => FrameType::DataSync,
                _ => FrameType::Unused,
            },
            data_type: flags & 0x0f,
            stream_id,
            burst: array(burst),
            ber,
            rssi,
        })
    }

    /// The flags octet (offset 15).
    pub fn flags(&self) -> u8 {
        flags_byte(self)
    }

    /// True for a terminator, which ends a stream at once (docs/transports.md §2.5).
    pub fn is_terminator(&self) -> bool {
        self.frame == FrameType::DataSync && self.data_type == data_type::TERMINATOR
    }

    /// The addressing the gateway gets beside the burst.
    pub fn meta(&self) -> FrameMeta {
        FrameMeta {
            source: self.source,
            destination: self.destination,
            private: self.call == CallType::Private,
            stream_id: self.stream_id,
        }
    }

    /// Write all 55 octets into `out[..55]`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let Some(out) = out.get_mut(..DMRD_LEN) else {
            return Err(HomebrewError::Truncated {
                packet: "dmrd",
                field: "output buffer",
                need: DMRD_LEN,
                have: out.len(),
            });
        };
        out[0..4].copy_from_slice(DMRD);
        out[4] = self.seq;
        out[5..8].copy_from_slice(&self.source.to_be_bytes()[1..]);
        out[8..11].copy_from_slice(&self.destination.to_be_bytes()[1..]);
        out[11..15].copy_from_slice(&self.repeater.0.to_be_bytes());
        out[15] = flags_byte(self);
        out[16..20].copy_from_slice(&self.stream_id.to_be_bytes());
        out[20..53].copy_from_slice(&self.burst);
        out[53] = self.ber;
        out[54] = self.rssi;
        Ok(DMRD_LEN)
    }
}

/// Parse a `DMRD` datagram: [`Dmrd::parse`] under the name the benchmark and the lead use.
pub fn parse_dmrd(buf: &[u8]) -> Result<Dmrd> {
    Dmrd::parse(buf)
}

impl Packet {
    /// Parse one datagram. Never panics.
    pub fn parse(buf: &[u8]) -> Result<Packet> {
        if buf.len() < 4 {
            return Err(HomebrewError::Truncated {
                packet: "datagram",
                field: "command",
                need: 4,
                have: buf.len(),
            });
        }
        match &buf[..4] {
            b"DMRD" => Dmrd::parse(buf).map(Packet::Dmrd),
            b"DMRA" if buf.len() == DMRA_SHORT_LEN => Ok(Packet::DmraShort(array(&buf[4..]))),
            b"DMRG" if buf.len() == DMRG_SHORT_LEN => Ok(Packet::DmrgShort(array(&buf[4..]))),
            b"DMRA" => {
                const P: &str = "dmra";
                exact(
                    P,
                    &[
                        ("command", 4),
                        ("repeater", 8),
                        ("source", 11),
                        ("type", 12),
                        ("alias", 19),
                    ],
                    buf,
                )?;
                let (repeater, source, kind, alias) =
                    run(P, (be_u32, be_u24, be_u8, take(7usize)), &buf[4..])?;
                Ok(Packet::Dmra(Dmra {
                    repeater: PeerId(repeater),
                    source,
                    kind,
                    alias: array(alias),
                }))
            }
            b"DMRG" => {
                const P: &str = "dmrg";
                exact(
                    P,
                    &[("command", 4), ("repeater", 8), ("source", 11), ("gps", 18)],
                    buf,
                )?;
                let (repeater, source, gps) = run(P, (be_u32, be_u24, take(7usize)), &buf[4..])?;
                Ok(Packet::Dmrg(Dmrg {
                    repeater: PeerId(repeater),
                    source,
                    gps: array(gps),
                }))
            }
            b"RPTL" => tag_and_id("rptl", RPTL, buf).map(|v| Packet::Rptl(id(v))),
            b"RPTK" => {
                const P: &str = "rptk";
                exact(P, &[("command", 4), ("id", 8), ("digest", 40)], buf)?;
                Ok(Packet::Rptk {
                    id: id(array(&buf[4..8])),
                    digest: array(&buf[8..40]),
                })
            }
            // RPTCL (9) and RPTC (302) share the prefix; length decides (module doc).
            b"RPTC" if buf.len() <= RPTCL.len() + 4 && buf.starts_with(RPTCL) => {
                tag_and_id("rptcl", RPTCL, buf).map(|v| Packet::RptCl(id(v)))
            }
            b"RPTC" => {
                const P: &str = "rptc";
                exact(P, &[("command", 4), ("id", 8), ("config", RPTC_LEN)], buf)?;
                Ok(Packet::Rptc {
                    id: id(array(&buf[4..8])),
                    config: Box::new(ConfigBlock(array(&buf[8..]))),
                })
            }
            b"RPTA" => tag_and_id("rptack", RPTACK, buf).map(Packet::RptAck),
            b"RPTO" => {
                const P: &str = "rpto";
                if buf.len() < 8 {
                    return Err(truncated(P, &[("command", 4), ("id", 8)], buf.len()));
                }
                if buf.len() > MAX_DATAGRAM_LEN {
                    return Err(HomebrewError::TooLong {
                        packet: P,
                        max: MAX_DATAGRAM_LEN,
                        have: buf.len(),
                    });
                }
                Ok(Packet::Rpto {
                    id: id(array(&buf[4..8])),
                    options: buf[8..].to_vec(),
                })
            }
            b"RPTP" => tag_and_id("rptping", RPTPING, buf).map(|v| Packet::RptPing(id(v))),
            b"RPTS" => tag_and_id("rptsbkn", RPTSBKN, buf).map(|v| Packet::RptSbkn(id(v))),
            b"RPTG" => {
                const P: &str = "rptg";
                exact(P, &[("command", 4), ("id", 8), ("position", RPTG_LEN)], buf)?;
                Ok(Packet::Rptg {
                    id: id(array(&buf[4..8])),
                    position: array(&buf[8..]),
                })
            }
            b"MSTN" => tag_and_id("mstnak", MSTNAK, buf).map(|v| Packet::MstNak(id(v))),
            b"MSTP" => tag_and_id("mstpong", MSTPONG, buf).map(|v| Packet::MstPong(id(v))),
            b"MSTC" => tag_and_id("mstcl", MSTCL, buf).map(|v| Packet::MstCl(id(v))),
            _ => Err(unknown(buf)),
        }
    }

    /// Short lower-case name of the packet, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Rptl(_) => "rptl",
            Packet::RptAck(_) => "rptack",
            Packet::Rptk { .. } => "rptk",
            Packet::Rptc { .. } => "rptc",
            Packet::Rpto { .. } => "rpto",
            Packet::RptPing(_) => "rptping",
            Packet::MstPong(_) => "mstpong",
            Packet::MstNak(_) => "mstnak",
            Packet::RptCl(_) => "rptcl",
            Packet::MstCl(_) => "mstcl",
            Packet::RptSbkn(_) => "rptsbkn",
            Packet::Rptg { .. } => "rptg",
            Packet::Dmrd(_) => "dmrd",
            Packet::Dmra(_) => "dmra",
            Packet::Dmrg(_) => "dmrg",
            Packet::DmraShort(_) => "dmra_short",
            Packet::DmrgShort(_) => "dmrg_short",
        }
    }

    /// Octets [`Packet::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Packet::Rptl(_) => RPTL.len() + 4,
            Packet::RptAck(_) => RPTACK.len() + 4,
            Packet::Rptk { .. } => 40,
            Packet::Rptc { .. } => RPTC_LEN,
            Packet::Rpto { options, .. } => 8 + options.len().min(MAX_OPTIONS_LEN),
            Packet::RptPing(_) => RPTPING.len() + 4,
            Packet::MstPong(_) => MSTPONG.len() + 4,
            Packet::MstNak(_) => MSTNAK.len() + 4,
            Packet::RptCl(_) => RPTCL.len() + 4,
            Packet::MstCl(_) => MSTCL.len() + 4,
            Packet::RptSbkn(_) => RPTSBKN.len() + 4,
            Packet::Rptg { .. } => RPTG_LEN,
            Packet::Dmrd(_) => DMRD_LEN,
            Packet::Dmra(_) => DMRA_LEN,
            Packet::Dmrg(_) => DMRG_LEN,
            Packet::DmraShort(_) => DMRA_SHORT_LEN,
            Packet::DmrgShort(_) => DMRG_SHORT_LEN,
        }
    }

    /// Write the datagram into `out[..buffer_len()]`, every octet; returns the length. Options
    /// of RPTO longer than [`MAX_OPTIONS_LEN`] are cut there, so what is sent always parses.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let have = out.len();
        let Some(out) = out.get_mut(..len) else {
            return Err(HomebrewError::Truncated {
                packet: self.name(),
                field: "output buffer",
                need: len,
                have,
            });
        };
        let mut put = |tag: &[u8], rest: &[&[u8]]| {
            let mut at = tag.len();
            out[..at].copy_from_slice(tag);
            for part in rest {
                out[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
        };
        match self {
            Packet::Rptl(i) => put(RPTL, &[&i.0.to_be_bytes()]),
            Packet::RptAck(v) => put(RPTACK, &[v]),
            Packet::Rptk { id, digest } => put(RPTK, &[&id.0.to_be_bytes(), digest]),
            Packet::Rptc { id, config } => put(RPTC, &[&id.0.to_be_bytes(), &config.0]),
            Packet::Rpto { id, options } => put(
                RPTO,
                &[
                    &id.0.to_be_bytes(),
                    &options[..options.len().min(MAX_OPTIONS_LEN)],
                ],
            ),
            Packet::RptPing(i) => put(RPTPING, &[&i.0.to_be_bytes()]),
            Packet::MstPong(i) => put(MSTPONG, &[&i.0.to_be_bytes()]),
            Packet::MstNak(i) => put(MSTNAK, &[&i.0.to_be_bytes()]),
            Packet::RptCl(i) => put(RPTCL, &[&i.0.to_be_bytes()]),
            Packet::MstCl(i) => put(MSTCL, &[&i.0.to_be_bytes()]),
            Packet::RptSbkn(i) => put(RPTSBKN, &[&i.0.to_be_bytes()]),
            Packet::Rptg { id, position } => put(RPTG, &[&id.0.to_be_bytes(), position]),
            Packet::Dmrd(d) => {
                d.emit(out)?;
            }
            Packet::Dmra(a) => put(
                DMRA,
                &[
                    &a.repeater.0.to_be_bytes(),
                    &a.source.to_be_bytes()[1..],
                    &[a.kind],
                    &a.alias,
                ],
            ),
            Packet::Dmrg(g) => put(
                DMRG,
                &[
                    &g.repeater.0.to_be_bytes(),
                    &g.source.to_be_bytes()[1..],
                    &g.gps,
                ],
            ),
            Packet::DmraShort(body) => put(DMRA, &[body]),
            Packet::DmrgShort(body) => put(DMRG, &[body]),
        }
        Ok(len)
    }

    /// The datagram as a fresh vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        // Cannot fail: the buffer is exactly buffer_len() long.
        let _ = self.emit(&mut v);
        v
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Measured DMRD voice LC header, MMDVMHost → gateway (docs/transports.md §5).
    pub(crate) const HEADER: &str = "444d52440046313b00b3b1004630c1a1c918f94903aa146c339c3978bb4099e1846d5d7f77fd757e32d803905f90f7213a831a80610000";

    fn dmrd_header() -> Vec<u8> {
        hex::decode(HEADER).unwrap()
    }

    fn samples() -> Vec<Packet> {
        let id = PeerId(4_600_001);
        let info = RepeaterInfo {
            callsign: "BG0TEST".into(),
            ..RepeaterInfo::default()
        };
        vec![
            Packet::Rptl(id),
            Packet::RptAck([0x74, 0xb1, 0x2e, 0x21]),
            Packet::Rptk {
                id,
                digest: [7; 32],
            },
            Packet::Rptc {
                id,
                config: Box::new(ConfigBlock::from_info(&info)),
            },
            Packet::Rpto {
                id,
                options: b"Type=HBlink;".to_vec(),
            },
            Packet::RptPing(id),
            Packet::MstPong(id),
            Packet::MstNak(id),
            Packet::RptCl(id),
            Packet::MstCl(id),
            Packet::RptSbkn(id),
            Packet::Rptg {
                id,
                position: *b"+39.9000+116.4000",
            },
            Packet::parse(&dmrd_header()).unwrap(),
            Packet::Dmra(Dmra {
                repeater: id,
                source: 4_600_123,
                kind: 1,
                alias: *b"BG0TEST",
            }),
            Packet::Dmrg(Dmrg {
                repeater: id,
                source: 4_600_123,
                gps: [1, 2, 3, 4, 5, 6, 7],
            }),
            Packet::DmraShort(*b"F1;\x00LBG0TST"),
            Packet::DmrgShort([0x46, 0x31, 0x3b, 0x04, 0xaa, 0xaa, 0xaa, 0x2a, 0xaa, 0xaa]),
        ]
    }

    #[test]
    fn every_packet_round_trips_through_a_dirty_buffer() {
        for p in samples() {
            let clean = p.to_vec();
            assert_eq!(clean.len(), p.buffer_len(), "{}", p.name());
            let mut dirty = vec![0xa5u8; p.buffer_len() + 3];
            assert_eq!(p.emit(&mut dirty), Ok(p.buffer_len()));
            assert_eq!(&dirty[..clean.len()], &clean[..], "{}", p.name());
            assert_eq!(
                &dirty[clean.len()..],
                &[0xa5; 3],
                "{} wrote past its end",
                p.name()
            );
            assert_eq!(Packet::parse(&clean), Ok(p.clone()), "{}", p.name());
        }
    }

    #[test]
    fn emit_into_a_short_buffer_is_an_error() {
        for p in samples() {
            let mut short = vec![0u8; p.buffer_len() - 1];
            assert!(
                matches!(
                    p.emit(&mut short),
                    Err(HomebrewError::Truncated {
                        field: "output buffer",
                        ..
                    })
                ),
                "{}",
                p.name()
            );
        }
        let long = Packet::Rpto {
            id: PeerId(1),
            options: vec![b'x'; MAX_OPTIONS_LEN + 10],
        };
        assert_eq!(long.to_vec().len(), MAX_DATAGRAM_LEN);
        assert!(Packet::parse(&long.to_vec()).is_ok());
    }

    #[test]
    fn exact_bytes_of_the_short_packets() {
        let id = PeerId(0x0046_30c1);
        let cases: [(Packet, &[u8]); 8] = [
            (Packet::Rptl(id), b"RPTL\x00\x46\x30\xc1"),
            (
                Packet::RptAck([0x74, 0xb1, 0x2e, 0x21]),
                b"RPTACK\x74\xb1\x2e\x21",
            ),
            (Packet::RptPing(id), b"RPTPING\x00\x46\x30\xc1"),
            (Packet::MstPong(id), b"MSTPONG\x00\x46\x30\xc1"),
            (Packet::MstNak(id), b"MSTNAK\x00\x46\x30\xc1"),
            (Packet::RptCl(id), b"RPTCL\x00\x46\x30\xc1"),
            (Packet::MstCl(id), b"MSTCL\x00\x46\x30\xc1"),
            (Packet::RptSbkn(id), b"RPTSBKN\x00\x46\x30\xc1"),
        ];
        for (p, bytes) in cases {
            assert_eq!(p.to_vec(), bytes, "{}", p.name());
            assert_eq!(Packet::parse(bytes), Ok(p));
        }
        let rpto = Packet::Rpto {
            id,
            options: b"Type=HBlink;".to_vec(),
        };
        assert_eq!(rpto.to_vec(), b"RPTO\x00\x46\x30\xc1Type=HBlink;");
    }

    #[test]
    fn every_truncation_is_an_error_naming_the_packet() {
        for p in samples() {
            let full = p.to_vec();
            let min = match p {
                Packet::Dmrd(_) => DMRD_MIN_LEN,
                Packet::Rpto { .. } => 8,
                _ => full.len(),
            };
            for cut in 0..min {
                // the older, short DMRA / DMRG are packets of their own
                let short = match p {
                    Packet::Dmra(_) | Packet::DmraShort(_) => DMRA_SHORT_LEN,
                    Packet::Dmrg(_) | Packet::DmrgShort(_) => DMRG_SHORT_LEN,
                    _ => usize::MAX,
                };
                if cut == short {
                    assert!(Packet::parse(&full[..cut]).is_ok());
                    continue;
                }
                match Packet::parse(&full[..cut]) {
                    Err(HomebrewError::Truncated {
                        packet, have, need, ..
                    }) => {
                        assert_eq!(have, cut);
                        assert!(need > cut, "{packet}: need {need} at {cut}");
                        if cut >= 8 {
                            assert_eq!(packet, p.name().trim_end_matches("_short"));
                        }
                    }
                    other => panic!("{} cut to {cut}: {other:?}", p.name()),
                }
            }
        }
    }

    #[test]
    fn truncation_names_the_field() {
        let d = dmrd_header();
        assert_eq!(
            Packet::parse(&d[..30]),
            Err(HomebrewError::Truncated {
                packet: "dmrd",
                field: "burst",
                need: 53,
                have: 30
            })
        );
        assert_eq!(
            Packet::parse(&d[..54]),
            Err(HomebrewError::Truncated {
                packet: "dmrd",
                field: "rssi",
                need: 55,
                have: 54
            })
        );
        assert_eq!(
            Packet::parse(b"RPTPING\x00\x46"),
            Err(HomebrewError::Truncated {
                packet: "rptping",
                field: "id",
                need: 11,
                have: 9
            })
        );
    }

    #[test]
    fn oversized_datagrams_are_refused() {
        for p in samples() {
            if matches!(p, Packet::Rpto { .. }) {
                continue;
            }
            let mut long = p.to_vec();
            long.push(0);
            if matches!(
                p,
                Packet::RptCl(_) | Packet::DmraShort(_) | Packet::DmrgShort(_)
            ) {
                // 10 octets starting "RPTC": a cut RPTC as much as a long RPTCL; a short DMRA
                // or DMRG one longer is a cut full one.
                assert!(Packet::parse(&long).is_err());
                continue;
            }
            assert!(
                matches!(Packet::parse(&long), Err(HomebrewError::TooLong { .. })),
                "{}",
                p.name()
            );
        }
        let mut rpto = b"RPTO\0\0\0\x01".to_vec();
        rpto.resize(MAX_DATAGRAM_LEN + 1, b'x');
        assert!(matches!(
            Packet::parse(&rpto),
            Err(HomebrewError::TooLong { packet: "rpto", .. })
        ));
    }

    #[test]
    fn unknown_commands_are_named() {
        assert_eq!(
            Packet::parse(b"XXXX\0\0\0\0"),
            Err(HomebrewError::UnknownCommand { prefix: *b"XXXX" })
        );
        // Right prefix, wrong rest of the tag.
        assert!(matches!(
            Packet::parse(b"RPTAXK\0\0\0\0"),
            Err(HomebrewError::UnknownCommand { .. })
        ));
        assert!(matches!(
            Packet::parse(b"MSTPINGabcd"),
            Err(HomebrewError::UnknownCommand { .. })
        ));
    }

    #[test]
    fn rptc_with_an_l_in_its_id_is_not_rptcl() {
        // ID 0x4c000001 puts 'L' right after "RPTC".
        let id = PeerId(0x4c00_0001);
        let p = Packet::Rptc {
            id,
            config: Box::new(ConfigBlock::from_info(&RepeaterInfo::default())),
        };
        assert_eq!(&p.to_vec()[..5], b"RPTCL");
        assert_eq!(Packet::parse(&p.to_vec()), Ok(p));
        assert_eq!(Packet::parse(b"RPTCL\x4c\0\0\x01"), Ok(Packet::RptCl(id)));
    }

    #[test]
    fn measured_dmrd_header_fields() {
        let d = parse_dmrd(&dmrd_header()).unwrap();
        assert_eq!(d.seq, 0);
        assert_eq!(d.source, 4_600_123);
        assert_eq!(d.destination, 46_001);
        assert_eq!(d.repeater, PeerId(4_600_001));
        assert_eq!(d.slot, Slot::Two);
        assert_eq!(d.call, CallType::Group);
        assert_eq!(d.frame, FrameType::DataSync);
        assert_eq!(d.data_type, data_type::VOICE_LC_HEADER);
        assert_eq!(d.flags(), 0xa1);
        assert_eq!(d.stream_id, 0xc918_f949);
        assert_eq!(d.burst[0], 0x03);
        assert_eq!(d.burst[32], 0x61);
        assert!(!d.is_terminator());
        assert_eq!(Packet::Dmrd(d).to_vec(), dmrd_header());
    }

    #[test]
    fn every_flags_value_round_trips() {
        for flags in 0..=255u8 {
            let mut bytes = dmrd_header();
            bytes[15] = flags;
            let p = parse_dmrd(&bytes).unwrap();
            assert_eq!(p.flags(), flags);
            assert_eq!(Packet::Dmrd(p).to_vec(), bytes);
        }
        // Private TS2 CSBK, as in kf7eel/hbnet issue #11 (docs/transports.md §2.2: 0xE3).
        let mut bytes = dmrd_header();
        bytes[15] = 0xe3;
        let p = parse_dmrd(&bytes).unwrap();
        assert_eq!(
            (p.call, p.frame, p.data_type),
            (CallType::Private, FrameType::DataSync, 3)
        );
    }

    #[test]
    fn short_dmrd_without_ber_and_rssi_is_accepted() {
        let mut bytes = dmrd_header();
        bytes[53] = 9;
        bytes[54] = 0x2f;
        let full = parse_dmrd(&bytes).unwrap();
        assert_eq!((full.ber, full.rssi), (9, 0x2f));
        let short = parse_dmrd(&bytes[..53]).unwrap();
        assert_eq!((short.ber, short.rssi), (0, 0));
        assert_eq!(short.burst, full.burst);
        assert_eq!(Packet::Dmrd(short).buffer_len(), DMRD_LEN);
    }

    #[test]
    fn login_vector_of_transports_2_3() {
        let digest = login_digest([0x74, 0xb1, 0x2e, 0x21], b"passw0rd");
        assert_eq!(
            hex::encode(digest),
            "3b8cda4b1da9f12f40fcc78e3c479d2f7fa2cea3921698ed93165d2afe254d0b"
        );
        let rptk = Packet::Rptk {
            id: PeerId(4_600_001),
            digest,
        };
        let mut want = b"RPTK\x00\x46\x30\xc1".to_vec();
        want.extend_from_slice(&digest);
        assert_eq!(rptk.to_vec(), want);
    }

    #[test]
    fn config_block_is_formatted_like_dmrgateway() {
        let info = RepeaterInfo {
            callsign: "BG0TEST".into(),
            rx_freq_hz: 351_000_000,
            tx_freq_hz: 361_000_000,
            tx_power_dbm: 1,
            colour_code: 1,
            latitude: 39.9,
            longitude: 116.4,
            height_m: 0,
            location: "Beijing".into(),
            description: String::new(),
            slots: b'4',
            url: String::new(),
            software_id: "20260713".into(),
            package_id: "MMDVM".into(),
        };
        let b = ConfigBlock::from_info(&info);
        // docs/transports.md §2.4, DMRGateway column; offsets there minus 8.
        assert_eq!(
            &b.0[..70],
            b"BG0TEST 351000000361000000010139.90000116.40000000Beijing             "
        );
        assert_eq!(b.0[89], b'4');
        assert_eq!(&b.0[214..222], b"20260713");
        assert_eq!(&b.0[254..259], b"MMDVM");
        assert!(
            b.0[259..].iter().all(|&c| c == b' '),
            "space-padded, not NUL"
        );
        let back = b.info();
        assert_eq!(back.callsign, "BG0TEST");
        assert_eq!(back.rx_freq_hz, 351_000_000);
        assert_eq!(back.tx_freq_hz, 361_000_000);
        assert_eq!(back.colour_code, 1);
        assert_eq!(back.latitude, 39.9);
        assert_eq!(back.longitude, 116.4);
        assert_eq!(back.location, "Beijing");
        // Non-ASCII is replaced, never split.
        let odd = ConfigBlock::from_info(&RepeaterInfo {
            location: "北京".into(),
            ..RepeaterInfo::default()
        });
        assert!(odd.0.iter().all(|c| c.is_ascii()));
    }

    #[test]
    fn random_datagrams_never_panic() {
        let mut rng = crate::link::homebrew::SplitMix::new(1);
        let seeds: Vec<Vec<u8>> = samples().iter().map(Packet::to_vec).collect();
        for i in 0..20_000 {
            let mut d = seeds[i % seeds.len()].clone();
            let len = (rng.next_u32() as usize) % (d.len() + 4);
            d.resize(len, 0);
            for _ in 0..(rng.next_u32() % 4) {
                if !d.is_empty() {
                    let at = rng.next_u32() as usize % d.len();
                    d[at] ^= rng.next_u32() as u8;
                }
            }
            if let Ok(p) = Packet::parse(&d) {
                // Whatever parses re-emits to something that parses to the same packet.
                assert_eq!(Packet::parse(&p.to_vec()), Ok(p));
            }
        }
    }
}
