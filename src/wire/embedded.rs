//! Embedded LC: the full LC carried in 32-bit fragments of voice bursts B–E, coded with
//! VBPTC(128,72) + Hamming(16,11,4) + a 5-bit checksum (TS 102 361-1 B.2.1, 9.1.4;
//! docs/air-interface.md §2.4, 4.4), and the talker alias carried in such LCs (4.3).
//!
//! Layout (MMDVMHost DMREmbeddedData.cpp, ok-dmrlib vbptc_128_72.py):
//! - The four fragments B, C, D, E concatenated are `raw[0..128]`. The 8 × 16 matrix `m`
//!   (row-major) is sent column by column: `m[(16·a) mod 127] = raw[a]` for a < 127, and
//!   `m[127] = raw[127]`.
//! - Rows 0–6: 11 data bits + 5 parity bits of Hamming(16,11,4). Row 7: even parity of each
//!   column over rows 0–6.
//! - LC bits (72): row 0 cols 0–10, row 1 cols 0–10, rows 2–6 cols 0–9. The 5-bit checksum is
//!   column 10 of rows 2–6 (MSB in row 2) and equals the sum of the nine LC octets mod 31
//!   ([`crc::checksum5`]).
//!
//! Contract: [`decode`] corrects one bit per row (and a single bit in the parity row), checks
//! the column parity **and the checksum**, and returns `None` when any of them fails; so a
//! `Some` is an LC the caller can trust as much as the code allows. [`EmbeddedLcAssembler`]
//! and [`TalkerAliasAssembler`] hold fixed-size state only and never panic, whatever order
//! fragments arrive in.

use super::crc;
use super::fec::hamming::{decode_16_11, encode_16_11};
use super::lc::{FullLc, LcBody, TalkerAliasFormat};
use super::{Dialect, bits};

/// Octets of the 128 interleaved bits.
pub const RAW_LEN: usize = 16;
/// Number of 32-bit fragments of one embedded LC (bursts B–E).
pub const FRAGMENTS: usize = 4;

const ROWS: usize = 8;
const COLS: usize = 16;

/// Matrix index of interleaved bit `a` (2.4).
const fn matrix_index(a: usize) -> usize {
    if a == 127 { 127 } else { (a * 16) % 127 }
}

/// (row, col) of LC bit `i` (0..72) in the matrix.
const fn lc_position(i: usize) -> (usize, usize) {
    if i < 22 {
        (i / 11, i % 11)
    } else {
        let j = i - 22;
        (2 + j / 10, j % 10)
    }
}

/// Decode 128 received bits: (nine LC octets, checksum, bits corrected). `None` when a row has
/// two errors, the column parity or the 5-bit checksum fails.
pub fn decode(raw: &[u8; RAW_LEN]) -> Option<([u8; 9], u8, usize)> {
    let mut m = [false; ROWS * COLS];
    for a in 0..ROWS * COLS {
        m[matrix_index(a)] = bits::get_flag(raw, a);
    }
    let mut corrected = 0;
    let mut rows = [0u16; ROWS];
    for (r, row) in rows.iter_mut().enumerate() {
        let word = (0..COLS).fold(0u16, |w, c| (w << 1) | u16::from(m[r * COLS + c]));
        *row = if r < 7 {
            let (data, n) = decode_16_11(word)?;
            corrected += n;
            encode_16_11(data)
        } else {
            word
        };
    }
    // Row 7 is the even parity of each column over rows 0–6: after row correction at most one
    // mismatch is accepted, a bit error in the parity row itself.
    let parity = rows[..7].iter().fold(0u16, |p, r| p ^ r);
    match (parity ^ rows[7]).count_ones() {
        0 => {}
        1 => corrected += 1,
        _ => return None,
    }
    let bit = |r: usize, c: usize| (rows[r] >> (COLS - 1 - c)) & 1 == 1;
    let mut lc = [0u8; 9];
    for i in 0..72 {
        let (r, c) = lc_position(i);
        bits::put_flag(&mut lc, i, bit(r, c));
    }
    let checksum = (2..7).fold(0u8, |cs, r| (cs << 1) | u8::from(bit(r, 10)));
    (crc::checksum5(&lc) == checksum).then_some((lc, checksum, corrected))
}

/// Encode nine LC octets into the 128 interleaved bits (fragments B–E concatenated).
pub fn encode(lc: &[u8; 9]) -> [u8; RAW_LEN] {
    encode_with_checksum(lc, crc::checksum5(lc))
}

