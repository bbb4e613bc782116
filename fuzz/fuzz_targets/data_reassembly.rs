//! Packet-data reassembly and what a dispatcher sees of it: a stream of (kind, block) records
//! fed to the assembler, completed PDUs decoded into messages; LRRP parsed on the raw input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trunkgate::fuzzing::data_reassembly(data));
