//! CRCs and checksums of the DMR / PDT air interface, as pure functions.
//!
//! ETSI TS 102 361-1 annex B.3 (as cited in g4klx/MMDVMHost CRC.cpp, OK-DMR/ok-dmrlib crc/*.py,
//! lwvmobile/dsd-fme dmr_utils.c; docs/air-interface.md §2.4, 2.6, 2.7):
//!
//! | code | polynomial | init | final | over |
//! |---|---|---|---|---|
//! | CRC-CCITT (CRC-16/GSM) | `0x1021` | 0 | invert, then ⊕ data-type mask | first 10 octets |
//! | CRC-9 | `0x059` | 0 | invert (9 bits), then ⊕ mask | data octets (+ CRC-32), then 7-bit DBSN |
//! | CRC-32 | `0x04C11DB7` | 0 | none | user data with octet pairs swapped; sent LSB first |
//! | CRC-8 | `0x07` | 0 | none | 28 bits of Short LC |
//! | CRC-7 | `0x27` | 0 | ⊕ `0x7A` | reverse-channel bits (ok-dmrlib crc.py; not verified) |
//! | 5-bit checksum | sum of the 9 LC octets mod 31 | | | embedded LC |
//!
//! The data-type masks differ between DMR and PDT; [`Masks`] holds both sets.

use super::Dialect;

/// Generic MSB-first bitwise CRC over a bit sequence; `width` ≤ 32.
pub fn crc_bits(bits: impl IntoIterator<Item = bool>, poly: u32, width: u32) -> u32 {
    let top = 1u32 << (width - 1);
    let mask = if width == 32 {
        u32::MAX
    } else {
        (1u32 << width) - 1
    };
    let mut reg = 0u32;
    for bit in bits {
        let feedback = (reg & top != 0) ^ bit;
        reg = (reg << 1) & mask;
        if feedback {
            reg ^= poly;
        }
    }
    reg
}

/// The bits of `data`, MSB of byte 0 first.
pub fn bits_msb_first(data: &[u8]) -> impl Iterator<Item = bool> + '_ {
    data.iter()
        .flat_map(|&b| (0..8).rev().map(move |i| (b >> i) & 1 == 1))
}

const fn ccitt_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut reg = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            reg = if reg & 0x8000 != 0 {
                (reg << 1) ^ 0x1021
            } else {
                reg << 1
            };
            k += 1;
        }
        table[i] = reg;
        i += 1;
    }
    table
}

static CCITT: [u16; 256] = ccitt_table();

/// Octets of a 12-octet block that its CRC-CCITT covers (the last two carry the CRC).
const BLOCK_DATA_LEN: usize = 10;

/// One table per octet position of a block: `table[k][v]` is the CRC register (init 0, not
/// inverted) of octet `v` at position `k` with zeros elsewhere, i.e. [`CCITT`]`[v]` run on
/// through the `9 - k` zero octets after it.
const fn ccitt_block_tables() -> [[u16; 256]; BLOCK_DATA_LEN] {
    let byte = ccitt_table();
    let mut t = [[0u16; 256]; BLOCK_DATA_LEN];
    let mut v = 0;
    while v < 256 {
        let mut reg = byte[v];
        let mut k = BLOCK_DATA_LEN;
        while k > 0 {
            k -= 1;
            t[k][v] = reg;
            // one zero octet further from the end
            reg = (reg << 8) ^ byte[(reg >> 8) as usize];
        }
        v += 1;
    }
    t
}

/// [`crc16_ccitt`] of a block's 10 data octets by position: with init 0 the register is linear
/// in the data, so it is the XOR of every octet's share, and the ten lookups do not wait on
/// each other as the octet-at-a-time loop's do (5 KiB, kept in L1 by the decode loop).
static CCITT_BLOCK: [[u16; 256]; BLOCK_DATA_LEN] = ccitt_block_tables();

/// [`crc16_ccitt`] of `block[..10]`, the CRC every 12-octet CCITT-checked block carries.
pub fn crc16_ccitt_block(block: &[u8; 12]) -> u16 {
    let mut reg = 0u16;
    for (table, &b) in CCITT_BLOCK.iter().zip(block) {
        reg ^= table[usize::from(b)];
    }
    !reg
}

/// CRC-CCITT as DMR uses it: poly `0x1021`, init 0, MSB first, inverted; before any mask.
///
/// > Example: `bd0080180008fd23383b` → `0x1748`, ⊕ `A5A5` = `B2ED` (docs/air-interface.md §2.6).
pub fn crc16_ccitt(data: &[u8]) -> u16 {
    let mut reg = 0u16;
    for &b in data {
        reg = (reg << 8) ^ CCITT[usize::from((reg >> 8) as u8 ^ b)];
    }
    !reg
}

