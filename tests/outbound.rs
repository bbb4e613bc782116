//! How the gateway's transmissions leave, over real sockets (docs/design.md, the data path: a
//! transmit queue per site and slot, bursts paced at the air rate, a fresh stream ID per
//! transmission, "sent at" fed back to the core; docs/air-commands.md §0 "Which slot").
//!
//! The real gateway runs in this process (`app::serve::start`, a temporary data directory).
//! A UDP socket on 127.0.0.1 logs into its Homebrew master with the real peer login
//! ([`PeerSession`], docs/transports.md §2.3) and plays a repeater: it makes a radio heard with a
//! C_ACKD registration (docs/air-interface.md §3.4) and records every DMRD the master sends with its
//! arrival time. Commands go in through the driver, as the API hands them over.
//!
//! Timing assertions are lower bounds only (never "fast enough"): bursts of one transmission
//! are at least the air rate apart, and a retry comes no sooner than the answer window after
//! the previous attempt's last burst. Arrival times carry receive jitter, which can only make
//! an early datagram look late; bounds over a whole span allow [`JITTER`] for the first one.
//! Where the gateway's own clock decides (the events), the bounds are exact.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use trunkgate::app::config::Config;
use trunkgate::app::serve::{self, Running, ServeOptions};
use trunkgate::dispatch::{
    Addressee, Command, Event, EventKind, OperationId, OtaCommand, RadioId, Reply, Request,
    TalkgroupId,
};
use trunkgate::journal::hub::Start;
use trunkgate::link::homebrew::packet::{CallType, Dmrd, FrameType, Packet, PeerId};
use trunkgate::link::homebrew::peer::{PeerAction, PeerConfig, PeerSession};
use trunkgate::link::homebrew::{HomebrewCounters, classify_burst};
use trunkgate::link::{LinkCounters, SiteName, Slot};
use trunkgate::wire::Dialect;
use trunkgate::wire::burst::{DataType, SyncPattern};
use trunkgate::wire::csbk::{Csbk, ReasonCode};
use trunkgate::wire::pipeline::bptc_burst;

const PEER: u32 = 4_600_001;
const PASSPHRASE: &str = "passw0rd";
const RADIO: u32 = 0x20_0001;
/// REGI and reason 0x62, registration accepted (docs/air-interface.md §3.4, §3.7).
const REGI: u32 = 0xFF_FEC6;
/// One burst per 60 ms per slot (ETSI TS 102 361-1 §4.2).
const AIR: Duration = Duration::from_millis(60);
/// Receive jitter allowed on the first datagram of a measured span.
const JITTER: Duration = Duration::from_millis(25);
/// Generous deadline for anything to happen.
const WAIT: Duration = Duration::from_secs(20);
/// A radio check: 6 preambles and the C_AHOY (docs/air-commands.md §2).
const CHECK_BURSTS: usize = 7;

/// A voice LC header MMDVMHost sent for a group call from 4600123 to TG 46001 on TS2
/// (docs/transports.md §5, measured; the same capture as tests/link_homebrew.rs).
const GROUP_HEADER: &str = "03aa146c339c3978bb4099e1846d5d7f77fd757e32d803905f90f7213a831a8061";
const TALKGROUP: u32 = 46_001;

fn config(site_extra: &str, talkgroup_extra: &str) -> Config {
    Config::parse(&format!(
        r#"
[api]
listen = "127.0.0.1:0"

[dispatch]
answer_timeout_secs = 1
attempts = 2

[[site]]
name = "north"
profile = "pdt"
dialect = "auto"
colour_code = 1
{site_extra}

[[talkgroup]]
id = {TALKGROUP}
name = "group"
{talkgroup_extra}

[homebrew_master]
bind = "127.0.0.1:0"

[[homebrew_master.peer]]
id = {PEER}
passphrase = "{PASSPHRASE}"
site = "north"
"#
    ))
    .expect("test config parses")
}

