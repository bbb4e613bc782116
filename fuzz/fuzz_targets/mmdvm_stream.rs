//! MMDVM byte stream through `FrameDecoder`, both directions, in fuzzer-chosen chunks.
//!
//! Octet 0 picks the direction (bit 0), the status layout (bit 1) and the chunk size (bits 2-7);
//! the rest is the stream. Checked: no panic, the buffer stays bounded, the decoder always
//! makes progress, and every frame it returns re-emits to a frame that parses to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use trunkgate::link::mmdvm::decoder::CAPACITY;
use trunkgate::link::mmdvm::{Command, Direction, Frame, FrameDecoder, ProtocolVersion, Reply};

fn split(f: &[u8]) -> (u8, &[u8]) {
    if f[1] == 0 { (f[3], &f[4..]) } else { (f[2], &f[3..]) }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, stream)) = data.split_first() else { return };
    let dir = if ctl & 1 == 0 { Direction::ToHost } else { Direction::ToModem };
    let version = if ctl & 2 == 0 { ProtocolVersion::V2 } else { ProtocolVersion::V1 };
    let chunk = usize::from(ctl >> 2) + 1;
    let mut d = FrameDecoder::new(dir);
    d.set_version(version);
    for piece in stream.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() {
            let n = d.feed(rest);
            rest = &rest[n..];
            // Every call either returns, or consumes; bound the loop to catch a stuck decoder.
            for _ in 0..=CAPACITY {
                match d.next_frame() {
                    Ok(None) => break,
                    Err(_) => {}
                    Ok(Some(Frame::Reply(r))) => {
                        let bytes = r.to_vec();
                        let (k, p) = split(&bytes);
                        assert_eq!(Reply::parse(k, p, version).as_ref(), Ok(&r));
                    }
                    Ok(Some(Frame::Command(c))) => {
                        let bytes = c.to_vec();
                        let (k, p) = split(&bytes);
                        assert_eq!(Command::parse(k, p).as_ref(), Ok(&c));
                    }
                }
            }
            assert!(d.pending() <= CAPACITY);
        }
    }
    d.skip_partial();
    while let Ok(Some(_)) | Err(_) = d.next_frame() {}
});
