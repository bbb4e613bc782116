//! MBC: multi-block control. A header block (DT 4) laid out as a CSBK with LB = 0 and the
//! MBC-header mask on its CRC (`AAAA` DMR, `D8ED` PDT), then one or more continuation blocks
//! (DT 5); the last one (LB = 1) carries a CRC-CCITT over all continuation blocks concatenated,
//! with no mask (dsd-fme dmr_block.c, sdrtrunk `MBC_LAST_BLOCK_CRC_MASK = 0x0`;
//! docs/air-interface.md §2.6, 3.6; no public MBC capture exists, §9.6). Non-last continuation blocks
//! are 12 data octets; the last is 10 data octets and the CRC (Hytera PDT dll.h
//! `MBC_CONTINUATION_LEN` 12 / `MBC_TAIL_LEN` 10).
//!
//! Grants, C_BCAST and C_MOVE with LPCN 0xFFF carry their channel as CG_AP absolute channel
//! parameters in a single continuation block (sdrtrunk AbsoluteChannelParameters.java, dmrgo
//! mbc.go, dsd-fme; docs/air-interface.md §3.4). A one-continuation MBC decodes that block as
//! [`CgAp`]; longer MBCs keep their continuation blocks raw.
//!
//! Bounded: at most [`MAX_CONTINUATION`] continuation blocks (dll.h `MBC_BLACK_MAX` = 4 blocks
//! in all); the assembler drops a partial MBC when a new header arrives.

use serde::Serialize;

use super::{Channel, Csbk, LEN};
use crate::wire::crc;
use crate::wire::{Dialect, DialectChoice, Result, WireError};

const FRAME: &str = "mbc";

/// Most continuation blocks after one header (four blocks in all, Hytera PDT dll.h).
pub const MAX_CONTINUATION: usize = 3;

layout! {
    /// CG_AP: absolute channel parameters in an MBC continuation block. TX/RX are named from
    /// the MS point of view as in sdrtrunk (§9.6). Frequency = MHz · 10⁶ + step · 125 Hz.
    pub struct CgAp {
        /// LB: true when this is the last block.
        last_block: bool = [0, 1],
        /// PF.
        protect: bool = [1, 1],
        /// The opcode of the header, repeated.
        opcode: u8 = [2, 6],
        #[serde(skip)]
        reserved: u8 = [8, 4],
        /// Colour code of the new channel.
        colour_code: u8 = [12, 4],
        /// CDEFTYPE (0 = channel parameters follow).
        cdeftype: u8 = [16, 4],
        #[serde(skip)]
        reserved2: u8 = [20, 2],
        /// The logical channel being defined (12 bits).
        lpcn: u16 = [22, 12],
        /// Transmit frequency, whole MHz (10 bits).
        tx_mhz: u16 = [34, 10],
        /// Transmit frequency, 125 Hz steps above the MHz (13 bits).
        tx_step: u16 = [44, 13],
        /// Receive frequency, whole MHz (10 bits).
        rx_mhz: u16 = [57, 10],
        /// Receive frequency, 125 Hz steps above the MHz (13 bits).
        rx_step: u16 = [67, 13],
    }
}

/// Frequency resolution of CG_AP (docs/air-interface.md §3.4).
pub const STEP_HZ: u64 = 125;

impl CgAp {
    /// Last-block CG_AP for `opcode` defining `lpcn` on `tx_hz` / `rx_hz`; `None` when a
    /// frequency is not a multiple of 125 Hz or is 1024 MHz or more.
    pub fn new(opcode: u8, colour_code: u8, lpcn: u16, tx_hz: u64, rx_hz: u64) -> Option<CgAp> {
        let split = |hz: u64| -> Option<(u16, u16)> {
            let mhz = hz / 1_000_000;
            let rest = hz % 1_000_000;
            (rest.is_multiple_of(STEP_HZ) && mhz < 1024)
                .then_some((mhz as u16, (rest / STEP_HZ) as u16))
        };
        let (tx_mhz, tx_step) = split(tx_hz)?;
        let (rx_mhz, rx_step) = split(rx_hz)?;
        Some(CgAp {
            last_block: true,
            protect: false,
            opcode: opcode & 0x3F,
            reserved: 0,
            colour_code: colour_code & 0x0F,
            cdeftype: 0,
            reserved2: 0,
            lpcn: lpcn & 0x0FFF,
            tx_mhz,
            tx_step,
            rx_mhz,
            rx_step,
        })
    }