fn encode_with_checksum(lc: &[u8; 9], checksum: u8) -> [u8; RAW_LEN] {
    let mut data = [0u16; 7];
    for i in 0..72 {
        let (r, c) = lc_position(i);
        data[r] |= u16::from(bits::get_flag(lc, i)) << (10 - c);
    }
    for (k, row) in data[2..7].iter_mut().enumerate() {
        *row |= u16::from((checksum >> (4 - k)) & 1);
    }
    let mut rows = [0u16; ROWS];
    for (row, d) in rows.iter_mut().zip(data) {
        *row = encode_16_11(d);
    }
    rows[7] = rows[..7].iter().fold(0u16, |p, r| p ^ r);
    let mut raw = [0u8; RAW_LEN];
    for a in 0..ROWS * COLS {
        let b = matrix_index(a);
        let set = (rows[b / COLS] >> (COLS - 1 - b % COLS)) & 1 == 1;
        bits::put_flag(&mut raw, a, set);
    }
    raw
}

pub use super::burst::Lcss;

/// The four fragments of an encoded embedded LC with their LCSS (1, 3, 3, 2), for bursts B–E.
pub fn split(raw: &[u8; RAW_LEN]) -> [(Lcss, u32); FRAGMENTS] {
    let lcss = [
        Lcss::FirstFragment,
        Lcss::Continuation,
        Lcss::Continuation,
        Lcss::LastFragment,
    ];
    let mut out = [(Lcss::SingleFragment, 0u32); FRAGMENTS];
    for (i, (slot, l)) in out.iter_mut().zip(lcss).enumerate() {
        *slot = (l, bits::get(raw, i * 32, 32) as u32);
    }
    out
}

/// Encode `lc` and split it into the fragments an emitter puts in bursts B–E.
pub fn fragments(lc: &FullLc) -> [(Lcss, u32); FRAGMENTS] {
    split(&encode(&lc.emit9()))
}

/// Collects the embedded fragments of one logical channel (one slot) and yields each full LC
/// whose first..last run of four fragments decodes.
///
/// A fragment out of order (a continuation without a first, a fifth fragment, a last after
/// fewer than three) discards the run; a `First` always starts a new one.
#[derive(Debug, Clone)]
pub struct EmbeddedLcAssembler {
    dialect: Dialect,
    fragments: [u32; FRAGMENTS],
    have: usize,
    /// LCs decoded.
    pub completed: u64,
    /// Complete runs that failed VBPTC, parity or checksum.
    pub rejected: u64,
    /// Partial runs discarded because a fragment came out of order or went missing.
    pub out_of_order: u64,
    /// Bits corrected over all decoded LCs.
    pub bits_corrected: u64,
}

impl EmbeddedLcAssembler {
    /// `dialect` decides how GPS positions are read (see `lc`).
    pub fn new(dialect: Dialect) -> Self {
        EmbeddedLcAssembler {
            dialect,
            fragments: [0; FRAGMENTS],
            have: 0,
            completed: 0,
            rejected: 0,
            out_of_order: 0,
            bits_corrected: 0,
        }
    }

    /// Forget any partial run (call on a new call or a lost burst).
    pub fn reset(&mut self) {
        self.have = 0;
    }

    fn discard(&mut self) {
        if self.have > 0 {
            self.out_of_order += 1;
        }
        self.have = 0;
    }

    /// Feed one voice burst's EMB LCSS and 32-bit embedded fragment.
    pub fn feed(&mut self, lcss: Lcss, fragment: u32) -> Option<FullLc> {
        match (lcss, self.have) {
            (Lcss::FirstFragment, _) => {
                self.discard();
                self.fragments[0] = fragment;
                self.have = 1;
                None
            }
            (Lcss::Continuation, 1 | 2) => {
                self.fragments[self.have] = fragment;
                self.have += 1;
                None
            }
            (Lcss::LastFragment, 3) => {
                self.fragments[3] = fragment;
                self.have = 0;
                let mut raw = [0u8; RAW_LEN];
                for (i, f) in self.fragments.iter().enumerate() {
                    raw[i * 4..i * 4 + 4].copy_from_slice(&f.to_be_bytes());
                }
                let decoded = decode(&raw).and_then(|(lc, _, n)| {
                    FullLc::parse9_in(&lc, self.dialect).ok().map(|lc| (lc, n))
                });
                match decoded {
                    Some((lc, n)) => {
                        self.completed += 1;
                        self.bits_corrected += n as u64;
                        Some(lc)
                    }
                    None => {
                        self.rejected += 1;
                        None
                    }
                }
            }
            // a null fragment, or a continuation / last that does not extend the run (late
            // entry mid-superframe, a lost burst)
            _ => {
                self.discard();
                None
            }
        }
    }
}

