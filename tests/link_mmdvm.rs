//! The MMDVM host link against a scripted modem, over real ptys (`SerialStream::pair()`) and
//! over UDP on 127.0.0.1. Every test is bounded by a timeout of a few seconds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout};
use tokio_serial::{SerialPort, SerialStream};
use tokio_util::sync::CancellationToken;

use trunkgate::link::mmdvm::{
    Command, Direction, DmrData, Frame, FrameDecoder, MmdvmConfig, MmdvmLink, Mode, NakReason,
    PortSpec, ProtocolVersion, Reply, SetFreq, Status, Version, frame::config_flag,
};
use trunkgate::link::{
    Burst, LinkCounters, LinkCountersSnapshot, LinkState, Received, Slot, Transmission, Transmit,
};

const LIMIT: Duration = Duration::from_secs(8);

// ---------------------------------------------------------------- log capture

#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One global subscriber for the whole test binary, writing into a buffer we can search.
fn logs() -> &'static LogBuf {
    static LOGS: OnceLock<LogBuf> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuf::default();
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buf
    })
}

fn log_text() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned()
}

// ---------------------------------------------------------------- scripted modem

/// What the scripted modem does, changeable while it runs.
#[derive(Default)]
struct Knobs {
    /// Answer nothing at all.
    silent: AtomicBool,
    /// Free DMR frames per slot reported in GET_STATUS.
    space: [AtomicU8; 2],
    /// NAK every DMR_DATA with reason 2 (wrong mode).
    nak_data: AtomicBool,
    /// NAK SET_CONFIG with reason 4 (bad parameter).
    nak_config: AtomicBool,
    /// Ignore this many GET_VERSIONs before answering.
    ignore_versions: AtomicU32,
}

