//! Every link failure is visible: each cause is counted per link, logged once when it starts
//! and once when it stops (never a line per packet), and shows on the `Site` resource through
//! a real gRPC client and in `trunkgate ctl sites`. Real UDP sockets on 127.0.0.1; every wait
//! has a deadline of seconds; every loop is bounded.

mod access_support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::instrument::WithSubscriber;
use trunkgate::api::pb;
use trunkgate::app::config::Config;
use trunkgate::app::ctl::{self, CtlArgs};
use trunkgate::app::serve::{self, ServeOptions};
use trunkgate::link::homebrew::{
    ConfigBlock, HomebrewCounters, Master, MasterConfig, Packet, Peer, PeerConfig, PeerEntry,
    PeerId, login_digest,
};

const WAIT: Duration = Duration::from_secs(10);
/// A quiet time longer than any test here runs.
const LONG: Duration = Duration::from_secs(60);

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

async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct RunningPeer {
    counters: Arc<HomebrewCounters>,
    log: LogBuffer,
    stop: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
    addr: SocketAddr,
}

impl RunningPeer {
    async fn stop(self) {
        self.stop.cancel();
        timeout(WAIT, self.task).await.unwrap().unwrap().unwrap();
    }
}

/// A peer with fast retries, its log lines captured.
/// `quiet`: how long a cause must be quiet to be logged as stopped; long where a test counts
/// "started" lines, so a stall of the machine cannot split one episode in two.
async fn start_peer(master: SocketAddr, id: u32, pass: &str, quiet: Duration) -> RunningPeer {
    let mut c = PeerConfig::new(master, PeerId(id), pass, Arc::from("north"));
    c.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    c.ping_interval = Duration::from_millis(100);
    c.login_timeout = Duration::from_millis(60);
    c.backoff_min = Duration::from_millis(10);
    c.backoff_max = Duration::from_millis(40);
    c.failure_quiet = quiet;
    let counters = Arc::new(HomebrewCounters::default());
    let peer = Peer::bind(c, counters.clone()).await.unwrap();
    let addr = peer.local_addr().unwrap();
    let (rx_tx, rx) = mpsc::channel(64);
    let (_tx, tx_rx) = mpsc::channel(8);
    let (state_tx, state) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let log = LogBuffer::default();
    let run = peer.run(rx_tx, tx_rx, state_tx, stop.clone());
    // The channel ends live as long as the task: dropped with it.
    let task = tokio::spawn(
        async move {
            let _keep = (rx, state, _tx);
            run.await
        }
        .with_subscriber(log.subscriber()),
    );
    RunningPeer {
        counters,
        log,
        stop,
        task,
        addr,
    }
}

async fn start_master(
    peers: Vec<PeerEntry>,
) -> (
    SocketAddr,
    CancellationToken,
    JoinHandle<std::io::Result<()>>,
) {
    let master = Master::bind(
        MasterConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), peers),
        Arc::new(HomebrewCounters::default()),
    )
    .await
    .unwrap();
    let addr = master.local_addr().unwrap();
    let (rx_tx, rx) = mpsc::channel(64);
    let (tx, tx_rx) = mpsc::channel(8);
    let (state_tx, state) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let run = master.run(rx_tx, tx_rx, state_tx, stop.clone());
    let task = tokio::spawn(async move {
        let _keep = (rx, tx, state);
        run.await
    });
    (addr, stop, task)
}

const STARTED: &str = "failures started";
const STOPPED: &str = "failures stopped";

