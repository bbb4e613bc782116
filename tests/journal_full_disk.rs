//! A full disk under load: the real `trunkgate serve` process keeps its journal on a small
//! tmpfs, the simulated county (`trunkgate sim`, a separate process) keeps sending, and the
//! test fills the filesystem for real. While writes fail the gateway must not act: no
//! command is accepted or transmitted, health says NOT_SERVING, watchers see nothing that
//! is not durable. An emergency raised meanwhile is held and journaled once space returns;
//! after a restart everything journaled is intact and a repeated `request_id` names the
//! operation it named before.
//!
//! Mounting a tmpfs needs root (CI runs as root); without it this test fails and says so.
//! Everything else runs on 127.0.0.1 with ports picked by the OS; every wait has a deadline.

mod access_support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use trunkgate::api::pb;
use trunkgate::journal::sqlite::{SqliteConfig, SqliteReader};
use trunkgate::journal::{Cursor, JournalReader};
use trunkgate::link::homebrew::{HomebrewCounters, Peer, PeerConfig, PeerId};
use trunkgate::link::{
    FrameMeta, LinkCounters, LinkState, Received, SiteName, Slot, Transmission, Transmit,
};
use trunkgate::wire::Dialect;
use trunkgate::wire::burst::{DataType, SyncPattern};
use trunkgate::wire::csbk::{Csbk, CsbkBody, PdtAlarm, ReasonCode};
use trunkgate::wire::pipeline::bptc_burst;

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");
/// The field site's peer, logged in by this test.
const FIELD_PEER: u32 = 310_002;
/// A radio on the field site (PDT air address).
const FIELD_RADIO: u32 = 0x89_8011;
/// REGI and "registration accepted" (docs/air-interface.md notes: gateway identities, C_ACKD
/// reasons), as the simulated sites send them.
const REGI: u32 = 0xFF_FEC6;
const REGISTRATION_ACCEPTED: u8 = 0x62;
/// DISPATI, the dispatcher identity an alarm is addressed to.
const DISPATI: u32 = 0xFF_FECB;

fn free_tcp() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn free_udp() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A tmpfs of `size` mounted at `path` for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs to fill a disk for real and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(api: SocketAddr, homebrew: SocketAddr) -> String {
    format!(
        r#"
[api]
listen = "{api}"
heartbeat_secs = 1

[dispatch]
answer_timeout_secs = 2
attempts = 10

[[site]]
name = "county"
profile = "pdt"
dialect = "pdt"
colour_code = 1

[[site]]
name = "field"
profile = "pdt"
dialect = "pdt"
colour_code = 1

[homebrew_master]
bind = "{homebrew}"

[[homebrew_master.peer]]
id = 310001
passphrase = "passw0rd"
site = "county"

[[homebrew_master.peer]]
id = {FIELD_PEER}
passphrase = "passw0rd"
site = "field"
"#
    )
}

fn gateway(dir: &Path, data: &Path, api: SocketAddr, homebrew: SocketAddr, log: &str) -> Proc {
    let file = dir.join("gateway.toml");
    std::fs::write(
        &file,
        config(api, homebrew) + &access_support::access_toml(),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join(log)).unwrap();
    Proc(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&file)
            .arg("--data-dir")
            .arg(data)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("trunkgate serve starts"),
    )
}

