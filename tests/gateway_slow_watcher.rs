//! The slowest client never slows the radio side (docs/design.md; the issue "The main
//! job": "one watcher stops reading while others keep up: the others see no delay, the slow
//! one is cut with a resume cursor, memory stays bounded").
//!
//! The real gateway runs in this process (`app::serve::start`, temporary data directory,
//! `[api] watch_queue` small). Load comes through the real Homebrew link: a UDP socket logs in
//! with the real peer login ([`PeerSession`]: RPTL / RPTK / RPTC, docs/transports.md §2.1) and sends
//! DMRD datagrams (docs/transports.md §2.2), each a C_ACKD reason 0x62 from REGI (registration
//! accepted, docs/air-interface.md §3.4, 3.7) for a radio never heard before, so every datagram
//! becomes exactly two journaled events (`radio_heard`, `radio_registered`).
//!
//! Four gRPC watchers over 127.0.0.1, each on its own connection: three read everything, one
//! opens its stream and does not read it. The test checks that
//! - the fast watchers receive every event, in order, with no gap between two deliveries
//!   longer than 2 s while the load runs, and are never cut;
//! - the slow watcher is cut by the hub (its subscription freed: the hub's watcher count
//!   drops to three) while the load runs; when it finally reads, its stream holds the events
//!   that were already in flight and then ends with RESOURCE_EXHAUSTED whose ErrorInfo names
//!   `resume_cursor`, the cursor of the last event it got;
//! - watching again after that cursor delivers the next events with no gap, up to the end;
//! - the process's resident memory grows by a bounded amount meanwhile.
//!
//! Every wait has a deadline; nothing asserts speed beyond the 2 s bound.

mod access_support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_types::StatusExt;
use trunkgate::api::pb;
use trunkgate::app::config::Config;
use trunkgate::app::serve::{self, ServeOptions};
use trunkgate::journal::Cursor;
use trunkgate::link::homebrew::packet::{CallType, Dmrd, FrameType, Packet, PeerId};
use trunkgate::link::homebrew::peer::{PeerAction, PeerConfig, PeerSession};
use trunkgate::link::homebrew::{HomebrewCounters, classify_burst};
use trunkgate::link::{LinkCounters, SiteName, Slot};
use trunkgate::wire::Dialect;
use trunkgate::wire::burst::{DataType, SyncPattern};
use trunkgate::wire::csbk::{Csbk, ReasonCode};
use trunkgate::wire::pipeline::bptc_burst;

/// REGI (docs/air-interface.md §3.7) and reason 0x62, registration accepted (docs/air-interface.md §3.4).
const REGI: u32 = 0xFF_FEC6;
const REGISTRATION_ACCEPTED: u8 = 0x62;
const PEER: u32 = 3_100_001;
const PASSPHRASE: &str = "passw0rd";
/// Fresh radios: FIRST_RADIO + k.
const FIRST_RADIO: u32 = 0x20_0000;
/// Datagrams per millisecond while loading (2,000 per second, 4,000 events per second).
const PER_MS: u32 = 2;
/// The hub's per-watcher queue in this test.
const WATCH_QUEUE: usize = 2048;
/// Longest allowed pause between two events at a fast watcher while the load runs.
const MAX_GAP: Duration = Duration::from_secs(2);

fn config() -> String {
    format!(
        r#"
[api]
listen = "127.0.0.1:0"
heartbeat_secs = 1
watch_queue = {WATCH_QUEUE}

[[site]]
name = "load"
profile = "pdt"
dialect = "pdt"
colour_code = 1

[homebrew_master]
bind = "127.0.0.1:0"

[[homebrew_master.peer]]
id = {PEER}
passphrase = "{PASSPHRASE}"
site = "load"
"#
    )
}

/// Log a socket in through the real peer login state machine.
fn login(master: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(master).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let cfg = PeerConfig::new(
        master,
        PeerId(PEER),
        PASSPHRASE.to_string(),
        SiteName::from("load"),
    );
    let counters = Arc::new(HomebrewCounters::new(Arc::new(LinkCounters::default())));
    let mut session = PeerSession::new(&cfg, Instant::now(), counters);
    let deadline = Instant::now() + Duration::from_secs(10);
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
            return socket;
        }
        if let Ok(n) = socket.recv(&mut buf)
            && let Ok(p) = Packet::parse(&buf[..n])
        {
            session.handle(Instant::now(), p, &mut out);
        }
    }
    panic!("the Homebrew login did not complete");
}

