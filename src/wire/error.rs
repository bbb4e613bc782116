//! The one error type of the wire layer.
//!
//! Every variant names the frame (`"csbk"`, `"burst"`, ...) and, where it applies, the field,
//! so a log line or a `trunkgate decode` error says exactly which stage failed. It is `Copy`
//! and never holds the input. A value the layer does not recognise is **not** an error: it is
//! kept as `Unknown(raw)` or as raw bytes.

/// Result of every parse in `wire`.
pub type Result<T> = core::result::Result<T, WireError>;

/// Why a frame could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input is shorter than the frame needs.
    #[error("{frame}: truncated, need {need} bytes, have {have}")]
    Truncated {
        frame: &'static str,
        need: usize,
        have: usize,
    },
    /// The input is longer than the frame allows.
    #[error("{frame}: too long, at most {max} bytes, have {have}")]
    TooLong {
        frame: &'static str,
        max: usize,
        have: usize,
    },
    /// The CRC or checksum does not match under any mask tried.
    #[error("{frame}: {field} mismatch, got {got:#x}, want {want:#x}")]
    Crc {
        frame: &'static str,
        field: &'static str,
        got: u32,
        want: u32,
    },
    /// A field holds a value the frame cannot carry.
    #[error("{frame}: invalid {field} = {value:#x}")]
    Invalid {
        frame: &'static str,
        field: &'static str,
        value: u32,
    },
    /// The FEC code detected more errors than it can correct.
    #[error("{frame}: uncorrectable errors in {field}")]
    Uncorrectable {
        frame: &'static str,
        field: &'static str,
    },
}
