//! Rate ¾ trellis code of rate ¾ data continuation blocks (TS 102 361-1 B.2.4;
//! docs/air-interface.md §2.8).
//!
//! 144 payload bits (18 octets) are cut into 48 tribits plus a flush tribit 0. An 8-state
//! encoder whose state is the previous tribit maps (state, tribit) to one of 16 constellation
//! points; each point is a pair of 4-level symbols, each symbol a dibit; the 98 dibits are
//! interleaved and sent as the 196 info bits of the burst. The tables:
//!
//! - state transition `ENCODE[state][tribit] → point`: g4klx/MMDVMHost DMRTrellis.cpp
//!   `ENCODE_TABLE`, identical to OK-DMR/ok-dmrlib fec/trellis.py
//!   `TRELLIS34_ENCODER_STATE_TRANSITION`;
//! - point → symbol pair and dibit → symbol (`01` +3, `00` +1, `10` −1, `11` −3): MMDVMHost
//!   `dibitsToPoints` / `deinterleave`, ok-dmrlib `TRELLIS34_CONSTELLATION_POINTS` and
//!   `TRELLIS34_DIBITS`;
//! - interleave: on-air dibit i carries coded dibit `INTERLEAVE[i]`, the sequence 0, 1, 8, 9,
//!   … 96, 97, then 2, 3, 10, 11, … then 4, 5, … then 6, 7, … (MMDVMHost `INTERLEAVE_TABLE`,
//!   ok-dmrlib `TRELLIS34_INTERLEAVE_MATRIX`); it is generated here from that rule and
//!   checked against the listed start of the table in the tests.
//!
//! Decoding: if every received point is a legal transition (and the flush tribit is 0) the
//! payload is read straight off; otherwise a hard-decision Viterbi decoder over the 8 states
//! finds the coded sequence nearest in bits to what was received, starting and ending in
//! state 0, and reports that distance as the number of bits corrected (it is the exact number
//! of received bits that differ from the re-encoded result).
//!
//! What the code can do: its free distance is only 3 bits (two paths that part and rejoin
//! after one step), so it is built for soft symbol decisions, not bit flips. Measured here with
//! random bit flips in the 196 bits: 1 error is always corrected, 2 errors 93 %, 4 errors
//! 67 %, 6 errors 27 % (a metric on symbol levels instead of bits did worse on bit flips and
//! only slightly better on one-level symbol slips, so the bit metric is used). Random input
//! lies 7 or more bits (median 13) from the nearest coded sequence, so `decode` returns `None`
//! beyond [`MAX_CORRECTED_BITS`] = 5, where a decode would mostly be wrong anyway. Within the
//! limit a heavy error pattern can still decode to the wrong payload: the CRC-9 of confirmed
//! blocks and the CRC-32 of the packet are the real check.

/// Interleaved info bits: 196 bits in 25 octets, the last 4 bits unused.
pub const INFO_LEN: usize = 25;
/// Payload: 144 bits.
pub const PAYLOAD_LEN: usize = 18;

/// Largest bit distance to the nearest coded sequence that is still reported as a decode.
///
/// Chosen from measurement (module doc): of 20 000 random inputs none lay within 6 bits of a
/// coded sequence (one at 7), while 6 random bit errors already decode wrongly 3 times in 4.
pub const MAX_CORRECTED_BITS: usize = 5;

const POINTS: usize = 49;
const DIBITS: usize = 98;

/// State transition: `ENCODE[state * 8 + tribit]` is the constellation point sent (MMDVMHost
/// DMRTrellis.cpp `ENCODE_TABLE`; ok-dmrlib `TRELLIS34_ENCODER_STATE_TRANSITION`).
const ENCODE: [u8; 64] = [
    0, 8, 4, 12, 2, 10, 6, 14, //
    4, 12, 2, 10, 6, 14, 0, 8, //
    1, 9, 5, 13, 3, 11, 7, 15, //
    5, 13, 3, 11, 7, 15, 1, 9, //
    3, 11, 7, 15, 1, 9, 5, 13, //
    7, 15, 1, 9, 5, 13, 3, 11, //
    2, 10, 6, 14, 0, 8, 4, 12, //
    6, 14, 0, 8, 4, 12, 2, 10, //
];

/// Symbol pair of each constellation point (MMDVMHost `pointsToDibits`; ok-dmrlib
/// `TRELLIS34_CONSTELLATION_POINTS`).
const POINT_SYMBOLS: [(i8, i8); 16] = [
    (1, -1),
    (-1, -1),
    (3, -3),
    (-3, -3),
    (-3, -1),
    (3, -1),
    (-1, -3),
    (1, -3),
    (-3, 3),
    (3, 3),
    (-1, 1),
    (1, 1),
    (1, 3),
    (-1, 3),
    (3, 1),
    (-3, 1),
];

