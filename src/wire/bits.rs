//! Bit access for the PDU codecs: nom 8 bit parsers behind one helper, and a bit writer.
//!
//! Bit 0 is the first bit on air, the MSB of octet 0 (docs/air-interface.md conventions). Parsers
//! read fields with [`get`], a whole octet at a time (the PDU codecs on the decode path do), or
//! with nom's bit-level `take` through [`run`], which names nom's error type once so nom stays
//! out of the public API; emitters use [`put`] on a pre-sized buffer, so `emit` writes every bit.

use nom::IResult;
use nom::Parser;

use super::{Result, WireError};

/// nom's bit-level input: the octets and the bit offset into the first one.
pub type Bits<'a> = (&'a [u8], usize);

/// nom's result for a bit parser.
pub type BitsResult<'a, O> = IResult<Bits<'a>, O, nom::error::Error<Bits<'a>>>;

/// Take `count` bits (at most the width of `O`) as an unsigned value.
pub fn take<'a, O>(
    count: usize,
) -> impl Parser<Bits<'a>, Output = O, Error = nom::error::Error<Bits<'a>>>
where
    O: From<u8>
        + core::ops::AddAssign
        + core::ops::Shl<usize, Output = O>
        + core::ops::Shr<usize, Output = O>,
{
    nom::bits::complete::take(count)
}

/// Take one bit as a flag.
pub fn flag<'a>() -> impl Parser<Bits<'a>, Output = bool, Error = nom::error::Error<Bits<'a>>> {
    nom::bits::complete::bool
}

/// Run a bit parser over `input` (from bit 0), mapping nom's error to [`WireError::Truncated`]
/// for `frame`. Parsers in `wire` only fail for want of bits.
pub fn run<'a, O>(
    frame: &'static str,
    mut parser: impl Parser<Bits<'a>, Output = O, Error = nom::error::Error<Bits<'a>>>,
    input: &'a [u8],
) -> Result<O> {
    match parser.parse((input, 0)) {
        Ok((_, out)) => Ok(out),
        Err(_) => Err(WireError::Truncated {
            frame,
            need: input.len() + 1,
            have: input.len(),
        }),
    }
}

/// Read `len` (≤ 64) bits starting at bit `start`; bits past the end of `buf` read as 0.
///
/// Works a whole octet at a time: the (at most nine) octets the field touches are gathered
/// into one word and shifted, since CSBK and header field extraction is on the decode hot path.
pub fn get(buf: &[u8], start: usize, len: usize) -> u64 {
    if len == 0 {
        return 0;
    }
    if len > 64 {
        // Only the low 64 bits of a wider field fit the result.
        return get(buf, start + len - 64, 64);
    }
    let first = start / 8;
    let last = (start + len - 1) / 8;
    let mut window = 0u128;
    for i in first..=last {
        window = (window << 8) | u128::from(buf.get(i).copied().unwrap_or(0));
    }
    let shift = (last - first + 1) * 8 - start % 8 - len;
    ((window >> shift) & low_bits(len)) as u64
}

/// A mask of the `len` (≤ 64) low bits.
fn low_bits(len: usize) -> u128 {
    (1u128 << len) - 1
}

/// Read one bit as a flag; past the end reads as false.
pub fn get_flag(buf: &[u8], bit: usize) -> bool {
    get(buf, bit, 1) == 1
}

/// Write the low `len` (≤ 64) bits of `value` at bit `start`; bits past the end are dropped.
/// A wider field gets `value` in its low 64 bits and zeros above.
pub fn put(buf: &mut [u8], start: usize, len: usize, value: u64) {
    if len == 0 {
        return;
    }
    if len > 64 {
        put(buf, start, len - 64, 0);
        put(buf, start + len - 64, 64, value);
        return;
    }
    let first = start / 8;
    let last = (start + len - 1) / 8;
    let shift = (last - first + 1) * 8 - start % 8 - len;
    let mask = low_bits(len) << shift;
    let bits = (u128::from(value) << shift) & mask;
    for i in first..=last {
        let at = (last - i) * 8;
        let (m, v) = ((mask >> at) as u8, (bits >> at) as u8);
        if let Some(octet) = buf.get_mut(i) {
            *octet = (*octet & !m) | v;
        }
    }
}

/// Write one flag at `bit`.
pub fn put_flag(buf: &mut [u8], bit: usize, set: bool) {
    put(buf, bit, 1, u64::from(set));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_and_put_round_trip_across_octets() {
        let mut buf = [0xA5u8; 4];
        put(&mut buf, 3, 13, 0x1ABC);
        assert_eq!(get(&buf, 3, 13), 0x1ABC);
        assert_eq!(buf[0] >> 5, 0b101, "bits before the field are untouched");
        assert_eq!(
            get(&buf, 16, 16),
            0xA5A5,
            "bits after the field are untouched"
        );
    }

    /// The bit-at-a-time definition the octet-wise code must agree with.
    fn get_reference(buf: &[u8], start: usize, len: usize) -> u64 {
        (start..start + len).fold(0u64, |v, bit| {
            let b = buf.get(bit / 8).map_or(0, |o| (o >> (7 - bit % 8)) & 1);
            (v << 1) | u64::from(b)
        })
    }

    #[test]
    fn octet_wise_access_matches_the_bit_wise_definition() {
        let buf: Vec<u8> = (0..14u8).map(|i| i.wrapping_mul(0x9D) ^ 0x5A).collect();
        for start in 0..(buf.len() * 8 + 9) {
            for len in 0..=64 {
                assert_eq!(
                    get(&buf, start, len),
                    get_reference(&buf, start, len),
                    "{start} {len}"
                );
                let mut a = buf.clone();
                let value = 0xDEAD_BEEF_CAFE_F00Du64.rotate_left(start as u32);
                put(&mut a, start, len, value);
                for bit in 0..buf.len() * 8 {
                    let inside = bit >= start && bit < start + len;
                    let want = if inside {
                        (value >> (start + len - 1 - bit)) & 1
                    } else {
                        get_reference(&buf, bit, 1)
                    };
                    assert_eq!(
                        get_reference(&a, bit, 1),
                        want,
                        "put {start} {len} bit {bit}"
                    );
                }
            }
        }
    }

    #[test]
    fn nom_take_reads_the_same_bits() {
        let buf = [0b1011_0011u8, 0xF0];
        let (a, b, c): (bool, u8, u16) = run("test", (flag(), take(3), take(6)), &buf).unwrap();
        assert_eq!((a, b, c), (true, 0b011, 0b00_1111));
        assert!(run::<u16>("test", take(17), &buf).is_err());
    }
}
