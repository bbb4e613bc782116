//! Egress: an [`AirMessage`] from the core → the bursts a site's control channel sends, per the
//! site's [`AirProfile`] and dialect, exactly as docs/air-commands.md lays out (§0 conventions,
//! §2–§8 one table per command).
//!
//! Contract:
//! - [`encode`] is pure: the same message, profile, dialect, colour code and gateway identity
//!   always give the same bursts. Every burst is built with `wire` builders only: the PDU
//!   (`Csbk`, `DataHeader`, `data::emit_packet`, `sdata`/`lrrp` payloads), BPTC(196,96) or
//!   trellis ¾, the slot type with the site's colour code and the BS-sourced data sync
//!   (TS 102 361-1 §9.1.1; the gateway speaks as the base station).
//! - Every CSBK command and every data transmission is preceded by [`PREAMBLES`] Pre_CSBKs
//!   (air-commands.md §0, AI §3.4, PF §2.1) whose blocks-to-follow count down to the PDU.
//! - A service the profile has no PDU for (DMRA kill and emergency acknowledgement, §1) is an
//!   [`EgressError::Unsupported`]; the core refuses those before they get here.
//! - [`encode_on`] builds for the slot the core chose (the site's, the talkgroup's or the
//!   radio's last-heard slot: docs/air-commands.md §0 "Which slot"); [`encode`] is the same on
//!   timeslot 1, for tests and tools.
//! - The [`FrameMeta`] of each burst names the source identity used on the air and the target,
//!   so a Homebrew link can frame it. Its stream ID is 0: the link draws a fresh, unpredictable
//!   one for every transmission and every retry (`link::Transmission::fresh_stream`), so the
//!   core and egress stay deterministic and no two transmissions share a stream.

use crate::dispatch::{Addressee, AirMessage, AirProfile, Service};
use crate::link::{Burst, FrameMeta, SiteName, Slot, Transmit};
use crate::wire::burst::{DataType, SyncPattern};
use crate::wire::csbk::{Csbk, FID_HYTERA};
use crate::wire::csbk::{CsbkBody, ReasonCode, ServiceKind, Sso};
use crate::wire::data::{self, Rate};
use crate::wire::data_header::{Body, DataHeader, Dpf, PacketInfo};
use crate::wire::lrrp::Lrrp;
use crate::wire::pipeline::{bptc_burst, data_block_burst};
use crate::wire::{Dialect, WireError, crc, sdata};

/// Preamble CSBKs before every command and data transmission (air-commands.md §0; PF §2.1).
pub const PREAMBLES: usize = 6;

/// The slot [`encode`] sends on: timeslot 1 (module doc).
pub const CONTROL_SLOT: Slot = Slot::One;

/// Reserved gateway identities (AI §3.7, sdrtrunk Tier3Gateway.java): SDMI short data.
pub const SDMI: u32 = 0xFF_FEC5;
/// REGI, registration (AI §3.7).
pub const REGI: u32 = 0xFF_FEC6;
/// TSI, the trunking system controller (AI §3.7).
pub const TSI: u32 = 0xFF_FECA;
/// DISPATI, the dispatcher (AI §3.7).
pub const DISPATI: u32 = 0xFF_FECB;
/// STUNI, stun / revive (AI §3.7).
pub const STUNI: u32 = 0xFF_FECC;
/// KILLI, kill (AI §3.7).
pub const KILLI: u32 = 0xFF_FECF;

