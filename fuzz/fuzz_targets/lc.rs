//! Link control entry points: full LC with RS(12,9), embedded LC (VBPTC) and its assemblers,
//! the PI header. Nothing here may panic, whatever the input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trunkgate::fuzzing::lc(data));
