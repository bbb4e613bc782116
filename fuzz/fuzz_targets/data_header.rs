#![no_main]
//! Data header entry points: fields, CRC under both dialects, end-of-data rule, JSON.
use libfuzzer_sys::fuzz_target;
use trunkgate::wire::data_header::DataHeader;
use trunkgate::wire::{Dialect, DialectChoice};

fuzz_target!(|data: &[u8]| {
    let _ = DataHeader::check(data, DialectChoice::Auto);
    let _ = DataHeader::parse_checked(data, DialectChoice::Auto);
    if let Ok(header) = DataHeader::parse(data) {
        let _ = header.blocks_to_follow();
        let _ = header.end_of_data(Dialect::Dmr);
        let _ = header.end_of_data(Dialect::Pdt);
        let _ = serde_json::to_string(&header);
    }
});
