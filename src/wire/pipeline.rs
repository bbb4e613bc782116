//! The stateless receive pipeline of one burst: sync → slot type → FEC → CRC → typed PDU
//! (TS 102 361-1 §9.1, §9.3, annex B; docs/air-interface.md §1–3, 5). What needs state across bursts
//! (data reassembly, MBC, embedded LC, talker alias) is left to the caller, which gets the
//! FEC-corrected blocks for it.
//!
//! ```text
//! burst ─ BurstRepr::parse: sync (≤ 4 bit errors), slot type Golay(20,8) or EMB QR(16,7)
//!       ─ by data type: BPTC(196,96) (PI, LC header, terminator, CSBK, MBC, data header,
//!         rate ½, idle, USBD) · trellis ¾ (rate ¾) · rate 1 (no FEC)
//!       ─ CRC-CCITT ⊕ the dialect's mask (CSBK, MBC header, PI, data header), RS(12,9) ⊕ mask
//!         (full LC); data blocks are checked later by the assembler (CRC-9 / CRC-32)
//!       ─ Csbk / FullLc / PiHeader / DataHeader / raw block
//! ```
//!
//! Contract: [`decode_burst`] never panics and never allocates; every failure is a
//! [`DecodeError`] naming the [`Stage`] it happened at and the [`WireError`] of that stage, so
//! a receiver keeps one counter per stage. A CRC that checks under no candidate dialect is a
//! [`Stage::Crc`] error, an RS(12,9) that cannot correct is one too (the RS parity is the LC's
//! check).

use super::burst::{self, BurstRepr, DataType, Emb, SlotType, SyncPattern, VoiceCentre};
use super::csbk::{self, Channel, Csbk};
use super::data::Rate;
use super::data_header::DataHeader;
use super::fec::{bptc, trellis};
use super::lc::{FullLc, FullLcBlock, LcKind};
use super::pi_header::PiHeader;
use super::{Dialect, DialectChoice, WireError};

const FRAME: &str = "pipeline";

/// The stage at which a burst was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Wrong length, or no sync and no EMB QR(16,7) could repair.
    Sync,
    /// Golay(20,8) could not repair the slot type.
    SlotType,
    /// BPTC(196,96) or trellis ¾ could not repair the info bits.
    Fec,
    /// The CRC (or the RS parity of a full LC) checks under no dialect tried.
    Crc,
    /// The block decoded but its fields could not be read.
    Parse,
}

/// Why [`decode_burst`] dropped a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{stage:?}: {error}")]
pub struct DecodeError {
    /// Where.
    pub stage: Stage,
    /// What the stage reported.
    pub error: WireError,
}

fn fail(stage: Stage, error: WireError) -> DecodeError {
    DecodeError { stage, error }
}

/// The typed content of a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pdu {
    /// Data type 3: a CSBK whose CRC checked.
    Csbk(Csbk),
    /// Data type 4: an MBC header block whose CRC checked (feed it to
    /// [`csbk::mbc::MbcAssembler`]).
    MbcHeader([u8; 12]),
    /// Data type 5: an MBC continuation block (checked when the MBC completes).
    MbcContinuation([u8; 12]),
    /// Data types 1 and 2: voice LC header or terminator with LC.
    FullLc(FullLcBlock),
    /// Data type 0: privacy indicator header.
    PiHeader(PiHeader),
    /// Data type 6: a data header whose CRC checked, with its raw block for the assembler.
    DataHeader { header: DataHeader, block: [u8; 12] },
    /// Data types 7, 8, 10: a data block, `octets[..rate.block_len()]` valid (checked by the
    /// assembler).
    DataBlock { rate: Rate, octets: [u8; 24] },
    /// Data type 9: idle.
    Idle,
    /// Data type 11 or a reserved data type: the BPTC-decoded block.
    Other {
        data_type: DataType,
        block: [u8; 12],
    },
    /// A voice burst: A (sync) or B–F (EMB and the 32-bit embedded fragment).
    Voice { emb: Option<Emb>, fragment: u32 },
    /// The reverse-channel or reserved sync: nothing to decode.
    Reserved,
}