#[tokio::test]
async fn wrong_passphrase_unknown_id_and_silent_master_are_each_logged_once_at_the_peer() {
    let (master, stop_master, master_task) = start_master(vec![PeerEntry {
        id: PeerId(111),
        passphrase: "right".into(),
        site: Arc::from("north"),
        allow: None,
        allowed_sources: None,
    }])
    .await;
    let wrong = start_peer(master, 111, "wrong", LONG).await;
    let unknown = start_peer(master, 222, "whatever", LONG).await;
    // A master that never answers: a bound socket nobody reads.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let never = start_peer(silent.local_addr().unwrap(), 333, "x", LONG).await;
    let (w, u, n) = (
        wrong.counters.clone(),
        unknown.counters.clone(),
        never.counters.clone(),
    );
    eventually("repeated failures", || {
        w.snapshot().bad_passphrase >= 5
            && u.snapshot().unknown_peer >= 5
            && n.snapshot().login_timeouts >= 5
    })
    .await;
    // Many failures, one line each.
    assert_eq!(
        wrong.log.count(STARTED, "bad_passphrase"),
        1,
        "{:#?}",
        wrong.log.lines()
    );
    assert_eq!(
        unknown.log.count(STARTED, "refused_login"),
        1,
        "{:#?}",
        unknown.log.lines()
    );
    assert_eq!(
        never.log.count(STARTED, "login_timeouts"),
        1,
        "{:#?}",
        never.log.lines()
    );
    // The line names the peer and the reason.
    let line = wrong
        .log
        .lines()
        .into_iter()
        .find(|l| l.contains(STARTED))
        .unwrap();
    assert!(
        line.contains("homebrew-peer-111") && line.contains("MSTNAK to RPTK"),
        "{line}"
    );
    let line = never
        .log
        .lines()
        .into_iter()
        .find(|l| l.contains(STARTED))
        .unwrap();
    assert!(line.contains("no answer to RPTL"), "{line}");
    // Counted: MSTNAKs received and login failures on the link.
    let s = w.snapshot();
    assert!(s.naks >= 5 && s.link.login_failures >= 5, "{s:?}");
    // The last failure is recorded with its time.
    let (what, _) = w.link.last_failure().unwrap();
    assert!(what.starts_with("bad_passphrase: MSTNAK to RPTK"), "{what}");
    // No other cause crept in.
    for log in [&wrong.log, &unknown.log, &never.log] {
        assert_eq!(
            log.lines().iter().filter(|l| l.contains(STARTED)).count(),
            1
        );
    }
    for p in [wrong, unknown, never] {
        p.stop().await;
    }
    stop_master.cancel();
    timeout(WAIT, master_task).await.unwrap().unwrap().unwrap();
}

/// A hand-driven master: NAKs the first `naks` RPTKs, then lets the login complete.
async fn flaky_master(sock: UdpSocket, naks: usize, pass: &'static str) {
    let mut buf = [0u8; 1024];
    let mut left = naks;
    let mut salt: [u8; 4] = [1, 2, 3, 4];
    loop {
        let Ok(Ok((n, from))) = timeout(WAIT, sock.recv_from(&mut buf)).await else {
            return;
        };
        let reply = match Packet::parse(&buf[..n]) {
            Ok(Packet::Rptl(_)) => {
                salt[0] = salt[0].wrapping_add(1);
                Packet::RptAck(salt)
            }
            Ok(Packet::Rptk { id, digest }) => {
                if left > 0 || digest != login_digest(salt, pass.as_bytes()) {
                    left = left.saturating_sub(1);
                    Packet::MstNak(id)
                } else {
                    Packet::RptAck(id.0.to_be_bytes())
                }
            }
            Ok(Packet::Rptc { id, .. }) => Packet::RptAck(id.0.to_be_bytes()),
            Ok(Packet::RptPing(id)) => Packet::MstPong(id),
            _ => continue,
        };
        let _ = sock.send_to(&reply.to_vec(), from).await;
    }
}

#[tokio::test]
async fn a_cause_that_recovers_or_goes_quiet_is_logged_as_stopped_once() {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let master = sock.local_addr().unwrap();
    let peer = start_peer(master, 111, "right", Duration::from_millis(1500)).await;
    let flaky = tokio::spawn(flaky_master(sock, 6, "right"));
    let c = peer.counters.clone();
    eventually("logged in after the NAKs", || {
        c.snapshot().link.login_failures >= 6
    })
    .await;
    let log = peer.log.clone();
    eventually("recovered line", || {
        log.count("failures stopped (recovered)", "bad_passphrase") == 1
    })
    .await;
    assert_eq!(
        peer.log.count(STARTED, "bad_passphrase"),
        1,
        "{:#?}",
        peer.log.lines()
    );

    // Garbage and strangers: counted, one line each, then one line each when quiet.
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for _ in 0..20 {
        stranger
            .send_to(b"RPTPING\0\0\0\x01", peer.addr)
            .await
            .unwrap();
    }
    let c = peer.counters.clone();
    eventually("strangers counted", || c.snapshot().wrong_address >= 20).await;
    assert_eq!(
        peer.log.count(STARTED, "wrong_address"),
        1,
        "{:#?}",
        peer.log.lines()
    );
    let log = peer.log.clone();
    eventually("quiet line", || log.count(STOPPED, "wrong_address") == 1).await;
    let stopped = peer
        .log
        .lines()
        .into_iter()
        .find(|l| l.contains(STOPPED) && l.contains("wrong_address"))
        .unwrap();
    assert!(stopped.contains("count=20"), "{stopped}");
    peer.stop().await;
    flaky.abort();
}

