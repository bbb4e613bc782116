#![no_main]
//! Packet-data reassembly and what a dispatcher sees of it: a stream of (kind, block) records
//! fed to the assembler, completed PDUs decoded into messages; LRRP parsed on the raw input.
use libfuzzer_sys::fuzz_target;
use trunkgate::wire::data::{BlockKind, DataAssembler, Rate};
use trunkgate::wire::lrrp::Lrrp;
use trunkgate::wire::{DialectChoice, sdata};

fuzz_target!(|data: &[u8]| {
    let _ = Lrrp::parse(data);
    let mut assembler = DataAssembler::new(DialectChoice::Auto);
    let mut rest = data;
    // Record: one selector octet, then as many octets as the kind's block holds.
    while let Some((&selector, tail)) = rest.split_first() {
        let kind = match selector % 4 {
            0 => BlockKind::Header,
            1 => BlockKind::Data(Rate::Half),
            2 => BlockKind::Data(Rate::ThreeQuarter),
            _ => BlockKind::Data(Rate::One),
        };
        let len = match kind {
            BlockKind::Header => 12,
            BlockKind::Data(rate) => rate.block_len(),
        };
        let take = len.min(tail.len());
        let (block, next) = tail.split_at(take);
        if let Ok(Some(pdu)) = assembler.feed(kind, block) {
            let _ = serde_json::to_string(&sdata::decode(&pdu));
        }
        rest = next;
    }
    let _ = assembler.flush();
});
