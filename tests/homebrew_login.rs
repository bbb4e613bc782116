//! Logins at the Homebrew master cannot be hijacked, over real UDP on 127.0.0.1: forged RPTLs
//! and RPTL floods leave logged-in peers up and their traffic flowing, a wrong passphrase
//! completes nothing, a real peer that restarted on a new port takes over, pending logins are
//! bounded and expire, and each cause of refusal is logged once when it starts and once when it
//! stops. Every loop is bounded and every wait has a deadline of seconds.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::instrument::WithSubscriber;
use trunkgate::link::homebrew::{
    ConfigBlock, HomebrewCounters, Master, MasterConfig, Packet, Peer, PeerConfig, PeerEntry,
    PeerId, login_digest,
};
use trunkgate::link::{FrameMeta, LinkState, Received, Slot, Transmission, Transmit};

const WAIT: Duration = Duration::from_secs(5);
const LOCAL: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

/// Voice LC header burst measured from MMDVMHost (docs/transports.md §5).
const HEADER: &str = "03aa146c339c3978bb4099e1846d5d7f77fd757e32d803905f90f7213a831a8061";

fn entry(id: u32, site: &str) -> PeerEntry {
    PeerEntry {
        id: PeerId(id),
        passphrase: format!("pass{id}"),
        site: Arc::from(site),
        allow: None,
        allowed_sources: None,
    }
}

struct Running {
    addr: SocketAddr,
    rx: mpsc::Receiver<Received>,
    tx: mpsc::Sender<Transmission>,
    state: mpsc::Receiver<LinkState>,
    counters: Arc<HomebrewCounters>,
    stop: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

fn master_config(peers: Vec<PeerEntry>) -> MasterConfig {
    let mut c = MasterConfig::new(SocketAddr::from(LOCAL), peers);
    c.hang_time = Duration::from_millis(200);
    c
}

/// Start a master; its log lines go to `log` when given.
async fn start_master(config: MasterConfig, log: Option<&LogBuffer>) -> Running {
    let counters = Arc::new(HomebrewCounters::default());
    let master = Master::bind(config, counters.clone()).await.unwrap();
    let addr = master.local_addr().unwrap();
    let (rx_tx, rx) = mpsc::channel(1024);
    let (tx, tx_rx) = mpsc::channel(64);
    let (state_tx, state) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let run = master.run(rx_tx, tx_rx, state_tx, stop.clone());
    let task = match log {
        Some(log) => tokio::spawn(run.with_subscriber(log.subscriber())),
        None => tokio::spawn(run),
    };
    Running {
        addr,
        rx,
        tx,
        state,
        counters,
        stop,
        task,
    }
}

async fn start_peer(master: SocketAddr, id: u32, pass: &str, site: &str) -> Running {
    let mut c = PeerConfig::new(master, PeerId(id), pass, Arc::from(site));
    c.bind = SocketAddr::from(LOCAL);
    c.ping_interval = Duration::from_millis(100);
    c.max_missed = 5;
    c.login_timeout = Duration::from_millis(300);
    c.backoff_min = Duration::from_millis(50);
    c.backoff_max = Duration::from_millis(400);
    let counters = Arc::new(HomebrewCounters::default());
    let peer = Peer::bind(c, counters.clone()).await.unwrap();
    let addr = peer.local_addr().unwrap();
    let (rx_tx, rx) = mpsc::channel(1024);
    let (tx, tx_rx) = mpsc::channel(64);
    let (state_tx, state) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let task = tokio::spawn(peer.run(rx_tx, tx_rx, state_tx, stop.clone()));
    Running {
        addr,
        rx,
        tx,
        state,
        counters,
        stop,
        task,
    }
}

async fn wait_up(r: &mut Running) {
    loop {
        let s = timeout(WAIT, r.state.recv())
            .await
            .expect("no link state in time")
            .expect("state channel closed");
        if matches!(s, LinkState::Up { .. }) {
            return;
        }
    }
}

/// Every state change reported so far, without waiting.
fn states(r: &mut Running) -> Vec<LinkState> {
    std::iter::from_fn(|| r.state.try_recv().ok()).collect()
}

fn no_down(states: &[LinkState]) -> bool {
    !states.iter().any(|s| matches!(s, LinkState::Down { .. }))
}

async fn stop(r: Running) {
    r.stop.cancel();
    timeout(WAIT, r.task).await.unwrap().unwrap().unwrap();
}

async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One burst from a simulated radio, keeping its own stream ID.
fn transmit(site: &str, stream_id: u32) -> Transmission {
    let mut burst = [0u8; 33];
    hex::decode_to_slice(HEADER, &mut burst).unwrap();
    Transmit {
        site: Arc::from(site),
        slot: Slot::Two,
        burst,
        meta: Some(FrameMeta {
            source: 4_600_123,
            destination: 46_001,
            private: false,
            stream_id,
        }),
    }
    .into()
}

/// A socket speaking raw datagrams, for forging and inspecting packets.
struct Raw {
    socket: UdpSocket,
}

impl Raw {
    async fn on(ip: [u8; 4]) -> Raw {
        Raw {
            socket: UdpSocket::bind(SocketAddr::from((ip, 0))).await.unwrap(),
        }
    }