/// CRC-9 of a confirmed data block: over `data` (for the last block, its data octets then the
/// four CRC-32 octets as sent) then the 7-bit `dbsn`; inverted, then ⊕ `mask`.
pub fn crc9(data: &[u8], dbsn: u8, mask: u16) -> u16 {
    let dbsn_bits = (0..7).rev().map(move |i| (dbsn >> i) & 1 == 1);
    let reg = crc_bits(bits_msb_first(data).chain(dbsn_bits), 0x059, 9);
    ((reg ^ 0x1FF) as u16) ^ mask
}

/// CRC-32 of a packet's user data (all blocks, pad included, CRC excluded).
///
/// Octets are fed in swapped pairs (1, 0, 3, 2, ...); an odd final octet is paired with a zero.
/// The result is sent least-significant octet first: use [`crc32_octets`] for that form.
pub fn crc32(data: &[u8]) -> u32 {
    let swapped = data.chunks(2).flat_map(|pair| match *pair {
        [a, b] => [b, a],
        [a] => [0, a],
        _ => [0, 0],
    });
    let bits = swapped.flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1 == 1));
    crc_bits(bits, 0x04C1_1DB7, 32)
}

/// The four CRC-32 octets as they stand at the end of the last data block.
pub fn crc32_octets(data: &[u8]) -> [u8; 4] {
    crc32(data).to_le_bytes()
}

/// CRC-8 of a Short LC: over its first 28 bits (SLCO + 24 data bits).
pub fn crc8_short_lc(bits28: u32) -> u8 {
    let bits = (0..28).rev().map(move |i| (bits28 >> i) & 1 == 1);
    crc_bits(bits, 0x07, 8) as u8
}

/// Reverse-channel CRC-7 (poly `0x27`, ⊕ `0x7A`; ok-dmrlib crc.py, not verified by a vector).
pub fn crc7_reverse_channel(bits: impl IntoIterator<Item = bool>) -> u8 {
    (crc_bits(bits, 0x27, 7) as u8) ^ 0x7A
}

/// 5-bit checksum of an embedded LC: sum of the nine LC octets mod 31 (MMDVMHost CRC.cpp
/// `encodeFiveBit`, ok-dmrlib five_bit_checksum.py).
pub fn checksum5(lc: &[u8; 9]) -> u8 {
    (lc.iter().map(|&b| u32::from(b)).sum::<u32>() % 31) as u8
}

/// The data-type masks of one dialect (docs/air-interface.md §1.3 and 2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masks {
    /// PI header CRC-CCITT mask.
    pub pi_header: u16,
    /// CSBK CRC-CCITT mask.
    pub csbk: u16,
    /// MBC header CRC-CCITT mask (continuations carry an unmasked CRC).
    pub mbc_header: u16,
    /// Data header (incl. UDT and response headers) CRC-CCITT mask.
    pub data_header: u16,
    /// Unified single block data CRC-CCITT mask.
    pub usbd: u16,
    /// Rate ½ confirmed block CRC-9 mask.
    pub rate_half: u16,
    /// Rate ¾ confirmed block CRC-9 mask.
    pub rate_three_quarter: u16,
    /// Rate 1 confirmed block CRC-9 mask.
    pub rate_one: u16,
    /// Voice LC header RS(12,9) parity mask.
    pub voice_lc_header: [u8; 3],
    /// Terminator with LC RS(12,9) parity mask.
    pub terminator_with_lc: [u8; 3],
}

/// DMR masks: ETSI TS 102 361-1 B.3.12 as listed by ok-dmrlib crc_masks.py, MMDVMHost
/// DMRDefines.h and dsd-fme dmr_dburst.c.
pub const DMR_MASKS: Masks = Masks {
    pi_header: 0x6969,
    csbk: 0xA5A5,
    mbc_header: 0xAAAA,
    data_header: 0xCCCC,
    usbd: 0x3333,
    rate_half: 0x0F0,
    rate_three_quarter: 0x1FF,
    rate_one: 0x10F,
    voice_lc_header: [0x96, 0x96, 0x96],
    terminator_with_lc: [0x99, 0x99, 0x99],
};

/// PDT masks: zhoudayuan/Epack_Alarm code/protocol/dll.h `PDT_CRC_MASK_*` and
/// dll_interleave.c `s_au2PdtHeaderRsMask` / `s_au2PdtTermtRsMask` (a Hytera PDT data-link
/// layer; docs/air-interface.md §2.7, one source). That source has no USBD mask; the DMR value is
/// used until a PDT capture says otherwise.
pub const PDT_MASKS: Masks = Masks {
    pi_header: 0x89AA,
    csbk: 0xF150,
    mbc_header: 0xD8ED,
    data_header: 0x785E,
    usbd: 0x3333,
    rate_half: 0x179,
    rate_three_quarter: 0x075,
    rate_one: 0x18E,
    voice_lc_header: [0xC6, 0x8A, 0xA1],
    terminator_with_lc: [0xFA, 0x23, 0x54],
};

impl Dialect {
    /// The mask set of this dialect.
    pub const fn masks(self) -> &'static Masks {
        match self {
            Dialect::Dmr => &DMR_MASKS,
            Dialect::Pdt => &PDT_MASKS,
        }
    }
}