async fn connect(api: SocketAddr) -> access_support::Ch {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Channel::from_shared(format!("http://{api}"))
            .unwrap()
            .connect()
            .await
        {
            Ok(ch) => return access_support::authed(ch),
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "gateway at {api} did not come up: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn health(ch: &access_support::Ch) -> Option<ServingStatus> {
    let mut client = HealthClient::new(ch.clone());
    let r = client
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(r.into_inner().status).ok()
}

async fn wait_for_health(ch: &access_support::Ch, want: ServingStatus, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while health(ch).await != Some(want) {
        assert!(
            Instant::now() < deadline,
            "health never became {want:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every event a watcher received: cursor → (type, time in ms, payload debug text).
#[derive(Default)]
struct Seen {
    events: BTreeMap<u64, (String, i64, String)>,
    last: u64,
}

/// Watch from the start of the journal in `journal_dir` (its identity read from the file, as
/// a client learns it from any cursor) until `stop`, reconnecting and resuming after the last
/// cursor.
async fn watcher(
    api: SocketAddr,
    journal_dir: PathBuf,
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
) {
    let reader = SqliteReader::open(&journal_dir, &SqliteConfig::default()).unwrap();
    let journal = reader.identity();
    while !stop.is_cancelled() {
        let Ok(ch) = Channel::from_shared(format!("http://{api}"))
            .unwrap()
            .connect()
            .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let cursor = seen.lock().unwrap().last;
        let mut client =
            pb::event_service_client::EventServiceClient::new(access_support::authed(ch));
        let request = pb::WatchEventsRequest {
            cursor: Cursor::new(journal, cursor).to_string(),
            ..Default::default()
        };
        let Ok(response) = client.watch_events(request).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut stream = response.into_inner();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                msg = stream.message() => match msg {
                    Ok(Some(pb::WatchEventsResponse {
                        kind: Some(pb::watch_events_response::Kind::Event(e)),
                    })) => {
                        let mut s = seen.lock().unwrap();
                        let at = e.time.map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos / 1_000_000));
                        let payload = format!("{:?}", e.payload);
                        let cursor: Cursor = e.cursor.parse().expect("a well-formed cursor");
                        assert_eq!(cursor.journal, journal, "one journal throughout");
                        assert!(
                            s.events.insert(cursor.seq, (e.r#type.clone(), at, payload)).is_none(),
                            "cursor {} delivered twice",
                            e.cursor
                        );
                        s.last = cursor.seq;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                },
            }
        }
    }
}

/// The field site: a Homebrew peer run by the test; records the gateway's DMRDs to
/// FIELD_RADIO with their stream IDs (one per transmission: the link draws a fresh one each).
struct Field {
    tx: mpsc::Sender<Transmission>,
    /// When each DMRD to FIELD_RADIO arrived, and its stream ID.
    to_radio: Arc<Mutex<Vec<(Instant, u32)>>>,
    stop: CancellationToken,
}

impl Field {
    async fn login(master: SocketAddr) -> Field {
        let mut pc = PeerConfig::new(
            master,
            PeerId(FIELD_PEER),
            "passw0rd".to_string(),
            SiteName::from("field"),
        );
        pc.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        pc.backoff_min = Duration::from_millis(200);
        let counters = Arc::new(HomebrewCounters::new(Arc::new(LinkCounters::default())));
        let peer = Peer::bind(pc, counters).await.unwrap();
        let (rx_tx, mut rx) = mpsc::channel::<Received>(1024);
        let (tx, tx_rx) = mpsc::channel::<Transmission>(1024);
        let (state_tx, mut state) = mpsc::channel::<LinkState>(16);
        let stop = CancellationToken::new();
        tokio::spawn(peer.run(rx_tx, tx_rx, state_tx, stop.clone()));
        let up = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(s) = state.recv().await {
                if matches!(s, LinkState::Up { .. }) {
                    return;
                }
            }
        })
        .await;
        assert!(up.is_ok(), "the field peer never logged in");
        tokio::spawn(async move { while state.recv().await.is_some() {} });
        let to_radio = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&to_radio);
        tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                if let Some(m) = r.meta.filter(|m| m.destination == FIELD_RADIO) {
                    seen.lock().unwrap().push((Instant::now(), m.stream_id));
                }
            }
        });
        Field { tx, to_radio, stop }
    }

    async fn send(&self, csbk: &Csbk) {
        let burst = bptc_burst(
            SyncPattern::BsData,
            1,
            DataType::Csbk,
            &csbk.to_bytes(Dialect::Pdt),
        );
        let meta = FrameMeta {
            source: csbk.source().unwrap_or(0),
            destination: csbk.target().unwrap_or(0),
            private: true,
            stream_id: rand_stream(),
        };
        self.tx
            .send(
                Transmit {
                    site: SiteName::from("field"),
                    slot: Slot::One,
                    burst,
                    meta: Some(meta),
                }
                .into(),
            )
            .await
            .unwrap();
    }

    /// Transmissions whose first burst arrived between `from` and `to`. The link sends a
    /// transmission's bursts at the air rate (60 ms each), so one handed over before an
    /// outage may still be finishing after it started; only a new stream is a new decision.
    fn transmissions_between(&self, from: Instant, to: Instant) -> usize {
        let v = self.to_radio.lock().unwrap();
        let mut first: HashMap<u32, Instant> = HashMap::new();
        for &(t, stream) in v.iter() {
            first.entry(stream).or_insert(t);
        }
        first.values().filter(|&&t| t >= from && t <= to).count()
    }
}

