//! Bit access for the PDU codecs: nom 8 bit parsers behind one helper, and a bit writer.
//!
//! Bit 0 is the first bit on air, the MSB of octet 0 (air-interface.md conventions). Parsers use
//! nom's bit-level `take` through [`run`], which names nom's error type once so nom stays out of
//! the public API; emitters use [`put`] on a pre-sized buffer, so `emit` writes every bit.

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
pub fn get(buf: &[u8], start: usize, len: usize) -> u64 {
    let mut value = 0u64;
    for bit in start..start + len {
        let b = buf
            .get(bit / 8)
            .map_or(0, |octet| (octet >> (7 - bit % 8)) & 1);
        value = (value << 1) | u64::from(b);
    }
    value
}

/// Read one bit as a flag; past the end reads as false.
pub fn get_flag(buf: &[u8], bit: usize) -> bool {
    get(buf, bit, 1) == 1
}

/// Write the low `len` (≤ 64) bits of `value` at bit `start`; bits past the end are dropped.
pub fn put(buf: &mut [u8], start: usize, len: usize, value: u64) {
    for i in 0..len {
        let bit = start + i;
        let set = (value >> (len - 1 - i)) & 1 == 1;
        if let Some(octet) = buf.get_mut(bit / 8) {
            let m = 0x80u8 >> (bit % 8);
            if set {
                *octet |= m;
            } else {
                *octet &= !m;
            }
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

    #[test]
    fn nom_take_reads_the_same_bits() {
        let buf = [0b1011_0011u8, 0xF0];
        let (a, b, c): (bool, u8, u16) = run("test", (flag(), take(3), take(6)), &buf).unwrap();
        assert_eq!((a, b, c), (true, 0b011, 0b00_1111));
        assert!(run::<u16>("test", take(17), &buf).is_err());
    }
}