/// Octets of alias data in the header (bits 24–71) and in each block (bits 16–71).
const HEADER_OCTETS: usize = 6;
const BLOCK_OCTETS: usize = 7;
/// Alias data bits from bit 23 of the header (7-bit format) and per block.
const HEADER_BITS: usize = 49;
const BLOCK_BITS: usize = 56;

/// Assembles a talker alias from its header (FLCO 4) and blocks 1–3 (FLCO 5–7) (docs/air-interface.md
/// 4.3; vector `okdmr-talker-alias-assembly`).
///
/// The length field counts characters: 7-bit characters packed from bit 23 of the header;
/// ISO 8859-1 octets; UTF-16BE code units (two octets each); for UTF-8 the alias ends after
/// `length` characters or at the end of block 3. A header starts a new alias; blocks may come
/// before or after it; the alias is returned once, as soon as the blocks it needs are in, and
/// the state is then cleared.
#[derive(Debug, Clone, Default)]
pub struct TalkerAliasAssembler {
    header: Option<(TalkerAliasFormat, u8, bool, [u8; HEADER_OCTETS])>,
    blocks: [Option<[u8; BLOCK_OCTETS]>; 3],
}

impl TalkerAliasAssembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget everything collected (call when a new call starts).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Feed any LC; talker alias LCs are collected, others ignored.
    pub fn feed(&mut self, lc: &FullLc) -> Option<String> {
        match lc.body {
            LcBody::TalkerAliasHeader {
                format,
                length,
                msb,
                data,
            } => {
                let new = (format, length, msb, data);
                if self.header.is_some_and(|h| h != new) {
                    self.blocks = [None; 3];
                }
                self.header = Some(new);
            }
            LcBody::TalkerAliasBlock { index, data } => {
                let slot = self.blocks.get_mut(usize::from(index).wrapping_sub(1))?;
                *slot = Some(data);
            }
            _ => return None,
        }
        let alias = self.try_complete()?;
        *self = Self::default();
        Some(alias)
    }

    /// Header data then the blocks present in order, up to the first missing one; and whether
    /// all three blocks are in.
    fn octets(&self, data: &[u8; HEADER_OCTETS]) -> (Vec<u8>, bool) {
        let mut out = data.to_vec();
        for block in &self.blocks {
            match block {
                Some(b) => out.extend_from_slice(b),
                None => return (out, false),
            }
        }
        (out, true)
    }

    fn try_complete(&self) -> Option<String> {
        let (format, length, msb, data) = self.header?;
        let length = usize::from(length);
        let (octets, all) = self.octets(&data);
        match format {
            TalkerAliasFormat::SevenBit => {
                let need = (length * 7).min(HEADER_BITS + 3 * BLOCK_BITS);
                let mut stream = vec![0u8; 1 + octets.len()];
                bits::put_flag(&mut stream, 7, msb);
                stream[1..].copy_from_slice(&octets);
                // the stream starts at bit 7 of `stream` (bit 23 of the header)
                if 1 + octets.len() * 8 < need {
                    return None;
                }
                Some(
                    (0..need / 7)
                        .map(|i| char::from(bits::get(&stream, 7 + i * 7, 7) as u8))
                        .collect(),
                )
            }
            TalkerAliasFormat::Iso8Bit => {
                let need = length.min(HEADER_OCTETS + 3 * BLOCK_OCTETS);
                let bytes = octets.get(..need)?;
                Some(bytes.iter().map(|&b| char::from(b)).collect())
            }
            TalkerAliasFormat::Utf16Be => {
                let need = (2 * length).min(HEADER_OCTETS + 3 * BLOCK_OCTETS) & !1;
                let bytes = octets.get(..need)?;
                let units: Vec<u16> = bytes
                    .chunks_exact(2)
                    .map(|p| u16::from_be_bytes([p[0], p[1]]))
                    .collect();
                Some(String::from_utf16_lossy(&units))
            }
            TalkerAliasFormat::Utf8 => {
                let valid = match core::str::from_utf8(&octets) {
                    Ok(s) => s,
                    Err(e) => core::str::from_utf8(&octets[..e.valid_up_to()]).unwrap_or(""),
                };
                if valid.chars().count() >= length {
                    Some(valid.chars().take(length).collect())
                } else if all {
                    Some(
                        String::from_utf8_lossy(&octets)
                            .chars()
                            .take(length)
                            .collect(),
                    )
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::lc::ServiceOptions;

    fn hex16(s: &str) -> [u8; 16] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// okdmr-embedded-lc-*: (id, 128 interleaved bits, lc77 as computed by ok-dmrlib)
    const VECTORS: &[(&str, &str, &str)] = &[
        (
            "okdmr-embedded-lc-5",
            "09001d17271e81b730060c9a9a8e09b1",
            "0300002635a903d47530",
        ),
        (
            "okdmr-embedded-lc-4",
            "0a00030a170906060f12110305120f0a",
            "00000000086520baef40",
        ),
        (
            "okdmr-embedded-lc-1",
            "0300030a0f0006060f033a030c393530",
            "00000000000620baefe8",
        ),
        (
            "okdmr-embedded-lc-7",
            "2114001200c350034b4b12ac568b74a0",
            "0400da00520034005748",
        ),
        (
            "okdmr-embedded-lc-8",
            "0009002100810581211139091d09b48d",
            "050000420050002000e0",
        ),
        (
            "okdmr-embedded-lc-3",
            "0a00030a170a06050c11220005223f3a",
            "00000000086520baf888",
        ),
    ];

    fn lc77(s: &str) -> ([u8; 9], u8) {
        let b = hex::decode(s).unwrap();
        (b[..9].try_into().unwrap(), b[9] >> 3)
    }

    #[test]
    fn okdmr_vectors_decode_and_reencode() {
        for &(id, raw, want) in VECTORS {
            let raw = hex16(raw);
            let (lc, cs) = lc77(want);
            assert_eq!(decode(&raw), Some((lc, cs, 0)), "{id}");
            assert_eq!(encode(&lc), raw, "{id}");
        }
    }

    #[test]
    fn okdmr_vectors_fields() {
        let lc = |i: usize| FullLc::parse9(&decode(&hex16(VECTORS[i].1)).unwrap().0).unwrap();
        // every vector: FID 0 (StandardizedFID), protect flag clear
        for (i, v) in VECTORS.iter().enumerate() {
            assert_eq!((lc(i).fid, lc(i).protect), (0, false), "{}", v.0);
        }
        // -5: unit to unit, source 250997, target 2504105
        assert_eq!(
            lc(0).body,
            LcBody::UnitToUnitVoice {
                service_options: ServiceOptions::default(),
                target: 2_504_105,
                source: 250_997
            }
        );
        // -4, -1, -3: group calls
        for (i, group, source) in [
            (1, 2149, 2_145_007),
            (2, 6, 2_145_007),
            (5, 2149, 2_145_016),
        ] {
            assert_eq!(
                lc(i).body,
                LcBody::GroupVoice {
                    service_options: ServiceOptions::default(),
                    group,
                    source
                },
                "{}",
                VECTORS[i].0
            );
        }
        // -7: talker alias header, format 3, length 13
        assert!(matches!(
            lc(3).body,
            LcBody::TalkerAliasHeader {
                format: TalkerAliasFormat::Utf16Be,
                length: 13,
                msb: false,
                ..
            }
        ));
        // -8: block 1 data 00420050002000
        assert_eq!(
            lc(4).body,
            LcBody::TalkerAliasBlock {
                index: 1,
                data: [0x00, 0x42, 0x00, 0x50, 0x00, 0x20, 0x00]
            }
        );
    }

    #[test]
    fn every_single_bit_error_is_corrected() {
        for &(id, raw, want) in VECTORS {
            let raw = hex16(raw);
            let (lc, cs) = lc77(want);
            for bit in 0..128 {
                let mut bad = raw;
                bad[bit / 8] ^= 0x80 >> (bit % 8);
                assert_eq!(decode(&bad), Some((lc, cs, 1)), "{id} bit {bit}");
            }
        }
    }

    #[test]
    fn two_errors_in_one_row_are_rejected() {
        let raw = hex16(VECTORS[0].1);
        // interleaved bits 0 and 8 land in matrix 0 and (128 mod 127) = 1: row 0, cols 0 and 1
        let mut bad = raw;
        bad[0] ^= 0x80;
        bad[1] ^= 0x80;
        assert_eq!(decode(&bad), None);
    }

    #[test]
    fn a_bad_checksum_is_rejected() {
        let (lc, cs) = lc77(VECTORS[5].2);
        assert!(decode(&encode_with_checksum(&lc, cs)).is_some());
        for wrong in (0..32).filter(|&w| w != cs) {
            // every row and the column parity are valid codewords: only the checksum tells
            assert_eq!(decode(&encode_with_checksum(&lc, wrong)), None, "{wrong}");
        }
    }

    #[test]
    fn interleave_is_a_permutation() {
        let mut seen = [false; 128];
        for a in 0..128 {
            seen[matrix_index(a)] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    fn feed_all(asm: &mut EmbeddedLcAssembler, frags: &[(Lcss, u32)]) -> Vec<FullLc> {
        frags.iter().filter_map(|&(l, f)| asm.feed(l, f)).collect()
    }

    #[test]
    fn assembler_across_superframes() {
        let lc = FullLc::parse9(&lc77(VECTORS[5].2).0).unwrap();
        let frags = fragments(&lc);
        assert_eq!(
            frags.map(|(l, _)| l.bits()),
            [1, 3, 3, 2],
            "LCSS of bursts B–E"
        );
        assert_eq!(
            split(&hex16(VECTORS[5].1)).map(|(_, f)| f),
            frags.map(|(_, f)| f)
        );
        let mut asm = EmbeddedLcAssembler::new(Dialect::Pdt);
        // burst F carries LCSS 0 (null / RC); two superframes in a row
        let mut superframe = frags.to_vec();
        superframe.push((Lcss::SingleFragment, 0xDEAD_BEEF));
        let mut stream = superframe.clone();
        stream.extend(superframe);
        assert_eq!(feed_all(&mut asm, &stream), vec![lc, lc]);
        assert_eq!((asm.completed, asm.rejected), (2, 0));
    }

    #[test]
    fn assembler_resets_on_out_of_order_and_missing_fragments() {
        let lc = FullLc::parse9(&lc77(VECTORS[0].2).0).unwrap();
        let f = fragments(&lc);
        let mut asm = EmbeddedLcAssembler::new(Dialect::Dmr);
        // missing C: first, cont, last → discarded
        assert!(feed_all(&mut asm, &[f[0], f[2], f[3]]).is_empty());
        // continuation without first
        assert!(feed_all(&mut asm, &[f[1], f[2], f[3]]).is_empty());
        // swapped continuations: sequence is well-formed but the bits are wrong → rejected
        assert!(feed_all(&mut asm, &[f[0], f[2], f[1], f[3]]).is_empty());
        assert_eq!(asm.rejected, 1);
        // a new first in the middle restarts the run, which then completes
        assert_eq!(
            feed_all(&mut asm, &[f[0], f[1], f[0], f[1], f[2], f[3]]),
            vec![lc]
        );
        // an extra continuation (5 fragments) is discarded
        assert!(feed_all(&mut asm, &[f[0], f[1], f[2], f[2], f[3]]).is_empty());
        // a null fragment in the middle
        assert!(
            feed_all(
                &mut asm,
                &[f[0], f[1], (Lcss::SingleFragment, 0), f[2], f[3]]
            )
            .is_empty()
        );
        assert_eq!(asm.out_of_order, 4);
        // one bit error in a fragment is corrected
        let mut bad = f;
        bad[2].1 ^= 1 << 7;
        assert_eq!(feed_all(&mut asm, &bad), vec![lc]);
        assert_eq!(asm.bits_corrected, 1);
    }

    #[test]
    fn assembler_never_panics_on_noise() {
        let mut asm = EmbeddedLcAssembler::new(Dialect::Pdt);
        let mut x = 0x9E37_79B9u32;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let _ = asm.feed(Lcss::from_bits(x as u8), x);
        }
    }

    fn ta(hex77: &str) -> FullLc {
        FullLc::parse9(&lc77(hex77).0).unwrap()
    }

    #[test]
    fn talker_alias_assembly_vector() {
        // okdmr-talker-alias-assembly → "R4WBP Dmitrii"
        let parts = [
            "0400da00520034005748",
            "050000420050002000e0",
            "060044006d0069007408",
            "070000720069006900a8",
        ];
        let mut asm = TalkerAliasAssembler::new();
        let out: Vec<_> = parts.iter().filter_map(|p| asm.feed(&ta(p))).collect();
        assert_eq!(out, vec!["R4WBP Dmitrii".to_string()]);
        // blocks first, header last, also completes
        let mut asm = TalkerAliasAssembler::new();
        let out: Vec<_> = parts
            .iter()
            .rev()
            .filter_map(|p| asm.feed(&ta(p)))
            .collect();
        assert_eq!(out, vec!["R4WBP Dmitrii".to_string()]);
        // a missing block holds it back
        let mut asm = TalkerAliasAssembler::new();
        assert!(parts[..3].iter().all(|p| asm.feed(&ta(p)).is_none()));
    }

    fn alias_lcs(format: TalkerAliasFormat, length: u8, stream: &[u8; 28]) -> Vec<FullLc> {
        // stream: 1 octet whose LSB is the header msb bit, then 27 data octets
        let header = FullLc {
            protect: false,
            reserved: false,
            flco: 4,
            fid: 0,
            body: LcBody::TalkerAliasHeader {
                format,
                length,
                msb: stream[0] & 1 == 1,
                data: stream[1..7].try_into().unwrap(),
            },
        };
        let mut out = vec![header];
        for i in 0..3 {
            out.push(FullLc {
                protect: false,
                reserved: false,
                flco: 5 + i as u8,
                fid: 0,
                body: LcBody::TalkerAliasBlock {
                    index: i as u8 + 1,
                    data: stream[7 + 7 * i..14 + 7 * i].try_into().unwrap(),
                },
            });
        }
        out
    }

    fn assemble(lcs: &[FullLc]) -> Option<String> {
        let mut asm = TalkerAliasAssembler::new();
        lcs.iter().filter_map(|lc| asm.feed(lc)).next()
    }

    #[test]
    fn talker_alias_formats() {
        // 7-bit: "BG5ABC" packed from bit 23
        let text = b"BG5ABC";
        let mut stream = [0u8; 28];
        for (i, &c) in text.iter().enumerate() {
            bits::put(&mut stream, 7 + 7 * i, 7, u64::from(c));
        }
        let lcs = alias_lcs(TalkerAliasFormat::SevenBit, 6, &stream);
        // 42 bits fit in the header: the header alone completes it
        assert_eq!(assemble(&lcs[..1]).as_deref(), Some("BG5ABC"));
        // ISO 8859-1 across header and block 1
        let mut stream = [0u8; 28];
        let latin: Vec<u8> = "Müller 12".chars().map(|c| c as u8).collect();
        stream[1..10].copy_from_slice(&latin);
        let lcs = alias_lcs(TalkerAliasFormat::Iso8Bit, 9, &stream);
        assert_eq!(assemble(&lcs[..1]), None);
        assert_eq!(assemble(&lcs[..2]).as_deref(), Some("Müller 12"));
        // UTF-8: 5 characters, 11 octets
        let utf8 = "消防队A1".as_bytes();
        let mut stream = [0u8; 28];
        stream[1..1 + utf8.len()].copy_from_slice(utf8);
        let lcs = alias_lcs(TalkerAliasFormat::Utf8, 5, &stream);
        assert_eq!(assemble(&lcs).as_deref(), Some("消防队A1"));
        assert_eq!(assemble(&lcs[..1]), None);
        // UTF-16BE: 4 characters
        let mut stream = [0u8; 28];
        for (i, u) in "应急指挥".encode_utf16().enumerate() {
            stream[1 + 2 * i..3 + 2 * i].copy_from_slice(&u.to_be_bytes());
        }
        let lcs = alias_lcs(TalkerAliasFormat::Utf16Be, 4, &stream);
        assert_eq!(assemble(&lcs[..2]).as_deref(), Some("应急指挥"));
        // maximum length never reads past the data
        for format in [
            TalkerAliasFormat::SevenBit,
            TalkerAliasFormat::Iso8Bit,
            TalkerAliasFormat::Utf8,
            TalkerAliasFormat::Utf16Be,
        ] {
            let lcs = alias_lcs(format, 31, &[0xFF; 28]);
            assert!(assemble(&lcs).is_some(), "{format:?}");
        }
    }

    #[test]
    fn talker_alias_ignores_other_lcs() {
        let mut asm = TalkerAliasAssembler::new();
        let lc = FullLc::parse9(&lc77(VECTORS[5].2).0).unwrap();
        assert_eq!(asm.feed(&lc), None);
    }
}
