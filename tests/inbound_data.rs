//! Inbound data as real radios and real Homebrew software send it, from the captures in
//! `fixtures/` (their headers name the sources): IP data (Motorola TMS, the text on UDP 5016,
//! the Hytera message whose header says BCD), decoded through the same ingest the gateway runs;
//! and the short DMRA / DMRG packets, over a real UDP socket into the Homebrew master, to alias
//! and position. Every wait has a deadline of seconds.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use trunkgate::dispatch::ingest::Ingest;
use trunkgate::dispatch::{Addressee, AirEvent, Input, RadioId, SiteId};
use trunkgate::link::homebrew::{
    ConfigBlock, HomebrewCounters, Master, MasterConfig, Packet, PeerEntry, PeerId, Short,
    login_digest, received, short_dmra, short_dmrg,
};
use trunkgate::link::{AuxKind, SiteName};
use trunkgate::wire::DialectChoice;

const WAIT: Duration = Duration::from_secs(5);

/// The hex lines of a fixture, comments dropped.
fn fixture(name: &str) -> Vec<String> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Every DMRD datagram of a capture through the gateway's ingest: the air events it makes.
fn ingest_capture(name: &str) -> Vec<AirEvent> {
    let site: SiteName = Arc::from("north");
    let mut ingest = Ingest::new(SiteId::new("north"), DialectChoice::Auto);
    let mut inputs = Vec::new();
    for line in fixture(name) {
        let bytes = hex::decode(&line).unwrap();
        let Packet::Dmrd(d) = Packet::parse(&bytes).unwrap() else {
            panic!("{name}: not a DMRD: {line}")
        };
        ingest.feed(&received(&site, &d, Instant::now()), &mut inputs);
    }
    inputs
        .into_iter()
        .map(|i| match i {
            Input::Air(a) => a.event,
            other => panic!("{other:?}"),
        })
        .collect()
}

fn text_from_capture(text: &str) -> AirEvent {
    AirEvent::Text {
        source: RadioId::new(3_191_868).unwrap(),
        to: Addressee::Radio(RadioId::new(9990).unwrap()),
        text: text.into(),
    }
}

#[test]
fn motorola_tms_capture_is_a_text_message() {
    assert_eq!(
        ingest_capture("dmrd_m_sms_ts1.hex"),
        vec![text_from_capture("TEST KI5VMF")]
    );
}

#[test]
fn port_5016_capture_is_a_text_message() {
    assert_eq!(
        ingest_capture("dmrd_dsms_ts1.hex"),
        vec![text_from_capture("TEST KI5VMF")]
    );
}

#[test]
fn hytera_bcd_header_over_utf16_shows_the_text_and_flags_it() {
    assert_eq!(
        ingest_capture("dmrd_h_sms_ts1.hex"),
        vec![text_from_capture("TEST KI5VMF")]
    );
    // The decode tool shows the flag: the encoding names the mismatch, and no digit appears
    // that is not in the payload.
    use trunkgate::wire::data::{BlockKind, DataAssembler};
    use trunkgate::wire::pipeline::{Pdu, decode_burst};
    let mut asm = DataAssembler::new(DialectChoice::Auto);
    let mut msg = None;
    for line in fixture("dmrd_h_sms_ts1.hex") {
        let bytes = hex::decode(&line).unwrap();
        let Packet::Dmrd(d) = Packet::parse(&bytes).unwrap() else {
            panic!()
        };
        let Ok(decoded) = decode_burst(&d.burst, DialectChoice::Auto) else {
            continue;
        };
        let kind = match decoded.pdu {
            Pdu::DataHeader { block, .. } => Some((BlockKind::Header, block.to_vec())),
            Pdu::DataBlock { rate, octets } => {
                Some((BlockKind::Data(rate), octets[..rate.block_len()].to_vec()))
            }
            _ => None,
        };
        if let Some((k, b)) = kind
            && let Ok(Some(pdu)) = asm.feed(k, &b)
        {
            msg = Some(trunkgate::wire::sdata::decode(&pdu));
        }
    }
    assert_eq!(
        msg,
        Some(trunkgate::wire::sdata::Message::Text {
            encoding: "utf_16le_declared_bcd",
            text: "TEST KI5VMF".into()
        })
    );
}

/// (source port, destination port, datagram) of the DMRA / DMRG fixture.
fn aux_fixture() -> Vec<(u16, u16, Vec<u8>)> {
    fixture("homebrew_dmra_dmrg_short.hex")
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                hex::decode(f[2]).unwrap(),
            )
        })
        .collect()
}

