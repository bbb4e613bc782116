//! Typed identities of the dispatch core, and PDT dial numbers.
//!
//! Radios and talkgroups are addressed on the air by a 24-bit value ([`RadioId`],
//! [`TalkgroupId`]), kept exactly as it stands on the air. PDT users dial an 8-digit number
//! ([`DialNumber`]): NP (3 digits) + fleet (2) + individual or group number (3). The mapping is
//! the MPT 1343 / ETSI TS 102 361-4 Annex E "fleet" plan that PDT adopted (docs/pdt.md §1.1,
//! §1.2, grade A), with the level-group range of docs/pdt.md §1.3 (grade B):
//!
//! ```text
//! air = NAI (9 bits) ‖ SSI/SGI (15 bits),  NAI = NP − 296,  NP 328..=806
//! individual, fleet 20..=41, IN 200..=899: SSI = (FIN−20)·700 + (IN−200) + 1           1..=15400
//! individual, fleet 42..=89, IN 200..=549: SSI = 15400 + (FIN−42)·350 + (IN−200) + 1   15401..=32200
//! group, fleet 20..=89, GN 900..=999:      SGI = (FGN−20)·100 + (GN−900) + 1           1..=7000
//! level group NP 9 L nnn, L ∈ {0,7,8,9}:   SGI = 7001 + 1000·L + nnn                   7001..=17000
//! ```
//!
//! The same 24-bit value names a different number for an individual and for a group, so the
//! conversion always states which kind it is. Values outside the PDT numbering (NAI < 32, the
//! MPT 1327 space; NAI 511, the ETSI gateway and all-call block) have no dial number and are
//! shown raw. Other identities (call, alarm, operation, message) are gateway-assigned
//! sequence numbers.

use core::fmt;
use core::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest 24-bit air address.
pub const MAX_AIR_ID: u32 = 0x00FF_FFFF;

/// Time in milliseconds since the Unix epoch, as the driver read it from its clock. The core
/// never reads a clock itself.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// `self + ms`, saturating.
    pub const fn plus_ms(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub const fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Why a 24-bit identity or a dial number was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The value does not fit in 24 bits.
    #[error("air address {0:#x} does not fit in 24 bits")]
    TooWide(u32),
    /// A dial number must be exactly 8 ASCII digits.
    #[error("dial number must be 8 digits")]
    NotEightDigits,
    /// NP outside 328..=806 (NAI 32..=510).
    #[error("dial number: network prefix {0} outside 328..=806")]
    Prefix(u16),
    /// Fleet outside 20..=89 (or 20..=41 for individual numbers 550..=899).
    #[error("dial number: fleet {0} outside the dialling plan")]
    Fleet(u16),
    /// Individual or group number outside the plan (200..=899 individual, 900..=999 group).
    #[error("dial number: number {0} outside the dialling plan")]
    Number(u16),
    /// The number is an individual number where a group was expected, or the reverse.
    #[error("dial number {0} is not a {1} number")]
    WrongKind(DialNumber, IdKind),
    /// Neither an air address (`0x`-prefixed hex, `#`-prefixed decimal, or a plain decimal of
    /// at most 7 digits) nor a dial number.
    #[error(
        "not an identity: expected 8 dial digits, 0x<hex>, #<decimal>, or a decimal DMR ID of \
         at most 7 digits"
    )]
    Syntax,
}

/// Whether an identity names a radio or a talkgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// An individual radio (PDT: IN 200..=899).
    Individual,
    /// A talkgroup (PDT: GN 900..=999, or a level group).
    Group,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Individual => "individual",
            IdKind::Group => "group",
        })
    }
}

/// An 8-digit PDT dial number (用户号码), NP(3) FIN/FGN(2) IN/GN(3), held as its numeric
/// value (always 8 digits: NP starts at 328).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DialNumber(u32);

/// docs/pdt.md §1.1: NP = NAI + 296, valid NP 328..=806 (NAI 32..=510).
const NP_OFFSET: u32 = 296;
const NP_MIN: u32 = 328;
const NP_MAX: u32 = 806;
/// docs/pdt.md §1.2: individual numbers of fleets 20..=41 take 700 slots each ...
const SSI_SMALL_FLEETS_MAX: u32 = 15_400;
/// ... and fleets 42..=89 take 350 slots each, up to 32200.
const SSI_MAX: u32 = 32_200;
/// docs/pdt.md §1.2: group numbers, 100 per fleet, up to 7000.
const SGI_MAX: u32 = 7_000;
/// docs/pdt.md §1.3: level groups (分级组) SGI 7001..=17000, standard rule L ∈ {0, 7, 8, 9}.
const SGI_LEVEL_BASE: u32 = 7_001;
const SGI_LEVEL_MAX: u32 = 17_000;
const LEVELS_STANDARD: [u32; 4] = [0, 7, 8, 9];