/// What the stateless pipeline made of one burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodedBurst {
    /// The sync found and its bit errors (`None` for voice bursts B–F).
    pub sync: Option<(SyncPattern, u32)>,
    /// The slot type of a data / control burst and the bits Golay corrected.
    pub slot_type: Option<(SlotType, usize)>,
    /// Bits corrected by BPTC / trellis / QR(16,7) (EMB), or RS octets for a full LC.
    pub fec_corrected: usize,
    /// The dialect whose mask checked, where the PDU has a masked check.
    pub dialect: Option<Dialect>,
    /// True when a CRC was checked here (and passed); false when the PDU has no check at this
    /// stage (data blocks, MBC continuation, idle, voice).
    pub crc_ok: bool,
    /// The content.
    pub pdu: Pdu,
}

/// Run the stateless pipeline on one 33-octet burst, trying the dialects of `choice`.
pub fn decode_burst(input: &[u8], choice: DialectChoice) -> Result<DecodedBurst, DecodeError> {
    // The stages' results are borrowed where they lie, not moved on through `?` and `map_err`:
    // each move copied a value the callee had just written field by field, and reading it
    // back in wider words stalled (store forwarding) for longer than the stage itself took.
    let parsed = BurstRepr::parse(input);
    let repr = match &parsed {
        Ok(repr) => repr,
        Err(
            e @ WireError::Uncorrectable {
                field: "slot_type", ..
            },
        ) => return Err(fail(Stage::SlotType, *e)),
        Err(e) => return Err(fail(Stage::Sync, *e)),
    };
    let sync = repr.sync();
    let data = match repr {
        BurstRepr::Data(d) => d,
        BurstRepr::Voice(v) => {
            let (emb, fec_corrected, fragment) = match v.centre {
                VoiceCentre::Sync { .. } => (None, 0, 0),
                VoiceCentre::Embedded {
                    emb,
                    corrected,
                    fragment,
                } => (Some(emb), corrected, fragment),
            };
            return Ok(DecodedBurst {
                sync,
                slot_type: None,
                fec_corrected,
                dialect: None,
                crc_ok: false,
                pdu: Pdu::Voice { emb, fragment },
            });
        }
        BurstRepr::Other(_) => {
            return Ok(DecodedBurst {
                sync,
                slot_type: None,
                fec_corrected: 0,
                dialect: None,
                crc_ok: false,
                pdu: Pdu::Reserved,
            });
        }
    };
    let mut out = DecodedBurst {
        sync,
        slot_type: Some((data.slot_type, data.slot_type_corrected)),
        fec_corrected: 0,
        dialect: None,
        crc_ok: false,
        pdu: Pdu::Idle,
    };
    let dt = data.slot_type.data_type;
    match dt {
        DataType::RateThreeQuarterData => {
            let (payload, n) = trellis::decode(&data.info).ok_or(fail(
                Stage::Fec,
                WireError::Uncorrectable {
                    frame: FRAME,
                    field: "trellis",
                },
            ))?;
            let mut octets = [0u8; 24];
            octets[..trellis::PAYLOAD_LEN].copy_from_slice(&payload);
            out.fec_corrected = n;
            out.pdu = Pdu::DataBlock {
                rate: Rate::ThreeQuarter,
                octets,
            };
            return Ok(out);
        }
        DataType::RateOneData => {
            out.pdu = Pdu::DataBlock {
                rate: Rate::One,
                octets: burst::rate_one_payload(&data.info),
            };
            return Ok(out);
        }
        _ => {}
    }
    let Some((block, n)) = bptc::decode(&data.info) else {
        return Err(fail(
            Stage::Fec,
            WireError::Uncorrectable {
                frame: FRAME,
                field: "bptc",
            },
        ));
    };
    out.fec_corrected = n;
    let crc_error = |frame: &'static str| {
        fail(
            Stage::Crc,
            WireError::Crc {
                frame,
                field: "crc",
                got: u32::from(u16::from_be_bytes([block[10], block[11]])),
                want: 0,
            },
        )
    };
    match dt {
        DataType::Csbk => {
            let Some(dialect) = Csbk::check(&block, choice) else {
                return Err(crc_error("csbk"));
            };
            // `Csbk::parse` of a 12-octet block, which cannot fail, built in the returned
            // value: through `out` the common control burst took one more copy (see above).
            return Ok(DecodedBurst {
                dialect: Some(dialect),
                crc_ok: true,
                pdu: Pdu::Csbk(Csbk::read(&block, Channel::Conventional)),
                ..out
            });
        }
        DataType::MbcHeader => {
            let dialect = csbk::mbc::check_header(&block, choice).ok_or(crc_error("mbc"))?;
            out.dialect = Some(dialect);
            out.crc_ok = true;
            out.pdu = Pdu::MbcHeader(block);
        }
        DataType::MbcContinuation => out.pdu = Pdu::MbcContinuation(block),
        DataType::VoiceLcHeader | DataType::TerminatorWithLc => {
            let kind = if dt == DataType::VoiceLcHeader {
                LcKind::Header
            } else {
                LcKind::Terminator
            };
            let lc = FullLc::parse_full_as(&block, kind, choice).map_err(|e| match e {
                WireError::Uncorrectable { .. } => fail(Stage::Crc, e),
                e => fail(Stage::Parse, e),
            })?;
            out.fec_corrected += lc.corrected;
            out.dialect = Some(lc.dialect);
            out.crc_ok = true;
            out.pdu = Pdu::FullLc(lc);
        }
        DataType::PiHeader => {
            let dialect = PiHeader::check(&block, choice).ok_or(crc_error("pi_header"))?;
            let pi = PiHeader::parse(&block).map_err(|e| fail(Stage::Parse, e))?;
            out.dialect = Some(dialect);
            out.crc_ok = true;
            out.pdu = Pdu::PiHeader(pi);
        }
        DataType::DataHeader => {
            let dialect = DataHeader::check(&block, choice).ok_or(crc_error("data_header"))?;
            let header = DataHeader::parse(&block).map_err(|e| fail(Stage::Parse, e))?;
            out.dialect = Some(dialect);
            out.crc_ok = true;
            out.pdu = Pdu::DataHeader { header, block };
        }
        DataType::RateHalfData => {
            let mut octets = [0u8; 24];
            octets[..12].copy_from_slice(&block);
            out.pdu = Pdu::DataBlock {
                rate: Rate::Half,
                octets,
            };
        }
        DataType::Idle => out.pdu = Pdu::Idle,
        other => {
            out.pdu = Pdu::Other {
                data_type: other,
                block,
            }
        }
    }
    Ok(out)
}

