//! The CSBK / MBC codec as the dispatch core and the link decoder use it, through the public
//! API only: build a command, emit it in a dialect, detect the dialect, parse it back, print it
//! as JSON; reassemble an MBC grant with absolute channel parameters.

use trunkgate::wire::csbk::mbc::{CgAp, Mbc, MbcAssembler};
use trunkgate::wire::csbk::{self, Channel, Csbk, CsbkBody, LogicalSlot, ReasonCode, Sso};
use trunkgate::wire::{Dialect, DialectChoice};

#[test]
fn stun_command_goes_out_as_pdt_and_its_answer_comes_back() {
    let dispatcher = 0x00_0001;
    let radio = 0x12_3456;
    let stun = Csbk::pdt_stun(radio, dispatcher);
    let mut out = [0u8; csbk::LEN];
    stun.emit(Dialect::Pdt, &mut out);
    assert_eq!(Csbk::check(&out, DialectChoice::Auto), Some(Dialect::Pdt));
    assert_eq!(Csbk::parse(&out).unwrap(), stun);

    let answer = Csbk::pdt_sups_answer(Sso::RadioDisable, dispatcher, radio).to_bytes(Dialect::Pdt);
    let heard = Csbk::parse(&answer).unwrap();
    assert_eq!(heard.opcode_name(), Some("HYT_PDT_SUPS_ANS"));
    assert_eq!(
        (heard.source(), heard.target()),
        (Some(radio), Some(dispatcher))
    );
    assert!(matches!(heard.body, CsbkBody::HytSupsAns(s) if s.sso == Sso::RadioDisable));
}

#[test]
fn registration_ack_prints_as_flat_json() {
    let ack = Csbk::ackd(837, 0xFF_FEC6, ReasonCode(0x62)).to_bytes(Dialect::Dmr);
    let json = serde_json::to_string(&Csbk::parse(&ack).unwrap()).unwrap();
    assert!(
        json.starts_with(
            r#"{"last_block":true,"protect":false,"fid":0,"opcode":32,"opcode_name":"C_ACKD""#
        ),
        "{json}"
    );
    assert!(
        json.contains(r#""target":837"#) && json.contains(r#""source":16776902"#),
        "{json}"
    );
}

#[test]
fn mbc_grant_reassembles_with_its_frequencies() {
    let header = Csbk::tv_grant(0xFFF, LogicalSlot::Ts1, 9001, 42);
    let channel = CgAp::new(0x31, 1, 7, 350_125_000, 360_125_000).unwrap();
    let mbc = Mbc::new(header, channel);
    let mut out = vec![0u8; mbc.buffer_len()];
    mbc.emit(Dialect::Pdt, &mut out);

    let mut asm = MbcAssembler::new(DialectChoice::Auto, Channel::TrunkedControl);
    asm.feed_header(&out[..12]).unwrap();
    let (got, dialect) = asm.feed_continuation(&out[12..24]).unwrap().unwrap();
    assert_eq!(dialect, Dialect::Pdt);
    assert_eq!(got.header.target(), Some(9001));
    let ch = got.channel().unwrap();
    assert_eq!(
        (ch.lpcn, ch.tx_hz(), ch.rx_hz()),
        (7, 350_125_000, 360_125_000)
    );
}