    /// Transmit frequency in Hz.
    pub fn tx_hz(&self) -> u64 {
        u64::from(self.tx_mhz) * 1_000_000 + u64::from(self.tx_step) * STEP_HZ
    }

    /// Receive frequency in Hz.
    pub fn rx_hz(&self) -> u64 {
        u64::from(self.rx_mhz) * 1_000_000 + u64::from(self.rx_step) * STEP_HZ
    }
}

/// What follows the MBC header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continuation {
    /// One continuation block, decoded as CG_AP.
    Channel(CgAp),
    /// Two or more continuation blocks, as received (the CRC octets of the last one are
    /// rewritten on emit).
    Raw(Vec<[u8; LEN]>),
}

/// A complete multi-block control PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mbc {
    /// The header block (LB = 0), decoded as a CSBK.
    pub header: Csbk,
    /// The continuation block(s).
    pub continuation: Continuation,
}

impl Mbc {
    /// An MBC of `header` (its LB is cleared) and one CG_AP block (its LB is set).
    pub fn new(mut header: Csbk, mut channel: CgAp) -> Mbc {
        header.last_block = false;
        channel.last_block = true;
        Mbc {
            header,
            continuation: Continuation::Channel(channel),
        }
    }

    /// The absolute channel parameters, if the MBC has them.
    pub fn channel(&self) -> Option<&CgAp> {
        match &self.continuation {
            Continuation::Channel(c) => Some(c),
            Continuation::Raw(_) => None,
        }
    }

    /// Number of continuation blocks.
    pub fn continuation_blocks(&self) -> usize {
        match &self.continuation {
            Continuation::Channel(_) => 1,
            Continuation::Raw(blocks) => blocks.len(),
        }
    }

    /// Octets [`Mbc::emit`] writes: 12 per block, header first.
    pub fn buffer_len(&self) -> usize {
        LEN * (1 + self.continuation_blocks())
    }

    /// Write every block into `out[..buffer_len()]`: the header (send as DT 4) with the
    /// dialect's MBC-header mask, then the continuation blocks (DT 5), the last with the
    /// unmasked CRC over all continuation blocks.
    ///
    /// # Panics
    /// If `out` is shorter than [`Mbc::buffer_len`] (a caller bug).
    pub fn emit(&self, dialect: Dialect, out: &mut [u8]) {
        assert!(out.len() >= self.buffer_len(), "mbc: emit buffer too short");
        self.header
            .emit_masked(dialect.masks().mbc_header, &mut out[..LEN]);
        let cont = &mut out[LEN..self.buffer_len()];
        match &self.continuation {
            Continuation::Channel(c) => {
                let mut block = [0u8; LEN];
                c.write(&mut block);
                cont[..LEN].copy_from_slice(&block);
            }
            Continuation::Raw(blocks) => {
                for (chunk, block) in cont.chunks_exact_mut(LEN).zip(blocks) {
                    chunk.copy_from_slice(block);
                }
            }
        }
        let crc_at = cont.len() - 2;
        let crc = crc::crc16_ccitt(&cont[..crc_at]);
        cont[crc_at..].copy_from_slice(&crc.to_be_bytes());
    }
}

impl Serialize for Mbc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct ChannelView<'a> {
            #[serde(flatten)]
            params: &'a CgAp,
            tx_hz: u64,
            rx_hz: u64,
        }
        #[derive(Serialize)]
        struct View<'a> {
            header: &'a Csbk,
            #[serde(skip_serializing_if = "Option::is_none")]
            channel: Option<ChannelView<'a>>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            continuation_hex: Vec<String>,
        }
        let (channel, continuation_hex) = match &self.continuation {
            Continuation::Channel(c) => (
                Some(ChannelView {
                    params: c,
                    tx_hz: c.tx_hz(),
                    rx_hz: c.rx_hz(),
                }),
                Vec::new(),
            ),
            Continuation::Raw(blocks) => (None, blocks.iter().map(hex::encode).collect()),
        };
        View {
            header: &self.header,
            channel,
            continuation_hex,
        }
        .serialize(s)
    }
}

/// Which dialect's MBC-header mask (`AAAA` DMR, `D8ED` PDT) validates `block`, DMR first.
pub fn check_header(block: &[u8], choice: DialectChoice) -> Option<Dialect> {
    let block = <&[u8; LEN]>::try_from(block).ok()?;
    crc::which_ccitt_dialect(block, |m| m.mbc_header, choice)
}

