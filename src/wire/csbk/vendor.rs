//! Manufacturer CSBKs whose layout a public source documents.
//!
//! - FID 0x10 (DMR Association / Motorola, Tier II): call alert 0x1F, call alert ack 0x20,
//!   radio check 0x24, emergency 0x27 (MMDVMHost DMRCSBK / DMRDefines.h via docs/air-interface.md §3.3).
//! - FID 0x68 (Hytera) and 0x08 (named `PFID // pdt` in the Hytera PDT code): the PDT
//!   supplementary-service CSBKs 0x29 request, 0x2C answer response and 0x37 digital alarm,
//!   laid out as `SUPS_CSBK_PDU` = SSO(8) | reserved(8) | target(24) | source(24)
//!   (zhoudayuan/Epack_Alarm code/protocol/dll.h; docs/air-interface.md §3.9, docs/pdt.md §2.3).
//!   That code is a PDT *conventional* repeater; whether the 370 MHz trunked network uses the
//!   same blocks is unknown (docs/air-interface.md §9.2).

use serde::Serialize;

open_enum! {
    /// Supplementary-service operation (SSO) of a PDT SUPS CSBK (dll.h `*_SSO`,
    /// docs/air-interface.md §3.9). The Hytera code marks 0x0F "tentative". No over-the-air code
    /// for kill is public (docs/pdt.md §2.3: kill is handled for the repeater itself only).
    pub enum Sso {
        /// Call alert (0x05).
        CallAlert = 0x05,
        /// DMR-mode digital alarm (0x08).
        DmrDigitalAlarm = 0x08,
        /// Radio enable, i.e. revive (0x09).
        RadioEnable = 0x09,
        /// Radio disable, i.e. stun (0x0A).
        RadioDisable = 0x0A,
        /// Digital alarm (0x0F, tentative in the source).
        DigitalAlarm = 0x0F,
        /// DMR-mode radio enable (0x7E).
        DmrRadioEnable = 0x7E,
        /// DMR-mode radio disable (0x7F).
        DmrRadioDisable = 0x7F,
        /// DMR-mode radio enable ack (0xFE).
        DmrRadioEnableAck = 0xFE,
        /// DMR-mode radio disable ack (0xFF).
        DmrRadioDisableAck = 0xFF,
    }
}

layout! {
    /// A PDT supplementary-service request (0x29) or answer response (0x2C).
    pub struct Sups {
        /// Supplementary-service operation.
        sso: Sso = [16, 8],
        #[serde(skip)]
        reserved: u8 = [24, 8],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// A PDT digital alarm request (0x37): the SSO octet carries a rolling counter below 0x0F
    /// (docs/pdt.md §2.3); no acknowledgement is required in PDT mode.
    pub struct PdtAlarm {
        /// Rolling sequence number (the SSO octet).
        sequence: u8 = [16, 8],
        #[serde(skip)]
        reserved: u8 = [24, 8],
        /// Target address.
        target: u32 = [32, 24],
        /// Source address.
        source: u32 = [56, 24],
    }
}

layout! {
    /// A DMRA CSBK with two reserved octets then target and source (call alert, call alert
    /// ack, emergency).
    pub struct DmraAddressed {
        #[serde(skip)]
        reserved: u16 = [16, 16],
        /// Target address (octets 4–6).
        target: u32 = [32, 24],
        /// Source address (octets 7–9).
        source: u32 = [56, 24],
    }
}

/// Octet 3 of a DMRA radio check that marks a request (MMDVMHost, docs/air-interface.md §3.3).
pub const RADIO_CHECK_REQUEST: u8 = 0x80;

/// DMRA radio check / extended function (FID 0x10, opcode 0x24).
///
/// > byte 3 = 0x80 → request, else ack; request has dst at bytes 4–6 and src at 7–9, ack the
/// > reverse (docs/air-interface.md §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RadioCheck {
    /// Octet 2 as received (reserved).
    #[serde(skip)]
    pub reserved: u8,
    /// Octet 3: 0x80 for a request, anything else is an answer.
    pub function: u8,
    /// Target address.
    pub target: u32,
    /// Source address.
    pub source: u32,
}

impl RadioCheck {
    #[cfg(test)]
    pub(crate) const FIELDS: &'static [(usize, usize)] = &[(16, 8), (24, 8), (32, 24), (56, 24)];

    /// Whether this is a request (octet 3 = 0x80) rather than an answer.
    pub const fn is_request(&self) -> bool {
        self.function == RADIO_CHECK_REQUEST
    }

    pub(crate) fn read(block: &[u8]) -> Self {
        let a = crate::wire::bits::get(block, 32, 24) as u32;
        let b = crate::wire::bits::get(block, 56, 24) as u32;
        let function = block.get(3).copied().unwrap_or(0);
        let (target, source) = if function == RADIO_CHECK_REQUEST {
            (a, b)
        } else {
            (b, a)
        };
        RadioCheck {
            reserved: block.get(2).copied().unwrap_or(0),
            function,
            target,
            source,
        }
    }

    pub(crate) fn write(&self, block: &mut [u8]) {
        use crate::wire::bits::put;
        put(block, 16, 8, u64::from(self.reserved));
        put(block, 24, 8, u64::from(self.function));
        let (first, second) = if self.is_request() {
            (self.target, self.source)
        } else {
            (self.source, self.target)
        };
        put(block, 32, 24, u64::from(first));
        put(block, 56, 24, u64::from(second));
    }
}