impl DialNumber {
    /// The numeric value (8 digits).
    pub const fn value(self) -> u32 {
        self.0
    }

    /// Network prefix (3 digits).
    pub const fn np(self) -> u32 {
        self.0 / 100_000
    }

    /// Whether the dialling plan reads this as an individual or a group number, or `None`
    /// when it is neither. The number part tells them apart (docs/pdt.md §0 item 2).
    pub fn kind(self) -> Option<IdKind> {
        match self.air(IdKind::Individual) {
            Ok(_) => Some(IdKind::Individual),
            Err(_) => self.air(IdKind::Group).ok().map(|_| IdKind::Group),
        }
    }

    /// The 24-bit air address of this number read as `kind` (docs/pdt.md §1.2, §1.3).
    pub fn air(self, kind: IdKind) -> Result<u32, IdError> {
        let np = self.np();
        if !(NP_MIN..=NP_MAX).contains(&np) {
            return Err(IdError::Prefix(np as u16));
        }
        let fleet = (self.0 / 1_000) % 100;
        let num = self.0 % 1_000;
        let ssi = match kind {
            IdKind::Individual => match (fleet, num) {
                (20..=41, 200..=899) => (fleet - 20) * 700 + (num - 200) + 1,
                (42..=89, 200..=549) => SSI_SMALL_FLEETS_MAX + (fleet - 42) * 350 + (num - 200) + 1,
                (42..=89, 550..=899) => return Err(IdError::Fleet(fleet as u16)),
                (20..=89, 900..=999) => {
                    return Err(IdError::WrongKind(self, IdKind::Individual));
                }
                (20..=89, _) => return Err(IdError::Number(num as u16)),
                (90..=99, _) => return Err(IdError::WrongKind(self, IdKind::Individual)),
                _ => return Err(IdError::Fleet(fleet as u16)),
            },
            IdKind::Group => match (fleet, num) {
                (20..=89, 900..=999) => (fleet - 20) * 100 + (num - 900) + 1,
                (20..=89, 200..=899) => return Err(IdError::WrongKind(self, IdKind::Group)),
                (20..=89, _) => return Err(IdError::Number(num as u16)),
                // NP 9 L nnn: fleet digits are "9L".
                (90..=99, _) if LEVELS_STANDARD.contains(&(fleet - 90)) => {
                    SGI_LEVEL_BASE + (fleet - 90) * 1_000 + num
                }
                _ => return Err(IdError::Fleet(fleet as u16)),
            },
        };
        Ok(((np - NP_OFFSET) << 15) | ssi)
    }

    /// The dial number of a 24-bit air address read as `kind`, or `None` when the address has
    /// no 8-digit number (outside PDT numbering, or a special range: dispatcher, internal,
    /// all-call; docs/pdt.md §1.3, §1.4).
    pub fn from_air(air: u32, kind: IdKind) -> Option<DialNumber> {
        if air > MAX_AIR_ID {
            return None;
        }
        let nai = air >> 15;
        let np = nai + NP_OFFSET;
        if !(NP_MIN..=NP_MAX).contains(&np) {
            return None;
        }
        let s = air & 0x7FFF;
        let (fleet, num) = match kind {
            IdKind::Individual => match s {
                1..=SSI_SMALL_FLEETS_MAX => ((s - 1) / 700 + 20, (s - 1) % 700 + 200),
                15_401..=SSI_MAX => {
                    let k = s - SSI_SMALL_FLEETS_MAX - 1;
                    (k / 350 + 42, k % 350 + 200)
                }
                _ => return None,
            },
            IdKind::Group => match s {
                1..=SGI_MAX => ((s - 1) / 100 + 20, (s - 1) % 100 + 900),
                SGI_LEVEL_BASE..=SGI_LEVEL_MAX => {
                    let k = s - SGI_LEVEL_BASE;
                    let level = k / 1_000;
                    if !LEVELS_STANDARD.contains(&level) {
                        return None;
                    }
                    (90 + level, k % 1_000)
                }
                _ => return None,
            },
        };
        Some(DialNumber(np * 100_000 + fleet * 1_000 + num))
    }
}

