//! Air-interface codecs for DMR Tier III and PDT: pure code, no I/O, no clock, no panics.
//!
//! ETSI TS 102 361-1..4 and GA/T 1057-2013 share the 264-bit burst, the FEC codes and the PDU
//! layouts; they differ in the CRC / Reed-Solomon masks (docs/air-interface.md §2.7, 3.9). The pipeline
//! is named after the stages of the standard:
//!
//! ```text
//! 33-byte burst ─ burst: sync, slot type (Golay 20,8), EMB (QR 16,7), 196 info bits
//!               ─ fec: BPTC(196,96) / Trellis ¾ / rate 1 → 12, 18 or 24 octets
//!               ─ crc: CRC-CCITT / RS(12,9) / CRC-9 with the dialect's mask
//!               ─ csbk / lc / data_header / data ... typed PDUs
//! ```
//!
//! The contract of every codec here:
//! - `parse` never panics, whatever the input; it returns a [`WireError`] naming the frame and
//!   the field. A value the layer does not know is kept (`Unknown(raw)` or raw octets), not an
//!   error.
//! - `emit` writes every bit of its output (`buffer_len()` octets), so a dirty buffer yields
//!   the same frame as a clean one.
//! - FEC `decode` reports how many bits it corrected and returns `None` when it detects more
//!   errors than it can correct.
//!
//! Nothing in `wire` depends on another module of the crate.
#![forbid(unsafe_code)]

pub mod bits;
pub mod burst;
pub mod crc;
pub mod csbk;
pub mod data;
pub mod data_header;
pub mod embedded;
pub mod error;
pub mod fec;
pub mod lc;
pub mod lrrp;
pub mod pi_header;
pub mod pipeline;
pub mod sdata;

pub use error::{Result, WireError};

/// The docs/air-interface.md dialect: which CRC and RS masks a PDU carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// ETSI DMR (TS 102 361).
    Dmr,
    /// PDT (GA/T 1056-1059), masks from the Hytera PDT data-link layer.
    Pdt,
}

/// The dialect(s) a decoder tries.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DialectChoice {
    /// DMR masks only.
    Dmr,
    /// PDT masks only.
    Pdt,
    /// Try DMR then PDT; report which one checked.
    #[default]
    Auto,
}

impl DialectChoice {
    /// The dialects to try, in order.
    pub const fn candidates(self) -> &'static [Dialect] {
        match self {
            DialectChoice::Dmr => &[Dialect::Dmr],
            DialectChoice::Pdt => &[Dialect::Pdt],
            DialectChoice::Auto => &[Dialect::Dmr, Dialect::Pdt],
        }
    }
}

impl core::str::FromStr for DialectChoice {
    type Err = String;
    fn from_str(s: &str) -> core::result::Result<Self, String> {
        match s {
            "dmr" => Ok(DialectChoice::Dmr),
            "pdt" => Ok(DialectChoice::Pdt),
            "auto" => Ok(DialectChoice::Auto),
            other => Err(format!("unknown dialect {other:?} (dmr, pdt or auto)")),
        }
    }
}