/// The dibit that carries a symbol (MMDVMHost `deinterleave`; ok-dmrlib `TRELLIS34_DIBITS`).
const fn symbol_dibit(symbol: i8) -> u8 {
    match symbol {
        3 => 0b01,
        1 => 0b00,
        -1 => 0b10,
        _ => 0b11,
    }
}

/// The 4 bits (first dibit high) of each point.
const fn point_bits() -> [u8; 16] {
    let mut t = [0u8; 16];
    let mut p = 0;
    while p < 16 {
        let (a, b) = POINT_SYMBOLS[p];
        t[p] = (symbol_dibit(a) << 2) | symbol_dibit(b);
        p += 1;
    }
    t
}

static POINT_BITS: [u8; 16] = point_bits();

const NONE: u8 = 0xFF;

/// The 4 received bits → point (the labelling is a bijection).
const fn bits_point() -> [u8; 16] {
    let bits = point_bits();
    let mut t = [NONE; 16];
    let mut p = 0;
    while p < 16 {
        t[bits[p] as usize] = p as u8;
        p += 1;
    }
    t
}

static BITS_POINT: [u8; 16] = bits_point();

/// `TRIBIT[state * 16 + point]`: the tribit that sends `point` from `state`, or `NONE`.
const fn tribit_table() -> [u8; 128] {
    let mut t = [NONE; 128];
    let mut s = 0;
    while s < 8 {
        let mut tribit = 0;
        while tribit < 8 {
            t[s * 16 + ENCODE[s * 8 + tribit] as usize] = tribit as u8;
            tribit += 1;
        }
        s += 1;
    }
    t
}

static TRIBIT: [u8; 128] = tribit_table();

/// `COST[label][state * 8 + tribit]`: bits between a received label and the point sent.
const fn cost_table() -> [[u8; 64]; 16] {
    let bits = point_bits();
    let mut t = [[0u8; 64]; 16];
    let mut label = 0;
    while label < 16 {
        let mut i = 0;
        while i < 64 {
            t[label][i] = (bits[ENCODE[i] as usize] ^ label as u8).count_ones() as u8;
            i += 1;
        }
        label += 1;
    }
    t
}

static COST: [[u8; 64]; 16] = cost_table();

/// On-air dibit i carries coded dibit `INTERLEAVE[i]` (rule of MMDVMHost `INTERLEAVE_TABLE`).
const fn interleave_table() -> [u8; DIBITS] {
    let mut t = [0u8; DIBITS];
    let mut i = 0;
    let mut group = 0;
    while group < 4 {
        let mut pair = 2 * group;
        while pair < DIBITS {
            t[i] = pair as u8;
            t[i + 1] = pair as u8 + 1;
            i += 2;
            pair += 8;
        }
        group += 1;
    }
    t
}

static INTERLEAVE: [u8; DIBITS] = interleave_table();

fn get_bit(buf: &[u8], i: usize) -> u8 {
    (buf[i / 8] >> (7 - i % 8)) & 1
}

fn put_bit(buf: &mut [u8], i: usize, bit: u8) {
    let m = 0x80 >> (i % 8);
    if bit & 1 == 1 {
        buf[i / 8] |= m;
    } else {
        buf[i / 8] &= !m;
    }
}

/// The received 4-bit label of each point, in coded order.
fn received_labels(info: &[u8; INFO_LEN]) -> [u8; POINTS] {
    let mut dibits = [0u8; DIBITS];
    for (i, &to) in INTERLEAVE.iter().enumerate() {
        // dibit i is bits 2i, 2i + 1: never split across octets
        dibits[usize::from(to)] = (info[i / 4] >> (6 - 2 * (i % 4))) & 0b11;
    }
    let mut labels = [0u8; POINTS];
    for (label, pair) in labels.iter_mut().zip(dibits.chunks_exact(2)) {
        *label = (pair[0] << 2) | pair[1];
    }
    labels
}

fn payload_of(tribits: &[u8; POINTS]) -> [u8; PAYLOAD_LEN] {
    let mut out = [0u8; PAYLOAD_LEN];
    // 8 tribits make 3 octets
    for (chunk, octets) in tribits[..POINTS - 1]
        .chunks_exact(8)
        .zip(out.chunks_exact_mut(3))
    {
        let word = chunk
            .iter()
            .fold(0u32, |w, &t| (w << 3) | u32::from(t & 0b111));
        octets.copy_from_slice(&word.to_be_bytes()[1..]);
    }
    out
}

/// Tribits straight off the received points, if every one is a legal transition.
fn direct(labels: &[u8; POINTS]) -> Option<[u8; POINTS]> {
    let mut tribits = [0u8; POINTS];
    let mut state = 0usize;
    for (k, &label) in labels.iter().enumerate() {
        let point = BITS_POINT[usize::from(label)];
        let t = TRIBIT[state * 16 + usize::from(point)];
        if t == NONE {
            return None;
        }
        tribits[k] = t;
        state = usize::from(t);
    }
    (tribits[POINTS - 1] == 0).then_some(tribits)
}