    async fn new() -> Raw {
        Raw::on(LOCAL.0).await
    }

    async fn send(&self, to: SocketAddr, p: &Packet) {
        self.socket.send_to(&p.to_vec(), to).await.unwrap();
    }

    async fn recv_packet(&self) -> Packet {
        let mut buf = vec![0u8; 2048];
        let (n, _) = timeout(WAIT, self.socket.recv_from(&mut buf))
            .await
            .expect("no datagram in time")
            .unwrap();
        Packet::parse(&buf[..n]).unwrap()
    }

    /// RPTL as `id`; the salt if the master offers one, `None` on MSTNAK.
    async fn challenge(&self, master: SocketAddr, id: u32) -> Option<[u8; 4]> {
        self.send(master, &Packet::Rptl(PeerId(id))).await;
        match self.recv_packet().await {
            Packet::RptAck(salt) => Some(salt),
            Packet::MstNak(n) if n == PeerId(id) => None,
            other => panic!("answer to RPTL: {other:?}"),
        }
    }

    /// The whole login as `id` with `pass`: whether each step was acknowledged.
    async fn login(&self, master: SocketAddr, id: u32, pass: &str) -> bool {
        let pid = PeerId(id);
        let Some(salt) = self.challenge(master, id).await else {
            return false;
        };
        let digest = login_digest(salt, pass.as_bytes());
        self.send(master, &Packet::Rptk { id: pid, digest }).await;
        if self.recv_packet().await != Packet::RptAck(id.to_be_bytes()) {
            return false;
        }
        let config = Box::new(ConfigBlock::from_info(&Default::default()));
        self.send(master, &Packet::Rptc { id: pid, config }).await;
        self.recv_packet().await == Packet::RptAck(id.to_be_bytes())
    }
}

/// Send `n` transmissions through `peer`, one every `gap`, and check the master hands each one
/// to the gateway, tagged with `site`, while `meanwhile` runs.
async fn traffic_keeps_arriving(
    master: &mut Running,
    peer: &Running,
    site: &str,
    n: u32,
    first_stream: u32,
) {
    let mut seen = Vec::new();
    for i in 0..n {
        peer.tx
            .send(transmit(site, first_stream + i))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Ok(r) = master.rx.try_recv() {
            if &*r.site == site {
                seen.push(r.meta.unwrap().stream_id);
            }
        }
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < n as usize {
        let r = timeout(deadline - tokio::time::Instant::now(), master.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{site}: {} of {n} arrived", seen.len()))
            .unwrap();
        if &*r.site == site {
            seen.push(r.meta.unwrap().stream_id);
        }
    }
    let want: Vec<u32> = (first_stream..first_stream + n).collect();
    assert_eq!(seen, want, "{site}: every transmission arrived, in order");
}

#[tokio::test]
async fn forged_rptls_never_take_a_logged_in_site_down() {
    let mut master = start_master(master_config(vec![entry(61, "north")]), None).await;
    let mut peer = start_peer(master.addr, 61, "pass61", "north").await;
    wait_up(&mut master).await;
    wait_up(&mut peer).await;
    let forger = Raw::new().await;
    let forging = {
        let master = master.addr;
        tokio::spawn(async move {
            // RPTL with the peer's ID once every 20 ms for about 2 s, from another socket, and a
            // guessed digest and a config now and then.
            for i in 0..100u32 {
                forger.send(master, &Packet::Rptl(PeerId(61))).await;
                if i % 10 == 0 {
                    let id = PeerId(61);
                    forger
                        .send(
                            master,
                            &Packet::Rptk {
                                id,
                                digest: [7; 32],
                            },
                        )
                        .await;
                    let config = Box::new(ConfigBlock::from_info(&Default::default()));
                    forger.send(master, &Packet::Rptc { id, config }).await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // The real peer keeps sending meanwhile: every transmission arrives.
    traffic_keeps_arriving(&mut master, &peer, "north", 60, 1000).await;
    forging.await.unwrap();
    assert!(
        no_down(&states(&mut master)),
        "the master saw the site go down"
    );
    assert!(no_down(&states(&mut peer)), "the peer lost its login");
    let s = master.counters.snapshot();
    assert_eq!(s.link.reconnects, 0);
    assert!(s.bad_passphrase >= 1 && s.wrong_address >= 1, "{s:?}");
    assert_eq!(
        peer.counters.snapshot().naks,
        0,
        "the real peer got no MSTNAK"
    );
    stop(peer).await;
    stop(master).await;
}

#[tokio::test]
async fn an_rptl_flood_from_many_ports_takes_no_site_down() {
    let sites = [(71, "north"), (72, "south"), (73, "east")];
    let mut master = start_master(
        master_config(sites.iter().map(|(id, s)| entry(*id, s)).collect()),
        None,
    )
    .await;
    let mut peers = Vec::new();
    for (id, site) in sites {
        let mut p = start_peer(master.addr, id, &format!("pass{id}"), site).await;
        wait_up(&mut p).await;
        peers.push(p);
    }
    for _ in sites {
        wait_up(&mut master).await;
    }
    let target = master.addr;
    let flood = tokio::spawn(async move {
        // 300 source ports, each sending an RPTL for every site's ID: 900 datagrams.
        for _ in 0..300 {
            let s = UdpSocket::bind(SocketAddr::from(LOCAL)).await.unwrap();
            for (id, _) in sites {
                s.send_to(&Packet::Rptl(PeerId(id)).to_vec(), target)
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    });
    for (i, (_, site)) in sites.iter().enumerate() {
        traffic_keeps_arriving(&mut master, &peers[i], site, 15, 2000 + 100 * i as u32).await;
    }
    flood.await.unwrap();
    let c = master.counters.clone();
    eventually("the whole flood counted", || {
        c.snapshot().pending_full + 4 >= 900
    })
    .await;
    // All three sites were up the whole time, and still are.
    assert!(no_down(&states(&mut master)), "a site went down");
    for (i, (_, site)) in sites.iter().enumerate() {
        assert!(no_down(&states(&mut peers[i])), "{site} lost its login");
        traffic_keeps_arriving(&mut master, &peers[i], site, 3, 3000 + 100 * i as u32).await;
    }
    for p in peers {
        stop(p).await;
    }
    stop(master).await;
}

#[tokio::test]
async fn a_challenger_with_the_wrong_passphrase_completes_nothing() {
    let mut master = start_master(master_config(vec![entry(81, "north")]), None).await;
    let real = Raw::new().await;
    assert!(real.login(master.addr, 81, "pass81").await);
    wait_up(&mut master).await;
    let challenger = Raw::new().await;
    assert!(!challenger.login(master.addr, 81, "guess").await);
    // Nothing of the challenge survives: its config is out of step too.
    let config = Box::new(ConfigBlock::from_info(&Default::default()));
    let id = PeerId(81);
    challenger
        .send(master.addr, &Packet::Rptc { id, config })
        .await;
    assert_eq!(challenger.recv_packet().await, Packet::MstNak(id));
    challenger.send(master.addr, &Packet::RptPing(id)).await;
    assert_eq!(challenger.recv_packet().await, Packet::MstNak(id));
    // The real peer is still the one logged in.
    real.send(master.addr, &Packet::RptPing(id)).await;
    assert_eq!(real.recv_packet().await, Packet::MstPong(id));
    let s = master.counters.snapshot();
    assert_eq!(s.bad_passphrase, 1);
    assert_eq!(s.wrong_address, 2);
    assert_eq!(s.link.login_failures, 1);
    assert_eq!(s.naks, 3);
    assert!(no_down(&states(&mut master)));
    stop(master).await;
}

#[tokio::test]
async fn a_real_peer_restarting_on_a_new_port_takes_over() {
    let mut master = start_master(master_config(vec![entry(91, "north")]), None).await;
    let mut first = start_peer(master.addr, 91, "pass91", "north").await;
    wait_up(&mut master).await;
    wait_up(&mut first).await;
    // The peer dies without RPTCL and comes back on another source port.
    first.task.abort();
    let _ = first.task.await;
    let mut second = start_peer(master.addr, 91, "pass91", "north").await;
    assert_ne!(second.addr, first.addr);
    wait_up(&mut second).await;
    wait_up(&mut master).await;
    traffic_keeps_arriving(&mut master, &second, "north", 5, 4000).await;
    assert!(no_down(&states(&mut master)), "the site never went down");
    let s = master.counters.snapshot();
    assert_eq!(s.link.reconnects, 1);
    assert_eq!(s.link.login_failures, 0);
    // The old port is no longer the peer's: its ping is refused.
    let old = UdpSocket::bind(first.addr).await.unwrap();
    old.send_to(&Packet::RptPing(PeerId(91)).to_vec(), master.addr)
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = timeout(WAIT, old.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Packet::parse(&buf[..n]).unwrap(),
        Packet::MstNak(PeerId(91))
    );
    stop(second).await;
    stop(master).await;
}

#[tokio::test]
async fn pending_logins_are_bounded_per_address_and_per_peer_and_expire() {
    let mut config = master_config(vec![entry(101, "north")]);
    config.login_timeout = Duration::from_millis(300);
    config.max_pending_per_address = 4;
    config.max_pending_per_peer = 8;
    let master = start_master(config, None).await;
    let mut held = Vec::new();
    // Four from 127.0.0.1, whatever their ports; the fifth is refused.
    for _ in 0..4 {
        let s = Raw::on([127, 0, 0, 1]).await;
        assert!(s.challenge(master.addr, 101).await.is_some());
        held.push(s);
    }
    let fifth = Raw::on([127, 0, 0, 1]).await;
    assert_eq!(fifth.challenge(master.addr, 101).await, None);
    // Four more from 127.0.0.2 fill the peer ID's eight; 127.0.0.3 is refused.
    for _ in 0..4 {
        let s = Raw::on([127, 0, 0, 2]).await;
        assert!(s.challenge(master.addr, 101).await.is_some());
        held.push(s);
    }
    let third = Raw::on([127, 0, 0, 3]).await;
    assert_eq!(third.challenge(master.addr, 101).await, None);
    let s = master.counters.snapshot();
    assert_eq!((s.pending_full, s.link.login_failures), (2, 2));
    // Unanswered, every attempt expires, and there is room again.
    let c = master.counters.clone();
    eventually("eight logins expired", || c.snapshot().login_timeouts == 8).await;
    assert!(fifth.challenge(master.addr, 101).await.is_some());
    // An expired attempt completes nothing: its digest is out of step now.
    let late = &held[0];
    let id = PeerId(101);
    late.send(
        master.addr,
        &Packet::Rptk {
            id,
            digest: [0; 32],
        },
    )
    .await;
    assert_eq!(late.recv_packet().await, Packet::MstNak(id));
    assert_eq!(master.counters.snapshot().link.login_failures, 10);
    stop(master).await;
}

/// Log lines written by a test subscriber.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let me = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || me.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish()
    }

    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn count(&self, what: &str, cause: &str) -> usize {
        let cause = format!("cause=\"{cause}\"");
        self.lines()
            .iter()
            .filter(|l| l.contains(what) && l.contains(&cause))
            .count()
    }
}

#[tokio::test]
async fn each_cause_is_logged_once_when_it_starts_and_once_when_it_stops() {
    let log = LogBuffer::default();
    let mut config = master_config(vec![entry(111, "north")]);
    config.failure_quiet = Duration::from_millis(500);
    let master = start_master(config, Some(&log)).await;
    let sock = Raw::new().await;
    let from = sock.socket.local_addr().unwrap();
    // A burst of 40 of each: wrong digests, unknown IDs, garbage.
    for _ in 0..40 {
        let salt = sock.challenge(master.addr, 111).await.unwrap();
        let digest = login_digest(salt, b"guess");
        let id = PeerId(111);
        sock.send(master.addr, &Packet::Rptk { id, digest }).await;
        assert_eq!(sock.recv_packet().await, Packet::MstNak(id));
        assert_eq!(sock.challenge(master.addr, 999).await, None);
        sock.socket.send_to(b"RPTL", master.addr).await.unwrap();
    }
    let c = master.counters.clone();
    eventually("all counted", || {
        let s = c.snapshot();
        (s.bad_passphrase, s.unknown_peer, s.link.bad_frames) == (40, 40, 40)
    })
    .await;
    let started = "refusals started";
    for cause in ["bad_passphrase", "unknown_peer", "bad_frames"] {
        assert_eq!(log.count(started, cause), 1, "{cause}: {:#?}", log.lines());
    }
    // The lines name the peer ID, the address and the reason.
    let line = |cause: &str, what: &str| {
        log.lines()
            .into_iter()
            .find(|l| l.contains(what) && l.contains(&format!("cause=\"{cause}\"")))
            .unwrap()
    };
    let l = line("bad_passphrase", started);
    assert!(
        l.contains("peer=111") && l.contains(&format!("from={from}")),
        "{l}"
    );
    assert!(l.contains("SHA-256(salt ‖ passphrase)"), "{l}");
    assert!(line("unknown_peer", started).contains("peer=999"));
    assert!(line("bad_frames", started).contains("peer=none"));
    // Quiet for longer than failure_quiet: one line each that the cause stopped, with the
    // count; and nothing more.
    let stopped = "refusals stopped";
    let l2 = log.clone();
    eventually("stop lines", || {
        ["bad_passphrase", "unknown_peer", "bad_frames"]
            .iter()
            .all(|c| l2.count(stopped, c) == 1)
    })
    .await;
    assert!(line("bad_passphrase", stopped).contains("count=40"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    for cause in ["bad_passphrase", "unknown_peer", "bad_frames"] {
        assert_eq!(log.count(started, cause), 1, "{cause}");
        assert_eq!(log.count(stopped, cause), 1, "{cause}");
    }
    // A new failure after the stop starts a new episode: one more line.
    assert_eq!(sock.challenge(master.addr, 999).await, None);
    let l3 = log.clone();
    eventually("a second episode", || {
        l3.count(started, "unknown_peer") == 2
    })
    .await;
    stop(master).await;
}

#[tokio::test]
async fn a_peer_pinned_to_its_sources_is_dropped_from_anywhere_else_and_counted() {
    let log = LogBuffer::default();
    let mut pinned = entry(121, "north");
    // The peer may only send from 127.0.0.2 (Linux answers on all of 127.0.0.0/8).
    pinned.allowed_sources = Some(vec![[127, 0, 0, 2].into()]);
    let master = start_master(master_config(vec![pinned]), Some(&log)).await;

    // From 127.0.0.1: the RPTLs are dropped unanswered (no MSTNAK telling a stranger the ID
    // exists), counted as source_refused and as unauthenticated on the link.
    let stranger = Raw::new().await;
    for _ in 0..3 {
        stranger.send(master.addr, &Packet::Rptl(PeerId(121))).await;
    }
    let c = master.counters.clone();
    eventually("source refusals counted", || {
        c.snapshot().source_refused == 3
    })
    .await;
    let mut buf = [0u8; 64];
    assert!(
        timeout(
            Duration::from_millis(300),
            stranger.socket.recv_from(&mut buf)
        )
        .await
        .is_err(),
        "the master answered a datagram from outside allowed_sources"
    );
    assert_eq!(master.counters.snapshot().link.unauthenticated, 3);
    // One log line for the episode, naming the peer and the address.
    assert_eq!(
        log.count("refusals started", "source_refused"),
        1,
        "{:#?}",
        log.lines()
    );

    // From the allowed address the whole login completes.
    let allowed = Raw::on([127, 0, 0, 2]).await;
    assert!(allowed.login(master.addr, 121, "pass121").await);
    assert_eq!(master.counters.snapshot().source_refused, 3);
    master.stop.cancel();
}
