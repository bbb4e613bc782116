#![no_main]
//! Burst decode: the stateless pipeline on the input, then the whole receive path (per-slot
//! reassemblers in ingest) over the input cut into 33-octet bursts on alternating slots.
use std::sync::Arc;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use trunkgate::dispatch::SiteId;
use trunkgate::dispatch::ingest::Ingest;
use trunkgate::link::{Received, Slot};
use trunkgate::wire::DialectChoice;
use trunkgate::wire::burst::BurstRepr;
use trunkgate::wire::pipeline::decode_burst;

fuzz_target!(|data: &[u8]| {
    let _ = BurstRepr::parse(data);
    let _ = decode_burst(data, DialectChoice::Auto);
    let mut ingest = Ingest::new(SiteId::new("fuzz"), DialectChoice::Auto);
    let mut inputs = Vec::new();
    let site: Arc<str> = Arc::from("fuzz");
    let at = Instant::now();
    for (i, chunk) in data.chunks_exact(33).enumerate() {
        let mut burst = [0u8; 33];
        burst.copy_from_slice(chunk);
        let received = Received {
            site: Arc::clone(&site),
            slot: if i % 2 == 0 { Slot::One } else { Slot::Two },
            burst,
            rssi_dbm: None,
            ber_percent: None,
            meta: None,
            at,
        };
        ingest.feed(&received, &mut inputs);
    }
});