struct Gateway {
    running: Running,
    shutdown: CancellationToken,
    join: tokio::task::JoinHandle<()>,
}

impl Gateway {
    async fn start(config: Config, data: &Path) -> Gateway {
        let problems = config.validate();
        assert!(problems.is_empty(), "{problems:?}");
        let options = ServeOptions {
            data_dir: Some(data.to_path_buf()),
            ..ServeOptions::default()
        };
        let shutdown = CancellationToken::new();
        let (running, join) = serve::start(config, &options, shutdown.clone())
            .await
            .expect("gateway starts");
        Gateway {
            running,
            shutdown,
            join,
        }
    }

    async fn command(&self, command: OtaCommand) -> OperationId {
        let reply = tokio::time::timeout(
            WAIT,
            self.running.driver.command(Request {
                request_id: None,
                operator: Some("test".into()),
                reason: Some("test".into()),
                client: None,
                command: Command::Ota(command),
            }),
        )
        .await
        .expect("answered in time")
        .expect("driver up")
        .expect("command accepted");
        match reply {
            Reply::Operation(op) => op.id,
            other => panic!("{other:?}"),
        }
    }

    /// Every event journaled so far.
    async fn events(&self) -> Vec<Event> {
        let driver = &self.running.driver;
        let latest = driver.read(|_, seq| seq).await.unwrap();
        let hub = driver.hub();
        let mut sub = hub.subscribe(Start::After(hub.cursor(0))).await.unwrap();
        let mut out = Vec::new();
        while out.len() < latest as usize {
            let e = tokio::time::timeout(WAIT, sub.next())
                .await
                .expect("replay in time")
                .expect("event");
            out.push(e.event.clone());
        }
        out
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.join)
            .await
            .expect("gateway stops")
            .unwrap();
    }
}

/// The repeater side: logged in, recording DMRD.
struct Repeater {
    socket: UdpSocket,
}

/// A DMRD as it arrived.
#[derive(Debug, Clone)]
struct Got {
    at: Instant,
    d: Dmrd,
}

impl Repeater {
    async fn login(master: SocketAddr) -> Repeater {
        let socket = tokio::task::spawn_blocking(move || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.connect(master).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let cfg = PeerConfig::new(
                master,
                PeerId(PEER),
                PASSPHRASE.to_string(),
                SiteName::from("north"),
            );
            let counters = Arc::new(HomebrewCounters::new(Arc::new(LinkCounters::default())));
            let mut session = PeerSession::new(&cfg, Instant::now(), counters);
            let deadline = Instant::now() + WAIT;
            let mut out = Vec::new();
            let mut buf = [0u8; 2048];
            while Instant::now() < deadline {
                session.poll(Instant::now(), &mut out);
                for a in out.drain(..) {
                    if let PeerAction::Send(p) = a {
                        socket.send(&p.to_vec()).unwrap();
                    }
                }
                if session.is_connected() {
                    socket.set_nonblocking(true).unwrap();
                    return socket;
                }
                if let Ok(n) = socket.recv(&mut buf)
                    && let Ok(p) = Packet::parse(&buf[..n])
                {
                    session.handle(Instant::now(), p, &mut out);
                }
            }
            panic!("the Homebrew login did not complete");
        })
        .await
        .unwrap();
        Repeater {
            socket: UdpSocket::from_std(socket).unwrap(),
        }
    }

    async fn send(&self, d: Dmrd) {
        self.socket.send(&Packet::Dmrd(d).to_vec()).await.unwrap();
    }

    /// Make RADIO heard on TS1 (a C_ACKD registration from REGI).
    async fn register(&self) {
        let csbk = Csbk::ackd(RADIO, REGI, ReasonCode(0x62));
        let burst = bptc_burst(
            SyncPattern::BsData,
            1,
            DataType::Csbk,
            &csbk.to_bytes(Dialect::Pdt),
        );
        let (frame, dt) = classify_burst(&burst);
        self.send(Dmrd {
            seq: 0,
            source: REGI,
            destination: RADIO,
            repeater: PeerId(PEER),
            slot: Slot::One,
            call: CallType::Private,
            frame,
            data_type: dt.unwrap_or(3),
            stream_id: 0x0101_0101,
            burst,
            ber: 0,
            rssi: 70,
        })
        .await;
    }

    /// Make the talkgroup heard: a group voice header on TS2.
    async fn group_call(&self) {
        let mut burst = [0u8; 33];
        hex::decode_to_slice(GROUP_HEADER, &mut burst).unwrap();
        self.send(Dmrd {
            seq: 0,
            source: 4_600_123,
            destination: TALKGROUP,
            repeater: PeerId(PEER),
            slot: Slot::Two,
            call: CallType::Group,
            frame: FrameType::DataSync,
            data_type: 1,
            stream_id: 0x0202_0202,
            burst,
            ber: 0,
            rssi: 70,
        })
        .await;
    }

    /// DMRD datagrams until `n` have arrived.
    async fn dmrd(&self, n: usize) -> Vec<Got> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        let deadline = tokio::time::Instant::now() + WAIT;
        while out.len() < n {
            let (len, _) = tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("only {} of {n} DMRD arrived", out.len()))
                .unwrap();
            let at = Instant::now();
            if let Ok(Packet::Dmrd(d)) = Packet::parse(&buf[..len]) {
                out.push(Got { at, d });
            }
        }
        out
    }
}

