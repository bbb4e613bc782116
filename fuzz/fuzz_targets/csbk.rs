#![no_main]
//! CSBK and MBC entry points: fields, CRC check under both dialects, the MBC assembler.
use libfuzzer_sys::fuzz_target;
use trunkgate::wire::DialectChoice;
use trunkgate::wire::csbk::mbc::MbcAssembler;
use trunkgate::wire::csbk::{Channel, Csbk};

fuzz_target!(|data: &[u8]| {
    let _ = Csbk::check(data, DialectChoice::Auto);
    for channel in [Channel::Conventional, Channel::TrunkedControl] {
        if let Ok(csbk) = Csbk::parse_on(data, channel) {
            let _ = csbk.opcode_name();
            let _ = serde_json::to_string(&csbk);
        }
    }
    // The MBC assembler fed 12-octet blocks: the first is the header.
    let mut mbc = MbcAssembler::new(DialectChoice::Auto, Channel::TrunkedControl);
    let mut blocks = data.chunks_exact(12);
    if let Some(header) = blocks.next() {
        let _ = mbc.feed_header(header);
        for block in blocks {
            let _ = mbc.feed_continuation(block);
        }
    }
});