impl FromStr for DialNumber {
    type Err = IdError;
    /// Accepts exactly 8 ASCII digits; checks the plan only when converted with
    /// [`DialNumber::air`].
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::NotEightDigits);
        }
        // Eight ASCII digits always fit in a u32 (< 10^8).
        s.parse::<u32>()
            .map(DialNumber)
            .map_err(|_| IdError::NotEightDigits)
    }
}

impl fmt::Display for DialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08}", self.0)
    }
}

fn check_24(v: u32) -> Result<u32, IdError> {
    if v > MAX_AIR_ID {
        Err(IdError::TooWide(v))
    } else {
        Ok(v)
    }
}

/// Most digits of a plain decimal air address (a DMR ID typed without `#`): eight digits
/// always read as a PDT dial number (docs/pdt.md §1.1), so a plain DMR ID has at most seven.
const PLAIN_DECIMAL_MAX_DIGITS: usize = 7;

/// Parse the forms an operator may type for an identity of `kind`: 8 dial digits,
/// `0x<hex>` or `#<decimal>` for a raw air address, or a plain decimal DMR ID of at most 7
/// digits (which cannot be confused with a dial number). Strict: no surrounding whitespace, no
/// sign, 1 to 8 digits after a prefix (so nothing a number parser would also take slips in), and
/// a plain decimal is canonical (no leading zero), so one ID has one plain spelling.
fn parse_identity(s: &str, kind: IdKind) -> Result<u32, IdError> {
    let digits =
        |d: &str, ok: fn(&u8) -> bool| !d.is_empty() && d.len() <= 8 && d.bytes().all(|b| ok(&b));
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if !digits(hex, u8::is_ascii_hexdigit) {
            return Err(IdError::Syntax);
        }
        let v = u32::from_str_radix(hex, 16).map_err(|_| IdError::Syntax)?;
        return check_24(v);
    }
    if let Some(dec) = s.strip_prefix('#') {
        if !digits(dec, u8::is_ascii_digit) {
            return Err(IdError::Syntax);
        }
        let v = dec.parse::<u32>().map_err(|_| IdError::Syntax)?;
        return check_24(v);
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<DialNumber>()?.air(kind);
    }
    if (1..=PLAIN_DECIMAL_MAX_DIGITS).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'))
    {
        // At most 7 digits always fit in a u32.
        let v = s.parse::<u32>().map_err(|_| IdError::Syntax)?;
        return check_24(v);
    }
    Err(IdError::Syntax)
}

macro_rules! air_id {
    ($(#[$m:meta])* $name:ident, $kind:expr) => {
        $(#[$m])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(u32);

        impl $name {
            /// A 24-bit air address; rejects wider values.
            pub fn new(air: u32) -> Result<Self, IdError> {
                check_24(air).map($name)
            }

            /// The 24-bit air address.
            pub const fn air(self) -> u32 {
                self.0
            }

            /// The PDT dial number, when the address has one.
            pub fn dial(self) -> Option<DialNumber> {
                DialNumber::from_air(self.0, $kind)
            }

            /// From a dial number; rejects numbers outside the plan or of the other kind.
            pub fn from_dial(dial: DialNumber) -> Result<Self, IdError> {
                dial.air($kind).map($name)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            /// 8 dial digits, `0x<hex>`, `#<decimal>`, or a plain decimal of at most 7 digits.
            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_identity(s, $kind).map($name)
            }
        }

        impl fmt::Display for $name {
            /// The dial number when there is one, else `0x` and six hex digits.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.dial() {
                    Some(d) => d.fmt(f),
                    None => write!(f, "0x{:06X}", self.0),
                }
            }
        }
    };
}

air_id!(
    /// A radio (mobile station) by its 24-bit air address.
    RadioId,
    IdKind::Individual
);
air_id!(
    /// A talkgroup by its 24-bit air address.
    TalkgroupId,
    IdKind::Group
);

/// A site (base station, or the link that serves it) by its configured name. Cheap to clone;
/// the core interns one copy per site.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SiteId(Arc<str>);

impl SiteId {
    /// A site by name.
    pub fn new(name: &str) -> SiteId {
        SiteId(Arc::from(name))
    }

    /// The configured name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Arc<str>> for SiteId {
    fn from(name: Arc<str>) -> SiteId {
        SiteId(name)
    }
}

impl From<&str> for SiteId {
    fn from(name: &str) -> SiteId {
        SiteId::new(name)
    }
}

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for SiteId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SiteId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SiteId, D::Error> {
        let s = String::deserialize(d)?;
        Ok(SiteId(Arc::from(s)))
    }
}

