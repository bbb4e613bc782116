//! The simulated site without sockets: seeded runs repeat, its traffic decodes through ingest
//! into the inputs the radios meant, and every command egress sends is answered by the table
//! of docs/air-commands.md (or not at all, out of coverage). Time is virtual (ms).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use trunkgate::dispatch::egress;
use trunkgate::dispatch::ingest::Ingest;
use trunkgate::dispatch::{
    Addressee, AirEvent, AirMessage, AirProfile, Answer, Input, PositionSource, RadioId, Service,
    SiteId, TalkgroupId,
};
use trunkgate::link::{Received, Transmit};
use trunkgate::sim::{RadioSpec, SimConfig, SimSite, SimSiteConfig, SiteSpec};
use trunkgate::wire::{Dialect, DialectChoice};

const GW: u32 = 0x00_2A01;

fn config(seed: u64, dialect: Dialect) -> SimConfig {
    let mut c = SimConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 62031)),
        vec![SimSiteConfig {
            peer_id: 310_001,
            passphrase: "p".into(),
            name: "s1".into(),
            colour_code: 3,
        }],
    );
    c.seed = seed;
    c.generate = 12;
    c.rate = 20.0;
    c.dialect = dialect;
    c
}

/// Poll `site` every 20 ms of virtual time from `from` to `to`.
fn run(site: &mut SimSite, from: u64, to: u64) -> Vec<Transmit> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        site.poll(t, &mut out);
        t += 20;
    }
    out
}

fn ingest(bursts: &[Transmit]) -> (Vec<AirEvent>, Ingest) {
    let mut ing = Ingest::new(SiteId::new("s1"), DialectChoice::Auto);
    let mut out = Vec::new();
    for t in bursts {
        ing.feed(&received(t), &mut out);
    }
    let events = out
        .into_iter()
        .map(|i| match i {
            Input::Air(a) => a.event,
            other => panic!("{other:?}"),
        })
        .collect();
    (events, ing)
}

fn received(t: &Transmit) -> Received {
    Received {
        site: t.site.clone(),
        slot: t.slot,
        burst: t.burst,
        rssi_dbm: None,
        ber_percent: None,
        meta: t.meta,
        at: Instant::now(),
    }
}

#[test]
fn a_seeded_run_repeats_its_traffic() {
    let first = |seed| {
        let mut site = config(seed, Dialect::Pdt).build_sites(60).remove(0);
        let mut v = run(&mut site, 0, 60_000);
        v.truncate(1_500);
        v
    };
    let a = first(7);
    assert_eq!(
        a.len(),
        1_500,
        "a minute of a busy site sends more than 1,500 bursts"
    );
    assert_eq!(a, first(7));
    assert_ne!(a, first(8));
}