/// Hard-decision Viterbi: (tribits, bit distance) of the coded sequence nearest to `labels`
/// that starts and ends in state 0.
fn viterbi(labels: &[u8; POINTS]) -> ([u8; POINTS], usize) {
    const INF: u32 = u32::MAX / 2;
    let mut metric = [INF; 8];
    metric[0] = 0;
    // predecessor of each state after step k (the state is the tribit just sent)
    let mut from = [[0u8; 8]; POINTS];
    for (k, &label) in labels.iter().enumerate() {
        let cost = &COST[usize::from(label & 0x0F)];
        let mut next = [INF; 8];
        // the flush tribit is 0: the last step may only enter state 0
        let inputs = if k == POINTS - 1 { 1 } else { 8 };
        for (prev, &m) in metric.iter().enumerate() {
            if m >= INF {
                continue;
            }
            for t in 0..inputs {
                let c = m + u32::from(cost[prev * 8 + t]);
                if c < next[t] {
                    next[t] = c;
                    from[k][t] = prev as u8;
                }
            }
        }
        metric = next;
    }
    let mut tribits = [0u8; POINTS];
    let mut state = 0u8;
    for k in (0..POINTS).rev() {
        tribits[k] = state;
        state = from[k][usize::from(state)];
    }
    (tribits, metric[0] as usize)
}

/// Decode 196 interleaved info bits: (18 payload octets, bits corrected), or `None` when the
/// nearest coded sequence is more than [`MAX_CORRECTED_BITS`] bits away.
pub fn decode(info: &[u8; INFO_LEN]) -> Option<([u8; PAYLOAD_LEN], usize)> {
    let labels = received_labels(info);
    if let Some(tribits) = direct(&labels) {
        return Some((payload_of(&tribits), 0));
    }
    let (tribits, distance) = viterbi(&labels);
    (distance <= MAX_CORRECTED_BITS).then(|| (payload_of(&tribits), distance))
}