macro_rules! seq_id {
    ($(#[$m:meta])* $name:ident, $prefix:literal) => {
        $(#[$m])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

seq_id!(
    /// A call (one talkgroup or private conversation on one site), assigned by the core.
    CallId,
    "call-"
);
seq_id!(
    /// An emergency alarm resource, assigned by the core.
    AlarmId,
    "alarm-"
);
seq_id!(
    /// An over-the-air operation (command), assigned by the core.
    OperationId,
    "op-"
);
seq_id!(
    /// A received text or status message, assigned by the core.
    MessageId,
    "msg-"
);
seq_id!(
    /// A call-out (a request to alert teams and collect their answers), assigned by the core.
    CalloutId,
    "callout-"
);

/// A team (救援队) from the configured directory, by its index there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TeamId(pub u32);

#[cfg(test)]
mod tests {
    use super::*;

    fn dial(s: &str) -> DialNumber {
        s.parse().unwrap()
    }

    /// docs/pdt.md §1.5: asserted by the Eastcom source (B) and derived (A/derived).
    const INDIVIDUAL: &[(&str, u32)] = &[
        ("80020200", 0xFC0001),
        ("80020201", 0xFC0002),
        ("80020207", 0xFC0008),
        ("32820200", 0x100001),
        ("57120200", 0x898001),
        ("57141899", 0x89BC28),
        ("57142200", 0x89BC29),
        ("57189549", 0x89FDC8),
        ("80689549", 0xFF7DC8),
    ];
    const GROUP: &[(&str, u32)] = &[
        ("80020910", 0xFC000B),
        ("32820900", 0x100001),
        ("57189999", 0x899B58),
        ("57190000", 0x899B59),
        ("57199000", 0x89BE81),
    ];

    #[test]
    fn identities_parse_strictly() {
        let r = |s: &str| s.parse::<RadioId>();
        assert_eq!(r("57120201").unwrap().to_string(), "57120201");
        assert_eq!(r("0x00000A").unwrap().air(), 10);
        assert_eq!(r("0Xa").unwrap().air(), 10);
        assert_eq!(r("#10").unwrap().air(), 10);
        for bad in [
            " 57120201",
            "57120201 ",
            "\t57120201",
            "5712020１",
            "+57120201",
            "0x+A",
            "0x-A",
            "0x",
            "0x 0A",
            "0x0A ",
            "#",
            "#+10",
            "#-10",
            "# 10",
            "#10\n",
            "#000000010",
            "0x00000000A",
            "",
        ] {
            assert_eq!(r(bad), Err(IdError::Syntax), "{bad:?}");
        }
        assert_eq!(r("0x1000000"), Err(IdError::TooWide(0x100_0000)));
        assert_eq!(r("#16777216"), Err(IdError::TooWide(16_777_216)));
    }

    #[test]
    fn individual_vectors_both_directions() {
        for &(d, air) in INDIVIDUAL {
            assert_eq!(RadioId::from_dial(dial(d)).unwrap().air(), air, "{d}");
            assert_eq!(RadioId::new(air).unwrap().dial(), Some(dial(d)), "{air:#x}");
            assert_eq!(d.parse::<RadioId>().unwrap().air(), air);
            assert_eq!(RadioId::new(air).unwrap().to_string(), d);
            assert_eq!(dial(d).kind(), Some(IdKind::Individual));
        }
        assert_eq!(16_515_073, 0xFC0001);
        assert_eq!(16_743_880, 0xFF7DC8);
    }

    #[test]
    fn group_vectors_both_directions() {
        for &(d, air) in GROUP {
            assert_eq!(TalkgroupId::from_dial(dial(d)).unwrap().air(), air, "{d}");
            assert_eq!(
                TalkgroupId::new(air).unwrap().dial(),
                Some(dial(d)),
                "{air:#x}"
            );
            assert_eq!(d.parse::<TalkgroupId>().unwrap().to_string(), d);
            assert_eq!(dial(d).kind(), Some(IdKind::Group));
        }
    }

    #[test]
    fn same_air_value_differs_by_kind() {
        let air = 0x100001;
        assert_eq!(RadioId::new(air).unwrap().dial(), Some(dial("32820200")));
        assert_eq!(
            TalkgroupId::new(air).unwrap().dial(),
            Some(dial("32820900"))
        );
    }

    #[test]
    fn rejects_invalid_dial_numbers() {
        assert_eq!(
            "1234567".parse::<DialNumber>(),
            Err(IdError::NotEightDigits)
        );
        assert_eq!(
            "1234567a".parse::<DialNumber>(),
            Err(IdError::NotEightDigits)
        );
        assert_eq!(
            "+2345678".parse::<DialNumber>(),
            Err(IdError::NotEightDigits)
        );
        // NP 327 is the MPT 1327 space, NP 807 is past NAI 510.
        assert_eq!(
            dial("32720200").air(IdKind::Individual),
            Err(IdError::Prefix(327))
        );
        assert_eq!(
            dial("80720200").air(IdKind::Individual),
            Err(IdError::Prefix(807))
        );
        // Fleet 19 and individual numbers under 200.
        assert_eq!(
            dial("57119200").air(IdKind::Individual),
            Err(IdError::Fleet(19))
        );
        assert_eq!(
            dial("57120199").air(IdKind::Individual),
            Err(IdError::Number(199))
        );
        // Fleets 42..=89 stop at IN 549.
        assert_eq!(
            dial("57142550").air(IdKind::Individual),
            Err(IdError::Fleet(42))
        );
        // A group number is not a radio, and the reverse.
        assert!(matches!(
            RadioId::from_dial(dial("57120900")),
            Err(IdError::WrongKind(_, IdKind::Individual))
        ));
        assert!(matches!(
            TalkgroupId::from_dial(dial("57120200")),
            Err(IdError::WrongKind(_, IdKind::Group))
        ));
        // Level groups outside the standard L ∈ {0,7,8,9}.
        assert_eq!(dial("57191000").air(IdKind::Group), Err(IdError::Fleet(91)));
        assert_eq!(dial("57191000").kind(), None);
        // Seven digits are a plain DMR ID, nine are nothing.
        assert_eq!("5712020".parse::<RadioId>().unwrap().air(), 5_712_020);
        assert_eq!("571202000".parse::<RadioId>(), Err(IdError::Syntax));
    }

    #[test]
    fn plain_decimal_dmr_ids() {
        assert_eq!("46001".parse::<TalkgroupId>().unwrap().air(), 46_001);
        assert_eq!("3100001".parse::<RadioId>().unwrap().air(), 3_100_001);
        assert_eq!("9".parse::<RadioId>().unwrap().air(), 9);
        // Strict like every other form: no whitespace, no leading zero.
        for bad in [" 9 ", "9 ", " 9", "\t9", "09", "0046001", "4600１"] {
            assert_eq!(bad.parse::<RadioId>(), Err(IdError::Syntax), "{bad:?}");
        }
        // Eight digits are always a dial number, never a DMR ID.
        assert!(matches!(
            "16000000".parse::<RadioId>(),
            Err(IdError::Prefix(160))
        ));
        assert_eq!("-5".parse::<RadioId>(), Err(IdError::Syntax));
        assert_eq!("+5".parse::<RadioId>(), Err(IdError::Syntax));
    }

    #[test]
    fn air_without_dial_number() {
        // NAI < 32 (MPT 1327 space), NAI 511 (gateway ids, all-calls), special SSI ranges.
        for air in [0x000001, 0x0FFFFF, 0xFFFEC6, 0xFFFFFF, 0x89FEE1, 0x898000] {
            assert_eq!(RadioId::new(air).unwrap().dial(), None, "{air:#x}");
        }
        assert_eq!(TalkgroupId::new(0x89FFFF).unwrap().dial(), None);
        // Level group L1 is not in the standard rule.
        assert_eq!(TalkgroupId::new(0x899B59 + 1000).unwrap().dial(), None);
        assert_eq!(RadioId::new(0xFFFEC6).unwrap().to_string(), "0xFFFEC6");
    }

    #[test]
    fn raw_forms_and_width() {
        assert_eq!("0xfc0001".parse::<RadioId>().unwrap().air(), 0xFC0001);
        assert_eq!("#16515073".parse::<RadioId>().unwrap().air(), 0xFC0001);
        assert_eq!(
            "0x1000000".parse::<RadioId>(),
            Err(IdError::TooWide(0x1000000))
        );
        assert_eq!(RadioId::new(0x1000000), Err(IdError::TooWide(0x1000000)));
        assert_eq!("0xzz".parse::<RadioId>(), Err(IdError::Syntax));
    }

    #[test]
    fn every_individual_and_group_number_round_trips() {
        // The whole plan for one NP, both directions.
        for s in 0..=0x7FFFu32 {
            let air = (275 << 15) | s;
            if let Some(d) = DialNumber::from_air(air, IdKind::Individual) {
                assert_eq!(d.air(IdKind::Individual), Ok(air));
            }
            if let Some(d) = DialNumber::from_air(air, IdKind::Group) {
                assert_eq!(d.air(IdKind::Group), Ok(air));
            }
        }
    }
}