fn exact(block: &[u8]) -> Result<&[u8; LEN]> {
    <&[u8; LEN]>::try_from(block).map_err(|_| {
        if block.len() < LEN {
            WireError::Truncated {
                frame: FRAME,
                need: LEN,
                have: block.len(),
            }
        } else {
            WireError::TooLong {
                frame: FRAME,
                max: LEN,
                have: block.len(),
            }
        }
    })
}

/// Reassembles MBCs from header and continuation blocks as they come off the air.
#[derive(Debug, Clone)]
pub struct MbcAssembler {
    choice: DialectChoice,
    channel: Channel,
    header: Option<(Csbk, Dialect)>,
    /// Bounded by [`MAX_CONTINUATION`].
    blocks: Vec<[u8; LEN]>,
}

impl MbcAssembler {
    /// An assembler trying the dialects of `choice`, decoding headers as heard on `channel`.
    pub fn new(choice: DialectChoice, channel: Channel) -> MbcAssembler {
        MbcAssembler {
            choice,
            channel,
            header: None,
            blocks: Vec::with_capacity(MAX_CONTINUATION),
        }
    }

    /// Drop any partial MBC.
    pub fn reset(&mut self) {
        self.header = None;
        self.blocks.clear();
    }

    /// Whether a header is waiting for its continuation blocks.
    pub fn is_pending(&self) -> bool {
        self.header.is_some()
    }

    /// Start an MBC with its header block (DT 4). A partial MBC is dropped first.
    pub fn feed_header(&mut self, block: &[u8]) -> Result<()> {
        self.reset();
        let block = exact(block)?;
        let Some(dialect) = crc::which_ccitt_dialect(block, |m| m.mbc_header, self.choice) else {
            let got = u16::from_be_bytes([block[10], block[11]]);
            let want = crc::crc16_ccitt(&block[..10]) ^ crc::DMR_MASKS.mbc_header;
            return Err(WireError::Crc {
                frame: FRAME,
                field: "header crc",
                got: got.into(),
                want: want.into(),
            });
        };
        let header = Csbk::parse_on(block, self.channel)?;
        if header.last_block {
            return Err(WireError::Invalid {
                frame: FRAME,
                field: "header last_block",
                value: 1,
            });
        }
        self.header = Some((header, dialect));
        Ok(())
    }

    /// Add a continuation block (DT 5). Returns the MBC and the header's dialect once the
    /// last block (LB = 1) has arrived and the CRC over the continuation blocks checks.
    /// Any error drops the partial MBC.
    pub fn feed_continuation(&mut self, block: &[u8]) -> Result<Option<(Mbc, Dialect)>> {
        let result = self.continuation(block);
        if !matches!(result, Ok(None)) {
            self.reset();
        }
        result
    }

