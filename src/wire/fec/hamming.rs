//! Hamming codes of the DMR / PDT air interface (TS 102 361-1 B.3.5–B.3.7).
//!
//! Parity equations from docs/air-interface.md §2.1 and 2.4 (g4klx/MMDVMHost Hamming.cpp,
//! OK-DMR/ok-dmrlib hamming_*.py agree):
//!
//! | code | used in | parity bits |
//! |---|---|---|
//! | (15,11,3) | BPTC(196,96) rows | `p0 = d0^d1^d2^d3^d5^d7^d8`, `p1 = d1^d2^d3^d4^d6^d8^d9`, `p2 = d2^d3^d4^d5^d7^d9^d10`, `p3 = d0^d1^d2^d4^d6^d7^d10` |
//! | (13,9,3) | BPTC(196,96) columns | `p0 = d0^d1^d3^d5^d6`, `p1 = d0^d1^d2^d4^d6^d7`, `p2 = d0^d1^d2^d3^d5^d7^d8`, `p3 = d0^d2^d4^d5^d8` |
//! | (16,11,4) | VBPTC(128,72) rows (embedded LC) | (15,11) plus `p4 = d0^d2^d5^d6^d8^d9^d10` (overall parity) |
//!
//! A codeword is an `n`-bit value whose MSB is the first bit on air: data bits d0..d(k-1) then
//! parity p0... `decode` corrects one bit and returns how many it fixed (0 or 1); a syndrome
//! that no single error explains is reported as `None` (all double errors of (16,11,4), and
//! the two unused syndromes of (13,9,3)).

/// A systematic Hamming code: each parity bit is the XOR of the data bits in its mask
/// (mask bit `k-1-i` stands for data bit `d_i`).
struct Code {
    n: u32,
    k: u32,
    parity: &'static [u16],
    /// syndrome → codeword bit to flip (bit index from the LSB), or 0xFF when none explains it.
    syndromes: [u8; 32],
}

const fn mask(k: u32, bits: &[u32]) -> u16 {
    let mut m = 0u16;
    let mut i = 0;
    while i < bits.len() {
        m |= 1 << (k - 1 - bits[i]);
        i += 1;
    }
    m
}

const fn parity_of(parity: &[u16], data: u16) -> u16 {
    let mut p = 0u16;
    let mut i = 0;
    while i < parity.len() {
        let bit = ((data & parity[i]).count_ones() & 1) as u16;
        p = (p << 1) | bit;
        i += 1;
    }
    p
}

const fn syndrome_table(n: u32, k: u32, parity: &[u16]) -> [u8; 32] {
    let mut table = [0xFFu8; 32];
    let r = n - k;
    let mut bit = 0;
    while bit < n {
        let word: u16 = 1 << bit;
        let data = word >> r;
        let received_parity = word & ((1 << r) - 1);
        let syndrome = parity_of(parity, data) ^ received_parity;
        table[syndrome as usize] = bit as u8;
        bit += 1;
    }
    table
}

impl Code {
    const fn new(n: u32, k: u32, parity: &'static [u16]) -> Code {
        Code {
            n,
            k,
            parity,
            syndromes: syndrome_table(n, k, parity),
        }
    }

    const fn encode(&self, data: u16) -> u16 {
        let data = data & ((1 << self.k) - 1);
        (data << (self.n - self.k)) | parity_of(self.parity, data)
    }

    const fn syndrome(&self, word: u16) -> u16 {
        let r = self.n - self.k;
        parity_of(self.parity, (word >> r) & ((1 << self.k) - 1)) ^ (word & ((1 << r) - 1))
    }

    fn decode(&self, word: u16) -> Option<(u16, usize)> {
        let word = word & ((1u32 << self.n) - 1) as u16;
        let r = self.n - self.k;
        match self.syndrome(word) {
            0 => Some((word >> r, 0)),
            s => match self.syndromes[usize::from(s)] {
                0xFF => None,
                bit => Some(((word ^ (1 << bit)) >> r, 1)),
            },
        }
    }
}

const H15113: Code = Code::new(
    15,
    11,
    &[
        mask(11, &[0, 1, 2, 3, 5, 7, 8]),
        mask(11, &[1, 2, 3, 4, 6, 8, 9]),
        mask(11, &[2, 3, 4, 5, 7, 9, 10]),
        mask(11, &[0, 1, 2, 4, 6, 7, 10]),
    ],
);

