//! `trunkgate ctl` as a person runs it: the real binary against a real `trunkgate serve
//! --demo` process (ports picked by the OS, a fresh data directory, everything on 127.0.0.1,
//! every wait with a deadline). `watch` reconnects across a gateway restart and resumes
//! after its last event; `ctl watch | head` ends quietly; errors are one sentence with their
//! exit status; `ctl kill` is refused without `--yes` when standard input is not a terminal.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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

/// The demo token file of the gateway at each API address (ctl reads it through
/// `TRUNKGATE_TOKEN_FILE`, as a person would point it at the demo's data directory).
static TOKEN_FILES: Mutex<Vec<(SocketAddr, PathBuf)>> = Mutex::new(Vec::new());

/// `TRUNKGATE_TOKEN_FILE` for a ctl talking to `api` (none for an address no gateway of
/// this test listens on).
fn token_env(api: SocketAddr) -> Vec<(&'static str, PathBuf)> {
    TOKEN_FILES
        .lock()
        .unwrap()
        .iter()
        .filter(|(a, _)| *a == api)
        .map(|(_, p)| ("TRUNKGATE_TOKEN_FILE", p.clone()))
        .collect()
}

fn gateway(dir: &Path, api: SocketAddr, homebrew: SocketAddr) -> Proc {
    TOKEN_FILES
        .lock()
        .unwrap()
        .push((api, dir.join("demo.token")));
    let child = Command::new(BIN)
        .args(["serve", "--demo", "--listen"])
        .arg(api.to_string())
        .arg("--homebrew")
        .arg(homebrew.to_string())
        .args(["--metrics", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("trunkgate serve --demo starts");
    let p = Proc(child);
    // Up when `ctl sites` answers.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ctl(api, &["sites"]).status.success() {
        assert!(Instant::now() < deadline, "the gateway did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    p
}

/// `trunkgate ctl --server HOST:PORT ...` (no scheme, as a person types it).
fn ctl(api: SocketAddr, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["ctl", "--server", &api.to_string()])
        .args(args)
        .envs(token_env(api))
        .stdin(Stdio::null())
        .output()
        .expect("trunkgate ctl runs")
}

/// Lines read from a child's pipe as they come.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn follow(pipe: impl Read + Send + 'static) -> Lines {
        let lines = Lines::default();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.0.lock().unwrap().push(line);
            }
        });
        lines
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn wait_for(&self, what: &str, secs: u64, ok: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !ok(&self.all()) {
            assert!(
                Instant::now() < deadline,
                "{what} within {secs} s:\n{}",
                self.all().join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// An event line: `HH:MM:SS  what happened`.
fn is_event_line(l: &str) -> bool {
    let b = l.as_bytes();
    b.len() > 10
        && b[2] == b':'
        && b[5] == b':'
        && l[..8].bytes().filter(u8::is_ascii_digit).count() == 6
        && &l[8..10] == "  "
}

/// The first radio of `ctl radios` whose row contains `needle`.
fn table_radio(api: SocketAddr, needle: &str) -> String {
    let table = String::from_utf8(ctl(api, &["radios"]).stdout).unwrap();
    table
        .lines()
        .find(|l| l.contains(needle))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no radio with {needle:?}:\n{table}"))
        .to_string()
}

#[test]
fn watch_resumes_across_a_gateway_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (api, homebrew) = (free_tcp(), free_udp());
    let mut first = gateway(dir.path(), api, homebrew);
    let mut watch = Command::new(BIN)
        .args([
            "ctl",
            "--server",
            &api.to_string(),
            "--tz",
            "Asia/Shanghai",
            "watch",
        ])
        .envs(token_env(api))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Lines::follow(watch.stdout.take().unwrap());
    let err = Lines::follow(watch.stderr.take().unwrap());
    let _watch = Proc(watch);
    out.wait_for("live events", 60, |l| l.len() >= 3);

    // The gateway dies; the watch says so once and keeps trying.
    let _ = first.0.kill();
    let _ = first.0.wait();
    err.wait_for("a note that the gateway went away", 30, |l| {
        l.iter().any(|l| {
            l.starts_with("Lost the gateway") || l.starts_with("The gateway ended the event stream")
        })
    });
    let seen_before = out.all().len();
    std::thread::sleep(Duration::from_secs(2));

    // Back on the same journal: the watch resumes after its last event, so the first thing
    // it shows is the restart itself, then live events again.
    let _second = gateway(dir.path(), api, homebrew);
    err.wait_for("a note that it is back", 60, |l| {
        l.iter()
            .any(|l| l == "Reconnected; resuming after the last event shown.")
    });
    out.wait_for("the restart and live events after it", 60, |l| {
        l.len() >= seen_before + 3
    });
    let lines = out.all();
    // The gateway's own start events, journaled after the last one shown before the kill.
    // Events the first gateway journaled but had not yet sent when it died may come first
    // (that is the resume working); none of them was shown before.
    let start = lines[seen_before..]
        .iter()
        .position(|l| l.ends_with("  directory loaded: 30 radios, 6 talkgroups, 3 sites, 5 teams"))
        .map(|i| seen_before + i)
        .unwrap_or_else(|| panic!("no start events:\n{}", lines[seen_before..].join("\n")));
    assert!(
        lines[start + 1].ends_with("  the gateway restarted"),
        "{}",
        lines[seen_before..].join("\n")
    );
    for late in &lines[seen_before..start] {
        assert!(
            !lines[..seen_before].contains(late),
            "shown twice: {late}\n{}",
            lines.join("\n")
        );
    }
    assert!(
        lines.iter().all(|l| is_event_line(l)),
        "{}",
        lines.join("\n")
    );
    let notes = err.all();
    assert_eq!(
        notes
            .iter()
            .filter(|l| l.starts_with("Reconnected"))
            .count(),
        1,
        "one note when it is back: {notes:?}"
    );
}

#[test]
fn errors_exit_codes_closed_pipe_and_kill_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let (api, homebrew) = (free_tcp(), free_udp());
    let _gateway = gateway(dir.path(), api, homebrew);

    // `ctl watch | head`: the reader goes away; ctl ends at its next line, quietly and 0.
    let mut watch = Command::new(BIN)
        .args(["ctl", "--server", &api.to_string(), "watch"])
        .envs(token_env(api))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(watch.stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..2 {
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(is_event_line(line.trim_end()), "{line:?}");
    }
    drop(reader);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = watch.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "ctl watch did not end on a closed pipe"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    watch
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_eq!(stderr, "", "nothing said on a closed pipe");

    let sentence = |out: &Output| String::from_utf8_lossy(&out.stderr).to_string();
    // Not found, usage, unavailable: one sentence each, distinct statuses.
    let out = ctl(api, &["radios", "--site", "nowhere"]);
    assert_eq!(out.status.code(), Some(3), "{}", sentence(&out));
    assert!(
        sentence(&out)
            .starts_with("There is no site \"nowhere\"; the sites are county-town (县城基站)"),
        "{}",
        sentence(&out)
    );
    let out = ctl(api, &["check", "80030300"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        sentence(&out),
        "Radio 80030300 is not known to the gateway.\n"
    );
    let out = ctl(api, &["ack-alarm", "alarm-2"]);
    assert_eq!(out.status.code(), Some(2));
    let closed = free_tcp();
    let out = ctl(closed, &["radios"]);
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(
        sentence(&out),
        format!("Cannot reach the gateway at {closed} (connection refused).\n")
    );

    // A radio never heard on any site (out of coverage) cannot be reached: "refused".
    let deadline = Instant::now() + Duration::from_secs(30);
    let silent = loop {
        let table = String::from_utf8(ctl(api, &["radios"]).stdout).unwrap();
        let registered = table.lines().filter(|l| l.contains(" yes ")).count();
        let silent = table
            .lines()
            .filter(|l| l.contains(" no ") && l.split_whitespace().nth(6) == Some("-"))
            .find_map(|l| l.split_whitespace().next().map(str::to_string));
        if let Some(s) = silent.filter(|_| registered >= 20) {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no settled radios table:\n{table}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    // Giving up the wait is "timed out" (the operation goes on).
    let heard = table_radio(api, " yes ");
    let out = ctl(api, &["check", &heard, "--timeout", "0"]);
    assert_eq!(out.status.code(), Some(5), "{}", sentence(&out));
    let out = ctl(api, &["check", &silent]);
    assert_eq!(out.status.code(), Some(4), "{}", sentence(&out));
    assert!(
        sentence(&out).ends_with("has not been heard on any site.\n"),
        "{}",
        sentence(&out)
    );
    // `--timeout` bounds the whole command, a periodic locate included: the process ends
    // after its 3 s, not after the polls 10 s apart.
    let started = Instant::now();
    let out = ctl(
        api,
        &[
            "locate",
            &heard,
            "--every",
            "10",
            "--polls",
            "3",
            "--timeout",
            "3",
        ],
    );
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(5), "{stdout}{}", sentence(&out));
    assert!(stdout.contains("Gave up waiting after 3s"), "{stdout}");
    assert!(
        took < Duration::from_secs(10),
        "ran {took:?} with --timeout 3: {stdout}"
    );

    // Kill: a reason is required, and without a terminal only --yes confirms.
    let out = ctl(api, &["kill", "57120201"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(sentence(&out).contains("--reason"), "{}", sentence(&out));
    let out = ctl(api, &["kill", "57120201", "--reason", "lost"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        sentence(&out),
        "A kill is permanent: confirm it with --yes when standard input is not a terminal.\n"
    );
    let ops = String::from_utf8(ctl(api, &["operations"]).stdout).unwrap();
    assert!(!ops.contains("kill of"), "nothing was sent: {ops}");

    // The exit statuses are documented.
    let help = String::from_utf8(ctl(api, &["--help"]).stdout).unwrap();
    for line in [
        "2  usage",
        "3  not found",
        "4  refused",
        "5  timed out",
        "6  unavailable",
    ] {
        assert!(help.contains(line), "{help}");
    }
}
