//! Forward error correction codes of the DMR / PDT air interface (TS 102 361-1 annex B).
//!
//! Every code follows one shape (kchmck/p25.rs): `encode(data) -> codeword` and
//! `decode(codeword) -> Option<(data, bits_corrected)>`, `None` when the decoder detects more
//! errors than the code can correct.

pub mod bptc;
pub mod golay;
pub mod hamming;
pub mod qr;
pub mod rs;
pub mod trellis;
