//! Nothing lost across a crash: the real `trunkgate serve` process is SIGKILLed while the load
//! generator (`trunkgate sim`, a separate process logged into the gateway's Homebrew master)
//! is sending, then restarted on the same data directory. A gRPC watcher that resumes from
//! its last cursor must have received every journaled event exactly once (the journal keeps
//! its identity across the restart, so its cursors stay valid), and the commands
//! that were in flight at the kill must be resumed (and finish) or be failed explicitly.
//!
//! Everything runs on 127.0.0.1 with ports picked by the OS; every wait has a deadline.

mod access_support;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tonic::transport::Channel;
use trunkgate::api::pb;
use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal, SqliteReader};
use trunkgate::journal::{Cursor, Journal, JournalId, JournalReader};

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");

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

fn config(api: SocketAddr, homebrew: SocketAddr) -> String {
    format!(
        r#"
[api]
listen = "{api}"
heartbeat_secs = 1

[dispatch]
answer_timeout_secs = 20
attempts = 3

[[site]]
name = "load"
profile = "pdt"
dialect = "pdt"
colour_code = 1

[homebrew_master]
bind = "{homebrew}"

[[homebrew_master.peer]]
id = 310001
passphrase = "passw0rd"
site = "load"
"#
    )
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gateway(dir: &Path, api: SocketAddr, homebrew: SocketAddr) -> Proc {
    let file = dir.join("gateway.toml");
    std::fs::write(
        &file,
        config(api, homebrew) + &access_support::access_toml(),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join(format!(
        "gateway-{}.log",
        Instant::now().elapsed().as_nanos()
    )))
    .unwrap();
    Proc(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("trunkgate serve starts"),
    )
}

async fn connect(api: SocketAddr, deadline: Instant) -> access_support::Ch {
    loop {
        match Channel::from_shared(format!("http://{api}"))
            .unwrap()
            .connect()
            .await
        {
            Ok(ch) => return access_support::authed(ch),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("gateway at {api} did not come up: {e}"),
        }
    }
}

/// What the watcher saw: every event's sequence number in arrival order, the latest
/// heartbeat's, and every journal a cursor named.
#[derive(Default)]
struct Seen {
    cursors: Vec<u64>,
    heartbeat: u64,
    reconnects: u32,
    restarted_events: u32,
    journals: BTreeSet<JournalId>,
    /// A resume the server refused (it must never be).
    refused: Option<tonic::Status>,
}

/// Watch from the start of the journal in `journal_dir` (its identity read from the file, as
/// any client could learn it from a first cursor); whenever the stream breaks (the gateway
/// died), reconnect and resume after the last cursor received. Stops at `stop`.
async fn watcher(api: SocketAddr, journal_dir: PathBuf, seen: Arc<Mutex<Seen>>, stop: Instant) {
    let mut cursor: Option<Cursor> = None;
    while Instant::now() < stop {
        let Some(from) = cursor.or_else(|| {
            let reader = SqliteReader::open(&journal_dir, &SqliteConfig::default()).ok()?;
            Some(Cursor::new(reader.identity(), 0))
        }) else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(ch) = Channel::from_shared(format!("http://{api}"))
            .unwrap()
            .connect()
            .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut client =
            pb::event_service_client::EventServiceClient::new(access_support::authed(ch));
        let request = pb::WatchEventsRequest {
            legacy_cursor: None,
            cursor: from.to_string(),
            filter: String::new(),
            snapshot: false,
        };
        let response = match client.watch_events(request).await {
            Ok(r) => r,
            Err(e) if e.code() == tonic::Code::FailedPrecondition => {
                seen.lock().unwrap().refused = Some(e);
                return;
            }
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut stream = response.into_inner();
        loop {
            let left = stop.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, stream.message()).await {
                Ok(Ok(Some(msg))) => match msg.kind {
                    Some(pb::watch_events_response::Kind::Event(e)) => {
                        let c: Cursor = e.cursor.parse().expect("a well-formed cursor");
                        cursor = Some(c);
                        let mut s = seen.lock().unwrap();
                        s.journals.insert(c.journal);
                        s.cursors.push(c.seq);
                        if e.r#type == "gateway_restarted" {
                            s.restarted_events += 1;
                        }
                    }
                    Some(pb::watch_events_response::Kind::Heartbeat(h)) => {
                        let c: Cursor = h.cursor.parse().expect("a well-formed cursor");
                        let mut s = seen.lock().unwrap();
                        s.journals.insert(c.journal);
                        s.heartbeat = c.seq;
                    }
                    _ => {}
                },
                Ok(Ok(None)) | Ok(Err(_)) => break,
                Err(_) => return,
            }
        }
        seen.lock().unwrap().reconnects += 1;
    }
}

