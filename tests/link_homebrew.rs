//! The Homebrew link over real UDP on 127.0.0.1 (ephemeral ports): master and peers from
//! `trunkgate::link::homebrew`, plus hand-driven sockets where a test needs to see or forge raw
//! datagrams. Every wait is bounded by a deadline of a few seconds.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use trunkgate::link::homebrew::{
    Allow, HomebrewCounters, Master, MasterConfig, Packet, Peer, PeerConfig, PeerEntry, PeerId,
    SlotAllow, login_digest,
};
use trunkgate::link::{FrameMeta, LinkState, Received, Slot, Transmission, Transmit};

const WAIT: Duration = Duration::from_secs(5);
const LOCAL: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

/// Voice LC header burst measured from MMDVMHost (docs/transports.md §5).
const HEADER: &str = "03aa146c339c3978bb4099e1846d5d7f77fd757e32d803905f90f7213a831a8061";

fn header_burst() -> [u8; 33] {
    let mut b = [0u8; 33];
    hex::decode_to_slice(HEADER, &mut b).unwrap();
    b
}

fn entry(id: u32, site: &str, allow: Option<Allow>) -> PeerEntry {
    PeerEntry {
        id: PeerId(id),
        passphrase: format!("pass{id}"),
        site: Arc::from(site),
        allow,
        allowed_sources: None,
    }
}

struct Running<T> {
    addr: SocketAddr,
    rx: mpsc::Receiver<Received>,
    tx: mpsc::Sender<Transmission>,
    state: mpsc::Receiver<LinkState>,
    counters: Arc<HomebrewCounters>,
    stop: CancellationToken,
    task: JoinHandle<T>,
}

type IoResult = std::io::Result<()>;