/// Datagrams grouped by stream ID, in order of first arrival.
fn streams(got: &[Got]) -> Vec<Vec<Got>> {
    let mut out: Vec<Vec<Got>> = Vec::new();
    for g in got {
        match out.iter_mut().find(|s| s[0].d.stream_id == g.d.stream_id) {
            Some(s) => s.push(g.clone()),
            None => out.push(vec![g.clone()]),
        }
    }
    out
}

/// The bursts of one transmission are numbered from 0 and at least the air rate apart.
fn assert_paced(stream: &[Got]) {
    let seqs: Vec<u8> = stream.iter().map(|g| g.d.seq).collect();
    assert_eq!(seqs, (0..stream.len() as u8).collect::<Vec<_>>());
    let span = stream[stream.len() - 1].at - stream[0].at;
    let least = AIR * (stream.len() as u32 - 1);
    assert!(
        span + JITTER >= least,
        "{} bursts in {span:?}: faster than one per {AIR:?}",
        stream.len()
    );
}

async fn wait_heard(gw: &Gateway) {
    let radio = RadioId::new(RADIO).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let heard = gw
            .running
            .driver
            .read(move |core, _| core.radio(radio).and_then(|r| r.presence.clone()))
            .await
            .unwrap();
        if heard.is_some() {
            return;
        }
        assert!(Instant::now() < deadline, "the radio was never heard");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn check() -> OtaCommand {
    OtaCommand::RadioCheck {
        radio: RadioId::new(RADIO).unwrap(),
    }
}

/// (handed-over time, sent-at, window, deadline) of each attempt of `op`, from the events.
fn attempts(events: &[Event], op: OperationId) -> Vec<(u64, u64, u64, u64)> {
    let handed: Vec<u64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::OperationTransmitted { operation, .. } if *operation == op => Some(e.at.0),
            _ => None,
        })
        .collect();
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::OperationAired {
                operation,
                attempt,
                sent_at,
                answer_window_ms,
                deadline,
                ..
            } if *operation == op => Some((
                handed[usize::from(*attempt) - 1],
                sent_at.0,
                *answer_window_ms,
                deadline.0,
            )),
            _ => None,
        })
        .collect()
}