/// C_AHOY service kind 13 options-mirror value for revive: bit 16, the top bit of the 7-bit
/// service options (air-commands.md §4: "stun vs revive in the service-options mirror bit 16
/// (1 = revive)", our assumption).
pub const AHOY_REVIVE_OPTION: u8 = 0x40;
/// Reason code of the Tier III emergency acknowledgement: 0x60 message accepted
/// (air-commands.md §8, AI §3.4 reason table).
pub const EMERGENCY_ACK_REASON: u8 = 0x60;
/// CSBKO of the Hytera DMR-mode SUPS used for stun / revive on DMRA conventional sites
/// (air-commands.md §4, AI §3.9).
pub const HYTERA_DMR_SUPS_OPCODE: u8 = 0x24;
/// LRRP's UDP port (air-commands.md §7).
pub const LRRP_PORT: u16 = sdata::LRRP_PORT;
/// SAP of IP packet data (LRRP, air-commands.md §7) and of compressed UDP/IP (text, PDT GPS
/// poll, §5 and §7): AI §5.1 SAP table.
pub const SAP_IP: u8 = 4;
/// SAP 3, UDP/IP header compression (AI §5.1).
pub const SAP_COMPRESSED_UDP: u8 = 3;
/// SAP 10, short data (status, air-commands.md §6).
pub const SAP_SHORT_DATA: u8 = 10;
/// IPv4 identification of a plain PDT LP request (PF §4.1: 0x022A PDT plain).
pub const PDT_LP_IDENT: u16 = 0x022A;
/// PDT fragment sequence number of a single, final fragment (PF §2.1: FSN top bit = final;
/// the GPS poll uses FSN 8, PF §4.1).
pub const PDT_FINAL_FSN: u8 = 8;

/// One burst to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransmitBurst {
    /// The slot.
    pub slot: Slot,
    /// The 33 octets.
    pub burst: Burst,
    /// Addressing for the transport.
    pub meta: FrameMeta,
}

/// Why a message cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// The profile has no PDU for the service (air-commands.md §1).
    #[error("{profile:?} sites have no PDU for {service:?}")]
    Unsupported {
        profile: AirProfile,
        service: Service,
    },
    /// A wire builder refused the payload (e.g. a text longer than 127 blocks).
    #[error("wire: {0}")]
    Wire(#[from] WireError),
}

/// The service an [`AirMessage`] performs.
pub fn service_of(message: &AirMessage) -> Service {
    match message {
        AirMessage::RadioCheck { .. } => Service::RadioCheck,
        AirMessage::CallAlert { .. } => Service::CallAlert,
        AirMessage::Stun { .. } => Service::Stun,
        AirMessage::Revive { .. } => Service::Revive,
        AirMessage::Kill { .. } => Service::Kill,
        AirMessage::Text { .. } => Service::Text,
        AirMessage::Status { .. } => Service::Status,
        AirMessage::LocationRequest { .. } => Service::Location,
        AirMessage::EmergencyAck { .. } => Service::EmergencyAck,
    }
}

/// Encode `message` for a site of `profile` speaking `dialect` with `colour_code`, sourced from
/// `gateway_id` where the table does not name a reserved identity, on [`CONTROL_SLOT`].
pub fn encode(
    colour_code: u8,
    dialect: Dialect,
    profile: AirProfile,
    message: &AirMessage,
    gateway_id: u32,
) -> Result<Vec<TransmitBurst>, EgressError> {
    encode_on(
        CONTROL_SLOT,
        colour_code,
        dialect,
        profile,
        message,
        gateway_id,
    )
}

