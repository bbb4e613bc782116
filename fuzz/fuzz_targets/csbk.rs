//! CSBK and MBC entry points: fields, CRC check under both dialects, the MBC assembler.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trunkgate::fuzzing::csbk(data));