fn gateway_config(api: SocketAddr, homebrew: SocketAddr, upstream: SocketAddr) -> String {
    format!(
        r#"
[api]
listen = "{api}"

[[site]]
name = "north"
profile = "pdt"
dialect = "pdt"

[[site]]
name = "south"
profile = "pdt"
dialect = "pdt"

[[homebrew_peer]]
master = "{upstream}"
bind = "127.0.0.1:0"
id = 42
passphrase = "mine"
site = "south"

[homebrew_master]
bind = "{homebrew}"

[[homebrew_master.peer]]
id = 310001
passphrase = "passw0rd"
site = "north"
"#
    )
}

fn free_udp() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn free_tcp() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn north_links(
    client: &mut pb::directory_service_client::DirectoryServiceClient<access_support::Ch>,
) -> Vec<pb::LinkStatus> {
    let sites = client
        .list_sites(pb::ListSitesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .sites;
    sites
        .into_iter()
        .find(|s| s.name == "sites/north")
        .expect("site north")
        .links
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    ctl: CtlArgs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_refusals_show_on_the_site_resource_and_in_ctl_sites() {
    let dir = tempfile::tempdir().unwrap();
    let (api, homebrew) = (free_tcp(), free_udp());
    // An upstream master that refuses the gateway's peer at RPTK: a wrong passphrase.
    let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let refuser = tokio::spawn(flaky_master(upstream, usize::MAX, "theirs"));
    let mut config = Config::parse(&gateway_config(api, homebrew, upstream_addr)).unwrap();
    config.access = access_support::access_config();
    let options = ServeOptions {
        data_dir: Some(dir.path().join("data")),
        ..ServeOptions::default()
    };
    let shutdown = CancellationToken::new();
    let (running, join) = serve::start(config, &options, shutdown.clone())
        .await
        .unwrap();
    let master = running.homebrew.unwrap();
    let channel = access_support::connect(running.api).await.unwrap();
    let mut client = pb::directory_service_client::DirectoryServiceClient::new(channel);

    // Nothing failed yet: the link is listed, down, with zero failures.
    let links = north_links(&mut client).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(
        (links[0].name.as_str(), links[0].kind.as_str(), links[0].up),
        ("homebrew-master", "homebrew_master", false)
    );
    assert_eq!(links[0].counters.get("login_failures"), Some(&0));
    assert!(links[0].last_failure.is_empty() && links[0].last_failure_time.is_none());

    // An unknown peer ID, a wrong passphrase, a malformed datagram, a DMRD from nobody.
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let recv = async || {
        let mut buf = [0u8; 512];
        let n = timeout(WAIT, sock.recv(&mut buf)).await.unwrap().unwrap();
        Packet::parse(&buf[..n]).unwrap()
    };
    sock.send_to(&Packet::Rptl(PeerId(999)).to_vec(), master)
        .await
        .unwrap();
    assert_eq!(recv().await, Packet::MstNak(PeerId(999)));
    let id = PeerId(310001);
    sock.send_to(&Packet::Rptl(id).to_vec(), master)
        .await
        .unwrap();
    let Packet::RptAck(salt) = recv().await else {
        panic!()
    };
    let digest = login_digest(salt, b"guess");
    sock.send_to(&Packet::Rptk { id, digest }.to_vec(), master)
        .await
        .unwrap();
    assert_eq!(recv().await, Packet::MstNak(id));
    sock.send_to(b"RPTK\0\0", master).await.unwrap();
    sock.send_to(&hex::decode("444d52440030b43c002706004630c363000000004621042f80f038fc12f94b9204cdff57d75df5dac84e25a895593ce032d9229ac00000").unwrap(), master).await.unwrap();

    let deadline = tokio::time::Instant::now() + WAIT;
    let links = loop {
        let links = north_links(&mut client).await;
        let c = &links[0].counters;
        if c.get("unauthenticated") == Some(&1) && c.get("bad_frames") == Some(&1) {
            break links;
        }
        assert!(tokio::time::Instant::now() < deadline, "counters: {c:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let l = &links[0];
    assert_eq!(l.counters["unknown_peer"], 1);
    assert_eq!(l.counters["bad_passphrase"], 1);
    assert_eq!(l.counters["login_failures"], 2);
    assert_eq!(l.counters["bad_length"], 1);
    assert_eq!(l.counters["not_logged_in"], 1);
    assert!(
        l.last_failure.starts_with("not_logged_in: peer 4600003"),
        "{}",
        l.last_failure
    );
    assert!(l.last_failure_time.is_some());

    // ctl sites shows the link, the failures by cause and the last one.
    let server = format!("http://{}", running.api);
    let args = Cli::try_parse_from([
        "ctl",
        "--server",
        &server,
        "--token",
        access_support::TOKEN,
        "sites",
    ])
    .unwrap()
    .ctl;
    let mut out = Vec::new();
    timeout(WAIT, ctl::execute(args, &mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("LAST FAILURE"), "{text}");
    assert!(text.contains("homebrew-master down"), "{text}");
    assert!(
        text.contains("login_failures=2")
            && text.contains("unauthenticated=1")
            && text.contains("bad_frames=1"),
        "{text}"
    );
    assert!(text.contains("not_logged_in: peer 4600003"), "{text}");

    // The gateway's own peer link: its refusals show on its site.
    let deadline = tokio::time::Instant::now() + WAIT;
    let south = loop {
        let sites = client
            .list_sites(pb::ListSitesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .sites;
        let links = sites
            .into_iter()
            .find(|s| s.name == "sites/south")
            .unwrap()
            .links;
        if links[0]
            .counters
            .get("bad_passphrase")
            .is_some_and(|&n| n >= 1)
        {
            break links;
        }
        assert!(tokio::time::Instant::now() < deadline, "{links:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (
            south.len(),
            south[0].name.as_str(),
            south[0].kind.as_str(),
            south[0].up
        ),
        (1, "homebrew-peer-42", "homebrew_peer", false)
    );
    assert!(south[0].counters["naks"] >= 1 && south[0].counters["login_failures"] >= 1);
    assert!(
        south[0]
            .last_failure
            .starts_with("bad_passphrase: MSTNAK to RPTK"),
        "{}",
        south[0].last_failure
    );
    // The master's counters are its own (the two MSTNAKs it sent), not the peer's.
    assert_eq!(north_links(&mut client).await[0].counters["naks"], 2);

    // A real login brings the link up on the site.
    sock.send_to(&Packet::Rptl(id).to_vec(), master)
        .await
        .unwrap();
    let Packet::RptAck(salt) = recv().await else {
        panic!()
    };
    let digest = login_digest(salt, b"passw0rd");
    sock.send_to(&Packet::Rptk { id, digest }.to_vec(), master)
        .await
        .unwrap();
    recv().await;
    let config = Box::new(ConfigBlock::from_info(&Default::default()));
    sock.send_to(&Packet::Rptc { id, config }.to_vec(), master)
        .await
        .unwrap();
    assert_eq!(recv().await, Packet::RptAck(id.0.to_be_bytes()));
    let deadline = tokio::time::Instant::now() + WAIT;
    while !north_links(&mut client).await[0].up {
        assert!(
            tokio::time::Instant::now() < deadline,
            "link never shown up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(north_links(&mut client).await[0].state_since_time.is_some());

    shutdown.cancel();
    timeout(Duration::from_secs(20), join)
        .await
        .unwrap()
        .unwrap();
    refuser.abort();
}
