//! The receive and send pipelines of a control burst through the public API: burst → sync →
//! slot type → BPTC(196,96) → CRC-CCITT, and back, on the two MMDVMHost-encoded CSBK bursts
//! of docs/performance.md §1a (the second carries one bit error that BPTC repairs).

use trunkgate::wire::burst::{self, BurstRepr, DataBurst, DataType, SlotType, SyncPattern};
use trunkgate::wire::crc::{check_ccitt_block, seal_ccitt_block};
use trunkgate::wire::fec::bptc;

/// CSBK CRC mask, DMR dialect (docs/air-interface.md §1.3).
const CSBK_MASK: u16 = 0xA5A5;

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s.replace(' ', "")).unwrap().try_into().unwrap()
}

fn receive(raw: &[u8]) -> ([u8; 12], usize) {
    let BurstRepr::Data(data) = BurstRepr::parse(raw).unwrap() else {
        panic!("not a data burst")
    };
    assert_eq!(data.sync, SyncPattern::BsData);
    assert_eq!(
        data.slot_type,
        SlotType {
            colour_code: 1,
            data_type: DataType::Csbk
        }
    );
    let (pdu, fixed) = bptc::decode(&data.info).expect("BPTC");
    assert!(check_ccitt_block(&pdu, CSBK_MASK), "CRC");
    (pdu, fixed)
}

#[test]
fn golden_bursts_decode_to_their_csbks() {
    let clean = unhex::<33>("00b202f017cc79b41990e5c044cdff57d75df5dac814057040f85920eec23ba406");
    assert_eq!(receive(&clean), (unhex("8400000046 30C04634A8195E"), 0));

    let damaged = unhex::<33>("03458696160c76b80e38e2f044cdff57d75df5dac966043041185fe0f082022568");
    assert_eq!(receive(&damaged), (unhex("b8000000 4630c74634d96c20"), 1));
}

#[test]
fn a_built_burst_equals_the_mmdvmhost_one() {
    let mut pdu: [u8; 12] = unhex("8400000046 30C04634A8 0000");
    seal_ccitt_block(&mut pdu, CSBK_MASK);
    let info = bptc::encode(&pdu);
    let built = burst::data_burst(SyncPattern::BsData, 1, DataType::Csbk, &info);
    let golden = unhex::<33>("00b202f017cc79b41990e5c044cdff57d75df5dac814057040f85920eec23ba406");
    assert_eq!(built, golden);

    let mut dirty = [0xA5u8; 33];
    DataBurst::new(SyncPattern::BsData, 1, DataType::Csbk, info).emit(&mut dirty);
    assert_eq!(dirty, golden);
}
