//! A flood of idle connections cannot stall the API: the real `trunkgate serve` process runs
//! under a file-handle limit of 128 (set in the child before exec) while more idle TCP
//! connections than it has handles wait on its listener. Afterwards a real gRPC client is
//! answered, the process is not busy (its CPU time over idle seconds stays well under one
//! second, where a spinning accept loop burns a whole core), and SIGTERM ends it.
//!
//! Everything runs on 127.0.0.1 with ports picked by the OS; every wait has a deadline.

mod access_support;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tonic::transport::Channel;
use trunkgate::api::pb;

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");
/// File handles the gateway gets (soft and hard, so it cannot raise them).
const NOFILE: u64 = 128;
/// Idle connections opened: more than the gateway has handles.
const IDLE: usize = 300;

fn free_tcp() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gateway(dir: &Path, port: u16, homebrew: SocketAddr) -> Proc {
    let file = dir.join("gateway.toml");
    // Listening on every address (not only loopback) without TLS must log the clear-text warning.
    std::fs::write(
        &file,
        format!(
            r#"
[api]
listen = "0.0.0.0:{port}"
handshake_timeout_secs = 2
max_connections = 1000
max_connections_per_client = 1000

[[site]]
name = "quiet"
profile = "pdt"
dialect = "pdt"
colour_code = 1

[homebrew_master]
bind = "{homebrew}"

[[homebrew_master.peer]]
id = 310001
passphrase = "passw0rd"
site = "quiet"
{}"#,
            access_support::access_toml()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("gateway.log")).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--config"])
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: setrlimit is async-signal-safe and touches nothing of the parent's state.
    unsafe {
        cmd.pre_exec(|| rlimit::setrlimit(rlimit::Resource::NOFILE, NOFILE, NOFILE));
    }
    Proc(cmd.spawn().expect("trunkgate serve starts"))
}

/// utime + stime of `pid` in clock ticks (proc(5): fields 14 and 15 of /proc/PID/stat).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Clock ticks per second as /proc reports them (USER_HZ, 100 on Linux).
const TICKS: u64 = 100;

async fn answered(addr: SocketAddr, deadline: Instant) -> pb::ListSitesResponse {
    loop {
        let attempt = async {
            let ch = Channel::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(5))
                .connect()
                .await
                .map_err(|e| e.to_string())?;
            pb::directory_service_client::DirectoryServiceClient::new(access_support::authed(ch))
                .list_sites(pb::ListSitesRequest::default())
                .await
                .map(|r| r.into_inner())
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_secs(12), attempt).await {
            Ok(Ok(r)) => return r,
            other if Instant::now() < deadline => {
                let _ = other;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("the gateway at {addr} did not answer: {other:?}"),
        }
    }
}

fn log_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default()
}

fn wait_log(dir: &Path, what: &str, deadline: Instant) {
    while !log_text(dir).contains(what) {
        assert!(
            Instant::now() < deadline,
            "the log never said {what:?}:\n{}",
            log_text(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_beyond_the_file_limit_do_not_stall_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp().port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let homebrew = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut gw = gateway(dir.path(), port, homebrew);
    let pid = gw.0.id();
    answered(addr, Instant::now() + Duration::from_secs(30)).await;
    let log = log_text(dir.path());
    assert!(
        log.contains("without TLS"),
        "no warning about listening beyond loopback:\n{log}"
    );
    assert!(
        log.contains("the hard file-handle limit is below what [api] max_connections needs"),
        "no word at start about the file-handle limit:\n{log}"
    );

    // More idle connections than the gateway has handles; none sends a byte.
    let idle: Vec<TcpStream> = (0..IDLE)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
        .collect();
    assert!(
        idle.len() > NOFILE as usize,
        "only {} connected",
        idle.len()
    );
    wait_log(
        dir.path(),
        "cannot accept API connections",
        Instant::now() + Duration::from_secs(20),
    );

    // While it is out of handles, the gateway sleeps between accepts instead of spinning.
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = cpu_ticks(pid) - before;
    assert!(
        used < TICKS / 2,
        "the gateway used {used} ticks of CPU in 3 idle seconds"
    );

    // The idle ones are closed after the handshake timeout (the server ends them: reads see
    // EOF or a reset), and a real client is answered.
    let sites = answered(addr, Instant::now() + Duration::from_secs(60)).await;
    assert_eq!(sites.sites.len(), 1);
    let mut first = idle.into_iter().next().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 64];
    match first.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => {
            // The server's SETTINGS may come first; then the close.
            let _ = n;
            let mut rest = Vec::new();
            let _ = first.read_to_end(&mut rest);
        }
    }
    // The end of the episode is logged at an accept after a quiet spell: keep connecting.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log_text(dir.path()).contains("accepting API connections again") {
        assert!(
            Instant::now() < deadline,
            "the end of the accept failures was never logged:\n{}",
            log_text(dir.path())
        );
        answered(addr, deadline).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    wait_log(
        dir.path(),
        "closing API connections that send no HTTP/2 preface",
        Instant::now() + Duration::from_secs(30),
    );

    // SIGTERM ends it, with idle connections open: some that sent nothing, and a client's
    // HTTP/2 connection with no call in flight.
    let _idle: Vec<TcpStream> = (0..20)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
        .collect();
    let _client = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connects");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = gw.0.try_wait().unwrap() {
            assert!(status.success(), "{status:?}\n{}", log_text(dir.path()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not stop on SIGTERM:\n{}",
            log_text(dir.path())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