#[test]
fn short_dmra_and_dmrg_are_read_in_both_forms() {
    // DMRGateway's repeater ID in the capture.
    let gw = PeerId(0x0046_30c1);
    let mut seen = 0;
    for (_, dport, bytes) in aux_fixture() {
        let packet = Packet::parse(&bytes).unwrap();
        assert_eq!(packet.to_vec(), bytes, "re-emitted byte-exactly");
        let cut = dport == 62040; // towards the master: DMRGateway's cut form
        match packet {
            Packet::DmraShort(body) => match short_dmra(&body, gw) {
                Short::Whole(a) => {
                    assert!(!cut);
                    assert_eq!((a.source, a.kind, &a.alias), (0x46_313b, 0, b"LBG0TST"));
                }
                Short::Cut { source } => assert!(cut && source == 0x46_313b),
            },
            Packet::DmrgShort(body) => match short_dmrg(&body, gw) {
                Short::Whole(g) => {
                    assert!(!cut);
                    assert_eq!(g.gps, [0x04, 0xaa, 0xaa, 0xaa, 0x2a, 0xaa, 0xaa]);
                }
                Short::Cut { source } => assert!(cut && source == 0x46_313b),
            },
            other => panic!("{other:?}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 4);
}

#[tokio::test]
async fn dmra_and_dmrg_through_the_master_become_alias_and_position() {
    let id = 0x0046_30c1;
    let peers = vec![PeerEntry {
        id: PeerId(id),
        passphrase: "passw0rd".into(),
        site: Arc::from("north"),
        allow: None,
        allowed_sources: None,
    }];
    let counters = Arc::new(HomebrewCounters::default());
    let (aux_tx, mut aux_rx) = mpsc::channel(16);
    let master = Master::bind(
        MasterConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), peers),
        counters.clone(),
    )
    .await
    .unwrap()
    .with_aux(aux_tx);
    let addr = master.local_addr().unwrap();
    let (rx_tx, _rx) = mpsc::channel(16);
    let (_tx, tx_rx) = mpsc::channel(16);
    let (state_tx, _state) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let task = tokio::spawn(master.run(rx_tx, tx_rx, state_tx, stop.clone()));

    // Log in over UDP like DMRGateway.
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let recv = async || {
        let mut buf = [0u8; 512];
        let n = timeout(WAIT, sock.recv(&mut buf)).await.unwrap().unwrap();
        Packet::parse(&buf[..n]).unwrap()
    };
    let pid = PeerId(id);
    sock.send_to(&Packet::Rptl(pid).to_vec(), addr)
        .await
        .unwrap();
    let Packet::RptAck(salt) = recv().await else {
        panic!()
    };
    let digest = login_digest(salt, b"passw0rd");
    sock.send_to(&Packet::Rptk { id: pid, digest }.to_vec(), addr)
        .await
        .unwrap();
    recv().await;
    let config = Box::new(ConfigBlock::from_info(&Default::default()));
    sock.send_to(&Packet::Rptc { id: pid, config }.to_vec(), addr)
        .await
        .unwrap();
    assert_eq!(recv().await, Packet::RptAck(id.to_be_bytes()));

    // Every datagram of the capture, both forms.
    for (_, _, bytes) in aux_fixture() {
        sock.send_to(&bytes, addr).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(timeout(WAIT, aux_rx.recv()).await.unwrap().unwrap());
    }
    assert_eq!(
        got[0].kind,
        AuxKind::TalkerAlias {
            block: 0,
            data: *b"LBG0TST"
        }
    );
    assert_eq!(
        got[1].kind,
        AuxKind::Gps {
            data: [0x04, 0xaa, 0xaa, 0xaa, 0x2a, 0xaa, 0xaa]
        }
    );
    assert!(
        got.iter()
            .all(|a| &*a.site == "north" && a.source == 0x46_313b)
    );
    // The cut ones are counted, not delivered.
    let deadline = tokio::time::Instant::now() + WAIT;
    while counters.snapshot().aux_cut < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "aux_cut not counted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(counters.snapshot().aux_in, 2);
    // And the ingest turns the delivered ones into alias and position.
    let mut ingest = Ingest::new(SiteId::new("north"), DialectChoice::Auto);
    let mut inputs = Vec::new();
    for a in &got {
        ingest.aux(a, &mut inputs);
    }
    let events: Vec<AirEvent> = inputs
        .into_iter()
        .map(|i| match i {
            Input::Air(a) => a.event,
            other => panic!("{other:?}"),
        })
        .collect();
    let radio = RadioId::new(0x46_313b).unwrap();
    assert_eq!(
        events[0],
        AirEvent::TalkerAlias {
            radio,
            alias: "BG0TST".into()
        }
    );
    assert!(matches!(events[1], AirEvent::Position { radio: r, .. } if r == radio));
    stop.cancel();
    timeout(WAIT, task).await.unwrap().unwrap().unwrap();
}

#[test]
fn texts_sent_in_each_site_form_read_back_as_the_same_text() {
    use trunkgate::dispatch::egress::{self, TextForm};
    use trunkgate::dispatch::{AirMessage, AirProfile};
    use trunkgate::link::{Received, Slot};
    use trunkgate::wire::Dialect;
    let radio = RadioId::new(0x10_0065).unwrap();
    let text = "山体滑坡预警 test";
    for form in [TextForm::PdtSms, TextForm::MotorolaTms] {
        for (profile, dialect) in [
            (AirProfile::Pdt, Dialect::Pdt),
            (AirProfile::TierIii, Dialect::Dmr),
        ] {
            let message = AirMessage::Text {
                to: Addressee::Radio(radio),
                text: text.into(),
            };
            let bursts = egress::encode_with_text_form(
                Slot::One,
                1,
                dialect,
                profile,
                &message,
                egress::DISPATI,
                form,
            )
            .unwrap();
            let mut ingest = Ingest::new(SiteId::new("north"), DialectChoice::Auto);
            let mut inputs = Vec::new();
            for b in &bursts {
                let r = Received {
                    site: Arc::from("north"),
                    slot: Slot::One,
                    burst: b.burst,
                    rssi_dbm: None,
                    ber_percent: None,
                    meta: None,
                    at: Instant::now(),
                };
                ingest.feed(&r, &mut inputs);
            }
            let texts: Vec<String> = inputs
                .into_iter()
                .filter_map(|i| match i {
                    Input::Air(a) => match a.event {
                        AirEvent::Text { text, to, .. } => {
                            assert_eq!(to, Addressee::Radio(radio));
                            Some(text)
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            assert_eq!(texts, vec![text.to_string()], "{form:?} {profile:?}");
        }
    }
}

/// The whole gateway: DMRA / DMRG from a logged-in peer become a learned alias and a reported
/// position in the core, and the cut ones show as `aux_cut` on the site's link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmra_and_dmrg_reach_the_core_through_the_running_gateway() {
    use trunkgate::app::config::Config;
    use trunkgate::app::serve::{self, ServeOptions};
    let dir = tempfile::tempdir().unwrap();
    let homebrew = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let api = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = format!(
        r#"
[api]
listen = "{api}"

[[site]]
name = "north"
profile = "tier3"
dialect = "dmr"

[homebrew_master]
bind = "{homebrew}"

[[homebrew_master.peer]]
id = {id}
passphrase = "passw0rd"
site = "north"
"#,
        id = 0x0046_30c1
    );
    let options = ServeOptions {
        data_dir: Some(dir.path().join("data")),
        ..ServeOptions::default()
    };
    let shutdown = CancellationToken::new();
    let (running, join) = serve::start(Config::parse(&text).unwrap(), &options, shutdown.clone())
        .await
        .unwrap();
    let master = running.homebrew.unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let recv = async || {
        let mut buf = [0u8; 512];
        let n = timeout(WAIT, sock.recv(&mut buf)).await.unwrap().unwrap();
        Packet::parse(&buf[..n]).unwrap()
    };
    let pid = PeerId(0x0046_30c1);
    sock.send_to(&Packet::Rptl(pid).to_vec(), master)
        .await
        .unwrap();
    let Packet::RptAck(salt) = recv().await else {
        panic!()
    };
    let digest = login_digest(salt, b"passw0rd");
    sock.send_to(&Packet::Rptk { id: pid, digest }.to_vec(), master)
        .await
        .unwrap();
    recv().await;
    let config = Box::new(ConfigBlock::from_info(&Default::default()));
    sock.send_to(&Packet::Rptc { id: pid, config }.to_vec(), master)
        .await
        .unwrap();
    assert_eq!(recv().await, Packet::RptAck(pid.0.to_be_bytes()));
    for (_, _, bytes) in aux_fixture() {
        sock.send_to(&bytes, master).await.unwrap();
    }
    let radio = RadioId::new(0x46_313b).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (alias, fixes) = running
            .driver
            .read(move |core, _| {
                (
                    core.radio(radio)
                        .and_then(|r| r.alias.as_deref().map(str::to_owned)),
                    core.track(radio).map_or(0, |t| t.reports.len()),
                )
            })
            .await
            .unwrap();
        if alias.as_deref() == Some("BG0TST") && fixes == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "alias {alias:?}, fixes {fixes}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let link = running
        .links
        .statuses()
        .into_iter()
        .find(|l| l.site == "north")
        .unwrap();
    assert_eq!(link.counters["aux_in"], 2);
    assert_eq!(link.counters["aux_cut"], 2);
    assert!(
        link.last_failure
            .unwrap()
            .0
            .starts_with("aux_cut: peer 4600001")
    );
    shutdown.cancel();
    timeout(Duration::from_secs(20), join)
        .await
        .unwrap()
        .unwrap();
}