/// A DMRD with a C_ACKD 0x62 from REGI for `radio`.
fn registration(radio: u32, stream: u32) -> Vec<u8> {
    let csbk = Csbk::ackd(radio, REGI, ReasonCode(REGISTRATION_ACCEPTED));
    let burst = bptc_burst(
        SyncPattern::BsData,
        1,
        DataType::Csbk,
        &csbk.to_bytes(Dialect::Pdt),
    );
    let (frame, dt) = classify_burst(&burst);
    assert_eq!(frame, FrameType::DataSync);
    Packet::Dmrd(Dmrd {
        seq: 0,
        source: REGI,
        destination: radio,
        repeater: PeerId(PEER),
        slot: Slot::One,
        call: CallType::Private,
        frame,
        data_type: dt.unwrap_or(3),
        stream_id: stream,
        burst,
        ber: 0,
        rssi: 80,
    })
    .to_vec()
}

/// Send fresh registrations, PER_MS a millisecond, until `stop`; returns how many.
fn load(socket: UdpSocket, stop: Arc<AtomicBool>) -> u32 {
    let start = Instant::now();
    let mut sent = 0u32;
    // a bound on the run whatever happens to the test
    let limit = Instant::now() + Duration::from_secs(40);
    while !stop.load(Ordering::Relaxed) && Instant::now() < limit {
        let due = start.elapsed().as_millis() as u32 * PER_MS;
        while sent < due {
            socket
                .send(&registration(FIRST_RADIO + sent, 0x100 + sent))
                .unwrap();
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    sent
}

fn vm_rss_kb() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

async fn channel(api: SocketAddr) -> access_support::Ch {
    access_support::connect(api).await.unwrap()
}

async fn watch(
    api: SocketAddr,
    cursor: Option<Cursor>,
) -> tonic::Streaming<pb::WatchEventsResponse> {
    pb::event_service_client::EventServiceClient::new(channel(api).await)
        .watch_events(pb::WatchEventsRequest {
            legacy_cursor: None,
            cursor: cursor.map(|c| c.to_string()).unwrap_or_default(),
            filter: String::new(),
            snapshot: false,
        })
        .await
        .unwrap()
        .into_inner()
}

/// What a fast watcher saw: each event's cursor and when it arrived.
type Seen = Arc<Mutex<Vec<(u64, Instant)>>>;

async fn fast(api: SocketAddr, seen: Seen, stop: CancellationToken) -> Result<(), tonic::Status> {
    let mut stream = watch(api, None).await;
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            m = stream.message() => m?,
        };
        match msg.and_then(|m| m.kind) {
            Some(pb::watch_events_response::Kind::Event(e)) => {
                seen.lock().unwrap().push((seq(&e.cursor), Instant::now()));
            }
            Some(_) => {}
            None => return Ok(()),
        }
    }
}

/// The sequence number of a cursor the server handed out.
fn seq(cursor: &str) -> u64 {
    cursor.parse::<Cursor>().expect("a well-formed cursor").seq
}

