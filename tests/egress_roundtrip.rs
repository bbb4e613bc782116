//! Egress round trip: every `AirMessage` × `AirProfile` is encoded, then decoded by the wire
//! layer (burst by burst, data reassembled) and by ingest, and checked field by field against
//! docs/air-commands.md.

use std::time::Instant;

use trunkgate::dispatch::egress::{
    self, DISPATI, EgressError, KILLI, PREAMBLES, SDMI, STUNI, TSI, TransmitBurst,
};
use trunkgate::dispatch::ingest::Ingest;
use trunkgate::dispatch::{
    Addressee, AirEvent, AirMessage, AirProfile, Input, RadioId, Service, SiteId, TalkgroupId,
};
use trunkgate::link::{Received, Slot};
use trunkgate::wire::burst::{DataType, SyncPattern};
use trunkgate::wire::csbk::{Csbk, CsbkBody, ServiceKind, Sso};
use trunkgate::wire::data::{BlockKind, DataAssembler, DataPdu, Rate};
use trunkgate::wire::data_header::{Body, Dpf};
use trunkgate::wire::lrrp::{DocType, Lrrp};
use trunkgate::wire::pipeline::{Pdu, decode_burst};
use trunkgate::wire::{Dialect, DialectChoice, sdata};

const CC: u8 = 9;
const GW: u32 = 0x00_2A01;
const RADIO: u32 = 0x10_0065;
const GROUP: u32 = 0x10_0002;

fn radio() -> RadioId {
    RadioId::new(RADIO).unwrap()
}

fn messages() -> Vec<AirMessage> {
    let r = radio();
    let g = TalkgroupId::new(GROUP).unwrap();
    vec![
        AirMessage::RadioCheck { radio: r },
        AirMessage::CallAlert { radio: r },
        AirMessage::Stun { radio: r },
        AirMessage::Revive { radio: r },
        AirMessage::Kill { radio: r },
        AirMessage::Text {
            to: Addressee::Radio(r),
            text: "请立即返回指挥部".into(),
        },
        AirMessage::Text {
            to: Addressee::Talkgroup(g),
            text: "全体注意：山洪预警".into(),
        },
        AirMessage::Status {
            to: Addressee::Radio(r),
            status: 1023,
        },
        AirMessage::Status {
            to: Addressee::Talkgroup(g),
            status: 7,
        },
        AirMessage::LocationRequest {
            radio: r,
            request: 0xDEAD_BEEF,
        },
        AirMessage::EmergencyAck {
            radio: r,
            talkgroup: Some(g),
        },
    ]
}

fn dialect_of(profile: AirProfile) -> Dialect {
    match profile {
        AirProfile::Pdt => Dialect::Pdt,
        AirProfile::TierIii | AirProfile::DmraConventional => Dialect::Dmr,
    }
}

/// What the wire layer makes of a transmission: the preambles' blocks-to-follow, the final CSBK
/// or the reassembled data PDU.
#[derive(Debug)]
struct Heard {
    preambles: Vec<(u8, bool)>,
    csbk: Option<Csbk>,
    status_header: Option<trunkgate::wire::data_header::DataHeader>,
    pdu: Option<DataPdu>,
}

