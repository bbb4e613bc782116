//! The systemd watchdog is fed only while the dispatch driver makes progress: with
//! `NOTIFY_SOCKET` and `WATCHDOG_USEC` set, the watchdog task sends `WATCHDOG=1` while a real
//! driver (on a real SQLite journal) runs, and stops sending once the driver thread has
//! stopped, although the task itself is still running. (tests/systemd_notify.rs covers the
//! whole process: READY=1, pings, STOPPING=1.)

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use trunkgate::app::driver::{self, DriverConfig};
use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal};

/// Notifications received until `until`.
fn drain(sock: &UnixDatagram, until: Instant) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => break,
        }
    }
    out
}

#[test]
fn pings_stop_when_the_driver_stops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    // SAFETY: set before any other thread of this test binary exists (one test, and the
    // runtime is built below); sd-notify reads them later on the runtime's threads.
    unsafe {
        std::env::set_var("NOTIFY_SOCKET", &path);
        std::env::set_var("WATCHDOG_USEC", "200000");
        std::env::remove_var("WATCHDOG_PID");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let journal =
            SqliteJournal::open(&dir.path().join("journal"), &SqliteConfig::default()).unwrap();
        let (driver, thread) = driver::start(
            journal,
            trunkgate::dispatch::Config::default(),
            None,
            DriverConfig::default(),
            |_| {},
        )
        .unwrap();
        let token = CancellationToken::new();
        let task = tokio::spawn(trunkgate::app::systemd::watchdog(
            driver.clone(),
            token.clone(),
        ));

        // While the driver runs: pings (one every 100 ms; a generous window to see three).
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut pings = 0;
        while pings < 3 {
            assert!(
                Instant::now() < deadline,
                "no watchdog pings while the driver runs"
            );
            let got = tokio::task::block_in_place(|| {
                drain(&sock, Instant::now() + Duration::from_millis(500))
            });
            pings += got.iter().filter(|m| m.trim() == "WATCHDOG=1").count();
        }

        // The driver stops; the watchdog task does not.
        driver.shutdown();
        tokio::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .unwrap();
        // A ping already decided may still arrive; after that, silence.
        tokio::task::block_in_place(|| drain(&sock, Instant::now() + Duration::from_millis(300)));
        let after =
            tokio::task::block_in_place(|| drain(&sock, Instant::now() + Duration::from_secs(2)));
        assert!(
            after.iter().all(|m| m.trim() != "WATCHDOG=1"),
            "the watchdog was fed after the driver stopped: {after:?}"
        );
        assert!(!task.is_finished(), "the watchdog task is still running");
        token.cancel();
        task.await.unwrap();
    });
}
