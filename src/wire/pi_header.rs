//! PI header: the privacy indicator sent before encrypted voice or data (data type 0, BPTC(196,96),
//! CRC-CCITT ⊕ mask `6969` DMR / `89AA` PDT; TS 102 361-1 9.3 / B.3.12; docs/air-interface.md §2.7,
//! 3.9, 4.5).
//!
//! The layout is vendor specific and recognised by where the FID sits:
//!
//! | layout | octet 0 | octet 1 | 2 | 3.. | then | source |
//! |---|---|---|---|---|---|---|
//! | DMRA (FID `0x10` in octet 1) | res(2) G/I res(2) ALGID(3) | FID | key ID | MI (4) | destination (3) | Hytera `DMRA_PI_PDU`, ok-dmrlib test, dsd-fme #357 |
//! | Hytera PDT (FID `0x68` in octet 0) | FID | res(4) enc type(4) | key ID | IV (5) | reserved, checksum | Hytera `HYTERA_PI_PDU_PDT` [1 source] |
//! | Hytera DMR (FID `0x68` in octet 1) | res(4) enc type(4) | FID | key ID | IV (5) | reserved, checksum | same, octets 0 and 1 swapped |
//!
//! Anything else is kept raw. The Hytera checksum is the two's complement of the sum of the nine
//! octets before it (Epack_Alarm dll_idp.c `_PI_CheckSum`; that it covers exactly octets 0–8
//! of the PDU is inferred), so [`HyteraPi::checksum_ok`] reports it rather than `parse`
//! rejecting the header. The nibble order of octet 1 is inferred from C bit-field order.
//!
//! As for CSBKs: [`PiHeader::check`] finds the dialect whose mask makes the CRC check,
//! [`PiHeader::parse`] reads the fields only, and [`PiHeader::emit`] writes all 12 octets.

use super::crc::{seal_ccitt_block, which_ccitt_dialect};
use super::{Dialect, DialectChoice, Result, WireError};

const FRAME: &str = "pi_header";
/// Octets covered by the CRC.
const DATA_LEN: usize = 10;
/// Octets of the PDU, CRC included.
pub const LEN: usize = DATA_LEN + 2;

/// Motorola FID of the DMRA layout (docs/air-interface.md §3.2).
const FID_MOTOROLA: u8 = 0x10;
/// Hytera FID (`HFID`, docs/air-interface.md §3.9).
const FID_HYTERA: u8 = 0x68;

/// DMRA privacy indicator (FID 0x10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DmraPi {
    /// Octet 0 bits 7, 6, 4, 3 (reserved), packed in that order.
    pub reserved: u8,
    /// Octet 0 bit 5: group (1) or individual destination.
    pub group: bool,
    /// Octet 0 bits 2–0: algorithm ID (dsd-fme prints octet 0x21 as "DMRA RC4").
    pub algorithm: u8,
    /// Octet 2: key ID.
    pub key_id: u8,
    /// Octets 3–6: message indicator (IV).
    pub mi: u32,
    /// Octets 7–9: destination address.
    pub destination: u32,
}

/// Which Hytera octet order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HyteraOrder {
    /// FID in octet 0 (PDT mode).
    Pdt,
    /// FID in octet 1 (DMR mode).
    Dmr,
}

/// Hytera privacy indicator (FID 0x68).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HyteraPi {
    pub order: HyteraOrder,
    /// High nibble of the type octet (reserved).
    pub reserved: u8,
    /// Low nibble of the type octet: encryption type (2 in the source's comment).
    pub encryption_type: u8,
    /// Octet 2: key ID.
    pub key_id: u8,
    /// Octets 3–7: IV.
    #[serde(serialize_with = "hex_octets")]
    pub iv: [u8; 5],
    /// Octet 8 (reserved).
    pub reserved2: u8,
    /// Octet 9: checksum as sent.
    pub checksum: u8,
}

impl HyteraPi {
    fn octets(&self) -> [u8; DATA_LEN] {
        let type_octet = (self.reserved << 4) | (self.encryption_type & 0x0F);
        let (o0, o1) = match self.order {
            HyteraOrder::Pdt => (FID_HYTERA, type_octet),
            HyteraOrder::Dmr => (type_octet, FID_HYTERA),
        };
        let mut out = [
            o0,
            o1,
            self.key_id,
            0,
            0,
            0,
            0,
            0,
            self.reserved2,
            self.checksum,
        ];
        out[3..8].copy_from_slice(&self.iv);
        out
    }