fn timed_out_at(events: &[Event], op: OperationId, attempt: u8) -> u64 {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::OperationAttemptTimedOut {
                operation,
                attempt: a,
            } if *operation == op && *a == attempt => Some(e.at.0),
            _ => None,
        })
        .expect("the attempt timed out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simplex_site_gets_its_commands_on_timeslot_2_paced_and_timed_from_the_real_send() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(config("slot = 2", ""), dir.path()).await;
    let rpt = Repeater::login(gw.running.homebrew.unwrap()).await;
    rpt.register().await;
    wait_heard(&gw).await;
    let op = gw.command(check()).await;
    // Two attempts (no answer), each a transmission of its own.
    let got = rpt.dmrd(2 * CHECK_BURSTS).await;
    assert!(got.iter().all(|g| g.d.slot == Slot::Two), "{got:?}");
    assert!(got.iter().all(|g| g.d.call == CallType::Private));
    let s = streams(&got);
    assert_eq!(s.len(), 2, "two attempts, two streams");
    for stream in &s {
        assert_eq!(stream.len(), CHECK_BURSTS);
        assert_paced(stream);
    }
    // The retry came no sooner than the 1 s answer window after attempt 1's last burst (a
    // deadline from the handover would have let it come one air time earlier).
    let gap = s[1][0].at - s[0][CHECK_BURSTS - 1].at;
    assert!(
        gap + JITTER >= Duration::from_secs(1),
        "retry {gap:?} after the last burst"
    );
    // The core timed the window from the link's report: the last burst left at least six air
    // intervals after the handover, and the attempt timed out no sooner than a second later.
    let events = gw.events().await;
    let a = attempts(&events, op);
    assert_eq!(a.len(), 2, "{a:?}");
    let (handed, sent_at, window, deadline) = a[0];
    assert!(sent_at >= handed + 6 * 60, "{a:?}");
    assert_eq!((window, deadline), (1_000, sent_at + 1_000));
    assert!(timed_out_at(&events, op, 1) >= deadline);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_talkgroup_configured_for_timeslot_2_gets_its_group_text_there() {
    let dir = tempfile::tempdir().unwrap();
    // The site's slot is TS1; the talkgroup's own is TS2.
    let gw = Gateway::start(config("", "slot = 2"), dir.path()).await;
    let rpt = Repeater::login(gw.running.homebrew.unwrap()).await;
    rpt.group_call().await;
    let group = TalkgroupId::new(TALKGROUP).unwrap();
    let deadline = Instant::now() + WAIT;
    while gw
        .running
        .driver
        .read(move |core, _| core.talkgroup(group).and_then(|t| t.last_site.clone()))
        .await
        .unwrap()
        .is_none()
    {
        assert!(Instant::now() < deadline, "the talkgroup was never heard");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.command(OtaCommand::SendText {
        to: Addressee::Talkgroup(group),
        text: "集合".into(),
    })
    .await;
    // 6 preambles, the data header and the text's blocks.
    let got = rpt.dmrd(CHECK_BURSTS + 1).await;
    assert!(got.iter().all(|g| g.d.slot == Slot::Two), "{got:?}");
    assert!(got.iter().all(|g| g.d.call == CallType::Group));
    assert!(got.iter().all(|g| g.d.destination == TALKGROUP));
    assert_eq!(streams(&got).len(), 1);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_ids_differ_across_checks_retries_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for _run in 0..2 {
        let gw = Gateway::start(config("", ""), dir.path()).await;
        let rpt = Repeater::login(gw.running.homebrew.unwrap()).await;
        rpt.register().await;
        wait_heard(&gw).await;
        gw.command(check()).await;
        let first = rpt.dmrd(CHECK_BURSTS).await;
        gw.command(check()).await;
        // The rest of both checks: two attempts each.
        let rest = rpt.dmrd(3 * CHECK_BURSTS).await;
        let all: Vec<Got> = first.into_iter().chain(rest).collect();
        let s = streams(&all);
        assert_eq!(s.len(), 4, "2 checks × 2 attempts");
        for stream in &s {
            assert_eq!(stream.len(), CHECK_BURSTS);
            assert_paced(stream);
        }
        ids.extend(s.iter().map(|s| s[0].d.stream_id));
        gw.stop().await;
    }
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 8, "stream IDs repeated: {ids:08x?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_air_time_extends_the_answer_window() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(config("extra_air_ms = 1500", ""), dir.path()).await;
    let rpt = Repeater::login(gw.running.homebrew.unwrap()).await;
    rpt.register().await;
    wait_heard(&gw).await;
    let op = gw.command(check()).await;
    let got = rpt.dmrd(2 * CHECK_BURSTS).await;
    let s = streams(&got);
    assert_eq!(s.len(), 2);
    let gap = s[1][0].at - s[0][CHECK_BURSTS - 1].at;
    assert!(
        gap + JITTER >= Duration::from_millis(2_500),
        "retry {gap:?} after the last burst, inside the 2.5 s window"
    );
    let events = gw.events().await;
    let a = attempts(&events, op);
    let (_, sent_at, window, deadline) = a[0];
    assert_eq!((window, deadline), (2_500, sent_at + 2_500), "{a:?}");
    assert!(timed_out_at(&events, op, 1) >= deadline);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rptc_field_leaves_as_configured() {
    let master = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    master
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let addr = master.local_addr().unwrap();
    let text = format!(
        r#"
[api]
listen = "127.0.0.1:0"

[[site]]
name = "north"
colour_code = 7

[[homebrew_peer]]
master = "{addr}"
bind = "127.0.0.1:0"
id = {PEER}
passphrase = "{PASSPHRASE}"
site = "north"
callsign = "BG0TEST"
rx_freq_hz = 351000000
tx_freq_hz = 361000000
tx_power_dbm = 25
latitude = 39.9
longitude = 116.4
height_m = 75
location = "Beijing"
description = "county site"
url = "www.example.org"
software_id = "20260101"
package_id = "MMDVM_trunkgate"
slots = 4
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(Config::parse(&text).unwrap(), dir.path()).await;
    // Play the master's side of the login until the RPTC arrives (docs/transports.md §2.3).
    let rptc = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let Ok((n, from)) = master.recv_from(&mut buf) else {
                continue;
            };
            let d = &buf[..n];
            if d.starts_with(b"RPTL") {
                master.send_to(b"RPTACK\x01\x02\x03\x04", from).unwrap();
            } else if d.starts_with(b"RPTK") {
                let mut ack = b"RPTACK".to_vec();
                ack.extend_from_slice(&PEER.to_be_bytes());
                master.send_to(&ack, from).unwrap();
            } else if d.starts_with(b"RPTC") {
                return d.to_vec();
            }
        }
        panic!("no RPTC");
    })
    .await
    .unwrap();
    assert_eq!(rptc.len(), 302);
    let field = |at: usize, len: usize| String::from_utf8(rptc[at..at + len].to_vec()).unwrap();
    // Offsets and formats: docs/transports.md §2.4 (DMRGateway's layout).
    assert_eq!(field(8, 8), "BG0TEST ");
    assert_eq!(field(16, 9), "351000000");
    assert_eq!(field(25, 9), "361000000");
    assert_eq!(field(34, 2), "25");
    assert_eq!(field(36, 2), "07", "the site's colour code by default");
    assert_eq!(field(38, 8).trim_end().parse::<f64>().unwrap(), 39.9);
    assert_eq!(field(46, 9).trim_end().parse::<f64>().unwrap(), 116.4);
    assert_eq!(field(55, 3), "075");
    assert_eq!(field(58, 20).trim_end(), "Beijing");
    assert_eq!(field(78, 19).trim_end(), "county site");
    assert_eq!(field(97, 1), "4");
    assert_eq!(field(98, 124).trim_end(), "www.example.org");
    assert_eq!(field(222, 40).trim_end(), "20260101");
    assert_eq!(field(262, 40).trim_end(), "MMDVM_trunkgate");
    gw.stop().await;
}