/// [`encode`] on a given slot.
pub fn encode_on(
    slot: Slot,
    colour_code: u8,
    dialect: Dialect,
    profile: AirProfile,
    message: &AirMessage,
    gateway_id: u32,
) -> Result<Vec<TransmitBurst>, EgressError> {
    let unsupported = || EgressError::Unsupported {
        profile,
        service: service_of(message),
    };
    let tx = Tx {
        colour_code,
        dialect,
    };
    use AirProfile::{DmraConventional as Dmra, Pdt, TierIii};
    let bursts = match (message, profile) {
        // §2 radio check
        (AirMessage::RadioCheck { radio }, TierIii | Pdt) => tx.command(Csbk::ahoy(
            radio.air(),
            TSI,
            ServiceKind::RegistrationAuthenticationCheck,
            false,
        )),
        (AirMessage::RadioCheck { radio }, Dmra) => {
            tx.command(Csbk::dmra_radio_check(radio.air(), gateway_id))
        }
        // §3 call alert
        (AirMessage::CallAlert { radio }, TierIii | Dmra) => {
            tx.command(Csbk::dmra_call_alert(radio.air(), gateway_id))
        }
        (AirMessage::CallAlert { radio }, Pdt) => {
            tx.command(Csbk::pdt_call_alert(radio.air(), gateway_id))
        }
        // §4 stun, revive, kill
        (AirMessage::Stun { radio }, TierIii) => tx.command(ahoy_supplementary(radio.air(), 0)),
        (AirMessage::Revive { radio }, TierIii) => {
            tx.command(ahoy_supplementary(radio.air(), AHOY_REVIVE_OPTION))
        }
        (AirMessage::Stun { radio }, Dmra) => tx.command(hytera_dmr_sups(
            Sso::DmrRadioDisable,
            radio.air(),
            gateway_id,
        )),
        (AirMessage::Revive { radio }, Dmra) => tx.command(hytera_dmr_sups(
            Sso::DmrRadioEnable,
            radio.air(),
            gateway_id,
        )),
        (AirMessage::Stun { radio }, Pdt) => tx.command(Csbk::pdt_stun(radio.air(), gateway_id)),
        (AirMessage::Revive { radio }, Pdt) => {
            tx.command(Csbk::pdt_revive(radio.air(), gateway_id))
        }
        (AirMessage::Kill { radio }, TierIii | Pdt) => {
            let mut c = Csbk::ahoy(radio.air(), KILLI, ServiceKind::SupplementaryService, false);
            if let CsbkBody::CAhoy(a) = &mut c.body {
                a.service_options = 0;
            }
            tx.command(c)
        }
        (AirMessage::Kill { .. }, Dmra) => return Err(unsupported()),
        // §8 emergency acknowledgement
        (AirMessage::EmergencyAck { radio, .. }, TierIii) => tx.command(Csbk::ackd(
            radio.air(),
            DISPATI,
            ReasonCode(EMERGENCY_ACK_REASON),
        )),
        (AirMessage::EmergencyAck { radio, .. }, Pdt) => tx.command(Csbk::pdt_sups_answer(
            Sso::DigitalAlarm,
            radio.air(),
            gateway_id,
        )),
        (AirMessage::EmergencyAck { .. }, Dmra) => return Err(unsupported()),
        // §5 text
        (AirMessage::Text { to, text }, _) => {
            let (dst, group) = addressee(to);
            let source = if profile == TierIii { SDMI } else { gateway_id };
            let header = packet_header(dst, source, group, SAP_COMPRESSED_UDP, dialect);
            let out =
                data::emit_packet(header, &sdata::pdt_sms_payload(text), Rate::Half, dialect)?;
            tx.data(&out)?
        }
        // §6 status
        (AirMessage::Status { to, status }, _) => {
            let (dst, group) = addressee(to);
            let source = if profile == TierIii { SDMI } else { gateway_id };
            let mut header = sdata::status_header(dst, source, group, *status & 0x3FF, 0, 0);
            header.response_requested = !group;
            let mut block = [0u8; 12];
            header.emit(dialect, &mut block);
            let mut v = tx.preambles(dst, source, group, true, 1);
            v.push(tx.block(DataType::DataHeader, &block));
            for p in &mut v {
                (p.source, p.destination, p.group) = (source, dst, group);
            }
            v
        }
        // §7 location
        (AirMessage::LocationRequest { radio, request }, TierIii | Dmra) => {
            let id = request.to_be_bytes();
            let lrrp = Lrrp::immediate_request(&id).to_bytes();
            let ip = sdata::ipv4_udp(
                sdata::radio_ip(gateway_id),
                sdata::radio_ip(radio.air()),
                LRRP_PORT,
                LRRP_PORT,
                &lrrp,
            );
            let header = packet_header(radio.air(), gateway_id, false, SAP_IP, dialect);
            tx.data(&data::emit_packet(header, &ip, Rate::Half, dialect)?)?
        }
        (AirMessage::LocationRequest { radio, request }, Pdt) => {
            let payload = sdata::pdt_gps_request(PDT_LP_IDENT, *request, radio.air());
            let mut header =
                packet_header(radio.air(), gateway_id, false, SAP_COMPRESSED_UDP, dialect);
            if let Body::Packet(p) = &mut header.body {
                p.fsn = PDT_FINAL_FSN;
            }
            tx.data(&data::emit_packet(
                header,
                &payload,
                Rate::ThreeQuarter,
                dialect,
            )?)?
        }
    };
    Ok(with_meta(bursts, slot))
}