fn rand_stream() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.subsec_nanos() | 1
}

fn field_radio() -> String {
    format!("radios/0x{FIELD_RADIO:06X}")
}

async fn check(ch: &access_support::Ch, request_id: &str) -> Result<pb::Operation, tonic::Status> {
    let mut commands = pb::command_service_client::CommandServiceClient::new(ch.clone());
    commands
        .check_radio(pb::RadioCommandRequest {
            name: field_radio(),
            request_id: request_id.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

/// Fill the filesystem under `path` until it has no room left; returns the filler file.
fn fill(path: &Path) -> PathBuf {
    let filler = path.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "{e}"); // ENOSPC
                break;
            }
        }
    }
    // The last page too.
    while f.write(&[0u8; 512]).is_ok_and(|n| n > 0) {}
    filler
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_gateway_acting_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _tmpfs = Tmpfs::mount(&data, "24m");
    let (api, homebrew) = (free_tcp(), free_udp());
    let gw = gateway(dir.path(), &data, api, homebrew, "gateway-1.log");
    let ch = connect(api).await;

    // The simulated county, as its own process, keeps sending throughout.
    let _load = Proc(
        Command::new(BIN)
            .args(["sim", "--connect", &homebrew.to_string()])
            .args(["--radios", "40", "--rate", "200", "--duration", "150"])
            .args(["--peer-id", "310001", "--passphrase", "passw0rd"])
            .args(["--site", "county", "--out-of-coverage", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("trunkgate sim starts"),
    );
    let field = Field::login(homebrew).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop_watch = CancellationToken::new();
    let watch = tokio::spawn(watcher(
        api,
        data.join("journal"),
        Arc::clone(&seen),
        stop_watch.clone(),
    ));

    // The field radio registers; load flows.
    field
        .send(&Csbk::ackd(
            FIELD_RADIO,
            REGI,
            ReasonCode(REGISTRATION_ACCEPTED),
        ))
        .await;
    let mut radios = pb::radio_service_client::RadioServiceClient::new(ch.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let registered = radios
            .get_radio(pb::GetRadioRequest {
                name: field_radio(),
            })
            .await
            .is_ok_and(|r| r.into_inner().registered);
        if registered && seen.lock().unwrap().events.len() > 50 {
            break;
        }
        assert!(Instant::now() < deadline, "load never reached the gateway");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for_health(&ch, ServingStatus::Serving, "before the disk fills").await;
    // The radio's resource name as events carry it (its dial number).
    let field_name = radios
        .get_radio(pb::GetRadioRequest {
            name: field_radio(),
        })
        .await
        .unwrap()
        .into_inner()
        .name;

    // A command before the disk fills: it is durable, and keeps retrying (the field radio
    // never answers), so its transmissions would fall into the outage if anything leaked.
    let before = check(&ch, "before-full").await.expect("accepted");

    // The disk fills for real.
    let filler = fill(&data);
    wait_for_health(&ch, ServingStatus::NotServing, "after the disk filled").await;
    let outage_start = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let frozen = seen.lock().unwrap().last;

    // Commands are refused with the cause.
    let refused = check(&ch, "during-full").await.expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("journal cannot be written"),
        "{}",
        refused.message()
    );
    // An emergency from the field while writes fail: held, not lost.
    let alarm = Csbk::new(CsbkBody::HytAlarm(PdtAlarm {
        sequence: 1,
        reserved: 0,
        target: DISPATI,
        source: FIELD_RADIO,
    }))
    .unwrap();
    field.send(&alarm).await;
    let alarm_sent = trunkgate::app::driver::now().0 as i64;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        health(&ch).await,
        Some(ServingStatus::NotServing),
        "health while writes fail"
    );
    assert_eq!(
        seen.lock().unwrap().last,
        frozen,
        "a watcher saw events while the journal could not be written"
    );
    let outage_end = Instant::now();
    assert_eq!(
        field.transmissions_between(outage_start, outage_end),
        0,
        "transmitted while the journal could not be written"
    );

    // Space returns: the gateway resumes by itself; the held emergency arrives.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (alarm_at, recovered) = loop {
        {
            let s = seen.lock().unwrap();
            let alarm = s
                .events
                .values()
                .find(|(t, _, p)| t == "alarm_raised" && p.contains(&format!("{field_name:?}")));
            let recovered = s
                .events
                .range(frozen + 1..)
                .find(|(_, (t, _, _))| t == "journal_recovered")
                .map(|(c, (_, _, p))| (*c, p.clone()));
            if let (Some(alarm), Some(recovered)) = (alarm, recovered) {
                break (alarm.1, recovered);
            }
        }
        assert!(
            Instant::now() < deadline,
            "the held emergency never arrived after space returned; gateway log:\n{}",
            std::fs::read_to_string(dir.path().join("gateway-1.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        (alarm_at - alarm_sent).abs() < 2_000,
        "the alarm keeps the time it was received ({alarm_at} vs {alarm_sent})"
    );
    assert!(recovered.1.contains("full"), "{recovered:?}");
    wait_for_health(&ch, ServingStatus::Serving, "after space returned").await;
    let after = check(&ch, "after-full").await.expect("accepted again");
    assert_ne!(after.name, before.name);

    // Restart on the same journal.
    drop(gw);
    let gw = gateway(dir.path(), &data, api, homebrew, "gateway-2.log");
    let ch = connect(api).await;
    // The same request id names the same operation; the one refused meanwhile is new.
    let again = check(&ch, "before-full")
        .await
        .expect("the original operation");
    assert_eq!(again.name, before.name);
    let during = check(&ch, "during-full").await.expect("a new operation");
    let known: BTreeSet<String> = [before.name.clone(), after.name.clone()].into();
    assert!(!known.contains(&during.name), "{} reused", during.name);

    // Every event a watcher saw is in the journal, as it was seen.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop_watch.cancel();
    let _ = watch.await;
    let reader = SqliteReader::open(&data.join("journal"), &SqliteConfig::default()).unwrap();
    let s = seen.lock().unwrap();
    let first = *s.events.keys().next().unwrap();
    let last = *s.events.keys().next_back().unwrap();
    assert_eq!(first, 1);
    assert_eq!(
        s.events.len() as u64,
        last,
        "the watcher saw every cursor once"
    );
    let mut cursor = 0;
    while cursor < last {
        let page = reader.read_after(cursor, 1000).unwrap();
        assert!(
            !page.is_empty(),
            "journal ends at {cursor}, watcher saw {last}"
        );
        for record in &page {
            if let Some((kind, at, _)) = s.events.get(&record.seq) {
                assert_eq!(&record.kind, kind, "seq {}", record.seq);
                assert_eq!(record.at.0, *at, "seq {}", record.seq);
            }
        }
        cursor = page.last().unwrap().seq;
    }
    drop(gw);
    field.stop.cancel();

    // The cause was logged once when it started and once when it cleared.
    let log = std::fs::read_to_string(dir.path().join("gateway-1.log")).unwrap();
    assert_eq!(
        log.matches("journal commit failed").count(),
        1,
        "start of the outage logged once:\n{log}"
    );
    assert_eq!(
        log.matches("the journal is writable again").count(),
        1,
        "end of the outage logged once:\n{log}"
    );
}