/// Check a 12-octet block whose last two octets are CRC-CCITT ⊕ `mask`.
///
/// Under `cfg(fuzzing)` every CRC passes, so the fuzzer reaches field parsing (smoltcp).
pub fn check_ccitt_block(block: &[u8; 12], mask: u16) -> bool {
    cfg!(fuzzing) || crc16_ccitt_block(block) ^ mask == u16::from_be_bytes([block[10], block[11]])
}

/// Write the masked CRC-CCITT of `block[..10]` into `block[10..12]`.
pub fn seal_ccitt_block(block: &mut [u8; 12], mask: u16) {
    let crc = crc16_ccitt_block(block) ^ mask;
    block[10..12].copy_from_slice(&crc.to_be_bytes());
}

/// Which dialect's mask makes a CRC-CCITT block check, DMR tried first.
pub fn which_ccitt_dialect(
    block: &[u8; 12],
    mask: impl Fn(&Masks) -> u16,
    wanted: super::DialectChoice,
) -> Option<Dialect> {
    // One CRC for every candidate: the masks differ only in the final XOR.
    let crc = crc16_ccitt_block(block);
    let sent = u16::from_be_bytes([block[10], block[11]]);
    wanted
        .candidates()
        .iter()
        .copied()
        .find(|d| cfg!(fuzzing) || crc ^ mask(d.masks()) == sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn ccitt_matches_okdmrlib_vectors() {
        // okdmr-crc16-b2ed, okdmr-crc16-8040 (ok-dmrlib tests/dmrlib/etsi/crc/test_crc16.py)
        assert_eq!(crc16_ccitt(&hex("bd0080180008fd23383b")) ^ 0xA5A5, 0xB2ED);
        assert_eq!(crc16_ccitt(&hex("4da323383b23383b0560")) ^ 0xCCCC, 0x8040);
    }

    #[test]
    fn block_crc_by_position_equals_the_octet_loop() {
        // every value at every position, on a background that is not all zeros
        let mut background = [0u8; 12];
        background[..10].copy_from_slice(&hex("bd0080180008fd23383b"));
        assert_eq!(crc16_ccitt_block(&background), 0x1748);
        for k in 0..10 {
            for v in 0..=255u8 {
                let mut block = background;
                block[k] = v;
                assert_eq!(
                    crc16_ccitt_block(&block),
                    crc16_ccitt(&block[..10]),
                    "{k} {v}"
                );
            }
        }
    }

    #[test]
    fn crc9_matches_okdmrlib_vectors() {
        // okdmr-crc9-409 / -447 / -312 and okdmr-r34-confirmed-block
        assert_eq!(
            crc9(&hex("0100000101004d004d00470054002e00"), 0, 0x1FF),
            409
        );
        assert_eq!(
            crc9(&hex("0001410048004f004a000000a197ccb4"), 0, 0x1FF),
            447
        );
        assert_eq!(
            crc9(&hex("000000000000000000000000f486aed8"), 2, 0x1FF),
            312
        );
        assert_eq!(crc9(&hex("4500002effff00004011f27f0c2337fc"), 0, 0x1FF), 23);
    }

    #[test]
    fn crc32_matches_okdmrlib_vectors() {
        let data = hex(
            "0600fb4f3d3f82afc6d80b42ce88668afc7d8b1807e83c308d95bb8be5dd59e95b2837e795af87005ae2a743535ca421601d",
        );
        assert_eq!(crc32_octets(&data), [0xc7, 0x6a, 0xe2, 0x5c]);
        assert_eq!(
            crc32_octets(&hex("0001410048004f004a000000")),
            [0xa1, 0x97, 0xcc, 0xb4]
        );
    }

    #[test]
    fn crc8_matches_okdmrlib_vectors() {
        assert_eq!(
            crc8_short_lc(0b0001_0000_0011_0000_0000_1101_1010),
            0b1010_0011
        );
        assert_eq!(
            crc8_short_lc(0b0001_0000_0000_0000_0000_0000_0000),
            0b0001_0110
        );
    }

    #[test]
    fn checksum5_matches_kaitai_embedded_lc() {
        // kaitai-flc-embedded: 00000000086520baf888 → 72 LC bits, checksum 0b10001
        assert_eq!(
            checksum5(&[0x00, 0x00, 0x00, 0x00, 0x08, 0x65, 0x20, 0xba, 0xf8]),
            17
        );
    }

    #[test]
    fn pdt_masks_remask_the_dmr_vector() {
        // pdt-remask-crc16-bd00-383b: same PDU, CSBK mask of each dialect
        let mut block = [0u8; 12];
        block[..10].copy_from_slice(&hex("bd0080180008fd23383b"));
        seal_ccitt_block(&mut block, PDT_MASKS.csbk);
        assert!(check_ccitt_block(&block, PDT_MASKS.csbk));
        assert!(!check_ccitt_block(&block, DMR_MASKS.csbk));
        assert_eq!(u16::from_be_bytes([block[10], block[11]]), 0x1748 ^ 0xF150);
    }
}