/// The bursts as link [`Transmit`]s for `site`.
pub fn to_transmits(site: &SiteName, bursts: &[TransmitBurst]) -> Vec<Transmit> {
    bursts
        .iter()
        .map(|b| Transmit {
            site: site.clone(),
            slot: b.slot,
            burst: b.burst,
            meta: Some(b.meta),
        })
        .collect()
}

fn addressee(to: &Addressee) -> (u32, bool) {
    match to {
        Addressee::Radio(r) => (r.air(), false),
        Addressee::Talkgroup(g) => (g.air(), true),
    }
}

/// C_AHOY service kind 13 from STUNI with the stun / revive option (air-commands.md §4).
fn ahoy_supplementary(radio: u32, options: u8) -> Csbk {
    let mut c = Csbk::ahoy(radio, STUNI, ServiceKind::SupplementaryService, false);
    if let CsbkBody::CAhoy(a) = &mut c.body {
        a.service_options = options;
    }
    c
}

/// Hytera DMR-mode SUPS (FID 0x68, CSBKO 0x24): SSO, reserved, target, source — the
/// `SUPS_CSBK_PDU` layout of AI §3.9, which `wire` types only under CSBKO 0x29 / 0x2C, so the
/// data octets are laid out here in that order.
fn hytera_dmr_sups(sso: Sso, target: u32, source: u32) -> Csbk {
    let t = target.to_be_bytes();
    let s = source.to_be_bytes();
    Csbk {
        last_block: true,
        protect: false,
        fid: FID_HYTERA,
        opcode: HYTERA_DMR_SUPS_OPCODE,
        body: CsbkBody::Raw {
            data: [u8::from(sso), 0, t[1], t[2], t[3], s[1], s[2], s[3]],
        },
    }
}

/// A packet-data header per air-commands.md §5: confirmed DPF 3 with A = 1 to a radio,
/// unconfirmed DPF 2 with A = 0 to a talkgroup; F = 1; PDT marks the single fragment final.
fn packet_header(dst: u32, src: u32, group: bool, sap: u8, dialect: Dialect) -> DataHeader {
    DataHeader {
        group,
        response_requested: !group,
        dpf: if group {
            Dpf::Unconfirmed
        } else {
            Dpf::Confirmed
        },
        sap,
        destination: dst,
        source: src,
        body: Body::Packet(PacketInfo {
            header_compression: false,
            pad_octets: 0,
            full_message: true,
            blocks_to_follow: 0,
            resync: false,
            send_seq: 0,
            fsn: if dialect == Dialect::Pdt {
                PDT_FINAL_FSN
            } else {
                0
            },
        }),
    }
}

/// Burst building for one site and slot.
struct Tx {
    colour_code: u8,
    dialect: Dialect,
}

/// A burst before its meta is known.
struct Pending {
    burst: Burst,
    source: u32,
    destination: u32,
    group: bool,
}

impl Tx {
    fn block(&self, dt: DataType, block: &[u8; 12]) -> Pending {
        Pending {
            burst: bptc_burst(SyncPattern::BsData, self.colour_code, dt, block),
            source: 0,
            destination: 0,
            group: false,
        }
    }

    /// `PREAMBLES` Pre_CSBKs announcing `following` blocks after them.
    fn preambles(
        &self,
        target: u32,
        source: u32,
        group: bool,
        data: bool,
        following: usize,
    ) -> Vec<Pending> {
        (0..PREAMBLES)
            .map(|i| {
                let btf = (PREAMBLES - 1 - i + following).min(255) as u8;
                let c = Csbk::preamble(target, source, group, data, btf);
                self.block(DataType::Csbk, &c.to_bytes(self.dialect))
            })
            .collect()
    }

    fn command(&self, c: Csbk) -> Vec<Pending> {
        let target = c.target().unwrap_or(0);
        let source = c.source().unwrap_or(0);
        let mut v = self.preambles(target, source, false, false, 1);
        v.push(self.block(DataType::Csbk, &c.to_bytes(self.dialect)));
        for p in &mut v {
            (p.source, p.destination) = (source, target);
        }
        v
    }

