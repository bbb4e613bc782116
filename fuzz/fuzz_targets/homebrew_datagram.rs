//! One Homebrew datagram: parse never panics; whatever parses re-emits to the same packet; the
//! master's datagram entry point never panics either.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trunkgate::fuzzing::homebrew_datagram(data));
