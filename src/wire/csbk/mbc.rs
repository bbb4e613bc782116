//! MBC: multi-block control. A header block (DT 4) laid out as a CSBK with LB = 0 and the
//! MBC-header mask on its CRC (`AAAA` DMR, `D8ED` PDT), then one or more continuation blocks
//! (DT 5); the last one (LB = 1) carries a CRC-CCITT over all continuation blocks concatenated,
//! with no mask (dsd-fme dmr_block.c, sdrtrunk `MBC_LAST_BLOCK_CRC_MASK = 0x0`;
//! air-interface.md 2.6, 3.6; no public MBC capture exists, §9.6). Non-last continuation blocks
//! are 12 data octets; the last is 10 data octets and the CRC (Hytera PDT dll.h
//! `MBC_CONTINUATION_LEN` 12 / `MBC_TAIL_LEN` 10).
//!
//! Grants, C_BCAST and C_MOVE with LPCN 0xFFF carry their channel as CG_AP absolute channel
//! parameters in a single continuation block (sdrtrunk AbsoluteChannelParameters.java, dmrgo
//! mbc.go, dsd-fme; air-interface.md 3.4). A one-continuation MBC decodes that block as
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

/// Frequency resolution of CG_AP (air-interface.md 3.4).
pub const STEP_HZ: u64 = 125;

impl CgAp {
    /// Last-block CG_AP for `opcode` defining `lpcn` on `tx_hz` / `rx_hz`; `None` when a
    /// frequency is not a multiple of 125 Hz or is 1024 MHz or more.
    pub fn new(opcode: u8, colour_code: u8, lpcn: u16, tx_hz: u64, rx_hz: u64) -> Option<CgAp> {
        let split = |hz: u64| -> Option<(u16, u16)> {
            let mhz = hz / 1_000_000;
            let rest = hz % 1_000_000;
            (rest % STEP_HZ == 0 && mhz < 1024).then(|| (mhz as u16, (rest / STEP_HZ) as u16))
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