    fn data(&self, out: &data::Outbound) -> Result<Vec<Pending>, WireError> {
        let h = out.header;
        let mut v = self.preambles(h.destination, h.source, h.group, true, 1 + out.blocks.len());
        v.push(self.block(DataType::DataHeader, &out.header_block));
        for b in &out.blocks {
            v.push(Pending {
                burst: data_block_burst(SyncPattern::BsData, self.colour_code, out.rate, b)?,
                source: 0,
                destination: 0,
                group: false,
            });
        }
        // the header's addresses label every burst of the transmission
        for p in &mut v {
            (p.source, p.destination, p.group) = (h.source, h.destination, h.group);
        }
        Ok(v)
    }
}

/// How a site's radios take a text message (a per-site setting: what the fleet's radios
/// decode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextForm {
    /// The PDT SMS: compressed UDP/IPv4 (SAP 3, port ID 1) then UTF-16BE (air-commands.md §5,
    /// the Hytera PDT code `zhoudayuan/Epack_Alarm` `protocol/ccl_dl.c`). What [`encode`] sends.
    #[default]
    PdtSms,
    /// Motorola TMS: IPv4/UDP (SAP 4) to port 4007, UCS-2 LE text behind the TMS header
    /// ([`sdata::tms_text`]), addressed by Motorola CAI addresses (12.x.y.z / 225.x.y.z).
    /// A TMS acknowledgement is asked for from a single radio.
    MotorolaTms,
}

/// [`encode_on`], with a text message sent in `form`; every other message as [`encode_on`]
/// sends it.
pub fn encode_with_text_form(
    slot: Slot,
    colour_code: u8,
    dialect: Dialect,
    profile: AirProfile,
    message: &AirMessage,
    gateway_id: u32,
    form: TextForm,
) -> Result<Vec<TransmitBurst>, EgressError> {
    let AirMessage::Text { to, text } = message else {
        return encode_on(slot, colour_code, dialect, profile, message, gateway_id);
    };
    match form {
        TextForm::PdtSms => encode_on(slot, colour_code, dialect, profile, message, gateway_id),
        TextForm::MotorolaTms => {
            let tx = Tx {
                colour_code,
                dialect,
            };
            let (dst, group) = addressee(to);
            let source = if profile == AirProfile::TierIii {
                SDMI
            } else {
                gateway_id
            };
            // The TMS sequence number: the low 7 bits of the text's CRC, so a repeat of the
            // same message is the same PDU (the encoding stays pure).
            let sequence = (crc::crc32(text.as_bytes()) & 0x7F) as u8;
            let ip = sdata::ipv4_udp(
                sdata::cai_ip(source, false),
                sdata::cai_ip(dst, group),
                sdata::TMS_PORT,
                sdata::TMS_PORT,
                &sdata::tms_text(text, sequence, !group),
            );
            let header = packet_header(dst, source, group, SAP_IP, dialect);
            let bursts = tx.data(&data::emit_packet(header, &ip, Rate::Half, dialect)?)?;
            Ok(with_meta(bursts, slot))
        }
    }
}