#[test]
fn the_traffic_decodes_into_the_inputs_the_radios_meant() {
    for dialect in [Dialect::Pdt, Dialect::Dmr] {
        let cfg = config(3, dialect);
        let mut site = cfg.build_sites(60).remove(0);
        let bursts = run(&mut site, 0, 120_000);
        let (events, ing) = ingest(&bursts);
        let c = ing.counters();
        assert_eq!(
            (
                c.sync,
                c.slot_type,
                c.fec,
                c.crc,
                c.parse,
                c.data_errors,
                c.mbc_errors
            ),
            (0, 0, 0, 0, 0, 0, 0),
            "{dialect:?}: {c:?}"
        );
        let kinds: BTreeSet<&str> = events
            .iter()
            .map(|e| match e {
                AirEvent::Registered { .. } => "registered",
                AirEvent::Affiliated { .. } => "affiliated",
                AirEvent::VoiceGrant { .. } => "grant",
                AirEvent::VoiceLc { .. } => "voice_lc",
                AirEvent::VoiceTerminator { .. } => "terminator",
                AirEvent::CallCleared { .. } => "cleared",
                AirEvent::TalkerAlias { .. } => "alias",
                AirEvent::EmergencyAlarm { .. } => "emergency",
                AirEvent::Text { .. } => "text",
                AirEvent::Status { .. } => "status",
                AirEvent::Position { .. } => "position",
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        for k in [
            "registered",
            "affiliated",
            "grant",
            "voice_lc",
            "terminator",
            "cleared",
            "alias",
            "text",
            "status",
            "position",
        ] {
            assert!(kinds.contains(k), "{dialect:?}: no {k} in {kinds:?}");
        }
        // every in-coverage radio registered; texts are Chinese; aliases read back
        let registered: BTreeSet<u32> = events
            .iter()
            .filter_map(|e| match e {
                AirEvent::Registered { radio } => Some(radio.air()),
                _ => None,
            })
            .collect();
        assert!(registered.len() >= 8, "{registered:?}");
        assert!(events.iter().any(|e| matches!(e,
            AirEvent::Text { text, to: Addressee::Radio(d), .. }
                if d.air() == egress::DISPATI && text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))));
        assert!(events.iter().any(|e| matches!(e,
            AirEvent::TalkerAlias { alias, .. } if alias.starts_with("应急"))));
        let sources: Vec<PositionSource> = events
            .iter()
            .filter_map(|e| match e {
                AirEvent::Position { position, .. } => Some(position.source),
                _ => None,
            })
            .collect();
        let report = match dialect {
            Dialect::Pdt => PositionSource::HyteraLp,
            Dialect::Dmr => PositionSource::Lrrp,
        };
        assert!(sources.contains(&PositionSource::EmbeddedLc) && sources.contains(&report));
    }
}

fn one_radio_site(dialect: Dialect, out_of_coverage: bool) -> SimSite {
    let spec = SiteSpec {
        name: "s1".into(),
        colour_code: 3,
        dialect,
        dispatcher: GW,
        talkgroups: vec![0x10_0001],
        rate: 0.0001, // no spontaneous traffic during the test
        burst_ms: 60,
    };
    let radio = RadioSpec {
        id: 0x10_0065,
        talkgroup: 0x10_0001,
        latitude: 23.1,
        longitude: 113.3,
        alias: String::new(),
        out_of_coverage,
        reply: None,
    };
    SimSite::new(spec, vec![radio], 5)
}

/// Send `m` to the one radio of a fresh site, run 5 s, and ingest what comes back.
fn exchange(
    site: &mut SimSite,
    profile: AirProfile,
    dialect: Dialect,
    m: &AirMessage,
    at: u64,
) -> Vec<AirEvent> {
    let bursts = egress::encode(3, dialect, profile, m, GW).unwrap();
    for t in egress::to_transmits(&"s1".into(), &bursts) {
        site.receive(at, &received(&t));
    }
    let back = run(site, at, at + 5_000);
    let (events, _) = ingest(&back);
    events
        .into_iter()
        .filter(|e| matches!(e, AirEvent::Answer { .. } | AirEvent::Position { .. }))
        .collect()
}

#[test]
fn every_command_is_answered_by_the_table() {
    use AirProfile::*;
    let radio = RadioId::new(0x10_0065).unwrap();
    let accepted = |service| AirEvent::Answer {
        radio,
        service,
        answer: Answer::Accepted,
    };
    for profile in [TierIii, DmraConventional, Pdt] {
        let dialect = if profile == Pdt {
            Dialect::Pdt
        } else {
            Dialect::Dmr
        };
        let mut site = one_radio_site(dialect, false);
        // registration first (the site starts with it)
        let _ = run(&mut site, 0, 3_000);
        let mut at = 4_000;
        let mut ask = |m: AirMessage| {
            let e = exchange(&mut site, profile, dialect, &m, at);
            at += 6_000;
            e
        };
        let check = ask(AirMessage::RadioCheck { radio });
        let expect_check = match profile {
            TierIii | Pdt => Some(Service::RadioCheck),
            DmraConventional => Some(Service::RadioCheck),
        };
        assert_eq!(check, vec![accepted(expect_check)], "{profile:?}");

        let alert = ask(AirMessage::CallAlert { radio });
        assert_eq!(
            alert,
            vec![accepted(Some(Service::CallAlert))],
            "{profile:?}"
        );

        let stun = ask(AirMessage::Stun { radio });
        let stun_service = if profile == TierIii {
            None
        } else {
            Some(Service::Stun)
        };
        assert_eq!(stun, vec![accepted(stun_service)], "{profile:?}");
        // a stunned radio ignores a radio check, and answers a revive
        assert!(
            ask(AirMessage::RadioCheck { radio }).is_empty(),
            "{profile:?}"
        );
        let revive = ask(AirMessage::Revive { radio });
        let revive_service = if profile == TierIii {
            None
        } else {
            Some(Service::Revive)
        };
        assert_eq!(revive, vec![accepted(revive_service)], "{profile:?}");

        let text = ask(AirMessage::Text {
            to: Addressee::Radio(radio),
            text: "收到请回复".into(),
        });
        assert_eq!(text, vec![accepted(None)], "{profile:?}");

        let status = ask(AirMessage::Status {
            to: Addressee::Radio(radio),
            status: 5,
        });
        assert_eq!(status, vec![accepted(None)], "{profile:?}");

        let loc = ask(AirMessage::LocationRequest { radio, request: 77 });
        assert_eq!(loc.len(), 2, "{profile:?}: {loc:?}");
        assert_eq!(loc[0], accepted(None));
        let AirEvent::Position { radio: r, position } = &loc[1] else {
            panic!("{loc:?}")
        };
        assert_eq!(*r, radio);
        assert!(
            (position.latitude - 23.1).abs() < 0.01 && (position.longitude - 113.3).abs() < 0.01
        );
        let want = if profile == Pdt {
            PositionSource::HyteraLp
        } else {
            PositionSource::Lrrp
        };
        assert_eq!(position.source, want);

        if profile != DmraConventional {
            let ack = ask(AirMessage::EmergencyAck {
                radio,
                talkgroup: None,
            });
            assert!(ack.is_empty(), "no answer to an emergency ack: {ack:?}");
            let kill = ask(AirMessage::Kill { radio });
            let kill_service = Some(Service::Kill);
            assert_eq!(kill, vec![accepted(kill_service)], "{profile:?}");
            assert!(
                ask(AirMessage::RadioCheck { radio }).is_empty(),
                "killed: {profile:?}"
            );
        }
    }
}

#[test]
fn a_radio_out_of_coverage_never_answers() {
    let radio = RadioId::new(0x10_0065).unwrap();
    let mut site = one_radio_site(Dialect::Pdt, true);
    let quiet = run(&mut site, 0, 3_000);
    assert!(quiet.iter().all(|t| t.slot == trunkgate::link::Slot::One));
    let answers = exchange(
        &mut site,
        AirProfile::Pdt,
        Dialect::Pdt,
        &AirMessage::RadioCheck { radio },
        4_000,
    );
    assert!(answers.is_empty());
    assert_eq!(site.counters().answers, 0);
}

/// A text to a talkgroup counts once per radio of the site on it; a text to another group,
/// none.
#[test]
fn a_group_text_is_counted_by_the_radios_on_the_group() {
    let mut site = one_radio_site(Dialect::Pdt, false);
    let _ = run(&mut site, 0, 3_000);
    let text = |tg: u32| AirMessage::Text {
        to: Addressee::Talkgroup(TalkgroupId::new(tg).unwrap()),
        text: "集合".into(),
    };
    for (tg, at) in [(0x10_0002, 4_000), (0x10_0001, 10_000)] {
        let _ = exchange(&mut site, AirProfile::Pdt, Dialect::Pdt, &text(tg), at);
    }
    assert_eq!(site.counters().group_texts_received, 1);
    assert_eq!(site.counters().texts_received, 0);
}

#[test]
fn users_answer_a_call_out_once_whether_by_group_or_by_their_own_text() {
    use trunkgate::dispatch::TalkgroupId;
    use trunkgate::sim::SimReply;
    let dialect = Dialect::Pdt;
    let spec = SiteSpec {
        name: "s1".into(),
        colour_code: 3,
        dialect,
        dispatcher: GW,
        talkgroups: vec![0x10_0001],
        rate: 0.0001,
        burst_ms: 60,
    };
    let radio = |id: u32, reply: Option<SimReply>| RadioSpec {
        id,
        talkgroup: 0x10_0001,
        latitude: 23.1,
        longitude: 113.3,
        alias: String::new(),
        out_of_coverage: false,
        reply,
    };
    let answers = SimReply {
        status: 2,
        delay_ms: 3_000,
    };
    let mut site = SimSite::new(
        spec,
        vec![radio(0x10_0065, Some(answers)), radio(0x10_0066, None)],
        5,
    );
    let _ = run(&mut site, 0, 3_000);
    let send = |site: &mut SimSite, m: &AirMessage, at: u64| {
        let bursts = egress::encode(3, dialect, AirProfile::Pdt, m, GW).unwrap();
        for t in egress::to_transmits(&"s1".into(), &bursts) {
            site.receive(at, &received(&t));
        }
    };
    let statuses = |bursts: &[Transmit]| -> Vec<(RadioId, u16)> {
        ingest(bursts)
            .0
            .into_iter()
            .filter_map(|e| match e {
                AirEvent::Status { source, status, .. } => Some((source, status)),
                _ => None,
            })
            .collect()
    };
    // The group alert: the answering user replies "on my way" 3 s later; the other never.
    let group = AirMessage::Text {
        to: Addressee::Talkgroup(TalkgroupId::new(0x10_0001).unwrap()),
        text: "山洪预警".into(),
    };
    send(&mut site, &group, 4_000);
    let back = run(&mut site, 4_000, 6_900);
    assert!(statuses(&back).is_empty(), "not before its delay");
    let back = run(&mut site, 6_920, 9_000);
    assert_eq!(statuses(&back), vec![(RadioId::new(0x10_0065).unwrap(), 2)]);
    assert_eq!(site.counters().replies, 1);
    assert_eq!(site.counters().group_received, 1);
    // The individual follow-up soon after is acknowledged, not answered a second time.
    let own = AirMessage::Text {
        to: Addressee::Radio(RadioId::new(0x10_0065).unwrap()),
        text: "山洪预警".into(),
    };
    send(&mut site, &own, 10_000);
    let back = run(&mut site, 10_000, 20_000);
    assert!(statuses(&back).is_empty());
    assert_eq!(site.counters().replies, 1);
}