    fn continuation(&mut self, block: &[u8]) -> Result<Option<(Mbc, Dialect)>> {
        let block = exact(block)?;
        let Some((header, dialect)) = self.header else {
            return Err(WireError::Invalid {
                frame: FRAME,
                field: "continuation without header",
                value: u32::from(block[0]),
            });
        };
        if self.blocks.len() >= MAX_CONTINUATION {
            return Err(WireError::TooLong {
                frame: FRAME,
                max: MAX_CONTINUATION,
                have: self.blocks.len() + 1,
            });
        }
        self.blocks.push(*block);
        if block[0] & 0x80 == 0 {
            return Ok(None);
        }
        let mut data = Vec::with_capacity(self.blocks.len() * LEN);
        for b in &self.blocks {
            data.extend_from_slice(b);
        }
        let crc_at = data.len() - 2;
        let want = crc::crc16_ccitt(&data[..crc_at]);
        let got = u16::from_be_bytes([data[crc_at], data[crc_at + 1]]);
        if !cfg!(fuzzing) && got != want {
            return Err(WireError::Crc {
                frame: FRAME,
                field: "continuation crc",
                got: got.into(),
                want: want.into(),
            });
        }
        let continuation = match self.blocks.as_slice() {
            [one] => Continuation::Channel(CgAp::read(one)),
            more => Continuation::Raw(more.to_vec()),
        };
        Ok(Some((
            Mbc {
                header,
                continuation,
            },
            dialect,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::csbk::{CsbkBody, LogicalSlot};

    const TX_HZ: u64 = 351_012_500;
    const RX_HZ: u64 = 361_012_500;

    fn grant_mbc() -> Mbc {
        let header = Csbk::tv_grant(0xFFF, LogicalSlot::Ts2, 2001, 1_234_567);
        let channel = CgAp::new(0x31, 7, 0x123, TX_HZ, RX_HZ).expect("representable");
        Mbc::new(header, channel)
    }

    fn emit(mbc: &Mbc, dialect: Dialect) -> Vec<u8> {
        let mut out = vec![0u8; mbc.buffer_len()];
        mbc.emit(dialect, &mut out);
        out
    }

    fn assemble(blocks: &[u8], choice: DialectChoice) -> Result<Option<(Mbc, Dialect)>> {
        let mut asm = MbcAssembler::new(choice, Channel::TrunkedControl);
        asm.feed_header(&blocks[..LEN])?;
        let mut last = Ok(None);
        for block in blocks[LEN..].chunks(LEN) {
            last = asm.feed_continuation(block);
        }
        last
    }

    #[test]
    fn cg_ap_bits_sit_where_the_layout_says() {
        let c = CgAp::new(0x31, 7, 0x123, TX_HZ, RX_HZ).unwrap();
        assert_eq!((c.tx_mhz, c.tx_step), (351, 100));
        assert_eq!((c.rx_mhz, c.rx_step), (361, 100));
        assert_eq!((c.tx_hz(), c.rx_hz()), (TX_HZ, RX_HZ));
        // LB PF opcode | reserved cc | CDEFTYPE reserved | LPCN TX MHz TX step RX MHz RX step
        let bits = format!(
            "1{:01b}{:06b}{:04b}{:04b}{:04b}{:02b}{:012b}{:010b}{:013b}{:010b}{:013b}",
            0, 0x31, 0, 7, 0, 0, 0x123, 351, 100, 361, 100
        );
        assert_eq!(bits.len(), 80);
        let want: Vec<u8> = (0..10)
            .map(|i| u8::from_str_radix(&bits[i * 8..i * 8 + 8], 2).unwrap())
            .collect();
        let mut block = [0xA5u8; LEN];
        c.write(&mut block);
        assert_eq!(block[..10], want[..]);
        assert_eq!(CgAp::read(&block), c);
        let mut covered = [false; 80];
        for &(start, len) in CgAp::FIELDS {
            for slot in &mut covered[start..start + len] {
                assert!(!*slot);
                *slot = true;
            }
        }
        assert!(covered.iter().all(|&c| c));
    }

    #[test]
    fn unrepresentable_frequencies_are_refused() {
        assert_eq!(CgAp::new(0x31, 0, 1, 351_000_001, RX_HZ), None);
        assert_eq!(CgAp::new(0x31, 0, 1, TX_HZ, 1_024_000_000), None);
    }

    #[test]
    fn grant_with_absolute_channel_round_trips_in_both_dialects() {
        let mbc = grant_mbc();
        for dialect in [Dialect::Dmr, Dialect::Pdt] {
            let out = emit(&mbc, dialect);
            assert_eq!(out.len(), 2 * LEN);
            let mut dirty = vec![0xA5u8; mbc.buffer_len()];
            mbc.emit(dialect, &mut dirty);
            assert_eq!(dirty, out);
            // The header carries the MBC-header mask, not the CSBK one.
            assert_eq!(
                check_header(&out[..LEN], DialectChoice::Auto),
                Some(dialect)
            );
            assert_eq!(Csbk::check(&out[..LEN], DialectChoice::Auto), None);
            assert_eq!(out[0] & 0x80, 0, "header LB = 0");
            assert_eq!(out[LEN] & 0x80, 0x80, "last continuation LB = 1");
            // The continuation CRC is unmasked, over the continuation block only.
            let crc = crc::crc16_ccitt(&out[LEN..LEN + 10]);
            assert_eq!(out[2 * LEN - 2..], crc.to_be_bytes());

            let (got, got_dialect) = assemble(&out, DialectChoice::Auto).unwrap().unwrap();
            assert_eq!(got_dialect, dialect);
            assert_eq!(got, mbc);
            let ch = got.channel().unwrap();
            assert_eq!(
                (ch.tx_hz(), ch.rx_hz(), ch.lpcn, ch.colour_code),
                (TX_HZ, RX_HZ, 0x123, 7)
            );
            assert!(matches!(got.header.body, CsbkBody::TvGrant(g) if g.lpcn == 0xFFF));
        }
        // The PDT header does not check under DMR only.
        let out = emit(&mbc, Dialect::Pdt);
        assert!(matches!(
            assemble(&out, DialectChoice::Dmr),
            Err(WireError::Crc {
                frame: "mbc",
                field: "header crc",
                ..
            })
        ));
    }

    #[test]
    fn longer_mbc_keeps_continuations_raw_and_reemits_them() {
        let header = Csbk::tv_grant(0xFFF, LogicalSlot::Ts1, 1, 2);
        let mut first = [0x11u8; LEN];
        first[0] = 0x31; // LB = 0
        let mut last = [0x22u8; LEN];
        last[0] = 0x80 | 0x31;
        let mut mbc = Mbc::new(header, CgAp::new(0x31, 0, 1, TX_HZ, RX_HZ).unwrap());
        mbc.continuation = Continuation::Raw(vec![first, last]);
        let out = emit(&mbc, Dialect::Dmr);
        assert_eq!(out.len(), 3 * LEN);
        let crc = crc::crc16_ccitt(&out[LEN..3 * LEN - 2]);
        assert_eq!(out[3 * LEN - 2..], crc.to_be_bytes());
        let (got, _) = assemble(&out, DialectChoice::Auto).unwrap().unwrap();
        assert_eq!(got.continuation_blocks(), 2);
        assert_eq!(got.channel(), None);
        assert_eq!(emit(&got, Dialect::Dmr), out);
    }

    #[test]
    fn corrupt_continuation_is_a_crc_error_and_resets() {
        let mut out = emit(&grant_mbc(), Dialect::Dmr);
        out[LEN + 5] ^= 0x04;
        let mut asm = MbcAssembler::new(DialectChoice::Auto, Channel::TrunkedControl);
        asm.feed_header(&out[..LEN]).unwrap();
        assert!(asm.is_pending());
        assert!(matches!(
            asm.feed_continuation(&out[LEN..]),
            Err(WireError::Crc {
                frame: "mbc",
                field: "continuation crc",
                ..
            })
        ));
        assert!(!asm.is_pending());
    }

    #[test]
    fn continuation_without_header_is_refused() {
        let out = emit(&grant_mbc(), Dialect::Dmr);
        let mut asm = MbcAssembler::new(DialectChoice::Auto, Channel::TrunkedControl);
        assert!(matches!(
            asm.feed_continuation(&out[LEN..]),
            Err(WireError::Invalid {
                frame: "mbc",
                field: "continuation without header",
                ..
            })
        ));
    }

    #[test]
    fn header_with_last_block_set_is_refused() {
        let mut header = [0u8; LEN];
        Csbk::tv_grant(0xFFF, LogicalSlot::Ts1, 1, 2)
            .emit_masked(crc::DMR_MASKS.mbc_header, &mut header);
        let mut asm = MbcAssembler::new(DialectChoice::Auto, Channel::TrunkedControl);
        assert_eq!(
            asm.feed_header(&header),
            Err(WireError::Invalid {
                frame: "mbc",
                field: "header last_block",
                value: 1
            })
        );
    }

    #[test]
    fn too_many_continuation_blocks_are_refused() {
        let out = emit(&grant_mbc(), Dialect::Dmr);
        let mut asm = MbcAssembler::new(DialectChoice::Auto, Channel::TrunkedControl);
        asm.feed_header(&out[..LEN]).unwrap();
        let not_last = [0u8; LEN];
        for _ in 0..MAX_CONTINUATION {
            assert_eq!(asm.feed_continuation(&not_last), Ok(None));
        }
        assert!(matches!(
            asm.feed_continuation(&not_last),
            Err(WireError::TooLong { frame: "mbc", .. })
        ));
        assert!(!asm.is_pending());
    }

    #[test]
    fn truncated_blocks_are_refused() {
        let out = emit(&grant_mbc(), Dialect::Dmr);
        let mut asm = MbcAssembler::new(DialectChoice::Auto, Channel::TrunkedControl);
        assert_eq!(
            asm.feed_header(&out[..11]),
            Err(WireError::Truncated {
                frame: "mbc",
                need: 12,
                have: 11
            })
        );
        asm.feed_header(&out[..LEN]).unwrap();
        assert_eq!(
            asm.feed_continuation(&out[LEN..2 * LEN - 1]),
            Err(WireError::Truncated {
                frame: "mbc",
                need: 12,
                have: 11
            })
        );
    }

    #[test]
    fn serialises_the_channel_in_hz() {
        let json = serde_json::to_value(grant_mbc()).unwrap();
        assert_eq!(json["header"]["opcode_name"], "TV_GRANT");
        assert_eq!(json["header"]["lpcn"], 0xFFF);
        assert_eq!(json["channel"]["tx_hz"], TX_HZ);
        assert_eq!(json["channel"]["rx_hz"], RX_HZ);
        assert_eq!(json["channel"]["lpcn"], 0x123);
    }
}
