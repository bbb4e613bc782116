//! Data header entry points: fields, CRC under both dialects, end-of-data rule, JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trunkgate::fuzzing::data_header(data));
