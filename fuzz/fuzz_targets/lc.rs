#![no_main]
//! Link control entry points: full LC with RS(12,9), embedded LC (VBPTC) and its assemblers,
//! the PI header. Nothing here may panic, whatever the input.
use libfuzzer_sys::fuzz_target;
use trunkgate::wire::embedded::{self, EmbeddedLcAssembler, Lcss, TalkerAliasAssembler};
use trunkgate::wire::lc::FullLc;
use trunkgate::wire::pi_header::PiHeader;
use trunkgate::wire::{Dialect, DialectChoice};

fuzz_target!(|data: &[u8]| {
    let _ = FullLc::parse_full(data, DialectChoice::Auto);
    let _ = FullLc::parse(data);
    let _ = PiHeader::parse(data);
    let _ = PiHeader::check(data, DialectChoice::Auto);
    if let Some(raw) = data.get(..16).and_then(|s| <&[u8; 16]>::try_from(s).ok()) {
        let _ = embedded::decode(raw);
    }
    // A stream of (LCSS, fragment) pairs: 1 octet LCSS + 4 octets fragment each.
    let mut assembler = EmbeddedLcAssembler::new(Dialect::Pdt);
    let mut alias = TalkerAliasAssembler::new();
    for chunk in data.chunks_exact(5) {
        let lcss = Lcss::from_bits(chunk[0]);
        let fragment = u32::from_be_bytes([chunk[1], chunk[2], chunk[3], chunk[4]]);
        if let Some(lc) = assembler.feed(lcss, fragment) {
            let _ = alias.feed(&lc);
        }
    }
});