/// Build a data / control burst around a 12-octet block: BPTC(196,96), the slot type with
/// `colour_code` and `data_type`, and `sync` (the transmit side of this pipeline).
pub fn bptc_burst(
    sync: SyncPattern,
    colour_code: u8,
    data_type: DataType,
    block: &[u8; 12],
) -> [u8; burst::LEN] {
    burst::data_burst(sync, colour_code, data_type, &bptc::encode(block))
}

/// Build a data continuation burst of `rate` around `octets` (12, 18 or 24 octets: BPTC,
/// trellis ¾ or rate 1). A block of the wrong length is an `Invalid` error naming `block_len`.
pub fn data_block_burst(
    sync: SyncPattern,
    colour_code: u8,
    rate: Rate,
    octets: &[u8],
) -> Result<[u8; burst::LEN], WireError> {
    let bad = || WireError::Invalid {
        frame: FRAME,
        field: "block_len",
        value: u32::try_from(octets.len()).unwrap_or(u32::MAX),
    };
    let (dt, info) = match rate {
        Rate::Half => (
            DataType::RateHalfData,
            bptc::encode(octets.try_into().map_err(|_| bad())?),
        ),
        Rate::ThreeQuarter => (
            DataType::RateThreeQuarterData,
            trellis::encode(octets.try_into().map_err(|_| bad())?),
        ),
        Rate::One => (
            DataType::RateOneData,
            burst::rate_one_info(octets.try_into().map_err(|_| bad())?),
        ),
    };
    Ok(burst::data_burst(sync, colour_code, dt, &info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::csbk::{CsbkBody, ReasonCode};

    #[test]
    fn csbk_round_trip_in_both_dialects() {
        for dialect in [Dialect::Dmr, Dialect::Pdt] {
            let c = Csbk::ackd(837, 0xFFFEC6, ReasonCode(0x62));
            let b = bptc_burst(SyncPattern::BsData, 7, DataType::Csbk, &c.to_bytes(dialect));
            let d = decode_burst(&b, DialectChoice::Auto).unwrap();
            assert_eq!(d.dialect, Some(dialect));
            assert!(d.crc_ok);
            assert_eq!(d.slot_type.unwrap().0.colour_code, 7);
            assert_eq!(d.sync, Some((SyncPattern::BsData, 0)));
            let Pdu::Csbk(got) = d.pdu else {
                panic!("csbk")
            };
            assert!(matches!(got.body, CsbkBody::CAckd(a) if a.target == 837));
        }
    }

    #[test]
    fn golden_ahoy_vector_decodes() {
        // docs/air-interface.md §3.8 `gophertrunk-ahoy`
        let block: [u8; 12] = hex::decode("9c00000e0002d0fffeca9425")
            .unwrap()
            .try_into()
            .unwrap();
        let b = bptc_burst(SyncPattern::BsData, 1, DataType::Csbk, &block);
        let d = decode_burst(&b, DialectChoice::Auto).unwrap();
        assert_eq!(d.dialect, Some(Dialect::Dmr));
        let Pdu::Csbk(c) = d.pdu else { panic!("csbk") };
        assert_eq!((c.target(), c.source()), (Some(720), Some(0xFFFECA)));
    }

    #[test]
    fn each_stage_reports_its_failure() {
        let c = Csbk::ackd(1, 2, ReasonCode(0x62)).to_bytes(Dialect::Dmr);
        let good = bptc_burst(SyncPattern::BsData, 1, DataType::Csbk, &c);
        assert_eq!(
            decode_burst(&good[..32], DialectChoice::Auto)
                .unwrap_err()
                .stage,
            Stage::Sync
        );
        // a wrong mask: DMR block read as PDT only
        assert_eq!(
            decode_burst(&good, DialectChoice::Pdt).unwrap_err().stage,
            Stage::Crc
        );
        // slot type destroyed
        let mut st = good;
        burst::set_slot_type_bits(&mut st, burst::slot_type_bits(&good) ^ 0x0_000F);
        assert_eq!(
            decode_burst(&st, DialectChoice::Auto).unwrap_err().stage,
            Stage::SlotType
        );
        // info bits destroyed
        let mut fec = good;
        for b in fec[0..10].iter_mut() {
            *b ^= 0x5A;
        }
        let e = decode_burst(&fec, DialectChoice::Auto).unwrap_err();
        assert!(matches!(e.stage, Stage::Fec | Stage::Crc), "{e:?}");
        // one flipped info bit is corrected and counted
        let mut one = good;
        one[3] ^= 0x10;
        assert_eq!(
            decode_burst(&one, DialectChoice::Auto)
                .unwrap()
                .fec_corrected,
            1
        );
    }

    #[test]
    fn data_blocks_of_every_rate_come_back() {
        for (rate, len) in [(Rate::Half, 12), (Rate::ThreeQuarter, 18), (Rate::One, 24)] {
            let octets: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            let b = data_block_burst(SyncPattern::MsData, 3, rate, &octets).unwrap();
            let d = decode_burst(&b, DialectChoice::Pdt).unwrap();
            assert!(!d.crc_ok);
            assert_eq!(
                d.pdu,
                Pdu::DataBlock {
                    rate,
                    octets: {
                        let mut o = [0u8; 24];
                        o[..len].copy_from_slice(&octets);
                        o
                    }
                }
            );
        }
        assert!(data_block_burst(SyncPattern::MsData, 3, Rate::Half, &[0; 11]).is_err());
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let mut x: u64 = 0x1234_5678;
        for _ in 0..2_000 {
            let mut b = [0u8; 33];
            for o in b.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *o = x as u8;
            }
            let _ = decode_burst(&b, DialectChoice::Auto);
        }
    }
}
