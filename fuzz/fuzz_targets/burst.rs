//! Burst decode: the stateless pipeline on the input, then the whole receive path (per-slot
//! reassemblers in ingest) over the input cut into 33-octet bursts on alternating slots.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trunkgate::fuzzing::burst(data));
