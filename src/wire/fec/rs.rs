//! Reed-Solomon (12,9) over GF(2⁸): the parity of a full LC in the voice LC header and the
//! terminator with LC (TS 102 361-1 B.3.6; docs/air-interface.md §2.5).
//!
//! - Field: GF(2⁸) with primitive polynomial `0x11D` (x⁸+x⁴+x³+x²+1), α = 2 (MMDVMHost
//!   RS129.cpp EXP/LOG tables).
//! - Generator: g(x) = (x+α)(x+α²)(x+α³) = x³ + `0x0E`x² + `0x38`x + `0x40` (MMDVMHost
//!   RS129.cpp `POLY = {64, 56, 14, 1}`).
//! - Codeword c0..c11: the nine LC octets (c0 the highest-degree coefficient), then the remainder
//!   of LC(x)·x³ mod g(x), highest degree first.
//!
//! This module works on **unmasked** parity: the caller XORs the dialect's voice-LC-header or
//! terminator mask (`crc::Masks`) into octets 9..12 before [`decode`] and after [`encode`].
//! The minimum distance is 4, so [`decode`] corrects one symbol (octet) error and detects every
//! two-symbol error (`None`).

/// Primitive polynomial of GF(2⁸) (docs/air-interface.md §2.5).
const PRIMITIVE: u16 = 0x11D;

/// Generator coefficients below x³, highest degree first: `0x0E`, `0x38`, `0x40` (2.5).
const GENERATOR: [u8; 3] = [0x0E, 0x38, 0x40];

/// Codeword length in octets.
pub const N: usize = 12;
/// Data length in octets.
pub const K: usize = 9;

const fn tables() -> ([u8; 512], [u8; 256]) {
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        exp[i + 255] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= PRIMITIVE;
        }
        i += 1;
    }
    // exp[510], exp[511] are never read: log values are < 255, so sums are < 510.
    (exp, log)
}

static TABLES: ([u8; 512], [u8; 256]) = tables();

fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        return 0;
    }
    let (exp, log) = &TABLES;
    exp[usize::from(log[usize::from(a)]) + usize::from(log[usize::from(b)])]
}

/// α^`power` for any non-negative power.
fn alpha(power: usize) -> u8 {
    TABLES.0[power % 255]
}

/// log_α of a non-zero element.
fn log(a: u8) -> usize {
    usize::from(TABLES.1[usize::from(a)])
}

/// The three parity octets (unmasked) of nine LC octets, as they stand in octets 9, 10, 11.
pub fn encode(lc: &[u8; K]) -> [u8; 3] {
    let mut r = [0u8; 3];
    for &d in lc {
        let feedback = d ^ r[0];
        r[0] = r[1] ^ mul(feedback, GENERATOR[0]);
        r[1] = r[2] ^ mul(feedback, GENERATOR[1]);
        r[2] = mul(feedback, GENERATOR[2]);
    }
    r
}

/// Syndromes S1..S3 = c(α^j) of a received (unmasked) codeword.
fn syndromes(codeword: &[u8; N]) -> [u8; 3] {
    let mut s = [0u8; 3];
    for (j, sj) in s.iter_mut().enumerate() {
        let a = alpha(j + 1);
        for &c in codeword {
            *sj = mul(*sj, a) ^ c;
        }
    }
    s
}

/// Decode an unmasked codeword: the nine LC octets and the number of octets corrected (0 or 1).
///
/// `None` when the syndromes fit no single-symbol error inside the 12 octets: two symbol
/// errors are always detected (distance 4), more may be mis-corrected, so callers still
/// check what the LC says.
pub fn decode(codeword: &[u8; N]) -> Option<([u8; K], usize)> {
    let [s1, s2, s3] = syndromes(codeword);
    let mut word = *codeword;
    let corrected = match (s1, s2, s3) {
        (0, 0, 0) => 0,
        (0, _, _) | (_, 0, _) | (_, _, 0) => return None,
        _ => {
            // A single error e at degree d gives S_j = e·α^(j·d): S2/S1 = S3/S2 = α^d.
            if mul(s2, s2) != mul(s1, s3) {
                return None;
            }
            let degree = (log(s2) + 255 - log(s1)) % 255;
            if degree >= N {
                return None;
            }
            let value = alpha(log(s1) + 255 - degree);
            word[N - 1 - degree] ^= value;
            1
        }
    };
    let mut lc = [0u8; K];
    lc.copy_from_slice(&word[..K]);
    Some((lc, corrected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex12(s: &str) -> [u8; 12] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn lc9(cw: &[u8; 12]) -> [u8; 9] {
        cw[..9].try_into().unwrap()
    }

    #[test]
    fn dsdneo_reference_codeword() {
        // dsdneo-rs129-reference: LC 10171e252c333a4148 → unmasked parity 906c2c
        let cw = hex12("10171e252c333a4148906c2c");
        assert_eq!(encode(&lc9(&cw)), [0x90, 0x6c, 0x2c]);
        assert_eq!(decode(&cw), Some((lc9(&cw), 0)));
    }

    #[test]
    fn okdmr_masked_codewords() {
        // okdmr-rs1294-*: VLC header mask 969696, terminator mask 999999
        for (s, mask) in [
            ("03000003d4752635a96fed09", 0x96),
            ("0300002635a903d475cb8795", 0x96),
            ("03000003d4752635a960e206", 0x99),
        ] {
            let mut cw = hex12(s);
            for b in &mut cw[9..] {
                *b ^= mask;
            }
            assert_eq!(encode(&lc9(&cw)), [cw[9], cw[10], cw[11]], "{s}");
            assert_eq!(decode(&cw).map(|(_, n)| n), Some(0), "{s}");
        }
    }

    #[test]
    fn every_single_symbol_error_is_corrected() {
        let cw = hex12("10171e252c333a4148906c2c");
        for pos in 0..12 {
            for e in [0x01u8, 0x02, 0x80, 0x5A, 0xA5, 0xFF, 0x37, 0xC3] {
                let mut bad = cw;
                bad[pos] ^= e;
                assert_eq!(decode(&bad), Some((lc9(&cw), 1)), "pos {pos} e {e:#x}");
            }
        }
    }

    #[test]
    fn every_double_symbol_error_is_detected() {
        let cw = hex12("03000003d4752635a96fed09");
        for a in 0..12 {
            for b in a + 1..12 {
                for (ea, eb) in [(0x01u8, 0x01u8), (0x80, 0x13), (0xFF, 0x42)] {
                    let mut bad = cw;
                    bad[a] ^= ea;
                    bad[b] ^= eb;
                    assert_eq!(decode(&bad), None, "{a} {b} {ea:#x} {eb:#x}");
                }
            }
        }
    }

    #[test]
    fn random_lcs_round_trip() {
        let mut x = 0x1234_5678u32;
        for _ in 0..200 {
            let mut lc = [0u8; 9];
            for b in &mut lc {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            let mut cw = [0u8; 12];
            cw[..9].copy_from_slice(&lc);
            cw[9..].copy_from_slice(&encode(&lc));
            assert_eq!(decode(&cw), Some((lc, 0)));
        }
    }
}