fn with_meta(v: Vec<Pending>, slot: Slot) -> Vec<TransmitBurst> {
    // The link draws the stream ID per transmission (module doc).
    let stream_id = 0;
    v.into_iter()
        .map(|p| TransmitBurst {
            slot,
            burst: p.burst,
            meta: FrameMeta {
                source: p.source,
                destination: p.destination,
                private: !p.group,
                stream_id,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::RadioId;
    use crate::wire::DialectChoice;
    use crate::wire::pipeline::{Pdu, decode_burst};

    fn radio() -> RadioId {
        RadioId::new(0x10_0065).unwrap()
    }

    fn csbks(bursts: &[TransmitBurst]) -> Vec<Csbk> {
        bursts
            .iter()
            .map(
                |b| match decode_burst(&b.burst, DialectChoice::Auto).unwrap().pdu {
                    Pdu::Csbk(c) => c,
                    other => panic!("{other:?}"),
                },
            )
            .collect()
    }

    #[test]
    fn a_command_is_six_preambles_counting_down_then_the_csbk() {
        let m = AirMessage::RadioCheck { radio: radio() };
        let b = encode(2, Dialect::Pdt, AirProfile::Pdt, &m, 7).unwrap();
        let c = csbks(&b);
        assert_eq!(c.len(), PREAMBLES + 1);
        for (i, p) in c[..PREAMBLES].iter().enumerate() {
            let CsbkBody::PreCsbk(p) = p.body else {
                panic!("{p:?}")
            };
            assert_eq!(usize::from(p.blocks_to_follow), PREAMBLES - i);
            assert_eq!(
                (p.target, p.source, p.data_follows, p.group),
                (0x10_0065, TSI, false, false)
            );
        }
        assert_eq!(c[PREAMBLES].opcode, 0x1C);
        assert!(b.iter().all(|t| t.meta
            == FrameMeta {
                source: TSI,
                destination: 0x10_0065,
                private: true,
                stream_id: b[0].meta.stream_id
            }));
    }

    #[test]
    fn hytera_dmr_mode_sups_lays_out_sso_target_source() {
        let c = hytera_dmr_sups(Sso::DmrRadioDisable, 0x12_3456, 0xAB_CDEF);
        let block = c.to_bytes(Dialect::Dmr);
        assert_eq!(hex::encode(&block[..10]), "a4687f00123456abcdef");
        assert_eq!(Csbk::check(&block, DialectChoice::Auto), Some(Dialect::Dmr));
    }

    #[test]
    fn dmra_has_no_kill_or_emergency_ack() {
        for m in [
            AirMessage::Kill { radio: radio() },
            AirMessage::EmergencyAck {
                radio: radio(),
                talkgroup: None,
            },
        ] {
            let e = encode(1, Dialect::Dmr, AirProfile::DmraConventional, &m, 7).unwrap_err();
            assert_eq!(
                e,
                EgressError::Unsupported {
                    profile: AirProfile::DmraConventional,
                    service: service_of(&m)
                }
            );
        }
    }

    #[test]
    fn revive_differs_from_stun_only_in_the_option_bit() {
        let stun = csbks(
            &encode(
                1,
                Dialect::Dmr,
                AirProfile::TierIii,
                &AirMessage::Stun { radio: radio() },
                7,
            )
            .unwrap(),
        );
        let revive = csbks(
            &encode(
                1,
                Dialect::Dmr,
                AirProfile::TierIii,
                &AirMessage::Revive { radio: radio() },
                7,
            )
            .unwrap(),
        );
        let (CsbkBody::CAhoy(s), CsbkBody::CAhoy(r)) = (stun[6].body, revive[6].body) else {
            panic!()
        };
        assert_eq!(
            (s.service_options, r.service_options),
            (0, AHOY_REVIVE_OPTION)
        );
        assert_eq!(
            CsbkBody::CAhoy(crate::wire::csbk::Ahoy {
                service_options: 0,
                ..r
            }),
            stun[6].body
        );
    }

    #[test]
    fn a_text_form_goes_out_on_the_slot_it_is_given() {
        let text = AirMessage::Text {
            to: Addressee::Radio(radio()),
            text: "集合".into(),
        };
        let check = AirMessage::RadioCheck { radio: radio() };
        let on = |form, m: &AirMessage| {
            encode_with_text_form(Slot::Two, 1, Dialect::Pdt, AirProfile::Pdt, m, 7, form).unwrap()
        };
        let sms = on(TextForm::PdtSms, &text);
        let tms = on(TextForm::MotorolaTms, &text);
        assert_ne!(
            sms.iter().map(|b| b.burst).collect::<Vec<_>>(),
            tms.iter().map(|b| b.burst).collect::<Vec<_>>(),
            "the form changes the text's bursts"
        );
        for b in sms
            .iter()
            .chain(&tms)
            .chain(&on(TextForm::MotorolaTms, &check))
        {
            assert_eq!(b.slot, Slot::Two);
        }
    }
}