enum ModemIo {
    /// The pty master, and the pair's own slave end, only held so the pty lives until the
    /// link has it open.
    Pty(SerialStream, #[allow(dead_code)] SerialStream),
    Udp(UdpSocket),
}

struct Modem {
    knobs: Arc<Knobs>,
    commands: mpsc::UnboundedReceiver<(Instant, Command)>,
    inject: mpsc::UnboundedSender<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

impl Modem {
    fn start(io: ModemIo, version: ProtocolVersion) -> Modem {
        let knobs = Arc::new(Knobs::default());
        let (cmd_tx, commands) = mpsc::unbounded_channel();
        let (inject, inject_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(modem_task(io, version, knobs.clone(), cmd_tx, inject_rx));
        Modem {
            knobs,
            commands,
            inject,
            task,
        }
    }

    fn set_space(&self, s1: u8, s2: u8) {
        self.knobs.space[0].store(s1, Ordering::SeqCst);
        self.knobs.space[1].store(s2, Ordering::SeqCst);
    }

    /// The next command the modem received.
    async fn next_command(&mut self) -> Command {
        timeout(LIMIT, self.commands.recv())
            .await
            .expect("modem got no command in time")
            .expect("modem task ended")
            .1
    }

    /// Commands until (and including) the first one `stop` accepts; skips nothing.
    async fn commands_until(&mut self, stop: impl Fn(&Command) -> bool) -> Vec<Command> {
        let mut out = Vec::new();
        loop {
            let c = self.next_command().await;
            let done = stop(&c);
            out.push(c);
            if done {
                return out;
            }
        }
    }

    /// The next DMR_DATA the modem received, skipping status polls.
    async fn next_burst(&mut self) -> (Slot, Burst) {
        loop {
            if let Command::DmrData { slot, burst, .. } = self.next_command().await {
                return (slot, burst);
            }
        }
    }
}

async fn modem_task(
    mut io: ModemIo,
    version: ProtocolVersion,
    knobs: Arc<Knobs>,
    cmd_tx: mpsc::UnboundedSender<(Instant, Command)>,
    mut inject_rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let mut decoder = FrameDecoder::new(Direction::ToModem);
    let mut buf = [0u8; 1024];
    let mut peer: Option<SocketAddr> = None;
    loop {
        let n = tokio::select! {
            r = async {
                match &mut io {
                    ModemIo::Pty(master, _) => master.read(&mut buf).await,
                    ModemIo::Udp(s) => s.recv_from(&mut buf).await.map(|(n, from)| {
                        peer = Some(from);
                        n
                    }),
                }
            } => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            bytes = inject_rx.recv() => {
                let Some(bytes) = bytes else { return };
                write_to(&mut io, peer, &bytes).await;
                continue;
            }
        };
        let mut off = 0;
        while off < n {
            off += decoder.feed(&buf[off..n]);
            while let Ok(Some(Frame::Command(c))) = decoder.next_frame() {
                let _ = cmd_tx.send((Instant::now(), c.clone()));
                if knobs.silent.load(Ordering::SeqCst) {
                    continue;
                }
                if let Some(reply) = answer(&c, version, &knobs) {
                    write_to(&mut io, peer, &reply.to_vec()).await;
                }
            }
        }
    }
}

async fn write_to(io: &mut ModemIo, peer: Option<SocketAddr>, bytes: &[u8]) {
    match io {
        ModemIo::Pty(master, _) => {
            let _ = master.write_all(bytes).await;
        }
        ModemIo::Udp(s) => {
            if let Some(p) = peer {
                let _ = s.send_to(bytes, p).await;
            }
        }
    }
}

fn answer(c: &Command, version: ProtocolVersion, knobs: &Knobs) -> Option<Reply> {
    match c {
        Command::GetVersion => {
            if knobs
                .ignore_versions
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return None;
            }
            Some(Reply::Version(match version {
                ProtocolVersion::V1 => Version::V1 {
                    description: b"MMDVM_HS-v1.6.1 scripted".to_vec(),
                },
                ProtocolVersion::V2 => Version::V2 {
                    capabilities1: 0x02,
                    capabilities2: 0,
                    cpu: 2,
                    udid: [0x11; 16],
                    description: b"MMDVM 20260417 scripted".to_vec(),
                },
            }))
        }
        Command::GetStatus => Some(Reply::Status(Status {
            version,
            modes: 0x02,
            state: 2,
            flags: 0,
            dstar_space: 0,
            dmr_space: [
                knobs.space[0].load(Ordering::SeqCst),
                knobs.space[1].load(Ordering::SeqCst),
            ],
            ysf_space: 0,
            p25_space: 0,
            nxdn_space: 0,
            m17_space: 0,
            pocsag_space: 0,
            fm_space: 0,
        })),
        Command::DmrData { .. } if knobs.nak_data.load(Ordering::SeqCst) => Some(Reply::Nak {
            command: c.kind(),
            reason: NakReason::WrongMode,
        }),
        Command::DmrData { .. } => None,
        Command::SetConfig(_) if knobs.nak_config.load(Ordering::SeqCst) => Some(Reply::Nak {
            command: c.kind(),
            reason: NakReason::BadParameter,
        }),
        other => Some(Reply::Ack {
            command: other.kind(),
        }),
    }
}

/// A pty pair: the modem side and the path the link opens.
fn pty() -> (ModemIo, PathBuf) {
    let (master, slave) = SerialStream::pair().expect("pty pair");
    let path = PathBuf::from(slave.name().expect("slave has a name"));
    (ModemIo::Pty(master, slave), path)
}

// ---------------------------------------------------------------- the link under test

struct Harness {
    rx: mpsc::Receiver<Received>,
    tx: mpsc::Sender<Transmission>,
    state: watch::Receiver<LinkState>,
    counters: Arc<LinkCounters>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn config(port: PortSpec) -> MmdvmConfig {
    let mut c = MmdvmConfig::new("modem-test", port, Arc::from("site-a"));
    c.reply_timeout = Duration::from_millis(300);
    c.backoff_min = Duration::from_millis(100);
    c.backoff_max = Duration::from_millis(400);
    c.silence_timeout = Duration::from_millis(800);
    c
}

fn serial(path: PathBuf) -> PortSpec {
    PortSpec::Serial {
        path,
        baud: 115_200,
    }
}

fn start(cfg: MmdvmConfig) -> Harness {
    start_with(cfg, 64)
}

fn start_with(cfg: MmdvmConfig, rx_capacity: usize) -> Harness {
    logs();
    let (rx_tx, rx) = mpsc::channel(rx_capacity);
    let (tx, tx_rx) = mpsc::channel(64);
    let (state_tx, state) = watch::channel(LinkState::Down {
        link: cfg.name.clone(),
        site: None,
        reason: "not started".into(),
    });
    let counters = Arc::new(LinkCounters::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(MmdvmLink::run(
        cfg,
        rx_tx,
        tx_rx,
        state_tx,
        counters.clone(),
        shutdown.clone(),
    ));
    Harness {
        rx,
        tx,
        state,
        counters,
        shutdown,
        task,
    }
}

impl Harness {
    async fn wait_up(&mut self) {
        timeout(
            LIMIT,
            self.state.wait_for(|s| matches!(s, LinkState::Up { .. })),
        )
        .await
        .expect("link up in time")
        .expect("state sender alive");
    }

    async fn wait_down(&mut self) -> String {
        let s = timeout(
            LIMIT,
            self.state.wait_for(
                |s| matches!(s, LinkState::Down { reason, .. } if reason != "not started"),
            ),
        )
        .await
        .expect("link down in time")
        .expect("state sender alive")
        .clone();
        match s {
            LinkState::Down { reason, .. } => reason,
            LinkState::Up { .. } => unreachable!(),
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        timeout(LIMIT, self.task)
            .await
            .expect("link task ends on shutdown")
            .expect("link task did not panic");
    }

    async fn send(&self, slot: Slot, burst: Burst) {
        self.tx
            .send(
                Transmit {
                    site: Arc::from("site-a"),
                    slot,
                    burst,
                    meta: None,
                }
                .into(),
            )
            .await
            .expect("link takes transmits");
    }
}

fn burst(seed: u8) -> Burst {
    // No 0xE0 inside, so the stream tests know exactly where frames start.
    core::array::from_fn(|i| (seed.wrapping_add(i as u8)) & 0x7F)
}

fn data(slot: Slot, seed: u8, rssi: Option<u16>) -> Vec<u8> {
    Reply::DmrData(DmrData {
        slot,
        control: 0x43,
        burst: burst(seed),
        rssi,
    })
    .to_vec()
}

/// Wait until `cond` holds of the counters (they are bumped just after a burst is handed on).
async fn counters_reach(h: &Harness, what: &str, cond: impl Fn(&LinkCountersSnapshot) -> bool) {
    let ok = timeout(LIMIT, async {
        while !cond(&h.counters.snapshot()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "{what}: {:?}", h.counters.snapshot());
}

async fn recv(h: &mut Harness) -> Received {
    timeout(LIMIT, h.rx.recv())
        .await
        .expect("burst in time")
        .expect("link alive")
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_v2_simplex() {
    let (io, path) = pty();
    let mut modem = Modem::start(io, ProtocolVersion::V2);
    let mut cfg = config(serial(path));
    cfg.colour_code = 3;
    cfg.duplex = false;
    cfg.tx_delay = Duration::from_millis(120);
    let freq = SetFreq {
        rx_hz: 351_000_000,
        tx_hz: 361_000_000,
        rf_level_pocsag: Some((255, 433_000_000)),
    };
    cfg.frequencies = Some(freq);
    let mut h = start(cfg);
    let seq = modem
        .commands_until(|c| matches!(c, Command::GetStatus))
        .await;
    h.wait_up().await;
    assert_eq!(seq[0], Command::GetVersion);
    assert_eq!(seq[1], Command::SetFreq(freq));
    let seq = &seq[1..];
    let Command::SetConfig(c) = &seq[1] else {
        panic!("SET_CONFIG second, got {seq:?}")
    };
    assert_eq!(c.version, ProtocolVersion::V2);
    assert_eq!(Command::SetConfig(*c).to_vec().len(), 40, "v2 layout");
    assert_eq!(c.colour_code, 3);
    assert_eq!(c.flags & config_flag::SIMPLEX, config_flag::SIMPLEX);
    assert_eq!(c.tx_delay, 12);
    assert_eq!(seq[2], Command::SetMode(Mode::Dmr));
    assert_eq!(seq[3], Command::GetStatus, "simplex: no DMR_START");
    assert_eq!(seq.len(), 4);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_v1_duplex_with_version_retry() {
    let (io, path) = pty();
    let mut modem = Modem::start(io, ProtocolVersion::V1);
    modem.knobs.ignore_versions.store(1, Ordering::SeqCst);
    let mut cfg = config(serial(path));
    cfg.colour_code = 12;
    cfg.duplex = true;
    let mut h = start(cfg);
    let seq = modem
        .commands_until(|c| matches!(c, Command::GetStatus))
        .await;
    h.wait_up().await;
    assert_eq!(
        seq[..2],
        [Command::GetVersion, Command::GetVersion],
        "retried"
    );
    let Command::SetConfig(c) = &seq[2] else {
        panic!("SET_CONFIG after the version, got {seq:?}")
    };
    assert_eq!(c.version, ProtocolVersion::V1);
    let bytes = Command::SetConfig(*c).to_vec();
    assert_eq!(bytes.len(), 26, "v1 layout");
    assert_eq!(bytes[9], 12, "v1 colour code octet");
    assert_eq!(bytes[3] & config_flag::SIMPLEX, 0, "duplex");
    assert_eq!(seq[3], Command::SetMode(Mode::Dmr));
    assert_eq!(
        seq[4],
        Command::DmrStart(true),
        "duplex keys the transmitter"
    );
    assert_eq!(seq[5], Command::GetStatus);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receives_bursts_on_both_slots_with_rssi() {
    let (io, path) = pty();
    let modem = Modem::start(io, ProtocolVersion::V2);
    let mut cfg = config(serial(path));
    cfg.rssi_map = vec![(0, -130), (1000, -30)];
    let mut h = start(cfg);
    h.wait_up().await;
    modem.inject.send(data(Slot::One, 1, None)).unwrap();
    modem.inject.send(data(Slot::Two, 2, Some(500))).unwrap();
    let a = recv(&mut h).await;
    let b = recv(&mut h).await;
    assert_eq!((a.slot, a.burst, a.rssi_dbm), (Slot::One, burst(1), None));
    assert_eq!(
        (b.slot, b.burst, b.rssi_dbm),
        (Slot::Two, burst(2), Some(-80))
    );
    assert_eq!(&*a.site, "site-a");
    counters_reach(&h, "two in", |c| c.frames_in == 2).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmit_waits_for_modem_space() {
    let (io, path) = pty();
    let mut modem = Modem::start(io, ProtocolVersion::V2);
    modem.set_space(1, 1); // "write only while space > 1": nothing may go out
    let mut h = start(config(serial(path)));
    h.wait_up().await;
    for seed in 10..13 {
        h.send(Slot::Two, burst(seed)).await;
    }
    // Several status rounds with no room: no DMR_DATA may reach the modem.
    let deadline = Instant::now() + Duration::from_millis(800);
    while let Ok(Some((_, c))) = timeout(
        deadline.saturating_duration_since(Instant::now()),
        modem.commands.recv(),
    )
    .await
    {
        assert!(
            !matches!(c, Command::DmrData { .. }),
            "burst sent without space: {c:?}"
        );
    }
    assert_eq!(h.counters.snapshot().frames_out, 0);
    modem.set_space(0, 5);
    for seed in 10..13 {
        assert_eq!(modem.next_burst().await, (Slot::Two, burst(seed)));
    }
    counters_reach(&h, "three out", |c| c.frames_out == 3).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nak_is_logged_and_counted_and_the_link_stays_up() {
    let (io, path) = pty();
    let mut modem = Modem::start(io, ProtocolVersion::V2);
    modem.set_space(10, 10);
    modem.knobs.nak_data.store(true, Ordering::SeqCst);
    let mut h = start(config(serial(path)));
    h.wait_up().await;
    for n in 1..=5 {
        h.send(Slot::One, burst(n)).await;
        modem.next_burst().await;
    }
    timeout(LIMIT, async {
        while h.counters.snapshot().naks < 5 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("NAKs counted");
    // Still up: status polls go on and received bursts still arrive.
    modem.inject.send(data(Slot::Two, 5, None)).unwrap();
    assert_eq!(recv(&mut h).await.burst, burst(5));
    assert!(matches!(*h.state.borrow(), LinkState::Up { .. }));
    let logs = log_text();
    assert!(
        logs.lines()
            .any(|l| l.contains("NAK") && l.contains("DMR_DATA1") && l.contains("wrong mode")),
        "a log line names the command and reason:\n{logs}"
    );
    // Five NAKs, one line: the episode started (the rest are counted).
    let started = logs
        .lines()
        .filter(|l| l.contains("failures started") && l.contains("cause=\"nak\""))
        .count();
    assert_eq!(started, 1, "{logs}");
    assert_eq!(h.counters.snapshot().naks, 5);
    let (what, _) = h.counters.last_failure().expect("last failure recorded");
    assert!(what.starts_with("nak: modem NAK: DMR_DATA1"), "{what}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_takes_the_link_down_within_the_timeout() {
    let (io, path) = pty();
    let modem = Modem::start(io, ProtocolVersion::V2);
    let mut h = start(config(serial(path))); // silence_timeout 800 ms
    h.wait_up().await;
    let quiet = Instant::now();
    modem.knobs.silent.store(true, Ordering::SeqCst);
    let reason = h.wait_down().await;
    let took = quiet.elapsed();
    assert!(reason.contains("no status reply"), "{reason}");
    assert!(
        took >= Duration::from_millis(500),
        "not before the timeout: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "within the timeout plus a poll: {took:?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_truncated_frames_are_skipped_and_counted() {
    let (io, path) = pty();
    let modem = Modem::start(io, ProtocolVersion::V2);
    let mut h = start(config(serial(path)));
    h.wait_up().await;
    let mut stream = data(Slot::One, 1, None);
    stream.extend([0x11, 0x22, 0x33]); // line noise
    stream.extend([0xE0, 0x01]); // impossible length
    stream.extend([0xE0, 0x06, 0x55, 1, 2, 3]); // unknown type
    stream.extend([0xE0, 0x25, 0x18, 0x40, 1, 2, 3, 4, 5]); // DMR_DATA1 cut short
    stream.extend(data(Slot::Two, 2, None));
    modem.inject.send(stream).unwrap();
    let a = recv(&mut h).await;
    let b = recv(&mut h).await;
    assert_eq!((a.slot, a.burst), (Slot::One, burst(1)));
    assert_eq!((b.slot, b.burst), (Slot::Two, burst(2)));
    counters_reach(&h, "two in", |c| c.frames_in == 2).await;
    let c = h.counters.snapshot();
    assert_eq!(c.bad_frames, 3, "{c:?}");
    assert_eq!(c.bad_length, 2, "{c:?}");
    assert_eq!(c.bad_type, 1, "{c:?}");
    assert_eq!(c.skipped_octets, 3 + 2 + 6 + 9, "{c:?}");
    assert!(matches!(*h.state.borrow(), LinkState::Up { .. }));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmit_queue_is_bounded_while_down() {
    // Nothing at the port: the link stays down and keeps retrying.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(serial(dir.path().join("no-such-tty")));
    cfg.tx_queue_len = 4;
    let h = start(cfg);
    for seed in 0..10 {
        h.send(Slot::One, burst(seed)).await;
    }
    timeout(LIMIT, async {
        while h.counters.snapshot().tx_dropped < 6 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("overflow counted");
    assert_eq!(h.counters.snapshot().tx_dropped, 6);
    assert!(
        matches!(&*h.state.borrow(), LinkState::Down { reason, .. } if reason.contains("cannot open"))
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_modem_side_goes_away_serial() {
    // The link opens a symlink (as udev gives real modems); the test repoints it to a new pty
    // after dropping the first one, since a closed pty's path cannot be reopened.
    let dir = tempfile::tempdir().unwrap();
    let link_path = dir.path().join("ttyMMDVM");
    let (io, path) = pty();
    std::os::unix::fs::symlink(&path, &link_path).unwrap();
    let modem = Modem::start(io, ProtocolVersion::V2);
    let mut h = start(config(serial(link_path.clone())));
    h.wait_up().await;
    modem.task.abort(); // drops both pty ends
    let reason = h.wait_down().await;
    assert!(!reason.is_empty());
    let (io2, path2) = pty();
    std::fs::remove_file(&link_path).unwrap();
    std::os::unix::fs::symlink(&path2, &link_path).unwrap();
    let mut modem2 = Modem::start(io2, ProtocolVersion::V1);
    h.wait_up().await;
    let seq = modem2
        .commands_until(|c| matches!(c, Command::SetMode(_)))
        .await;
    assert_eq!(seq[0], Command::GetVersion, "full handshake again");
    assert!(matches!(seq[1], Command::SetConfig(c) if c.version == ProtocolVersion::V1));
    assert_eq!(h.counters.snapshot().reconnects, 1);
    modem2.inject.send(data(Slot::One, 9, None)).unwrap();
    assert_eq!(recv(&mut h).await.burst, burst(9));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_transport_handshake_receive_transmit_and_reconnect() {
    let modem_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let remote = modem_sock.local_addr().unwrap();
    let mut modem = Modem::start(ModemIo::Udp(modem_sock), ProtocolVersion::V2);
    modem.set_space(10, 10);
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut h = start(config(PortSpec::Udp { local, remote }));
    h.wait_up().await;
    h.send(Slot::Two, burst(3)).await;
    assert_eq!(modem.next_burst().await, (Slot::Two, burst(3)));
    modem.inject.send(data(Slot::One, 4, None)).unwrap();
    assert_eq!(recv(&mut h).await.burst, burst(4));

    // The modem goes quiet: down, retries, then comes back with a full handshake.
    modem.knobs.silent.store(true, Ordering::SeqCst);
    h.wait_down().await;
    while modem.commands.try_recv().is_ok() {}
    modem.knobs.silent.store(false, Ordering::SeqCst);
    h.wait_up().await;
    let seq = modem
        .commands_until(|c| matches!(c, Command::SetConfig(_)))
        .await;
    assert!(seq.contains(&Command::GetVersion), "{seq:?}");
    assert_eq!(h.counters.snapshot().reconnects, 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_from_strangers_are_dropped() {
    let modem_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let remote = modem_sock.local_addr().unwrap();
    // Pin the link's local port so the stranger knows where to send.
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = probe.local_addr().unwrap();
    drop(probe);
    let modem = Modem::start(ModemIo::Udp(modem_sock), ProtocolVersion::V2);
    let mut h = start(config(PortSpec::Udp { local, remote }));
    h.wait_up().await;
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    stranger
        .send_to(&data(Slot::One, 7, None), local)
        .await
        .unwrap();
    timeout(LIMIT, async {
        while h.counters.snapshot().unauthenticated == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("stranger counted");
    modem.inject.send(data(Slot::One, 8, None)).unwrap();
    assert_eq!(recv(&mut h).await.burst, burst(8), "only the modem's burst");
    counters_reach(&h, "one in", |c| c.frames_in == 1).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_receiver_costs_a_counter_not_the_reader() {
    let (io, path) = pty();
    let modem = Modem::start(io, ProtocolVersion::V2);
    let mut h = start_with(config(serial(path)), 1);
    h.wait_up().await;
    let mut stream = Vec::new();
    for seed in 0..5 {
        stream.extend(data(Slot::One, seed, None));
    }
    modem.inject.send(stream).unwrap();
    counters_reach(&h, "four dropped", |c| c.rx_dropped == 4).await;
    assert_eq!(recv(&mut h).await.burst, burst(0), "the first one was kept");
    // The reader was never blocked: status polls went on and the link is still up.
    modem.inject.send(data(Slot::Two, 9, None)).unwrap();
    assert_eq!(recv(&mut h).await.burst, burst(9));
    assert!(matches!(*h.state.borrow(), LinkState::Up { .. }));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nak_to_set_config_fails_the_handshake_and_it_is_retried() {
    let (io, path) = pty();
    let modem = Modem::start(io, ProtocolVersion::V2);
    modem.knobs.nak_config.store(true, Ordering::SeqCst);
    let mut h = start(config(serial(path)));
    let reason = h.wait_down().await;
    assert!(
        reason.contains("SET_CONFIG") && reason.contains("bad length or parameter"),
        "{reason}"
    );
    assert!(h.counters.snapshot().naks >= 1);
    modem.knobs.nak_config.store(false, Ordering::SeqCst);
    h.wait_up().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplex_modem_gets_a_bs_dwn_act_on_ts1_before_the_first_transmission() {
    use trunkgate::link::mmdvm::WakeUp;
    use trunkgate::link::{SentReport, Transmission};
    use trunkgate::wire::DialectChoice;
    use trunkgate::wire::burst::SyncPattern as SyncPatternMs;
    use trunkgate::wire::csbk::CsbkBody;
    use trunkgate::wire::pipeline::{Pdu, decode_burst};

    let (io, path) = pty();
    let mut modem = Modem::start(io, ProtocolVersion::V2);
    modem.set_space(10, 10);
    let mut cfg = config(serial(path));
    cfg.duplex = true;
    cfg.colour_code = 3;
    cfg.wake_up = Some(WakeUp {
        bs_address: 4_600_001,
        source: 0xFF_FECB,
    });
    let mut h = start(cfg);
    h.wait_up().await;
    let (sent_tx, mut sent_rx) = mpsc::channel(4);
    h.tx.send(Transmission {
        site: Arc::from("site-a"),
        slot: Slot::Two,
        bursts: vec![burst(1), burst(2), burst(3)],
        meta: None,
        fresh_stream: true,
        report: Some(SentReport {
            to: sent_tx,
            tag: 9,
        }),
    })
    .await
    .unwrap();
    // First the wake-up: a BS_Dwn_Act CSBK on TS1 with the site's colour code.
    let (slot, wake) = modem.next_burst().await;
    assert_eq!(slot, Slot::One);
    let decoded = decode_burst(&wake, DialectChoice::Auto).expect("the wake-up decodes");
    assert_eq!(decoded.slot_type.map(|(s, _)| s.colour_code), Some(3));
    assert!(matches!(decoded.sync, Some((SyncPatternMs::MsData, _))));
    let Pdu::Csbk(c) = decoded.pdu else {
        panic!("not a CSBK: {decoded:?}")
    };
    let CsbkBody::BsDwnAct(a) = c.body else {
        panic!("not BS_Dwn_Act: {c:?}")
    };
    assert_eq!((a.bs_address, a.source), (4_600_001, 0xFF_FECB));
    // Then the transmission, in order, and its report once the last burst is written.
    for seed in 1..=3 {
        assert_eq!(modem.next_burst().await, (Slot::Two, burst(seed)));
    }
    let sent = timeout(LIMIT, sent_rx.recv()).await.unwrap().unwrap();
    assert_eq!((sent.tag, sent.slot, sent.bursts), (9, Slot::Two, 3));
    // The repeater is awake now: the next transmission goes without a wake-up.
    h.send(Slot::Two, burst(4)).await;
    assert_eq!(modem.next_burst().await, (Slot::Two, burst(4)));
    h.stop().await;
}
