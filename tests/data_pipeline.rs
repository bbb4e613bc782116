//! Packet data end to end through the public API: a dispatcher text and a GPS poll are split
//! into header + blocks, fed back through the assembler as the FEC layer would hand them over,
//! and decoded into what a dispatcher sees, in both dialects.

use trunkgate::wire::data::{self, BlockKind, DataAssembler, Rate};
use trunkgate::wire::data_header::{Body, DataHeader, Dpf, PacketInfo};
use trunkgate::wire::sdata::{self, Message};
use trunkgate::wire::{Dialect, DialectChoice};

fn header(sap: u8, dpf: Dpf) -> DataHeader {
    DataHeader {
        group: false,
        response_requested: dpf == Dpf::Confirmed,
        dpf,
        sap,
        destination: 0xFC0002,
        source: 0xFC0001,
        body: Body::Packet(PacketInfo {
            header_compression: false,
            pad_octets: 0,
            full_message: true,
            blocks_to_follow: 0,
            resync: false,
            send_seq: 0,
            fsn: 8,
        }),
    }
}

fn receive(asm: &mut DataAssembler, out: &data::Outbound) -> data::DataPdu {
    let mut pdu = asm.feed(BlockKind::Header, &out.header_block).unwrap();
    for b in &out.blocks {
        assert!(pdu.is_none());
        pdu = asm.feed(BlockKind::Data(out.rate), b).unwrap();
    }
    pdu.expect("the last block completes the PDU")
}

#[test]
fn chinese_sms_survives_the_air_in_both_dialects() {
    let mut asm = DataAssembler::new(DialectChoice::Auto);
    for dialect in [Dialect::Dmr, Dialect::Pdt] {
        let payload = sdata::pdt_sms_payload("山体滑坡预警");
        let out =
            data::emit_packet(header(3, Dpf::Unconfirmed), &payload, Rate::Half, dialect).unwrap();
        let pdu = receive(&mut asm, &out);
        assert_eq!(pdu.dialect, dialect);
        let json = serde_json::to_value(&pdu).unwrap();
        assert_eq!(json["header"]["dpf_name"], "unconfirmed");
        assert_eq!(json["header"]["target"], 0xFC0002);
        let msg = sdata::decode(&pdu);
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["kind"], "text");
        assert_eq!(json["text"], "山体滑坡预警");
    }
}

#[test]
fn gps_poll_goes_out_confirmed_at_rate_three_quarters() {
    let mut asm = DataAssembler::new(DialectChoice::Pdt);
    let payload = sdata::pdt_gps_request(0x022A, 42, 0xFC0002);
    let out = data::emit_packet(
        header(3, Dpf::Confirmed),
        &payload,
        Rate::ThreeQuarter,
        Dialect::Pdt,
    )
    .unwrap();
    assert!(out.blocks.iter().all(|b| b.len() == 18));
    let pdu = receive(&mut asm, &out);
    assert_eq!(pdu.payload, payload);
    assert!(matches!(
        sdata::decode(&pdu),
        Message::Binary {
            sap: 3,
            destination_port: Some(116),
            ..
        }
    ));
}
