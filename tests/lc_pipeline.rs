//! Link control through the public API, as the emitter and the decoder use it: a call's LC as
//! voice LC header, embedded fragments across superframes (with a talker alias and a GPS
//! position interleaved), and terminator, in both dialects.

use trunkgate::wire::embedded::{EmbeddedLcAssembler, Lcss, TalkerAliasAssembler, fragments};
use trunkgate::wire::lc::{FullLc, GpsInfo, LcBody, LcKind, ServiceOptions, TalkerAliasFormat};
use trunkgate::wire::{Dialect, DialectChoice};

fn group_call() -> FullLc {
    FullLc {
        protect: false,
        reserved: false,
        flco: 0,
        fid: 0,
        body: LcBody::GroupVoice {
            service_options: ServiceOptions {
                emergency: true,
                priority: 2,
                ..ServiceOptions::default()
            },
            group: 3_700_001,
            source: 3_712_345,
        },
    }
}

fn alias(text: &str) -> Vec<FullLc> {
    let units: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mut data = [0u8; 27];
    data[..units.len()].copy_from_slice(&units);
    let mut out = vec![FullLc {
        protect: false,
        reserved: false,
        flco: 4,
        fid: 0,
        body: LcBody::TalkerAliasHeader {
            format: TalkerAliasFormat::Utf16Be,
            length: text.encode_utf16().count() as u8,
            msb: false,
            data: data[..6].try_into().unwrap(),
        },
    }];
    for i in 0..3u8 {
        let at = 6 + 7 * usize::from(i);
        out.push(FullLc {
            protect: false,
            reserved: false,
            flco: 5 + i,
            fid: 0,
            body: LcBody::TalkerAliasBlock {
                index: i + 1,
                data: data[at..at + 7].try_into().unwrap(),
            },
        });
    }
    out
}

#[test]
fn a_call_in_both_dialects() {
    for dialect in [Dialect::Dmr, Dialect::Pdt] {
        let call = group_call();
        let mut header = [0u8; 12];
        call.emit_full(LcKind::Header, dialect, &mut header);
        let got = FullLc::parse_full(&header, DialectChoice::Auto).unwrap();
        assert_eq!(
            (got.lc, got.dialect, got.kind),
            (call, dialect, LcKind::Header)
        );

        let gps = FullLc {
            protect: false,
            reserved: false,
            flco: 8,
            fid: 0,
            body: LcBody::GpsInfo(GpsInfo::from_degrees(113.2644, 23.1291, 2, dialect)),
        };
        // superframes: call, alias header + blocks 1–3, gps, call
        let mut sequence = vec![call];
        sequence.extend(alias("消防 Team 7"));
        sequence.push(gps);
        sequence.push(call);

        let mut embedded = EmbeddedLcAssembler::new(dialect);
        let mut talker = TalkerAliasAssembler::new();
        let mut lcs = Vec::new();
        let mut names = Vec::new();
        for lc in &sequence {
            // burst A carries sync, B–E the fragments, F a null fragment
            for (lcss, fragment) in fragments(lc).into_iter().chain([(Lcss::SingleFragment, 0)]) {
                if let Some(done) = embedded.feed(lcss, fragment) {
                    names.extend(talker.feed(&done));
                    lcs.push(done);
                }
            }
        }
        assert_eq!(lcs, sequence);
        assert_eq!(names, vec!["消防 Team 7".to_string()]);
        let LcBody::GpsInfo(g) = lcs[5].body else {
            panic!("gps")
        };
        assert!((g.longitude_deg - 113.2644).abs() < 1e-4);
        assert!((g.latitude_deg - 23.1291).abs() < 1e-4);

        let mut terminator = [0u8; 12];
        call.emit_full(LcKind::Terminator, dialect, &mut terminator);
        let got = FullLc::parse_full(&terminator, DialectChoice::Auto).unwrap();
        assert_eq!((got.dialect, got.kind), (dialect, LcKind::Terminator));
        let json = serde_json::to_value(got.lc).unwrap();
        assert_eq!(json["target"], 3_700_001);
        assert_eq!(json["service_options"]["emergency"], true);
    }
}