async fn start_master(config: MasterConfig) -> Running<IoResult> {
    let counters = Arc::new(HomebrewCounters::default());
    let master = Master::bind(config, counters.clone()).await.unwrap();
    let addr = master.local_addr().unwrap();
    let (rx_tx, rx) = mpsc::channel(256);
    let (tx, tx_rx) = mpsc::channel(64);
    let (state_tx, state) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let task = tokio::spawn(master.run(rx_tx, tx_rx, state_tx, stop.clone()));
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

fn master_config(peers: Vec<PeerEntry>) -> MasterConfig {
    let mut c = MasterConfig::new(SocketAddr::from(LOCAL), peers);
    c.hang_time = Duration::from_millis(200);
    c
}

fn peer_config(master: SocketAddr, id: u32, pass: &str, site: &str) -> PeerConfig {
    let mut c = PeerConfig::new(master, PeerId(id), pass, Arc::from(site));
    c.bind = SocketAddr::from(LOCAL);
    c.ping_interval = Duration::from_millis(100);
    c.max_missed = 5;
    c.login_timeout = Duration::from_millis(300);
    c.backoff_min = Duration::from_millis(50);
    c.backoff_max = Duration::from_millis(400);
    c
}

async fn start_peer(config: PeerConfig) -> Running<IoResult> {
    let counters = Arc::new(HomebrewCounters::default());
    let peer = Peer::bind(config, counters.clone()).await.unwrap();
    let addr = peer.local_addr().unwrap();
    let (rx_tx, rx) = mpsc::channel(256);
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

async fn next_state(r: &mut Running<IoResult>) -> LinkState {
    timeout(WAIT, r.state.recv())
        .await
        .expect("no link state in time")
        .expect("state channel closed")
}

async fn wait_up(r: &mut Running<IoResult>) -> LinkState {
    loop {
        let s = next_state(r).await;
        if matches!(s, LinkState::Up { .. }) {
            return s;
        }
    }
}

async fn wait_down(r: &mut Running<IoResult>) -> String {
    loop {
        if let LinkState::Down { reason, .. } = next_state(r).await {
            return reason;
        }
    }
}

async fn recv_burst(r: &mut Running<IoResult>) -> Received {
    timeout(WAIT, r.rx.recv())
        .await
        .expect("no burst in time")
        .expect("rx channel closed")
}

/// Wait until `cond` holds, polling; panics after the deadline.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn stop(r: Running<IoResult>) {
    r.stop.cancel();
    timeout(WAIT, r.task).await.unwrap().unwrap().unwrap();
}

/// A socket speaking raw datagrams, for forging and inspecting packets.
struct Raw {
    socket: UdpSocket,
}

impl Raw {
    async fn new() -> Raw {
        Raw {
            socket: UdpSocket::bind(SocketAddr::from(LOCAL)).await.unwrap(),
        }
    }

    async fn send(&self, to: SocketAddr, p: &Packet) {
        self.socket.send_to(&p.to_vec(), to).await.unwrap();
    }

    async fn recv(&self) -> (Vec<u8>, SocketAddr) {
        let mut buf = vec![0u8; 2048];
        let (n, from) = timeout(WAIT, self.socket.recv_from(&mut buf))
            .await
            .expect("no datagram in time")
            .unwrap();
        buf.truncate(n);
        (buf, from)
    }

    async fn recv_packet(&self) -> Packet {
        Packet::parse(&self.recv().await.0).unwrap()
    }

    /// The next packet other than pings, pongs and acks of the keepalive.
    async fn recv_dmrd(&self) -> Vec<u8> {
        loop {
            let (d, _) = self.recv().await;
            if d.starts_with(b"DMRD") {
                return d;
            }
        }
    }

    /// Nothing but keepalive traffic arrives for `quiet`.
    async fn assert_no_dmrd(&self, quiet: Duration) {
        let mut buf = vec![0u8; 2048];
        let end = tokio::time::Instant::now() + quiet;
        while let Ok(r) = tokio::time::timeout_at(end, self.socket.recv_from(&mut buf)).await {
            let (n, _) = r.unwrap();
            assert!(!buf[..n].starts_with(b"DMRD"), "unexpected DMRD");
        }
    }

    /// Log into `master` as `id` with `pass`, by hand.
    async fn login(&self, master: SocketAddr, id: u32, pass: &str) {
        let id = PeerId(id);
        self.send(master, &Packet::Rptl(id)).await;
        let Packet::RptAck(salt) = self.recv_packet().await else {
            panic!("no salt");
        };
        let digest = login_digest(salt, pass.as_bytes());
        self.send(master, &Packet::Rptk { id, digest }).await;
        assert_eq!(self.recv_packet().await, Packet::RptAck(id.0.to_be_bytes()));
        let config = Box::new(trunkgate::link::homebrew::ConfigBlock::from_info(
            &Default::default(),
        ));
        self.send(master, &Packet::Rptc { id, config }).await;
        assert_eq!(self.recv_packet().await, Packet::RptAck(id.0.to_be_bytes()));
    }
}

fn transmit(site: &str, destination: u32, stream_id: u32) -> Transmit {
    Transmit {
        site: Arc::from(site),
        slot: Slot::Two,
        burst: header_burst(),
        meta: Some(FrameMeta {
            source: 4_600_123,
            destination,
            private: false,
            stream_id,
        }),
    }
}

#[tokio::test]
async fn peer_logs_into_master() {
    let mut master = start_master(master_config(vec![entry(4_600_001, "north", None)])).await;
    let mut peer = start_peer(peer_config(master.addr, 4_600_001, "pass4600001", "north")).await;
    assert_eq!(
        wait_up(&mut master).await,
        LinkState::Up {
            link: "homebrew-master".into(),
            site: Some(Arc::from("north"))
        }
    );
    assert!(matches!(wait_up(&mut peer).await, LinkState::Up { .. }));
    // Keepalives flow: a few ping intervals later the peer is still up.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(peer.state.try_recv().is_err(), "peer changed state");
    assert_eq!(peer.counters.snapshot().missed_pongs, 0);
    // A clean close: RPTCL takes the peer down at the master at once.
    stop(peer).await;
    let reason = wait_down(&mut master).await;
    assert!(reason.contains("RPTCL"), "{reason}");
    stop(master).await;
}

#[tokio::test]
async fn wrong_passphrase_is_refused_and_counted() {
    let mut master = start_master(master_config(vec![entry(4_600_001, "north", None)])).await;
    let peer = start_peer(peer_config(master.addr, 4_600_001, "wrong", "north")).await;
    let (pc, mc) = (peer.counters.clone(), master.counters.clone());
    eventually("two refused logins", || {
        mc.snapshot().bad_passphrase >= 2 && pc.snapshot().link.login_failures >= 2
    })
    .await;
    assert!(pc.snapshot().naks >= 2);
    assert!(mc.snapshot().link.login_failures >= 2);
    assert!(master.state.try_recv().is_err(), "nobody came up");
    stop(peer).await;
    stop(master).await;
}

#[tokio::test]
async fn unknown_peer_id_is_refused() {
    let master = start_master(master_config(vec![entry(4_600_001, "north", None)])).await;
    let raw = Raw::new().await;
    raw.send(master.addr, &Packet::Rptl(PeerId(999))).await;
    assert_eq!(raw.recv_packet().await, Packet::MstNak(PeerId(999)));
    assert_eq!(master.counters.snapshot().unknown_peer, 1);
    stop(master).await;
}

#[tokio::test]
async fn login_vector_is_reproduced_byte_exactly() {
    // A hand-driven master that always offers the salt of docs/transports.md §2.3.
    let fake = Raw::new().await;
    let master_addr = fake.socket.local_addr().unwrap();
    let peer = start_peer(peer_config(master_addr, 4_600_001, "passw0rd", "north")).await;
    let (rptl, from) = fake.recv().await;
    assert_eq!(rptl, b"RPTL\x00\x46\x30\xc1");
    fake.socket
        .send_to(b"RPTACK\x74\xb1\x2e\x21", from)
        .await
        .unwrap();
    let (rptk, _) = fake.recv().await;
    let mut want = b"RPTK\x00\x46\x30\xc1".to_vec();
    want.extend(
        hex::decode("3b8cda4b1da9f12f40fcc78e3c479d2f7fa2cea3921698ed93165d2afe254d0b").unwrap(),
    );
    assert_eq!(rptk, want);
    fake.socket
        .send_to(b"RPTACK\x00\x46\x30\xc1", from)
        .await
        .unwrap();
    let (rptc, _) = fake.recv().await;
    assert_eq!(rptc.len(), 302);
    assert_eq!(&rptc[..8], b"RPTC\x00\x46\x30\xc1");
    stop(peer).await;
}

#[tokio::test]
async fn unanswered_pings_make_the_peer_log_in_again() {
    let fake = Raw::new().await;
    let master_addr = fake.socket.local_addr().unwrap();
    let mut peer = start_peer(peer_config(master_addr, 7, "pw", "north")).await;
    // Answer the login by hand, then ignore every ping.
    let answer_login = async |fake: &Raw| -> SocketAddr {
        loop {
            let (d, from) = fake.recv().await;
            match Packet::parse(&d).unwrap() {
                Packet::Rptl(_) => fake.send(from, &Packet::RptAck([1, 2, 3, 4])).await,
                Packet::Rptk { .. } => fake.send(from, &Packet::RptAck(7u32.to_be_bytes())).await,
                Packet::Rptc { .. } => {
                    fake.send(from, &Packet::RptAck(7u32.to_be_bytes())).await;
                    return from;
                }
                _ => {}
            }
        }
    };
    answer_login(&fake).await;
    wait_up(&mut peer).await;
    let reason = wait_down(&mut peer).await;
    assert!(reason.contains("pings unanswered"), "{reason}");
    // It starts over with RPTL, and comes up again when answered.
    answer_login(&fake).await;
    wait_up(&mut peer).await;
    let s = peer.counters.snapshot();
    assert_eq!(s.missed_pongs, 5);
    assert_eq!(s.link.reconnects, 1);
    stop(peer).await;
}

#[tokio::test]
async fn peer_logs_in_again_after_a_master_restart() {
    let config = master_config(vec![entry(11, "north", None)]);
    let master = start_master(config.clone()).await;
    let mut peer = start_peer(peer_config(master.addr, 11, "pass11", "north")).await;
    wait_up(&mut peer).await;
    // The master dies without a word (no MSTCL), and a new one comes up on the same port.
    master.task.abort();
    let _ = master.task.await;
    let mut again = config;
    again.bind = master.addr;
    let mut master2 = start_master(again).await;
    // Its first ping gets MSTNAK ("not logged in"), and the peer logs in anew.
    let reason = wait_down(&mut peer).await;
    assert!(reason.contains("MSTNAK"), "{reason}");
    wait_up(&mut peer).await;
    wait_up(&mut master2).await;
    assert_eq!(peer.counters.snapshot().link.reconnects, 1);
    // A clean master shutdown says MSTCL, which the peer takes as a loss too.
    master2.stop.cancel();
    let reason = wait_down(&mut peer).await;
    assert!(reason.contains("MSTCL"), "{reason}");
    let _ = master2.task.await;
    stop(peer).await;
}

#[tokio::test]
async fn dmrd_is_relayed_between_peers_and_handed_to_the_gateway() {
    let mut master = start_master(master_config(vec![
        entry(21, "north", None),
        entry(22, "south", None),
    ]))
    .await;
    let mut north = start_peer(peer_config(master.addr, 21, "pass21", "north")).await;
    let south = Raw::new().await;
    south.login(master.addr, 22, "pass22").await;
    wait_up(&mut north).await;

    north
        .tx
        .send(transmit("north", 46_001, 0xabcd).into())
        .await
        .unwrap();
    // The gateway sees it tagged with the sending peer's site and slot.
    let r = recv_burst(&mut master).await;
    assert_eq!((&*r.site, r.slot), ("north", Slot::Two));
    assert_eq!(r.burst, header_burst());
    let meta = r.meta.unwrap();
    assert_eq!(
        (meta.source, meta.destination, meta.stream_id),
        (4_600_123, 46_001, 0xabcd)
    );
    // The other peer gets it with the repeater ID rewritten to its own.
    let d = south.recv_dmrd().await;
    assert_eq!(d.len(), 55);
    assert_eq!(&d[11..15], &22u32.to_be_bytes());
    assert_eq!(d[15], 0xa1, "TS2 group voice LC header");
    assert_eq!(&d[20..53], &header_burst());
    // And back: the south peer's DMRD reaches the north peer's caller.
    let mut back = Packet::parse(&d).unwrap();
    if let Packet::Dmrd(ref mut x) = back {
        x.stream_id = 0x1234;
        x.destination = 46_002;
    }
    // Past the stream timeout (360 ms) and the hang time (200 ms) of the slot.
    tokio::time::sleep(Duration::from_millis(600)).await;
    south.send(master.addr, &back).await;
    let r = recv_burst(&mut north).await;
    assert_eq!((&*r.site, r.slot), ("north", Slot::Two));
    assert_eq!(r.meta.unwrap().stream_id, 0x1234);
    let r = recv_burst(&mut master).await;
    assert_eq!(&*r.site, "south");
    assert!(master.counters.snapshot().relayed >= 2);
    stop(north).await;
    stop(master).await;
}

#[tokio::test]
async fn allow_list_narrows_the_relay() {
    let tg9_on_ts2 = Allow {
        ts1: SlotAllow::Closed,
        ts2: SlotAllow::Talkgroups(vec![9]),
    };
    let mut master = start_master(master_config(vec![
        entry(31, "north", None),
        entry(32, "south", Some(tg9_on_ts2)),
    ]))
    .await;
    let mut north = start_peer(peer_config(master.addr, 31, "pass31", "north")).await;
    let south = Raw::new().await;
    south.login(master.addr, 32, "pass32").await;
    wait_up(&mut north).await;

    north
        .tx
        .send(transmit("north", 10, 1).into())
        .await
        .unwrap();
    assert_eq!(recv_burst(&mut master).await.meta.unwrap().destination, 10);
    south.assert_no_dmrd(Duration::from_millis(300)).await;
    assert_eq!(master.counters.snapshot().relay_denied, 1);

    north.tx.send(transmit("north", 9, 2).into()).await.unwrap();
    let d = south.recv_dmrd().await;
    assert_eq!(&d[8..11], &[0, 0, 9]);
    stop(north).await;
    stop(master).await;
}

#[tokio::test]
async fn gateway_transmits_to_the_peer_of_a_site() {
    let master = start_master(master_config(vec![
        entry(41, "north", None),
        entry(42, "south", None),
    ]))
    .await;
    let north = Raw::new().await;
    let south = Raw::new().await;
    north.login(master.addr, 41, "pass41").await;
    south.login(master.addr, 42, "pass42").await;
    master
        .tx
        .send(transmit("south", 46_001, 5).into())
        .await
        .unwrap();
    let d = south.recv_dmrd().await;
    assert_eq!(&d[11..15], &42u32.to_be_bytes());
    north.assert_no_dmrd(Duration::from_millis(200)).await;
    assert_eq!(master.counters.snapshot().link.frames_out, 1);
    stop(master).await;
}

#[tokio::test]
async fn malformed_and_unauthenticated_datagrams_are_counted_and_dropped() {
    let mut master = start_master(master_config(vec![entry(51, "north", None)])).await;
    let raw = Raw::new().await;
    for junk in [&b"x"[..], b"HELLO WORLD", b"DMRD\x00\x01", &[0xff; 400]] {
        raw.socket.send_to(junk, master.addr).await.unwrap();
    }
    // A well-formed DMRD from a configured but not logged-in peer.
    let mut dmrd = hex::decode(format!(
        "444d52440046313b00b3b100000033a1c918f949{HEADER}0000"
    ))
    .unwrap();
    raw.socket.send_to(&dmrd, master.addr).await.unwrap();
    // And one claiming a logged-in peer's ID from another address.
    let peer = Raw::new().await;
    peer.login(master.addr, 51, "pass51").await;
    dmrd[11..15].copy_from_slice(&51u32.to_be_bytes());
    raw.socket.send_to(&dmrd, master.addr).await.unwrap();
    let c = master.counters.clone();
    eventually("all counted", || {
        let s = c.snapshot();
        s.link.bad_frames == 4 && s.link.unauthenticated == 2
    })
    .await;
    let s = c.snapshot();
    assert_eq!((s.bad_length, s.unknown_command), (2, 2));
    assert_eq!((s.not_logged_in, s.wrong_address), (1, 1));
    assert_eq!(s.link.frames_in, 0);
    assert!(master.rx.try_recv().is_err(), "nothing reached the gateway");
    // The link is still up for the real peer.
    peer.send(master.addr, &Packet::RptPing(PeerId(51))).await;
    assert_eq!(peer.recv_packet().await, Packet::MstPong(PeerId(51)));
    stop(master).await;
}

#[test]
fn fuzz_seed_corpus_parses_and_round_trips() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/homebrew_datagram");
    let mut names = Vec::new();
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap();
        let bytes = std::fs::read(f.path()).unwrap();
        let p = Packet::parse(&bytes).unwrap_or_else(|e| panic!("{:?}: {e}", f.file_name()));
        assert_eq!(p.to_vec(), bytes, "{:?}", f.file_name());
        names.push(p.name());
    }
    names.sort();
    names.dedup();
    // One seed at least for every packet type.
    assert_eq!(names.len(), 15, "{names:?}");
}