    /// The checksum the other fields call for: minus the sum of octets 0–8, mod 256.
    pub fn expected_checksum(&self) -> u8 {
        let sum = self.octets()[..9]
            .iter()
            .fold(0u8, |s, &b| s.wrapping_add(b));
        sum.wrapping_neg()
    }

    /// Whether the checksum octet matches the other fields.
    pub fn checksum_ok(&self) -> bool {
        self.checksum == self.expected_checksum()
    }
}

/// A PI header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "layout", rename_all = "snake_case")]
pub enum PiHeader {
    Dmra(DmraPi),
    Hytera(HyteraPi),
    /// An unknown layout: the ten octets before the CRC.
    Raw {
        #[serde(serialize_with = "hex_octets")]
        data: [u8; DATA_LEN],
    },
}

fn hex_octets<S: serde::Serializer, const N: usize>(
    v: &[u8; N],
    s: S,
) -> core::result::Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

fn block12(block: &[u8]) -> Result<&[u8; LEN]> {
    block.try_into().map_err(|_| {
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

impl PiHeader {
    /// The dialect whose PI-header mask makes the CRC of `block` check (DMR tried first).
    pub fn check(block: &[u8], choice: DialectChoice) -> Option<Dialect> {
        let block = block12(block).ok()?;
        which_ccitt_dialect(block, |m| m.pi_header, choice)
    }

    /// Parse the fields of a 12-octet block; the CRC is not looked at (see [`PiHeader::check`]).
    pub fn parse(block: &[u8]) -> Result<PiHeader> {
        let b = block12(block)?;
        let hytera = |order, type_octet: u8| {
            let mut iv = [0u8; 5];
            iv.copy_from_slice(&b[3..8]);
            PiHeader::Hytera(HyteraPi {
                order,
                reserved: type_octet >> 4,
                encryption_type: type_octet & 0x0F,
                key_id: b[2],
                iv,
                reserved2: b[8],
                checksum: b[9],
            })
        };
        Ok(match (b[0], b[1]) {
            (o0, FID_MOTOROLA) => PiHeader::Dmra(DmraPi {
                reserved: ((o0 >> 6) << 2) | ((o0 >> 3) & 0x3),
                group: o0 & 0x20 != 0,
                algorithm: o0 & 0x07,
                key_id: b[2],
                mi: u32::from_be_bytes([b[3], b[4], b[5], b[6]]),
                destination: u32::from_be_bytes([0, b[7], b[8], b[9]]),
            }),
            (FID_HYTERA, o1) => hytera(HyteraOrder::Pdt, o1),
            (o0, FID_HYTERA) => hytera(HyteraOrder::Dmr, o0),
            _ => {
                let mut data = [0u8; DATA_LEN];
                data.copy_from_slice(&b[..DATA_LEN]);
                PiHeader::Raw { data }
            }
        })
    }

    /// Octets `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        LEN
    }

    /// Write all 12 octets, the CRC masked for `dialect`.
    pub fn emit(&self, dialect: Dialect, out: &mut [u8; LEN]) {
        let data = match self {
            PiHeader::Dmra(p) => {
                let r = p.reserved;
                let o0 = ((r >> 2) << 6)
                    | (u8::from(p.group) << 5)
                    | ((r & 0x3) << 3)
                    | (p.algorithm & 0x07);
                let mi = p.mi.to_be_bytes();
                let dst = p.destination.to_be_bytes();
                [
                    o0,
                    FID_MOTOROLA,
                    p.key_id,
                    mi[0],
                    mi[1],
                    mi[2],
                    mi[3],
                    dst[1],
                    dst[2],
                    dst[3],
                ]
            }
            PiHeader::Hytera(p) => p.octets(),
            PiHeader::Raw { data } => *data,
        };
        out[..DATA_LEN].copy_from_slice(&data);
        seal_ccitt_block(out, dialect.masks().pi_header);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex12(s: &str) -> [u8; 12] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn okdmr_pi_header_vector() {
        // okdmr-pi-header: ALG byte 0x21, FID 0x10, key 2, MI 177AFC73, destination 9, mask 6969
        let block = hex12("211002177afc730000090dda");
        assert_eq!(
            PiHeader::check(&block, DialectChoice::Auto),
            Some(Dialect::Dmr)
        );
        assert_eq!(PiHeader::check(&block, DialectChoice::Pdt), None);
        let pi = PiHeader::parse(&block).unwrap();
        assert_eq!(
            pi,
            PiHeader::Dmra(DmraPi {
                reserved: 0,
                group: true,
                algorithm: 1,
                key_id: 2,
                mi: 0x177A_FC73,
                destination: 9,
            })
        );
        let mut out = [0xA5u8; 12];
        pi.emit(Dialect::Dmr, &mut out);
        assert_eq!(out, block);
        // same fields under the PDT mask check only as PDT
        pi.emit(Dialect::Pdt, &mut out);
        assert_eq!(
            PiHeader::check(&out, DialectChoice::Auto),
            Some(Dialect::Pdt)
        );
        assert_eq!(out[..10], block[..10]);
        let json = serde_json::to_value(pi).unwrap();
        assert_eq!(json["layout"], "dmra");
        assert_eq!(json["mi"], 0x177A_FC73u32);
    }

    fn samples() -> Vec<PiHeader> {
        let hytera = |order| {
            let mut p = HyteraPi {
                order,
                reserved: 0xA,
                encryption_type: 2,
                key_id: 7,
                iv: [1, 2, 3, 4, 0xFF],
                reserved2: 0x55,
                checksum: 0,
            };
            p.checksum = p.expected_checksum();
            PiHeader::Hytera(p)
        };
        vec![
            PiHeader::Dmra(DmraPi {
                reserved: 0xF,
                group: false,
                algorithm: 7,
                key_id: 0xFF,
                mi: 0xDEAD_BEEF,
                destination: 0xFF_FFFF,
            }),
            hytera(HyteraOrder::Pdt),
            hytera(HyteraOrder::Dmr),
            PiHeader::Raw {
                data: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            },
        ]
    }

    #[test]
    fn every_layout_round_trips_in_both_dialects() {
        for pi in samples() {
            for dialect in [Dialect::Dmr, Dialect::Pdt] {
                let mut dirty = [0xA5u8; 12];
                let mut clean = [0u8; 12];
                pi.emit(dialect, &mut dirty);
                pi.emit(dialect, &mut clean);
                assert_eq!(dirty, clean);
                assert_eq!(PiHeader::check(&dirty, DialectChoice::Auto), Some(dialect));
                assert_eq!(PiHeader::parse(&dirty).unwrap(), pi);
                let _ = serde_json::to_string(&pi).unwrap();
            }
        }
    }

    #[test]
    fn hytera_layouts_place_the_fid() {
        let s = samples();
        let mut out = [0u8; 12];
        s[1].emit(Dialect::Pdt, &mut out);
        assert_eq!((out[0], out[1]), (0x68, 0xA2));
        s[2].emit(Dialect::Dmr, &mut out);
        assert_eq!((out[0], out[1]), (0xA2, 0x68));
        let sum = out[..10].iter().fold(0u8, |a, &b| a.wrapping_add(b));
        assert_eq!(sum, 0, "checksum makes octets 0–9 sum to zero");
        let PiHeader::Hytera(mut p) = s[1] else {
            panic!("hytera")
        };
        assert!(p.checksum_ok());
        p.checksum ^= 1;
        assert!(!p.checksum_ok());
    }

    #[test]
    fn bad_crc_and_lengths() {
        let mut block = hex12("211002177afc730000090dda");
        block[11] ^= 1;
        assert_eq!(PiHeader::check(&block, DialectChoice::Auto), None);
        assert_eq!(
            PiHeader::parse(&block[..11]),
            Err(WireError::Truncated {
                frame: "pi_header",
                need: 12,
                have: 11
            })
        );
        assert!(matches!(
            PiHeader::parse(&[0u8; 13]),
            Err(WireError::TooLong { .. })
        ));
        assert_eq!(PiHeader::check(&[0u8; 3], DialectChoice::Auto), None);
    }
}