fn assert_contiguous(cursors: &[u64], what: &str) {
    for w in cursors.windows(2) {
        assert_eq!(
            w[1],
            w[0] + 1,
            "{what}: gap or repeat after cursor {}",
            w[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_stops_reading_is_cut_and_the_others_never_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::parse(&config()).unwrap();
    config.access = access_support::access_config();
    let options = ServeOptions {
        data_dir: Some(dir.path().join("data")),
        ..ServeOptions::default()
    };
    let shutdown = CancellationToken::new();
    let (running, join) = serve::start(config, &options, shutdown.clone())
        .await
        .unwrap();
    let hub = running.driver.hub().clone();
    let rss_before = vm_rss_kb();

    // Three fast watchers and one that never reads, each on its own connection.
    let stop_fast = CancellationToken::new();
    let seen: Vec<Seen> = (0..3).map(|_| Seen::default()).collect();
    let fast_tasks: Vec<_> = seen
        .iter()
        .map(|s| tokio::spawn(fast(running.api, Arc::clone(s), stop_fast.clone())))
        .collect();
    let mut slow = watch(running.api, None).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while hub.stats().watchers < 4 {
        assert!(Instant::now() < deadline, "watchers did not subscribe");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first_seq = hub.latest_seq();

    // Load through the Homebrew link until the slow watcher has been cut, and a second more.
    let master = running.homebrew.unwrap();
    let socket = tokio::task::spawn_blocking(move || login(master))
        .await
        .unwrap();
    let stop_load = Arc::new(AtomicBool::new(false));
    let load_started = Instant::now();
    let loader = {
        let stop = Arc::clone(&stop_load);
        std::thread::spawn(move || load(socket, stop))
    };
    let deadline = Instant::now() + Duration::from_secs(25);
    while hub.stats().cut_total == 0 {
        assert!(
            Instant::now() < deadline,
            "the slow watcher was never cut: {:?}",
            hub.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cut_at = Instant::now();
    // The cut watcher's subscription is freed at once: three remain.
    assert_eq!(hub.stats().watchers, 3, "{:?}", hub.stats());
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop_load.store(true, Ordering::Relaxed);
    let load_stopped = Instant::now();
    let sent = loader.join().unwrap();
    assert!(sent > 0);

    // Everything sent is journaled (two events a datagram) and reaches the fast watchers.
    let want = first_seq + 2 * u64::from(sent);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = seen
            .iter()
            .all(|s| s.lock().unwrap().last().is_some_and(|l| l.0 >= want));
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "fast watchers did not get all {} events: latest {}, link {:?}, dropped inputs {}",
            want - first_seq,
            hub.latest_seq(),
            running.link_counters,
            running
                .driver
                .stats()
                .dropped_inputs
                .load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_fast.cancel();
    for t in fast_tasks {
        t.await.unwrap().expect("a fast watcher's stream failed");
    }
    let stats = hub.stats();
    assert_eq!(
        stats.cut_total, 1,
        "only the slow watcher is cut: {stats:?}"
    );
    for (i, s) in seen.iter().enumerate() {
        let s = s.lock().unwrap();
        let cursors: Vec<u64> = s.iter().map(|e| e.0).collect();
        assert_eq!(cursors.first(), Some(&(first_seq + 1)), "fast watcher {i}");
        assert_contiguous(&cursors, &format!("fast watcher {i}"));
        // No pause longer than MAX_GAP while the load ran, the cut included.
        let during: Vec<Instant> = s
            .iter()
            .map(|e| e.1)
            .filter(|t| *t >= load_started && *t <= load_stopped)
            .collect();
        assert!(
            during.first().is_some_and(|t| *t - load_started < MAX_GAP),
            "fast watcher {i} got nothing early in the load"
        );
        assert!(
            during.iter().any(|t| *t > cut_at),
            "fast watcher {i} got nothing after the cut"
        );
        let gap = during.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(
            gap < MAX_GAP,
            "fast watcher {i} waited {gap:?} for an event"
        );
    }

    // The slow watcher now reads: what was in flight, then RESOURCE_EXHAUSTED naming the
    // cursor of the last event it got.
    let mut got = Vec::new();
    let status = loop {
        match tokio::time::timeout(Duration::from_secs(10), slow.message()).await {
            Ok(Ok(Some(m))) => {
                if let Some(pb::watch_events_response::Kind::Event(e)) = m.kind {
                    got.push(seq(&e.cursor));
                }
            }
            Ok(Ok(None)) => panic!("the slow stream ended without a status"),
            Ok(Err(status)) => break status,
            Err(_) => panic!("the slow stream neither ended nor delivered"),
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let info = status
        .get_details_error_info()
        .expect("the status carries ErrorInfo");
    assert_eq!(info.reason, "WATCHER_LAGGED");
    let resume_cursor: Cursor = info.metadata["resume_cursor"].parse().unwrap();
    assert_eq!(
        resume_cursor.journal,
        hub.identity(),
        "the cursor names the journal"
    );
    let resume = resume_cursor.seq;
    assert_contiguous(&got, "slow watcher");
    assert_eq!(got.first(), Some(&(first_seq + 1)), "slow watcher's first");
    assert_eq!(
        got.last(),
        Some(&resume),
        "resume_cursor names its last event"
    );
    assert!(resume < want, "the cut happened while events were coming");

    // Resuming after the cursor replays the rest with no gap.
    let mut again = watch(running.api, Some(resume_cursor)).await;
    let mut next = resume;
    let deadline = Instant::now() + Duration::from_secs(20);
    while next < want {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = tokio::time::timeout(left, again.message())
            .await
            .expect("the resumed stream delivers before the deadline")
            .expect("the resumed stream has no error")
            .expect("the resumed stream stays open");
        if let Some(pb::watch_events_response::Kind::Event(e)) = m.kind {
            assert_eq!(seq(&e.cursor), next + 1, "resumed stream: gap or repeat");
            next = seq(&e.cursor);
        }
    }
    drop(again);

    println!(
        "{sent} datagrams, {} events; slow watcher read {} events then lagged at cursor {resume}; hub {:?}; VmRSS {:?} → {:?} kB",
        want - first_seq,
        got.len(),
        hub.stats(),
        rss_before,
        vm_rss_kb()
    );

    // Memory stayed bounded: a stalled client holds at most its queues' worth of events
    // (a few MB here); a loose bound catches unbounded buffering.
    if let (Some(before), Some(after)) = (rss_before, vm_rss_kb()) {
        let grown_mb = after.saturating_sub(before) / 1024;
        assert!(grown_mb < 256, "resident memory grew by {grown_mb} MB");
    }

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), join)
        .await
        .expect("the gateway stops")
        .unwrap();
}