/// Encode 18 payload octets into 196 interleaved info bits (pad bits 0).
pub fn encode(payload: &[u8; PAYLOAD_LEN]) -> [u8; INFO_LEN] {
    let mut dibits = [0u8; DIBITS];
    let mut state = 0usize;
    for k in 0..POINTS {
        let tribit = if k < POINTS - 1 {
            (0..3).fold(0usize, |t, b| {
                (t << 1) | usize::from(get_bit(payload, 3 * k + b))
            })
        } else {
            0
        };
        let bits = POINT_BITS[usize::from(ENCODE[state * 8 + tribit])];
        dibits[2 * k] = bits >> 2;
        dibits[2 * k + 1] = bits & 0b11;
        state = tribit;
    }
    let mut info = [0u8; INFO_LEN];
    for (i, &from) in INTERLEAVE.iter().enumerate() {
        let d = dibits[usize::from(from)];
        put_bit(&mut info, 2 * i, d >> 1);
        put_bit(&mut info, 2 * i + 1, d & 1);
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info_of(bits: &str) -> [u8; INFO_LEN] {
        let mut info = [0u8; INFO_LEN];
        for (i, c) in bits.bytes().enumerate() {
            put_bit(&mut info, i, u8::from(c == b'1'));
        }
        info
    }

    fn unhex<const N: usize>(s: &str) -> [u8; N] {
        hex::decode(s).unwrap()[..N].try_into().unwrap()
    }

    /// ok-dmrlib tests/dmrlib/etsi/fec/test_trellis.py `TRELLIS_TEST_DATA` (decode and encode
    /// both asserted there; the source lists 25 octets, the last 7 being 0).
    const VECTORS: [(&str, &str); 3] = [
        (
            "0010100000101111111000101011010111010010111111110010001011100010011101100010111100111110110100100111001000101110111110100001001000100010011100101111101100101111001000101001011100100010111101110010",
            "006200014100480019804a0020005400410000000000000000",
        ),
        (
            "0010010011110110110100100011111111100010001101010010001000010010101011101101001001111111110100100110100011100010111100100001001011111010111000101111000001111000001000100100011100101111100001110010",
            "02f24400590020004d004100520045004b0000000000000000",
        ),
        (
            "0010001100100010001000100010001000100010101011000010110111110010001000100010001000100010000100001101011100100010001000100010001000100010101001000000100100100010001000100010001000100010001010100110",
            "0538000000000000000000000000f486aed800000000000000",
        ),
    ];

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn random_payload(rng: &mut Rng) -> [u8; PAYLOAD_LEN] {
        let mut p = [0u8; PAYLOAD_LEN];
        for b in &mut p {
            *b = rng.next() as u8;
        }
        p
    }

    fn flip(info: &mut [u8; INFO_LEN], i: usize) {
        info[i / 8] ^= 0x80 >> (i % 8);
    }

    #[test]
    fn okdmrlib_vectors_decode_and_encode() {
        for (bits, hex) in VECTORS {
            let info = info_of(bits);
            let payload: [u8; PAYLOAD_LEN] = unhex(hex);
            assert_eq!(decode(&info), Some((payload, 0)), "{hex}");
            assert_eq!(encode(&payload), info, "{hex}");
        }
    }

    #[test]
    fn tables_match_the_published_ones() {
        // MMDVMHost INTERLEAVE_TABLE: first row and the starts of the others
        assert_eq!(INTERLEAVE[..6], [0, 1, 8, 9, 16, 17]);
        assert_eq!(INTERLEAVE[24..28], [96, 97, 2, 3]);
        assert_eq!(INTERLEAVE[50..52], [4, 5]);
        assert_eq!(INTERLEAVE[74..76], [6, 7]);
        assert_eq!(INTERLEAVE[97], 95);
        let mut seen = [false; DIBITS];
        for &d in &INTERLEAVE {
            seen[usize::from(d)] = true;
        }
        assert!(seen.iter().all(|&s| s), "a permutation");
        assert!(
            BITS_POINT.iter().all(|&p| p != NONE),
            "labelling is a bijection"
        );
    }

    #[test]
    fn every_single_bit_error_is_corrected() {
        let mut rng = Rng(0x1234_5678);
        for _ in 0..4 {
            let payload = random_payload(&mut rng);
            let info = encode(&payload);
            for i in 0..196 {
                let mut bad = info;
                flip(&mut bad, i);
                assert_eq!(decode(&bad), Some((payload, 1)), "bit {i}");
            }
        }
    }

    /// The on-air bit that carries bit `b` (0 or 1) of coded dibit `d`.
    fn air_bit(d: usize, b: usize) -> usize {
        let i = INTERLEAVE
            .iter()
            .position(|&x| usize::from(x) == d)
            .unwrap();
        2 * i + b
    }

    #[test]
    fn isolated_errors_are_corrected_with_the_count() {
        let mut rng = Rng(0xDEAD_BEEF);
        for _ in 0..100 {
            let payload = random_payload(&mut rng);
            let mut bad = encode(&payload);
            // one bit in every 10th point (coded order): 5 errors, each alone in its region
            for k in (2..POINTS).step_by(10) {
                let d = 2 * k + (rng.next() as usize % 2);
                flip(&mut bad, air_bit(d, rng.next() as usize % 2));
            }
            assert_eq!(decode(&bad), Some((payload, 5)));
        }
    }

    #[test]
    fn random_errors_decode_to_the_nearest_sequence() {
        let mut rng = Rng(42);
        let mut right = 0;
        let trials = 300;
        for _ in 0..trials {
            let payload = random_payload(&mut rng);
            let sent = encode(&payload);
            let mut bad = sent;
            let (a, b) = (rng.next() as usize % 196, rng.next() as usize % 196);
            flip(&mut bad, a);
            if b != a {
                flip(&mut bad, b);
            }
            let errors = if a == b { 1 } else { 2 };
            let (got, fixed) = decode(&bad).expect("two errors are within the limit");
            // the count is the exact distance to the re-encoded result, never more than the truth
            let distance: u32 = encode(&got)
                .iter()
                .zip(&bad)
                .map(|(x, y)| (x ^ y).count_ones())
                .sum();
            assert_eq!(fixed, distance as usize);
            assert!(fixed <= errors);
            if got == payload {
                right += 1;
            }
        }
        assert!(right * 100 >= trials * 85, "{right}/{trials}");
    }

    #[test]
    fn junk_and_heavy_errors_are_refused() {
        for seed in 1..200u64 {
            let mut rng = Rng(seed);
            let mut junk = [0u8; INFO_LEN];
            for b in &mut junk {
                *b = rng.next() as u8;
            }
            junk[24] &= 0xF0;
            assert_eq!(decode(&junk), None, "seed {seed}");
        }
        // 24 errors, one in each of 24 points: no sequence lies within 5 bits
        let mut rng = Rng(7);
        let payload = random_payload(&mut rng);
        let mut bad = encode(&payload);
        for k in (0..POINTS).step_by(2) {
            flip(&mut bad, air_bit(2 * k, 0));
        }
        assert_eq!(decode(&bad), None);
    }

    #[test]
    fn pad_bits_are_ignored() {
        let info = info_of(VECTORS[0].0);
        let mut padded = info;
        padded[24] |= 0x0F;
        assert_eq!(decode(&padded), decode(&info));
    }
}
