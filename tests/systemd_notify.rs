//! `Type=notify` as systemd runs it: the real `trunkgate serve --demo` process with
//! `NOTIFY_SOCKET` naming a Unix datagram socket this test listens on and `WATCHDOG_USEC` set.
//! The gateway sends `READY=1` once it serves, `WATCHDOG=1` again and again while its driver
//! runs, and `STOPPING=1` on SIGTERM, then exits. Every wait has a deadline; the process is
//! killed if the test fails.

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next notification, or `None` at the deadline.
fn next(sock: &UnixDatagram, deadline: Instant) -> Option<String> {
    let left = deadline.checked_duration_since(Instant::now())?;
    sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn the_gateway_tells_systemd_it_is_ready_feeds_the_watchdog_and_says_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    let child = Command::new(BIN)
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--homebrew",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("NOTIFY_SOCKET", &path)
        // 400 ms: a ping every 200 ms while the driver makes progress.
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("trunkgate serve --demo starts");
    let mut gateway = Proc(child);

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let mut watchdogs = 0;
    while watchdogs < 3 {
        let Some(msg) = next(&sock, deadline) else {
            panic!("no READY=1 and three WATCHDOG=1 in time; got {seen:?}");
        };
        if msg.lines().any(|l| l == "WATCHDOG=1") {
            assert!(
                seen.iter()
                    .any(|m: &String| m.lines().any(|l| l == "READY=1")),
                "a watchdog ping before READY=1: {seen:?}"
            );
            watchdogs += 1;
        }
        seen.push(msg);
    }

    // SIGTERM, as systemd stops a unit.
    let pid = i32::try_from(gateway.0.id()).unwrap();
    // SAFETY: kill(2) with a process ID this test spawned and still owns (not yet reaped).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let Some(msg) = next(&sock, deadline) else {
            panic!("no STOPPING=1 after SIGTERM; got {seen:?}");
        };
        if msg.lines().any(|l| l == "STOPPING=1") {
            break;
        }
        seen.push(msg);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = gateway.0.try_wait().unwrap() {
            assert!(status.success(), "the gateway exits cleanly: {status}");
            break;
        }
        assert!(Instant::now() < deadline, "the gateway did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
}
