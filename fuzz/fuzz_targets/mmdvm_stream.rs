//! MMDVM byte stream through `FrameDecoder`, both directions, in fuzzer-chosen chunks.
//!
//! Octet 0 picks the direction (bit 0), the status layout (bit 1) and the chunk size (bits 2-7);
//! the rest is the stream. Checked: no panic, the buffer stays bounded, the decoder always
//! makes progress, and every frame it returns re-emits to a frame that parses to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trunkgate::fuzzing::mmdvm_stream(data));
