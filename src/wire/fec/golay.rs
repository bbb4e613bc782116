//! Golay(20,8,7): the code that protects the slot type (TS 102 361-1 B.3.1).
//!
//! A codeword is 20 bits, first bit on air in bit 19: the 8 data bits (colour code, then data
//! type) in bits 19..12 and 12 parity bits in bits 11..0. The parity is the XOR of one 12-bit
//! word per set data bit (docs/air-interface.md §2.2, from the generator matrix of OK-DMR/ok-dmrlib
//! golay_20_8_7.py; g4klx/MMDVMHost Golay2087.cpp `ENCODING_TABLE_2087` stores the same words
//! byte-swapped).
//!
//! Contract of [`decode`]: although named (20,8,7), this code has minimum distance 8 (its
//! nonzero codewords weigh 8, 12 or 16; checked in the tests), so every pattern of up to 3 bit
//! errors has its own syndrome and is corrected, with the number of bits fixed returned, and
//! every pattern of exactly 4 errors is detected (`None`): it lies at least 4 bits from every
//! codeword. What the code cannot do: 5 or more errors can land within 3 bits of a *different*
//! codeword and are then indistinguishable from a 1–3 bit error on it (47 % of 5-bit patterns
//! are mis-corrected this way). Callers check the PDU CRC afterwards.

/// Parity words for data bits 7 (first on air) down to 0 (docs/air-interface.md §2.2; ok-dmrlib
/// golay_20_8_7.py generator matrix).
const PARITY_WORDS: [u16; 8] = [0x3DA, 0xD99, 0x6CD, 0x367, 0xDC6, 0xA97, 0x93E, 0x8EB];

const fn parity_slow(data: u8) -> u16 {
    let mut p = 0u16;
    let mut i = 0;
    while i < 8 {
        if data & (0x80 >> i) != 0 {
            p ^= PARITY_WORDS[i];
        }
        i += 1;
    }
    p
}

const fn parity_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut d = 0;
    while d < 256 {
        t[d] = parity_slow(d as u8);
        d += 1;
    }
    t
}

/// Parity of every data octet.
static PARITY: [u16; 256] = parity_table();

/// Syndrome table entry: no pattern of ≤ 3 errors has this syndrome.
const UNCORRECTABLE: u16 = 0xFFFF;

const fn syndrome_of_error(error: u32) -> usize {
    let data = (error >> 12) as u8;
    ((parity_slow(data) ^ (error as u16 & 0xFFF)) & 0xFFF) as usize
}

/// syndrome → (weight << 8) | data error pattern, for every error pattern of weight ≤ 3.
const fn syndrome_table() -> [u16; 4096] {
    let mut t = [UNCORRECTABLE; 4096];
    t[0] = 0;
    let mut a = 0;
    while a < 20 {
        let ea = 1u32 << a;
        let s = syndrome_of_error(ea);
        t[s] = (1 << 8) | (ea >> 12) as u16;
        let mut b = a + 1;
        while b < 20 {
            let eb = ea | (1 << b);
            let s = syndrome_of_error(eb);
            t[s] = (2 << 8) | (eb >> 12) as u16;
            let mut c = b + 1;
            while c < 20 {
                let ec = eb | (1 << c);
                let s = syndrome_of_error(ec);
                t[s] = (3 << 8) | (ec >> 12) as u16;
                c += 1;
            }
            b += 1;
        }
        a += 1;
    }
    t
}

static SYNDROMES: [u16; 4096] = syndrome_table();

/// Encode 8 data bits into a 20-bit codeword (data in bits 19..12).
pub fn encode(data: u8) -> u32 {
    (u32::from(data) << 12) | u32::from(PARITY[usize::from(data)])
}

/// Decode a 20-bit codeword (bits above 19 are ignored): (data, bits corrected), or `None` when
/// more than 3 bits are wrong and no codeword lies within 3 bits.
pub fn decode(word: u32) -> Option<(u8, usize)> {
    let data = ((word >> 12) & 0xFF) as u8;
    let syndrome = (PARITY[usize::from(data)] ^ word as u16) & 0xFFF;
    match SYNDROMES[usize::from(syndrome)] {
        UNCORRECTABLE => None,
        entry => Some((data ^ entry as u8, usize::from(entry >> 8))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(s: &str) -> u32 {
        u32::from_str_radix(s, 2).unwrap()
    }

    #[test]
    fn okdmrlib_vectors() {
        // okdmr-golay2087-* and okdmr-slottype-1 (vectors.jsonl)
        for w in [
            "11011110001101001011",
            "11111111110101101101",
            "00000010100100111110",
            "01010011111100101011",
        ] {
            let cw = bits(w);
            assert_eq!(encode((cw >> 12) as u8), cw, "{w}");
            assert_eq!(decode(cw), Some(((cw >> 12) as u8, 0)), "{w}");
        }
        assert_eq!(
            encode(0x53) & 0xFFF,
            0xF2B,
            "CC 5 / CSBK (docs/air-interface.md §2.2)"
        );
    }

    #[test]
    fn table_holds_every_pattern_of_up_to_three_errors() {
        let used = SYNDROMES.iter().filter(|&&e| e != UNCORRECTABLE).count();
        assert_eq!(used, 1 + 20 + 190 + 1140, "syndromes must be distinct");
    }

    #[test]
    fn every_one_two_and_three_bit_error_is_corrected() {
        for data in (0..=255u8).step_by(3) {
            let cw = encode(data);
            assert_eq!(decode(cw), Some((data, 0)));
            for a in 0..20 {
                let wa = cw ^ (1 << a);
                assert_eq!(decode(wa), Some((data, 1)), "{data} {a}");
                for b in a + 1..20 {
                    let wb = wa ^ (1 << b);
                    assert_eq!(decode(wb), Some((data, 2)), "{data} {a} {b}");
                    for c in b + 1..20 {
                        assert_eq!(decode(wb ^ (1 << c)), Some((data, 3)), "{data} {a} {b} {c}");
                    }
                }
            }
        }
    }

    #[test]
    fn minimum_distance_is_eight() {
        let weights: Vec<u32> = (1..=255u8).map(|d| encode(d).count_ones()).collect();
        assert_eq!(weights.iter().min(), Some(&8));
    }

    /// Four errors are always detected; five may be mis-corrected, but only ever to the unique
    /// codeword within 3 bits of the received word, with the right count.
    #[test]
    fn four_bit_errors_are_detected_and_five_never_decode_to_a_far_codeword() {
        for data in [0x00u8, 0x53, 0xA7, 0xFF, 0x1C] {
            let cw = encode(data);
            for a in 0..20 {
                for b in a + 1..20 {
                    for c in b + 1..20 {
                        for d in c + 1..20 {
                            let w = cw ^ (1 << a) ^ (1 << b) ^ (1 << c) ^ (1 << d);
                            assert_eq!(decode(w), None, "{data} {a} {b} {c} {d}");
                            let w5 = w ^ (1 << ((d + 1) % 20));
                            if (w5 ^ cw).count_ones() != 5 {
                                continue; // the fifth flip undid one of the four
                            }
                            if let Some((got, n)) = decode(w5) {
                                assert_ne!(got, data);
                                assert_eq!((encode(got) ^ w5).count_ones() as usize, n);
                                assert!(n <= 3);
                            }
                        }
                    }
                }
            }
        }
    }
}