fn hear(bursts: &[TransmitBurst], dialect: Dialect) -> Heard {
    let choice = match dialect {
        Dialect::Dmr => DialectChoice::Dmr,
        Dialect::Pdt => DialectChoice::Pdt,
    };
    let mut heard = Heard {
        preambles: Vec::new(),
        csbk: None,
        status_header: None,
        pdu: None,
    };
    let mut asm = DataAssembler::new(choice);
    let stream = bursts[0].meta.stream_id;
    for b in bursts {
        assert_eq!(b.slot, Slot::One);
        assert_eq!(b.meta.stream_id, stream);
        let d = decode_burst(&b.burst, choice).expect("every burst decodes");
        assert_eq!(d.sync, Some((SyncPattern::BsData, 0)));
        let (st, fixed) = d.slot_type.unwrap();
        assert_eq!((st.colour_code, fixed, d.fec_corrected), (CC, 0, 0));
        match d.pdu {
            Pdu::Csbk(c) => {
                assert_eq!(d.dialect, Some(dialect));
                match c.body {
                    CsbkBody::PreCsbk(p) => {
                        heard.preambles.push((p.blocks_to_follow, p.data_follows))
                    }
                    _ => heard.csbk = Some(c),
                }
            }
            Pdu::DataHeader { header, block } => {
                assert_eq!(st.data_type, DataType::DataHeader);
                if header.dpf == Dpf::RawShortData {
                    heard.status_header = Some(header);
                } else {
                    assert!(asm.feed(BlockKind::Header, &block).unwrap().is_none());
                }
            }
            Pdu::DataBlock { rate, octets } => {
                if let Some(pdu) = asm
                    .feed(BlockKind::Data(rate), &octets[..rate.block_len()])
                    .unwrap()
                {
                    heard.pdu = Some(pdu);
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // preambles count down to the PDU
    let n = heard.preambles.len();
    assert_eq!(n, PREAMBLES);
    let follow = bursts.len() - PREAMBLES;
    for (i, (btf, _)) in heard.preambles.iter().enumerate() {
        assert_eq!(usize::from(*btf), n - 1 - i + follow);
    }
    heard
}

fn ingest(bursts: &[TransmitBurst]) -> (Vec<AirEvent>, u64) {
    let mut ing = Ingest::new(SiteId::new("s"), DialectChoice::Auto);
    let mut out = Vec::new();
    for b in bursts {
        let r = Received {
            site: "s".into(),
            slot: b.slot,
            burst: b.burst,
            rssi_dbm: None,
            ber_percent: None,
            meta: Some(b.meta),
            at: Instant::now(),
        };
        ing.feed(&r, &mut out);
    }
    let c = ing.counters();
    let events = out
        .into_iter()
        .map(|i| match i {
            Input::Air(a) => a.event,
            other => panic!("{other:?}"),
        })
        .collect();
    (
        events,
        c.sync + c.slot_type + c.fec + c.crc + c.parse + c.data_errors,
    )
}

fn sups(c: &Csbk) -> (u8, u8, Sso, u32, u32) {
    match c.body {
        CsbkBody::HytSupsReq(s) | CsbkBody::HytSupsAns(s) => {
            (c.fid, c.opcode, s.sso, s.target, s.source)
        }
        other => panic!("not SUPS: {other:?}"),
    }
}

fn ahoy(c: &Csbk) -> (ServiceKind, u8, u32, u32) {
    match c.body {
        CsbkBody::CAhoy(a) => (a.service_kind, a.service_options, a.target, a.source),
        other => panic!("not C_AHOY: {other:?}"),
    }
}

#[test]
fn every_message_on_every_profile() {
    use AirProfile::*;
    for profile in [TierIii, DmraConventional, Pdt] {
        let dialect = dialect_of(profile);
        for m in messages() {
            let result = egress::encode(CC, dialect, profile, &m, GW);
            if !profile.supports(egress::service_of(&m)) {
                assert!(
                    matches!(result, Err(EgressError::Unsupported { .. })),
                    "{profile:?} {m:?}"
                );
                continue;
            }
            let bursts = result.unwrap();
            // a command is 6 preambles + 1 CSBK, as the core's air-time estimate counts it
            if !matches!(
                m,
                AirMessage::Text { .. } | AirMessage::LocationRequest { .. }
            ) {
                assert_eq!(bursts.len() as u64, m.air_time_ms() / 60, "{m:?}");
            }
            let h = hear(&bursts, dialect);
            let (events, errors) = ingest(&bursts);
            assert_eq!(errors, 0, "{profile:?} {m:?}");
            let is_data = matches!(
                m,
                AirMessage::Text { .. }
                    | AirMessage::Status { .. }
                    | AirMessage::LocationRequest { .. }
            );
            assert!(h.preambles.iter().all(|&(_, data)| data == is_data));
            match (&m, profile) {
                (AirMessage::RadioCheck { .. }, TierIii | Pdt) => {
                    let c = h.csbk.unwrap();
                    assert_eq!((c.fid, c.opcode), (0x00, 0x1C));
                    assert_eq!(
                        ahoy(&c),
                        (ServiceKind::RegistrationAuthenticationCheck, 0, RADIO, TSI)
                    );
                }
                (AirMessage::RadioCheck { .. }, DmraConventional) => {
                    let c = h.csbk.unwrap();
                    let CsbkBody::DmraRadioCheck(rc) = c.body else {
                        panic!()
                    };
                    assert!(rc.is_request());
                    assert_eq!((rc.target, rc.source), (RADIO, GW));
                }
                (AirMessage::CallAlert { .. }, TierIii | DmraConventional) => {
                    let CsbkBody::DmraCallAlert(a) = h.csbk.unwrap().body else {
                        panic!()
                    };
                    assert_eq!((a.target, a.source), (RADIO, GW));
                }
                (AirMessage::CallAlert { .. }, Pdt) => {
                    assert_eq!(
                        sups(&h.csbk.unwrap()),
                        (0x68, 0x29, Sso::CallAlert, RADIO, GW)
                    );
                }
                (AirMessage::Stun { .. }, TierIii) => {
                    assert_eq!(
                        ahoy(&h.csbk.unwrap()),
                        (ServiceKind::SupplementaryService, 0, RADIO, STUNI)
                    );
                }
                (AirMessage::Revive { .. }, TierIii) => {
                    assert_eq!(
                        ahoy(&h.csbk.unwrap()),
                        (ServiceKind::SupplementaryService, 0x40, RADIO, STUNI)
                    );
                }
                (AirMessage::Kill { .. }, TierIii | Pdt) => {
                    assert_eq!(
                        ahoy(&h.csbk.unwrap()),
                        (ServiceKind::SupplementaryService, 0, RADIO, KILLI)
                    );
                }
                (AirMessage::Stun { .. } | AirMessage::Revive { .. }, DmraConventional) => {
                    let c = h.csbk.unwrap();
                    assert_eq!((c.fid, c.opcode), (0x68, 0x24));
                    let CsbkBody::Raw { data } = c.body else {
                        panic!()
                    };
                    let sso = if matches!(m, AirMessage::Stun { .. }) {
                        0x7F
                    } else {
                        0x7E
                    };
                    assert_eq!(data, [sso, 0, 0x10, 0x00, 0x65, 0x00, 0x2A, 0x01]);
                }
                (AirMessage::Stun { .. }, Pdt) => {
                    assert_eq!(
                        sups(&h.csbk.unwrap()),
                        (0x68, 0x29, Sso::RadioDisable, RADIO, GW)
                    );
                }
                (AirMessage::Revive { .. }, Pdt) => {
                    assert_eq!(
                        sups(&h.csbk.unwrap()),
                        (0x68, 0x29, Sso::RadioEnable, RADIO, GW)
                    );
                }
                (AirMessage::EmergencyAck { .. }, TierIii) => {
                    let CsbkBody::CAckd(a) = h.csbk.unwrap().body else {
                        panic!()
                    };
                    assert_eq!((a.reason.0, a.target, a.source), (0x60, RADIO, DISPATI));
                }
                (AirMessage::EmergencyAck { .. }, Pdt) => {
                    assert_eq!(
                        sups(&h.csbk.unwrap()),
                        (0x68, 0x2C, Sso::DigitalAlarm, RADIO, GW)
                    );
                }
                (AirMessage::Text { to, text }, _) => {
                    let pdu = h.pdu.unwrap();
                    let group = matches!(to, Addressee::Talkgroup(_));
                    let hd = pdu.header;
                    assert_eq!(hd.group, group);
                    assert_eq!(hd.response_requested, !group);
                    assert_eq!(
                        hd.dpf,
                        if group {
                            Dpf::Unconfirmed
                        } else {
                            Dpf::Confirmed
                        }
                    );
                    assert_eq!(hd.sap, 3);
                    assert_eq!(hd.destination, if group { GROUP } else { RADIO });
                    assert_eq!(hd.source, if profile == TierIii { SDMI } else { GW });
                    assert_eq!(pdu.rate, Some(Rate::Half));
                    assert_eq!(pdu.payload, sdata::pdt_sms_payload(text));
                    let source = RadioId::new(hd.source).unwrap();
                    let to = *to;
                    assert_eq!(
                        events,
                        vec![AirEvent::Text {
                            source,
                            to,
                            text: text.clone()
                        }]
                    );
                    continue;
                }
                (AirMessage::Status { to, status }, _) => {
                    let hd = h.status_header.unwrap();
                    let group = matches!(to, Addressee::Talkgroup(_));
                    assert_eq!(
                        (hd.group, hd.response_requested, hd.sap),
                        (group, !group, 10)
                    );
                    let Body::RawShort(s) = hd.body else { panic!() };
                    assert_eq!((s.status(), s.appended_blocks), (*status, 0));
                    let source = RadioId::new(hd.source).unwrap();
                    assert_eq!(
                        events,
                        vec![AirEvent::Status {
                            source,
                            to: *to,
                            status: *status
                        }]
                    );
                    continue;
                }
                (AirMessage::LocationRequest { request, .. }, TierIii | DmraConventional) => {
                    let pdu = h.pdu.unwrap();
                    assert_eq!(
                        (
                            pdu.header.dpf,
                            pdu.header.sap,
                            pdu.header.response_requested
                        ),
                        (Dpf::Confirmed, 4, true)
                    );
                    let ip = &pdu.payload;
                    assert_eq!((ip[0], ip[9]), (0x45, 17));
                    assert_eq!(&ip[16..20], &sdata::radio_ip(RADIO));
                    assert_eq!(u16::from_be_bytes([ip[22], ip[23]]), 4001);
                    let l = Lrrp::parse(&ip[28..]).unwrap();
                    assert_eq!(l.doc, DocType::ImmediateLocationRequest);
                    assert_eq!(l.request_id, Some(request.to_be_bytes().to_vec()));
                }
                (AirMessage::LocationRequest { request, .. }, Pdt) => {
                    let pdu = h.pdu.unwrap();
                    let hd = pdu.header;
                    assert_eq!(
                        (hd.dpf, hd.sap, hd.response_requested),
                        (Dpf::Confirmed, 3, true)
                    );
                    let Body::Packet(p) = hd.body else { panic!() };
                    assert_eq!((p.fsn, p.full_message), (8, true));
                    assert_eq!(pdu.rate, Some(Rate::ThreeQuarter));
                    assert_eq!(pdu.payload, sdata::pdt_gps_request(0x022A, *request, RADIO));
                }
                other => panic!("unchecked {other:?}"),
            }
            // commands and requests are not inbound events
            assert!(events.is_empty(), "{profile:?} {m:?}: {events:?}");
        }
    }
}

#[test]
fn the_pdt_gps_poll_matches_the_derived_example() {
    // air-commands.md §7: request id 1, radio 1
    let m = AirMessage::LocationRequest {
        radio: RadioId::new(1).unwrap(),
        request: 1,
    };
    let bursts = egress::encode(CC, Dialect::Pdt, AirProfile::Pdt, &m, GW).unwrap();
    let pdu = hear(&bursts, Dialect::Pdt).pdu.unwrap();
    assert_eq!(
        hex::encode(pdu.payload),
        "022a10747408a001000800000001 0a0000017d03".replace(' ', "")
    );
}

#[test]
fn encoding_is_deterministic_and_a_text_too_long_is_an_error() {
    let m = &messages()[5];
    let a = egress::encode(CC, Dialect::Pdt, AirProfile::Pdt, m, GW).unwrap();
    let b = egress::encode(CC, Dialect::Pdt, AirProfile::Pdt, m, GW).unwrap();
    assert_eq!(a, b);
    let long = AirMessage::Text {
        to: Addressee::Radio(radio()),
        text: "字".repeat(800),
    };
    assert!(matches!(
        egress::encode(CC, Dialect::Pdt, AirProfile::Pdt, &long, GW),
        Err(EgressError::Wire(_))
    ));
    let transmits = egress::to_transmits(&"s".into(), &a);
    assert_eq!(transmits.len(), a.len());
    assert!(
        transmits
            .iter()
            .all(|t| t.meta.is_some() && &*t.site == "s")
    );
    assert_eq!(egress::service_of(m), Service::Text);
}