fn radio_name(k: u32) -> String {
    // The load generator's radios: NAI 32, SSI 101.. (sim/mod.rs NAI_BASE, FIRST_RADIO_SSI).
    format!("radios/0x{:06X}", (32 << 15) | (101 + k))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_event_and_no_operation() {
    let dir = tempfile::tempdir().unwrap();
    let (api, homebrew) = (free_tcp(), free_udp());
    let start = Instant::now();
    let mut gw = gateway(dir.path(), api, homebrew);
    let ch = connect(api, start + Duration::from_secs(30)).await;

    // The load generator: one simulated site, 40 radios, 300 bursts/s, as its own process.
    let load = Proc(
        Command::new(BIN)
            .args([
                "sim",
                "--connect",
                &homebrew.to_string(),
                "--radios",
                "40",
                "--rate",
                "300",
            ])
            .args([
                "--duration",
                "60",
                "--peer-id",
                "310001",
                "--passphrase",
                "passw0rd",
            ])
            .args(["--site", "load", "--out-of-coverage", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("trunkgate sim starts"),
    );

    let seen = Arc::new(Mutex::new(Seen::default()));
    let watch = tokio::spawn(watcher(
        api,
        dir.path().join("data").join("journal"),
        Arc::clone(&seen),
        start + Duration::from_secs(90),
    ));

    // Wait until the radios are registered and traffic flows.
    let mut radios = pb::radio_service_client::RadioServiceClient::new(ch.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut ok = true;
        for k in 0..8u32 {
            let radio = radios
                .get_radio(pb::GetRadioRequest {
                    name: radio_name(k),
                })
                .await;
            ok &= radio.is_ok_and(|r| r.into_inner().registered);
        }
        if ok && seen.lock().unwrap().cursors.len() > 50 {
            break;
        }
        assert!(Instant::now() < deadline, "load never reached the gateway");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Commands in flight at the kill: radio checks of eight radios, then SIGKILL at once.
    let mut commands = pb::command_service_client::CommandServiceClient::new(ch.clone());
    let mut in_flight = Vec::new();
    for k in 0..8u32 {
        let op = commands
            .check_radio(pb::RadioCommandRequest {
                name: radio_name(k),
                request_id: format!("kill-test-{k}"),
                ..Default::default()
            })
            .await
            .expect("radio check accepted")
            .into_inner();
        in_flight.push(op.name);
    }
    gw.0.kill().expect("SIGKILL the gateway");
    gw.0.wait().unwrap();
    let before_kill = seen.lock().unwrap().cursors.len();
    drop(gw);

    // Restart on the same data directory while the load generator keeps sending.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let gw = gateway(dir.path(), api, homebrew);
    let ch = connect(api, Instant::now() + Duration::from_secs(30)).await;

    // Every command in flight is still known and ends: resumed and answered, or failed
    // explicitly; none is forgotten.
    let mut ops = pb::operation_service_client::OperationServiceClient::new(ch.clone());
    for name in &in_flight {
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let op = ops
                .get_operation(pb::GetOperationRequest { name: name.clone() })
                .await
                .unwrap_or_else(|e| panic!("{name} forgotten after the restart: {e}"))
                .into_inner();
            let state = pb::operation::State::try_from(op.state).unwrap();
            use pb::operation::State::*;
            if matches!(state, Succeeded | Refused | TimedOut | Failed | Cancelled) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} still {state:?} long after the restart"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // Stop the load; the watcher catches up: its last cursor reaches the cursor of a heartbeat
    // (sent only when the stream is idle) after the restart.
    drop(load);
    let deadline = Instant::now() + Duration::from_secs(30);
    let caught_up = loop {
        {
            let s = seen.lock().unwrap();
            if s.restarted_events > 0 && s.heartbeat > 0 && s.cursors.last() == Some(&s.heartbeat) {
                break s.heartbeat;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the watcher never caught up after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(gw);
    watch.abort();

    // Exactly once: the cursors seen are 1..=caught_up with no gap and no repeat, all of
    // one journal, whose identity survived the restart (no resume was refused).
    let s = seen.lock().unwrap();
    assert!(s.refused.is_none(), "resume refused: {:?}", s.refused);
    let upto: Vec<u64> = s
        .cursors
        .iter()
        .copied()
        .take_while(|&c| c <= caught_up)
        .collect();
    let distinct: BTreeSet<u64> = upto.iter().copied().collect();
    assert_eq!(distinct.len(), upto.len(), "an event was delivered twice");
    assert_eq!(
        upto,
        (1..=caught_up).collect::<Vec<_>>(),
        "events missing or out of order"
    );
    assert!(s.reconnects >= 1, "the watcher never saw the gateway die");
    assert!(
        before_kill > 0 && caught_up as usize > before_kill,
        "no events after the restart"
    );

    // And they are the journal's: same count as the journal holds up to that cursor.
    let journal = SqliteJournal::open(
        &dir.path().join("data").join("journal"),
        &SqliteConfig::default(),
    )
    .unwrap();
    let reader = journal.reader().unwrap();
    assert_eq!(
        s.journals.iter().copied().collect::<Vec<_>>(),
        vec![journal.identity()],
        "every cursor names the one journal"
    );
    assert!(reader.latest_seq().unwrap() >= caught_up);
    let mut cursor = 0;
    let mut count = 0u64;
    while cursor < caught_up {
        let page = reader.read_after(cursor, 1000).unwrap();
        let Some(last) = page.last() else { break };
        count += page.iter().filter(|r| r.seq <= caught_up).count() as u64;
        cursor = last.seq;
    }
    assert_eq!(count, caught_up);
}
