//! List and watch filters (AIP-160 subset), orderings, RFC 3339 times and page tokens.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trunkgate::fuzzing::filter(data));