const H1393: Code = Code::new(
    13,
    9,
    &[
        mask(9, &[0, 1, 3, 5, 6]),
        mask(9, &[0, 1, 2, 4, 6, 7]),
        mask(9, &[0, 1, 2, 3, 5, 7, 8]),
        mask(9, &[0, 2, 4, 5, 8]),
    ],
);

const H16114: Code = Code::new(
    16,
    11,
    &[
        mask(11, &[0, 1, 2, 3, 5, 7, 8]),
        mask(11, &[1, 2, 3, 4, 6, 8, 9]),
        mask(11, &[2, 3, 4, 5, 7, 9, 10]),
        mask(11, &[0, 1, 2, 4, 6, 7, 10]),
        mask(11, &[0, 2, 5, 6, 8, 9, 10]),
    ],
);

/// Hamming(15,11,3): 11 data bits → 15-bit codeword.
pub const fn encode_15_11(data: u16) -> u16 {
    H15113.encode(data)
}

/// Hamming(15,11,3) decode: (11 data bits, bits corrected).
pub fn decode_15_11(word: u16) -> Option<(u16, usize)> {
    H15113.decode(word)
}

/// Syndrome of a (15,11,3) word (0 = valid codeword).
pub const fn syndrome_15_11(word: u16) -> u16 {
    H15113.syndrome(word & 0x7FFF)
}

/// Hamming(13,9,3): 9 data bits → 13-bit codeword.
pub const fn encode_13_9(data: u16) -> u16 {
    H1393.encode(data)
}

/// Hamming(13,9,3) decode: (9 data bits, bits corrected).
pub fn decode_13_9(word: u16) -> Option<(u16, usize)> {
    H1393.decode(word)
}

/// Syndrome of a (13,9,3) word (0 = valid codeword).
pub const fn syndrome_13_9(word: u16) -> u16 {
    H1393.syndrome(word & 0x1FFF)
}

/// Hamming(16,11,4): 11 data bits → 16-bit codeword.
pub const fn encode_16_11(data: u16) -> u16 {
    H16114.encode(data)
}

/// Hamming(16,11,4) decode: corrects one bit, detects two.
pub fn decode_16_11(word: u16) -> Option<(u16, usize)> {
    H16114.decode(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_bits(s: &str) -> u16 {
        u16::from_str_radix(s, 2).unwrap()
    }

    #[test]
    fn okdmrlib_codewords_are_valid() {
        // okdmr-hamming15113-*, okdmr-hamming1393-* (ok-dmrlib tests/dmrlib/etsi/fec)
        for w in ["000000000000000", "010110101101011"] {
            assert_eq!(decode_15_11(from_bits(w)).map(|(_, n)| n), Some(0), "{w}");
        }
        for w in ["0000000000000", "0111001011100", "1111001000000"] {
            assert_eq!(decode_13_9(from_bits(w)).map(|(_, n)| n), Some(0), "{w}");
        }
    }

    #[test]
    fn every_single_bit_error_is_corrected() {
        for data in (0..2048u16).step_by(7) {
            let cw = encode_15_11(data);
            let cw16 = encode_16_11(data);
            for bit in 0..16 {
                if bit < 15 {
                    assert_eq!(decode_15_11(cw ^ (1 << bit)), Some((data, 1)));
                }
                assert_eq!(decode_16_11(cw16 ^ (1 << bit)), Some((data, 1)));
            }
        }
        for data in 0..512u16 {
            let cw = encode_13_9(data);
            assert_eq!(decode_13_9(cw), Some((data, 0)));
            for bit in 0..13 {
                assert_eq!(decode_13_9(cw ^ (1 << bit)), Some((data, 1)));
            }
        }
    }

    #[test]
    fn double_errors_are_detected_by_the_extended_code() {
        for data in (0..2048u16).step_by(13) {
            let cw = encode_16_11(data);
            for a in 0..16 {
                for b in a + 1..16 {
                    assert_eq!(
                        decode_16_11(cw ^ (1 << a) ^ (1 << b)),
                        None,
                        "{data} {a} {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn unused_syndromes_of_13_9_are_detected() {
        let unused = (1..16u16)
            .filter(|&s| H1393.syndromes[usize::from(s)] == 0xFF)
            .count();
        assert_eq!(unused, 2);
        // a double error whose syndrome is unused is reported, not mis-corrected
        let cw = encode_13_9(0);
        let detected = (0..13)
            .flat_map(|a| (a + 1..13).map(move |b| (a, b)))
            .filter(|&(a, b)| decode_13_9(cw ^ (1 << a) ^ (1 << b)).is_none())
            .count();
        assert!(detected > 0);
    }
}
