//! Quadratic residue QR(16,7,6): the code that protects the EMB of voice bursts B–F
//! (TS 102 361-1 B.3.2).
//!
//! A codeword is 16 bits, first bit on air in bit 15: 7 data bits (colour code 4, PI 1, LCSS 2)
//! in bits 15..9 and 9 parity bits in bits 8..0. The parity is the XOR of one 9-bit word per set
//! data bit (docs/air-interface.md §2.3, from OK-DMR/ok-dmrlib quadratic_residue_16_7_6.py; the same
//! words sit in the low 9 bits of g4klx/MMDVMHost QR1676.cpp `ENCODING_TABLE_1676`).
//!
//! Contract of [`decode`]: the minimum distance is 6, so every pattern of up to 2 errors is
//! corrected (count returned) and every pattern of exactly 3 errors is detected (`None`): a
//! 3-bit error is at least 3 bits from every other codeword, so its syndrome is never one of a
//! ≤ 2-bit pattern. Five or more errors can reach another codeword's radius and be
//! mis-corrected.

/// Parity words for data bits 6 (first on air) down to 0 (docs/air-interface.md §2.3; ok-dmrlib
/// quadratic_residue_16_7_6.py).
const PARITY_WORDS: [u16; 7] = [0x04F, 0x11E, 0x1B7, 0x1E2, 0x1C9, 0x0E5, 0x073];

const fn parity(data: u8) -> u16 {
    let mut p = 0u16;
    let mut i = 0;
    while i < 7 {
        if data & (0x40 >> i) != 0 {
            p ^= PARITY_WORDS[i];
        }
        i += 1;
    }
    p
}

const UNCORRECTABLE: u16 = 0xFFFF;

const fn syndrome_of_error(error: u16) -> usize {
    ((parity(((error >> 9) & 0x7F) as u8) ^ error) & 0x1FF) as usize
}

/// syndrome → (weight << 8) | data error pattern, for every error pattern of weight ≤ 2.
const fn syndrome_table() -> [u16; 512] {
    let mut t = [UNCORRECTABLE; 512];
    t[0] = 0;
    let mut a = 0;
    while a < 16 {
        let ea = 1u16 << a;
        t[syndrome_of_error(ea)] = (1 << 8) | (ea >> 9);
        let mut b = a + 1;
        while b < 16 {
            let eb = ea | (1 << b);
            t[syndrome_of_error(eb)] = (2 << 8) | (eb >> 9);
            b += 1;
        }
        a += 1;
    }
    t
}

static SYNDROMES: [u16; 512] = syndrome_table();

/// Encode 7 data bits (the low 7 of `data`) into a 16-bit codeword.
pub fn encode(data: u8) -> u16 {
    let data = data & 0x7F;
    (u16::from(data) << 9) | parity(data)
}

/// Decode a 16-bit codeword: (7 data bits, bits corrected), or `None` when the syndrome is not
/// explained by at most 2 errors (every 3-bit error is reported this way).
pub fn decode(word: u16) -> Option<(u8, usize)> {
    let data = (word >> 9) as u8;
    let syndrome = (parity(data) ^ word) & 0x1FF;
    match SYNDROMES[usize::from(syndrome)] {
        UNCORRECTABLE => None,
        entry => Some((data ^ entry as u8, usize::from(entry >> 8))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okdmrlib_emb_vectors() {
        // okdmr-emb-* (vectors.jsonl)
        for w in ["0001001110010001", "0001010100000111", "0001000111100010"] {
            let cw = u16::from_str_radix(w, 2).unwrap();
            assert_eq!(encode((cw >> 9) as u8), cw, "{w}");
            assert_eq!(decode(cw), Some(((cw >> 9) as u8, 0)), "{w}");
        }
    }

    #[test]
    fn every_one_and_two_bit_error_is_corrected_and_three_detected() {
        for data in 0..128u8 {
            let cw = encode(data);
            assert_eq!(decode(cw), Some((data, 0)));
            for a in 0..16 {
                let wa = cw ^ (1 << a);
                assert_eq!(decode(wa), Some((data, 1)), "{data} {a}");
                for b in a + 1..16 {
                    let wb = wa ^ (1 << b);
                    assert_eq!(decode(wb), Some((data, 2)), "{data} {a} {b}");
                    for c in b + 1..16 {
                        assert_eq!(decode(wb ^ (1 << c)), None, "{data} {a} {b} {c}");
                    }
                }
            }
        }
    }

    #[test]
    fn minimum_distance_is_six() {
        let min = (1..128u8).map(|d| encode(d).count_ones()).min().unwrap();
        assert_eq!(min, 6);
    }
}
